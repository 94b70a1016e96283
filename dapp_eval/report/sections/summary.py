"""Summary: one card per headline figure, each with its denominator and a plain-language reading.

Every figure is formatted from an analysis result; counts pass through the
page's disclosure control (``dc.count`` / ``dc.is_small``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...disclosure import how_figures_are_protected
from ..format import pct
from . import _results as R

TITLE = "Summary"
PLACEMENT = "body"


def build(page) -> dict:
    cards = [c for c in (_funnel(page), _completion(page), _wait(page), _throughput(page), _risk(page),
                         _safety(page), _followup(page), _costs(page)) if c]
    return {"cards": cards,
            "protection": how_figures_are_protected(page.dc.threshold, page.dc.base)}


def _funnel(page):
    c = R.counts(page)
    if not c:
        return None
    dc, kind = page.dc, "throughput"
    ref = dc.count(c["referred"], name="summary", label="referred", kind=kind)
    st = dc.count(c["started"], name="summary", label="started", kind=kind)
    co = dc.count(c["completed"], name="summary", label="completed", kind=kind)
    att = dc.count(c.get("still_attending", 0), name="summary", label="still attending", kind=kind)
    return page.kpi("Referrals, starts and completions", f"{ref} referred, {st} started, {co} completed",
                    f"n = {ref} referrals", f"Of the {ref} people referred, {st} started the programme and "
                    f"{co} completed it; {att} were still attending when the data were extracted.")


def _wait(page):
    res = R.wait(page, "assessment_to_start")
    if isinstance(res, Exception):
        return page.kpi("Wait from assessment to start", "not available", "", str(res))
    r = res.summary.iloc[0]
    n = page.dc.count(r["n"], name="summary", label="waited for a start", kind="throughput")
    if not r["median_reached"]:
        return page.kpi("Median wait from assessment to start", "not reached", f"n = {n} accepted",
                        "Fewer than half of the people accepted had started by the extract date.")
    ci = (f"95% CI {r['ci_lower']:.1f} to {r['ci_upper']:.1f}" if np.isfinite(r["ci_upper"])
          else f"95% CI from {r['ci_lower']:.1f} (upper limit not reached)" if np.isfinite(r["ci_lower"])
          else "95% CI not estimable: too few people")
    return page.kpi("Median wait from assessment to start", f"{r['estimate']:.1f} weeks ({ci})",
                    f"n = {n} accepted; people still waiting are counted, not dropped",
                    f"Half of the {n} people accepted onto the programme had started within "
                    f"{r['estimate']:.1f} weeks of assessment, allowing for those still waiting and those who left"
                    + (f"; among those who did start, the median wait was {r['median_observed_events']:.1f} weeks."
                       if pd.notna(r.get("median_observed_events")) else "."))


def _throughput(page):
    res = R.throughput(page)
    if isinstance(res, Exception):
        return None
    s = res.summary[(res.summary["group"] == "all") & ~res.summary["partial"].astype(bool)]
    if s.empty:
        return None
    tgt = s["target_completions"]
    done = int(s["n_completions"].sum())
    nq = len(s)
    if tgt.notna().all():
        met = int((s["n_completions"] >= s["target_completions"]).sum())
        return page.kpi("Completions against the contract target",
                        f"{page.dc.count(done, name='summary', label='completions', kind='throughput')} "
                        f"of {float(tgt.sum()):.0f} targeted",
                        f"{nq} complete quarters", f"The target was met in {met} of {nq} complete quarters.")
    return page.kpi("Completions per quarter", f"{done / nq:.1f} on average", f"{nq} complete quarters",
                    "No contract target was given for this programme, so completions are shown without one.")


def _costs(page):
    res = R.costs(page)
    if isinstance(res, Exception):
        return None
    r = res.summary.iloc[-1]
    if pd.isna(r.get("period_cost_gbp")):
        return page.kpi("Cost per referral and per completion", "not available", "",
                        str(r.get("note") or "No annual cost was given in sites.csv."))

    def gbp(v):
        return "n/a" if pd.isna(v) or v == "[c]" else f"£{v:,.0f}"

    # counts rounded like everywhere else; costs per person recomputed from the rounded counts
    p = page.dc.table(res.summary.iloc[[-1]], name="summary: costs", kind="throughput", dependent={
        "n_referrals": ["cost_per_referral"], "n_started": ["cost_per_start"],
        "n_completed": ["cost_per_completion"], "n_carried_over": []}).iloc[0]
    return page.kpi("Cost per referral / start / completion",
                    f"{gbp(p['cost_per_referral'])} / {gbp(p['cost_per_start'])} / {gbp(p['cost_per_completion'])}",
                    f"period cost {gbp(r['period_cost_gbp'])} over {r['period_years']:.2f} years; "
                    f"n = {p['n_referrals']} referrals, {p['n_started']} starts and "
                    f"{p['n_completed']} completions dated within the period",
                    f"Over the period the programme cost {gbp(r['period_cost_gbp'])}, which is "
                    f"{gbp(p['cost_per_completion'])} for each person who completed it.")


def _completion(page):
    res = R.completion(page)
    if isinstance(res, Exception):
        return page.kpi("Completion rate", "not available", "", str(res))
    s = res.summary
    pooled = s["basis"].str.startswith("pooled")
    r = s[pooled].iloc[0] if pooled.any() else s.iloc[0]
    n = page.dc.count(r["n"], name="summary", label="started (completion rate)", kind="throughput")
    grace = page.plan["attrition"]["grace_weeks"]
    weeks = r["horizon_days"] / 7
    if page.dc.is_small(r["n_completed"]) or page.dc.is_small(r["n"] - r["n_completed"]):
        return page.kpi("Completion rate", "hidden (small numbers)", f"n = {n} started",
                        "Too few people to publish a completion rate safely.")
    return page.kpi(
        "Completion rate", f"{pct(r['estimate'])} (95% CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])})",
        f"n = {n} started; {page.dc.count(r['n_open'], name='summary', label='open', kind='throughput')} "
        f"still attending are followed, not counted as failures",
        f"Of the people who started, an estimated {pct(r['estimate'])} completed within {weeks:.0f} weeks "
        f"({'the longest planned length here' if str(r['basis']).startswith('pooled') else 'the planned length'}"
        f", {int(r['planned_sessions'])} weekly sessions, plus {grace:g} weeks). People still attending are "
        "followed until they complete or leave, not counted as failures.")


def _risk(page):
    res = R.risk_change(page)
    if isinstance(res, Exception):
        return page.kpi("Risk reduction", "not available", "", str(res))
    s = res.summary
    s = s[s["group"] == "all"] if "group" in s else s
    row = s.set_index("statistic")
    if "reliably_improved" not in row.index:
        return None
    r = row.loc["reliably_improved"]
    n_paired, k = int(r["n_total"]), int(r["n"])
    plan = page.plan["risk"]
    npn = page.dc.count(n_paired, name="summary", label="risk pairs")
    if page.dc.is_small(k) or page.dc.is_small(n_paired - k):
        return page.kpi(f"Reliable reduction in {plan['instrument']} risk", "hidden (small numbers)",
                        f"n = {npn} pairs", "Too few people to publish this figure safely.")
    mc = row.loc["mean_change"] if "mean_change" in row.index else None
    mc_txt = (f" The average change was {mc['estimate']:+.1f} points (95% CI {mc['ci_lower']:+.1f} to "
              f"{mc['ci_upper']:+.1f})." if mc is not None else "")
    me = R.missing_exit(page)
    if not isinstance(me, Exception):
        mi = me.summary[(me.summary["method"] == "multiple imputation")
                        & (me.summary["statistic"] == "reliably_improved")]
        if len(mi) and pd.notna(mi["estimate"].iloc[0]):
            m = mi.iloc[0]
            mc_txt += (f" Counting everyone who started and left, with missing exit scores imputed, the "
                       f"estimate is {pct(m['estimate'])} (95% CI {pct(m['ci_lower'])} to {pct(m['ci_upper'])}; "
                       f"n = {page.dc.count(m['n'], name='summary', label='starters (MI)')}).")
    # the headline proportion is computed from the published (rounded) counts, so it cannot pin them
    hp = page.dc.proportion(k, n_paired, name="summary", label="reliable reduction", alpha=page.alpha)
    if hp is None:
        return page.kpi(f"Reliable reduction in {plan['instrument']} risk", "not available", f"n = {npn} pairs",
                        "No one was assessed twice, or too few to publish this figure safely.")
    return page.kpi(f"Reliable reduction in {plan['instrument']} risk score",
                    f"{hp['k']} of {hp['n']} ({pct(hp['estimate'])}, 95% CI {pct(hp['ci_lower'])} to "
                    f"{pct(hp['ci_upper'])})",
                    f"n = {npn} people with both an {plan['from']} and an {plan['to']} score",
                    f"{hp['k']} of the {hp['n']} people assessed twice showed a reduction in risk larger than "
                    f"measurement error alone would produce.{mc_txt}")


def _safety(page):
    sp = page.plan["safety"]
    fs = R.feeling_safe(page)
    if isinstance(fs, Exception):
        return page.kpi("(Ex-)partners feeling safer", "not available", "", str(fs))
    p = fs.tables.get("paired")
    if p is None or p.empty:
        return None
    row = p.iloc[0]
    n_pairs = int(row.get("n_pairs", row.get("n", 0)))
    safer = row.get("n_safer")
    if safer is None or pd.isna(safer):
        return None
    safer = int(safer)
    if n_pairs == 0:
        return page.kpi("(Ex-)partners feeling safer", "not available", "n = 0",
                        f"No (ex-)partner answered the feeling-safe question at both {sp['baseline_wave']} "
                        f"and {sp['followup_wave']}.")
    npn = page.dc.count(n_pairs, name="summary", label="partners answering both waves")
    if page.dc.is_small(safer) or page.dc.is_small(n_pairs - safer):
        return page.kpi("(Ex-)partners feeling safer", "hidden (small numbers)", f"n = {npn}",
                        "Too few (ex-)partners answered both surveys to publish this safely.")
    # computed from the published (rounded) counts
    hp = page.dc.proportion(safer, n_pairs, name="summary", label="feeling safer", alpha=page.alpha)
    if hp is None:
        return page.kpi("(Ex-)partners feeling safer", "hidden (small numbers)", f"n = {npn}",
                        "Too few (ex-)partners answered both surveys to publish this safely.")
    return page.kpi("(Ex-)partners feeling safer",
                    f"{hp['k']} of {hp['n']} ({pct(hp['estimate'])}, 95% CI {pct(hp['ci_lower'])} to "
                    f"{pct(hp['ci_upper'])})",
                    f"n = {npn} (ex-)partners who answered at {sp['baseline_wave']} and {sp['followup_wave']}",
                    f"Of the {hp['n']} (ex-)partners who answered at both the start and about 12 months, "
                    f"{hp['k']} said they felt safer at the later survey.")


def _followup(page):
    res = R.before_after(page)
    if isinstance(res, Exception):
        return page.kpi("Police and MARAC involvement a year on", "not available", "", str(res))
    s = res.summary
    prim = page.plan["primary"]["followup"]
    rows = s[(s["outcome"] == prim) & (s["measure"] == "any incident")].set_index("period")
    if not {"before", "after"} <= set(rows.index):
        return None
    b, a = rows.loc["before"], rows.loc["after"]
    n = int(b["n"])
    dc = page.dc
    nn = dc.count(n, name="summary", label="eligible for follow-up")
    if any(dc.is_small(v) for v in (b["n_with_incident"], a["n_with_incident"], n - b["n_with_incident"],
                                    n - a["n_with_incident"])):
        return page.kpi("Police involvement a year on", "hidden (small numbers)", f"n = {nn}",
                        "Too few people with a full year of follow-up to publish this safely.")
    mar = s[(s["outcome"] == "marac") & (s["measure"] == "any incident")].set_index("period")
    mar_txt = ""
    if {"before", "after"} <= set(mar.index) and not any(
            dc.is_small(v) or dc.is_small(n - v)
            for v in (mar.loc["before", "n_with_incident"], mar.loc["after", "n_with_incident"])):
        mb, ma = (dc.proportion(mar.loc[p, "n_with_incident"], n, label=f"MARAC {p}", alpha=page.alpha)
                  for p in ("before", "after"))
        if mb is not None and ma is not None:
            mar_txt = f" MARAC referrals: {pct(mb['estimate'])} before, {pct(ma['estimate'])} after."
    started = res.meta["n_in"] - res.meta.get("excluded", {}).get("never started the programme", 0)
    # headline percentages computed from the published (rounded) counts
    b, a = (dc.proportion(r["n_with_incident"], n, label=f"police {p}", alpha=page.alpha)
            for p, r in (("before", b), ("after", a)))
    if b is None or a is None:
        return page.kpi("Police involvement a year on", "not available", f"n = {nn}",
                        "No one had a full year of follow-up, or too few to publish this safely.")

    def ci(r):
        return f"95% CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])}"

    return page.kpi("Police involvement a year on",
                    f"{pct(b['estimate'])} before ({ci(b)}), {pct(a['estimate'])} after ({ci(a)})",
                    f"n = {nn} of the {dc.count(started, name='summary', label='started')} people who "
                    "started: those with a full year of linked records before referral and after leaving "
                    "(the others are still attending or left less than a year ago)",
                    f"Of the {nn} people followed for a full year, {pct(b['estimate'])} had police involvement "
                    f"in the year before referral and {pct(a['estimate'])} in the year after leaving the "
                    f"programme; part of this fall is regression to the mean.{mar_txt}")

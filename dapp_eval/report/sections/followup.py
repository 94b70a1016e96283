"""Police, MARAC and children's services before referral and after leaving the programme."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.disclosure.curves import GRAIN_FOLLOWUP_DAYS, protect_mcf_result, protect_persons_km_result
from dapp_eval.disclosure.roles import Count, Derived, Events, Label, publish
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._publish import (
    chart_result,
    count_text,
    numbers,
    publish_table,
    published_count,
    quiet,
)

TITLE = "Police, MARAC and children's services after the programme"
PLACEMENT = 'body'


def build(page) -> dict:
    from dapp_eval.analyses import followup

    out = [None]
    if page.few_started():
        return {"blocks": [page.few_started_block("Follow-up")]}
    ba = R.before_after(page)
    if isinstance(ba, Exception):
        return {"blocks": [page.na("Follow-up", str(ba))]}
    out.append(page.p(ba.meta.get("caveat", "")))
    out.append(page.p("Only people whose whole window is covered by the linked records count; the others are "
                  "reported as not yet eligible (see the data-quality appendix), never as having no incidents. "
                  "Records of one event count once.", "note"))
    out += _before_after(page, ba)
    rm = page.get("repeat_marac", lambda: followup.repeat_marac(page.data, alpha=page.alpha))
    if isinstance(rm, Exception):
        out.append(page.na("Repeat MARAC cases", str(rm)))
    if not isinstance(rm, Exception):
        out.append(_repeat_marac(page, rm))
        out += _lookback_note(page, rm)
    k = len(out)  # completers against non-completers, and every police contact: the technical annex
    out += _completers(page, followup)
    tti = page.get("time_to_incident", lambda: followup.time_to_incident(page.data, alpha=page.alpha))
    if isinstance(tti, Exception):
        out.append(page.na("Time to first police incident after leaving", str(tti)))
    if not isinstance(tti, Exception):
        # redrawn from rounded cumulative incidents and censorings (disclosure.curves)
        safe = protect_persons_km_result(tti, page.dc, name="time to first police incident after exit")
        if len(safe.tables["curves"]):
            # read every month: the curve's grid (disclosure.curves.GRAIN_FOLLOWUP_DAYS) and the chart's axis
            data = page.curve_table(safe.tables["curves"], time_col="days", group_cols=("group",),
                                    step=GRAIN_FOLLOWUP_DAYS, scale=GRAIN_FOLLOWUP_DAYS,
                                    unit="months_since_leaving", name="time_to_incident_chart_data",
                                    caption="Share with no police incident since leaving, every month (the data "
                                            "of the chart)")
            out.append(page.figure(safe.plot(), data=data, alt="Kaplan-Meier curves of the share with no police "
                                   "incident since leaving the programme: "
                                   + page.curve_ends(safe.tables["curves"], time_col="days", label_col="group",
                                                     scale=GRAIN_FOLLOWUP_DAYS, unit="months")
                                   + " (where the curves stop).",
                                   caption="Time to first police incident after leaving (Kaplan-Meier)."))
    out += _recurrent(page, followup)
    out[k:] = page.annex("Completers and non-completers; police contacts over time", out[k:],
                         what="police involvement of completers against non-completers (descriptive), time to the "
                              "first police incident and every police contact since leaving")
    return {"blocks": out[1:]}


def _lookback_note(page, rm) -> list:
    """First-time MARAC referrals within 12 months of the start of the linked data (whether they were repeats
    cannot be known), in words, as published; nothing when there are none."""
    n = float(pd.to_numeric(rm.summary["n_lookback_incomplete"], errors="coerce").sum())
    if not n > 0:
        return []
    return [page.p(f"{count_text(page, n, name='MARAC referrals of unknown repeat status')} MARAC referrals fall "
                   "within 12 months of the start of the linked records: whether they were repeats cannot be known, "
                   "so they count as first referrals.", "note")]


def _repeat_marac(page, rm) -> dict:
    """Repeat MARAC cases by period; a period with fewer than the zero-rule minimum MARAC referrals (as
    published) shows its referrals only, not broken down into repeats and people (they would be a handful)."""
    from dapp_eval.analyses.followup import REPEAT_PARTS

    t = rm.summary.reset_index(drop=True).copy()
    few = np.array([not published_count(page, float(v), name="MARAC referrals") >= page.dc.zero_minimum
                    for v in t["n_marac"]], dtype=bool)
    t[list(REPEAT_PARTS)] = t[list(REPEAT_PARTS)].astype(float)
    t.loc[few, [*REPEAT_PARTS, "estimate", "ci_lower", "ci_upper"]] = np.nan
    return publish_table(page, t, roles=rm.roles["summary"], caption="Repeat MARAC cases (a new MARAC referral "
                         "within 12 months of the previous one, as SafeLives defines it; a period with fewer than "
                         f"{page.dc.zero_minimum} MARAC referrals is not broken down)", name="repeat_marac",
                         # the people referred to MARAC are in the before/after table; people with a repeat and
                         # the referrals whose status cannot be known are not shown beside the cases (the audit
                         # read the case rate as theirs) but in words
                         drop=tuple(c for c in ("note", "n_people_marac", "n_people_repeat", "n_lookback_incomplete")
                                    if c in t),
                         pairs={"n_people_repeat": "n_people_marac"})[0]


def _before_after(page, ba) -> list:
    """The 12 months before referral against the 12 months after leaving: the table (every statistic from
    the published counts, as the analysis declares) and the chart of the outcomes whose counts are all
    published, drawn from that published table."""
    out = []
    drop = [c for c in ba.summary.columns if c in ("outcome", "note", "n_stopped", "n_started")]
    block, shown = publish_table(page, ba, caption="12 months before referral vs 12 months after leaving (unit "
                                 "column: proportions with Wilson CI, percentage points, rates per person-year, rate "
                                 "ratios; secondary outcomes Holm-adjusted)", name="followup_before_after",
                                 drop=tuple(drop))
    out.append(block)
    if shown is None:
        return out
    pub = numbers(shown)
    counts = pub[["n_with_incident", "n_events"]]
    blocked = set(shown.loc[(counts.isna() & ba.summary[["n_with_incident", "n_events"]].reset_index(drop=True)
                             .notna()).any(axis=1), "label"])
    if len(blocked) < shown["label"].nunique():
        vis = chart_result(ba, shown[~shown["label"].isin(blocked)].reset_index(drop=True))
        out.append(page.figure(vis.plot(), alt="Share of people with police, MARAC and children's services "
                               "involvement in the year before referral and the year after leaving; the numbers "
                               "are in the table above.",
                               caption="Any involvement before vs after (commissioner design)"
                                       + ("; outcomes with small numbers not drawn." if blocked else ".")))
    return out


def _completers(page, followup) -> list:
    """Completers against non-completers (descriptive), published through the roles the analysis declares;
    shown only where both groups are at least the threshold (as published)."""
    cc = page.get("completers", lambda: followup.compare_completers(page.data, alpha=page.alpha))
    if isinstance(cc, Exception):
        return [page.na("Completers and non-completers", str(cc))]
    out = [page.h3("Completers and non-completers (aligned windows since referral)"),
           page.p(cc.meta.get("caveat", "People who complete differ from people who leave early in ways that also "
                                         "affect their later behaviour, so this comparison is descriptive, not an "
                                         "effect of completing."), "note")]
    sizes = cc.summary.loc[(cc.summary["measure"] == "any incident") & (cc.summary["period"] == "after"), "n"]
    shown = [published_count(page, float(v), name="completers and non-completers") for v in sizes]
    if len(shown) != 2 or not all(v >= page.dc.threshold for v in shown):
        out.append(page.p("Completers and non-completers are not compared here: one of the two groups has fewer "
                          f"than {page.dc.threshold} people, too few for a comparison.", "note"))
        return out
    out.append(page.publish(_one_figure_once(cc.summary), roles=cc.roles["summary"], caption="Completers vs "
                            "non-completers: any police involvement and rates (not a causal comparison)",
                            name="followup_completers", drop=tuple(c for c in ("note", "se_log") if c in cc.summary)))
    return out


def _one_figure_once(summary: pd.DataFrame) -> pd.DataFrame:
    """The completers table with each count shown once: the number of people on the 'any incident' rows, the
    number of incidents on the rate rows, and no sums of the two groups on the comparison rows (they add
    nothing the group rows do not show)."""
    t = summary.reset_index(drop=True).copy()
    measure, group = t["measure"].astype(str), t["group"].astype(str)
    compare = group.str.contains(" - | / ", regex=True)
    t.loc[(measure == "incidents per person-year") | compare, "n"] = pd.NA
    t.loc[measure == "any incident", "n_events"] = pd.NA
    t.loc[compare, "n_with_incident"] = pd.NA
    return t


def _recurrent(page, followup) -> list:
    """Police contacts since leaving, every contact: mean cumulative number per person by exit group."""
    rc = page.get("recurrent_contacts", lambda: followup.recurrent_contacts(page.data, alpha=page.alpha))
    if isinstance(rc, Exception):
        return [page.na("Police contacts since leaving", str(rc))]
    out = [page.h3("Police contacts since leaving (every contact, not only the first)")]
    # redrawn from rounded cumulative contacts and ends of follow-up, as the Kaplan-Meier curves are (issue 26:
    # the steps of the true mean cumulative function are 1 / number followed, so they counted the contacts)
    safe = protect_mcf_result(rc, page.dc, name="police contacts since leaving (mean cumulative function)")
    safe, few = _without_small_groups(page, rc, safe)
    if few:
        out.append(page.p(f"Not shown over time: {', '.join(few)} (fewer than {page.dc.zero_minimum} people followed "
                          "from leaving, too few for a curve).", "note"))
    undrawn = _few_contacts(safe)
    if undrawn:
        out.append(page.p(f"Not drawn: {', '.join(undrawn)} (fewer than {page.dc.threshold} contacts, too few for a "
                          "curve).", "note"))
    keep = [c for c in ("group", "months", "n_at_risk", "n_events", "estimate", "ci_lower", "ci_upper")
            if c in safe.summary]
    per = "contacts per person (mean)"  # a mean count, not a proportion: the page must not show it as a percentage
    tab = safe.summary[keep].rename(columns={"n_at_risk": "n_followed"}).assign(measure=per)
    caption = ("Mean number of police contacts per person since leaving, by exit group (people still followed, "
               f"contacts by then; {page.level} CI from the rounded counts, which does not allow for repeat "
               "contacts of one person)")
    if page.is_withheld(caption, page.csv_name("recurrent_contacts")):
        out.append(page.withheld_block(caption))
    else:
        # read off the curve redrawn from rounded counts; not shown beside a number of contacts not published
        roles = [Label("group", "months", "measure"), Count("n_followed", "n_events"), Events("n_events", n="n_followed"),
                 Derived(("estimate", "ci_lower", "ci_upper"), _as_published, inputs=("n_followed", "n_events"))]
        out.append(page.shown_table(publish(tab, roles, page.dc, name=caption), caption=caption,
                                    csv_name=page.csv_name("recurrent_contacts")))
    if len(safe.tables["curves"]):
        data = page.curve_table(safe.tables["curves"].assign(measure=per), time_col="days",
                                group_cols=("group", "measure"), step=GRAIN_FOLLOWUP_DAYS,
                                scale=GRAIN_FOLLOWUP_DAYS, unit="months_since_leaving",
                                name="recurrent_contacts_chart_data",
                                caption="Mean number of police contacts per person since leaving, every month "
                                        "(the data of the chart)")
        out.append(page.figure(safe.plot(), data=data, alt="Step curves of the mean cumulative number of police "
                               "contacts per person since leaving the programme, by exit group: "
                               + _ends(safe.tables["curves"]) + " (where the curves stop).",
                               caption="Police contacts since leaving: mean cumulative number per person "
                                       f"(mean cumulative function, {page.level} CI)."))
    rr = rc.tables.get("rate_ratio")
    if rr is not None and len(rr) and "n_events" in rr:
        # the model's ratio in words, as published: withheld unless each group has the threshold's contacts
        pub = numbers(publish(rr, rc.roles["rate_ratio"], quiet(page.dc), name="rate ratio since leaving")).iloc[0]
        if np.isfinite(pub[["estimate", "ci_lower", "ci_upper"]].to_numpy(dtype=float)).all():
            out.append(page.p(_ratio_sentence(pub, page.level) + " " + str(rc.meta.get("caveat", "")), "note"))
    return out


def _few_contacts(safe) -> list[str]:
    """The exit groups in the table whose curve is not drawn (fewer than the threshold of contacts)."""
    from dapp_eval.analyses.followup import GROUP_LABELS

    drawn = set(safe.tables["curves"]["group"])
    return [GROUP_LABELS.get(g, g) for g in dict.fromkeys(safe.summary["group"]) if g not in drawn]


def _as_published(pub: pd.DataFrame) -> pd.DataFrame:
    """Values that are already published (read off a curve redrawn from rounded counts), kept as they are."""
    return pub[["estimate", "ci_lower", "ci_upper"]].apply(pd.to_numeric, errors="coerce")


#: the exit groups followed since leaving (recurrent_contacts by="group")
RECURRENT_GROUPS = ("completed", "did_not_complete")


def _without_small_groups(page, rc, safe):
    """The protected curves without the exit groups of fewer than the zero-rule minimum people followed from
    leaving (as published): every step of such a curve is a handful of people. Also the groups left out."""
    import copy

    from dapp_eval.analyses.followup import GROUP_LABELS

    start = rc.summary[rc.summary["months"] == 0].groupby("group", sort=False)["n_at_risk"].max()
    # every exit group, of nobody too: a group missing from the list where nobody from it was followed, and
    # listed where one was, told 0 from a few (outside attack a22 P2)
    start = start.reindex(list(dict.fromkeys([*RECURRENT_GROUPS, *start.index])), fill_value=0)
    few = [g for g, n in start.items()
           if not published_count(page, float(n), name="people followed from leaving") >= page.dc.zero_minimum]
    if not few:
        return safe, []
    out = copy.copy(safe)
    out.summary = safe.summary[~safe.summary["group"].isin(few)].reset_index(drop=True)
    out.tables = {**safe.tables, "curves": safe.tables["curves"][~safe.tables["curves"]["group"].isin(few)]
                  .reset_index(drop=True)}
    return out, [GROUP_LABELS.get(g, g) for g in few]


def _ends(curves) -> str:
    """Where each drawn MCF curve ends: 'completed 64 contacts per 100 people by 22 months; ...' (its grid)."""
    from dapp_eval.analyses.followup import GROUP_LABELS

    parts = []
    for g, d in curves.groupby("group", sort=False):
        last = d.sort_values("days").iloc[-1]
        parts.append(f"{GROUP_LABELS.get(g, g)} {100 * last['estimate']:.0f} contacts per 100 people by "
                     f"{last['days'] / GRAIN_FOLLOWUP_DAYS:.0f} months")
    return "; ".join(parts)


def _ratio_sentence(r, level: str) -> str:
    """The LWYY rate ratio in words, as a percentage more or fewer (a ratio written 0.43 reads as a proportion)."""
    def pct(v):
        return f"{abs(100 * (v - 1)):.0f}% {'fewer' if v < 1 else 'more'}"

    return (f"Since leaving, people who completed had {pct(r['estimate'])} police contacts per year followed than "
            f"people who started but did not complete ({level} CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])}; "
            "proportional rates model, intervals allowing for repeat contacts of one person).")

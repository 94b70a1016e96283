"""Safety of (ex-)partners and children: partner surveys by wave, paired change, feeling safe, response."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dapp_eval.analyses.safety import PAIRED_ZERO_RULE, WAVES
from dapp_eval.columns import Count, Derived, Label, Model
from dapp_eval.disclosure.text import protect_counts
from dapp_eval.errors import AnalysisError, NobodyError
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._publish import (
    BREAKDOWN_MINIMUM,
    WAVE_MINIMUM,
    chart_result,
    numbers,
    publish_table,
    published_count,
    quiet,
)

TITLE = 'Safety of (ex-)partners and children'
PLACEMENT = 'body'
#: the label of a survey wave's one row when it is not broken down by behaviour
ALL_BEHAVIOURS = "(all)"


def _num(v) -> float:
    return float(str(v).replace(",", ""))


def _published_views(v: pd.DataFrame, prow: pd.DataFrame, pvrow: pd.DataFrame, sp, alpha: float) -> pd.DataFrame:
    """The 'three views' rows of the primary outcome with the two views built on counts recomputed from the
    published counts: all respondents (proportions and Newcombe interval from the published prevalence table)
    and paired respondents (the paired table's published row); the model rows are model outputs."""
    from dapp_eval.estimators.proportions import newcombe_diff_ci

    v = v.copy().reset_index(drop=True)
    base = pvrow[pvrow["wave"] == sp["baseline_wave"]].iloc[0]
    fol = pvrow[pvrow["wave"] == sp["followup_wave"]].iloc[0]
    kb, nb, kf, nf = (_num(base["n_reporting"]), _num(base["n_answered"]), _num(fol["n_reporting"]),
                      _num(fol["n_answered"]))
    pr = prow.iloc[0]
    n_pairs = _num(pr["n_pairs"])
    for i, view in enumerate(v["view"]):
        if view == "all respondents" and nb > 0 and nf > 0:
            d, lo, hi = newcombe_diff_ci(kf, nf, kb, nb, alpha=alpha)
            v.loc[i, ["n_baseline", "n_followup", "prop_baseline", "prop_followup", "estimate", "ci_lower",
                      "ci_upper"]] = [nb, nf, kb / nb, kf / nf, 100 * d, 100 * lo, 100 * hi]
        elif view == "paired respondents" and n_pairs > 0:
            v.loc[i, ["n_baseline", "n_followup", "prop_baseline", "prop_followup"]] = [
                n_pairs, n_pairs, _num(pr["n_yes_baseline"]) / n_pairs, _num(pr["n_yes_followup"]) / n_pairs]
            for c in ("estimate", "ci_lower", "ci_upper", "p_value"):
                if c in pr.index:
                    v.loc[i, c] = float(pr[c])
    return v


def _pp_headline(old: str, pub: dict | None, conf: str, what: str = "paired (ex-)partners") -> str:
    if pub is None:
        return old.split(": ")[0] + ": not shown (built on numbers below the small-number threshold)"
    return (f"{old.split(': ')[0]}: {pub['estimate']:+.1f} percentage points ({conf} {pub['ci_lower']:+.1f} to "
            f"{pub['ci_upper']:+.1f}; {pub['n']:,} {what})")


def _row_of(pc_shown, behaviour: str) -> dict | None:
    """A published paired-change row as numbers (None where any of its figures is withheld)."""
    if pc_shown is None:
        return None
    r = numbers(pc_shown[pc_shown["behaviour"] == behaviour])
    cols = ["n_pairs", "estimate", "ci_lower", "ci_upper"]
    if len(r) != 1 or r[cols].isna().any(axis=None):
        return None
    r = r.iloc[0]
    return {"n": int(r["n_pairs"]), "estimate": float(r["estimate"]), "ci_lower": float(r["ci_lower"]),
            "ci_upper": float(r["ci_upper"])}


def mirabal_from_published(page, mm: pd.DataFrame, pc_shown) -> pd.DataFrame:
    """The Mirabal headlines with every number taken from a published table (issue 26: the paired n and the
    Newcombe change from the true 2x2 table gave T1, T4, stopped and started back, hidden cells included).

    Behaviours: the published paired-change row; children's services: the change from the published 2x2
    table of the before/after comparison; feeling very safe (whose 2x2 table is not published): no change
    shown here; space for action: a mean over the pairs, shown when they are at least the threshold."""
    from dapp_eval.analyses import followup
    from dapp_eval.report.sections._publish import change_cells, published_paired_change
    from dapp_eval.results import level_text

    conf = f"{level_text(page.alpha)} CI"
    mm = mm.copy()
    measured = mm["status"] == "measured"
    # a reason such as "not estimable: ... (82 people referred; never started the programme: 53)" prints counts
    mm["status"] = [s if m else protect_counts(str(s), page.dc) for s, m in zip(mm["status"], measured)]
    for i in mm.index[measured]:
        src, head = str(mm.at[i, "informed_by"]), str(mm.at[i, "headline"])
        if "space_for_action" in src:  # a mean change over the pairs: the number of pairs as published
            # a mean over fewer pairs than the threshold describes those few: not shown (as a Summary role)
            n = published_count(page, mm.at[i, "n"], name="Project Mirabal measures: space for action")
            mm.at[i, "headline"] = (re.sub(r"; [\d,]+ paired", f"; {n:,.0f} paired", head) if n >= page.dc.threshold
                                    else _pp_headline(head, None, conf))
            mm.at[i, "n"] = n if np.isfinite(n) else pd.NA
            continue
        if "feels_safe" in src:
            mm.at[i, "headline"] = (head.split(": ")[0] + ": the change is not shown here; each wave's share "
                                    "feeling very safe is in the table of feeling safe")
        elif "child_exposed" in src or "primary outcome" in src:
            b = "child_exposed" if "child_exposed" in src else page.plan["primary"]["safety"]
            pub = _row_of(pc_shown, b)
            mm.at[i, "headline"] = _pp_headline(head, pub, conf)
            mm.at[i, "n"] = pd.NA if pub is None else mm.at[i, "n"]
        elif "incidents.csv" in src:
            ba = page.get("mirabal_before_after", lambda: followup.before_after(
                page.data, outcomes=("childrens_services",), alpha=page.alpha))
            lab = ba.summary["label"].iloc[0]
            pub = published_paired_change(page.dc, *change_cells(ba.summary, lab), page.alpha)
            mm.at[i, "headline"] = _pp_headline(head, pub, conf, "people")
            mm.at[i, "n"] = pd.NA if pub is None else mm.at[i, "n"]
    return mm


def _wave_args(page) -> dict:
    """The plan's safety settings as the arguments of the paired analyses (baseline and follow-up waves,
    primary outcome, the plan's alpha)."""
    sp = page.plan["safety"]
    return {"baseline": sp["baseline_wave"], "followup": sp["followup_wave"],
            "primary": page.plan["primary"]["safety"], "alpha": page.alpha}


def build(page) -> dict:
    from dapp_eval.analyses import safety

    out = [None,
           page.p("Reported by (ex-)partners in surveys at the start (T1) and about 3, 6 and 12 months later "
              "(T2-T4), about the last 3 months. Percentages are of the people who answered each wave; the "
              "number who answered is always shown. Partner reports are never merged with police records.")]
    pv = page.get("prevalence", lambda: safety.prevalence(page.data, primary=page.plan["primary"]["safety"],
                                                          alpha=page.alpha))
    if isinstance(pv, Exception):
        return {"blocks": out[1:] + [page.na("Partner surveys", str(pv))]}
    blocks, pv_shown = _prevalence(page, pv)
    out += blocks
    beside_figure = len(out)  # why later surveys have fewer answers goes here, once the response table is published
    blocks, pc_shown = _paired_and_views(page, pv_shown)
    out += blocks
    out += _feeling_safe(page)
    k = len(out)  # survey response (the basis of the non-response weighting) goes to the technical annex
    response, rr_shown = _response(page)
    out += response
    out.insert(beside_figure, _why_fewer(page, pv_shown, rr_shown))
    k += 1
    out[k:] = page.annex("Survey response and weighting", out[k:],
                         what="who answered each survey wave, the basis of the weighting for non-response")
    out += _support(page)
    k = len(out)  # page 1 says what the data can say about each measure; the table in full is in the annex
    out += _mirabal(page, pc_shown)
    out[k:] = page.annex("Project Mirabal's measures in full", out[k:],
                         what="the evidence on each of Project Mirabal's six measures, with its numbers")
    return {"blocks": out[1:]}


def _by_wave(page, summary: pd.DataFrame, *, size: str, what: str, fill: dict) -> pd.DataFrame:
    """``summary`` with each survey wave broken down (by behaviour, by answer) only where at least
    WAVE_MINIMUM x threshold answered (``size``, as published); a smaller wave is one row holding that number
    (``fill`` names its label columns)."""
    minimum = WAVE_MINIMUM * page.dc.threshold
    parts = []
    for wave, g in summary.groupby("wave", sort=False):
        answered = float(pd.to_numeric(g[size], errors="coerce").max())
        if published_count(page, answered, name=f"answered at {wave}") >= minimum:
            parts.append(g)
            continue
        row = {c: np.nan for c in summary.columns}
        row.update(fill, wave=wave, **{size: answered})
        row[list(fill)[-1]] = f"not broken down by {what} (fewer than {minimum} answered)"
        parts.append(pd.DataFrame([row]))
    return pd.concat(parts, ignore_index=True)


def _by_behaviour(page, summary: pd.DataFrame) -> pd.DataFrame:
    """The prevalence table, a small wave one row: the surveys returned (shown as answered)."""
    t = summary.assign(n_answered=np.where(summary["behaviour"].notna(), summary["n_answered"], np.nan))
    t = _by_wave(page, t.assign(_returned=t["n_responses"]), size="_returned", what="behaviour",
                 fill={"behaviour": ALL_BEHAVIOURS, "role": "", "label": ""})
    small = t["behaviour"] == ALL_BEHAVIOURS
    for c in ("n_answered", "n_responses"):
        t.loc[small, c] = t.loc[small, "_returned"]
    return t.drop(columns="_returned")


def _prevalence(page, pv) -> tuple[list, pd.DataFrame]:
    """Behaviours reported at each wave (all who answered): the table, and the chart of the behaviours whose
    counts are all published, drawn from that table."""
    t = _by_behaviour(page, pv.summary)
    block, pv_shown = publish_table(page, t, roles=pv.roles["summary"], caption="Behaviours reported by "
                                    f"(ex-)partners, by wave (all who answered; Wilson {page.ci_label})",
                                    name="safety_prevalence", drop=("behaviour", "n_responses", "n_missing"))
    out = [block]
    if pv_shown is None:
        return out, t.iloc[0:0]
    pub = numbers(pv_shown)
    broken = pv_shown["behaviour"] != ALL_BEHAVIOURS
    hidden = pub["n_reporting"].isna() & broken
    safe_behaviours = [b for b in dict.fromkeys(pv_shown.loc[broken, "behaviour"])
                       if not hidden[pv_shown["behaviour"] == b].any()]
    if safe_behaviours:
        left_out = pv_shown.loc[broken, "behaviour"].nunique() - len(safe_behaviours)
        vis = chart_result(pv, pv_shown[broken].reset_index(drop=True))
        out.append(page.figure(vis.plot(behaviours=safe_behaviours), alt="Share of (ex-)partners reporting each "
                               "behaviour at each survey wave, with confidence intervals; the numbers are in the table above.",
                               caption="Reported behaviours by wave (all respondents)"
                                       + (f"; {left_out} behaviour(s) with small numbers not drawn."
                                          if left_out else ".")))
    return out, pv_shown


def _paired_table(page, pc) -> tuple[dict, pd.DataFrame | None]:
    """The paired-change table, broken down by behaviour where at least BREAKDOWN_MINIMUM x threshold
    (ex-)partners answered both waves (as published); otherwise a note saying so."""
    sp = page.plan["safety"]
    minimum = BREAKDOWN_MINIMUM * page.dc.threshold
    # no pairs (NobodyError): the note a few pairs get, never "no (ex-)partner answered both" (issue 26)
    n_pairs = 0.0 if isinstance(pc, NobodyError) else published_count(page, float(pc.summary["n_pairs"].max()),
                                                                       name="paired (ex-)partners")
    if not n_pairs >= minimum:
        page.dc.record("Paired change in reported behaviours", "", "table",
                       f"not broken down by behaviour: fewer than {minimum} pairs")
        return page.p(f"Paired change {sp['baseline_wave']} to {sp['followup_wave']}: fewer than {minimum} "
                      "(ex-)partners answered both surveys here, too few for a comparison behaviour by behaviour "
                      "(most of its cells would be below the small-number threshold); the report on all sites "
                      "has it.", "note"), None
    drop = tuple(c for c in ("behaviour", "baseline", "followup", "n_missing_item", "prop_baseline", "prop_followup")
                 if c in pc.summary)
    return publish_table(page, pc, caption=f"Paired change {sp['baseline_wave']} to {sp['followup_wave']} among "
                         "(ex-)partners who answered both (percentage points; exact McNemar; the primary outcome "
                         "unadjusted, secondary outcomes Holm-adjusted)", name="safety_paired", drop=drop,
                         pairs=PAIRED_ZERO_RULE)


def _views_roles(v: pd.DataFrame, events: float) -> list:
    """The three views: the first two rebuilt from published counts (kept as published), the model views
    model outputs shown with at least ``threshold`` people reporting the behaviour at the later wave."""
    stats_cols = tuple(c for c in ("prop_baseline", "prop_followup", "estimate", "ci_lower", "ci_upper", "p_value")
                       if c in v)
    from_counts = v["view"].isin(["all respondents", "paired respondents"]).to_numpy()
    return [Label(*[c for c in ("view", "label", "role") if c in v]), Count("n_baseline", "n_followup"),
            Derived(stats_cols, lambda pub: pub[list(stats_cols)], inputs=("n_baseline", "n_followup"),
                    rows=from_counts),
            Model(stats_cols, events=events, rows=~from_counts)]


def _paired_and_views(page, pv_shown: pd.DataFrame) -> tuple[list, pd.DataFrame | None]:
    """The paired change among (ex-)partners who answered both waves, then the three views of the primary
    outcome (shown only when every cell they are built on is published); also the published paired table
    (None when it is not shown), which the Mirabal measures read."""
    from dapp_eval.analyses import safety

    sp = page.plan["safety"]
    prim = page.plan["primary"]["safety"]
    out = []
    pc_shown = None
    primary_visible = False
    pc = page.get("safety_paired", lambda: safety.paired_change(page.data, **_wave_args(page)))
    if isinstance(pc, Exception) and not isinstance(pc, NobodyError):
        out.append(page.na("Paired change", str(pc)))
    else:
        block, pc_shown = _paired_table(page, pc)
        out.append(block)
    if pc_shown is not None:
        prow = pc_shown[pc_shown["behaviour"] == prim]
        pvrow = pv_shown[(pv_shown["behaviour"] == prim) & pv_shown["wave"].isin([sp["baseline_wave"],
                                                                                 sp["followup_wave"]])]
        # every cell of the paired row published (a hidden 'started' hid its 2x2 table: the views must not show it)
        primary_visible = (len(prow) == 1 and not numbers(prow).drop(columns="p_adjusted", errors="ignore")
                           .select_dtypes("number").isna().any(axis=None)
                           and len(pvrow) == 2 and not numbers(pvrow).select_dtypes("number").isna().any(axis=None))
    cv = page.get("change_views", lambda: safety.change_views(page.data, **_wave_args(page)))
    if isinstance(cv, Exception) and not isinstance(cv, NobodyError):
        out.append(page.na("Three views of the change", str(cv)))
    elif primary_visible:
        v = _published_views(cv.summary[cv.summary["behaviour"] == prim], prow, pvrow, sp, page.alpha)
        v = v.drop(columns=["behaviour"])
        kf = float(numbers(pvrow[pvrow["wave"] == sp["followup_wave"]])["n_reporting"].iloc[0])
        out.append(page.publish(v, roles=_views_roles(v, kf), caption="Three views of the primary outcome side by "
                                "side: all respondents, paired respondents, and models unweighted and weighted for "
                                "non-response (proportions 0-1; change in percentage points)", name="safety_views"))
    else:
        page.dc.record("Three views of the primary outcome", prim, "table",
                       "not shown: built on counts hidden elsewhere")
        out.append(page.p("The side-by-side views of the primary outcome are not shown: they are built on counts "
                          "that are below the small-number threshold, or on a comparison not broken down here.",
                          "note"))
    return out, pc_shown


def _feeling_safe(page) -> list:
    out = []
    fs = R.feeling_safe(page)
    if isinstance(fs, Exception):
        out.append(page.na("Feeling safe", str(fs)))
    if fs is not None and not isinstance(fs, Exception):
        out.append(page.h3("Feeling safe"))
        head = _by_wave(page, fs.tables["headline"], size="n_answered", what="answer", fill={"measure": ""})
        out.append(page.publish(head, roles=fs.roles["headline"], caption="Feeling 'very safe' and 'not safe at "
                                "all', by wave", name="feeling_safe_headline"))
        from dapp_eval.disclosure.roles import publish

        levels = publish(fs.summary, fs.roles["summary"], quiet(page.dc), name="feeling safe levels")
        if not numbers(levels)[["n", "n_answered", "estimate"]].isna().any(axis=None):
            out.append(page.figure(chart_result(fs, levels).plot(), alt="Stacked bars of how safe (ex-)partners "
                                   "feel at each wave, from not safe at all to very safe.",
                                   caption="How safe (ex-)partners feel, by wave."))
    return out


_NOT_COMPLETED = "not completed (left early or still attending)"


def _response_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Response by wave for two groups: completed, and everyone else (left without completing, for any reason,
    or still attending): one group rather than several small ones, the comparison the weighting rests on.

    Every wave and both groups, whoever was due: a row left out where nobody was due said "no partner of a
    completer here" (issue 26, attack a15 F7)."""
    other = summary["status_label"] != "completed"
    t = summary.assign(programme_status=summary["programme_status"].where(~other, "not completed"))
    counts = ["n_expected", "n_answered", "n_not_answered"]
    t = t.groupby(["wave", "programme_status"], sort=False)[counts].sum()
    grid = pd.MultiIndex.from_product([list(WAVES), ["completed", "not completed"]], names=["wave", "programme_status"])
    t = t.reindex(grid, fill_value=0).astype(int).reset_index()
    t.insert(2, "status_label", t["programme_status"].map({"completed": "completed", "not completed": _NOT_COMPLETED}))
    return t.assign(estimate=np.nan, ci_lower=np.nan, ci_upper=np.nan)


def _response(page) -> tuple[list, pd.DataFrame | None]:
    """The survey response blocks, and the response table as published (None when it is not)."""
    from dapp_eval.analyses import safety

    rr = page.get("response", lambda: safety.response_rates(page.data, alpha=page.alpha, offered_only=_release_offered_only(page)))
    if isinstance(rr, NobodyError):  # nobody due here: every row of nobody, shown like a few (issue 26)
        summary = pd.DataFrame(columns=["wave", "programme_status", "status_label", "n_expected", "n_answered",
                                        "n_not_answered"])
        roles = safety.response_roles()
    elif isinstance(rr, Exception):
        return [page.na("Survey response", str(rr))], None
    else:
        summary, roles = rr.summary, rr.roles["summary"]
    out = [page.h3("Who answered?"),
           page.p("(Ex-)partners of people who left the programme early answer less often, so later waves "
                  "over-represent completers' families. The weighted model above adjusts for this, on the assumption "
                  "that, within the groups its response model uses, those who answered are like those who did not.",
                  "note")]
    block, shown = publish_table(page, _response_table(summary), roles=roles,
                                 caption="Survey response by wave and programme status", name="safety_response",
                                 drop=("programme_status", "n_not_answered"))
    return out + [block], shown


def _published_by_wave(shown: pd.DataFrame | None, col: str) -> dict[str, float]:
    """A published count summed over the rows of each wave; a wave with any count withheld is left out."""
    if shown is None or col not in shown:
        return {}
    x = pd.to_numeric(shown[col].astype(str).str.replace(",", ""), errors="coerce")
    return {w: float(v.sum()) for w, v in x.groupby(shown["wave"].astype(str), sort=False) if v.notna().all()}


def _release_offered_only(page) -> bool:
    """Whether the release counts only (ex-)partners offered partner support as due a survey: decided once, from
    the release's data, for every page (decided per site, the clause ", and offered partner support," said
    whether anyone there had not been offered it; attack a18 H2)."""
    from dapp_eval.analyses import safety

    def decide():
        try:
            return bool(safety.response_rates(page.full_data, alpha=page.alpha).meta.get("offered_only"))
        except AnalysisError:
            return False

    return page.release.memo("survey offered_only", decide)


def _offered_only(page) -> bool:
    """Whether only (ex-)partners offered partner support count as due a survey (the response analysis says)."""
    from dapp_eval.analyses import safety

    rr = page.get("response", lambda: safety.response_rates(page.data, alpha=page.alpha, offered_only=_release_offered_only(page)))
    return not isinstance(rr, Exception) and bool(rr.meta.get("offered_only"))


def _why_fewer(page, pv_shown: pd.DataFrame, rr_shown: pd.DataFrame | None) -> dict:
    """Beside the chart: why later surveys have fewer answers, in plain words, from published counts only
    (the behaviours table's and the response table's counts as printed)."""
    from dapp_eval import formatting as fmt
    from dapp_eval.analyses.safety import WAVE_MONTHS

    prim = page.plan["primary"]["safety"]
    rows = (pv_shown[pv_shown["behaviour"].isin([prim, ALL_BEHAVIOURS])] if "behaviour" in pv_shown
            else pv_shown.iloc[0:0])
    answered = _published_by_wave(rows, "n_answered")
    waves = [w for w in WAVE_MONTHS if w in answered]
    first, last = (waves[0], waves[-1]) if waves else ("the first survey", "the last")
    text = (f"Why fewer answers at later surveys: {fmt.count(answered[first])} (ex-)partners answered at {first} "
            f"and {fmt.count(answered[last])} at {last}. " if len(waves) > 1 else "Why fewer answers at later "
            "surveys: ")
    months = [str(m) for m in WAVE_MONTHS.values() if m]
    text += ("Three things lower the later numbers. Not yet due: the later surveys are asked "
             + ", ".join(months[:-1]) + f" and {months[-1]} months after the programme starts, so the "
             "(ex-)partners of people who started less than a year before the extract date were not yet due "
             "the last survey. Not answered: some (ex-)partners who were due did not answer. Not eligible: only "
             "(ex-)partners of people who started the programme"
             + (", and offered partner support, are surveyed." if _offered_only(page) else " are surveyed."))
    due = _published_by_wave(rr_shown, "n_expected")
    got = _published_by_wave(rr_shown, "n_answered")
    if first in due and last in due and first in got and last in got:
        text += (f" In the published response table, about {fmt.count(due[first])} were due the {first} survey and "
                 f"about {fmt.count(due[last])} the {last} survey; about {fmt.count(got[first])} and "
                 f"{fmt.count(got[last])} of them answered.")
    return page.p(text + " Percentages are of those who answered; the weighted model in the technical annex "
                  "allows for who did not.")


def _support(page) -> list:
    from dapp_eval.analyses import safety

    ps = page.get("support", lambda: safety.partner_support(page.data, alpha=page.alpha))
    if isinstance(ps, Exception):
        return [page.na("Partner support", str(ps))]
    return [page.publish(ps, caption="Support for (ex-)partners and children in the families", name="partner_support")]


def _mirabal(page, pc_shown: pd.DataFrame | None) -> list:
    from dapp_eval.analyses import safety

    out = []
    mm = page.get("mirabal", lambda: safety.mirabal_measures(
        page.data, **_wave_args(page)))
    if isinstance(mm, Exception):
        out.append(page.na("Project Mirabal's six measures", str(mm)))
    if not isinstance(mm, Exception):
        mm_pub = mirabal_from_published(page, mm.summary, pc_shown)
        mk = [c for c in ("measure_no", "measure", "informed_by", "status", "headline", "n") if c in mm_pub]
        out.append(page.h3("Project Mirabal's six measures of success"))
        # every number in a headline was read from a published table above (mirabal_from_published)
        roles = [Label(*[c for c in mk if c != "n"]), Count("n")]
        out.append(page.publish(mm_pub[mk], roles=roles, caption="What this data can and cannot say about each "
                                "measure", name="mirabal_measures"))
    return out

"""The headline figures: one registry, one definition and one value per figure.

Every figure a commissioner may quote is defined once in :data:`REGISTRY`
(code, plain-English name, numerator, denominator, period, definition, how to
quote it, and how it is written). :func:`headline_figures` computes all of
them by calling the analysis functions the report already uses (funnel,
attrition, risk, safety, follow-up, costs), so a figure has the same value
wherever it appears: card, table, CSV, workbook, verdict.

Which completion figure is the headline
---------------------------------------
``completion_rate`` is THE completion figure: the cumulative incidence
(Aalen-Johansen) of completing within the planned length + 4 weeks' grace
among everyone who started, with people still attending followed rather
than counted as failures (:func:`dapp_eval.analyses.attrition.completion_rate`; for
a site running several planned lengths, the pooled row at the longest). Two
other completion numbers exist for other purposes and carry their own names:

- ``completion_rate_followed`` ("share completed among people followed to the
  end"): the same horizon, but only among people who started at least that
  long before the extract date; a plain binomial proportion, used by the
  funnel plot of sites (:func:`dapp_eval.analyses.compare.site_funnel`);
- ``completions`` and ``completions_in_period``: counts, all completions in
  the data vs those dated inside the contract period (which the costs use).

The plain ratio of completions to starts is not a headline figure: it counts
people still attending as not completing.

Examples
--------
>>> from dapp_eval import load_programme
>>> hf = headline_figures(load_programme("data_synthetic"), codes=["completion_rate"])
>>> hf.summary.set_index("code").loc["completion_rate", "value_text"]
'82% (95% CI 79% to 84%)'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval import formatting as fmt
from dapp_eval.columns import (
    AtPublishedN,
    Count,
    CurveAt,
    CurveQuantile,
    Derived,
    Label,
    Model,
    Proportion,
    Summary,
    Value,
)
from dapp_eval.errors import AnalysisError, NobodyError
from dapp_eval.results import AnalysisResult, check_alpha, is_part, level_text, make_meta

__all__ = ["HeadlineFigure", "REGISTRY", "SITE_OUTCOMES", "MIXED_POPULATION", "V2_FIGURES", "definitions",
           "headline_figures", "population_text", "site_and_all_sites", "site_comparison", "SITE_COLUMNS",
           "site_roles", "MIX_WORDS", "PROPORTIONS", "PEOPLE_COUNTS", "COST_DENOMINATORS", "to_publish"]


@dataclass(frozen=True)
class HeadlineFigure:
    """The definition of one headline figure."""

    code: str
    name: str
    numerator: str
    denominator: str
    period: str
    definition: str
    how_to_quote: str
    format: str
    higher_is_better: bool | None = None
    headline: bool = True


REGISTRY: dict[str, HeadlineFigure] = {f.code: f for f in [
    HeadlineFigure(
        "referrals", "Referrals", "referrals received", "none (a count)",
        "all referrals in the data, up to the data extract date (including any carried over from before the "
        "contract period)",
        "Each referral episode counts once; a person referred twice counts twice.",
        "Quote as 'N referrals'. For the contract period only, quote 'Referrals in the contract period'.",
        "count"),
    HeadlineFigure(
        "starts", "People who started", "referrals with a first attended session", "none (a count)",
        "all referrals in the data, up to the data extract date",
        "A start is the first attended session of a referral episode.",
        "Quote as 'N started'.", "count"),
    HeadlineFigure(
        "completions", "Completions", "referrals that ended with completion", "none (a count)",
        "all referrals in the data, up to the data extract date",
        "An episode whose exit reason is 'completed'.",
        "Quote as 'N completed'. For the contract period only, quote 'Completions in the contract period'.",
        "count"),
    HeadlineFigure(
        "referrals_in_period", "Referrals in the contract period", "referrals received inside the contract period",
        "none (a count)", "the contract period (period start to period end)",
        "Referrals received between the period start and end; those carried over from before are not counted.",
        "Quote with the period: 'N referrals between' the start and the end of the contract period.", "count", headline=False),
    HeadlineFigure(
        "starts_in_period", "Starts in the contract period", "first attended sessions inside the contract period",
        "none (a count)", "the contract period",
        "Starts dated between the period start and end.", "Quote with the period.", "count", headline=False),
    HeadlineFigure(
        "completions_in_period", "Completions in the contract period",
        "completions dated inside the contract period", "none (a count)", "the contract period",
        "Completions whose exit date is between the period start and end: the basis of cost per completion and "
        "of the contract target.", "Quote with the period, beside the target.", "count", headline=False),
    HeadlineFigure(
        "completion_rate", "Completion rate",
        "people who completed within their planned length + 4 weeks",
        "people who started the programme",
        "people who started up to the data extract date; those still attending are followed, not counted as "
        "failures",
        "The estimated share of people who started who complete within the planned number of weekly sessions "
        "plus 4 weeks' grace (cumulative incidence, Aalen-Johansen, which allows for people still attending). "
        "This is the completion figure to quote.",
        "Quote as 'X% of people who started completed', with its confidence interval. Do not quote the plain ratio of "
        "completions to starts: it counts people still attending as not completing.",
        "percent", higher_is_better=True),
    HeadlineFigure(
        "completion_rate_followed", "Share completed among people followed to the end",
        "people who completed within their planned length + 4 weeks",
        "people who started at least their planned length + 4 weeks before the extract date",
        "people who started early enough to have been followed to the end of their planned length + 4 weeks",
        "A plain proportion among people followed to the end; used to compare sites in the funnel plot. It "
        "leaves out recent starters, so it differs slightly from the completion rate.",
        "Quote only with the funnel plot; otherwise quote the completion rate.", "percent",
        higher_is_better=True, headline=False),
    HeadlineFigure(
        "wait_to_start", "Median wait from assessment to start", "weeks from assessment to the first session",
        "people assessed as suitable", "people accepted up to the extract date; those still waiting are counted",
        "The time by which half of the people accepted had started, allowing for those still waiting and those "
        "who left (competing risks).", "Quote as 'half started within N weeks of assessment'.", "weeks",
        higher_is_better=False),
    HeadlineFigure(
        "reliable_risk_reduction", "Reliable reduction in risk",
        "people whose risk score fell by more than measurement error",
        "people with a risk score at intake and at exit",
        "people assessed twice (intake and exit) up to the extract date",
        "The share of people assessed twice whose risk score (DASH, practitioner-completed) fell by more than "
        "chance variation in the score would produce (reliable change, Jacobson-Truax).",
        "Quote as 'X% of those assessed twice (N people)'; say there is no comparison group.", "percent",
        higher_is_better=True),
    HeadlineFigure(
        "risk_score_change", "Average change in risk score", "sum of changes in the risk score",
        "people with a risk score at intake and at exit", "people assessed twice up to the extract date",
        "Exit score minus intake score, averaged; negative means lower risk.",
        "Quote as 'risk scores fell by N points on average'.", "points", higher_is_better=False, headline=False),
    HeadlineFigure(
        "partner_feels_safer", "Partners feeling safer", "(ex-)partners who said they felt safer at the later survey",
        "(ex-)partners who answered the feeling-safe question at the first and the about-12-month survey",
        "(ex-)partners surveyed at the start and about 12 months later, up to the extract date",
        "How safe the (ex-)partner feels (1 to 5), compared between the two surveys for the same person.",
        "Quote as 'X% of (ex-)partners who answered both surveys felt safer'; say how many answered.", "percent",
        higher_is_better=True),
    HeadlineFigure(
        "police_before", "Police involvement in the year before referral",
        "people with any police involvement in the 12 months before referral",
        "people who started and have a full year of linked records before referral and after leaving",
        "the 12 months before referral",
        "Any domestic-abuse police call-out, crime or arrest in the year before referral.",
        "Quote beside 'police involvement a year on', never alone.", "percent", higher_is_better=False,
        headline=False),
    HeadlineFigure(
        "police_after", "Police involvement a year on",
        "people with any police involvement in the 12 months after leaving",
        "people who started and have a full year of linked records before referral and after leaving",
        "the 12 months after leaving the programme",
        "Any domestic-abuse police call-out, crime or arrest in the year after leaving the programme.",
        "Quote with the year-before figure: 'X% before, Y% a year on'; part of any fall would have happened "
        "anyway (regression to the mean).", "percent", higher_is_better=False),
    HeadlineFigure(
        "marac_before", "MARAC referral in the year before referral",
        "people referred to MARAC in the 12 months before referral", "as police involvement",
        "the 12 months before referral", "Any MARAC referral in the year before referral to the programme.",
        "Quote beside the year-after figure.", "percent", higher_is_better=False, headline=False),
    HeadlineFigure(
        "marac_after", "MARAC referral a year on", "people referred to MARAC in the 12 months after leaving",
        "as police involvement", "the 12 months after leaving the programme",
        "Any MARAC referral in the year after leaving the programme.",
        "Quote with the year-before figure.", "percent", higher_is_better=False, headline=False),
    HeadlineFigure(
        "cost_per_referral", "Cost per referral", "programme cost over the contract period",
        "referrals in the contract period", "the contract period",
        "Annual cost x length of the period in years, divided by referrals received in the period.",
        "Quote in pounds with the period.", "gbp", higher_is_better=False),
    HeadlineFigure(
        "cost_per_start", "Cost per start", "programme cost over the contract period",
        "starts in the contract period", "the contract period",
        "Period cost divided by the people who started in the period.", "Quote in pounds with the period.", "gbp",
        higher_is_better=False, headline=False),
    HeadlineFigure(
        "cost_per_completion", "Cost per completion", "programme cost over the contract period",
        "completions in the contract period", "the contract period",
        "Period cost divided by completions in the period (not a cost per successful outcome).",
        "Quote in pounds with the period.", "gbp", higher_is_better=False),
    # contract version 2 (issue 32): on page 1 only when the analysis plan lists them (headlines.extra)
    HeadlineFigure(
        "under_18_referrals", "Referrals of under-18s", "referrals of people aged under 18 at referral",
        "none (a count)", "all referrals in the data, up to the data extract date",
        "Referral episodes of people younger than 18 on the referral date (the contract allows ages from 14; "
        "the seed reports counted those aged 16 to 17).",
        "Quote as 'N referrals of people aged under 18'; small numbers are shown as '<10'.", "count",
        headline=False),
    HeadlineFigure(
        "children_affected", "Children in the families referred", "distinct children listed with a referral",
        "none (a count)", "all referrals in the data, up to the data extract date",
        "Each child counts once however many times the parent was referred (children.csv).",
        "Quote as 'N children were in the families referred'.", "count", headline=False),
    HeadlineFigure(
        "children_cp_plan_at_referral", "Children on a child protection plan at referral",
        "children on a child protection plan at referral",
        "children whose plan is known at referral and 12 months later", "referrals at least 12 months before the "
        "extract date", "The share of children on a child protection plan when the parent was referred.",
        "Quote beside the figure 12 months later, for the same children.", "percent", higher_is_better=None,
        headline=False),
    HeadlineFigure(
        "children_cp_plan_12_months", "Children on a child protection plan 12 months later",
        "children on a child protection plan 12 months after referral",
        "children whose plan is known at referral and 12 months later", "12 months after referral",
        "The share of the same children on a child protection plan a year after the referral. Plans change for "
        "many reasons besides the programme.",
        "Quote as 'X% at referral, Y% a year later (same children)'.", "percent", higher_is_better=False,
        headline=False),
    HeadlineFigure(
        "partner_support_covers_programme", "Partner support for the length of the programme",
        "supported (ex-)partners whose support had not closed before the perpetrator left the programme",
        "supported (ex-)partners of people who started and have left", "up to the data extract date",
        "Whether partner support ran alongside the perpetrator's programme until he or she left it, as the "
        "Home Office standards ask.", "Quote as 'X% of supported (ex-)partners were supported for the whole "
        "programme'.", "percent", higher_is_better=True, headline=False),
    HeadlineFigure(
        "partner_safety_plan", "Safety plans with supported (ex-)partners",
        "supported (ex-)partners with a safety plan", "supported (ex-)partners", "up to the data extract date",
        "The share of (ex-)partners in the partner support service with whom a safety plan was made.",
        "Quote as 'X% of supported (ex-)partners had a safety plan'.", "percent", higher_is_better=True,
        headline=False),
    HeadlineFigure(
        "proven_reoffending_rate", "Proven reoffending within a year (completers)",
        "people who completed with a proven domestic abuse offence within a year of leaving",
        "people who completed, a year and six months after leaving", "one year from leaving, plus six months "
        "for the caution or conviction",
        "The Justice Data Lab's one-year proven reoffending rate: an offence committed within a year of leaving "
        "and proved by a caution or conviction within a further six months, counted from the linked records. "
        "Withheld for a cohort under 60.",
        "Quote with its cohort and beside a matched comparison where one exists; without one it is not an "
        "effect of the programme.", "percent", higher_is_better=False, headline=False),
    HeadlineFigure(
        "utilisation", "Places filled", "programme places filled", "programme places offered",
        "the quarters in capacity.csv", "Places taken up as a share of places offered, over all quarters.",
        "Quote as 'X% of places were filled'.", "percent", higher_is_better=True, headline=False),
    HeadlineFigure(
        "agency_positive_change", "Referring agencies reporting positive change",
        "referring agencies rating the person's behaviour better or much better at exit",
        "referring-agency ratings of behaviour at exit", "at exit, up to the data extract date",
        "Structured feedback: the referring agency's rating of change in behaviour on a 5-point scale; 4 or 5 "
        "counts as positive.", "Quote as 'agencies reported positive change for X% (N ratings)'; who answers is "
        "not a random sample.", "percent", higher_is_better=True, headline=False),
    HeadlineFigure(
        "waiting_high_risk", "High-risk referrals waiting", "referrals waiting at the extract date assessed as "
        "high risk", "none (a count)", "the data extract date",
        "Referrals awaiting assessment or a place at the extract date whose risk is high (the referrer's level, "
        "else a DASH intake score of 14 or more).", "Quote with the date.", "count", higher_is_better=False,
        headline=False),
]}

#: the figures of data contract version 2 (computed only when asked for)
V2_FIGURES = ("under_18_referrals", "children_affected", "children_cp_plan_at_referral", "children_cp_plan_12_months",
              "partner_support_covers_programme", "partner_safety_plan", "proven_reoffending_rate", "utilisation",
              "agency_positive_change", "waiting_high_risk")

#: the outcomes compared between sites
SITE_OUTCOMES = ("completion_rate", "reliable_risk_reduction", "partner_feels_safer", "police_after")


def definitions(codes: Sequence[str] | None = None) -> pd.DataFrame:
    """The registry as a table (the definitions list at the end of a report).

    Examples
    --------
    >>> d = definitions()
    >>> d.set_index("code").loc["completion_rate", "denominator"]
    'people who started the programme'
    """
    rows = [asdict(REGISTRY[c]) for c in (codes or REGISTRY)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# computing the figures
# ---------------------------------------------------------------------------


def _row(code, value=np.nan, lo=np.nan, hi=np.nan, num=np.nan, den=np.nan, period="", note="", **extra):
    return {"code": code, "value": value, "ci_lower": lo, "ci_upper": hi, "n_numerator": num,
            "n_denominator": den, "period_text": period, "note": note, **extra}


#: who each figure is about, in the words a card uses before the share who completed
POPULATION_WORDS = {
    "completion_rate": "everyone who started",
    "reliable_risk_reduction": "those assessed twice", "risk_score_change": "those assessed twice",
    "partner_feels_safer": "the (ex-)partners who answered both surveys",
    "police_before": "the people with a full year of records", "police_after": "the people with a full year of records",
    "marac_before": "the people with a full year of records", "marac_after": "the people with a full year of records",
}
#: figures whose population is mostly people who completed (exit scores, partner answers and a full year after
#: leaving are all more common after completion): their population is named with the share who completed
MIXED_POPULATION = ("reliable_risk_reduction", "risk_score_change", "partner_feels_safer", "police_before",
                    "police_after", "marac_before", "marac_after")


def _completed_count(data, referral_ids) -> tuple[int, int]:
    """(people whose programme ended in completion, people) among these referrals."""
    ids = pd.Index(pd.Series(referral_ids).dropna().astype(str))
    reason = data.referrals.set_index(data.referrals["referral_id"].astype(str))["exit_reason"]
    r = reason.reindex(ids)
    return int((r == "completed").sum()), len(ids)


def _population(data, code: str, referral_ids) -> dict:
    k, n = _completed_count(data, referral_ids)
    return {"n_population": n, "n_population_completed": k}


def _completers_only(k: int, n: int, alpha: float) -> dict:
    from dapp_eval.estimators.proportions import wilson_ci

    if n == 0:
        return {}
    lo, hi = wilson_ci(k, n, alpha=alpha)
    return {"completers_value": k / n, "completers_ci_lower": float(lo), "completers_ci_upper": float(hi),
            "completers_n_numerator": k, "completers_n_denominator": n}


def value_ci_texts(value, lower, upper, f: str, level: str) -> tuple[str, str]:
    """A headline figure's value and interval as text, in the figure's format ``f``; ``level`` names the
    interval ("95% CI"). The interval text is "" when there is none; a time whose upper limit was not
    reached reads "from ... weeks (upper limit not reached)". The one formatter of a headline figure: the
    figures table and the report's cards both use it."""
    if pd.isna(value):
        return "not available", ""
    v = fmt.format_value(value, f)
    if pd.notna(lower) and pd.notna(upper):
        if f == "points":
            return v, f"{level} {lower:+.1f} to {upper:+.1f}"
        if f == "weeks":
            return v, f"{level} {lower:.1f} to {fmt.weeks(upper)}"
        return v, f"{level} {fmt.format_value(lower, f)} to {fmt.format_value(upper, f)}"
    if f == "weeks" and pd.notna(lower):
        return v, f"{level} from {lower:.1f} weeks (upper limit not reached)"
    return v, ""


def _value_text(r: pd.Series, level: str) -> str:
    v, ci = value_ci_texts(r["value"], r["ci_lower"], r["ci_upper"], REGISTRY[r["code"]].format, f"{level} CI")
    return f"{v} ({ci})" if pd.notna(r["ci_lower"]) and pd.notna(r["ci_upper"]) else v


def _errors_as_rows(codes, fn):
    """Run ``fn`` (returning rows); an analysis that cannot run gives 'not available' rows with the reason, and
    one of nobody (:class:`~dapp_eval.errors.NobodyError`) the figures of nobody, published like figures of a few
    (a card saying "no started episodes" at one site said so of everyone referred there; issue 26)."""
    try:
        return fn()
    except NobodyError:
        return [_row(c, num=0, den=0) for c in codes]
    except AnalysisError as exc:
        return [_row(c, note=str(exc)) for c in codes]


def _counts(data, alpha, extract_text, first_text, sources):
    from dapp_eval.analyses import funnel

    sources["cascade"] = res = funnel.cascade(data, by=None, alpha=alpha)
    c = res.tables["counts"]
    n = dict(zip(c["stage"], c["n"].astype(int)))
    period = f"referrals received {first_text} to {extract_text} (the data extract date)"
    return [_row("referrals", n["referred"], num=n["referred"], period=period),
            _row("starts", n["started"], num=n["started"], period=period),
            _row("completions", n["completed"], num=n["completed"], period=period)]


def _costs(data, sources):
    from dapp_eval.analyses import funnel

    sources["costs"] = res = funnel.costs(data, by=None)
    r = res.summary.iloc[-1]
    period = f"{fmt.long_date(r['period_start'])} to {fmt.long_date(r['period_end'])} (the contract period)"
    note = "" if pd.notna(r.get("period_cost_gbp")) else str(r.get("note") or "no annual cost in sites.csv")
    rows = [_row("referrals_in_period", r["n_referrals"], num=r["n_referrals"], period=period),
            _row("starts_in_period", r["n_started"], num=r["n_started"], period=period),
            _row("completions_in_period", r["n_completed"], num=r["n_completed"], period=period)]
    for code, den in (("cost_per_referral", "n_referrals"), ("cost_per_start", "n_started"),
                      ("cost_per_completion", "n_completed")):
        rows.append(_row(code, r[code], den=r[den], period=period, note=note))
    return rows


def _completion(data, plan, alpha, extract_text, sources, lag):
    from dapp_eval.analyses import attrition

    a = plan["attrition"]
    try:
        sources["completion_rate"] = res = attrition.completion_rate(
            data, by=None, grace_weeks=a["grace_weeks"], exit_time=a["exit_time"], alpha=alpha, recording_lag=lag)
    except NobodyError:
        return [_completion_of_nobody(data, a, extract_text, lag)]
    s = res.summary
    pooled = s["basis"].str.startswith("pooled")
    r = s[pooled].iloc[0] if pooled.any() else s.iloc[0]
    weeks = r["horizon_days"] / 7
    lag = res.meta.get("recording_lag_days", 0)
    upto = (f"up to {lag:g} days before {extract_text} (the delay in recording that someone has left)" if lag
            else f"up to {extract_text}")
    notes = [n for n in ("" if not pooled.any() else "several planned lengths: pooled, at the longest",
                         res.meta.get("ci_note", "")) if n]
    ct = res.tables["curve_counts"]
    own = (ct["group"] == str(r["group"])) & (ct["planned_sessions"] == int(r["planned_sessions"])) & \
        (ct["basis"] == r["basis"])
    sources["completion_curve"] = (ct.loc[own, ["time", "completed", "other", "censored"]].reset_index(drop=True),
                                   float(r["horizon_days"]))
    return [_row("completion_rate", r["estimate"], r["ci_lower"], r["ci_upper"], r["n_completed_by_horizon"],
                 r["n"], n_known=r["n_followed_to_horizon"], period=f"people who started {upto}, each followed to {weeks:.0f} weeks "
                                 f"after starting ({int(r['planned_sessions'])} weekly sessions + "
                                 f"{a['grace_weeks']:g} weeks)",
                 note="; ".join(notes))]


def _completion_of_nobody(data, a: dict, extract_text: str, lag) -> dict:
    """The completion rate of a site's part where nobody started: its figure of nobody, with the population
    worded as where a few started (the longest planned length here), published like a figure of a few."""
    planned = pd.to_numeric(data.sites["planned_sessions"], errors="coerce").max()
    lag = float(lag or 0)
    upto = (f"up to {lag:g} days before {extract_text} (the delay in recording that someone has left)" if lag
            else f"up to {extract_text}")
    period = (f"people who started {upto}, each followed to {planned + a['grace_weeks']:.0f} weeks after starting "
              f"({int(planned)} weekly sessions + {a['grace_weeks']:g} weeks)") if pd.notna(planned) else ""
    return _row("completion_rate", num=0, den=0, n_known=0, period=period)


def _completion_followed(data, plan, alpha, extract_text, sources):
    from dapp_eval.analyses import compare

    a = plan["attrition"]
    period = f"people who started at least their planned length + {a['grace_weeks']:g} weeks before {extract_text}"
    try:
        sources["site_funnel"] = res = compare.site_funnel(data, alpha=alpha, grace_weeks=a["grace_weeks"],
                                                           exit_time=a["exit_time"])
    except NobodyError:  # nobody followed to the end here: the figure of nobody, published like one of a few
        return [_row("completion_rate_followed", num=0, den=0, period=period)]
    s = res.summary
    k, n = int(s["n_completed"].sum()), int(s["n"].sum())
    from dapp_eval.estimators.proportions import wilson_ci

    lo, hi = wilson_ci(k, n, alpha=alpha)
    return [_row("completion_rate_followed", k / n, float(lo), float(hi), k, n, period=period)]


def _wait(data, alpha, extract_text, sources):
    from dapp_eval.analyses import funnel

    sources["waiting_times"] = res = funnel.waiting_times(data, stage="assessment_to_start", unit="weeks",
                                                          alpha=alpha)
    r = res.summary.iloc[0]
    ct = res.tables["curve_counts"]
    sources["wait_curve"] = (ct[ct["group"] == str(r["group"])].drop(columns="group").reset_index(drop=True), np.nan)
    note = "" if r["median_reached"] else MEDIAN_NOT_REACHED
    return [_row("wait_to_start", r["estimate"], r["ci_lower"], r["ci_upper"], den=r["n"],
                 period=f"people accepted up to {extract_text}", note=note)]


#: the note of a median wait not reached (on the published curve, where a page publishes it)
MEDIAN_NOT_REACHED = "fewer than half had started by the extract date: median not reached"


def _risk(data, plan, alpha, extract_text, sources):
    from dapp_eval.analyses import risk

    r = plan["risk"]
    sources["risk_change"] = res = risk.change(data, instrument=r["instrument"], from_=r["from"], to=r["to"],
                                               informant=r["informant"], alpha=alpha,
                                               primary=plan["primary"]["risk"])
    s = res.summary
    s = s[s["group"] == "all"] if "group" in s else s
    row = s.set_index("statistic")
    period = f"people with a {r['instrument']} score at {r['from']} and at {r['to']}, up to {extract_text}"
    out = []
    ch = res.tables.get("changes")
    ids = ch["referral_id"] if ch is not None else []
    pop = _population(data, "reliable_risk_reduction", ids)
    comp_rel, comp_mean = {}, {}
    if plan["headlines"]["completers_only"] and ch is not None and len(ch):
        done = ch[ch["referral_id"].astype(str).map(
            data.referrals.set_index(data.referrals["referral_id"].astype(str))["exit_reason"]) == "completed"]
        comp_rel = _completers_only(int((done["reliable_change"] == "reliably improved").sum()), len(done), alpha)
        d = done["change"].to_numpy(float)
        if len(d) > 1:
            half = float(stats.t.ppf(1 - alpha / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
            comp_mean = {"completers_value": float(d.mean()), "completers_ci_lower": float(d.mean()) - half,
                         "completers_ci_upper": float(d.mean()) + half, "completers_n_denominator": len(d),
                         "completers_value_sd": float(d.std(ddof=1))}
    if "reliably_improved" in row.index:
        ri = row.loc["reliably_improved"]
        out.append(_row("reliable_risk_reduction", ri["estimate"], ri["ci_lower"], ri["ci_upper"], ri["n"],
                        ri["n_total"], period=period, **pop, **comp_rel))
    if "mean_change" in row.index:
        mc = row.loc["mean_change"]
        sd = float(ch["change"].astype(float).std(ddof=1)) if ch is not None and len(ch) > 1 else np.nan
        out.append(_row("risk_score_change", mc["estimate"], mc["ci_lower"], mc["ci_upper"], den=mc["n"],
                        period=period, value_sd=sd, **pop, **comp_mean))
    return out


def _safety(data, plan, alpha, extract_text, sources):
    from dapp_eval.analyses import safety
    from dapp_eval.estimators.proportions import wilson_ci

    sp = plan["safety"]
    sources["feeling_safe"] = fs = safety.feeling_safe(data, baseline=sp["baseline_wave"],
                                                       followup=sp["followup_wave"], alpha=alpha)
    p = fs.tables.get("paired")
    period = (f"(ex-)partners who answered at {sp['baseline_wave']} (start) and {sp['followup_wave']} (about 12 "
              f"months), up to {extract_text}")
    if p is None or p.empty or pd.isna(p.iloc[0].get("n_safer")):
        return [_row("partner_feels_safer", period=period, note="no (ex-)partner answered both surveys")]
    r = p.iloc[0]
    n, k = int(r["n_pairs"]), int(r["n_safer"])
    if n == 0:
        if not is_part(data):  # the whole folder: said so
            return [_row("partner_feels_safer", den=0, period=period, note="no (ex-)partner answered both surveys")]
        # a site's (or period's) part: the figure of nobody, published like one of a few (issue 26)
        return [_row("partner_feels_safer", num=0, den=0, period=period)]
    lo, hi = wilson_ci(k, n, alpha=alpha)
    pairs = fs.tables.get("pairs")
    ids = pairs["referral_id"] if pairs is not None else []
    extra = _population(data, "partner_feels_safer", ids)
    if plan["headlines"]["completers_only"] and pairs is not None and len(pairs):
        reason = data.referrals.set_index(data.referrals["referral_id"].astype(str))["exit_reason"]
        done = pairs[pairs["referral_id"].astype(str).map(reason) == "completed"]
        extra.update(_completers_only(int((done["feels_safe_fu"] > done["feels_safe_base"]).sum()), len(done), alpha))
    return [_row("partner_feels_safer", k / n, float(lo), float(hi), k, n, period=period, **extra)]


def _followup(data, plan, alpha, extract_text, sources):
    from dapp_eval.analyses import followup

    days = round(plan["followup"]["window_months"] * 365.25 / 12)
    sources["before_after"] = res = followup.before_after(
        data, design="commissioner", primary=plan["primary"]["followup"], after=(0, days), before=(-days, 0),
        alpha=alpha)
    s = res.summary
    persons = res.tables["persons"]
    elig = persons[persons["eligible"]]
    out = []
    for outcome in ("police", "marac"):
        rows = s[(s["outcome"] == outcome) & (s["measure"] == "any incident")].set_index("period")
        for per in ("before", "after"):
            code = f"{outcome}_{per}"
            period = (f"the {plan['followup']['window_months']} months "
                      + ("before referral" if per == "before" else "after leaving the programme")
                      + f", among people whose windows ended by {extract_text}")
            if per not in rows.index:
                out.append(_row(code, period=period, note="no one has a full year of linked records"))
                continue
            r = rows.loc[per]
            extra = _population(data, code, elig["referral_id"])
            if plan["headlines"]["completers_only"]:
                done = elig[elig["exit_reason"] == "completed"]
                extra.update(_completers_only(int((done[f"n_{outcome}_{per}"] > 0).sum()), len(done), alpha))
            out.append(_row(code, r["estimate"], r["ci_lower"], r["ci_upper"], r["n_with_incident"], r["n"],
                            period=period, **extra))
    return out


def _prop(code, k, n, period, note=""):
    from dapp_eval.estimators.proportions import wilson_ci

    if not n:
        return _row(code, den=n, period=period, note=note or "no one to count")
    lo, hi = wilson_ci(k, n)
    return _row(code, k / n, float(lo), float(hi), k, n, period=period, note=note)


def _v2_reoffending(data, alpha, sources):
    from dapp_eval.analyses import reoffending

    sources["proven_reoffending"] = ro = reoffending.proven_reoffending(data, alpha=alpha)
    r = ro.summary.set_index("cohort").loc["completed"]
    per = "people who completed, one year after leaving plus six months for the caution or conviction"
    if not r["meets_minimum"]:
        return [_row("proven_reoffending_rate", den=r["n"], period=per,
                     note=f"cohort under {reoffending.MIN_COHORT} (the Justice Data Lab minimum): not reported")]
    return [_prop("proven_reoffending_rate", int(r["n_reoffenders"]), int(r["n"]), per)]


def _v2_agencies(data, alpha, extract_text, sources):
    from dapp_eval.analyses import delivery

    sources["feedback"] = fb = delivery.feedback(data, alpha=alpha)
    s = fb.summary
    r = s[(s["informant"] == "referring_agency") & (s["wave"] == "exit") & (s["item"] == "behaviour_change")]
    if r.empty:
        return [_row("agency_positive_change", note="no referring agency rated behaviour at exit")]
    return [_prop("agency_positive_change", int(r["n_better"].iloc[0]), int(r["n"].iloc[0]),
                  f"ratings at exit up to {extract_text}")]


def _v2(data, alpha, extract_text, sources):
    """The figures of contract version 2; each is 'not available' with the reason when the data lack it."""
    from dapp_eval.analyses import delivery, equality, families

    out = []
    period = f"referrals up to {extract_text}"
    u = equality.under_18(data)
    out.append(_row("under_18_referrals", u["n_under_18"], num=u["n_under_18"], period=period))

    def guarded(codes, fn):
        try:
            return fn()
        except AnalysisError as exc:
            return [_row(c, note=str(exc)) for c in codes]

    def kids():
        sources["children"] = ch = families.children(data, alpha=alpha)
        r = ch.summary[(ch.summary["measure"] == "child_protection_plan") & (ch.summary["group"] == "all")].iloc[0]
        per = "children whose plan is known at referral and 12 months later"
        return [_row("children_affected", ch.meta["n_children"], num=ch.meta["n_children"], period=period),
                _prop("children_cp_plan_at_referral", int(r["n_at_referral"]), int(r["n"]), per),
                _prop("children_cp_plan_12_months", int(r["n_at_12_months"]), int(r["n"]), per)]

    def support():
        sources["partner_support"] = ps = families.partner_support(data, alpha=alpha)
        t = ps.summary.set_index("measure")
        return [_prop(c, int(t.loc[m, "n_yes"]), int(t.loc[m, "n"]), f"supported (ex-)partners up to {extract_text}")
                for c, m in (("partner_support_covers_programme", "covers_programme"),
                             ("partner_safety_plan", "safety_plan"))]

    def places():
        sources["capacity"] = cap = delivery.capacity(data)
        s = cap.summary
        return [_prop("utilisation", int(s["n_places_filled"].sum()), int(s["n_places_offered"].sum()),
                      "the quarters in the capacity table")]

    def waiting():
        sources["waiting_list"] = wl = delivery.waiting_list(data)
        s = wl.summary.set_index("risk_band")
        n = int(s.loc["High", "n_waiting"]) if "High" in s.index else 0
        return [_row("waiting_high_risk", n, num=n, period=f"waiting at {extract_text}")]

    out += guarded(["children_affected", "children_cp_plan_at_referral", "children_cp_plan_12_months"], kids)
    out += guarded(["partner_support_covers_programme", "partner_safety_plan"], support)
    out += guarded(["proven_reoffending_rate"], lambda: _v2_reoffending(data, alpha, sources))
    out += guarded(["utilisation"], places)
    out += guarded(["agency_positive_change"], lambda: _v2_agencies(data, alpha, extract_text, sources))
    out += guarded(["waiting_high_risk"], waiting)
    return out


_POP_COLS = ["n_population", "n_population_completed", "completers_value", "completers_ci_lower",
             "completers_ci_upper", "completers_n_numerator", "completers_n_denominator",
             # read by the publication step, never published: a mean's SD (its interval at the published n) and
             # the completion rate's people whose outcome at the horizon is known (the table's own small rule)
             "value_sd", "completers_value_sd", "n_known"]


def population_text(code: str, k=np.nan, n=np.nan, *, share_shown: bool = True) -> str:
    """Who a figure is about, as a card names it: "of those assessed twice: 92% completed the programme".

    Examples
    --------
    >>> population_text("reliable_risk_reduction", 590, 642)
    'of those assessed twice: 92% completed the programme'
    >>> population_text("completion_rate")
    'of everyone who started'
    """
    words = POPULATION_WORDS.get(code)
    if words is None:
        return ""
    if code not in MIXED_POPULATION:
        return f"of {words}"
    if pd.isna(n) or not n or pd.isna(k):
        return f"of {words}"
    if not share_shown:
        return f"of {words} (most of whom completed the programme; the share is not shown: small numbers)"
    who = "were partners of people who" if code == "partner_feels_safer" else ""
    verb = f"{who} completed the programme".strip()
    return f"of {words}: {100 * k / n:.0f}% {verb}"


_GROUPS = {
    ("referrals", "starts", "completions"): "counts",
    ("referrals_in_period", "starts_in_period", "completions_in_period", "cost_per_referral", "cost_per_start",
     "cost_per_completion"): "costs",
    ("completion_rate",): "completion",
    ("completion_rate_followed",): "completion_followed",
    ("wait_to_start",): "wait",
    ("reliable_risk_reduction", "risk_score_change"): "risk",
    ("partner_feels_safer",): "safety",
    ("police_before", "police_after", "marac_before", "marac_after"): "followup",
    V2_FIGURES: "v2",
}


def headline_figures(data, *, site: str | None = None, plan: dict | str | None = None, alpha: float = 0.05,
                     codes: Sequence[str] | None = None) -> AnalysisResult:
    """Every headline figure for the whole programme or one site, one row per figure.

    Parameters
    ----------
    data : ProgrammeData
        All sites, as the report uses them: already restricted to the plan's ``period`` when it has
        one (``data.subset(period=...)``); restricted to ``site`` here when one is given.
    site : str, optional
        A ``site_id``; None for all sites.
    plan : dict or path, optional
        The analysis plan (:func:`dapp_eval.data.plan.load_plan`): grace weeks, exit time, risk instrument,
        primary outcomes, survey waves, follow-up window. Its ``period`` is not applied here (see
        ``data``).
    alpha : float
        For the confidence intervals (the report passes ``plan["alpha"]``).
    codes : sequence of str, optional
        Only these figures (default: all of :data:`REGISTRY`).

    Returns
    -------
    AnalysisResult
        ``summary``: ``code``, ``name``, ``scope`` (site id or "all"), ``value``, ``ci_lower``,
        ``ci_upper``, ``n_numerator``, ``n_denominator``, ``period`` (plain words, with dates),
        ``format``, ``value_text`` (the value as every page shows it), ``headline`` (shown on the
        summary cards), ``note`` (why a figure is not available, or a caveat).
        ``model``: the analysis results the figures came from, keyed by analysis (``cascade``,
        ``costs``, ``completion_rate``, ``site_funnel``, ``waiting_times``, ``risk_change``,
        ``feeling_safe``, ``before_after``), for a report section that shows more of them.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> s = headline_figures(load_programme("data_synthetic"), site="S01",
    ...                      codes=["reliable_risk_reduction"]).summary.set_index("code")
    >>> int(s.loc["reliable_risk_reduction", "n_numerator"]), int(s.loc["reliable_risk_reduction", "n_denominator"])
    (32, 116)
    """
    from dapp_eval.data.plan import as_plan

    alpha = check_alpha(alpha)
    plan = as_plan(plan)
    codes = list(REGISTRY) if codes is None else list(codes)
    unknown = [c for c in codes if c not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown headline figure code(s) {unknown}; known: {', '.join(REGISTRY)}")
    sub = data.subset(sites=[site]) if site is not None else data
    from dapp_eval.analyses.attrition import resolve_recording_lag

    # the plan's recording lag, "auto" resolved on all sites: every site is followed to the same date
    lag = resolve_recording_lag(data, plan["attrition"].get("recording_lag"))
    extract_text = fmt.long_date(sub.sites["data_extract_date"].max())
    period = plan["period"] if "period" in plan else None
    first = pd.Timestamp(period[0]) if period else data.referrals["referral_date"].min()
    # the month only: the day of the first referral is one person's date (issue 26); the release's, not the
    # site's: a small site's first month was the month one of its few people was referred
    first_text = f"{pd.Timestamp(first):%B %Y}" if pd.notna(first) else "n/a"
    sources: dict[str, AnalysisResult] = {}
    runners = {
        "counts": lambda: _counts(sub, alpha, extract_text, first_text, sources),
        "costs": lambda: _costs(sub, sources),
        "completion": lambda: _completion(sub, plan, alpha, extract_text, sources, lag),
        "completion_followed": lambda: _completion_followed(sub, plan, alpha, extract_text, sources),
        "wait": lambda: _wait(sub, alpha, extract_text, sources),
        "risk": lambda: _risk(sub, plan, alpha, extract_text, sources),
        "safety": lambda: _safety(sub, plan, alpha, extract_text, sources),
        "followup": lambda: _followup(sub, plan, alpha, extract_text, sources),
        "v2": lambda: _v2(sub, alpha, extract_text, sources),
    }
    rows: list[dict] = []
    for group_codes, key in _GROUPS.items():
        wanted = [c for c in group_codes if c in codes]
        if wanted:
            rows += [r for r in _errors_as_rows(wanted, runners[key]) if r["code"] in wanted]
    got = {r["code"] for r in rows}
    rows += [_row(c, note="not produced by the analysis for these data") for c in codes if c not in got]
    s = pd.DataFrame(rows).reindex(columns=list(_row("x")) + _POP_COLS).set_index("code").loc[codes].reset_index()
    for c in ("value", "ci_lower", "ci_upper", "n_numerator", "n_denominator", *_POP_COLS):
        s[c] = pd.to_numeric(s[c], errors="coerce").astype(float)
    s["name"] = [REGISTRY[c].name for c in s["code"]]
    s["scope"] = site if site is not None else "all"
    s["format"] = [REGISTRY[c].format for c in s["code"]]
    s["headline"] = [REGISTRY[c].headline for c in s["code"]]
    s["period"] = s.pop("period_text")
    s["value_text"] = s.apply(_value_text, axis=1, level=level_text(alpha))
    s["note"] = s["note"].fillna("").astype(str).map(fmt.plain_text)  # analyses' messages may hold code names
    s["population"] = [population_text(c, k, n) for c, k, n in
                       zip(s["code"], s["n_population_completed"], s["n_population"])]
    s = s[["code", "name", "scope", "value", "ci_lower", "ci_upper", "n_numerator", "n_denominator", "period",
           "format", "value_text", "headline", "note", "population", *_POP_COLS]]
    meta = make_meta(n_in=len(sub.referrals), excluded={}, unit="referrals", alpha=alpha, site=site,
                     method="each figure from the analysis function the report uses (funnel.cascade, funnel.costs, "
                            "attrition.completion_rate, compare.site_funnel, funnel.waiting_times, risk.change, "
                            "safety.feeling_safe, followup.before_after); definitions in dapp_eval.commissioner.headlines.REGISTRY")
    return AnalysisResult(summary=s, meta=meta, model=sources, title="Headline figures")


def site_and_all_sites(data, *, site: str, plan: dict | str | None = None, alpha: float = 0.05,
                       codes: Sequence[str] | None = None) -> AnalysisResult:
    """A site's headline figures with the all-sites figure beside each (for a site report's cards).

    Returns
    -------
    AnalysisResult
        ``summary``: the columns of :func:`headline_figures` for the site, plus ``all_sites_value``,
        ``all_sites_ci_lower``, ``all_sites_ci_upper``, ``n_all_sites_numerator``,
        ``n_all_sites_denominator`` and ``all_sites_value_text``.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> s = site_and_all_sites(load_programme("data_synthetic"), site="S03", codes=["completion_rate"]).summary
    >>> s[["value_text", "all_sites_value_text"]].iloc[0].tolist()
    ['86% (95% CI 81% to 90%)', '82% (95% CI 79% to 84%)']
    """
    if site is None:
        raise ValueError("site_and_all_sites needs a site_id; for all sites use headline_figures")
    own = headline_figures(data, site=site, plan=plan, alpha=alpha, codes=codes)
    every = headline_figures(data, site=None, plan=plan, alpha=alpha, codes=codes).summary.set_index("code")
    s = own.summary.copy()
    s["all_sites_value"] = s["code"].map(every["value"])
    s["all_sites_ci_lower"] = s["code"].map(every["ci_lower"])
    s["all_sites_ci_upper"] = s["code"].map(every["ci_upper"])
    s["n_all_sites_numerator"] = s["code"].map(every["n_numerator"])
    s["n_all_sites_denominator"] = s["code"].map(every["n_denominator"])
    s["all_sites_value_text"] = s["code"].map(every["value_text"])
    return AnalysisResult(summary=s, meta=dict(own.meta, compared_with="all sites"),
                          title=f"Headline figures: site {site} and all sites")


# ---------------------------------------------------------------------------
# comparison of sites
# ---------------------------------------------------------------------------


def _range_text(values: pd.Series, names: pd.Series, as_pct: bool = True, digits: int = 0) -> tuple[str, str]:
    v = values.dropna()
    if v.empty:
        return "", ""
    lo_i, hi_i = v.idxmin(), v.idxmax()

    def f(x):
        return fmt.percent(x, digits) if as_pct else f"{x:.1f}"

    return f"{f(v[lo_i])} ({names[lo_i]})", f"{f(v[hi_i])} ({names[hi_i]})"


def _smd_cont(m1, s1, m2, s2) -> float:
    from dapp_eval.estimators.effect_sizes import smd_from_moments

    return smd_from_moments(m1, s1, m2, s2)


def _referral_mix_sentence(data) -> tuple[str, pd.DataFrame]:
    from dapp_eval.analyses import funnel

    bt = funnel.baseline_table(data, by="site_id", variables=["referral_source"]).summary
    bt = bt[bt["level"] != "missing"]
    if bt.empty or bt["smd_max_abs"].isna().all():
        return "", bt
    # the source whose share differs most between sites (in percentage points; an SMD of a rare source is
    # large for tiny differences), with its largest standardised difference as computed for Table 1
    spread = bt.groupby("level")["pct"].agg(lambda p: p.max() - p.min())
    lev = spread.idxmax()
    smd = float(bt.loc[bt["level"] == lev, "smd_max_abs"].max())
    rows = bt[bt["level"] == lev].set_index("group")
    names = data.sites.set_index("site_id")["site_name"]
    pct = rows["pct"] / 100
    lo, hi = _range_text(pct, pd.Series({g: names.get(g, g) for g in pct.index}))
    source = fmt.plain_name(str(lev))
    source = source if source[:2].isupper() else source[0].lower() + source[1:]
    verb = "differ" if smd >= SMD_FLAG else "are similar"
    return (f"Referral sources {verb} between sites: the share referred by {source} ranges from {lo} to {hi} "
            f"(standardised difference {smd:.2f}, {_size(smd)}; above {SMD_FLAG} is usually taken as a real "
            f"difference in case mix)."), bt


#: |standardised difference| above which case mix is said to differ (the usual Table 1 flag)
SMD_FLAG = 0.1


def _size(d: float) -> str:
    d = abs(d)
    return ("a large difference" if d >= 0.5 else "a moderate difference" if d >= 0.2
            else "a small difference" if d >= SMD_FLAG else "a negligible difference")


def _by_site(data, sites, given: dict, plan, alpha: float) -> tuple[list, dict, dict, dict]:
    """Each scope's headline outcomes (sites, then all sites: None), its police figure before referral, its
    feeling-safe result and its completion curve's counts ("all" for all sites); a result in ``given`` with every
    code needed is used as it is."""
    parts, pb, fs, curves = [], {}, {}, {}
    codes = [*SITE_OUTCOMES, "police_before"]
    for sid in [*sites.index, None]:
        res = given.get(sid)
        if not isinstance(res, AnalysisResult) or not set(codes) <= set(res.summary["code"]):
            res = headline_figures(data, site=sid, plan=plan, alpha=alpha, codes=codes)
        hf = res.summary
        fs[sid] = res.model.get("feeling_safe")
        if res.model.get("completion_curve") is not None:
            curves["all" if sid is None else str(sid)] = res.model["completion_curve"]
        pb[sid] = hf.loc[hf["code"] == "police_before", ["n_numerator", "n_denominator"]].iloc[0].tolist()
        hf = hf[hf["code"] != "police_before"].copy()
        hf["site_id"] = sid if sid is not None else "all"
        hf["site_name"] = sites.loc[sid, "site_name"] if sid is not None else "All sites"
        hf["programme_model"] = (str(sites.loc[sid, "programme_model"]).replace("_", "-") if sid is not None
                                 else ", ".join(sorted({str(m).replace("_", "-") for m in sites["programme_model"]})))
        parts.append(hf)
    return parts, pb, fs, curves


def _risk_intake(data, r: dict) -> tuple[pd.DataFrame, list]:
    """The intake risk score by site among people assessed twice (``n``, ``mean``, ``sd``), with its roles: a
    mean and SD describe the people counted in ``n`` and are shown only when they are at least the threshold."""
    from dapp_eval.analyses import risk

    try:
        ch = risk.change(data, instrument=r["instrument"], from_=r["from"], to=r["to"],
                         informant=r["informant"]).tables["changes"]
        g = ch.groupby("site_id")["score_from"].agg(["size", "mean", "std"]).reset_index()
    except AnalysisError:
        g = pd.DataFrame(columns=["site_id", "size", "mean", "std"])
    # every site, of nobody assessed twice too (a site missing from the table said so; issue 26)
    g = g.set_index("site_id").reindex(list(data.sites["site_id"])).rename_axis("site_id").reset_index()
    g["size"] = pd.to_numeric(g["size"], errors="coerce").fillna(0)
    t = pd.DataFrame({"site_id": g["site_id"], "n": g["size"].astype(float), "mean": g["mean"].astype(float),
                      "sd": g["std"].astype(float)})
    return t, [Label("site_id"), Count("n"), Summary(("mean", "sd"), n="n", moments=("mean", "sd"))]


#: the columns of :func:`site_comparison`'s summary a release publishes (value_text and note are the true
#: figures in words: never published; a page words the published figures itself)
SITE_COLUMNS = ["outcome", "site_id", "site_name", "programme_model", "estimate", "ci_lower", "ci_upper",
                "n_numerator", "n"]


def _fewer(t: pd.DataFrame) -> pd.Series:
    """The fewer of a completion rate's completions and other outcomes: its 'events' for the publication step."""
    return np.minimum(t["n_numerator"], t["n"] - t["n_numerator"])


def site_roles(curves: dict | None = None) -> list:
    """The roles of :data:`SITE_COLUMNS`: each outcome a proportion of its counts, but the completion rate, an
    estimate that follows people still attending: read off the completion curve rebuilt from rounded counts
    where ``curves`` (site id or "all" -> (per-time counts, horizon)) has the site's, else model output; either
    withheld when its completions or other outcomes are few."""
    curves = dict(curves or {})
    with_curve = functools.partial(_curve_site_rows, sites=tuple(curves))
    return [Label("outcome", "site_id", "site_name", "programme_model"), Count("n_numerator", "n"),
            Proportion("n_numerator", "n", rows=_other_rows),
            CurveAt(("estimate", "ci_lower", "ci_upper"), steps=functools.partial(_site_curve, curves, 0),
                    cause="completed", at=functools.partial(_site_curve, curves, 1), n="n", rows=with_curve),
            Derived(("estimate", "ci_lower", "ci_upper"), functools.partial(_published, cols=("estimate", "ci_lower", "ci_upper")),
                    small=functools.partial(_known_cells, den="n"), inputs=("n_numerator", "n"), group="n",
                    rows=with_curve),
            Model(("estimate", "ci_lower", "ci_upper"), events=_fewer,
                  rows=functools.partial(_curve_site_rows, sites=tuple(curves), without=True))]


def _curve_site_rows(t: pd.DataFrame, sites: tuple, without: bool = False) -> pd.Series:
    return _completion_rows(t) & (t["site_id"].astype(str).isin(sites) != without)


def _site_curve(curves: dict, part: int, row):
    return curves[str(row["site_id"])][part]




def _completion_rows(t: pd.DataFrame) -> pd.Series:
    return t["outcome"] == "completion_rate"


def _other_rows(t: pd.DataFrame) -> pd.Series:
    return t["outcome"] != "completion_rate"


#: the case-mix figures by site (``tables["mix_counts"]``), as the sentences name them
MIX_WORDS = {"not_safe_at_all": "At the first survey, the share of (ex-)partners who felt 'not safe at all'",
             "police_before": "Police involvement in the year before referral"}


def _mix_counts(sites, fs: dict, pb: dict, sp) -> tuple[pd.DataFrame, list]:
    """The counts behind the case-mix ranges, by site: the (ex-)partners 'not safe at all' at the first survey
    of those who answered it, and the people with police involvement the year before of those with records."""
    rows = []
    for sid in sites.index:
        f = fs.get(sid)
        r = (f.summary[(f.summary["wave"] == sp["baseline_wave"]) & (f.summary["level"] == 1)]
             if f is not None else pd.DataFrame())
        if len(r):
            rows.append({"what": "not_safe_at_all", "site_id": sid, "n_numerator": float(r["n"].iloc[0]),
                         "n": float(r["n_answered"].iloc[0])})
        k, n = pb.get(sid, (np.nan, np.nan))
        rows.append({"what": "police_before", "site_id": sid, "n_numerator": float(k), "n": float(n)})
    t = pd.DataFrame(rows, columns=["what", "site_id", "n_numerator", "n"])
    t["share"] = t["n_numerator"] / t["n"].where(t["n"] > 0)
    return t, [Label("what", "site_id"), Count("n_numerator", "n"),
               Proportion("n_numerator", "n", estimate="share", ci=None)]


def site_comparison(data, *, plan: dict | str | None = None, alpha: float = 0.05,
                    figures: Mapping | None = None) -> AnalysisResult:
    """Each headline outcome by site, with 95% CIs, programme model and a case-mix sentence.

    The outcomes are :data:`SITE_OUTCOMES`: completion rate, reliable reduction in risk, partners
    feeling safer and police involvement a year on, each computed exactly as on the headline cards
    (:func:`headline_figures` per site), so a site's figure is the same here and on its own report.

    ``figures`` may hold :func:`headline_figures` results already computed on ``data`` with the same
    plan and alpha, keyed by site id (None for all sites), as a report release has them; they are used
    instead of computing them again. A scope missing from it, or a result without every code needed
    here, is computed.

    Returns
    -------
    AnalysisResult
        ``summary``: one row per outcome and site (plus ``site_id == "all"``): ``outcome``, ``name``,
        ``site_id``, ``site_name``, ``programme_model``, ``estimate``, ``ci_lower``, ``ci_upper``,
        ``n_numerator``, ``n`` (denominator), ``value_text``, ``note``. ``tables["case_mix"]``: one
        sentence per outcome (``outcome``, ``case_mix``). ``tables["referral_mix"]``: referral source
        by site with standardised differences (:func:`dapp_eval.analyses.funnel.baseline_table`).

    Notes
    -----
    Police involvement counts people (their first started referral), so a person who started at two
    sites is counted at each site but once for all sites: the sites' denominators can add up to a
    little more than the all-sites one.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> sc = site_comparison(load_programme("data_synthetic"))
    >>> sc.summary.query("outcome == 'reliable_risk_reduction' and site_id == 'S02'")["value_text"].iloc[0]
    '24% (95% CI 16% to 34%)'
    """
    from dapp_eval.data.plan import as_plan

    alpha = check_alpha(alpha)
    plan = as_plan(plan)
    sites = data.sites.set_index("site_id")
    parts, pb, fs, curves = _by_site(data, sites, dict(figures or {}), plan, alpha)
    s = pd.concat(parts, ignore_index=True).rename(columns={"code": "outcome", "value": "estimate",
                                                            "n_denominator": "n"})
    s = s[["outcome", "name", "site_id", "site_name", "programme_model", "estimate", "ci_lower", "ci_upper",
           "n_numerator", "n", "value_text", "note"]]
    s["_o"] = s["outcome"].map({c: i for i, c in enumerate(SITE_OUTCOMES)})
    s = s.sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)

    # case mix, per outcome, from the analyses' own baseline figures
    _, mix_table = _referral_mix_sentence(data)
    mix_text = ""  # the referral mix by site is worded by the release from its published counts (tables["referral_mix"])
    notes = {}
    planned = sites["planned_sessions"].astype(int)
    models = sorted({str(m).replace("_", "-") for m in sites["programme_model"]})
    if len(sites) < 2:
        one = "Only one site: there is no other site to compare with."
        case_mix = pd.DataFrame({"outcome": list(SITE_OUTCOMES), "case_mix": [one] * len(SITE_OUTCOMES)})
        meta = make_meta(n_in=len(data.referrals), excluded={}, unit="referrals", alpha=alpha,
                         method="each site's headline figures side by side", case_mix={o: one for o in SITE_OUTCOMES})
        from dapp_eval.analyses import plotting

        return AnalysisResult(summary=s, meta=meta, tables={"case_mix": case_mix, "referral_mix": mix_table},
                              title="Comparison of sites on the headline outcomes", _plotter=_plot_outcome(plotting))
    if len(models) == 1 and planned.nunique() == 1:
        notes["completion_rate"] = (
            f"All sites run the same kind of programme ({models[0]}, {planned.iloc[0]} planned weekly sessions). "
            + mix_text)
    else:
        notes["completion_rate"] = (
            f"Sites run different programmes ({', '.join(models)}; {planned.min()} to {planned.max()} planned weekly "
            "sessions): a longer programme gives more time to leave early, so completion rates are not like for "
            "like. " + mix_text)
    # the intake score by site (tables["risk_intake"]) is worded by the release from its published means
    notes["reliable_risk_reduction"] = ("People who start with a lower score have less room to show a reliable "
                                        "reduction. " + mix_text)
    risk_intake, intake_roles = _risk_intake(data, plan["risk"])
    # the ranges of these two (tables["mix_counts"]) are worded by the release from its published counts
    notes["partner_feels_safer"] = ("Only (ex-)partners who answered both surveys are counted, and who answers "
                                    "may differ between sites. " + mix_text)
    notes["police_after"] = ("Sites that start higher have more room to fall, and part of any fall would have "
                             "happened anyway (regression to the mean). " + mix_text)
    mix_counts, mix_roles = _mix_counts(sites, fs, {k: v for k, v in pb.items() if k is not None}, plan["safety"])
    case_mix = pd.DataFrame({"outcome": list(SITE_OUTCOMES), "case_mix": [notes[o].strip() for o in SITE_OUTCOMES]})
    meta = make_meta(n_in=len(data.referrals), excluded={}, unit="referrals", alpha=alpha,
                     method="each site's headline figures (headline_figures per site) side by side; case mix from "
                            "the intake risk score, the first partner survey, police involvement before referral "
                            "and referral source (standardised differences as in Table 1)",
                     case_mix=dict(zip(case_mix["outcome"], case_mix["case_mix"])))
    from dapp_eval.analyses import plotting

    return AnalysisResult(summary=s, meta=meta, tables={"case_mix": case_mix, "referral_mix": mix_table,
                                                        "mix_counts": mix_counts, "risk_intake": risk_intake},
                          roles={"summary": site_roles(curves), "mix_counts": mix_roles, "risk_intake": intake_roles},
                          title="Comparison of sites on the headline outcomes", _plotter=_plot_outcome(plotting))


def _plot_outcome(plotting):
    def plot(result, ax=None, *, outcome="completion_rate", **kw):
        t = result.summary[result.summary["outcome"] == outcome]
        kw.setdefault("title", REGISTRY[outcome].name)
        return plotting.dot_whisker(t, ax=ax, **kw)

    return plot


# ---------------------------------------------------------------------------
# the headline figures as a table to publish: what each column is (issue 26)
# ---------------------------------------------------------------------------

#: figures that are a proportion of two counts of people (worked out again from the published counts)
PROPORTIONS = ("completion_rate_followed", "reliable_risk_reduction", "partner_feels_safer", "police_before",
               "police_after", "marac_before", "marac_after", "children_cp_plan_at_referral",
               "children_cp_plan_12_months", "partner_support_covers_programme", "partner_safety_plan",
               "proven_reoffending_rate", "utilisation", "agency_positive_change")
#: counts of people in what may be a small group
PEOPLE_COUNTS = ("under_18_referrals", "children_affected", "waiting_high_risk")
#: medians read off a curve (figure code -> the cause whose cumulative incidence reaches one half)
CURVE_MEDIANS = {"wait_to_start": "started"}
#: each cost per person and the count it divides the period's cost by
COST_DENOMINATORS = {"cost_per_referral": "referrals_in_period", "cost_per_start": "starts_in_period",
                     "cost_per_completion": "completions_in_period"}


def _kind(code: str) -> str:
    """How a figure is published: a count, a proportion of counts, an estimated rate, a cost per person, or a
    summary (a median, a mean change) of the people in its denominator."""
    f = REGISTRY[code].format
    return ("count" if f == "count" else "proportion" if code in PROPORTIONS else
            "estimate" if code == "completion_rate" else "median" if code in CURVE_MEDIANS else
            "cost" if f == "gbp" else "summary")


def _rows_of(kind: str):
    return functools.partial(_kind_rows, kind=kind)


def _kind_rows(t: pd.DataFrame, kind: str) -> pd.Series:
    return t["kind"] == kind


def _percent_rows(t: pd.DataFrame, percent: bool) -> pd.Series:
    return t["code"].map(lambda c: REGISTRY[c].format == "percent") == percent


def _mixed_rows(t: pd.DataFrame) -> pd.Series:
    return t["code"].isin(MIXED_POPULATION)


def _count_value(pub: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"value": pub["n_value"]}, index=pub.index)


def _cost_value(pub: pd.DataFrame) -> pd.DataFrame:
    """The period's cost (not about people) over the published count it is per."""
    n = pd.to_numeric(pub["n_denominator"], errors="coerce")
    return pd.DataFrame({"value": (pd.to_numeric(pub["period_cost"], errors="coerce") / n.where(n > 0)).round(2)},
                        index=pub.index)


def to_publish(summary: pd.DataFrame, codes: Sequence[str], curves: dict | None = None) -> tuple[pd.DataFrame, list]:
    """The figures ``codes`` of :func:`headline_figures`'s summary as one table to publish, with its roles.

    Each figure's counts are count columns (``n_value`` the count a count figure is; ``n_numerator``,
    ``n_denominator``; the population's and the completers-only counts); its value is, by kind, the published
    count, a proportion of the published counts, the estimated completion rate (shown only when its
    completions and other outcomes are both at least the threshold), the period's cost over the published
    count, or a summary of at least the threshold people. ``curves`` (code -> (per-time counts of its curve, as
    :func:`dapp_eval.analyses.attrition.curve_counts` gives them, and the time read); ``headline_figures(...)
    .model["completion_curve"]`` for the completion rate): an estimate with a curve is read off the curve rebuilt from
    rounded counts at its ``horizon_days`` (:class:`~dapp_eval.columns.CurveAt`), not the true curve. Pass ``pairs={"n_numerator": "n_denominator"}``
    to the publication step so that a count saying "none" or "all" of a small group is withheld.

    Examples
    --------
    >>> t, roles = to_publish(pd.DataFrame({"code": ["referrals", "police_after"], "value": [212.0, 8 / 35],
    ...                                     "ci_lower": [np.nan, 0.1], "ci_upper": [np.nan, 0.4],
    ...                                     "n_numerator": [212.0, 8.0], "n_denominator": [np.nan, 35.0]}),
    ...                       ["referrals", "police_after"])
    >>> t[["code", "kind", "n_value", "n_numerator"]].values.tolist()
    [['referrals', 'count', 212.0, nan], ['police_after', 'proportion', nan, 8.0]]
    """
    s = summary.set_index("code")
    rows = []
    for code in codes:
        r = s.loc[code]
        kind = _kind(code)
        get = lambda c, r=r: float(r[c]) if c in r.index and pd.notna(r[c]) else np.nan  # noqa: E731
        row = {"code": code, "kind": kind, "n_value": get("value") if kind == "count" else np.nan,
               "n_numerator": np.nan if kind == "count" else get("n_numerator"), "n_denominator": get("n_denominator"),
               "value": np.nan if kind == "count" else get("value"), "ci_lower": get("ci_lower"),
               "ci_upper": get("ci_upper"), "period_cost": np.nan,
               "n_population": get("n_population"), "n_population_completed": get("n_population_completed"),
               "population_share": np.nan, "horizon_days": (curves or {}).get(code, (None, np.nan))[1],
               "n_known": get("n_known"), **{c: get(c) for c in (*_COMPLETERS, *_MEAN_SDS)}}
        if kind == "cost":
            n = s.loc[COST_DENOMINATORS[code], "value"]
            row["period_cost"] = float(r["value"] * n) if pd.notna(r["value"]) and pd.notna(n) and n else np.nan
            row["n_denominator"] = float(n) if pd.notna(n) else np.nan
            row["value"] = np.nan if pd.isna(row["period_cost"]) else row["value"]
        if kind == "count" and pd.isna(row["n_value"]):
            row["value"] = np.nan
        rows.append(row)
    t = pd.DataFrame(rows)
    t["population_share"] = t["n_population_completed"] / t["n_population"].where(t["n_population"] > 0)
    counts = ("n_value", "n_numerator", "n_denominator", "n_population", "n_population_completed",
              "completers_n_numerator", "completers_n_denominator", "n_known")
    estimate = ("value", "ci_lower", "ci_upper")
    completers = ("completers_value", "completers_ci_lower", "completers_ci_upper")
    return t, [
        Label("code", "kind"), Count(*counts), Value("period_cost", "horizon_days"),
        Derived(("value",), _count_value, inputs=("n_value",), rows=_rows_of("count")),
        Proportion("n_numerator", "n_denominator", estimate="value", ci=("ci_lower", "ci_upper"),
                   rows=_rows_of("proportion")),
        *_estimate_roles(estimate, curves or {}),
        *_median_roles(estimate, curves or {}),
        Derived(("value",), _cost_value, inputs=("n_denominator",), rows=_rows_of("cost")),
        Summary(estimate, n="n_denominator", rows=_summary_rows),
        AtPublishedN(estimate, functools.partial(mean_at_published_n, cols=estimate, sd="value_sd"), n="n_denominator",
                     inputs=("value_sd",), rows=_mean_rows),
        Proportion("n_population_completed", "n_population", estimate="population_share", ci=None, rows=_mixed_rows),
        Proportion("completers_n_numerator", "completers_n_denominator", estimate="completers_value",
                   ci=("completers_ci_lower", "completers_ci_upper"),
                   rows=functools.partial(_percent_rows, percent=True)),
        Summary(completers, n="completers_n_denominator", rows=_completers_summary_rows),
        AtPublishedN(completers, functools.partial(mean_at_published_n, cols=completers, sd="completers_value_sd"),
                     n="completers_n_denominator", inputs=("completers_value_sd",), rows=_completers_mean_rows)]


#: headline means published with a t-interval at the published n (issue 26, F1b), and the column of their SD
MEAN_FIGURES = ("risk_score_change",)
_MEAN_SDS = ("value_sd", "completers_value_sd")


def _mean_rows(t: pd.DataFrame) -> pd.Series:
    return (t["kind"] == "summary") & t["code"].isin(MEAN_FIGURES)


def _summary_rows(t: pd.DataFrame) -> pd.Series:
    return (t["kind"] == "summary") & ~t["code"].isin(MEAN_FIGURES)


def _completers_mean_rows(t: pd.DataFrame) -> pd.Series:
    return _percent_rows(t, percent=False) & t["code"].isin(MEAN_FIGURES)


def _completers_summary_rows(t: pd.DataFrame) -> pd.Series:
    return _percent_rows(t, percent=False) & ~t["code"].isin(MEAN_FIGURES)


def mean_at_published_n(stats_: pd.DataFrame, n_pub: np.ndarray, alpha: float, cols: tuple, sd: str) -> pd.DataFrame:
    """A mean (``cols[0]``, of whole numbers, SD ``sd``) and its t-interval (``cols[1:]``) at the published n, from
    the mean and SD as published beside it (:func:`dapp_eval.estimators.paired.protected_moments`); for
    :class:`~dapp_eval.columns.AtPublishedN` (the role hands no true count)."""
    from dapp_eval.estimators.paired import protected_moments, t_summary_at

    rows = []
    means, sds = protected_moments(pd.to_numeric(stats_[cols[0]], errors="coerce"),
                                   pd.to_numeric(stats_[sd], errors="coerce"), n_pub)
    for mean, s_, n in zip(means, sds, n_pub):
        r = t_summary_at(mean, s_, n, alpha=alpha)
        rows.append((mean, r["ci_lower"], r["ci_upper"]))
    return pd.DataFrame(rows, columns=list(cols), index=stats_.index)


def _estimate_roles(estimate: tuple, curves: dict) -> list:
    """An estimate read off a curve rebuilt from rounded counts where its curve is given, else model output;
    either shown only when its completions and other outcomes are both at least the threshold."""
    with_curve = functools.partial(_curve_rows, codes=tuple(curves))
    return [CurveAt(estimate, steps=functools.partial(_curve_of_code, curves), cause="completed", at="horizon_days",
                    n="n_denominator", rows=with_curve),
            # the completion-rate table's own rule (issue 26, F4: the card and the table disagreed): the same
            # two cells, completed by the horizon and known not to have, and the same zero rule
            Derived(estimate, functools.partial(_published, cols=estimate), small=_card_known_cells,
                    inputs=("n_numerator", "n_denominator"), rows=with_curve, group="n_denominator"),
            Model(estimate, events=_fewer_of_figure, rows=functools.partial(_curve_rows, codes=tuple(curves),
                                                                             without=True))]


def _curve_rows(t: pd.DataFrame, codes: tuple, without: bool = False, kind: str = "estimate") -> pd.Series:
    return (t["kind"] == kind) & (t["code"].isin(codes) != without)


def _median_roles(estimate: tuple, curves: dict) -> list:
    """A median read off its curve rebuilt from rounded counts (the wait's table reads the same), withheld with
    fewer than the threshold of events; with no curve given, withheld (never the true curve's median)."""
    out = []
    for code, cause in CURVE_MEDIANS.items():
        if code in curves:
            out.append(CurveQuantile(estimate, steps=functools.partial(_curve_of_code, curves), cause=cause,
                                     n="n_denominator", events=functools.partial(_curve_events, curves, code, cause),
                                     grain=1.0,  # the wait's curve is in weeks, drawn by whole weeks
                                     rows=functools.partial(_curve_rows, codes=(code,), kind="median")))
    return [*out, Derived(estimate, _not_read, rows=functools.partial(_curve_rows, codes=tuple(curves), without=True,
                                                                      kind="median"))]


def _curve_events(curves: dict, code: str, cause: str, t: pd.DataFrame) -> pd.Series:
    """The number of ``cause`` events on ``code``'s curve, in its row (NaN in the others)."""
    return pd.Series(np.where(t["code"] == code, float(curves[code][0][cause].sum()), np.nan), index=t.index)


def _not_read(pub: pd.DataFrame) -> pd.DataFrame:
    """A median whose curve was not given: not published."""
    return pd.DataFrame({c: np.nan for c in ("value", "ci_lower", "ci_upper")}, index=pub.index)


def _curve_of_code(curves: dict, row) -> pd.DataFrame:
    return curves[row["code"]][0]


def _published(pub: pd.DataFrame, cols: tuple) -> pd.DataFrame:
    """Columns as published so far (an estimate a :class:`CurveAt` role read off the protected curve)."""
    return pub[list(cols)]


def _card_known_cells(t: pd.DataFrame) -> pd.DataFrame:
    """The completion-rate card's two cells, as the completion-rate table reads them (people whose outcome at
    the horizon is known), where the figure carries them; else completions and the rest of its people."""
    from dapp_eval.analyses.attrition import completion_known_cells

    if "n_known" in t and t["n_known"].notna().any():
        return completion_known_cells(t.assign(n_known=t["n_known"].fillna(t["n_denominator"])),
                                      k="n_numerator", known="n_known")
    return _known_cells(t)


def _known_cells(t: pd.DataFrame, den: str = "n_denominator") -> pd.DataFrame:
    """An estimate's two cells, its completions and its other outcomes (small ones withhold it)."""
    k = pd.to_numeric(t["n_numerator"], errors="coerce")
    return pd.DataFrame({"k": k, "rest": pd.to_numeric(t[den], errors="coerce") - k})


_COMPLETERS = ("completers_value", "completers_ci_lower", "completers_ci_upper", "completers_n_numerator",
               "completers_n_denominator")


def _fewer_of_figure(t: pd.DataFrame) -> pd.Series:
    """An estimated completion rate's 'events': the fewer of its completions and its other outcomes."""
    return np.minimum(t["n_numerator"], t["n_denominator"] - t["n_numerator"])

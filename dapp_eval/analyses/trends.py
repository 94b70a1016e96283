"""Quarterly statistical process control (SPC) charts for contract management.

Follows NHS England's "Making Data Count" (MDC) conventions:

XmR chart (counts: referrals, starts)
    centre = mean of the quarters; moving range mR_i = |x_i - x_(i-1)|;
    process limits = mean +/- 2.66 x mean(mR) (2.66 = 3 / 1.128, the d2
    constant for ranges of two); the "2 sigma" lines are two-thirds of the
    way out, mean +/- 1.7733 x mean(mR). A count cannot be negative, so the
    lower limit is shown at 0 when the formula goes below it.
p-chart (proportions: completion, reliable risk reduction)
    centre pbar = sum(events) / sum(n); limits for quarter i
    pbar +/- 3 x sqrt(pbar (1 - pbar) / n_i), kept inside 0..1; 2 sigma lines
    the same with 2.

Special-cause rules (MDC), applied to the complete quarters in order:

- a point outside the process limits;
- a shift: 7 or more quarters in a row all above, or all below, the centre
  line (a point exactly on the line ends the run);
- a trend: 6 or more quarters in a row each higher, or each lower, than the
  one before (an equal value ends the run);
- 2 of 3 quarters in a row beyond the 2 sigma line on the same side.

A partial quarter (part of it falls before the period start or after the
data extract date, or, for completion, its starters have not all had their
planned length + grace) is shown and flagged but left out of the centre
line, the limits and the rules: its value is incomplete. MDC advises at least
15 points for reliable limits; with fewer, ``meta["provisional"]`` is True
and the report should say the limits are provisional.

Examples
--------
>>> res = xmr([10, 12, 11, 14])
>>> round(float(res["centre"].iloc[0]), 2), round(float(res["upper_limit"].iloc[0]), 3)
(11.75, 17.07)
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dapp_eval.columns import Count, Label, Proportion, Value
from dapp_eval.errors import AnalysisError
from dapp_eval.results import AnalysisResult, is_part, make_meta

__all__ = ["E2", "RULES", "MEASURES", "FROM_THROUGHPUT", "MIN_POINTS", "PERIODS", "MIN_SIZE", "by_period",
           "from_published_quarters", "published_size", "throughput_period", "chart_sizes", "choose_period", "not_charted", "describe",
           "interrupted_time_series", "its_rows", "p_chart", "quarterly_spc", "special_causes", "xmr"]

#: XmR scaling constant: 3 / d2 with d2 = 1.128 for moving ranges of two points
E2 = 2.66
#: points MDC recommends before limits are treated as fixed
MIN_POINTS = 15
SHIFT_RUN = 7
TREND_RUN = 6

#: the special-cause rules in plain words, keyed by the column that flags them
RULES: dict[str, str] = {
    "outside_limits": "a quarter outside the process limits: higher or lower than the usual quarter-to-quarter "
                      "variation would give",
    "shift": f"a shift: {SHIFT_RUN} or more quarters in a row all above, or all below, the average line",
    "trend": f"a trend: {TREND_RUN} or more quarters in a row each higher, or each lower, than the one before",
    "two_of_three": "2 out of 3 quarters in a row close to a process limit (beyond two-thirds of the way from the "
                    "average to the limit) on the same side",
}

#: the four charts: code -> (plain name, chart type, higher is better)
MEASURES: dict[str, tuple[str, str, bool | None]] = {
    "referrals": ("Referrals received", "XmR", None),
    "starts": ("People starting the programme", "XmR", None),
    "completion": ("Completion within the planned length + grace, by quarter of starting", "p-chart", True),
    "reliable_risk_reduction": ("Reliable reduction in risk, by quarter of leaving", "p-chart", True),
}

_COLUMNS = ["measure", "name", "chart", "quarter", "quarter_start", "quarter_end", "partial", "partial_reason",
            "value", "n_numerator", "n_denominator", "centre", "lower_limit", "upper_limit", "lower_2sigma",
            "upper_2sigma", "outside_limits", "shift", "trend", "two_of_three", "special_cause", "direction",
            "special_cause_text"]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``mask``."""
    out, start = [], None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i))
            start = None
    return out


# the four Making Data Count rules side by side, each a short block, so they can be read against NHS guidance
def _flag(i: int, text: str, side: str, texts: list[list[str]], high: np.ndarray, low: np.ndarray) -> None:
    """Point ``i`` is a special cause on ``side`` ("high" or "low"), for the reason ``text``."""
    texts[i].append(text)
    (high if side == "high" else low)[i] = True


def _shift_rule(x, c, texts, high, low) -> np.ndarray:
    """Shift: a run of SHIFT_RUN or more points on one side of the centre line."""
    shift = np.zeros(len(x), bool)
    for side, mask, word in (("high", x > c, "above"), ("low", x < c, "below")):
        for s, e in _runs(mask):
            if e - s >= SHIFT_RUN:
                shift[s:e] = True
                for i in range(s, e):
                    _flag(i, f"one of {e - s} quarters in a row {word} the average", side, texts, high, low)
    return shift


def _trend_rule(x, texts, high, low) -> np.ndarray:
    """Trend: TREND_RUN or more points in a row each rising (or each falling)."""
    trend = np.zeros(len(x), bool)
    d = np.diff(x)
    for side, mask, word in (("high", d > 0, "rising"), ("low", d < 0, "falling")):
        # a run of m consecutive increases covers m + 1 points
        for s, e in _runs(mask):
            if e - s + 1 >= TREND_RUN:
                trend[s:e + 1] = True
                for i in range(s, e + 1):
                    _flag(i, f"one of {e - s + 1} quarters in a row each {word}", side, texts, high, low)
    return trend


def _two_of_three_rule(x, lo2, hi2, texts, high, low) -> np.ndarray:
    """Two of three points in a row beyond two sigma on the same side (each such point flagged once)."""
    k = len(x)
    two3 = np.zeros(k, bool)
    for side, beyond, word in (("high", x > hi2, "upper"), ("low", x < lo2, "lower")):
        for s in range(max(k - 2, 0)):
            if beyond[s:s + 3].sum() < 2:
                continue
            for i in range(s, s + 3):
                if beyond[i] and not two3[i]:
                    two3[i] = True
                    _flag(i, f"2 of 3 quarters in a row close to the {word} limit", side, texts, high, low)
    return two3


def special_causes(values, centre, lower, upper, lower_2sigma, upper_2sigma) -> pd.DataFrame:
    """Apply the four MDC special-cause rules to points in time order (all of them complete).

    Parameters
    ----------
    values, centre, lower, upper, lower_2sigma, upper_2sigma : array-like
        One entry per point (limits may vary by point, as in a p-chart).

    Returns
    -------
    DataFrame
        Boolean columns ``outside_limits``, ``shift``, ``trend``, ``two_of_three``
        (every point of a qualifying run or window is flagged), ``special_cause``
        (any of them), ``direction`` ("high", "low" or "") and
        ``special_cause_text`` (plain words).

    Examples
    --------
    >>> sc = special_causes([1, 2, 3, 4, 5, 6], [3.5] * 6, [0] * 6, [10] * 6, [1] * 6, [8] * 6)
    >>> bool(sc["trend"].all()), bool(sc["shift"].any())
    (True, False)
    """
    x = np.asarray(values, dtype=float)
    c, lo, hi = (np.broadcast_to(np.asarray(v, dtype=float), x.shape) for v in (centre, lower, upper))
    lo2, hi2 = (np.broadcast_to(np.asarray(v, dtype=float), x.shape) for v in (lower_2sigma, upper_2sigma))
    k = len(x)
    above, below = x > hi, x < lo
    texts: list[list[str]] = [[] for _ in range(k)]
    high = above.copy()
    low = below.copy()
    for i in range(k):
        if above[i]:
            texts[i].append("above the upper process limit")
        if below[i]:
            texts[i].append("below the lower process limit")

    shift = _shift_rule(x, c, texts, high, low)
    trend = _trend_rule(x, texts, high, low)
    two3 = _two_of_three_rule(x, lo2, hi2, texts, high, low)
    sc = above | below | shift | trend | two3
    direction = np.where(high & ~low, "high", np.where(low & ~high, "low", np.where(high & low, "high and low", "")))
    return pd.DataFrame({
        "outside_limits": above | below, "shift": shift, "trend": trend, "two_of_three": two3,
        "special_cause": sc, "direction": direction,
        "special_cause_text": ["; ".join(t) for t in texts],
    })


def _partial_mask(partial, k: int) -> np.ndarray:
    if partial is None:
        return np.zeros(k, bool)
    p = np.asarray(partial, dtype=bool)
    if p.shape != (k,):
        raise ValueError(f"partial must have one entry per point ({k}), got {p.shape}")
    return p


def _assemble(x, centre, lo, hi, lo2, hi2, partial, labels) -> pd.DataFrame:
    k = len(x)
    out = pd.DataFrame({"quarter": list(labels) if labels is not None else list(range(1, k + 1)),
                        "partial": partial, "value": x, "centre": centre, "lower_limit": lo, "upper_limit": hi,
                        "lower_2sigma": lo2, "upper_2sigma": hi2})
    use = ~partial & np.isfinite(x)
    flags = special_causes(x[use], centre[use], lo[use], hi[use], lo2[use], hi2[use])
    for col in ("outside_limits", "shift", "trend", "two_of_three", "special_cause"):
        out[col] = False
        out.loc[use, col] = flags[col].to_numpy()
    for col in ("direction", "special_cause_text"):
        out[col] = ""
        out.loc[use, col] = flags[col].to_numpy()
    return out


def xmr(values, *, partial=None, labels=None, floor: float | None = 0.0) -> pd.DataFrame:
    """XmR (individuals and moving range) chart of a series, with the MDC special-cause rules.

    Parameters
    ----------
    values : array-like
        One value per period, in time order (e.g. referrals per quarter).
    partial : array-like of bool, optional
        Periods left out of the centre line, limits and rules (incomplete).
    labels : sequence, optional
        Period labels for the ``quarter`` column.
    floor : float or None
        The lowest possible value (0 for counts); limits below it are shown at it.

    Returns
    -------
    DataFrame
        ``quarter``, ``partial``, ``value``, ``moving_range`` (to the previous
        complete period), ``centre``, ``lower_limit``, ``upper_limit``,
        ``lower_2sigma``, ``upper_2sigma``, the rule flags of
        :func:`special_causes`.

    Examples
    --------
    >>> r = xmr([10, 12, 11, 14, 3], partial=[False, False, False, False, True])
    >>> r["moving_range"].tolist()[:4], round(float(r["centre"].iloc[0]), 2)
    ([nan, 2.0, 1.0, 3.0], 11.75)
    """
    x = np.asarray(values, dtype=float)
    p = _partial_mask(partial, len(x))
    use = ~p & np.isfinite(x)
    xs = x[use]
    if len(xs) < 2:
        raise AnalysisError(f"an XmR chart needs at least 2 complete periods; there are {len(xs)}")
    mr = np.abs(np.diff(xs))
    mean, mr_bar = float(xs.mean()), float(mr.mean())
    k = len(x)
    centre = np.full(k, mean)
    hi, lo = centre + E2 * mr_bar, centre - E2 * mr_bar
    hi2, lo2 = centre + E2 * mr_bar * 2 / 3, centre - E2 * mr_bar * 2 / 3
    if floor is not None:
        lo, lo2 = np.maximum(lo, floor), np.maximum(lo2, floor)
    out = _assemble(x, centre, lo, hi, lo2, hi2, p, labels)
    mrc = np.full(k, np.nan)
    mrc[np.flatnonzero(use)[1:]] = mr
    out.insert(3, "moving_range", mrc)
    return out


def p_chart(events, n, *, partial=None, labels=None) -> pd.DataFrame:
    """p-chart of proportions events_i / n_i, with limits that vary with n_i and the MDC rules.

    Parameters
    ----------
    events, n : array-like
        Numerator and denominator per period (time order).
    partial : array-like of bool, optional
        Periods left out of pbar, the limits' centre and the rules.
    labels : sequence, optional

    Returns
    -------
    DataFrame
        As :func:`xmr` (without ``moving_range``), plus ``n_numerator`` and
        ``n_denominator``. A period with n = 0 has no value and no limits.

    Examples
    --------
    >>> r = p_chart([30, 40], [100, 100])
    >>> float(r["centre"].iloc[0]), round(float(r["upper_limit"].iloc[0]), 4)
    (0.35, 0.4931)
    """
    e = np.asarray(events, dtype=float)
    m = np.asarray(n, dtype=float)
    if e.shape != m.shape:
        raise ValueError("events and n must have the same length")
    if (e < 0).any() or (e > m).any():
        raise ValueError("each period needs 0 <= events <= n")
    p = _partial_mask(partial, len(e))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(m > 0, e / m, np.nan)
    use = ~p & (m > 0)
    if not use.any():
        raise AnalysisError("a p-chart needs at least one complete period with people in it")
    pbar = float(e[use].sum() / m[use].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(m > 0, np.sqrt(pbar * (1 - pbar) / m), np.nan)
    centre = np.full(len(e), pbar)
    lo, hi = np.clip(centre - 3 * s, 0, 1), np.clip(centre + 3 * s, 0, 1)
    lo2, hi2 = np.clip(centre - 2 * s, 0, 1), np.clip(centre + 2 * s, 0, 1)
    out = _assemble(x, centre, lo, hi, lo2, hi2, p, labels)
    out.insert(3, "n_numerator", e)
    out.insert(4, "n_denominator", m)
    return out


# ---------------------------------------------------------------------------
# the programme's four quarterly series
# ---------------------------------------------------------------------------


def _fy_period(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("Q-MAR")


# the four charts are assembled in one readable sequence (one block each)
def _completion_chart(data, plan, tp, quarters, cover_partial, cover_reason, base, not_charted) -> pd.DataFrame:
    """p-chart of completion within planned length + grace, by quarter of starting (complete cohorts only)."""
    from dapp_eval.analyses import attrition

    a = plan["attrition"]
    ep = attrition.episode_times(data, exit_time=a["exit_time"]).tables["episodes"]
    k = int(ep["planned"].isna().sum())
    if k:
        not_charted["completion: started episodes without a planned length"] = k
    ep = ep[ep["planned"].notna()]
    horizon = (ep["planned"].astype(float) + float(a["grace_weeks"])) * 7.0
    ext = ep["site_id"].map(data.sites.set_index("site_id")["data_extract_date"])
    followed = (ext - ep["start_date"]).dt.days >= horizon
    done = (ep["outcome"] == "completed") & (ep["time_days"] <= horizon)
    q = _fy_period(ep["start_date"])
    n_q = q.value_counts().reindex(quarters, fill_value=0).to_numpy(float)
    done_q = q[done].value_counts().reindex(quarters, fill_value=0).to_numpy(float)
    unfollowed_q = q[~followed].value_counts().reindex(quarters, fill_value=0).to_numpy()
    incomplete = unfollowed_q > 0
    part = cover_partial | incomplete
    reason = np.where(incomplete, "some people who started in this quarter have not yet reached their planned "
                                  "length + grace", cover_reason)
    ch = _p_chart_of_part(done_q, n_q, part, tp["quarter"])
    # an incomplete cohort's proportion is biased (the early completers are in, the rest not yet): not shown
    ch.loc[incomplete, ["value", "n_numerator"]] = np.nan
    ch["partial_reason"] = reason
    return _finish(ch, "completion", base)


def _p_chart_of_part(k: np.ndarray, n: np.ndarray, partial: np.ndarray, labels: pd.Series) -> pd.DataFrame:
    """:func:`p_chart`, or, with nobody in any complete quarter, the quarters of nobody without limits: a site's
    chart of nobody is published like one of a few (its quarters too small to show), never left out (a chart or a
    whole section missing at one site said "no one here started"; issue 26)."""
    if (n[~np.asarray(partial, dtype=bool)] > 0).any():
        return p_chart(k, n, partial=partial, labels=labels)
    ch = pd.DataFrame({"quarter": np.asarray(labels), "value": np.nan, "n_numerator": k,
                       "n_denominator": n}).reindex(columns=_COLUMNS)
    ch["partial"] = np.asarray(partial, dtype=bool)
    for c in ("outside_limits", "shift", "trend", "two_of_three", "special_cause"):
        ch[c] = False
    return ch.drop(columns=["measure", "name", "chart", "quarter_start", "quarter_end", "partial_reason"])


def _risk_reduction_chart(data, plan, tp, quarters, cover_partial, cover_reason, not_charted):
    """p-chart of reliable risk reduction by quarter of leaving (None when there is nothing to chart)."""
    from dapp_eval.analyses import risk

    r = plan["risk"]
    try:
        ch_r = risk.change(data, instrument=r["instrument"], from_=r["from"], to=r["to"],
                           informant=r["informant"]).tables["changes"]
    except AnalysisError:
        ch_r = None
    if ch_r is None:
        return None
    # nobody assessed twice here (a site's part of the data): the chart of nobody, whose quarters are too small to
    # show, as for a few people (a chart missing at one site said "no one here was assessed twice"; issue 26)
    exit_q = _fy_period(ch_r["referral_id"].map(data.referrals.set_index("referral_id")["exit_date"]))
    k = int(exit_q.isna().sum())
    if k:
        not_charted["reliable risk reduction: people assessed twice who have no exit date yet"] = k
    rel = ch_r["reliable_change"] == "reliably improved"
    n_r = exit_q.value_counts().reindex(quarters, fill_value=0).to_numpy(float)
    k_r = exit_q[rel.to_numpy()].value_counts().reindex(quarters, fill_value=0).to_numpy(float)
    if not (n_r[~cover_partial] > 0).any() and not is_part(data):
        return None
    ch = _p_chart_of_part(k_r, n_r, cover_partial, tp["quarter"])
    ch["partial_reason"] = cover_reason
    return ch


def quarterly_spc(data, *, plan: dict | None = None) -> AnalysisResult:
    """Quarterly SPC charts of referrals, starts, completion and reliable risk reduction.

    Parameters
    ----------
    data : ProgrammeData
    plan : dict, optional
        From :func:`dapp_eval.data.plan.load_plan` (grace weeks, exit time, risk instrument).

    Returns
    -------
    AnalysisResult
        ``summary``: one row per measure and UK financial-year quarter:
        ``measure``, ``name``, ``chart`` ("XmR" or "p-chart"), ``quarter``,
        ``quarter_start``, ``quarter_end``, ``partial`` and
        ``partial_reason``, ``value`` (count, or proportion), ``n_numerator``,
        ``n_denominator`` (p-charts), ``centre``, limits, rule flags,
        ``special_cause``, ``direction`` and ``special_cause_text``. ``meta["not_charted"]``
        counts people left out of a chart and why (no planned length; assessed twice but no exit date).

    Notes
    -----
    Referrals and starts: counts per quarter from
    :func:`dapp_eval.analyses.funnel.throughput`. Completion: people who started in the
    quarter, and of them those who completed within their planned length +
    grace weeks (the headline completion figure's horizon); a quarter counts
    only when every one of its starters has reached that horizon by the
    extract date, so every denominator is a complete cohort. Reliable risk
    reduction: people with both risk scores whose programme exit fell in the
    quarter, and of them those with a reliable reduction
    (:func:`dapp_eval.analyses.risk.change`).

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> res = quarterly_spc(load_programme("data_synthetic"))
    >>> res.summary.query("measure == 'referrals' and quarter == '2023/24 Q1'")["value"].tolist()
    [242.0]
    """
    from dapp_eval.analyses import funnel
    from dapp_eval.data.plan import as_plan

    plan = as_plan(plan)
    tp = funnel.throughput(data, by=None, freq="fy_quarter").summary
    tp = tp[tp["group"] == "all"].reset_index(drop=True)
    if tp.empty:
        raise AnalysisError("no quarters to chart: there are no referrals")
    quarters = pd.PeriodIndex([pd.Period(d, "Q-MAR") for d in tp["quarter_start"]])
    cover_partial = tp["partial"].astype(bool).to_numpy()
    extract = data.sites["data_extract_date"].min()
    base = tp[["quarter", "quarter_start", "quarter_end"]]
    cover_reason = np.where(cover_partial, "part of the quarter falls outside the period start .. data extract date", "")
    parts = []

    for code, col in (("referrals", "n_referrals"), ("starts", "n_starts")):
        x = tp[col].astype(float).to_numpy()
        ch = xmr(x, partial=cover_partial, labels=tp["quarter"])
        ch["n_numerator"], ch["n_denominator"] = x, np.nan
        ch["partial_reason"] = cover_reason
        parts.append(_finish(ch, code, base))

    # completion within planned length + grace, by quarter of starting
    not_charted: dict[str, int] = {}
    parts.append(_completion_chart(data, plan, tp, quarters, cover_partial, cover_reason, base, not_charted))
    # reliable risk reduction, by quarter of leaving
    ch = _risk_reduction_chart(data, plan, tp, quarters, cover_partial, cover_reason, not_charted)
    if ch is not None:
        parts.append(_finish(ch, "reliable_risk_reduction", base))

    summary = pd.concat(parts, ignore_index=True)[_COLUMNS]
    n_complete = summary[~summary["partial"]].groupby("measure").size()
    meta = make_meta(
        n_in=len(data.referrals), excluded={}, unit="referrals", alpha=0.05,
        method=("NHS England Making Data Count: XmR charts for counts (limits = mean +/- 2.66 x mean moving "
                "range) and p-charts for proportions (limits = pbar +/- 3 x sqrt(pbar(1 - pbar)/n)); "
                "UK financial-year quarters; partial quarters shown but left out of the limits and the rules"),
        rules=dict(RULES), extract_date=extract, n_complete_quarters=n_complete.to_dict(),
        provisional=bool((n_complete < MIN_POINTS).any()), not_charted=not_charted,
        provisional_note=(f"Making Data Count advises at least {MIN_POINTS} points before limits are fixed; with "
                          "fewer, treat the limits as provisional."))
    from dapp_eval.analyses import plotting

    return AnalysisResult(summary=summary, meta=meta, title="Quarterly trends (statistical process control)",
                          _plotter=plotting.spc_chart)


# ---------------------------------------------------------------------------
# the period a chart uses: quarters, or half-years or years where the numbers are small
# ---------------------------------------------------------------------------

#: the periods a chart may use, finest first, with the quarters each holds
PERIODS: dict[str, int] = {"quarter": 1, "half-year": 2, "year": 4}
#: a chart uses the finest period whose average size is at least this many times the release's threshold:
#: a proportion's numerator and its complement are then both expected above the threshold for any
#: proportion from 20% to 80%; a count is expected at twice the threshold
MIN_SIZE: dict[str, int] = {"p-chart": 5, "XmR": 2}


def choose_period(total: float, n_quarters: int, threshold: int, chart: str) -> str:
    """The finest period (``quarter``, ``half-year``, ``year``) whose average size reaches ``MIN_SIZE``.

    ``total`` is the chart's size as published (the people in its denominators, or the count itself, over
    its ``n_quarters`` complete quarters): the period is decided from the size alone, before any value of the
    chart is looked at, so that nothing is published or coarsened because of what a period's figure is.

    Examples
    --------
    >>> choose_period(400, 8, 10, "p-chart"), choose_period(400, 8, 10, "XmR"), choose_period(120, 8, 10, "p-chart")
    ('quarter', 'quarter', 'year')
    >>> choose_period(200, 8, 10, "p-chart")
    'half-year'
    """
    need = MIN_SIZE[chart] * int(threshold)
    for name, q in PERIODS.items():
        if n_quarters > 0 and total * q / n_quarters >= need:
            return name
    return "year"


def _period_label(quarter: str, period: str) -> str:
    """'2023/24 Q3' as the label of its half-year ('2023/24 H2') or year ('2023/24')."""
    fy, _, q = str(quarter).partition(" ")
    if period == "quarter" or not q.startswith("Q"):
        return str(quarter)
    return fy if period == "year" else f"{fy} H{1 + (int(q[1]) - 1) // 2}"


def by_period(g: pd.DataFrame, period: str = "quarter", *, leave_out=()) -> tuple[pd.DataFrame, list]:
    """One chart's counts (rows of :func:`quarterly_spc`'s summary for one measure) by ``period``, and the
    roles of the table's columns for the publication step.

    A half-year or year is partial when any of its quarters is; a proportion's numerator is missing when any
    of its quarters' cohorts is not complete yet (as for the quarter itself). A half-year or year made only of
    quarters in ``leave_out`` (the part quarters at the ends of the data: a month before the contract period,
    a month before the extract date) is left out: a year's chart has no use for a month of it. Columns: ``period``,
    ``partial``, ``partial_reason``, ``period_start``, ``n_numerator`` and, for a p-chart, ``n_denominator``
    and ``value`` (the proportion, recomputed from the published counts when published).

    Examples
    --------
    >>> g = pd.DataFrame({"quarter": ["2023/24 Q1", "2023/24 Q2", "2023/24 Q3"], "chart": "p-chart",
    ...                   "quarter_start": pd.to_datetime(["2023-04-01", "2023-07-01", "2023-10-01"]),
    ...                   "partial": [False, False, True], "partial_reason": ["", "", "extract"],
    ...                   "n_numerator": [3.0, 4.0, np.nan], "n_denominator": [10.0, 12.0, 9.0]})
    >>> t, roles = by_period(g, "half-year")
    >>> t[["period", "partial", "n_numerator", "n_denominator"]].values.tolist()
    [['2023/24 H1', False, 7.0, 22.0], ['2023/24 H2', True, nan, 9.0]]
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")
    is_p = str(g["chart"].iloc[0]) == "p-chart"
    t = g.reset_index(drop=True)
    den = t["n_denominator"] if is_p else pd.Series(np.nan, index=t.index)
    # a cohort not complete yet: the quarter's numerator is not known (quarterly_spc leaves it out)
    open_q = t["n_numerator"].isna() & (den.fillna(0) > 0)
    t = t.assign(period=[_period_label(q, period) for q in t["quarter"]], _open=open_q,
                 _end=t["quarter"].isin(list(leave_out)) & (period != "quarter"))
    rows = []
    for label, p in t.groupby("period", sort=False):
        if p["_end"].all():
            continue
        reasons = [r for r in dict.fromkeys(p["partial_reason"].fillna("").astype(str)) if r]
        rows.append({"period": label, "partial": bool(p["partial"].astype(bool).any()),
                     "partial_reason": "; ".join(reasons), "period_start": p["quarter_start"].min(),
                     "n_numerator": np.nan if p["_open"].any() else float(p["n_numerator"].fillna(0).sum()),
                     "n_denominator": float(p["n_denominator"].sum()) if is_p else np.nan})
    out = pd.DataFrame(rows)
    roles = [Label("period", "partial_reason"), Value("partial", "period_start"), Count("n_numerator")]
    if is_p:
        out["value"] = out["n_numerator"] / out["n_denominator"].where(out["n_denominator"] > 0)
        roles += [Count("n_denominator"), Proportion("n_numerator", "n_denominator", estimate="value", ci=None)]
    else:
        out = out.drop(columns="n_denominator")
    return out, roles


#: XmR measures that count the throughput table's people (analyses.funnel.throughput): read off its
#: published table, never published again (two roundings of the same quarters narrow each other's counts)
FROM_THROUGHPUT: dict[str, str] = {"referrals": "n_referrals", "starts": "n_starts"}


def _spans(quarters: list[str], published: pd.DataFrame, col: str) -> list[tuple[frozenset, float]]:
    """(quarters, published number) of each row of a published table of quarters, a merged row
    ('2022/23 Q4 to 2023/24 Q2') standing for every quarter from its first to its last."""
    pos = {q: i for i, q in enumerate(quarters)}
    nums = pd.to_numeric(published[col].astype(str).str.replace(",", ""), errors="coerce")
    out = []
    for label, v in zip(published["quarter"].astype(str), nums):
        first, _, last = label.partition(" to ")
        a, b = pos.get(first), pos.get(last or first)
        span = frozenset(quarters[a:b + 1]) if a is not None and b is not None else frozenset()
        out.append((span, float(v)))
    return out


def from_published_quarters(g: pd.DataFrame, published: pd.DataFrame, period: str, *, leave_out=()) -> pd.DataFrame:
    """:func:`by_period` for an XmR count of the throughput (:data:`FROM_THROUGHPUT`), each period's count the
    sum of the *published* throughput rows that make it up: an identity of published numbers, never rounded
    again. A period that a merged throughput row straddles (or with a row withheld) has no count (NaN): it is
    marked partial, so it is drawn nowhere and left out of the limits.

    >>> g = pd.DataFrame({"measure": "referrals", "chart": "XmR", "quarter": ["2023/24 Q1", "2023/24 Q2",
    ...                   "2023/24 Q3", "2023/24 Q4"], "quarter_start": pd.to_datetime(["2023-04-01", "2023-07-01",
    ...                   "2023-10-01", "2024-01-01"]), "partial": False, "partial_reason": "",
    ...                   "n_numerator": [4.0, 30.0, 41.0, 38.0], "n_denominator": np.nan})
    >>> pub = pd.DataFrame({"quarter": ["2023/24 Q1 to 2023/24 Q2", "2023/24 Q3", "2023/24 Q4"],
    ...                     "n_referrals": ["35", 40, "40"]})
    >>> from_published_quarters(g, pub, "quarter")[["period", "partial", "n_numerator"]].values.tolist()
    [['2023/24 Q1', True, nan], ['2023/24 Q2', True, nan], ['2023/24 Q3', False, 40.0], ['2023/24 Q4', False, 40.0]]
    >>> from_published_quarters(g, pub, "half-year")["n_numerator"].tolist()
    [35.0, 80.0]
    """
    t, _ = by_period(g, period, leave_out=leave_out)
    quarters = g["quarter"].astype(str).tolist()
    spans = _spans(quarters, published, FROM_THROUGHPUT[str(g["measure"].iloc[0])])
    vals, merged = [], []
    for label in t["period"]:
        want = frozenset(q for q in quarters if _period_label(q, period) == label)
        inside = [(s, v) for s, v in spans if s and s <= want]
        ok = frozenset().union(*(s for s, _ in inside)) == want and all(np.isfinite(v) for _, v in inside)
        vals.append(float(sum(v for _, v in inside)) if ok else np.nan)
        merged.append(not ok)
    reason = "merged with a neighbouring quarter in the throughput table (a handful of people in one of them)"
    t["n_numerator"] = vals
    t["partial_reason"] = [("; ".join(x for x in (r, reason) if x) if m else r)
                           for r, m in zip(t["partial_reason"], merged)]
    t["partial"] = t["partial"].astype(bool) | np.array(merged, dtype=bool)
    return t


def throughput_period(g: pd.DataFrame, published: pd.DataFrame, period: str, *, leave_out=()) -> str:
    """The period of an XmR count read off the published throughput: ``period`` (chosen from its size) or,
    where merged throughput quarters straddle so many of its periods that fewer than 2 complete ones are left,
    the nearest coarser period that has 2, else the nearest finer one (its counts are the throughput's own
    published quarters: nothing smaller is published); ``period`` if none has. Decided from the published
    merges alone.

    >>> g = pd.DataFrame({"measure": "referrals", "chart": "XmR", "quarter": [f"2023/24 Q{i}" for i in (1, 2, 3, 4)]
    ...                   + [f"2024/25 Q{i}" for i in (1, 2, 3, 4)], "partial": False, "partial_reason": "",
    ...                   "quarter_start": pd.date_range("2023-04-01", periods=8, freq="QS"), "n_numerator": 20.0,
    ...                   "n_denominator": np.nan})
    >>> pub = pd.DataFrame({"quarter": ["2023/24 Q1 to 2023/24 Q3", "2023/24 Q4", "2024/25 Q1",
    ...                                 "2024/25 Q2 to 2024/25 Q3", "2024/25 Q4"], "n_referrals": [60, 20, 20, 40, 20]})
    >>> throughput_period(g, pub, "quarter"), throughput_period(g, pub, "half-year")
    ('quarter', 'year')
    >>> pub["quarter"] = ["2023/24 Q1", "2023/24 Q2 to 2023/24 Q3", "2023/24 Q4 to 2024/25 Q1", "2024/25 Q2",
    ...                   "2024/25 Q3 to 2024/25 Q4"]
    >>> throughput_period(g, pub, "half-year")
    'quarter'

    """
    names = list(PERIODS)
    i = names.index(period)
    for name in names[i:] + names[:i][::-1]:
        t = from_published_quarters(g, published, name, leave_out=leave_out)
        if int((~t["partial"] & np.isfinite(t["n_numerator"].astype(float))).sum()) >= 2:
            return name
    return period


def published_size(g: pd.DataFrame, published: pd.DataFrame) -> float:
    """An XmR count of the throughput's size over its complete quarters, from the published throughput (what
    :func:`choose_period` needs, from published numbers only): a merged row counts for the share of its
    quarters that are complete.

    >>> g = pd.DataFrame({"measure": "starts", "quarter": ["2023/24 Q1", "2023/24 Q2", "2023/24 Q3"],
    ...                   "partial": [True, False, False]})
    >>> published_size(g, pd.DataFrame({"quarter": ["2023/24 Q1 to 2023/24 Q2", "2023/24 Q3"],
    ...                                 "n_starts": ["20", "[c]"]}))
    10.0
    """
    quarters = g["quarter"].astype(str).tolist()
    done = frozenset(q for q, p in zip(quarters, g["partial"].astype(bool)) if not p)
    spans = _spans(quarters, published, FROM_THROUGHPUT[str(g["measure"].iloc[0])])
    return float(sum(v * len(s & done) / len(s) for s, v in spans if s and np.isfinite(v)))


def chart_sizes(summary: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Each chart's size over its complete quarters (the people in a p-chart's denominators, or the count of an
    XmR chart), to publish before its period is chosen (:func:`choose_period`), with the table's roles.

    >>> t, _ = chart_sizes(xmr([12, 14, 9], partial=[False, False, True]).assign(measure="referrals", chart="XmR",
    ...                                                                          n_numerator=[12, 14, 9]))
    >>> t.values.tolist()
    [['referrals', 'XmR', 26.0, 2]]
    """
    rows = []
    for code, g in summary.groupby("measure", sort=False):
        chart = str(g["chart"].iloc[0])
        done = ~g["partial"].astype(bool)
        col = "n_denominator" if chart == "p-chart" else "n_numerator"
        rows.append({"measure": code, "chart": chart, "n_size": float(g.loc[done, col].fillna(0).sum()),
                     "quarters": int(done.sum())})
    return pd.DataFrame(rows), [Label("measure", "chart"), Count("n_size"), Value("quarters")]


def not_charted(meta: dict) -> tuple[pd.DataFrame, list]:
    """The people left out of a chart, and why (``meta["not_charted"]``), as a table to publish with its roles.

    >>> not_charted({"not_charted": {"no exit date": 12}})[0].values.tolist()
    [['no exit date', 12]]
    """
    items = dict(meta.get("not_charted") or {})
    return (pd.DataFrame({"reason": list(items), "n": list(items.values())}, columns=["reason", "n"]),
            [Label("reason"), Count("n")])


def _finish(ch: pd.DataFrame, code: str, base: pd.DataFrame) -> pd.DataFrame:
    name, chart, _ = MEASURES[code]
    ch = ch.copy()
    ch["measure"], ch["name"], ch["chart"] = code, name, chart
    ch["quarter_start"] = base["quarter_start"].to_numpy()
    ch["quarter_end"] = base["quarter_end"].to_numpy()
    return ch


def describe(summary: pd.DataFrame, unit: str = "quarter") -> pd.DataFrame:
    """One plain-English sentence per chart: what the chart shows and any unusual variation.

    Parameters
    ----------
    summary : DataFrame
        ``quarterly_spc(...).summary`` (or one chart of it with ``measure`` and ``name`` columns).
    unit : str
        The chart's period (``quarter``, ``half-year`` or ``year``: :func:`choose_period`), as the text names it.

    Returns
    -------
    DataFrame
        ``measure``, ``name``, ``text``.

    Examples
    --------
    >>> ch = xmr([20, 21, 19, 20, 22, 20, 19, 21, 20, 40], labels=[f"Q{i}" for i in range(1, 11)])
    >>> ch["measure"], ch["name"], ch["chart"] = "referrals", "Referrals received", "XmR"
    >>> print(describe(ch)["text"].iloc[0])
    Referrals received: average 22 a quarter over 10 complete quarters. Unusual variation: Q1 to Q9: 9 quarters in a row below the average; Q10: above the upper process limit. Making Data Count advises at least 15 points before limits are fixed: treat these limits as provisional.
    """
    rows = []
    for code, g in summary.groupby("measure", sort=False):
        g = g.reset_index(drop=True)
        name = str(g["name"].iloc[0])
        complete = g[~g["partial"].astype(bool)]
        is_p = str(g["chart"].iloc[0]) == "p-chart"
        centre = float(g["centre"].iloc[0])
        avg = f"{100 * centre:.0f}%" if is_p else f"{centre:,.0f} a quarter"
        text = f"{name}: average {avg} over {len(complete)} complete quarter{'s' if len(complete) != 1 else ''}."
        flagged = g[g["special_cause"].astype(bool)]
        if flagged.empty:
            text += " No unusual variation: the ups and downs are within what is usual for this measure."
        else:
            # group consecutive quarters that share the same reason
            parts, start, prev, reason = [], None, None, None
            for _, r in flagged.iterrows():
                why = r["special_cause_text"]
                if why == reason and prev is not None and r.name == prev + 1:
                    prev = r.name
                    continue
                if reason is not None:
                    parts.append((start, prev, reason))
                start, prev, reason = r.name, r.name, why
            parts.append((start, prev, reason))
            text += " Unusual variation: " + "; ".join(
                f"{g.loc[a, 'quarter']} to {g.loc[b, 'quarter']}: {why.replace('one of ', '')}" if a != b
                else f"{g.loc[a, 'quarter']}: {why}" for a, b, why in parts) + "."
        n_part = int(g["partial"].astype(bool).sum())
        if n_part:
            text += (f" {n_part} part quarter{'s are' if n_part != 1 else ' is'} shown but not used for the average "
                     "or the limits.")
        if len(complete) < MIN_POINTS:
            text += (f" Making Data Count advises at least {MIN_POINTS} points before limits are fixed: treat these "
                     "limits as provisional.")
        if unit != "quarter":  # the rules and counts above are worded for quarters
            text = re.sub(r"\bquarter", unit, text)
        rows.append({"measure": code, "name": name, "text": text})
    return pd.DataFrame(rows, columns=["measure", "name", "text"])


# ---------------------------------------------------------------------------
# interrupted time series at a planned change date
# ---------------------------------------------------------------------------

ITS_MIN_EACH_SIDE = 3


def its_rows(values, quarter_starts, partial, change_date, *, code: str, alpha: float = 0.05,
             labels=None) -> list[dict]:
    """Step and slope change of one quarterly series at ``change_date`` (segmented regression, Newey-West SE).

    Only complete quarters are used (a part quarter's value is incomplete); they must be consecutive, with
    at least 3 before the change and 3 from it on. The change quarter is the first complete quarter starting
    on or after ``change_date``. Counts are modelled as counts per quarter, p-chart measures as proportions.

    Returns
    -------
    list of dict
        Two rows (``term`` = ``step``, ``slope_change``) with ``estimate``, ``ci_lower``, ``ci_upper``,
        ``p_value`` (t with n - 4 df), ``level_before`` (the pre-change line at the change quarter),
        ``n_before``, ``n_after``, ``lag``, ``change_quarter``; or one row with ``note`` saying why not.

    Examples
    --------
    >>> import pandas as pd
    >>> starts = pd.period_range("2023Q1", periods=8, freq="Q").start_time
    >>> rows = its_rows([10, 11, 12, 13, 9, 9.5, 10, 10.5], starts, [False] * 8, "2024-01-01", code="referrals")
    >>> [(r["term"], round(r["estimate"], 2)) for r in rows]
    [('step', -5.0), ('slope_change', -0.5)]
    """
    from dapp_eval.estimators.its import segmented_regression

    name = MEASURES[code][0] if code in MEASURES else code
    x = np.asarray(values, dtype=float)
    starts = pd.to_datetime(pd.Series(quarter_starts)).to_numpy()
    use = ~np.asarray(partial, dtype=bool) & np.isfinite(x)
    idx = np.flatnonzero(use)
    base = {"measure": code, "name": name}

    def withheld(why):
        return [{**base, "term": "", "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                 "note": why}]

    if idx.size and (np.diff(idx) != 1).any():
        return withheld("the complete quarters are not consecutive (a quarter in between is incomplete or hidden)")
    change = np.datetime64(pd.Timestamp(change_date))
    c = int(np.sum(starts[idx] < change))
    if c < ITS_MIN_EACH_SIDE or idx.size - c < ITS_MIN_EACH_SIDE:
        return withheld(f"needs at least {ITS_MIN_EACH_SIDE} complete quarters before the change date and "
                        f"{ITS_MIN_EACH_SIDE} from it on; there are {c} and {idx.size - c}")
    fit = segmented_regression(x[idx], c)
    ci = fit.conf_int(alpha)
    level = float(fit.info["counterfactual"][c])
    rows = []
    for term in ("step", "slope_change"):
        rows.append({**base, "term": term, "estimate": float(fit.params[term]),
                     "ci_lower": float(ci.loc[term, "ci_lower"]), "ci_upper": float(ci.loc[term, "ci_upper"]),
                     "p_value": float(fit.pvalues[term]), "level_before": level, "n_before": c,
                     "n_after": int(idx.size - c), "lag": fit.info["lag"],
                     "change_quarter": (str(list(labels)[idx[c]]) if labels is not None
                                        else str(pd.Timestamp(starts[idx][c]).date())), "note": ""})
    return rows


def interrupted_time_series(data, *, plan=None, change_date=None) -> AnalysisResult:
    """Interrupted time series of each quarterly chart at the plan's change date.

    Segmented regression on the complete quarters of every series of
    :func:`quarterly_spc` (counts per quarter, or the proportion for the
    p-charts), ``y = b0 + b1 t + b2 post + b3 (t - t0) post``, with
    Newey-West (HAC) standard errors (Bartlett weights, lag
    ``floor(4 (n/100)^(2/9))``, at least 1; ``sandwich::NeweyWest(lag = L,
    prewhite = FALSE)``) and t intervals on n - 4 df. ``step`` is the jump at
    the first quarter under the change from the pre-change line carried on;
    ``slope_change`` the change in the quarterly trend. Used only when the
    plan names ``trends.change_date`` (a new provider, a changed programme):
    without a date fixed in advance, a searched-for break point would find
    one by chance.

    Returns
    -------
    AnalysisResult
        ``summary``: per measure two rows (``step``, ``slope_change``) with
        ``estimate``, ``ci_lower``, ``ci_upper``, ``p_value``,
        ``level_before``, ``n_before``, ``n_after``, ``lag``,
        ``change_quarter``; or one row with ``note`` when a series is too
        short.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> res = interrupted_time_series(load_programme("data_synthetic"), change_date="2024-04-01")
    >>> res.summary.query("measure == 'referrals'")["term"].tolist()
    ['step', 'slope_change']
    """
    from dapp_eval.data.plan import as_plan

    plan = as_plan(plan)
    change_date = change_date or plan.trends.change_date
    if change_date is None:
        raise AnalysisError("no change date: an interrupted time series needs the date of a known change, set in "
                            "the analysis plan as trends: {change_date: YYYY-MM-DD}")
    spc = quarterly_spc(data, plan=plan)
    rows = []
    for code, g in spc.summary.groupby("measure", sort=False):
        rows += its_rows(g["value"], g["quarter_start"], g["partial"], change_date, code=code, alpha=plan.alpha,
                         labels=g["quarter"])
    summary = pd.DataFrame(rows)
    meta = make_meta(n_in=len(data.referrals), excluded={}, unit="referrals", alpha=plan.alpha,
                     change_date=str(change_date),
                     method=("Segmented regression on the complete quarters (level, trend, step and slope change at "
                             "the first quarter starting on or after the change date), Newey-West standard errors "
                             "(Bartlett kernel, lag floor(4 (n/100)^(2/9)), no prewhitening), t intervals on n - 4 "
                             "degrees of freedom."),
                     caveat=("A step or slope change at the date shows that the series changed then, not that the "
                             "change caused it: anything else that changed at the same time would look the same. "
                             "With few quarters the intervals are wide."))
    return AnalysisResult(summary=summary, meta=meta, title="Interrupted time series at the planned change date")

"""Comparison of sites: funnel plot of completion against site size.

A funnel plot shows each site's completion proportion against its number of
people, with control limits around the pooled proportion that narrow as the
number grows (Spiegelhalter 2005, "Funnel plots for comparing institutional
performance"). Sites inside the inner limits (at the plan's confidence level,
95% by default) differ from the pooled rate by no
more than chance would produce; outside the 99.8% limits is a strong signal.
Limits follow the Wilson score method, as Public Health England's funnel-plot
tools do for proportions.

The proportion plotted is the commissioner's completion rate in the cohort
whose follow-up is complete: people who started at least the planned length
plus the grace period before the extract date, and the share of them who
completed within that time. Everyone in that cohort has reached the horizon
or left, so the proportion has a plain binomial denominator and estimates the
same quantity as the cumulative incidence of completion at the horizon,
without the bias against sites with many open cases that "completion among
closed episodes" has (open episodes are mostly the ones still on track to
complete). People who started later are counted in ``n_recent`` and left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .errors import AnalysisError
from .estimators.proportions import wilson_ci
from .results import AnalysisResult, check_alpha, level_text, make_meta

__all__ = ["site_funnel", "wilson_limits"]


def wilson_limits(p0: float, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson-score control limits around a target proportion ``p0`` for sample sizes ``n``.

    Examples
    --------
    >>> lo, hi = wilson_limits(0.5, [100], 1.959964)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4038, 0.5962)
    """
    n = np.asarray(n, dtype=float)
    centre = (p0 + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p0 * (1 - p0) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def site_funnel(data, *, alpha: float = 0.05, grace_weeks: float = 4,
                exit_time: str = "last_session") -> AnalysisResult:
    """Completion rate per site in cohorts with complete follow-up, with funnel-plot control limits.

    Parameters
    ----------
    data : ProgrammeData
    alpha : float
        For each site's own Wilson interval (the funnel's inner limits are at the same level; the outer at 99.8%).
    grace_weeks : float
        Added to the planned length (weeks) to give each episode's horizon.
    exit_time : {"last_session", "exit_date"}
        As in :func:`dapp_eval.attrition.episode_times`.

    Returns
    -------
    AnalysisResult
        ``summary``: site_id, site_name, programme_model, n (started at least
        their horizon before the extract date), n_completed (completed within
        the horizon), n_recent (started too recently; left out), estimate,
        ci_lower, ci_upper, limit95_lower/upper, limit998_lower/upper at the
        site's n, and ``position`` (inside, above/below the inner limit, above/below
        99.8%). ``tables["limits"]``: the limit curves over n for plotting.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> res = site_funnel(load_programme("data_synthetic"))
    >>> int(res.summary["n"].sum()) == int(res.meta["n_used"])
    True
    """
    from .attrition import episode_times

    alpha = check_alpha(alpha)
    et = episode_times(data, exit_time=exit_time)
    ep = et.tables["episodes"].copy()
    n_in = et.meta["n_in"]
    excluded = dict(et.meta["excluded"])
    extract = ep["site_id"].map(data.sites.set_index("site_id")["data_extract_date"])
    horizon = (ep["planned"].astype(float) + float(grace_weeks)) * 7.0
    followed = (extract - ep["start_date"]).dt.days >= horizon
    recent = ~followed
    excluded["started less than the planned length + grace before the extract date"] = int(recent.sum())
    ep["completed_by_horizon"] = (ep["outcome"] == "completed") & (ep["time_days"] <= horizon)
    sub = ep[followed]
    g = sub.groupby("site_id")
    per = pd.DataFrame({"n": g.size(), "n_completed": g["completed_by_horizon"].sum().astype(int)})
    per["n_recent"] = ep[recent].groupby("site_id").size().reindex(per.index).fillna(0).astype(int)
    per = data.sites.set_index("site_id")[["site_name", "programme_model"]].join(per, how="left")
    per[["n", "n_completed", "n_recent"]] = per[["n", "n_completed", "n_recent"]].fillna(0).astype(int)
    per = per.reset_index()
    total_n = int(per["n"].sum())
    if total_n == 0:
        raise AnalysisError("no site has started episodes with complete follow-up (planned length + grace before "
                            "the extract date): the completion funnel plot needs at least one")
    p0 = per["n_completed"].sum() / total_n
    n = per["n"].to_numpy(float)
    est = per["n_completed"] / per["n"].where(per["n"] > 0)
    lo_i, hi_i = wilson_ci(per["n_completed"].to_numpy(float), n, alpha=alpha)
    per["estimate"], per["ci_lower"], per["ci_upper"] = est, lo_i, hi_i
    z95, z998 = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(0.999)
    inner = level_text(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        per["limit_inner_lower"], per["limit_inner_upper"] = wilson_limits(p0, n, z95)
        per["limit_outer_lower"], per["limit_outer_upper"] = wilson_limits(p0, n, z998)

    def position(r):
        if r["n"] == 0:
            return "no episodes with complete follow-up"
        e = r["estimate"]
        if e > r["limit_outer_upper"]:
            return "above 99.8% limit"
        if e < r["limit_outer_lower"]:
            return "below 99.8% limit"
        if e > r["limit_inner_upper"]:
            return f"above {inner} limit"
        if e < r["limit_inner_lower"]:
            return f"below {inner} limit"
        return "inside limits"

    per["position"] = per.apply(position, axis=1)
    grid = np.unique(np.round(np.geomspace(max(1, per["n"][per["n"] > 0].min() / 2), max(per["n"].max() * 1.3, 10),
                                           120)))
    l95, u95 = wilson_limits(p0, grid, z95)
    l998, u998 = wilson_limits(p0, grid, z998)
    limits = pd.DataFrame({"n": grid, "pooled": p0, "limit_inner_lower": l95, "limit_inner_upper": u95,
                           "limit_outer_lower": l998, "limit_outer_upper": u998})
    meta = make_meta(n_in=n_in, excluded=excluded, alpha=alpha, unit="referrals", pooled_proportion=float(p0),
                     grace_weeks=float(grace_weeks), exit_time=exit_time, inner_level=inner,
                     method="completion within the planned length + grace among episodes that started at least that "
                            "long before the extract date (complete follow-up), per site; funnel limits = Wilson "
                            f"score limits around the pooled proportion at {inner} (the plan's level) and 99.8% "
                            "(Spiegelhalter 2005)")
    from . import plotting

    return AnalysisResult(summary=per, meta=meta, tables={"limits": limits}, title="Comparison of sites",
                          _plotter=plotting.plot_site_funnel)

"""Comparison of sites: funnel plot of completion against site size.

A funnel plot shows each site's completion proportion against its number of
people, with control limits around the pooled proportion that narrow as the
number grows (Spiegelhalter 2005, "Funnel plots for comparing institutional
performance"). Sites inside the 95% limits differ from the pooled rate by no
more than chance would produce; outside the 99.8% limits is a strong signal.
Limits follow the Wilson score method, as Public Health England's funnel-plot
tools do for proportions.

The proportion plotted is completion among *closed* started episodes
(completed / (completed + dropped out + excluded + other exits)): it has a
binomial denominator, which a cumulative incidence does not. Open episodes
are left out of it and counted in ``n_open``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .results import AnalysisResult, check_alpha, make_meta
from .stats import wilson_ci

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


def site_funnel(data, *, alpha: float = 0.05) -> AnalysisResult:
    """Completion among closed started episodes per site, with funnel-plot control limits.

    Parameters
    ----------
    data : ProgrammeData
    alpha : float
        For each site's own Wilson interval (the funnel limits are always 95% and 99.8%).

    Returns
    -------
    AnalysisResult
        ``summary``: site_id, site_name, programme_model, n (closed started
        episodes), n_completed, n_open, estimate, ci_lower, ci_upper,
        limit95_lower/upper, limit998_lower/upper at the site's n, and
        ``position`` (inside, above/below 95%, above/below 99.8%).
        ``tables["limits"]``: the limit curves over n for plotting.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> res = site_funnel(load_programme("data_synthetic"))
    >>> int(res.summary["n"].sum()) == int(res.meta["n_used"])
    True
    """
    alpha = check_alpha(alpha)
    ep = data.episodes
    n_in = len(ep)
    started = ep["start_date"].notna()
    closed = started & ep["exit_reason"].notna()
    excluded = {"never started": int((~started).sum()), "still attending (open)": int((started & ~closed).sum())}
    sub = ep[closed]
    g = sub.groupby("site_id")
    per = pd.DataFrame({"n": g.size(), "n_completed": g["exit_reason"].apply(lambda s: int((s == "completed").sum()))})
    per["n_open"] = ep[started & ~closed].groupby("site_id").size().reindex(per.index).fillna(0).astype(int)
    per = data.sites.set_index("site_id")[["site_name", "programme_model"]].join(per, how="left")
    per[["n", "n_completed", "n_open"]] = per[["n", "n_completed", "n_open"]].fillna(0).astype(int)
    per = per.reset_index()
    total_n = int(per["n"].sum())
    if total_n == 0:
        from .errors import AnalysisError

        raise AnalysisError("no closed started episodes: the completion funnel plot needs at least one")
    p0 = per["n_completed"].sum() / total_n
    est = per["n_completed"] / per["n"].where(per["n"] > 0)
    n = per["n"].to_numpy(float)
    lo_i, hi_i = wilson_ci(per["n_completed"].to_numpy(float), n, alpha=alpha)
    per["estimate"], per["ci_lower"], per["ci_upper"] = est, lo_i, hi_i
    z95, z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)
    with np.errstate(invalid="ignore", divide="ignore"):
        per["limit95_lower"], per["limit95_upper"] = wilson_limits(p0, n, z95)
        per["limit998_lower"], per["limit998_upper"] = wilson_limits(p0, n, z998)

    def position(r):
        if r["n"] == 0:
            return "no closed episodes"
        e = r["estimate"]
        if e > r["limit998_upper"]:
            return "above 99.8% limit"
        if e < r["limit998_lower"]:
            return "below 99.8% limit"
        if e > r["limit95_upper"]:
            return "above 95% limit"
        if e < r["limit95_lower"]:
            return "below 95% limit"
        return "inside limits"

    per["position"] = per.apply(position, axis=1)
    grid = np.unique(np.round(np.geomspace(max(1, per["n"][per["n"] > 0].min() / 2), max(per["n"].max() * 1.3, 10),
                                           120)))
    l95, u95 = wilson_limits(p0, grid, z95)
    l998, u998 = wilson_limits(p0, grid, z998)
    limits = pd.DataFrame({"n": grid, "pooled": p0, "limit95_lower": l95, "limit95_upper": u95,
                           "limit998_lower": l998, "limit998_upper": u998})
    meta = make_meta(n_in=n_in, excluded=excluded, alpha=alpha, unit="referrals", pooled_proportion=float(p0),
                     method="completion among closed started episodes per site; funnel limits = Wilson score "
                            "limits around the pooled proportion at 95% and 99.8% (Spiegelhalter 2005)")
    from . import plotting

    return AnalysisResult(summary=per, meta=meta, tables={"limits": limits}, title="Comparison of sites",
                          _plotter=plotting.plot_site_funnel)

"""Effect sizes for paired and two-group comparisons, and Rubin's rules.

Cohen's d_z and Hedges' g_av with noncentral-t intervals, standardised mean
differences for balance tables (continuous and binary), and pooling of
multiply-imputed estimates.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from dapp_eval.estimators._results import Estimate, TupleResult
from dapp_eval.results import check_alpha

__all__ = ["cohens_dz", "cohens_dz_at", "hedges_gav", "hedges_gav_at", "rubin", "smd", "smd_binary", "smd_from_moments"]


def _nct_ncp_interval(t: float, df: float, alpha: float) -> tuple[float, float]:
    """Confidence limits for the noncentrality parameter of a t statistic (inverting the noncentral t)."""
    if not np.isfinite(t) or df <= 0:
        return (np.nan, np.nan)

    def f(ncp, q):
        return stats.nct.cdf(t, df, ncp) - q

    out = []
    for q in (1 - alpha / 2, alpha / 2):
        lo, hi = t - 10.0, t + 10.0
        for _ in range(60):
            if f(lo, q) > 0 and f(hi, q) < 0:
                break
            lo -= 10.0 + abs(lo)
            hi += 10.0 + abs(hi)
        try:
            out.append(optimize.brentq(f, lo, hi, args=(q,), xtol=1e-12, rtol=1e-12))
        except ValueError:  # numerical failure at extreme df: normal approximation
            se = math.sqrt(1 + t * t / (2 * df))
            out.append(t + (-1 if q > 0.5 else 1) * stats.norm.ppf(1 - alpha / 2) * se)
    return (out[0], out[1])


def cohens_dz(diff, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """Cohen's d_z (mean difference / SD of differences) with a noncentral-t interval.

    The interval inverts the noncentral t distribution of the paired t
    statistic (Cumming & Finch 2001) and divides the limits by ``sqrt(n)``.

    Returns
    -------
    (estimate, ci_lower, ci_upper)

    Examples
    --------
    >>> [round(v, 3) for v in cohens_dz([-3, -1, -4, 0, -2, -5, 1, -2])]
    [-1.0, -1.84, -0.115]
    """
    alpha = check_alpha(alpha)
    d = np.asarray(diff, dtype=float)
    vals = _cohens_dz(d, alpha)
    return TupleResult(vals, estimate=vals[0], n_obs=len(d), alpha=alpha, interval=lambda a: _cohens_dz(d, a))


def _cohens_dz(d: np.ndarray, alpha: float) -> tuple[float, float, float]:
    n = len(d)
    if n < 2 or not d.std(ddof=1) > 0:
        return (np.nan, np.nan, np.nan)
    dz = d.mean() / d.std(ddof=1)
    lo, hi = _nct_ncp_interval(dz * math.sqrt(n), n - 1, alpha)
    return (float(dz), float(lo / math.sqrt(n)), float(hi / math.sqrt(n)))


def _hedges_j(df: float) -> float:
    """Exact small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))."""
    if df <= 1:
        return np.nan
    return math.exp(math.lgamma(df / 2) - 0.5 * math.log(df / 2) - math.lgamma((df - 1) / 2))


def hedges_gav(before, after, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """Hedges' g_av for paired scores, with an interval (change = after - before).

    ``d_av = mean(after - before) / ((SD_before + SD_after) / 2)`` (Lakens
    2013), ``g_av = J(n - 1) * d_av`` with the exact correction
    ``J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``. Interval: the
    noncentral-t limits of the paired t statistic rescaled by
    ``S_diff / (sqrt(n) * S_av)`` (Algina & Keselman 2003), times ``J``.

    Returns
    -------
    (estimate, ci_lower, ci_upper)

    Examples
    --------
    >>> g, lo, hi = hedges_gav([12, 15, 9, 14, 11, 16], [9, 13, 9, 10, 10, 12])
    >>> round(g, 3), round(lo, 3), round(hi, 3)
    (-0.916, -1.65, -0.145)
    """
    alpha = check_alpha(alpha)
    x1 = np.asarray(before, dtype=float)
    x2 = np.asarray(after, dtype=float)
    vals = _hedges_gav(x1, x2, alpha)
    return TupleResult(vals, estimate=vals[0], n_obs=len(x1), alpha=alpha,
                       interval=lambda a: _hedges_gav(x1, x2, a))


def _hedges_gav(x1: np.ndarray, x2: np.ndarray, alpha: float) -> tuple[float, float, float]:
    n = len(x1)
    d = x2 - x1
    if n < 3 or not d.std(ddof=1) > 0:
        return (np.nan, np.nan, np.nan)
    sav = (x1.std(ddof=1) + x2.std(ddof=1)) / 2
    if not sav > 0:
        return (np.nan, np.nan, np.nan)
    J = _hedges_j(n - 1)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(n))
    lo, hi = _nct_ncp_interval(t, n - 1, alpha)
    scale = d.std(ddof=1) / (math.sqrt(n) * sav)
    return (float(J * d.mean() / sav), float(J * lo * scale), float(J * hi * scale))


def cohens_dz_at(dz: float, n: float, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """Cohen's d_z with its noncentral-t interval at a given number of pairs ``n`` (e.g. a published, rounded
    count): the interval of :func:`cohens_dz` with ``n`` in place of the number of differences.

    >>> [round(v, 3) for v in cohens_dz_at(-1.0, 8)]
    [-1.0, -1.84, -0.115]
    """
    alpha = check_alpha(alpha)
    if not (np.isfinite(dz) and np.isfinite(n) and n >= 2):
        return (np.nan, np.nan, np.nan)
    lo, hi = _nct_ncp_interval(dz * math.sqrt(n), n - 1, alpha)
    return (float(dz), float(lo / math.sqrt(n)), float(hi / math.sqrt(n)))


def hedges_gav_at(mean: float, sd_diff: float, sd_av: float, n: float, *,
                  alpha: float = 0.05) -> tuple[float, float, float]:
    """Hedges' g_av and its interval from the mean change, the SD of the changes, the average of the two SDs and
    a given number of pairs ``n`` (e.g. a published count): :func:`hedges_gav` with ``n`` in place of the pairs.

    >>> x1, x2 = np.array([10, 12, 9, 14, 11, 13.]), np.array([8, 11, 9, 10, 7, 12.])
    >>> d = x2 - x1
    >>> at = hedges_gav_at(d.mean(), d.std(ddof=1), (x1.std(ddof=1) + x2.std(ddof=1)) / 2, 6)
    >>> np.allclose(at, hedges_gav(x1, x2))
    True
    """
    alpha = check_alpha(alpha)
    if not (np.isfinite(n) and n >= 3 and sd_diff > 0 and sd_av > 0):
        return (np.nan, np.nan, np.nan)
    J = _hedges_j(n - 1)
    lo, hi = _nct_ncp_interval(mean / (sd_diff / math.sqrt(n)), n - 1, alpha)
    scale = sd_diff / (math.sqrt(n) * sd_av)
    return (float(J * mean / sd_av), float(J * lo * scale), float(J * hi * scale))


def rubin(estimates, variances, *, df_complete: float = np.inf, alpha: float = 0.05) -> dict[str, float]:
    """Pool estimates from multiply imputed data sets by Rubin's rules.

    Degrees of freedom by Barnard & Rubin (1999) when ``df_complete`` is finite.

    Returns
    -------
    dict with estimate, std_error, df, ci_lower, ci_upper, p_value, within, between, fmi

    Examples
    --------
    >>> r = rubin([1.0, 1.2, 0.8], [0.04, 0.05, 0.03], df_complete=50)
    >>> round(r["estimate"], 3), round(r["std_error"], 4), round(r["df"], 2)
    (1.0, 0.3055, 4.72)
    """
    alpha = check_alpha(alpha)
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    qbar = q.mean()
    ubar = u.mean()
    b = q.var(ddof=1) if m > 1 else 0.0
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    if lam <= 0:
        df = df_complete
    else:
        df_old = (m - 1) / lam**2
        if np.isfinite(df_complete):
            df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
            df = df_old * df_obs / (df_old + df_obs)
        else:
            df = df_old
    se = math.sqrt(t)
    crit = stats.t.ppf(1 - alpha / 2, df) if np.isfinite(df) else stats.norm.ppf(1 - alpha / 2)
    stat = qbar / se if se > 0 else np.nan
    p = 2 * (stats.t.sf(abs(stat), df) if np.isfinite(df) else stats.norm.sf(abs(stat)))
    r = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    fmi = (r + 2 / (df + 3)) / (r + 1) if np.isfinite(df) else lam
    out = dict(estimate=qbar, std_error=se, df=df, ci_lower=qbar - crit * se, ci_upper=qbar + crit * se,
               p_value=p, within=ubar, between=b, fmi=fmi)
    return Estimate({k: float(v) for k, v in out.items()}, alpha=alpha, n_obs=m, name="pooled")


def smd_from_moments(m1, s1, m2, s2) -> float:
    """Standardised mean difference from group means and SDs, pooled SD ``sqrt((s1^2 + s2^2) / 2)``.

    The balance-table convention (Austin 2009). 0 when both SDs are 0 and the
    means agree, NaN when they differ.

    Examples
    --------
    >>> round(smd_from_moments(10.0, 2.0, 9.0, 4.0), 4)
    0.3162
    """
    pooled = np.sqrt((s1**2 + s2**2) / 2)
    return float((m1 - m2) / pooled) if pooled > 0 else (0.0 if m1 == m2 else np.nan)


def smd_binary(p1, p2) -> float:
    """Standardised difference of two proportions, pooled SD ``sqrt((p1 q1 + p2 q2) / 2)`` (Austin 2009).

    Examples
    --------
    >>> round(smd_binary(0.5, 0.3), 3)
    0.417
    """
    pooled = np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    return float((p1 - p2) / pooled) if pooled > 0 else (0.0 if p1 == p2 else np.nan)


def smd(x1, x2, *, sd: float | None = None) -> float:
    """Standardised mean difference of two samples, ``(mean(x1) - mean(x2)) / sd``.

    ``sd`` defaults to the balance-table pooled SD ``sqrt((s1^2 + s2^2) / 2)``
    (sample SDs); pass a fixed ``sd`` (e.g. the pre-matching SD of the
    treated group) to compare before and after matching on one scale.

    Examples
    --------
    >>> round(smd([1, 2, 3, 4], [2, 3, 4, 5, 6]), 4)
    -1.0392
    """
    a = np.asarray(x1, dtype=float)
    b = np.asarray(x2, dtype=float)
    if sd is None:
        return smd_from_moments(a.mean(), a.std(ddof=1), b.mean(), b.std(ddof=1))
    if sd <= 0 or not np.isfinite(sd):
        return 0.0 if np.mean(a) == np.mean(b) else np.nan
    return float((np.mean(a) - np.mean(b)) / sd)

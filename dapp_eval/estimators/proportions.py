"""Intervals and tests for proportions: Wilson, Newcombe (independent and paired), exact McNemar, Holm.

Pure functions of counts; nothing here knows the programme data model.
References are checked against R (``prop.test(correct = FALSE)``,
``binom.test``, ``p.adjust(method = "holm")``) and published worked examples
(Newcombe 1998; Fagerland, Lydersen & Laake 2017).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from dapp_eval.estimators._results import TupleResult
from dapp_eval.results import check_alpha

__all__ = ["holm", "mcnemar_exact", "newcombe_diff_ci", "newcombe_paired_ci", "wilson_ci"]


def wilson_ci(x, n, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score confidence interval for a binomial proportion.

    Parameters
    ----------
    x, n : int or array-like
        Successes and trials; ``n == 0`` gives NaN.
    alpha : float
        1 - confidence level.

    Returns
    -------
    TupleResult
        ``(lower, upper)`` (numpy arrays) as a tuple; ``params`` are the
        proportions ``x / n`` and ``conf_int(alpha)`` recomputes the interval.

    Examples
    --------
    >>> lo, hi = wilson_ci(6, 15)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.1982, 0.6425)
    """
    alpha = check_alpha(alpha)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):  # no people, or counts that do not fit: NaN
        p = np.where(n > 0, x / np.where(n > 0, n, 1.0), np.nan)
        se = np.sqrt(p * (1 - p) / np.where(n > 0, n, np.nan))
    return TupleResult(_wilson(x, n, alpha), estimate=p, n_obs=n, alpha=alpha,
                       interval=lambda a: _wilson(x, n, a), std_error=se)


def _wilson(x: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        # exact limits at the boundaries (0 successes: lower 0; all successes: upper 1)
        lo = np.where(n > 0, np.where(x == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        hi = np.where(n > 0, np.where(x == n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return lo, hi


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values (NaN entries stay NaN and are not counted).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.2]).round(3).tolist()
    [0.04, 0.09, 0.09, 0.2]
    """
    # Step-down: sort ascending, multiply the i-th smallest (0-based) by m - i, carry the running
    # maximum forward, cap at 1 (R's p.adjust). Written out rather than calling statsmodels'
    # multipletests, which runs a full gc.collect() on every call (0.2 s each; 30 calls a release).
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        vals = p[ok]
        order = np.argsort(vals, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * vals[order]))
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def newcombe_paired_ci(n11, n12, n21, n22, *, alpha: float = 0.05):
    """Newcombe's (1998) method 10 interval for a difference of paired proportions.

    For a paired 2x2 table with rows = first classification and columns =
    second (``n12``, ``n21`` the discordant cells), the difference is
    ``p1+ - p+1 = (n12 - n21) / n``.  The interval combines the Wilson
    intervals of the two marginal proportions ("square and add") with a
    correction for their correlation (phi with Newcombe's continuity
    adjustment).  Returns ``(difference, lower, upper)`` (NaN if ``n == 0``).

    Examples
    --------
    Cavo et al. (2012), as worked in Fagerland, Lydersen & Laake (2017),
    *Statistical Analysis of Contingency Tables*, ch. 8: estimate -0.0621
    (95% CI -0.1186 to -0.0046).

    >>> d, lo, hi = newcombe_paired_ci(59, 6, 16, 80)
    >>> round(d, 4), round(lo, 4), round(hi, 4)
    (-0.0621, -0.1186, -0.0046)
    """
    alpha = check_alpha(alpha)
    cells = tuple(float(x) for x in (n11, n12, n21, n22))
    vals = _newcombe_paired(*cells, alpha)
    return TupleResult(vals, estimate=vals[0], n_obs=int(sum(cells)), alpha=alpha,
                       interval=lambda a: _newcombe_paired(*cells, a))


def _newcombe_paired(n11: float, n12: float, n21: float, n22: float, alpha: float) -> tuple[float, float, float]:
    n = n11 + n12 + n21 + n22
    if n == 0:
        return np.nan, np.nan, np.nan
    r1, c1 = n11 + n12, n11 + n21
    p1, p2 = r1 / n, c1 / n
    d = p1 - p2
    (l1, u1), (l2, u2) = (tuple(float(v) for v in wilson_ci(x, n, alpha=alpha)) for x in (r1, c1))
    r2, c2 = n21 + n22, n12 + n22
    if min(r1, r2, c1, c2) == 0:
        phi = 0.0
    else:
        a = n11 * n22 - n12 * n21
        if a > n / 2:
            c = a - n / 2
        elif a >= 0:
            c = 0.0
        else:
            c = a
        phi = c / np.sqrt(r1 * r2 * c1 * c2)
    lower = d - np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    upper = d + np.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0.0))
    return float(d), float(max(lower, -1.0)), float(min(upper, 1.0))


def newcombe_diff_ci(k1, n1, k2, n2, *, alpha: float = 0.05):
    """Newcombe's (1998) hybrid score interval for ``k1/n1 - k2/n2`` (independent samples).

    Returns ``(difference, lower, upper)``.

    Examples
    --------
    Newcombe (1998, Stat Med 17:873), example (a): 56/70 vs 48/80 gives
    0.2000 (95% CI 0.0524 to 0.3339).

    >>> d, lo, hi = newcombe_diff_ci(56, 70, 48, 80)
    >>> round(d, 4), round(lo, 4), round(hi, 4)
    (0.2, 0.0524, 0.3339)
    """
    alpha = check_alpha(alpha)
    vals = _newcombe_diff(k1, n1, k2, n2, alpha)
    return TupleResult(vals, estimate=vals[0], n_obs=int(n1 + n2), alpha=alpha,
                       interval=lambda a: _newcombe_diff(k1, n1, k2, n2, a))


def _newcombe_diff(k1, n1, k2, n2, alpha: float) -> tuple[float, float, float]:
    if n1 == 0 or n2 == 0:
        return np.nan, np.nan, np.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = (float(v) for v in wilson_ci(k1, n1, alpha=alpha))
    l2, u2 = (float(v) for v in wilson_ci(k2, n2, alpha=alpha))
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(d), float(lower), float(upper)


def mcnemar_exact(b, c) -> float:
    """Exact (binomial) McNemar test of the discordant counts ``b`` and ``c``.

    Two-sided p-value ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Bin(b + c, 1/2)``,
    as R's ``binom.test(b, b + c)``; 1 when there are no discordant pairs.

    Examples
    --------
    >>> round(mcnemar_exact(6, 16), 4)
    0.0525
    """
    b, c = int(b), int(c)
    if b + c == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))

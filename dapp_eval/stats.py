"""Small statistical helpers shared by the analysis modules."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .results import check_alpha

__all__ = ["wilson_ci", "holm"]


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
    lower, upper : numpy.ndarray

    Examples
    --------
    >>> lo, hi = wilson_ci(6, 15)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.1982, 0.6425)
    """
    alpha = check_alpha(alpha)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
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
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out

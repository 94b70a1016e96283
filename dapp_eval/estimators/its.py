"""Interrupted time series: segmented regression with Newey-West standard errors.

The model for a series ``y_t`` observed at equally spaced times ``t = 1..n``
with a change between ``t0 - 1`` and ``t0`` is

    y_t = b0 + b1 t + b2 post_t + b3 (t - t0) post_t + e_t,

``post_t = 1`` from ``t0`` on: ``b2`` is the step (the jump at ``t0`` from the
pre-change line carried on) and ``b3`` the change in slope (Wagner et al. 2002, "Segmented
regression analysis of interrupted time series studies"). It is fitted by
ordinary least squares; the covariance is the Newey-West (1987)
heteroskedasticity and autocorrelation consistent estimator with Bartlett
weights ``1 - j / (L + 1)`` for lags ``j = 0..L``, as
``sandwich::NeweyWest(fit, lag = L, prewhite = FALSE, adjust = FALSE)``
(``adjust=True`` multiplies by ``n / (n - k)``). Intervals and p-values use
the t distribution with ``n - k`` degrees of freedom, as ``lmtest::coeftest``
does for an ``lm``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.estimators._base import EstimatorResults

__all__ = ["newey_west", "segmented_regression", "default_lag"]


def default_lag(n: int) -> int:
    """Newey & West's (1994) rule of thumb ``floor(4 (n / 100)^(2/9))`` lags, at least 1.

    Examples
    --------
    >>> default_lag(16), default_lag(100), default_lag(192)
    (2, 4, 4)
    """
    return max(1, int(np.floor(4 * (n / 100) ** (2 / 9))))


def newey_west(X, resid, lag: int, *, adjust: bool = False) -> np.ndarray:
    """Newey-West covariance of OLS coefficients (``sandwich::NeweyWest`` with ``prewhite = FALSE``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(6), np.arange(6.)])
    >>> V = newey_west(X, np.array([1., -1, 0.5, 0.2, -0.4, -0.3]), lag=1)
    >>> V.shape
    (2, 2)
    """
    X = np.asarray(X, dtype=float)
    e = np.asarray(resid, dtype=float)
    n, k = X.shape
    lag = int(lag)
    if lag < 0 or lag >= n:
        raise ValueError(f"lag must be between 0 and n - 1 ({n - 1}), got {lag}")
    u = X * e[:, None]
    meat = u.T @ u
    for j in range(1, lag + 1):
        g = u[j:].T @ u[:-j]
        meat += (1 - j / (lag + 1)) * (g + g.T)
    bread = np.linalg.inv(X.T @ X)
    V = bread @ meat @ bread
    return V * n / (n - k) if adjust else V


def segmented_regression(y, change_at: int, *, time=None, lag: int | None = None,
                         adjust: bool = False) -> EstimatorResults:
    """Segmented regression of an interrupted time series with Newey-West SE.

    Parameters
    ----------
    y : array-like
        The series, one value per equally spaced period, in time order (no gaps, no missing values).
    change_at : int
        Position (0-based) of the first period after the change.
    time : array-like, optional
        Period labels for ``info["time"]`` (default 1..n).
    lag : int, optional
        Newey-West lag; default :func:`default_lag` of n.
    adjust : bool
        Multiply the covariance by ``n / (n - k)`` (``NeweyWest(adjust = TRUE)``).

    Returns
    -------
    EstimatorResults
        Terms ``Intercept``, ``time`` (slope before), ``step`` (change in
        level), ``slope_change``; ``df = n - 4``; ``info["lag"]``,
        ``info["fitted"]``, ``info["counterfactual"]`` (the pre-change line
        carried on), ``info["n_before"]``, ``info["n_after"]``.

    Examples
    --------
    >>> y = [10, 11, 12, 13, 14, 15, 9, 9.5, 10, 10.5, 11, 11.5]
    >>> fit = segmented_regression(y, 6, lag=1)
    >>> fit.params.round(3).tolist()
    [9.0, 1.0, -7.0, -0.5]
    """
    yv = np.asarray(y, dtype=float)
    n = yv.size
    if yv.ndim != 1 or not np.isfinite(yv).all():
        raise ValueError("the series must be 1-D with no missing values")
    c = int(change_at)
    if c < 3 or n - c < 3:
        raise ValueError(f"segmented regression needs at least 3 periods before and 3 after the change; got "
                         f"{c} before and {n - c} after")
    t = np.arange(1, n + 1, dtype=float)
    post = (np.arange(n) >= c).astype(float)
    since = post * (t - (c + 1))
    X = np.column_stack([np.ones(n), t, post, since])
    b, *_ = np.linalg.lstsq(X, yv, rcond=None)
    resid = yv - X @ b
    L = default_lag(n) if lag is None else int(lag)
    V = newey_west(X, resid, L, adjust=adjust)
    idx = pd.Index(["Intercept", "time", "step", "slope_change"])
    return EstimatorResults(
        params=pd.Series(b, index=idx, name="estimate"), cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method=f"segmented regression (OLS), Newey-West SE with {L} lag{'s' if L != 1 else ''}"
               + (" (n/(n-k) adjusted)" if adjust else ""),
        df=float(n - 4), n_obs=n,
        info={"lag": L, "fitted": X @ b, "counterfactual": X[:, :2] @ b[:2], "n_before": c, "n_after": n - c,
              "time": list(range(1, n + 1)) if time is None else list(time), "residuals": resid})

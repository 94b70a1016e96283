"""E-values: how strong unmeasured confounding would have to be to explain an estimate away.

VanderWeele & Ding (2017), "Sensitivity analysis in observational research:
introducing the E-value", Annals of Internal Medicine 167: 268-274, as
R's ``EValue`` package computes them (``threshold``, ``evalues.RR``,
``evalues.HR`` in ``EValue/R/EValue.R``). For a risk ratio ``RR >= 1`` the
E-value is ``RR + sqrt(RR (RR - 1))`` (for ``RR < 1`` take ``1 / RR`` first):
the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both the treatment and the outcome,
above and beyond the measured covariates, to move the estimate to the null.
The E-value for the confidence interval uses the limit closer to the null,
and is 1 when the interval already contains it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["evalue_threshold", "evalues_rr", "evalues_hr", "hr_to_rr"]


def evalue_threshold(x: float, true: float = 1.0) -> float:
    """E-value of one risk ratio ``x`` against ``true`` (``EValue::threshold``).

    Examples
    --------
    >>> round(evalue_threshold(3.9), 4)
    7.263
    >>> round(evalue_threshold(0.8), 4)
    1.809
    """
    x, true = float(x), float(true)
    if not np.isfinite(x):
        return np.nan
    if x < 0 or true <= 0:
        raise ValueError("a risk ratio must be non-negative and the true value positive")
    if x == 0:
        return np.inf
    if x <= 1:
        x, true = 1 / x, 1 / true
    if true <= x:
        return float((x + np.sqrt(x * (x - true))) / true)
    rat = true / x
    return float(rat + np.sqrt(rat * (rat - 1)))


def hr_to_rr(hr):
    """Risk ratio approximating a hazard ratio for a common outcome (> 15% by the end of follow-up):
    ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` (VanderWeele 2020; ``EValue::toRR.HR`` with ``rare = FALSE``).

    Examples
    --------
    >>> round(float(hr_to_rr(2.0)), 4)
    1.6125
    """
    hr = np.asarray(hr, dtype=float)
    return (1 - 0.5 ** np.sqrt(hr)) / (1 - 0.5 ** np.sqrt(1 / hr))


def evalues_rr(est: float, lo: float = np.nan, hi: float = np.nan, *, true: float = 1.0) -> pd.DataFrame:
    """E-values for a risk (or rate) ratio and its confidence interval, as ``EValue::evalues.RR``.

    Returns
    -------
    DataFrame
        Index ``RR`` and ``E-value``; columns ``point``, ``lower``, ``upper``.
        The E-value of the limit on the null side of the estimate is given
        (1 when the interval contains ``true``); the other limit's is empty.

    Examples
    --------
    >>> evalues_rr(0.8, 0.71, 0.91).loc["E-value"].round(4).tolist()
    [1.809, nan, 1.4286]
    """
    est, lo, hi, true = float(est), float(lo), float(hi), float(true)
    if est < 0 or true < 0:
        raise ValueError("risk ratios cannot be negative")
    if np.isfinite(lo) and np.isfinite(hi) and lo > hi:
        raise ValueError("the lower confidence limit must not exceed the upper one")
    if (np.isfinite(lo) and est < lo) or (np.isfinite(hi) and est > hi):
        raise ValueError("the point estimate must lie inside its confidence interval")
    E = [evalue_threshold(v, true) if np.isfinite(v) else np.nan for v in (est, lo, hi)]
    crosses = (est > true and np.isfinite(lo) and lo < true) or (est < true and np.isfinite(hi) and hi > true)
    if crosses:
        E[1] = E[2] = 1.0
    if np.isfinite(lo) or np.isfinite(hi):
        if est > true:
            E[2] = np.nan
        elif est < true:
            E[1] = np.nan
        else:
            E[1], E[2] = 1.0, np.nan
    return pd.DataFrame([[est, lo, hi], E], index=["RR", "E-value"], columns=["point", "lower", "upper"])


def evalues_hr(est: float, lo: float = np.nan, hi: float = np.nan, *, rare: bool, true: float = 1.0) -> pd.DataFrame:
    """E-values for a hazard ratio, as ``EValue::evalues.HR``.

    With ``rare=True`` (outcome under 15% by the end of follow-up) the hazard
    ratio is used as a risk ratio; otherwise each value (and ``true``) is
    converted with :func:`hr_to_rr` first. The ``RR`` row holds the converted values.

    Examples
    --------
    >>> evalues_hr(0.86, 0.75, 1.10, rare=False).loc["E-value"].round(4).tolist()
    [1.4599, nan, 1.0]
    """
    vals = [float(est), float(lo), float(hi), float(true)]
    if not rare:
        vals = [float(hr_to_rr(v)) if np.isfinite(v) else np.nan for v in vals]
    return evalues_rr(vals[0], vals[1], vals[2], true=vals[3])

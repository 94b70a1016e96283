"""Propensity-score weighting for the average effect in the treated (ATT), with balance and outcome models.

* :func:`att_weights` - logistic propensity score and ATT weights (1 for the
  treated, ``ps / (1 - ps)`` for the comparison group), as
  ``WeightIt::weightit(method = "glm", estimand = "ATT")``, with optional
  truncation of the comparison weights at a stated quantile, as
  ``WeightIt::trim(at = q)`` (the treated all weigh 1 and are never trimmed);
* :func:`balance_table` - ``cobalt::bal.tab`` for a binary treatment: the
  difference in means before and after weighting, standardised by the
  treated group's unweighted SD for continuous covariates (``s.d.denom =
  "treated"``, the ATT default, the same denominator before and after) and
  left as a raw difference in proportions for binary ones (cobalt's
  ``binary = "raw"`` default); variance ratios (treated / comparison,
  weighted with cobalt's unbiased weighted variance) for continuous
  covariates only;
* :func:`weighted_outcome` - the weighted difference in means (``lm(y ~ t,
  weights = w)``) or ratio of means (``glm(y ~ t, quasipoisson, weights =
  w)``), with the HC0 sandwich SE (``sandwich::vcovHC(type = "HC0")``). The
  weights are treated as known: this ignores the estimation of the
  propensity score, as ``vcovHC`` on a weighted ``lm`` does (WeightIt's
  ``glm_weightit`` M-estimation would add it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from dapp_eval.estimators._base import EstimatorResults
from dapp_eval.results import check_alpha

__all__ = ["att_weights", "balance_table", "weighted_outcome", "effective_sample_size"]


def effective_sample_size(w) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> effective_sample_size([1, 1, 1, 1])
    4.0
    """
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2)) if w.size and np.sum(w**2) > 0 else 0.0


def _covariates(X, names) -> tuple[np.ndarray, list[str]]:
    """Covariates as a 2-D float array and their names (a DataFrame's columns, else ``x0, x1, ...``)."""
    if isinstance(X, pd.DataFrame) and names is None:
        names = list(X.columns)
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    return Xa, [f"x{j}" for j in range(Xa.shape[1])] if names is None else list(names)


def _as_treat(treat, n) -> np.ndarray:
    t = np.asarray(treat, dtype=float)
    if t.shape != (n,):
        raise ValueError(f"treat must have one value per row ({n}), got shape {t.shape}")
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("treat must be 0 (comparison) or 1 (treated), with no missing values")
    if t.sum() == 0 or t.sum() == n:
        raise ValueError("treat must contain both treated (1) and comparison (0) rows")
    return t


def att_weights(X, treat, *, trim: float | None = None, names=None) -> EstimatorResults:
    """Logistic propensity score and ATT weights, optionally truncated.

    Parameters
    ----------
    X : 2-D array-like or DataFrame
        Covariates (an intercept is added; columns constant over all rows are refused).
    treat : array-like
        1 = treated (programme), 0 = comparison.
    trim : float, optional
        Quantile in (0.5, 1) at which the comparison weights are truncated:
        weights above the comparison group's ``trim`` quantile (R's type-3
        quantile, an observed weight) are set to it, as ``WeightIt::trim(at =
        trim)``. ``None`` (default): no truncation.
    names : list of str, optional

    Returns
    -------
    EstimatorResults
        ``params``/``bse``: the logistic model's coefficients and model-based
        SEs (``glm(..., family = binomial)``); ``info["ps"]``,
        ``info["weights"]`` (after truncation), ``info["weights_untrimmed"]``,
        ``info["trim_at"]``, ``info["trim_value"]``, ``info["n_trimmed"]``,
        ``info["ess_comparison"]`` (Kish effective sample size of the weighted
        comparison group), ``info["ess_comparison_untrimmed"]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.], [2.], [3.], [4.], [0.], [1.], [2.], [3.5]])
    >>> fit = att_weights(x, [1, 1, 1, 1, 0, 0, 0, 0])
    >>> np.round(fit.info["weights"], 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.308, 0.545, 0.965, 2.274]
    """
    import statsmodels.api as sm

    Xa, names = _covariates(X, names)
    n, p = Xa.shape
    if not np.isfinite(Xa).all():
        raise ValueError("covariates must be finite (fill or flag missing values first)")
    t = _as_treat(treat, n)
    if trim is not None and not 0.5 < float(trim) < 1:
        raise ValueError(f"trim must be a quantile between 0.5 and 1 (e.g. 0.99), got {trim!r}")
    const = np.ptp(Xa, axis=0) == 0 if n else np.zeros(p, bool)
    if const.any():
        raise ValueError(f"covariate(s) {[nm for nm, c in zip(names, const) if c]} take one value for everyone: "
                         "drop them from the propensity model")
    D = np.column_stack([np.ones(n), Xa])
    if np.linalg.matrix_rank(D) < D.shape[1]:
        raise ValueError("the propensity model's covariates are collinear (drop a reference level of each category)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(t, D, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=200)
    eta = D @ np.asarray(fit.params)
    ps = 1.0 / (1.0 + np.exp(-eta))
    w0 = np.where(t == 1, 1.0, np.exp(eta))  # ps / (1 - ps) = exp(eta), without the rounding of 1 - ps
    w = w0.copy()
    tv, n_trim = np.nan, 0
    if trim is not None:
        wc = w0[t == 0]
        tv = float(np.quantile(wc, float(trim), method="closest_observation"))
        over = (t == 0) & (w0 > tv)
        n_trim = int(over.sum())
        w[over] = tv
    idx = pd.Index(["Intercept"] + names)
    V = np.asarray(fit.cov_params(), dtype=float)
    return EstimatorResults(
        params=pd.Series(np.asarray(fit.params), index=idx, name="estimate"),
        cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method="logistic propensity score; ATT weights 1 (treated), ps/(1-ps) (comparison)"
               + (f", comparison weights truncated at their {100 * float(trim):g}th centile" if trim else ""),
        n_obs=n, model=fit,
        info={"ps": ps, "logit_ps": eta, "weights": w, "weights_untrimmed": w0, "trim_at": trim,
              "trim_value": tv, "n_trimmed": n_trim, "converged": bool(fit.converged),
              "ess_comparison": effective_sample_size(w[t == 0]),
              "ess_comparison_untrimmed": effective_sample_size(w0[t == 0]),
              "max_ps": float(ps.max()), "min_ps": float(ps.min())})


def _wmean(x, w):
    return np.sum(w[:, None] * x, axis=0) / np.sum(w)


def _wvar(x, w, binary):
    """cobalt's ``col.w.v``: unbiased weighted variance; ``p (1 - p)`` for binary columns."""
    m = _wmean(x, w)
    sw, sw2 = np.sum(w), np.sum(w**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = sw / (sw**2 - sw2) * np.sum(w[:, None] * (x - m) ** 2, axis=0)
    return np.where(binary, m * (1 - m), v)


def balance_table(X, treat, weights, *, binary=None, names=None) -> pd.DataFrame:
    """Covariate balance before and after ATT weighting, as ``cobalt::bal.tab``.

    Parameters
    ----------
    X : 2-D array-like or DataFrame
        Covariates (category indicators as 0/1 columns, all levels).
    treat : array-like
        1 = treated, 0 = comparison.
    weights : array-like
        Balancing weights (the treated all 1 for the ATT).
    binary : array-like of bool, optional
        Which columns are binary; default: columns whose values are all 0 or 1.
    names : list of str, optional

    Returns
    -------
    DataFrame
        ``covariate``, ``type`` (binary / continuous), ``mean_treated``,
        ``mean_comparison_before``, ``mean_comparison_after``, ``diff_before``,
        ``diff_after`` (standardised mean difference for continuous covariates,
        difference in proportions for binary ones), ``var_ratio_before``,
        ``var_ratio_after`` (continuous only), ``sd_denominator`` (the treated
        group's SD).

    Examples
    --------
    >>> import numpy as np
    >>> tab = balance_table(np.array([[1., 0], [2., 1], [3., 1], [1., 0], [2., 0]]), [1, 1, 1, 0, 0],
    ...                     [1, 1, 1, 2, 1], names=["age", "employed"])
    >>> tab[["covariate", "diff_before", "diff_after"]].round(3).values.tolist()
    [['age', 0.5, 0.667], ['employed', 0.667, 0.667]]
    """
    Xa, names = _covariates(X, names)
    n, p = Xa.shape
    t = _as_treat(treat, n) == 1
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative and one per row")
    if not np.isfinite(Xa).all():
        raise ValueError("covariates must be finite (fill or flag missing values first)")
    binary = np.isin(Xa, (0.0, 1.0)).all(axis=0) if binary is None else np.asarray(binary, dtype=bool)
    ones = np.ones(n)
    sd1 = np.sqrt(_wvar(Xa[t], ones[t], binary))
    rows = {}
    for stage, ww in (("before", ones), ("after", w)):
        m1, m0 = _wmean(Xa[t], ww[t]), _wmean(Xa[~t], ww[~t])
        diff = m1 - m0
        with np.errstate(divide="ignore", invalid="ignore"):
            std = np.where(np.abs(diff) < np.sqrt(np.finfo(float).eps), 0.0, diff / sd1)  # cobalt: check_if_zero
            vr = _wvar(Xa[t], ww[t], np.zeros(p, bool)) / _wvar(Xa[~t], ww[~t], np.zeros(p, bool))
        rows[f"mean_comparison_{stage}"] = m0
        rows[f"diff_{stage}"] = np.where(binary, diff, std)
        rows[f"var_ratio_{stage}"] = np.where(binary, np.nan, vr)
        rows["mean_treated"] = m1
    return pd.DataFrame({"covariate": names, "type": np.where(binary, "binary", "continuous"),
                         "mean_treated": rows["mean_treated"],
                         "mean_comparison_before": rows["mean_comparison_before"],
                         "mean_comparison_after": rows["mean_comparison_after"],
                         "diff_before": rows["diff_before"], "diff_after": rows["diff_after"],
                         "var_ratio_before": rows["var_ratio_before"], "var_ratio_after": rows["var_ratio_after"],
                         "sd_denominator": np.where(binary, np.nan, sd1)})


def weighted_outcome(y, treat, weights, *, scale: str = "difference", alpha: float = 0.05) -> EstimatorResults:
    """Weighted comparison of an outcome between treated and comparison, with the HC0 sandwich SE.

    ``scale="difference"``: ``lm(y ~ treat, weights = w)``, the coefficient is
    the weighted difference in means. ``scale="ratio"``: ``glm(y ~ treat,
    family = quasipoisson, weights = w)`` (log link), the coefficient is the
    log of the ratio of weighted means (a risk ratio for a 0/1 outcome, a
    rate ratio for counts over equal windows). Both have closed forms with
    one binary regressor; the covariance is R's ``sandwich::vcovHC(fit, type =
    "HC0")`` (for a glm, ``sandwich(fit)``), treating the weights as known.

    Returns
    -------
    EstimatorResults
        Terms ``Intercept`` and ``treat``; ``info["ratio"]`` (exp of the
        ``treat`` coefficient and its interval) when ``scale="ratio"``,
        ``info["mean_treated"]``, ``info["mean_comparison"]`` (weighted).

    Examples
    --------
    >>> r = weighted_outcome([1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 0.5, 1, 1.5], scale="ratio")
    >>> round(float(r.params["treat"]), 4), round(float(r.bse["treat"]), 4)
    (1.3863, 1.1055)
    """
    alpha = check_alpha(alpha)
    if scale not in ("difference", "ratio"):
        raise ValueError(f"scale must be 'difference' or 'ratio', got {scale!r}")
    yv = np.asarray(y, dtype=float)
    n = yv.size
    t = _as_treat(treat, n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative and one per row")
    if not np.isfinite(yv).all():
        raise ValueError("the outcome must be finite (no missing values)")
    m1 = float(np.sum(w * t * yv) / np.sum(w * t))
    m0 = float(np.sum(w * (1 - t) * yv) / np.sum(w * (1 - t)))
    D = np.column_stack([np.ones(n), t])
    if scale == "difference":
        b = np.array([m0, m1 - m0])
        mu = D @ b
        bread = np.linalg.inv(D.T @ (w[:, None] * D))
    else:
        if m0 <= 0 or m1 <= 0 or (yv < 0).any():
            raise ValueError("a ratio of means needs a non-negative outcome with a positive mean in both groups")
        b = np.array([np.log(m0), np.log(m1 / m0)])
        mu = np.exp(D @ b)
        bread = np.linalg.inv(D.T @ ((w * mu)[:, None] * D))
    u = (w * (yv - mu))[:, None] * D
    V = bread @ (u.T @ u) @ bread
    idx = pd.Index(["Intercept", "treat"])
    res = EstimatorResults(
        params=pd.Series(b, index=idx, name="estimate"), cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method=("weighted difference in means" if scale == "difference" else "weighted ratio of means (log link)")
        + ", HC0 sandwich SE (weights treated as known)", n_obs=n, alpha=alpha,
        info={"mean_treated": m1, "mean_comparison": m0, "scale": scale})
    if scale == "ratio":
        ci = res.conf_int(alpha).loc["treat"]
        res.info["ratio"] = {"estimate": float(np.exp(b[1])), "ci_lower": float(np.exp(ci["ci_lower"])),
                             "ci_upper": float(np.exp(ci["ci_upper"]))}
    return res

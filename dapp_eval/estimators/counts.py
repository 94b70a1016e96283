"""Poisson and negative binomial rate models with cluster-robust standard errors.

:func:`count_model` fits ``log E[y] = X beta + offset`` by maximum likelihood
(statsmodels' GLM) and reports either the model-based covariance or a
sandwich covariance clustered on a column you name. The small-sample
corrections are named as in R's ``sandwich::vcovCL``:

* ``cov_type="HC1"`` (default): ``G/(G-1) * (N-1)/(N-K)`` times the
  cluster sum of score outer products (``vcovCL(fit, cluster, type = "HC1")``;
  Stata's ``vce(cluster)``; statsmodels' ``cov_type="cluster"``);
* ``cov_type="HC0"``: ``G/(G-1)`` only (``vcovCL(fit, cluster, type = "HC0")``);
* ``cov_type="nonrobust"``: the inverse Fisher information (``vcov(fit)``).

Without ``cluster`` the sandwich is the heteroskedasticity-consistent one of
``sandwich::vcovHC(fit, type = ...)``: HC1 multiplies by ``N/(N-K)`` (the
same as ``vcovCL`` with one cluster per row), HC0 has no factor. For ``family="negbin"`` the NB2
dispersion is estimated by maximum likelihood first and then held fixed,
as ``MASS::glm.nb`` does (``alpha = 1 / theta``); its model-based standard
errors therefore equal ``summary(glm.nb(...))``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dapp_eval.estimators._base import EstimatorResults, _column, design_from_formula

__all__ = ["CountModelResults", "count_model", "fit_count_model", "nb_dispersion"]

_COV_TYPES = ("HC1", "HC0", "nonrobust")


@dataclass(repr=False)
class CountModelResults(EstimatorResults):
    """Result of :func:`count_model`. Extra attributes: ``family``, ``nb_alpha`` (NaN for Poisson),
    ``cov_type``, ``n_clusters``. ``model`` is the statsmodels GLM result."""

    family: str = "poisson"
    nb_alpha: float = np.nan
    cov_type: str = "HC1"
    n_clusters: int = 0

    @property
    def rate_ratios(self) -> pd.DataFrame:
        """``exp`` of the coefficients with their intervals (95%)."""
        ci = self.conf_int()
        return pd.DataFrame({"rate_ratio": np.exp(self.params), "ci_lower": np.exp(ci["ci_lower"]),
                             "ci_upper": np.exp(ci["ci_upper"])})


def nb_dispersion(y, X, offset=None, *, freq_weights=None) -> float:
    """Maximum-likelihood NB2 dispersion ``alpha`` (``1 / theta`` of ``MASS::glm.nb``).

    With ``freq_weights`` each row stands for that many identical rows (the
    same likelihood, so the same estimate as on the expanded data): the profile
    score in ``alpha`` is solved by Brent's root finder, the coefficients for
    each ``alpha`` by weighted IRLS.

    Raises ``ValueError`` when the counts show no over-dispersion (the ML
    estimate is on the boundary ``alpha = 0``; use the Poisson model).
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if freq_weights is not None:
        a = _nb_alpha_weighted(y, X, offset, np.asarray(freq_weights, dtype=float))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
            start = np.append(np.asarray(pois.params), 0.5)
            nb = sm.NegativeBinomial(y, X, offset=offset, loglike_method="nb2").fit(
                start_params=start, method="newton", maxiter=300, tol=1e-12, disp=0)
        a = float(np.asarray(nb.params)[-1])
    if not np.isfinite(a) or a <= 0:
        raise ValueError("negative binomial dispersion not estimable (no over-dispersion): use the Poisson model")
    return a


def _nb_alpha_weighted(y, X, offset, w) -> float:
    """ML NB2 ``alpha`` on frequency-weighted rows: root of the profile score (NaN when none in (0, 1e6))."""
    import statsmodels.api as sm
    from scipy import optimize

    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
    yi = y.astype(np.int64)
    if (yi != y).any():
        raise ValueError("negative binomial counts must be whole numbers")
    k = np.arange(max(int(yi.max()), 1), dtype=float)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        beta0 = np.asarray(sm.GLM(y, X, family=sm.families.Poisson(), offset=off, freq_weights=w).fit().params)

    def irls(a: float) -> np.ndarray:
        """Weighted IRLS for the NB2 coefficients at fixed ``alpha`` (a few rows: plain NumPy)."""
        beta = beta0
        for _ in range(200):
            mu = np.exp(X @ beta + off)
            wt = w * mu / (1 + a * mu)
            z = X @ beta + (y - mu) / mu
            new = np.linalg.solve(X.T @ (X * wt[:, None]), X.T @ (wt * z))
            if np.max(np.abs(new - beta)) <= 1e-13 * (1 + np.max(np.abs(beta))):
                return new
            beta = new
        return beta

    def score(log_a: float) -> float:
        a = float(np.exp(log_a))
        mu = np.exp(X @ irls(a) + off)
        # digamma(y + 1/a) - digamma(1/a) = sum_{j<y} a / (1 + j a), exact for whole y (no cancellation)
        dig = np.r_[0.0, np.cumsum(a / (1 + k * a))][yi]
        # d loglik / d alpha at the coefficients' ML for this alpha (envelope theorem), times alpha
        d = (np.log1p(a * mu) - dig) / a**2 + (y - mu) / (a * (1 + a * mu))
        return float(np.sum(w * d) * a)

    lo, hi = np.log(1e-6), np.log(1e6)
    s_lo, s_hi = score(lo), score(hi)
    if not (s_lo > 0 > s_hi):
        return np.nan
    return float(np.exp(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)))


def _count_inputs(y, X, offset, freq_weights):
    """Counts, design, offset and frequency weights as float arrays, checked."""
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if (y < 0).any() or not np.isfinite(y).all():
        raise ValueError("counts must be finite and non-negative")
    off = None if offset is None else np.asarray(offset, dtype=float)
    if off is not None and not np.isfinite(off).all():
        raise ValueError("offset must be finite (log of a positive exposure)")
    w = None
    if freq_weights is not None:
        w = np.asarray(freq_weights, dtype=float)
        if w.shape != (len(X),) or not np.isfinite(w).all() or (w <= 0).any() or (w != np.round(w)).any():
            raise ValueError("freq_weights must be one positive whole number per row")
    return y, X, off, w


def _cluster_codes(cluster, n: int) -> np.ndarray:
    """Integer cluster codes (every row its own cluster without ``cluster``)."""
    if cluster is None:
        return np.arange(n)
    cser = pd.Series(np.asarray(cluster))
    if cser.isna().any():
        raise ValueError(f"cluster has {int(cser.isna().sum())} missing labels")
    return pd.factorize(cser)[0]


def fit_count_model(y, X, *, family: str = "poisson", offset=None, cluster=None, cov_type: str = "HC1",
                    names=None, freq_weights=None) -> CountModelResults:
    """Array interface of :func:`count_model` (``X`` includes the intercept column).

    ``freq_weights`` (positive integers) fits collapsed data: row ``i`` stands for
    ``freq_weights[i]`` identical rows, and a cluster (rows sharing a ``cluster``
    label, all with the same weight ``w``) for ``w`` identical clusters; without
    ``cluster`` every row is its own cluster. Estimates, standard errors and the
    small-sample factors (``N`` and ``G`` counted in expanded rows and clusters)
    are those of the expanded data, at a cost that depends on the number of
    distinct rows only.
    """
    import statsmodels.api as sm

    if family not in ("poisson", "negbin"):
        raise ValueError(f"family must be 'poisson' or 'negbin', got {family!r}")
    if cov_type not in _COV_TYPES:
        raise ValueError(f"cov_type must be one of {_COV_TYPES}, got {cov_type!r}")
    y, X, off, w = _count_inputs(y, X, offset, freq_weights)
    n, p = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(p)]
    nb_alpha = np.nan
    if family == "poisson":
        fam = sm.families.Poisson()
    else:
        nb_alpha = nb_dispersion(y, X, off, freq_weights=w)
        fam = sm.families.NegativeBinomial(alpha=nb_alpha)
    groups = _cluster_codes(cluster, n)
    if w is not None:
        return _fit_weighted(y, X, fam, off, w, groups, cluster is not None, cov_type, names, family, nb_alpha)
    kw: dict = {"cov_type": "nonrobust"}
    if cov_type != "nonrobust":
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups, "use_correction": cov_type == "HC1",
                                                  "df_correction": False}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=fam, offset=off).fit(tol=1e-12, maxiter=200, **kw)
    V = np.asarray(res.cov_params(), dtype=float)
    G = int(groups.max()) + 1
    if cov_type == "HC0" and cluster is not None:
        V = V * G / (G - 1)  # vcovCL's cadjust G/(G-1), without the (N-1)/(N-K) of HC1
    return _results(res, V, names, n, G, cluster is not None, cov_type, family, nb_alpha)


def _results(res, V, names, n, G, clustered, cov_type, family, nb_alpha) -> CountModelResults:
    idx = pd.Index(names)
    what = {"HC1": "cluster-robust SE, HC1: G/(G-1)(N-1)/(N-K)", "HC0": "cluster-robust SE, HC0: G/(G-1)",
            "nonrobust": "model-based SE"}[cov_type]
    if not clustered and cov_type != "nonrobust":
        what = {"HC1": "robust SE, HC1: N/(N-K)", "HC0": "robust SE, HC0"}[cov_type]
    label = "Poisson" if family == "poisson" else f"negative binomial (NB2, alpha = {nb_alpha:.4g} by ML)"
    return CountModelResults(
        params=pd.Series(np.asarray(res.params), index=idx, name="estimate"),
        cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method=f"{label} log-linear model, {what}", n_obs=n, model=res,
        family=family, nb_alpha=nb_alpha, cov_type=cov_type, n_clusters=G,
    )


def _fit_weighted(y, X, fam, off, w, groups, clustered, cov_type, names, family, nb_alpha) -> CountModelResults:
    """:func:`fit_count_model` on frequency-weighted rows: the expanded data's estimates and sandwich."""
    import statsmodels.api as sm

    cw = np.zeros(int(groups.max()) + 1)
    cw[groups] = w
    if (cw[groups] != w).any():
        raise ValueError("freq_weights must be the same on every row of a cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=fam, offset=off, freq_weights=w).fit(tol=1e-12, maxiter=200)
    N, G, K = float(w.sum()), float(cw.sum()), X.shape[1]
    if cov_type == "nonrobust":
        V = np.asarray(res.cov_params(), dtype=float)
    else:
        a = 0.0 if family == "poisson" else nb_alpha
        mu = np.asarray(res.mu, dtype=float)
        # observed information (as statsmodels' sandwich) and per-cluster scores of one copy of each cluster
        hess = X.T @ (X * (w * mu * (1 + a * y) / (1 + a * mu) ** 2)[:, None])
        bread = np.linalg.inv(hess)
        u = np.zeros((len(cw), K))
        np.add.at(u, groups, X * ((y - mu) / (1 + a * mu))[:, None])
        meat = u.T @ (u * cw[:, None])
        V = bread @ meat @ bread
        if cov_type == "HC1":
            V = V * (G / (G - 1)) * (N - 1) / (N - K)
        elif clustered:
            V = V * G / (G - 1)  # vcovCL's HC0: G/(G-1) only; the unclustered HC0 has no factor
    return _results(res, V, names, int(N), int(G), clustered, cov_type, family, nb_alpha)


def count_model(formula: str, data: pd.DataFrame, *, family: str = "poisson", offset=None, cluster=None,
                cov_type: str = "HC1") -> CountModelResults:
    """Poisson or negative binomial (NB2) rate model, as ``glm(..., family = poisson)`` / ``MASS::glm.nb``.

    Parameters
    ----------
    formula : str
        e.g. ``"events ~ after"``.
    data : DataFrame
    family : {"poisson", "negbin"}
    offset : str or array-like, optional
        Column name (or values) of the offset, usually ``log(exposure)``.
    cluster : str or array-like, optional
        Column name (or values) of the cluster labels for the sandwich
        covariance (e.g. a person seen in two periods).
    cov_type : {"HC1", "HC0", "nonrobust"}
        Small-sample correction of the sandwich (see the module notes).

    Returns
    -------
    CountModelResults
        ``params``, ``bse``, ``conf_int(alpha)``, ``summary``, ``rate_ratios``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"y": [0, 2, 1, 4, 0, 3], "after": [0, 1] * 3, "id": [1, 1, 2, 2, 3, 3]})
    >>> fit = count_model("y ~ after", df, cluster="id")
    >>> round(float(np.exp(fit.params["after"])), 4)
    9.0
    """
    cl = _column(data, cluster, "cluster")
    off = _column(data, offset, "offset")
    y, X, names, _ = design_from_formula(formula, data)
    return fit_count_model(y, X, family=family, offset=None if off is None else np.asarray(off, dtype=float),
                           cluster=cl, cov_type=cov_type, names=names)

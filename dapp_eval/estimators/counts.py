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

from ._base import EstimatorResults, _column, design_from_formula

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


def nb_dispersion(y, X, offset=None) -> float:
    """Maximum-likelihood NB2 dispersion ``alpha`` (``1 / theta`` of ``MASS::glm.nb``).

    Raises ``ValueError`` when the counts show no over-dispersion (the ML
    estimate is on the boundary ``alpha = 0``; use the Poisson model).
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
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


def fit_count_model(y, X, *, family: str = "poisson", offset=None, cluster=None, cov_type: str = "HC1",
                    names=None) -> CountModelResults:
    """Array interface of :func:`count_model` (``X`` includes the intercept column)."""
    import statsmodels.api as sm

    if family not in ("poisson", "negbin"):
        raise ValueError(f"family must be 'poisson' or 'negbin', got {family!r}")
    if cov_type not in _COV_TYPES:
        raise ValueError(f"cov_type must be one of {_COV_TYPES}, got {cov_type!r}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(p)]
    if (y < 0).any() or not np.isfinite(y).all():
        raise ValueError("counts must be finite and non-negative")
    off = None if offset is None else np.asarray(offset, dtype=float)
    if off is not None and not np.isfinite(off).all():
        raise ValueError("offset must be finite (log of a positive exposure)")
    nb_alpha = np.nan
    if family == "poisson":
        fam = sm.families.Poisson()
    else:
        nb_alpha = nb_dispersion(y, X, off)
        fam = sm.families.NegativeBinomial(alpha=nb_alpha)
    if cluster is None:
        groups = np.arange(n)
    else:
        cser = pd.Series(np.asarray(cluster))
        if cser.isna().any():
            raise ValueError(f"cluster has {int(cser.isna().sum())} missing labels")
        groups = pd.factorize(cser)[0]
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
    idx = pd.Index(names)
    what = {"HC1": "cluster-robust SE, HC1: G/(G-1)(N-1)/(N-K)", "HC0": "cluster-robust SE, HC0: G/(G-1)",
            "nonrobust": "model-based SE"}[cov_type]
    if cluster is None and cov_type != "nonrobust":
        what = {"HC1": "robust SE, HC1: N/(N-K)", "HC0": "robust SE, HC0"}[cov_type]
    label = "Poisson" if family == "poisson" else f"negative binomial (NB2, alpha = {nb_alpha:.4g} by ML)"
    return CountModelResults(
        params=pd.Series(np.asarray(res.params), index=idx, name="estimate"),
        cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method=f"{label} log-linear model, {what}", n_obs=n, model=res,
        family=family, nb_alpha=nb_alpha, cov_type=cov_type, n_clusters=G,
    )


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

"""Generalised estimating equations with geepack's handling of weights.

:func:`gee` fits the marginal model ``g(E[y]) = X beta`` with an independence
or exchangeable working correlation within clusters and returns robust
(sandwich) standard errors, as R's ``geepack::geeglm`` does.

Why not statsmodels' GEE
------------------------
With an independence working correlation statsmodels and geepack agree, but
with weights and an exchangeable correlation they solve different equations:
statsmodels puts the weights outside the inverse working covariance
(``D' V^-1 W r``) and requires them to be constant within a cluster; geepack
(``geesubs.cc``, ``HiandGi``/``update_beta``) uses per-observation weights
symmetrically, ``D' W^1/2 R^-1 W^1/2 r``, and estimates the scale and the
correlation from weighted moments. For inverse-probability-of-response
weights, which change from wave to wave within a person, the two differ by
about 2% in the coefficients. This module implements geepack's equations:

* Pearson residuals ``r = (y - mu) / sqrt(v(mu))`` and
  ``D = diag(dmu/deta / sqrt(v(mu))) X``;
* beta solves ``sum_i D_i' W_i^1/2 R_i^-1 W_i^1/2 r_i = 0`` (Fisher scoring);
* scale ``phi = sum w r^2 / sum w`` (no degrees-of-freedom correction);
* exchangeable correlation
  ``alpha = sum_i sum_{j<k} w_j w_k r_j r_k / (phi sum_i sum_{j<k} w_j w_k)``
  (clusters of size one contribute nothing);
* robust covariance ``A^-1 (sum_i U_i U_i') A^-1`` with
  ``A = sum_i D_i' W_i^1/2 R_i^-1 W_i^1/2 D_i`` and ``U_i`` the cluster's
  score; the naive (model-based) covariance is ``phi A^-1``.

The solution equals ``geeglm(..., weights = w, corstr = "exchangeable")`` to
1e-8 on the package's reference data (``tests/reference/gee_reference.R``).
Clusters are formed from the labels in ``groups`` wherever the rows are;
geepack needs the data sorted by id to form the same clusters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dapp_eval.estimators._base import EstimatorResults, _column, design_from_formula

__all__ = ["GEEResults", "fit_gee", "gee"]

_COV_STRUCTS = ("independence", "exchangeable")


def _family(family):
    import statsmodels.api as sm

    if isinstance(family, str):
        fams = {"binomial": sm.families.Binomial, "poisson": sm.families.Poisson,
                "gaussian": sm.families.Gaussian}
        if family not in fams:
            raise ValueError(f"family must be one of {sorted(fams)} or a statsmodels family, got {family!r}")
        return fams[family]()
    return family


@dataclass(repr=False)
class GEEResults(EstimatorResults):
    """Result of :func:`gee`: ``params``, ``bse`` (robust), ``conf_int(alpha)``, ``summary``.

    Extra attributes: ``cov_robust`` and ``cov_naive`` (DataFrames), ``scale``
    (geepack's ``phi``), ``dep_params`` (the exchangeable correlation; 0 under
    independence), ``n_groups``, ``n_iter``.
    """

    cov_naive: pd.DataFrame | None = None
    scale: float = np.nan
    dep_params: float = 0.0
    n_groups: int = 0
    n_iter: int = 0

    @property
    def cov_robust(self) -> pd.DataFrame:
        return self.cov_params


def _cluster_sums(gid: np.ndarray, n_groups: int, M: np.ndarray) -> np.ndarray:
    """Per-cluster column sums of M (n x k) -> (n_groups x k).

    One ``bincount`` per column: it adds the rows in the same order as ``np.add.at`` (so the same sums,
    bit for bit) at a fraction of its cost on a million rows.
    """
    return np.column_stack([np.bincount(gid, weights=M[:, j], minlength=n_groups) for j in range(M.shape[1])]) \
        if M.shape[1] else np.zeros((n_groups, 0))


def _patterns(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of M (n x k): ``(inverse, representative, count)``.

    ``inverse[i]`` numbers row i's pattern, ``M[representative]`` holds one row per pattern and
    ``count`` how many rows share it. Hashing (``pd.factorize``) column by column, O(n).
    """
    n = M.shape[0]
    key = np.zeros(n, dtype=np.int64)
    card = 1
    for j in range(M.shape[1]):
        codes, uniq = pd.factorize(M[:, j])
        if card * max(len(uniq), 1) >= 2**62:  # keep the mixed-radix key inside int64
            key, kept = pd.factorize(key)
            card = len(kept)
        key = key * len(uniq) + codes
        card *= max(len(uniq), 1)
    inverse, kept = pd.factorize(key)
    rep = np.empty(len(kept), dtype=np.int64)
    rep[inverse] = np.arange(n)  # any row of a pattern will do: they are equal
    return inverse, rep, np.bincount(inverse, minlength=len(kept)).astype(float)


def _check_inputs(y, X, groups, weights, offset):
    y = np.asarray(y, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float).ravel()
    if len(y) != n or len(w) != n or len(off) != n:
        raise ValueError("y, X, weights and offset must have one entry per observation")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError("weights must be finite and positive")
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise ValueError("y and X must be finite (drop missing values before fitting)")
    gser = pd.Series(np.asarray(groups))
    if gser.isna().any():
        raise ValueError(f"groups has {int(gser.isna().sum())} missing labels")
    gid, glabels = pd.factorize(gser, sort=False)
    return y, X, w, off, gid, len(glabels)


def _inverse(A):
    """Inverse of A; the pseudo-inverse when A is singular (a separated or collinear fit), as statsmodels."""
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A)


def _pearson(fam, y, X, off, beta):
    """Pearson residuals r = (y - mu) / sqrt(v) and D = diag(dmu/deta / sqrt(v)) X."""
    eta = X @ beta + off
    mu = fam.link.inverse(eta)
    v = fam.variance(mu)
    dmu = fam.link.inverse_deriv(eta)
    return (y - mu) / np.sqrt(v), (dmu / np.sqrt(v))[:, None] * X


def _moments(w, r, gid, G, exch):
    """geepack's weighted moment estimates of the scale and (exchangeable) correlation."""
    phi = float(np.sum(w * r**2) / np.sum(w))
    if not exch:
        return phi, 0.0
    sums = _cluster_sums(gid, G, np.column_stack([w * r, w**2 * r**2, w, w**2]))
    num = 0.5 * np.sum(sums[:, 0] ** 2 - sums[:, 1])  # sum over pairs j<k of w_j w_k r_j r_k
    den = 0.5 * np.sum(sums[:, 2] ** 2 - sums[:, 3])  # sum over pairs j<k of w_j w_k
    return phi, (float(num / (phi * den)) if den > 0 else 0.0)


def _equations(w, D, r, gid, G, a):
    """A = sum D' W^1/2 R^-1 W^1/2 D and the per-cluster scores U_i = D_i' W^1/2 R^-1 W^1/2 r_i.

    For an exchangeable R of size m, W^1/2 R^-1 W^1/2 = (W - c s s') / (1 - a) with s = sqrt(w) and
    c = a / (1 + (m - 1) a), so everything reduces to per-cluster sums.
    """
    WD = w[:, None] * D
    A = D.T @ WD
    Ui = _cluster_sums(gid, G, WD * r[:, None])
    if a != 0.0:
        sw = np.sqrt(w)
        m = np.bincount(gid, minlength=G).astype(float)
        c = a / (1.0 + (m - 1.0) * a)
        Ds = _cluster_sums(gid, G, sw[:, None] * D)
        sr = np.bincount(gid, weights=sw * r, minlength=G)
        A = (A - (Ds * c[:, None]).T @ Ds) / (1.0 - a)
        Ui = (Ui - (c * sr)[:, None] * Ds) / (1.0 - a)
    return A, Ui


def fit_gee(y, X, groups, *, family="binomial", cov_struct: str = "independence", weights=None, offset=None,
            names=None, tol: float = 1e-10, maxiter: int = 100) -> GEEResults:
    """Fit a GEE on arrays (see :func:`gee` for the formula interface).

    Parameters
    ----------
    y : array-like, shape (n,)
    X : array-like, shape (n, p)
        Design matrix including the intercept column.
    groups : array-like, shape (n,)
        Cluster labels.
    family : {"binomial", "poisson", "gaussian"} or statsmodels family
        Canonical link unless the statsmodels family says otherwise.
    cov_struct : {"independence", "exchangeable"}
    weights : array-like, optional
        Per-observation weights (geepack's ``weights``); may vary within a cluster.
    offset : array-like, optional
    names : list of str, optional
    tol : float
        Convergence when the largest change of a coefficient is below ``tol``.
    maxiter : int

    Returns
    -------
    GEEResults
    """
    if cov_struct not in _COV_STRUCTS:
        raise ValueError(f"cov_struct must be one of {_COV_STRUCTS}, got {cov_struct!r}")
    fam = _family(family)
    y, X, w, off, gid, G = _check_inputs(y, X, groups, weights, offset)
    n, p = X.shape
    names = list(names) if names is not None else [f"x{j}" for j in range(p)]
    exch = cov_struct == "exchangeable"
    if exch:
        yc, Xc, wc, offc, freq = y, X, w, off, None
    else:
        # Independence: the estimating equations are sums over rows, so rows with the same (x, y, weight,
        # offset) are solved as one row with a frequency (exact); only the robust covariance needs each
        # cluster's score, built from the per-pattern contributions at the end.
        inverse, rep, freq = _patterns(np.column_stack([X, y, w, off]))
        yc, Xc, wc, offc = y[rep], X[rep], w[rep], off[rep]
    wf = wc if freq is None else wc * freq
    # start from the weighted GLM (geepack starts from glm.fit with the same weights)
    import statsmodels.api as sm

    beta = np.asarray(sm.GLM(yc, Xc, family=fam, offset=offc, var_weights=wc, freq_weights=freq).fit(tol=1e-8).params,
                      dtype=float)
    n_iter, step = 0, np.full(p, np.inf)
    while np.max(np.abs(step)) >= tol and n_iter < maxiter:
        n_iter += 1
        r, D = _pearson(fam, yc, Xc, offc, beta)
        if exch:
            phi, alpha = _moments(w, r, gid, G, exch)
            A, Ui = _equations(w, D, r, gid, G, alpha)
            score = Ui.sum(axis=0)
        else:
            A, score = D.T @ (wf[:, None] * D), (wf * r) @ D
        step = _inverse(A) @ score
        beta = beta + step
    converged = bool(np.max(np.abs(step)) < tol)
    if not converged:
        # e.g. a level in which every answer is the same: the coefficient runs off to infinity
        warnings.warn(f"GEE did not converge in {maxiter} iterations (largest step {np.max(np.abs(step)):.3g}); "
                      "a coefficient may be infinite (separation)", RuntimeWarning, stacklevel=2)
    r, D = _pearson(fam, yc, Xc, offc, beta)
    if exch:
        phi, alpha = _moments(w, r, gid, G, exch)
        A, Ui = _equations(w, D, r, gid, G, alpha)
    else:
        phi, alpha = float(np.sum(wf * r**2) / np.sum(wf)), 0.0
        A = D.T @ (wf[:, None] * D)
        Ui = _cluster_sums(gid, G, ((wc * r)[:, None] * D)[inverse])
    Ainv = _inverse(A)
    robust = Ainv @ (Ui.T @ Ui) @ Ainv
    idx = pd.Index(names)
    link = type(fam.link).__name__.lower()
    return GEEResults(
        params=pd.Series(beta, index=idx, name="estimate"),
        cov_params=pd.DataFrame(robust, index=idx, columns=idx),
        method=(f"GEE ({type(fam).__name__.lower()} family, {link} link, {cov_struct} working correlation, "
                "geepack weighting, robust sandwich SE)"),
        n_obs=n, info={"family": type(fam).__name__.lower(), "cov_struct": cov_struct,
                       "weighted": weights is not None, "converged": converged},
        cov_naive=pd.DataFrame(phi * Ainv, index=idx, columns=idx), scale=phi, dep_params=alpha,
        n_groups=G, n_iter=n_iter,
    )


def gee(formula: str, data: pd.DataFrame, *, groups, family="binomial", cov_struct: str = "independence",
        weights=None, offset=None, tol: float = 1e-10, maxiter: int = 100) -> GEEResults:
    """Marginal model by GEE, as ``geepack::geeglm(formula, id = groups, weights = weights, corstr = cov_struct)``.

    Parameters
    ----------
    formula : str
        Model formula, e.g. ``"y ~ C(wave)"`` (treatment coding, first level
        the reference, as R).
    data : DataFrame
    groups : str or array-like
        Column name (or values) of the cluster labels.
    family : {"binomial", "poisson", "gaussian"} or statsmodels family
    cov_struct : {"independence", "exchangeable"}
    weights : str or array-like, optional
        Column name (or values) of per-observation weights, used as geepack
        does (see the module notes).
    offset : str or array-like, optional
    tol, maxiter
        Convergence settings.

    Returns
    -------
    GEEResults
        ``params``, ``bse`` (robust), ``conf_int(alpha)``, ``summary``,
        ``cov_robust``, ``cov_naive``, ``scale``, ``dep_params``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1, 0, 1, 1, 0, 0, 1, 0], "t": [0, 1] * 4, "id": [1, 1, 2, 2, 3, 3, 4, 4]})
    >>> fit = gee("y ~ t", df, groups="id", cov_struct="exchangeable")
    >>> fit.params.round(4).tolist()
    [1.0986, -2.1972]
    """
    g = _column(data, groups, "groups")
    w = _column(data, weights, "weights")
    off = _column(data, offset, "offset")
    y, X, names, _ = design_from_formula(formula, data)
    if w is not None:
        w = np.asarray(w, dtype=float)
    if off is not None:
        off = np.asarray(off, dtype=float)
    return fit_gee(y, X, g, family=family, cov_struct=cov_struct, weights=w, offset=off, names=names,
                   tol=tol, maxiter=maxiter)

"""Fast exact REML for random-intercept linear mixed models.

The repeated-measures model of :mod:`dapp_eval.analyses.risk` is

.. math::

    y = X\\beta + b_{\\text{person}} + (b_{\\text{site}}) + \\varepsilon,
    \\quad b_{\\text{person}} \\sim N(0, \\sigma^2\\theta_p^2),
    \\quad b_{\\text{site}} \\sim N(0, \\sigma^2\\theta_s^2),
    \\quad \\varepsilon \\sim N(0, \\sigma^2),

with persons (referral episodes) nested in sites.  This is what R's lme4 fits
with ``lmer(y ~ x + (1 | id), REML = TRUE)`` or ``lmer(y ~ x + (1 | site/id))``,
and :class:`RandomInterceptLMM` reproduces lme4's REML estimates, standard
errors, variance components and REML criterion (to better than 1e-4 in the
package's tests), much faster than a general-purpose mixed-model routine.

Why it is fast (and still exact)
--------------------------------
Within a person with :math:`n_g` observations the scaled covariance is
:math:`I + \\gamma_p J` (:math:`\\gamma_p=\\theta_p^2`), whose inverse
:math:`I - \\gamma_p/(1+\\gamma_p n_g) J` and determinant
:math:`1+\\gamma_p n_g` are closed forms.  A site random intercept adds a
rank-one term per site, handled by the Sherman-Morrison formula.  Every
quantity in the REML criterion (:math:`X'V^{-1}X`, :math:`X'V^{-1}y`,
:math:`y'V^{-1}y`, :math:`\\log|V|`) is therefore a weighted sum of
per-person sums of ``[X, y]`` and their cross-products, where the weight
depends only on the person's number of observations.  These sufficient
statistics are collected once in one pass over the data (O(N p^2)); each
evaluation of the profiled REML criterion then costs O(K p^2 + S K p) for K
distinct cluster sizes and S sites, independent of N.  The variance ratios are
optimised by bracketing on a log grid plus Brent's method (nested for the
two-parameter model), so no approximation is involved: the optimum is the exact
REML optimum to the optimiser's tolerance.

The REML criterion reported is lme4's: ``-2 * restricted log-likelihood``
with :math:`\\sigma` profiled out,

.. math::

    \\log|V_*| + \\log|X'V_*^{-1}X| + (N-p)\\,[1 + \\log(2\\pi r^2/(N-p))],

with :math:`V_* = V/\\sigma^2` and :math:`r^2 = (y-X\\hat\\beta)'V_*^{-1}(y-X\\hat\\beta)`.

Degrees of freedom for tests and intervals are Satterthwaite's, computed as
lmerTest does (numerical Hessian of the REML deviance in
:math:`(\\theta, \\sigma)` and numerical Jacobian of the fixed-effect
covariance), or asymptotic (normal) on request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from dapp_eval.results import check_alpha

__all__ = ["RandomInterceptLMM", "design_matrix"]

_LOG2PI = np.log(2 * np.pi)


def design_matrix(
    frame: pd.DataFrame,
    terms: Sequence[str],
    *,
    levels: dict[str, Sequence] | None = None,
    intercept: bool = True,
) -> pd.DataFrame:
    """Treatment-coded fixed-effects design matrix, as R's ``model.matrix``.

    Categorical (object, category, bool) terms get one indicator column per
    level except the first (the reference); numeric terms enter as they are.
    Column names follow patsy: ``"timepoint[T.exit]"``.

    Parameters
    ----------
    frame : DataFrame
        Data, one row per observation.
    terms : sequence of str
        Column names of ``frame`` to enter as main effects.
    levels : dict, optional
        Level order per categorical term (first = reference). Default: sorted
        levels present in the data.
    intercept : bool
        Include an ``Intercept`` column.

    Returns
    -------
    DataFrame
        Float design matrix with the same index as ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"timepoint": ["intake", "exit", "intake"]})
    >>> design_matrix(df, ["timepoint"], levels={"timepoint": ["intake", "exit"]}).columns.tolist()
    ['Intercept', 'timepoint[T.exit]']
    """
    levels = dict(levels or {})
    cols: dict[str, np.ndarray] = {}
    if intercept:
        cols["Intercept"] = np.ones(len(frame))
    for term in terms:
        if term not in frame.columns:
            raise KeyError(f"design_matrix: column '{term}' not in the data")
        x = frame[term]
        is_cat = (
            isinstance(x.dtype, pd.CategoricalDtype)
            or x.dtype == object
            or pd.api.types.is_bool_dtype(x)
            or pd.api.types.is_string_dtype(x)
        )
        if is_cat:
            if x.isna().any():
                raise ValueError(f"design_matrix: column '{term}' has missing values")
            lv = list(levels.get(term, sorted(pd.unique(x.astype(str)))))
            xs = x.astype(str)
            unknown = set(pd.unique(xs)) - {str(v) for v in lv}
            if unknown:
                raise ValueError(f"design_matrix: column '{term}' has levels {sorted(unknown)} not in {lv}")
            for lev in lv[1:]:
                cols[f"{term}[T.{lev}]"] = (xs == str(lev)).to_numpy(dtype=float)
        else:
            v = pd.to_numeric(x, errors="raise").to_numpy(dtype=float)
            if np.isnan(v).any():
                raise ValueError(f"design_matrix: column '{term}' has missing values")
            cols[term] = v
    return pd.DataFrame(cols, index=frame.index)


def _gram(Z: np.ndarray, block: int = 256) -> np.ndarray:
    """``Z'Z`` summed over blocks of rows.

    One ``Z.T @ Z`` on 10^5 rows and 20-odd columns is large enough for OpenBLAS to start its threads,
    and on a busy 2-core machine they spin: measured 4.9 s of CPU for a product that takes 0.01 s on one
    thread. Blocks of 256 rows stay under its threading threshold (the same sums, in another order).
    """
    out = np.zeros((Z.shape[1], Z.shape[1]))
    for i in range(0, len(Z), block):
        B = Z[i:i + block]
        out += B.T @ B
    return out


def _design_inputs(y, X, names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Response and fixed-effects design as finite float arrays, with the column names."""
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
        X = X.to_numpy(dtype=float)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError("X must be 2-D with one row per observation of y")
    names = [f"x{j}" for j in range(X.shape[1])] if names is None else list(names)
    if len(names) != X.shape[1]:
        raise ValueError("names must have one entry per column of X")
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise ValueError("y and X must be finite (drop missing scores before fitting)")
    return y, X, names


def _check_identifiable(X: np.ndarray, n: int, p: int, n_groups: int) -> None:
    """Refuse designs whose fixed effects or variance components cannot be estimated (as lme4 does)."""
    if np.linalg.matrix_rank(X) < p:
        raise ValueError("the fixed-effects design X is rank deficient (a level with no observations?)")
    if n - p <= 0:
        raise ValueError("too few observations for the number of fixed effects")
    if n_groups >= n:
        raise ValueError(
            f"the person and residual variances cannot be told apart: no group has two observations "
            f"({n_groups} groups for {n} observations). lme4 refuses this too ('number of levels of each "
            "grouping factor must be < number of observations'); fit an ordinary linear model instead")


def _site_sums(sites, gid: np.ndarray, n_groups: int, kidx: np.ndarray, K: int, Gs: np.ndarray):
    """Per-site sums of the person sums by group size (for ``(1 | site/id)``): ``(R, cnt, n_sites)``."""
    if sites is None:
        raise ValueError("site_effect=True needs site labels")
    n, q = len(gid), Gs.shape[1]
    sid, slabels = pd.factorize(pd.Series(np.asarray(sites)), sort=False)
    if (sid < 0).any():
        raise ValueError("sites has missing labels")
    n_sites = len(slabels)
    if n_sites >= n:
        raise ValueError(f"the site and residual variances cannot be told apart: {n_sites} sites for {n} "
                         "observations (lme4: 'number of levels of each grouping factor must be < number "
                         "of observations')")
    gsite = np.full(n_groups, -1)
    gsite[gid] = sid
    if (gsite[gid] != sid).any():
        raise ValueError("persons must be nested in sites: a person appears in more than one site")
    sk = gsite * K + kidx
    R = np.column_stack(
        [np.bincount(sk, weights=Gs[:, j], minlength=n_sites * K) for j in range(q)]
    ).reshape(n_sites, K, q)
    cnt = np.bincount(sk, minlength=n_sites * K).reshape(n_sites, K).astype(float)
    return R, cnt, n_sites


class RandomInterceptLMM:
    """Random-intercept linear mixed model fitted by exact REML.

    Settings go in the constructor, data in :meth:`fit` (which returns
    ``self``); fitted values are attributes ending in ``_``.

    Parameters
    ----------
    site_effect : bool
        Add a random intercept per site, with persons nested in sites
        (lme4: ``(1 | site/id)``). Otherwise one random intercept per person
        (``(1 | id)``); site can then enter ``X`` as fixed effects.
    tol : float
        Absolute tolerance of Brent's method on ``log(theta)``.

    Attributes
    ----------
    params_, bse_ : Series
        Fixed effects and their standard errors (from
        ``sigma^2 (X'V_*^{-1}X)^{-1}``, as lme4's ``vcov``).
    cov_params_ : DataFrame
        Covariance matrix of the fixed effects.
    sigma2_ : float
        Residual variance.
    theta_ : ndarray
        Relative standard deviations (person[, site]) as lme4's ``getME(m, "theta")``
        (lme4 orders them ``id:site`` then ``site`` for ``(1|site/id)``).
    variance_components_ : DataFrame
        ``component``, ``variance``, ``sd`` for person, (site,) residual.
    reml_criterion_ : float
        ``-2`` times the restricted log-likelihood (lme4's ``REMLcrit``).
    singular_ : bool
        The fit is on a boundary of the parameter space: a random-intercept
        variance at zero (relative SD below 1e-4, lme4's ``isSingular``) or
        the residual variance at zero (relative SD above 1e3).
    singular_reasons_ : list of str
        Which boundary, in plain words (empty when not singular).
    n_obs_, n_groups_, n_sites_ : int
        Numbers of observations, persons and sites.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(200), 3)
    >>> t = np.tile([0.0, 1.0, 2.0], 200)
    >>> y = 10 - t + rng.normal(0, 2, 200)[g] + rng.normal(0, 1, 600)
    >>> X = np.column_stack([np.ones(600), t])
    >>> m = RandomInterceptLMM().fit(y, X, g, names=["Intercept", "t"])
    >>> bool(abs(m.params_["t"] + 1) < 0.2), m.variance_components_["component"].tolist()
    (True, ['person', 'residual'])
    """

    def __init__(self, *, site_effect: bool = False, tol: float = 1e-11, alpha: float = 0.05,
                 df: str = "satterthwaite"):
        self.site_effect = bool(site_effect)
        self.tol = float(tol)
        self.alpha = check_alpha(alpha)
        if df not in ("satterthwaite", "asymptotic"):
            raise ValueError("df must be 'satterthwaite' or 'asymptotic'")
        self.df = df

    # ------------------------------------------------------------------ fit
    def fit(self, y, X, groups, sites=None, *, names: Sequence[str] | None = None) -> RandomInterceptLMM:
        """Fit the model by REML.

        Parameters
        ----------
        y : array-like, shape (N,)
            Response.
        X : array-like or DataFrame, shape (N, p)
            Fixed-effects design (include the intercept column yourself, e.g.
            with :func:`design_matrix`). Must have full column rank.
        groups : array-like, shape (N,)
            Person (cluster) labels.
        sites : array-like, shape (N,), optional
            Site labels; required when ``site_effect=True``. Persons must be
            nested in sites (each person in one site).
        names : sequence of str, optional
            Names of the columns of ``X`` (default: DataFrame columns or
            ``x0, x1, ...``).

        Returns
        -------
        self
        """
        y, X, names = _design_inputs(y, X, names)
        n, p = X.shape
        gid, glabels = pd.factorize(pd.Series(np.asarray(groups)), sort=False)
        if (gid < 0).any():
            raise ValueError("groups has missing labels")
        n_groups = len(glabels)
        _check_identifiable(X, n, p, n_groups)

        Z = np.column_stack([X, y])
        q = p + 1
        ZtZ = _gram(Z)
        ng = np.bincount(gid, minlength=n_groups)
        Gs = np.column_stack([np.bincount(gid, weights=Z[:, j], minlength=n_groups) for j in range(q)])
        sizes, kidx = np.unique(ng, return_inverse=True)
        K = len(sizes)
        Q = np.empty((K, q, q))
        for k in range(K):
            Q[k] = _gram(Gs[kidx == k])
        count_k = np.bincount(kidx, minlength=K).astype(float)

        if self.site_effect:
            R, cnt, n_sites = _site_sums(sites, gid, n_groups, kidx, K, Gs)
        else:
            n_sites = 0 if sites is None else len(pd.unique(np.asarray(sites)))
            R = cnt = None

        self._suff = dict(n=n, p=p, q=q, ZtZ=ZtZ, sizes=sizes.astype(float), Q=Q, count_k=count_k, R=R, cnt=cnt)
        self.n_obs_, self.n_groups_, self.n_sites_ = n, n_groups, n_sites
        self.exog_names_ = names

        theta = self._optimise()
        self._finish(theta)
        return self

    # ------------------------------------------------------- core algebra
    def _cross(self, theta):
        """Return (M, logdetV) where M = [X y]' V_*^{-1} [X y]."""
        s = self._suff
        gp = theta[0] ** 2
        c = 1.0 / (1.0 + gp * s["sizes"])
        w = gp * c
        M = s["ZtZ"] - np.tensordot(w, s["Q"], axes=1)
        logdet = float(np.dot(s["count_k"], np.log1p(gp * s["sizes"])))
        if self.site_effect:
            gs = theta[1] ** 2
            T = np.tensordot(s["R"], c, axes=([1], [0]))  # (S, q)
            m = s["cnt"] @ (s["sizes"] * c)  # (S,)
            h = gs / (1.0 + gs * m)
            M = M - (T * h[:, None]).T @ T
            logdet += float(np.log1p(gs * m).sum())
        return M, logdet

    def _profile(self, theta):
        """Profiled REML pieces at theta: dict with deviance, beta, r2, L (Cholesky), logdet."""
        s = self._suff
        p, n = s["p"], s["n"]
        M, logdetV = self._cross(theta)
        A = M[:p, :p]
        b = M[:p, p]
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            return None
        beta = np.linalg.solve(A, b)
        r2 = float(M[p, p] - b @ beta)
        if not r2 > 0:
            return None
        logdetA = 2.0 * float(np.log(np.diag(L)).sum())
        dev = logdetV + logdetA + (n - p) * (1.0 + np.log(2 * np.pi * r2 / (n - p)))
        return dict(deviance=dev, beta=beta, r2=r2, A=A, logdetV=logdetV, logdetA=logdetA)

    def reml_deviance(self, theta) -> float:
        """Profiled REML criterion at relative SDs ``theta`` (lme4's ``devfun``)."""
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        out = self._profile(np.abs(theta))
        return np.inf if out is None else out["deviance"]

    def _deviances(self, thetas: np.ndarray) -> np.ndarray:
        """:meth:`reml_deviance` at each row of ``thetas`` (G x 1 or G x 2), in one pass of array algebra.

        The same formulas as :meth:`_cross` and :meth:`_profile` on stacked matrices, the small Cholesky
        factorisations and solves included (one stacked call; one by one only when a matrix is not positive
        definite), so a grid costs a fraction of its single evaluations. Only the bracketing grid of
        :meth:`_min1d` uses it; the values may differ from the one-at-a-time ones in the last bit (another
        summation order), which can move the bracket only between two grid points of
        equal deviance. On the shipped data the estimates are bitwise identical either way.
        """
        s = self._suff
        p, n = s["p"], s["n"]
        th = np.abs(np.asarray(thetas, dtype=float))
        gp = th[:, 0] ** 2
        c = 1.0 / (1.0 + gp[:, None] * s["sizes"][None, :])                 # (G, K)
        M = s["ZtZ"][None] - np.tensordot(gp[:, None] * c, s["Q"], axes=1)  # (G, q, q)
        logdet = np.log1p(gp[:, None] * s["sizes"][None, :]) @ s["count_k"]
        if self.site_effect:
            gs = th[:, 1] ** 2
            T = np.einsum("skq,gk->gsq", s["R"], c)                          # (G, S, q)
            m = (c * s["sizes"][None, :]) @ s["cnt"].T                        # (G, S)
            h = gs[:, None] / (1.0 + gs[:, None] * m)
            M = M - np.einsum("gsq,gs,gsr->gqr", T, h, T)
            logdet = logdet + np.log1p(gs[:, None] * m).sum(axis=1)
        A, b = M[:, :p, :p], M[:, :p, p]
        try:  # all at once (the same LAPACK calls per matrix); one by one when one is not positive definite
            L = np.linalg.cholesky(A)
            beta = np.linalg.solve(A, b[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            L = None
        if L is not None:
            r2 = M[:, p, p] - np.einsum("gi,gi->g", b, beta)
            logdetA = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                dev = logdet + logdetA + (n - p) * (1.0 + np.log(2 * np.pi * r2 / (n - p)))
            return np.where(r2 > 0, dev, np.inf)
        out = np.full(len(th), np.inf)
        for g in range(len(th)):  # Cholesky one by one: a matrix that is not positive definite gives inf
            try:
                L = np.linalg.cholesky(A[g])
            except np.linalg.LinAlgError:
                continue
            beta = np.linalg.solve(A[g], b[g])
            r2 = float(M[g, p, p] - b[g] @ beta)
            if r2 > 0:
                out[g] = (logdet[g] + 2.0 * float(np.log(np.diag(L)).sum())
                          + (n - p) * (1.0 + np.log(2 * np.pi * r2 / (n - p))))
        return out

    def _min1d(self, f, grid_values=None):
        """Minimise f(theta) over theta >= 0: log-grid bracket + Brent (``grid_values(grid)``: f on the grid at once)."""
        grid = np.concatenate([[0.0], np.logspace(-4, 4, 49)])
        vals = np.asarray(grid_values(grid), dtype=float) if grid_values else np.array([f(t) for t in grid])
        i = int(np.argmin(vals))
        if i == 0:
            # optimum at or near the boundary: refine on [0, grid[1]]
            with np.errstate(invalid="ignore", over="ignore"):  # f is inf where the model is singular
                res = optimize.minimize_scalar(f, bounds=(0.0, grid[1]), method="bounded",
                                               options={"xatol": 1e-12})
            # snap to the boundary unless the interior point is better beyond rounding noise
            return (res.x, res.fun) if res.fun < vals[0] - 1e-9 else (0.0, vals[0])
        lo = np.log(grid[i - 1]) if i > 1 else np.log(grid[1]) - 3.0
        hi = np.log(grid[min(i + 1, len(grid) - 1)])
        if i == len(grid) - 1:
            hi = np.log(grid[-1]) + 5.0
        with np.errstate(invalid="ignore", over="ignore"):  # f is inf where the model is singular: Brent steps away
            res = optimize.minimize_scalar(lambda u: f(np.exp(u)), bracket=None, bounds=(lo, hi),
                                           method="bounded", options={"xatol": self.tol})
        t = float(np.exp(res.x))
        if vals[0] < res.fun:
            return 0.0, vals[0]
        return t, float(res.fun)

    def _optimise(self) -> np.ndarray:
        if not self.site_effect:
            t, _ = self._min1d(lambda t: self.reml_deviance([t]), lambda g: self._deviances(g[:, None]))
            self.n_eval_ = None
            return np.array([t])

        def inner(ts):
            return self._min1d(lambda tp: self.reml_deviance([tp, ts]),
                               lambda g: self._deviances(np.column_stack([g, np.full(len(g), ts)])))

        ts, _ = self._min1d(lambda ts: inner(ts)[1])
        tp, _ = inner(ts)
        return np.array([tp, ts])

    def _finish(self, theta):
        s = self._suff
        out = self._profile(theta)
        if out is None:
            raise RuntimeError("REML fit failed: the variance matrix is not positive definite")
        n, p = s["n"], s["p"]
        self.theta_ = np.asarray(theta, dtype=float)
        sigma2 = out["r2"] / (n - p)
        Ainv = np.linalg.inv(out["A"])
        names = self.exog_names_
        self.sigma2_ = float(sigma2)
        self.params_ = pd.Series(out["beta"], index=names, name="estimate")
        self.cov_params_ = pd.DataFrame(sigma2 * Ainv, index=names, columns=names)
        self.bse_ = pd.Series(np.sqrt(np.diag(sigma2 * Ainv)), index=names, name="std_error")
        self.reml_criterion_ = float(out["deviance"])
        comps = [("person", sigma2 * theta[0] ** 2)]
        if self.site_effect:
            comps.append(("site", sigma2 * theta[1] ** 2))
        comps.append(("residual", sigma2))
        self.variance_components_ = pd.DataFrame(
            {"component": [c for c, _ in comps], "variance": [v for _, v in comps]}
        ).assign(sd=lambda d: np.sqrt(d["variance"]))
        # lme4's isSingular(): a relative SD below 1e-4 puts a random-effect variance on its boundary (zero).
        # The other boundary, residual variance -> 0, shows as a very large relative SD (lme4 cannot go there
        # and stops); 1e3 means the residual variance is below a millionth of the person variance.
        reasons = []
        labels = ["person"] + (["site"] if self.site_effect else [])
        for lab, t in zip(labels, self.theta_, strict=True):
            if t < 1e-4:
                reasons.append(f"the {lab} variance is estimated at (or next to) zero")
        if self.theta_[0] > 1e3:
            reasons.append("the residual variance is estimated at (or next to) zero: the scores of each person "
                           "barely vary, so person and residual variance are not separately identified")
        self.singular_ = bool(reasons)
        self.singular_reasons_ = reasons
        self._hess = None

    # ------------------------------------------------ Satterthwaite machinery
    def _varpar_deviance(self, phi) -> float:
        """REML deviance as a function of (theta..., sigma), not profiled (lmerTest's devfun_vp)."""
        s = self._suff
        nt = len(self.theta_)
        theta, sigma = np.abs(phi[:nt]), phi[nt]
        out = self._profile(theta)
        if out is None or sigma <= 0:
            return np.inf
        n, p = s["n"], s["p"]
        return out["logdetV"] + out["logdetA"] + (n - p) * (_LOG2PI + 2 * np.log(sigma)) + out["r2"] / sigma**2

    def _vcov_at(self, phi) -> np.ndarray:
        nt = len(self.theta_)
        M, _ = self._cross(np.abs(phi[:nt]))
        p = self._suff["p"]
        return phi[nt] ** 2 * np.linalg.inv(M[:p, :p])

    @staticmethod
    def _hessian(f, f0, phi0, h, H):
        """Central-difference Hessian of the deviance ``f`` at ``phi0`` (steps ``h``), filled into ``H``."""
        k = len(phi0)
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (f(phi0 + ei) - 2 * f0 + f(phi0 - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (
                    f(phi0 + ei + ej) - f(phi0 + ei - ej) - f(phi0 - ei + ej) + f(phi0 - ei - ej)
                ) / (4 * h[i] * h[j])
        return H

    def _satterthwaite_parts(self):
        if self._hess is not None:
            return self._hess
        phi0 = np.append(self.theta_, np.sqrt(self.sigma2_))
        k = len(phi0)
        h = 1e-4 * np.maximum(np.abs(phi0), 0.1)
        f = self._varpar_deviance
        H = np.empty((k, k))
        f0 = f(phi0)
        with np.errstate(invalid="ignore", over="ignore"):  # a step into an infinite deviance gives NaN, caught below
            H = self._hessian(f, f0, phi0, h, H)
        try:
            A = 2.0 * np.linalg.inv(H)
        except np.linalg.LinAlgError:
            A = 2.0 * np.linalg.pinv(H)
        jac = []
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            jac.append((self._vcov_at(phi0 + ei) - self._vcov_at(phi0 - ei)) / (2 * h[i]))
        self._hess = (A, jac)
        return self._hess

    def satterthwaite_df(self, L) -> np.ndarray:
        """Satterthwaite degrees of freedom for each row ``l`` of ``L`` (estimate ``l @ beta``).

        Computed as lmerTest's ``contest1D`` (numerical derivatives of the REML
        deviance in ``(theta, sigma)``).
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        A, jac = self._satterthwaite_parts()
        C = self.cov_params_.to_numpy()
        out = []
        for row in L:
            var = row @ C @ row
            g = np.array([row @ J @ row for J in jac])
            denom = g @ A @ g
            out.append(2 * var**2 / denom if denom > 0 else np.inf)
        return np.array(out)

    # ------------------------------------------------------------- results
    def contrast(self, L, *, names: Sequence[str] | None = None, alpha: float = 0.05,
                 df: str = "satterthwaite") -> pd.DataFrame:
        """Estimates, SEs, intervals and tests of linear combinations ``L @ beta``.

        Parameters
        ----------
        L : array-like, shape (k, p)
            One row per linear combination.
        names : sequence of str, optional
            Row labels.
        alpha : float
            1 - confidence level.
        df : {"satterthwaite", "asymptotic"}
            t with Satterthwaite degrees of freedom, or normal.

        Returns
        -------
        DataFrame
            ``term, estimate, std_error, df, statistic, p_value, ci_lower, ci_upper``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        est = L @ self.params_.to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, self.cov_params_.to_numpy(), L))
        if df == "satterthwaite":
            dfs = self.satterthwaite_df(L)
            dfs = np.where(np.isfinite(dfs), dfs, np.inf)
            crit = stats.t.ppf(1 - alpha / 2, dfs)
            pval = 2 * stats.t.sf(np.abs(est / se), dfs)
        elif df == "asymptotic":
            dfs = np.full(len(est), np.inf)
            crit = np.full(len(est), stats.norm.ppf(1 - alpha / 2))
            pval = 2 * stats.norm.sf(np.abs(est / se))
        else:
            raise ValueError("df must be 'satterthwaite' or 'asymptotic'")
        names = list(names) if names is not None else [f"L{i}" for i in range(len(est))]
        return pd.DataFrame({
            "term": names, "estimate": est, "std_error": se, "df": dfs, "statistic": est / se,
            "p_value": pval, "ci_lower": est - crit * se, "ci_upper": est + crit * se,
        })

    def fixed_effects(self, *, alpha: float | None = None, df: str | None = None) -> pd.DataFrame:
        """Fixed-effects table (one row per coefficient), as ``summary(lmerTest::lmer(...))``.

        At the model's ``alpha`` and ``df`` unless given.
        """
        a = self.alpha if alpha is None else check_alpha(alpha)
        return self.contrast(np.eye(len(self.params_)), names=self.exog_names_, alpha=a, df=df or self.df)

    @property
    def summary(self) -> pd.DataFrame:
        """Fixed-effects table at the model's ``alpha`` and ``df`` (see :meth:`fixed_effects`)."""
        return self.fixed_effects()

    @property
    def table(self) -> pd.DataFrame:
        return self.summary

    @property
    def params(self) -> pd.Series:
        """Fixed effects (``params_``)."""
        return self.params_

    @property
    def estimate(self) -> pd.Series:
        return self.params_

    @property
    def bse(self) -> pd.Series:
        return self.bse_

    @property
    def n_obs(self) -> int:
        return self.n_obs_

    def conf_int(self, alpha: float | None = None, *, df: str | None = None) -> pd.DataFrame:
        """Wald confidence intervals of the fixed effects (columns ``ci_lower``, ``ci_upper``)."""
        s = self.fixed_effects(alpha=alpha, df=df)
        return s.set_index("term")[["ci_lower", "ci_upper"]]

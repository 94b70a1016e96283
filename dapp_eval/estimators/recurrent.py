"""Recurrent events: the mean cumulative function and Andersen-Gill / LWYY rate models.

Data are in counting-process form, one row per at-risk interval ``(start, stop]``
of a subject with ``event`` = number of events at ``stop`` (0 or 1 as in
``survival``; larger counts are allowed for the MCF). A subject's rows must
form one contiguous at-risk period (each row starts where the previous one
stopped), as ``survival::bladder2`` and ``survival::cgd`` do.

* :func:`mcf` - the Nelson-Aalen mean cumulative function of the pooled
  process with the Lawless & Nadeau (1995) robust variance, as
  ``reda::mcf(Recur(...) ~ 1)`` and as the cumulative hazard and ``std.chaz``
  of ``survival::survfit(Surv(start, stop, event) ~ 1, id = id)`` (the two
  agree exactly; ``tests/reference/methods_reference.R`` checks both);
* :func:`rate_model` - the Cox model on counting-process data with Efron (or
  Breslow) ties: Andersen-Gill (``variance="model"``, the inverse information,
  which assumes events within a subject are independent given the covariates)
  and Lin-Wei-Yang-Ying (``variance="robust"``, the sandwich of the dfbeta
  residuals summed within subject), as
  ``coxph(Surv(start, stop, event) ~ x + cluster(id))``. The robust variance is
  valid for the ratio of mean (marginal) rates whatever the dependence
  between a person's events (Lin, Wei, Yang & Ying 2000).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.estimators._base import EstimatorResults, design_from_formula
from dapp_eval.estimators._results import Curve
from dapp_eval.results import check_alpha

__all__ = ["MCFResult", "mcf", "rate_model"]


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _counting_process(start, stop, event, id_):
    """Arrays (start, stop, event, id codes) checked: stop > start, events >= 0, one contiguous period per id."""
    s = np.asarray(start, dtype=float)
    e = np.asarray(stop, dtype=float)
    d = np.asarray(event, dtype=float)
    n = s.size
    if not (e.shape == s.shape == d.shape) or s.ndim != 1:
        raise ValueError("start, stop and event must be 1-D and of the same length")
    if n == 0:
        raise ValueError("no rows: the recurrent-event data are empty")
    if not (np.isfinite(s).all() and np.isfinite(e).all() and np.isfinite(d).all()):
        raise ValueError("start, stop and event must be finite (no missing values)")
    if (e <= s).any():
        raise ValueError(f"{int((e <= s).sum())} rows have stop <= start: each row is an interval (start, stop]")
    if (d < 0).any() or (d != np.round(d)).any():
        raise ValueError("event must hold whole numbers of events >= 0")
    ids = pd.Series(np.asarray(id_, dtype=object))
    if len(ids) != n:
        raise ValueError(f"id must have one value per row ({n}), got {len(ids)}")
    if ids.isna().any():
        raise ValueError(f"id has {int(ids.isna().sum())} missing values")
    code = pd.factorize(ids)[0]
    order = np.lexsort((s, code))
    cs, ss, es = code[order], s[order], e[order]
    same = cs[1:] == cs[:-1]
    if (same & (ss[1:] != es[:-1])).any():
        raise ValueError("a subject's rows must form one contiguous at-risk period (each row starting where the "
                         "previous one stopped): found a gap or an overlap")
    return s, e, d, code


# ---------------------------------------------------------------------------
# mean cumulative function
# ---------------------------------------------------------------------------


@dataclass
class MCFResult:
    """Mean cumulative function at each distinct event time (see :func:`mcf`).

    Attributes
    ----------
    estimate, bse : Series
        MCF and its Lawless-Nadeau standard error, indexed by event time.
    n_risk, n_events : Series
        Subjects at risk and events at each time.
    n_obs : int
        Number of subjects.
    conf_type : str
        ``"log"`` (``reda::mcf(logConfInt = TRUE)``) or ``"plain"`` (reda's default).
    """

    estimate: pd.Series
    bse: pd.Series
    n_risk: pd.Series
    n_events: pd.Series
    n_obs: int
    conf_type: str = "log"
    alpha: float = 0.05
    method: str = ""
    info: dict = field(default_factory=dict)

    @property
    def params(self) -> pd.Series:
        return self.estimate

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Pointwise intervals: DataFrame indexed by time with ``ci_lower``, ``ci_upper``."""
        alpha = check_alpha(self.alpha if alpha is None else alpha)
        z = stats.norm.ppf(1 - alpha / 2)
        m, se = self.estimate.to_numpy(), self.bse.to_numpy()
        if self.conf_type == "plain":
            lo, hi = m - z * se, m + z * se
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.exp(np.where(m > 0, z * se / np.where(m > 0, m, 1.0), 0.0))
            lo, hi = m / f, m * f
        return pd.DataFrame({"ci_lower": lo, "ci_upper": hi}, index=self.estimate.index)

    @property
    def summary(self) -> pd.DataFrame:
        """``time``, ``n_risk``, ``n_events``, ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``."""
        ci = self.conf_int()
        return pd.DataFrame({"time": self.estimate.index.to_numpy(), "n_risk": self.n_risk.to_numpy(),
                             "n_events": self.n_events.to_numpy(), "estimate": self.estimate.to_numpy(),
                             "std_error": self.bse.to_numpy(), "ci_lower": ci["ci_lower"].to_numpy(),
                             "ci_upper": ci["ci_upper"].to_numpy()})

    @property
    def table(self) -> pd.DataFrame:
        """The table the analyses read: :attr:`summary` (one row per event time)."""
        return self.summary

    def with_alpha(self, alpha: float) -> MCFResult:
        """The same curve with pointwise intervals at level ``1 - alpha``."""
        return replace(self, alpha=check_alpha(alpha))

    def plot(self, ax=None, **kwargs):
        """Draw the mean cumulative function as a step with its pointwise band; returns the Axes."""
        curve = Curve.from_table(self.summary, alpha=self.alpha, n_obs=self.n_obs,
                                 kind="mean cumulative function", key=["time"])
        return curve.plot(ax=ax, **kwargs)

    def at(self, times) -> pd.DataFrame:
        """The step function (estimate, SE, interval, at risk) at ``times`` (0 before the first event)."""
        t = np.asarray(times, dtype=float)
        idx = np.searchsorted(self.estimate.index.to_numpy(), t, side="right") - 1
        s = self.summary
        out = pd.DataFrame({"time": t})
        for c in ("estimate", "std_error", "ci_lower", "ci_upper"):
            v = s[c].to_numpy(dtype=float)
            out[c] = np.where(idx >= 0, v[np.maximum(idx, 0)], 0.0) if v.size else 0.0
        return out

    def __repr__(self) -> str:
        return f"MCFResult({self.method}; n_obs={self.n_obs})\n{self.summary.to_string(index=False)}"


def mcf(start, stop, event, id, *, alpha: float = 0.05, conf_type: str = "log") -> MCFResult:
    """Mean cumulative function with the Lawless-Nadeau robust variance.

    ``MCF(t) = sum over event times u <= t of dN(u) / Y(u)`` (``dN``: events at
    ``u``, ``Y``: subjects at risk). The variance is
    ``sum_i (sum_{u <= t} Y_i(u) / Y(u) (dN_i(u) - dN(u) / Y(u)))^2`` (Lawless &
    Nadeau 1995), which makes no assumption about how a subject's events
    depend on each other; it equals ``reda::mcf``'s default variance and the
    robust ``std.chaz`` of ``survival::survfit(..., id = id)``. Computed in
    O(n log n) by updating the sum of squares from one event time to the next
    (never a subject-by-time matrix).

    Parameters
    ----------
    start, stop : array-like
        At-risk interval ``(start, stop]`` of each row.
    event : array-like
        Events at ``stop`` (whole numbers >= 0).
    id : array-like
        Subject of each row; a subject's rows form one contiguous period.
    alpha : float
    conf_type : {"log", "plain"}
        ``"log"``: ``MCF * exp(+-z SE / MCF)`` (never below zero; reda's
        ``logConfInt = TRUE``); ``"plain"``: ``MCF +- z SE`` (reda's default).

    Returns
    -------
    MCFResult

    Examples
    --------
    >>> r = mcf([0, 0, 0], [5, 8, 10], [2, 1, 0], ["a", "b", "c"])
    >>> r.estimate.round(4).tolist()
    [0.6667, 1.1667]
    >>> r.bse.round(4).tolist()
    [0.5443, 0.6491]
    """
    alpha = check_alpha(alpha)
    if conf_type not in ("log", "plain"):
        raise ValueError(f"conf_type must be 'log' or 'plain', got {conf_type!r}")
    s, e, d, code = _counting_process(start, stop, event, id)
    nsub = int(code.max()) + 1
    s_i = np.full(nsub, np.inf)
    np.minimum.at(s_i, code, s)
    e_i = np.full(nsub, -np.inf)
    np.maximum.at(e_i, code, e)
    ev = d > 0
    tj = np.unique(e[ev])
    m = tj.size
    if m == 0:
        empty = pd.Series([], dtype=float, index=pd.Index([], dtype=float, name="time"))
        return MCFResult(empty, empty.copy(), empty.copy(), empty.copy(), nsub, conf_type, alpha,
                         "mean cumulative function (no events)")
    # subjects at risk at each event time: s_i < t <= e_i
    Y = (np.searchsorted(np.sort(s_i), tj, side="left") - np.searchsorted(np.sort(e_i), tj, side="left")).astype(float)
    # events per (subject, time): aggregate rows (a subject has at most one row ending at a time)
    k_ev = np.searchsorted(tj, e[ev])
    cnt = d[ev]
    dN = np.bincount(k_ev, weights=cnt, minlength=m)
    Q = np.bincount(k_ev, weights=cnt**2, minlength=m)
    mj = dN / Y
    M = np.cumsum(mj)  # MCF
    B = np.cumsum(mj / Y)  # B(j) = sum_{l <= j} m_l / Y_l
    Bp = np.r_[0.0, B]  # Bp[j] = B(j - 1)
    Mp = np.r_[0.0, M]  # Mp[j] = MCF(j - 1)
    # B at each subject's start: over event times <= s_i
    Bs = Bp[np.searchsorted(tj, s_i, side="right")]
    # per event row: a_i(j-1) = sum of n / Y over the subject's earlier events
    ev_code = code[ev]
    o = np.lexsort((k_ev, ev_code))
    ec, ek, en = ev_code[o], k_ev[o], cnt[o]
    contrib = en / Y[ek]
    first = np.r_[True, ec[1:] != ec[:-1]]
    cs = np.cumsum(contrib)
    start_cs = np.maximum.accumulate(np.where(first, np.arange(cs.size), 0))
    a_prev = cs - contrib - np.r_[0.0, cs][start_cs]
    c_prev = a_prev - (Bp[ek] - Bs[ec])  # c_i(j-1) for the subject with an event at j
    part1 = np.bincount(ek, weights=en * c_prev, minlength=m)
    # sum over the at-risk set of c_i(j-1) = sum a_i(j-1) - Y B(j-1) + sum B(s_i)
    a_tot = np.bincount(ec, weights=contrib, minlength=nsub)  # each subject's final a_i
    oe = np.argsort(e_i, kind="stable")
    cut_e = np.searchsorted(e_i[oe], tj, side="left")  # subjects with e_i < t_j
    gone_a = np.r_[0.0, np.cumsum(a_tot[oe])][cut_e]
    gone_B = np.r_[0.0, np.cumsum(Bs[oe])][cut_e]
    os_ = np.argsort(s_i, kind="stable")
    cut_s = np.searchsorted(s_i[os_], tj, side="left")  # subjects with s_i < t_j
    begun_B = np.r_[0.0, np.cumsum(Bs[os_])][cut_s]
    sum_c = (Mp[:m] - gone_a) - Y * Bp[:m] + (begun_B - gone_B)
    inc = 2.0 / Y * (part1 - mj * sum_c) + (Q - dN**2 / Y) / Y**2
    V = np.maximum(np.cumsum(inc), 0.0)  # rounding can leave -1e-17 where the variance is 0
    idx = pd.Index(tj, name="time")
    return MCFResult(
        estimate=pd.Series(M, index=idx, name="estimate"), bse=pd.Series(np.sqrt(V), index=idx, name="std_error"),
        n_risk=pd.Series(Y.astype(int), index=idx, name="n_risk"),
        n_events=pd.Series(dN, index=idx, name="n_events"), n_obs=nsub, conf_type=conf_type, alpha=alpha,
        method="mean cumulative function (Nelson-Aalen), Lawless-Nadeau robust SE",
        info={"n_rows": int(s.size), "n_events_total": float(dN.sum())})


# ---------------------------------------------------------------------------
# Cox model on counting-process data: Andersen-Gill and LWYY
# ---------------------------------------------------------------------------


def _suffix(a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.cumsum(a[::-1], axis=0)[::-1], np.zeros((1,) + a.shape[1:])])


class _CPCox:
    """Risk-set sums of a Cox model on (start, stop] rows at each distinct event time, Efron or Breslow ties."""

    def __init__(self, s, e, d, X, ties):
        self.s, self.e, self.d, self.X, self.ties = s, e, d.astype(bool), X, ties
        dead = self.d
        self.dt, self.nd = np.unique(e[dead], return_counts=True)
        self.os, self.oe = np.argsort(s, kind="stable"), np.argsort(e, kind="stable")
        # rows with stop >= u minus rows with start >= u: at risk at u when start < u <= stop
        self.pe = np.searchsorted(e[self.oe], self.dt, side="left")
        self.ps = np.searchsorted(s[self.os], self.dt, side="left")
        self.k_of = np.searchsorted(self.dt, e)
        m = self.dt.size
        self.kdeath = np.repeat(np.arange(m), self.nd)
        if ties == "efron":
            start = np.cumsum(self.nd) - self.nd
            self.frac = (np.arange(self.kdeath.size) - start[self.kdeath]) / self.nd[self.kdeath]
        else:
            self.frac = np.zeros(self.kdeath.size)

    def _risk(self, a):
        return _suffix(a[self.oe])[self.pe] - _suffix(a[self.os])[self.ps]

    def _dead(self, a):
        kd = self.k_of[self.d]
        m = self.dt.size
        flat = a[self.d].reshape(int(self.d.sum()), -1)
        out = np.column_stack([np.bincount(kd, weights=flat[:, j], minlength=m) for j in range(flat.shape[1])])
        return out.reshape((m,) + a.shape[1:])

    def terms(self, b, *, second=True):
        X = self.X
        eta = X @ b
        shift = float(np.max(eta))
        r = np.exp(eta - shift)
        rX = r[:, None] * X
        S0, S1 = self._risk(r), self._risk(rX)
        S0d, S1d = self._dead(r), self._dead(rX)
        k, f = self.kdeath, self.frac
        den = S0[k] - f * S0d[k]
        mean = (S1[k] - f[:, None] * S1d[k]) / den[:, None]
        out = {"r": r, "den": den, "mean": mean, "shift": shift, "eta": eta}
        if second:
            rXX = r[:, None, None] * X[:, :, None] * X[:, None, :]
            S2, S2d = self._risk(rXX), self._dead(rXX)
            sec = (S2[k] - f[:, None, None] * S2d[k]) / den[:, None, None]
            out["info"] = np.sum(sec - mean[:, :, None] * mean[:, None, :], axis=0)
        return out

    def loglik(self, b, t=None):
        t = t or self.terms(b, second=False)
        return float(np.sum(t["eta"][self.d]) - np.sum(np.log(t["den"]) + t["shift"]))

    def score_residuals(self, b):
        """n x p score residuals (R's ``residuals(fit, type = "score")`` for counting-process data)."""
        t = self.terms(b, second=False)
        X, r, dead = self.X, t["r"], self.d
        k, f, m, p = self.kdeath, self.frac, self.dt.size, X.shape[1]
        h = 1.0 / t["den"]
        mean = t["mean"]

        def by_time(w):
            if w.ndim == 1:
                return np.bincount(k, weights=w, minlength=m)
            return np.column_stack([np.bincount(k, weights=w[:, j], minlength=m) for j in range(p)])

        H0, H1 = by_time(h), by_time(h[:, None] * mean)
        D0, D1 = by_time(h * (1 - f)), by_time((h * (1 - f))[:, None] * mean)
        M1 = by_time(mean) / self.nd[:, None]
        cH0, cH1 = np.r_[0.0, np.cumsum(H0)], np.vstack([np.zeros((1, p)), np.cumsum(H1, axis=0)])
        lo = np.searchsorted(self.dt, self.s, side="right")  # event times <= start are not in the interval
        hi = np.where(dead, np.searchsorted(self.dt, self.e, side="left"), np.searchsorted(self.dt, self.e, side="right"))
        resid = -r[:, None] * (X * (cH0[hi] - cH0[lo])[:, None] - (cH1[hi] - cH1[lo]))
        kd = self.k_of[dead]
        resid[dead] += (X[dead] - M1[kd]) - r[dead, None] * (X[dead] * D0[kd][:, None] - D1[kd])
        return resid


def _rate_design(formula: str, data: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Covariates of the right-hand side ``formula`` (no intercept: it is absorbed by the baseline rate)."""
    rhs = formula.split("~", 1)
    if len(rhs) != 2 or rhs[0].strip():
        raise ValueError("the rate-model formula must be a right-hand side such as '~ x + age'; give the interval "
                         "and event columns as start=, stop=, event=")
    for col in columns:
        if col not in data.columns:
            raise KeyError(f"column '{col}' is not in the data")
    _, X, names, _ = design_from_formula(f"{columns[1]} ~ {rhs[1]}", data, extra=columns)
    if names and names[0] == "Intercept":
        X, names = X[:, 1:], names[1:]
    if not names:
        raise ValueError("the rate model needs at least one covariate")
    return X, names


def _newton(cp: _CPCox, X: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float]:
    """Maximise the partial likelihood by Newton-Raphson with step-halving: ``(estimate, log-likelihood)``."""
    b = np.zeros(X.shape[1])
    ll = cp.loglik(b)
    for _ in range(max_iter):
        t = cp.terms(b)
        grad = np.sum(X[cp.d], axis=0) - np.sum(t["mean"], axis=0)
        step = np.linalg.solve(t["info"], grad)
        new = b + step
        ll_new = cp.loglik(new)
        halvings = 0
        # step-halving only on a real decrease, not on rounding of a log-likelihood summed over many rows
        while ll_new < ll - 1e-10 * max(1.0, abs(ll)) and halvings < 30:
            step /= 2
            new = b + step
            ll_new = cp.loglik(new)
            halvings += 1
        b, ll = new, ll_new
        if np.max(np.abs(step)) < tol:
            return b, ll
    raise ValueError(f"the rate model did not converge in {max_iter} Newton steps (a covariate may separate "
                     "people with and without events)")


def rate_model(formula: str, data: pd.DataFrame, *, start: str, stop: str, event: str, id: str,
               variance: str = "robust", ties: str = "efron", alpha: float = 0.05, tol: float = 1e-10,
               max_iter: int = 50) -> EstimatorResults:
    """Andersen-Gill / LWYY proportional rates model on counting-process data.

    ``coxph(Surv(start, stop, event) ~ ... + cluster(id), ties = "efron")``:
    Newton-Raphson on the partial likelihood whose risk set at an event time
    ``u`` is every row with ``start < u <= stop``. ``variance="robust"``
    (LWYY, the default) is R's ``vcov`` with ``cluster(id)``: ``D'D`` with
    ``D`` the dfbeta residuals (score residuals times the inverse information)
    summed within each subject, no small-sample factor. ``variance="model"``
    (Andersen-Gill) is the inverse information, R's ``naive.var``; it is too
    small when a person's events cluster, as police call-outs do.

    Parameters
    ----------
    formula : str
        Right-hand side, e.g. ``"~ rx + number"``.
    data : DataFrame
        One row per at-risk interval.
    start, stop, event, id : str
        Column names.
    variance : {"robust", "model"}
    ties : {"efron", "breslow"}
    alpha, tol, max_iter
        Level; Newton stops when the largest step is below ``tol``.

    Returns
    -------
    EstimatorResults
        ``params`` (log rate ratios), ``bse``, ``conf_int``, ``summary``;
        ``info["rate_ratios"]``, ``info["se_model"]``, ``info["se_robust"]``,
        ``info["n_events"]``, ``info["n_subjects"]``, ``info["loglik"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": [1, 1, 2, 3, 3, 4], "a": [0, 3, 0, 0, 2, 0], "b": [3, 6, 5, 2, 7, 4],
    ...                    "ev": [1, 0, 1, 1, 1, 0], "x": [1, 1, 0, 1, 1, 0]})
    >>> fit = rate_model("~ x", df, start="a", stop="b", event="ev", id="id")
    >>> round(float(fit.params["x"]), 4), fit.info["n_subjects"]
    (0.4812, 4)
    """
    alpha = check_alpha(alpha)
    if variance not in ("robust", "model"):
        raise ValueError(f"variance must be 'robust' (LWYY) or 'model' (Andersen-Gill), got {variance!r}")
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    X, names = _rate_design(formula, data, (start, stop, event, id))
    s, e, d, code = _counting_process(data[start], data[stop], data[event], data[id])
    if (d > 1).any():
        raise ValueError(f"'{event}' must be 0 or 1 in the rate model (one row per event)")
    if d.sum() == 0:
        raise ValueError(f"no events in '{event}': the rate model needs at least one")
    cp = _CPCox(s, e, d, X, ties)
    b, ll = _newton(cp, X, tol, max_iter)
    info = cp.terms(b)["info"]
    naive = np.linalg.inv(info)
    dfb = cp.score_residuals(b) @ naive
    agg = np.zeros((int(code.max()) + 1, dfb.shape[1]))
    np.add.at(agg, code, dfb)
    robust = agg.T @ agg
    V = robust if variance == "robust" else naive
    idx = pd.Index(names)
    return EstimatorResults(
        params=pd.Series(b, index=idx, name="estimate"), cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method=("proportional rates model on (start, stop] data, " + ties.capitalize() + " ties, "
                + ("robust SE clustered by subject (LWYY)" if variance == "robust" else
                   "model-based SE (Andersen-Gill)")),
        n_obs=int(s.size), alpha=alpha,
        info={"n_events": int(d.sum()), "n_subjects": int(code.max()) + 1, "loglik": ll,
              "rate_ratios": pd.Series(np.exp(b), index=idx),
              "se_model": pd.Series(np.sqrt(np.diag(naive)), index=idx),
              "se_robust": pd.Series(np.sqrt(np.diag(robust)), index=idx)})

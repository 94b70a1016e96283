"""Exact survival and competing-risks estimators on plain arrays.

This module knows nothing about programme data: it takes arrays of times,
causes, groups and covariates and returns tidy DataFrames or small result
objects. :mod:`dapp_eval.analyses.attrition` builds these arrays from a
:class:`~dapp_eval.data.io.ProgrammeData` folder.

Ties are handled exactly and deterministically (no random jitter): all events
at one time are processed together and observations censored at a tied time
are still at risk at that time, as in R's ``survival`` and ``cmprsk``. The
estimators reproduce R to 1e-6 (``tests/reference/attrition_reference.R``):

* :func:`aalen_johansen` - cumulative incidence of each cause with the
  delta-method variance of ``cmprsk::cuminc`` (Fortran ``cinc``);
* :func:`grays_test` - Gray's (1988) test, ``cuminc(...)$Tests`` (``crstm``);
* :func:`kaplan_meier` - Kaplan-Meier with Greenwood variance, ``survfit``;
* :func:`logrank_test` - ``survdiff``;
* :func:`rmst` - restricted mean survival time and the standard error that
  ``print(survfit(...), rmean=tau)`` reports;
* :func:`fine_gray` - Fine-Gray subdistribution hazards model with the
  sandwich variance of ``cmprsk::crr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.estimators._results import Curve, Estimate, TableResult, wald_interval
from dapp_eval.results import check_alpha

__all__ = [
    "aalen_johansen",
    "grays_test",
    "kaplan_meier",
    "logrank_test",
    "rmst",
    "fine_gray",
    "FineGrayResult",
    "cox",
    "cox_score_residuals",
    "cluster_robust_variance",
    "step_at",
    "loglog_ci",
]

_CONF_TYPES = ("log-log", "log", "plain")


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _as_time(time, name: str = "time") -> np.ndarray:
    t = np.asarray(time, dtype=float)
    if t.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if t.size == 0:
        raise ValueError(f"{name} is empty: no observations to analyse")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} contains missing or infinite values")
    if np.any(t < 0):
        raise ValueError(f"{name} contains negative times (first: {t[t < 0][0]!r})")
    return t


def _as_labels(x, n: int, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=object)
    if a.ndim != 1 or a.size != n:
        raise ValueError(f"{name} must have one value per observation ({n}), got {a.size}")
    if pd.isna(pd.Series(a)).any():
        raise ValueError(f"{name} contains missing values")
    return a


def _as_event(event, n: int) -> np.ndarray:
    e = np.asarray(event)
    if e.ndim != 1 or e.size != n:
        raise ValueError(f"event must have one value per observation ({n}), got {e.size}")
    if pd.isna(pd.Series(e)).any():
        raise ValueError("event contains missing values")
    uniq = set(np.unique(e.astype(float)).tolist())
    if not uniq <= {0.0, 1.0}:
        raise ValueError(f"event must be 0/1 or boolean, got values {sorted(uniq)}")
    return e.astype(float)


def _check_conf_type(conf_type: str) -> str:
    if conf_type not in _CONF_TYPES:
        raise ValueError(f"conf_type must be one of {_CONF_TYPES}, got {conf_type!r}")
    return conf_type


def _distinct(values: np.ndarray) -> tuple[np.ndarray, list]:
    """(code of each value, the distinct values): per-row label tests become tests on the few distinct
    values (no Python loop over rows)."""
    codes, uniq = pd.factorize(values)
    return codes, list(uniq)


def _is_value(codes: np.ndarray, uniq: list, value) -> np.ndarray:
    """``values == value`` elementwise, from :func:`_distinct`'s output."""
    return np.array([bool(u == value) for u in uniq], dtype=bool)[codes] if uniq else np.zeros(len(codes), bool)


def _group_codes(g: np.ndarray, test: str) -> tuple[list, np.ndarray]:
    """The sorted group levels of a test comparing groups (at least two), and each row's level index."""
    levels = _sorted_label_values(g)
    if len(levels) < 2:
        raise ValueError(f"group must have at least two distinct values for {test}")
    codes, uniq = _distinct(g)
    return levels, np.array([levels.index(u) for u in uniq], dtype=int)[codes]


def _sorted_label_values(values) -> list:
    vals = list(pd.unique(pd.Series(values, dtype=object)))
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=str)


# ---------------------------------------------------------------------------
# confidence intervals for probabilities
# ---------------------------------------------------------------------------


def loglog_ci(p, se, alpha: float = 0.05, *, conf_type: str = "log-log"):
    """Pointwise confidence limits for a probability ``p`` with standard error ``se``.

    ``conf_type="log-log"`` (default) works on the log(-log p) scale:
    ``p ** exp(+-z * se / (p * log p))``, which keeps the limits inside (0, 1)
    and is the transformation of R's ``survfit(conf.type="log-log")`` and of
    survminer / tidycmprsk for cumulative incidence. ``"log"`` uses
    ``p * exp(+-z se / p)`` (upper limit capped at 1) and ``"plain"`` uses
    ``p +- z se`` clipped to [0, 1]. At ``p`` = 0 or 1 with zero standard
    error both limits equal ``p``; when ``p`` is 0 or 1 but the standard
    error is positive the log-log limits are undefined (NaN).

    Examples
    --------
    >>> lo, hi = loglog_ci([0.3], [0.05])
    >>> bool(lo[0] < 0.3 < hi[0])
    True
    """
    alpha = check_alpha(alpha)
    _check_conf_type(conf_type)
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log-log":
            lp = np.log(p)
            a = z * se / (p * np.abs(lp))
            lo = np.exp(lp * np.exp(a))
            hi = np.exp(lp * np.exp(-a))
            edge = (p <= 0) | (p >= 1)
            lo = np.where(edge, np.nan, lo)
            hi = np.where(edge, np.nan, hi)
        elif conf_type == "log":
            lo = p * np.exp(-z * se / p)
            hi = np.minimum(p * np.exp(z * se / p), 1.0)
            lo = np.where(p <= 0, np.nan, lo)
            hi = np.where(p <= 0, np.nan, hi)
        else:
            lo = np.clip(p - z * se, 0, 1)
            hi = np.clip(p + z * se, 0, 1)
    degenerate = ((p <= 0) | (p >= 1)) & (se == 0)
    lo = np.where(degenerate, p, lo)
    hi = np.where(degenerate, p, hi)
    return lo, hi


def step_at(times, values, at, *, before=0.0) -> np.ndarray:
    """Evaluate a right-continuous step function at the times ``at``.

    ``times`` must be increasing; ``values[k]`` holds on ``[times[k],
    times[k+1])`` and ``before`` holds before ``times[0]``.

    Examples
    --------
    >>> step_at([1, 3], [0.2, 0.5], [0, 1, 2, 3, 9]).tolist()
    [0.0, 0.2, 0.2, 0.5, 0.5]
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    idx = np.searchsorted(times, np.asarray(at, dtype=float), side="right") - 1
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)] if values.size else before, before)
    return out.astype(float)


# ---------------------------------------------------------------------------
# risk-set tables
# ---------------------------------------------------------------------------


def _risk_table(t: np.ndarray, codes: np.ndarray, n_codes: int):
    """Distinct times, numbers at risk and a (n_times, n_codes) count matrix."""
    ut, inv = np.unique(t, return_inverse=True)
    counts = np.zeros((ut.size, n_codes))
    np.add.at(counts, (inv, codes), 1.0)
    n_at_time = counts.sum(axis=1)
    n_risk = t.size - np.concatenate([[0.0], np.cumsum(n_at_time)[:-1]])
    return ut, n_risk, counts


# ---------------------------------------------------------------------------
# Aalen-Johansen cumulative incidence (cmprsk::cuminc)
# ---------------------------------------------------------------------------


def _cause_codes(c: np.ndarray, censored, causes) -> tuple[list, dict, np.ndarray]:
    """Causes to report, the code of every cause (observed or asked for) and each row's code.

    Censored rows get the code ``len(code_of)`` (one past the causes).
    """
    ccodes, cuniq = _distinct(c)
    is_cens = _is_value(ccodes, cuniq, censored)
    observed = _sorted_label_values(c[~is_cens])
    if causes is None:
        causes = observed
    else:
        causes = list(causes)
        if censored in causes:
            raise ValueError(f"causes must not include the censoring code {censored!r}")
    all_causes = list(dict.fromkeys(list(observed) + list(causes)))
    code_of = {k: i for i, k in enumerate(all_causes)}
    ncode = len(all_causes)
    lut = np.array([ncode if bool(u == censored) else code_of.get(u, -1) for u in cuniq], dtype=int)
    codes = lut[ccodes] if cuniq else np.zeros(0, dtype=int)
    return causes, code_of, codes


def aalen_johansen(time, cause, *, censored=0, causes=None, alpha: float = 0.05,
                   conf_type: str = "log-log") -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause, with exact tie handling.

    Parameters
    ----------
    time : array-like of float
        Follow-up time (>= 0) of each observation.
    cause : array-like
        Cause of the event, or the value ``censored`` for a censored observation.
    censored : scalar, default 0
        The value of ``cause`` that marks a censored observation.
    causes : list, optional
        Causes to report (default: every cause observed at least once, sorted).
        A requested cause that never occurs gets an incidence of zero.
    alpha : float, default 0.05
        For (1 - alpha) pointwise confidence intervals.
    conf_type : {"log-log", "log", "plain"}
        Transformation for the intervals (see :func:`loglog_ci`); the default
        log(-log) keeps limits inside (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per cause and distinct observed time (events and censorings),
        columns ``cause, time, n_at_risk, n_event, n_event_any, n_censored,
        estimate, variance, std_error, ci_lower, ci_upper``. ``estimate`` is
        the cumulative incidence just after ``time``; ``variance`` is the
        delta-method variance of ``cmprsk::cuminc`` (Gray's Fortran routine
        ``cinc``, including its correction for tied events), which equals R's
        value at every time to rounding error.

    Notes
    -----
    All events at a time are processed together; cases censored at a time of
    events remain in that time's risk set. The estimate is the
    Aalen-Johansen estimator ``F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j``
    with ``S`` the all-cause Kaplan-Meier.

    Examples
    --------
    >>> res = aalen_johansen([1, 2, 2, 3, 4], [1, 2, 1, 0, 1])
    >>> res.query("cause == 1")["estimate"].round(3).tolist()
    [0.2, 0.4, 0.4, 0.8]
    """
    alpha = check_alpha(alpha)
    _check_conf_type(conf_type)
    t = _as_time(time)
    causes, code_of, codes = _cause_codes(_as_labels(cause, t.size, "cause"), censored, causes)
    ncode = len(code_of)
    ut, rs, counts = _risk_table(t, codes, ncode + 1)
    nd = counts[:, :ncode].sum(axis=1)
    ncens = counts[:, ncode]
    with np.errstate(divide="ignore", invalid="ignore"):
        fkn = np.cumprod(np.where(rs > 0, (rs - nd) / rs, 1.0))
    fk = np.concatenate([[1.0], fkn[:-1]])
    rows = []
    for k in causes:
        nd1 = counts[:, code_of[k]]
        nd2 = nd - nd1
        f = np.cumsum(np.where(rs > 0, fk * nd1 / np.where(rs > 0, rs, 1.0), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            # other causes (only when some remain at risk afterwards)
            t5 = np.where(nd2 > 1, 1 - (nd2 - 1) / (rs - 1), 1.0)
            t6 = np.where((nd2 > 0) & (fkn > 0), fk * fk * t5 * nd2 / (rs * rs), 0.0)
            t3 = np.where(fkn > 0, 1.0 / fkn, 0.0)
            t4 = np.where(fkn > 0, f / fkn, 0.0)
            v1 = t4 * t4 * t6
            v2 = t3 * t4 * t6
            v3 = t3 * t3 * t6
            # the cause of interest
            t5 = np.where(nd1 > 1, 1 - (nd1 - 1) / (rs - 1), 1.0)
            t6 = np.where(nd1 > 0, fk * fk * t5 * nd1 / (rs * rs), 0.0)
            t4 = 1 + t3 * f
            v1 = v1 + t4 * t4 * t6
            v2 = v2 + t3 * t4 * t6
            v3 = v3 + t3 * t3 * t6
        v1, v2, v3 = np.cumsum(v1), np.cumsum(v2), np.cumsum(v3)
        var = v1 + f * f * v3 - 2 * f * v2
        var = np.where(f == 0, 0.0, np.maximum(var, 0.0))
        se = np.sqrt(var)
        lo, hi = loglog_ci(f, se, alpha, conf_type=conf_type)
        rows.append(pd.DataFrame({
            "cause": [k] * ut.size, "time": ut, "n_at_risk": rs.astype(int),
            "n_event": nd1.astype(int), "n_event_any": nd.astype(int),
            "n_censored": ncens.astype(int), "estimate": f, "variance": var,
            "std_error": se, "ci_lower": lo, "ci_upper": hi,
        }))
    if rows:
        tab = pd.concat(rows, ignore_index=True)
    else:
        tab = pd.DataFrame(columns=["cause", "time", "n_at_risk", "n_event", "n_event_any", "n_censored",
                                    "estimate", "variance", "std_error", "ci_lower", "ci_upper"])
    return Curve.from_table(tab, alpha=alpha, n_obs=t.size, kind="Aalen-Johansen cumulative incidence",
                            key=["cause", "time"])


# ---------------------------------------------------------------------------
# Gray's test (cmprsk crstm)
# ---------------------------------------------------------------------------


def _crst(y: np.ndarray, m: np.ndarray, ig: np.ndarray, ng: int, rho: float):
    """Score and variance of Gray's test in one stratum (port of cmprsk's ``crst``)."""
    # groups whose risk set is empty give 0/0 in masked-out array slots
    with np.errstate(divide="ignore", invalid="ignore"):
        return _crst_loop(y, m, ig, ng, rho)


def _crst_a_c(ok, rs, skmm, tr, fb, fm, nd1, c, iu):
    """crstm's matrix a at one time and the running sum c (both symmetric, filled from their upper
    triangles as the Fortran does)."""
    ng = c.shape[0]
    t1 = np.where(ok, rs / skmm, 0.0)
    a = np.zeros((ng, ng))
    a[np.diag_indices(ng)] = np.where(ok, fb * t1 * (1 - t1 / tr), 0.0)
    off = -fb * np.outer(t1, np.where(ok, rs / skmm, 0.0)) / tr
    a[iu] = off[iu]
    cu = np.triu(c) + np.triu(a) * nd1 / (tr * (1 - fm))
    c = cu + np.triu(cu, 1).T
    a = np.triu(a) + np.triu(a, 1).T
    return a, c


def _crst_cause_terms(a, c, skm, skmm, f, nd1, tr, ok, rs_ok):
    """crstm's variance terms at a time with events of the cause tested (its ``nd1 > 0`` block): the
    increments of v3, v2 and v."""
    ng1 = c.shape[0] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
        t5 = 1 - (nd1 - 1) / (tr * skmm - 1) if nd1 > 1 else np.ones(c.shape[0])
        t3 = np.where(ok, t5 * skmm * nd1 / (tr * rs_ok), 0.0)
    T1 = a[:ng1, :] - t4 * c[:ng1, :]
    return t4 * t4 * t3, T1 * t4 * t3, (T1 * t3) @ T1.T


def _crst_other_terms(c, skm, skmm, f, d2, rs, rs_ok):
    """crstm's variance terms at a time with events of the competing causes (its ``nd2 > 0`` block): the
    increments of v3, v2 (subtracted) and v."""
    ng1 = c.shape[0] - 1
    okk = (skm > 0) & (d2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t4 = np.where(okk, (1 - f) / skm, 0.0)
        t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t3 = np.where(okk, t5 * skmm ** 2 * d2 / rs_ok ** 2, 0.0)
    T1 = t4 * c[:ng1, :]
    return t4 * t4 * t3, T1 * t4 * t3, (T1 * t3) @ T1.T


# a port of cmprsk's Fortran crstm, kept in its shape (its matrix update and two variance blocks as the
# three functions above)
# so that it can be checked against it
def _crst_loop(y, m, ig, ng, rho):
    n = y.size
    ng1 = ng - 1
    rs = np.bincount(ig, minlength=ng).astype(float)
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    f1m = np.zeros(ng)
    f1 = np.zeros(ng)
    skmm = np.ones(ng)
    skm = np.ones(ng)
    v3 = np.zeros(ng)
    v2 = np.zeros((ng1, ng))
    c = np.zeros((ng, ng))
    fm = 0.0
    f = 0.0
    starts = np.flatnonzero(np.r_[True, y[1:] > y[:-1]])
    ends = np.r_[starts[1:], n]
    iu = np.triu_indices(ng, 1)
    for ll, lu in zip(starts, ends):
        d = np.zeros((3, ng))
        np.add.at(d, (m[ll:lu], ig[ll:lu]), 1.0)
        nd1 = d[1].sum()
        nd2 = d[2].sum()
        if nd1 > 0 or nd2 > 0:
            ok = rs > 0
            rs_ok = np.where(ok, rs, 1.0)
            skm = np.where(ok, skmm * (rs - d[1] - d[2]) / rs_ok, skm)
            f1 = np.where(ok, f1m + skmm * d[1] / rs_ok, f1)
            tr = np.sum(np.where(ok, rs / skmm, 0.0))
            tq = np.sum(np.where(ok, rs * (1 - f1m) / skmm, 0.0))
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            a, c = _crst_a_c(ok, rs, skmm, tr, fb, fm, nd1, c, iu)
            s += np.where(ok[:ng1], fb * (d[1, :ng1] - nd1 * rs[:ng1] * (1 - f1m[:ng1])
                                            / (skmm[:ng1] * tq)), 0.0)
            if nd1 > 0:
                dv3, dv2, dv = _crst_cause_terms(a, c, skm, skmm, f, nd1, tr, ok, rs_ok)
                v3 += dv3
                v2 += dv2
                v += dv
            if nd2 > 0:
                dv3, dv2, dv = _crst_other_terms(c, skm, skmm, f, d[2], rs, rs_ok)
                v3 += dv3
                v2 -= dv2
                v += dv
        if lu >= n:
            break
        rs -= np.bincount(ig[ll:lu], minlength=ng)
        fm = f
        f1m = f1.copy()
        skmm = skm.copy()
    cc = c[:ng1, :]
    v += (cc * v3) @ cc.T + cc @ v2.T + v2 @ cc.T
    return s, v


def grays_test(time, cause, group, *, censored=0, causes=None, strata=None,
               rho: float = 0.0) -> pd.DataFrame:
    """Gray's test of equal cumulative incidence across groups, for each cause.

    A port of ``cmprsk``'s ``crstm`` (the test in ``cuminc(...)$Tests``),
    stratified when ``strata`` is given, with weight ``(1 - F(t-))**rho``.

    Parameters
    ----------
    time, cause : array-like
        As in :func:`aalen_johansen`.
    group : array-like
        Group of each observation (two or more distinct values).
    censored : scalar, default 0
        Value of ``cause`` marking censoring.
    causes : list, optional
        Causes to test (default: every observed cause).
    strata : array-like, optional
        Strata for a stratified test.
    rho : float, default 0
        Power of the weight function.

    Returns
    -------
    pandas.DataFrame
        Columns ``cause, statistic, df, p_value, n`` (``statistic`` is NaN when
        the score variance is singular; ``cuminc`` reports -1 there).

    Examples
    --------
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> res = grays_test(t, [1, 2, 1, 0, 1, 1, 2, 0], ["a", "b"] * 4)
    >>> res.columns.tolist()
    ['cause', 'statistic', 'df', 'p_value', 'n']
    """
    t = _as_time(time)
    c = _as_labels(cause, t.size, "cause")
    g = _as_labels(group, t.size, "group")
    st = np.zeros(t.size, dtype=int) if strata is None else pd.factorize(
        _as_labels(strata, t.size, "strata"), sort=True)[0]
    ccodes, cuniq = _distinct(c)
    is_cens = _is_value(ccodes, cuniq, censored)
    glevels, gcode = _group_codes(g, "Gray's test")
    ng = len(glevels)
    if causes is None:
        causes = _sorted_label_values(c[~is_cens])
    order = np.argsort(t, kind="stable")
    out = []
    for k in causes:
        m = np.where(is_cens, 0, np.where(_is_value(ccodes, cuniq, k), 1, 2))
        s = np.zeros(ng - 1)
        v = np.zeros((ng - 1, ng - 1))
        for ks in np.unique(st):
            idx = order[st[order] == ks]
            s_k, v_k = _crst(t[idx], m[idx], gcode[idx], ng, float(rho))
            s += s_k
            v += v_k
        if np.linalg.matrix_rank(v) == ng - 1:
            stat = float(s @ np.linalg.solve(v, s))
            p = float(stats.chi2.sf(stat, ng - 1))
        else:
            stat, p = np.nan, np.nan
        out.append({"cause": k, "statistic": stat, "df": ng - 1, "p_value": p, "n": int(t.size)})
    tab = pd.DataFrame(out, columns=["cause", "statistic", "df", "p_value", "n"])
    return TableResult.from_table(tab, alpha=0.05, n_obs=t.size, kind="Gray's test", key=["cause"])


# ---------------------------------------------------------------------------
# Kaplan-Meier, log-rank, restricted mean
# ---------------------------------------------------------------------------


def kaplan_meier(time, event, *, alpha: float = 0.05, conf_type: str = "log-log") -> pd.DataFrame:
    """Kaplan-Meier estimate with Greenwood variance (as R's ``survfit``).

    Parameters
    ----------
    time : array-like of float
        Follow-up times (>= 0).
    event : array-like of bool or 0/1
        1 for an event, 0 for a censored observation.
    alpha : float, default 0.05
        For (1 - alpha) pointwise intervals.
    conf_type : {"log-log", "log", "plain"}
        Interval transformation; "log-log" equals ``survfit(conf.type="log-log")``.

    Returns
    -------
    pandas.DataFrame
        One row per distinct time: ``time, n_at_risk, n_event, n_censored,
        estimate, std_error, ci_lower, ci_upper``; ``std_error`` is the
        Greenwood standard error of the survival probability (R's
        ``std.err`` is that of the cumulative hazard, ``std_error / estimate``).

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
    >>> km["estimate"].round(3).tolist()
    [0.75, 0.5, 0.0]
    """
    alpha = check_alpha(alpha)
    _check_conf_type(conf_type)
    t = _as_time(time)
    e = _as_event(event, t.size)
    ut, rs, counts = _risk_table(t, (1 - e).astype(int), 2)
    d = counts[:, 0]
    s = np.cumprod(1 - d / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.cumsum(np.where(d > 0, d / (rs * (rs - d)), 0.0))
        se = np.where(s > 0, s * np.sqrt(gw), np.nan)
        lo, hi = loglog_ci(s, np.where(s > 0, se, 0.0), alpha, conf_type=conf_type)
    # as survfit: no interval once the curve has reached zero
    lo = np.where(s > 0, lo, np.nan)
    hi = np.where(s > 0, hi, np.nan)
    tab = pd.DataFrame({
        "time": ut, "n_at_risk": rs.astype(int), "n_event": d.astype(int),
        "n_censored": counts[:, 1].astype(int), "estimate": s, "std_error": se,
        "ci_lower": lo, "ci_upper": hi,
    })
    return Curve.from_table(tab, alpha=alpha, n_obs=t.size, kind="Kaplan-Meier", key=["time"])


def logrank_test(time, event, group) -> dict:
    """Log-rank test of equal hazards across groups (R's ``survdiff``, rho = 0).

    Returns
    -------
    dict
        ``statistic``, ``df``, ``p_value``, and ``table`` (DataFrame with
        ``group, n, observed, expected``).

    Examples
    --------
    >>> r = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], ["a", "b", "a", "b", "a", "b"])
    >>> r["df"]
    1
    """
    t = _as_time(time)
    e = _as_event(event, t.size)
    g = _as_labels(group, t.size, "group")
    levels, gc = _group_codes(g, "the log-rank test")
    ng = len(levels)
    ut, inv = np.unique(t, return_inverse=True)
    dg = np.zeros((ut.size, ng))
    ng_t = np.zeros((ut.size, ng))
    np.add.at(dg, (inv, gc), e)
    np.add.at(ng_t, (inv, gc), 1.0)
    risk = ng_t[::-1].cumsum(axis=0)[::-1]  # at risk in each group at each time
    n_t = risk.sum(axis=1)
    d_t = dg.sum(axis=1)
    keep = d_t > 0
    risk, n_t, d_t, dg = risk[keep], n_t[keep], d_t[keep], dg[keep]
    obs = dg.sum(axis=0)
    exp_ = (risk * (d_t / n_t)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_t > 1, d_t * (n_t - d_t) / (n_t - 1), 0.0) / n_t
    V = np.diag((w[:, None] * risk).sum(axis=0)) - (risk * (w / n_t)[:, None]).T @ risk
    oe = (obs - exp_)[: ng - 1]
    Vs = V[: ng - 1, : ng - 1]
    stat = float(oe @ np.linalg.pinv(Vs) @ oe)
    df = int(np.linalg.matrix_rank(Vs))
    return Estimate({
        "statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df)),
        "table": pd.DataFrame({"group": levels, "n": np.bincount(gc, minlength=ng),
                               "observed": obs, "expected": exp_}),
    }, alpha=0.05, n_obs=t.size, name="log-rank")


def rmst(time, event, *, horizon: float, alpha: float = 0.05) -> dict:
    """Restricted mean survival time up to ``horizon`` with its standard error.

    The estimate is the area under the Kaplan-Meier curve from 0 to
    ``horizon``. The variance is the Greenwood-type (Klein & Moeschberger)
    formula ``sum_j A_j**2 d_j / (n_j (n_j - d_j))`` over event times
    ``t_j < horizon``, where ``A_j`` is the area under the curve from ``t_j``
    to ``horizon``; this is the ``se(rmean)`` that R's
    ``print(survfit(...), rmean=horizon)`` reports. (lifelines'
    ``restricted_mean_survival_time(return_variance=True)`` returns a
    different quantity, not a sampling variance of the estimate.)

    Returns
    -------
    dict
        ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper`` (normal
        interval), ``horizon``, ``n``.

    Examples
    --------
    >>> r = rmst([2, 4, 6, 8], [1, 1, 1, 1], horizon=10)
    >>> r["estimate"]
    5.0
    """
    alpha = check_alpha(alpha)
    t = _as_time(time)
    e = _as_event(event, t.size)
    horizon = float(horizon)
    if not np.isfinite(horizon) or horizon <= 0:
        raise ValueError(f"horizon must be a positive number, got {horizon!r}")
    km = kaplan_meier(t, e, alpha=alpha)
    km = km[km["time"] <= horizon]
    times = km["time"].to_numpy()
    s = km["estimate"].to_numpy()
    d = km["n_event"].to_numpy(float)
    n = km["n_at_risk"].to_numpy(float)
    grid = np.r_[0.0, times, horizon]
    surv_left = np.r_[1.0, s]  # survival on [grid[k], grid[k+1])
    area = np.diff(grid) * surv_left
    est = float(area.sum())
    # area to the right of each time (from t_j to horizon)
    right = np.cumsum(area[::-1])[::-1][1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where((n - d) > 0, d / (n * (n - d)), 0.0)
    var = float(np.sum(right ** 2 * hh))
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    return Estimate({"estimate": est, "std_error": se, "ci_lower": est - z * se, "ci_upper": est + z * se,
                     "horizon": horizon, "n": int(t.size)}, alpha=alpha, n_obs=t.size, name="rmst")


# ---------------------------------------------------------------------------
# Cox model score residuals and cluster-robust variance (R survival)
# ---------------------------------------------------------------------------


def cox_score_residuals(time, event, covariates, beta, *, ties: str = "efron") -> np.ndarray:
    """Score residuals of a Cox model, with R's treatment of tied events.

    A vectorised port of ``survival``'s ``coxscore2`` (unweighted, one
    stratum): with Efron ties each of the ``d`` deaths at a time takes part in
    the ``d`` Efron risk sets with weight ``1/d`` and is down-weighted by
    ``1 - k/d`` in the k-th. These residuals (times the model-based variance)
    are R's ``dfbeta`` residuals; lifelines' robust variance ignores the tie
    correction, so under heavy ties its cluster-robust standard errors differ
    from R's (lifelines 0.15 changelog: "This does not handle ties").

    Parameters
    ----------
    time, event : array-like
        Follow-up times and 0/1 event indicators.
    covariates : 2-D array-like
        Covariates (n x p), in the order of ``beta``.
    beta : array-like
        Fitted log hazard ratios.
    ties : {"efron", "breslow"}

    Returns
    -------
    numpy.ndarray
        n x p matrix of score residuals, rows in input order.

    Examples
    --------
    >>> r = cox_score_residuals([1, 2, 2, 3], [1, 1, 1, 0], [[0.0], [1.0], [0.0], [1.0]], [0.0])
    >>> r.shape
    (4, 1)
    """
    t, e, X, b = _cox_inputs(time, event, covariates, beta, ties)
    p = X.shape[1]
    r, dt, k_of, H0, H1, D0, D1, M1 = _efron_terms(t, e, X, b, ties)
    dead = e == 1
    cH0 = np.r_[0.0, np.cumsum(H0)]
    cH1 = np.vstack([np.zeros((1, p)), np.cumsum(H1, axis=0)])
    # death times strictly before t_i (for deaths) or up to t_i (for censored)
    k_le = np.searchsorted(dt, t, side="right")
    k_lt = np.searchsorted(dt, t, side="left")
    upto = np.where(dead, k_lt, k_le)
    resid = -r[:, None] * (X * cH0[upto][:, None] - cH1[upto])
    kd = k_of[dead]
    resid[dead] += (X[dead] - M1[kd]) - r[dead, None] * (X[dead] * D0[kd][:, None] - D1[kd])
    return resid


def _cox_inputs(time, event, covariates, beta, ties):
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    t = _as_time(time)
    e = _as_event(event, t.size)
    X = np.asarray(covariates, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    b = np.asarray(beta, dtype=float).ravel()
    return t, e, X, b


def _efron_terms(t, e, X, b, ties):
    """Risk-set sums of an unweighted one-stratum Cox model at each distinct death time.

    Vectorised over deaths (no loop over death times, so O(n log n) whatever
    the number of distinct times). With ``d`` deaths at a time, the k-th
    (k = 0..d-1) Efron risk set has ``S0 - k/d S0d`` and ``S1 - k/d S1d``
    (``S0d, S1d``: sums over the deaths themselves); Breslow uses k = 0 for
    all. Returns ``r`` (relative risks, scaled), the distinct death times
    ``dt``, ``k_of`` (index into ``dt`` of each row's time), per death time
    ``H0 = sum_k h_k``, ``H1 = sum_k h_k mean_k``, ``D0 = sum_k h_k (1 - k/d)``,
    ``D1 = sum_k h_k (1 - k/d) mean_k`` and ``M1 = sum_k mean_k / d`` (the
    Efron-weighted covariate mean that Schoenfeld residuals subtract), with
    ``h_k = 1 / (S0 - k/d S0d)`` and ``mean_k`` the matching S1/S0 ratio.
    """
    n, p = X.shape
    eta = X @ b
    r = np.exp(eta - np.max(eta))  # scale cancels in every ratio below
    dead = e == 1
    # risk-set sums over t_i >= u at each distinct death time u
    dt, d = np.unique(t[dead], return_counts=True)
    order = np.argsort(t, kind="stable")
    pos = np.searchsorted(t[order], dt, side="left")

    def suffix(a):
        return np.concatenate([np.cumsum(a[::-1], axis=0)[::-1], np.zeros((1,) + a.shape[1:])])

    S0 = suffix(r[order])[pos]
    S1 = suffix((r[:, None] * X)[order])[pos]
    k_of = np.searchsorted(dt, t)
    m = dt.size
    kd = k_of[dead]
    rd = r[dead]
    S0d = np.bincount(kd, weights=rd, minlength=m)
    S1d = np.column_stack([np.bincount(kd, weights=rd * X[dead, j], minlength=m) for j in range(p)]).reshape(m, p)
    # one row per death: its death-time index k and its Efron fraction k/d
    kdeath = np.repeat(np.arange(m), d)
    if ties == "efron":
        start = np.cumsum(d) - d
        kk = (np.arange(kdeath.size) - start[kdeath]) / d[kdeath]
    else:
        kk = np.zeros(kdeath.size)
    den = S0[kdeath] - kk * S0d[kdeath]
    h = 1.0 / den
    mean = (S1[kdeath] - kk[:, None] * S1d[kdeath]) / den[:, None]

    def by_time(w):
        if w.ndim == 1:
            return np.bincount(kdeath, weights=w, minlength=m)
        return np.column_stack([np.bincount(kdeath, weights=w[:, j], minlength=m) for j in range(p)]).reshape(m, p)

    H0 = by_time(h)
    H1 = by_time(h[:, None] * mean)
    D0 = by_time(h * (1 - kk))
    D1 = by_time((h * (1 - kk))[:, None] * mean)
    M1 = by_time(mean) / d[:, None]
    return r, dt, k_of, H0, H1, D0, D1, M1


def cluster_robust_variance(time, event, covariates, beta, naive_variance, cluster, *,
                            ties: str = "efron") -> np.ndarray:
    """Cluster-robust (Lin-Wei sandwich) variance of Cox coefficients, as R's
    ``coxph(... + cluster(id))``: ``D'D`` with ``D`` the dfbeta residuals
    (score residuals times ``naive_variance``) summed within each cluster.

    Examples
    --------
    >>> v = cluster_robust_variance([1, 2, 3, 4], [1, 1, 0, 1], [[0.0], [1.0], [0.0], [1.0]],
    ...                             [0.0], [[1.0]], ["a", "a", "b", "c"])
    >>> v.shape
    (1, 1)
    """
    res = cox_score_residuals(time, event, covariates, beta, ties=ties)
    dfb = res @ np.asarray(naive_variance, dtype=float)
    codes = pd.factorize(pd.Series(np.asarray(cluster, dtype=object)))[0]
    if (codes < 0).any():
        raise ValueError("cluster contains missing values")
    agg = np.zeros((codes.max() + 1, dfb.shape[1]))
    np.add.at(agg, codes, dfb)
    return agg.T @ agg


# ---------------------------------------------------------------------------
# Fine-Gray (cmprsk::crr)
# ---------------------------------------------------------------------------


@dataclass
class FineGrayResult:
    """Fitted Fine-Gray subdistribution hazards model (see :func:`fine_gray`).

    Attributes
    ----------
    params_ : pandas.Series
        Log subdistribution hazard ratios.
    variance_matrix_ : pandas.DataFrame
        Sandwich variance (``crr``'s ``var``).
    standard_errors_ : pandas.Series
    information_ : numpy.ndarray
        Minus the Hessian of the log pseudo-likelihood (``crr``'s ``inf``).
    log_likelihood_ : float
        Log pseudo-likelihood at the estimate.
    score_ : numpy.ndarray
    converged : bool
    n_iter : int
    event_times_ : numpy.ndarray
        Distinct event times of the cause of interest (``uftime``).
    baseline_jumps_ : numpy.ndarray
        Jumps of the baseline cumulative subdistribution hazard (``bfitj``).
    """

    params_: pd.Series
    variance_matrix_: pd.DataFrame
    standard_errors_: pd.Series
    information_: np.ndarray
    log_likelihood_: float
    score_: np.ndarray
    converged: bool
    n_iter: int
    event_times_: np.ndarray
    baseline_jumps_: np.ndarray
    n: int
    n_events: int
    extra: dict = field(default_factory=dict)
    alpha: float = 0.05

    @property
    def params(self) -> pd.Series:
        """Log subdistribution hazard ratios (``params_``)."""
        return self.params_.rename("estimate")

    @property
    def estimate(self) -> pd.Series:
        return self.params

    @property
    def bse(self) -> pd.Series:
        return self.standard_errors_.rename("std_error")

    @property
    def n_obs(self) -> int:
        return self.n

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Wald intervals of the log subdistribution hazard ratios (``ci_lower``, ``ci_upper``)."""
        a = check_alpha(self.alpha if alpha is None else alpha)
        lo, hi = wald_interval(self.params_.to_numpy(), self.standard_errors_.to_numpy(), a)
        return pd.DataFrame({"ci_lower": lo, "ci_upper": hi}, index=self.params_.index)

    def with_alpha(self, alpha: float) -> FineGrayResult:
        """The same fit with intervals at level ``1 - alpha``."""
        return replace(self, alpha=check_alpha(alpha))

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table: ``term, estimate, std_error, hr, ci_lower, ci_upper, p_value``
        (``ci_*`` are for the subdistribution hazard ratio ``hr``, at ``alpha``)."""
        b = self.params_.to_numpy()
        se = self.standard_errors_.to_numpy()
        ci = self.conf_int()
        return pd.DataFrame({
            "term": self.params_.index, "estimate": b, "std_error": se, "hr": np.exp(b),
            "ci_lower": np.exp(ci["ci_lower"].to_numpy()), "ci_upper": np.exp(ci["ci_upper"].to_numpy()),
            "p_value": 2 * stats.norm.sf(np.abs(b / se)),
        })

    @property
    def table(self) -> pd.DataFrame:
        return self.summary

    def predict_cif(self, x) -> pd.DataFrame:
        """Cumulative incidence ``1 - exp(-exp(x'b) Lambda0(t))`` at the event times
        for one covariate vector ``x`` (``predict.crr``)."""
        x = np.asarray(x, dtype=float).ravel()
        lam = np.cumsum(np.exp(x @ self.params_.to_numpy()) * self.baseline_jumps_)
        return pd.DataFrame({"time": self.event_times_, "estimate": 1 - np.exp(-lam)})


def _censoring_km_minus(t: np.ndarray, is_cens: np.ndarray) -> np.ndarray:
    """KM of the censoring distribution just before each t (R: ``survfit`` at ``t*(1-eps)``)."""
    ut, rs, counts = _risk_table(t, (~is_cens).astype(int), 2)
    g = np.cumprod(1 - counts[:, 0] / rs)
    probe = t * (1 - np.finfo(float).eps)
    idx = np.searchsorted(ut, probe, side="right") - 1
    return np.where(idx >= 0, g[np.clip(idx, 0, None)], 1.0)


class _FGData:
    """Sorted data and risk-set sums for the Fine-Gray pseudo-likelihood."""

    def __init__(self, t, status, X, G):
        self.t, self.status, self.X, self.G = t, status, X, G
        self.n, self.p = X.shape
        fail = status == 1
        self.uft, self.d = np.unique(t[fail], return_counts=True)
        # first sorted index with t >= u (for suffix sums) for each failure time
        self.pos = np.searchsorted(t, self.uft, side="left")
        self.Gu = G[self.pos]  # G(u-) at each failure time
        self.type2 = status == 2
        self.fail = fail

    def sums(self, b):
        """S0, S1, S2 of the weighted risk set at each distinct failure time."""
        X = self.X
        e = np.exp(X @ b)
        ex = e[:, None] * X
        exx = ex[:, :, None] * X[:, None, :]

        def suffix(a):
            cs = np.cumsum(a[::-1], axis=0)[::-1]
            return np.concatenate([cs, np.zeros((1,) + a.shape[1:])], axis=0)

        def prefix(a):  # sum over indices < k
            return np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)], axis=0)

        w2 = np.where(self.type2, 1.0 / self.G, 0.0)
        # type-2 failures strictly before u: sorted index < first index with t >= u
        S0 = suffix(e)[self.pos] + self.Gu * prefix(e * w2)[self.pos]
        S1 = suffix(ex)[self.pos] + self.Gu[:, None] * prefix(ex * w2[:, None])[self.pos]
        S2 = suffix(exx)[self.pos] + self.Gu[:, None, None] * prefix(exx * w2[:, None, None])[self.pos]
        return e, S0, S1, S2

    def objective(self, b, with_derivs=True):
        """Minus log pseudo-likelihood, its gradient and Hessian (crr's ``crrfsv``)."""
        e, S0, S1, S2 = self.sums(b)
        xf = self.X[self.fail]
        lik = -float(np.sum(xf @ b)) + float(np.sum(self.d * np.log(S0)))
        if not with_derivs:
            return lik
        xbar = S1 / S0[:, None]
        score = -xf.sum(axis=0) + (self.d[:, None] * xbar).sum(axis=0)
        hess = np.einsum("k,kij->ij", self.d, S2 / S0[:, None, None] - xbar[:, :, None] * xbar[:, None, :])
        return lik, score, hess

    def sandwich_middle(self, b):
        """Sum of squared influence terms eta_i + psi_i (crr's ``crrvv`` ``v2``)."""
        t, X, G, n, p = self.t, self.X, self.G, self.n, self.p
        e, S0, S1, _ = self.sums(b)
        xbar = S1 / S0[:, None]
        d = self.d
        uft = self.uft
        # eta: d N_i part
        k_of = np.searchsorted(uft, t)  # failure-time index for failures
        eta = np.zeros((n, p))
        f = self.fail
        eta[f] = X[f] - xbar[k_of[f]]
        # d Lambda part, at-risk portion: failures j with t_j <= t_i
        a0 = d / S0
        a1 = (d / S0)[:, None] * xbar
        c0 = np.cumsum(a0)
        c1 = np.cumsum(a1, axis=0)
        kk = np.searchsorted(uft, t, side="right") - 1  # last failure time <= t_i
        B0 = np.where(kk >= 0, c0[np.clip(kk, 0, None)], 0.0)
        B1 = np.where((kk >= 0)[:, None], c1[np.clip(kk, 0, None)], 0.0)
        eta -= e[:, None] * (X * B0[:, None] - B1)
        # type-2 failures keep weight G(t_j-)/G(t_i-) for failures after them
        g0 = self.Gu * a0
        g1 = self.Gu[:, None] * a1
        r0 = np.r_[np.cumsum(g0[::-1])[::-1], 0.0]
        r1 = np.vstack([np.cumsum(g1[::-1], axis=0)[::-1], np.zeros((1, p))])
        C0 = r0[kk + 1]
        C1 = r1[kk + 1]
        w = np.where(self.type2, e / G, 0.0)
        eta -= w[:, None] * (X * C0[:, None] - C1)
        # psi: censoring martingale part
        is_c = self.status == 0
        ut, first = np.unique(t, return_index=True)
        n_risk_u = n - first  # number with t >= u (single censoring group)
        # A0(u), A1(u): sums over type-2 failures with t < u of e/G, x e/G
        w2 = np.where(self.type2, e / G, 0.0)
        A0 = np.r_[0.0, np.cumsum(w2)][first]
        A1 = np.vstack([np.zeros((1, p)), np.cumsum(w2[:, None] * X, axis=0)])[first]
        # sums over failures with t_j1 >= u of G/S0 and G xbar / S0 (per failure)
        q0 = self.Gu * d / S0
        q1 = (self.Gu * d / S0)[:, None] * xbar
        s0 = np.r_[np.cumsum(q0[::-1])[::-1], 0.0]
        s1 = np.vstack([np.cumsum(q1[::-1], axis=0)[::-1], np.zeros((1, p))])
        ku = np.searchsorted(uft, ut, side="left")  # first failure time >= u
        qu = A1 * s0[ku][:, None] - A0[:, None] * s1[ku]
        ncens_u = np.bincount(np.searchsorted(ut, t[is_c]), minlength=ut.size)
        dss2 = -qu * (ncens_u / n_risk_u.astype(float) ** 2)[:, None]
        ss2 = np.cumsum(dss2, axis=0)
        iu = np.searchsorted(ut, t)
        psi = ss2[iu] + np.where(is_c[:, None], qu[iu] / n_risk_u[iu][:, None], 0.0)
        infl = eta + psi
        return infl.T @ infl, infl


def _fg_covariates(covariates, n: int) -> tuple[np.ndarray, list[str]]:
    """Covariates as a finite 2-D float array with one row per observation, and their names."""
    if isinstance(covariates, pd.DataFrame):
        names = [str(x) for x in covariates.columns]
        X = covariates.to_numpy(dtype=float)
    else:
        X = np.asarray(covariates, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        names = [f"x{i + 1}" for i in range(X.shape[1])]
    if X.shape[0] != n:
        raise ValueError(f"covariates must have one row per observation ({n}), got {X.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise ValueError("covariates contain missing or infinite values")
    return X, names


def _fg_newton(fg: _FGData, b: np.ndarray, gtol: float, max_iter: int) -> tuple[np.ndarray, bool, int]:
    """``crr``'s Newton-Raphson with step-halving: ``(estimate, converged, iterations)``."""
    it = 0
    for it in range(max_iter + 1):
        lik, score, hess = fg.objective(b)
        if np.max(np.abs(score) * np.maximum(np.abs(b), 1)) < max(abs(lik), 1) * gtol:
            return b, True, it
        if it == max_iter:
            break
        sc = -np.linalg.solve(hess, score)
        bn = b + sc
        fbn = fg.objective(bn, with_derivs=False)
        i = 0
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(sc @ score):
            i += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = fg.objective(bn, with_derivs=False)
            if i > 20:
                break
        if i > 20:
            break
        b = bn
    return b, False, it


def fine_gray(time, cause, covariates, *, cause_of_interest=1, censored=0, gtol: float = 1e-9,
              max_iter: int = 50, init=None, alpha: float = 0.05) -> FineGrayResult:
    """Fine-Gray proportional subdistribution hazards model (as ``cmprsk::crr``).

    Maximises the inverse-probability-of-censoring weighted partial likelihood
    of Fine & Gray (1999): cases that failed from another cause stay in the
    risk set with weight ``G(t-)/G(t_i-)``, ``G`` the Kaplan-Meier of the
    censoring distribution (one censoring group); tied failures use the
    Breslow form, exactly as ``crr``. The variance is ``crr``'s sandwich
    ``I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1``, including the term
    for estimating ``G``.

    Parameters
    ----------
    time, cause : array-like
        Follow-up time and cause (``censored`` for censored cases).
    covariates : pandas.DataFrame or 2-D array
        Fixed covariates (no missing values).
    cause_of_interest : scalar, default 1
    censored : scalar, default 0
    gtol, max_iter : float, int
        Newton-Raphson stops when ``max|score * max(|b|, 1)| < max(|loglik|, 1) * gtol``
        (``crr``'s rule; its defaults are 1e-6 and 10, here tighter so the
        estimate is the root to machine precision).
    init : array-like, optional
        Starting values (default zeros).
    alpha : float, default 0.05
        Level of the intervals in ``summary`` and ``conf_int()``.

    Returns
    -------
    FineGrayResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = rng.integers(0, 2, 200)
    >>> t = rng.exponential(1 / np.exp(0.5 * x))
    >>> cause = rng.integers(0, 3, 200)
    >>> fit = fine_gray(t, cause, x[:, None])
    >>> fit.converged
    True
    """
    alpha = check_alpha(alpha)
    t = _as_time(time)
    c = _as_labels(cause, t.size, "cause")
    X, names = _fg_covariates(covariates, t.size)
    is_cens = np.array([x == censored for x in c], dtype=bool)
    is_fail = np.array([x == cause_of_interest for x in c], dtype=bool)
    if not is_fail.any():
        raise ValueError(f"no events of the cause of interest ({cause_of_interest!r})")
    status = np.where(is_fail, 1, np.where(is_cens, 0, 2))
    order = np.argsort(t, kind="stable")
    t, status, X = t[order], status[order], X[order]
    G = _censoring_km_minus(t, status == 0)
    fg = _FGData(t, status, X, G)
    b0 = np.zeros(X.shape[1]) if init is None else np.asarray(init, dtype=float).copy()
    b, converged, it = _fg_newton(fg, b0, gtol, max_iter)
    lik, score, hess = fg.objective(b)
    middle, infl = fg.sandwich_middle(b)
    hinv = np.linalg.inv(hess)
    var = hinv @ middle @ hinv
    _, S0, _, _ = fg.sums(b)
    return FineGrayResult(
        params_=pd.Series(b, index=names, name="coef"),
        variance_matrix_=pd.DataFrame(var, index=names, columns=names),
        standard_errors_=pd.Series(np.sqrt(np.diag(var)), index=names, name="se"),
        information_=hess,
        log_likelihood_=-lik,
        score_=-score,
        converged=converged,
        n_iter=it,
        event_times_=fg.uft,
        baseline_jumps_=fg.d / S0,
        n=int(t.size),
        n_events=int(is_fail.sum()),
        alpha=alpha,
    )


# ---------------------------------------------------------------------------
# Cox proportional hazards (survival::coxph)
# ---------------------------------------------------------------------------


def cox(formula: str, data: pd.DataFrame, *, duration: str, event: str, cluster=None, alpha: float = 0.05):
    """Cox proportional hazards model, as ``coxph(Surv(duration, event) ~ ..., cluster = cluster)``.

    Efron's method for ties (R's default), fitted by lifelines. With
    ``cluster`` the covariance is the Lin-Wei sandwich ``D'D`` of the dfbeta
    residuals summed within clusters (R's robust variance, no small-sample
    factor); otherwise the inverse information.

    Parameters
    ----------
    formula : str
        Right-hand side, e.g. ``"~ age + C(sex)"`` (a response on the left is
        not allowed: give ``duration`` and ``event``).
    data : DataFrame
    duration, event : str
        Column names of the follow-up time (> 0 not required; ties allowed)
        and of the event indicator (1 = event, 0 = censored).
    cluster : str or array-like, optional
        Cluster labels for the robust covariance.
    alpha : float

    Returns
    -------
    EstimatorResults
        ``params`` (log hazard ratios), ``bse``, ``conf_int(alpha)``,
        ``summary``; ``info["hazard_ratios"]``, ``info["se_naive"]``;
        ``model`` is the lifelines ``CoxPHFitter``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [5, 8, 3, 9, 12, 4, 11, 2], "d": [1, 1, 1, 0, 1, 1, 0, 1],
    ...                    "x": [1, 0, 1, 0, 0, 1, 1, 0]})
    >>> round(float(cox("~ x", df, duration="t", event="d").params["x"]), 4)
    0.6648
    """
    import warnings

    from lifelines import CoxPHFitter

    from dapp_eval.estimators._base import EstimatorResults, _column, design_from_formula

    alpha = check_alpha(alpha)
    rhs = formula.split("~", 1)
    if len(rhs) != 2 or rhs[0].strip():
        raise ValueError("cox formula must be a right-hand side such as '~ age + sex'; "
                         "give the time and event columns as duration= and event=")
    for col in (duration, event):
        if col not in data.columns:
            raise KeyError(f"column '{col}' is not in the data")
    cl = _column(data, cluster, "cluster")
    _, X, names, _ = design_from_formula(f"{duration} ~ {rhs[1]}", data, extra=(duration, event))
    if names and names[0] == "Intercept":
        X, names = X[:, 1:], names[1:]
    if not names:
        raise ValueError("the Cox model needs at least one covariate")
    t = _as_time(data[duration].to_numpy(), duration)
    e = _as_event(data[event].to_numpy(), len(t))
    if e.sum() == 0:
        raise ValueError(f"no events in '{event}': all observations are censored")
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(len(names))])
    df["_t"], df["_e"] = t, e
    cph = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(df, duration_col="_t", event_col="_e",
                fit_options={"precision": 1e-14, "r_precision": 1e-16, "max_steps": 500})
    cols = [f"x{j}" for j in range(len(names))]
    beta = cph.params_[cols].to_numpy()
    naive = cph.variance_matrix_.loc[cols, cols].to_numpy()
    V = naive if cl is None else cluster_robust_variance(t, e, X, beta, naive, np.asarray(cl, dtype=object))
    idx = pd.Index(names)
    return EstimatorResults(
        params=pd.Series(beta, index=idx, name="estimate"), cov_params=pd.DataFrame(V, index=idx, columns=idx),
        method="Cox proportional hazards, Efron ties, " + ("cluster-robust (Lin-Wei) SE" if cl is not None
                                                           else "model-based SE"),
        n_obs=len(t), model=cph, alpha=alpha,
        info={"n_events": int(e.sum()), "se_naive": pd.Series(np.sqrt(np.diag(naive)), index=idx),
              "hazard_ratios": pd.Series(np.exp(beta), index=idx),
              "n_clusters": None if cl is None else int(pd.Series(cl).nunique())},
    )

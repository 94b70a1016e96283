"""Paired change: t-test, Wilcoxon signed-rank test, effect sizes and the reliable change index.

Pure functions of two aligned arrays of scores (``before``, ``after``;
change = after - before). Checked against R's ``t.test(paired = TRUE)`` and
``wilcox.test(paired = TRUE, exact = FALSE, correct = TRUE)`` on R's
``sleep`` data (``tests/reference/estimators_reference.R``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.estimators._results import Estimate, TableResult
from dapp_eval.estimators.effect_sizes import cohens_dz, hedges_gav
from dapp_eval.results import check_alpha

__all__ = ["paired_score_change", "paired_t", "protected_moments", "reliable_change_index", "t_summary_at",
           "wilcoxon_signed_rank"]


def _pair(before, after) -> tuple[np.ndarray, np.ndarray]:
    x1 = np.asarray(before, dtype=float).ravel()
    x2 = np.asarray(after, dtype=float).ravel()
    if x1.shape != x2.shape:
        raise ValueError(f"before and after must have the same length ({len(x1)} != {len(x2)})")
    bad = ~(np.isfinite(x1) & np.isfinite(x2))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} pairs have a missing or infinite score; drop them before testing")
    return x1, x2


def paired_t(before, after, *, alpha: float = 0.05) -> dict[str, float]:
    """Paired t-test of the mean change, as ``t.test(after, before, paired = TRUE)``.

    Returns
    -------
    dict
        ``estimate`` (mean change), ``ci_lower``, ``ci_upper``, ``statistic``
        (t), ``df``, ``p_value``, ``n``. NaN where fewer than two pairs or no
        variation in the change.

    Examples
    --------
    >>> r = paired_t([10, 12, 9, 14], [8, 11, 9, 10])
    >>> round(r["estimate"], 3), round(r["p_value"], 4)
    (-1.75, 0.1328)
    """
    alpha = check_alpha(alpha)
    x1, x2 = _pair(before, after)
    d = x2 - x1
    n = len(d)
    out = dict(estimate=float(d.mean()) if n else np.nan, ci_lower=np.nan, ci_upper=np.nan, statistic=np.nan,
               df=float(n - 1) if n else np.nan, p_value=np.nan, n=n)
    if n > 1 and d.std(ddof=1) > 0:
        se = d.std(ddof=1) / math.sqrt(n)
        crit = stats.t.ppf(1 - alpha / 2, n - 1)
        t = d.mean() / se
        out.update(ci_lower=float(d.mean() - crit * se), ci_upper=float(d.mean() + crit * se), statistic=float(t),
                   p_value=float(2 * stats.t.sf(abs(t), n - 1)), std_error=float(se))
    return Estimate(out, alpha=alpha, n_obs=n, name="mean_change")


def t_summary_at(mean: float, sd: float, n: float, *, alpha: float = 0.05, null: float = 0.0) -> dict[str, float]:
    """The t-interval of a mean and the p-value of the one-sample t-test against ``null`` at a given number of
    people ``n`` (e.g. a published, rounded count): SE = sd / sqrt(n), df = n - 1. NaN where n < 2 or sd is not
    positive (the p-value only: the interval of a mean with no variation is the mean itself).

    >>> r = t_summary_at(-1.75, 1.707825127659933, 4)
    >>> round(r["ci_lower"], 3), round(r["p_value"], 4)
    (-4.468, 0.1328)
    """
    alpha = check_alpha(alpha)
    mean, sd, n = (float(v) if v is not None and not pd.isna(v) else np.nan for v in (mean, sd, n))
    out = dict(ci_lower=np.nan, ci_upper=np.nan, p_value=np.nan)
    if not (np.isfinite(n) and n >= 2 and np.isfinite(sd) and sd >= 0 and np.isfinite(mean)):
        return out
    se = sd / math.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    out.update(ci_lower=float(mean - crit * se), ci_upper=float(mean + crit * se))
    if se > 0:
        out["p_value"] = float(2 * stats.t.sf(abs((mean - null) / se), n - 1))
    return out


def wilcoxon_signed_rank(before, after) -> dict[str, float]:
    """Wilcoxon signed-rank test of the change, normal approximation with continuity and tie corrections.

    Zero changes are dropped (``zero_method="wilcox"``), as R's
    ``wilcox.test(after, before, paired = TRUE, exact = FALSE, correct = TRUE)``;
    ``statistic`` is R's ``V`` (sum of the ranks of positive changes).
    With no non-zero change the p-value is 1.

    Examples
    --------
    >>> r = wilcoxon_signed_rank([10, 12, 9, 14, 11], [8, 11, 9, 10, 12])
    >>> r["statistic"], round(r["p_value"], 4)
    (1.5, 0.2693)
    """
    x1, x2 = _pair(before, after)
    d = x2 - x1
    nz = d[d != 0]
    if len(nz) == 0:
        return Estimate(dict(statistic=0.0, p_value=1.0, n=len(d), n_nonzero=0), alpha=0.05, n_obs=len(d),
                        name="signed-rank V")
    ranks = stats.rankdata(np.abs(nz))
    v = float(ranks[nz > 0].sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = stats.wilcoxon(nz, zero_method="wilcox", correction=True, method="approx")
    return Estimate(dict(statistic=v, p_value=float(w.pvalue), n=len(d), n_nonzero=len(nz)), alpha=0.05,
                    n_obs=len(d), name="signed-rank V")


def reliable_change_index(before, after, *, s_diff: float | None = None, sd: float | None = None,
                          reliability: float | None = None) -> np.ndarray:
    """Jacobson-Truax reliable change index ``(after - before) / S_diff``.

    ``S_diff = sqrt(2) * SEM`` with ``SEM = sd * sqrt(1 - reliability)``; give
    either ``s_diff`` or both ``sd`` and ``reliability``. ``|RCI| >= 1.96``
    is a reliable change at the 5% level.

    Examples
    --------
    >>> reliable_change_index([20, 15], [12, 14], sd=5.0, reliability=0.8).round(3).tolist()
    [-2.53, -0.316]
    """
    x1, x2 = _pair(before, after)
    if s_diff is None:
        if sd is None or reliability is None:
            raise ValueError("give s_diff, or sd and reliability")
        if not (sd > 0 and 0 <= reliability < 1):
            raise ValueError("sd must be positive and reliability in [0, 1)")
        s_diff = math.sqrt(2) * sd * math.sqrt(1 - reliability)
    if not s_diff > 0:
        raise ValueError("s_diff must be positive")
    return (x2 - x1) / s_diff


def paired_score_change(before, after, *, alpha: float = 0.05) -> TableResult:
    """Tidy summary of a paired change in a score: t-test, Wilcoxon, Cohen's d_z and Hedges' g_av.

    (For yes/no answers of the same people at two waves see :func:`dapp_eval.analyses.safety.paired_change`:
    Newcombe interval and exact McNemar test.)

    One row per ``statistic`` (``mean_change``, ``median_change``,
    ``cohens_dz``, ``hedges_gav``) with ``estimate``, ``ci_lower``,
    ``ci_upper``, ``test_statistic``, ``df``, ``p_value``, ``n``.

    Examples
    --------
    >>> paired_score_change([10, 12, 9, 14, 11], [8, 11, 9, 10, 12])["statistic"].tolist()
    ['mean_change', 'median_change', 'cohens_dz', 'hedges_gav']
    """
    x1, x2 = _pair(before, after)
    n = len(x1)
    t = paired_t(x1, x2, alpha=alpha)
    w = wilcoxon_signed_rank(x1, x2)
    dz = cohens_dz(x2 - x1, alpha=alpha)
    g = hedges_gav(x1, x2, alpha=alpha)
    rows = [
        dict(statistic="mean_change", estimate=t["estimate"], ci_lower=t["ci_lower"], ci_upper=t["ci_upper"],
             test_statistic=t["statistic"], df=t["df"], p_value=t["p_value"], n=n),
        dict(statistic="median_change", estimate=float(np.median(x2 - x1)) if n else np.nan,
             test_statistic=w["statistic"], p_value=w["p_value"], n=n),
        dict(statistic="cohens_dz", estimate=dz[0], ci_lower=dz[1], ci_upper=dz[2], n=n),
        dict(statistic="hedges_gav", estimate=g[0], ci_lower=g[1], ci_upper=g[2], n=n),
    ]
    cols = ["statistic", "estimate", "ci_lower", "ci_upper", "test_statistic", "df", "p_value", "n"]
    return TableResult.from_table(pd.DataFrame(rows).reindex(columns=cols), alpha=check_alpha(alpha), n_obs=n,
                                  kind="paired change", key=["statistic"])


def __getattr__(name: str):
    # the old name, kept for one release (it read like dapp_eval.analyses.safety.paired_change, which is another analysis)
    if name == "paired_change":
        import warnings

        warnings.warn("dapp_eval.estimators.paired_change is now paired_score_change; the old name goes in 0.3",
                      DeprecationWarning, stacklevel=2)
        return paired_score_change
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _step(at_least: float) -> float:
    return next((h for h in _STEPS if h >= at_least - 1e-12), _STEPS[-1])


def protected_moments(mean, sd, n_pub, base: int = 5, display: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A mean and SD of people's whole-number values (scores, children, contacts) as published beside a rounded
    n: each rounded to a step coarse enough that every n of the published count's rounding band fits it.

    With whole numbers, a mean is a sum over n: shown to 0.1 beside a published 5 (3 to 7 people), 9.4 fits
    only 66 / 7 (attack a11, B1), and an SD adds the sum of squares (B10: each person's number of children).
    Multiples of 1/n fall in every window at least 1/n wide, so the mean is shown in steps of at least
    1 / (the band's smallest n, taken as n_pub - base + 1); the sum of squares (whose parity is the sum's) moves the variance in steps of
    2 / (n - 1), so the SD in steps of at least 1 / (SD x (n - 1)). Steps are 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1 ... and never finer than ``display``. NaN where ``n_pub`` is not published, and an SD that would show 0.

    Examples
    --------
    >>> m, sd = protected_moments([9.43, 9.43, 2.2], [2.63, 2.63, 0.837], [5.0, 40.0, 5.0])
    >>> [round(float(x), 2) for x in m], [round(float(x), 2) for x in sd]
    ([9.5, 9.4, 2.0], [2.5, 2.6, nan])
    """
    mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    # the smallest n a published count can stand for: n_pub - 2, or the threshold where a count of the threshold
    # or more that would round below it is shown as the first multiple of the base above it (at most base - 1)
    n_lo = np.maximum(np.asarray(n_pub, dtype=float) - (base - 1), 2.0)
    out_m, out_sd = np.full(len(mean), np.nan), np.full(len(mean), np.nan)
    for i in np.flatnonzero(np.isfinite(n_lo)):
        hm = _step(max(display, 1.0 / n_lo[i]))
        hs = _step(max(hm, 1.0 / (max(sd[i], 0.25) * (n_lo[i] - 1)))) if np.isfinite(sd[i]) else np.nan
        out_m[i] = np.round(mean[i] / hm) * hm
        out_sd[i] = np.round(sd[i] / hs) * hs if np.isfinite(hs) else np.nan
    # an SD shown as 0 says that everyone has the same value ("all of them have 2 children"), whether it is 0
    # or was rounded to 0 (a12: 0.0 shown for a true 0.837): not shown
    out_sd[out_sd == 0] = np.nan
    return out_m, out_sd

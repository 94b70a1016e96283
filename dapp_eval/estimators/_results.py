"""The result protocol every estimator follows, and the small result types that carry it.

Every estimator returns an object with

``params`` / ``estimate``
    the estimate(s), a Series indexed by term (or by statistic);
``bse``
    their standard errors (NaN where a method gives none, e.g. an exact test);
``conf_int(alpha=None)``
    a DataFrame (``ci_lower``, ``ci_upper``) at the result's level, or at ``alpha``;
``summary``
    a property (as in lifelines) returning a tidy DataFrame;
``n_obs``
    the number of observations (people, rows) the estimate is based on;
``alpha``
    the level the result was computed at, for labels (``level_text(alpha)``);
``table``
    the table view the analyses read.

Curves (Kaplan-Meier, Aalen-Johansen, mean cumulative function) add ``.plot()``
and their ``table`` is one row per time. The types here keep the old return
styles working: an :class:`Estimate` is still the dict it used to be, a
:class:`Curve` still the DataFrame, a :class:`TupleResult` still the
``(lower, upper)`` tuple, a :class:`TableResult` still the tidy DataFrame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.results import check_alpha, level_text

__all__ = ["Curve", "Estimate", "TableResult", "TupleResult", "wald_interval"]


def wald_interval(estimate, se, alpha: float, df: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """``estimate -/+ q se`` with ``q`` the normal (``df`` infinite) or t quantile at ``1 - alpha / 2``."""
    q = stats.norm.ppf(1 - alpha / 2) if not np.isfinite(df) else stats.t.ppf(1 - alpha / 2, df)
    est, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    return est - q * se, est + q * se


class Estimate(dict):
    """A single estimate (or test) that is still the dict the estimator used to return.

    Keys as before (``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``,
    ``p_value``, ``statistic``, ...); the protocol attributes read them.
    ``conf_int(alpha)`` at another level uses ``interval(alpha)`` when the
    estimator gave one (e.g. a t or score interval), else a Wald interval from
    ``std_error`` (and ``df`` when present).
    """

    def __init__(self, values: dict[str, Any], *, alpha: float, n_obs: int, name: str = "estimate",
                 interval: Callable[[float], tuple[float, float]] | None = None):
        super().__init__(values)
        self.alpha = check_alpha(alpha)
        self.n_obs = int(n_obs)
        self.name = name
        self._interval = interval

    def _value(self, key: str) -> float:
        v = self.get(key, np.nan)
        return float(v) if v is not None else np.nan

    @property
    def params(self) -> pd.Series:
        key = "estimate" if "estimate" in self else "statistic"
        return pd.Series([self._value(key)], index=[self.name], name="estimate")

    @property
    def estimate(self) -> pd.Series:
        return self.params

    @property
    def bse(self) -> pd.Series:
        return pd.Series([self._value("std_error")], index=[self.name], name="std_error")

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        a = self.alpha if alpha is None else check_alpha(alpha)
        if a == self.alpha and "ci_lower" in self:
            lo, hi = self._value("ci_lower"), self._value("ci_upper")
        elif self._interval is not None:
            lo, hi = self._interval(a)
        else:
            lo, hi = wald_interval(self._value("estimate"), self._value("std_error"), a, self.get("df", np.inf))
        return pd.DataFrame({"ci_lower": [float(lo)], "ci_upper": [float(hi)]}, index=[self.name])

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``term`` and every scalar value of the result, with the interval at ``alpha``."""
        row = {"term": self.name}
        row.update({k: v for k, v in self.items() if np.ndim(v) == 0 and not isinstance(v, pd.DataFrame)})
        if "estimate" in self:
            ci = self.conf_int()
            row["ci_lower"], row["ci_upper"] = float(ci["ci_lower"].iloc[0]), float(ci["ci_upper"].iloc[0])
        return pd.DataFrame([row])

    @property
    def table(self) -> pd.DataFrame:
        """The table the analyses read: a part table the estimator returned (``table``), else :attr:`summary`."""
        t = self.get("table")
        return t if isinstance(t, pd.DataFrame) else self.summary

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)}, alpha={self.alpha:g}, n_obs={self.n_obs})"


class TupleResult(tuple):
    """The tuple the estimator used to return (``(lower, upper)`` or ``(estimate, lower, upper)``), with the protocol.

    The last two elements are the interval at ``alpha``; ``interval(alpha)``
    recomputes it (the estimator's own method, e.g. Wilson's score interval).
    """

    def __new__(cls, values, *, estimate, n_obs, alpha: float, interval: Callable[[float], tuple[Any, Any]],
                std_error=np.nan):
        self = super().__new__(cls, tuple(values))
        self.alpha = check_alpha(alpha)
        self._estimate = np.asarray(estimate, dtype=float)
        self._se = np.asarray(std_error, dtype=float)
        self.n_obs = n_obs
        self._interval = interval
        return self

    def __reduce__(self):
        return (tuple, (tuple(self),))

    @property
    def params(self) -> pd.Series:
        return pd.Series(np.atleast_1d(self._estimate), name="estimate")

    @property
    def estimate(self) -> pd.Series:
        return self.params

    @property
    def bse(self) -> pd.Series:
        se = np.broadcast_to(np.atleast_1d(self._se), np.atleast_1d(self._estimate).shape)
        return pd.Series(se, name="std_error")

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        lo, hi = self[-2:] if alpha is None else self._interval(check_alpha(alpha))[-2:]
        return pd.DataFrame({"ci_lower": np.atleast_1d(lo), "ci_upper": np.atleast_1d(hi)})

    @property
    def summary(self) -> pd.DataFrame:
        ci = self.conf_int()
        n = np.broadcast_to(np.atleast_1d(np.asarray(self.n_obs)), ci.shape[:1])
        return pd.DataFrame({"estimate": self.params.to_numpy(), "std_error": self.bse.to_numpy(),
                             "ci_lower": ci["ci_lower"].to_numpy(), "ci_upper": ci["ci_upper"].to_numpy(), "n": n})

    @property
    def table(self) -> pd.DataFrame:
        return self.summary


class TableResult(pd.DataFrame):
    """A tidy table (one row per term, statistic or time) that is still the DataFrame the estimator returned.

    The protocol attributes read its columns: ``estimate`` (or ``statistic``
    for a test), ``std_error``, ``ci_lower``/``ci_upper``. Anything derived
    from it (a slice, a merge) is a plain DataFrame again.
    """

    _metadata = ["alpha", "n_obs", "kind", "key"]

    @property
    def _constructor(self):
        return pd.DataFrame

    @classmethod
    def from_table(cls, table: pd.DataFrame, *, alpha: float, n_obs: int, kind: str, key: list[str]):
        out = cls(table)
        out.alpha, out.n_obs, out.kind, out.key = check_alpha(alpha), int(n_obs), kind, list(key)
        return out

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self, copy=False)

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    def _index(self) -> pd.Index:
        if len(self.key) == 1:
            return pd.Index(self[self.key[0]].to_numpy(), name=self.key[0])
        return pd.MultiIndex.from_frame(self.table[self.key])

    def _column(self, name: str) -> pd.Series:
        vals = self[name].to_numpy(dtype=float) if name in self.columns else np.full(len(self), np.nan)
        return pd.Series(vals, index=self._index(), name=name)

    @property
    def params(self) -> pd.Series:
        return self._column("estimate" if "estimate" in self.columns else "statistic").rename("estimate")

    @property
    def estimate(self) -> pd.Series:
        return self.params

    @property
    def bse(self) -> pd.Series:
        return self._column("std_error")

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        if alpha is not None and check_alpha(alpha) != self.alpha:
            raise ValueError(f"this {self.kind} table was computed at alpha={self.alpha:g}; "
                             "recompute it with alpha= for another level")
        return pd.DataFrame({"ci_lower": self._column("ci_lower"), "ci_upper": self._column("ci_upper")})


class Curve(TableResult):
    """A step curve (one row per time, per cause) that is still the DataFrame the estimator returned.

    ``table`` is the plain DataFrame; ``plot(ax=None)`` draws the estimate as a
    step with its pointwise band.
    """

    def plot(self, ax=None, **kwargs):  # the curve's own figure, not DataFrame.plot
        """Draw the estimate as a step function with its pointwise band; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        label = kwargs.pop("label", self.kind)
        groups = [((), self.table)] if len(self.key) == 1 else self.table.groupby(self.key[:-1], sort=False)
        for g, tab in groups:
            name = label if g == () else f"{label}: {', '.join(map(str, np.atleast_1d(g)))}"
            (line,) = ax.step(tab["time"], tab["estimate"], where="post", label=name, **kwargs)
            ax.fill_between(tab["time"], tab["ci_lower"], tab["ci_upper"], step="post", alpha=0.2,
                            color=line.get_color(), label=f"{level_text(self.alpha)} pointwise interval")
        ax.set_xlabel("time")
        ax.set_ylabel("estimate")
        return ax

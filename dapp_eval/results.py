"""One results type shared by every analysis.

An analysis returns an :class:`AnalysisResult` (or a subclass) carrying

``summary``
    tidy DataFrame, one row per estimate, with ``estimate``, ``ci_lower``,
    ``ci_upper``, ``p_value`` and ``n`` (or ``n_*``) columns where they apply;
``meta``
    dict with at least ``n_in`` (rows the analysis was given), ``n_used``,
    ``excluded`` (mapping reason -> count; ``n_in == n_used + sum(excluded)``),
    ``method`` (plain words) and ``alpha``;
``model``
    the underlying lifelines / statsmodels object where there is one.

``plot(ax=None)`` draws the standard figure through :mod:`dapp_eval.plotting`
and returns the Axes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["AnalysisResult", "check_alpha", "make_meta"]


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it is a probability strictly between 0 and 0.5.

    Examples
    --------
    >>> check_alpha(0.05)
    0.05
    """
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number between 0 and 0.5, got {alpha!r}") from None
    if not 0 < a < 0.5:
        raise ValueError(f"alpha must be between 0 and 0.5 (e.g. 0.05 for 95% intervals), got {alpha!r}")
    return a


def make_meta(
    *,
    n_in: int,
    excluded: dict[str, int] | None = None,
    method: str,
    alpha: float = 0.05,
    unit: str = "rows",
    **extra: Any,
) -> dict[str, Any]:
    """Build the ``.meta`` dict, checking that the row accounting adds up.

    Examples
    --------
    >>> m = make_meta(n_in=10, excluded={"no start date": 3}, method="test")
    >>> m["n_used"]
    7
    """
    excluded = {k: int(v) for k, v in (excluded or {}).items() if int(v) != 0}
    n_used = int(n_in) - sum(excluded.values())
    if n_used < 0:
        raise AssertionError("row accounting error: more rows excluded than came in")
    meta = {
        "n_in": int(n_in),
        "n_used": n_used,
        "excluded": excluded,
        "unit": unit,
        "method": method,
        "alpha": float(alpha),
    }
    meta.update(extra)
    return meta


@dataclass
class AnalysisResult:
    """Container returned by every dapp_eval analysis.

    Attributes
    ----------
    summary : pandas.DataFrame
        Tidy table of estimates.
    meta : dict
        Row accounting (``n_in``, ``n_used``, ``excluded``), ``method``, ``alpha``.
    model : object, optional
        Underlying fitted model.
    tables : dict of str to DataFrame
        Further named tables (e.g. ``at_risk``, ``changes``).
    """

    summary: pd.DataFrame
    meta: dict[str, Any]
    model: Any = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    title: str = "dapp_eval result"
    _plotter: Callable[..., Any] | None = field(default=None, repr=False)

    def plot(self, ax=None, **kwargs):
        """Draw the standard figure for this result and return the Axes."""
        if self._plotter is None:
            raise NotImplementedError(f"{self.title} has no standard figure")
        return self._plotter(self, ax=ax, **kwargs)

    def __getattr__(self, name: str):
        # expose named tables as attributes: res.at_risk, res.changes, ...
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def _repr_html_(self) -> str:
        excl = self.meta.get("excluded", {})
        excl_txt = "; ".join(f"{k}: {v}" for k, v in excl.items()) or "none"
        head = (
            f"<h4>{html.escape(self.title)}</h4>"
            f"<p>{html.escape(str(self.meta.get('method', '')))}<br>"
            f"{self.meta.get('unit', 'rows')} in: {self.meta.get('n_in')}, used: {self.meta.get('n_used')}; "
            f"excluded: {html.escape(excl_txt)}</p>"
        )
        return head + self.summary.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="")

    def __repr__(self) -> str:
        return f"<{self.title}: {len(self.summary)} rows; n_used={self.meta.get('n_used')}>"

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

``plot(ax=None)`` draws the standard figure through :mod:`dapp_eval.analyses.plotting`
and returns the Axes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.formatting import P_FLOOR, format_p

__all__ = ["AnalysisResult", "DerivedTables", "P_FLOOR", "check_alpha", "format_p", "format_sig", "level_text", "make_meta",
           "stable_digits"]


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


def level_text(alpha: float) -> str:
    """The confidence level of ``alpha`` as a page writes it: ``'95%'``, ``'90%'``, ``'97.5%'``.

    Examples
    --------
    >>> level_text(0.05), level_text(0.1), level_text(0.025), level_text(0.01)
    ('95%', '90%', '97.5%', '99%')
    """
    return f"{round(100 * (1 - float(alpha)), 6):g}%"


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
    # every reason asked about, of nobody too, for the data-quality appendix: a reason listed only where someone had
    # it said "nobody here had it" (issue 26); ``excluded`` keeps the reasons that excluded someone
    reasons = [str(k) for k in (excluded or {})]
    excluded = {k: int(v) for k, v in (excluded or {}).items() if int(v) != 0}
    n_used = int(n_in) - sum(excluded.values())
    if n_used < 0:
        raise AssertionError("row accounting error: more rows excluded than came in")
    meta = {
        "n_in": int(n_in),
        "n_used": n_used,
        "excluded": excluded,
        "reasons": reasons,
        "unit": unit,
        "method": method,
        "alpha": float(alpha),
    }
    meta.update(extra)
    return meta


# Columns shown at a fixed precision, whatever their magnitude: likelihood-type
# criteria are determined to about 1e-6 relative by their optimiser, so one
# decimal is stable; p-values are shown by :func:`format_p` (three decimals or "< 0.001").
_ONE_DECIMAL = {"loglik", "log_likelihood", "llf", "reml", "reml_criterion", "aic", "bic", "deviance"}


def format_sig(x: Any, sig: int = 3) -> str:
    """Format a number to ``sig`` significant digits without an exponent where readable.

    Iterative fits (REML, GEE, Cox partial likelihood) and numerical derivatives
    (Satterthwaite df) agree across CPUs and BLAS kernels to about 1e-6 relative,
    not to the last printed digit; three significant digits leave a margin of
    about 1,000 between that noise and the printed precision.

    Examples
    --------
    >>> format_sig(1955.187177), format_sig(-1.851728), format_sig(0.000123456), format_sig(5.0)
    ('1960', '-1.85', '0.000123', '5.00')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    x = float(x)
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "")
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag < -4 or mag >= 9:
        return f"{x:.{sig - 1}e}"
    decimals = sig - 1 - mag
    r = round(x, decimals)
    if r != 0 and math.floor(math.log10(abs(r))) > mag:  # 9.996 -> 10.0: one digit fewer
        decimals -= 1
        r = round(x, decimals)
    if decimals <= 0:
        return str(int(r))
    return f"{r:.{decimals}f}"


def _is_p_column(name: str) -> bool:
    n = name.lower()
    return n in {"p", "p_value", "p_adjusted", "pvalue"} or n.startswith("p_value") or n.startswith("p_adj")


def stable_digits(df: pd.DataFrame, *, sig: int = 3) -> pd.DataFrame:
    """A copy of ``df`` for display, showing only the digits the methods determine.

    Floats become text at ``sig`` significant digits, p-values as
    :func:`format_p` writes them (three decimals or "< 0.001"), likelihood-type criteria at one decimal; integer and
    text columns are left as they are. Use it to show results in notebooks and
    anywhere an output is stored and compared (nbval), so that a different BLAS
    kernel or thread count cannot change what is shown. Keep computing with the
    raw ``summary``.

    Examples
    --------
    >>> import pandas as pd
    >>> stable_digits(pd.DataFrame({"estimate": [11.022274], "p_value": [2.2e-50], "n": [1706]}))
      estimate  p_value     n
    0     11.0  < 0.001  1706
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_float_dtype(s.dtype)):
            continue
        name = str(col)
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        if _is_p_column(name):
            out[col] = [format_p(v) for v in vals]
        elif name.lower() in _ONE_DECIMAL:
            out[col] = ["" if math.isnan(v) else f"{v:.1f}" for v in vals]
        elif (name == "n" or name.startswith("n_")) and np.all(np.isnan(vals) | (vals == np.round(vals))):
            out[col] = s.astype("Int64")
        else:
            out[col] = [format_sig(v, sig) for v in vals]
    return out


class DerivedTables:
    """Tables the analyses derive from one data object, each computed once.

    A :class:`~dapp_eval.data.io.ProgrammeData` owns one (its ``derived``
    property): the report asks for the same intermediate tables (the funnel
    stage of every referral, survey answers as numbers, the due (link, wave)
    grid) once per analysis and view, and they depend only on the data. The
    analyses that compute them name each by a key; :meth:`get` returns the
    cached table (callers copy what they change).

    Examples
    --------
    >>> d = DerivedTables()
    >>> d.get(("stage",), lambda: [1, 2]) is d.get(("stage",), lambda: [3])
    True
    >>> ("stage",) in d, len(d)
    (True, 1)
    """

    def __init__(self) -> None:
        self._tables: dict[tuple, Any] = {}

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The table named ``key``, computed by ``compute()`` the first time it is asked for."""
        if key not in self._tables:
            self._tables[key] = compute()
        return self._tables[key]

    def __contains__(self, key: tuple) -> bool:
        return key in self._tables

    def __len__(self) -> int:
        return len(self._tables)

    def __repr__(self) -> str:
        return f"DerivedTables({len(self)} tables)"


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
    roles : dict of str to list
        What each column of a table is (``"summary"`` or a name of ``tables``), as
        :mod:`dapp_eval.columns` declarations: the release publishes a table only
        through these (:func:`dapp_eval.disclosure.roles.publish`).
    """

    summary: pd.DataFrame
    meta: dict[str, Any]
    model: Any = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    title: str = "dapp_eval result"
    roles: dict[str, list] = field(default_factory=dict)
    _plotter: Callable[..., Any] | None = field(default=None, repr=False)

    def plot(self, ax=None, **kwargs):
        """Draw the standard figure for this result and return the Axes."""
        if self._plotter is None:
            raise NotImplementedError(f"{self.title} has no standard figure")
        return self._plotter(self, ax=ax, **kwargs)

    def view(self, columns: list[str] | None = None, *, query: str | None = None, sig: int = 3) -> pd.DataFrame:
        """The summary (optionally filtered and column-selected) at stable precision.

        See :func:`stable_digits`: this is what notebooks show, while
        ``summary`` keeps full precision for further computation.
        """
        df = self.summary if query is None else self.summary.query(query)
        if columns is not None:
            df = df[list(columns)]
        return stable_digits(df, sig=sig)

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
        return head + stable_digits(self.summary).to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        return f"<{self.title}: {len(self.summary)} rows; n_used={self.meta.get('n_used')}>"


def is_part(data) -> bool:
    """Whether ``data`` is a site's (or a period's) part of a loaded folder (``ProgrammeData.is_part``; a table
    given instead of a folder is not). An analysis refuses a whole folder with nothing to analyse, and gives a
    part the analysis of nobody, published like one of a few (issue 26)."""
    return bool(getattr(data, "is_part", False))


def every_reason(meta: dict) -> dict[str, int]:
    """A result's exclusions, every reason it asked about included, of nobody too (``meta["reasons"]``; a reason
    listed only where it excluded someone said "nobody here" where it did not; issue 26).

    >>> every_reason(make_meta(n_in=5, excluded={"a": 0, "b": 2}, method="m"))
    {'a': 0, 'b': 2}
    """
    return {**{k: 0 for k in meta.get("reasons", ())}, **meta.get("excluded", {})}

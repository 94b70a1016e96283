"""One publication step: a table declares what each column is, and every derived value comes from published counts.

:func:`publish` takes a result table and a list of column *roles*:

- :class:`Label` - text that names a row (never changed);
- :class:`Count` - a count of people (suppressed below the threshold, every other rounded);
- :class:`Proportion` - an estimate (and its Wilson interval, at the release's alpha) that is a numerator
  count over a denominator count of the same row: recomputed from the *published* counts, withheld when
  either is hidden, when the complement is small, or when "none" or "all" of a small group (the zero rule);
- :class:`Derived` - any other statistic of counts, with the function that derives it: the function is
  called with the published counts (NaN where hidden), never the true ones;
- :class:`Summary` - a mean, median or SD over the people of a count column: shown only when that count is
  at least the threshold (a mean of 4 people describes those 4);
- :class:`Value` - a figure that is not about people (a cost, a period in years): shown as it is;
- :class:`Merge` - (applied first) small levels of a category merged into one, not withheld;
- :class:`CurveAt` - a value read off a curve at a time, the curve rebuilt from rounded counts;
- :class:`Model` - model output (coefficients, intervals, p-values) with its number of events: shown only
  when there are at least ``threshold`` events.

Each role may cover only some rows (``rows``, a boolean mask or a function of the table). Every cell of a
non-count column that holds a value must be covered by a role: an undeclared column is an error, so nothing
reaches a page by accident. No heuristic on column names or values is used.

Examples
--------
>>> import pandas as pd
>>> from dapp_eval.disclosure import DisclosureControl
>>> t = pd.DataFrame({"group": ["A", "B"], "n": [23, 48], "n_total": [50, 50], "estimate": [0.46, 0.96]})
>>> roles = [Label("group"), Count("n", "n_total"), Proportion("n", "n_total", estimate="estimate")]
>>> publish(t, roles, DisclosureControl(), name="demo")[["n", "estimate"]].values.tolist()
[['25', 0.5], ['50', '[c]']]
>>> publish(pd.DataFrame({"missing age": [3], "dropouts": [12]}), [Count("missing age", "dropouts")],
...         DisclosureControl(), name="demo").values.tolist()   # a count is a count, whatever its name
[['<10', '10']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dapp_eval.columns import (
    Count,
    CurveAt,
    Derived,
    Label,
    Merge,
    Model,
    Proportion,
    Summary,
    Value,
    row_mask,
)
from dapp_eval.disclosure.control import HIDDEN, DisclosureControl, count_columns

__all__ = ["Label", "Count", "Proportion", "Derived", "Summary", "Model", "Value", "Merge", "CurveAt", "curve_value_at", "publish", "published_numbers"]


_mask = row_mask


@dataclass
class _State:
    true: pd.DataFrame
    out: pd.DataFrame
    pub: pd.DataFrame
    dc: DisclosureControl
    covered: dict = field(default_factory=dict)
    hidden: int = 0

    def cover(self, col: str, m: np.ndarray) -> None:
        self.covered[col] = self.covered.get(col, np.zeros(len(self.out), dtype=bool)) | m

    def put(self, col: str, m: np.ndarray, values, withhold: np.ndarray) -> None:
        """Set ``col`` on rows ``m`` to ``values`` (aligned to all rows), ``[c]`` where ``withhold``."""
        vals = pd.Series(np.asarray(values, dtype=object), index=self.out.index)
        self.out[col] = self.out[col].astype(object)
        keep = m & ~withhold
        self.out.loc[keep, col] = vals[keep].map(lambda v: np.nan if v is None else v)
        self.out.loc[m & withhold, col] = HIDDEN
        self.pub[col] = self.out[col]
        self.hidden += int((m & withhold & self.true[col].notna().to_numpy()).sum())
        self.cover(col, m)


def published_numbers(shown: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """The published counts of ``cols`` as numbers (NaN where suppressed or withheld)."""
    out = pd.DataFrame(index=shown.index)
    for c in cols:
        out[c] = pd.to_numeric(shown[c].astype(str).str.replace(",", ""), errors="coerce")
    return out


def _small(dc: DisclosureControl, v) -> np.ndarray:
    v = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float)
    return (v > 0) & (v < dc.threshold)


def _apply_proportion(s: _State, r: Proportion) -> None:
    from dapp_eval.estimators.proportions import wilson_ci

    m = _mask(r.rows, s.true)
    t = s.true
    k_true = pd.to_numeric(t[r.numerator], errors="coerce").to_numpy(dtype=float)
    n_true = pd.to_numeric(t[r.denominator], errors="coerce").to_numpy(dtype=float)
    k, n = s.pub[r.numerator].to_numpy(dtype=float), s.pub[r.denominator].to_numpy(dtype=float)
    comp = n_true - k_true
    zero = ((k_true == 0) | (comp == 0)) & (n_true > 0) & (n_true < s.dc.zero_minimum)
    withhold = np.isnan(k) | np.isnan(n) | (n <= 0) | _small(s.dc, comp) | zero | (k > n)
    withhold &= ~(np.isnan(k_true) | np.isnan(n_true))  # a row without these counts: not this proportion
    m = m & ~(np.isnan(k_true) | np.isnan(n_true))
    with np.errstate(invalid="ignore", divide="ignore"):
        est = r.scale * k / n
        lo, hi = wilson_ci(np.nan_to_num(k), np.where(n > 0, n, 1), alpha=s.dc.alpha)
    s.put(r.estimate, m, est, withhold)
    if r.ci and all(c in s.out.columns for c in r.ci):
        s.put(r.ci[0], m, r.scale * np.asarray(lo, dtype=float), withhold)
        s.put(r.ci[1], m, r.scale * np.asarray(hi, dtype=float), withhold)
    if r.rows is None:
        return  # its numerator and denominator went to the count step as a pair: logged there
    for i in np.flatnonzero(m & withhold):
        s.dc.record(s.out.attrs.get("name", "table"), s.out.attrs["labels"][i], r.estimate,
                    "computed from a count not published, a small complement, or none/all of a small group")


def _apply_derived(s: _State, r: Derived) -> None:
    m = _mask(r.rows, s.true)
    vals = r.fn(s.pub.copy())
    withhold = np.zeros(len(s.out), dtype=bool)
    if not r.hidden_ok:
        for c in r.inputs:
            withhold |= s.pub[c].isna().to_numpy() & s.true[c].notna().to_numpy()
    if r.small is not None:
        cells = r.small(s.true.copy())
        withhold |= np.asarray(cells.apply(lambda col: _small(s.dc, col)).any(axis=1), dtype=bool)
        withhold |= np.asarray((cells < 0).any(axis=1), dtype=bool)
        pub_cells = r.small(s.pub.copy())
        withhold |= np.asarray((pub_cells < 0).any(axis=1), dtype=bool)  # published cells that do not add up
    for c in r.cols:
        s.put(c, m, vals[c].to_numpy(), withhold | _missing(vals[c]) & s.true[c].notna().to_numpy())


def _missing(v: pd.Series) -> np.ndarray:
    """Values a derivation could not give: not a finite number and not a text (a derived label is text).

    >>> _missing(pd.Series([1.0, np.nan, "inside limits", None])).tolist()
    [False, True, False, True]
    """
    text = v.map(lambda x: isinstance(x, str)).to_numpy(dtype=bool)
    return ~np.isfinite(pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)) & ~text


def _apply_summary(s: _State, r: Summary) -> None:
    m = _mask(r.rows, s.true)
    n = pd.to_numeric(s.true[r.n], errors="coerce").to_numpy(dtype=float)
    withhold = np.isnan(n) | (n < s.dc.threshold)
    for c in r.cols:
        s.put(c, m, s.true[c].to_numpy(dtype=object), withhold & s.true[c].notna().to_numpy())


def _apply_model(s: _State, r: Model) -> None:
    m = _mask(r.rows, s.true)
    ev = (r.events(s.true.copy()) if callable(r.events) else s.true[r.events] if isinstance(r.events, str)
          else np.full(len(s.true), float(r.events)))
    ev = pd.to_numeric(pd.Series(np.asarray(ev, dtype=object)), errors="coerce").to_numpy(dtype=float)
    withhold = np.isnan(ev) | (ev < s.dc.threshold)
    for c in r.cols:
        s.put(c, m, s.true[c].to_numpy(dtype=object), withhold & s.true[c].notna().to_numpy())


def curve_value_at(steps: pd.DataFrame, *, cause: str, at: float, n_total, dc: DisclosureControl,
                   grain: float | None = None) -> tuple:
    """(estimate, lower, upper) of ``cause``'s cumulative incidence at ``at``, read off the curve rebuilt from
    rounded cumulative counts (:func:`dapp_eval.disclosure.curves.protected_steps`) at ``dc``'s threshold and
    alpha, on the time grid the release draws it on (``grain``, default one week of days in the programme:
    :data:`~dapp_eval.disclosure.curves.GRAIN_PROGRAMME_DAYS`). Where the log-log interval is undefined (0% or
    100%), the Wilson interval on the curve's people.

    Examples
    --------
    >>> st = pd.DataFrame({"time": [10.0, 20.0, 30.0], "done": [12, 3, 20], "other": [4, 0, 1],
    ...                    "censored": [0, 2, 8]})
    >>> [round(v, 3) for v in curve_value_at(st, cause="done", at=25, n_total=50, dc=DisclosureControl())]
    [0.3, 0.18, 0.43]
    """
    from dapp_eval.disclosure.curves import GRAIN_PROGRAMME_DAYS, cif_from_steps, protected_steps
    from dapp_eval.estimators.proportions import wilson_ci

    causes = [c for c in steps.columns if c not in ("time", "censored")]
    ps = protected_steps(steps["time"].to_numpy(dtype=float), {c: steps[c].to_numpy() for c in causes},
                         steps["censored"].to_numpy(), int(n_total), min_count=dc.threshold,
                         grain=GRAIN_PROGRAMME_DAYS if grain is None else grain, base=dc.base, censor_start=True)
    cif = cif_from_steps(ps, alpha=dc.alpha)
    cif = cif[(cif["cause"] == cause) & (cif["time"] <= at)]
    if cif.empty:
        return 0.0, np.nan, np.nan
    est, lo, hi = (float(cif[c].iloc[-1]) for c in ("estimate", "ci_lower", "ci_upper"))
    est = min(max(est, 0.0), 1.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or est <= 0 or est >= 1:
        n0 = int(ps["n_at_risk"].iloc[0])
        lo, hi = (float(v) for v in wilson_ci(round(est * n0), n0, alpha=dc.alpha))
    return est, lo, hi


def _apply_curve(s: _State, r: CurveAt) -> None:
    m = _mask(r.rows, s.true)
    vals = np.full((len(s.true), len(r.cols)), np.nan)
    for i in np.flatnonzero(m):
        row = s.true.iloc[i]
        n = pd.to_numeric(pd.Series([row[r.n]]), errors="coerce").iloc[0]
        if pd.isna(n) or n <= 0:
            continue
        at = r.at(row) if callable(r.at) else float(row[r.at])
        vals[i, :] = curve_value_at(r.steps(row), cause=r.cause, at=at, n_total=n, dc=s.dc)[
            : len(r.cols)]
    hidden = s.pub[r.n].isna().to_numpy() & s.true[r.n].notna().to_numpy()
    for j, c in enumerate(r.cols):
        s.put(c, m, vals[:, j], hidden | (np.isnan(vals[:, j]) & s.true[c].notna().to_numpy()))


def _apply_value(s: _State, r: Value) -> None:
    for c in r.cols:
        s.cover(c, np.ones(len(s.out), dtype=bool))


_APPLY = {Value: _apply_value, CurveAt: _apply_curve, Proportion: _apply_proportion, Derived: _apply_derived, Summary: _apply_summary, Model: _apply_model}


def _check_declared(df: pd.DataFrame, roles, covered: dict, plain: set) -> None:
    for c in df.columns:
        if c in plain:
            continue
        m = covered.get(c, np.zeros(len(df), dtype=bool))
        left = df[c].notna().to_numpy() & ~m
        if left.any():
            raise ValueError(f"publish: column {c!r} has values in rows no role declares (row {int(np.argmax(left))})")


def publish(df: pd.DataFrame, roles: Sequence, dc: DisclosureControl, *, name: str,
            pairs: dict[str, str] | None = None, margins: list | None = None) -> pd.DataFrame:
    """The table as published under ``dc``'s policy: counts protected, every other column from its role.

    ``pairs`` (numerator -> denominator) are passed to the count step so that a count saying "none" or
    "all" of a small group is withheld with its proportion (the zero rule); :class:`Proportion` roles add
    theirs. ``margins`` (lists of label columns whose rows add up to totals published elsewhere, e.g. the
    rows and columns of a cross-table) are passed to the count step's secondary suppression.
    """
    t = df.reset_index(drop=True).copy()
    pairs = dict(pairs or {})
    for r in roles:
        if isinstance(r, Proportion) and r.rows is None:
            pairs.setdefault(r.numerator, r.denominator)
    for r in roles:
        if isinstance(r, Merge):  # a level the zero rule would withhold is small too (merged, not withheld)
            where = None if r.where is None else row_mask(r.where, t)
            t = dc.merge_small(t, by=list(r.by), level=r.level, across=tuple(r.across), add=tuple(r.add),
                               where=where, name=name, pairs=pairs, adjacent=r.adjacent, sums=tuple(r.sums))
    labels = [c for r in roles if isinstance(r, Label) for c in r.cols]
    counts = [c for r in roles if isinstance(r, Count) for c in r.cols]
    # the count step knows counts by name (n, n_*): a Count column named otherwise goes through it as one too
    alias = {c: c if count_columns(pd.DataFrame(columns=[c])) else f"n_count_{i}" for i, c in enumerate(counts)}
    shown = dc.table(t[labels + counts].rename(columns=alias), name=name, label_cols=labels,
                     pairs={alias.get(k, k): alias.get(v, v) for k, v in pairs.items()} or None, margins=margins)
    out = t.copy()
    for c in counts:
        out[c] = shown[alias[c]]
    pub = t.copy()
    pub[counts] = published_numbers(out, counts)
    out.attrs["name"] = name
    out.attrs["labels"] = ([" / ".join(map(str, r)) for r in t[labels].itertuples(index=False)] if labels
                           else [str(i) for i in range(len(t))])
    s = _State(true=t, out=out, pub=pub, dc=dc)
    for r in roles:
        if type(r) in _APPLY:
            _APPLY[type(r)](s, r)
    _check_declared(t, roles, s.covered, set(labels) | set(counts))
    dc._tally(name, derived=s.hidden)
    out.attrs.clear()
    return out

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
- :class:`AtPublishedN` - a statistic that depends on how many people there are (t-interval, p-value, effect
  size interval), computed by its function at the *published* count, the function never seeing a true count;
- :class:`Events` - a count of events (applied right after the counts): withheld where 0 in a group under the
  zero minimum, and wherever the count of people it implies is withheld;
- :class:`Value` - a figure that is not about people (a cost, a period in years): shown as it is;
- :class:`Merge` - (applied first) small levels of a category merged into one, not withheld;
- :class:`CurveAt` - a value read off a curve at a time, the curve rebuilt from rounded counts;
- :class:`CurveQuantile` - the first time that curve reaches a level (a median wait and its interval);
- :class:`CurveArea` - the area under that curve up to a horizon (a restricted mean), with its standard error;
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
    AtPublishedN,
    Count,
    CurveArea,
    CurveAt,
    CurveQuantile,
    Derived,
    Events,
    Label,
    Merge,
    Model,
    Proportion,
    Summary,
    Value,
    row_mask,
)
from dapp_eval.disclosure.control import HIDDEN, WITH_SMALL, DisclosureControl, count_columns

__all__ = ["Label", "Count", "Proportion", "Derived", "Summary", "AtPublishedN", "Events", "Model", "Value", "Merge",
           "CurveAt", "CurveQuantile", "CurveArea", "curve_value_at", "curve_quantile", "curve_area", "publish",
           "published_numbers"]


_mask = row_mask


@dataclass
class _State:
    true: pd.DataFrame
    out: pd.DataFrame
    pub: pd.DataFrame
    dc: DisclosureControl
    covered: dict = field(default_factory=dict)
    hidden: int = 0
    counts: tuple = ()

    def cover(self, col: str, m: np.ndarray) -> None:
        self.covered[col] = self.covered.get(col, np.zeros(len(self.out), dtype=bool)) | m

    def put(self, col: str, m: np.ndarray, values, withhold: np.ndarray) -> None:
        """Set ``col`` on rows ``m`` to ``values`` (aligned to all rows), ``[c]`` where ``withhold``."""
        # set in the column's object array and assigned once (two .loc assignments per column cost more than
        # the rest of publishing a small table); the values are those .loc set (Series.map's, one dtype inferred)
        cells = self.out[col].astype(object).to_numpy(copy=True)
        keep = m & ~withhold
        if keep.any():
            kept = pd.Series(np.broadcast_to(np.asarray(values, dtype=object), keep.shape)[keep])
            cells[keep] = kept.map(lambda v: np.nan if v is None else v).to_numpy()
        cells[m & withhold] = HIDDEN
        self.out[col] = cells
        self.pub[col] = self.out[col]
        # every cell shown withheld is counted (and so logged), one the data could not give too: the log said
        # "computed values hidden" beside one person and not beside nobody (issue 26)
        self.hidden += int((m & withhold).sum())
        self.cover(col, m)


def published_numbers(shown: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """The published counts of ``cols`` as numbers (NaN where suppressed or withheld)."""
    return pd.DataFrame({c: pd.to_numeric(shown[c].astype(str).str.replace(",", ""), errors="coerce") for c in cols},
                        index=shown.index, columns=list(dict.fromkeys(cols)))


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
    zero = ((k_true == 0) | (comp == 0)) & (n_true > 0) & (n_true < s.dc.zero_rule_minimum)
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
        withhold |= _zero_of_small_group(s, r, cells)
    # a value missing in a row whose counts are withheld is withheld too: blank there (a Holm p-value of a test
    # of nobody) beside '[c]' (of one person) told 0 from a few (issue 26)
    hidden_row = _counts_hidden(s)
    for c in r.cols:
        s.put(c, m, vals[c].to_numpy(), withhold | _missing(vals[c]) & (s.true[c].notna().to_numpy() | hidden_row))


def _counts_hidden(s: _State) -> np.ndarray:
    """Rows with a count of the table withheld (shown as '<T' or '[c]')."""
    out = np.zeros(len(s.out), dtype=bool)
    for c in s.counts:
        out |= s.pub[c].isna().to_numpy() & s.true[c].notna().to_numpy()
    return out


def _zero_of_small_group(s: _State, r: Derived, cells: pd.DataFrame) -> np.ndarray:
    """Issue 26, F4: an implied cell of 0 in a group under the zero minimum ("all completed") is the zero rule's
    "none" or "all", withheld wherever the same cells are read (the headline card and the table)."""
    if r.group is None:
        return np.zeros(len(s.out), dtype=bool)
    g = _people_of(r.group, s.true)
    zero = cells.apply(lambda c: pd.to_numeric(c, errors="coerce").astype("float64")).to_numpy(dtype=float) == 0
    return zero.any(axis=1) & (g > 0) & (g < s.dc.zero_rule_minimum)


def _missing(v: pd.Series) -> np.ndarray:
    """Values a derivation could not give: not a finite number and not a text (a derived label is text).

    >>> _missing(pd.Series([1.0, np.nan, "inside limits", None])).tolist()
    [False, True, False, True]
    """
    text = v.map(lambda x: isinstance(x, str)).to_numpy(dtype=bool)
    return ~np.isfinite(pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)) & ~text


def _summary_moments(s: _State, r: Summary) -> dict:
    """The ``moments`` columns of a Summary, coarsened for the published n
    (:func:`dapp_eval.estimators.paired.protected_moments`)."""
    if not r.moments:
        return {}
    mean_c, sd_c = (tuple(r.moments) + (None,))[:2]
    mean = pd.to_numeric(s.true[mean_c], errors="coerce").to_numpy(dtype=float)
    sd = (pd.to_numeric(s.true[sd_c], errors="coerce").to_numpy(dtype=float) if sd_c
          else np.full(len(mean), 1.0))
    from dapp_eval.estimators.paired import protected_moments

    m, sd_pub = protected_moments(mean, sd, _people_of(r.n, s.pub), s.dc.base)
    return {mean_c: m, **({sd_c: sd_pub} if sd_c else {})}


def _apply_summary(s: _State, r: Summary) -> None:
    m = _mask(r.rows, s.true)
    n = _people_of(r.n, s.true)
    withhold = np.isnan(n) | (n < s.dc.threshold)
    moments = _summary_moments(s, r)
    if moments:
        withhold = withhold | np.isnan(_people_of(r.n, s.pub))
    for c in r.cols:
        v = s.true[c].to_numpy(dtype=object)
        if c in moments:
            s.put(c, m, moments[c], withhold | (np.isnan(moments[c]) & s.true[c].notna().to_numpy()))
            continue
        if r.grain:
            x = pd.to_numeric(s.true[c], errors="coerce").to_numpy(dtype=float)
            v = np.where(np.isfinite(x), np.floor(x / r.grain + 1e-9) * r.grain, x)
        # every cell of a withheld row is withheld, a statistic the data could not give too: a blank beside a
        # '[c]' said "n is 0 or 1" (no SD, no interval), a15/S05 (issue 26)
        s.put(c, m, v, withhold)


def _apply_at_published_n(s: _State, r: AtPublishedN) -> None:
    """Statistics computed at the published n by a function that is handed no true count (issue 26, F1b: a
    t-interval, p-value and Cohen's d_z at the true n gave the true n back from its rounding band)."""
    m = _mask(r.rows, s.true)
    n_pub = s.pub[r.n].to_numpy(dtype=float)
    stats = s.true.drop(columns=[c for c in s.counts if c in s.true.columns]).copy()
    vals = r.fn(stats, n_pub.copy(), s.dc.alpha)
    withhold = np.isnan(n_pub) | (n_pub < s.dc.threshold)
    for c in r.cols:
        v = vals[c].to_numpy(dtype=object)
        s.put(c, m, v, withhold | (_missing(vals[c]) & s.true[c].notna().to_numpy()))
    for c in r.inputs:  # sufficient statistics: read, never published
        s.out[c] = np.nan
        s.pub[c] = np.nan
        s.cover(c, np.ones(len(s.out), dtype=bool))


def _people_of(people, df: pd.DataFrame) -> np.ndarray:
    v = pd.Series(np.asarray(people(df.copy()) if callable(people) else df[people], dtype=object))
    return pd.to_numeric(v.map(lambda x: np.nan if x is None or x is pd.NA else x),
                         errors="coerce").to_numpy(dtype=float)


def _group_totals(r: Count, c: str, true: pd.DataFrame) -> np.ndarray:
    if r.total == "sum":
        return np.full(len(true), float(pd.to_numeric(true[c], errors="coerce").sum()))
    return _people_of(r.total, true)


def _hide(s: _State, col: str, withhold: np.ndarray, beside: np.ndarray | None = None) -> None:
    """Withhold the published counts of ``col`` where ``withhold``, after the count step: a count below the
    threshold (a 0 of the zero rule) is shown and logged like any small count (``<T``), a larger one like a
    total beside a small part (``[c]``), so that neither the marker nor the log tells "none" from "a few".
    Where ``beside`` (withheld for a hidden count beside it, whatever its own size), always ``[c]``: ``<T`` for a
    few and ``[c]`` for more told the two apart inside a hidden row (outside attack a25 J2)."""
    v = pd.to_numeric(s.true[col], errors="coerce").to_numpy(dtype=float)
    withhold = withhold & s.pub[col].notna().to_numpy()
    small = withhold & (v < s.dc.threshold)
    if beside is not None:
        small &= ~beside
    s.out[col] = s.out[col].astype(object)
    s.out.loc[small, col] = s.dc.marker
    s.out.loc[withhold & ~small, col] = HIDDEN
    rounded = int((withhold & (s.pub[col].to_numpy(dtype=float) != v)).sum())
    s.pub.loc[withhold, col] = np.nan
    s.dc._tally(s.out.attrs.get("name", "table"), published=-int(withhold.sum()), withheld=int(withhold.sum()),
                rounded=-rounded)
    for i in np.flatnonzero(withhold):
        s.dc.record(s.out.attrs.get("name", "table"), s.out.attrs["labels"][i], col,
                    f"count below {s.dc.threshold}" if small[i] else WITH_SMALL)


def _none_of_small(s: _State, v: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Issue 26, F2: a 0 in a group smaller than the zero rule's minimum says "none of them" and is shown as a
    small count. ("All of them" is a count of at least the threshold when the group is: it stays, rounded, and
    the proportion it would give is withheld by its role, as it is for a complement of a few.)"""
    return (v == 0) & (group > 0) & (group < s.dc.zero_rule_minimum)


def _apply_count_zero_rule(s: _State, r: Count) -> None:
    for c in r.cols:
        v = pd.to_numeric(s.true[c], errors="coerce").to_numpy(dtype=float)
        group = _group_totals(r, c, s.true)
        # a group of 0 is itself "none" of the table's largest group, and so are its 0s (a12 C1: "in the clinical
        # range at intake 0" of 3 people assessed twice)
        largest = np.nanmax(group) if np.isfinite(group).any() else np.nan
        group = np.where(group == 0, largest, group)
        _hide(s, c, _none_of_small(s, v, np.full(len(v), largest) if c == r.total else group))


def _apply_merge_zero_rule(s: _State, r: Merge) -> None:
    """A level left holding 0 of a group smaller than the zero minimum after merging (it had no sibling of its
    kind to merge with: "Assessed as unsuitable 0" beside the intermediate "Accepted"; "Started 0" of a few
    accepted) is shown as a small count."""
    size = np.asarray(r.group_size(s.true), dtype=float)
    for c in (c for c in r.add if c in s.counts):
        _hide(s, c, _none_of_small(s, pd.to_numeric(s.true[c], errors="coerce").to_numpy(dtype=float), size))


def _apply_count_rules(s: _State, roles) -> None:
    """After the count step, before any role reads the counts: the zero rule of merged groups and of declared
    groups, then the counts of events."""
    for r in roles:
        if isinstance(r, Merge) and r.group_size is not None:
            _apply_merge_zero_rule(s, r)
    for r in roles:
        if isinstance(r, Count) and r.total is not None:
            _apply_count_zero_rule(s, r)
    for r in roles:
        if isinstance(r, Events):
            _apply_events(s, r)


def _apply_events(s: _State, r: Events) -> None:
    """Issue 26, F1: a published 0 incidents beside a hidden number of people with an incident said "none of
    them". A count of events is withheld where it is 0 in a group under the zero minimum, and wherever the
    count of people it implies is withheld."""
    m = _mask(r.rows, s.true)
    ev = pd.to_numeric(s.true[r.col], errors="coerce").to_numpy(dtype=float)
    n = _people_of(r.n, s.true)
    withhold = _none_of_small(s, ev, n)
    beside = np.zeros(len(ev), dtype=bool)
    if r.people is not None:
        beside = ~np.isnan(_people_of(r.people, s.true)) & np.isnan(_people_of(r.people, s.pub))
    ok = m & ~np.isnan(ev)
    _hide(s, r.col, (withhold | beside) & ok, beside=beside & ok)
    _as_beside(s, r.col, beside & ok)


def _as_beside(s: _State, col: str, rows: np.ndarray) -> None:
    """Counts of ``col`` already shown as small (``<T``) in ``rows``, where a hidden count beside them withholds
    them anyway: shown and logged as withheld beside it (``[c]``), as a larger count there is, so that inside a
    hidden row the marker does not say whether the count is below the threshold (outside attack a25 J2)."""
    name = s.out.attrs.get("name", "table")
    labels = s.out.attrs["labels"]
    below = f"count below {s.dc.threshold}"
    for i in np.flatnonzero(rows & (s.out[col].astype(str) == s.dc.marker).to_numpy()):
        s.out.iat[i, s.out.columns.get_loc(col)] = HIDDEN
        s.dc.relabel(name, labels[i], col, old=below, new=WITH_SMALL)


def _apply_model(s: _State, r: Model) -> None:
    m = _mask(r.rows, s.true)
    ev = (r.events(s.true.copy()) if callable(r.events) else s.true[r.events] if isinstance(r.events, str)
          else np.full(len(s.true), float(r.events)))
    ev = pd.to_numeric(pd.Series(np.asarray(ev, dtype=object)), errors="coerce").to_numpy(dtype=float)
    withhold = np.isnan(ev) | (ev < s.dc.threshold)
    for c in r.cols:  # a row of too few events: every cell withheld, one the model could not give too (issue 26)
        s.put(c, m, s.true[c].to_numpy(dtype=object), withhold)


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

    def read(row, n):
        at = r.at(row) if callable(r.at) else float(row[r.at])
        return curve_value_at(r.steps(row), cause=r.cause, at=at, n_total=n, dc=s.dc)

    vals = _read_curves(s, r, m, read)
    _put_read(s, r, m, vals, _n_hidden(s, r.n)[:, None] | np.isnan(vals))


def curve_quantile(steps: pd.DataFrame, *, cause: str, n_total, dc: DisclosureControl, level: float = 0.5,
                   among: bool = False, grain: float = 1.0) -> tuple:
    """(estimate, lower, upper) of the first times ``cause``'s cumulative incidence, rebuilt from rounded cumulative
    counts at ``dc``'s threshold and alpha and stopped where fewer than the threshold remain at risk (the curve a
    release draws), and its pointwise upper and lower limits reach ``level``; NaN where not reached. With
    ``among``, the ``level`` quantile of the times of ``cause`` among the rounded people with it (no interval).

    Examples
    --------
    >>> st = pd.DataFrame({"time": [1.0, 2.0, 3.0, 4.0], "done": [12, 3, 20, 9], "other": [4, 0, 1, 0],
    ...                    "censored": [0, 2, 8, 1]})
    >>> curve_quantile(st, cause="done", n_total=60, dc=DisclosureControl())
    (3.0, 3.0, 4.0)
    """
    from dapp_eval.disclosure.curves import cif_quantile, event_quantile, steps_of_counts

    ps = steps_of_counts(steps, n_total, min_count=dc.threshold, grain=grain, base=dc.base)
    if among:
        return event_quantile(ps, cause, level), np.nan, np.nan
    return cif_quantile(ps, cause, threshold=dc.threshold, alpha=dc.alpha, level=level)


def curve_area(steps: pd.DataFrame, *, horizon: float, n_total, dc: DisclosureControl, grain: float = 7.0) -> tuple:
    """(estimate, std_error, lower, upper): the restricted mean up to ``horizon`` under the Kaplan-Meier curve of
    leaving by any cause, rebuilt from rounded cumulative counts (:func:`dapp_eval.disclosure.curves.km_area`)."""
    from dapp_eval.disclosure.curves import km_area, steps_of_counts

    # time in the programme: censorings at the start of their week (completions fall on the weekly grid points)
    ps = steps_of_counts(steps, n_total, min_count=dc.threshold, grain=grain, base=dc.base, censor_start=True)
    r = km_area(ps, horizon, alpha=dc.alpha)
    return r["estimate"], r["std_error"], r["ci_lower"], r["ci_upper"]


def _true_n(row: pd.Series, col: str) -> float:
    n = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
    return float(n) if pd.notna(n) else np.nan


def _read_curves(s: _State, r, m: np.ndarray, read) -> np.ndarray:
    """``read(row, n)`` (a tuple of ``len(r.cols)`` values) for every row of ``m`` with people (NaN else)."""
    vals = np.full((len(s.true), len(r.cols)), np.nan)
    for i in np.flatnonzero(m):
        row = s.true.iloc[i]
        n = _true_n(row, r.n)
        if np.isfinite(n) and n > 0:
            vals[i, :] = read(row, n)[: len(r.cols)]
    return vals


def _put_read(s: _State, r, m: np.ndarray, vals: np.ndarray, withhold: np.ndarray) -> None:
    """Curve readings into ``r.cols``: withheld (``[c]``) where ``withhold`` (all rows, or one column per value),
    else the reading (NaN: not reached)."""
    w = withhold if withhold.ndim == 2 else np.repeat(withhold[:, None], len(r.cols), axis=1)
    for j, c in enumerate(r.cols):  # withheld, a reading of nobody too (blank beside '[c]' said "none"; issue 26)
        s.put(c, m, vals[:, j], w[:, j])


def _n_hidden(s: _State, col: str) -> np.ndarray:
    return s.pub[col].isna().to_numpy() & s.true[col].notna().to_numpy()


def _apply_quantile(s: _State, r: CurveQuantile) -> None:
    m = _mask(r.rows, s.true)
    vals = _read_curves(s, r, m, lambda row, n: curve_quantile(r.steps(row), cause=r.cause, n_total=n, dc=s.dc,
                                                                level=r.level, among=r.among, grain=r.grain))
    withhold = _n_hidden(s, r.n)
    if r.events is not None:
        ev = r.events(s.true.copy()) if callable(r.events) else s.true[r.events]
        ev = pd.to_numeric(pd.Series(np.asarray(ev, dtype=object)), errors="coerce").to_numpy(dtype=float)
        withhold = withhold | np.isnan(ev) | (ev < s.dc.threshold)
    _put_read(s, r, m, vals, withhold)
    if r.reached is not None:
        s.put(r.reached, m, np.isfinite(vals[:, 0]), withhold & s.true[r.reached].notna().to_numpy())


def _apply_area(s: _State, r: CurveArea) -> None:
    m = _mask(r.rows, s.true)

    def read(row, n):
        horizon = r.horizon(row) if callable(r.horizon) else float(row[r.horizon])
        return curve_area(r.steps(row), horizon=horizon, n_total=n, dc=s.dc, grain=r.grain)

    vals = _read_curves(s, r, m, read)
    _put_read(s, r, m, vals, _n_hidden(s, r.n) | (np.isnan(vals[:, 0]) & m))


def _apply_value(s: _State, r: Value) -> None:
    for c in r.cols:
        s.cover(c, np.ones(len(s.out), dtype=bool))


_APPLY = {Value: _apply_value, AtPublishedN: _apply_at_published_n, CurveAt: _apply_curve, CurveQuantile: _apply_quantile,
          CurveArea: _apply_area, Proportion: _apply_proportion, Derived: _apply_derived, Summary: _apply_summary,
          Model: _apply_model}


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
                               where=where, name=name, pairs=pairs, adjacent=r.adjacent, sums=tuple(r.sums),
                               group_size=None if r.group_size is None else r.group_size(t), named=r.named)
    labels = [c for r in roles if isinstance(r, Label) for c in r.cols]
    counts = [c for r in roles if isinstance(r, Count) for c in r.cols]
    counts += [r.col for r in roles if isinstance(r, Events) and r.col not in counts]
    # the count step knows counts by name (n, n_*): a Count column named otherwise goes through it as one too
    named = set(count_columns(pd.DataFrame(columns=counts)))
    alias = {c: c if c in named else f"n_count_{i}" for i, c in enumerate(counts)}
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
    s = _State(true=t, out=out, pub=pub, dc=dc, counts=tuple(counts))
    _apply_count_rules(s, roles)
    for r in roles:
        if type(r) in _APPLY:
            _APPLY[type(r)](s, r)
    _check_declared(t, roles, s.covered, set(labels) | set(counts))
    dc._tally(name, derived=s.hidden)
    out.attrs.clear()
    return out

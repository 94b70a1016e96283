"""Small-number suppression for everything that reaches a published report.

Victims can be identified from small local counts. Every table and figure
annotation that reaches a report passes through one :class:`DisclosureControl`,
which

- suppresses counts from 1 to ``threshold - 1`` (default 10) in tables that
  describe people by characteristics or outcomes (``kind="people"``), marks
  them ``<10``, and applies secondary suppression so that no hidden cell can
  be recovered from a total (the next-smallest cell of the same margin, row
  or block is hidden too, marked ``[c]`` because its own value may be large);
- hides percentages, rates and intervals built on a suppressed count, and
  proportions whose complement is small (``8 of 9`` reveals the one);
- publishes the programme's own throughput counts (referrals, starts,
  completions by site and quarter; ``kind="throughput"``) as councils already
  do, unless ``strict=True``, which suppresses them as well;
- stops survival curves where fewer than ``threshold`` people remain at risk
  and rounds at-risk counts to the nearest 5;
- logs what it suppressed, where and why (never the hidden value).

Count columns are found by name: ``n`` or ``n_*``.

Comparison with ACRO (the SACRO output-checking package): ACRO's default
threshold rule also suppresses cells with counts below 10 and marks the
outcome of every output; it additionally checks magnitude tables for dominance
(p-ratio, nk rule), which dapp_eval does not need because it publishes no
magnitude tables of individual values. ACRO does not apply secondary
suppression or survival-curve truncation; dapp_eval does both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["DisclosureControl", "count_columns", "SUPPRESSED"]

#: marker shown in place of a suppressed value
SUPPRESSED = "<{t}"


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns that hold published counts: named ``n`` or ``n_*``.

    Examples
    --------
    >>> count_columns(pd.DataFrame(columns=["stage", "n", "n_open", "estimate"]))
    ['n', 'n_open']
    """
    return [c for c in df.columns if c == "n" or str(c).startswith("n_")]


@dataclass
class DisclosureControl:
    """Apply and log small-number suppression.

    Parameters
    ----------
    threshold : int
        Counts from 1 to ``threshold - 1`` are suppressed (0 is published:
        "none" does not identify anyone).
    strict : bool
        Also suppress the programme's throughput counts.
    round_at_risk : int
        Round at-risk counts under survival curves to this multiple.

    Examples
    --------
    >>> dc = DisclosureControl(threshold=10)
    >>> t = pd.DataFrame({"group": ["A", "B", "C"], "n": [25, 4, 30]})
    >>> dc.table(t, name="demo", margins=["__all__"])["n"].tolist()
    ['[c]', '<10', '30']
    >>> dc.log["reason"].iloc[1]
    'secondary suppression: protects a suppressed cell in the same margin'
    """

    threshold: int = 10
    strict: bool = False
    round_at_risk: int = 5
    _log: list[dict] = field(default_factory=list, repr=False)

    def __post_init__(self):
        if int(self.threshold) < 1:
            raise ValueError("threshold must be a whole number >= 1")
        self.threshold = int(self.threshold)

    @property
    def marker(self) -> str:
        return SUPPRESSED.format(t=self.threshold)

    @property
    def log(self) -> pd.DataFrame:
        """What was suppressed: table, row (label), column, reason."""
        return pd.DataFrame(self._log, columns=["table", "row", "column", "reason"])

    def record(self, table, row, column, reason):
        """Log one suppression decision taken outside :meth:`table` (e.g. a figure not drawn); never the value."""
        self._log.append({"table": table, "row": row, "column": column, "reason": reason})

    _record = record  # the name used before the method was public

    def is_small(self, n) -> bool:
        """Whether a count would be suppressed (1 .. threshold-1)."""
        return n is not None and not pd.isna(n) and 0 < float(n) < self.threshold

    def count(self, n, *, name: str = "annotation", label: str = "", kind: str = "people") -> str:
        """Format one count for text or a figure annotation, suppressing it if small.

        Examples
        --------
        >>> DisclosureControl().count(7)
        '<10'
        >>> DisclosureControl().count(54)
        '54'
        """
        if n is None or pd.isna(n):
            return "n/a"
        if (kind == "people" or self.strict) and self.is_small(n):
            self._record(name, label, "count", f"count below {self.threshold}")
            return self.marker
        return f"{int(round(float(n))):,}"

    def table(self, df: pd.DataFrame, *, name: str, kind: str = "people", margins: list | None = None,
              pairs: dict[str, str] | None = None, dependent: dict[str, list[str]] | None = None,
              label_cols: list[str] | None = None, exempt=None, row_margins: list[list[str]] | None = None,
              row_cells=None, group_all: list[str] | None = None, keep: tuple[str, ...] = ()) -> pd.DataFrame:
        """Return a display copy of ``df`` with small counts and what they reveal hidden.

        Parameters
        ----------
        df : DataFrame
            A tidy result table.
        name : str
            Table name for the log.
        kind : {"people", "throughput"}
            ``throughput`` counts (referrals, starts, completions) are published
            unless ``strict``.
        margins : list of str, or list of lists of str, optional
            Each entry names columns whose rows form margins adding up to a
            published total (e.g. ``["group"]``; ``["__all__"]`` = the whole
            column). Within a margin, if exactly one cell is hidden the
            next-smallest positive cell is hidden too. Several margin
            definitions (rows and columns of a cross-table) are applied
            repeatedly until nothing changes.
        pairs : dict, optional
            ``{numerator: denominator}``: a numerator whose complement
            (denominator - numerator) is small is hidden as well.
        dependent : dict, optional
            ``{count column: [columns computed from it]}``; by default every
            non-count numeric column (estimate, ci_lower, ...) depends on all
            count columns of its row.
        label_cols : list of str, optional
            Columns used to name rows in the log (default: non-numeric columns).
        exempt : boolean array-like, optional
            Rows holding the programme's throughput counts: published unless
            ``strict``, and never chosen for secondary suppression.
        row_margins : list of lists of str, optional
            Count columns of one row that add up to a published total (e.g.
            ``["n_event", "n_competing", "n_censored"]`` adding up to ``n``).
        row_cells : callable, optional
            ``row_cells(df) -> DataFrame`` of counts implied by each row (e.g.
            the four cells of a paired 2x2 table). A row with any implied cell
            below the threshold is hidden whole (its counts but ``keep`` and
            everything computed from them).
        group_all : list of str, optional
            Rows sharing these columns are one block (e.g. the before, after and
            change rows of one outcome): if any count in a block is hidden,
            every other count (but ``keep``) and every computed value of the
            block is hidden, so nothing can be worked back.
        keep : tuple of str
            Count columns that ``row_cells`` and ``group_all`` leave visible
            (e.g. the number of eligible people ``n``).

        Returns
        -------
        DataFrame
            Same shape; counts as formatted strings. A count below the
            threshold shows ``<threshold``; a cell hidden because it would
            reveal one (complement, secondary, row or block suppression) shows
            ``[c]``.
        """
        out = df.copy().reset_index(drop=True)
        counts = count_columns(out)
        if label_cols is None:
            label_cols = [c for c in out.columns if out[c].dtype == object and c not in counts]
        labels = out[label_cols].astype(str).agg(" / ".join, axis=1) if label_cols else out.index.astype(str)
        vals = {c: pd.to_numeric(out[c], errors="coerce").astype(float) for c in counts}
        ex = (np.zeros(len(out), dtype=bool) if exempt is None
              else np.asarray(pd.Series(exempt).fillna(False), dtype=bool))
        if kind == "throughput" or self.strict:
            ex = np.ones(len(out), dtype=bool) if kind == "throughput" and not self.strict else ex
            if self.strict:
                ex = np.zeros(len(out), dtype=bool)
        primary = pd.DataFrame(False, index=out.index, columns=out.columns)
        hide = pd.DataFrame(False, index=out.index, columns=out.columns)

        def mark(i, c, reason, is_primary=False):
            if hide.loc[i, c]:
                return False
            hide.loc[i, c] = True
            primary.loc[i, c] = is_primary
            self._record(name, labels[i], c, reason)
            return True

        for c in counts:
            small = ((vals[c] > 0) & (vals[c] < self.threshold)).to_numpy() & ~ex
            for i in np.flatnonzero(small):
                mark(i, c, f"count below {self.threshold}", True)
        for num, den in (pairs or {}).items():
            if num in out and den in out:
                comp = vals[den] - vals[num]
                small = ((comp > 0) & (comp < self.threshold)).to_numpy() & ~ex
                for i in np.flatnonzero(small):
                    mark(i, num, f"complement ({den} - {num}) below {self.threshold}")
        hidden_rows = np.zeros(len(out), dtype=bool)
        if row_cells is not None:
            cells = row_cells(out if not counts else out.assign(**vals)).astype(float)
            bad = (((cells > 0) & (cells < self.threshold)).any(axis=1)).to_numpy() & ~ex
            for i in np.flatnonzero(bad):
                hidden_rows[i] = True
                for c in counts:
                    if c not in keep and pd.notna(vals[c][i]):
                        mark(i, c, "row suppressed: a count implied by this row is below the threshold")
        margin_defs = []
        if margins:
            margin_defs = [margins] if isinstance(margins[0], str) else list(margins)
        changed = True
        while changed:
            changed = False
            for cols in row_margins or []:
                cols = [c for c in cols if c in counts]
                for i in range(len(out)):
                    hid = [c for c in cols if hide.loc[i, c]]
                    if len(hid) != 1 or ex[i]:
                        continue
                    cand = [c for c in cols if not hide.loc[i, c] and vals[c][i] > 0]
                    if cand:
                        j = min(cand, key=lambda c: (vals[c][i], c))
                        changed |= mark(i, j, "secondary suppression: protects a suppressed cell of the same row")
            for mcols in margin_defs:
                groups = [np.zeros(len(out), dtype=int)] if mcols == ["__all__"] else [out[m] for m in mcols]
                for c in counts:
                    for _, idx in out.groupby(groups, dropna=False).groups.items():
                        idx = list(idx)
                        hidden = [i for i in idx if hide.loc[i, c]]
                        if len(hidden) != 1:
                            continue
                        cand = [i for i in idx if not hide.loc[i, c] and vals[c][i] > 0 and not ex[i]]
                        if not cand:
                            continue
                        j = min(cand, key=lambda i: (vals[c][i], i))
                        changed |= mark(j, c, "secondary suppression: protects a suppressed cell in the same margin")
        derived_default = [c for c in out.columns if c not in counts and c not in label_cols
                           and pd.api.types.is_numeric_dtype(out[c])]
        if group_all:
            for _, idx in out.groupby([out[g] for g in group_all], dropna=False, sort=False).groups.items():
                idx = list(idx)
                if not any(hide.loc[i, c] for i in idx for c in counts):
                    continue
                for i in idx:
                    hidden_rows[i] = True
                    for c in counts:
                        if c not in keep and pd.notna(vals[c][i]):
                            mark(i, c, "block suppressed: another count of this block is hidden")
        # values computed from a hidden count are hidden too
        for c in counts:
            deps = (dependent or {}).get(c, derived_default)
            for i in np.flatnonzero(hide[c].to_numpy()):
                for d in deps:
                    if d in out:
                        hide.loc[i, d] = True
        for i in np.flatnonzero(hidden_rows):
            for d in derived_default:
                hide.loc[i, d] = True
        for c in counts:
            out[c] = [(self.marker if primary.loc[i, c] else "[c]") if hide.loc[i, c]
                      else ("" if pd.isna(v) else f"{int(round(v)):,}") for i, v in enumerate(vals[c])]
        for c in out.columns:
            if c in counts or not hide[c].any():
                continue
            out[c] = out[c].astype(object)
            out.loc[hide[c], c] = "[c]"
        return out

    def curve(self, df: pd.DataFrame, *, name: str, at_risk_col: str = "n_at_risk",
              group_cols: tuple[str, ...] = ("group", "outcome")) -> pd.DataFrame:
        """Cut a survival/incidence curve where fewer than ``threshold`` remain at risk.

        Rows from the first time the number at risk falls below the threshold
        are removed (per group), and the remaining at-risk counts are rounded
        to the nearest ``round_at_risk``.

        Examples
        --------
        >>> curve = pd.DataFrame({"group": "all", "outcome": "completed", "time_days": [0, 7, 14],
        ...                       "estimate": [0, .1, .2], "n_at_risk": [40, 12, 8]})
        >>> DisclosureControl().curve(curve, name="cif")["n_at_risk"].tolist()
        [40, 10]
        """
        if at_risk_col not in df:
            return df.copy()
        gcols = [g for g in group_cols if g in df]
        parts = []
        for key, g in (df.groupby(gcols, sort=False, dropna=False) if gcols else [((), df)]):
            small = pd.to_numeric(g[at_risk_col], errors="coerce").astype(float) < self.threshold
            if small.any():
                first = int(np.flatnonzero(small.to_numpy())[0])
                self._record(name, " / ".join(map(str, key if isinstance(key, tuple) else (key,))), at_risk_col,
                             f"curve stopped where fewer than {self.threshold} remain at risk")
                g = g.iloc[:first]
            parts.append(g)
        out = pd.concat(parts) if parts else df.iloc[:0]
        out = out.copy()
        r = self.round_at_risk
        out[at_risk_col] = (np.round(pd.to_numeric(out[at_risk_col]) / r) * r).astype(int)
        return out

    # -- whole results (used by the report; kept here so that only this module decides what is hidden) -------
    def drawable(self, counts: dict, *, name: str, what: str = "group") -> list:
        """Labels whose count reaches the threshold; the others are logged as not drawn.

        Examples
        --------
        >>> dc = DisclosureControl()
        >>> dc.drawable({"completed": 40, "excluded": 3, "other": 0}, name="cif", what="exit type")
        ['completed']
        >>> dc.log["reason"].tolist()
        ['exit type with fewer than 10 not drawn']
        """
        for label, k in counts.items():
            if 0 < k < self.threshold:
                self.record(name, str(label), "curve", f"{what} with fewer than {self.threshold} not drawn")
        return [label for label, k in counts.items() if k >= self.threshold]

    def curve_result(self, res, *, name: str, table: str | None = None,
                     group_cols: tuple[str, ...] = ("group", "outcome")):
        """A copy of a survival-type result whose curves and at-risk table obey this control.

        Every curve the plot draws (``summary`` and, where present, ``tables[table]``
        and ``tables["curves"]``) stops where fewer than the threshold remain at
        risk; numbers at risk under the axes are rounded to ``round_at_risk`` and
        shown only while at least the threshold are at risk.
        """
        import copy

        out = copy.copy(res)
        if "n_at_risk" in res.summary:
            out.summary = self.curve(res.summary, name=name, at_risk_col="n_at_risk", group_cols=group_cols)
        tables = dict(res.tables)
        for key in sorted({t for t in (table, "curves") if t and t in tables}):
            cur = tables[key]
            if "n_at_risk" in cur:
                gc = tuple(g for g in (*group_cols, "cause") if g in cur)
                tables[key] = self.curve(cur, name=name, at_risk_col="n_at_risk", group_cols=gc)
        if "at_risk" in tables:
            ar = tables["at_risk"]
            ar = ar[pd.to_numeric(ar["n_at_risk"]) >= self.threshold].copy()
            r = self.round_at_risk
            for c in [c for c in ar.columns if c.startswith("n_")]:
                ar[c] = (np.round(pd.to_numeric(ar[c]) / r) * r).astype(int)
            tables["at_risk"] = ar
        out.tables = tables
        return out

    def km_persons_result(self, res, *, name: str):
        """Cut Kaplan-Meier curves (``tables["curves"]``, per ``group``) where fewer than the threshold remain.

        The number at risk at day t is the number of people whose follow-up
        (``tables["persons"]["days"]``) lasts at least t days.
        """
        import copy

        out = copy.copy(res)
        tables = dict(res.tables)
        persons, curves = tables["persons"], tables["curves"]
        keep = []
        for g, d in curves.groupby("group", sort=False):
            days = np.sort(persons.loc[persons["group"] == g, "days"].dropna().to_numpy())[::-1]
            if len(days) < self.threshold:
                self.record(name, str(g), "curve", f"group with fewer than {self.threshold} people not drawn")
                continue
            cutoff = days[self.threshold - 1]
            if (d["days"] > cutoff).any():
                self.record(name, str(g), "curve", f"curve stopped where fewer than {self.threshold} remain at risk")
            keep.append(d[d["days"] <= cutoff])
        tables["curves"] = pd.concat(keep) if keep else curves.iloc[:0]
        out.tables = tables
        out.summary = self.curve(res.summary, name=name, at_risk_col="n_at_risk", group_cols=("group",))
        out.summary = out.summary[out.summary["group"].isin(tables["curves"]["group"].unique())]
        return out

"""Small-number suppression for everything that reaches a published report.

Victims can be identified from small local counts. Every table and figure
annotation that reaches a report passes through one :class:`DisclosureControl`,
which

- suppresses counts from 1 to ``threshold - 1`` (default 10) in tables that
  describe people by characteristics or outcomes (``kind="people"``), marks
  them, and applies secondary suppression so that no hidden cell can be
  recovered from a total (the next-smallest cell of the same margin is hidden
  too);
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
    ['<10', '<10', '30']
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

    def _record(self, table, row, column, reason):
        self._log.append({"table": table, "row": row, "column": column, "reason": reason})

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

    def table(self, df: pd.DataFrame, *, name: str, kind: str = "people", margins: list[str] | None = None,
              pairs: dict[str, str] | None = None, dependent: dict[str, list[str]] | None = None,
              label_cols: list[str] | None = None) -> pd.DataFrame:
        """Return a display copy of ``df`` with small counts and what they reveal hidden.

        Parameters
        ----------
        df : DataFrame
            A tidy result table.
        name : str
            Table name for the log.
        kind : {"people", "throughput"}
            ``throughput`` counts are published unless ``strict``.
        margins : list of str, optional
            Columns whose rows form one margin that adds up to a published
            total (e.g. ``["group"]``: all stages of one site).  ``["__all__"]``
            treats the whole column as one margin.  Within a margin, if exactly
            one cell is suppressed the next-smallest positive cell is hidden too.
        pairs : dict, optional
            ``{numerator: denominator}``: a numerator whose complement
            (denominator - numerator) is small is hidden as well.
        dependent : dict, optional
            ``{count column: [columns computed from it]}``; by default every
            non-count numeric column (estimate, ci_lower, ...) depends on all
            count columns of its row.
        label_cols : list of str, optional
            Columns used to name rows in the log (default: non-numeric columns).

        Returns
        -------
        DataFrame
            Same shape, counts as formatted strings, hidden cells shown as ``<threshold``.
        """
        out = df.copy().reset_index(drop=True)
        counts = count_columns(out)
        if label_cols is None:
            label_cols = [c for c in out.columns if out[c].dtype == object and c not in counts]
        labels = out[label_cols].astype(str).agg(" / ".join, axis=1) if label_cols else out.index.astype(str)
        hide = pd.DataFrame(False, index=out.index, columns=out.columns)
        if kind == "people" or self.strict:
            for c in counts:
                vals = pd.to_numeric(out[c], errors="coerce").astype(float)
                small = (vals > 0) & (vals < self.threshold)
                for i in np.flatnonzero(small.to_numpy()):
                    hide.loc[i, c] = True
                    self._record(name, labels[i], c, f"count below {self.threshold}")
            for num, den in (pairs or {}).items():
                if num in out and den in out:
                    comp = pd.to_numeric(out[den], errors="coerce").astype(float) - pd.to_numeric(out[num], errors="coerce").astype(float)
                    small = (comp > 0) & (comp < self.threshold) & ~hide[num]
                    for i in np.flatnonzero(small.to_numpy()):
                        hide.loc[i, num] = True
                        self._record(name, labels[i], num,
                                     f"complement ({den} - {num}) below {self.threshold}")
            if margins:
                groups = [np.zeros(len(out), dtype=int)] if margins == ["__all__"] else [out[m] for m in margins]
                for c in counts:
                    vals = pd.to_numeric(out[c], errors="coerce").astype(float)
                    for _, idx in out.groupby(groups, dropna=False).groups.items():
                        idx = list(idx)
                        hidden = [i for i in idx if hide.loc[i, c]]
                        if len(hidden) != 1:
                            continue
                        cand = [i for i in idx if not hide.loc[i, c] and vals[i] > 0]
                        if not cand:
                            continue
                        j = min(cand, key=lambda i: (vals[i], i))
                        hide.loc[j, c] = True
                        self._record(name, labels[j], c,
                                     "secondary suppression: protects a suppressed cell in the same margin")
            # derived values on a hidden count are hidden too
            derived_default = [c for c in out.columns if c not in counts and c not in label_cols
                               and pd.api.types.is_numeric_dtype(out[c])]
            for c in counts:
                deps = (dependent or {}).get(c, derived_default)
                for i in np.flatnonzero(hide[c].to_numpy()):
                    for d in deps:
                        if d in out and not hide.loc[i, d]:
                            hide.loc[i, d] = True
        for c in counts:
            vals = pd.to_numeric(out[c], errors="coerce").astype(float)
            out[c] = [self.marker if h else ("" if pd.isna(v) else f"{int(round(v)):,}")
                      for v, h in zip(vals, hide[c])]
        for c in out.columns:
            if c in counts:
                continue
            if hide[c].any():
                out[c] = out[c].astype(object)
                out.loc[hide[c], c] = self.marker
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

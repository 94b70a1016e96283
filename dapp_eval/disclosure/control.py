"""Protection of every count that reaches a published release: suppress, then round.

The method is the one OpenSAFELY applies to every released output (suppress
small counts, then round every count to the nearest 5), with the threshold
dapp_eval has always used:

1. **Primary suppression.** A count of people from 1 to ``threshold - 1``
   (default 10) is shown as ``<10``. Zero is published: "none" identifies
   nobody.
2. **Rounding.** Every other count is rounded to the nearest ``base``
   (default 5; halves go up). The rounded value depends only on the true
   value, so one cell has one published value everywhere it appears in the
   release, in every table, report and period. The programme's own
   throughput (referrals, starts, completions; ``kind="throughput"``) is
   rounded and suppressed like every other count: a count from 1 to 9 shown
   as 5 or 10 would say more than ``<10`` (issue 26: a one-month release
   printed a month's 3 referrals as 5). ``kind="throughput"`` only exempts
   its rows from the complement and zero rules (a programme's own flow).
3. **Derived figures.** A proportion, percentage or cost ratio that is one
   count divided by another (found by checking the numbers, not by name) is
   recomputed from the published counts, and a Wilson interval around it is
   recomputed too, so it carries no more than the counts do. Any other value
   computed from a suppressed count (a mean, a model estimate, a CI) is
   hidden, as is every value of a row whose complement (``denominator -
   numerator``) or implied 2x2 cell is small, and of a block (``group_all``)
   with any suppressed count.

Why no secondary suppression: with rounding, a total minus the rest of its
margin gives an interval at least 8 wide (each rounded cell is uncertain by
up to 2 either way), so a suppressed cell cannot be worked back from totals,
other sites or other periods; :mod:`dapp_eval.disclosure.audit` checks this
on every release. Cell-key perturbation (ONS Census 2021, cellKey) gives the
same consistency but needs a record key per person carried through every
analysis, and its noise is harder to explain to a commissioner; linked-table
secondary suppression (sdcTable, tau-argus) over a whole release withheld
most of the small-site tables in version 0.1. ``docs/disclosure.md`` has the
measured comparison.

Count columns are found by name: ``n`` or ``n_*``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["DisclosureControl", "count_columns", "SUPPRESSED", "HIDDEN", "round_count", "THRESHOLD_FLOOR",
           "check_threshold"]

#: the lowest threshold a release may use. Below 5, a count rounded to the nearest 5 is no longer wider than the
#: suppressed range (1 to T-1), so rounding and suppression stop covering each other (docs/disclosure.md); many
#: councils publish at 5, ONS and UK LLC at 10, OpenSAFELY redacts 7 or fewer.
THRESHOLD_FLOOR = 5


def check_threshold(threshold) -> int:
    """The threshold of a release as a whole number, or a plain ``ValueError`` if it is below the floor.

    Examples
    --------
    >>> check_threshold(10)
    10
    >>> check_threshold(3)
    Traceback (most recent call last):
    ...
    ValueError: the small-number threshold must be at least 5 (it was 3): below 5, counts of a few people are protected only by rounding. Use --threshold 5 or more (the default is 10).
    """
    t = int(threshold)
    if t < THRESHOLD_FLOOR:
        raise ValueError(f"the small-number threshold must be at least {THRESHOLD_FLOOR} (it was {t}): below "
                         f"{THRESHOLD_FLOOR}, counts of a few people are protected only by rounding. Use --threshold "
                         f"{THRESHOLD_FLOOR} or more (the default is 10).")
    return t

def release_threshold(threshold, base: int = 5) -> int:
    """The threshold a release applies: ``threshold`` raised to the next multiple of the rounding ``base``.

    Between two multiples, a count from the threshold up that rounds below it is shown as the next multiple
    (:meth:`DisclosureControl.published_count`: at 6, 6 and 7 are shown as 10), so a published 10 stands for
    6 to 12 and two of them inside a group shown as 10 can only be 6 and 6 (outside attack a23 G1). At a
    multiple of the base no count is moved up, and levels shown at the threshold's value, each at its lowest
    count, never add up to the top of a total's band.

    >>> [release_threshold(t) for t in (5, 6, 7, 10, 11, 15, 16, 20)]
    [5, 10, 10, 10, 15, 15, 20, 20]
    """
    t, b = int(threshold), int(base)
    return -(-t // b) * b


#: marker shown in place of a suppressed count
SUPPRESSED = "<{t}"
#: marker shown in place of a value hidden because it is computed from a suppressed count
HIDDEN = "[c]"
#: the one reason logged for values hidden by a small complement or by the zero rule (a reason of its own for
#: "none or all" would tell a reader which hidden row it is)
ZERO_OR_FEW = "a count or its complement below the threshold, or none or all of a small group: computed values hidden"
#: the one reason logged for a count of at least the threshold withheld because of a small one
WITH_SMALL = "withheld with a count below the threshold (it would give that count back)"


def count_columns(df: pd.DataFrame) -> list[str]:
    """Columns that hold published counts: named ``n`` or ``n_*``.

    Examples
    --------
    >>> count_columns(pd.DataFrame(columns=["stage", "n", "n_open", "estimate"]))
    ['n', 'n_open']
    """
    return [c for c in df.columns if c == "n" or str(c).startswith("n_")]


def round_count(n, base: int = 5, *, keep_positive: bool = False) -> int:
    """Round a count to the nearest ``base`` (halves up); deterministic in the true value.

    ``keep_positive`` shows a positive count below ``base / 2`` as ``base``
    rather than 0 (used for throughput counts, which are not suppressed).

    Examples
    --------
    >>> [round_count(v) for v in (0, 10, 12, 13, 17, 18, 1947)]
    [0, 10, 10, 15, 15, 20, 1945]
    >>> round_count(2, keep_positive=True), round_count(2)
    (5, 0)
    """
    v = int(np.floor(float(n) / base + 0.5)) * base
    if keep_positive and float(n) > 0 and v == 0:
        v = base
    return v


def _wilson(x, n, alpha=0.05):
    """The package's one Wilson interval (estimators.proportions), applied to published counts."""
    from dapp_eval.estimators.proportions import wilson_ci

    return wilson_ci(x, n, alpha=alpha)


def _close(a, b, tol=1e-6, atol=0.0) -> bool:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b)
    return bool(ok.any()) and bool(np.all(np.abs(a[ok] - b[ok]) <= atol + tol * np.maximum(1, np.abs(b[ok]))))


#: the label of merged levels of a category whose levels come from the data (who is in the group): never the
#: names of the levels merged, which would say which of them are present (a merged "Sikh or Hindu" row says
#: that at least one Sikh person is in the group, and an absent level's name says that no one is)
MERGED_OTHER = "other groups (merged so that none is too small to show)"
MERGED_ALL = "all groups together (merged so that none is too small to show)"


def _other_label(levels: list[str], every: bool) -> str:
    """The label of merged levels that does not depend on which levels are present: levels sharing a prefix
    ('left: custody', 'left: other') keep it ('left: other groups (merged so that none is too small to show)')."""
    prefix = _merged_label(levels).split(": ")[0] + ": " if len(levels) > 1 and ": " in levels[0] else ""
    if prefix and not all(lev.startswith(prefix) for lev in levels):
        prefix = ""
    return prefix + (MERGED_ALL if every else MERGED_OTHER)


def _merged_label(levels: list[str]) -> str:
    """'black, mixed or other'; levels sharing a prefix ('left: custody', 'left: other') keep it once."""
    common = levels[0]
    for lev in levels[1:]:
        k = 0
        while k < min(len(common), len(lev)) and common[k] == lev[k]:
            k += 1
        common = common[:k]
    cut = common.rfind(": ") + 2 if ": " in common else 0
    parts = [lev[cut:] for lev in levels]
    return levels[0][:cut] + ", ".join(parts[:-1]) + " or " + parts[-1]


def _half_unit(y: np.ndarray) -> float:
    """Half a unit of the last decimal a column was rounded to (0 if it was not rounded to 0-6 decimals)."""
    y = y[~np.isnan(y)]
    if len(y) and not np.all(np.isfinite(y)):
        return 0.0  # an infinite value (a ratio over 0) is not a rounded number
    for d in range(7):
        with np.errstate(over="ignore", invalid="ignore"):  # a huge ratio (a separated model) is no rounded number
            close = np.abs(y - np.round(y, d)) < 1e-9
        if len(y) and np.all(close):
            return 0.5 * 10.0 ** (-d)
    return 0.0


def _ratio_of_counts(y, h, vals, counts, n_rows) -> tuple | None:
    """``("pair", a, b, scale)`` if ``y`` is count a / count b of each row, ``("root", a, a, scale)`` if it is
    count a / its first row (as a share or a percentage), else None."""
    for scale in (1.0, 100.0):
        if h > 0.005 * scale:
            continue
        for a in counts:
            for b in (b for b in counts if b != a):
                with np.errstate(invalid="ignore", divide="ignore"):
                    r = scale * vals[a] / vals[b]
                both = int((np.isfinite(r) & ~np.isnan(y)).sum())
                if _close(y, r, atol=h) and both >= (2 if n_rows > 2 else 1):
                    return ("pair", a, b, scale)
            if n_rows > 1 and vals[a][0] > 0 and _close(y, scale * vals[a] / vals[a][0], atol=h) \
                    and (~np.isnan(y)).sum() > 1:
                return ("root", a, a, scale)
    return None


def _inverse_ratio(d, y, h, nums, vals, counts) -> tuple | None:
    """``("inverse", x, b, 1.0)`` if ``y`` is another derived column x / count b (a cost per completion)."""
    for x in (x for x in nums if x != d):
        for b in counts:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = nums[x] / vals[b]
            if _close(y, r, atol=h):
                return ("inverse", x, b, 1.0)
    return None


_STATS_COLS = {"estimate", "rate", "ci_lower", "ci_upper", "p_value", "p_adjusted"}


def _rate_of(d, nums, vals, counts, derived_cols, ratio) -> tuple | None:
    """``("rate", a, x, 1.0)`` if ``d`` is count a / a non-count column x on the rows ``ratio`` (a ratio of
    two counts found for ``d``) does not cover."""
    y = nums[d]
    h = _half_unit(y)
    taken = np.zeros(len(y), dtype=bool)
    if ratio is not None and ratio[0] == "pair":
        taken = ~np.isnan(vals[ratio[1]]) & ~np.isnan(vals[ratio[2]])
    for a in counts:
        for x in (x for x in derived_cols if x != d and x not in _STATS_COLS):
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.where(taken, np.nan, vals[a] / nums[x])
            if np.isfinite(r).any() and _close(y, r, tol=1e-3, atol=h):
                return ("rate", a, x, 1.0)
    return None


def _as_numbers(frame: pd.DataFrame) -> np.ndarray:
    """``frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)``; a frame of numbers (the usual case:
    asked of every level of every merged block) is read as it is, without a Series made per column."""
    if all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        return frame.to_numpy(dtype=float)
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)


def _sums(rows: pd.DataFrame, across: list, add: list) -> pd.DataFrame:
    """The ``add`` counts of ``rows`` summed (per value of ``across``)."""
    return rows.groupby(across, sort=False, dropna=False)[add].sum() if across else rows[add].sum().to_frame().T


def _merged_rows(rows: pd.DataFrame, columns: list, *, by, level, label, across, add, ratios) -> pd.DataFrame:
    """One row (per value of ``across``) standing for the merged levels ``rows``: counts summed, values the
    same in every merged row kept, others empty, ``ratios`` recomputed."""
    others = [c for c in columns if c not in (*by, level, *add)]
    parts = [rows] if not across else [r for _, r in rows.groupby(across, sort=False, dropna=False)]
    keep_cols = [c for c in others if c in across or (c not in set(ratios) and all(
        r[c].nunique(dropna=False) == 1 for r in parts))]  # the same in every merged row: kept
    new = _sums(rows, across, add).reset_index() if across else _sums(rows, across, add)
    first_of = rows.drop_duplicates(across) if across else rows.iloc[:1]
    for c in keep_cols:
        if c not in across:
            new[c] = first_of[c].to_numpy()
    for c in by:
        new[c] = rows[c].iloc[0]
    new[level] = label
    for c in others:
        if c not in new:
            new[c] = np.nan
    for col, (a, b, scale) in ratios.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            new[col] = scale * new[a].astype(float) / new[b].astype(float)
    return new


def _stacked(parts: list, like: pd.DataFrame) -> pd.DataFrame:
    """The row blocks one under the other, each column of ``like``'s dtype where its values allow (an empty
    value in a merged row is never a reason for pandas to guess another dtype).

    A part is a frame, or an array of positions of rows of ``like`` kept as they are (their records are read
    from ``like`` once: the same values as the rows' own frame gives, without making a frame per block).
    """
    if not parts:
        return like.copy()
    own = like.to_dict("records") if any(isinstance(p, np.ndarray) for p in parts) else []
    rows = [r for p in parts
            for r in ([own[i] for i in p] if isinstance(p, np.ndarray) else p[like.columns].to_dict("records"))]
    out = pd.DataFrame(rows, columns=like.columns)
    for c in like.columns:
        if like[c].dtype == bool and out[c].isna().any():
            continue  # an empty flag stays empty, never False
        try:
            out[c] = out[c].astype(like[c].dtype)
        except (TypeError, ValueError):
            pass
    return out


@dataclass
class _Work:
    """One table on its way through :meth:`DisclosureControl.table`: what each policy step reads and marks."""

    out: pd.DataFrame
    counts: list
    labels: pd.Series
    vals: dict
    throughput: np.ndarray
    derived_cols: list
    ratios: dict
    hide: dict                     # column -> rows whose value is withheld ('[c]')
    row_hidden: np.ndarray         # rows whose computed values are withheld
    small: dict = field(default_factory=dict)         # count column -> rows below the threshold
    total_hidden: dict = field(default_factory=dict)  # count column -> rows withheld for another reason
    pub: dict = field(default_factory=dict)           # count column -> published value per row (None: not shown)
    n_pub: int = 0
    n_round: int = 0
    n_with: int = 0


@dataclass
class DisclosureControl:
    """Suppress small counts, round every other count, and log what was done.

    Parameters
    ----------
    threshold : int
        Counts from 1 to ``threshold - 1`` are suppressed (0 is published).
    strict : bool
        Also suppress the programme's throughput counts.
    round_at_risk : int
        The rounding base (default 5) for every published count, at-risk
        numbers under curves included.

    Examples
    --------
    >>> dc = DisclosureControl(threshold=10)
    >>> t = pd.DataFrame({"group": ["A", "B", "C"], "n": [26, 4, 30]})
    >>> dc.table(t, name="demo", margins=["__all__"])["n"].tolist()
    ['25', '<10', '30']
    >>> dc.log["reason"].iloc[0]
    'count below 10'
    >>> dc.summary.loc[0, ["cells_published", "cells_rounded", "cells_withheld"]].astype(int).tolist()
    [2, 1, 1]
    """

    threshold: int = 10
    strict: bool = False
    round_at_risk: int = 5
    #: the plan's alpha: intervals recomputed from published counts are at this level (1 - alpha)
    alpha: float = 0.05
    #: a report of a release of several sites: a 0 (or "all") for all sites is a 0 (or "all") at every site, whose
    #: group may be small, so the zero rule applies to groups of any size (:attr:`zero_rule_minimum`), in the site
    #: reports too (their published 0s would otherwise add up to the all-sites report's hidden one)
    carries_down: bool = False
    _log: list[dict] = field(default_factory=list, repr=False)
    _cells: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if int(self.threshold) < 1:
            raise ValueError("threshold must be a whole number >= 1")
        if int(self.round_at_risk) < 1:
            raise ValueError("round_at_risk (the rounding base) must be a whole number >= 1")
        self.threshold = int(self.threshold)
        self.round_at_risk = int(self.round_at_risk)
        self.alpha = float(self.alpha)
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1")

    @property
    def zero_minimum(self) -> int:
        """Groups smaller than this (twice the threshold) have a numerator or complement of 0 treated as small.

        "None of them" or "all of them" says something about every person in a small group (ACRO treats
        zeros as disclosive). Below twice the threshold a count or its complement is always below the
        threshold, so with this rule a proportion of such a group is never published, whatever its value:
        nothing is shown only because it came out 0% or 100%.
        """
        return 2 * self.threshold

    @property
    def zero_rule_minimum(self) -> float:
        """The group size below which a 0 or an "all" is treated like a small count: :attr:`zero_minimum`, or
        (:attr:`carries_down`, a release of several sites) any group, because a 0 for all sites holds at every site.

        Examples
        --------
        >>> DisclosureControl().zero_rule_minimum, DisclosureControl(carries_down=True).zero_rule_minimum
        (20, inf)
        """
        return float("inf") if self.carries_down else self.zero_minimum

    def same_policy(self) -> DisclosureControl:
        """A control with this one's policy and an empty log (numbers worked out again for a chart or a
        sentence, published elsewhere)."""
        return DisclosureControl(threshold=self.threshold, strict=self.strict, round_at_risk=self.base,
                                 alpha=self.alpha, carries_down=self.carries_down)

    # -- what readers and the log see ------------------------------------------
    @property
    def base(self) -> int:
        """The rounding base of every published count."""
        return self.round_at_risk

    @property
    def marker(self) -> str:
        return SUPPRESSED.format(t=self.threshold)

    @property
    def log(self) -> pd.DataFrame:
        """What was withheld: table, row (label), column, reason (never the hidden value)."""
        return pd.DataFrame(self._log, columns=["table", "row", "column", "reason"])

    @property
    def summary(self) -> pd.DataFrame:
        """Per table: count cells published (rounded or exact 0), rounded, withheld, and why withheld."""
        rows = []
        for table, c in self._cells.items():
            reasons = Counter(r["reason"] for r in self._log if r["table"] == table)
            rows.append({"table": table, "cells_published": c["published"], "cells_rounded": c["rounded"],
                         "cells_withheld": c["withheld"], "values_hidden": c["derived"],
                         # in the order of the reasons' names: the order they were first met in said which
                         # kind came first in the table (a cell relabelled as withheld beside another, a25 J2)
                         "why": "; ".join(f"{k} ({v})" for k, v in sorted(reasons.items()))})
        return pd.DataFrame(rows, columns=["table", "cells_published", "cells_rounded", "cells_withheld",
                                           "values_hidden", "why"])

    def record(self, table: str, row, column: str, reason: str) -> None:
        """Add one withheld cell, curve segment or model to the log (never its value)."""
        self._log.append({"table": table, "row": row, "column": column, "reason": reason})

    _record = record  # version 0.1 name, kept for callers not yet moved

    def relabel(self, table: str, row, column: str, *, old: str, new: str) -> None:
        """Give the last logged entry of one cell the reason ``new`` where it was ``old`` (a cell first withheld
        as small, then withheld beside a hidden count whatever its size: logged as the latter)."""
        for entry in reversed(self._log):
            if (entry["table"], entry["row"], entry["column"]) == (table, row, column):
                if entry["reason"] == old:
                    entry["reason"] = new
                return

    # -- the log in parts (a page's sections may be rendered in separate processes) -----------
    def mark(self) -> tuple:
        """Where the log stands now, for :meth:`changes_since`."""
        return len(self._log), {t: dict(c) for t, c in self._cells.items()}

    def changes_since(self, mark: tuple) -> dict:
        """What was logged and tallied since ``mark``, to be :meth:`absorb`-ed by another control.

        Examples
        --------
        >>> a, b = DisclosureControl(), DisclosureControl()
        >>> m = a.mark()
        >>> _ = a.count(4, name="t"), a.count(40, name="t")
        >>> b.absorb(a.changes_since(m))
        >>> b.summary.equals(a.summary) and b.log.equals(a.log)
        True
        """
        n, before = mark
        cells = []
        for table, c in self._cells.items():
            old = before.get(table)
            diff = {k: v - (old[k] if old else 0) for k, v in c.items()}
            if old is None or any(diff.values()):
                cells.append((table, diff))
        return {"log": [dict(r) for r in self._log[n:]], "cells": cells}

    def absorb(self, changes: dict) -> None:
        """Add what another control logged (:meth:`changes_since`), as if it had been logged here."""
        self._log.extend(dict(r) for r in changes["log"])
        for table, diff in changes["cells"]:
            self._tally(table, **diff)

    def _tally(self, table, published=0, rounded=0, withheld=0, derived=0):
        c = self._cells.setdefault(table, {"published": 0, "rounded": 0, "withheld": 0, "derived": 0})
        c["published"] += published
        c["rounded"] += rounded
        c["withheld"] += withheld
        c["derived"] += derived

    # -- single values -------------------------------------------------------------
    def is_small(self, n) -> bool:
        """Whether a count would be suppressed (1 .. threshold-1)."""
        return n is not None and not pd.isna(n) and 0 < float(n) < self.threshold

    def rounded(self, n, *, kind: str = "people") -> int | None:
        """The published value of a count (None if suppressed): the one function every count goes through.

        Examples
        --------
        >>> dc = DisclosureControl()
        >>> dc.rounded(7), dc.rounded(7, kind="throughput"), dc.rounded(212)
        (None, None, 210)
        """
        if n is None or pd.isna(n):
            return None
        if self.is_small(n):  # throughput too: 1-9 shown as 5 or 10 says more than '<10' (issue 26)
            return None
        return self.published_count(n)

    def published_count(self, n) -> int:
        """A count of at least the threshold, rounded: never to a value below the threshold.

        A count shown as a number is at least the threshold (smaller ones are suppressed), so a rounded
        value below it pins the count: at threshold 7 a true 7 rounds to 5, and 5 can then only be 7. Such a
        count is shown as the first multiple of the base at or above the threshold instead (10 at threshold
        7 stands for 7 to 12).

        Examples
        --------
        >>> [DisclosureControl(threshold=t).published_count(n) for t, n in ((7, 7), (12, 12), (10, 12), (5, 6))]
        [10, 15, 10, 5]
        """
        v = round_count(n, self.base, keep_positive=True)
        if float(n) >= self.threshold and v < self.threshold:
            v = int(np.ceil(self.threshold / self.base)) * self.base
        return v

    def count(self, n, *, name: str = "annotation", label: str = "", kind: str = "people") -> str:
        """Format one count for text or a figure annotation: ``<10`` if small, else rounded.

        Examples
        --------
        >>> DisclosureControl().count(7)
        '<10'
        >>> DisclosureControl().count(54)
        '55'
        >>> DisclosureControl().count(1947, kind="throughput")
        '1,945'
        >>> DisclosureControl(carries_down=True).count(0)   # a release of several sites: a 0 is a small count
        '<10'
        """
        if n is None or pd.isna(n):
            return "n/a"
        v = self.rounded(n, kind=kind)
        if v is None or (self.carries_down and kind == "people" and float(n) == 0):  # a 0 for all sites: small
            self.record(name, label, "count", f"count below {self.threshold}")
            self._tally(name, withheld=1)
            return self.marker
        self._tally(name, published=1, rounded=int(v != round(float(n))))
        return f"{v:,}"

    def proportion(self, k, n, *, name: str = "summary", label: str = "", alpha: float | None = None) -> dict | None:
        """A headline "k of n" proportion computed from the published counts (None if either side is small).

        Returns the published counts as text and the proportion with its
        Wilson interval computed from them, so the headline can be printed
        without pinning the true counts.

        Examples
        --------
        >>> p = DisclosureControl().proportion(23, 48)
        >>> p["k"], p["n"], round(p["estimate"], 4)
        ('25', '50', 0.5)
        >>> DisclosureControl().proportion(43, 48) is None   # 5 did not: the complement is small
        True
        """
        if self.is_small(k) or self.is_small(n - k) or self.is_small(n) or self._zero_small(k, n):
            self.record(name, label, "proportion", f"a count or its complement below {self.threshold}")
            return None
        kp, np_ = self.rounded(k), self.rounded(n)
        if not np_:
            return None
        lo, hi = _wilson(kp, np_, self.alpha if alpha is None else alpha)
        self._tally(name, published=2, rounded=int(kp != k) + int(np_ != n))
        return {"k": f"{kp:,}", "n": f"{np_:,}", "estimate": kp / np_, "ci_lower": float(lo), "ci_upper": float(hi)}

    def _zero_small(self, k, n) -> bool:
        """A numerator or complement of 0 in a group below :attr:`zero_minimum` (treated as a small count)."""
        if k is None or n is None or pd.isna(k) or pd.isna(n) or float(n) <= 0:
            return False
        return float(n) < self.zero_rule_minimum and (float(k) == 0 or float(n) - float(k) == 0)

    def model_allowed(self, n_events, *, name: str, what: str = "events") -> bool:
        """Whether a model (hazard ratios, odds ratios ...) may be published: at least ``threshold`` events.

        A model fitted to fewer events than the threshold describes a handful
        of people: its coefficients, intervals and p-values are withheld and
        the log says why. Use :meth:`withheld_reason` for the sentence to show.

        Examples
        --------
        >>> dc = DisclosureControl()
        >>> dc.model_allowed(4, name="Dropout model"), dc.model_allowed(12, name="Dropout model")
        (False, True)
        >>> dc.log["reason"].tolist()
        ['model withheld: fewer than 10 events']
        """
        if n_events is not None and not pd.isna(n_events) and float(n_events) >= self.threshold:
            return True
        self.record(name, "", "model", f"model withheld: fewer than {self.threshold} {what}")
        self._tally(name, withheld=1)
        return False

    def withheld_reason(self, what: str = "events") -> str:
        """Plain sentence for a model withheld by :meth:`model_allowed`."""
        return (f"Not shown: fewer than {self.threshold} {what}, so the model would describe a handful of "
                "people and could identify them.")

    # -- tables ----------------------------------------------------------------------
    def table(self, df: pd.DataFrame, *, name: str, kind: str = "people", margins: list | None = None,
              pairs: dict[str, str] | None = None, dependent: dict[str, list[str]] | None = None,
              label_cols: list[str] | None = None, exempt=None, row_margins: list[list[str]] | None = None,
              row_cells=None, group_all: list[str] | None = None, keep: tuple[str, ...] = (),
              own_values: tuple[str, ...] = ()) -> pd.DataFrame:
        """Return a display copy of ``df``: small counts suppressed, every other count rounded.

        Parameters
        ----------
        df : DataFrame
            A tidy result table.
        name : str
            Table name for the log.
        kind : {"people", "throughput"}
            ``throughput`` counts (referrals, starts, completions) are not
            suppressed unless ``strict`` (they are still rounded).
        margins, row_margins : list, optional
            Which rows / columns add up to published totals. Accepted for
            compatibility and documentation; rounding makes secondary
            suppression unnecessary (see the module docstring), and the
            audit checks those sums.
        pairs : dict, optional
            ``{numerator: denominator}``: if the complement (denominator -
            numerator) is below the threshold, the values computed from the
            row (estimate, CI ...) are hidden; the counts stay (rounded).
        dependent : dict, optional
            ``{count column: [columns computed from it]}``; by default every
            non-count numeric column depends on all count columns of its row.
        label_cols : list of str, optional
            Columns used to name rows in the log (default: non-numeric columns).
        exempt : boolean array-like, optional
            Rows holding the programme's throughput counts: not suppressed
            unless ``strict`` (still rounded).
        row_cells : callable, optional
            ``row_cells(df) -> DataFrame`` of counts implied by each row (e.g.
            the four cells of a paired 2x2 table). A row with an implied cell
            below the threshold has its computed values hidden.
        group_all : list of str, optional
            Rows sharing these columns are one block: if any count of a block
            is suppressed, the values describing the whole block (equal in
            all its rows, or on a row without counts of its own) are hidden.
        keep : tuple of str
            Kept for compatibility (counts are never hidden by ``row_cells`` or
            ``group_all`` now; they are rounded).
        own_values : tuple of str
            Columns that describe the row's own people (a mean, an SD of the
            people counted in the row): hidden only when the row's own count is
            suppressed, never because a complement, an implied cell or a sibling
            row is small (a mean over at least the threshold reveals no count).

        Returns
        -------
        DataFrame
            Same shape; counts as formatted strings: ``<threshold`` when
            suppressed, otherwise the rounded count; values computed from a
            suppressed count show ``[c]``; simple ratios of counts are
            recomputed from the published counts.
        """
        w = self._start(df, kind=kind, exempt=exempt, label_cols=label_cols)
        self._suppress(w, name)
        self._complement_rule(w, name, pairs)
        self._hide_totals(w, name)
        self._implied_cell_rule(w, name, row_cells)
        self._dependent_rule(w, dependent)
        if group_all:
            self._block_rule(w, group_all, keep, own_values)
        for d in w.derived_cols:
            if d not in own_values:
                w.hide[d] |= w.row_hidden
        for d, spec in w.ratios.items():
            self._recompute_ratio(w, df, d.split("\x00")[0], spec)
        return self._finish(w, name)

    # -- the policy steps of :meth:`table`, in order ---------------------------------------------------------
    def _start(self, df: pd.DataFrame, *, kind: str, exempt, label_cols) -> _Work:
        """The table's counts as numbers, its row labels, throughput rows and derived columns (with ratios)."""
        out = df.copy().reset_index(drop=True)
        counts = count_columns(out)
        if label_cols is None:
            label_cols = [c for c in out.columns if out[c].dtype == object and c not in counts]
        labels = out[label_cols].astype(str).agg(" / ".join, axis=1) if label_cols else out.index.astype(str)
        vals = {c: pd.to_numeric(out[c], errors="coerce").astype(float) for c in counts}
        throughput = np.zeros(len(out), dtype=bool)
        if not self.strict:
            if kind == "throughput":
                throughput[:] = True
            elif exempt is not None:
                throughput = np.asarray(pd.Series(exempt).fillna(False), dtype=bool)
        derived_cols = [c for c in out.columns if c not in counts and c not in label_cols
                        and pd.api.types.is_numeric_dtype(out[c])]
        return _Work(out=out, counts=counts, labels=labels, vals=vals, throughput=throughput,
                     derived_cols=derived_cols, ratios=self._find_ratios(out, vals, counts, derived_cols),
                     hide={c: np.zeros(len(out), dtype=bool) for c in out.columns},
                     row_hidden=np.zeros(len(out), dtype=bool))

    def _suppress(self, w: _Work, name: str) -> None:
        """Primary suppression (1 .. threshold-1) and rounding of the rest."""
        # in a release of several sites every 0 of people is a small count (a 0 for all sites is a 0 at every site;
        # a13 D6: "used 0" in the data-quality appendix beside a waiting list shown '<10')
        low = 0 if self.carries_down else 1
        w.small = {c: ((w.vals[c] >= low) & (w.vals[c] < self.threshold)).to_numpy() & ~w.throughput
                   | ((w.vals[c] > 0) & (w.vals[c] < self.threshold)).to_numpy() for c in w.counts}
        n = len(w.out)
        w.total_hidden = {c: np.zeros(n, dtype=bool) for c in w.counts}
        w.pub = {c: [None if (w.small[c][i] or pd.isna(v)) else float(self.published_count(v))
                     for i, v in enumerate(w.vals[c])] for c in w.counts}
        for c in w.counts:
            for i in np.flatnonzero(w.small[c]):
                self.record(name, w.labels[i], c, f"count below {self.threshold}")
            w.n_with += int(w.small[c].sum())
            w.n_pub += int(sum(p is not None for p in w.pub[c]))
            w.n_round += int(sum(1 for i, p in enumerate(w.pub[c]) if p is not None and p != w.vals[c][i]))

    def _hide_totals(self, w: _Work, name: str) -> None:
        """A total row (all / any / total) beside a suppressed part is withheld too: with the part's rounded
        siblings and the same quantities elsewhere in the release (the funnel, the waiting times) it can pin
        the part exactly (found by the audit on the shipped data: 'any' = awaiting assessment + awaiting start).
        Run after every rule that shows a count as small (a 0 of the zero rule too)."""
        n = len(w.out)
        if n <= 2:
            return
        total_row = (w.labels.astype(str).str.strip().str.lower().str.fullmatch(r"(all|any|total|overall)")
                     .to_numpy() & ~w.throughput)
        for c in w.counts:
            if not w.small[c][~total_row].any():
                continue
            for i in np.flatnonzero(total_row & (w.vals[c] > 0).to_numpy() & ~w.small[c] & ~w.total_hidden[c]):
                if w.pub[c][i] is None:
                    continue
                w.total_hidden[c][i] = True
                w.pub[c][i] = None
                w.n_with += 1
                w.n_pub -= 1
                w.n_round -= int(self.published_count(w.vals[c][i]) != w.vals[c][i])
                self.record(name, w.labels[i], c, WITH_SMALL)

    def _hide_row(self, w: _Work, name: str, i: int, column: str, reason: str) -> None:
        if not w.row_hidden[i]:
            self.record(name, w.labels[i], column, reason)
        w.row_hidden[i] = True

    def _complement_rule(self, w: _Work, name: str, pairs: dict | None) -> None:
        """A small complement (denominator - numerator) hides the row's computed values; so does "none" or
        "all" of a group below :attr:`zero_rule_minimum` (the zero rule), whose count of 0 is shown as a small
        count. One reason is logged for both, and a withheld 0 looks like any count below the threshold, so
        that neither the markers nor the log tell "none" or "all" from "a few"."""
        for num, den in (pairs or {}).items():
            if num not in w.vals or den not in w.vals:
                continue
            comp = w.vals[den] - w.vals[num]
            few = ((comp > 0) & (comp < self.threshold)).to_numpy()
            zero = (((w.vals[num] == 0) | (comp == 0)) & (w.vals[den] > 0)
                    & (w.vals[den] < self.zero_rule_minimum)).to_numpy()
            if self.carries_down:  # 0 of 0 is logged as 1 of 1 is (a log without the reason said "nobody")
                zero |= ((w.vals[den] == 0) & w.vals[num].notna()).to_numpy()
            for i in np.flatnonzero((few | zero) & ~w.throughput):
                self._hide_row(w, name, i, num, ZERO_OR_FEW)
            for i in np.flatnonzero(zero & ~w.throughput & (w.vals[num] == 0).to_numpy()):
                self._withhold_zero(w, name, i, num)

    def _withhold_zero(self, w: _Work, name: str, i: int, col: str) -> None:
        """A published 0 that says "none of a small group": shown and logged as a count below the threshold."""
        if w.pub[col][i] is None or w.small[col][i]:
            return
        w.small[col][i] = True
        w.pub[col][i] = None
        w.n_with += 1
        w.n_pub -= 1
        self.record(name, w.labels[i], col, f"count below {self.threshold}")

    def _implied_cell_rule(self, w: _Work, name: str, row_cells) -> None:
        """A row with an implied cell (e.g. of a paired 2x2 table) below the threshold: values hidden."""
        if row_cells is None:
            return
        cells = row_cells(w.out.assign(**w.vals)).astype(float)
        bad = ((cells > 0) & (cells < self.threshold)).any(axis=1).to_numpy() & ~w.throughput
        for i in np.flatnonzero(bad):
            self._hide_row(w, name, i, "row", "a count implied by this row is below the threshold: "
                           "computed values hidden")

    @staticmethod
    def _dependent_rule(w: _Work, dependent: dict | None) -> None:
        """Values computed from a withheld count are withheld (by default every derived column of its row)."""
        for c in w.counts:
            rows = w.small[c] | w.total_hidden[c]
            for d in (dependent or {}).get(c, w.derived_cols):
                if d in w.hide:
                    w.hide[d] |= rows

    def _block_rule(self, w: _Work, group_all: list[str], keep: tuple, own_values: tuple) -> None:
        """A block with a suppressed count: values that describe the whole block are hidden.

        Values the same in each of its rows (an SMD), or on a row with no counts of its own (a before/after
        change); a row's own percentage or mean over at least the threshold is kept.
        """
        own = [c for c in w.counts if c not in keep]
        groups = w.out.groupby([w.out[g] for g in group_all], dropna=False, sort=False).groups
        for idx in (list(i) for i in groups.values()):
            if not any(w.small[c][i] for i in idx for c in w.counts):
                continue
            for i in idx:
                if own and all(pd.isna(w.vals[c][i]) for c in own):
                    w.row_hidden[i] = True
            if len(idx) > 1:
                for d in (d for d in w.derived_cols if d not in own_values):
                    v = w.out.loc[idx, d]
                    if v.notna().all() and v.nunique() == 1:
                        w.hide[d][idx] = True

    def _ratio_values(self, w: _Work, d: str, spec: tuple) -> list:
        """Each row's ratio recomputed from published counts: a number, None (withheld) or 'keep' (not one)."""
        kind_r, a, b, scale = spec
        if kind_r == "rate":
            true_rate = pd.to_numeric(w.out[d], errors="coerce").to_numpy(dtype=float)
            return [self._rate_value(w, i, a, b, true_rate[i]) for i in range(len(w.out))]
        newv = []
        for i in range(len(w.out)):
            j = 0 if kind_r == "root" else i
            if (kind_r != "inverse" and pd.isna(w.vals[a][i])) or pd.isna(w.vals[b][j]):
                newv.append("keep")  # a row without these counts (e.g. a change row): not this ratio
                continue
            x = w.pub[a][i] if kind_r != "inverse" else pd.to_numeric(w.out.loc[i, a], errors="coerce")
            y = w.pub[b][j]
            if x is None or y is None:
                newv.append(None)
            elif pd.isna(x) or y == 0:
                newv.append(np.nan)
            else:
                newv.append(scale * x / y)
        return newv

    @staticmethod
    def _rate_value(w: _Work, i: int, a: str, b: str, true_rate: float):
        x, y = w.pub[a][i], pd.to_numeric(w.out.loc[i, b], errors="coerce")
        if pd.isna(w.vals[a][i]) or pd.isna(y) or pd.isna(true_rate):
            return "keep"
        if x is None:
            return None
        return x / y if y else np.nan

    def _recompute_ratio(self, w: _Work, df: pd.DataFrame, d: str, spec: tuple) -> None:
        """Ratios of counts: recomputed from what is published, so they tell no more than the counts."""
        kind_r, a, b, scale = spec
        at, new = [], []  # the recomputed values, set in one assignment
        for i, v in enumerate(self._ratio_values(w, d, spec)):
            if isinstance(v, str):
                continue
            if v is None:
                w.hide[d][i] = True
            elif not w.hide[d][i]:
                at.append(i)
                new.append(v)
        if at:
            if kind_r == "rate" and {"ci_lower", "ci_upper"} <= set(w.out.columns):
                self._scale_rate_interval(w, d, at, new)
            w.out.loc[at, d] = new
        if kind_r == "pair" and scale == 1 and {"ci_lower", "ci_upper"} <= set(w.out.columns):
            self._proportion_interval(w, df, d, a, b)

    @staticmethod
    def _scale_rate_interval(w: _Work, d: str, at: list, new: list) -> None:
        """The rate's interval moves with it (same relative width): scaled, it no longer pins the count."""
        true_rate = pd.to_numeric(w.out[d], errors="coerce").to_numpy(dtype=float)
        num, den = np.array(new, dtype=float), np.asarray(true_rate[at], dtype=float)
        # a true rate of 0 gives no scale: its interval is not published (as before, without 0/0)
        f = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
        for c in ("ci_lower", "ci_upper"):
            w.out.loc[at, c] = pd.to_numeric(w.out.loc[at, c], errors="coerce").to_numpy(dtype=float) * f

    def _proportion_interval(self, w: _Work, df: pd.DataFrame, d: str, a: str, b: str) -> None:
        """An interval of the true counts gives them back (at any level): a Wilson interval of this proportion
        is recomputed from the published counts at the plan's level; another interval (clustered, exact ...)
        is kept and moved with the estimate by the same factor."""
        ci_lo = pd.to_numeric(df["ci_lower"], errors="coerce").to_numpy(dtype=float)
        ci_hi = pd.to_numeric(df["ci_upper"], errors="coerce").to_numpy(dtype=float)
        wilson = False
        for lev in dict.fromkeys((self.alpha, 0.05)):
            w_lo, w_hi = _wilson(w.vals[a].to_numpy(), w.vals[b].to_numpy(), lev)
            wilson = wilson or (_close(ci_lo, w_lo, 1e-4) and _close(ci_hi, w_hi, 1e-4))
        if not (wilson or d == "estimate"):
            return
        at = [i for i in range(len(w.out)) if not (w.hide[d][i] or w.pub[a][i] is None or w.pub[b][i] is None)]
        if not at:
            return
        if not wilson:
            true = pd.to_numeric(df[d], errors="coerce").to_numpy(dtype=float)[at]
            new = pd.to_numeric(w.out.loc[at, d], errors="coerce").to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(true > 0, new / true, 1.0)
            for c in ("ci_lower", "ci_upper"):
                v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)[at] * f
                w.out.loc[at, c] = np.clip(v, 0.0, 1.0)
            return
        lo, hi = _wilson(np.array([w.pub[a][i] for i in at]), np.array([w.pub[b][i] for i in at]), self.alpha)
        w.out.loc[at, "ci_lower"] = [float(x) for x in lo]
        w.out.loc[at, "ci_upper"] = [float(x) for x in hi]

    def _finish(self, w: _Work, name: str) -> pd.DataFrame:
        """Tally the table, write counts as text ('<10', '[c]' or the rounded count) and hide withheld values."""
        out = w.out
        n_derived = int(sum(w.hide[d].sum() for d in w.derived_cols if d in w.hide))
        self._tally(name, published=w.n_pub, rounded=w.n_round, withheld=w.n_with, derived=n_derived)
        for c in w.counts:
            out[c] = [self.marker if w.small[c][i] else HIDDEN if w.total_hidden[c][i]
                      else ("" if p is None else f"{int(p):,}") for i, p in enumerate(w.pub[c])]
        for c in out.columns:
            if c in w.counts or not w.hide[c].any():
                continue
            out[c] = out[c].astype(object)
            out.loc[w.hide[c], c] = HIDDEN
        return out

    @staticmethod
    def _find_ratios(out, vals, counts, derived_cols) -> dict:
        """Derived columns that are exactly one count over another (so they can be recomputed).

        Returns ``{column: (kind, numerator, denominator, scale)}`` with kind
        ``pair`` (count / count of the same row), ``root`` (count / the same
        column's first row, e.g. % of referred) or ``inverse`` (a non-count
        column / a count, e.g. cost per completion); ``{column + "\\x00rate": ("rate", ...)}`` for a count
        over a column that is not a count, on rows no ratio of counts covers.
        """
        found = {}
        vals = {c: vals[c].to_numpy(dtype=float) for c in counts}
        nums = {d: pd.to_numeric(out[d], errors="coerce").astype(float).to_numpy() for d in derived_cols}
        for d in derived_cols:
            y = nums[d]
            if np.isnan(y).all():
                continue
            # a column already rounded for display (Table 1's pct to 2 decimals) still pins a count
            h = _half_unit(y)
            if h >= 0.5 or pd.api.types.is_bool_dtype(out[d]):
                continue  # whole numbers and flags are not ratios of counts
            hit = _ratio_of_counts(y, h, vals, counts, len(out)) or _inverse_ratio(d, y, h, nums, vals, counts)
            if hit:
                found[d] = hit
        # a rate: a count over a column that is not a count (incidents per person-year), on rows no ratio of
        # counts covers (a table may hold proportions in some rows and rates in others): rate x person-years
        # gave the true count back (0.337 x 109.9 = 37, published as 35)
        for d in [c for c in derived_cols if c in ("estimate", "rate")]:
            if np.isnan(nums[d]).all() or pd.api.types.is_bool_dtype(out[d]):
                continue
            hit = _rate_of(d, nums, vals, counts, derived_cols, found.get(d))
            if hit:
                found[f"{d}\x00rate"] = hit
        return found

    # -- global recoding -----------------------------------------------------------------
    def merge_small(self, df: pd.DataFrame, *, by: list[str], level: str, across: tuple[str, ...] = (),
                    add: tuple[str, ...] = ("n",), where=None, ratios: dict[str, tuple[str, str, float]] | None = None,
                    name: str = "table", pairs: dict[str, str] | None = None, adjacent: bool = False,
                    sums: tuple[str, ...] = (), group_size=None, named: bool = False) -> pd.DataFrame:
        """Merge the small levels of a categorical variable into one level, instead of withholding them.

        Global recoding (sdcMicro ``groupAndRename``, tau-argus recoding): within each block of rows
        sharing ``by`` (one variable of a Table 1, say), a level is small when one of its ``add``
        counts is from 1 to ``threshold - 1`` in any of its rows (one per value of ``across``, e.g.
        the group), or when a ``pairs`` numerator says "none" or "all" of a group smaller than
        :attr:`zero_minimum` (the zero rule would withhold it). The small levels are merged into one
        level named after them ("black, mixed or other"), whose counts are the sums; while the merged
        level is still small, the next smallest level joins it. A single small level joins the next
        smallest level the same way (it is not left to be withheld). Columns that identify a row
        (``across``, ``n_group``) are kept; values that described a single level (means, SMDs) are left
        empty, and ``ratios`` ``{column: (numerator, denominator, scale)}`` are recomputed. ``where`` (a
        boolean mask over ``df``) limits merging to some rows, e.g. the exclusion reasons of an analysis
        but not its "used" row (mutually exclusive categories only: not multiple-response variables, not
        continuous variables' summary rows). ``adjacent``: the levels are ordered (periods): a small level
        merges with its smaller neighbour, repeatedly, into runs labelled "first to last" (coarser periods
        where counts are small). ``sums`` are other columns summed over the merged levels (a target per
        period). The log lists which levels were merged (never a count).

        Examples
        --------
        >>> t = pd.DataFrame({"variable": "ethnicity", "level": ["white", "asian", "black", "mixed"],
        ...                   "n": [120, 40, 6, 8], "n_group": 174})
        >>> DisclosureControl().merge_small(t, by=["variable"], level="level")[["level", "n"]].values.tolist()
        [['white', 120], ['asian', 40], ['other groups (merged so that none is too small to show)', 14]]
        >>> DisclosureControl().merge_small(t, by=["variable"], level="level", named=True)["level"].tolist()
        ['white', 'asian', 'black or mixed']
        >>> one = pd.DataFrame({"variable": "gender", "level": ["male", "female", "other"], "n": [150, 30, 4]})
        >>> DisclosureControl().merge_small(one, by=["variable"], level="level")[["level", "n"]].values.tolist()
        [['male', 150], ['other groups (merged so that none is too small to show)', 34]]
        >>> q = pd.DataFrame({"quarter": ["Q1", "Q2", "Q3", "Q4"], "n": [4, 30, 12, 3], "target": 5.0})
        >>> DisclosureControl().merge_small(q, by=[], level="quarter", adjacent=True, sums=("target",)
        ...                                 ).values.tolist()
        [['Q1 to Q2', 34, 10.0], ['Q3 to Q4', 15, 10.0]]
        """
        if adjacent:
            return self._merge_adjacent(df, by=by, level=level, add=tuple(add), sums=tuple(sums), name=name)
        df = df.reset_index(drop=True)
        mask = np.ones(len(df), dtype=bool) if where is None else np.asarray(where, dtype=bool)
        across, add = list(across), list(add)
        out = []
        blocks = df.groupby(by, sort=False, dropna=False).indices.items() if by else [((), np.arange(len(df)))]
        for key, idx in blocks:
            g = df.iloc[idx]
            # group_size (each row's group: the people a block's levels share out, e.g. a stage's parent): in a
            # group smaller than the zero minimum a level of nobody or of everybody is small too ("none"/"all")
            whole = None if group_size is None else float(np.asarray(group_size, dtype=float)[idx[0]])
            merged = self._levels_to_merge(g[mask[idx]], level, across, add, pairs or {}, whole=whole)
            if len(merged) < 2:
                # a small group's only level names what everybody is; relabelled only where the whole block is the
                # category (a block with other rows, ``where``, keeps its level names: roles may select by them)
                whole_block = bool(mask[idx].all())
                out.append(idx if named or not whole_block or not self._one_small_level(g, level, add)
                           else g.assign(**{level: MERGED_ALL}))
                continue
            # named: the block's levels are fixed (every stage of the flow is a row, of 0 people too), so naming
            # the merged ones says nothing about who is there; otherwise the label is the same whoever is there
            label = (_merged_label([str(x) for x in merged]) if named
                     else _other_label([str(x) for x in merged], every=len(merged) == g[level].nunique()))
            # sums: added up too (a count kept only where the merged rows agree, blank otherwise, said 1 against
            # 0 of long waits; outside attack a22 F3)
            new = _merged_rows(g[g[level].isin(merged)], list(g.columns), by=by, level=level, label=label,
                               across=across, add=[*add, *(c for c in sums if c in g)], ratios=ratios or {})
            first = int(np.flatnonzero(g[level].isin(merged).to_numpy())[0])
            keep = g[~g[level].isin(merged)]
            before = keep[keep.index < g.index[first]]
            after = keep[keep.index > g.index[first]]
            out += [before.index.to_numpy(), new[df.columns], after.index.to_numpy()]  # rows of df: positions
            tag = " / ".join(map(str, key if isinstance(key, tuple) else (key,))) or "all rows"
            self.record(name, tag, level, f"levels merged so that they need not be withheld: {label}")
        return _stacked(out, df)

    def _merge_adjacent(self, df: pd.DataFrame, *, by: list, level: str, add: tuple, sums: tuple,
                        name: str) -> pd.DataFrame:
        """Ordered levels (periods): each small level merged with its smaller neighbour until none is small."""
        df = df.reset_index(drop=True)
        blocks = df.groupby(by, sort=False, dropna=False).indices.items() if by else [((), np.arange(len(df)))]
        out = []
        for key, idx in blocks:
            runs = self._adjacent_runs(df, idx, list(add))
            for run in runs:
                row = df.loc[run[0]].to_dict()
                if len(run) > 1:
                    row[level] = f"{df.at[run[0], level]} to {df.at[run[-1], level]}"
                    for c in (*add, *sums):
                        row[c] = df.loc[run, c].sum(min_count=1)
                    for c in (c for c in df.columns if c not in (*by, level, *add, *sums)):
                        if df.loc[run, c].nunique(dropna=False) > 1:
                            row[c] = None
                    tag = " / ".join(map(str, key if isinstance(key, tuple) else (key,))) or "all rows"
                    self.record(name, tag, level, f"periods merged so that they need not be withheld: {row[level]}")
                out.append(pd.DataFrame([row], columns=df.columns))
        return _stacked(out, df)

    def _adjacent_runs(self, df: pd.DataFrame, idx, add: list) -> list:
        """Runs of consecutive rows ``idx`` of ``df``, each merged as one level: a small run is merged with its
        smaller neighbour until none is small."""
        runs = [[i] for i in idx]
        seen: dict = {}  # run -> whether it is small (asked again of every run each time two are merged)

        def size(run):
            return float(df.loc[run, add].to_numpy(dtype=float).sum(axis=0).min())

        def small(run):
            if tuple(run) not in seen:
                sums = df.loc[run, add].sum().to_frame().T
                # in a release of several sites a period of nobody is small too, merged as one of a few (a
                # quarter of 0 left standing said "no one started here then"; issue 26)
                seen[tuple(run)] = self._any_small(sums) or (self.carries_down
                                                             and bool((_as_numbers(sums) == 0).any()))
            return seen[tuple(run)]

        while len(runs) > 1 and any(small(r) for r in runs):
            j = next(i for i, r in enumerate(runs) if small(r))
            k = j + 1 if j == 0 else j - 1 if j == len(runs) - 1 else (
                j - 1 if size(runs[j - 1]) <= size(runs[j + 1]) else j + 1)
            lo, hi = min(j, k), max(j, k)
            runs[lo:hi + 1] = [runs[lo] + runs[hi]]
        return runs

    def _any_small(self, frame: pd.DataFrame, pairs: dict | None = None) -> bool:
        """Whether a count of ``frame`` would be withheld: from 1 to threshold - 1, or (``pairs``, numerator ->
        denominator) a numerator or complement of 0 in a group below :attr:`zero_minimum`."""
        v = _as_numbers(frame)
        if ((v > 0) & (v < self.threshold)).any():
            return True
        for num, den in (pairs or {}).items():
            if num in frame and den in frame:
                k = pd.to_numeric(frame[num], errors="coerce").to_numpy(dtype=float)
                n = pd.to_numeric(frame[den], errors="coerce").to_numpy(dtype=float)
                if (((k == 0) | (k == n)) & (n > 0) & (n < self.zero_rule_minimum)).any():
                    return True
        return False

    def _one_small_level(self, g: pd.DataFrame, level: str, add) -> bool:
        """A block whose only level holds fewer than the zero minimum: its name says "all of them are ..."."""
        return (len(add) > 0 and g[level].nunique() == 1
                and float(pd.to_numeric(g[add[0]], errors="coerce").sum()) < self.zero_rule_minimum)

    def _levels_to_merge(self, g: pd.DataFrame, level: str, across: list, add: list, pairs: dict,
                         whole: float | None = None) -> list:
        """The small levels of one block, with the next smallest added while their sum is still small (in
        the block's order); nothing to merge when no level is small or the block has one level. ``whole``:
        the block's people, when its levels are one group (a 0 or all of fewer than the zero minimum is small)."""
        pairs = {k: v for k, v in pairs.items() if k in add and v in g}
        cols = list(dict.fromkeys([*add, *pairs.values()]))
        levels = list(dict.fromkeys(g[level]))

        def none_or_all(rows) -> bool:
            if add and self.carries_down and float(pd.to_numeric(rows[add[0]], errors="coerce").sum()) == 0:
                # a level of nobody, in a release whose every 0 of people is small: merged like a level of a few
                # (a level of 0 left standing beside one merged elsewhere said "nobody here is ..."; issue 26)
                return True
            if whole is None or not (0 < whole < self.zero_rule_minimum):
                return False
            k = float(pd.to_numeric(rows[add[0]], errors="coerce").sum())
            return k in (0.0, whole)

        at = g[level].to_numpy()
        sub = g[cols]  # selected once; each level masks it (a selection per level cost ~2.5% of a release)
        merged = [lev for lev in levels if self._any_small(sub[at == lev], pairs) or none_or_all(g[at == lev])]
        if not merged or len(levels) < 2:
            return []
        rest = [lev for lev in levels if lev not in merged]

        def still_small() -> bool:
            rows = g[g[level].isin(merged)]
            summed = _sums(rows, across, add).reset_index(drop=True)
            for den in (d for d in pairs.values() if d not in add):  # a group size: the same in every level
                summed[den] = (rows.groupby(across, sort=False, dropna=False)[den].first().to_numpy() if across
                               else rows[den].iloc[:1].to_numpy())
            return self._any_small(summed, pairs) or none_or_all(rows)

        while rest and (len(merged) < 2 or still_small()):
            nxt = min(rest, key=lambda lev: float(g.loc[g[level] == lev, add].to_numpy(dtype=float).min()))
            merged.append(nxt)
            rest.remove(nxt)
        return [lev for lev in levels if lev in merged]

    # -- curves ---------------------------------------------------------------------
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
                self.record(name, " / ".join(map(str, key if isinstance(key, tuple) else (key,))), at_risk_col,
                            f"curve stopped where fewer than {self.threshold} remain at risk")
                g = g.iloc[:first]
            parts.append(g)
        out = pd.concat(parts) if parts else df.iloc[:0]
        out = out.copy()
        r = self.round_at_risk
        out[at_risk_col] = (np.floor(pd.to_numeric(out[at_risk_col]) / r + 0.5) * r).astype(int)
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
                ar[c] = (np.floor(pd.to_numeric(ar[c]) / r + 0.5) * r).astype(int)  # as curve(): half up
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

"""What each column of a result table is: the declarations the release's publication step reads.

An analysis says, beside each table it returns (``AnalysisResult.roles``), what every column holds:

- :class:`Label` - text that names a row (never changed);
- :class:`Count` - a count of people (suppressed below the threshold, every other rounded);
- :class:`Proportion` - ``numerator / denominator`` of the same row, with its Wilson interval;
- :class:`Derived` - any other statistic of counts, with the function that derives it from counts;
- :class:`Summary` - a mean, median or SD over the people of a count column;
- :class:`AtPublishedN` - a statistic whose value depends on how many people there are (a t-interval, a
  p-value, a small-sample correction), computed at the published count, never the true one;
- :class:`Events` - a count of events (incidents, contacts) among the people of a group;
- :class:`Model` - model output with its number of events;
- :class:`Value` - a figure that is not about people (a cost in GBP, a period in years);
- :class:`CurveAt`, :class:`CurveQuantile`, :class:`CurveArea` - a value, a quantile (a median wait) or the
  area up to a horizon (a restricted mean) read off a curve rebuilt from rounded counts.

These are plain declarations with no policy in them: :func:`dapp_eval.disclosure.roles.publish` applies
the release's policy (threshold, rounding, alpha, the zero rule) to them. They live at the bottom of the
package so that analyses can declare them without importing the disclosure layer above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Label", "Count", "Proportion", "Derived", "Summary", "AtPublishedN", "Events", "Model", "Value", "Merge",
           "CurveAt", "CurveQuantile", "CurveArea", "Role", "row_mask"]


def row_mask(rows, df: pd.DataFrame) -> np.ndarray:
    """The rows a role covers: all (``None``), a boolean mask, or a function of the table."""
    if rows is None:
        return np.ones(len(df), dtype=bool)
    m = rows(df) if callable(rows) else rows
    return np.asarray(pd.Series(m).fillna(False), dtype=bool)


@dataclass(frozen=True)
class Label:
    """Columns of text that name a row."""

    cols: tuple[str, ...]

    def __init__(self, *cols: str):
        object.__setattr__(self, "cols", tuple(cols))


@dataclass(frozen=True)
class Count:
    """Columns that count people (``kind="throughput"`` kept for the log only: small counts are withheld).

    ``total``: the size of the group each count is part of, for the zero rule (a 0, or a count equal to its
    group, in a group smaller than the zero minimum says "none" or "all" of it and is withheld like a small
    count): ``"sum"`` (the rows of the table are the parts of one group: a distribution, a cross-table; the
    total is the column's sum), a column of the row (the group's size), or a function of the table giving
    each row's group size. ``None``: no group declared.
    """

    cols: tuple[str, ...]
    total: str | Callable[[pd.DataFrame], object] | None = None

    def __init__(self, *cols: str, total: str | Callable[[pd.DataFrame], object] | None = None):
        object.__setattr__(self, "cols", tuple(cols))
        object.__setattr__(self, "total", total)


@dataclass(frozen=True)
class Proportion:
    """``estimate = scale * numerator / denominator`` with its Wilson interval, from the published counts."""

    numerator: str
    denominator: str
    estimate: str = "estimate"
    ci: tuple[str, str] | None = ("ci_lower", "ci_upper")
    scale: float = 1.0
    rows: object = None

    @property
    def cols(self) -> tuple[str, ...]:
        return (self.estimate, *(self.ci or ()))


@dataclass(frozen=True)
class Derived:
    """Columns computed by ``fn(published) -> DataFrame`` (those columns) from the published counts.

    ``published`` is the table with every count column replaced by its published number (NaN where not
    shown) and every other column as published so far (roles are applied in order). ``inputs`` are the
    counts it reads: where one is hidden, the derived cells are withheld (``[c]``) unless ``hidden_ok``.
    ``small`` are count columns whose true value, when from 1 to threshold - 1, withholds the row's
    derived cells (a small implied cell, e.g. a discordant pair count). ``group``: the count column of the
    people those cells split; a ``small`` cell of 0 in a group under the zero minimum (none or all of a small
    group: an estimate of 0 or 1) withholds the row's derived cells too (the zero rule).
    """

    cols: tuple[str, ...]
    fn: Callable[[pd.DataFrame], pd.DataFrame]
    inputs: tuple[str, ...] = ()
    rows: object = None
    small: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    hidden_ok: bool = False
    group: str | None = None


@dataclass(frozen=True)
class Summary:
    """A mean, median, SD ... over the people counted in ``n``: shown only when ``n`` is at least the threshold.

    ``grain``: the columns are order statistics of a time (a median or quartile of weeks waiting) and are shown
    in whole units of ``grain`` (rounded down): a median of an odd number of people, or a quartile, is one
    person's exact time, which with the extract date gives that person's referral date.

    ``moments``: ``(mean, sd)`` (``sd`` may be None), columns among ``cols`` holding a mean and SD of whole-number
    values (scores, counts of children, contacts): shown as the mean and SD of the *rounded* sum and sum of squares
    at the *published* n (:func:`dapp_eval.estimators.paired.protected_moments`). The true mean and SD pin the true
    n (a mean of 9.4 at a published 5 is 66 / 7, and with its SD the sum of squares, attack a11 B1-B10)."""

    cols: tuple[str, ...]
    n: str
    rows: object = None
    grain: float | None = None
    moments: tuple = ()


@dataclass(frozen=True)
class AtPublishedN:
    """Statistics of the people counted in ``n`` that depend on how many they are, computed at the PUBLISHED n.

    ``fn(stats, n_pub, alpha) -> DataFrame`` (the columns ``cols``) is called with ``stats``, the table's rows
    with every count column removed (it cannot read a true count), ``n_pub``, the published ``n`` (NaN where
    hidden), and the release's alpha: a t-interval is ``mean -/+ t(1 - alpha/2, n_pub - 1) sd / sqrt(n_pub)``,
    a p-value uses ``n_pub``, an effect size's interval too. Shown only where ``n`` is published and at least
    the threshold. ``inputs`` are columns of sufficient statistics (SDs) ``fn`` reads: never published (they
    are blanked). A value ``fn`` cannot give (NaN) where the table had one is withheld (``[c]``): a statistic
    that cannot be computed at the published n (a rank test, whose statistic is a sum over the true people)
    is not published.
    """

    cols: tuple[str, ...]
    fn: Callable[[pd.DataFrame, np.ndarray, float], pd.DataFrame]
    n: str
    inputs: tuple[str, ...] = ()
    rows: object = None


@dataclass(frozen=True)
class Events:
    """A count of events (incidents, contacts, MARAC referrals) among the ``n`` people of a group.

    Published as a count (it need not be declared a :class:`Count` too), and withheld (``[c]``) where it is 0
    in a group smaller than the zero minimum ("none of them had one" is the zero rule's "none"), and wherever
    the count of people it implies is withheld: ``people`` (a column of the row, or a function of the table
    giving each row's count of people with an event) is read in the true and in the published table, and a
    count of people not published withholds the events beside it (0 incidents means 0 people).
    """

    col: str
    n: str | Callable[[pd.DataFrame], object]
    people: str | Callable[[pd.DataFrame], object] | None = None
    rows: object = None


@dataclass(frozen=True)
class Model:
    """Model output: shown only with at least ``threshold`` events (column ``events``, a number, or a function
    of the table giving each row's events, e.g. the fewer of two outcomes of an estimated rate)."""

    cols: tuple[str, ...]
    events: str | float | Callable[[pd.DataFrame], object]
    rows: object = None


@dataclass(frozen=True)
class Value:
    """Figures that are not about people (a cost in GBP, a period in years, a planned length): shown as they are."""

    cols: tuple[str, ...]

    def __init__(self, *cols: str):
        object.__setattr__(self, "cols", tuple(cols))


@dataclass(frozen=True)
class Merge:
    """Before publishing, merge the small levels of ``level`` within each block of rows sharing ``by``.

    Global recoding (sdcMicro ``groupAndRename``): levels with a count (``add``) from 1 to threshold - 1
    in any row of ``across`` are merged into one level named after them, so that they need not be
    withheld. ``where`` limits merging to some rows (mutually exclusive categories only). ``adjacent``:
    the levels are ordered (periods) and a small one merges with a neighbour ("2023/24 Q1 to Q2").
    ``sums`` are other columns summed over merged levels (a target per period), not tested for smallness.
    ``named``: the block's levels are fixed (every one is a row, of 0 people too: the flow's stages), so the
    merged row names them; otherwise (levels from the data: who is in the group) it is labelled "other groups"
    whoever is there, since naming the merged levels says which are present.
    ``group_size``: a function of the table giving each row's group (the people a block's levels share out,
    such as a stage's parent): in a group smaller than the zero minimum, a level of nobody or of everybody
    is small too, since it says "none" or "all" of them (the zero rule, applied by merging).
    """

    by: tuple[str, ...]
    level: str
    across: tuple[str, ...] = ()
    add: tuple[str, ...] = ("n",)
    where: object = None
    adjacent: bool = False
    sums: tuple[str, ...] = ()
    group_size: object = None
    named: bool = False


@dataclass(frozen=True)
class CurveAt:
    """``cols`` (estimate, lower, upper) read off a cumulative-incidence curve at the time in column ``at``.

    The curve is rebuilt from rounded cumulative counts before it is read (each step stands for the threshold
    number of people: :func:`dapp_eval.disclosure.curves.protected_steps`), so the value is computed from
    protected counts, never from the people. ``steps(row)`` gives a row's per-time counts, a DataFrame with
    ``time``, one column per cause (events at that time) and ``censored``; ``n`` is the count column of the
    people the curve starts from; ``cause`` the cause read; ``at`` a column, or a function of the row.
    """

    cols: tuple[str, ...]
    steps: Callable[[pd.Series], pd.DataFrame]
    cause: str
    at: str | Callable[[pd.Series], float]
    n: str
    rows: object = None


@dataclass(frozen=True)
class CurveQuantile:
    """``cols`` (estimate, lower, upper) the first times a curve rebuilt from rounded counts reaches ``level``.

    The curve is ``cause``'s cumulative incidence (Aalen-Johansen, the other causes competing) rebuilt from
    rounded cumulative counts (:func:`dapp_eval.disclosure.curves.protected_steps`) and stopped where fewer than
    the threshold remain at risk: the curve a release draws. The estimate is the first time it reaches ``level``,
    the interval the first times its pointwise upper and lower limits do (NaN: not reached). ``among=True``
    reads instead the ``level`` quantile of the times of ``cause`` among those with it (the rounded people each
    step of the curve stands for): the first time their rounded cumulative count reaches ``level`` of its
    total. ``steps(row)``, ``cause`` and ``n`` as for :class:`CurveAt`; ``events`` a count column (or a function
    of the table) whose true value below the threshold withholds the row (as :class:`Model`); ``reached`` a
    column set to whether the estimate was reached on the published curve. ``grain``: the time grid the curve
    is drawn on, in the steps' unit (one week: 7 for days, 1 for weeks; see
    :mod:`dapp_eval.disclosure.curves`), so that the quantile is a grid point of the curve the release draws.
    """

    cols: tuple[str, ...]
    steps: Callable[[pd.Series], pd.DataFrame]
    cause: str
    n: str
    level: float = 0.5
    among: bool = False
    events: str | Callable[[pd.DataFrame], object] | None = None
    reached: str | None = None
    grain: float = 7.0
    rows: object = None


@dataclass(frozen=True)
class CurveArea:
    """``cols`` (estimate, std_error, lower, upper): the area up to ``horizon`` under the Kaplan-Meier curve of
    leaving by any cause, rebuilt from rounded counts (a restricted mean time), with its Greenwood-type standard
    error from the rebuilt numbers at risk and events (as :func:`dapp_eval.estimators.survival.rmst`).

    ``steps(row)`` gives a row's per-time counts (``time``, one column per cause, ``censored``); ``horizon`` a
    column or a function of the row; ``n`` the count column of the people the curve starts from; ``grain`` the
    time grid in days (one week: time in the programme).
    """

    cols: tuple[str, ...]
    steps: Callable[[pd.Series], pd.DataFrame]
    horizon: str | Callable[[pd.Series], float]
    n: str
    grain: float = 7.0
    rows: object = None


Role = (Label | Count | Proportion | Derived | Summary | AtPublishedN | Events | Model | Value | Merge | CurveAt
        | CurveQuantile | CurveArea)

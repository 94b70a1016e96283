"""This year against last: each quarterly measure's latest financial year beside the one before.

A commissioner asks "is it better this year?". The SPC charts (:mod:`dapp_eval.analyses.trends`) answer "is any
quarter unusual?", which is a different question. Here, for each measure of the charts, the latest UK
financial year is set beside the previous one over the *same quarters* (like for like: a quarter counts
only when it is complete, and published, in both years), with the difference, its interval at the plan's
alpha, and a plain reading:

- a proportion (completion, reliable reduction in risk): the difference of the two years' proportions
  (this year minus last, in percentage points) with Newcombe's hybrid score interval
  (:func:`dapp_eval.estimators.proportions.newcombe_diff_ci`, built from each year's Wilson interval);
- a count (referrals, starts): the difference of the two counts over the same quarters, with the
  normal-approximation interval for the difference of two Poisson counts, ``d +/- z sqrt(x1 + x0)``.

The reading is "higher than last year, beyond chance" or "lower than last year, beyond chance" when the
interval leaves out 0, else "no clear change". Beyond chance is not a cause: the sentence says what
changed, not why.

The inputs are the quarterly counts as published (after disclosure control), so every figure here is
computed from published numbers only.

Examples
--------
>>> q = pd.DataFrame({"quarter": ["2023/24 Q1", "2023/24 Q2", "2024/25 Q1", "2024/25 Q2"],
...                   "partial": [False] * 4, "n_numerator": [40, 42, 45, 44], "n_denominator": [50, 50, 50, 50]})
>>> r = year_on_year(q, kind="proportion")
>>> r["this_year"], r["last_year"], r["quarters"], round(r["difference"], 2), r["reading"]
('2024/25', '2023/24', 'Q1-Q2', 0.07, 'no clear change')
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.columns import Count, Derived, Label, Proportion, Value
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import newcombe_diff_ci, wilson_ci
from dapp_eval.results import check_alpha

__all__ = ["year_on_year", "compare", "READINGS", "year_table", "reading"]

#: the three plain readings of a year-on-year difference
READINGS = ("higher than last year, beyond chance", "lower than last year, beyond chance", "no clear change")

_QUARTER = re.compile(r"^(?P<fy>\d{4}/\d{2}) (?P<q>Q[1-4])$")


def _usable(quarters: pd.DataFrame, kind: str) -> dict[str, dict[str, tuple[float, float]]]:
    """{financial year: {quarter: (numerator, denominator)}} of the complete, published quarters."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for r in quarters.itertuples(index=False):
        m = _QUARTER.match(str(r.quarter))
        if not m or bool(r.partial):
            continue
        k = pd.to_numeric(pd.Series([r.n_numerator]), errors="coerce").iloc[0]
        n = (pd.to_numeric(pd.Series([r.n_denominator]), errors="coerce").iloc[0] if kind == "proportion"
             else np.nan)
        if pd.isna(k) or (kind == "proportion" and (pd.isna(n) or n <= 0)):
            continue  # not published, or its cohort not complete yet
        out.setdefault(m["fy"], {})[m["q"]] = (float(k), float(n))
    return out


def year_on_year(quarters: pd.DataFrame, *, kind: str, alpha: float = 0.05) -> dict:
    """The latest financial year against the previous one, over the quarters complete in both.

    Parameters
    ----------
    quarters : DataFrame
        One row per quarter: ``quarter`` ("2024/25 Q1"), ``partial`` (bool: left out), ``n_numerator``
        (the count, or the events of a proportion; missing when not published) and, for a proportion,
        ``n_denominator``.
    kind : {"proportion", "count"}
    alpha : float
        The plan's alpha: the interval is at level 1 - alpha.

    Returns
    -------
    dict
        ``this_year``, ``last_year`` ("2024/25"), ``quarters`` ("Q1-Q4"), ``k_this``, ``n_this``, ``k_last``,
        ``n_last`` (sums over those quarters; ``n_*`` NaN for counts), ``this``, ``last`` (each year's
        proportion or count), ``ci_this``, ``ci_last`` (Wilson intervals of the proportions; NaN for counts),
        ``difference`` (this minus last), ``ci_lower``, ``ci_upper``, ``beyond_chance`` and ``reading``.

    Raises
    ------
    AnalysisError
        No financial year has a complete quarter that the year before also has.
    """
    if kind not in ("proportion", "count"):
        raise ValueError(f"kind must be 'proportion' or 'count', got {kind!r}")
    alpha = check_alpha(alpha)
    years = _usable(quarters, kind)
    order = sorted(years)
    for fy in reversed(order):
        start = int(fy[:4])
        prev = f"{start - 1}/{start % 100:02d}"
        common = sorted(set(years[fy]) & set(years.get(prev, {})))
        if common:
            break
    else:
        raise AnalysisError("no financial year to compare with the year before: no quarter is complete and "
                            "published in two financial years running")
    k1 = sum(years[fy][q][0] for q in common)
    k0 = sum(years[prev][q][0] for q in common)
    span = common[0] if len(common) == 1 else f"{common[0]}-{common[-1]}"
    if len(common) > 1 and [int(q[1]) for q in common] != list(range(int(common[0][1]), int(common[-1][1]) + 1)):
        span = ", ".join(common)
    n1 = sum(years[fy][q][1] for q in common)
    n0 = sum(years[prev][q][1] for q in common)
    return {"this_year": fy, "last_year": prev, "quarters": span, **compare(k1, n1, k0, n0, kind=kind, alpha=alpha)}


def compare(k_this, n_this, k_last, n_last, *, kind: str, alpha: float = 0.05) -> dict:
    """This year's figure against last year's, from the two years' counts (see :func:`year_on_year`).

    ``n_*`` are the denominators of a proportion (ignored for counts).

    Examples
    --------
    >>> r = compare(56, 70, 48, 80, kind="proportion")
    >>> round(r["ci_lower"], 4), round(r["ci_upper"], 4), r["reading"]
    (0.0524, 0.3339, 'higher than last year, beyond chance')
    >>> compare(120, None, 100, None, kind="count")["reading"]
    'no clear change'
    """
    if kind not in ("proportion", "count"):
        raise ValueError(f"kind must be 'proportion' or 'count', got {kind!r}")
    alpha = check_alpha(alpha)
    k1, k0 = float(k_this), float(k_last)
    out = {"k_this": k1, "k_last": k0}
    if kind == "proportion":
        n1, n0 = float(n_this), float(n_last)
        d, lo, hi = newcombe_diff_ci(k1, n1, k0, n0, alpha=alpha)
        out.update(n_this=n1, n_last=n0, this=k1 / n1, last=k0 / n0,
                   ci_this=tuple(float(v) for v in wilson_ci(k1, n1, alpha=alpha)),
                   ci_last=tuple(float(v) for v in wilson_ci(k0, n0, alpha=alpha)))
    else:
        z = float(stats.norm.ppf(1 - alpha / 2))
        d = k1 - k0
        half = z * math.sqrt(k1 + k0)
        lo, hi = d - half, d + half
        out.update(n_this=np.nan, n_last=np.nan, this=k1, last=k0, ci_this=(np.nan, np.nan),
                   ci_last=(np.nan, np.nan))
    beyond = bool(lo > 0 or hi < 0)
    out.update(difference=float(d), ci_lower=float(lo), ci_upper=float(hi), beyond_chance=beyond,
               reading=READINGS[0] if beyond and d > 0 else READINGS[1] if beyond else READINGS[2])
    return out


def reading(difference: float, lower: float, upper: float) -> str:
    """The plain reading of a difference and its interval (one of :data:`READINGS`).

    >>> reading(0.1, 0.02, 0.2), reading(-3, -5, 1)
    ('higher than last year, beyond chance', 'no clear change')
    """
    beyond = bool(lower > 0 or upper < 0)
    return READINGS[0] if beyond and difference > 0 else READINGS[1] if beyond else READINGS[2]


def _from_published(pub: pd.DataFrame) -> pd.DataFrame:
    """Each year's figure, the difference and its interval, from the published counts (NaN where hidden)."""
    rows = []
    for r in pub.itertuples(index=False):
        is_p = pd.notna(r.n_of_this) or pd.notna(r.n_of_last)
        vals = [r.n_this, r.n_last] + ([r.n_of_this, r.n_of_last] if is_p else [])
        if any(pd.isna(v) for v in vals) or (is_p and min(r.n_of_this, r.n_of_last) <= 0):
            rows.append({"this": np.nan, "last": np.nan, "difference": np.nan, "ci_lower": np.nan,
                         "ci_upper": np.nan})
            continue
        c = compare(r.n_this, r.n_of_this, r.n_last, r.n_of_last, kind="proportion" if is_p else "count",
                    alpha=float(r.alpha))
        rows.append({k: c[k] for k in ("this", "last", "difference", "ci_lower", "ci_upper")})
    return pd.DataFrame(rows, index=pub.index)


def _complements(t: pd.DataFrame) -> pd.DataFrame:
    """The people of each year's proportion who are not in its numerator (a small one withholds the row)."""
    return pd.DataFrame({"this": t["n_of_this"] - t["n_this"], "last": t["n_of_last"] - t["n_last"]}).fillna(0)


def _count_rows(t: pd.DataFrame) -> pd.Series:
    """Rows of a count (no denominator) that has years to compare."""
    return t["n_of_this"].isna() & t["n_this"].notna()


def _compared_rows(t: pd.DataFrame) -> pd.Series:
    return t["n_this"].notna()


def year_table(series: dict, *, alpha: float = 0.05) -> tuple[pd.DataFrame, list]:
    """This year against last for several measures, as one table to publish, with its columns' roles.

    ``series`` maps a measure's label to ``(quarters, kind)`` as :func:`year_on_year` takes them, with the
    *true* quarterly counts: the quarters compared are those complete in both years (decided by the calendar
    and the cohorts' follow-up, never by whether a quarter's count is small). Each year's count is then
    published as one count, and each year's figure, the difference and its interval are computed from the
    published counts by the publication step. A measure with nothing to compare has its reason in ``note``.

    Examples
    --------
    >>> q = pd.DataFrame({"quarter": ["2023/24 Q1", "2024/25 Q1"], "partial": [False, False],
    ...                   "n_numerator": [40, 52], "n_denominator": [np.nan, np.nan]})
    >>> t, roles = year_table({"Referrals": (q, "count")})
    >>> t[["measure", "n_this", "n_last", "quarters"]].values.tolist()
    [['Referrals', 52.0, 40.0, 'Q1']]
    """
    rows = []
    for label, (q, kind) in series.items():
        row = {"measure": label, "this_year": "", "last_year": "", "quarters": "", "note": "", "n_this": np.nan,
               "n_last": np.nan, "n_of_this": np.nan, "n_of_last": np.nan, "alpha": alpha}
        try:
            r = year_on_year(q, kind=kind, alpha=alpha)
        except AnalysisError as exc:
            row["note"] = f"not compared: {exc}"
        else:
            row.update(this_year=r["this_year"], last_year=r["last_year"], quarters=r["quarters"],
                       n_this=r["k_this"], n_last=r["k_last"], n_of_this=r["n_this"], n_of_last=r["n_last"])
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("this", "last", "difference", "ci_lower", "ci_upper"):
        out[c] = np.nan
    counts = ("n_this", "n_last", "n_of_this", "n_of_last")
    roles = [Label("measure", "this_year", "last_year", "quarters", "note"), Count(*counts), Value("alpha"),
             Proportion("n_this", "n_of_this", estimate="this", ci=None),
             Proportion("n_last", "n_of_last", estimate="last", ci=None),
             Derived(("this", "last"), _from_published, inputs=("n_this", "n_last"), rows=_count_rows),
             Derived(("difference", "ci_lower", "ci_upper"), _from_published, inputs=counts, small=_complements,
                     rows=_compared_rows)]
    return out, roles

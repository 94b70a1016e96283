"""Data-quality summaries of a loaded programme folder.

Used by ``notebooks/01_data_quality.ipynb`` and the report's data-quality
appendix: table sizes, what the loader tolerated, missing values per column,
date coverage per site.
"""

from __future__ import annotations

import pandas as pd

from dapp_eval.columns import Count, Label, Merge, Value
from dapp_eval.data.io import ProgrammeData
from dapp_eval.data.schema import TABLES, V2_REFERRAL_COLUMNS
from dapp_eval.results import AnalysisResult, every_reason, make_meta

__all__ = ["data_quality", "missingness", "coverage"]


def missingness(data: ProgrammeData) -> pd.DataFrame:
    """Empty cells per contract column of every table present.

    Returns
    -------
    DataFrame
        table, column, n_rows, n_missing, pct_missing, nullable (whether the
        contract allows an empty cell there). A referral column of contract
        version 2 that is empty in every row (a version-1 export) is left out.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> data = load_programme("data_synthetic")
    >>> m = missingness(data)
    >>> int(m.query("table == 'referrals' and column == 'referral_id'")["n_missing"].iloc[0])
    0
    """
    rows = []
    for name, df in data.tables().items():
        for col in TABLES[name].columns:
            if col.name not in df:
                continue
            n_missing = int(df[col.name].isna().sum())
            if name == "referrals" and col.name in V2_REFERRAL_COLUMNS and n_missing == len(df):
                continue  # an optional item of contract version 2 the data do not hold (the sections say so)
            rows.append({"table": name, "column": col.name, "n_rows": len(df), "n_missing": n_missing,
                         "pct_missing": 100.0 * n_missing / len(df) if len(df) else float("nan"),
                         "nullable": col.nullable})
    return pd.DataFrame(rows)


def coverage(data: ProgrammeData) -> pd.DataFrame:
    """Per site: period, extract date, referrals and the span of referral dates.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> coverage(load_programme("data_synthetic")).shape[0] >= 1
    True
    """
    ref = data.referrals
    agg = ref.groupby("site_id").agg(n_referrals=("referral_id", "size"),
                                     first_referral=("referral_date", "min"),
                                     last_referral=("referral_date", "max"),
                                     n_participants=("participant_id", "nunique"))
    cols = ["site_id", "site_name", "programme_model", "period_start", "period_end", "data_extract_date"]
    out = data.sites[cols].merge(agg, left_on="site_id", right_index=True, how="left")
    out["n_referrals"] = out["n_referrals"].fillna(0).astype(int)
    out["n_participants"] = out["n_participants"].fillna(0).astype(int)
    return out


def data_quality(data: ProgrammeData) -> AnalysisResult:
    """Summary of a validated folder: sizes, tolerated irregularities, missingness, coverage.

    Parameters
    ----------
    data : ProgrammeData

    Returns
    -------
    AnalysisResult
        ``summary`` = table sizes; ``tables`` holds ``load_log``,
        ``missingness`` and ``coverage``.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> dq = data_quality(load_programme("data_synthetic"))
    >>> list(dq.summary.columns)
    ['table', 'file', 'present', 'n_rows', 'n_columns']
    """
    sizes = data.sizes()
    n_in = int(sizes["n_rows"].sum())
    meta = make_meta(n_in=n_in, method="validation against data contract v1; every row kept", unit="rows",
                     source=data.source, input_hash=data.input_hash)
    return AnalysisResult(
        summary=sizes, meta=meta, title="Data quality",
        tables={"load_log": data.load_log, "missingness": missingness(data), "coverage": coverage(data)},
        roles={"summary": [Label("table"), Count("n_rows"), Value("n_columns", "present", "file")]},
    )


#: the sizes a report publishes: rows of each table of people or their records (counts), and its number of
#: columns (not people: named ``columns`` so that no reader takes it for a count)
SIZE_ROLES = [Label("table"), Count("n_rows"), Value("columns")]


def published_sizes(dq: AnalysisResult) -> pd.DataFrame:
    """The sizes of the tables of people (not sites), without the input's file names."""
    s = dq.summary
    return s.loc[s["table"] != "sites", ["table", "n_rows", "n_columns"]].rename(columns={"n_columns": "columns"})


#: what each column of the load-log table a report publishes is (cells or rows cleaned or recoded: counts)
LOAD_LOG_ROLES = [Label("table", "note"), Count("n")]
def _reasons(t: pd.DataFrame):
    return (t["rows"] != "used").to_numpy()


#: the rows each analysis used and why it left others out: exclusion reasons of an analysis that are a
#: handful of rows are merged into one reason ("a, b or c"), never withheld (its 'used' row stays apart)
EXCLUSION_ROLES = [Merge(by=("analysis",), level="rows", where=_reasons),
                   Label("analysis", "unit", "rows"), Count("n_in", "n")]


def exclusions(results) -> pd.DataFrame:
    """The rows each analysis used and left out (with the reason), from the results' ``meta``.

    One row per analysis title, unit and reason (an analysis shown twice is listed once); lists of
    measures (not people) are left out.
    """
    rows = []
    for res in results:
        if isinstance(res, Exception) or not hasattr(res, "meta"):
            continue
        m = res.meta
        for item, n in [("used", m.get("n_used")), *every_reason(m).items()]:  # of nobody too (issue 26)
            rows.append({"analysis": res.title, "unit": m.get("unit", "rows"), "n_in": m.get("n_in"),
                         "rows": item, "n": n})
    ex = pd.DataFrame(rows, columns=["analysis", "unit", "n_in", "rows", "n"])
    ex = ex[ex["unit"] != "Mirabal measures"]
    return ex.drop_duplicates(ignore_index=True)

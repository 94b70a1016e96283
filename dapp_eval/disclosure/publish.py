"""What a chart may draw: a result's tables with every count replaced by its published value.

A chart drawn from a result draws its true counts: bar heights, point
positions and ``n = ...`` labels are written into the SVG to many decimals,
so a bar of 23 publishes 23 beside a table that says 25. :func:`publish_result`
returns a copy of a result whose count columns (``n``, ``n_*``) hold the
published numbers (rounded; NaN where suppressed or withheld), and whose
proportions of two counts (and their Wilson intervals, at the control's
alpha) are recomputed from them, exactly as :meth:`DisclosureControl.table`
publishes the table beside the chart. Plotting functions then draw only
published values.

The copy is made with a silent control (same threshold, base, alpha), so the
page's disclosure log counts each table once, where it is shown.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from dapp_eval.disclosure.control import HIDDEN, SUPPRESSED, DisclosureControl, count_columns

__all__ = ["published_values", "publish_result"]


def _as_number(v, marker: str = ""):
    if isinstance(v, str):
        if v == marker:
            return np.nan
        s = v.replace(",", "").strip()
        if s.startswith("<") or s == HIDDEN or s == "":
            return np.nan
        try:
            return float(s)
        except ValueError:
            return np.nan
    if v is None or pd.isna(v):
        return np.nan
    return v


def published_values(df: pd.DataFrame, dc: DisclosureControl, **table_kw) -> pd.DataFrame:
    """``df`` as published by ``dc.table`` (same arguments), with numbers as numbers (NaN where not shown).

    Examples
    --------
    >>> t = pd.DataFrame({"quarter": ["Q1", "Q2"], "n": [23, 4]})
    >>> published_values(t, DisclosureControl(), label_cols=["quarter"])["n"].tolist()
    [25.0, nan]
    """
    quiet = dc.same_policy()
    shown = quiet.table(df, name="chart", **table_kw)
    out = shown.copy()
    marker = SUPPRESSED.format(t=dc.threshold)
    for c in out.columns:
        col = out[c]
        if c in count_columns(out) or (col.dtype == object and pd.api.types.is_numeric_dtype(df[c])):
            out[c] = pd.to_numeric(col.map(lambda v: _as_number(v, marker)), errors="coerce")
    return out


def publish_result(res, dc: DisclosureControl, *, tables: tuple[str, ...] = (), **table_kw):
    """A copy of a result whose ``summary`` (and ``tables`` named) hold only published values.

    ``tables`` names the tables of ``res.tables`` a chart draws besides the summary (they are published
    too; the others are left out of the copy, so nothing unpublished reaches the chart); ``table_kw`` go to :meth:`DisclosureControl.table` (``kind="throughput"`` for the programme's
    own throughput, ``label_cols`` ...).
    """
    out = copy.copy(res)
    kw = dict(table_kw)
    label_cols = kw.pop("label_cols", None)

    def pub(df):
        if not isinstance(df, pd.DataFrame) or not count_columns(df):
            return df
        labels = label_cols if label_cols is not None else [c for c in df.columns if df[c].dtype == object
                                                             and c not in count_columns(df)]
        labels = [c for c in labels if c in df.columns]
        return published_values(df.reset_index(drop=True), dc, label_cols=labels, **kw)

    out.summary = pub(res.summary)
    out.tables = {k: pub(v) for k, v in res.tables.items() if k in tables}
    return out

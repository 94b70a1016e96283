"""Publication format: numbers rounded at the source to the precision the page shows.

Every published value goes through :func:`publish_value` once; the HTML cell,
the CSV download and the workbook cell are all written from that rounded
value, so a rerun on another CPU or BLAS kernel (last-digit differences in a
p-value or an interval) gives byte-identical files.

Rules (the same as the page has always shown):

- p-values (columns ``p_*``): as :func:`dapp_eval.formatting.format_p` writes them everywhere in the
  package: 3 decimals ("0.720"), ``< 0.001`` below that;
- whole numbers: as integers;
- other numbers: 3 significant digits below 1 in absolute value, else 1 decimal.

Text written to CSV/XLSX is made safe for spreadsheets (OWASP "CSV injection"):
a text cell beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return
gets a leading single quote, so a site called ``=HYPERLINK(...)`` is shown as
text and never run as a formula. Numbers stay numbers.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.formatting import P_FLOOR, format_p

__all__ = ["publish_value", "publish_frame", "fmt_cell", "pct", "slug", "spreadsheet_safe", "csv_bytes",
           "P_FLOOR"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def is_p_column(col: Any) -> bool:
    return str(col).startswith("p_")


def publish_value(v: Any, col: Any = "") -> Any:
    """The value as published: rounded to the precision shown (floats), else unchanged.

    Examples
    --------
    >>> publish_value(0.0123456), publish_value(12.3456), publish_value(3.0), publish_value(0.00004, "p_value")
    (0.0123, 12.3, 3, '< 0.001')
    >>> publish_value(0.04567, "p_adjusted"), publish_value(0.72, "p_value"), publish_value(float("nan"))
    ('0.046', '0.720', None)
    """
    if _is_missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isinf(f):
            return f
        if is_p_column(col):
            return format_p(f)
        if f.is_integer() and abs(f) < 1e15:
            return int(f)
        out = float(f"{f:.3g}") if abs(f) < 1 else round(f, 1)
        return int(out) if out.is_integer() and abs(f) >= 1 else out
    if isinstance(v, (pd.Timestamp, _dt.datetime, _dt.date)):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    return v


def publish_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell through :func:`publish_value` (object columns: ints, floats, text, None)."""
    return pd.DataFrame({c: pd.Series([publish_value(v, c) for v in df[c]], dtype=object) for c in df.columns},
                        index=range(len(df)))


def fmt_cell(v: Any) -> str:
    """Text of a published value in an HTML cell.

    Examples
    --------
    >>> fmt_cell(1234), fmt_cell(0.0123), fmt_cell(12345.7), fmt_cell(None), fmt_cell("< 0.001")
    ('1,234', '0.0123', '12,345.7', '', '< 0.001')
    """
    if _is_missing(v):
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:,.3g}" if abs(v) < 1 else f"{v:,.1f}"
    return str(v)


def pct(x: Any, digits: int = 0) -> str:
    """Format a proportion (0-1) as a percentage string.

    Examples
    --------
    >>> pct(0.6886), pct(None), pct(0.5, 1)
    ('69%', 'n/a', '50.0%')
    """
    if x is None or pd.isna(x):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


def slug(text: str) -> str:
    """A file-name-safe slug: ``slug("S01 funnel") == "s01_funnel"``."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "table"


def spreadsheet_safe(v: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading quote; numbers are unchanged.

    Examples
    --------
    >>> spreadsheet_safe('=HYPERLINK("http://x.example/","Open")')
    '\\'=HYPERLINK("http://x.example/","Open")'
    >>> spreadsheet_safe("-0.5"), spreadsheet_safe(-0.5), spreadsheet_safe("<10")
    ('-0.5', -0.5, '<10')
    """
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _NUMBER.match(v):
        return "'" + v
    return v


def number_or_text(v: Any) -> Any:
    """For the workbook: a published count string ("1,234") becomes the number it shows."""
    if isinstance(v, str) and _NUMBER.match(v):
        t = v.replace(",", "")
        return int(t) if "." not in t else float(t)
    return spreadsheet_safe(v)


def csv_bytes(published: pd.DataFrame) -> bytes:
    """The CSV download of a published table (UTF-8, LF line ends, formula-safe text)."""
    import csv
    import io as _io

    from dapp_eval.formatting import csv_header_rows

    safe = published.apply(lambda col: col.map(spreadsheet_safe)) if len(published) else published
    head = _io.StringIO()
    # plain words first (what a reader sees), then the code names for analysts (pandas: header=[0, 1])
    csv.writer(head, lineterminator="\n").writerows(csv_header_rows(published.columns))
    return (head.getvalue() + safe.to_csv(index=False, header=False, lineterminator="\n")).encode("utf-8")

"""``tables.xlsx``: every published table of a release in one workbook of numbers.

Laid out as the ONS / GOV.UK guidance on releasing statistics in spreadsheets asks:

- a ``Notes`` sheet (what the workbook holds, the one unit convention, the shorthand) and a ``Contents``
  sheet (one row per table sheet, linked, with its title, the report it comes from and its column codes);
- one sheet per table, named in words (``All funnel counts``, ``S01 headline figures``), with one header row
  in row 1, the header frozen and filters on it;
- numbers stored as numbers: a count is a whole number, a proportion is stored between 0 and 1 with a
  percentage format (``0.81`` shows as 81%; a column the page gives as percentages is divided by 100, so
  there is one convention), money is in pounds with a ``£`` format; figures the page writes as text
  ("81%", "£937", "64% to 77%") are stored as the numbers they show, an interval in two columns;
- the shorthand ``<10`` (a count below the small-number threshold), ``[c]`` (withheld to protect it) and
  ``< 0.001`` never in a numeric column: the cell is left empty and the shorthand is in the column's
  ``note`` column beside it;
- a table shown identically in several reports (the comparison of sites) is one sheet, listed once with
  every report it appears in.

Every value is the published one (after disclosure control and rounding: :mod:`dapp_eval.report.format`);
nothing is added. The file is byte-identical for the same release: fixed document dates and fixed zip
entry times.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dapp_eval.formatting import csv_header_rows
from dapp_eval.report.context import PublishedTable, cell_units
from dapp_eval.report.format import spreadsheet_safe

__all__ = ["WorkbookBuilder", "write_workbook", "sheet_columns", "NOTE_SUFFIX", "SHORTHAND"]

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

#: the code of a column's note column is the column's code with this suffix (the audit reads it back)
NOTE_SUFFIX = " note"

#: the shorthand a published cell may hold instead of a number, and what each means (ONS conventions)
SHORTHAND = {
    "<threshold": "a count below the small-number threshold (e.g. <10; a 0 that would say 'none' of a small group "
                  "too), not published",
    "[c]": "confidential: withheld because it would reveal a small count",
    "< 0.001": "a p-value below 0.001",
    "[x]": "not available",
}
_MARKER = re.compile(r"^(<\d[\d,]*(\.\d+)?|< 0\.001|\[[a-z]\]|n/a)$")  # "< 0.001": formatting.format_p
_NUM = r"[-+]?£?\d[\d,]*(?:\.\d+)?"
_UNIT_WORDS = "percentage points|weeks|days|points|sessions|months"
_SINGLE = re.compile(rf"^(?P<v>{_NUM})(?P<pct>%)?(?: (?P<unit>{_UNIT_WORDS}))?$")
_RANGE = re.compile(rf"^(?:\d+(?:\.\d+)?% CI )?(?P<lo>{_NUM})(?P<plo>%)? to (?P<hi>{_NUM})(?P<phi>%)?"
                    rf"(?: (?P<unit>{_UNIT_WORDS}))?$")

_FMT_COUNT = "#,##0"
_FMT_GBP = "£#,##0"
_FMT_GBP_PENCE = "£#,##0.00"


def write_workbook(path: str | Path, tables: Sequence[PublishedTable], *, title: str,
                   stamp: _dt.datetime) -> Path:
    """Write the release workbook; ``stamp`` (e.g. the data extract date) is its document date."""
    book = WorkbookBuilder(title=title)
    book.add(tables)
    return book.save(path, stamp=stamp)


# ---------------------------------------------------------------------------
# one published table as columns of a sheet
# ---------------------------------------------------------------------------


@dataclass
class _Cell:
    value: Any = None            # what the sheet cell holds (a number, text, or None)
    fmt: str | None = None       # its number format
    unit: str | None = None      # "proportion", "gbp", "weeks" ... for a unit column where units vary
    note: str | None = None      # shorthand that stands instead of the value


@dataclass
class SheetColumn:
    """One column of a table sheet: its header (words), its code (for analysts and the audit) and its cells."""

    header: str
    code: str
    cells: list[_Cell] = field(default_factory=list)
    width: int = 12

    @property
    def values(self) -> list:
        return [c.value for c in self.cells]


def _decimals(text: str) -> int:
    t = text.replace(",", "")
    return len(t.split(".")[1]) if "." in t else 0


def _pct_format(decimals: int) -> str:
    return "0%" if decimals <= 0 else "0." + "0" * decimals + "%"


def _as_proportion(percent_text: str) -> _Cell:
    """A percentage as the page writes it ('81', '0.75') as a proportion with a percentage format."""
    d = _decimals(percent_text)
    return _Cell(round(float(percent_text.replace(",", "")) / 100, d + 2), _pct_format(d), "proportion")


def _number_cell(v: Any, unit: str | None) -> _Cell:
    """A published number (or number written as text: '1,234') with the unit the page reads it in."""
    text = v if isinstance(v, str) else repr(v)
    x = float(text.replace(",", "")) if isinstance(v, str) else v
    if unit == "percent":
        return _as_proportion(text)
    if unit == "proportion":
        return _Cell(x, _pct_format(max(0, _decimals(text) - 2)), "proportion")
    if unit == "gbp":
        whole = float(x).is_integer()
        return _Cell(int(x) if whole else x, _FMT_GBP if whole else _FMT_GBP_PENCE, "gbp")
    if isinstance(x, float) and x.is_integer() and "." not in text:
        x = int(x)
    return _Cell(x, _FMT_COUNT if isinstance(x, int) else None, None)


def _parse_text(v: str) -> tuple[str, Any]:
    """('marker', text), ('number', _Cell), ('range', (lo, hi)) or ('text', text) for a published text cell."""
    t = v[1:] if v.startswith(("'-", "'+")) else v  # spreadsheet_safe quoted a signed figure ("'-3 points")
    if _MARKER.match(t):
        return "marker", t
    m = _SINGLE.match(t)
    if m:
        return "number", _typed(m.group("v"), bool(m.group("pct")), m.group("unit"))
    m = _RANGE.match(t)
    if m:
        return "range", (_typed(m.group("lo"), bool(m.group("plo")), m.group("unit")),
                         _typed(m.group("hi"), bool(m.group("phi")), m.group("unit")))
    return "text", v


def _typed(num: str, percent: bool, unit: str | None) -> _Cell:
    if percent:
        return _as_proportion(num)
    num = num.lstrip("+")
    if num.lstrip("-").startswith("£"):
        return _number_cell(num.replace("£", ""), "gbp")
    cell = _number_cell(num, None)
    if unit:
        cell.unit, cell.fmt = unit, (cell.fmt or "General")
    return cell


def _proportion_code(code: str) -> str:
    """The code of a column stored as proportions where the page had percentages ('pct' -> 'prop')."""
    return re.sub(r"pct|%", "prop", code)


def sheet_columns(frame, headers: Sequence[str] | None = None) -> list[SheetColumn]:
    """The columns of the sheet of one published table (see the module's docstring for the rules).

    ``headers`` are the words of each column (default: the plain names the CSV's first header row has).
    """
    codes = [str(c) for c in frame.columns]
    headers = list(headers) if headers is not None else csv_header_rows(frame.columns)[0]
    units = list(cell_units(frame)) if len(frame) else []
    out: list[SheetColumn] = []
    for j, (code, head) in enumerate(zip(codes, headers)):
        raw = frame.iloc[:, j].tolist()
        parsed, kinds = _parse_column(raw, [u[j] for u in units] if units else [])
        if "text" in kinds or not kinds or ("range" in kinds and "number" in kinds):
            col = SheetColumn(head, code, [_Cell(spreadsheet_safe(v)) for v in raw])
            col.width = min(60, max([len(head)] + [len(str(v)) for v in raw if v is not None]) + 2)
            out.append(col)
            continue
        out += _number_columns(head, code, parsed, kinds, percent_col=any(u[j] == "percent" for u in units))
    return out


def _parse_column(raw: list, units: list) -> tuple[list, set]:
    """Each cell of one column as (kind, value): empty, text, number, range (an interval) or marker (a note)."""
    parsed = []
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and v != v) or v == "":
            parsed.append(("empty", None))
        elif isinstance(v, bool):
            parsed.append(("text", v))
        elif isinstance(v, (int, float)):
            parsed.append(("number", _number_cell(v, units[i])))
        elif isinstance(v, str) and units and units[i] in ("percent", "proportion", "gbp"):
            parsed.append(("number", _number_cell(v, units[i])))
        else:
            parsed.append(_parse_text(str(v)))
    kinds = {k for k, _ in parsed} - {"empty"}
    n_text = sum(k == "text" for k, _ in parsed)
    if n_text and 2 * n_text <= sum(k in ("number", "range") for k, _ in parsed):
        # a few words among figures ('hidden (small numbers)'): they are notes, not values
        parsed = [("marker", x) if k == "text" else (k, x) for k, x in parsed]
        kinds = (kinds - {"text"}) | {"marker"}
    return parsed, kinds


def _number_columns(head: str, code: str, parsed: list, kinds: set, *, percent_col: bool) -> list[SheetColumn]:
    """A column of figures: the numbers (an interval as lower and upper), then its notes and units if any."""
    if "range" in kinds:
        base = _proportion_code(re.sub(r"\d+(\.\d+)?% CI", "ci", code))
        lo_code, hi_code = ("ci_lower", "ci_upper") if base == "ci" else (f"{base}_lower", f"{base}_upper")
        lo = SheetColumn(f"{head}: lower", lo_code)
        hi = SheetColumn(f"{head}: upper", hi_code)
        for k, x in parsed:
            lo.cells.append(x[0] if k == "range" else _Cell())
            hi.cells.append(x[1] if k == "range" else _Cell())
        group = [lo, hi]
    else:
        # the page's percentages are stored as proportions
        group = [SheetColumn(head, _proportion_code(code) if percent_col else code,
                             [x if k == "number" else _Cell() for k, x in parsed])]
    out = list(group)
    if "marker" in kinds:
        out.append(SheetColumn(f"{head}: note", code + NOTE_SUFFIX,
                               [_Cell(x if k == "marker" else None) for k, x in parsed]))
    varying = {c.unit or "number" for col in group for c in col.cells if c.value is not None}
    if len(varying) > 1 and len(group) == 1:  # figures in different units (headline figures): say each one's
        # (an interval is in the unit of the figure it belongs to)
        words = {"proportion": "proportion (shown as %)", "gbp": "£", "number": "number"}
        out.append(SheetColumn(f"{head}: unit", f"{code} unit",
                               [_Cell(words.get(c.unit or "number", c.unit) if c.value is not None else None)
                                for c in group[0].cells]))
    return out


# ---------------------------------------------------------------------------
# the workbook
# ---------------------------------------------------------------------------


#: words shortened, in turn, in a sheet name longer than Excel allows
_SHORTER = (("chart data", "chart"), ("assessment", "assess"), ("reduction", "fall"), ("reliable", "rel."),
            ("referral", "ref."))


def _sheet_name(t: PublishedTable, taken: set[str]) -> str:
    """A readable, unique sheet name (31 characters at most) from the table's CSV name: 'S01 funnel counts'."""
    words = t.csv_name.removesuffix(".csv").split("_")
    scope, rest = words[0], " ".join(words[1:]) or "table"
    base = f"{'All' if scope == 'all' else scope.upper()} {rest}"
    for long, short in _SHORTER:  # only as far as needed to fit Excel's 31 characters
        if len(base) <= 31:
            break
        base = base.replace(long, short)
    base = base[:31].rstrip()
    name, k = base, 2
    while name.lower() in taken:
        tail = f" ({k})"
        name, k = base[:31 - len(tail)].rstrip() + tail, k + 1
    taken.add(name.lower())
    return name


def _notes_rows(title: str) -> list[tuple[str, str]]:
    return [
        ("Title", title),
        ("What this workbook holds", "Every table published in this release, with the values exactly as published "
         "(after disclosure control and rounding): one sheet per table, listed on the Contents sheet with its title "
         "and the report it comes from. A table shown the same way in several reports is one sheet."),
        ("Layout", "Each table sheet has one header row (row 1), frozen, with filters. The Contents sheet gives each "
         "column's code name, as in the CSV downloads of the reports, in order."),
        ("Units", "One convention throughout. Proportions are stored as numbers between 0 and 1 and formatted as "
         "percentages (0.81 shows as 81%); a column the reports give as percentages (for example '% of referred') "
         "is divided by 100 here. Money is in pounds sterling (£), formatted as such. Counts are whole numbers, "
         "rounded as in the reports. Intervals are in two columns, lower and upper, at the plan's confidence level, in the unit of "
         "the figure they belong to. "
         "A difference between two percentages is in percentage points. Where a column holds figures in different "
         "units (headline figures), the column ': unit' beside it names each one's."),
        ("Shorthand", "A numeric column never holds text. Where the reports show shorthand instead of a number, "
         "the cell is empty and the column ': note' beside it holds the shorthand: "
         + "; ".join(f"{k}: {v}" for k, v in SHORTHAND.items()) + "."),
    ]


class WorkbookBuilder:
    """The release workbook built a page at a time (while later pages are still being rendered), then saved.

    :func:`write_workbook` in parts: the same file, byte for byte, whatever the parts.
    """

    CONTENTS_HEADER = ("sheet", "report", "title", "notes", "csv file", "rows", "also in", "column codes")

    def __init__(self, *, title: str):
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        self._bold = Font(bold=True)
        self._wrap = Alignment(wrap_text=True, vertical="top")
        self.wb = wb = Workbook()
        self.notes = notes = wb.active
        notes.title = "Notes"
        notes.append(["note", "text"])
        for key, text in _notes_rows(spreadsheet_safe(title)):
            notes.append([key, text])
        self.contents = contents = wb.create_sheet("Contents")
        contents.append(list(self.CONTENTS_HEADER))
        self.n = 0
        self._taken = {"notes", "contents"}
        self._seen: dict[tuple, int] = {}   # a table's cells -> its row on the contents sheet

    def add(self, tables: Sequence[PublishedTable]) -> None:
        """One sheet per table (one for identical tables of several reports), each listed on the contents sheet."""
        contents = self.contents
        for t in tables:
            key = (t.caption, tuple(map(str, t.frame.columns)),
                   tuple(tuple(map(repr, r)) for r in t.frame.itertuples(index=False)))
            if key in self._seen:
                cell = contents.cell(row=self._seen[key], column=7)
                cell.value = f"{cell.value}; {t.report}" if cell.value else spreadsheet_safe(t.report)
                continue
            self.n += 1
            sheet = _sheet_name(t, self._taken)
            cols = sheet_columns(t.frame)
            contents.append([sheet, spreadsheet_safe(t.report), spreadsheet_safe(t.caption),
                             spreadsheet_safe(t.notes) or None, t.csv_name, len(t.frame), None,
                             spreadsheet_safe("; ".join(c.code for c in cols))])
            self._seen[key] = contents.max_row
            contents.cell(row=contents.max_row, column=1).hyperlink = f"#'{sheet}'!A1"
            self._write_sheet(self.wb.create_sheet(sheet), cols, len(t.frame))

    def _write_sheet(self, ws, cols: list[SheetColumn], n_rows: int) -> None:
        from openpyxl.utils import get_column_letter

        ws.append([spreadsheet_safe(c.header) for c in cols])
        for c in ws[1]:
            c.font = self._bold
            c.alignment = self._wrap
        for i in range(n_rows):
            ws.append([c.cells[i].value for c in cols])
        for j, col in enumerate(cols, 1):
            fmts = [c.fmt for c in col.cells]
            if any(fmts):
                for i, f in enumerate(fmts, 2):
                    if f:
                        ws.cell(row=i, column=j).number_format = f
            ws.column_dimensions[get_column_letter(j)].width = max(col.width, min(40, len(col.header) // 2 + 4))
        ws.freeze_panes = "A2"
        if cols:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{n_rows + 1}"

    def save(self, path: str | Path, *, stamp: _dt.datetime) -> Path:
        """Write the workbook; ``stamp`` is its document date."""
        for ws, widths in ((self.contents, (24, 34, 70, 30, 40, 6, 30, 60)), (self.notes, (26, 110))):
            for col, width in zip("ABCDEFGH", widths):
                ws.column_dimensions[col].width = width
            for c in ws[1]:
                c.font = self._bold
            ws.freeze_panes = "A2"
            ws.auto_filter.ref = ws.dimensions
        for row in self.notes.iter_rows(min_row=2):
            row[1].alignment = self._wrap
        self.wb.properties.creator = "dapp_eval"
        self.wb.properties.created = stamp
        buf = io.BytesIO()
        self.wb.save(buf)
        return _deterministic_zip(buf.getvalue(), Path(path), stamp)


def _deterministic_zip(data: bytes, path: Path, stamp: _dt.datetime) -> Path:
    """Rewrite the xlsx with fixed entry times and document dates (openpyxl stamps 'now')."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + iso.encode() + rb"\2",
                              body)
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    path.write_bytes(out.getvalue())
    return path

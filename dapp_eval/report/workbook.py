"""``tables.xlsx``: every published table of a release in one workbook.

A ``Contents`` sheet lists each table (sheet, report, title, notes, CSV name);
then one sheet per table, exactly as published (after disclosure control and
rounding): counts and numbers are numbers, markers (``<10``, ``[c]``) are text,
and text that a spreadsheet would run as a formula starts with a quote.

The file is byte-identical for the same release: fixed document dates and
fixed zip entry times.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..formatting import csv_header_rows
from .context import PublishedTable
from .format import number_or_text, spreadsheet_safe

__all__ = ["WorkbookBuilder", "write_workbook"]

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def write_workbook(path: str | Path, tables: Sequence[PublishedTable], *, title: str,
                   stamp: _dt.datetime) -> Path:
    """Write the release workbook; ``stamp`` (e.g. the data extract date) is its document date."""
    book = WorkbookBuilder(title=title)
    book.add(tables)
    return book.save(path, stamp=stamp)


class WorkbookBuilder:
    """The release workbook built a page at a time (while later pages are still being rendered), then saved.

    :func:`write_workbook` in parts: the same file, byte for byte, whatever the parts.
    """

    def __init__(self, *, title: str):
        from openpyxl import Workbook
        from openpyxl.styles import Font

        self._bold = Font(bold=True)
        self.wb = wb = Workbook()
        self.contents = contents = wb.active
        contents.title = "Contents"
        contents.append([spreadsheet_safe(title)])
        contents["A1"].font = Font(bold=True, size=13)
        contents.append(["Every table published in this release, as published: counts below the small-number "
                         "threshold show as <threshold, cells that would reveal them as [c]."])
        contents.append([])
        contents.append(["sheet", "report", "title", "notes", "csv file", "rows"])
        for c in contents[4]:
            c.font = self._bold
        self.n = 0

    def add(self, tables: Sequence[PublishedTable]) -> None:
        """One sheet per table, each listed on the contents sheet."""
        contents = self.contents
        for t in tables:
            self.n += 1
            sheet = f"T{self.n:03d}"
            contents.append([sheet, spreadsheet_safe(t.report), spreadsheet_safe(t.caption),
                             spreadsheet_safe(t.notes), t.csv_name, len(t.frame)])
            contents.cell(row=contents.max_row, column=1).hyperlink = f"#'{sheet}'!A1"
            ws = self.wb.create_sheet(sheet)
            ws.append([spreadsheet_safe(f"{t.report}: {t.caption}")])
            ws["A1"].font = self._bold
            for header in csv_header_rows(t.frame.columns):  # plain words, then the code names (as in the CSV)
                ws.append([spreadsheet_safe(h) for h in header])
                for c in ws[ws.max_row]:
                    c.font = self._bold
            for rec in t.frame.itertuples(index=False):
                ws.append([number_or_text(v) for v in rec])

    def save(self, path: str | Path, *, stamp: _dt.datetime) -> Path:
        """Write the workbook; ``stamp`` is its document date."""
        for col, width in zip("ABCDEF", (8, 34, 70, 30, 40, 6)):
            self.contents.column_dimensions[col].width = width
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

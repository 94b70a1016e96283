"""Read a programme data folder, validate it against the contract, return ProgrammeData.

The data flow is one-way: files -> :func:`load_programme` (this module, with
the rules of :mod:`dapp_eval.data.schema`) -> a validated :class:`ProgrammeData`
-> analyses.  Every violation in every file is collected before failing, and
reported with file, row (1-based as a spreadsheet shows it, header = row 1),
column, value and rule in one :class:`~dapp_eval.errors.DataValidationError`.

Accepted file formats per table: ``.csv`` (UTF-8, with or without BOM, LF or
CRLF; UTF-16 with a BOM is read and logged), ``.xlsx``, ``.sav`` (SPSS),
``.dta`` (Stata) and ``.parquet``.  The structure of a CSV file is checked
before its values: every row must have the header's number of fields (a
missing or extra delimiter is reported, never padded or shifted), a header
name may appear only once, and NUL characters, unclosed quotes and cells
holding line breaks are reported with their row.  A damaged file of any
format ends in a DataValidationError, never in another exception.  A
provider's own export is mapped onto the contract with a column-map YAML file
(see :func:`read_column_map`).

At national scale (10^6 referrals, 10^8 cells) the work is column-wise: a
plain CSV file is parsed by pyarrow and each column dictionary-encoded
(:class:`_Factor`); every rule is checked once per distinct cell and its
verdict spread to the rows, so problems are still listed row by row; keys and
cross-table links are compared as integer codes.  Other files, and tables
given to :func:`validate_tables` directly, are checked cell by cell, with the
same rules and messages (``tests/test_io_scale.py`` holds the two paths equal).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.data.identifiers import (
    HIDDEN,
    header_problems,
    identifier_problems,
    looks_identifying,
    name_looks_identifying,
    shown_name,
)
from dapp_eval.data.schema import TABLES, Column, Table
from dapp_eval.errors import PROBLEM_COLUMNS, AnalysisError, DataValidationError
from dapp_eval.optional import require
from dapp_eval.results import DerivedTables

__all__ = ["ProgrammeData", "load_programme", "read_column_map", "read_export", "validate_tables", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".sav", ".dta", ".parquet")
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n"})
_PARTIAL_DATE = re.compile(r"^\s*(\d{4}[-/]\d{1,2}|\d{1,2}[-/]\d{4}|[A-Za-z]{3,9}[ -]\d{4}|\d{4})\s*$")
_MAX_PROBLEMS_PER_RULE = 200  # per file/column/rule, so one broken column cannot flood the report
_THREADS = max(1, min(4, os.cpu_count() or 1))  # for pyarrow kernels run side by side
#: below this many cells the kernels run one after another: starting and feeding a thread pool costs more
#: than the kernels themselves on a small folder (the loader's fixed cost, paid ~300 times by the tests)
_SIDE_BY_SIDE_MIN = 1 << 16


def _side_by_side(fn, items: list, n_cells: int) -> list:
    """``[fn(x) for x in items]``, in ``_THREADS`` threads when there are ``_SIDE_BY_SIDE_MIN`` cells or more."""
    if n_cells < _SIDE_BY_SIDE_MIN or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        return list(pool.map(fn, items))


# ---------------------------------------------------------------------------
# column maps
# ---------------------------------------------------------------------------


# The map's format, its schema check and how it recodes cells live in :mod:`dapp_eval.data.mapping`; the names
# stay importable from here.
from dapp_eval.data.mapping import ColumnMap, TableMap, derive_columns, read_column_map, recode  # noqa: E402

# ---------------------------------------------------------------------------
# reading raw files
# ---------------------------------------------------------------------------


def _inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` resolves (symbolic links followed, ``..`` removed) to a place inside ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _find_sources(folder: Path, table: Table, tmap: TableMap, *,
                  allow_outside: bool = False) -> list[tuple[Path, str | int | None]]:
    """The (file, sheet) pairs holding a table: those the column map names, else ``<table>.<ext>``."""
    named = tmap.sources()
    if len(named) <= 1:
        p = _find_file(folder, table, TableMap(file=named[0][0]) if named else tmap, allow_outside=allow_outside)
        return [] if p is None else [(p, named[0][1] if named else tmap.sheet)]
    out, problems = [], []
    for f, sheet in named:
        try:
            out.append((_find_file(folder, table, TableMap(file=f), allow_outside=allow_outside), sheet))
        except DataValidationError as exc:
            problems.append(exc.problems)
    if problems:
        raise DataValidationError(pd.concat(problems, ignore_index=True))
    return out


def _find_file(folder: Path, table: Table, tmap: TableMap, *, allow_outside: bool = False) -> Path | None:
    if tmap.file:
        p = folder / tmap.file
        if not allow_outside and not _inside(folder, p):
            raise DataValidationError(pd.DataFrame([{
                "file": "column map", "row": None, "column": f"tables.{table.name}.file", "value": "",
                "rule": f"the file named for table {table.name} lies outside the data folder {folder} (after "
                        "following '..' and symbolic links): copy it into the folder, or pass --allow-outside "
                        "(allow_outside=True) if that is intended"}]))
        if not p.exists():
            raise DataValidationError(pd.DataFrame([{
                "file": tmap.file, "row": None, "column": "", "value": "",
                "rule": f"the column map names file '{tmap.file}' for table {table.name}, but it is not in {folder}"}]))
        return p
    found = [folder / f"{table.name}{suf}" for suf in SUPPORTED_SUFFIXES if (folder / f"{table.name}{suf}").exists()]
    if len(found) > 1:
        raise DataValidationError(pd.DataFrame([{
            "file": ", ".join(p.name for p in found), "row": None, "column": "", "value": "",
            "rule": f"several files hold table {table.name}; keep one"}]))
    if found and not allow_outside and not _inside(folder, found[0]):
        raise DataValidationError(pd.DataFrame([{
            "file": found[0].name, "row": None, "column": "", "value": "",
            "rule": "this file is a symbolic link to a place outside the data folder: copy the file into the "
                    "folder, or pass --allow-outside (allow_outside=True) if that is intended"}]))
    return found[0] if found else None


_STRIPPED = "_dapp_eval_cells_stripped"  # DataFrame.attrs flag set by _read_csv
#: DataFrame.attrs entry: the provider's column positions (1-based) of a table read with columns dropped
POSITIONS = "_dapp_eval_column_positions"
_SPACE = re.compile(r"[^\S\r\n]")
_PADDED = re.compile(r"(?:^|,)[^\S\r\n]|[^\S\r\n](?:,|\r?$)", re.M)
_CSV_OPTS = dict(dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
                 index_col=False)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _file_problem(fname: str, row, rule: str, value: str = "", column: str = "") -> dict:
    return {"file": fname, "row": row, "column": column, "value": value, "rule": rule}


def _decode_csv(raw_bytes: bytes, fname: str, problems: list, notes: list) -> str | None:
    """Bytes -> text (UTF-8 with or without BOM, or UTF-16 with a BOM), or None after recording why not."""
    if raw_bytes.startswith(_UTF16_BOMS):
        try:
            text = raw_bytes.decode("utf-16")
        except UnicodeDecodeError:
            problems.append(_file_problem(fname, None, "file starts like UTF-16 text but cannot be decoded (it may be "
                                                       "cut short): save it as 'CSV UTF-8'"))
            return None
        notes.append("file read as UTF-16 (byte-order mark found); 'CSV UTF-8' is preferred")
        return text
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw_bytes[: exc.start].count(b"\n") + 1
        if exc.reason == "unexpected end of data":
            rule = "file ends in the middle of a character: it looks cut short (truncated); export it again"
        else:
            rule = "file is not UTF-8 text: save it as 'CSV UTF-8' (in Excel: Save As > CSV UTF-8)"
        problems.append(_file_problem(fname, line, rule, repr(raw_bytes[exc.start:exc.start + 4])))
        return None
    if "\x00" in text:
        if raw_bytes.count(0) * 4 > len(raw_bytes):
            problems.append(_file_problem(fname, None, "file looks like UTF-16 text without a byte-order mark: "
                                                       "save it as 'CSV UTF-8'"))
            return None
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for i, line in enumerate(lines):
            if "\x00" in line:
                problems.append(_file_problem(fname, i + 1, "line contains a NUL character (binary data in a text "
                                                            "file): the file may be damaged; export it again"))
                if len(problems) > _MAX_PROBLEMS_PER_RULE:
                    break
        text = text.replace("\x00", "")
    return text


def _read_csv(path: Path, problems: list, notes: list, factors: list | None = None,
              data: bytes | None = None) -> pd.DataFrame | None:
    """Read a CSV file with every cell as a string; record (never raise) what is wrong with its structure.

    Every record must have as many fields as the header (a row with fewer is not padded silently);
    a cell holding a line break (a stray quote merged lines) and NUL characters are reported.
    ``data``: the file's bytes, when the caller has read them already.
    """
    fname = path.name
    raw_bytes = path.read_bytes() if data is None else data
    df = _read_ascii(raw_bytes, factors)
    if df is not None:
        return df
    text = _decode_csv(raw_bytes, fname, problems, notes)
    first_line = None if text is None else _first_line(text, fname, problems, notes)
    if first_line is None:
        return None
    quoted = '"' in text
    if not quoted:
        df = _read_plain(text, raw_bytes, first_line, factors)
        if df is not None:
            return df
    df = _read_records(text, fname, problems)
    if df is not None and quoted:
        _line_breaks_in_cells(df, fname, problems)
    return df


def _first_line(text: str, fname: str, problems: list, notes: list) -> str | None:
    """The header line, or None (with the problem recorded) when the file is empty, starts blank or is not
    comma-separated."""
    if not text or text.isspace():
        problems.append(_file_problem(fname, 1, "file is empty: it needs at least a header row"))
        return None
    if not text.endswith(("\n", "\r")):
        notes.append("the last line does not end with a line break: if the file was cut short, "
                     "its last row may be incomplete")
    nl = text.find("\n")  # the first line ends at or before the first LF (splitting the whole text copies it)
    first_line = re.split(r"\r\n|\r|\n", text if nl < 0 else text[:nl + 1], maxsplit=1)[0]
    if not first_line.strip():
        problems.append(_file_problem(fname, 1, "the first line is blank: the header row must be the first line"))
        return None
    if "," not in first_line:
        for sep, word in ((";", "semicolon"), ("\t", "tab")):
            if first_line.count(sep) >= 1:
                problems.append(_file_problem(fname, 1, f"the header splits on {word}s, not commas ({word}-delimited "
                                                        "file): save it as comma-separated 'CSV UTF-8'"))
                return None
    return first_line


def _read_plain(text: str, raw_bytes: bytes, first_line: str, factors: list | None) -> pd.DataFrame | None:
    """A file without quotes whose every row is as wide as the header, read fast; None when it is not one."""
    import io as _io

    header = first_line.split(",")
    made: list[_Factor] = []
    # plain UTF-8 (no byte-order mark, no NUL removed): the bytes are the text, no need to encode it again
    same = not raw_bytes.startswith((b"\xef\xbb\xbf", *_UTF16_BOMS)) and b"\x00" not in raw_bytes
    df = _read_unquoted(text, len(header), made, raw_bytes if same else None)
    if df is None:
        with warnings.catch_warnings():
            # a first data row longer than the header must not silently become an index or lose cells
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                df = pd.read_csv(_io.StringIO(text), **_CSV_OPTS)
            except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError):
                return None
    # no quotes, and no row longer than the header (the parser would have refused it): equal comma
    # counts then mean that every row has exactly the header's width
    if text.count(",") != (df.shape[1] - 1) * (len(df) + 1):
        return None
    if len(header) == df.shape[1]:
        df.columns = _header_names(header)
    # no cell starts or ends with white space: the validator can skip stripping every cell
    df.attrs[_STRIPPED] = not _has_padded_cell(text)
    if factors is not None and len(made) == df.shape[1]:
        factors.extend(made)
    return df


def _parser_problem(fname: str, exc: Exception) -> dict:
    msg = str(exc)
    m = re.search(r"row (\d+)", msg)
    row = int(m.group(1)) + 1 if m else None
    if "EOF inside string" in msg:
        rule = ("a quote (\") opened in this row is never closed, so the rest of the file would be one cell; "
                "check the quoting")
    else:
        rule = f"CSV cannot be parsed ({msg.strip()}); check quoting and the number of fields per row"
    return _file_problem(fname, row, rule)


def _read_records(text: str, fname: str, problems: list) -> pd.DataFrame | None:
    """The slow path: count the fields of every record with the csv module, then parse to the widest record;
    rows of another width than the header's are reported."""
    import csv
    import io as _io

    try:
        widths = [len(rec) for rec in csv.reader(_io.StringIO(text, newline=""))]
        header = next(csv.reader(_io.StringIO(text, newline="")))
    except (csv.Error, StopIteration) as exc:
        problems.append(_file_problem(fname, None, f"CSV cannot be parsed ({exc}); check quoting and line endings"))
        return None
    width = len(header)
    try:
        df = pd.read_csv(_io.StringIO(text), header=None, names=list(range(max(widths))), **_CSV_OPTS)
    except pd.errors.ParserError as exc:
        problems.append(_parser_problem(fname, exc))
        return None
    if len(df) != len(widths):
        problems.append(_file_problem(fname, None, "the rows of this CSV cannot be counted reliably (stray quotes or "
                                                   "line breaks); check the quoting and line endings"))
        return None
    df = df.iloc[1:, :width].reset_index(drop=True)
    df.columns = _header_names(header)
    _odd_widths(df, np.asarray(widths[1:]), width, fname, problems)
    return df


def _odd_widths(df: pd.DataFrame, widths: np.ndarray, width: int, fname: str, problems: list) -> None:
    """Rows (not blank) with another number of fields than the header."""
    odd = np.flatnonzero(widths != width)
    if not len(odd):
        return
    cells = df.iloc[odd]
    blank = cells.apply(lambda c: c.str.strip().eq(""), axis=0).all(axis=1).to_numpy()
    odd = odd[~blank]
    rule = (f"row has {{}} but the header has {width}: a delimiter is missing or extra, "
            "or a value holding a comma is not in quotes")
    shown = odd[: _MAX_PROBLEMS_PER_RULE + 1]
    _capped(problems, [_file_problem(fname, int(i) + 2, rule.format(f"{w} field{'s' if w != 1 else ''}"))
                       for i, w in zip(shown, widths[shown])],
            len(odd), fname, "", "row has the wrong number of fields")


def _line_breaks_in_cells(df: pd.DataFrame, fname: str, problems: list) -> None:
    rule = "cell contains a line break: a stray or unbalanced quote (\") may have merged lines; check the quoting"
    for j, col in enumerate(df.columns):
        hit = np.flatnonzero(df.iloc[:, j].str.contains("[\r\n]", regex=True).to_numpy())
        _capped(problems, [_file_problem(fname, int(i) + 2, rule, column=str(col))
                           for i in hit[: _MAX_PROBLEMS_PER_RULE + 1]], len(hit), fname, str(col), rule)


_ASCII_SPACE = (" ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")  # str.isspace() in ASCII, but \r \n


def _read_ascii(raw: bytes, factors: list | None) -> pd.DataFrame | None:
    """The common case, read from the bytes without decoding them: ASCII text without NUL characters or
    quotes, ending with a line break, a header with commas, every row as wide as the header.

    Returns None whenever anything else holds; the caller then takes the general path, which reads
    the same cells or reports what is wrong.
    """
    if not raw.endswith(b"\n") or b'"' in raw or b"\x00" in raw or not raw.isascii():
        return None
    nl = raw.find(b"\n")
    first_line = re.split(rb"\r\n|\r|\n", raw[:nl + 1], maxsplit=1)[0].decode("ascii")
    if not first_line.strip() or "," not in first_line:
        return None
    header = first_line.split(",")
    made: list[_Factor] | None = [] if factors is not None else None
    df = _read_unquoted(None, len(header), made, raw)
    # as in _read_csv: no quotes and equal comma counts mean every row has exactly the header's width
    if df is None or len(header) != df.shape[1] or raw.count(b",") != (df.shape[1] - 1) * (len(df) + 1):
        return None
    df.columns = _header_names(header)
    df.attrs[_STRIPPED] = not _has_padded_cell(raw)
    if made is not None:
        factors.extend(made)
    return df


def _has_padded_cell(text: str | bytes) -> bool:
    """Whether some cell of an unquoted CSV text starts or ends with white space (what ``_PADDED`` finds).

    ASCII text (or ASCII bytes) is searched for the few padded cell boundaries by plain substring search
    (many times faster than the regular expression on a large file); other text uses the expression.
    """
    if isinstance(text, bytes):  # the caller has checked that the bytes are ASCII
        spaces, comma, lf, cr = [w.encode("ascii") for w in _ASCII_SPACE], b",", b"\n", b"\r"
    elif not text.isascii():
        return bool(_SPACE.search(text) and _PADDED.search(text))
    else:
        spaces, comma, lf, cr = _ASCII_SPACE, ",", "\n", "\r"
    for w in spaces:
        if w not in text:
            continue
        if (text.startswith(w) or text.endswith((w, w + cr)) or any(
                b in text for b in (comma + w, lf + w, w + comma, w + lf, w + cr + lf))):
            return True
    return False


@dataclass
class _Factor:
    """A text column as its distinct cells and, for every row, the position of its cell among them.

    Made by the CSV reader (pyarrow's hash table, in C++) so that validation checks each distinct
    cell once and never hashes a million Python strings: ``uniq[codes]`` are the cells as read.
    """

    codes: np.ndarray  # int32, one per row
    uniq: np.ndarray  # object array of str, the distinct cells
    arrow: Any  # the same distinct cells as a pyarrow string array (for regular-expression scans)
    _cells: tuple | None = None

    def take(self, n: int) -> _Factor:
        """The first ``n`` rows (trailing blank rows cut off)."""
        return _Factor(self.codes[:n], self.uniq, self.arrow, self._cells)

    def cells(self, stripped: bool) -> tuple[pd.Series, np.ndarray]:
        """:func:`_cells` of the distinct cells (computed once)."""
        if self._cells is None:
            u = pd.Series(self.uniq, dtype=object)
            if stripped and self.arrow is not None:  # '' found by pyarrow
                import pyarrow.compute as pc

                self._cells = (u, pc.equal(self.arrow, "").to_numpy(zero_copy_only=False))
            else:
                self._cells = _cells(u, stripped)
        return self._cells


def _encode(arr) -> tuple[np.ndarray, Any]:
    """(int32 code per cell, distinct cells as a pyarrow array), the distinct cells in order of first appearance.

    A column already in order (identifiers usually are: I0000001, I0000002, ...) is encoded by comparing
    each cell with the one before it, in linear time; others by pyarrow's hash table.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(arr)
    head = arr.slice(0, 1000)  # a column of codes or dates is seldom in order: look at its start first
    if n > 1 and arr.null_count == 0 and pc.all(pc.less_equal(head.slice(0, len(head) - 1), head.slice(1))).as_py():
        before, after = arr.slice(0, n - 1), arr.slice(1)
        if pc.all(pc.less_equal(before, after)).as_py():
            new = np.empty(n, dtype=bool)
            new[0] = True
            new[1:] = pc.not_equal(before, after).to_numpy(zero_copy_only=False)
            if new.all():
                return np.arange(n, dtype=np.int32), arr
            return (np.cumsum(new, dtype=np.int32) - 1).astype(np.int32, copy=False), arr.filter(pa.array(new))
    enc = pc.dictionary_encode(arr)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), enc.dictionary


def _read_unquoted(text: str, width: int, factors: list | None = None,
                   data: bytes | None = None) -> pd.DataFrame | None:
    """A CSV text holding no quote character, parsed column-wise by pyarrow: every cell a ``str`` ('' when
    empty), header row skipped (the caller names the columns). None when pyarrow refuses it (a row of
    another width, a blank line, no data rows), so the caller falls back to pandas' parser, which
    gives the same cells or finds the problem.  Each column's :class:`_Factor` is appended to
    ``factors`` when given.  ``data``: the same text as UTF-8 bytes, if at hand.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{j}" for j in range(width)]
    try:
        tab = pacsv.read_csv(
            pa.py_buffer(text.encode("utf-8") if data is None else data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if tab.num_rows == 0:
        return None

    cols, made = {}, []
    # each column made one array and encoded by pyarrow, whose kernels release the GIL: columns side by side
    n_cells = tab.num_rows * width
    arrays = _side_by_side(lambda col: col.combine_chunks(), tab.columns, n_cells)
    del tab
    encoded = _side_by_side(_encode, arrays, n_cells)
    for j, (arr, (codes, dictionary)) in enumerate(zip(arrays, encoded)):
        # repeated cells (codes, dates) share one str object
        fac = _Factor(codes, dictionary.to_numpy(zero_copy_only=False), dictionary)
        made.append(fac)
        if factors is None:
            cols[j] = fac.uniq[fac.codes]
        else:  # validation reads the factor; the cells stay in pyarrow's buffers (see _as_object)
            cols[j] = pd.arrays.ArrowExtensionArray(arr)
    if factors is not None:
        factors.extend(made)
    return pd.DataFrame(cols, copy=False)


def _as_object(s: pd.Series) -> pd.Series:
    """A column of cells as Python objects (the CSV reader keeps text in pyarrow arrays)."""
    return s if s.dtype == object else s.astype(object)


def _header_names(header: list[str]) -> list[str]:
    """The header as written (a repeated name stays repeated, so it can be reported); empty names become 'Unnamed: k'."""
    return [h if h.strip() else f"Unnamed: {k}" for k, h in enumerate(header)]


def _capped(problems: list, rows: list[dict], n: int, fname: str, column: str, rule: str) -> None:
    """Append at most _MAX_PROBLEMS_PER_RULE rows, then one line saying how many more there are."""
    problems.extend(rows[:_MAX_PROBLEMS_PER_RULE])
    if n > _MAX_PROBLEMS_PER_RULE:
        problems.append(_file_problem(fname, None, f"{rule} (further {n - _MAX_PROBLEMS_PER_RULE} rows with this "
                                                   "problem not listed)", column=column))


def _missing_sheet(path: Path, sheet: str, names: list[str]) -> dict:
    """The map names a sheet the workbook lacks: its sheets are listed (those whose names look like an
    identifier by position only)."""
    near = [n for n in names if n.strip().lower() == sheet.strip().lower()]
    listed = ", ".join(n if name_looks_identifying(n) is None else shown_name(n, what="sheet", position=k + 1)
                       for k, n in enumerate(names))
    return _file_problem(path.name, None, f"the column map names sheet '{sheet}', which is not in this workbook "
                                          f"(its sheets: {listed})" + (f"; did you mean '{near[0]}'?" if near else ""))


def _read_sheet(path: Path, tmap: TableMap, problems: list) -> pd.DataFrame | None:
    """The workbook sheet the map names (the first when it names none)."""
    sheet = tmap.sheet if tmap.sheet is not None else 0
    if isinstance(sheet, str):
        from openpyxl import load_workbook

        names = load_workbook(path, read_only=True).sheetnames
        if sheet not in names:
            problems.append(_missing_sheet(path, sheet, names))
            return None
    return pd.read_excel(path, sheet_name=sheet, dtype=object)


def _read_other(path: Path, suffix: str) -> pd.DataFrame:
    """An SPSS, Stata or Parquet file's cells (value labels applied; no other metadata)."""
    if suffix == ".sav":
        import pyreadstat

        return pyreadstat.read_sav(str(path), apply_value_formats=True)[0]
    if suffix == ".dta":
        return pd.read_stata(path, convert_categoricals=True)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    raise ValueError(suffix)  # pragma: no cover - guarded by _find_file


def _read_raw(path: Path, tmap: TableMap, problems: list | None = None, notes: list | None = None,
              factors: list | None = None, data: bytes | None = None) -> pd.DataFrame | None:
    """Read a file with every cell as it stands (strings for text formats).

    Problems with the file's structure are appended to ``problems`` (file, row, column, value, rule);
    None is returned when the file cannot be read at all.  For a CSV file read column-wise, one
    :class:`_Factor` per column (in file order) is appended to ``factors``.  ``data``: the file's bytes,
    if the caller has read them already.
    """
    problems = [] if problems is None else problems
    notes = [] if notes is None else notes
    suffix = path.suffix.lower()
    if suffix == ".sav":  # before the reader's try: a missing extra is not a damaged file
        require("pyreadstat", extra="spss", purpose=f"reading the SPSS file {path.name}")
    try:
        if suffix == ".csv":
            return _read_csv(path, problems, notes, factors, data)
        df = _read_sheet(path, tmap, problems) if suffix == ".xlsx" else _read_other(path, suffix)
        if df is None:
            return None
    except OSError as exc:
        problems.append(_file_problem(path.name, None, f"file cannot be read ({exc.strerror or exc})"))
        return None
    except Exception as exc:  # each reader library raises its own types for a damaged file
        problems.append(_file_problem(path.name, None, f"file cannot be read as {suffix} ({type(exc).__name__}: "
                                                       f"{str(exc)[:200]}); is it damaged or of another format?"))
        return None
    df = df.astype(object).where(df.notna(), "")
    df.columns = [str(c) for c in df.columns]
    return df


def _cells(raw: pd.Series, stripped: bool = False) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text ('' when empty) and a mask of blank cells.

    CSV columns hold only strings and take a vectorised path (``stripped``: the
    reader saw no cell with leading or trailing white space); columns read from
    Excel, SPSS, Stata or Parquet may hold numbers, dates and booleans and are
    converted cell by cell (whole-number floats lose their '.0', dates become ISO).
    """
    if stripped:
        return raw, (raw == "").to_numpy()
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        text = raw.str.strip() if len(raw) else raw.astype(object)
        if text.hasnans:
            text = text.fillna("")
    else:
        text = _as_text(raw).str.strip()
    return text, (text == "").to_numpy()


# ---------------------------------------------------------------------------
# parsing one column
# ---------------------------------------------------------------------------


#: what a message shows instead of a cell that does not have the shape the column expects (a name typed
#: into a code column, a note in a date column): only values shaped like the column's own are repeated
NOT_SHOWN = "(value not shown: unlike this column's values)"
_KINDS: dict[str, Column] = {}
for _t in TABLES.values():
    for _c in _t.columns:
        _KINDS.setdefault(_c.name, _c)
_SHAPES = {
    "date": re.compile(r"^\d{1,4}([-/. ]\d{1,2}([-/. ]\d{1,4})?)?( 00:00:00)?$"),
    "int": re.compile(r"^[-+]?[\d.,]{1,15}(e[-+]?\d{1,4})?$|^(n/?a|none|null|nan|inf|-|\?)$", re.I),
    "bool": re.compile(r"^[A-Za-z0-9?/-]{1,8}$"),
    "str": re.compile(r"^(?=.*\d)[A-Za-z0-9_/.:-]{1,24}$"),
    "code": re.compile(r"^[A-Za-z0-9 _:/&+.-]{1,4}$|^[A-Za-z][A-Za-z0-9_:/&+.-]{0,19}$"),
}
_SHAPES["float"] = _SHAPES["int"]


def _shaped(column: str, value: str) -> bool:
    """Whether a cell has the shape of the column's values, so that a message may repeat it.

    Dates and numbers: digits and separators; identifiers: letters and digits with at least one digit;
    yes/no: a short word; codes: one short word (``woman``, ``DNA``, ``1:1``) or a near miss of the column's
    codes (``Dropped out``).  Anything else (a name typed into a code column, a note in a date column) is not shown.
    """
    col = _KINDS.get(column.split(" [")[-1].rstrip("]") if column.endswith("]") else column)
    if col is None:
        return False
    v = value.strip()
    if col.kind in ("enum", "set"):
        if _SHAPES["code"].match(v):
            return True
        import difflib

        parts = [p.strip() for p in re.split(r"[;,]", v) if p.strip()] or [v]
        return len(parts) <= 8 and all(_SHAPES["code"].match(p) or difflib.get_close_matches(
            p.lower().replace(" ", "_"), col.values, n=1, cutoff=0.6) for p in parts)
    shape = _SHAPES.get(col.kind)
    return bool(shape and shape.match(v))


class _Problems:
    def __init__(self):
        self.rows: list[dict] = []
        self.counts: dict[tuple, int] = {}

    def add(self, file, row, column, value, rule, *, masked: bool = False):
        if not masked and value not in (None, "") and looks_identifying(pd.Series([str(value)]))[0]:
            value = HIDDEN  # a message never repeats what looks like a phone number, e-mail, NHS number, ...
        if value not in (None, "", HIDDEN) and not _shaped(str(column), str(value)):
            value = NOT_SHOWN
        key = (file, column, rule)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] <= _MAX_PROBLEMS_PER_RULE:
            self.rows.append({"file": file, "row": row, "column": column, "value": value, "rule": rule})
        elif self.counts[key] == _MAX_PROBLEMS_PER_RULE + 1:
            self.rows.append({"file": file, "row": None, "column": column, "value": "",
                              "rule": f"{rule} (further rows with this problem not listed)"})

    def add_mask(self, file, rows: pd.Series, column, values: pd.Series, mask, rule):
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(idx):
            return
        # only the rows that will be listed are converted; the rest are counted
        room = max(_MAX_PROBLEMS_PER_RULE - self.counts.get((file, column, rule), 0), 0) + 1
        take = idx[:room]
        picked = values.iloc[take] if isinstance(values, pd.Series) else np.asarray(values, dtype=object)[take]
        shown = ["" if v is None else str(v) for v in np.asarray(picked, dtype=object).tolist()]
        hidden = looks_identifying(pd.Series(shown, dtype=object)) if shown else []
        for r, v, h in zip(np.asarray(rows)[take].tolist(), shown, hidden):
            self.add(file, r, column, HIDDEN if h else v, rule, masked=True)
        if len(idx) > len(take):
            self.counts[(file, column, rule)] += len(idx) - len(take)

    def frame(self) -> pd.DataFrame:
        rows = []
        for r in self.rows:  # the line standing for the rows not listed says how many they are
            if r["row"] is None and r["rule"].endswith("(further rows with this problem not listed)"):
                rule = r["rule"][: -len(" (further rows with this problem not listed)")]
                n = self.counts.get((r["file"], r["column"], rule), 0) - _MAX_PROBLEMS_PER_RULE
                r = {**r, "rule": f"{rule} (further {n} row{'s' if n != 1 else ''} with this problem not listed)"}
            rows.append(r)
        return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def _as_text(s: pd.Series) -> pd.Series:
    def conv(v):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (pd.Timestamp,)):
            return v.strftime("%Y-%m-%d")
        return str(v)

    return s.map(conv)


def _native_dates(raw: pd.Series, is_ts: np.ndarray) -> pd.Series:
    """Date-like cells of Excel/SPSS/Stata/Parquet files as naive timestamps (NaT if out of range)."""
    def conv(v):
        try:
            t = pd.Timestamp(v)
            return t.tz_localize(None) if t.tzinfo is not None else t
        except (ValueError, TypeError, OverflowError):
            return pd.NaT

    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if is_ts.any():
        out[is_ts] = pd.to_datetime(raw[is_ts].map(conv), errors="coerce")
    return out


def _where(s: pd.Series, keep: np.ndarray) -> pd.Series:
    """``s.where(keep, None)``: ``None`` (text) or NaN (a float column) where ``keep`` is False; same dtype and index.

    Done in numpy for these two dtypes: pandas' ``where`` has a fixed cost of ~0.15 ms, paid several times for
    each of the ~70 columns of every folder loaded (the property tests load ~350 small folders).
    """
    keep = np.asarray(keep, dtype=bool)
    if s.dtype == object:
        out = s.to_numpy(dtype=object, copy=True)
        out[~keep] = None
    elif s.dtype == np.float64:
        out = np.where(keep, s.to_numpy(), np.nan)
    else:
        return s.where(keep, None)
    return pd.Series(out, index=s.index, dtype=s.dtype, name=s.name, copy=False)


def _per_distinct(text: pd.Series, fn) -> pd.Series:
    """``fn(text)`` computed once per distinct cell and spread back to every row (same values, same index).

    A code, a yes/no word or a score repeats thousands of times in a large file; lower-casing or
    parsing each distinct text once keeps these steps proportional to the distinct values.
    """
    codes, uniq = pd.factorize(text.to_numpy(dtype=object), sort=False)
    if len(text) == 0 or (codes < 0).any():
        return fn(text)
    res = fn(pd.Series(uniq, dtype=object))
    return pd.Series(res.to_numpy()[codes], index=text.index, dtype=res.dtype)


_INT_LIMIT = 2.0 ** 53  # beyond this a float no longer holds every whole number exactly


@dataclass
class _Cells:
    """One column's cells being parsed: the raw cells, their stripped text and blank mask, and where problems go."""

    col: Column
    raw: pd.Series
    text: pd.Series
    blank: np.ndarray
    rows: pd.Series
    fname: str
    probs: Any  # _Problems or _Recorder

    def bad(self, mask, rule: str) -> None:
        self.probs.add_mask(self.fname, self.rows, self.col.name, self.raw, mask, rule)


def _parse_str(c: _Cells, date_format: str | None) -> pd.Series:
    return _where(c.text, ~c.blank).astype(object)


def _parse_enum(c: _Cells, date_format: str | None) -> pd.Series:
    canon = {v.lower(): v for v in c.col.values}
    low = _per_distinct(c.text, lambda u: u.str.lower().map(canon))
    c.bad(~c.blank & low.isna().to_numpy(), f"value not allowed; use one of: {', '.join(c.col.values)}")
    return _where(low, ~c.blank).astype(object)


def _parse_set(c: _Cells, date_format: str | None) -> pd.Series:
    parts = _per_distinct(c.text, lambda u: u.str.lower().str.replace(r"\s*;\s*", ";", regex=True))
    allowed = set(c.col.values)
    good = [u for u in parts.unique() if all(p in allowed for p in u.split(";") if p != "")]
    ok = parts.isin(good).to_numpy()
    c.bad(~c.blank & ~ok, f"';'-separated values must come from: {', '.join(c.col.values)}")
    return _where(parts, ~c.blank).astype(object)


def _parse_bool(c: _Cells, date_format: str | None) -> pd.Series:
    low = _per_distinct(c.text, lambda u: u.str.lower())
    true = low.isin(TRUE_WORDS).to_numpy()
    false = low.isin(FALSE_WORDS).to_numpy()
    c.bad(~c.blank & ~true & ~false, "not a yes/no value; use true/false (or yes/no, y/n, 1/0)")
    out = pd.array(true, dtype="boolean")
    out[~true & ~false] = pd.NA
    return pd.Series(out, index=c.raw.index)


def _whole_numbers(c: _Cells, num: pd.Series) -> pd.Series:
    """A whole-number column's numbers: too large or fractional ones reported and emptied."""
    huge = (num.abs() > _INT_LIMIT).to_numpy()
    c.bad(huge, "number too large for a whole-number column")
    num = _where(num, ~huge)
    frac = num.notna().to_numpy() & (num.fillna(0) % 1 != 0).to_numpy()
    c.bad(frac, "not a whole number")
    return _where(num, ~frac)


def _parse_number(c: _Cells, date_format: str | None) -> pd.Series:
    kind, col = c.col.kind, c.col
    num = _where(_per_distinct(c.text, lambda u: pd.to_numeric(u, errors="coerce").astype(float)), ~c.blank)
    num = _where(num, np.isfinite(num.to_numpy()))  # 'inf', '1e400': not a number anyone typed on purpose
    c.bad(~c.blank & num.isna().to_numpy(), f"not a number ({'whole number' if kind == 'int' else 'number'} expected)")
    if kind == "int":
        num = _whole_numbers(c, num)
    if col.min is not None:
        c.bad((num < col.min).to_numpy(), f"value below the allowed minimum {col.min:g}")
    if col.max is not None:
        c.bad((num > col.max).to_numpy(), f"value above the allowed maximum {col.max:g}")
    return num.round().astype("Int64") if kind == "int" else num


def _native_mask(raw: pd.Series) -> np.ndarray:
    """Cells that are dates already (read from Excel, SPSS, Stata or Parquet), not text."""
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        return np.zeros(len(raw), dtype=bool)
    return raw.map(lambda v: not isinstance(v, str) and (
        isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year"))).to_numpy(dtype=bool)


def _bad_dates(c: _Cells, bad: np.ndarray, fmt: str) -> None:
    partial = c.text.str.match(_PARTIAL_DATE).to_numpy(dtype=bool)
    c.bad(bad & partial, "partial date (month or year only): enter the full date; dapp_eval never guesses the day")
    fmt_hint = fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
    hint = f"not a valid date in the format {fmt_hint}"
    if fmt == "%Y-%m-%d":
        hint += " (for UK dates DD/MM/YYYY set date_format: \"%d/%m/%Y\" in the column map)"
    c.bad(bad & ~partial, hint)


def _parse_date(c: _Cells, date_format: str | None) -> pd.Series:
    is_ts = _native_mask(c.raw)
    fmt = date_format or "%Y-%m-%d"
    try:
        parsed = pd.to_datetime(_where(c.text, ~c.blank & ~is_ts), format=fmt, errors="coerce")
    except (ValueError, TypeError) as exc:
        c.probs.add(c.fname, None, c.col.name, fmt, f"date_format {fmt!r} in the column map cannot be used ({exc})")
        return pd.Series(pd.NaT, index=c.raw.index, dtype="datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    parsed = parsed.astype("datetime64[ns]")
    if is_ts.any():
        parsed = parsed.where(~is_ts, _native_dates(c.raw, is_ts))
    bad = ~c.blank & parsed.isna().to_numpy()
    if bad.any():
        _bad_dates(c, bad, fmt)
    return parsed


_PARSERS = {"str": _parse_str, "enum": _parse_enum, "set": _parse_set, "bool": _parse_bool, "int": _parse_number,
            "float": _parse_number, "date": _parse_date}


def _parse_column(col: Column, raw: pd.Series, rows: pd.Series, fname: str, date_format: str | None,
                  probs: _Problems, cells: tuple[pd.Series, np.ndarray] | None = None) -> pd.Series:
    """Convert raw cells to the column's type, recording every failure."""
    text, blank = cells if cells is not None else _cells(raw)
    if not col.nullable:
        probs.add_mask(fname, rows, col.name, raw, blank, "required value is missing")
    if col.kind not in _PARSERS:  # pragma: no cover
        raise ValueError(f"unknown column kind {col.kind}")
    return _PARSERS[col.kind](_Cells(col, raw, text, blank, rows, fname, probs), date_format)


class _Recorder:
    """Stands in for :class:`_Problems` while a column's distinct cells are parsed: keeps each rule's mask
    over the distinct cells, to be spread to the rows afterwards; other problems pass straight through."""

    def __init__(self, probs: _Problems):
        self.probs = probs
        self.masks: list[tuple[str, np.ndarray, str]] = []

    def add(self, *args, **kwargs):
        self.probs.add(*args, **kwargs)

    def add_mask(self, file, rows, column, values, mask, rule):
        self.masks.append((column, np.asarray(mask, dtype=bool), rule))


def _parse_factored(col: Column, raw: pd.Series, rows: pd.Series, fname: str, date_format: str | None,
                    probs: _Problems, fac: _Factor, stripped: bool, log: list) -> tuple[pd.Series, _Factor | None]:
    """:func:`_parse_column` and :func:`_log_normalised` on the distinct cells only, spread to the rows.

    Every rule looks at one cell at a time, so a cell's verdict is its distinct value's verdict; the
    problems are then listed row by row, in the same order and with the same caps, as if each row had
    been parsed.  Also returns the typed column's own factor (for text and code columns), so keys and
    cross-table links can be matched on integer codes.
    """
    codes = fac.codes
    cells_u = fac.cells(stripped)
    u = cells_u[0] if stripped else pd.Series(fac.uniq, dtype=object)
    rec = _Recorder(probs)
    parsed_u = _parse_column(col, u, rows, fname, date_format, rec, cells_u)
    for column, mask_u, rule in rec.masks:
        if mask_u.any():
            probs.add_mask(fname, rows, column, raw, mask_u[codes], rule)
    _log_normalised(col, u, cells_u, parsed_u, fname, stripped, log, row_codes=codes)
    if parsed_u.dtype == object or isinstance(parsed_u.dtype, np.dtype):  # numpy: plain take, no type inference
        out = pd.Series(parsed_u.to_numpy()[codes], index=raw.index, dtype=parsed_u.dtype, copy=False)
    else:
        out = pd.Series(parsed_u.array.take(codes), index=raw.index)
    typed = None
    if col.kind in ("str", "enum", "set"):
        if col.kind == "str" and stripped:  # distinct cells are distinct values; '' is missing
            ucodes = np.arange(len(u), dtype=np.int32)
            ucodes[cells_u[1]] = -1
            tuniq, arrow = fac.uniq, fac.arrow
        else:
            ucodes, tuniq = pd.factorize(parsed_u.to_numpy(dtype=object), sort=False)
            arrow = None
        typed = _Factor(ucodes.astype(np.int32, copy=False)[codes], np.asarray(tuniq, dtype=object), arrow)
    return out, typed


# ---------------------------------------------------------------------------
# ProgrammeData
# ---------------------------------------------------------------------------


def _take_array(col: pd.Series, pos: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``col``'s values at positions ``pos`` (-1 = missing, as a left join leaves it), dtype kept."""
    return col.array.take(pos, allow_fill=True)


def _session_summary(s: pd.DataFrame, referral_id: pd.Series) -> dict[str, np.ndarray]:
    """Sessions scheduled, sessions attended and the last attended date of each referral (aligned to
    ``referral_id``, which is unique): integer positions and bincount, not a groupby and merge on strings."""
    n = len(referral_id)
    pos = pd.Index(referral_id).get_indexer(s["referral_id"])
    ok = pos >= 0  # sessions of unknown referrals (the validation reports them) count for no one
    att = s["attended"].fillna(False).astype(bool).to_numpy() & ok
    date = s["session_date"].to_numpy()
    dated = att & ~np.isnat(date)
    last = pd.Series(date[dated]).groupby(pos[dated]).max()
    out = np.full(n, np.datetime64("NaT"), dtype=date.dtype)
    out[last.index.to_numpy()] = last.to_numpy()
    return {"n_sessions_scheduled": np.bincount(pos[ok], minlength=n),
            "n_sessions_attended": np.bincount(pos[att], minlength=n),
            "last_attended_date": out}


def _capacity_in(cap: pd.DataFrame | None, period: tuple | None) -> pd.DataFrame | None:
    """Capacity rows of the quarters that overlap ``period`` (all of them without a period)."""
    if cap is None or period is None:
        return cap
    lo, hi = (pd.Timestamp(p) for p in period)
    q = cap["quarter_start"]
    keep = (q <= hi) & (q + pd.DateOffset(months=3) > lo)
    return cap[keep.to_numpy()].reset_index(drop=True)


@dataclass
class ProgrammeData:
    """A validated programme data folder: one typed DataFrame per contract table.

    Attributes
    ----------
    sites, referrals : pandas.DataFrame
        Always present.
    sessions, risk_assessments, partners, partner_surveys, incidents : pandas.DataFrame or None
        Optional tables; ``None`` when the folder has no such file.
    children, partner_support, capacity, feedback : pandas.DataFrame or None
        Optional tables of contract version 2; ``None`` when the folder has no such file.
    source : str
        Where the data came from.
    load_log : pandas.DataFrame
        What the loader noticed and tolerated (file, note, n): extra columns
        kept, trailing blank rows ignored, values recoded by the column map.
    input_hash : str
        SHA-256 over the input files (names and bytes), for the report's title page.
    files : dict
        Table -> the file (and workbook sheet) it was read from.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> data = load_programme("data_synthetic")
    >>> data.referrals.shape
    (2000, 31)
    """

    sites: pd.DataFrame
    referrals: pd.DataFrame
    sessions: pd.DataFrame | None = None
    risk_assessments: pd.DataFrame | None = None
    partners: pd.DataFrame | None = None
    partner_surveys: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    children: pd.DataFrame | None = None
    partner_support: pd.DataFrame | None = None
    capacity: pd.DataFrame | None = None
    feedback: pd.DataFrame | None = None
    source: str = ""
    load_log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "note", "n"]))
    input_hash: str = ""
    #: table -> where it was read from (file, and sheet for a workbook), as messages name it
    files: dict[str, str] = field(default_factory=dict)
    #: rows of each table in the folder as loaded, before :meth:`subset` took a part of it (see :meth:`folder_rows`)
    loaded_rows: dict[str, int] | None = field(default=None, repr=False)

    def folder_rows(self, name: str) -> int:
        """Rows of table ``name`` in the folder as loaded, whichever sites or period this data is a part of.

        An analysis says a table "holds no rows" only when the folder's does: a site (or a period) whose part of
        a table is empty gets the analysis of nobody, published like a small count, since "the data record no
        children at this site" says something about every person there (issue 26: zeros of people).

        Examples
        --------
        >>> from dapp_eval import load_programme
        >>> data = load_programme("data_synthetic")
        >>> data.folder_rows("children") == len(data.children) == data.subset(sites=["S01"]).folder_rows("children")
        True
        """
        if self.loaded_rows is not None:
            return int(self.loaded_rows.get(name, 0))
        df = getattr(self, name)
        return 0 if df is None else len(df)

    @property
    def is_part(self) -> bool:
        """Whether this data is a site's (or a period's) part of a loaded folder (:meth:`subset`).

        An analysis refuses a whole folder that holds nothing to analyse ("no scores at 'exit'"); of a part it
        gives the analysis of nobody, which a release publishes like one of a few (issue 26).
        """
        return self.loaded_rows is not None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables present, in contract order."""
        return {name: getattr(self, name) for name in TABLES if getattr(self, name) is not None}

    def require(self, name: str) -> pd.DataFrame:
        """Return table ``name`` or raise AnalysisError saying it is absent."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}")
        df = getattr(self, name)
        if df is None:
            raise AnalysisError(
                f"this analysis needs {name}.csv, which is not in the data folder {self.source or ''}".rstrip()
                + f"; see the data contract for its columns ({TABLES[name].description})"
            )
        return df

    def sizes(self) -> pd.DataFrame:
        """Rows and columns of every contract table (0 rows and 'absent' for missing ones)."""
        out = []
        for name, t in TABLES.items():
            df = getattr(self, name)
            out.append({"table": name, "file": self.files.get(name, t.filename), "present": df is not None,
                        "n_rows": 0 if df is None else len(df), "n_columns": 0 if df is None else df.shape[1]})
        return pd.DataFrame(out)

    @cached_property
    def derived(self) -> DerivedTables:
        """Tables the analyses derive from this data (funnel stages, survey frames), each computed once."""
        return DerivedTables()

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """Referrals joined with their site's settings and attendance summary.

        One row per referral in file order, with the referral columns plus
        ``site_name, programme_model, period_start, period_end,
        data_extract_date, incident_data_from, annual_cost_gbp,
        target_completions``, ``planned`` (the referral's planned_sessions
        override, else the site's), ``n_sessions_scheduled``,
        ``n_sessions_attended`` and ``last_attended_date``.
        """
        ref = self.referrals
        site_cols = ["site_id", "site_name", "programme_model", "planned_sessions", "period_start", "period_end",
                     "data_extract_date", "incident_data_from", "annual_cost_gbp", "target_completions"]
        sites = self.sites.reindex(columns=site_cols).rename(columns={"planned_sessions": "_site_planned"})
        if set(ref.columns) & (set(sites.columns) - {"site_id"}) or sites["site_id"].duplicated().any():
            ep = ref.merge(sites, on="site_id", how="left", validate="many_to_one")  # (suffixes / the error)
            site_planned = ep.pop("_site_planned")
        else:
            # the site's row by position (one hash lookup per referral; no merge, no second copy)
            pos = pd.Index(sites["site_id"]).get_indexer(ref["site_id"])
            ep = ref.copy()
            ep.index = pd.RangeIndex(len(ep))
            for c in sites.columns.drop(["site_id", "_site_planned"]):
                ep[c] = _take_array(sites[c], pos)
            site_planned = _take(sites["_site_planned"], pos, ep.index)
        if "planned_sessions" in ep:
            ep["planned"] = ep["planned_sessions"].fillna(site_planned).astype("Int64")
        else:
            ep["planned"] = site_planned.astype("Int64")
        if self.sessions is not None and len(self.sessions):
            for c, v in _session_summary(self.sessions, ep["referral_id"]).items():
                ep[c] = v
        else:
            ep["n_sessions_scheduled"] = np.nan
            ep["n_sessions_attended"] = np.nan
            ep["last_attended_date"] = pd.NaT
        for c in ("n_sessions_scheduled", "n_sessions_attended"):
            ep[c] = ep[c].fillna(0).astype("Int64") if self.sessions is not None else ep[c].astype("Int64")
        ep["last_attended_date"] = pd.to_datetime(ep["last_attended_date"])
        return ep if isinstance(ep.index, pd.RangeIndex) and ep.index.start == 0 else ep.reset_index(drop=True)

    def subset(self, *, sites: list[str] | None = None, period: tuple | None = None) -> ProgrammeData:
        """Restrict to some sites and/or referrals received in a period; child tables follow.

        Parameters
        ----------
        sites : list of str, optional
            site_id values to keep.
        period : (from, to), optional
            Keep referrals whose referral_date lies in [from, to] (inclusive).

        Examples
        --------
        >>> from dapp_eval import load_programme
        >>> data = load_programme("data_synthetic")
        >>> sub = data.subset(sites=["S01"], period=("2023-04-01", "2024-03-31"))
        >>> len(sub.referrals), sub.referrals["site_id"].unique().tolist()
        (193, ['S01'])
        """
        if sites is None and period is None:
            return self
        sites = list(self.sites["site_id"]) if sites is None else list(sites)
        unknown = sorted(set(sites) - set(self.sites["site_id"]))
        if unknown:
            raise AnalysisError(f"unknown site_id(s): {', '.join(unknown)}; known: {', '.join(self.sites['site_id'])}")
        keep_sites = self.sites[self.sites["site_id"].isin(sites)].reset_index(drop=True)
        keep = self.referrals["site_id"].isin(sites)
        label = f"sites: {', '.join(sites)}"
        if period is not None:
            lo, hi = (pd.Timestamp(p) for p in period)
            if hi < lo:
                raise AnalysisError(f"period runs backwards: {lo.date()} to {hi.date()}")
            keep &= self.referrals["referral_date"].between(lo, hi)
            label += f"; referrals {lo.date()} to {hi.date()}"
        ref = self.referrals[keep].reset_index(drop=True)
        rid = set(ref["referral_id"])
        pid = set(ref["participant_id"])

        def filt(df, col, keys):
            return None if df is None else df[df[col].isin(keys)].reset_index(drop=True)

        return ProgrammeData(
            sites=keep_sites, referrals=ref,
            sessions=filt(self.sessions, "referral_id", rid),
            risk_assessments=filt(self.risk_assessments, "referral_id", rid),
            partners=filt(self.partners, "referral_id", rid),
            partner_surveys=filt(self.partner_surveys, "referral_id", rid),
            incidents=filt(self.incidents, "participant_id", pid),
            children=filt(self.children, "referral_id", rid),
            partner_support=filt(self.partner_support, "referral_id", rid),
            capacity=_capacity_in(filt(self.capacity, "site_id", set(sites)), period),
            feedback=filt(self.feedback, "referral_id", rid),
            source=f"{self.source} [{label}]",
            load_log=self.load_log, input_hash=self.input_hash, files=self.files,
            loaded_rows={name: self.folder_rows(name) for name in TABLES},
        )

    def __repr__(self) -> str:
        parts = [f"{n}={len(df)}" for n, df in self.tables().items()]
        return f"<ProgrammeData {self.source!r}: {', '.join(parts)}>"


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def _log_normalised(col: Column, raw: pd.Series, cells: tuple[pd.Series, np.ndarray], parsed: pd.Series,
                    fname: str, stripped: bool, log: list, row_codes: np.ndarray | None = None) -> None:
    """Count in the load log every cell the loader read other than exactly as written.

    White space around a value, codes in another case (``MALE``), yes/no words other than
    ``true``/``false`` (``Y``, ``n``, ``1``): accepted, but never silently.  ``row_codes``: when the
    cells given are a column's distinct cells, the code of each row's cell (rows are counted).
    """
    text, blank = cells

    def count(mask) -> int:
        if row_codes is None or not mask.any():
            return int(mask.sum())
        return int(np.asarray(mask, dtype=bool)[row_codes].sum())

    if not stripped and raw.dtype == object and len(raw):
        is_str = raw.map(type).eq(str).to_numpy()
        padded = count(is_str & ~blank & (raw.astype(str).to_numpy() != text.to_numpy()))
        if padded:
            log.append({"file": fname, "note": f"{col.name}: white space around values removed", "n": padded})
    if col.kind in ("enum", "set"):
        ok = parsed.notna().to_numpy()
        changed = count(ok & ~blank & (text.to_numpy() != parsed.fillna("").to_numpy()))
        if changed:
            log.append({"file": fname, "note": f"{col.name}: codes normalised to the contract's spelling "
                                               "(case or spaces)", "n": changed})
    elif col.kind == "bool":
        low = text.str.lower()
        other = count(~blank & parsed.notna().to_numpy() & ~text.isin(["true", "false"]).to_numpy())
        if other:
            words = sorted(set(low[~blank & parsed.notna().to_numpy() & ~text.isin(["true", "false"]).to_numpy()]))
            log.append({"file": fname, "note": f"{col.name}: yes/no values read as true/false "
                                               f"({', '.join(words[:6])})", "n": other})


def _header(raw: pd.DataFrame, tmap: TableMap, fname: str, probs: _Problems,
            factors: list[_Factor] | None) -> tuple[pd.DataFrame, dict[str, _Factor]]:
    """Rename provider columns, report repeated and reserved names; the reader's factors by column name."""
    names = [str(tmap.columns.get(c, c)).strip() for c in raw.columns]
    raw = raw.copy(deep=False)  # new labels, same data: a large table is not copied
    raw.columns = names
    raw.index = pd.RangeIndex(len(raw))
    dup = pd.Index(names).duplicated()
    by_name = {}
    if factors is not None and len(factors) == len(names):  # a repeated name keeps its first column
        by_name = {n: f for n, f, d in zip(names, factors, dup) if not d}
    dup_cols = raw.columns[dup].unique().tolist()
    for c in dup_cols:
        probs.add(fname, 1, c, c, "column appears more than once in the header")
    if dup_cols:
        raw = raw.loc[:, ~dup]
    if "_row" in raw.columns:
        probs.add(fname, 1, "_row", "_row", "column name '_row' is reserved by dapp_eval: rename the column")
        raw = raw.drop(columns="_row")
        by_name.pop("_row", None)
    return raw, by_name


def _blank_cells(raw: pd.DataFrame, stripped: bool, facs: dict[str, _Factor]) -> dict[str, tuple]:
    """Column -> (stripped text or None when the column has a factor, blank mask)."""
    cells = {}
    for c in raw.columns:
        f = facs.get(c)
        if f is None:
            cells[c] = _cells(_as_object(raw[c]), stripped)
        else:  # blank per distinct cell, spread to the rows
            cells[c] = (None, f.cells(stripped)[1][f.codes])
    return cells


def _apply_derive(raw: pd.DataFrame, tmap: TableMap, cmap: ColumnMap, fname: str, probs: _Problems, log: list,
                  rows: pd.Series, facs: dict[str, _Factor]) -> pd.DataFrame:
    """The map's derived columns, then the dropped columns they were read from left out."""
    raw, _n_bad = _derive(raw, tmap, cmap, fname, probs, log, rows)
    for c in tmap.derive:
        facs.pop(c, None)
    used = [c for c in raw.columns if c in tmap.drop]
    return raw.drop(columns=used) if used else raw


@dataclass
class _Rows:
    """A table's rows while it is checked: cells, spreadsheet row numbers, per-column (text, blank), factors."""

    raw: pd.DataFrame
    rows: pd.Series
    cells: dict[str, tuple]
    facs: dict[str, _Factor]


def _trailing_blank_rows(t: _Rows, fname: str, probs: _Problems, log: list) -> _Rows:
    """Trailing blank rows are tolerated (and logged); blank rows inside the data are problems."""
    if not len(t.raw):
        return t
    all_blank = np.ones(len(t.raw), dtype=bool)
    for _text, blank in t.cells.values():
        all_blank &= blank
    filled = np.flatnonzero(~all_blank)
    n_trailing = len(t.raw) - (int(filled[-1]) + 1 if len(filled) else 0)
    if n_trailing:
        log.append({"file": fname, "note": "trailing blank rows ignored", "n": n_trailing})
        n = len(t.raw) - n_trailing
        t = _Rows(t.raw.iloc[:n], t.rows.iloc[:n],
                  {c: (None if text is None else text.iloc[:n], blank[:n]) for c, (text, blank) in t.cells.items()},
                  {c: f.take(n) for c, f in t.facs.items()})
        all_blank = all_blank[:n]
    for r in t.rows[all_blank].tolist():
        probs.add(fname, r, "", "", "blank row inside the data: delete it or fill it in")
    return t


def _header_and_rows(table: Table, t: _Rows, fname: str, probs: _Problems, log: list) -> list[str]:
    """A table without data rows, required columns missing from the header; the extra columns (logged)."""
    if not len(t.raw):
        if table.name in ("sites", "referrals"):
            probs.add(fname, None, "", "", "the file has a header but no data rows: every analysis needs "
                                           f"{table.name}; export the data again")
        else:
            log.append({"file": fname, "note": "header only: the file holds no records", "n": 0})
    for c in [c.name for c in table.columns if c.required and c.name not in t.raw.columns]:
        probs.add(fname, 1, c, "", "required column is missing from the header")
    extra = [c for c in t.raw.columns if c not in table.names]
    if extra:
        log.append({"file": fname, "note": f"extra columns kept: {_shown_names(extra)}", "n": len(extra)})
    return extra


def _recoded(col: Column, series: pd.Series, col_cells: tuple, tmap: TableMap, stripped: bool, fname: str,
             log: list) -> tuple[pd.Series, tuple, bool]:
    """A column after the map's value map or multi-select rule; whether its cells changed."""
    series = _as_object(series)
    if col_cells[0] is None:
        col_cells = _cells(series, stripped)
    new, n_changed = recode(col_cells[0], tmap.values.get(col.name), tmap.multi.get(col.name))
    if not n_changed:
        return series, col_cells, False
    how = "split and recoded" if col.name in tmap.multi else "recoded"
    log.append({"file": fname, "note": f"{col.name}: values {how} by the column map", "n": n_changed})
    return new, _cells(new), True


def _typed_column(col: Column, t: _Rows, tmap: TableMap, date_format: str | None, fname: str, probs: _Problems,
                  log: list, stripped: bool, typed_factors: dict) -> pd.Series:
    """One contract column parsed to its type (through its distinct cells when the reader encoded it)."""
    series, col_cells, fac = t.raw[col.name], t.cells[col.name], t.facs.get(col.name)
    if col.name in tmap.values or col.name in tmap.multi:
        series, col_cells, changed = _recoded(col, series, col_cells, tmap, stripped, fname, log)
        fac = None if changed else fac
    if fac is not None and len(t.raw):
        out, tfac = _parse_factored(col, series, t.rows, fname, date_format, probs, fac, stripped, log)
        if tfac is not None:
            typed_factors[col.name] = tfac
        return out
    series = _as_object(series)
    if col_cells[0] is None:
        col_cells = _cells(series, stripped)
    out = _parse_column(col, series, t.rows, fname, date_format, probs, col_cells)
    _log_normalised(col, series, col_cells, out, fname, stripped, log)
    return out


def _typed_frame(table: Table, t: _Rows, out: dict, extra: list[str]) -> pd.DataFrame:
    """The typed columns, the extra ones as read, absent optional ones empty, in contract order; ``_row``."""
    df = pd.DataFrame(out, index=t.raw.index, copy=False)  # copy=False: the columns are not copied into blocks
    for c in extra:
        df[c] = _as_object(t.raw[c])
    absent = [col for col in table.columns if col.name not in df and not col.required]
    for col in absent:
        df[col.name] = pd.Series([None] * len(df), index=df.index, dtype=_dtype(col))
    if absent:  # contract order, whichever optional columns the export has; extra columns after them
        df = df[[c.name for c in table.columns if c.name in df] + extra]
    df["_row"] = t.rows.to_numpy()
    return df


def _check_table(table: Table, raw: pd.DataFrame, fname: str, tmap: TableMap, cmap: ColumnMap,
                 probs: _Problems, log: list, factors: list[_Factor] | None = None,
                 typed_factors: dict[str, _Factor] | None = None) -> pd.DataFrame | None:
    stripped = bool(raw.attrs.get(_STRIPPED))
    raw, facs = _header(raw, tmap, fname, probs, factors)
    rows = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)  # spreadsheet row numbers: header is row 1
    if tmap.derive:
        raw = _apply_derive(raw, tmap, cmap, fname, probs, log, rows, facs)
    t = _Rows(raw, rows, _blank_cells(raw, stripped, facs), facs)  # stripped text and blank mask, computed once
    t = _trailing_blank_rows(t, fname, probs, log)
    extra = _header_and_rows(table, t, fname, probs, log)
    typed_factors = {} if typed_factors is None else typed_factors
    date_format = tmap.date_format or cmap.date_format
    out = {col.name: _typed_column(col, t, tmap, date_format, fname, probs, log, stripped, typed_factors)
           for col in table.columns if col.name in t.raw.columns}
    df = _typed_frame(table, t, out, extra)
    _check_keys(table, df, fname, probs, typed_factors)
    return df


def _derive_inputs(tmap: TableMap) -> set[str]:
    """Provider or contract column names the map's derivations read."""
    out = set()
    for op in tmap.derive.values():
        name, args = next(iter(op.items()))
        if name == "copy":
            out.add(str(args))
        elif name in ("add_days", "add_weeks"):
            out.update(str(a) for a in args if isinstance(a, str))
    return out


def _derive(raw: pd.DataFrame, tmap: TableMap, cmap: ColumnMap, fname: str, probs: _Problems, log: list,
            rows: pd.Series) -> tuple[pd.DataFrame, int]:
    """The column map's derived columns (``derive:``), with their inputs' problems and a load-log note each."""
    for cname, op in tmap.derive.items():
        name, args = next(iter(op.items()))
        inputs = [args] if name == "copy" else list(args)[:1] + [a for a in list(args)[1:] if isinstance(a, str)] \
            if name in ("add_days", "add_weeks") else []
        for src in inputs:
            if tmap.columns.get(src, src) not in raw.columns:
                probs.add(fname, 1, src, "", f"the column map derives {cname} from '{src}', which is not in the header")
    raw, notes, bad = derive_columns(raw, tmap, tmap.date_format or cmap.date_format)
    for src, mask, rule in bad:
        probs.add_mask(fname, rows, src, pd.Series([""] * len(raw), index=raw.index), mask, rule)
    log.extend({"file": fname, "note": n, "n": len(raw)} for n in notes)
    return raw, len(bad)


def _key_codes(df: pd.DataFrame, cols: list[str], facs: dict[str, _Factor], rows: np.ndarray) -> np.ndarray:
    """One integer per row (of ``rows``) that is equal exactly when the key columns are all equal.

    Text columns contribute the codes of their factor, others ``pandas.factorize(sort=True)`` codes;
    the codes are combined positionally (mixed radix).  Rows must have no missing key value.
    """
    key = np.zeros(len(rows), dtype=np.int64)
    span = 1
    for c in cols:
        if c in facs:
            codes, k = facs[c].codes[rows], len(facs[c].uniq)
        else:
            try:
                codes, uniq = pd.factorize(df[c].iloc[rows], sort=True)
            except TypeError:  # values that cannot be ordered (mixed types): any order will do
                codes, uniq = pd.factorize(df[c].iloc[rows], sort=False)
            k = len(uniq)
        span *= max(k, 1)
        if span >= 2**62:  # too many combinations for one int64: hash the columns' codes together instead
            frame = pd.DataFrame({c: facs[c].codes[rows] if c in facs else df[c].iloc[rows].to_numpy() for c in cols})
            codes, _ = pd.factorize(pd.MultiIndex.from_frame(frame))
            return codes.astype(np.int64)
        key = key * max(k, 1) + codes
    return key


def _duplicates(key: np.ndarray) -> np.ndarray:
    """Positions of the values of ``key`` seen at an earlier position (none when the key increases)."""
    if len(key) < 2 or bool((key[1:] > key[:-1]).all()):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(pd.Series(key).duplicated(keep="first").to_numpy())


def _check_keys(table: Table, df: pd.DataFrame, fname: str, probs: _Problems, facs: dict[str, _Factor]) -> None:
    """Duplicate keys (every later copy names the row where the key was first seen) and unique columns."""
    if table.key and all(k in df for k in table.key):
        keycols = list(table.key)
        complete = np.ones(len(df), dtype=bool)
        for c in keycols:
            complete &= facs[c].codes >= 0 if c in facs else df[c].notna().to_numpy()
        at = np.flatnonzero(complete)
        key = _key_codes(df, keycols, facs, at)
        dup = _duplicates(key)
        if len(dup):
            later_row = df["_row"].to_numpy()[complete]
            first_row = pd.Series(later_row).groupby(key, sort=False).transform("first").to_numpy()
            label = "+".join(keycols)
            shown = dup[:_MAX_PROBLEMS_PER_RULE]
            for i in shown:
                k = tuple(df.iloc[at[i]][keycols]) if len(keycols) > 1 else df[keycols[0]].iloc[at[i]]
                probs.add(fname, int(later_row[i]), label, str(k),
                          f"duplicate key ({', '.join(keycols)} must be unique; first seen in row {int(first_row[i])})")
            if len(dup) > len(shown):
                probs.add(fname, None, label, "", f"duplicate key ({', '.join(keycols)} must be unique; further "
                                                  f"{len(dup) - len(shown)} rows with this problem not listed)")
    for col in table.columns:
        if col.unique and col.name in df and (not table.key or (col.name,) != table.key):
            if col.name in facs:
                codes = facs[col.name].codes
                filled = np.flatnonzero(codes >= 0)
                d = np.zeros(len(codes), dtype=bool)
                d[filled[_duplicates(codes[filled])]] = True
            else:
                d = (df[col.name].notna() & df[col.name].duplicated(keep="first")).to_numpy()
            probs.add_mask(fname, df["_row"], col.name, df[col.name], d, "value must be unique")


def _dtype(col: Column):
    return {"int": "Int64", "float": float, "bool": "boolean", "date": "datetime64[ns]"}.get(col.kind, object)


def _instrument_range(name: str) -> tuple[float, float] | None:
    """Score range of a registered instrument, or None if it is not registered."""
    from dapp_eval.data.instruments import get_instrument

    try:
        inst = get_instrument(name)
    except KeyError:
        return None
    return float(inst.min_score), float(inst.max_score)


class _Keys:
    """Finds, for the rows of one table, the first row of another table with the same key.

    Keys are compared through their integer codes and distinct values (the reader's factors, or
    ``pandas.factorize``), so a million-row link hashes each distinct key once, in pyarrow's C++.
    A missing key matches nothing.
    """

    def __init__(self, tabs: dict[str, pd.DataFrame], factors: dict[str, dict[str, _Factor]]):
        self.tabs, self.factors, self._arrow, self._first, self._matches = tabs, factors, {}, {}, {}

    def factor(self, tname: str, col: str) -> _Factor:
        f = self.factors.setdefault(tname, {}).get(col)
        if f is None:
            codes, uniq = pd.factorize(self.tabs[tname][col].to_numpy(dtype=object), sort=False)
            f = self.factors[tname][col] = _Factor(codes.astype(np.int32, copy=False), np.asarray(uniq, dtype=object), None)
        return f

    def arrow(self, tname: str, col: str):
        import pyarrow as pa

        if (tname, col) not in self._arrow:
            f = self.factor(tname, col)
            arr = f.arrow
            if arr is None and all(isinstance(v, str) for v in f.uniq):
                arr = pa.array(f.uniq, type=pa.string())
            self._arrow[(tname, col)] = arr
        return self._arrow[(tname, col)]

    def first_rows(self, tname: str, col: str) -> np.ndarray:
        """For each distinct value of the column, its first row (-1 for a value no row holds)."""
        if (tname, col) not in self._first:
            f = self.factor(tname, col)
            first = np.full(len(f.uniq), -1, dtype=np.int64)
            valid = np.flatnonzero(f.codes >= 0)
            held, at = np.unique(f.codes[valid], return_index=True)  # return_index: each value's first row
            first[held] = valid[at]
            self._first[(tname, col)] = first
        return self._first[(tname, col)]

    def prefetch(self, links: list[tuple[str, str, str, str]]) -> None:
        """:meth:`match` for several links at once, side by side (pyarrow's lookups release the GIL)."""
        for _child, _ccol, parent, pcol in links:  # what links share is made once, first
            self.first_rows(parent, pcol)
            self.arrow(parent, pcol)
        todo = [link for link in links if link not in self._matches]
        n_rows = sum(len(self.tabs[child]) for child, *_ in todo)
        for link, found in zip(todo, _side_by_side(lambda link: self._match(*link), todo, n_rows)):
            self._matches[link] = found

    def match(self, child: str, ccol: str, parent: str, pcol: str) -> np.ndarray:
        """For each row of ``child``, the first row of ``parent`` whose ``pcol`` equals its ``ccol`` (-1 if none)."""
        if (child, ccol, parent, pcol) not in self._matches:
            self._matches[(child, ccol, parent, pcol)] = self._match(child, ccol, parent, pcol)
        return self._matches[(child, ccol, parent, pcol)]

    def _match(self, child: str, ccol: str, parent: str, pcol: str) -> np.ndarray:
        import pyarrow.compute as pc

        cf, pf = self.factor(child, ccol), self.factor(parent, pcol)
        ca, pa_ = self.arrow(child, ccol), self.arrow(parent, pcol)
        if ca is not None and pa_ is not None:
            pos = pc.index_in(ca, value_set=pa_).to_numpy(zero_copy_only=False)
            pos = np.where(np.isnan(pos), -1, pos).astype(np.int64) if pos.dtype.kind == "f" else pos.astype(np.int64)
        else:
            pos = pd.Index(pf.uniq, dtype=object).get_indexer(pd.Index(cf.uniq, dtype=object))
        first = np.append(self.first_rows(parent, pcol), -1)
        row_of_value = first[pos]  # pos -1 reads the appended -1
        return np.append(row_of_value, -1)[cf.codes]  # a missing key (code -1) matches nothing


def _take(values: pd.Series, at: np.ndarray, index) -> pd.Series:
    """``values`` at positions ``at`` (-1 gives a missing value), on ``index``."""
    return pd.Series(values.array.take(at, allow_fill=True), index=index)


class _Cross:
    """The validated tables of a folder, for the rules between tables (see :data:`_CROSS_CHECKS`)."""

    def __init__(self, tabs: dict[str, pd.DataFrame], files: dict[str, str], probs: _Problems,
                 factors: dict[str, dict[str, _Factor]] | None, log: list | None = None):
        self.tabs, self.files, self.probs = tabs, files, probs
        self.log = [] if log is None else log  # load-log rows (file, note, n): what was read, not refused
        self.sites, self.ref = tabs["sites"], tabs["referrals"]
        self.keys = _Keys(tabs, dict(factors or {}))
        self.keys.prefetch([(t, c, parent, pcol) for t, tab in tabs.items()
                            for c, parent, pcol in TABLES[t].foreign_keys
                            if parent in tabs and c in tab and pcol in tabs[parent]])

    def rule(self, tname: str, column: str, mask, rule: str, value_col: str | None = None,
             df: pd.DataFrame | None = None) -> None:
        """Report the rows of table ``tname`` (or of ``df``, a part of it) where ``mask`` holds."""
        df = self.tabs[tname] if df is None else df
        mask = np.asarray(mask.fillna(False) if hasattr(mask, "fillna") else mask, dtype=bool)
        self.probs.add_mask(self.files[tname], df["_row"], column, df[value_col or column], mask, rule)

    def has(self, tname: str, *cols: str) -> bool:
        return tname in self.tabs and set(cols) <= set(self.tabs[tname])

    @cached_property
    def ref_site(self) -> np.ndarray | None:
        """Each referral's site row (-1 when none)."""
        if self.has("referrals", "site_id") and self.has("sites", "site_id"):
            return self.keys.match("referrals", "site_id", "sites", "site_id")
        return None

    @cached_property
    def ref_extract(self) -> pd.Series | None:
        """Each referral's site's data_extract_date."""
        if self.has("sites", "site_id", "data_extract_date") and self.has("referrals", "referral_id", "site_id"):
            return _take(self.sites["data_extract_date"], self.ref_site, self.ref.index)
        return None

    def by_referral(self, tname: str, values: pd.Series) -> pd.Series:
        """A referral's value for each row of ``tname`` (through its referral_id)."""
        at = self.keys.match(tname, "referral_id", "referrals", "referral_id")
        return _take(values, at, self.tabs[tname].index)


def _site_dates(cx: _Cross) -> None:
    s = cx.sites
    if cx.has("sites", "period_start", "period_end"):
        cx.rule("sites", "period_end", s["period_end"] < s["period_start"], "period_end is before period_start")
    if cx.has("sites", "period_start", "data_extract_date"):
        cx.rule("sites", "data_extract_date", s["data_extract_date"] < s["period_start"],
                "data_extract_date is before period_start (the extract holds none of the period)")
    if cx.has("sites", "period_end", "data_extract_date"):
        # an extract taken while the period still runs (a monthly extract of the contract year): the period is
        # read as ending at the extract date, said in the load log; nothing after the extract can be in it
        early = (s["data_extract_date"] < s["period_end"]).fillna(False).to_numpy(dtype=bool)
        if early.any():
            s.loc[early, "period_end"] = s.loc[early, "data_extract_date"]
            cx.log.append({"file": cx.files["sites"], "note": "period_end after data_extract_date (an extract taken "
                           "while the period runs): the period is read as ending at the extract date",
                           "n": int(early.sum())})


def _foreign_keys(cx: _Cross) -> None:
    for tname, tab in cx.tabs.items():
        for col, parent, pcol in TABLES[tname].foreign_keys:
            if parent not in cx.tabs or col not in tab or pcol not in cx.tabs[parent]:
                continue
            # a missing parent key matches nothing, because missing child keys are not orphans anyway
            orphan = (cx.keys.factor(tname, col).codes >= 0) & (cx.keys.match(tname, col, parent, pcol) < 0)
            cx.rule(tname, col, orphan, f"no matching {pcol} in {cx.files[parent]} (orphan foreign key)")


def _referrals_within_site(cx: _Cross) -> None:
    ref = cx.ref
    if not (cx.has("referrals", "site_id", "referral_date")
            and cx.has("sites", "site_id", "period_end", "data_extract_date")):
        return
    pend = _take(cx.sites["period_end"], cx.ref_site, ref.index)
    extract = _take(cx.sites["data_extract_date"], cx.ref_site, ref.index)
    cx.rule("referrals", "referral_date", ref["referral_date"] > pend, "referral_date is after the site's period_end")
    for c in ("assessment_date", "start_date", "exit_date"):
        if c in ref:
            cx.rule("referrals", c, ref[c] > extract, "date is after the site's data_extract_date")


def _records_within_extract(cx: _Cross) -> None:
    """Every later record against its referral's site's extract date."""
    if cx.ref_extract is None:
        return
    for tname, c in (("sessions", "session_date"), ("risk_assessments", "assessment_date"),
                     ("partner_surveys", "survey_date")):
        if cx.has(tname, c, "referral_id"):
            tab = cx.tabs[tname]
            cx.rule(tname, c, tab[c] > cx.by_referral(tname, cx.ref_extract),
                    "date is after the site's data_extract_date")


def _incidents_within_extract(cx: _Cross) -> None:
    """Incidents against the latest extract date of the person's sites."""
    if cx.ref_extract is None or not cx.has("incidents", "participant_id") or "participant_id" not in cx.ref:
        return
    inc = cx.tabs["incidents"]
    pf = cx.keys.factor("referrals", "participant_id")
    latest = pd.Series(cx.ref_extract.to_numpy()).groupby(pf.codes).max()  # per person: the latest of their sites
    latest = latest[latest.index >= 0]
    per_value = pd.Series(pd.NaT, index=range(len(pf.uniq)), dtype="datetime64[ns]")
    per_value.iloc[latest.index.to_numpy()] = latest.to_numpy()
    # the person's first referral row stands for the person: look the value up by its code
    at = cx.keys.match("incidents", "participant_id", "referrals", "participant_id")
    ex = _take(per_value, np.append(pf.codes, -1)[at], inc.index)
    for c in ("incident_date", "outcome_date"):
        if c in inc:
            cx.rule("incidents", c, inc[c] > ex, "date is after the data_extract_date of the person's sites")


def _attendance_log_present(cx: _Cross) -> None:
    ses, ref = cx.tabs.get("sessions"), cx.ref
    if ses is not None and not len(ses) and "start_date" in ref and ref["start_date"].notna().any():
        cx.probs.add(cx.files["sessions"], None, "", "", f"the file has a header but no rows, while "
                     f"{int(ref['start_date'].notna().sum())} referrals have a start_date: the attendance log is "
                     "missing; export it again (or delete the file if the programme keeps no attendance)")


_DATE_ORDER = (("assessment_date", "referral_date"), ("start_date", "assessment_date"),
               ("start_date", "referral_date"), ("exit_date", "referral_date"),
               ("exit_date", "assessment_date"), ("exit_date", "start_date"))


def _referral_date_order(cx: _Cross) -> None:
    ref = cx.ref
    for later, earlier in _DATE_ORDER:
        if later in ref and earlier in ref:
            cx.rule("referrals", later, ref[later] < ref[earlier], f"{later} is before {earlier}")


#: consistency rules within a referral: (columns needed, column reported, the rows that break it, rule, value shown)
_REFERRAL_RULES = (
    (("exit_date", "exit_reason"), "exit_reason", lambda r: r["exit_date"].notna() & r["exit_reason"].isna(),
     "exit_date is given but exit_reason is empty (both or neither)", None),
    (("exit_date", "exit_reason"), "exit_date", lambda r: r["exit_date"].isna() & r["exit_reason"].notna(),
     "exit_reason is given but exit_date is empty (both or neither)", "exit_reason"),
    (("exit_reason", "assessment_outcome"), "exit_reason",
     lambda r: (r["exit_reason"] == "unsuitable") & (r["assessment_outcome"] != "unsuitable"),
     "exit_reason 'unsuitable' requires assessment_outcome 'unsuitable'", None),
    (("assessment_outcome", "start_date"), "start_date",
     lambda r: (r["assessment_outcome"] == "unsuitable") & r["start_date"].notna(),
     "assessment_outcome 'unsuitable' allows no start_date", None),
    (("assessment_outcome", "assessment_date"), "assessment_outcome",
     lambda r: r["assessment_outcome"].notna() & r["assessment_date"].isna(),
     "assessment_outcome is given but assessment_date is empty", None),
    (("exit_reason", "start_date"), "start_date",
     lambda r: r["exit_reason"].isin(["completed", "dropped_out", "excluded"]) & r["start_date"].isna(),
     "exit_reason completed/dropped_out/excluded requires a start_date", "exit_reason"),
    (("exit_reason", "start_date"), "start_date",
     lambda r: (r["exit_reason"] == "declined_to_start") & r["start_date"].notna(),
     "exit_reason 'declined_to_start' allows no start_date", None),
    (("exit_reason", "assessment_date"), "assessment_date",
     lambda r: (r["exit_reason"] == "declined_assessment") & r["assessment_date"].notna(),
     "exit_reason 'declined_assessment' allows no assessment_date", None),
    (("start_date", "assessment_date"), "assessment_date",
     lambda r: r["start_date"].notna() & r["assessment_date"].isna(),
     "start_date is given but assessment_date is empty (a programme starts after assessment)", None),
)


def _referral_consistency(cx: _Cross) -> None:
    for needed, column, broken, rule, shown in _REFERRAL_RULES:
        if cx.has("referrals", *needed):
            cx.rule("referrals", column, broken(cx.ref), rule, value_col=shown)


def _partner_support(cx: _Cross) -> None:
    """Rules between partner support's columns and its referral or site (contract version 2)."""
    if not cx.has("partner_support", "support_start", "support_end"):
        return
    ps = cx.tabs["partner_support"]
    cx.rule("partner_support", "support_end", ps["support_end"] < ps["support_start"],
            "support_end is before support_start")
    if "closed_reason" in ps:
        cx.rule("partner_support", "closed_reason", ps["support_end"].notna() & ps["closed_reason"].isna(),
                "support_end is given but closed_reason is empty (both or neither)")
        cx.rule("partner_support", "support_end", ps["support_end"].isna() & ps["closed_reason"].notna(),
                "closed_reason is given but support_end is empty (both or neither)", value_col="closed_reason")
    if not (cx.has("referrals", "referral_id", "referral_date") and "referral_id" in ps):
        return
    rd = cx.by_referral("partner_support", cx.ref["referral_date"])
    cx.rule("partner_support", "support_start", ps["support_start"] < rd - pd.Timedelta(days=92),
            "partner support started more than 3 months before the referral_date")
    if cx.ref_extract is not None:
        ex = cx.by_referral("partner_support", cx.ref_extract)
        for c in ("support_start", "support_end"):
            cx.rule("partner_support", c, ps[c] > ex, "date is after the site's data_extract_date")


def _capacity(cx: _Cross) -> None:
    if not cx.has("capacity", "places_offered", "places_filled"):
        return
    cap = cx.tabs["capacity"]
    cx.rule("capacity", "places_filled", cap["places_filled"] > cap["places_offered"],
            "places_filled is more than places_offered")
    given = cap[["groups_run", "places_offered", "places_filled", "staff_fte"]].notna().any(axis=1)
    if {"site_id", "quarter_start"} <= set(cap) and given.any():
        twice = given & cap[given].duplicated(["site_id", "quarter_start"]).reindex(cap.index, fill_value=False)
        cx.rule("capacity", "places_offered", twice,
                "groups, places and staff are given on more than one row of this site and quarter "
                "(give them once; the other funders' rows leave them empty)")


def _sessions_within_episode(cx: _Cross) -> None:
    if not cx.has("sessions", "referral_id", "session_date", "attended") or "referral_id" not in cx.ref:
        return
    ses, ref = cx.tabs["sessions"], cx.ref
    at = cx.keys.match("sessions", "referral_id", "referrals", "referral_id")  # the referral's first row
    att = ses["attended"].fillna(False).astype(bool)
    start = _take(ref["start_date"], at, ses.index) if "start_date" in ref else None
    end = _take(ref["exit_date"], at, ses.index) if "exit_date" in ref else None
    if cx.ref_extract is not None:
        site_end = _take(cx.ref_extract, at, ses.index)
        end = end.fillna(site_end) if end is not None else site_end
    if start is not None:
        cx.rule("sessions", "session_date", att & start.isna() & (at >= 0),
                "attended session, but the referral has no start_date")
        cx.rule("sessions", "session_date", att & (ses["session_date"] < start),
                "attended session before the referral's start_date")
    if end is not None:
        cx.rule("sessions", "session_date", att & (ses["session_date"] > end),
                "attended session after the referral's exit_date (or the extract date if still open)")


def _risk_scores(cx: _Cross) -> None:
    """Risk scores within their instrument's range, and not long before the referral."""
    if not cx.has("risk_assessments", "instrument", "score"):
        return
    ra = cx.tabs["risk_assessments"]
    for inst, grp in ra.groupby("instrument", dropna=True):
        rng = _instrument_range(inst)
        if rng is None:
            cx.rule("risk_assessments", "instrument", pd.Series(True, index=grp.index),
                    "instrument is not in the registry (register it with dapp_eval.analyses.risk.register_instrument)", df=grp)
            continue
        lo, hi = rng
        cx.rule("risk_assessments", "score", (grp["score"] < lo) | (grp["score"] > hi),
                f"score outside the range of {inst} ({lo:g}..{hi:g})", df=grp)
    if cx.has("risk_assessments", "referral_id", "assessment_date") and cx.has("referrals", "referral_id",
                                                                                "referral_date"):
        rd = cx.by_referral("risk_assessments", cx.ref["referral_date"])
        cx.rule("risk_assessments", "assessment_date", ra["assessment_date"] < rd - pd.Timedelta(days=92),
                "risk assessment more than 3 months before the referral_date")


#: the rules between tables, in the order their problems are reported
_CROSS_CHECKS = (_site_dates, _foreign_keys, _referrals_within_site, _records_within_extract,
                 _incidents_within_extract, _attendance_log_present, _referral_date_order, _referral_consistency,
                 _partner_support, _capacity, _sessions_within_episode, _risk_scores)


def _cross_checks(tabs: dict[str, pd.DataFrame], files: dict[str, str], probs: _Problems,
                  factors: dict[str, dict[str, _Factor]] | None = None, log: list | None = None) -> None:
    cx = _Cross(tabs, files, probs, factors, log)
    for check in _CROSS_CHECKS:
        check(cx)


def validate_tables(raw_tables: dict[str, pd.DataFrame], *, files: dict[str, str] | None = None,
                    column_map: ColumnMap | None = None, _factors: dict[str, list[_Factor]] | None = None,
                    ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Validate raw tables (cells as read from the files) against the contract.

    Parameters
    ----------
    raw_tables : dict of str to DataFrame
        Table name -> raw cells (strings for CSV, native values for other formats).
    files : dict, optional
        Table name -> file name used in messages (default ``<table>.csv``).
    column_map : ColumnMap, optional
    _factors : dict, optional
        Table name -> the CSV reader's factors of its columns (see :func:`_read_raw`); internal.  When
        given, ``raw_tables`` and ``_factors`` are emptied table by table, so that a large folder's
        cells are released as soon as they are checked.

    Returns
    -------
    tables : dict of str to DataFrame
        Typed tables (with a private ``_row`` column holding the spreadsheet row).
    problems : DataFrame
        Columns file, row, column, value, rule; empty when the data are valid.
    log : DataFrame
        What was tolerated (file, note, n).

    Examples
    --------
    >>> raw = {"sites": pd.DataFrame({"site_id": ["S1"]})}
    >>> _, problems, _ = validate_tables(raw)
    >>> "required column is missing from the header" in set(problems["rule"])
    True
    """
    cmap = column_map or ColumnMap()
    files = dict(files or {})
    probs = _Problems()
    log: list[dict] = []
    typed: dict[str, pd.DataFrame] = {}
    typed_factors: dict[str, dict[str, _Factor]] = {}
    for name in ("sites", "referrals"):
        if name not in raw_tables:
            probs.add(files.get(name, f"{name}.csv"), None, "", "", f"required table {name} is missing from the folder")
    consume = _factors is not None  # load_programme's own tables: each is released once it is checked
    for name in list(raw_tables):
        raw = raw_tables.pop(name) if consume else raw_tables[name]
        fname = files.setdefault(name, f"{name}.csv")
        tfacs: dict[str, _Factor] = {}
        out = _check_table(TABLES[name], raw, fname, cmap.for_table(name), cmap, probs, log,
                           _factors.pop(name, None) if consume else None, tfacs)
        del raw
        if out is not None:
            typed[name] = out
            typed_factors[name] = tfacs
    if "sites" in typed and "referrals" in typed:
        _cross_checks(typed, files, probs, typed_factors, log)
    problems = probs.frame()
    if len(problems):
        problems["_order"] = problems["file"].map({f: i for i, f in enumerate(files.values())}).fillna(99)
        problems = problems.sort_values(["_order", "row"], kind="stable", na_position="first").drop(columns="_order")
        problems = problems.reset_index(drop=True)
        problems["row"] = problems["row"].astype("Int64")
    return typed, problems, pd.DataFrame(log, columns=["file", "note", "n"])


def _source_label(path: Path, sheet, table: str = "") -> str:
    """How messages name where a table came from: the file, and the workbook sheet when there is one; a file or
    sheet whose name looks like an identifier is named by what it holds and where, never by its name."""
    looks = name_looks_identifying(path.name)
    fname = path.name if looks is None else f"the {table} table's {path.suffix.lower()} file (name not shown: looks like {looks})"
    if path.suffix.lower() != ".xlsx":
        return fname
    names: list[str] = []
    if not isinstance(sheet, int) or sheet is None:
        try:
            from openpyxl import load_workbook

            names = load_workbook(path, read_only=True).sheetnames
        except Exception:  # an unreadable workbook is reported by the reader
            return fname
    at = 0 if sheet is None else sheet if isinstance(sheet, int) else names.index(sheet) if sheet in names else None
    name = sheet if isinstance(sheet, str) else names[at] if names and at is not None and at < len(names) else None
    if name is None:
        return f"{fname}, sheet {at + 1}"
    looks = name_looks_identifying(name)
    if looks is None:
        return f"{fname}, sheet {name}"
    where = f"sheet {at + 1}" if at is not None else "a sheet"
    return f"{fname}, {where} (name not shown: looks like {looks})"


def _shown_names(columns) -> str:
    """Provider column names for the load log, each masked when it looks like an identifier."""
    return ", ".join(str(c) if name_looks_identifying(c) is None else shown_name(c) for c in columns)


def _segment_row(segments: list[tuple[str, int]], row: int) -> tuple[str, int]:
    """(file, its own spreadsheet row) of row ``row`` of a table stacked from several files."""
    start = 2
    for label, n in segments:
        if row < start + n:
            return label, row - start + 2
        start += n
    return segments[-1][0], row - start + 2 + segments[-1][1]


def _provider_column(col, tmap: TableMap, table: Table):
    """A problem's column as the provider knows it: their header with the contract's name in brackets; a header
    that looks like an identifier is not shown."""
    if not isinstance(col, str) or not col:
        return col
    if col in table.names:
        prov = tmap.provider_name(col)
        if not prov:
            return col
        return f"{prov} [{col}]" if name_looks_identifying(prov) is None else f"{shown_name(prov)} [{col}]"
    return col if name_looks_identifying(col) is None else shown_name(col)


def _in_providers_words(problems: pd.DataFrame, cmap: ColumnMap, files: dict[str, str],
                        segments: dict[str, list[tuple[str, int]]], folder: Path) -> pd.DataFrame:
    """Problems as the provider sees the export: the provider's column name with the contract's in brackets,
    the file (and sheet) and row each stacked file numbers, and a way out when a required table is not found."""
    problems = problems.copy()
    table_of = {label: name for name, label in files.items()}
    for i in range(len(problems)):
        label = problems.at[i, "file"]
        name = table_of.get(label)
        if name is None:
            continue
        tmap = cmap.for_table(name)
        col = problems.at[i, "column"]
        problems.at[i, "column"] = _provider_column(col, tmap, TABLES[name])
        if problems.at[i, "value"] == col and problems.at[i, "column"] != col:  # a header repeated as the value
            problems.at[i, "value"] = ""
        multi = tmap.multi.get(col) if isinstance(col, str) else None
        if multi is not None:
            problems.at[i, "rule"] = problems.at[i, "rule"].replace(
                "';'-separated values must come from:",
                f"each '{multi.separator}'-separated part must be mapped (values: in the column map) onto one of:")
        if name in segments:
            row = problems.at[i, "row"]
            if pd.notna(row) and int(row) > 1:
                problems.at[i, "file"], problems.at[i, "row"] = _segment_row(segments[name], int(row))
            problems.at[i, "rule"] = re.sub(
                r"first seen in row (\d+)",
                lambda m, seg=segments[name]: "first seen in {}, row {}".format(*_segment_row(seg, int(m.group(1)))),
                problems.at[i, "rule"])
    missing = problems["rule"].str.fullmatch(r"required table (sites|referrals) is missing from the folder")
    if missing.any():
        # counted by kind, never named: a provider's file name can name a person
        kinds = pd.Series([p.suffix.lower() for p in folder.iterdir()
                           if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES], dtype=object).value_counts()
        found = ("the folder holds " + ", ".join(f"{n} {k} file{'s' if n != 1 else ''}"
                                                 for k, n in sorted(kinds.items())) if len(kinds) else
                 "the folder holds no readable files (.csv, .xlsx, .sav, .dta, .parquet)")
        for i in np.flatnonzero(missing.to_numpy()):
            tname = problems.at[i, "rule"].split()[2]
            how = (f"; {found}, none of them named {tname}.csv or given for {tname} by the column map. For a "
                   "provider's own export, draft a column map with `dapp-eval map FOLDER > map.yaml`, fill in its "
                   "TODOs and name it in evaluation.yaml (column_map:) or pass --column-map map.yaml")
            problems.at[i, "rule"] = problems.at[i, "rule"] + how
    return problems


@dataclass
class _Export:
    """What reading an export's files gives, before validation (see :func:`_read_export`)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # table -> cells as read, provider's columns
    files: dict[str, str] = field(default_factory=dict)  # table -> where it was read from, as messages name it
    segments: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # stacked table -> (label, rows)
    factors: dict[str, list[_Factor]] = field(default_factory=dict)  # a one-file CSV table's columns, encoded
    notes: list[dict] = field(default_factory=list)  # load-log rows (file, note, n)
    problems: list[pd.DataFrame] = field(default_factory=list)
    paths: set[Path] = field(default_factory=set)  # every file read
    failed: set[str] = field(default_factory=set)  # tables with a problem reading one of their files

    def problem_frame(self) -> pd.DataFrame:
        parts = [p for p in self.problems if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PROBLEM_COLUMNS)


class _Hashing:
    """The input hash, computed in a second thread (hashlib releases the GIL) while the files are parsed."""

    def __init__(self, pool: ThreadPoolExecutor | None):
        self.pool = pool
        self.hasher = hashlib.sha256()
        self.seen: set[Path] = set()

    def bytes_of(self, p: Path) -> bytes | None:
        """A CSV file's bytes (its reader takes them), after handing every new file to the hash."""
        if p.suffix.lower() != ".csv" and (self.pool is None or p in self.seen):
            return None
        try:
            data = p.read_bytes()
        except OSError:
            return None  # _read_raw reports why
        if self.pool is not None and p not in self.seen:
            self.seen.add(p)
            self.pool.submit(self.hasher.update, p.name.encode())
            self.pool.submit(self.hasher.update, data)
        return data if p.suffix.lower() == ".csv" else None


def _drop_unread(raw: pd.DataFrame, tmap: TableMap, fac: list, label: str, notes: list) -> pd.DataFrame:
    """Leave out the columns the map drops (those a derivation reads are read for it and dropped later)."""
    needed = _derive_inputs(tmap)
    dropped = [c for c in raw.columns if c in tmap.drop and c not in needed]
    if not dropped:
        return raw
    attrs = dict(raw.attrs)
    attrs[POSITIONS] = [k + 1 for k, c in enumerate(raw.columns) if c not in dropped]
    if fac and len(fac) == raw.shape[1]:
        fac[:] = [f for c, f in zip(raw.columns, fac) if c not in tmap.drop]
    raw = raw.drop(columns=dropped)
    raw.attrs.update(attrs)
    notes.append({"file": label, "note": f"columns not read (drop: in the column map): {_shown_names(dropped)}",
                  "n": len(dropped)})
    return raw


def _read_source(ex: _Export, name: str, p: Path, sheet, tmap: TableMap, hashing: _Hashing,
                 fac: list | None) -> tuple[pd.DataFrame | None, str]:
    """One file (or workbook sheet) of a table, its problems and notes recorded under its label."""
    data = hashing.bytes_of(p)
    found: list[dict] = []
    file_notes: list[str] = []
    label = _source_label(p, sheet, name)
    one = TableMap(file=tmap.file, sheet=sheet, columns=tmap.columns)
    raw = _read_raw(p, one, found, file_notes, fac, data)
    ex.paths.add(p)
    if found:
        fr = pd.DataFrame(found, columns=PROBLEM_COLUMNS)
        fr["file"] = fr["file"].replace(p.name, label)
        ex.problems.append(fr)
        ex.failed.add(name)
    ex.notes.extend({"file": label, "note": note, "n": 1} for note in file_notes)
    if raw is not None and tmap.drop:
        raw = _drop_unread(raw, tmap, fac if fac is not None else [], label, ex.notes)
    return raw, label


def _read_table(ex: _Export, folder: Path, name: str, tmap: TableMap, hashing: _Hashing,
                allow_outside: bool) -> None:
    """Read a table from its file(s): stacked in the map's order when ``files:`` names several."""
    try:
        sources = _find_sources(folder, TABLES[name], tmap, allow_outside=allow_outside)
    except DataValidationError as exc:
        ex.problems.append(exc.problems)
        return
    if not sources:
        return
    fac: list[_Factor] = []
    read = [_read_source(ex, name, p, sheet, tmap, hashing, fac if len(sources) == 1 else None)
            for p, sheet in sources]
    parts = [r for r, _label in read]
    labels = [lab for _r, lab in read]
    if len(sources) == 1:
        ex.factors[name] = fac
    ex.files[name] = " + ".join(labels)
    if any(r is None for r in parts):
        return
    if len(parts) == 1:
        ex.tables[name] = parts[0]
        return
    ex.tables[name] = pd.concat([r.reset_index(drop=True) for r in parts], ignore_index=True, sort=False).fillna("")
    ex.segments[name] = [(lab, len(r)) for lab, r in zip(labels, parts)]


def _read_export(folder: Path, cmap: ColumnMap, *, allow_outside: bool = False,
                 pool: ThreadPoolExecutor | None = None) -> tuple[_Export, _Hashing]:
    """Every contract table of a folder, read through the column map (files, sheets, drop), and the input
    hash (SHA-256 over every file's name and bytes; computed in ``pool`` when one is given)."""
    ex = _Export()
    hashing = _Hashing(pool)
    for name in TABLES:
        _read_table(ex, folder, name, cmap.for_table(name), hashing, allow_outside)
    return ex, hashing


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise DataValidationError(pd.DataFrame([{
            "file": str(folder), "row": None, "column": "", "value": "",
            "rule": "data folder does not exist (or is not a folder)"}]))
    return folder


def _the_map(folder: Path, column_map) -> ColumnMap:
    """The column map given, or the folder's own ``column_map.yaml``."""
    if column_map is None and (folder / "column_map.yaml").exists():
        column_map = folder / "column_map.yaml"
    return column_map if isinstance(column_map, ColumnMap) else read_column_map(column_map)


def read_export(path: str | Path, *, column_map: str | Path | dict | ColumnMap | None = None,
                allow_outside: bool = False) -> tuple[dict[str, pd.DataFrame], dict[str, str], pd.DataFrame]:
    """Read the contract's tables from a folder as the loader does (every format it reads, through the column
    map's file and sheet names), without validating them.

    Parameters
    ----------
    path : str or Path
        The folder.
    column_map : str, Path, dict or ColumnMap, optional
        As for :func:`load_programme` (default: ``column_map.yaml`` in the folder, if there).
    allow_outside : bool
        Let the column map name files outside the folder.

    Returns
    -------
    tables : dict
        Table name -> cells as read, under the provider's column names (text for CSV; native numbers and
        dates for Excel, SPSS, Stata and Parquet).  Only the cells are read: SPSS/Stata labels, Parquet
        metadata, other sheets and cell comments are not part of them.
    files : dict
        Table name -> the file it was read from.
    problems : DataFrame
        Files that could not be read (or are damaged), as :data:`~dapp_eval.errors.PROBLEM_COLUMNS`;
        a table with such a problem is not in ``tables``.

    Examples
    --------
    >>> tables, files, problems = read_export("data_synthetic")
    >>> files["referrals"], len(tables["referrals"]), problems.empty
    ('referrals.csv', 2000, True)
    """
    folder = _folder(path)
    ex, _hash = _read_export(folder, _the_map(folder, column_map), allow_outside=allow_outside)
    tables = {name: raw for name, raw in ex.tables.items() if name not in ex.failed}
    return tables, ex.files, ex.problem_frame()


def load_programme(path: str | Path, *, column_map: str | Path | dict | None = None,
                   check_identifiers: bool = True, allow_outside: bool = False) -> ProgrammeData:
    """Load and validate a programme data folder.

    Parameters
    ----------
    path : str or Path
        Folder holding ``sites``, ``referrals`` and optionally ``sessions``,
        ``risk_assessments``, ``partners``, ``partner_surveys``,
        ``incidents`` and (contract version 2) ``children``,
        ``partner_support``, ``capacity`` and ``feedback`` as .csv, .xlsx, .sav, .dta or .parquet files (or the
        file names a column map gives).
    column_map : str, Path or dict, optional
        Column-map YAML that renames and recodes a provider's export; if not
        given and the folder holds ``column_map.yaml``, that is used.
    check_identifiers : bool
        Refuse tables that contain direct identifiers (names, dates of birth,
        postcodes, phone numbers, ...), found by column name or in any cell.
        See :mod:`dapp_eval.data.identifiers`.
    allow_outside : bool
        Let the column map name files outside ``path`` (after resolving
        ``..`` and symbolic links); refused by default.

    Returns
    -------
    ProgrammeData

    Raises
    ------
    DataValidationError
        Listing every violation in every file (file, row, column, value, rule).

    Examples
    --------
    >>> data = load_programme("data_synthetic")
    >>> list(data.tables())  # doctest: +NORMALIZE_WHITESPACE
    ['sites', 'referrals', 'sessions', 'risk_assessments', 'partners', 'partner_surveys', 'incidents',
     'children', 'partner_support', 'capacity', 'feedback']
    >>> len(data.referrals)
    2000
    """
    folder = _folder(path)
    cmap = _the_map(folder, column_map)
    # every file found is hashed, which differs from hashing only the files read when one cannot be read, but
    # then the load fails and the hash is never used
    with ThreadPoolExecutor(max_workers=1) as pool:
        ex, hashing = _read_export(folder, cmap, allow_outside=allow_outside, pool=pool)
    _refuse_value_headers(ex)
    if check_identifiers:
        _scan_identifiers(ex, cmap)
    unread = [f"required table {name} is missing from the folder" for name in ex.files if name not in ex.tables]
    typed, problems, log = validate_tables(ex.tables, files=ex.files, column_map=cmap, _factors=ex.factors)
    if unread and len(problems):  # the file is there but could not be read: that problem is already listed
        problems = problems[~problems["rule"].isin(unread)].reset_index(drop=True)
    if ex.notes:
        log = pd.concat([pd.DataFrame(ex.notes, columns=["file", "note", "n"]), log], ignore_index=True)
    if ex.problems:
        problems = pd.concat([*[p for p in ex.problems if len(p)], problems], ignore_index=True)
        problems["row"] = pd.to_numeric(problems["row"], errors="coerce").astype("Int64")
    if len(problems):
        raise DataValidationError(_in_providers_words(problems, cmap, ex.files, ex.segments, folder))
    for df in typed.values():
        del df["_row"]  # in place: these frames are ours, and dropping would copy every column
    sites = typed["sites"]
    if len(sites) > 1 and not sites["site_id"].is_monotonic_increasing:
        # sites in site_id order, whatever order the file lists them in: every page, by-site table and
        # chart then comes out in the same order from a re-sorted export
        typed["sites"] = sites.sort_values("site_id", kind="mergesort").reset_index(drop=True)
    return ProgrammeData(**typed, source=str(path), load_log=log, input_hash=hashing.hasher.hexdigest(),
                         files={name: label for name, label in ex.files.items() if name in typed})


def _refuse_value_headers(ex: _Export) -> None:
    """A header row holding values (a file saved without it) is refused, and its table checked no further, so
    that no other message repeats its "column names"."""
    for name in list(ex.tables):
        heads = header_problems(ex.tables[name].columns, file=ex.files[name])
        if len(heads):
            ex.problems.append(heads)
            del ex.tables[name]
            ex.factors.pop(name, None)


def _scan_identifiers(ex: _Export, cmap: ColumnMap) -> None:
    """Refuse tables holding direct identifiers, by column name or in any cell (multi-select cells part by part,
    as the map splits and recodes them)."""
    for name, raw in ex.tables.items():
        tmap = cmap.for_table(name)
        renamed = raw.copy(deep=False)  # new labels, same data
        renamed.columns = [tmap.columns.get(c, c) for c in raw.columns]
        distinct = [(f.codes, f.uniq, f.arrow) for f in ex.factors.get(name, [])] or None
        for c in [c for c in tmap.multi if c in renamed.columns]:
            renamed[c] = recode(_cells(_as_object(renamed[c]))[0], None, tmap.multi[c])[0]
            distinct = None  # the reader's distinct cells no longer describe this column
        found = identifier_problems(renamed, file=ex.files[name], table=name, allow=cmap.allow_columns,
                                    numbers=cmap.number_columns, _distinct=distinct, recode=tmap.values)
        if len(found):
            ex.problems.append(found)

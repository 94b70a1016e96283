"""Property-based tests of the loader: corrupted folders never crash it.

Start from a valid programme folder (the hand-made MINI fixture, or a small
synthetic one), apply random corruptions a real export might suffer (cells
blanked, text typed into numbers / dates / yes-no columns, dates shuffled
between rows and columns, rows duplicated or deleted, columns dropped or
renamed, files re-encoded or truncated, stray delimiters and quotes), and
check that :func:`dapp_eval.load_programme` either returns a ProgrammeData
that accounts for every row in the files, or raises a DataValidationError
whose ``.problems`` names file, row, column, value and rule.  Any other
exception fails the test.

The hypothesis settings are fixed (``derandomize=True``, no example
database), so every run tries the same cases: 160 + 60 + 40 + 40 = 300.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINI
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from dapp_eval.data.io import ProgrammeData, load_programme
from dapp_eval.data.schema import TABLES
from dapp_eval.errors import PROBLEM_COLUMNS, DataValidationError

# one fixed profile for every test here: the same cases on every run and machine
LOADER_PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dapp_eval_loader", LOADER_PROFILE)

N_CORRUPTED = 160
N_DUPLICATED = 60
N_TRUNCATED = 40
N_INJECTED = 40

FILES = [f"{name}.csv" for name in TABLES]
JUNK = [
    "abc", "twenty", "12.5", "-3", "0", "+5", "5.", ".5", "1e400", "inf", "-Infinity", "NaN", "nan", "None",
    "NULL", "N/A", "#VALUE!", "yes", "TRUE", "perhaps", "2023-13-45", "2023-02-30", "31/12/2023", "2023-04",
    "Apr 2023", "2023", "0001-01-01", "9999-12-31", "2023-04-01T10:00", "99999999999999999999",
    "-99999999999999999999", "1_000", "\u22121", "\u00bd", "\u0661\u0662", "  ", "\u00e9", "\u65e5\u672c",
    "\U0001f600", "1,5", '"', "'", ";", 'a"b', "line\nbreak", "cr\rreturn", "\t", "=1+1", "0x1F", "R1", "P1",
    "S1", "V1", "I1", "DASH", "group", "x" * 300,
]
NEW_NAMES = ["", " ", "Unnamed: 0", "site_id", "referral_id", "age", "Surname", "DOB", "Postcode",
             "REFERRAL_ID", " referral_date ", "notes", "referral_id.1", "col with spaces", "\u00e9t\u00e9"]
ENCODINGS = [("latin-1", "Zo\u00eb \u00a3"), ("cp1252", "Zo\u00eb \u2013 \u2018q\u2019 \u00a3"),
             ("utf-16", "Zo\u00eb \u2013 \u65e5\u672c"), ("utf-16-le", "Zo\u00eb"), ("utf-8-sig", "Zo\u00eb")]
TOKENS = [",", '"', '""', "\n", "\r", "\r\n", ";", "\t", "\x00", ",,", '"x,y"', "\ufeff", "\\"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------------------
# base folders and corruptions
# ---------------------------------------------------------------------------


class _Bases(dict):
    def __repr__(self):  # keep hypothesis' reports short
        return "<valid base folders>"


@pytest.fixture(scope="session")  # session: the long tests below are work units of their own (UNIT_SECONDS in conftest.py)
def bases(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The valid starting folders as file name -> bytes: MINI and a synthetic one."""
    from dapp_eval.synthetic import generate

    synth = tmp_path_factory.mktemp("synth60")
    generate(synth, referrals=60, sites=2, seed=11)
    out = _Bases(mini={name: text.encode("utf-8") for name, text in MINI.items()},
                 synthetic={name: (synth / name).read_bytes() for name in FILES})
    for files in out.values():  # both are valid to start with
        with tempfile.TemporaryDirectory() as tmp:
            assert isinstance(load_programme(_write(Path(tmp), files)), ProgrammeData)
    return out


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _rows(data: bytes) -> list[list[str]] | None:
    try:
        return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error):
        return None


def _unrows(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _pick(seq, i):
    return seq[i % len(seq)] if seq else None


# Byte-level corruptions: (data, *choices) -> the file's new bytes, or None to leave it as it is.


def _cut_multibyte(data: bytes) -> bytes:
    """Cut in the middle of a multi-byte character (one is added to the first data row if there is none)."""
    if not re.search(rb"[\xc0-\xff]", data):
        rows = _rows(data)
        if rows and len(rows) > 1 and rows[1]:
            rows[1][-1] = rows[1][-1] + "\u00e9\u00e9"
            data = _unrows(rows)
    m = re.search(rb"[\xc0-\xff]", data)
    return data[: m.start() + 1] if m else data[:-1]


def _truncate(data: bytes, pos: int) -> bytes:
    """Empty file, header only, a cut multi-byte character, or a cut anywhere."""
    mode, pos = pos % 5, pos // 5
    if mode == 0:
        return b""
    if mode == 1:
        return data.split(b"\n", 1)[0] + b"\n"  # header only
    if mode == 2:
        return _cut_multibyte(data)
    return data[: pos % max(len(data), 1)]


def _inject(data: bytes, pos: int, t: int) -> bytes:
    """A stray delimiter, quote, line break, NUL or BOM anywhere in the file."""
    token = _pick(TOKENS, t).encode("utf-8")
    at = pos % (len(data) + 1)
    return data[:at] + token + data[at:]


def _encode(data: bytes, e: int) -> bytes | None:
    """Re-saved in another encoding, with non-ASCII text in a cell (site_name in sites.csv)."""
    enc, text = _pick(ENCODINGS, e)
    rows = _rows(data)
    if rows is None:
        return None
    if len(rows) > 1 and rows[1]:
        rows[1][min(1, len(rows[1]) - 1)] = text
    return _unrows(rows).decode("utf-8").encode(enc, errors="replace")


_BYTE_CORRUPTIONS = {"truncate": _truncate, "inject": _inject, "encode": _encode}


# Row-level corruptions: (header, body, *choices) -> the file's new rows, or None to leave it as it is.
# ``body`` may be changed in place.


def _blank(header, body, r, c):
    if not body:
        return None
    row = _pick(body, r)
    if row:
        row[c % len(row)] = ""
    return [header, *body]


def _junk(header, body, r, c, j):
    if not body:
        return None
    row = _pick(body, r)
    if row:
        row[c % len(row)] = _pick(JUNK, j)
    return [header, *body]


def _swap_cells(header, body, r, c1, c2):
    """Two cells of one row: types swapped."""
    if not body:
        return None
    row = _pick(body, r)
    if row:
        a, b = c1 % len(row), c2 % len(row)
        row[a], row[b] = row[b], row[a]
    return [header, *body]


def _shuffle_dates(header, body, a, b):
    """Two date cells of the file, any rows / columns."""
    cells = [(i, j) for i, row in enumerate(body) for j, v in enumerate(row) if _DATE.match(v)]
    if cells:
        (i1, j1), (i2, j2) = _pick(cells, a), _pick(cells, b)
        body[i1][j1], body[i2][j2] = body[i2][j2], body[i1][j1]
    return [header, *body]


def _dup_row(header, body, r, where):
    if not body:
        return None
    i = r % len(body)
    body.insert(i + 1 + where % (len(body) - i), list(body[i]))
    return [header, *body]


def _delete_row(header, body, r):
    if not body:
        return None
    del body[r % len(body)]
    return [header, *body]


def _drop_col(header, body, c):
    if not header:
        return None
    j = c % len(header)
    return [[v for k, v in enumerate(row) if k != j] for row in [header, *body]]


def _rename_col(header, body, c, n):
    if not header:
        return None
    header[c % len(header)] = _pick(NEW_NAMES, n)
    return [header, *body]


def _extra_col(header, body, v):
    """A column the contract does not know, some of its values personal."""
    value = _pick(["x", "", "AB1 2CD", "someone@example.org", "07700 900123", "Smith", "1;2"], v)
    return [[*header, "notes"], *[[*row, value] for row in body]]


_ROW_CORRUPTIONS = {"blank": _blank, "junk": _junk, "swap_cells": _swap_cells, "shuffle_dates": _shuffle_dates,
                    "dup_row": _dup_row, "delete_row": _delete_row, "drop_col": _drop_col,
                    "rename_col": _rename_col, "extra_col": _extra_col}


def _corrupt_rows(data: bytes, kind: str, args) -> bytes | None:
    """Parse the CSV, apply a row-level corruption, write it back (None: leave the file as it is)."""
    rows = _rows(data)
    corrupt = _ROW_CORRUPTIONS.get(kind)
    if not rows or corrupt is None:
        return None
    new = corrupt(rows[0], rows[1:], *args)
    return None if new is None else _unrows(new)


def apply(files: dict[str, bytes], op: tuple) -> dict[str, bytes]:
    """Apply one corruption (a tuple of a kind and integer choices) to a copy of ``files``."""
    files = dict(files)
    kind, fi, *args = op
    name = _pick(sorted(files), fi)
    if name is None:
        return files
    if kind == "delete_file":
        del files[name]
        return files
    if kind in _BYTE_CORRUPTIONS:
        new = _BYTE_CORRUPTIONS[kind](files[name], *args)
    else:
        new = _corrupt_rows(files[name], kind, args)
    if new is not None:
        files[name] = new
    return files


# Every choice is built from booleans.  Hypothesis sometimes swaps a drawn integer for a
# literal found in the source of the modules loaded so far, so integer draws would differ
# between running this file alone and inside the whole suite; boolean draws do not.
_BITS = 14


def _bits_to_int(bits: list[bool]) -> int:
    return sum(int(b) << k for k, b in enumerate(bits))


_i = st.lists(st.booleans(), min_size=_BITS, max_size=_BITS).map(_bits_to_int)  # 0 .. 16383


def _choice(seq):
    seq = list(seq)
    return _i.map(lambda k: seq[k % len(seq)])


def _ops(kinds: dict[str, int]):
    """(kind, file index, *integer choices) with as many choices as the kind uses."""
    return st.tuples(_choice(kinds), st.lists(_i, min_size=5, max_size=5)).map(
        lambda t: (t[0], *t[1][: kinds[t[0]] + 1]))


CELL_OPS = _ops({"blank": 2, "junk": 3, "swap_cells": 3, "shuffle_dates": 2, "dup_row": 2, "delete_row": 1,
                 "drop_col": 1, "rename_col": 2, "extra_col": 1})
BYTE_OPS = _ops({"encode": 1, "truncate": 1, "inject": 2, "delete_file": 0})
BASES = _choice(["mini", "synthetic"])


# ---------------------------------------------------------------------------
# the property
# ---------------------------------------------------------------------------


def _decoded_records(data: bytes) -> int | None:
    """Data records in a CSV file as Python's csv module reads it (None if undecodable)."""
    for enc in ("utf-8-sig", "utf-16"):
        if enc == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return max(len(list(csv.reader(io.StringIO(text, newline="")))) - 1, 0)
    return None


def _event(what: str) -> None:
    if currently_in_test_context():  # counted in --hypothesis-show-statistics
        event(what)


def load_or_problems(files: dict[str, bytes]) -> ProgrammeData | pd.DataFrame:
    """Load the folder; return the ProgrammeData or the problems, after checking either."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write(Path(tmp), files)
        try:
            data = load_programme(folder)
        except DataValidationError as exc:
            p = exc.problems
            assert list(p.columns) == PROBLEM_COLUMNS
            assert len(p) > 0
            assert p["file"].map(lambda v: isinstance(v, str) and v.strip() != "").all(), p
            assert p["rule"].map(lambda v: isinstance(v, str) and v.strip() != "").all(), p
            assert p["column"].map(lambda v: isinstance(v, str)).all(), p
            assert p["value"].map(lambda v: isinstance(v, str)).all(), p
            rows = p["row"].dropna()
            assert (rows >= 1).all() and (rows == rows.round()).all(), p
            assert str(exc).startswith(f"{len(p)} problem")
            _event("refused with a DataValidationError")
            return p
    _event("loaded")
    # loaded: every row of every file is accounted for (kept, or logged as a trailing blank row)
    log = data.load_log
    for name, df in data.tables().items():
        n_records = _decoded_records(files[f"{name}.csv"])
        trailing = log.loc[(log["file"] == f"{name}.csv") & (log["note"] == "trailing blank rows ignored"), "n"].sum()
        assert len(df) + trailing == n_records, (name, len(df), trailing, n_records)
        for col in TABLES[name].columns:  # no merged lines hiding in a text cell
            if col.kind == "str" and col.name in df:
                assert not df[col.name].dropna().str.contains(r"[\r\n]").any(), (name, col.name)
    return data


@settings(LOADER_PROFILE, max_examples=N_CORRUPTED)
@given(base=BASES, ops=st.lists(CELL_OPS, min_size=1, max_size=3),
       last=st.tuples(st.booleans(), BYTE_OPS).map(lambda t: t[1] if t[0] else None))
def test_corrupted_folder_loads_or_names_every_problem(bases, base, ops, last):
    files = bases[base]
    for op in [*ops, *([last] if last else [])]:
        files = apply(files, op)
        event(f"corruption: {op[0]}")
    load_or_problems(files)


@settings(LOADER_PROFILE, max_examples=N_DUPLICATED)
@given(base=BASES, table=_choice(TABLES), r=_i, where=_i)
def test_duplicated_row_is_reported_with_both_rows(bases, base, table, r, where):
    files = bases[base]
    assume(f"{table}.csv" in files)  # the mini folder has no tables of contract version 2
    body = _rows(files[f"{table}.csv"])[1:]
    i = r % len(body)
    j = i + 1 + where % (len(body) - i)  # 0-based position of the copy among the data rows
    files = apply(files, ("dup_row", sorted(files).index(f"{table}.csv"), r, where))
    p = load_or_problems(files)
    assert isinstance(p, pd.DataFrame), "a duplicated row loaded without complaint"
    key = "+".join(TABLES[table].key)
    hit = p[(p["file"] == f"{table}.csv") & (p["column"] == key) & p["rule"].str.startswith("duplicate key")]
    assert len(hit) == 1, p.to_string()
    # spreadsheet rows: header is row 1, so data row k (0-based) is row k + 2
    assert hit["row"].iloc[0] == j + 2
    assert f"first seen in row {i + 2}" in hit["rule"].iloc[0]


@settings(LOADER_PROFILE, max_examples=N_TRUNCATED)
@given(base=BASES, f=_i, pos=_i)
def test_truncated_file_loads_or_names_every_problem(bases, base, f, pos):
    files = apply(bases[base], ("truncate", f, pos))
    out = load_or_problems(files)
    name = _pick(sorted(bases[base]), f)
    cut = files[name]
    if isinstance(out, ProgrammeData) and not cut.endswith(b"\n"):
        # a cut that happens to leave a well-formed last row (e.g. right after a comma) can load,
        # but never silently: the load log says the last line may be incomplete
        notes = out.load_log.loc[out.load_log["file"] == name, "note"]
        assert notes.str.contains("last line does not end with a line break").any(), (name, cut[-40:])
    elif cut == b"":
        assert (out["file"] == name).any() and out["rule"].str.contains("empty").any()


@settings(LOADER_PROFILE, max_examples=N_INJECTED)
@given(base=BASES, f=_i, pos=_i, t=_i)
def test_stray_delimiters_and_quotes_load_or_name_every_problem(bases, base, f, pos, t):
    load_or_problems(apply(bases[base], ("inject", f, pos, t)))


# ---------------------------------------------------------------------------
# the corruptions themselves do what they say (so the properties test something)
# ---------------------------------------------------------------------------


def test_corruptions_change_the_files(bases):
    files = bases["mini"]
    sites = sorted(files).index("sites.csv")
    assert apply(files, ("truncate", sites, 0))["sites.csv"] == b""
    assert apply(files, ("truncate", sites, 1))["sites.csv"].count(b"\n") == 1
    assert apply(files, ("truncate", sites, 5 * 10 + 3))["sites.csv"] == files["sites.csv"][:10]
    cut = apply(files, ("truncate", sites, 2))["sites.csv"]
    with pytest.raises(UnicodeDecodeError):
        cut.decode("utf-8")
    assert apply(files, ("encode", sites, 2))["sites.csv"].startswith(b"\xff\xfe")
    assert "sites.csv" not in apply(files, ("delete_file", sites))
    dup = _rows(apply(files, ("dup_row", sites, 0, 0))["sites.csv"])
    assert dup[1] == dup[2] and len(dup) == 4
    assert _rows(apply(files, ("drop_col", sites, 0))["sites.csv"])[0][0] == "site_name"
    assert _rows(apply(files, ("blank", sites, 0, 0))["sites.csv"])[1][0] == ""


def test_a_silently_short_row_is_reported(bases, tmp_path):
    # a lost delimiter shifts every later cell left; the loader must not pad the row and carry on
    files = dict(bases["mini"])
    files["sessions.csv"] = files["sessions.csv"].replace(b"R1,2,2023-04-24,group,false", b"R1,2,2023-04-24,group")
    p = load_or_problems(files)
    assert isinstance(p, pd.DataFrame)
    hit = p[(p["file"] == "sessions.csv") & (p["row"] == 3)]
    assert hit["rule"].str.contains("4 fields but the header has 5").any(), p.to_string()


def test_a_stray_quote_that_merges_rows_is_reported(bases):
    files = dict(bases["mini"])
    # the quote opens at R1's site_name and closes in the next line: two lines become one record
    files["sites.csv"] = files["sites.csv"].replace(b"S1,North", b'S1,"North').replace(b"S2,South", b'S2",South')
    p = load_or_problems(files)
    assert isinstance(p, pd.DataFrame)
    assert (p["file"] == "sites.csv").any(), p.to_string()


def test_repeated_header_name_is_reported(bases):
    files = dict(bases["mini"])
    files["sessions.csv"] = files["sessions.csv"].replace(b"session_type,attended", b"session_type,session_type", 1)
    p = load_or_problems(files)
    assert isinstance(p, pd.DataFrame)
    hit = p[(p["file"] == "sessions.csv") & (p["column"] == "session_type")]
    assert hit["rule"].str.contains("more than once").any(), p.to_string()


def test_utf16_with_bom_is_read_and_logged(bases):
    files = dict(bases["mini"])
    files["sites.csv"] = files["sites.csv"].decode("utf-8").replace("North", "N\u00f6rth").encode("utf-16")
    data = load_or_problems(files)
    assert isinstance(data, ProgrammeData)
    assert data.sites.loc[0, "site_name"] == "N\u00f6rth (synthetic)"
    assert data.load_log["note"].str.contains("UTF-16").any()


@pytest.mark.parametrize(("value", "rule"), [("inf", "not a number"), ("1e400", "not a number"),
                                             ("99999999999999999999", "number too large")])
def test_infinite_and_huge_numbers_are_refused(bases, value, rule):
    files = dict(bases["mini"])
    files["referrals.csv"] = files["referrals.csv"].replace(b"verbal,0,", f"verbal,{value},".encode())
    p = load_or_problems(files)
    assert isinstance(p, pd.DataFrame)
    hit = p[(p["file"] == "referrals.csv") & (p["row"] == 3) & (p["column"] == "n_children")]
    assert hit["rule"].str.contains(rule).any(), p.to_string()


# ---------------------------------------------------------------------------
# regressions: each of these crashed the loader or loaded silently before
# ---------------------------------------------------------------------------


def _mini_with(file: str, old: str, new: str) -> dict[str, bytes]:
    files = {name: text.encode("utf-8") for name, text in MINI.items()}
    assert old.encode() in files[file], old
    files[file] = files[file].replace(old.encode(), new.encode(), 1)
    return files


def _problem(p, file, row, column, rule_part):
    hit = p[(p["file"] == file) & (p["column"] == column) & p["rule"].str.contains(rule_part, regex=False)]
    hit = hit[hit["row"].isna()] if row is None else hit[hit["row"] == row]
    assert len(hit) == 1, f"no problem {file} row {row} {column!r} '{rule_part}' in:\n{p.to_string()}"


def test_nul_character_is_reported_not_cut_off():
    # the C parser used to end the cell at the NUL: 'false\x00x' loaded as false
    files = _mini_with("sessions.csv", "R1,2,2023-04-24,group,false", "R1,2,2023-04-24,group,false\x00x")
    _problem(load_or_problems(files), "sessions.csv", 3, "", "NUL character")


def test_missing_delimiter_in_a_nullable_row_is_reported():
    # R5 ends with three empty cells; losing one comma used to load as if nothing happened
    files = _mini_with("referrals.csv", "2024-01-08,suitable,,,", "2024-01-08,suitable,,")
    _problem(load_or_problems(files), "referrals.csv", 6, "", "row has 20 fields but the header has 21")


def test_first_data_row_longer_than_header_does_not_become_an_index():
    # pandas silently turned the first column into the index and shifted every row left
    files = _mini_with("incidents.csv", "I1,E1,P1,2023-01-05,police_callout,", "I1,E1,P1,2023-01-05,police_callout,,")
    p = load_or_problems(files)
    _problem(p, "incidents.csv", 2, "", "row has 7 fields but the header has 6")
    assert set(p["file"]) == {"incidents.csv"} and len(p) == 1, p.to_string()


def test_infinite_cost_is_refused():
    files = _mini_with("sites.csv", "group,24,28000", "group,24,inf")
    _problem(load_or_problems(files), "sites.csv", 2, "annual_cost_gbp", "not a number")


def test_referrals_without_referral_id_next_to_risk_assessments():
    # the risk-assessment date check looked up referrals.referral_id without checking it exists (KeyError)
    files = _mini_with("referrals.csv", "referral_id,participant_id", "ref,participant_id")
    _problem(load_or_problems(files), "referrals.csv", 1, "referral_id", "required column is missing")


def test_blank_first_line_is_named():
    files = _mini_with("sessions.csv", "referral_id,", "\nreferral_id,")
    p = load_or_problems(files)
    _problem(p, "sessions.csv", 1, "", "first line is blank")
    assert not p["rule"].str.contains("required table sessions").any()


def test_utf16_without_bom_is_named():
    files = {name: text.encode("utf-8") for name, text in MINI.items()}
    files["partners.csv"] = MINI["partners.csv"].encode("utf-16-le")
    _problem(load_or_problems(files), "partners.csv", None, "", "UTF-16 text without a byte-order mark")


def test_file_cut_in_the_middle_of_a_character_is_named():
    text = MINI["sites.csv"].replace("North", "N\u00f6rth").encode("utf-8")
    files = {name: t.encode("utf-8") for name, t in MINI.items()}
    files["sites.csv"] = text[: text.index("\u00f6".encode()) + 1]
    p = load_or_problems(files)
    _problem(p, "sites.csv", 2, "", "cut short (truncated)")
    assert not p["rule"].str.contains("required table sites is missing").any()


def test_problem_rows_are_whole_numbers_when_file_and_identifier_problems_mix():
    files = _mini_with("partners.csv", "support_accepted\n", "support_accepted,Surname\n")
    files["partners.csv"] = files["partners.csv"].replace(b"true,true\n", b"true,true,Smith\n").replace(
        b"true,\n", b"true,,Jones\n")
    files["sites.csv"] = b"\xff" + files["sites.csv"]
    p = load_or_problems(files)
    assert str(p["row"].dtype) == "Int64"
    _problem(p, "partners.csv", 1, "Surname", "a person's name")
    _problem(p, "sites.csv", 1, "", "not UTF-8")


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet", ".dta", ".sav"])
def test_damaged_binary_file_is_a_validation_error(suffix):
    files = {name: text.encode("utf-8") for name, text in MINI.items()}
    files[f"sessions{suffix}"] = files.pop("sessions.csv")[:200]  # CSV text under a binary format's name
    p = load_or_problems(files)
    _problem(p, f"sessions{suffix}", None, "", f"file cannot be read as {suffix}")
    assert not p["rule"].str.contains("required table").any()


def test_cut_at_a_field_boundary_loads_with_a_note():
    # the last row lost its last value exactly after a comma: well formed, so it loads, but the log says so
    files = {name: text.encode("utf-8") for name, text in MINI.items()}
    files["partner_surveys.csv"] = files["partner_surveys.csv"][: -len(b"65.5\n")]
    data = load_or_problems(files)
    assert isinstance(data, ProgrammeData)
    assert pd.isna(data.partner_surveys["space_for_action"].iloc[1])
    log = data.load_log
    assert log.loc[log["file"] == "partner_surveys.csv", "note"].str.contains("last line does not end").any()

"""Detect direct identifiers in a table: by column name and by every cell's content.

This is the data layer's detector, used by the loader (:mod:`dapp_eval.io`),
which refuses a table holding personal data, and by :mod:`dapp_eval.privacy`,
which pseudonymises an export.  It imports nothing but the contract
(:mod:`dapp_eval.schema`).

Content rules (each applied to every cell of every column, vectorised; a
column is refused when *any* cell matches, and the problem gives the count
and the first spreadsheet row, never the value):

- NHS numbers: ten digits (spaces or hyphens allowed, or an Excel number)
  whose last digit is the modulus-11 check digit;
- UK phone numbers: ``0`` or ``+44``/``0044`` then 10-11 digits starting
  01, 02, 03 or 07 (a number stored as a number, without its leading zero, is
  a count, not a phone number);
- e-mail addresses, URLs (``http://``, ``https://``, ``www.``);
- full UK postcodes (outward and inward code; a district alone such as
  ``CV6`` is not personal);
- National Insurance numbers (``AB 12 34 56 C``);
- police crime / occurrence references (``CR/012345/24``, ``42/123456/24``,
  PNC IDs ``98/123456A``);
- dates of birth: a date column outside the contract whose dates imply ages
  of 10-100 at the table's own reference date (referral, incident, ...).

Name rules cover names, dates of birth, postcodes, addresses and locations,
phone numbers, e-mail, NHS and National Insurance numbers, police references
and free text (``notes``); a yes/no flag (``telephone_contact_made``,
``email_sent``) is never refused by its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import TABLES

__all__ = ["identifier_problems", "scan_column", "mask_identifiers", "looks_identifying", "norm_name",
           "name_rule", "ID_COLUMNS", "FLAG_WORDS", "IDENTIFIER_RULES"]

#: contract columns that hold pseudonymous identifiers (hashed by pseudonymise)
ID_COLUMNS = ("participant_id", "referral_id", "partner_id", "incident_id", "event_id")
#: the words a yes/no flag may hold (a flag named ``email_sent`` is not an e-mail address)
FLAG_WORDS = frozenset({"true", "false", "yes", "no", "y", "n", "1", "0", "t", "f", "1.0", "0.0"})

_ALL_CONTRACT = {c for t in TABLES.values() for c in t.names}
#: contract columns whose values are free-ish text (checked for spreadsheet formulas too)
_CONTRACT_TEXT = {c.name for t in TABLES.values() for c in t.columns if c.kind == "str"} - set(ID_COLUMNS)


def norm_name(name) -> str:
    """A column name in lower case with runs of other characters as one ``_``.

    >>> norm_name(" D.O.B. ")
    'd_o_b'
    """
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------

_PERSON_WORDS = ("client|perpetrator|perp|victim|survivor|offender|suspect|service_?user|partner|child|children|"
                 "parent|mother|father|person|complainant|subject")
_NAME_RULES: list[tuple[str, re.Pattern]] = [
    ("a person's name", re.compile(
        rf"^((first|last|sur|given|family|full|fore|middle|maiden|{_PERSON_WORDS}|perp\w*)_?)?names?$"
        r"|^(forename|forenames|surname|surnames|initials|alias|aka|known_as|also_known_as)$"
        rf"|^({_PERSON_WORDS})s?(_(full|details|surname|forename))?$|(^|_)(fore|sur)names?($|_)")),
    ("a date of birth", re.compile(
        r"(^|_)(dob|d_o_b|birth|births|birthday|birthdate|born|date_?of_?birth|birth_?date)($|_)")),
    ("a postcode", re.compile(r"(^|_)(post_?code|postal_?code|zip(_?code)?)$")),  # not postcode_district
    ("an address or location", re.compile(
        r"(^|_)(address|addresses|addr|street|house_?(number|name)|address_?line_?\d|location|home|residence)($|_)")),
    ("a phone number", re.compile(r"(^|_)(phone|telephone|tel|mobile|landline|contact_?(no|number))($|_)")),
    ("an e-mail address", re.compile(r"(^|_)e_?mail(s|_?address)?($|_)")),
    ("an NHS number", re.compile(r"^nhs$|(^|_)nhs_?(no|number|num|id)($|_)")),
    ("a National Insurance number", re.compile(r"(^|_)(ni_?(no|number|num)|nino|national_?insurance)($|_)")),
    ("a police or court reference", re.compile(
        r"(^|_)(pnc|cro|crime_?(ref|reference|no|number|num|id)|occurrence|occurrences|occurrence_?(no|number|ref)"
        r"|police_?ref(erence)?|warrant|custody_?(no|number|ref))($|_)|^crimes?$")),
    ("free text (notes can hold names, phone numbers and addresses)", re.compile(
        r"(^|_)(notes?|comments?|free_?text|narrative|remarks?|observations?|case_?notes?|details|description"
        r"|summary)$")),
]
_NOT_DOB = re.compile(r"(^|_)(country|nation|nationality|place|sex|gender|weight)($|_)")


def name_rule(name) -> str | None:
    """What a column's name says it holds (``None`` when nothing identifying).

    >>> name_rule("Crime No"), name_rule("date_born"), name_rule("site_name")
    ('a police or court reference', 'a date of birth', None)
    """
    n = norm_name(name)
    for what, pat in _NAME_RULES:
        if pat.search(n):
            if what == "a date of birth" and _NOT_DOB.search(n):
                continue
            return what
    return None


# ---------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------

_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_URL = r"(?i:https?://|ftp://|www\.[a-z0-9-]+\.)"
# uppercase anywhere in a cell, any case when the postcode is the whole cell
_PC = r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = rf"(?<![A-Za-z0-9]){_PC}(?![A-Za-z0-9])|^[ \t]*(?i:{_PC})[ \t]*$"
_NINO_CORE = r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]"
_NINO = rf"(?<![A-Za-z0-9]){_NINO_CORE}(?![A-Za-z0-9])|^[ \t]*(?i:{_NINO_CORE})[ \t]*$"
_CRIME = (r"(?i:(?<![A-Za-z0-9])(?:CR|CRN|CRIS|OCC|OC|INC|CAD|URN|LOG) ?[/:#-]? ?[0-9]{2,8}(?:[/-][0-9]{2,8}){1,2}"
          r"(?![0-9]))|(?<![0-9/])[0-9]{1,2}/[0-9]{5,8}/[0-9]{2}(?![0-9/])|(?<![0-9/])[0-9]{2}/[0-9]{1,7}[A-Z](?![A-Za-z0-9])")
# candidates: a run of digits with separators; checked afterwards on the digits alone
_PHONE_CAND = r"(?<![0-9A-Za-z+.])(?:\+44|0044|0)[ ()\-]*[0-9](?:[ ()\-.]?[0-9]){8,10}(?![0-9])"
_NHS_CAND = r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])"
_FORMULA = r"^ *[=+\-@\t\r]"


@dataclass(frozen=True)
class _Rule:
    what: str          # plural noun phrase used in messages
    pattern: str       # searched anywhere in a cell
    check: str = ""    # extra check on the matched text: "nhs" or "phone"


IDENTIFIER_RULES: tuple[_Rule, ...] = (
    _Rule("NHS numbers", _NHS_CAND, "nhs"),
    _Rule("phone numbers", _PHONE_CAND, "phone"),
    _Rule("e-mail addresses", _EMAIL),
    _Rule("full UK postcodes", _POSTCODE),
    _Rule("National Insurance numbers", _NINO),
    _Rule("police crime or occurrence references", _CRIME),
    _Rule("URLs", _URL),
)
_COMPILED = [(r, re.compile(r.pattern, re.M)) for r in IDENTIFIER_RULES]


def _nhs_ok(candidates: pd.Series) -> np.ndarray:
    """Modulus-11 check of ten-digit strings (separators removed), vectorised."""
    digits = candidates.str.replace(r"[ -]", "", regex=True)
    ok = digits.str.len().eq(10).to_numpy(dtype=bool)
    if not ok.any():
        return ok
    d = np.frombuffer("".join(digits[ok]).encode("ascii"), dtype=np.uint8).reshape(-1, 10).astype(int) - 48
    check = 11 - (d[:, :9] @ np.arange(10, 1, -1)) % 11
    check = np.where(check == 11, 0, check)
    good = (check != 10) & (check == d[:, 9])
    out = np.zeros(len(digits), dtype=bool)
    out[np.flatnonzero(ok)] = good
    return out


def _phone_ok(candidates: pd.Series) -> np.ndarray:
    digits = candidates.str.replace(r"[^0-9+]", "", regex=True)
    digits = digits.str.replace(r"^(?:\+44|0044)0?", "0", regex=True)
    return digits.str.fullmatch(r"0[1237][0-9]{8,9}").to_numpy(dtype=bool)


def _conv(v) -> str:
    if isinstance(v, str):
        return v.strip()
    if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(v) < 2 ** 63:
        return str(int(v))
    if isinstance(v, pd.Timestamp) or hasattr(v, "strftime"):
        try:
            return v.strftime("%Y-%m-%d")
        except ValueError:
            return str(v).strip()
    return str(v).strip()


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped text: Excel/Stata numbers as whole numbers where whole, dates as ISO, empty as ''."""
    codes, uniq = _uniques(values)
    return pd.Series(np.append(uniq.to_numpy(), "")[codes], dtype=object).str.strip()


def _uniques(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct cell texts): ``codes`` index the texts; an empty cell has code ``-1``.

    Text cells are taken as they are (the rules search inside a cell, so surrounding white space does
    not matter); numbers and dates from Excel and other formats become text (see ``_conv``).
    """
    codes, uniq = pd.factorize(pd.Series(values).reset_index(drop=True).to_numpy(dtype=object), sort=False)
    if pd.api.types.infer_dtype(uniq, skipna=False) == "string":
        return codes, pd.Series(uniq, dtype=object)
    return codes, pd.Series([_conv(v) for v in uniq], dtype=object)


# RE2 (through pyarrow, vectorised in C++) finds each rule's candidate texts; the exact rule (with the
# look-arounds RE2 lacks, and the check digit) then runs in Python on those candidates only.  For
# e-mail addresses and URLs the RE2 pattern is already the exact rule.
_PREFILTERS = {
    "NHS numbers": (r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}", False),
    "phone numbers": (r"(?:\+44|0044|0)[ ()-]*[0-9](?:[ ()\-.]?[0-9]){8,10}", False),
    "e-mail addresses": (_EMAIL, True),
    "full UK postcodes": (r"(?i:[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})", False),
    "National Insurance numbers": (r"(?i:[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])", False),
    "police crime or occurrence references": (
        r"(?i:(?:CR|CRN|CRIS|OCC|OC|INC|CAD|URN|LOG) ?[/:#-]? ?[0-9]{2,8}[/-][0-9]{2,8})"
        r"|[0-9]{1,2}/[0-9]{5,8}/[0-9]{2}|[0-9]{2}/[0-9]{1,7}[A-Za-z]", False),
    "URLs": (r"(?i:https?://|ftp://|www\.[a-z0-9-]+\.)", True),
}


_ANY_PREFILTER = "|".join(pre for pre, _exact in _PREFILTERS.values())


def _checked(sub: pd.Series, rule: _Rule) -> np.ndarray:
    """Which texts hold a candidate that passes the rule's check (NHS check digit, phone number length)."""
    test = _nhs_ok if rule.check == "nhs" else _phone_ok
    first = sub.str.extract(f"({rule.pattern})", flags=re.M)[0]
    ok = first.notna().to_numpy()
    ok[ok] = test(first[ok])
    # a cell whose first candidate fails may hold a second one that passes
    again = ~ok & (sub.str.count(rule.pattern) > 1).to_numpy()
    if again.any():
        found = sub[again].str.extractall(f"({rule.pattern})")
        good = found.index.get_level_values(0)[test(found[0])]
        ok |= sub.index.isin(good)
    return ok


#: below this many texts a chunked array is scanned as one array: each chunk's scan compiles the
#: prefilter again (~0.15 ms) and a thread pool costs more than it saves (a small folder has ~70 columns)
_SIDE_BY_SIDE_MIN = 1 << 16


def _prefilter(lines) -> np.ndarray:
    """Mask of the texts that any rule's prefilter matches; the chunks of a large chunked array side by side
    (RE2 runs in pyarrow's C++ without the GIL)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    def one(arr) -> np.ndarray:
        return pc.match_substring_regex(arr, _ANY_PREFILTER).to_numpy(zero_copy_only=False)

    if not isinstance(lines, pa.ChunkedArray) or lines.num_chunks < 2:
        return one(lines)
    if len(lines) < _SIDE_BY_SIDE_MIN:
        return one(lines.combine_chunks())
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        return np.concatenate(list(pool.map(one, lines.chunks)))


def _hits(lines) -> dict[str, np.ndarray]:
    """Rule -> mask of the texts in ``lines`` (a list of str or a pyarrow string array) that hold such an identifier."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, np.ndarray] = {}
    if not len(lines):
        return out
    if not isinstance(lines, (pa.Array, pa.ChunkedArray)):
        lines = pa.array(lines, type=pa.string())
    # one pass over everything with all the prefilters at once; then each rule on the few candidates
    some = np.flatnonzero(_prefilter(lines))
    if not len(some):
        return out
    texts = lines.take(pa.array(some)).to_pylist()
    arr = pa.array(texts, type=pa.string())
    for rule, pat in _COMPILED:
        pre, exact = _PREFILTERS[rule.what]
        cand = pc.match_substring_regex(arr, pre).to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(cand)
        if not len(idx):
            continue
        if exact:
            mask = np.zeros(len(lines), dtype=bool)
            mask[some[idx]] = True
            out[rule.what] = mask
            continue
        sub = pd.Series([texts[i] for i in idx], dtype=object)
        idx = some[idx]
        hit = _checked(sub, rule) if rule.check else sub.str.contains(pat).to_numpy(dtype=bool)
        if hit.any():
            mask = np.zeros(len(lines), dtype=bool)
            mask[idx[hit]] = True
            out[rule.what] = mask
    return out


def _cell_mask(codes: np.ndarray, uniq_mask: np.ndarray) -> np.ndarray:
    return np.append(uniq_mask, False)[codes]


def scan_table(df: pd.DataFrame, _distinct: list | None = None) -> list[list[tuple[str, int, int]]]:
    """:func:`scan_column` for every column of ``df`` at once (one regex pass per rule over the whole table).

    ``_distinct`` (internal): per column, ``(codes, distinct cells, the same as a pyarrow array)`` from
    the CSV reader, so that the cells are not hashed again.
    """
    import pyarrow as pa

    if _distinct is not None and len(_distinct) == df.shape[1]:
        per_col = [(codes, uniq) for codes, uniq, _arrow in _distinct]
        arrays = [arrow for _codes, _uniq, arrow in _distinct]
    else:
        per_col = [_uniques(df.iloc[:, j]) for j in range(df.shape[1])]
        arrays = [pa.array(uniq.tolist(), type=pa.string()) for _codes, uniq in per_col]
    bounds = np.cumsum([0] + [len(uniq) for _codes, uniq in per_col])
    hits = _hits(pa.chunked_array(arrays, type=pa.string()) if arrays else [])
    out = []
    for j, (codes, _uniq) in enumerate(per_col):
        found = []
        for what, mask in hits.items():
            cells = _cell_mask(codes, mask[bounds[j]:bounds[j + 1]])
            if cells.any():
                found.append((what, int(cells.sum()), int(np.argmax(cells))))
        out.append(found)
    return out


def scan_column(values: pd.Series) -> list[tuple[str, int, int]]:
    """Identifier rules that some cell of a column breaks.

    Parameters
    ----------
    values : Series
        Cells as read (text, or native numbers and dates from Excel and other formats).

    Returns
    -------
    list of (what, n_cells, first_position)
        One entry per rule with at least one matching cell; ``first_position``
        is the 0-based position of the first such cell.

    Examples
    --------
    >>> scan_column(pd.Series(["ok", "ring 07700 900123", "", "a@b.org"]))
    [('phone numbers', 1, 1), ('e-mail addresses', 1, 3)]
    >>> scan_column(pd.Series([9434765919, 12345]))  # an NHS number stored as an Excel number
    [('NHS numbers', 1, 0)]
    """
    return scan_table(pd.DataFrame({"x": pd.Series(values).reset_index(drop=True)}))[0]


def looks_identifying(values: pd.Series) -> np.ndarray:
    """Cell-by-cell: does the cell hold something an identifier rule matches?

    >>> looks_identifying(pd.Series(["S01", "07700 900123", "x@y.org"])).tolist()
    [False, True, True]
    """
    codes, uniq = _uniques(values)
    mask = np.zeros(len(uniq), dtype=bool)
    for m in _hits(uniq.tolist()).values():
        mask |= m
    return _cell_mask(codes, mask)


def mask_identifiers(values) -> list[str]:
    """Values to show in a message: any that looks like an identifier becomes ``(hidden: looks like an identifier)``.

    >>> mask_identifiers(["abc", "CR/000000/24"])
    ['abc', '(hidden: looks like an identifier)']
    """
    s = pd.Series(["" if v is None else str(v) for v in values], dtype=object)
    if s.empty:
        return []
    hit = looks_identifying(s)
    return [HIDDEN if h else v for v, h in zip(s.tolist(), hit)]


HIDDEN = "(hidden: looks like an identifier)"

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d")
_REF_DATES = ("referral_date", "incident_date", "session_date", "survey_date", "assessment_date", "period_end")


def parse_dates(text: pd.Series, extra_format: str | None = None) -> pd.Series:
    """Full dates in ISO or UK day-first form (never month-first), each cell on its own; times ignored."""
    text = text.astype(str).str.strip().str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?$", "", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in ((extra_format,) if extra_format else ()) + _DATE_FORMATS:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return out


def _dob_hits(values: pd.Series, ref: pd.Series | None) -> tuple[int, int] | None:
    """(n, first position) if a column of dates implies ages of 10-100 at ``ref`` (most of its dates)."""
    text = as_text(values)
    filled = text != ""
    if filled.sum() == 0:
        return None
    if not text[filled].str.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").mean() >= 0.9:
        return None
    dates = parse_dates(text)
    if dates[filled].notna().mean() < 0.9:
        return None
    at = ref.reset_index(drop=True) if ref is not None else pd.Series(pd.Timestamp.today().normalize(),
                                                                      index=dates.index)
    at = at.where(at.notna(), pd.Timestamp.today().normalize())
    years = (at - dates).dt.days / 365.25
    in_range = (years >= 10) & (years <= 100)
    if in_range.sum() == 0 or in_range[dates.notna()].mean() < 0.5:
        return None
    return int(in_range.sum()), int(np.argmax(in_range.to_numpy()))


def _ref_dates(df: pd.DataFrame) -> pd.Series | None:
    for c in _REF_DATES:
        if c in df.columns:
            return parse_dates(as_text(df[c]))
    return None


def is_flag(values: pd.Series) -> bool:
    """Whether every filled cell is a yes/no word (so the column is a flag whatever its name says)."""
    text = as_text(values).str.lower()
    text = text[text != ""]
    return bool(len(text)) and bool(text.isin(FLAG_WORDS).all())


def _way_out(kind: str) -> str:
    if kind == "name":
        return ("; drop the column from the export, run `dapp-eval pseudonymise IN OUT --key-file KEY` (which drops "
                "or pseudonymises it), or, if it is not an identifier, allow it by name under allow_columns in the "
                "column map (its content is still checked)")
    if kind == "id":
        return ("; these are direct identifiers, not pseudonyms: run `dapp-eval pseudonymise IN OUT --key-file KEY`, "
                "which replaces this column with keyed pseudonyms")
    if kind == "formula":
        return ("; a cell starting with =, +, -, @, tab or carriage return is run as a formula by spreadsheet "
                "programs: correct the value in the export")
    return ("; remove these values from the export or drop the column (`dapp-eval pseudonymise IN OUT --key-file KEY` "
            "drops columns that are not in the contract); allowing the column by name does not let them through")


def identifier_problems(df: pd.DataFrame, *, file: str, table: str | None = None,
                        allow: tuple[str, ...] | list[str] = (), _distinct: list | None = None) -> pd.DataFrame:
    """Columns of ``df`` that hold direct identifiers, as loader problems.

    A column is flagged by its name (``surname``, ``DOB``, ``crime_no``,
    ``notes``, ...; not when every value is yes/no, and not for contract
    columns or columns listed in ``allow``) and by its content: every cell of
    every column, contract columns included, is checked against the rules
    of this module, and one matching cell is enough.  A date column outside
    the contract whose dates imply ages of 10-100 is a date of birth.

    Parameters
    ----------
    df : DataFrame
        A table as read (contract column names after the column map's renaming).
    file : str
        File name used in the problems.
    table : str, optional
        Contract table name; its columns are trusted by name.
    allow : sequence of str
        Column names the user allows (the column map's ``allow_columns``):
        not refused by name; their content is still checked.
    _distinct : list, optional
        Internal: the CSV reader's distinct cells per column (see :func:`scan_table`).

    Returns
    -------
    DataFrame
        file, row, column, value, rule (empty when nothing is found); the
        value is never shown, so the report does not repeat an identifier.

    Examples
    --------
    >>> df = pd.DataFrame({"referral_id": ["R1"], "Surname": ["Smith"]})
    >>> identifier_problems(df, file="referrals.csv")["column"].tolist()
    ['Surname']
    >>> identifier_problems(pd.DataFrame({"contact": ["", "a@b.org"]}), file="x.csv")["rule"].str[:35].tolist()
    ['1 value looks like e-mail addresses']
    """
    contract = set(TABLES[table].names) if table in TABLES else _ALL_CONTRACT
    allowed = {norm_name(a) for a in allow}
    rows = []
    ref = None
    df = df.copy(deep=False)  # positions as the index; the data are not copied
    df.index = pd.RangeIndex(len(df))
    scans = scan_table(df, _distinct)
    if _distinct is None or len(_distinct) != df.shape[1]:
        _distinct = None
    for j, col in enumerate(df.columns):
        n = norm_name(col)
        values = df.iloc[:, j]
        in_contract = n in contract
        if not in_contract and n not in allowed:
            what = name_rule(col)
            if what is not None and not is_flag(values):
                rows.append({"file": file, "row": 1, "column": str(col), "value": str(col),
                             "rule": f"column looks like {what} (a direct identifier){_way_out('name')}"})
                continue
        hits = scans[j]
        for what, count, first in hits:
            kind = "id" if n in ID_COLUMNS else "content"
            rows.append({"file": file, "row": first + 2, "column": str(col), "value": "(hidden)",
                         "rule": f"{count} value{'s' if count != 1 else ''} look{'s' if count == 1 else ''} like "
                                 f"{what} (direct identifiers; first in row {first + 2}){_way_out(kind)}"})
        if hits:
            continue
        if n in _CONTRACT_TEXT:
            codes, uniq = _uniques(values) if _distinct is None else (_distinct[j][0], pd.Series(_distinct[j][1],
                                                                                               dtype=object))
            formula = _cell_mask(codes, uniq.str.contains(_FORMULA).to_numpy(dtype=bool))
            if formula.any():
                first = int(np.argmax(formula))
                rows.append({"file": file, "row": first + 2, "column": str(col), "value": "(hidden)",
                             "rule": f"{int(formula.sum())} value(s) look like spreadsheet formulas "
                                     f"(first in row {first + 2}){_way_out('formula')}"})
        if not in_contract:
            if ref is None:
                ref = _ref_dates(df)
            dob = _dob_hits(values, ref)
            if dob is not None:
                rows.append({"file": file, "row": dob[1] + 2, "column": str(col), "value": "(hidden)",
                             "rule": f"dates imply ages of 10-100 for {dob[0]} rows: the column looks like dates of "
                                     f"birth (direct identifiers; first in row {dob[1] + 2}); drop it or run "
                                     "`dapp-eval pseudonymise IN OUT --key-file KEY`, which turns a date of birth "
                                     "into age at referral"})
    return pd.DataFrame(rows, columns=["file", "row", "column", "value", "rule"])

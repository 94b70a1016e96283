"""Detect direct identifiers in a table: by column name and by every cell's content.

This is the data layer's detector, used by the loader (:mod:`dapp_eval.data.io`),
which refuses a table holding personal data, and by :mod:`dapp_eval.data.privacy`,
which pseudonymises an export.  It imports nothing but the contract
(:mod:`dapp_eval.data.schema`).

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
from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.data.schema import TABLES

__all__ = ["identifier_problems", "scan_column", "mask_identifiers", "looks_identifying", "norm_name",
           "name_rule", "ID_COLUMNS", "FLAG_WORDS", "IDENTIFIER_RULES", "header_problems", "looks_like_name",
           "parse_dates", "as_text", "scan_table", "is_flag", "name_looks_identifying", "shown_name"]

#: contract columns that hold pseudonymous identifiers (hashed by pseudonymise)
ID_COLUMNS = ("participant_id", "referral_id", "partner_id", "incident_id", "event_id")
#: the words a yes/no flag may hold (a flag named ``email_sent`` is not an e-mail address)
FLAG_WORDS = frozenset({"true", "false", "yes", "no", "y", "n", "1", "0", "t", "f", "1.0", "0.0"})

_ALL_CONTRACT = {c for t in TABLES.values() for c in t.names}
#: contract columns whose values are free-ish text (checked for spreadsheet formulas too)
_CONTRACT_TEXT = {c.name for t in TABLES.values() for c in t.columns if c.kind == "str"} - set(ID_COLUMNS)


def norm_name(name) -> str:
    """A column name in lower case with runs of other characters as one ``_``.

    >>> norm_name(" D.O.B. "), norm_name("VictimFirstName"), norm_name("ClientDOB")
    ('d_o_b', 'victim_first_name', 'client_dob')
    """
    text = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", str(name).strip()))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")   # NHSNumber -> NHS_Number
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")      # VictimFirstName -> Victim_First_Name, ClientDOB -> Client_DOB


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------

_PERSON_WORDS = ("client|perpetrator|perp|victim|survivor|offender|suspect|service_?user|partner|child|children|childs|"
                 "child_s|kid|parent|mother|father|person|complainant|subject|carer|guardian|sibling|relative")
_NAME_WORDS = r"(first|last|sur|given|family|full|fore|middle|maiden|nick|preferred|christian|legal|birth)"
_NAME_RULES: list[tuple[str, re.Pattern]] = [
    ("a person's name", re.compile(
        rf"^({_NAME_WORDS}_?)?names?(_?\d+)?$|(^|_){_NAME_WORDS}_?names?(_?\d+)?$"
        rf"|(^|_)({_PERSON_WORDS})s?_({_NAME_WORDS}_?)?names?(_?\d+)?$"
        r"|(^|_)(forenames?|surnames?|initials|alias|aliases|aka|known_as|also_known_as|next_of_kin|nok|kin"
        r"|emergency_contact)(_?\d+)?$"
        rf"|^({_PERSON_WORDS})s?(_(full|details|surname|forename))?$")),
    ("a date of birth", re.compile(
        r"(^|_)(dob|d_o_b|birth|births|birthday|birthdate|born|date_?of_?birth|birth_?date)($|_)")),
    ("a postcode", re.compile(r"(^|_)(post_?code|postal_?code|zip(_?code)?)$")),  # not postcode_district
    ("an e-mail address", re.compile(r"(^|_)e_?mail(_?(address|addr|add|id))?(_?\d+)?$")),
    ("an address or location", re.compile(
        r"(^|_)(address|addresses|addr|street|house_?(number|name|no)|address_?line_?\d*|residence|dwelling)(_?\d+)?$"
        rf"|^(home|location|whereabouts|({_PERSON_WORDS}|home|current|last_known)_(location|whereabouts|home))$|(^|_)address_")),
    ("a phone number", re.compile(
        r"(^|_)(phone|telephone|tel|mobile|landline|cell|contact)_?(no|number|num|nbr)(_?\d+)?$"
        r"|(^|_)(phone|telephone|tel|mobile|landline|mob|cellphone)(_?\d+)?$")),
    ("an NHS number", re.compile(r"^nhs$|(^|_)nhs_?(no|number|num|id)(_?\d+)?$")),
    ("a National Insurance number", re.compile(r"(^|_)(ni_?(no|number|num)|nino|national_?insurance(_?(no|number))?)$")),
    ("a police or court reference", re.compile(
        r"(^|_)(pnc|pnc_?id|cro|crime_?(ref|reference|no|number|num|id)|occurrence|occurrences|occurrence_?(no|number|ref)"
        r"|police_?ref(erence)?|warrant|custody_?(no|number|ref)|court_?(urn|ref|reference|case_?no)|urn|cad(_?no)?)"
        r"(_?(no|number))?$|^crimes?$")),
    ("free text (notes can hold names, phone numbers and addresses)", re.compile(
        r"(^|_)(notes?|comments?|free_?text|narrative|remarks?|observations?|case_?notes?|details|description"
        r"|summary)$")),
]
_NOT_DOB = re.compile(r"(^|_)(country|nation|nationality|place|sex|gender|weight|town|city)($|_)")
#: a name that counts, flags or dates something (``emails_sent``, ``number_of_notes``, ``home_visits``,
#: ``police_reference_date``): what it holds is a count, a yes/no or a date, not the identifier itself
_NOT_AN_IDENTIFIER = re.compile(
    r"^(n|no|num|number|count|total|nb|times)_(of_)?|_(count|counts|total|n|num_of|made|sent|received|attempted|"
    r"attempts?|done|offered|given|provided|visits?|visited|date|dt|day|month|year|type|types|method|status|flag|known|"
    r"verified|checked|consent|consented|available|recorded|held|requested|changed|updated|outcome|result|used)$")
#: words of a name that may be a category rather than free text (``risk_summary``): only free text when its
#: content is (see :func:`_free_text`)
_AMBIGUOUS_TEXT = re.compile(r"(^|_)(summary|description|details)$")


def name_rule(name, values: pd.Series | None = None) -> str | None:
    """What a column's name says it holds (``None`` when nothing identifying).

    ``values`` (optional): the column's cells; a name such as ``risk_summary`` is free text only when its
    content is (long or varied), and a column whose every cell is yes/no is a flag whatever its name.

    >>> name_rule("Crime No"), name_rule("date_born"), name_rule("site_name"), name_rule("VictimFirstName")
    ('a police or court reference', 'a date of birth', None, "a person's name")
    >>> name_rule("emails_sent"), name_rule("number_of_notes"), name_rule("police_reference_date")
    (None, None, None)
    """
    n = norm_name(name)
    if _NOT_AN_IDENTIFIER.search(n) and not re.search(r"(^|_)(dob|d_o_b|date_?of_?birth|birth_?date)$", n):
        return None
    if values is not None and is_flag(values):
        return None
    for what, pat in _NAME_RULES:
        if pat.search(n):
            if what == "a date of birth" and _NOT_DOB.search(n):
                continue
            if what.startswith("free text") and _AMBIGUOUS_TEXT.search(n) and values is not None \
                    and not _free_text(values):
                continue
            return what
    return None


def _free_text(values: pd.Series) -> bool:
    """Whether a column's content reads as free text rather than a category: long cells, or many different ones."""
    text = as_text(values)
    text = text[text != ""]
    if not len(text):
        return False
    distinct = text.nunique()
    return bool(text.str.len().mean() > 40 or (distinct > 20 and distinct > 0.2 * len(text)))


# ---------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------

_TLD = r"(?:com|org|net|uk|gov|ac|nhs|edu|io|info|me|biz|co)"
_AT = r"(?:@| ?\[at\] ?| ?\(at\) ?| ?\{at\} ?| at )"
_DOT = r"(?:\.| ?\[dot\] ?| ?\(dot\) ?| dot )"
# a plain address, or one spelt out ("x at y dot com", "x[at]y.org") to get past filters
_EMAIL = (r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
          rf"|(?i:[A-Za-z0-9._%+-]+{_AT}[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}{_TLD}\b)")
_SOCIAL = r"facebook|fb|instagram|twitter|tiktok|linkedin|snapchat|youtube|threads|x"
# web addresses, social media profiles included (``facebook.com/someone``)
_URL = (rf"(?i:https?://|ftp://|www\.[a-z0-9-]+\.|\b(?:{_SOCIAL})\.com/|\b[a-z0-9-]+\.(?:com|co\.uk|org|net|org\.uk)/)")
# uppercase anywhere in a cell (one or two spaces, or none); any case when the postcode is the whole cell or is
# written with its space inside text
_PC = r"[A-Z]{1,2}[0-9][A-Z0-9]? {0,2}[0-9][ABD-HJLNP-UW-Z]{2}"
_PC_SPACED = r"[A-Z]{1,2}[0-9][A-Z0-9]? {1,2}[0-9][ABD-HJLNP-UW-Z]{2}"
_POSTCODE = (rf"(?<![A-Za-z0-9]){_PC}(?![A-Za-z0-9])|^[ \t]*(?i:{_PC})[ \t]*$"
             rf"|(?<![A-Za-z0-9])(?i:{_PC_SPACED})(?![A-Za-z0-9])")
# spaces or dashes between the pairs; the suffix letter is often left off
_NINO_CORE = r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ -]?[0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{2}(?:[ -]?[A-D])?"
_NINO = rf"(?<![A-Za-z0-9]){_NINO_CORE}(?![A-Za-z0-9])|^[ \t]*(?i:{_NINO_CORE})[ \t]*$"
_CRIME_WORDS = r"CR|CRN|CRIS|OCC|OC|INC|CAD|URN|LOG|CRIME(?: ?(?:REF(?:ERENCE)?|NO|NUMBER))?|OCCURRENCE|REF"
_CRIME = (
    # a force's prefix and a number with one or two more parts: CR/012345/24, Crime ref 4312345/24, CAD 1234/03
    rf"(?i:(?<![A-Za-z0-9])(?:{_CRIME_WORDS})\.? ?[/:#-]? ?[0-9]{{2,8}}(?:[/-][0-9]{{2,8}}){{1,2}}(?![0-9]))"
    # a CAD (command and control) number with its date: CAD 1234 03/03/24
    r"|(?i:(?<![A-Za-z0-9])CAD\.? ?[/:#-]? ?[0-9]{1,6}[ ,-]+[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}(?![0-9]))"
    # 42/123456/24; a crime number and year: 4312345/24; a PNC ID: 98/123456A
    r"|(?<![0-9/])[0-9]{1,2}/[0-9]{5,8}/[0-9]{2}(?![0-9/])|(?<![0-9/])[0-9]{5,8}/[0-9]{2}(?![0-9/])"
    r"|(?<![0-9/])[0-9]{2}/[0-9]{4,7}[A-Z](?![A-Za-z0-9])"
    # an occurrence number: 11 digits starting with the year (20240312345), or a long number after its name
    r"|(?<![0-9])20[0-3][0-9]{8}(?![0-9])"
    r"|(?i:(?<![A-Za-z])(?:occ\w*|crime|incident|log|cad)\W{0,3}(?:no\.?|number|ref)?\W{0,3}[0-9]{9,12}(?![0-9]))"
    # a court (CPS) unique reference number: force, station, number, year: 42AB1234524, 42 AB 12345/24
    r"|(?<![A-Za-z0-9])[0-9]{2} ?[A-Z]{2} ?[0-9]{5}(?: ?/ ?)?[0-9]{2}(?![A-Za-z0-9])"
)
# candidates: a run of digits with separators; checked afterwards on the digits alone
_PHONE_CAND = r"(?<![0-9A-Za-z+.])(?:\+44|0044|0)[ ()\-]{0,3}[0-9](?:[ ()\-./]{0,3}[0-9]){8,10}(?![0-9])"
_NHS_CAND = r"(?<![0-9.])[0-9]{3}[ .\-]{0,2}[0-9]{3}[ .\-]{0,2}[0-9]{2}[ .\-]{0,2}[0-9]{2}(?![0-9])"
#: what a spreadsheet program runs as a formula: ``=...``, a tab or carriage return first, or ``+``/``-``/``@``
#: followed by a function call, a DDE command (``|``), a sheet reference (``!``), a cell reference or sum
#: (``-2+3``); a ``-`` placeholder or ``+ve Change`` is text
_FORMULA = (r"^[ ]*=|^[\t\r]|^[ ]*[+\-@][ ]*[A-Za-z_][A-Za-z0-9_.]*[ ]*[(|!]|^[ ]*[+\-@][ ]*\$?[A-Za-z]{1,3}\$?[0-9]+\b"
            r"|^[ ]*[+\-@][ ]*[0-9.]+[ ]*[-+*/^&][ ]*[0-9A-Za-z(]|^[ ]*@")


@dataclass(frozen=True)
class _Rule:
    what: str          # plural noun phrase used in messages
    pattern: str       # searched anywhere in a cell
    check: str = ""    # extra check on the matched text: "nhs", "phone" or "crime"


IDENTIFIER_RULES: tuple[_Rule, ...] = (
    _Rule("NHS numbers", _NHS_CAND, "nhs"),
    _Rule("phone numbers", _PHONE_CAND, "phone"),
    _Rule("e-mail addresses", _EMAIL),
    _Rule("full UK postcodes", _POSTCODE),
    _Rule("National Insurance numbers", _NINO),
    _Rule("police crime or occurrence references", _CRIME, "crime"),
    _Rule("URLs", _URL),
)
_COMPILED = [(r, re.compile(r.pattern, re.M)) for r in IDENTIFIER_RULES]


def _nhs_ok(candidates: pd.Series) -> np.ndarray:
    """Modulus-11 check of ten-digit strings (separators removed), vectorised."""
    digits = candidates.str.replace(r"[^0-9]", "", regex=True)
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
    """A UK number of the right length; a date and time (``03/03/2024 12``, ``03.03.2024``) is not one."""
    datelike = candidates.str.count(r"/").ge(2) | candidates.str.count(r"\.").ge(2)
    digits = candidates.str.replace(r"[^0-9+]", "", regex=True)
    digits = digits.str.replace(r"^(?:\+44|0044)0?", "0", regex=True)
    return (digits.str.fullmatch(r"0[1237][0-9]{8,9}") & ~datelike).to_numpy(dtype=bool)


_YEAR_RANGE = re.compile(r"(?i)^[a-z .:#/-]*(19|20)[0-9]{2} ?[/-] ?((19|20)?[0-9]{2})$")


def _crime_ok(candidates: pd.Series) -> np.ndarray:
    """A reference, not a prefix and a financial year (``Inc 2023-24``, ``Log 2023/24``)."""
    return ~candidates.str.strip().str.match(_YEAR_RANGE).to_numpy(dtype=bool)


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
    "NHS numbers": (r"[0-9]{3}[ .\-]{0,2}[0-9]{3}[ .\-]{0,2}[0-9]{2}[ .\-]{0,2}[0-9]{2}", False),
    "phone numbers": (r"(?:\+44|0044|0)[ ()\-]{0,3}[0-9](?:[ ()\-./]{0,3}[0-9]){8,10}", False),
    "e-mail addresses": (_EMAIL, True),
    "full UK postcodes": (r"(?i:[A-Z]{1,2}[0-9][A-Z0-9]? {0,2}[0-9][A-Z]{2})", False),
    "National Insurance numbers": (r"(?i:[A-Z]{2}[ -]?[0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{2})", False),
    "police crime or occurrence references": (
        rf"(?i:(?:{_CRIME_WORDS})\.? ?[/:#-]? ?[0-9]{{1,8}}[ ,/-])|[0-9]{{5,8}}/[0-9]{{2}}|[0-9]{{2}}/[0-9]{{4,7}}[A-Za-z]"
        r"|20[0-3][0-9]{8}|(?i:(?:occ|crime|incident|log|cad)[^0-9]{0,12}[0-9]{9})|[0-9]{2} ?[A-Za-z]{2} ?[0-9]{5}",
        False),
    "URLs": (_URL, True),
}


_ANY_PREFILTER = "|".join(pre for pre, _exact in _PREFILTERS.values())


def _checked(sub: pd.Series, rule: _Rule) -> np.ndarray:
    """Which texts hold a candidate that passes the rule's check (NHS check digit, phone number length)."""
    test = {"nhs": _nhs_ok, "phone": _phone_ok, "crime": _crime_ok}[rule.check]
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


_PLAIN_NUMBER = r"^[ ]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ ]*$"


def scan_table(df: pd.DataFrame, _distinct: list | None = None, *, kinds: list | None = None,
               ) -> list[list[tuple[str, int, int]]]:
    """:func:`scan_column` for every column of ``df`` at once (one regex pass per rule over the whole table).

    ``kinds`` (optional, one per column): ``"number"`` for a column declared numeric (a contract number
    column, or an allowed extra column whose cells are all numbers): its plain numbers are counts or amounts,
    never NHS or phone numbers (``cost_pence``, Unix times), so only its other cells are scanned;
    ``"name"`` for a contract name column (``site_name``, ``programme_name``): a year in a programme's name
    (``Caring Dads Inc 2023-24``) is no police reference, so that rule is not applied to it.

    ``_distinct`` (internal): per column, ``(codes, distinct cells, the same as a pyarrow array)`` from
    the CSV reader, so that the cells are not hashed again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if _distinct is not None and len(_distinct) == df.shape[1]:
        per_col = [(codes, uniq) for codes, uniq, _arrow in _distinct]
        arrays = [arrow for _codes, _uniq, arrow in _distinct]
    else:
        per_col = [_uniques(df.iloc[:, j]) for j in range(df.shape[1])]
        arrays = [pa.array(uniq.tolist(), type=pa.string()) for _codes, uniq in per_col]
    kinds = list(kinds) if kinds is not None else [None] * len(arrays)
    for j, kind in enumerate(kinds):
        if kind == "number" and len(arrays[j]):  # plain numbers become empty texts (never a hit)
            arr = arrays[j].combine_chunks() if isinstance(arrays[j], pa.ChunkedArray) else arrays[j]
            arrays[j] = pc.if_else(pc.match_substring_regex(arr, _PLAIN_NUMBER), "", arr)
    bounds = np.cumsum([0] + [len(uniq) for _codes, uniq in per_col])
    hits = _hits(pa.chunked_array(arrays, type=pa.string()) if arrays else [])
    out = []
    for j, (codes, _uniq) in enumerate(per_col):
        found = []
        for what, mask in hits.items():
            if kinds[j] == "name" and what == "police crime or occurrence references":
                continue
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
    """Cell-by-cell: does the cell hold something an identifier rule matches, or read like a person's name?

    >>> looks_identifying(pd.Series(["S01", "07700 900123", "x@y.org", "John Smith"])).tolist()
    [False, True, True, True]
    """
    codes, uniq = _uniques(values)
    mask = np.array([_name_like_text(t.strip()) for t in uniq.tolist()], dtype=bool)
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


# ---------------------------------------------------------------------------
# personal names in cells, and headers that are really data
# ---------------------------------------------------------------------------

#: words of the contract's codes and of the categories providers write in their place: a cell made of these
#: is a category ("White British", "Dropped Out"), never a person's name
_VOCAB = frozenset({part for t in TABLES.values() for c in t.columns if c.kind in ("enum", "set")
                    for v in c.values for part in v.split("_")} | set("""
    a an and any at by for in of on or the to with not known stated prefer say other background none n/a na nil
    yes no true false unknown tbc tba pending group one session sessions programme program course project service
    services team agency court order orders social care children childrens child family police probation self
    referral referred health gp nhs white british irish black asian mixed african caribbean indian pakistani
    bangladeshi chinese arab gypsy traveller roma european eastern english scottish welsh northern man woman men
    women male female non binary nonbinary transgender trans intersex employed unemployed full part time student
    retired sick disabled disability long term carer husband wife boyfriend girlfriend ex former current father
    mother son daughter brother sister step parent partner dropped out excluded moved away custody prison declined
    assessment assessed suitable unsuitable start started intake midpoint exit follow up practitioner worker physical
    emotional verbal sexual financial coercive control stalking harassment new old north south east west central
    high medium low standard risk positive negative change ve date dates id ref reference number no code type status
    reason site source outcome score name names client case keyworker key days day week weeks month months year years
    completed complete completion attended attending did attend dna cancelled rescheduled group work inc ltd cic
    voluntary statutory self-referral victim survivor perpetrator children's multi agency marac idva dash safelives
    respect caring dads foundations up2u drive choices""".split()))
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Rev|Master)\.?"
_NAME_TOKEN = r"[A-Z](?:[A-Za-z]+|'[A-Z][A-Za-z]+)(?:[-'][A-Z][A-Za-z]+)*"
_NAME_LIKE = re.compile(
    rf"^{_TITLE} [A-Z]"                                       # Mr Smith, Mrs J. Jones
    rf"|^{_NAME_TOKEN}(?: (?:[A-Z]\.? )?{_NAME_TOKEN}){{1,3}}$"  # John Smith, Mary Ann Jones, John A. Smith
    rf"|^{_NAME_TOKEN}, ?{_NAME_TOKEN}(?: {_NAME_TOKEN})?$"   # SMITH, John
    rf"|^[A-Z]\.? ?{_NAME_TOKEN}$")                           # J. Smith, J Smith


def _name_like_text(text: str) -> bool:
    if not _NAME_LIKE.match(text):
        return False
    if re.match(rf"^{_TITLE} ", text):
        return True
    words = [w for w in re.split(r"[ ,.'-]+", text.lower()) if len(w) > 1]
    return bool(words) and not any(w in _VOCAB for w in words)


def looks_like_name(values) -> np.ndarray:
    """Cell by cell: does the cell read like a person's name (``John Smith``, ``SMITH, John``, ``Mr Jones``,
    ``J. Smith``)?  Words of a category (``White British``, ``Dropped Out``) do not.

    >>> looks_like_name(pd.Series(["John Smith", "SMITH, John", "Mrs Jones", "White British", "male", "Step Up"])).tolist()
    [True, True, True, False, False, False]
    """
    codes, uniq = _uniques(pd.Series(values, dtype=object))
    return _cell_mask(codes, np.array([_name_like_text(t.strip()) for t in uniq.tolist()], dtype=bool))


def _code_name_hits(values: pd.Series, allowed: tuple[str, ...], recode=None) -> tuple[int, int] | None:
    """(n, first position) of cells of a code column that are no allowed code and read like a name: a single word
    counts when it is no typo of an allowed code and no category word."""
    import difflib

    codes, uniq = _uniques(values)
    ok_codes = {a.lower() for a in allowed} | {str(k).strip().lower() for k in (recode or {})}
    flag = []
    for t in uniq.tolist():
        t = t.strip()
        parts = [p.strip() for p in re.split(r"[;,]", t)] if ";" in t else [t]
        bad = False
        for p in parts:
            if not p or p.lower() in ok_codes:
                continue
            if _name_like_text(p):
                bad = True
            elif re.fullmatch(_NAME_TOKEN, p) and p.lower() not in _VOCAB and not difflib.get_close_matches(
                    p.lower(), list(ok_codes), n=1, cutoff=0.6):
                bad = True
        flag.append(bad)
    cells = _cell_mask(codes, np.array(flag, dtype=bool))
    if not cells.any():
        return None
    return int(cells.sum()), int(np.argmax(cells))


def _native_kind(col) -> str:
    """'number' or 'date' for a header cell that is a number or date itself (as a workbook gives it)."""
    if isinstance(col, (int, float, np.integer, np.floating)) and not isinstance(col, bool):
        return "number"
    if hasattr(col, "year") and hasattr(col, "month"):
        return "date"
    return ""


def _digit_kinds(texts: list[str], kinds: list[str]) -> None:
    """Header cells with a digit: plain numbers, then dates (parsed once, together)."""
    digits = [k for k, t in enumerate(texts) if not kinds[k] and re.search(r"[0-9]", t)]
    for k in digits:
        if re.fullmatch(r"[-+]?\d+([.,]\d+)?", texts[k]):
            kinds[k] = "number"
    todo = [k for k in digits if not kinds[k]]
    if todo:
        parsed = parse_dates(pd.Series([texts[k] for k in todo], dtype=object))
        for k, ok in zip(todo, parsed.notna().tolist()):
            if ok:
                kinds[k] = "date"


def _headerish(columns) -> list[str]:
    """Per header cell, why it is a value rather than a column name ('' when it reads as a name): a number,
    a date, or an identifier (one pass over all the cells; a header without a digit, '@' or a URL's dot
    needs no date parsing)."""
    cols = list(columns)
    kinds = [_native_kind(c) for c in cols]
    texts = [str(c).strip() for c in cols]
    for k, t in enumerate(texts):  # a yes/no word is a value, never a column's name
        if not kinds[k] and t.lower() in ("true", "false", "yes", "no", "y", "n"):
            kinds[k] = "yes/no value"
    _digit_kinds(texts, kinds)
    rest = [k for k, t in enumerate(texts) if not kinds[k]]
    if rest:  # a header that reads like a name ("Home Address") is a header; an NHS number is not
        for m in _hits([texts[k] for k in rest]).values():
            for k, h in zip(rest, m.tolist()):
                if h:
                    kinds[k] = "identifier"
    return kinds


#: words of the contract's column names: a header made of them ("Abuse Types") is a column's name, not a person's
_COLUMN_WORDS = frozenset({part for t in TABLES.values() for c in t.columns for part in c.name.split("_")} | set("""
    budget yearly monthly weekly annual annually total totals cost costs amount funding fund notes comments comment
    since title mode linked reported proven received route result results stage tool assessor format planned target
    completers extracted project household categories category history identity heritage accepted closure closed
    person people worker workers manager team teams office region area contract contracts export extract report
    reports sheet data info information details summary count counts level levels flag flags status yes no""".split()))


def name_looks_identifying(text: str) -> str | None:
    """What a provider's file, sheet or column name looks like when it could identify someone (``None`` when
    it may be shown): it holds an identifier the cell rules find (an NHS or phone number, an e-mail address, a
    postcode, a date, ...), or two to four capitalised words in a row that read like a person's name.

    A message may name the provider's own file, sheet or column (the provider reads it on their own terminal),
    unless the name itself looks like this; it is then named by position (see :func:`shown_name`).

    >>> [name_looks_identifying(t) for t in ["Client Ref", "Abuse Types", "Referrals Jane Doe.csv",
    ...                                      "07700 900123", "NHS Number", "dob 03-03-1985"]]
    [None, None, "a person's name", 'an identifier', None, 'a date']
    """
    text = str(text).strip()
    stem = re.sub(r"\.(csv|xlsx|sav|dta|parquet)$", "", text, flags=re.I)
    spaced = re.sub(r"[_]+", " ", stem)
    kinds = [k for k in _headerish([stem, spaced, *re.split(r"[\s_(),;]+", stem)]) if k in ("date", "identifier")]
    if kinds:
        return "a date" if "date" in kinds else "an identifier"
    words = [w for w in re.split(r"[\s_(),;.]+", spaced) if w]
    for size in (2, 3, 4):
        for i in range(len(words) - size + 1):
            part = words[i:i + size]
            if all(w.lower() not in _COLUMN_WORDS for w in part) and _name_like_text(" ".join(part)):
                return "a person's name"
    if len(words) == 1 and re.match(rf"^{_TITLE} ", spaced):
        return "a person's name"
    return None


def shown_name(text: str, *, what: str = "column", position: int | None = None) -> str:
    """A provider's name as a message may show it: as written, or by position when it looks identifying.

    >>> shown_name("Client Ref"), shown_name("John Smith", position=7)
    ("'Client Ref'", "column 7 (header not shown: looks like a person's name)")
    """
    looks = name_looks_identifying(text)
    if looks is None:
        return repr(str(text)) if what == "column" else str(text)
    where = f"{what} {position}" if position is not None else f"a {what}"
    noun = "header" if what == "column" else "name"
    return f"{where} ({noun} not shown: looks like {looks})"


def header_problems(columns, *, file: str) -> pd.DataFrame:
    """A header row that holds values: the file was saved without its header row, so its first record
    became the column names.  One problem, naming how many header cells are dates, numbers or identifiers,
    never the cells themselves.

    >>> header_problems(["referral_id", "referral_date"], file="referrals.csv").empty
    True
    >>> header_problems(["R1", "2023-04-03", "943 476 5919"], file="referrals.csv")["rule"].str[:38].tolist()
    ['the header row holds values, not colum']
    """
    kinds = _headerish(columns)
    bad = [k for k in kinds if k]
    if not bad:
        return pd.DataFrame(columns=["file", "row", "column", "value", "rule"])
    what = ", ".join(f"{bad.count(k)} {k}{'s' if bad.count(k) != 1 else ''}"
                     for k in ("date", "number", "identifier", "yes/no value") if k in bad)
    return pd.DataFrame([{
        "file": file, "row": 1, "column": "", "value": "(hidden)",
        "rule": f"the header row holds values, not column names ({len(bad)} of {len(kinds)} header cells: {what}; "
                "not shown): the file was probably saved without its header row, so its first record became the "
                "column names. Export it again with the header row; nothing in this file was checked further"}])

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %B %Y", "%d %b %Y", "%d-%b-%Y",
                 "%d/%b/%Y", "%B %d %Y", "%b %d %Y")
_REF_DATES = ("referral_date", "incident_date", "session_date", "survey_date", "assessment_date", "period_end")
_DATE_SHAPE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$|^\d{1,2}(st|nd|rd|th)?[ /-]?[A-Za-z]{3,9}\.?[ /-]?,? ?\d{4}$"
                         r"|^[A-Za-z]{3,9}\.? \d{1,2}(st|nd|rd|th)?,? \d{4}$", re.I)
#: Excel's day 0 (its serial numbers count days from here, 1900 leap-year bug included)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def parse_dates(text: pd.Series, extra_format: str | None = None, *, serial: bool = False) -> pd.Series:
    """Full dates, each cell on its own: ISO, UK day-first (never month-first), ``3rd March 1985``,
    ``03-Mar-1985``; times ignored.  ``serial``: whole numbers 1-60000 are Excel date serial numbers.

    >>> parse_dates(pd.Series(["1985-03-03", "03/03/1985", "3rd March 1985", "03-Mar-1985", "x"])).dt.day.tolist()
    [3.0, 3.0, 3.0, 3.0, nan]
    >>> parse_dates(pd.Series(["31109"]), serial=True).dt.strftime("%Y-%m-%d").tolist()
    ['1985-03-03']
    """
    text = text.astype(str).str.strip().str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?$", "", regex=True)
    text = text.str.replace(r"(?<=\d)(st|nd|rd|th)\b", "", regex=True, flags=re.I).str.replace(",", "", regex=False)
    text = text.str.replace(r"\s+", " ", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in ((extra_format,) if extra_format else ()) + _DATE_FORMATS:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    if serial:
        todo = out.isna() & text.str.fullmatch(r"\d{1,5}(\.0+)?")
        if todo.any():
            days = pd.to_numeric(text[todo], errors="coerce")
            days = days[(days >= 1) & (days <= 60000)]  # only these, as int64: given a float NaN, pandas 2.x
            # rounds uninitialised memory and may warn "overflow encountered in multiply"
            out[days.index] = _EXCEL_EPOCH + pd.to_timedelta(days.astype(np.int64), unit="D")
    return out


#: a date column named for an event (``relationship_start``, ``service_established``) is never taken for a
#: date of birth by its content
_EVENT_DATE = re.compile(
    r"(^|_)(start|started|starting|end|ended|established|opened|open|closed|since|began|begun|commenced|created|"
    r"updated|received|relationship|service|registered|joined|married|separated|moved|from|to|until|expiry|"
    r"expires|issued|referral|referred|assessment|incident|session|survey|exit|review|visit|contact|last|first|"
    r"next|due|extract|period|event|order|hearing|release|sentence|arrest|offence|report|recorded)($|_)")


def _dob_hits(values: pd.Series, ref: pd.Series | None, name: str = "") -> tuple[int, int] | None:
    """(n, first position) if a column's dates look like dates of birth: nearly all (95%) of them imply ages
    of 10-100 at ``ref`` and the ages' median is an adult's (16-80); a column named for an event
    (``relationship_start``) is not one.
    """
    if _EVENT_DATE.search(norm_name(name)):
        return None
    text = as_text(values)
    filled = text != ""
    if filled.sum() == 0:
        return None
    if not text[filled].str.match(_DATE_SHAPE).mean() >= 0.9:
        return None
    dates = parse_dates(text)
    if dates[filled].notna().mean() < 0.9:
        return None
    at = ref.reset_index(drop=True) if ref is not None else pd.Series(pd.Timestamp.today().normalize(),
                                                                      index=dates.index)
    at = at.where(at.notna(), pd.Timestamp.today().normalize())
    years = (at - dates).dt.days / 365.25
    in_range = (years >= 10) & (years <= 100)
    known = dates.notna()
    if in_range.sum() == 0 or in_range[known].mean() < 0.95 or not 16 <= years[known].median() <= 80:
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


def _column_kinds(df: pd.DataFrame, table: str | None, numbers: set) -> list:
    """Per column, what its declared type says about the content rules (see :func:`scan_table`)."""
    cols = {c.name: c for c in TABLES[table].columns} if table in TABLES else {
        c.name: c for t in TABLES.values() for c in t.columns}
    kinds = []
    for col in df.columns:
        n = norm_name(col)
        c = cols.get(n)
        if c is not None and c.kind in ("int", "float"):
            kinds.append("number")
        elif c is not None and n in _CONTRACT_NAMES:
            kinds.append("name")
        elif c is None and n in numbers:
            kinds.append("number")  # an extra column declared numeric (number_columns: cost_pence, a Unix time)
        else:
            kinds.append(None)
    return kinds


#: contract columns that hold the name of a site, programme or instrument
_CONTRACT_NAMES = {"site_name", "programme_name", "instrument"}


class _Scan:
    """A table being scanned for identifiers (see :func:`identifier_problems`)."""

    def __init__(self, df: pd.DataFrame, file: str, table: str | None, allowed: set[str], recode: dict,
                 distinct: list | None):
        self.df, self.file, self.allowed, self.recode, self.distinct = df, file, allowed, recode, distinct
        self.contract = set(TABLES[table].names) if table in TABLES else _ALL_CONTRACT
        self.columns = {c.name: c for c in TABLES[table].columns} if table in TABLES else {}
        self._ref = None

    @property
    def ref_dates(self):
        if self._ref is None:
            self._ref = _ref_dates(self.df)
        return self._ref

    def problem(self, c: _ScanColumn, row: int, rule: str, value: str = "(hidden)") -> dict:
        return {"file": self.file, "row": row, "column": str(c.col), "value": value, "rule": rule}


@dataclass
class _ScanColumn:
    j: int
    col: Any
    name: str
    values: pd.Series
    hits: list


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _by_name(t: _Scan, c: _ScanColumn) -> list[dict]:
    """A column outside the contract and the allowed ones, named as an identifier."""
    if c.name in t.contract or c.name in t.allowed:
        return []
    what = name_rule(c.col, c.values)
    if what is None:
        return []
    return [t.problem(c, 1, f"column looks like {what} (a direct identifier){_way_out('name')}", value=str(c.col))]


def _by_content(t: _Scan, c: _ScanColumn) -> list[dict]:
    kind = "id" if c.name in ID_COLUMNS else "content"
    return [t.problem(c, first + 2, f"{count} value{_plural(count, '', 's')} look{_plural(count, 's', '')} like "
                                    f"{what} (direct identifiers; first in row {first + 2}){_way_out(kind)}")
            for what, count, first in c.hits]


def _names_in_codes(t: _Scan, c: _ScanColumn) -> list[dict]:
    """A code column's values that are no allowed code and read like a person's name."""
    spec = t.columns.get(c.name)
    if spec is None or spec.kind not in ("enum", "set"):
        return []
    named = _code_name_hits(c.values, spec.values, t.recode.get(c.name))
    if named is None:
        return []
    count, first = named
    return [t.problem(c, first + 2, f"{count} value{_plural(count, '', 's')} {_plural(count, 'is', 'are')} no allowed "
                                    f"code and read{_plural(count, 's', '')} like a personal name (first in row "
                                    f"{first + 2}; not shown); allowed: {', '.join(spec.values)}")]


def _formulas(t: _Scan, c: _ScanColumn) -> list[dict]:
    """Cells of a contract text column that start like a spreadsheet formula."""
    if c.name not in _CONTRACT_TEXT:
        return []
    codes, uniq = _uniques(c.values) if t.distinct is None else (t.distinct[c.j][0],
                                                                 pd.Series(t.distinct[c.j][1], dtype=object))
    formula = _cell_mask(codes, uniq.str.contains(_FORMULA).to_numpy(dtype=bool))
    if not formula.any():
        return []
    first = int(np.argmax(formula))
    return [t.problem(c, first + 2, f"{int(formula.sum())} value(s) look like spreadsheet formulas "
                                    f"(first in row {first + 2}){_way_out('formula')}")]


def _dates_of_birth(t: _Scan, c: _ScanColumn) -> list[dict]:
    """A date column outside the contract whose dates imply adults' ages."""
    if c.name in t.contract:
        return []
    dob = _dob_hits(c.values, t.ref_dates, str(c.col))
    if dob is None:
        return []
    return [t.problem(c, dob[1] + 2, f"dates imply adults' ages for {dob[0]} rows: the column looks like dates of "
                                     f"birth (direct identifiers; first in row {dob[1] + 2}); drop it, or name it as "
                                     "a date of birth (DOB) and run `dapp-eval pseudonymise IN OUT --key-file KEY`, "
                                     "which turns a date of birth into age at referral")]


#: the checks of one column, in order; after a finding of a final one the column is checked no further
_COLUMN_CHECKS = (_by_name, _by_content, _names_in_codes, _formulas, _dates_of_birth)
_FINAL_CHECKS = (_by_name, _by_content, _names_in_codes)


def identifier_problems(df: pd.DataFrame, *, file: str, table: str | None = None,
                        allow: tuple[str, ...] | list[str] = (), _distinct: list | None = None,
                        recode: dict | None = None, numbers: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Columns of ``df`` that hold direct identifiers, as loader problems.

    A header row that holds values (a file saved without its header row) is refused first, with one problem
    that does not repeat it (:func:`header_problems`).  A column is flagged by its name (``surname``,
    ``DOB``, ``crime_no``, ``notes``, ...; not when every value is yes/no, not for a count, flag or date of
    something (``emails_sent``, ``police_reference_date``), and not for contract columns or columns listed
    in ``allow``) and by its content: every cell of every column, contract columns included, is checked
    against the rules of this module, and one matching cell is enough.  A contract column keeps its
    contract meaning: the plain numbers of a number column are not NHS or phone numbers, and a site's or
    programme's name is not a police reference.  A value of a code column that is no allowed code and reads
    like a person's name is flagged (and never shown).  A date column outside the contract whose dates
    imply adults' ages (see :func:`_dob_hits`) is a date of birth.

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
    numbers : sequence of str
        Extra columns declared numeric (the column map's ``number_columns``, which are allowed too): their
        plain numbers are amounts or counts, so the NHS and phone number rules do not apply to them (a
        10-digit ``cost_pence`` or Unix time); any other cell is still scanned.
    recode : dict, optional
        The column map's value maps (contract column -> {provider value: code}): their provider values
        count as allowed codes.

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
    >>> identifier_problems(pd.DataFrame({"gender": ["male", "John Smith"]}), file="r.csv", table="referrals"
    ...                     )["rule"].str[:60].tolist()
    ['1 value is no allowed code and reads like a personal name (f']
    """
    heads = header_problems(df.columns, file=file)
    if len(heads):
        return heads
    df = df.copy(deep=False)  # positions as the index; the data are not copied
    df.index = pd.RangeIndex(len(df))
    scans = scan_table(df, _distinct, kinds=_column_kinds(df, table, {norm_name(a) for a in numbers}))
    t = _Scan(df, file, table, {norm_name(a) for a in (*allow, *numbers)}, recode or {},
              _distinct if _distinct is not None and len(_distinct) == df.shape[1] else None)
    rows = []
    for j, col in enumerate(df.columns):
        c = _ScanColumn(j, col, norm_name(col), df.iloc[:, j], scans[j])
        for check in _COLUMN_CHECKS:
            found = check(t, c)
            rows += found
            if found and check in _FINAL_CHECKS:
                break
    return pd.DataFrame(rows, columns=["file", "row", "column", "value", "rule"])

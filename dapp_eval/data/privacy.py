"""Keep direct identifiers out: pseudonymise a provider's export with an allow-list.

The data describe victims of abuse.  dapp_eval works only on pseudonymised
data: the loader refuses a table holding direct identifiers (see
:mod:`dapp_eval.data.identifiers`, which finds them by column name and in every
cell), and :func:`pseudonymise` (``dapp-eval pseudonymise IN OUT --key-file
KEY``) reads the export as the loader does (CSV, Excel, SPSS, Stata or
Parquet, through the column map) and writes a folder of contract CSV files
that keeps only what the data contract allows:

- contract ID columns are replaced by keyed pseudonyms (HMAC-SHA256), written
  in letters only so that a pseudonym can never look like an NHS number,
  phone number or any other identifier;
- other contract columns are checked against their declared type (a code,
  date, number or yes/no column holding anything else stops the run: free
  text or a name is never copied) and against the same content scan as the
  loader, and written in the contract's form (codes recoded by the column
  map, ISO dates, ``true``/``false``);
- a date of birth (named as one) becomes ``age`` at referral, a postcode its
  district;
- extra columns are kept only when the column map allows them by name
  (``allow_columns``) and no cell looks like an identifier; everything else,
  free text included, is dropped and listed in the log.

Only cells are read, so no file's metadata (SPSS/Stata variable and value
labels, file labels, Parquet schema metadata, other or hidden sheets, cell
comments, sheet and file names) can reach the copy.  Neither the log nor any
message repeats a value, a file name or a header that could identify someone.

``coarsen`` (``--coarsen month`` or ``--coarsen shift``) also reduces the
quasi-identifiers (see :func:`pseudonymise`), and the log always holds a
k-anonymity summary: the share of referrals unique on site + referral date +
age (+ gender + ethnicity).

The output is written to a temporary folder beside OUT and renamed at the end,
so a failed run leaves OUT as it was (and a log of the failure beside it).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dapp_eval.data.identifiers import _FORMULA as _FORMULA_RULE
from dapp_eval.data.identifiers import (
    ID_COLUMNS,
    _dob_hits,
    _ref_dates,
    as_text,
    header_problems,
    identifier_problems,
    name_rule,
    norm_name,
    parse_dates,
    scan_table,
)
from dapp_eval.data.io import POSITIONS, _derive_inputs, _inside, _read_export, _the_map, validate_tables
from dapp_eval.data.schema import TABLES

__all__ = ["identifier_problems", "pseudonymise", "ID_COLUMNS", "pseudonym", "keygen", "LOG_NAME", "uniqueness",
           "pattern_uniqueness", "AGE_BANDS"]

#: pseudonym prefix per ID column; event_id shares incident_id's, because an
#: empty event_id defaults to the incident_id and the two must still match
_PREFIXES = {"participant_id": "P", "referral_id": "R", "partner_id": "V", "incident_id": "I", "event_id": "I"}
#: the letters of a pseudonym: consonants only, so no digit (no NHS or phone number, postcode, date or
#: reference can appear) and no word
_ALPHABET = "bcdfghjkmnpqrstvwxz"
#: an allowed extra column named like some person's or case's reference: hashed, never copied
_PERSON_ID = re.compile(r"(^|_)(id|ids|identifier|ref|reference|case_?(no|number)|client_?(no|number)|urn|uid)$")
_DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
_FORMULA = re.compile(_FORMULA_RULE)  # the loader's rule: '=...', '@...', '-2+3'; not '-' or '+ve Change'
LOG_NAME = "pseudonymisation_log.csv"
_MIN_KEY_BYTES = 16
#: lower bounds of the age bands of a coarsened copy (14-17, 18-24, 25-34, ..., 65+); a banded age is written
#: as its band's lower bound, so that it still loads as the contract's whole-number age
AGE_BANDS = (14, 18, 25, 35, 45, 55, 65)


def pseudonym(value: str, key: bytes, *, prefix: str = "") -> str:
    """Keyed hash (HMAC-SHA256, its first 64 bits) of an identifier, written as ``prefix-`` and 16 consonants.

    The same key gives the same pseudonym in every file, so links survive.
    Surrounding white space is ignored (the loader ignores it too).  A
    pseudonym holds no digit, so it can never look like an NHS number, a
    phone number, a date or any other identifier the loader refuses.

    Examples
    --------
    >>> pseudonym("12345", b"secret-key", prefix="P")
    'P-vqkphrzprrdcqrmb'
    >>> pseudonym(" 12345 ", b"secret-key", prefix="P")
    'P-vqkphrzprrdcqrmb'
    """
    digest = hmac.new(key, str(value).strip().encode("utf-8"), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    letters = []
    for _ in range(16):  # 19**16 > 2**64: every 64-bit value has its own spelling
        n, r = divmod(n, len(_ALPHABET))
        letters.append(_ALPHABET[r])
    return f"{prefix}-{''.join(letters)}" if prefix else "".join(letters)


def keygen(path: str | Path) -> Path:
    """Write a new key: 32 random bytes (``secrets``), readable by the owner only (mode 0600).

    Refuses to overwrite an existing file: a lost key cannot be made again, and
    a replaced one breaks every link to earlier pseudonymised extracts.

    Examples
    --------
    >>> import tempfile, stat
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = keygen(Path(tmp, "KEY"))
    ...     (len(p.read_bytes()), oct(stat.S_IMODE(p.stat().st_mode)))
    (32, '0o600')
    """
    path = Path(path)
    if path.exists():
        raise ValueError(f"{path} already exists: a key is never overwritten (move it away first if you mean to)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
    finally:
        os.close(fd)
    os.chmod(path, 0o600)  # whatever the umask
    return path


_MAKE_KEY = "make one with `dapp-eval keygen KEY` (32 random bytes, mode 0600), kept apart from the data"


def _read_key(key_file: str | Path, *, in_dir: Path, out_dir: Path) -> bytes:
    """Read and check the key: it exists, only its owner may read it, it is long and varied, and it lives apart."""
    path = Path(key_file)
    if not path.is_file():
        raise FileNotFoundError(f"key file {key_file} does not exist ({_MAKE_KEY})")
    for folder, what in ((in_dir, "input"), (out_dir, "output")):
        if _inside(folder, path):
            raise ValueError(f"keep the key file outside the {what} folder (it is under {folder}): the data and "
                             "the pseudonymised copy travel, the key never does")
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ValueError(f"key file {key_file} can be read or changed by other users (mode {mode:04o}): "
                             f"run `chmod 600 {key_file}` (as ssh does, dapp_eval refuses a key others can read)")
    raw = path.read_bytes()
    try:
        key = raw.decode("ascii").strip().encode("ascii")  # a typed key: surrounding white space ignored
    except UnicodeDecodeError:
        key = raw  # random bytes, as keygen writes them
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"the key in {key_file} is too short: use at least {_MIN_KEY_BYTES} random bytes ({_MAKE_KEY})")
    if len(set(key)) < _MIN_KEY_BYTES:
        raise ValueError(f"the key in {key_file} is too predictable: it has fewer than {_MIN_KEY_BYTES} different "
                         f"bytes ({_MAKE_KEY})")
    return key


def _age(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Whole years from ``dob`` to ``on`` (birthday counted on the day itself)."""
    years = on.dt.year - dob.dt.year
    before_birthday = (on.dt.month < dob.dt.month) | ((on.dt.month == dob.dt.month) & (on.dt.day < dob.dt.day))
    return (years - before_birthday.astype("Int64")).astype("Int64")


class _Run:
    """The log of one pseudonymise run: file (the contract file written), column, action, n."""

    def __init__(self):
        self.rows: list[dict] = []

    def note(self, file, column, action, n=0):
        self.rows.append({"file": str(file), "column": str(column), "action": action, "n": int(n)})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["file", "column", "action", "n"])


def _refuse(file: str, column: str, rule: str) -> ValueError:
    where = f"{file}, column {column}" if column else file
    return ValueError(f"{where}: {rule}; nothing was written")


def _label(col: str, k: int, *, shown: bool, what: str | None = None, positions=None) -> str:
    """How the log names a provider column: by its header only when the column map allows it by name (it is
    then written under that name); else by its position in the provider's table and what its header says,
    so that no header text (which can itself be a name or a number) reaches the copy."""
    if shown:
        return str(col)
    at = positions[k] if positions is not None and k < len(positions) else k + 1
    return f"column {at} (header not shown{': it says ' + what if what else ''})"


def _hits_text(hits) -> str:
    return "; ".join(f"{n} value{'s' if n != 1 else ''} look{'s' if n == 1 else ''} like {what} "
                     f"(first in row {first + 2})" for what, n, first in hits)


def _contract_text(col, typed: pd.Series) -> pd.Series:
    """Typed contract values written as the contract's text (ISO dates, true/false, codes, whole numbers)."""
    if col.kind == "date":
        return typed.dt.strftime("%Y-%m-%d").fillna("").astype(object)
    if col.kind == "bool":
        return typed.map({True: "true", False: "false"}).astype(object).where(typed.notna(), "")
    if col.kind == "int":
        return typed.astype("Int64").astype(str).replace("<NA>", "").astype(object)
    if col.kind == "float":
        return typed.map(lambda v: "" if pd.isna(v) else repr(float(v))).astype(object)
    return typed.astype(object).where(typed.notna(), "")


def _type_failures(table: str, raw: pd.DataFrame, typed: pd.DataFrame, fname: str) -> None:
    """Refuse a contract column whose filled cells do not parse as its declared type (a name in a code column,
    free text in a date or number column): such cells would otherwise be copied, or silently emptied."""
    for col in TABLES[table].columns:
        if col.name not in typed or col.name not in raw or col.kind == "str" or col.name in ID_COLUMNS:
            continue
        filled = (as_text(raw[col.name]) != "").to_numpy()
        lost = filled & typed[col.name].isna().to_numpy()
        if lost.any():
            first = int(np.argmax(lost)) + 2
            what = {"enum": "one of the allowed codes (" + ", ".join(col.values) + ")",
                    "set": "';'-separated allowed codes (" + ", ".join(col.values) + ")",
                    "bool": "a yes/no value", "int": "a whole number in range", "float": "a number in range",
                    "date": "a full date"}[col.kind]
            raise _refuse(fname, col.name, f"{int(lost.sum())} value{'s are' if lost.sum() != 1 else ' is'} not "
                                           f"{what} (first in row {first}; not shown): free text, names or other "
                                           "data in a code, date or number column are never copied; correct the "
                                           "export, or map the values with the column map, and run again")


def _contract_target(raw: pd.DataFrame, tmap, spec, fname: str) -> list[str]:
    """Each provider column's contract name (its own name when the map does not rename it); a header row of
    values, or two columns becoming one, stop the run."""
    heads = header_problems(raw.columns, file=fname)
    if len(heads):
        raise _refuse(fname, "", heads["rule"].iloc[0])
    target = [str(tmap.columns.get(c, c)).strip() for c in raw.columns]  # provider column -> contract name
    dup = pd.Index(target).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        raise _refuse(fname, "", f"two columns of the export become column {target[k]!r}" if target[k] in spec.names
                      else f"column {k + 1} appears more than once in the header")
    return target


class _Copy:
    """One table being copied: the provider's cells, the contract columns as the loader types them, and the
    columns written so far."""

    def __init__(self, raw: pd.DataFrame, table: str, tmap, cmap, key: bytes, run: _Run):
        self.fname, self.table, self.spec = f"{table}.csv", table, TABLES[table]
        self.tmap, self.cmap, self.key, self.run = tmap, cmap, key, run
        raw = raw.copy(deep=False)
        raw.index = pd.RangeIndex(len(raw))
        self.raw = raw
        target = _contract_target(raw, tmap, self.spec, self.fname)
        self.contract = [t in self.spec.names for t in target]
        # contract columns and what the map derives from: the loader's own parsing (value maps, multi-select
        # rules, derived columns, date format), checked cell by cell
        inputs = _derive_inputs(tmap)
        read = [c or str(p) in inputs or t in inputs for p, t, c in zip(raw.columns, target, self.contract)]
        typed, _problems, _log = validate_tables({table: raw.loc[:, read]}, files={table: self.fname}, column_map=cmap)
        self.typed = typed[table].drop(columns="_row")
        self.named = raw.loc[:, self.contract].copy(deep=False)
        self.named.columns = [t for t, c in zip(target, self.contract) if c]
        self.derived = [c for c in tmap.derive if c in self.spec.names and c not in self.named]
        self.keep_rows = self.typed.index  # trailing blank rows are left out, as the loader leaves them out
        self.out: dict[str, pd.Series] = {}
        self.allowed = {norm_name(a) for a in cmap.allow_columns}
        self.date_format = tmap.date_format or cmap.date_format
        self.ref_dates = None  # the referral dates a column of dates of birth is checked against

    def note(self, column, action, n) -> None:
        self.run.note(self.fname, column, action, n)

    def dropped(self, label: str, why: str) -> None:
        self.note(label, f"dropped ({why})", len(self.keep_rows))


def _refuse_identifiers(t: _Copy) -> None:
    """A contract column cannot be dropped: a cell of the wrong type or one that looks like an identifier stops
    the run."""
    _type_failures(t.table, t.named, t.typed, t.fname)
    checked = t.named[[c for c in t.named.columns if c not in ID_COLUMNS]]
    found = identifier_problems(checked, file=t.fname, table=t.table, recode=t.tmap.values)
    if len(found):
        first = found.iloc[0]
        raise _refuse(t.fname, first["column"], f"{first['rule'].split(';')[0]}: this contract column cannot be "
                                                "dropped, so correct these cells in the export and run again")


def _hashed(text: pd.Series, key: bytes, prefix: str) -> tuple[pd.Series, pd.Series]:
    filled = text != ""
    hashed = text.copy()
    hashed[filled] = text[filled].map(lambda v: pseudonym(v, key, prefix=prefix))
    return hashed, filled


def _copy_contract(t: _Copy) -> None:
    """Contract ID columns hashed, the others written in the contract's form."""
    for col in t.spec.columns:
        if col.name not in t.named and col.name not in t.derived:
            continue
        if col.name in ID_COLUMNS:
            text = as_text(t.named[col.name] if col.name in t.named else t.typed[col.name].reindex(t.raw.index))
            t.out[col.name], filled = _hashed(text, t.key, _PREFIXES[col.name])
            t.note(col.name, "replaced by keyed hash (HMAC-SHA256)", filled.sum())
        else:
            t.out[col.name] = _contract_text(col, t.typed[col.name]).reindex(t.raw.index, fill_value="")
            t.note(col.name, "checked against its contract type and copied", (t.out[col.name] != "").sum())


@dataclass
class _Extra:
    """A column outside the contract: its cells, normalised name, what its name says, how the log names it,
    and what the content scan found in it."""

    col: str
    values: pd.Series
    text: pd.Series
    name: str
    what: str | None
    label: str
    scan: list


def _as_age(t: _Copy, x: _Extra) -> bool:
    """A column named as a date of birth becomes age at referral (once, when the table has a referral date
    and no age), and is dropped."""
    if x.what != "a date of birth":
        return False
    if "referral_date" in t.named and "age" not in t.out:
        born = parse_dates(x.text, t.date_format, serial=True)
        age = _age(born, parse_dates(as_text(t.named["referral_date"]), t.date_format))
        age = age.where((age >= 0) & (age <= 120))
        t.out["age"] = age.astype(str).replace("<NA>", "").astype(object)
        t.note(x.label, "converted to age at referral (column age)", age.notna().sum())
        unusable = (x.text != "") & age.isna()
        if unusable.any():
            t.note(x.label, "age left empty: date of birth or referral date not a full date", unusable.sum())
        t.dropped(x.label, "date of birth")
    else:
        why = "an age column is already present" if "age" in t.out else "no referral date in this table"
        t.dropped(x.label, f"date of birth; not converted to age: {why}")
    return True


def _dob_lookalike(t: _Copy, x: _Extra) -> bool:
    """Dates that imply adults' ages, under a name that does not say so: dropped, never turned into age."""
    if x.what is not None or _dob_hits(x.values, t.ref_dates, str(x.col)) is None:
        return False
    t.dropped(x.label, "its dates look like dates of birth; only a column named as a date of birth is converted "
                       "to age")
    return True


def _as_district(t: _Copy, x: _Extra) -> bool:
    """A postcode becomes its district (outward code)."""
    if x.what != "a postcode":
        return False
    compact = x.text.str.upper().str.replace(r"\s+", "", regex=True)
    district = compact.str.extract(r"^([A-Z]{1,2}\d[A-Z\d]?)\d[A-Z]{2}$")[0]
    district = district.fillna(compact.where(compact.str.match(_DISTRICT))).fillna("")
    t.out["postcode_district"] = district
    t.note(x.label, "coarsened to postcode district (column postcode_district)", (district != "").sum())
    lost = (compact != "") & (district == "")
    if lost.any():
        t.note(x.label, "emptied: not a UK postcode", lost.sum())
    return True


def _not_allowed(t: _Copy, x: _Extra) -> bool:
    if x.name in t.allowed:
        return False
    why = (f"column looks like {x.what}" if x.what is not None else _hits_text(x.scan) if x.scan
           else "not in the data contract; list it under allow_columns in the column map to keep it")
    t.dropped(x.label, why)
    return True


def _hashed_reference(t: _Copy, x: _Extra) -> bool:
    """An allowed column named like a person's or case's reference is hashed, never copied."""
    if not _PERSON_ID.search(x.name):
        return False
    t.out[x.name], filled = _hashed(x.text, t.key, "X")
    t.note(x.label, "replaced by keyed hash (HMAC-SHA256; allowed reference column)", filled.sum())
    return True


def _flagged_cells(t: _Copy, x: _Extra) -> bool:
    if x.scan:
        t.dropped(x.label, f"allowed by name, but {_hits_text(x.scan)}")
        return True
    formula = x.text.str.contains(_FORMULA)
    if formula.any():
        t.dropped(x.label, f"allowed by name, but {int(formula.sum())} value(s) start like a spreadsheet formula; "
                           f"first in row {int(formula.to_numpy().argmax()) + 2}")
        return True
    return False


def _kept(t: _Copy, x: _Extra) -> bool:
    t.out[x.name] = x.text
    t.note(x.label, "kept (allowed by the column map; no cell looks like an identifier)", (x.text != "").sum())
    return True


#: what happens to a column outside the contract: the first step that takes it
_EXTRA_STEPS = (_as_age, _dob_lookalike, _as_district, _not_allowed, _hashed_reference, _flagged_cells, _kept)


def _copy_extras(t: _Copy) -> None:
    """Columns outside the contract, in the provider's order (an age column is recognised whatever its place)."""
    extras = [(k, c) for k, (c, is_c) in enumerate(zip(t.raw.columns, t.contract))
              if not is_c and c not in t.tmap.drop]
    if not extras:
        return
    numbers = {norm_name(a) for a in t.cmap.number_columns}
    kinds = ["number" if norm_name(c) in numbers else None for _k, c in extras]
    scans = scan_table(t.raw[[c for _k, c in extras]], kinds=kinds)
    t.ref_dates = _ref_dates(t.named)
    positions = t.raw.attrs.get(POSITIONS)
    for (k, col), scan in zip(extras, scans):
        values = t.raw[col]
        n, what = norm_name(col), name_rule(col, values)
        x = _Extra(col, values, as_text(values), n, what,
                   _label(col, k, shown=n in t.allowed, what=what, positions=positions), scan)
        next(step for step in _EXTRA_STEPS if step(t, x))


def _pseudonymise_table(raw: pd.DataFrame, table: str, tmap, cmap, key: bytes, run: _Run) -> pd.DataFrame:
    """Allow-list one table: hash IDs, check and write contract columns, convert DOB/postcode, keep allowed extras."""
    t = _Copy(raw, table, tmap, cmap, key, run)
    _refuse_identifiers(t)
    _copy_contract(t)
    _copy_extras(t)
    return pd.DataFrame(t.out, index=t.raw.index).loc[t.keep_rows]


# ---------------------------------------------------------------------------
# quasi-identifiers
# ---------------------------------------------------------------------------

_QUASI = (("site + referral date + age", ["site_id", "referral_date", "age"]),
          ("site + referral date + age + gender + ethnicity",
           ["site_id", "referral_date", "age", "gender", "ethnicity"]),
          ("site + all episode dates + age + gender + ethnicity",
           ["site_id", "referral_date", "assessment_date", "start_date", "exit_date", "age", "gender", "ethnicity"]))


def uniqueness(referrals: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """k-anonymity summary: for each set of quasi-identifiers, (records unique on it, records).

    A record that no other record shares on site, dates, age, gender and ethnicity can be picked out by anyone
    who knows those few facts about a person (a neighbour, a former partner).  Empty cells count as a value.

    >>> r = pd.DataFrame({"site_id": ["S1", "S1", "S2"], "referral_date": ["2023-04-01"] * 3, "age": ["30"] * 3})
    >>> uniqueness(r)["site + referral date + age"]
    (1, 3)
    """
    out = {}
    for label, cols in _QUASI:
        have = [c for c in cols if c in referrals]
        if not have or not len(referrals):
            continue
        key = referrals[have].astype(str)
        size = key.groupby(have, dropna=False, sort=False)[have[0]].transform("size")
        out[label] = (int((size == 1).sum()), len(referrals))
    return out


def pattern_uniqueness(incidents: pd.DataFrame) -> tuple[int, int]:
    """(people whose list of (incident date, incident type) no one else has, people with incidents).

    Police and MARAC records are known to others (the police, a partner): a person's sequence of events can
    pick out his record even when every single field is common.

    >>> inc = pd.DataFrame({"participant_id": ["a", "a", "b", "c"], "incident_date": ["2023-01-01"] * 4,
    ...                     "incident_type": ["arrest", "da_crime", "arrest", "arrest"]})
    >>> pattern_uniqueness(inc)
    (1, 3)
    """
    if not {"participant_id", "incident_date", "incident_type"} <= set(incidents) or not len(incidents):
        return 0, 0
    rows = incidents.assign(_e=incidents["incident_date"].astype(str) + "|" + incidents["incident_type"].astype(str))
    pattern = rows.sort_values("_e").groupby("participant_id", sort=False)["_e"].agg(";".join)
    counts = pattern.map(pattern.value_counts())
    return int((counts == 1).sum()), len(pattern)


def _keyed_int(key: bytes, text: str) -> int:
    return int.from_bytes(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()[:8], "big")


def _band(age: pd.Series) -> pd.Series:
    num = pd.to_numeric(age, errors="coerce")
    edges = np.array(AGE_BANDS)
    idx = np.searchsorted(edges, num.fillna(-1).to_numpy(), side="right") - 1
    lower = np.where(idx >= 0, edges[np.clip(idx, 0, None)], np.nan)
    return pd.Series(lower, index=age.index).where(num.notna()).map(
        lambda v: "" if pd.isna(v) else str(int(v))).astype(object)


def _site_limits(tables: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Per site: its period end and extract date (no shifted date may pass them)."""
    sites = tables.get("sites")
    limits = {}
    if sites is not None and "site_id" in sites:
        for c in ("period_end", "data_extract_date"):
            if c in sites:
                limits[c] = dict(zip(sites["site_id"], pd.to_datetime(sites[c], errors="coerce")))
    return limits


def _person_offsets(tables: dict[str, pd.DataFrame], key: bytes, shift_days: int, person_of_ref: dict) -> dict:
    """Each person's own offset in -shift_days..shift_days, from the key (intervals within a person are kept),
    cut back so that no date passes its site's period end (referral) or extract date (every date)."""
    ref = tables.get("referrals")
    inc = tables.get("incidents")
    people = sorted(set(person_of_ref.values()) | set(inc["participant_id"] if inc is not None and "participant_id"
                                                      in inc else []))
    offset = {p: _keyed_int(key, "shift:" + p) % (2 * shift_days + 1) - shift_days for p in people if p}
    limits = _site_limits(tables)
    room: dict[str, int] = {}

    def cap(persons, dates, limit):
        gap = (limit - dates).dt.days
        for p, g in zip(persons, gap):
            if p and pd.notna(g):
                room[p] = min(room.get(p, 10 ** 6), int(g))

    site_of_ref = dict(zip(ref["referral_id"], ref["site_id"])) if ref is not None else {}
    for tname, df in tables.items():
        if tname == "sites":
            continue
        persons, site = _persons(tname, df, person_of_ref, site_of_ref, ref)
        for col in _date_columns(tname, df):
            d = pd.to_datetime(df[col], errors="coerce")
            if "data_extract_date" in limits:
                cap(persons, d, site.map(limits["data_extract_date"]))
            if tname == "referrals" and col == "referral_date" and "period_end" in limits:
                cap(persons, d, site.map(limits["period_end"]))
    return {p: min(o, room.get(p, o)) for p, o in offset.items()}


def _coarsen_dates(tables: dict[str, pd.DataFrame], mode: str, offset: dict, person_of_ref: dict) -> int:
    """Every date of a person's records to its month's first day, or moved by the person's offset; how many."""
    ref = tables.get("referrals")
    n_dates = 0
    for tname, df in tables.items():
        if tname == "sites":
            continue
        persons = _persons(tname, df, person_of_ref, {}, ref)[0] if mode == "shift" else None
        for col in _date_columns(tname, df):
            d = pd.to_datetime(df[col], errors="coerce")
            if mode == "month":
                new = d.dt.to_period("M").dt.start_time
            else:
                new = d + pd.to_timedelta(persons.map(offset).fillna(0).astype(int).to_numpy(), unit="D")
            df[col] = new.dt.strftime("%Y-%m-%d").fillna("").astype(object)
            n_dates += int(d.notna().sum())
    return n_dates


def _band_ages(ref: pd.DataFrame, mode: str, run: _Run) -> None:
    """Ages banded; with months, an age that still makes a referral unique on site + month + band emptied."""
    ref["age"] = _band(ref["age"])
    run.note("referrals.csv", "age", "banded (14-17, 18-24, 25-34, ..., 65+; written as the band's lower bound)",
             (ref["age"] != "").sum())
    if mode == "month" and {"site_id", "referral_date"} <= set(ref):
        # local suppression
        size = ref.groupby(["site_id", "referral_date", "age"], sort=False)["age"].transform("size")
        alone = (size == 1) & (ref["age"] != "")
        ref.loc[alone, "age"] = ""
        run.note("referrals.csv", "age", "emptied where site + month + age band was still unique "
                                         "(local suppression)", alone.sum())


def _coarsen(tables: dict[str, pd.DataFrame], mode: str, key: bytes, shift_days: int, run: _Run) -> None:
    """Coarsen the quasi-identifiers of the written tables, in place (see :func:`pseudonymise`)."""
    ref = tables.get("referrals")
    person_of_ref = dict(zip(ref["referral_id"], ref["participant_id"])) if ref is not None and {
        "referral_id", "participant_id"} <= set(ref) else {}
    offset = _person_offsets(tables, key, shift_days, person_of_ref) if mode == "shift" else {}
    n_dates = _coarsen_dates(tables, mode, offset, person_of_ref)
    run.note("(all tables)", "(dates)", "reduced to the first day of their month" if mode == "month" else
             f"moved by each person's keyed offset of up to {shift_days} days (intervals within a person kept; "
             "never past the site's period end or extract date)", n_dates)
    if ref is not None and "age" in ref:
        _band_ages(ref, mode, run)


def _date_columns(tname: str, df: pd.DataFrame) -> list[str]:
    return [c.name for c in TABLES[tname].columns if c.kind == "date" and c.name in df]


def _persons(tname, df, person_of_ref, site_of_ref, ref):
    """Each row's person (participant pseudonym) and site, through its referral where it has no participant_id."""
    if "participant_id" in df:
        persons = df["participant_id"]
    elif "referral_id" in df:
        persons = df["referral_id"].map(person_of_ref).fillna("")
    else:
        persons = pd.Series("", index=df.index)
    if "referral_id" in df and site_of_ref:
        site = df["referral_id"].map(site_of_ref)
    elif "participant_id" in df and ref is not None and "site_id" in ref:
        first_site = ref.drop_duplicates("participant_id").set_index("participant_id")["site_id"]
        site = df["participant_id"].map(first_site)
    else:
        site = pd.Series(np.nan, index=df.index)
    return persons, site


def _shuffle(df: pd.DataFrame, key: bytes, tname: str) -> pd.DataFrame:
    """The rows in a keyed random order (the same key gives the same order)."""
    rng = np.random.default_rng(_keyed_int(key, "rows:" + tname))
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def _failed_log_path(out_dir: Path) -> Path:
    return out_dir.parent / f"{out_dir.name}.failed-run.log"


def pseudonymise(in_dir: str | Path, out_dir: str | Path, *, key_file: str | Path,
                 column_map: str | Path | dict | None = None, force: bool = False,
                 allow_outside: bool = False, coarsen: str | None = None, shift_days: int = 30) -> pd.DataFrame:
    """Write a pseudonymised, allow-listed copy of a programme's export as contract CSV files.

    The export is read as :func:`~dapp_eval.data.io.load_programme` reads it (CSV,
    Excel, SPSS, Stata or Parquet; file, sheet and column names from the
    column map).  A table whose file cannot be read, or whose header row
    holds values, stops the run.  Each table is written as ``<table>.csv``
    under the contract's column names, holding only:

    - contract ID columns (participant_id, referral_id, partner_id,
      incident_id, event_id), replaced by :func:`pseudonym` with the key, so
      the same ID gets the same pseudonym in every file;
    - the other contract columns, after the loader's own parsing (value maps
      and date format of the column map) and written in the contract's form;
      a cell that is not of the column's type (a name in a code column, text
      in a date or number column) or looks like an identifier stops the run:
      a contract column cannot be dropped;
    - ``age`` at referral (whole years) from a column named as a date of
      birth (``DOB``, ``ClientDOB``, ``DateBorn``; ISO, UK, ``3rd March
      1985``, ``03-Mar-1985`` or Excel serial dates), when the table has a
      referral date and no age; a column whose dates only look like dates
      of birth is dropped, never turned into age;
    - ``postcode_district``: the district (outward code, e.g. ``CV6``) of a
      postcode column;
    - extra columns listed under ``allow_columns`` in the column map whose
      cells pass the content scan (a column named like a reference, e.g.
      ``client_ref``, is hashed); a ``column_map.yaml`` listing them is
      written with the copy.

    Everything else (names, free text, phone numbers, addresses, e-mail,
    NHS/NI numbers, police references, other files, subfolders, every file's
    metadata) is not written; the log says what was dropped and why, naming
    a provider's column by its header only when the header says what it is.

    ``coarsen`` reduces the quasi-identifiers as well:

    - ``"month"``: every date of a person's records becomes the first day of
      its month (sites' dates are kept); ages are banded (14-17, 18-24,
      25-34, ..., 65+, written as the band's lower bound); an age that still
      makes a referral unique on site + month + band is emptied;
    - ``"shift"``: every date of a person's records moves by one keyed
      offset per person (up to ``shift_days`` either way, cut back so that
      no date passes its site's period end or extract date); intervals
      within a person are exact, so waiting times and follow-up windows are
      kept, but the copy's dates stay day-exact (unique on them), so only
      their link to the true dates is broken; ages are banded;
    - with either, every table's rows are put in a keyed random order.

    The log always ends with a k-anonymity summary (:func:`uniqueness`): the
    share of referrals unique on site + referral date + age, with gender and
    ethnicity, and with every episode date, before and after coarsening.

    The output is built in a temporary folder beside ``out_dir`` and renamed
    at the end: on any error ``out_dir`` is left as it was and
    ``<out_dir>.failed-run.log`` is written beside it.  A non-empty
    ``out_dir`` is refused unless ``force``, which replaces it whole.  The
    log (file, column, action, n) is returned and written to
    ``OUT/pseudonymisation_log.csv``.

    Parameters
    ----------
    in_dir, out_dir : str or Path
        The export and the folder to write (must differ; neither inside the other's way).
    key_file : str or Path
        The secret key (from ``dapp-eval keygen``): readable by its owner only,
        at least 16 different bytes, and not under ``in_dir`` or ``out_dir``.
    column_map : str, Path or dict, optional
        Column map of the export (default: ``IN/column_map.yaml`` if present).
    force : bool
        Replace a non-empty ``out_dir``.
    allow_outside : bool
        Let the column map name files outside ``in_dir``.
    coarsen : {None, "month", "shift"}
        Reduce the quasi-identifiers too (see above).
    shift_days : int
        Largest date offset of ``coarsen="shift"``.

    Returns
    -------
    DataFrame
        The log.

    Raises
    ------
    ValueError
        A key that is missing, readable by others, short or repetitive, or
        kept with the data; OUT not empty; a table that cannot be read or
        has values for a header; a contract column holding an identifier or
        a value not of its type.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:  # a provider would keep the key apart, for the next extract
    ...     key = keygen(Path(tmp, "KEY"))
    ...     log = pseudonymise("data_synthetic", Path(tmp, "clean"), key_file=key)
    >>> log.columns.tolist()
    ['file', 'column', 'action', 'n']
    >>> log.query("file == 'referrals.csv'")["column"].tolist()[:3]
    ['referral_id', 'participant_id', 'site_id']
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    run = _Run()
    tmp: Path | None = None
    try:
        key = _check_places(in_dir, out_dir, key_file, coarsen, force)
        cmap = _the_map(in_dir, column_map)
        ex = _read_for_copy(in_dir, cmap, allow_outside)
        _note_other_files(in_dir, ex, column_map, run)
        clean: dict[str, pd.DataFrame] = {}
        for table in TABLES:
            if table in ex.tables:
                clean[table] = _pseudonymise_table(ex.tables.pop(table), table, cmap.for_table(table), cmap, key, run)
        k_anon = _KAnonymity(clean)
        if coarsen:
            _coarsen(clean, coarsen, key, shift_days, run)
            for table in clean:
                clean[table] = _shuffle(clean[table], key, table)
            run.note("(all tables)", "(rows)", "put in a keyed random order", sum(len(d) for d in clean.values()))
        k_anon.after(clean)
        k_anon.note(run, coarsen)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        log_df = _write_copy(tmp, clean, cmap, run, k_anon, coarsen)
        _replace(tmp, out_dir)
        tmp = None
        return log_df
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _write_failed_log(out_dir, exc, run)
        raise


def _check_places(in_dir: Path, out_dir: Path, key_file, coarsen, force: bool) -> bytes:
    """The arguments' checks before anything is read: the folders, the key (returned) and ``coarsen``."""
    if coarsen not in (None, "month", "shift"):
        raise ValueError("coarsen must be 'month' or 'shift'")
    if not in_dir.is_dir():
        raise FileNotFoundError(f"input folder {in_dir} does not exist")
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError("write the pseudonymised copy to a different folder than the input")
    if _inside(out_dir, in_dir):
        raise ValueError("the input folder lies inside the output folder: choose an output folder elsewhere")
    key = _read_key(key_file, in_dir=in_dir, out_dir=out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not force:
        raise ValueError(f"the output folder {out_dir} is not empty: choose a new folder, or pass --force "
                         "(force=True) to replace it whole")
    return key


def _read_for_copy(in_dir: Path, cmap, allow_outside: bool):
    """The export read as the loader reads it; any problem reading it stops the run (named by contract table)."""
    ex, _hashing = _read_export(in_dir, cmap, allow_outside=allow_outside)
    problems = ex.problem_frame()
    if len(problems):
        table_of = {part: t for t, f in ex.files.items() for part in f.split(" + ")}
        first = problems.iloc[0]
        where = f"{table_of[first['file']]} table" if first["file"] in table_of else "the column map"
        row = f", row {int(first['row'])}" if pd.notna(first["row"]) else ""
        raise ValueError(f"{len(problems)} problem(s) reading the export, nothing was written; first: the "
                         f"{where}{row}: {first['rule']}. Run `dapp-eval validate` on the export for the full "
                         "list")
    return ex


def _note_other_files(in_dir: Path, ex, column_map, run: _Run) -> None:
    """Files and subfolders of the input that are not copied, counted (never named)."""
    used = {p.resolve() for p in ex.paths} | ({Path(column_map).resolve()} if isinstance(column_map, (str, Path))
                                               else {(in_dir / "column_map.yaml").resolve()})
    others = [p for p in in_dir.iterdir() if p.resolve() not in used]
    n_dirs = sum(p.is_dir() for p in others)
    if len(others) - n_dirs:
        run.note("(other files)", "", "not copied: not a table of the data contract (names not shown)",
                 len(others) - n_dirs)
    if n_dirs:
        run.note("(subfolders)", "", "not copied: only the files of the input folder are read", n_dirs)


class _KAnonymity:
    """Shares of referrals unique on quasi-identifiers, and of people unique on their incidents, before and
    after coarsening."""

    def __init__(self, clean: dict[str, pd.DataFrame]):
        self.before = uniqueness(clean["referrals"]) if "referrals" in clean else {}
        self.pattern_before = pattern_uniqueness(clean["incidents"]) if "incidents" in clean else (0, 0)

    def after(self, clean: dict[str, pd.DataFrame]) -> None:
        self.after_ = uniqueness(clean["referrals"]) if "referrals" in clean else {}
        self.pattern_after = pattern_uniqueness(clean["incidents"]) if "incidents" in clean else (0, 0)

    def note(self, run: _Run, coarsen: str | None) -> None:
        for label, (n, total) in self.before.items():
            run.note("referrals.csv", "(k-anonymity)", f"unique on {label}: {100 * n / max(total, 1):.1f}% of "
                                                      f"{total} referrals{' before coarsening' if coarsen else ''}", n)
            if coarsen:
                m = self.after_[label][0]
                run.note("referrals.csv", "(k-anonymity)", f"unique on {label}: {100 * m / max(total, 1):.1f}% of "
                                                          f"{total} referrals after coarsening ({coarsen})", m)
        if not self.pattern_before[1]:
            return
        for when, (n, total) in (("before", self.pattern_before), ("after", self.pattern_after))[:2 if coarsen else 1]:
            run.note("incidents.csv", "(k-anonymity)", f"people unique on their incident dates and types: "
                                                      f"{100 * n / total:.1f}% of {total}"
                                                      f"{f' {when} coarsening' if coarsen else ''}", n)

    def summary(self) -> dict:
        return {"k_anonymity": {label: {"unique_before": self.before[label][0],
                                        "unique_after": self.after_[label][0], "records": self.before[label][1]}
                                for label in self.before},
                "incident_patterns": {"unique_before": self.pattern_before[0],
                                      "unique_after": self.pattern_after[0], "people": self.pattern_before[1]}}


def _write_allowed_map(tmp: Path, clean: dict[str, pd.DataFrame], cmap, run: _Run) -> None:
    """A column map listing the extra columns kept, when there are any (the copy is otherwise in contract form)."""
    extras = sorted({c for t, df in clean.items() for c in df.columns if c not in TABLES[t].names
                     and c not in ("age", "postcode_district")})
    districts = any("postcode_district" in df for df in clean.values())
    if not extras and not districts:
        return
    numbers = [c for c in extras if c in {norm_name(a) for a in cmap.number_columns}]
    allow = extras + (["postcode_district"] if districts else [])
    spec = {"allow_columns": allow} | ({"number_columns": numbers} if numbers else {})
    (tmp / "column_map.yaml").write_text(
        "# written by dapp-eval pseudonymise: the copy is in contract form; these extra columns were "
        "allowed\n" + yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    run.note("column_map.yaml", "", "written: the extra columns kept (allow_columns)", len(allow))


def _write_copy(tmp: Path, clean: dict[str, pd.DataFrame], cmap, run: _Run, k_anon: _KAnonymity,
                coarsen: str | None) -> pd.DataFrame:
    """The contract CSVs, the allowed columns' map, the log and a note of the method; the log is returned."""
    for table, df in clean.items():
        df.to_csv(tmp / f"{table}.csv", index=False, lineterminator="\n")
    _write_allowed_map(tmp, clean, cmap, run)
    log_df = run.frame()
    log_df.to_csv(tmp / LOG_NAME, index=False, lineterminator="\n")
    (tmp / "pseudonymisation_note.json").write_text(json.dumps({
        "method": "HMAC-SHA256 keyed hash, first 64 bits written as 16 consonants, per-column prefix",
        "kept": "contract columns (checked against their types), age from a date of birth, postcode "
                "districts, allowed extra columns that passed the content scan",
        "coarsened": coarsen or "no",
        **k_anon.summary(),
        "key": "not stored here; keep the key file separate from the data and the reports",
    }, indent=2) + "\n")
    return log_df


def _replace(tmp: Path, out_dir: Path) -> None:
    """Put the finished folder in place of ``out_dir`` with renames (the old one is removed only afterwards)."""
    old = None
    if out_dir.exists() or out_dir.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


def _write_failed_log(out_dir: Path, exc: BaseException, run: _Run) -> None:
    """A log of the failed run beside OUT (never inside it): when, why, and what had been done."""
    try:
        path = _failed_log_path(out_dir)
        if not path.parent.is_dir():
            return
        when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines = [f"dapp-eval pseudonymise failed at {when}; {out_dir} was left as it was.",
                 f"error: {type(exc).__name__}: {exc}", "", "actions before the failure (file, column, action, n):"]
        lines += [f"{r['file']}, {r['column']}, {r['action']}, {r['n']}" for r in run.rows] or ["(none)"]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError:
        pass

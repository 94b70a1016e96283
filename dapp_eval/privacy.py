"""Keep direct identifiers out: detect them on load, pseudonymise a folder.

The data describe victims of abuse.  dapp_eval works only on pseudonymised
data: the loader refuses a table with columns that look like names, dates of
birth, full postcodes, addresses, phone numbers, e-mail addresses or NHS /
police reference numbers, and points to :func:`pseudonymise` (``dapp-eval
pseudonymise IN OUT --key-file KEY``), which replaces identifiers with keyed
hashes (HMAC-SHA256), turns a date of birth into age at referral and a
postcode into its district, drops the rest and logs what it did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import TABLES

__all__ = ["identifier_problems", "pseudonymise", "ID_COLUMNS", "pseudonym"]

#: contract columns that hold pseudonymous identifiers (hashed by pseudonymise)
ID_COLUMNS = ("participant_id", "referral_id", "partner_id", "incident_id", "event_id")
#: pseudonym prefix per ID column; event_id shares incident_id's, because an
#: empty event_id defaults to the incident_id and the two must still match
_PREFIXES = {"participant_id": "P", "referral_id": "R", "partner_id": "V", "incident_id": "I", "event_id": "I"}

_NAME_RULES: list[tuple[str, re.Pattern]] = [
    ("a person's name", re.compile(
        r"^(first|last|sur|given|family|full|fore|middle|maiden|client|person|victim|survivor|partner|child|"
        r"children|parent|mother|father|offender|perp\w*|service_?user)?_?names?$|^(forename|surname|initials|"
        r"alias|aka|known_as|also_known_as)$")),
    ("a date of birth", re.compile(r"^(dob|d_o_b|date_?of_?birth|birth_?date|birthday)$")),
    ("a postcode", re.compile(r"^(post_?code|postal_?code|zip(_?code)?)$")),
    ("an address", re.compile(r"(^|_)(address|addr|street|house_?(number|name)|address_?line_?\d)($|_)")),
    ("a phone number", re.compile(r"(^|_)(phone|telephone|tel|mobile|landline)(_?(no|number|num))?($|_)")),
    ("an e-mail address", re.compile(r"(^|_)e_?mail(_?address)?($|_)")),
    ("an NHS number", re.compile(r"^nhs$|(^|_)nhs_?(no|number|num|id)($|_)")),
    ("a police or court reference", re.compile(
        r"(^|_)(pnc|cro|crime_?ref(erence)?|police_?ref(erence)?|warrant|custody_?(no|number|ref))($|_)")),
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_POSTCODE = re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}$")
_DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")


def _is_uk_phone(v: str) -> bool:
    """A UK phone number: 10 or 11 digits starting 01, 02, 03, 05, 07, 08 or 09 (or +44 ...)."""
    digits = re.sub(r"[\s\-().]", "", v)
    if digits.startswith("+44"):
        digits = "0" + digits[3:].removeprefix("0")
    return re.fullmatch(r"0[1235789]\d{8,9}", digits) is not None


def _is_nhs_number(v: str) -> bool:
    """Ten digits (spaces or hyphens allowed) whose last digit is the NHS modulus-11 check digit."""
    digits = re.sub(r"[\s-]", "", v)
    if not re.fullmatch(r"\d{10}", digits):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


_VALUE_RULES: list[tuple[str, Callable[[str], bool], bool]] = [
    # (what, test of one stripped value, also applied to the contract's own columns)
    ("e-mail addresses", lambda v: _EMAIL.match(v) is not None, True),
    ("full UK postcodes", lambda v: _POSTCODE.match(v) is not None, True),
    ("phone numbers", _is_uk_phone, False),
    ("NHS numbers", _is_nhs_number, False),
]
_SAFE_NAMES = {"site_name", "programme_name", "instrument"}
_ALL_CONTRACT = {c for t in TABLES.values() for c in t.names}
# a column (outside the contract) that holds some person's or case's reference: hashed by pseudonymise
_PERSON_ID = re.compile(r"(^|_)(id|ids|identifier|ref|reference|case_?(no|number)|client_?(no|number)|urn|uid)$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


_SAMPLE = 500


def _sample(values: pd.Series) -> pd.Series:
    """The first 500 non-empty text cells of a column (stripped), indexed by their position in it."""
    values = values.reset_index(drop=True)
    out: list[pd.Series] = []
    found = 0
    for start in range(0, len(values), 4 * _SAMPLE):
        chunk = values.iloc[start:start + 4 * _SAMPLE]
        chunk = chunk[chunk.ne("").to_numpy(dtype=bool) & chunk.notna().to_numpy()]
        chunk = chunk[chunk.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)]
        if len(chunk):
            chunk = chunk.astype(object).str.strip()
            chunk = chunk[chunk != ""]
        out.append(chunk)
        found += len(chunk)
        if found >= _SAMPLE:
            break
    if not found:
        return pd.Series([], dtype=object)
    return pd.concat(out).iloc[:_SAMPLE]


def identifier_problems(df: pd.DataFrame, *, file: str, table: str | None = None,
                        allow: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Columns of ``df`` that look like direct identifiers, as loader problems.

    A column is flagged by its name (e.g. ``surname``, ``DOB``, ``Postcode``)
    or by its values (at least half of the first 500 non-empty values look
    like e-mail addresses, full UK postcodes, UK phone numbers or NHS numbers
    with a valid check digit).  The contract's own columns and ``allow`` (the
    column map's ``allow_columns``) are never flagged by name; contract
    columns are checked only for e-mail and postcode values.

    Parameters
    ----------
    df : DataFrame
        A table as read (contract column names after the column map's renaming).
    file : str
        File name used in the problems.
    table : str, optional
        Contract table name; its columns are trusted by name.
    allow : sequence of str
        Further column names that are not identifiers.

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
    >>> identifier_problems(pd.DataFrame({"contact": ["a@b.org"]}), file="x.csv")["rule"].str[:28].tolist()
    ['values look like e-mail addr']
    """
    contract = set(TABLES[table].names) if table in TABLES else {c for t in TABLES.values() for c in t.names}
    allowed = {_norm(a) for a in allow} | _SAFE_NAMES
    rows = []
    way_out = ("; remove it or run `dapp-eval pseudonymise IN OUT --key-file KEY` "
               "(or list the column under allow_columns in the column map if it is not an identifier)")
    for j, col in enumerate(df.columns):
        n = _norm(col)
        if n in allowed:
            continue
        if n not in contract:
            what = next((what for what, pat in _NAME_RULES if pat.search(n)), None)
            if what is not None:
                rows.append({"file": file, "row": 1, "column": str(col), "value": str(col),
                             "rule": f"column looks like {what} (a direct identifier){way_out}"})
                continue
        rules = [(what, test) for what, test, on_contract in _VALUE_RULES if on_contract or n not in contract]
        sample = _sample(df.iloc[:, j])
        if sample.empty:
            continue
        for what, test in rules:
            hits = sample.map(test).to_numpy(dtype=bool)
            if hits.mean() >= 0.5:
                first = int(np.flatnonzero(hits)[0])
                rows.append({"file": file, "row": int(sample.index[first]) + 2, "column": str(col),
                             "value": "(hidden)", "rule": f"values look like {what} (direct identifiers){way_out}"})
                break
    return pd.DataFrame(rows, columns=["file", "row", "column", "value", "rule"])


def pseudonym(value: str, key: bytes, *, prefix: str = "") -> str:
    """Keyed hash (HMAC-SHA256, first 16 hex digits) of an identifier.

    The same key gives the same pseudonym in every file, so links survive.
    Surrounding white space is ignored (the loader ignores it too).

    Examples
    --------
    >>> pseudonym("12345", b"secret-key", prefix="P")
    'P600cee29b069e12a'
    >>> pseudonym(" 12345 ", b"secret-key", prefix="P")
    'P600cee29b069e12a'
    """
    digest = hmac.new(key, str(value).strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return prefix + digest[:16]


def _read_key(key_file: str | Path) -> bytes:
    path = Path(key_file)
    if not path.is_file():
        raise FileNotFoundError(f"key file {key_file} does not exist (make one with "
                                "`python -c \"import secrets; print(secrets.token_hex(32))\" > KEY`)")
    key = path.read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"the key in {key_file} is too short: use at least 16 random characters "
                         "(e.g. `python -c \"import secrets; print(secrets.token_hex(32))\" > KEY`)")
    return key


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M")


def _parse_dates(values: pd.Series, extra_format: str | None = None) -> pd.Series:
    """Full dates in ISO or UK day-first form, each cell on its own (never month-first, never guessed)."""
    text = values.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in ((extra_format,) if extra_format else ()) + _DATE_FORMATS:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return out


def _age(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Whole years from ``dob`` to ``on`` (birthday counted on the day itself)."""
    years = on.dt.year - dob.dt.year
    before_birthday = (on.dt.month < dob.dt.month) | ((on.dt.month == dob.dt.month) & (on.dt.day < dob.dt.day))
    return (years - before_birthday.astype("Int64")).astype("Int64")


def pseudonymise(in_dir: str | Path, out_dir: str | Path, *, key_file: str | Path,
                 column_map: str | Path | dict | None = None) -> pd.DataFrame:
    """Write a pseudonymised copy of a folder of CSV files.

    - contract ID columns (participant_id, referral_id, partner_id,
      incident_id, event_id; under a provider's own names when the column
      map renames them) and other columns named like a reference (``*_id``,
      ``*_ref``, ``case_no``, ...) are replaced by :func:`pseudonym` with the
      key, so the same ID gets the same pseudonym in every file;
    - a date of birth becomes ``age`` at referral (whole years) when the table
      has a referral date, and is then dropped; dates are read as ISO
      ``YYYY-MM-DD`` or UK ``DD/MM/YYYY``, never month-first;
    - a full postcode becomes its district (outward code, e.g. ``CV6``) in a
      column renamed ``<name>_district``;
    - names, addresses, phone numbers, e-mail and NHS/police references are dropped;
    - ``column_map.yaml`` is copied so the output loads like the input;
      other files are not copied (the log lists them).

    The key is never written to the output.  A log of every action (file,
    column, action, n) is written to ``OUT/pseudonymisation_log.csv`` and returned.

    Parameters
    ----------
    in_dir, out_dir : str or Path
        The export and the folder to write (must differ).
    key_file : str or Path
        File holding the secret key (at least 16 characters); keep it apart
        from the data and the reports.
    column_map : str, Path or dict, optional
        Column map of the export (default: ``IN/column_map.yaml`` if present).

    Returns
    -------
    DataFrame
        The log.

    Raises
    ------
    ValueError
        Key too short, output folder the same as the input, or a file that is not UTF-8 CSV.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:  # a provider would use its raw export and a kept key
    ...     key = Path(tmp, "KEY"); _ = key.write_text("an example key, not a real one")
    ...     log = pseudonymise("data_synthetic", Path(tmp, "clean"), key_file=key)
    >>> log.columns.tolist()
    ['file', 'column', 'action', 'n']
    >>> log.query("file == 'referrals.csv'")["column"].tolist()
    ['referral_id', 'participant_id']
    """
    from .io import read_column_map

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise FileNotFoundError(f"input folder {in_dir} does not exist")
    key = _read_key(key_file)
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError("write the pseudonymised copy to a different folder than the input")
    key_path = Path(key_file).resolve()
    if key_path.parent == out_dir.resolve():
        raise ValueError("keep the key file outside the output folder: the output is meant to be shared, the key never")
    if column_map is None and (in_dir / "column_map.yaml").exists():
        column_map = in_dir / "column_map.yaml"
    cmap = read_column_map(column_map)
    by_file = {tm.file: name for name, tm in cmap.tables.items() if tm.file}
    out_dir.mkdir(parents=True, exist_ok=True)
    log: list[dict] = []

    def note(file, column, action, n):
        log.append({"file": file, "column": column, "action": action, "n": int(n)})

    for path in sorted(p for p in in_dir.iterdir() if p.is_file()):
        if path.resolve() == key_path:
            continue  # the key file itself is never read as data or copied
        if path.suffix.lower() != ".csv":
            if path.name == "column_map.yaml" and column_map == in_dir / "column_map.yaml":
                shutil.copyfile(path, out_dir / path.name)
                note(path.name, "", "copied (column map)", 0)
            else:
                note(path.name, "", "not copied: only CSV files are pseudonymised (convert it to CSV UTF-8 first)", 0)
            continue
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"{path.name} is not UTF-8 text: save it as 'CSV UTF-8' and run again") from None
        except pd.errors.ParserError as exc:
            raise ValueError(f"{path.name} cannot be read as CSV ({exc}); check quoting and delimiters") from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path.name} is empty") from None
        table = by_file.get(path.name) or (path.stem if path.stem in TABLES else None)
        tmap = cmap.for_table(table) if table else cmap.for_table("")
        target = {c: _norm(tmap.columns.get(c, c)) for c in df.columns}  # provider column -> contract name
        allowed = {_norm(a) for a in cmap.allow_columns}
        ref_col = next((c for c in df.columns if target[c] == "referral_date"), None)
        has_age = any(t == "age" for t in target.values())
        date_format = tmap.date_format or cmap.date_format
        for col in list(df.columns):
            n = target[col]
            if n in ID_COLUMNS or (n not in _ALL_CONTRACT and n not in allowed and _PERSON_ID.search(n)):
                prefix = _PREFIXES.get(n, "X")
                mask = df[col].str.strip() != ""
                df.loc[mask, col] = df.loc[mask, col].map(lambda v, p=prefix: pseudonym(v, key, prefix=p))
                note(path.name, col, "replaced by keyed hash (HMAC-SHA256)", mask.sum())
                continue
            found = identifier_problems(df[[col]].rename(columns={col: tmap.columns.get(col, col)}),
                                        file=path.name, table=table, allow=cmap.allow_columns)
            if found.empty:
                continue
            rule = found["rule"].iloc[0]
            if "date of birth" in rule and ref_col is not None and not has_age:
                dob = _parse_dates(df[col], date_format)
                ref = _parse_dates(df[ref_col], date_format)
                age = _age(dob, ref)
                df["age"] = age.astype(str).replace("<NA>", "")
                has_age = True
                note(path.name, col, "converted to age at referral (column age)", age.notna().sum())
                unusable = (df[col].str.strip() != "") & age.isna()
                if unusable.any():
                    note(path.name, col, "age left empty: date of birth or referral date not a full date "
                                         "(YYYY-MM-DD or DD/MM/YYYY)", unusable.sum())
                df = df.drop(columns=col)
                note(path.name, col, "dropped (date of birth)", len(df))
            elif "date of birth" in rule:
                df = df.drop(columns=col)
                why = "an age column is already present" if has_age else "no referral date in this file"
                note(path.name, col, f"dropped (date of birth; not converted to age: {why})", len(df))
            elif "postcode" in rule:
                compact = df[col].str.upper().str.replace(r"\s+", "", regex=True)
                district = compact.str.extract(r"^([A-Z]{1,2}\d[A-Z\d]?)\d[A-Z]{2}$")[0]
                district = district.fillna(compact.where(compact.str.match(_DISTRICT))).fillna("")
                new = f"{col}_district"
                df[col] = district
                df = df.rename(columns={col: new})
                note(path.name, col, f"coarsened to postcode district (column {new})", (district != "").sum())
                lost = (compact != "") & (district == "")
                if lost.any():
                    note(path.name, col, "emptied: not a UK postcode", lost.sum())
            else:
                df = df.drop(columns=col)
                note(path.name, col, f"dropped ({rule.split(';')[0]})", len(df))
        df.to_csv(out_dir / path.name, index=False, lineterminator="\n")
    log_df = pd.DataFrame(log, columns=["file", "column", "action", "n"])
    log_df.to_csv(out_dir / "pseudonymisation_log.csv", index=False, lineterminator="\n")
    (out_dir / "pseudonymisation_note.json").write_text(json.dumps({
        "method": "HMAC-SHA256 keyed hash, first 16 hex digits, per-column prefix",
        "key": "not stored here; keep the key file separate from the data and the reports",
    }, indent=2) + "\n")
    return log_df

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
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import TABLES

__all__ = ["identifier_problems", "pseudonymise", "ID_COLUMNS", "pseudonym"]

#: contract columns that hold pseudonymous identifiers (hashed by pseudonymise)
ID_COLUMNS = ("participant_id", "referral_id", "partner_id", "incident_id", "event_id")

_NAME_RULES: list[tuple[str, re.Pattern]] = [
    ("a person's name", re.compile(r"^(first|last|sur|given|family|full|fore|middle|client|person|victim|partner|perp\w*)?_?names?$|^(forename|surname|initials)$")),
    ("a date of birth", re.compile(r"^(dob|d_o_b|date_?of_?birth|birth_?date|birthday)$")),
    ("a postcode", re.compile(r"^(post_?code|postal_?code|zip(_?code)?)$")),
    ("an address", re.compile(r"(^|_)(address|addr|street|house_?(number|name)|address_?line_?\d)($|_)")),
    ("a phone number", re.compile(r"(^|_)(phone|telephone|tel|mobile|landline)(_?(no|number|num))?($|_)")),
    ("an e-mail address", re.compile(r"(^|_)e_?mail(_?address)?($|_)")),
    ("an NHS number", re.compile(r"(^|_)nhs(_?(no|number|num|id))?($|_)")),
    ("a police or court reference", re.compile(r"(^|_)(pnc|cro|crime_?ref(erence)?|police_?ref(erence)?|warrant|custody_?(no|number|ref))($|_)")),
]
_VALUE_RULES: list[tuple[str, re.Pattern, bool]] = [
    # (what, pattern, also applied to the contract's own id columns)
    ("e-mail addresses", re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"), True),
    ("full UK postcodes", re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}$"), True),
    ("phone numbers", re.compile(r"^(\+44\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}$"), False),
    ("NHS numbers", re.compile(r"^\d{3}[\s-]?\d{3}[\s-]?\d{4}$"), False),
]
_SAFE_NAMES = {"site_name", "programme_name", "instrument"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def identifier_problems(df: pd.DataFrame, *, file: str, table: str | None = None,
                        allow: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Columns of ``df`` that look like direct identifiers, as loader problems.

    A column is flagged by its name (e.g. ``surname``, ``DOB``, ``Postcode``)
    or by its values (most non-empty values look like e-mail addresses, full
    postcodes, phone or NHS numbers).  The contract's own columns and
    ``allow`` (the column map's ``allow_columns``) are never flagged by name;
    contract ID columns are checked only for e-mail and postcode values.

    Returns
    -------
    DataFrame
        file, row, column, value, rule (empty when nothing is found).

    Examples
    --------
    >>> df = pd.DataFrame({"referral_id": ["R1"], "Surname": ["Smith"]})
    >>> identifier_problems(df, file="referrals.csv")["column"].tolist()
    ['Surname']
    """
    contract = set(TABLES[table].names) if table in TABLES else {c for t in TABLES.values() for c in t.names}
    allowed = {_norm(a) for a in allow} | _SAFE_NAMES
    rows = []
    way_out = ("; remove it or run `dapp-eval pseudonymise IN OUT --key-file KEY` "
               "(or list the column under allow_columns in the column map if it is not an identifier)")
    for col in df.columns:
        n = _norm(col)
        if n in allowed:
            continue
        if n not in contract:
            for what, pat in _NAME_RULES:
                if pat.search(n):
                    rows.append({"file": file, "row": 1, "column": str(col), "value": str(col),
                                 "rule": f"column looks like {what} (a direct identifier){way_out}"})
                    break
            else:
                pass
            if rows and rows[-1]["column"] == str(col):
                continue
        values = df[col]
        values = values[values.map(lambda v: isinstance(v, str) and v.strip() != "")].astype(str).str.strip()
        if values.empty:
            continue
        sample = values.iloc[:500]
        for what, pat, on_ids in _VALUE_RULES:
            if n in contract and not on_ids:
                continue
            hits = sample.str.match(pat)
            if hits.mean() >= 0.5:
                first = int(np.flatnonzero(hits.to_numpy())[0])
                rows.append({"file": file, "row": int(sample.index[first]) + 2, "column": str(col),
                             "value": "(hidden)", "rule": f"values look like {what} (direct identifiers){way_out}"})
                break
    return pd.DataFrame(rows, columns=["file", "row", "column", "value", "rule"])


def pseudonym(value: str, key: bytes, *, prefix: str = "") -> str:
    """Keyed hash (HMAC-SHA256, first 16 hex digits) of an identifier.

    The same key gives the same pseudonym in every file, so links survive.

    Examples
    --------
    >>> pseudonym("12345", b"secret-key", prefix="P")
    'P600cee29b069e12a'
    """
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return prefix + digest[:16]


def _read_key(key_file: str | Path) -> bytes:
    key = Path(key_file).read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"the key in {key_file} is too short: use at least 16 random characters "
                         "(e.g. `python -c \"import secrets; print(secrets.token_hex(32))\" > KEY`)")
    return key


def pseudonymise(in_dir: str | Path, out_dir: str | Path, *, key_file: str | Path) -> pd.DataFrame:
    """Write a pseudonymised copy of a folder of CSV files.

    - contract ID columns (participant_id, referral_id, partner_id,
      incident_id, event_id) and any column named like an ID of a person are
      replaced by :func:`pseudonym` with the key;
    - a date of birth becomes ``age`` at referral (whole years) when the table
      has a referral_date, and is then dropped;
    - a full postcode becomes its district (outward code, e.g. ``CV6``);
    - names, addresses, phone numbers, e-mail and NHS/police references are dropped.

    The key is never written to the output.  A log of every action is written
    to ``OUT/pseudonymisation_log.csv`` and returned.

    Examples
    --------
    >>> log = pseudonymise("raw_export", "clean", key_file="KEY")  # doctest: +SKIP
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    key = _read_key(key_file)
    if out_dir.resolve() == in_dir.resolve():
        raise ValueError("write the pseudonymised copy to a different folder than the input")
    out_dir.mkdir(parents=True, exist_ok=True)
    log = []
    prefixes = {"participant_id": "P", "referral_id": "R", "partner_id": "V", "incident_id": "I", "event_id": "E"}
    for path in sorted(in_dir.glob("*.csv")):
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        table = path.stem if path.stem in TABLES else None
        for col in list(df.columns):
            n = _norm(col)
            if n in ID_COLUMNS:
                mask = df[col] != ""
                df.loc[mask, col] = df.loc[mask, col].map(lambda v, p=prefixes[n]: pseudonym(v, key, prefix=p))
                log.append({"file": path.name, "column": col, "action": "replaced by keyed hash (HMAC-SHA256)",
                            "n": int(mask.sum())})
                continue
            found = identifier_problems(df[[col]], file=path.name, table=table)
            if found.empty:
                continue
            rule = found["rule"].iloc[0]
            if "date of birth" in rule and "referral_date" in df.columns:
                dob = pd.to_datetime(df[col], errors="coerce", dayfirst=not df[col].str.match(r"^\d{4}-").all())
                ref = pd.to_datetime(df["referral_date"], errors="coerce")
                age = ((ref - dob).dt.days / 365.25).floor()
                if "age" not in df.columns:
                    df["age"] = age.astype("Int64").astype(str).replace("<NA>", "")
                    log.append({"file": path.name, "column": col, "action": "converted to age at referral (column age)",
                                "n": int(age.notna().sum())})
                df = df.drop(columns=col)
                log.append({"file": path.name, "column": col, "action": "dropped (date of birth)", "n": len(df)})
            elif "postcode" in rule:
                district = df[col].str.upper().str.replace(r"\s+", "", regex=True).str.extract(
                    r"^([A-Z]{1,2}\d[A-Z\d]?)\d[A-Z]{2}$")[0].fillna("")
                df[col] = district
                log.append({"file": path.name, "column": col, "action": "coarsened to postcode district",
                            "n": int((district != "").sum())})
            else:
                df = df.drop(columns=col)
                log.append({"file": path.name, "column": col, "action": f"dropped ({rule.split(';')[0]})", "n": len(df)})
        df.to_csv(out_dir / path.name, index=False, lineterminator="\n")
    log_df = pd.DataFrame(log, columns=["file", "column", "action", "n"])
    log_df.to_csv(out_dir / "pseudonymisation_log.csv", index=False, lineterminator="\n")
    (out_dir / "pseudonymisation_note.json").write_text(json.dumps({
        "method": "HMAC-SHA256 keyed hash, first 16 hex digits, per-column prefix",
        "key": "not stored here; keep the key file separate from the data and the reports",
    }, indent=2) + "\n")
    return log_df

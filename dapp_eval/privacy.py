"""Keep direct identifiers out: pseudonymise a provider's export with an allow-list.

The data describe victims of abuse.  dapp_eval works only on pseudonymised
data: the loader refuses a table holding direct identifiers (see
:mod:`dapp_eval.identifiers`, which finds them by column name and in every
cell), and :func:`pseudonymise` (``dapp-eval pseudonymise IN OUT --key-file
KEY``) writes a copy that keeps only what the data contract allows:

- contract ID columns are replaced by keyed pseudonyms (HMAC-SHA256);
- other contract columns are copied unchanged, after the same content scan
  as the loader (a contract column holding a phone number stops the run);
- a date of birth becomes ``age`` at referral, a postcode its district;
- extra columns are kept only when the column map allows them by name
  (``allow_columns``) and no cell looks like an identifier; everything else,
  free text included, is dropped and listed in the log (file, column, why).

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
from pathlib import Path

import pandas as pd

from .identifiers import (
    ID_COLUMNS,
    _dob_hits,
    _ref_dates,
    identifier_problems,
    is_flag,
    name_rule,
    norm_name,
    parse_dates,
    scan_table,
)
from .io import _inside, read_column_map
from .schema import TABLES

__all__ = ["identifier_problems", "pseudonymise", "ID_COLUMNS", "pseudonym", "keygen", "LOG_NAME"]

#: pseudonym prefix per ID column; event_id shares incident_id's, because an
#: empty event_id defaults to the incident_id and the two must still match
_PREFIXES = {"participant_id": "P", "referral_id": "R", "partner_id": "V", "incident_id": "I", "event_id": "I"}
#: an allowed extra column named like some person's or case's reference: hashed, never copied
_PERSON_ID = re.compile(r"(^|_)(id|ids|identifier|ref|reference|case_?(no|number)|client_?(no|number)|urn|uid)$")
_DISTRICT = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
_FORMULA = re.compile(r"^ *[=+\-@\t\r]")
_NUMBER = re.compile(r"^ *[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)? *$")
LOG_NAME = "pseudonymisation_log.csv"
_MIN_KEY_BYTES = 16


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
    """The log of one pseudonymise run."""

    def __init__(self):
        self.rows: list[dict] = []

    def note(self, file, column, action, n=0):
        self.rows.append({"file": str(file), "column": str(column), "action": action, "n": int(n)})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["file", "column", "action", "n"])


def _refuse(file: str, column: str, rule: str) -> ValueError:
    return ValueError(f"{file}, column '{column}': {rule}; nothing was written")


def _pseudonymise_table(df: pd.DataFrame, fname: str, table: str, tmap, cmap, key: bytes, run: _Run) -> pd.DataFrame:
    """Allow-list one table: hash IDs, keep contract columns, convert DOB/postcode, keep allowed clean extras."""
    contract = set(TABLES[table].names)
    target = {c: norm_name(tmap.columns.get(c, c)) for c in df.columns}  # provider column -> contract name
    allowed = {norm_name(a) for a in cmap.allow_columns}
    scans = dict(zip(df.columns, scan_table(df)))
    ref_col = next((c for c in df.columns if target[c] == "referral_date"), None)
    has_age = any(t == "age" for t in target.values())
    date_format = tmap.date_format or cmap.date_format
    ref_dates = _ref_dates(df.rename(columns={c: target[c] for c in df.columns}))
    out = {}

    def hits_text(hits):
        return "; ".join(f"{n} value{'s' if n != 1 else ''} look{'s' if n == 1 else ''} like {what} "
                         f"(first in row {first + 2})" for what, n, first in hits)

    for col in df.columns:
        n = target[col]
        values = df[col]
        filled = values.str.strip() != ""
        if n in ID_COLUMNS and n in contract:
            prefix = _PREFIXES[n]
            hashed = values.copy()
            hashed[filled] = values[filled].map(lambda v, p=prefix: pseudonym(v, key, prefix=p))
            out[col] = hashed
            run.note(fname, col, "replaced by keyed hash (HMAC-SHA256)", filled.sum())
            continue
        if n in contract:
            if scans[col]:
                raise _refuse(fname, col, f"{hits_text(scans[col])}: this contract column cannot be dropped, so "
                                          "correct these cells in the export and run again")
            if TABLES[table].column(n).kind == "str":
                formula = values.str.match(_FORMULA) & ~values.str.match(_NUMBER)
                if formula.any():
                    first = int(formula.to_numpy().argmax()) + 2
                    raise _refuse(fname, col, f"{int(formula.sum())} value(s) start like a spreadsheet formula "
                                              f"(=, +, -, @, tab; first in row {first}): correct them in the export")
            out[col] = values
            continue
        what = name_rule(col) if not is_flag(values) else None
        dob = _dob_hits(values, ref_dates) if what is None else None
        if what == "a date of birth" or dob is not None:
            if ref_col is not None and not has_age:
                born = parse_dates(values, date_format)
                age = _age(born, parse_dates(df[ref_col], date_format))
                out["age"] = age.astype(str).replace("<NA>", "")
                has_age = True
                run.note(fname, col, "converted to age at referral (column age)", age.notna().sum())
                unusable = filled & age.isna()
                if unusable.any():
                    run.note(fname, col, "age left empty: date of birth or referral date not a full date "
                                         "(YYYY-MM-DD or DD/MM/YYYY)", unusable.sum())
                run.note(fname, col, "dropped (date of birth)", len(df))
            else:
                why = "an age column is already present" if has_age else "no referral date in this file"
                run.note(fname, col, f"dropped (date of birth; not converted to age: {why})", len(df))
            continue
        if what == "a postcode":
            compact = values.str.upper().str.replace(r"\s+", "", regex=True)
            district = compact.str.extract(r"^([A-Z]{1,2}\d[A-Z\d]?)\d[A-Z]{2}$")[0]
            district = district.fillna(compact.where(compact.str.match(_DISTRICT))).fillna("")
            new = f"{col}_district"
            out[new] = district
            run.note(fname, col, f"coarsened to postcode district (column {new})", (district != "").sum())
            lost = (compact != "") & (district == "")
            if lost.any():
                run.note(fname, col, "emptied: not a UK postcode", lost.sum())
            continue
        if n not in allowed:
            if what is not None:
                why = f"column looks like {what}"
            elif scans[col]:
                why = hits_text(scans[col])
            else:
                why = "not in the data contract; list it under allow_columns in the column map to keep it"
            run.note(fname, col, f"dropped ({why})", len(df))
            continue
        if _PERSON_ID.search(n):
            hashed = values.copy()
            hashed[filled] = values[filled].map(lambda v: pseudonym(v, key, prefix="X"))
            out[col] = hashed
            run.note(fname, col, "replaced by keyed hash (HMAC-SHA256; allowed reference column)", filled.sum())
            continue
        if scans[col]:
            run.note(fname, col, f"dropped (allowed by name, but {hits_text(scans[col])})", len(df))
            continue
        formula = values.str.match(_FORMULA) & ~values.str.match(_NUMBER)
        if formula.any():
            run.note(fname, col, f"dropped (allowed by name, but {int(formula.sum())} value(s) start like a "
                                 f"spreadsheet formula; first in row {int(formula.to_numpy().argmax()) + 2})", len(df))
            continue
        out[col] = values
        run.note(fname, col, "kept (allowed by the column map; no cell looks like an identifier)", filled.sum())
    return pd.DataFrame(out, index=df.index)


def _read_table_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text: save it as 'CSV UTF-8' and run again") from None
    except pd.errors.ParserError:
        raise ValueError(f"{path.name} cannot be read as CSV; check quoting and delimiters") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path.name} is empty") from None
    if df.shape[1] == 1 and re.search(r"[;\t]", str(df.columns[0])):
        raise ValueError(f"{path.name}: the header splits on semicolons or tabs, not commas: save it as "
                         "comma-separated 'CSV UTF-8'")
    return df


def _failed_log_path(out_dir: Path) -> Path:
    return out_dir.parent / f"{out_dir.name}.failed-run.log"


def pseudonymise(in_dir: str | Path, out_dir: str | Path, *, key_file: str | Path,
                 column_map: str | Path | dict | None = None, force: bool = False,
                 allow_outside: bool = False) -> pd.DataFrame:
    """Write a pseudonymised, allow-listed copy of a folder of CSV files.

    Only the files of the contract's tables (``sites.csv`` ..., or the files
    the column map names) are written, each holding only:

    - contract ID columns (participant_id, referral_id, partner_id,
      incident_id, event_id; under a provider's own names when the column
      map renames them), replaced by :func:`pseudonym` with the key, so the
      same ID gets the same pseudonym in every file;
    - the other contract columns, unchanged, when no cell looks like an
      identifier and no text cell starts like a spreadsheet formula
      (otherwise the run stops: a contract column cannot be dropped);
    - ``age`` at referral (whole years) from a date of birth (by name, or a
      date column whose dates imply ages of 10-100), when the table has a
      referral date; dates are read as ISO or UK ``DD/MM/YYYY``, never
      month-first;
    - ``<name>_district``: the district (outward code, e.g. ``CV6``) of a
      postcode column;
    - extra columns listed under ``allow_columns`` in the column map whose
      cells pass the content scan (a column named like a reference, e.g.
      ``client_ref``, is hashed).

    Everything else (names, free text, phone numbers, addresses, e-mail,
    NHS/NI numbers, police references, other files, subfolders) is not
    written and is listed in the log with the reason.  Values are not
    altered otherwise: the copy is data, not a publication (published
    tables are protected against formula injection by the report).

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

    Returns
    -------
    DataFrame
        The log.

    Raises
    ------
    ValueError
        A key that is missing, readable by others, short or repetitive, or
        kept with the data; OUT not empty; a file that cannot be read; a
        contract column holding an identifier.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:  # a provider would keep the key apart, for the next extract
    ...     key = keygen(Path(tmp, "KEY"))
    ...     log = pseudonymise("data_synthetic", Path(tmp, "clean"), key_file=key)
    >>> log.columns.tolist()
    ['file', 'column', 'action', 'n']
    >>> log.query("file == 'referrals.csv'")["column"].tolist()
    ['referral_id', 'participant_id']
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    run = _Run()
    tmp: Path | None = None
    try:
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
        if column_map is None and (in_dir / "column_map.yaml").exists():
            column_map = in_dir / "column_map.yaml"
        cmap = read_column_map(column_map)
        by_file: dict[str, str] = {}
        for name, tm in cmap.tables.items():
            if tm.file:
                if not allow_outside and not _inside(in_dir, in_dir / tm.file):
                    raise ValueError(f"the column map names a file for table {name} outside the input folder: copy "
                                     "it into the folder, or pass --allow-outside if that is intended")
                by_file[str(tm.file)] = name
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        for path in sorted(in_dir.iterdir()):
            if path.is_dir():
                run.note(path.name + "/", "", "not copied: subfolder (only the files of the input folder are read)")
                continue
            table = by_file.get(path.name) or (path.stem if path.stem in TABLES and path.stem not in by_file.values()
                                               else None)
            if path.name == "column_map.yaml" and column_map == in_dir / "column_map.yaml":
                shutil.copyfile(path, tmp / path.name)
                run.note(path.name, "", "copied (column map)")
                continue
            if table is None:
                run.note(path.name, "", "not copied: not a table of the data contract (nor named by the column map)")
                continue
            if path.suffix.lower() != ".csv":
                run.note(path.name, "", "not copied: only CSV files are pseudonymised (convert it to CSV UTF-8 first)")
                continue
            df = _read_table_csv(path)
            clean = _pseudonymise_table(df, path.name, table, cmap.for_table(table), cmap, key, run)
            clean.to_csv(tmp / path.name, index=False, lineterminator="\n")
        if isinstance(column_map, (str, Path)) and not (tmp / "column_map.yaml").exists():
            # a map given on the command line goes with the copy, so the copy loads like the input
            shutil.copyfile(column_map, tmp / "column_map.yaml")
            run.note(Path(column_map).name, "", "copied (column map, as OUT/column_map.yaml)")
        log_df = run.frame()
        log_df.to_csv(tmp / LOG_NAME, index=False, lineterminator="\n")
        (tmp / "pseudonymisation_note.json").write_text(json.dumps({
            "method": "HMAC-SHA256 keyed hash, first 16 hex digits, per-column prefix",
            "kept": "contract columns, age from date of birth, postcode districts, allowed extra columns "
                    "that passed the content scan",
            "key": "not stored here; keep the key file separate from the data and the reports",
        }, indent=2) + "\n")
        _replace(tmp, out_dir)
        tmp = None
        return log_df
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _write_failed_log(out_dir, exc, run)
        raise


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

"""Read a programme data folder, validate it against the contract, return ProgrammeData.

The data flow is one-way: files -> :func:`load_programme` (this module, with
the rules of :mod:`dapp_eval.schema`) -> a validated :class:`ProgrammeData`
-> analyses.  Every violation in every file is collected before failing, and
reported with file, row (1-based as a spreadsheet shows it, header = row 1),
column, value and rule in one :class:`~dapp_eval.errors.DataValidationError`.

Accepted file formats per table: ``.csv`` (UTF-8, with or without BOM, LF or
CRLF), ``.xlsx``, ``.sav`` (SPSS), ``.dta`` (Stata) and ``.parquet``.  A
provider's own export is mapped onto the contract with a column-map YAML file
(see :func:`read_column_map`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import PROBLEM_COLUMNS, AnalysisError, DataValidationError
from .schema import TABLES, Column, Table

__all__ = ["ProgrammeData", "load_programme", "read_column_map", "validate_tables", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".sav", ".dta", ".parquet")
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n"})
_PARTIAL_DATE = re.compile(r"^\s*(\d{4}[-/]\d{1,2}|\d{1,2}[-/]\d{4}|[A-Za-z]{3,9}[ -]\d{4}|\d{4})\s*$")
_MAX_PROBLEMS_PER_RULE = 200  # per file/column/rule, so one broken column cannot flood the report


# ---------------------------------------------------------------------------
# column maps
# ---------------------------------------------------------------------------


@dataclass
class TableMap:
    """How one provider file maps onto one contract table."""

    file: str | None = None
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # provider name -> contract name
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # contract column -> {provider value: code}
    date_format: str | None = None


@dataclass
class ColumnMap:
    """A parsed column-map file.  See :func:`read_column_map`."""

    tables: dict[str, TableMap] = field(default_factory=dict)
    date_format: str | None = None
    allow_columns: tuple[str, ...] = ()
    source: str | None = None

    def for_table(self, name: str) -> TableMap:
        return self.tables.get(name, TableMap())


def read_column_map(path: str | Path | dict | None) -> ColumnMap:
    """Read a column-map YAML file (or dict) that maps a provider export onto the contract.

    The file looks like::

        date_format: "%d/%m/%Y"        # UK dates everywhere (default ISO %Y-%m-%d)
        allow_columns: [keyworker_code] # columns never to be treated as identifiers
        tables:
          referrals:
            file: Referrals 2024.xlsx   # file name in the folder (default referrals.<ext>)
            sheet: Data                 # Excel sheet (default: first)
            columns:                    # provider column -> contract column
              Ref No: referral_id
              Client ID: participant_id
              Sex: gender
            values:                     # contract column -> {provider value: contract code}
              gender: {M: male, F: female}
              exit_reason: {Completed programme: completed}
            date_format: "%d/%m/%Y"     # per-table override

    Parameters
    ----------
    path : str, Path, dict or None
        YAML file, an already-parsed dict, or None for the identity map.

    Returns
    -------
    ColumnMap

    Examples
    --------
    >>> cm = read_column_map({"tables": {"sites": {"columns": {"Site": "site_id"}}}})
    >>> cm.for_table("sites").columns
    {'Site': 'site_id'}
    """
    if path is None:
        return ColumnMap()
    if isinstance(path, dict):
        raw, source = path, None
    else:
        source = str(path)
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
        except yaml.YAMLError as exc:
            raise DataValidationError(
                pd.DataFrame([{"file": Path(path).name, "row": None, "column": "",
                               "value": "", "rule": f"column map is not valid YAML: {exc}"}])
            ) from None
    problems = []
    fname = Path(source).name if source else "column map"
    if not isinstance(raw, dict):
        problems.append("the column map must be a mapping with a 'tables' key")
        raw = {}
    tables: dict[str, TableMap] = {}
    for tname, spec in (raw.get("tables") or {}).items():
        if tname not in TABLES:
            problems.append(f"unknown table '{tname}' (known: {', '.join(TABLES)})")
            continue
        spec = spec or {}
        cols = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
        for target in cols.values():
            if target not in TABLES[tname].names:
                problems.append(f"tables.{tname}.columns maps onto '{target}', which is not a column of {tname}")
        values = {}
        for col, mapping in (spec.get("values") or {}).items():
            if col not in TABLES[tname].names:
                problems.append(f"tables.{tname}.values names '{col}', which is not a column of {tname}")
                continue
            values[col] = {str(k): v for k, v in (mapping or {}).items()}
        tables[tname] = TableMap(
            file=spec.get("file"), sheet=spec.get("sheet"), columns=cols, values=values,
            date_format=spec.get("date_format"),
        )
    if problems:
        raise DataValidationError(
            pd.DataFrame([{"file": fname, "row": None, "column": "", "value": "", "rule": p} for p in problems])
        )
    return ColumnMap(
        tables=tables,
        date_format=raw.get("date_format"),
        allow_columns=tuple(raw.get("allow_columns") or ()),
        source=source,
    )


# ---------------------------------------------------------------------------
# reading raw files
# ---------------------------------------------------------------------------


def _find_file(folder: Path, table: Table, tmap: TableMap) -> Path | None:
    if tmap.file:
        p = folder / tmap.file
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
    return found[0] if found else None


def _read_raw(path: Path, tmap: TableMap) -> pd.DataFrame:
    """Read a file with every cell as it stands (strings for text formats)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw_bytes = path.read_bytes()
        try:
            text = raw_bytes.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw_bytes[: exc.start].count(b"\n") + 1
            raise DataValidationError(pd.DataFrame([{
                "file": path.name, "row": line, "column": "", "value": repr(raw_bytes[exc.start:exc.start + 4]),
                "rule": "file is not UTF-8 text: save it as 'CSV UTF-8' (in Excel: Save As > CSV UTF-8)"}])) from None
        import io as _io

        try:
            df = pd.read_csv(
                _io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                skip_blank_lines=False, on_bad_lines="error", engine="c",
            )
        except pd.errors.ParserError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise DataValidationError(pd.DataFrame([{
                "file": path.name, "row": int(m.group(1)) if m else None, "column": "", "value": "",
                "rule": f"CSV cannot be parsed ({exc}); check quoting and the number of fields per row"}])) from None
        except pd.errors.EmptyDataError:
            raise DataValidationError(pd.DataFrame([{
                "file": path.name, "row": 1, "column": "", "value": "",
                "rule": "file is empty: it needs at least a header row"}])) from None
        return df
    if suffix == ".xlsx":
        df = pd.read_excel(path, sheet_name=tmap.sheet if tmap.sheet is not None else 0, dtype=object)
    elif suffix == ".sav":
        import pyreadstat

        df, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    elif suffix == ".dta":
        df = pd.read_stata(path, convert_categoricals=True)
    elif suffix == ".parquet":
        df = pd.read_parquet(path)
    else:  # pragma: no cover - guarded by _find_file
        raise ValueError(suffix)
    df = df.astype(object).where(df.notna(), "")
    df.columns = [str(c) for c in df.columns]
    return df


def _blank(s: pd.Series) -> pd.Series:
    return s.map(lambda v: v is None or (isinstance(v, str) and v.strip() == "") or (isinstance(v, float) and np.isnan(v)))


# ---------------------------------------------------------------------------
# parsing one column
# ---------------------------------------------------------------------------


class _Problems:
    def __init__(self):
        self.rows: list[dict] = []
        self.counts: dict[tuple, int] = {}

    def add(self, file, row, column, value, rule):
        key = (file, column, rule)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] <= _MAX_PROBLEMS_PER_RULE:
            self.rows.append({"file": file, "row": row, "column": column, "value": value, "rule": rule})
        elif self.counts[key] == _MAX_PROBLEMS_PER_RULE + 1:
            self.rows.append({"file": file, "row": None, "column": column, "value": "",
                              "rule": f"{rule} (further rows with this problem not listed)"})

    def add_mask(self, file, rows: pd.Series, column, values: pd.Series, mask, rule):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        for r, v in zip(rows[mask].tolist(), values[mask].tolist()):
            self.add(file, r, column, "" if v is None else str(v), rule)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS)


def _as_text(s: pd.Series) -> pd.Series:
    def conv(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (pd.Timestamp,)):
            return v.strftime("%Y-%m-%d")
        return str(v)

    return s.map(conv)


def _parse_column(col: Column, raw: pd.Series, rows: pd.Series, fname: str, date_format: str | None,
                  probs: _Problems) -> pd.Series:
    """Convert raw cells to the column's type, recording every failure."""
    blank = _blank(raw).to_numpy()
    if not col.nullable:
        probs.add_mask(fname, rows, col.name, raw, blank, "required value is missing")
    kind = col.kind
    if kind == "str":
        return _as_text(raw).str.strip().where(~blank, None).astype(object)

    if kind in ("enum", "set"):
        text = _as_text(raw).str.strip()
        if kind == "enum":
            canon = {v.lower(): v for v in col.values}
            low = text.str.lower().map(canon)
            bad = ~blank & low.isna().to_numpy()
            probs.add_mask(fname, rows, col.name, raw, bad,
                           f"value not allowed; use one of: {', '.join(col.values)}")
            return low.where(~blank, None).astype(object)
        parts = text.str.lower().str.replace(r"\s*;\s*", ";", regex=True)
        ok = parts.map(lambda t: t == "" or all(p in col.values for p in t.split(";") if p != ""))
        probs.add_mask(fname, rows, col.name, raw, ~blank & ~ok.to_numpy(),
                       f"';'-separated values must come from: {', '.join(col.values)}")
        return parts.where(~blank, None).astype(object)

    if kind == "bool":
        def to_bool(v):
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v in (0.0, 1.0)):
                return bool(int(v)) if v in (0, 1) else None
            t = str(v).strip().lower()
            if t in TRUE_WORDS:
                return True
            if t in FALSE_WORDS:
                return False
            return None

        vals = raw.map(to_bool)
        bad = ~blank & vals.isna().to_numpy()
        probs.add_mask(fname, rows, col.name, raw, bad, "not a yes/no value; use true/false (or yes/no, y/n, 1/0)")
        out = pd.array([None if b else v for v, b in zip(vals.tolist(), blank)], dtype="boolean")
        return pd.Series(out, index=raw.index)

    if kind in ("int", "float"):
        num = pd.to_numeric(_as_text(raw).str.strip().where(~blank, None), errors="coerce")
        bad_type = ~blank & num.isna().to_numpy()
        probs.add_mask(fname, rows, col.name, raw, bad_type, f"not a number ({'whole number' if kind == 'int' else 'number'} expected)")
        if kind == "int":
            frac = num.notna().to_numpy() & (num.fillna(0) % 1 != 0).to_numpy()
            probs.add_mask(fname, rows, col.name, raw, frac, "not a whole number")
            num = num.where(~frac)
        if col.min is not None:
            probs.add_mask(fname, rows, col.name, raw, (num < col.min).to_numpy(),
                           f"value below the allowed minimum {col.min:g}")
        if col.max is not None:
            probs.add_mask(fname, rows, col.name, raw, (num > col.max).to_numpy(),
                           f"value above the allowed maximum {col.max:g}")
        if kind == "int":
            return num.round().astype("Int64")
        return num.astype(float)

    if kind == "date":
        is_ts = raw.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "year")).to_numpy()
        text = _as_text(raw).str.strip()
        fmt = date_format or "%Y-%m-%d"
        parsed = pd.to_datetime(text.where(~blank & ~is_ts, None), format=fmt, errors="coerce")
        if is_ts.any():
            parsed = parsed.where(~is_ts, pd.to_datetime(raw.where(is_ts, None), errors="coerce"))
        bad = ~blank & parsed.isna().to_numpy()
        if bad.any():
            partial = text.str.match(_PARTIAL_DATE).to_numpy()
            probs.add_mask(fname, rows, col.name, raw, bad & partial,
                           "partial date (month or year only): enter the full date; dapp_eval never guesses the day")
            fmt_hint = fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            hint = f"not a valid date in the format {fmt_hint}"
            if fmt == "%Y-%m-%d":
                hint += " (for UK dates DD/MM/YYYY set date_format: \"%d/%m/%Y\" in the column map)"
            probs.add_mask(fname, rows, col.name, raw, bad & ~partial, hint)
        return parsed.astype("datetime64[ns]")
    raise ValueError(f"unknown column kind {kind}")  # pragma: no cover


# ---------------------------------------------------------------------------
# ProgrammeData
# ---------------------------------------------------------------------------


@dataclass
class ProgrammeData:
    """A validated programme data folder: one typed DataFrame per contract table.

    Attributes
    ----------
    sites, referrals : pandas.DataFrame
        Always present.
    sessions, risk_assessments, partners, partner_surveys, incidents : pandas.DataFrame or None
        Optional tables; ``None`` when the folder has no such file.
    source : str
        Where the data came from.
    load_log : pandas.DataFrame
        What the loader noticed and tolerated (file, note, n): extra columns
        kept, trailing blank rows ignored, values recoded by the column map.
    input_hash : str
        SHA-256 over the input files (names and bytes), for the report's title page.

    Examples
    --------
    >>> data = load_programme("data_synthetic")          # doctest: +SKIP
    >>> data.referrals.shape[0] > 0                      # doctest: +SKIP
    True
    """

    sites: pd.DataFrame
    referrals: pd.DataFrame
    sessions: pd.DataFrame | None = None
    risk_assessments: pd.DataFrame | None = None
    partners: pd.DataFrame | None = None
    partner_surveys: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    source: str = ""
    load_log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["file", "note", "n"]))
    input_hash: str = ""

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
            out.append({"table": name, "file": t.filename, "present": df is not None,
                        "n_rows": 0 if df is None else len(df), "n_columns": 0 if df is None else df.shape[1]})
        return pd.DataFrame(out)

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
        ep = ref.merge(sites, on="site_id", how="left", validate="many_to_one")
        if "planned_sessions" in ep:
            ep["planned"] = ep["planned_sessions"].fillna(ep["_site_planned"]).astype("Int64")
        else:
            ep["planned"] = ep["_site_planned"].astype("Int64")
        ep = ep.drop(columns="_site_planned")
        if self.sessions is not None and len(self.sessions):
            s = self.sessions
            att = s[s["attended"].fillna(False).astype(bool)]
            agg = pd.DataFrame({
                "n_sessions_scheduled": s.groupby("referral_id").size(),
                "n_sessions_attended": att.groupby("referral_id").size(),
                "last_attended_date": att.groupby("referral_id")["session_date"].max(),
            })
            ep = ep.merge(agg, left_on="referral_id", right_index=True, how="left")
        else:
            ep["n_sessions_scheduled"] = np.nan
            ep["n_sessions_attended"] = np.nan
            ep["last_attended_date"] = pd.NaT
        for c in ("n_sessions_scheduled", "n_sessions_attended"):
            ep[c] = ep[c].fillna(0).astype("Int64") if self.sessions is not None else ep[c].astype("Int64")
        ep["last_attended_date"] = pd.to_datetime(ep["last_attended_date"])
        return ep.reset_index(drop=True)

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
        >>> sub = data.subset(sites=["S1"], period=("2023-04-01", "2024-03-31"))  # doctest: +SKIP
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
            source=f"{self.source} [{label}]",
            load_log=self.load_log, input_hash=self.input_hash,
        )

    def __repr__(self) -> str:
        parts = [f"{n}={len(df)}" for n, df in self.tables().items()]
        return f"<ProgrammeData {self.source!r}: {', '.join(parts)}>"


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


def _rows_of(df: pd.DataFrame) -> pd.Series:
    return df["_row"]


def _check_table(table: Table, raw: pd.DataFrame, fname: str, tmap: TableMap, cmap: ColumnMap,
                 probs: _Problems, log: list) -> pd.DataFrame | None:
    # rename provider columns
    raw = raw.rename(columns={k: v for k, v in tmap.columns.items()})
    raw.columns = [str(c).strip() for c in raw.columns]
    dup_cols = raw.columns[raw.columns.duplicated()].unique().tolist()
    for c in dup_cols:
        probs.add(fname, 1, c, c, "column appears more than once in the header")
    if dup_cols:
        raw = raw.loc[:, ~raw.columns.duplicated()]
    # spreadsheet row numbers: header is row 1
    raw = raw.reset_index(drop=True)
    rows = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    # trailing blank rows are tolerated (and logged); blank rows inside the data are problems
    if len(raw):
        all_blank = np.ones(len(raw), dtype=bool)
        for c in raw.columns:
            all_blank &= _blank(raw[c]).to_numpy()
        n_trailing = 0
        for b in all_blank[::-1]:
            if not b:
                break
            n_trailing += 1
        if n_trailing:
            log.append({"file": fname, "note": "trailing blank rows ignored", "n": n_trailing})
            raw = raw.iloc[: len(raw) - n_trailing]
            rows = rows.iloc[: len(raw)]
            all_blank = all_blank[: len(raw)]
        for r in rows[all_blank].tolist():
            probs.add(fname, r, "", "", "blank row inside the data: delete it or fill it in")
    missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
    for c in missing:
        probs.add(fname, 1, c, "", "required column is missing from the header")
    extra = [c for c in raw.columns if c not in table.names]
    if extra:
        log.append({"file": fname, "note": f"extra columns kept: {', '.join(extra)}", "n": len(extra)})
    out = {}
    date_format = tmap.date_format or cmap.date_format
    for col in table.columns:
        if col.name not in raw.columns:
            continue
        series = raw[col.name]
        recode = tmap.values.get(col.name)
        if recode:
            key = _as_text(series).str.strip()
            hit = key.isin(recode.keys())
            if hit.any():
                series = series.where(~hit, key.map(recode))
                log.append({"file": fname, "note": f"{col.name}: values recoded by the column map", "n": int(hit.sum())})
        out[col.name] = _parse_column(col, series, rows, fname, date_format, probs)
    df = pd.DataFrame(out, index=raw.index)
    for c in extra:
        df[c] = raw[c]
    for col in table.columns:
        if col.name not in df and not col.required:
            df[col.name] = pd.Series([None] * len(df), index=df.index, dtype=_dtype(col))
    df["_row"] = rows.to_numpy()
    # keys
    if table.key and all(k in df for k in table.key):
        keycols = list(table.key)
        complete = df[keycols].notna().all(axis=1)
        dup = df[complete].duplicated(subset=keycols, keep="first")
        dup_idx = dup[dup].index
        first = df[complete].drop_duplicates(subset=keycols, keep="first").set_index(keycols)["_row"]
        for i in dup_idx:
            k = tuple(df.loc[i, keycols]) if len(keycols) > 1 else df.loc[i, keycols[0]]
            first_row = first.loc[k] if len(keycols) > 1 else first.loc[k]
            probs.add(fname, int(df.loc[i, "_row"]), "+".join(keycols), str(k),
                      f"duplicate key ({', '.join(keycols)} must be unique; first seen in row {int(first_row)})")
    for col in table.columns:
        if col.unique and col.name in df and (not table.key or (col.name,) != table.key):
            d = df[col.name].notna() & df[col.name].duplicated(keep="first")
            probs.add_mask(fname, df["_row"], col.name, df[col.name], d.to_numpy(), "value must be unique")
    return df


def _dtype(col: Column):
    return {"int": "Int64", "float": float, "bool": "boolean", "date": "datetime64[ns]"}.get(col.kind, object)


def _instrument_range(name: str) -> tuple[float, float] | None:
    """Score range of a registered instrument, or None if it is not registered."""
    from .risk import get_instrument

    try:
        inst = get_instrument(name)
    except KeyError:
        return None
    return float(inst.min_score), float(inst.max_score)


def _cross_checks(tabs: dict[str, pd.DataFrame], files: dict[str, str], probs: _Problems) -> None:
    sites = tabs["sites"]
    ref = tabs["referrals"]
    fs, fr = files["sites"], files["referrals"]

    def mask_rule(df, fname, column, mask, rule, value_col=None):
        mask = np.asarray(mask.fillna(False) if hasattr(mask, "fillna") else mask, dtype=bool)
        probs.add_mask(fname, df["_row"], column, df[value_col or column], mask, rule)

    # sites: dates in order
    if {"period_start", "period_end"} <= set(sites):
        mask_rule(sites, fs, "period_end", sites["period_end"] < sites["period_start"], "period_end is before period_start")
    if {"period_end", "data_extract_date"} <= set(sites):
        mask_rule(sites, fs, "data_extract_date", sites["data_extract_date"] < sites["period_end"],
                  "data_extract_date is before period_end")
    # foreign keys
    for tname, tab in tabs.items():
        for col, parent, pcol in TABLES[tname].foreign_keys:
            if parent not in tabs or col not in tab or pcol not in tabs[parent]:
                continue
            known = set(tabs[parent][pcol].dropna())
            orphan = tab[col].notna() & ~tab[col].isin(known)
            mask_rule(tab, files[tname], col, orphan, f"no matching {pcol} in {files[parent]} (orphan foreign key)")
    # referrals against their site
    needed = {"site_id", "referral_date"}
    if needed <= set(ref) and {"site_id", "period_end", "data_extract_date"} <= set(sites):
        s = sites.drop_duplicates("site_id").set_index("site_id")
        pend = ref["site_id"].map(s["period_end"])
        extract = ref["site_id"].map(s["data_extract_date"])
        mask_rule(ref, fr, "referral_date", ref["referral_date"] > pend, "referral_date is after the site's period_end")
        for c in ("assessment_date", "start_date", "exit_date"):
            if c in ref:
                mask_rule(ref, fr, c, ref[c] > extract, "date is after the site's data_extract_date")
    # referral date order
    order = [("assessment_date", "referral_date"), ("start_date", "assessment_date"), ("start_date", "referral_date"),
             ("exit_date", "referral_date"), ("exit_date", "assessment_date"), ("exit_date", "start_date")]
    for later, earlier in order:
        if later in ref and earlier in ref:
            mask_rule(ref, fr, later, ref[later] < ref[earlier], f"{later} is before {earlier}")
    # consistency rules
    if {"exit_date", "exit_reason"} <= set(ref):
        mask_rule(ref, fr, "exit_reason", ref["exit_date"].notna() & ref["exit_reason"].isna(),
                  "exit_date is given but exit_reason is empty (both or neither)")
        mask_rule(ref, fr, "exit_date", ref["exit_date"].isna() & ref["exit_reason"].notna(),
                  "exit_reason is given but exit_date is empty (both or neither)", value_col="exit_reason")
    if {"exit_reason", "assessment_outcome"} <= set(ref):
        mask_rule(ref, fr, "exit_reason", (ref["exit_reason"] == "unsuitable") & (ref["assessment_outcome"] != "unsuitable"),
                  "exit_reason 'unsuitable' requires assessment_outcome 'unsuitable'")
    if {"assessment_outcome", "start_date"} <= set(ref):
        mask_rule(ref, fr, "start_date", (ref["assessment_outcome"] == "unsuitable") & ref["start_date"].notna(),
                  "assessment_outcome 'unsuitable' allows no start_date")
    if {"assessment_outcome", "assessment_date"} <= set(ref):
        mask_rule(ref, fr, "assessment_outcome", ref["assessment_outcome"].notna() & ref["assessment_date"].isna(),
                  "assessment_outcome is given but assessment_date is empty")
    if {"exit_reason", "start_date"} <= set(ref):
        mask_rule(ref, fr, "start_date", ref["exit_reason"].isin(["completed", "dropped_out", "excluded"]) & ref["start_date"].isna(),
                  "exit_reason completed/dropped_out/excluded requires a start_date", value_col="exit_reason")
        for reason in ("declined_to_start",):
            mask_rule(ref, fr, "start_date", (ref["exit_reason"] == reason) & ref["start_date"].notna(),
                      "exit_reason 'declined_to_start' allows no start_date")
    if {"exit_reason", "assessment_date"} <= set(ref):
        mask_rule(ref, fr, "assessment_date", (ref["exit_reason"] == "declined_assessment") & ref["assessment_date"].notna(),
                  "exit_reason 'declined_assessment' allows no assessment_date")
    if {"start_date", "assessment_date"} <= set(ref):
        mask_rule(ref, fr, "assessment_date", ref["start_date"].notna() & ref["assessment_date"].isna(),
                  "start_date is given but assessment_date is empty (a programme starts after assessment)")
    # sessions within their episode
    ses = tabs.get("sessions")
    if ses is not None and {"referral_id", "session_date", "attended"} <= set(ses) and "referral_id" in ref:
        r = ref.drop_duplicates("referral_id").set_index("referral_id")
        site_extract = None
        if "site_id" in ref and {"site_id", "data_extract_date"} <= set(sites):
            site_extract = ref.set_index("referral_id")["site_id"].map(
                sites.drop_duplicates("site_id").set_index("site_id")["data_extract_date"])
        r = r[~r.index.duplicated()]
        att = ses["attended"].fillna(False).astype(bool)
        start = ses["referral_id"].map(r["start_date"]) if "start_date" in r else None
        end = ses["referral_id"].map(r["exit_date"]) if "exit_date" in r else None
        if site_extract is not None:
            site_extract = site_extract[~site_extract.index.duplicated()]
            end = end.fillna(ses["referral_id"].map(site_extract)) if end is not None else ses["referral_id"].map(site_extract)
        if start is not None:
            mask_rule(ses, files["sessions"], "session_date", att & start.isna() & ses["referral_id"].isin(r.index),
                      "attended session, but the referral has no start_date")
            mask_rule(ses, files["sessions"], "session_date", att & (ses["session_date"] < start),
                      "attended session before the referral's start_date")
        if end is not None:
            mask_rule(ses, files["sessions"], "session_date", att & (ses["session_date"] > end),
                      "attended session after the referral's exit_date (or the extract date if still open)")
    # risk scores within the instrument's range
    ra = tabs.get("risk_assessments")
    if ra is not None and {"instrument", "score"} <= set(ra):
        for inst, grp in ra.groupby("instrument", dropna=True):
            rng = _instrument_range(inst)
            if rng is None:
                mask_rule(grp, files["risk_assessments"], "instrument", pd.Series(True, index=grp.index),
                          "instrument is not in the registry (register it with dapp_eval.risk.register_instrument)")
                continue
            lo, hi = rng
            mask_rule(grp, files["risk_assessments"], "score", (grp["score"] < lo) | (grp["score"] > hi),
                      f"score outside the range of {inst} ({lo:g}..{hi:g})")
        if {"referral_id", "assessment_date"} <= set(ra) and "referral_date" in ref:
            rd = ra["referral_id"].map(ref.drop_duplicates("referral_id").set_index("referral_id")["referral_date"])
            mask_rule(ra, files["risk_assessments"], "assessment_date", ra["assessment_date"] < rd - pd.Timedelta(days=92),
                      "risk assessment more than 3 months before the referral_date")


def validate_tables(raw_tables: dict[str, pd.DataFrame], *, files: dict[str, str] | None = None,
                    column_map: ColumnMap | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Validate raw tables (cells as read from the files) against the contract.

    Parameters
    ----------
    raw_tables : dict of str to DataFrame
        Table name -> raw cells (strings for CSV, native values for other formats).
    files : dict, optional
        Table name -> file name used in messages (default ``<table>.csv``).
    column_map : ColumnMap, optional

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
    for name in ("sites", "referrals"):
        if name not in raw_tables:
            probs.add(files.get(name, f"{name}.csv"), None, "", "", f"required table {name} is missing from the folder")
    for name, raw in raw_tables.items():
        fname = files.setdefault(name, f"{name}.csv")
        out = _check_table(TABLES[name], raw, fname, cmap.for_table(name), cmap, probs, log)
        if out is not None:
            typed[name] = out
    if "sites" in typed and "referrals" in typed:
        _cross_checks(typed, files, probs)
    problems = probs.frame()
    if len(problems):
        problems["_order"] = problems["file"].map({f: i for i, f in enumerate(files.values())}).fillna(99)
        problems = problems.sort_values(["_order", "row"], kind="stable", na_position="first").drop(columns="_order")
        problems = problems.reset_index(drop=True)
        problems["row"] = problems["row"].astype("Int64")
    return typed, problems, pd.DataFrame(log, columns=["file", "note", "n"])


def load_programme(path: str | Path, *, column_map: str | Path | dict | None = None,
                   check_identifiers: bool = True) -> ProgrammeData:
    """Load and validate a programme data folder.

    Parameters
    ----------
    path : str or Path
        Folder holding ``sites``, ``referrals`` and optionally ``sessions``,
        ``risk_assessments``, ``partners``, ``partner_surveys`` and
        ``incidents`` as .csv, .xlsx, .sav, .dta or .parquet files (or the
        file names a column map gives).
    column_map : str, Path or dict, optional
        Column-map YAML that renames and recodes a provider's export; if not
        given and the folder holds ``column_map.yaml``, that is used.
    check_identifiers : bool
        Refuse tables that contain direct identifiers (names, dates of birth,
        postcodes, ...).  See :mod:`dapp_eval.privacy`.

    Returns
    -------
    ProgrammeData

    Raises
    ------
    DataValidationError
        Listing every violation in every file (file, row, column, value, rule).

    Examples
    --------
    >>> data = load_programme("data_synthetic")          # doctest: +SKIP
    >>> sorted(data.tables())[:2]                        # doctest: +SKIP
    ['partner_surveys', 'partners']
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataValidationError(pd.DataFrame([{
            "file": str(folder), "row": None, "column": "", "value": "",
            "rule": "data folder does not exist (or is not a folder)"}]))
    if column_map is None and (folder / "column_map.yaml").exists():
        column_map = folder / "column_map.yaml"
    cmap = read_column_map(column_map)
    raw_tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    hasher = hashlib.sha256()
    read_problems = []
    for name, table in TABLES.items():
        tmap = cmap.for_table(name)
        try:
            p = _find_file(folder, table, tmap)
            if p is None:
                continue
            raw_tables[name] = _read_raw(p, tmap)
        except DataValidationError as exc:
            read_problems.append(exc.problems)
            continue
        files[name] = p.name
        hasher.update(p.name.encode())
        hasher.update(p.read_bytes())
    if check_identifiers:
        from .privacy import identifier_problems

        for name, raw in raw_tables.items():
            renamed = raw.rename(columns=cmap.for_table(name).columns)
            found = identifier_problems(renamed, file=files[name], table=name, allow=cmap.allow_columns)
            if len(found):
                read_problems.append(found)
    typed, problems, log = validate_tables(raw_tables, files=files, column_map=cmap)
    if read_problems:
        problems = pd.concat([*read_problems, problems], ignore_index=True)
    if len(problems):
        raise DataValidationError(problems)
    typed = {name: df.drop(columns="_row") for name, df in typed.items()}
    return ProgrammeData(**typed, source=str(path), load_log=log, input_hash=hasher.hexdigest())

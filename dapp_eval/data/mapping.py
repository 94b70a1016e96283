"""Column maps: how a provider's export maps onto the data contract.

A column map is a small YAML file written once per export layout (``dapp-eval map EXPORT > map.yaml``
drafts one).  It says, for each contract table, which file (and sheet) holds it, what the provider
calls each column, how the provider's codes, yes/no words and multi-select cells translate into the
contract's codes, and which contract columns are derived from others.  The file is checked against
its own schema before any data are read; every problem names the map's line.

.. code-block:: yaml

    date_format: "%d/%m/%Y"             # dates as the export writes them (default ISO YYYY-MM-DD)
    allow_columns: [keyworker_code]     # extra columns kept: not refused by name (content still checked)
    number_columns: [cost_pence]        # allowed extra columns of numbers: a 10-digit amount is no NHS number
    tables:
      referrals:
        file: Provider export.xlsx      # or files: [Referrals 2023.csv, Referrals 2024.csv] (rows stacked)
        sheet: Referrals                # workbook sheet (default: the first)
        columns:                        # provider column: contract column
          Client Ref: participant_id
          Date of Referral: referral_date
        values:                         # contract column: {provider value: contract code}
          exit_reason: {"Dropped out": dropped_out, "Completed": completed}
          substance_misuse: {"Y": true, "N": false}
          abuse_types:                  # a multi-select cell: split, then map each part
            separator: ","
            values: {"Physical": physical, "Emotional": emotional}
        derive:                         # contract columns the export lacks but can give
          assessment_date: {add_days: [referral_date, Days Waiting]}
        drop: [Case Notes]              # provider columns never read (free text, names)
        keep: [Keyworker]               # extra columns kept beside the contract's
      risk_assessments:
        derive:
          instrument: {value: DASH}     # one value for every row

``yes``, ``no``, ``on`` and ``off`` are read as text, never as booleans, so ``{Yes: true}`` maps the
provider's word ``Yes``.  Codes are matched after trimming spaces, first exactly, then ignoring case.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from dapp_eval.data.schema import TABLES
from dapp_eval.errors import DataValidationError

__all__ = ["TableMap", "ColumnMap", "MultiSelect", "read_column_map", "DERIVE_OPS", "recode", "derive_columns"]

DERIVE_OPS = ("value", "copy", "add_days", "add_weeks")
_TABLE_KEYS = ("file", "files", "sheet", "columns", "values", "derive", "drop", "keep", "date_format")
_TOP_KEYS = ("date_format", "allow_columns", "number_columns", "tables")


class _MapLoader(yaml.SafeLoader):
    """YAML 1.2-style booleans: only true/false (any case); ``Yes``, ``No``, ``on``, ``off`` stay text."""


_MapLoader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_MapLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))


@dataclass
class MultiSelect:
    """A multi-select cell: split on ``separator``, map each part with ``values`` (unmapped parts kept)."""

    separator: str = ";"
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class TableMap:
    """How one provider file (or several) maps onto one contract table."""

    file: str | None = None
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # provider name -> contract name
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # contract column -> {provider value: code}
    date_format: str | None = None
    files: list[tuple[str, str | int | None]] = field(default_factory=list)  # (file, sheet), stacked in order
    multi: dict[str, MultiSelect] = field(default_factory=dict)  # contract column -> multi-select rule
    derive: dict[str, dict[str, Any]] = field(default_factory=dict)  # contract column -> {op: args}
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def sources(self) -> list[tuple[str, str | int | None]]:
        """The (file, sheet) pairs that hold the table, in the order their rows are stacked."""
        if self.files:
            return list(self.files)
        return [(self.file, self.sheet)] if self.file else []

    def provider_name(self, contract: str) -> str | None:
        """What the export calls a contract column (None when the export uses the contract's name)."""
        for k, v in self.columns.items():
            if v == contract and k != contract:
                return k
        return None


@dataclass
class ColumnMap:
    """A parsed column-map file.  See :func:`read_column_map`."""

    tables: dict[str, TableMap] = field(default_factory=dict)
    date_format: str | None = None
    allow_columns: tuple[str, ...] = ()
    number_columns: tuple[str, ...] = ()  # allowed extra columns declared numeric (amounts, counts, Unix times)
    source: str | None = None

    def for_table(self, name: str) -> TableMap:
        return self.tables.get(name, TableMap())


def _line_index(text: str) -> dict[tuple, int]:
    """Line (1-based) of every mapping key in the YAML text, by its path of keys."""
    lines: dict[tuple, int] = {}
    try:
        root = yaml.compose(text, Loader=_MapLoader)
    except yaml.YAMLError:
        return lines

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = path + (str(k.value),)
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    if root is not None:
        walk(root, ())
    return lines


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


class _Checker:
    def __init__(self, fname: str, lines: dict[tuple, int]):
        self.fname, self.lines, self.problems = fname, lines, []

    def add(self, path: tuple, rule: str) -> None:
        line = None
        for k in range(len(path), 0, -1):  # the deepest key the YAML has a line for
            if path[:k] in self.lines:
                line = self.lines[path[:k]]
                break
        dotted = ".".join(str(p) for p in path)
        where = " ".join(x for x in (f"line {line}" if line else "", f"({dotted})" if dotted else "") if x)
        self.problems.append({"file": self.fname, "row": None, "column": "", "value": "",
                              "rule": f"column map{' ' + where if where else ''}: {rule}"})


def _value_map(chk: _Checker, path: tuple, mapping, col) -> dict[str, Any]:
    out = {}
    if not isinstance(mapping, dict):
        chk.add(path, "a value map must be a mapping {provider value: contract code}")
        return out
    for k, v in mapping.items():
        if not _scalar(v):
            chk.add(path + (str(k),), "each provider value maps onto one contract code (a word, number or true/false)")
            continue
        if col.kind in ("enum", "set") and v is not None and str(v) not in col.values:
            chk.add(path + (str(k),), f"'{v}' is not a code of {col.name}; use one of: {', '.join(col.values)}"
                    + _suggest(v, col.values))
            continue
        if col.kind == "bool" and v is not None and not isinstance(v, bool):
            chk.add(path + (str(k),), f"{col.name} is yes/no: map each value onto true or false (or null)")
            continue
        out["" if k is None else str(k).strip()] = v
    return out


def _columns_part(chk: _Checker, base: tuple, table, spec: dict) -> tuple[dict[str, str], dict[str, str]]:
    """columns: {provider: contract}, and contract -> provider for the names mapped."""
    tname = table.name
    cols_raw = spec.get("columns") or {}
    if not isinstance(cols_raw, dict):
        chk.add(base + ("columns",), "columns must be a mapping {provider column: contract column}")
        cols_raw = {}
    cols: dict[str, str] = {}
    seen: dict[str, str] = {}
    for k, v in cols_raw.items():
        if not isinstance(v, str):
            chk.add(base + ("columns", str(k)), f"'{k}' must map onto one contract column name")
            continue
        if v not in table.names:
            chk.add(base + ("columns", str(k)), f"'{k}' maps onto '{v}', which is not a column of {tname}"
                    + _suggest(v, table.names))
            continue
        if v in seen:
            chk.add(base + ("columns", str(k)), f"'{k}' and '{seen[v]}' both map onto {v}; keep one")
            continue
        seen[v] = str(k)
        cols[str(k)] = v
    return cols, seen


def _values_part(chk: _Checker, base: tuple, table, spec: dict, cols: dict[str, str],
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, MultiSelect]]:
    """values: plain value maps and multi-select rules, by contract column."""
    tname = table.name
    values: dict[str, dict[str, Any]] = {}
    multi: dict[str, MultiSelect] = {}
    vals_raw = spec.get("values") or {}
    if not isinstance(vals_raw, dict):
        chk.add(base + ("values",), "values must be a mapping {contract column: {provider value: code}}")
        vals_raw = {}
    by_name = {c.name: c for c in table.columns}
    for cname, mapping in vals_raw.items():
        path = base + ("values", str(cname))
        col = by_name.get(cname)
        if col is None:
            hint = f"; '{cname}' is a provider name: use its contract name '{cols[cname]}'" if cname in cols else \
                _suggest(cname, table.names)
            chk.add(path, f"'{cname}' is not a column of {tname}{hint}")
            continue
        if isinstance(mapping, dict) and "separator" in mapping:
            if col.kind != "set":
                chk.add(path, f"separator is for multi-select columns; {cname} holds one value per cell")
                continue
            extra = set(mapping) - {"separator", "values"}
            if extra:
                chk.add(path + (sorted(map(str, extra))[0],), "a multi-select rule has only 'separator' and 'values'")
            sep = mapping.get("separator")
            if not isinstance(sep, str) or not sep:
                chk.add(path + ("separator",), "separator must be a character or word, e.g. \",\" or \" / \"")
                continue
            multi[cname] = MultiSelect(sep, _value_map(chk, path + ("values",), mapping.get("values") or {}, col))
        else:
            values[cname] = _value_map(chk, path, mapping, col)
    return values, multi


def _derive_part(chk: _Checker, base: tuple, table, spec: dict, cols: dict[str, str],
                 seen: dict[str, str]) -> dict[str, dict[str, Any]]:
    """derive: one checked operation per contract column."""
    tname = table.name
    by_name = {c.name: c for c in table.columns}
    derive: dict[str, dict[str, Any]] = {}
    der_raw = spec.get("derive") or {}
    if not isinstance(der_raw, dict):
        chk.add(base + ("derive",), "derive must be a mapping {contract column: {operation: arguments}}")
        der_raw = {}
    for cname, op in der_raw.items():
        path = base + ("derive", str(cname))
        if cname not in table.names:
            chk.add(path, f"'{cname}' is not a column of {tname}" + _suggest(cname, table.names))
            continue
        if cname in cols.values():
            chk.add(path, f"{cname} is both mapped from a column ('{seen[cname]}') and derived; keep one")
            continue
        if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in DERIVE_OPS:
            chk.add(path, f"give one operation: {', '.join(DERIVE_OPS)} (e.g. {{add_days: [referral_date, "
                          "Days Waiting]}})")
            continue
        name, args = next(iter(op.items()))
        wrong = _derive_args(name, args, by_name[cname])
        if wrong:
            chk.add(path + (name,), wrong)
            continue
        derive[cname] = {name: args}
    return derive


def _derive_args(name: str, args, col) -> str | None:
    """What is wrong with a derivation's arguments (None when nothing)."""
    if name in ("add_days", "add_weeks"):
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)
                and isinstance(args[1], (str, int, float))):
            return f"{name} takes [date column, number column or number]"
        if col.kind != "date":
            return f"{name} gives a date, but {col.name} is not a date column"
    elif name == "copy" and not isinstance(args, str):
        return "copy takes one column name"
    elif name == "value" and not _scalar(args):
        return "value takes one value (a word, number or true/false)"
    return None


def _name_list(chk: _Checker, base: tuple, spec: dict, key: str) -> tuple[str, ...]:
    raw = spec.get(key) or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, (str, int)) for x in raw):
        chk.add(base + (key,), f"{key} must be a list of provider column names")
        raw = []
    return tuple(str(x) for x in raw)


def _files_part(chk: _Checker, base: tuple, spec: dict) -> list[tuple[str, str | int | None]]:
    """files: several files (or sheets) stacked into one table."""
    files: list[tuple[str, str | int | None]] = []
    if "files" not in spec:
        return files
    if spec.get("file"):
        chk.add(base + ("files",), "give either file or files, not both")
    raw_files = spec.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        chk.add(base + ("files",), "files must be a list of file names (or {file: ..., sheet: ...})")
        raw_files = []
    for i, f in enumerate(raw_files):
        if isinstance(f, str):
            files.append((f, spec.get("sheet")))
        elif isinstance(f, dict) and isinstance(f.get("file"), str) and set(f) <= {"file", "sheet"}:
            files.append((f["file"], f.get("sheet", spec.get("sheet"))))
        else:
            chk.add(base + ("files", i), "each entry of files is a file name or {file: NAME, sheet: SHEET}")
    return files


#: a table's single settings: (key, accepted when, message when not)
_SETTINGS = (
    ("file", lambda v: isinstance(v, str), "file must be one file name (use files: for several)"),
    ("sheet", lambda v: isinstance(v, (str, int)), "sheet must be a sheet name or its position (0 = first)"),
    ("date_format", lambda v: isinstance(v, str) and "%" in v,
     "date_format is written with % codes, e.g. \"%d/%m/%Y\""),
)


def _where_part(chk: _Checker, base: tuple, spec: dict) -> dict[str, Any]:
    """drop/keep lists, file or files, sheet and date_format."""
    out: dict[str, Any] = {"drop": _name_list(chk, base, spec, "drop"), "keep": _name_list(chk, base, spec, "keep")}
    out["files"] = _files_part(chk, base, spec)
    for key, ok, rule in _SETTINGS:
        value = spec.get(key)
        if value is not None and not ok(value):
            chk.add(base + (key,), rule)
            value = None
        out[key] = value
    return out


def _table_spec(chk: _Checker, tname: str, spec: dict) -> TableMap | None:
    table = TABLES[tname]
    base = ("tables", tname)
    for k in spec:
        if k not in _TABLE_KEYS:
            chk.add(base + (k,), f"unknown key '{k}' for a table (known: {', '.join(_TABLE_KEYS)})"
                    + _suggest(k, _TABLE_KEYS))
    cols, seen = _columns_part(chk, base, table, spec)
    values, multi = _values_part(chk, base, table, spec, cols)
    derive = _derive_part(chk, base, table, spec, cols, seen)
    return TableMap(columns=cols, values=values, multi=multi, derive=derive, **_where_part(chk, base, spec))


def _read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """The map file's content (``yes``/``no`` kept as words) and the line of each key; unreadable or
    invalid YAML is a DataValidationError naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataValidationError(pd.DataFrame([{"file": path.name, "row": None, "column": "", "value": "",
                                                 "rule": f"column map cannot be read ({exc.strerror or exc})"}])
                                  ) from None
    try:
        raw = yaml.load(text, Loader=_MapLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DataValidationError(pd.DataFrame([{
            "file": path.name, "row": None, "column": "", "value": "",
            "rule": f"column map{f' line {line}' if line else ''} is not valid YAML: "
                    f"{getattr(exc, 'problem', None) or exc}"}])) from None
    lines = _line_index(text)
    return raw, lines


def _top_settings(chk: _Checker, raw: dict) -> tuple[tuple, tuple, str | None]:
    """allow_columns (with number_columns), number_columns and the map-wide date_format, checked."""
    lists = {}
    for key in ("allow_columns", "number_columns"):
        value = raw.get(key) or ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            chk.add((key,), f"{key} must be a list of column names")
            value = ()
        lists[key] = tuple(str(v) for v in value)
    # a column declared numeric is allowed too
    allow = tuple(dict.fromkeys([*lists["allow_columns"], *lists["number_columns"]]))
    date_format = raw.get("date_format")
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        chk.add(("date_format",), "date_format is written with % codes, e.g. \"%d/%m/%Y\"")
        date_format = None
    return allow, lists["number_columns"], date_format


def read_column_map(path: str | Path | dict | None) -> ColumnMap:
    """Read and check a column-map YAML file (or dict) that maps a provider export onto the contract.

    See the module documentation (and ``docs/column-maps.md``) for the format.  The map is checked
    before any data are read: unknown tables, columns, codes and keys are refused together, each
    with the line of the map it is on.

    Parameters
    ----------
    path : str, Path, dict or None
        YAML file, an already-parsed dict, or None for the identity map.

    Returns
    -------
    ColumnMap

    Raises
    ------
    DataValidationError
        Listing every problem of the map (file = the map, row = its line).

    Examples
    --------
    >>> cm = read_column_map({"tables": {"sites": {"columns": {"Site": "site_id"}}}})
    >>> cm.for_table("sites").columns
    {'Site': 'site_id'}
    >>> cm = read_column_map({"tables": {"referrals": {"values": {"abuse_types": {
    ...     "separator": ",", "values": {"Physical": "physical"}}}}}})
    >>> cm.for_table("referrals").multi["abuse_types"].separator
    ','
    """
    if path is None:
        return ColumnMap()
    if isinstance(path, ColumnMap):
        return path
    if isinstance(path, dict):
        raw, source, lines = path, None, {}
    else:
        source = str(path)
        raw, lines = _read_yaml(Path(path))
    chk = _Checker(Path(source).name if source else "column map", lines)
    if not isinstance(raw, dict):
        chk.add((), "the column map must be a mapping with a 'tables' key")
        raw = {}
    for k in raw:
        if k not in _TOP_KEYS:
            chk.add((k,), f"unknown key '{k}' (known: {', '.join(_TOP_KEYS)})" + _suggest(k, _TOP_KEYS))
    tables = _tables_part(chk, raw)
    allow, numbers, date_format = _top_settings(chk, raw)
    if chk.problems:
        raise DataValidationError(pd.DataFrame(chk.problems))
    kept = tuple(str(a) for a in allow) + tuple(k for tm in tables.values() for k in tm.keep)
    return ColumnMap(tables=tables, date_format=date_format, allow_columns=kept, number_columns=numbers,
                     source=source)


def _tables_part(chk: _Checker, raw: dict) -> dict[str, TableMap]:
    """tables: one checked entry per contract table."""
    tables: dict[str, TableMap] = {}
    traw = raw.get("tables") or {}
    if not isinstance(traw, dict):
        chk.add(("tables",), "tables must be a mapping {contract table: how the export holds it}")
        traw = {}
    for tname, spec in traw.items():
        if tname not in TABLES:
            chk.add(("tables", str(tname)), f"unknown table '{tname}' (known: {', '.join(TABLES)})"
                    + _suggest(tname, TABLES))
            continue
        if spec is not None and not isinstance(spec, dict):
            chk.add(("tables", tname), "a table's entry must be a mapping (file, sheet, columns, values, ...)")
            continue
        tm = _table_spec(chk, tname, spec or {})
        if tm is not None:
            tables[tname] = tm
    return tables


# ---------------------------------------------------------------------------
# applying a map to cells
# ---------------------------------------------------------------------------


def _lookup(mapping: dict[str, Any]):
    """Exact match after trimming, then a match ignoring case; a miss returns the sentinel."""
    lower: dict[str, Any] = {}
    for k, v in mapping.items():
        lower.setdefault(k.lower(), v)

    def get(text: str):
        if text in mapping:
            return mapping[text]
        return lower.get(text.lower(), _MISS)

    return get


_MISS = object()


def _code_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def recode(text: pd.Series, values: dict[str, Any] | None, multi: MultiSelect | None) -> tuple[pd.Series, int]:
    """Provider cells (stripped text) -> contract text, by a value map or a multi-select rule.

    Cells the map does not name are kept as they are (the validator then reports them); returns the
    new cells and how many cells changed.  Each distinct cell is translated once.
    """
    if not values and multi is None:
        return text, 0
    codes, uniq = pd.factorize(text.to_numpy(dtype=object), sort=False)
    out_u = np.empty(len(uniq), dtype=object)
    if multi is not None:
        get = _lookup(multi.values)
        for i, u in enumerate(uniq):
            s = str(u)
            if not s.strip():
                out_u[i] = s
                continue
            parts = [p.strip() for p in s.split(multi.separator)]
            mapped = []
            for p in parts:
                if not p:
                    continue
                v = get(p)
                mapped.append(p if v is _MISS else (_code_text(v) or ""))
            out_u[i] = ";".join(m for m in mapped if m)
    else:
        get = _lookup(values)
        for i, u in enumerate(uniq):
            v = get(str(u))
            out_u[i] = u if v is _MISS else ("" if v is None else _code_text(v))
    out = pd.Series(np.append(out_u, [""])[codes], index=text.index, dtype=object)
    changed = int((out.to_numpy(dtype=object) != text.to_numpy(dtype=object)).sum())
    return out, changed


def _dates(text: pd.Series, fmt: str | None) -> pd.Series:
    is_ts = text.map(lambda v: isinstance(v, pd.Timestamp) or (hasattr(v, "year") and not isinstance(v, str)))
    out = pd.to_datetime(text.where(~is_ts, None).astype(object), format=fmt or "%Y-%m-%d", errors="coerce")
    if is_ts.any():
        out[is_ts] = pd.to_datetime(text[is_ts].astype(object), errors="coerce")
    return out


#: the first and last days a derived date may fall on, whatever its time of day: pandas holds dates from
#: 1677-09-21 00:12:43 to 2262-04-11 23:47:16
_FIRST_DAY = pd.Timestamp.min.ceil("D")
_LAST_DAY = pd.Timestamp.max.floor("D") - pd.Timedelta(days=1)
_NS_PER_DAY = 86_400 * 10**9


def _day_number(day: pd.Timestamp) -> int:
    return day.value // _NS_PER_DAY


def _plus_days(base: pd.Series, days: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``base`` moved by ``days`` rounded to whole days (half to even), NaT where either is blank; and the rows
    whose number of days is infinite or moves the date outside the dates pandas can hold (left NaT).

    Counted in whole days (int64 numpy dates), never through ``pd.to_timedelta`` of floats: given floats with
    NaN, pandas 2.x (``cast_from_unit_vectorized``) rounds the fractional part of each NaN row from
    uninitialised memory to 14 decimals; the result is right, but "overflow encountered in multiply" is warned
    whenever that memory holds a huge number, which depends on what was allocated before (in the pseudonymiser,
    on the key).  An infinite or huge number of days raised OverflowError or OutOfBoundsDatetime there, and a
    move of more than 106751 days (292 years) cannot be a nanosecond timedelta even where the date it gives can.
    """
    whole = days.round().to_numpy(dtype=float)
    known = base.notna().to_numpy() & ~np.isnan(whole)
    # days from 1970 and time of day, floored in int64 (numpy's cast of datetime64[ns] to [D] wraps a time of
    # 1677-09-21 round to 2262-04-11)
    day0, time_of_day = np.divmod(base.to_numpy(dtype="datetime64[ns]").view(np.int64), _NS_PER_DAY)
    landed = np.where(known, day0, 0) + np.where(known, whole, 0.0)  # in float: an infinity cannot wrap
    fits = known & (landed >= _day_number(_FIRST_DAY)) & (landed <= _day_number(_LAST_DAY))
    out = pd.Series(pd.NaT, index=base.index, dtype="datetime64[ns]")
    out[fits] = (landed[fits].astype(np.int64) * _NS_PER_DAY + time_of_day[fits]).view("datetime64[ns]")
    return out, known & ~fits


def derive_columns(raw: pd.DataFrame, tmap: TableMap, date_format: str | None,
                   ) -> tuple[pd.DataFrame, list[str], list[tuple[str, np.ndarray, str]]]:
    """Add the map's derived contract columns to a table whose columns carry contract names.

    Returns the table, a load-log note per derived column, and problems as (column, row mask, rule):
    a number the derivation needs that is not a number.  A derived date is blank where its inputs are
    blank or unreadable (a contract date input reports itself).
    """
    notes: list[str] = []
    bad: list[tuple[str, np.ndarray, str]] = []
    if not tmap.derive:
        return raw, notes, bad
    raw = raw.copy(deep=False)
    for cname, op in tmap.derive.items():
        name, args = next(iter(op.items()))
        if name == "value":
            raw[cname] = "" if args is None else _code_text(args)
            notes.append(f"{cname}: set to {args!r} for every row (derive: value)")
            continue
        if name == "copy":
            src = tmap.columns.get(args, args)
            raw[cname] = raw[src] if src in raw else ""
            notes.append(f"{cname}: copied from {args} (derive: copy)")
            continue
        date_col, amount = args
        date_col = tmap.columns.get(date_col, date_col)
        base = _dates(raw[date_col], date_format) if date_col in raw else pd.Series(pd.NaT, index=raw.index)
        if isinstance(amount, str):
            src = tmap.columns.get(amount, amount)
            if src in raw:
                txt = raw[src].map(lambda v: "" if v is None else str(v).strip())
                num = pd.to_numeric(txt, errors="coerce")
                wrong = (txt != "").to_numpy() & num.isna().to_numpy()
                if wrong.any():
                    bad.append((amount, wrong, f"not a number, so {cname} cannot be derived from it"))
            else:
                num = pd.Series(np.nan, index=raw.index)
                bad.append((amount, np.zeros(len(raw), dtype=bool), ""))
        else:
            num = pd.Series(float(amount), index=raw.index)
        res, too_far = _plus_days(base, num * (7 if name == "add_weeks" else 1))
        if too_far.any():
            bad.append((amount if isinstance(amount, str) else date_col, too_far,
                        f"too many days to move a date by (it would fall outside {_FIRST_DAY:%Y}-{_LAST_DAY:%Y}), "
                        f"so {cname} cannot be derived from it"))
        raw[cname] = pd.Series(res.astype(object).where(res.notna(), ""), index=raw.index, dtype=object)
        notes.append(f"{cname}: derived as {date_col} + {amount} {'weeks' if name == 'add_weeks' else 'days'}")
    return raw, notes, [b for b in bad if b[2]]

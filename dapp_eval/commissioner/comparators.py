"""Published comparison figures that the user supplies (``comparators.yaml``).

dapp_eval ships no comparator and never invents one: a commissioner who wants a
published figure beside the programme's (another programme's completion rate,
a national average) writes it in a small YAML file, with its source and year,
and the report shows it labelled with that source.

.. code-block:: yaml

    comparators:
      - figure: completion_rate          # a code from dapp_eval.commissioner.headlines.REGISTRY
        value: 62%                       # percentages as "62%" or 62; money as 1200; counts as 150
        source: "Example evaluation of a community DAPP, table 3"
        year: 2019
        note: "24-week group programme"  # optional

Every entry needs ``figure``, ``value``, ``source`` and ``year``; the figure
must be a code of the headline registry. Every problem in the file is
reported at once, naming the file, the entry (row) and the field.

Examples
--------
>>> comp = load_comparators({"comparators": [
...     {"figure": "completion_rate", "value": "62%", "source": "A published evaluation", "year": 2019}]})
>>> comp["figure"].iloc[0], float(comp["value"].iloc[0]), comp["value_text"].iloc[0]
('completion_rate', 0.62, '62%')
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from dapp_eval import formatting as fmt
from dapp_eval.errors import DataValidationError

__all__ = ["COMPARATOR_COLUMNS", "attach_comparators", "load_comparators"]

COMPARATOR_COLUMNS = ["figure", "name", "value", "value_text", "source", "year", "note"]
_FIELDS = ("figure", "value", "source", "year", "note")


def _value(raw, fmt_name: str):
    """The value in the figure's own unit (proportion for percentages), or an error message."""
    text = str(raw).strip() if raw is not None else ""
    if text == "":
        return None, "value is required"
    is_pct = text.endswith("%")
    num_text = text.rstrip("%").replace(",", "").replace("£", "").strip()
    try:
        v = float(num_text)
    except ValueError:
        return None, "value must be a number (e.g. 62%, 62, 1200)"
    if fmt_name == "percent":
        if not 0 <= v <= 100:
            return None, "a percentage must be between 0 and 100"
        if not is_pct and 0 < v < 1:
            return None, ("ambiguous percentage: write 62 or 62% for 62 per cent (write '0.5%' for half a per "
                          "cent)")
        return v / 100, None
    if is_pct:
        return None, f"this figure is shown as {fmt_name}, not a percentage"
    if fmt_name == "count" and (v < 0 or not v.is_integer()):
        return None, "a count must be a whole number of 0 or more"
    if fmt_name in ("gbp", "weeks") and v < 0:
        return None, "value must be 0 or more"
    return v, None


# one validation step per field of each entry, in the order the error messages report them
def load_comparators(source: str | Path | dict | list | None) -> pd.DataFrame:
    """Read and check a comparators file; an empty table when there is none.

    Parameters
    ----------
    source : path, dict, list or None
        A YAML file (``comparators:`` list, or a bare list), or the parsed content.

    Returns
    -------
    DataFrame
        ``figure``, ``name`` (the figure's plain name), ``value`` (a proportion for percentages),
        ``value_text`` (as the report shows it), ``source``, ``year``, ``note``.

    Raises
    ------
    DataValidationError
        Listing every problem with file, row (the entry's number, from 1), column (the field) and rule.

    Examples
    --------
    >>> load_comparators(None).empty
    True
    """
    if source is None:
        return pd.DataFrame(columns=COMPARATOR_COLUMNS)
    raw, file = _read_source(source)
    entries = raw.get("comparators", None) if isinstance(raw, dict) else raw
    problems: list[dict] = []
    if raw is None or entries is None:
        entries = []
    if not isinstance(entries, list):
        raise DataValidationError(pd.DataFrame([{"file": file, "row": "", "column": "comparators", "value": "",
                                                 "rule": "must be a list of entries (figure, value, source, year)"}]))
    rows = []
    for i, e in enumerate(entries, start=1):
        def bad(col, rule, value="", i=i):
            problems.append({"file": file, "row": i, "column": col, "value": value, "rule": rule})

        row = _entry(e, bad)
        if row is not None and not any(p["row"] == i for p in problems):
            rows.append(row)
    if problems:
        raise DataValidationError(pd.DataFrame(problems))
    return pd.DataFrame(rows, columns=COMPARATOR_COLUMNS)


def _read_source(source) -> tuple:
    """The parsed content of a comparators file (or the content passed), and the file's name for messages."""
    if not isinstance(source, (str, Path)):
        return source, "comparators.yaml"
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"comparators file not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), path.name
    except yaml.YAMLError as exc:
        raise DataValidationError(pd.DataFrame([{"file": path.name, "row": "", "column": "", "value": "",
                                                 "rule": f"not valid YAML: {exc}".splitlines()[0]}])) from None


def _year(year, bad) -> int | None:
    if year in (None, ""):
        bad("year", "year is required")
        return None
    try:
        y = int(str(year))
    except ValueError:
        y = None
    if y is None or not 1900 <= y <= 2100:
        bad("year", "year must be a four-digit year", str(year))
        return None
    return y


def _entry(e, bad) -> dict | None:
    """One entry checked (each problem reported through ``bad``): the row of the table, or None."""
    from dapp_eval.commissioner.headlines import REGISTRY

    if not isinstance(e, dict):
        bad("", "each entry must be a mapping with figure, value, source and year")
        return None
    for k in sorted(set(e) - set(_FIELDS)):
        bad(k, f"unknown field (known: {', '.join(_FIELDS)})")
    code = e.get("figure")
    if code in (None, ""):
        bad("figure", "figure is required (a headline figure code, e.g. completion_rate)")
    elif code not in REGISTRY:
        bad("figure", f"not a headline figure code; known: {', '.join(REGISTRY)}", str(code))
    src = e.get("source")
    if src is None or not str(src).strip():
        bad("source", "source is required: where the figure was published")
    y = _year(e.get("year"), bad)
    if code not in REGISTRY:
        return None
    value, err = _value(e.get("value"), REGISTRY[code].format)
    if err:
        bad("value", err, str(e.get("value", "")))
    return {"figure": code, "name": REGISTRY[code].name, "value": value,
            "value_text": fmt.format_value(value, REGISTRY[code].format), "source": str(src).strip(), "year": y,
            "note": str(e.get("note") or "").strip()}


def attach_comparators(headlines: pd.DataFrame, comparators: pd.DataFrame) -> pd.DataFrame:
    """Headline rows with a ``comparators`` column of labelled text (empty when there is none).

    Examples
    --------
    >>> h = pd.DataFrame({"code": ["completion_rate", "referrals"], "value_text": ["81%", "2,000"]})
    >>> c = load_comparators([{"figure": "completion_rate", "value": 62, "source": "Report X", "year": 2019}])
    >>> attach_comparators(h, c)["comparators"].tolist()
    ['62% (Report X, 2019)', '']
    """
    out = headlines.copy()
    text = {}
    for r in comparators.itertuples(index=False):
        label = f"{r.value_text} ({r.source}, {r.year}{'; ' + r.note if r.note else ''})"
        text.setdefault(r.figure, []).append(label)
    out["comparators"] = out["code"].map(lambda c: "; ".join(text.get(c, [])))
    return out

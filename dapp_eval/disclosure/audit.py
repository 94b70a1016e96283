"""A built-in attacker: try to work back hidden counts from a rendered release.

:func:`audit_release` reads a release folder as an outsider would, with
nothing but what is published: every CSV download embedded in the HTML
reports (the tables exactly as shown, at full published precision), every
HTML ``<table>`` that has no CSV, and ``tables.xlsx`` if present. Each count
cell becomes an interval of the values consistent with what is shown:

============  ==============================================  =========
published     interval (threshold T, rounding base b)          kind
============  ==============================================  =========
``<T``        1 .. T-1                                         hidden
``[c]``       0 .. infinity                                    hidden
``0``         0                                                exact
``v``         v (release not rounded)                          exact
``v``         v - b//2 .. v + b//2; ``b`` itself: 1 .. b+b//2  rounded
============  ==============================================  =========

The release is taken as rounded when nearly every positive count in it is a
multiple of 5 (an attacker would notice that too).

The attacks are linear relations an attacker can infer from the published
structure, plus the arithmetic of percentages:

``across reports``
    Within one family of reports (same threshold, same referral period): the
    all-sites cell equals the sum of the same cell in every site's report
    (when every site's report is present; otherwise it bounds their sum).
    The same cell of the same scope and period at another threshold is the
    same count.
``across periods``
    Reports of the same scope whose referral periods do not overlap add up
    to no more than the report of the whole data.
``row and column totals``
    A stage marked ``intermediate`` in a flow table is the sum of the stages
    under it; a row labelled all / any / total is the sum of the others; a
    count that is constant over a block of rows (``n_group``) is the sum of a
    count over the block; ``n = n_event + n_competing + n_censored``.
``denominators and conversions``
    The conversion table's ``n_resolved + n_open`` and ``n_converted``, the
    waiting-time and waiting-list tables and the quarterly throughput are
    tied to the stages of the participant-flow table of the same report.
``percentage x denominator``
    A proportion or percentage next to its numerator and denominator (same
    row, or the first row for "% of referred") leaves only the integer
    numerators that reproduce it at its published precision. A ratio that is
    exactly the ratio of the published counts carries nothing more and is
    skipped.

All relations are combined by interval constraint propagation (each relation
bounds each of its cells by the others, repeated until nothing changes), the
way audits of suppressed tables bound hidden cells. A relation that the
published numbers contradict is dropped (a wrong guess of the attacker).

**Leak.** A cell that is not published exactly (suppressed or rounded) whose
interval shrinks to a single value from 1 to T-1. The audit fails if any
cell leaks. Narrowing a hidden count to a few values (say 1 or 2) is listed
as "narrowed" but not counted as a leak: rounding guarantees at most that.
"""

from __future__ import annotations

import base64
import html as _html
import io
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

__all__ = ["audit_release", "AuditResult", "Leak", "decode_release", "PublishedTable"]

INF = math.inf
_CSV = re.compile(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"')


def _is_count(col) -> bool:
    return col == "n" or str(col).startswith("n_")


@dataclass
class PublishedTable:
    """One table as published: which report, its name without the scope prefix, and its text cells."""

    report: str
    name: str
    frame: pd.DataFrame
    source: str = "csv"


@dataclass
class _Report:
    file: str
    scope: str                       # "all" or a site id
    threshold: int
    period: str                      # "all" or "FROM to TO"
    tables: dict[str, PublishedTable] = field(default_factory=dict)
    base: int | None = None          # rounding base the page states ("rounded to the nearest 5")


@dataclass
class Leak:
    """A hidden or rounded count pinned to a value from 1 to threshold - 1."""

    attack: str
    report: str
    table: str
    row: str
    column: str
    published: str
    value: int
    how: str

    def __str__(self):
        return (f"{self.report} / {self.table} / row '{self.row}' / column {self.column}: published "
                f"'{self.published}', worked back to {self.value} by {self.attack} ({self.how})")


@dataclass
class AuditResult:
    """What the attacker tried and what it recovered.

    ``ok`` is True when no leak was found. ``leaks`` lists each recovered
    count; ``narrowed`` the hidden counts bounded to two or three values;
    ``relations`` how many relations each attack contributed.
    """

    path: str
    rounded: bool
    base: int
    n_reports: int
    n_tables: int
    n_count_cells: int
    n_hidden: int
    leaks: list[Leak]
    narrowed: list[Leak]
    relations: dict[str, int]
    recovered_by_attack: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.leaks

    def to_frame(self) -> pd.DataFrame:
        """The leaks as a table (one row per recovered cell)."""
        return pd.DataFrame([vars(x) for x in self.leaks],
                            columns=["attack", "report", "table", "row", "column", "published", "value", "how"])

    def text(self, limit: int = 50) -> str:
        """A readable account of the audit."""
        head = (f"Disclosure audit of {self.path}: {self.n_reports} reports, {self.n_tables} tables, "
                f"{self.n_count_cells} count cells ({self.n_hidden} hidden), counts "
                + (f"rounded to {self.base}" if self.rounded else "published exactly") + ".\n"
                + "Relations tried: " + ", ".join(f"{k} {v}" for k, v in self.relations.items()) + ".\n")
        if self.ok:
            return head + (f"PASS: no hidden or rounded count can be worked back to a value from 1 to the "
                           f"threshold minus 1 ({len(self.narrowed)} narrowed to 2-3 values).")
        lines = [str(x) for x in self.leaks[:limit]]
        more = f"\n... and {len(self.leaks) - limit} more" if len(self.leaks) > limit else ""
        return (head + f"FAIL: {len(self.leaks)} counts can be worked back ("
                + ", ".join(f"{k}: {v}" for k, v in self.recovered_by_attack.items()) + "):\n  "
                + "\n  ".join(lines) + more)

    def __str__(self):
        return self.text()


# ---------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------


class _TableParser(HTMLParser):
    """Collect every <table>: caption, header and body cells, and whether a CSV link follows it."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cur = None
        self._cell = None
        self._row = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._cur = {"caption": "", "rows": [], "csv": None}
        elif self._cur is not None and tag == "tr":
            self._row = []
        elif self._cur is not None and tag in ("td", "th"):
            self._cell = []
        elif self._cur is not None and tag == "caption":
            self._in_caption = True
        elif tag == "a" and self.tables and self._cur is None:
            d = dict(attrs)
            if d.get("download") and self.tables[-1]["csv"] is None:
                self.tables[-1]["csv"] = d["download"]

    def handle_endtag(self, tag):
        if self._cur is None:
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._cur["rows"].append(self._row)
            self._row = None
        elif tag == "caption":
            self._in_caption = False
        elif tag == "table":
            self.tables.append(self._cur)
            self._cur = None

    def handle_data(self, data):
        if self._in_caption:
            self._cur["caption"] += data
        elif self._cell is not None:
            self._cell.append(data)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "table"


def _about(parser: _TableParser) -> dict[str, str]:
    for t in parser.tables:
        if t["caption"].strip().lower().startswith("about this report"):
            return {r[0]: r[1] for r in t["rows"] if len(r) >= 2}
    return {}


def _read_report(path: Path, default_threshold: int) -> _Report:
    text = path.read_text(encoding="utf-8")
    parser = _TableParser()
    parser.feed(text)
    about = _about(parser)
    prog = about.get("Programme", "")
    m = re.search(r"\(([^()]+)\)\s*$", prog)
    if prog.strip().lower() == "all sites" or "all_sites" in path.stem:
        scope = "all"
    elif m:
        scope = m.group(1)
    else:
        scope = path.stem.replace("report_", "").upper()
    thr = re.search(r"below (\d+)", about.get("Small-number threshold", "") + " " +
                    " ".join(v for k, v in about.items() if "threshold" in k.lower()))
    threshold = int(thr.group(1)) if thr else default_threshold
    per = re.search(r"received (\S+) to (\S+)", about.get("Referrals in scope", ""))
    period = f"{per.group(1)} to {per.group(2)}" if per else "all"
    stated = re.search(r"every other count is rounded to the nearest (\d+)", re.sub(r"<[^>]+>", " ", text), re.I)
    rep = _Report(path.name, scope, threshold, period, base=int(stated.group(1)) if stated else None)
    prefix = "all" if scope == "all" else _slug(scope)
    for name, data in _CSV.findall(text):
        try:
            df = pd.read_csv(io.StringIO(base64.b64decode(data).decode("utf-8")), dtype=str, keep_default_na=False)
        except Exception:  # an unreadable download is skipped, not fatal
            continue
        key = _html.unescape(name).removesuffix(".csv")
        key = key[len(prefix) + 1:] if key.startswith(prefix + "_") else key
        rep.tables[key] = PublishedTable(path.name, key, df, "csv")
    for t in parser.tables:
        if t["csv"] is not None or not t["rows"] or t["caption"].strip().lower().startswith("about this report"):
            continue
        header, *body = t["rows"]
        if not body or any(len(r) != len(header) for r in body):
            continue
        key = _slug(t["caption"])[:60]
        rep.tables.setdefault(key, PublishedTable(path.name, key, pd.DataFrame(body, columns=header), "html"))
    return rep


def _read_workbook(path: Path, threshold: int) -> _Report:
    rep = _Report(path.name, "workbook", threshold, "all")
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    for name, df in sheets.items():
        rep.tables[str(name)] = PublishedTable(path.name, str(name), df.astype(str), "xlsx")
    return rep


def decode_release(path, *, threshold: int = 10) -> list[_Report]:
    """Every report (HTML page or workbook) of a release folder with its published tables."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a release folder")
    reports = [_read_report(p, threshold) for p in sorted(path.glob("*.html")) if p.name != "index.html"]
    for x in sorted(path.glob("*.xlsx")):
        reports.append(_read_workbook(x, threshold))
    return reports


# ---------------------------------------------------------------------------
# the attack
# ---------------------------------------------------------------------------


class _Cells:
    def __init__(self, rounded: bool, base: int):
        self.rounded, self.base = rounded, base
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.exact: list[bool] = []
        self.hidden: list[bool] = []
        self.meta: list[tuple] = []      # (report, table, row label, column, text, threshold)
        self.index: dict[tuple, int] = {}
        self.pinned_by: dict[int, tuple[str, str]] = {}

    def interval(self, text: str, threshold: int):
        t = text.strip().replace(",", "")
        if t == "":
            return None
        if t == f"<{threshold}" or re.fullmatch(r"<\d+", t):
            return (1.0, float(int(t[1:]) - 1), False, True)
        if t == "[c]":
            return (0.0, INF, False, True)
        try:
            v = float(t)
        except ValueError:
            return None
        if not v.is_integer() or v < 0:
            return None
        if not self.rounded or v == 0:
            return (v, v, True, False)
        h = self.base // 2
        if v == self.base:
            return (1.0, float(self.base + h), False, False)
        return (max(0.0, v - h), v + h, False, False)

    def add(self, key, text, threshold, meta):
        iv = self.interval(text, threshold)
        if iv is None:
            return None
        i = len(self.lo)
        self.lo.append(iv[0])
        self.hi.append(iv[1])
        self.exact.append(iv[2])
        self.hidden.append(iv[3])
        self.meta.append(meta)
        self.index[key] = i
        return i


def _text_columns(df: pd.DataFrame) -> list[str]:
    """Label columns: not counts, no number in them, and some real text (not only '', '[c]' or '<10')."""
    if "_text_cols" in df.attrs:
        return df.attrs["_text_cols"]
    out = []
    for c in df.columns:
        if _is_count(c):
            continue
        v = df[c].astype(str).str.strip()
        if pd.to_numeric(v.str.replace(",", ""), errors="coerce").notna().any():
            continue
        if (~(v.isin(["", "[c]", "True", "False"]) | v.str.fullmatch(r"<\d+"))).any():
            out.append(c)
    df.attrs["_text_cols"] = out
    return out


def _row_labels(df: pd.DataFrame) -> list[str]:
    if "_labels" in df.attrs:
        return df.attrs["_labels"]
    text_cols = _text_columns(df)
    if not text_cols:
        labels = [str(i) for i in range(len(df))]
    else:
        labels = df[text_cols].astype(str).agg(" / ".join, axis=1).tolist()
    seen: dict[str, int] = defaultdict(int)
    out = []
    for lab in labels:
        out.append(lab if not seen[lab] else f"{lab} #{seen[lab] + 1}")
        seen[lab] += 1
    df.attrs["_labels"] = out
    return out


def _decimals(text: str) -> float:
    """Half a unit of the last published digit of a number."""
    t = text.strip().replace(",", "")
    if "e" in t.lower():
        mant = t.lower().split("e")[0]
        exp = int(t.lower().split("e")[1])
        d = len(mant.split(".")[1]) if "." in mant else 0
        return 0.5 * 10 ** (exp - d)
    d = len(t.split(".")[1]) if "." in t else 0
    return 0.5 * 10 ** (-d)


def audit_release(path, *, threshold: int = 10, base: int | None = None) -> AuditResult:
    """Attack a rendered release folder and report every count that can be worked back.

    Parameters
    ----------
    path : str or Path
        The release folder (HTML reports, optionally ``tables.xlsx``).
    threshold : int
        Used when a report does not state its own threshold.
    base : int, optional
        Rounding base of published counts; by default inferred from the
        release (5 when nearly every positive count is a multiple of 5, else
        counts are taken as exact).

    Returns
    -------
    AuditResult
        ``ok`` is False if any suppressed or rounded count can be pinned to a
        value from 1 to threshold - 1.
    """
    reports = decode_release(path, threshold=threshold)
    texts = [str(v).replace(",", "") for r in reports for t in r.tables.values()
             for c in t.frame.columns if _is_count(c) for v in t.frame[c]]
    positive = [int(v) for v in texts if v.isdigit() and int(v) > 0]
    stated = {r.base for r in reports if r.base}
    if base is None and len(stated) == 1:
        base = stated.pop()
    if base is None:
        mult = sum(v % 5 == 0 for v in positive)
        base = 5 if positive and len(positive) >= 5 and mult / len(positive) > 0.9 else 1
    cells = _Cells(rounded=base > 1, base=base)
    for r in reports:
        for key, t in r.tables.items():
            df = t.frame
            labels = _row_labels(df)
            for c in [c for c in df.columns if _is_count(c)]:
                for i, v in enumerate(df[c].astype(str)):
                    cells.add((r.file, key, labels[i], c), v, r.threshold, (r.file, key, labels[i], c, v,
                                                                            r.threshold))
    eqs: list[tuple[str, str, dict[int, float], str]] = []   # (attack, kind "eq"/"ge", coefs, description)
    _relations_across_reports(reports, cells, eqs)
    for r in reports:
        for key, t in r.tables.items():
            _relations_within_table(r, key, t.frame, cells, eqs)
        _relations_between_tables(r, cells, eqs)
    ratio_hyps = []
    for r in reports:
        for key, t in r.tables.items():
            ratio_hyps += _ratio_hypotheses(r, key, t.frame, cells)

    relations = defaultdict(int)
    for a, *_ in eqs:
        relations[a] += 1
    relations["percentage x denominator"] = len(ratio_hyps)
    _propagate(cells, eqs, ratio_hyps)

    leaks, narrowed = [], []
    for i, meta in enumerate(cells.meta):
        if cells.exact[i]:
            continue
        rep, table, row, col, text, thr = meta
        lo, hi = cells.lo[i], cells.hi[i]
        attack, how = cells.pinned_by.get(i, ("", ""))
        if not attack:
            continue
        if lo == hi and 1 <= lo <= thr - 1:
            leaks.append(Leak(attack, rep, table, row, col, text, int(lo), how))
        elif cells.hidden[i] and 1 <= lo and hi <= thr - 1 and hi - lo <= 2:
            narrowed.append(Leak(attack, rep, table, row, col, text, int(lo), f"between {int(lo)} and {int(hi)}"))
    by_attack = defaultdict(int)
    for x in leaks:
        by_attack[x.attack] += 1
    return AuditResult(str(path), cells.rounded, base, len(reports), sum(len(r.tables) for r in reports),
                       len(cells.lo), int(sum(cells.hidden)), leaks, narrowed, dict(relations), dict(by_attack))


# -- relations ------------------------------------------------------------------


def _relations_across_reports(reports, cells: _Cells, eqs):
    index_by_table: dict[tuple[str, str], dict] = {}
    for (rep, k, lab, col), i in cells.index.items():
        index_by_table.setdefault((rep, k), {})[(lab, col)] = i
    families: dict[tuple, list[_Report]] = defaultdict(list)
    for r in reports:
        if r.scope != "workbook":
            families[(r.threshold, r.period)].append(r)
    for fam in families.values():
        overall = [r for r in fam if r.scope == "all"]
        sites = [r for r in fam if r.scope != "all"]
        if not overall or not sites:
            continue
        o = overall[0]
        listed = set()
        for k in ("site_funnel", "costs_by_site"):
            if k in o.tables:
                f = o.tables[k].frame
                col = "site_id" if "site_id" in f else ("group" if "group" in f else None)
                if col:
                    listed |= {s for s in f[col] if re.fullmatch(r"[A-Za-z]\w*", str(s)) and s != "all"}
        complete = bool(listed) and listed <= {s.scope for s in sites}
        for key, t in o.tables.items():
            if not all(key in s.tables for s in sites):
                continue
            if all(s.tables[key].frame.equals(t.frame) for s in sites):
                continue  # the same table in every report (comparison of sites): not additive
            oc = index_by_table.get((o.file, key), {})
            scs = [index_by_table.get((s.file, key), {}) for s in sites]
            for cell_key, i in oc.items():
                members = [sc.get(cell_key) for sc in scs]
                if any(m is None for m in members):
                    continue
                coefs = {i: 1.0}
                for m in members:
                    coefs[m] = coefs.get(m, 0.0) - 1.0
                desc = f"all sites minus the {len(sites)} site reports, {key} '{cell_key[0]}' {cell_key[1]}"
                eqs.append(("across reports", "eq" if complete else "ge", coefs, desc))
    # the same scope, period and table at another threshold is the same count
    by_scope: dict[tuple, list[_Report]] = defaultdict(list)
    for r in reports:
        by_scope[(r.scope, r.period)].append(r)
    for group in by_scope.values():
        for a, b in itertools.combinations(group, 2):
            if a.threshold == b.threshold:
                continue
            for key in set(a.tables) & set(b.tables):
                ac, bc = index_by_table.get((a.file, key), {}), index_by_table.get((b.file, key), {})
                for ck in set(ac) & set(bc):
                    eqs.append(("across thresholds", "eq", {ac[ck]: 1.0, bc[ck]: -1.0},
                                f"{key} '{ck[0]}' {ck[1]} at thresholds {a.threshold} and {b.threshold}"))
    # reports of the same scope over disjoint referral periods add up to no more than the whole data
    for scope in {r.scope for r in reports}:
        whole = [r for r in reports if r.scope == scope and r.period == "all"]
        parts = [r for r in reports if r.scope == scope and r.period != "all"]
        if not whole or not parts:
            continue
        w = whole[0]
        for p in parts:
            for key in set(w.tables) & set(p.tables):
                wc, pc = index_by_table.get((w.file, key), {}), index_by_table.get((p.file, key), {})
                for ck in set(wc) & set(pc):
                    if wc[ck] != pc[ck]:
                        eqs.append(("across periods", "ge", {wc[ck]: 1.0, pc[ck]: -1.0},
                                    f"{key} '{ck[0]}' {ck[1]}: whole data vs {p.period}"))


def _relations_within_table(r: _Report, key: str, df: pd.DataFrame, cells: _Cells, eqs):
    labels = _row_labels(df)
    counts = [c for c in df.columns if _is_count(c)]
    idx = {(labels[i], c): cells.index.get((r.file, key, labels[i], c)) for i in range(len(df)) for c in counts}

    def add(coefs, desc, kind="eq"):
        if None not in coefs and len(coefs) > 1:
            eqs.append(("row and column totals", kind, coefs, f"{r.file} {key}: {desc}"))

    # flow tables: an intermediate stage is the sum of the stages under it
    if "level" in df.columns and set(df["level"]) <= {"intermediate", "terminal"} and "intermediate" in set(df["level"]):
        lev = df["level"].tolist()
        for i, v in enumerate(lev):
            if v != "intermediate":
                continue
            j = i + 1
            kids = []
            while j < len(lev):
                kids.append(j)
                if lev[j] == "intermediate":
                    break
                j += 1
            if kids:
                for c in counts:
                    ids = [idx[(labels[i], c)]] + [idx[(labels[k], c)] for k in kids]
                    if None in ids:
                        continue
                    coefs = {ids[0]: 1.0}
                    for k in ids[1:]:
                        coefs[k] = coefs.get(k, 0.0) - 1.0
                    add(coefs, f"'{labels[i]}' = sum of the {len(kids)} stages under it")
    # a total row
    for i, lab in enumerate(labels):
        if re.fullmatch(r"(all|any|total|overall)( .*)?", lab.strip().lower()) and len(df) > 2:
            for c in counts:
                ids = [idx[(labels[k], c)] for k in range(len(df))]
                if None in ids:
                    continue
                coefs = {ids[i]: 1.0}
                for k, x in enumerate(ids):
                    if k != i:
                        coefs[x] = coefs.get(x, 0.0) - 1.0
                add(coefs, f"'{lab}' = sum of the other rows ({c})")
    # a count constant over a block of rows is the sum of another count over the block
    text_cols = _text_columns(df)
    for drop in text_cols:
        block_cols = [c for c in text_cols if c != drop]
        if not block_cols:
            continue
        blocks = [list(rows) for rows in df.groupby(block_cols, sort=False).groups.values() if len(rows) >= 2]
        for d in counts:
            if not blocks or any(df.loc[rows, d].nunique() != 1 for rows in blocks):
                continue
            for c in [c for c in counts if c != d]:
                hyp = []
                for rows in blocks:
                    ids = [idx[(labels[k], c)] for k in rows]
                    top = idx[(labels[rows[0]], d)]
                    if None in ids or top is None:
                        continue
                    coefs = {top: 1.0}
                    for x in ids:
                        coefs[x] = coefs.get(x, 0.0) - 1.0
                    hyp.append(coefs)
                # a guess about the table's structure holds in every block or in none, and the attacker
                # needs to see it hold exactly in one block (or know it: n_group is a documented denominator)
                seen = any(all(cells.exact[j] for j in h) and sum(c * cells.lo[j] for j, c in h.items()) == 0
                           for h in hyp)
                if hyp and (seen or d in KNOWN_DENOMINATORS) and all(_consistent(cells, h, "eq") for h in hyp):
                    for h in hyp:
                        add(h, f"{d} of each block of {', '.join(block_cols)} = sum of {c}")
    # n = n_event + n_competing + n_censored (competing-risks tables)
    parts = [c for c in ("n_event", "n_competing", "n_censored") if c in counts]
    if "n" in counts and len(parts) == 3:
        for i in range(len(df)):
            ids = [idx[(labels[i], "n")]] + [idx[(labels[i], c)] for c in parts]
            if None not in ids:
                add({ids[0]: 1.0, ids[1]: -1.0, ids[2]: -1.0, ids[3]: -1.0}, "n = n_event + n_competing + n_censored")


#: the funnel stage whose people are still open at each conversion step
_OPEN = {"assessed_of_referred": "awaiting assessment", "started_of_accepted": "awaiting start",
         "completed_of_started": "still attending"}

#: count columns documented as the sum of another count over a block of rows (Table 1)
KNOWN_DENOMINATORS = ("n_group",)


def _relations_between_tables(r: _Report, cells: _Cells, eqs):
    funnel = next((k for k in r.tables if k.endswith("funnel_counts")), None)
    if funnel is None:
        return
    f = r.tables[funnel].frame
    flabels = _row_labels(f)
    stage = {}
    for lab in flabels:
        stage.setdefault(lab.split(" / ")[0].strip().lower(), lab)
    def cell(table, label, col):
        return cells.index.get((r.file, table, label, col))

    def find(word):
        lab = stage.get(word) or next((v for k, v in stage.items() if k.startswith(word)), None)
        return cell(funnel, lab, "n") if lab else None

    def add(coefs, desc):
        if None not in coefs and len(coefs) > 1:
            eqs.append(("denominators and conversions", "eq", coefs, f"{r.file}: {desc}"))

    conv = next((k for k in r.tables if k.endswith("funnel_conversion")), None)
    if conv:
        c = r.tables[conv].frame
        clabels = _row_labels(c)
        for lab in clabels:
            m = re.fullmatch(r"(\w+?)_of_(\w+)", lab.split(" / ")[0])
            if not m:
                continue
            num, den = find(m.group(1)), find(m.group(2))
            res, opn, cv = cell(conv, lab, "n_resolved"), cell(conv, lab, "n_open"), cell(conv, lab, "n_converted")
            if den is not None and res is not None and opn is not None:
                add({den: 1.0, res: -1.0, opn: -1.0}, f"{lab}: n_resolved + n_open = {m.group(2)}")
            if num is not None and cv is not None:
                add({num: 1.0, cv: -1.0}, f"{lab}: n_converted = {m.group(1)}")
            still = _OPEN.get(m.group(0))
            if still and opn is not None and find(still) is not None:
                add({find(still): 1.0, opn: -1.0}, f"{lab}: n_open = {still}")
    waits = {"wait_referral_to_assessment": ("referred", "assessed", "awaiting assessment"),
             "wait_assessment_to_start": ("accepted", "started", "awaiting start")}
    for k, (den, ev, waiting) in waits.items():
        key = next((t for t in r.tables if t.endswith(k)), None)
        if key is None:
            continue
        lab = _row_labels(r.tables[key].frame)[0]
        add({find(den): 1.0, cell(key, lab, "n"): -1.0}, f"{k}: n = {den}")
        add({find(ev): 1.0, cell(key, lab, "n_event"): -1.0}, f"{k}: n_event = {ev}")
        add({find(waiting): 1.0, cell(key, lab, "n_censored"): -1.0}, f"{k}: n_censored = {waiting}")
    wl = next((t for t in r.tables if t.endswith("waiting_list")), None)
    if wl:
        for lab in _row_labels(r.tables[wl].frame):
            w = lab.split(" / ")[0].replace("_", " ")
            if w in stage:
                add({find(w): 1.0, cell(wl, lab, "n_waiting"): -1.0}, f"waiting list {w} = funnel stage")
            add({find("referred"): 1.0, cell(wl, lab, "n_referred"): -1.0}, "waiting list n_referred = referred")
    tp = next((t for t in r.tables if t.endswith("throughput")), None)
    if tp:
        tl = _row_labels(r.tables[tp].frame)
        for col, st in (("n_referrals", "referred"),):
            ids = [cell(tp, lab, col) for lab in tl]
            if None not in ids and find(st) is not None:
                coefs = {find(st): 1.0}
                for x in ids:
                    coefs[x] = coefs.get(x, 0.0) - 1.0
                add(coefs, f"sum of quarterly {col} = {st}")


def _ratio_hypotheses(r: _Report, key: str, df: pd.DataFrame, cells: _Cells):
    """(num cell, den cell, value, half-precision, scale) for every ratio an attacker can pair with counts."""
    labels = _row_labels(df)
    counts = [c for c in df.columns if _is_count(c)]
    if not counts:
        return []
    out = []
    nums = {}
    for d in df.columns:
        if _is_count(d):
            continue
        v = pd.to_numeric(df[d].str.replace(",", "").str.rstrip("%"), errors="coerce")
        if v.notna().sum() == 0 or (v.dropna() < 0).any():
            continue
        nums[d] = v
    for d, v in nums.items():
        scale = 100.0 if ("pct" in str(d).lower() or "%" in str(d)) else 1.0
        if v.max() > scale * 1.0000001:
            continue
        cand = []
        for a in counts:
            for b in counts:
                if a != b:
                    cand.append((a, b, "row"))
            cand.append((a, a, "root"))
        for a, b, how in cand:
            hyp = []
            for i in range(len(df)):
                if pd.isna(v.iloc[i]):
                    continue
                ni = cells.index.get((r.file, key, labels[i], a))
                di = cells.index.get((r.file, key, labels[0 if how == "root" else i], b))
                if ni is None or di is None:
                    continue
                hyp.append((ni, di, float(v.iloc[i]) / scale, _decimals(df[d].iloc[i]) / scale,
                            f"{key} '{labels[i]}': {d} = {a} / {b if how == 'row' else b + ' of the first row'}"))
            if hyp:
                out.append(hyp)
    return out


# -- propagation ---------------------------------------------------------------


def _tighten(cells: _Cells, i: int, lo: float, hi: float, attack: str, how: str) -> str:
    """Intersect cell i with [lo, hi]; 'changed', 'same' or 'empty'."""
    lo = math.ceil(lo - 1e-9) if lo != -INF else lo
    hi = math.floor(hi + 1e-9) if hi != INF else hi
    nlo, nhi = max(cells.lo[i], lo), min(cells.hi[i], hi)
    if nlo > nhi:
        return "empty"
    if nlo == cells.lo[i] and nhi == cells.hi[i]:
        return "same"
    cells.lo[i], cells.hi[i] = nlo, nhi
    cells.pinned_by[i] = (attack, how)
    return "changed"


def _eq_bounds(cells, coefs, i, kind):
    """Bounds on cell i from sum(coef * x) = 0 (or >= 0)."""
    ci = coefs[i]
    lo_rest, hi_rest = 0.0, 0.0
    for j, c in coefs.items():
        if j == i:
            continue
        a, b = c * cells.lo[j], c * cells.hi[j]
        lo_rest += min(a, b) if not (math.isinf(a) or math.isinf(b)) else (min(a, b))
        hi_rest += max(a, b)
    # ci * x = -rest  (eq);  ci * x >= -rest (ge)
    if kind == "eq":
        lo, hi = -hi_rest / ci, -lo_rest / ci
        if ci < 0:
            lo, hi = hi, lo
        return lo, hi
    if ci > 0:
        return -hi_rest / ci, INF
    return -INF, -hi_rest / ci if not math.isinf(hi_rest) else INF


def _consistent(cells, coefs, kind) -> bool:
    lo = sum(min(c * cells.lo[j], c * cells.hi[j]) for j, c in coefs.items())
    hi = sum(max(c * cells.lo[j], c * cells.hi[j]) for j, c in coefs.items())
    return (lo <= 0 <= hi) if kind == "eq" else hi >= 0


def _ratio_step(cells: _Cells, hyps) -> bool:
    changed = False
    for hyp in hyps:
        # a ratio that is exactly the ratio of the published (rounded) counts tells nothing more
        if cells.rounded and all(_ratio_of_published(cells, ni, di, p, h) for ni, di, p, h, _ in hyp):
            continue
        results = []
        ok = True
        for ni, di, p, h, how in hyp:
            if math.isinf(cells.hi[di]) or cells.hi[di] - cells.lo[di] > 200:
                results.append(None)
                continue
            nums = set()
            for den in range(int(cells.lo[di]), int(cells.hi[di]) + 1):
                if den <= 0:
                    continue
                k_lo = max(cells.lo[ni], math.ceil((p - h) * den - 1e-9))
                k_hi = min(cells.hi[ni], math.floor((p + h) * den + 1e-9))
                for k in range(int(k_lo), int(k_hi) + 1) if not math.isinf(k_hi) else []:
                    if abs(k / den - p) <= h + 1e-12:
                        nums.add(k)
            if not nums:
                ok = False
                break
            results.append((ni, min(nums), max(nums), how))
        if not ok:
            continue  # the published numbers contradict this guess
        for x in results:
            if x is None:
                continue
            ni, lo, hi, how = x
            if _tighten(cells, ni, lo, hi, "percentage x denominator", how) == "changed":
                changed = True
    return changed


def _ratio_of_published(cells, ni, di, p, h) -> bool:
    def mid(j):
        if cells.exact[j]:
            return cells.lo[j]
        t = cells.meta[j][4].replace(",", "").strip()
        return float(t) if t.replace(".", "").isdigit() else None

    a, b = mid(ni), mid(di)
    if a is None or b is None or b == 0:
        return False
    return abs(a / b - p) <= h + 1e-12


def _propagate(cells: _Cells, eqs, ratio_hyps, max_passes: int = 30):
    live = [e for e in eqs if _consistent(cells, e[2], e[1])]
    for _ in range(max_passes):
        changed = False
        dead = set()
        for n, (attack, kind, coefs, desc) in enumerate(live):
            for i in coefs:
                lo, hi = _eq_bounds(cells, coefs, i, kind)
                st = _tighten(cells, i, lo, hi, attack, desc)
                if st == "empty":
                    dead.add(n)
                    break
                changed |= st == "changed"
        if dead:
            live = [e for n, e in enumerate(live) if n not in dead]
        changed |= _ratio_step(cells, ratio_hyps)
        if not changed:
            break
    return cells

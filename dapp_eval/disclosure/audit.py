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
    to no more than the report of the whole data, and to exactly a published
    period that they make up day by day (disjoint periods add up to their
    union).
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

All relations are first combined by interval constraint propagation (each
relation bounds each of its cells by the others, repeated until nothing
changes), the way audits of suppressed tables bound hidden cells; a relation
that the published numbers contradict is dropped (a wrong guess of the
attacker). Then one integer program per group of linked cells
(:mod:`dapp_eval.disclosure.audit_milp`) holds every relation at once, over
whole numbers: the lowest and highest value of each cell not published
exactly decide whether it is pinned.

**Leak.** A cell that is not published exactly (suppressed or rounded) whose
interval shrinks to a single positive value. The audit fails if any cell
leaks. Narrowing a hidden count to a few values (say 1 or 2) is listed
as "narrowed" but not counted as a leak: rounding guarantees at most that.
"""

from __future__ import annotations

import base64
import csv
import html as _html
import io
import itertools
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from dapp_eval.analyses.flow_published import derived_cell
from dapp_eval.disclosure.audit_charts import ChartRead, chart_leaks, read_charts
from dapp_eval.disclosure.audit_flow import RATIO_DENOMINATORS, add_flow_relations
from dapp_eval.disclosure.audit_milp import pinned_by_milp
from dapp_eval.formatting import code_row_below

__all__ = ["audit_release", "audit_reports", "AuditResult", "Leak", "decode_release", "ReadTable"]

INF = math.inf
_CSV = re.compile(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"')
_SVG = re.compile(r'src="data:image/svg\+xml;base64,([^"]+)"')
_SVG_TEXT = re.compile(r"<text\b[^>]*>(.*?)</text>", re.S)


def _chart_text(text: str) -> list[str]:
    """The words and numbers drawn in each SVG chart of a page (labels, annotations, at-risk rows), one
    string per text element: an attacker reads them as page text."""
    out = []
    for data in _SVG.findall(text):
        try:
            svg = base64.b64decode(data).decode("utf-8", "replace")
        except ValueError:
            continue
        # each text element is a block of its own: labels drawn apart are not one phrase ('... 1-2-1' and
        # 'Partners feeling safer' read together as '1 partners' by the release sweep)
        out += [w for w in (" ".join(_html.unescape(re.sub(r"<[^>]+>", "", t)).split())
                            for t in _SVG_TEXT.findall(svg)) if w]
    return out


def _is_count(col) -> bool:
    return col == "n" or str(col).startswith("n_")


@dataclass
class ReadTable:
    """One published table as the audit reads it back from a page, CSV or workbook sheet: which report, its
    name without the scope prefix, its header and text cells (the page-side table is report.context.PublishedTable)."""

    report: str
    name: str
    columns: list[str]
    rows: list[list[str]]
    source: str = "csv"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame of text (built on demand; the audit itself works on the rows)."""
        return pd.DataFrame(self.rows, columns=self.columns, dtype=object)

    def col(self, name: str) -> list[str]:
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class _Report:
    file: str
    scope: str                       # "all" or a site id
    threshold: int
    period: str                      # "all" or "FROM to TO"
    tables: dict[str, ReadTable] = field(default_factory=dict)
    base: int | None = None          # rounding base the page states ("rounded to the nearest 5")
    programme: str = ""              # the page's "Programme" (how the workbook names it)
    text: list[str] = field(default_factory=list)        # page text, block by block (alt text included)
    captions: dict[str, str] = field(default_factory=dict)  # caption -> table key
    links: list[tuple[str, str, str]] = field(default_factory=list)  # workbook: (report file, table, sheet)
    charts: list[ChartRead] = field(default_factory=list)  # the page's SVG charts, read back


@dataclass
class Leak:
    """A hidden or rounded count pinned to one positive value (or a chart that shows an unpublished count)."""

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
    notes: list[str] = field(default_factory=list)

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
                + "Relations tried: " + ", ".join(f"{k} {v}" for k, v in self.relations.items()) + ".\n"
                + "".join(f"Note: {x}.\n" for x in self.notes))
        if self.ok:
            return head + (f"PASS: no hidden or rounded count can be worked back to a single value "
                           f"({len(self.narrowed)} hidden counts narrowed to 2-3 values).")
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
    """Collect every <table> (caption, rows, the CSV link after it) and the page text outside tables.

    Page text is kept block by block (paragraphs, headings, list items, figure captions, KPI cards) with
    every image's alt text, because numbers in sentences are published too.
    """

    _BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "summary", "div", "dd", "dt",
               "section", "br", "caption"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.text: list[str] = []
        self._buf: list[str] = []
        self._cur = None
        self._cell = None
        self._row = None
        self._in_caption = False
        self._skip = 0

    def _flush(self):
        s = " ".join("".join(self._buf).split())
        if s:
            self.text.append(s)
        self._buf = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._flush()
            self._cur = {"caption": "", "rows": [], "csv": None}
        elif self._cur is not None:
            self._table_tag(tag, attrs)
        elif tag == "a" and self.tables:
            d = dict(attrs)
            if d.get("download") and self.tables[-1]["csv"] is None:
                self.tables[-1]["csv"] = d["download"]
        elif tag == "img":
            self._alt_text(dict(attrs).get("alt"))
        elif tag in self._BLOCKS:
            self._flush()

    def _table_tag(self, tag, attrs):
        """A row, cell or caption opening inside a table."""
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "img":
            self._alt_text(dict(attrs).get("alt"))

    def _alt_text(self, alt):
        """An image's alt text is page text (a block of its own)."""
        if alt:
            self._flush()
            self.text.append(" ".join(alt.split()))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
            return
        if self._cur is None:
            if tag in self._BLOCKS:
                self._flush()
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
        if self._skip:
            return
        if self._cur is None:
            self._buf.append(data)
        elif self._in_caption:
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


#: data URIs (figures, CSV downloads) are cut out before the HTML is parsed: they are most of its bytes
_DATA_URI = re.compile(r'(src|href)="data:[^"]*"')


def _trim(row: list[str]) -> list[str]:
    row = list(row)
    while row and row[-1] == "":
        row.pop()
    return row


def _read_csv(data: str) -> tuple[list[str], list[list[str]]] | None:
    try:
        rows = list(csv.reader(io.StringIO(base64.b64decode(data).decode("utf-8"))))
    except Exception:  # an unreadable download is skipped, not fatal
        return None
    if not rows:
        return None
    skip = 2 if len(rows) > 1 and code_row_below(rows[0], rows[1]) else 1
    header, body = rows[skip - 1], [r for r in rows[skip:] if r]  # the code names, where there are two rows
    if any(len(r) != len(header) for r in body):
        return None
    return header, body


def _same(cols_a, rows_a, cols_b, rows_b) -> bool:
    """Whether two publications of a table show the same thing ('2,000' and '2000', '100.0' and '100' agree)."""
    if [c.strip() for c in cols_a] != [c.strip() for c in cols_b] or len(rows_a) != len(rows_b):
        return False
    for ra, rb in zip(rows_a, rows_b):
        if ra == rb:
            continue
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb):
            if x != y and x.strip() != y.strip():
                nx, ny = _number(x), _number(y)
                if nx is None or ny is None or nx != ny:
                    return False
    return True


def _read_report(path: Path, default_threshold: int) -> _Report:
    text = path.read_text(encoding="utf-8")
    csvs = _CSV.findall(text)
    parser = _TableParser()
    parser.feed(_DATA_URI.sub(r'\1=""', text))
    parser.close()
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
    stated = re.search(r"every other count is rounded to the nearest (\d+)", " ".join(parser.text), re.I)
    rep = _Report(path.name, scope, threshold, period, base=int(stated.group(1)) if stated else None,
                  programme=prog.strip(), text=parser.text + _chart_text(text), charts=read_charts(text))
    prefix = "all" if scope == "all" else _slug(scope)
    by_csv = {}
    for name, data in csvs:
        parsed = _read_csv(data)
        if parsed is None:
            continue
        key = _html.unescape(name).removesuffix(".csv")
        key = key[len(prefix) + 1:] if key.startswith(prefix + "_") else key
        rep.tables[key] = ReadTable(path.name, key, parsed[0], parsed[1], "csv")
        by_csv[_html.unescape(name)] = key
    for t in parser.tables:
        if not t["rows"] or t["caption"].strip().lower().startswith("about this report"):
            continue
        header, *body = t["rows"]
        if not body or any(len(r) != len(header) for r in body):
            continue
        key = by_csv.get(t["csv"]) if t["csv"] else None
        if key is not None:
            rep.captions[" ".join(t["caption"].split())] = key
            shown = rep.tables[key]
            # the page shows the first rows of the CSV: a page table that says something else is a table too
            if _same(header, body, shown.columns, shown.rows[:len(body)]):
                continue
            rep.links.append((path.name, key, f"{key} (page)"))
            key = f"{key} (page)"
        else:
            key = _slug(t["caption"])[:60]
        rep.tables.setdefault(key, ReadTable(path.name, key, header, body, "html"))
    return rep


_XNS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xlsx_value(c, shared: list[str]) -> str:
    """One cell's value as text: shared and inline strings, booleans, whole numbers without '.0'."""
    t = c.get("t", "n")
    if t == "inlineStr":
        return "".join(x.text or "" for x in c.iter(f"{_XNS}t"))
    x = c.find(f"{_XNS}v")
    v = "" if x is None or x.text is None else x.text
    if t == "s" and v:
        return shared[int(v)]
    if t == "b" and v:
        return "True" if v == "1" else "False"
    if t == "n" and v:
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else v
    return v


def _xlsx_row(row, shared: list[str]) -> list[str]:
    vals: dict[int, str] = {}
    for c in row.iter(f"{_XNS}c"):
        col = _xlsx_col(c.get("r", ""))
        vals[col if col is not None else len(vals)] = _xlsx_value(c, shared)
    width = max(vals) + 1 if vals else 0
    return [vals.get(i, "") for i in range(width)]


def _xlsx_sheets(path: Path) -> dict[str, list[list[str]]]:
    """Every sheet of an .xlsx as rows of text (values as written; a small reader, no styles or dates)."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        shared = []
        if "xl/sharedStrings.xml" in names:
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(f"{ns}si"):
                shared.append("".join(t.text or "" for t in si.iter(f"{ns}t")))
        rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
        out = {}
        for sh in ET.fromstring(z.read("xl/workbook.xml")).iter(f"{ns}sheet"):
            target = rels.get(sh.get(f"{rel_ns}id"), "")
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            if target not in names:
                continue
            rows = [_xlsx_row(row, shared) for row in ET.fromstring(z.read(target)).iter(f"{_XNS}row")]
            out[sh.get("name")] = rows
    return out


def _xlsx_col(ref: str) -> int | None:
    m = re.match(r"([A-Z]+)", ref)
    if not m:
        return None
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - 64
    return n - 1


def _contents(contents: list[list[str]]) -> dict[str, dict]:
    """The contents sheet: per sheet name, its row (report, csv file, column codes ...)."""
    head = next((i for i, r in enumerate(contents) if r[:1] == ["sheet"]), None)
    if head is None:
        return {}
    rows = (dict(zip(contents[head], r)) for r in contents[head + 1:])
    return {d["sheet"]: d for d in rows if d.get("sheet")}


def _sheet_table(rows: list[list[str]], d: dict) -> tuple[list[str], list[list[str]]]:
    """A sheet's header (the column codes) and body rows."""
    if d.get("column codes"):  # one header row of words; the codes are on the contents sheet
        header = [c.strip() for c in d["column codes"].split(";")]
        return _notes_merged(header, [(r + [""] * len(header))[:len(header)] for r in rows[1:]
                                      if any(v != "" for v in r)])
    skip = 3 if len(rows) > 2 and code_row_below(*(_trim(r) for r in rows[1:3])) else 2  # title, header rows
    header = _trim(rows[skip - 1])  # the code names, where the sheet has plain and code rows
    return header, [(r + [""] * len(header))[:len(header)] for r in rows[skip:] if any(v != "" for v in r)]


def _read_workbook(path: Path, threshold: int, reports: list[_Report]) -> _Report:
    """The release workbook: each sheet is tied, through its contents sheet, to the report and table it repeats.

    A sheet that repeats its table exactly adds nothing and is left out; any other sheet is a table of the
    workbook, and when its report table is known, each of its count cells is the same count as there.
    """
    rep = _Report(path.name, "workbook", threshold, "all")
    sheets = _xlsx_sheets(path)
    meta = _contents(sheets.get("Contents", []))
    by_programme: dict[str, list[_Report]] = defaultdict(list)
    for r in reports:
        if r.programme:
            by_programme[r.programme.lower()].append(r)
    for name, rows in sheets.items():
        if name in ("Contents", "Notes") or len(rows) < 2:
            continue
        d = meta.get(name, {})
        header, body = _sheet_table(rows, d)
        csv_name = str(d.get("csv file", "")).removesuffix(".csv")
        found = [(x, k) for x in by_programme.get(str(d.get("report", "")).lower(), [])
                 for k, t in x.tables.items() if t.source == "csv" and csv_name.endswith(k)]
        if any(_same(header, body, x.tables[k].columns, x.tables[k].rows) for x, k in found):
            continue  # repeats a table of a report exactly
        if len(found) == 1:  # (reports of several periods share names: then the sheet stands alone)
            rep.links.append((found[0][0].file, found[0][1], name))
        rep.tables[name] = ReadTable(path.name, name, header, body, "xlsx")
    return rep


def _notes_merged(header: list[str], body: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """A workbook sheet's shorthand put back where the reports show it: the '<10' or '[c]' of a column's
    note column ('n_numerator note') in the empty cell of the column ('n_numerator'); the note column dropped."""
    keep = [j for j, c in enumerate(header) if not (c.endswith(" note") and c[:-5] in header)]
    rows = [list(r) for r in body]
    for j, c in enumerate(header):
        if j in keep:
            continue
        k = header.index(c[:-5])
        for r in rows:
            if r[j] and not r[k]:
                r[k] = r[j]
    return [header[j] for j in keep], [[r[j] for j in keep] for r in rows]


def _merge_annexes(reports: list[_Report]) -> list[_Report]:
    """A report's technical annex (``report_x_annex.html``, its own page) is read as part of the report
    (``report_x.html``): its tables and text join the report's, so every relation within a report (a funnel
    table in the annex, its conversions in the body) and across reports (a site's pages against all sites')
    is tried as if the two were one page. An annex without its report stands alone."""
    by_file = {r.file: r for r in reports}
    out = []
    for r in reports:
        base = by_file.get(r.file.removesuffix("_annex.html") + ".html") if r.file.endswith("_annex.html") else None
        if base is None:
            out.append(r)
            continue
        for key, t in r.tables.items():
            base.tables.setdefault(key, t)
        base.text += r.text
        base.charts += r.charts
        base.captions = {**r.captions, **base.captions}
    return out


def decode_release(path, *, threshold: int = 10) -> list[_Report]:
    """Every report (HTML page or workbook) of a release folder with its published tables and page text."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a release folder")
    reports = _merge_annexes([_read_report(p, threshold) for p in sorted(path.glob("*.html"))
                              if p.name != "index.html"])
    for x in sorted(path.glob("*.xlsx")):
        reports.append(_read_workbook(x, threshold, list(reports)))
    return reports


# ---------------------------------------------------------------------------
# the attack
# ---------------------------------------------------------------------------


AT_LEAST_T = "shown at threshold T means at least T"


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
        self.unpublished: set[int] = set()  # counts no table shows (audit_flow's stages): never a leak

    def interval(self, text: str, threshold: int):
        t = text.strip().replace(",", "")
        if t == "":
            return None
        if t == f"<{threshold}" or re.fullmatch(r"<\d+", t):
            return (0.0, float(int(t[1:]) - 1), False, True)  # a 0 of the zero rule is shown so too
        if t == "[c]":
            return (0.0, INF, False, True)
        try:
            v = float(t)
        except ValueError:
            return None
        if not v.is_integer() or v < 0:
            return None
        if not self.rounded or v == 0 or v % self.base:
            return (v, v, True, False)  # a count that is not a multiple of the base was not rounded
        h = self.base // 2
        lo, hi = (1.0, float(self.base + h)) if v == self.base else (max(0.0, v - h), v + h)
        if v == math.ceil(threshold / self.base) * self.base:
            # a count of T or more that rounds below T is shown as the first multiple of the base at or above
            # T (control.published_count: at threshold 7, a 7 is shown as 10), so that value starts at T
            lo = min(lo, float(threshold))
        # shown as a number at threshold T: at least T (smaller counts are suppressed)
        return (max(lo, float(threshold)) if threshold <= hi else lo, hi, False, False)

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
        if iv[0] == iv[1] and not iv[2] and not iv[3]:  # a rounded count only one true value can give
            self.pinned_by[i] = (AT_LEAST_T, f"shown as a number at threshold {threshold}, so at least {threshold}")
        return i


def _number(text: str) -> float | None:
    """The number a published cell shows ('1,234', '45%', '0.3'), or None (text, markers, blanks, NaN)."""
    t = text.strip().replace(",", "").removesuffix("%")
    if not t or t[0] not in "+-.0123456789":
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return None if v != v else v


_NOT_LABEL = re.compile(r"|\[c\]|True|False|<\d+")


def _text_columns(t: ReadTable) -> list[int]:
    """Label columns (by position): not counts, no number in them, and some real text (not only '', '[c]' or '<10')."""
    if "text_cols" in t._cache:
        return t._cache["text_cols"]
    out = []
    for j, c in enumerate(t.columns):
        if _is_count(c):
            continue
        vals = [r[j].strip() for r in t.rows]
        if any(_number(v) is not None for v in vals):
            continue
        if any(not _NOT_LABEL.fullmatch(v) for v in vals):
            out.append(j)
    t._cache["text_cols"] = out
    return out


def _row_labels(t: ReadTable) -> list[str]:
    if "labels" in t._cache:
        return t._cache["labels"]
    text_cols = _text_columns(t)
    if not text_cols:
        labels = [str(i) for i in range(len(t.rows))]
    else:
        labels = [" / ".join(r[j] for j in text_cols) for r in t.rows]
    seen: dict[str, int] = defaultdict(int)
    out = []
    for lab in labels:
        out.append(lab if not seen[lab] else f"{lab} #{seen[lab] + 1}")
        seen[lab] += 1
    t._cache["labels"] = out
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
        single positive value.
    """
    return audit_reports(decode_release(path, threshold=threshold), path=str(path), base=base)


def audit_reports(reports: list[_Report], *, path: str = "release", base: int | None = None) -> AuditResult:
    """The attack of :func:`audit_release` on reports already read (``decode_release``, or made by hand in tests)."""
    base = _rounding_base(reports, base)
    cells = _published_cells(reports, base)
    eqs, ratio_hyps = _all_relations(reports, cells)
    relations = defaultdict(int)
    for a, *_ in eqs:
        relations[a] += 1
    relations["percentage x denominator"] = len(ratio_hyps)
    live = _propagate(cells, eqs, ratio_hyps)
    notes = _integer_program(cells, live, relations)
    leaks, narrowed = _pinned_cells(cells)
    relations["chart marks read from the SVG"] = sum(len(c.values) + len(c.steps) for r in reports for c in r.charts)
    chart_found, chart_notes = _charts(reports, cells)
    leaks += chart_found
    notes += chart_notes
    by_attack = defaultdict(int)
    for x in leaks:
        by_attack[x.attack] += 1
    return AuditResult(path, cells.rounded, base, len(reports), sum(len(r.tables) for r in reports),
                       len(cells.lo) - len(cells.unpublished), int(sum(cells.hidden)), leaks, narrowed, dict(relations), dict(by_attack),
                       notes)


INTEGER_PROGRAM = "integer program"
CHARTS = "charts read from the SVG"


def _published_numbers(r: _Report) -> list[tuple[float, float]]:
    """Every number a report prints (table cells, page text, chart text), with half a unit of its last digit."""
    out = []
    texts = [v for t in r.tables.values() for row in t.rows for v in row]
    texts += [w for block in r.text for w in re.findall(r"\d[\d,]*(?:\.\d+)?", block)]
    for v in texts:
        x = _number(v)
        if x is not None:
            out.append((x, _decimals(v.strip().rstrip("%"))))
    return out


def _charts(reports: list[_Report], cells: _Cells) -> tuple[list[Leak], list[str]]:
    """Counts the charts of each report show that the page does not publish, and curve steps of too few people."""
    largest: dict[str, float] = defaultdict(float)
    for i, meta in enumerate(cells.meta):
        if not math.isinf(cells.hi[i]):
            largest[meta[0]] = max(largest[meta[0]], cells.hi[i] + cells.base)
    leaks, notes = [], []
    for r in reports:
        if not r.charts:
            continue
        for chart, what, label, value, why in chart_leaks(r.charts, _published_numbers(r), threshold=r.threshold,
                                                          largest=largest[r.file]):
            leaks.append(Leak(CHARTS, r.file, chart, label, what, "drawn, not published", math.ceil(value), why))
        skipped = sum(bool(c.notes) for c in r.charts)
        if skipped:
            notes.append(f"{r.file}: {skipped} of {len(r.charts)} charts partly not read (no numeric linear axis, "
                         "or an increasing curve whose steps the chart alone does not give)")
    return leaks, notes


def _integer_program(cells: _Cells, live, relations: dict) -> list[str]:
    """Pin the cells that every relation together (one integer program per linked group) leaves one value."""
    stats = {"integer programs": 0}
    known = [e or i in cells.unpublished for i, e in enumerate(cells.exact)]  # not candidates for a pin
    pins, notes = pinned_by_milp(len(cells.lo), cells.lo, cells.hi, known, live, stats)
    relations["integer programs (groups of linked cells)"] = stats["integer programs"]
    for i, (v, how) in pins.items():
        cells.lo[i] = cells.hi[i] = float(v)
        cells.pinned_by[i] = (INTEGER_PROGRAM, how)
    return notes


def _rounding_base(reports: list[_Report], base: int | None) -> int:
    """The rounding base: the one asked for, else the one the pages state, else 5 if nearly every count is a multiple of 5."""
    if base is not None:
        return base
    stated = {r.base for r in reports if r.base}
    if len(stated) == 1:
        return stated.pop()
    positive = [int(v) for r in reports for t in r.tables.values()
                for j, c in enumerate(t.columns) if _is_count(c)
                for v in (row[j].replace(",", "") for row in t.rows) if v.isdigit() and int(v) > 0]
    mult = sum(v % 5 == 0 for v in positive)
    return 5 if positive and len(positive) >= 5 and mult / len(positive) > 0.9 else 1


def _published_cells(reports: list[_Report], base: int) -> _Cells:
    """Every count cell of every published table, as the interval of true values it can stand for."""
    cells = _Cells(rounded=base > 1, base=base)
    for r in reports:
        for key, t in r.tables.items():
            if _rebuilt_curve(t):
                continue  # counts rebuilt from rounded cumulative counts: no interval around a true count
            labels = _row_labels(t)
            for j, c in enumerate(t.columns):
                if not _is_count(c):
                    continue
                for i, row in enumerate(t.rows):
                    v = row[j]
                    if derived_cell(labels[i], c):
                        continue  # the published total less the other groups or quarters: an identity of published cells
                    cells.add((r.file, key, labels[i], c), v, r.threshold, (r.file, key, labels[i], c, v, r.threshold))
    return cells


def _all_relations(reports: list[_Report], cells: _Cells) -> tuple[list, list]:
    """Every relation an attacker can write between published cells, and every ratio they can pair with counts."""
    eqs: list[tuple[str, str, dict[int, float], str]] = []   # (attack, kind "eq"/"ge", coefs, description)
    _relations_across_reports(reports, cells, eqs)
    _relations_across_outputs(reports, cells, eqs)
    for r in reports:
        _page_text(r, cells, eqs)
    for r in reports:
        for key, t in r.tables.items():
            _relations_within_table(r, key, t, cells, eqs)
        _relations_between_tables(r, cells, eqs)
    add_flow_relations(reports, cells, eqs, row_labels=_row_labels, listed_sites=_listed_sites)
    ratio_hyps = []
    for r in reports:
        for key, t in r.tables.items():
            ratio_hyps += _ratio_hypotheses(r, key, t, cells)
    return eqs, ratio_hyps


def _pinned_cells(cells: _Cells) -> tuple[list[Leak], list[Leak]]:
    """The leaks (counts worked back to one small value) and the hidden counts narrowed to a span of at most 3."""
    leaks, narrowed = _unrounded(cells), []
    for i, meta in enumerate(cells.meta):
        if cells.exact[i] or i in cells.unpublished:
            continue
        rep, table, row, col, text, thr = meta
        lo, hi = cells.lo[i], cells.hi[i]
        attack, how = cells.pinned_by.get(i, ("", ""))
        if not attack:
            continue
        # an exact count worked back: a small one, or a rounded (or complementarily hidden) one at any size;
        # a '[c]' worked back to 0 too (it tells that no one in the group did it, as the attacker read it)
        if lo == hi and (lo >= 1 or attack == AT_LEAST_T or cells.hidden[i]):
            leaks.append(Leak(attack, rep, table, row, col, text, int(lo), how))
        elif cells.hidden[i] and 1 <= lo and hi <= thr - 1 and hi - lo <= 2:
            narrowed.append(Leak(attack, rep, table, row, col, text, int(lo), f"between {int(lo)} and {int(hi)}"))
    return leaks, narrowed


def _unrounded(cells: _Cells) -> list[Leak]:
    """In a rounded release, every count published exactly (not a multiple of the base) is a leak itself.

    The release promises that every count is rounded; a count shown unrounded (in a chart's data, the
    workbook, the page text) pins itself, and with the rounded counts beside it, its neighbours.
    """
    if not cells.rounded:
        out = []
        for i, (rep, table, row, col, text, thr) in enumerate(cells.meta):
            if table == "page text" and cells.exact[i] and 1 <= cells.lo[i] <= thr - 1:
                out.append(Leak("page text", rep, table, row, col, text, int(cells.lo[i]),
                                "a count below the threshold printed in the text"))
        return out
    out = []
    for i, (rep, table, row, col, text, _thr) in enumerate(cells.meta):
        if cells.exact[i] and cells.lo[i] > 0 and cells.lo[i] % cells.base:
            attack = "page text" if table == "page text" else "unrounded count"
            out.append(Leak(attack, rep, table, row, col, text, int(cells.lo[i]),
                            f"published unrounded in a release rounded to {cells.base}"))
    return out


_PEOPLE = (r"(?:people|persons?|participants?|referrals?|men|women|partners?|victims?|survivors?|perpetrators?|"
           r"completers?|starters?|children|families|cases|completions|starts|dropouts|exits|respondents?|"
           r"responses|users|clients|individuals)\b")
#: a number that is a count in a sentence: "n = 33", "33 of 45", "33 people" (not 33%, £33, 3.3, 12 weeks)
_NUM = r"(?<![\d.,£$])(\d{1,3}(?:,\d{3})+|\d+)(?![\d.%])(?!,\d)"
_TEXT_COUNT = [
    re.compile(r"\bn\s*=\s*" + _NUM + r"((?:\s+[a-z][a-z_-]*){0,3})", re.I),
    re.compile(_NUM + r"\s+(?:out\s+)?of\s+(?:the\s+)?" + _NUM + r"((?:\s+[a-z][a-z_-]*){0,3})", re.I),
    re.compile(_NUM + r"(\s+" + _PEOPLE + r"(?:\s+[a-z][a-z_-]*){0,2})", re.I),
    re.compile(r"([a-z][a-z _-]{0,40}):\s*" + _NUM + r"(?=\s*[;)])", re.I),   # (... still attending: 4; ...)
]


#: "7 in 10 people", "1 in 4": a natural frequency (a share in words), its 10 is not a count of people
_IN_N = re.compile(r"\d\s+in\s+$", re.I)
_BOUND = re.compile(r"(?:fewer than|less than|more than|at least|at most|below|under|over|above)\s+$", re.I)


def _text_counts(text: str, labels=()) -> list[tuple[int, str, str]]:
    """(count, the words after it, the phrase) for every count of people a sentence prints.

    "n = K" is always a count; "K of N" only when people or a row of the report's tables are named
    after it ("6 of 8 complete quarters" is not a count of people).
    """
    out, seen = [], set()
    for k, pat in enumerate(_TEXT_COUNT):
        for m in pat.finditer(text):
            words = (m.group(1) if k == 3 else m.group(m.lastindex)).strip().lower()
            if k == 1 and not (re.match(_PEOPLE, words) or _label_words(words, labels)):
                continue
            phrase = " ".join(text[max(0, m.start() - 30):m.end()].split())
            for g in (1, 2) if k == 1 else (2,) if k == 3 else (1,):
                if _BOUND.search(text[max(0, m.start(g) - 16):m.start(g)]):
                    continue  # "fewer than 10 people": a rule, not a count
                if _IN_N.search(text[max(0, m.start(g) - 12):m.start(g)]):
                    continue  # "7 in 10 people": a natural frequency, not a count of 10
                if text[max(0, m.start(g) - 1):m.start(g)] == "<":
                    continue  # "<8 people": the suppression marker at threshold 8, not a count of 8
                if text[max(0, m.start(g) - 1):m.start(g)] == "-" and m.start(g) >= 2 \
                        and text[m.start(g) - 2].isalnum():
                    continue  # the end of a name such as "1-2-1", not a count
                if m.start(g) not in seen:  # "n = 33 people" is one count
                    seen.add(m.start(g))
                    out.append((int(m.group(g).replace(",", "")), words, phrase))
    return out


def _label_words(words: str, labels) -> str | None:
    """The longest start of ``words`` (up to 3 words) that is a row label of the report's tables."""
    w = words.split()
    for k in (3, 2, 1):
        if len(w) >= k and " ".join(w[:k]) in labels:
            return " ".join(w[:k])
    return None


def _page_text(r: _Report, cells: _Cells, eqs) -> None:
    """Counts printed in the page text become published cells; one that names a row ("n = 33 accepted")
    is the same count as that row's cells in the report's tables."""
    if not r.text or r.scope == "workbook":
        return
    by_label: dict[str, list[int]] = defaultdict(list)
    for (rep, _key, lab, _col), i in cells.index.items():
        if rep == r.file:
            by_label[lab.split(" / ")[0].strip().lower().replace("_", " ")].append(i)
    n = 0
    for block in r.text:
        for value, words, phrase in _text_counts(block, by_label):
            n += 1
            i = cells.add((r.file, "page text", phrase, f"text {n}"), str(value), r.threshold,
                          (r.file, "page text", phrase, "text", str(value), r.threshold))
            for j in by_label.get(_label_words(words, by_label) or "", []):
                eqs.append(("page text", "eq", {i: 1.0, j: -1.0},
                            f"{r.file}: the text '{phrase}' and {cells.meta[j][1]} '{cells.meta[j][2]}'"))


def _relations_across_outputs(reports, cells: _Cells, eqs) -> None:
    """The same table published twice (the page and its CSV, the workbook sheet and the report): same cells."""
    files = {r.file: r for r in reports}
    for r in reports:
        for (fa, ka, kb) in r.links:
            a = files.get(fa)
            if a is None or ka not in a.tables or kb not in r.tables:
                continue
            la, lb = _row_labels(a.tables[ka]), _row_labels(r.tables[kb])
            for c in [c for c in r.tables[kb].columns if _is_count(c)]:
                for lab in set(la) & set(lb):
                    i, j = cells.index.get((fa, ka, lab, c)), cells.index.get((r.file, kb, lab, c))
                    if i is not None and j is not None:
                        eqs.append(("across outputs", "eq", {i: 1.0, j: -1.0},
                                    f"{ka} '{lab}' {c} in {fa} and in {r.file} {kb}"))


# -- relations ------------------------------------------------------------------


def _relations_across_reports(reports, cells: _Cells, eqs):
    """Relations between reports: sites add up to the overall report; other thresholds and periods hold the same counts."""
    curves = {(r.file, k) for r in reports for k, t in r.tables.items() if _rebuilt_curve(t)}
    index_by_table: dict[tuple[str, str], dict] = {}
    for (rep, k, lab, col), i in cells.index.items():
        if (rep, k) not in curves:
            index_by_table.setdefault((rep, k), {})[(lab, col)] = i
    _overall_minus_sites(reports, index_by_table, eqs)
    _across_thresholds(reports, index_by_table, eqs)
    _across_covering_periods(reports, index_by_table, eqs)
    _across_period_partitions(reports, index_by_table, eqs)


#: columns of a curve's table over time (a time column and the numbers followed or at risk)
_CURVE_TIME = {"months", "time", "time_days", "days", "weeks", "day"}
_CURVE_RISK = {"n_followed", "n_at_risk"}


def _rebuilt_curve(t: ReadTable) -> bool:
    """Whether a table is a curve over time whose counts are rebuilt from rounded cumulative counts
    (``disclosure.curves``: the numbers followed come from the published total, the cumulative counts are
    rounded to midpoints of multiples of the threshold). Its counts are not the true counts rounded: they do
    not add up across sites, thresholds or periods, and the estimate beside them gives back the protected
    value (5 for any 1-9 at threshold 9), not a true count. The audit reads such a curve from its chart (its
    steps); its table's counts are not attacked."""
    cols = set(t.columns)
    return bool(cols & _CURVE_TIME) and bool(cols & _CURVE_RISK)


def _minus_sum(i: int, members) -> dict[int, float]:
    """Coefficients of cell i minus the sum of the member cells (a member listed twice counts twice)."""
    coefs = {i: 1.0}
    for m in members:
        coefs[m] = coefs.get(m, 0.0) - 1.0
    return coefs


def _listed_sites(o: _Report) -> set:
    """The site ids the overall report lists in its site funnel or its costs by site."""
    listed = set()
    for k in ("site_funnel", "costs_by_site"):
        if k in o.tables:
            f = o.tables[k]
            col = "site_id" if "site_id" in f.columns else ("group" if "group" in f.columns else None)
            if col:
                listed |= {s for s in f.col(col) if re.fullmatch(r"[A-Za-z]\w*", str(s)) and s != "all"}
    return listed


def _overall_minus_sites(reports, index_by_table, eqs) -> None:
    """The overall report's count is the sum of the site reports' counts (at least it, if not every site is published)."""
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
        listed = _listed_sites(o)
        complete = bool(listed) and listed <= {s.scope for s in sites}
        for key, t in o.tables.items():
            if not all(key in s.tables for s in sites):
                continue
            if all(s.tables[key].columns == t.columns and s.tables[key].rows == t.rows for s in sites):
                continue  # the same table in every report (comparison of sites): not additive
            _site_sums(key, index_by_table.get((o.file, key), {}),
                       [index_by_table.get((s.file, key), {}) for s in sites], complete, eqs)


def _site_sums(key: str, oc: dict, scs: list[dict], complete: bool, eqs) -> None:
    """One table's cells: the overall cell minus the same cell of every site report."""
    for cell_key, i in oc.items():
        members = [sc.get(cell_key) for sc in scs]
        if any(m is None for m in members):
            continue
        desc = f"all sites minus the {len(scs)} site reports, {key} '{cell_key[0]}' {cell_key[1]}"
        eqs.append(("across reports", "eq" if complete else "ge", _minus_sum(i, members), desc))


def _across_thresholds(reports, index_by_table, eqs) -> None:
    """The same scope, period and table at another threshold is the same count."""
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


def _across_covering_periods(reports, index_by_table, eqs) -> None:
    """A report of the same scope over a referral period that covers another's holds at least its counts."""
    # (the whole data covers every period; 2023-01-01 to 2025-03-31 covers 2024-01-01 to 2024-12-31)
    for a, b in itertools.permutations([r for r in reports if r.scope != "workbook"], 2):
        if a.scope != b.scope or a.period == b.period or not _covers(a.period, b.period):
            continue
        for key in set(a.tables) & set(b.tables):
            wc, pc = index_by_table.get((a.file, key), {}), index_by_table.get((b.file, key), {})
            for ck in set(wc) & set(pc):
                eqs.append(("across periods", "ge", {wc[ck]: 1.0, pc[ck]: -1.0},
                            f"{key} '{ck[0]}' {ck[1]}: {a.period} covers {b.period}"))


def _across_period_partitions(reports, index_by_table, eqs) -> None:
    """Disjoint periods that follow each other and make up a published period add up to it."""
    # (an attacker assumes it of every count; a relation the published numbers contradict is dropped)
    for whole, chain in _partitions(reports):
        for key in set(whole.tables).intersection(*(set(r.tables) for r in chain)):
            wc = index_by_table.get((whole.file, key), {})
            pcs = [index_by_table.get((r.file, key), {}) for r in chain]
            for ck, i in wc.items():
                members = [pc.get(ck) for pc in pcs]
                if any(m is None for m in members):
                    continue
                eqs.append(("across periods", "eq", _minus_sum(i, members), f"{key} '{ck[0]}' {ck[1]}: {whole.period} = "
                            + " + ".join(r.period for r in chain)))


def _partitions(reports) -> list[tuple]:
    """(report, [reports]) where the listed reports' referral periods are disjoint, follow each other day by day
    and together make up the first's period: their counts add up to its counts (same scope)."""
    import datetime as _d

    def span(r):
        a, b = r.period.split(" to ")
        return _d.date.fromisoformat(a), _d.date.fromisoformat(b)

    dated = []
    for r in reports:
        if r.scope == "workbook" or r.period == "all":
            continue
        try:
            dated.append((r, *span(r)))
        except ValueError:
            continue
    out = []
    for whole, w0, w1 in dated:
        parts = [(r, a, b) for r, a, b in dated if r.scope == whole.scope and r is not whole
                 and r.threshold == whole.threshold and w0 <= a and b <= w1 and (a, b) != (w0, w1)]
        chain, day = [], w0
        while day <= w1:
            nxt = [(r, a, b) for r, a, b in parts if a == day]
            if not nxt:
                break
            r, a, b = max(nxt, key=lambda x: x[2])
            chain.append(r)
            day = b + _d.timedelta(days=1)
        if len(chain) >= 2 and day == w1 + _d.timedelta(days=1):
            out.append((whole, chain))
    return out


def _covers(outer: str, inner: str) -> bool:
    """Whether referral period ``outer`` ('all' or 'FROM to TO', ISO dates) contains ``inner``."""
    if outer == "all":
        return True
    if inner == "all":
        return False
    (a0, a1), (b0, b1) = outer.split(" to "), inner.split(" to ")
    return a0 <= b0 and b1 <= a1


class _TableRelations:
    """One published table's count cells by (row label, column), and the relations found among them."""

    def __init__(self, r: _Report, key: str, df: ReadTable, cells: _Cells, eqs):
        self.r, self.key, self.df, self.cells, self.eqs = r, key, df, cells, eqs
        self.labels = _row_labels(df)
        self.counts = [c for c in df.columns if _is_count(c)]
        self.idx = {(self.labels[i], c): cells.index.get((r.file, key, self.labels[i], c))
                    for i in range(len(df)) for c in self.counts}

    def cell(self, row: int, col: str):
        """The cell index of row number ``row`` in count column ``col`` (None if not a published count)."""
        return self.idx[(self.labels[row], col)]

    def add(self, coefs, desc, kind="eq"):
        """Record a row-and-column-totals relation when every cell in it is published."""
        if None not in coefs and len(coefs) > 1:
            self.eqs.append(("row and column totals", kind, coefs, f"{self.r.file} {self.key}: {desc}"))


def _relations_within_table(r: _Report, key: str, df: ReadTable, cells: _Cells, eqs):
    """Relations inside one table: flow stages, total rows, block sums and competing-risks columns."""
    tr = _TableRelations(r, key, df, cells, eqs)
    _flow_stage_sums(tr)
    _total_rows(tr)
    _block_sums(tr)
    _competing_risks_sums(tr)


def _flow_stages(lev: list) -> list[tuple[int, list[int]]]:
    """(intermediate row, the rows under it up to the next intermediate one) in a flow table's levels."""
    out = []
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
            out.append((i, kids))
    return out


def _flow_stage_sums(tr: _TableRelations) -> None:
    """Flow tables: an intermediate stage is the sum of the stages under it."""
    lev = tr.df.col("level") if "level" in tr.df.columns else []
    if not (lev and set(lev) <= {"intermediate", "terminal"} and "intermediate" in set(lev)):
        return
    for i, kids in _flow_stages(lev):
        for c in tr.counts:
            ids = [tr.cell(i, c)] + [tr.cell(k, c) for k in kids]
            if None in ids:
                continue
            tr.add(_minus_sum(ids[0], ids[1:]), f"'{tr.labels[i]}' = sum of the {len(kids)} stages under it")


def _total_rows(tr: _TableRelations) -> None:
    """A total row ('all', 'any', 'total', 'overall') is the sum of the other rows."""
    for i, lab in enumerate(tr.labels):
        if re.fullmatch(r"(all|any|total|overall)( .*)?", lab.strip().lower()) and len(tr.df) > 2:
            for c in tr.counts:
                ids = [tr.cell(k, c) for k in range(len(tr.df))]
                if None in ids:
                    continue
                tr.add(_minus_sum(ids[i], [x for k, x in enumerate(ids) if k != i]),
                       f"'{lab}' = sum of the other rows ({c})")


def _block_sums(tr: _TableRelations) -> None:
    """A count constant over a block of rows is the sum of another count over the block."""
    text_cols = _text_columns(tr.df)
    for drop in text_cols:
        block_cols = [c for c in text_cols if c != drop]
        if not block_cols:
            continue
        groups: dict[tuple, list[int]] = {}
        for i, row in enumerate(tr.df.rows):
            groups.setdefault(tuple(row[j] for j in block_cols), []).append(i)
        blocks = [rows for rows in groups.values() if len(rows) >= 2]
        for d in tr.counts:
            dj = tr.df.columns.index(d)
            if not blocks or any(len({tr.df.rows[k][dj] for k in rows}) != 1 for rows in blocks):
                continue
            for c in [c for c in tr.counts if c != d]:
                _block_sum_hypothesis(tr, blocks, (drop, block_cols), d, c)


def _block_sum_hypothesis(tr: _TableRelations, blocks, cols: tuple, d: str, c: str) -> None:
    """Count d of each block = sum of count c over the block, kept if the attacker can see or know it holds."""
    drop, block_cols = cols
    dj = tr.df.columns.index(d)
    cells = tr.cells
    hyp = []
    for rows in blocks:
        ids = [tr.cell(k, c) for k in rows]
        top = tr.cell(rows[0], d)
        if None in ids or top is None:
            continue
        hyp.append(_minus_sum(top, ids))
    # a guess about the table's structure holds in every block or in none, and the attacker
    # needs to see it hold exactly in one block (or know it: n_group is a documented denominator)
    seen = any(all(cells.exact[j] for j in h) and sum(c * cells.lo[j] for j, c in h.items()) == 0
               for h in hyp)
    # ... unless d is one value over the whole table (two groups of equal published size): then the
    # blocks it is constant over are a coincidence, and which rows it sums is not known. It is known only
    # over the rows it is documented to sum (n_group: the levels of one variable, not the variables of one
    # level, whose blocks n_group is often constant over too)
    known = (KNOWN_DENOMINATORS.get(d) == tr.df.columns[drop] and len({row[dj] for row in tr.df.rows}) > 1)
    if hyp and (seen or known) and all(_consistent(cells, h, "eq") for h in hyp):
        for h in hyp:
            tr.add(h, f"{d} of each block of {', '.join(tr.df.columns[j] for j in block_cols)} = sum of {c}")


def _competing_risks_sums(tr: _TableRelations) -> None:
    """Competing-risks tables: n = n_event + n_competing + n_censored."""
    parts = [c for c in ("n_event", "n_competing", "n_censored") if c in tr.counts]
    if "n" in tr.counts and len(parts) == 3:
        for i in range(len(tr.df)):
            ids = [tr.cell(i, "n")] + [tr.cell(i, c) for c in parts]
            if None not in ids:
                tr.add({ids[0]: 1.0, ids[1]: -1.0, ids[2]: -1.0, ids[3]: -1.0},
                       "n = n_event + n_competing + n_censored")


#: the funnel stage whose people are still open at each conversion step
_OPEN = {"assessed_of_referred": "awaiting assessment", "started_of_accepted": "awaiting start",
         "completed_of_started": "still attending"}

#: count columns documented as the sum of another count over a block of rows, and the column summed over
#: (Table 1: n_group is the sum of n over the levels of a variable, a missing level included)
KNOWN_DENOMINATORS = {"n_group": "level"}


class _FunnelLinks:
    """A report's funnel stages by name, and the relations other tables' counts have with them."""

    def __init__(self, r: _Report, funnel: str, cells: _Cells, eqs):
        self.r, self.funnel, self.cells, self.eqs = r, funnel, cells, eqs
        self.stage = {}
        for lab in _row_labels(r.tables[funnel]):
            self.stage.setdefault(lab.split(" / ")[0].strip().lower(), lab)

    def cell(self, table, label, col):
        """The cell index of a count in one of the report's tables (None if not published)."""
        return self.cells.index.get((self.r.file, table, label, col))

    def find(self, word):
        """The funnel's n for the stage named (or starting with) ``word``."""
        lab = self.stage.get(word) or next((v for k, v in self.stage.items() if k.startswith(word)), None)
        return self.cell(self.funnel, lab, "n") if lab else None

    def add(self, coefs, desc):
        """Record a denominators-and-conversions relation when every cell in it is published."""
        if None not in coefs and len(coefs) > 1:
            self.eqs.append(("denominators and conversions", "eq", coefs, f"{self.r.file}: {desc}"))

    def table(self, suffix):
        """The report's table whose key ends with ``suffix``, or None."""
        return next((k for k in self.r.tables if k.endswith(suffix)), None)


def _relations_between_tables(r: _Report, cells: _Cells, eqs):
    """Relations between a report's funnel and its conversion, waiting-time, waiting-list and throughput tables."""
    funnel = next((k for k in r.tables if k.endswith("funnel_counts")), None)
    if funnel is None:
        return
    fl = _FunnelLinks(r, funnel, cells, eqs)
    _conversion_denominators(fl)
    _waiting_time_counts(fl)
    _waiting_list_counts(fl)
    _throughput_referrals(fl)


def _conversion_denominators(fl: _FunnelLinks) -> None:
    """Conversion rows: n_resolved + n_open = the earlier stage, n_converted = the later, n_open = the stage still open."""
    conv = fl.table("funnel_conversion")
    if not conv:
        return
    for lab in _row_labels(fl.r.tables[conv]):
        m = re.fullmatch(r"(\w+?)_of_(\w+)", lab.split(" / ")[0])
        if not m:
            continue
        num, den = fl.find(m.group(1)), fl.find(m.group(2))
        res, opn, cv = fl.cell(conv, lab, "n_resolved"), fl.cell(conv, lab, "n_open"), fl.cell(conv, lab, "n_converted")
        if den is not None and res is not None and opn is not None:
            fl.add({den: 1.0, res: -1.0, opn: -1.0}, f"{lab}: n_resolved + n_open = {m.group(2)}")
        if num is not None and cv is not None:
            fl.add({num: 1.0, cv: -1.0}, f"{lab}: n_converted = {m.group(1)}")
        still = _OPEN.get(m.group(0))
        if still and opn is not None and fl.find(still) is not None:
            fl.add({fl.find(still): 1.0, opn: -1.0}, f"{lab}: n_open = {still}")


def _waiting_time_counts(fl: _FunnelLinks) -> None:
    """Waiting-time tables: n, n_event and n_censored are funnel stages."""
    waits = {"wait_referral_to_assessment": ("referred", "assessed", "awaiting assessment"),
             "wait_assessment_to_start": ("accepted", "started", "awaiting start")}
    for k, (den, ev, waiting) in waits.items():
        key = fl.table(k)
        if key is None:
            continue
        lab = _row_labels(fl.r.tables[key])[0]
        fl.add({fl.find(den): 1.0, fl.cell(key, lab, "n"): -1.0}, f"{k}: n = {den}")
        fl.add({fl.find(ev): 1.0, fl.cell(key, lab, "n_event"): -1.0}, f"{k}: n_event = {ev}")
        fl.add({fl.find(waiting): 1.0, fl.cell(key, lab, "n_censored"): -1.0}, f"{k}: n_censored = {waiting}")


def _waiting_list_counts(fl: _FunnelLinks) -> None:
    """Waiting list: n_waiting of a stage is that funnel stage, n_referred is the referred stage."""
    wl = fl.table("waiting_list")
    if not wl:
        return
    for lab in _row_labels(fl.r.tables[wl]):
        w = lab.split(" / ")[0].replace("_", " ")
        if w in fl.stage:
            fl.add({fl.find(w): 1.0, fl.cell(wl, lab, "n_waiting"): -1.0}, f"waiting list {w} = funnel stage")
        fl.add({fl.find("referred"): 1.0, fl.cell(wl, lab, "n_referred"): -1.0}, "waiting list n_referred = referred")


def _throughput_referrals(fl: _FunnelLinks) -> None:
    """Throughput: the quarterly referrals add up to the funnel's referred."""
    tp = fl.table("throughput")
    if not tp:
        return
    tl = _row_labels(fl.r.tables[tp])
    for col, st in (("n_referrals", "referred"),):
        ids = [fl.cell(tp, lab, col) for lab in tl]
        if None not in ids and fl.find(st) is not None:
            fl.add(_minus_sum(fl.find(st), ids), f"sum of quarterly {col} = {st}")


def _ratio_hypotheses(r: _Report, key: str, df: ReadTable, cells: _Cells):
    """(num cell, den cell, value, half-precision, scale) for every ratio an attacker can pair with counts."""
    counts = [c for c in df.columns if _is_count(c)]
    if not counts:
        return []
    out = []
    for d, (j, v, vmax) in _ratio_columns(df).items():
        scale = 100.0 if ("pct" in str(d).lower() or "%" in str(d)) else 1.0
        if vmax > scale * 1.0000001:
            continue
        found = [h for pair in _count_pairs(counts, _named_numerator(d, counts), RATIO_DENOMINATORS.get(d))
                 if (h := _pairing((r, key, df, cells), (d, j, v, scale), pair))]
        # the attacker knows which counts a ratio is made of only if one pairing fits the published numbers:
        # with rounding bands several often fit (0.6 = 15 / 25 = n_converted / n_resolved, and 7 / 12 =
        # n_open / n_converted), and a pairing chosen among them pins numbers no one has
        fits = [h for h in found if _ratio_numerators(cells, h) is not None]
        if len(fits) == 1:
            out.append(fits[0])
    return out


def _pairing(where: tuple, col: tuple, pair: tuple) -> list:
    """The rows of one guess that ratio column ``col`` is count a over count b (of its row, or of the first row)."""
    r, key, df, cells = where
    d, j, v, scale = col
    a, b, how = pair
    # "% of the first row" shows itself as 100% (or 1) in the first row; without that, guessing that a
    # column (a CI bound, say) is a count over the first row's count is a coincidence, not evidence
    if how == "root" and (v[0] is None or abs(v[0] - scale) > _decimals(df.rows[0][j].rstrip("%"))):
        return []
    labels = _row_labels(df)
    hyp = []
    for i in range(len(df)):
        if v[i] is None:
            continue
        ni = cells.index.get((r.file, key, labels[i], a))
        di = cells.index.get((r.file, key, labels[0 if how == "root" else i], b))
        if ni is None or di is None:
            continue
        hyp.append((ni, di, v[i] / scale, _decimals(df.rows[i][j].rstrip("%")) / scale,
                    f"{key} '{labels[i]}': {d} = {a} / {b if how == 'row' else b + ' of the first row'}"))
    return hyp


#: columns that are not a ratio of two counts, whatever numbers they hold: interval bounds, standard errors,
#: and a control chart's centre line and process limits ("Average", "Lower process limit": one number over
#: all the periods, which fits a period's own counts only by chance: 0.667 = 24 / 36 inside a published 25 / 35)
#: and what the header says is not about people: groups run, staff, money (a quarter's 1 group run beside 6 of 6
#: places filled read as filled / offered and withheld a capacity table in a generated release)
_NOT_A_RATIO = re.compile(r"(?:^|[_ ])(?:ci|se|sd|lower|upper|lcl|ucl|low|high|p|p_value|smd\w*|average|centre|"
                          r"center|process|groups|fte|gbp|funding)(?:[_ ]|$)", re.I)


def _ratio_columns(df: ReadTable) -> dict:
    """Non-count columns holding non-negative numbers: column -> (position, numbers by row, largest number)."""
    nums = {}
    for j, d in enumerate(df.columns):
        if _is_count(d) or _NOT_A_RATIO.search(str(d)):
            continue
        v = [_number(row[j]) for row in df.rows]
        present = [x for x in v if x is not None]
        if not present or min(present) < 0:
            continue
        nums[d] = (j, v, max(present))
    return nums


def _named_numerator(ratio_col: str, counts: list) -> str | None:
    """The count a ratio column names as its numerator ('prop_completed' is n_completed over something), or None.

    The attacker reads the headers: a guess that pairs prop_completed with n_left / n_started is not one
    an attacker would make, and with wide rounding bands such a pairing fits by chance (0.667 = 28 / 42)
    and pins a count wrongly."""
    m = re.fullmatch(r"(?:prop|pct|share|rate|proportion)_(\w+?)(?:_pct)?", str(ratio_col))
    if m and f"n_{m.group(1)}" in counts:
        return f"n_{m.group(1)}"
    return None


def _count_pairs(counts: list, numerator: str | None = None, denominator: str | None = None) -> list[tuple]:
    """(numerator, denominator, how) guesses: a count over another in its row, or over its own first row
    (only the named numerator, when the ratio's header names one; only the documented denominator, when the
    contract gives one: 'Completed, of those who left' is n_completed / n_left, never / n_started)."""
    if numerator and denominator in counts:
        return [(numerator, denominator, "row")]
    cand = []
    for a in [numerator] if numerator else counts:
        for b in counts:
            if a != b:
                cand.append((a, b, "row"))
        cand.append((a, a, "root"))
    return cand


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
    """Narrow each numerator to the counts that, over some possible denominator, round to the published ratio."""
    changed = False
    for hyp in hyps:
        # a ratio that is exactly the ratio of the published (rounded) counts tells nothing more
        if cells.rounded and all(_ratio_of_published(cells, ni, di, p, h) for ni, di, p, h, _ in hyp):
            continue
        results = _ratio_numerators(cells, hyp)
        if results is None:
            continue  # the published numbers contradict this guess
        for x in results:
            if x is None:
                continue
            ni, lo, hi, how = x
            if _tighten(cells, ni, lo, hi, "percentage x denominator", how) == "changed":
                changed = True
    return changed


def _ratio_numerators(cells: _Cells, hyp) -> list | None:
    """(cell, lowest, highest numerator, how) per ratio of a guess (None where the denominator is too loose);
    None if some ratio no numerator can give."""
    results = []
    for ni, di, p, h, how in hyp:
        if math.isinf(cells.hi[di]) or cells.hi[di] - cells.lo[di] > 200:
            results.append(None)
            continue
        nums = _numerators_giving(cells, ni, di, p, h)
        if not nums:
            return None
        results.append((ni, min(nums), max(nums), how))
    return results


def _numerators_giving(cells: _Cells, ni: int, di: int, p: float, h: float) -> set:
    """Every numerator in cell ni's bounds that over a denominator in cell di's bounds gives p to within h."""
    nums = set()
    for den in range(int(cells.lo[di]), int(cells.hi[di]) + 1):
        if den <= 0:
            continue
        k_lo = max(cells.lo[ni], math.ceil((p - h) * den - 1e-9))
        k_hi = min(cells.hi[ni], math.floor((p + h) * den + 1e-9))
        for k in range(int(k_lo), int(k_hi) + 1) if not math.isinf(k_hi) else []:
            if abs(k / den - p) <= h + 1e-12:
                nums.add(k)
    return nums


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
    return live

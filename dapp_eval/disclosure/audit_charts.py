"""The audit reads a chart's numbers back from its SVG, as an outside attacker did.

A release's charts are matplotlib SVGs (``svg.fonttype: none``, coordinates at 1/100 pt, see
``report.context.fixed_precision_svg``). Every axes of a chart has tick marks at known positions with
numbers written beside them; two or more numeric ticks on a linear axis map pixel coordinates back to data
values. From them the audit reads:

``bars``
    the height of each rectangle (its top minus its base, in data units);
``points``
    each marker of a scatter (its x and y: the points of an SPC chart, a funnel plot's sites);
``steps``
    each drop of a step curve that falls from the top of its scale (Kaplan-Meier): a drop from s to s'
    is the fraction ``d / n = 1 - s' / s`` of the ``n`` people still at risk.

What counts as a leak (:func:`chart_leaks`):

* **a count drawn from unpublished numbers**: a bar height or a point's coordinate on a count axis that
  reads as a whole number (to the chart's precision), is positive, and is none of the numbers the page
  publishes (table cells, page and chart text, within their printed precision). Judged only where the marks
  of a kind are counts: 3 or more, 80% of them whole numbers (lines, error bars, control limits and other
  values that are not counts are not judged: one of them is a whole number by chance too often);
* **a curve step of too few people**: a step of ``d / n`` with at most ``N`` people ever at risk (``N`` the
  largest count the page publishes, plus the rounding, or a larger number the chart prints outside its tick
  labels, such as an at-risk row: an upper bound on the number who started) stands for at most
  ``N d / n`` people; below ``T - T // 2`` (the smallest step of the midpoint-rounded curves the release
  draws, OpenSAFELY's method, ``disclosure.curves``) it shows a step of fewer people than any protected
  curve has.

Every rule is one-sided: an axis without two numeric ticks, a logarithmic axis, a time or percentage axis
(for counts), a chart too coarse to read whole numbers, or an increasing curve (a cumulative incidence,
whose step depends on a survival the chart does not show) is skipped with a note, never judged.
"""

from __future__ import annotations

import base64
import html as _html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

__all__ = ["ChartRead", "read_charts", "chart_leaks", "step_vertex_times"]

_NS = "{http://www.w3.org/2000/svg}"
_XLINK = "{http://www.w3.org/1999/xlink}href"
_IMG = re.compile(r"<img\b[^>]*>", re.S)
_SRC = re.compile(r'src="data:image/svg\+xml;base64,([^"]+)"')
_ALT = re.compile(r'alt="([^"]*)"')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PATH_TOKEN = re.compile(r"[MLZmlzCcQq]|-?\d+(?:\.\d+)?(?:e-?\d+)?")
#: words of an axis label that say its numbers are not counts of people
_NOT_COUNTS = re.compile(r"%|per ?cent|proportion|share|rate|probab|days?\b|weeks?\b|months?\b|years?\b|time|"
                         r"date|score|mean|average|cost|£|ratio|per person", re.I)
#: a coordinate is written to 1/100 pt: half of that on each end of a length
PX = 0.005


@dataclass
class Axis:
    """A linear map from one pixel coordinate to data values, fitted on the numeric ticks."""

    slope: float
    intercept: float
    counts: bool        # whether its numbers can be counts of people (no %, not time, whole-number ticks)
    top: float          # largest tick value

    def value(self, px: float) -> float:
        return self.slope * px + self.intercept

    def tol(self, v: float) -> float:
        """How far a value read at this axis can be from the value drawn (pixel rounding, tick fit)."""
        return abs(self.slope) * 4 * PX + abs(v) * 2e-4


@dataclass
class ChartRead:
    """What one chart of a page shows, read back from its SVG."""

    chart: str                                           # "chart 3 (first words of its alt text)"
    values: list = field(default_factory=list)           # (what, label, value, tolerance) on count axes
    steps: list = field(default_factory=list)            # (label, fraction d/n, its tolerance)
    numbers: list = field(default_factory=list)          # numbers printed in the chart's text
    labels: list = field(default_factory=list)           # ... outside its tick labels (at-risk rows, legends)
    notes: list = field(default_factory=list)


def _tick_values(axes, which: str) -> list[tuple[float, str]]:
    """(pixel position, label) of each tick of the x or y axis of an axes group."""
    out = []
    for g in axes.iter(f"{_NS}g"):
        if not str(g.get("id", "")).startswith(f"{which}tick_"):
            continue
        use = next((u for u in g.iter(f"{_NS}use")), None)
        text = " ".join("".join(t.itertext()) for t in g.iter(f"{_NS}text")).strip()
        if use is not None and use.get("x" if which == "x" else "y") is not None:
            out.append((float(use.get("x" if which == "x" else "y")), text))
    return out


def _tick_number(label: str) -> float | None:
    t = label.replace("\u2212", "-").replace(",", "").replace("%", "").replace("£", "").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _axis(axes, which: str, label: str) -> Axis | None:
    """The axis's pixel-to-value map, or None (fewer than two numeric ticks, or not linear)."""
    ticks = [(px, _tick_number(t), t) for px, t in _tick_values(axes, which)]
    num = [(px, v, t) for px, v, t in ticks if v is not None]
    if len({px for px, _, _ in num}) < 2 or len(num) < len(ticks) * 0.5:
        return None
    (p0, v0, _), (p1, v1, _) = min(num), max(num)
    if p1 == p0:
        return None
    slope = (v1 - v0) / (p1 - p0)
    intercept = v0 - slope * p0
    if any(abs(slope * px + intercept - v) > abs(slope) * 0.05 + 1e-9 for px, v, _ in num):
        return None  # a logarithmic or otherwise non-linear axis
    counts = (not _NOT_COUNTS.search(label + " " + " ".join(t for _, _, t in num))
              and all(float(v).is_integer() for _, v, _ in num) and max(v for _, v, _ in num) > 1)
    return Axis(slope, intercept, counts, max(v for _, v, _ in num))


def _axis_label(axes, which: str) -> str:
    """The words of an axis's label (the text of its matplotlib.axis group outside the ticks)."""
    k = "1" if which == "x" else "2"
    for g in axes.iter(f"{_NS}g"):
        if g.get("id") == f"matplotlib.axis_{k}":
            return " ".join("".join(t.itertext()) for c in g if not str(c.get("id", "")).startswith(f"{which}tick_")
                            for t in c.iter(f"{_NS}text"))
    return ""


def _vertices(d: str) -> list[tuple[float, float]] | None:
    """The vertices of a path made of moves and lines only (None if it has curves)."""
    toks = _PATH_TOKEN.findall(d or "")
    if any(t in "CcQqml" for t in toks if t.isalpha()):
        return None
    nums = [float(t) for t in toks if not t.isalpha()]
    return list(zip(nums[0::2], nums[1::2]))


def _direct(axes, prefix: str):
    """The groups directly in an axes whose id starts with ``prefix`` (not those inside ticks or legends)."""
    return [g for g in axes if g.tag == f"{_NS}g" and str(g.get("id", "")).startswith(prefix)]


def _nearest_tick(ticks, px: float) -> str:
    return min(ticks, key=lambda t: abs(t[0] - px))[1] if ticks else f"{px:.0f} pt"


class _AxesReader:
    """One axes of a chart: its two axes and the marks drawn in it."""

    def __init__(self, axes, out: ChartRead):
        self.axes, self.out = axes, out
        self.x = _axis(axes, "x", _axis_label(axes, "x"))
        self.y = _axis(axes, "y", _axis_label(axes, "y"))
        self.xticks = _tick_values(axes, "x")
        patches = _direct(axes, "patch_")
        self.frame = _vertices(patches[0].find(f"{_NS}path").get("d")) if patches else None
        self.patches = patches[1:]

    def read(self) -> None:
        if self.x is None and self.y is None:
            self.out.notes.append(f"{self.out.chart}: an axes without numeric ticks on a linear scale, not read")
            return
        self._bars()
        self._points()
        self._lines()

    def _add(self, what: str, axis: Axis | None, label: str, v: float) -> None:
        if axis is not None and axis.counts:
            self.out.values.append((what, label, v, axis.tol(v)))

    def _bars(self) -> None:
        for g in self.patches:
            p = g.find(f"{_NS}path")
            pts = _vertices(p.get("d")) if p is not None else None
            if not pts or len(pts) < 4 or pts == self.frame:
                continue
            xs, ys = {x for x, _ in pts}, {y for _, y in pts}
            if len(xs) != 2 or len(ys) != 2 or self._span(xs, ys):
                continue  # not an axis-aligned rectangle, or a band across the whole axes (no bar)
            if self.y is not None:
                self._add("bar height", self.y, _nearest_tick(self.xticks, sum(xs) / 2),
                          abs(self.y.value(min(ys)) - self.y.value(max(ys))))

    def _span(self, xs: set, ys: set) -> bool:
        """Whether a rectangle spans the axes from edge to edge (axvspan, axhspan: a shaded period or a target
        band, whose height is the axis's range or a target, not a count drawn)."""
        if not self.frame:
            return False
        fx, fy = [x for x, _ in self.frame], [y for _, y in self.frame]
        tall = abs(min(ys) - min(fy)) <= 2 * PX and abs(max(ys) - max(fy)) <= 2 * PX
        wide = abs(min(xs) - min(fx)) <= 2 * PX and abs(max(xs) - max(fx)) <= 2 * PX
        return tall or wide

    def _points(self) -> None:
        for g in _direct(self.axes, "PathCollection_"):
            for u in g.iter(f"{_NS}use"):
                px, py = float(u.get("x", "nan")), float(u.get("y", "nan"))
                lab = _nearest_tick(self.xticks, px)
                if self.x is not None:
                    self._add("point x", self.x, lab, self.x.value(px))
                if self.y is not None:
                    self._add("point y", self.y, lab, self.y.value(py))

    def _lines(self) -> None:
        for g in _direct(self.axes, "line2d_"):
            p = g.find(f"{_NS}path")
            pts = _vertices(p.get("d")) if p is not None else None
            if not pts or self.y is None:
                continue
            if len(pts) >= 3 and _is_step(pts):
                self._steps(pts)

    def _steps(self, pts) -> None:
        """The relative drops of a step curve that falls from the top of its scale (1 or 100)."""
        vals = [self.y.value(py) for _, py in pts]
        top = 100.0 if self.y.top > 1.5 else 1.0
        if abs(vals[0] - top) > self.y.tol(top) or any(b > a + self.y.tol(a) for a, b in zip(vals, vals[1:])):
            self.out.notes.append(f"{self.out.chart}: a step curve that does not fall from {top:g}: steps not read")
            return
        for (x0, _), (x1, _), a, b in zip(pts, pts[1:], vals, vals[1:]):
            if x0 == x1 and a - b > self.y.tol(a) and a > self.y.tol(a) * 4:
                frac = (a - b) / a
                lab = f"x = {self.x.value(x0):.4g}" if self.x is not None else _nearest_tick(self.xticks, x0)
                self.out.steps.append((lab, frac, 2 * self.y.tol(a) / a + frac * 1e-4))


def _is_step(pts) -> bool:
    """Whether a path goes only across and down/up (a step function), with at least one vertical segment."""
    segs = list(zip(pts, pts[1:]))
    vertical = sum(1 for (x0, y0), (x1, y1) in segs if x0 == x1 and y0 != y1)
    flat = sum(1 for (x0, y0), (x1, y1) in segs if y0 == y1)
    return vertical >= 1 and vertical + flat == len(segs)


def step_vertex_times(svg: str) -> list[tuple[str, list[float], float]]:
    """(x axis label, x of every vertex, tolerance) of each step curve of a chart's SVG, in the x axis's units,
    read as an outside attacker reads them (a curve redrawn on a time grid has every vertex on it:
    :mod:`dapp_eval.disclosure.curves`). Axes without a linear numeric x axis are skipped, and so are points
    outside the axes' frame (where matplotlib cut a line at the edge of the figure: not a point of the data)."""
    out = []
    for axes in ET.fromstring(svg).iter(f"{_NS}g"):
        if not str(axes.get("id", "")).startswith("axes_"):
            continue
        label = _axis_label(axes, "x")
        x = _axis(axes, "x", label)
        patches = _direct(axes, "patch_")
        frame = _vertices(patches[0].find(f"{_NS}path").get("d")) if patches else None
        if x is None or not frame:
            continue
        lo, hi = min(px for px, _ in frame) - PX, max(px for px, _ in frame) + PX
        for g in _direct(axes, "line2d_"):
            p = g.find(f"{_NS}path")
            pts = _vertices(p.get("d")) if p is not None else None
            if pts and len(pts) >= 3 and _is_step(pts):
                xs = [x.value(px) for px, _ in pts if lo <= px <= hi]
                out.append((label, xs, max((x.tol(v) for v in xs), default=0.0)))
    return out


def read_charts(page_html: str) -> list[ChartRead]:
    """Every SVG chart of a page, read back: values on count axes, curve steps, the numbers its text prints."""
    out = []
    for k, img in enumerate(_IMG.findall(page_html)):
        m = _SRC.search(img)
        if not m:
            continue
        alt = _ALT.search(img)
        words = " ".join(_html.unescape(alt.group(1)).split()[:8]) if alt else ""
        chart = ChartRead(f"chart {k + 1} ({words})")
        out.append(chart)
        try:
            root = ET.fromstring(base64.b64decode(m.group(1)))
        except (ValueError, ET.ParseError):
            chart.notes.append(f"{chart.chart}: not a readable SVG, not read")
            continue
        ticks = {id(t) for g in root.iter(f"{_NS}g") if re.match(r"[xy]tick_", str(g.get("id", "")))
                 for t in g.iter(f"{_NS}text")}
        for t in root.iter(f"{_NS}text"):
            found = [float(x) for x in _NUMBER.findall("".join(t.itertext()).replace(",", ""))]
            chart.numbers += found
            chart.labels += found if id(t) not in ticks else []
        for axes in root.iter(f"{_NS}g"):
            if str(axes.get("id", "")).startswith("axes_"):
                _AxesReader(axes, chart).read()
    return out


def _explained(v: float, tol: float, published: list[tuple[float, float]]) -> bool:
    """Whether value v is one of the published numbers (each with half a unit of its last printed digit)."""
    import bisect

    i = bisect.bisect_left(published, (v - tol - 0.5, -1.0))
    while i < len(published) and published[i][0] <= v + tol + 0.5:
        x, h = published[i]
        if abs(v - x) <= tol + h:
            return True
        i += 1
    return False


def _whole(v: float, tol: float) -> bool:
    return tol <= 0.2 and abs(v - round(v)) <= tol


def _unpublished_counts(c: ChartRead, published: list) -> list[tuple]:
    """The whole numbers a chart's bars or points show that the page does not publish.

    Judged only where the marks are counts: at least 3 marks of a kind (bar heights, point x, point y), 80%
    of them whole numbers to the chart's precision (a value that is not a count is a whole number by chance
    about once in 7 at the usual precision; 80% of 3 or more by chance is rare)."""
    out = []
    for what in sorted({w for w, *_ in c.values}):
        marks = [(lab, v, tol) for w, lab, v, tol in c.values if w == what and v >= 0.5]
        whole = [(lab, v, tol) for lab, v, tol in marks if _whole(v, tol)]
        if len(marks) < 3 or len(whole) < 0.8 * len(marks):
            continue
        for lab, v, tol in whole:
            if _explained(v, tol, published) or any(abs(v - x) <= tol for x in c.numbers):
                continue
            out.append((c.chart, what, lab, round(v), "chart drawn from unpublished numbers: a whole number "
                        "the page does not publish"))
    return out


def chart_leaks(charts: list[ChartRead], published: list[tuple[float, float]], *, threshold: int,
                largest: float) -> list[tuple[str, str, str, float, str]]:
    """(chart, what, label, value, why) of each count a chart shows that the page does not publish, and each
    curve step that stands for fewer people than a protected curve's smallest step.

    ``published`` is every (number, half unit) the page prints; ``largest`` an upper bound on the number of
    people any curve of the page starts with.
    """
    published = sorted(published)
    out = []
    for c in charts:
        out += _unpublished_counts(c, published)
        smallest = threshold - threshold // 2
        for label, frac, tol in c.steps:
            n_max = max([largest] + c.labels)
            if (frac + tol) * n_max < smallest - 1e-9:
                out.append((c.chart, "curve step", label, (frac + tol) * n_max,
                            f"a step of {frac:.4g} of those at risk, with at most {n_max:g} at risk, stands for "
                            f"fewer than {smallest} people"))
    return out

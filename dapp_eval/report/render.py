"""Build a report release: every page, the index and the workbook, from one load in one process.

:func:`render_release` loads and validates the data once, computes each result
once (:class:`~dapp_eval.report.context.Release`), renders every page from the
Jinja2 templates, and writes the whole release into a temporary folder beside
``out``; only when everything has been written is it moved into place, so an
error leaves ``out`` as it was.
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

from dapp_eval import __version__
from dapp_eval.data.io import ProgrammeData, load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.disclosure import check_threshold
from dapp_eval.disclosure.audit import audit_release
from dapp_eval.disclosure.release import DisclosureAuditError, check_periods
from dapp_eval.errors import AnalysisError
from dapp_eval.report.context import Page, Release, threshold_raised
from dapp_eval.report.format import slug
from dapp_eval.report.sections import REGISTRY as SECTION_REGISTRY
from dapp_eval.report.sections import load as load_section
from dapp_eval.report.workbook import WorkbookBuilder

__all__ = ["render_release", "render_reports", "render_page", "render_pages", "render_section", "ReportBuilder"]

_HERE = Path(__file__).parent
WORKBOOK = "tables.xlsx"


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(str(_HERE / "templates")), autoescape=True, trim_blocks=True,
                       lstrip_blocks=True, undefined=StrictUndefined, keep_trailing_newline=True)


@lru_cache(maxsize=1)
def _css() -> str:
    return (_HERE / "static" / "report.css").read_text(encoding="utf-8").strip()


def _figure_settings():
    """Deterministic figures: a fixed SVG hash salt and text kept as text (see context.figure_uri)."""
    import matplotlib

    return matplotlib.rc_context({"svg.hashsalt": "dapp_eval", "svg.fonttype": "none"})


#: rows a table in the body of a report may have; a longer one is moved to the technical annex (the workbook
#: and its CSV have every row), and the body keeps a line linking to it
BODY_ROWS = 12


def render_section(page: Page, name: str) -> str:
    """HTML of one section of a page."""
    from markupsafe import Markup

    mod = load_section(name)
    ctx = mod.build(page)
    if mod.PLACEMENT == "body" and "blocks" in ctx:
        ctx["blocks"] = _long_to_annex(page, ctx["blocks"])
    return Markup(_env().get_template(f"sections/{name}.html.j2").render(
        section_id=name.replace("_", "-"), title=mod.TITLE, placement=mod.PLACEMENT, **ctx))


def _long_to_annex(page: Page, blocks: list) -> list:
    """A body table of more than :data:`BODY_ROWS` rows goes to the annex, and so does a chart whose data
    table is that long (a curve over time: the analyst's detail); the body keeps a line linking to each."""
    out = []
    for b in blocks:
        if b.get("kind") == "table" and b["n_rows"] > BODY_ROWS:
            out += page.annex(b["caption"], [b], what=f"the full table ({b['n_rows']} rows; also in the workbook)")
        elif b.get("kind") == "figure" and (b.get("data") or {}).get("n_rows", 0) > BODY_ROWS:
            out += page.annex(b["caption"].rstrip("."), [b], what="the chart and the data it draws")
        else:
            out.append(b)
    return out


def _footer(data: ProgrammeData) -> str:
    return (f"Made by dapp_eval {__version__} from input data with SHA-256 {(data.input_hash or 'n/a')[:16]}"
            "... (the full hash is in About this report).")


def annex_name(report: str) -> str:
    """The file of a report's technical annex: ``report_s01.html`` -> ``report_s01_annex.html``."""
    return report.removesuffix(".html") + "_annex.html"


def render_page(page: Page, rendered: dict | None = None) -> str:
    """The complete, self-contained HTML page of one report (its technical annex: :func:`render_pages`).

    ``rendered`` holds the HTML of sections already rendered elsewhere (whose additions to the page
    it has absorbed); the other sections are rendered here.
    """
    return render_pages(page, rendered)[0]


def render_pages(page: Page, rendered: dict | None = None, *, name: str | None = None) -> tuple[str, str]:
    """The report of one scope and its technical annex, two self-contained pages linked to each other.

    The report holds the commissioner's sections; the annex (``annex_name(name)``) holds the sections placed
    ``"annex"`` (the technical detail the body moved there, methods, plan, data quality, disclosure log,
    definitions). "About this report" ends both, so each names its scope, period and threshold.
    """
    from markupsafe import Markup

    rendered = rendered or {}
    name = name or _report_name(page.site, "")
    parts: dict[str, list] = {"top": [], "body": [], "annex": []}
    with _figure_settings():
        for sec in SECTION_REGISTRY:
            mod = load_section(sec)
            html = Markup(rendered[sec]) if sec in rendered else render_section(page, sec)
            parts[mod.PLACEMENT].append({"id": sec.replace("_", "-"), "title": mod.TITLE, "html": html})
    about = [s for s in parts["annex"] if s["id"] == "about"]
    annex = [s for s in parts["annex"] if s["id"] != "about"]
    common = {"css": _css(), "synthetic": page.synthetic, "home": True, "footer": _footer(page.data)}
    main = _env().get_template("report.html.j2").render(
        title=page.title, top=[s["html"] for s in parts["top"]], body=parts["body"], end=about,
        annex_href=annex_name(name), annex=annex, **common)
    extra = _env().get_template("annex.html.j2").render(
        title=f"Technical annex: {page.title}", heading=f"Technical annex: {page.title}", report_href=name,
        annex=annex, end=about, **common)
    return _cross_link(main, extra, name)


_HREF = re.compile(r'href="#([^"]+)"')
_ID = re.compile(r' id="([^"]+)"')


def _cross_link(main: str, annex: str, name: str) -> tuple[str, str]:
    """A link to an anchor that is on the other page of the pair points to that page."""
    ids = set(_ID.findall(main)), set(_ID.findall(annex))
    files = (annex_name(name), name)

    def fix(html: str, own: set, other: set, file: str) -> str:
        return _HREF.sub(lambda m: f'href="{file}#{m.group(1)}"' if m.group(1) not in own and m.group(1) in other
                         else m.group(0), html)

    return fix(main, ids[0], ids[1], files[0]), fix(annex, ids[1], ids[0], files[1])


def _index(plan: dict, links: list[dict], *, synthetic: bool, data: ProgrammeData, asked: int) -> str:
    return _env().get_template("index.html.j2").render(
        title=plan["title"], heading=plan["title"], css=_css(), synthetic=synthetic, home=False,
        footer=_footer(data), reports=links, workbook=WORKBOOK,
        intro="One report for the whole programme and one for each site. Each opens offline in any browser. "
              f"Small-number threshold of this release: {int(plan['threshold'])} (counts of people below "
              f"{int(plan['threshold'])} are not shown; every other count is rounded to the nearest 5)"
              f"{threshold_raised(asked, int(plan['threshold']))}. Do not "
              "publish another release of the same data at a different threshold beside it.")



def _report_name(site: str | None, suffix: str) -> str:
    return f"report_{slug(site) if site else 'all_sites'}{suffix}.html"


def render_release(data_dir: str | Path, out: str | Path, *, sites: list[str] | None = None,
                   periods: list[tuple[str, str]] | None = None, plan_path: str | Path | None = None,
                   column_map: str | Path | dict | None = None, threshold: int | None = None,
                   strict: bool = False, progress: bool = True, overall: bool = True,
                   jobs: int | None = None, comparators: str | Path | dict | list | None = None,
                   timings: dict | None = None) -> list[Path]:
    """Render a release: one report per site, one overall, ``tables.xlsx`` and ``index.html``.

    Parameters
    ----------
    data_dir : str or Path
        Programme data folder.
    out : str or Path
        Output folder. Keep reports from real data out of git. Written only when the whole
        release has been built (an error leaves it untouched); files of an earlier release
        that this one does not write are left in place.
    sites : list of str, optional
        Only these sites (default: every site).
    periods : list of (from, to), optional
        Only referrals received in each period; with more than one period every page is
        made once per period and named ``report_<site>_<from>_<to>.html``.
    plan_path : str or Path, optional
        Analysis plan YAML.
    column_map : str, Path or dict, optional
        Column map of a provider export (as for ``dapp-eval validate``).
    threshold : int, optional
        Small-number threshold (default from the plan: 10).
    strict : bool
        Suppress throughput counts too.
    progress : bool
        One progress bar over the pages.
    overall : bool
        Also the all-sites report.
    jobs : int, optional
        Pages rendered at once, in worker processes (default: one per CPU core; 1 renders in this process).
    comparators : str, Path, dict or list, optional
        Published figures to show beside the programme's, each labelled with its source and year
        (a ``comparators.yaml``; see :func:`dapp_eval.commissioner.comparators.load_comparators`). None are shipped.
    timings : dict, optional
        Filled with the wall seconds of each stage: ``load_validate``, ``headline_figures`` (every scope's,
        computed before the pages), ``pages``, ``workbook_index``, ``audit`` (``dapp-eval bench`` reports them).

    Returns
    -------
    list of Path
        The files written: the reports, ``tables.xlsx``, then ``index.html``.

    Examples
    --------
    Rendering takes seconds, and tests/test_report_release.py renders releases in every way this
    example could, so it is not run as a doctest:

    >>> paths = render_release("data_synthetic", "out", sites=["S01"], overall=False,
    ...                        progress=False)  # doctest: +SKIP
    >>> [p.name for p in paths]  # doctest: +SKIP
    ['report_s01.html', 'tables.xlsx', 'index.html']
    """

    if threshold is not None:
        check_threshold(threshold)  # before anything is loaded: a plain message, no traceback
    clock = _Clock(timings)
    out = Path(out)
    data = load_programme(data_dir, column_map=column_map)  # validate once, up front, with a clear error
    clock.lap("load_validate")
    all_sites = list(data.sites["site_id"])
    chosen = all_sites if not sites else list(sites)
    unknown = sorted(set(chosen) - set(all_sites))
    if unknown:
        raise AnalysisError(f"unknown site(s) {', '.join(unknown)}; the data has {', '.join(all_sites)}")
    synthetic = (Path(data_dir) / "truth.json").exists()
    comp = None
    if comparators is not None:
        from dapp_eval.commissioner.comparators import load_comparators

        comp = load_comparators(comparators)  # every problem in the file at once, before anything is rendered
    check_periods(periods)  # disjoint periods that make up another asked for: refused (issue 26)
    variants = [tuple(p) for p in periods] if periods else [None]
    releases = []
    for period in variants:
        plan = load_plan(plan_path, threshold=threshold, period=list(period) if period else None)
        check_threshold(plan["threshold"])  # a plan file's threshold too
        full = data.subset(period=period) if period else data
        suffix = f"_{slug(period[0])}_{slug(period[1])}" if period and len(variants) > 1 else ""
        releases.append((Release(full, plan, strict=strict, synthetic=synthetic, comparators=comp), suffix))
    targets = [(rel, suffix, site) for rel, suffix in releases
               for site in ([None] if overall else []) + chosen]
    # every page shows the all-sites headline figures (a site's cards show them beside its own), and the
    # all-sites page compares every site's: each scope's are computed once, here, before the pages are
    # rendered in forked workers that inherit them
    scopes = [None, *(all_sites if overall and len(all_sites) > 1 else chosen)]
    _headline_figures([(rel, scope) for rel, _suffix in releases for scope in scopes], jobs=jobs, pages_of=targets)
    clock.lap("headline_figures")

    out.parent.mkdir(parents=True, exist_ok=True)
    by_file = {name: (rel, site) for rel, suffix, site in targets
               for name in (_report_name(site, suffix), annex_name(_report_name(site, suffix)))}
    for attempt in range(_MAX_WITHHOLD_ROUNDS + 1):
        tmp, names, result = _write_release(targets, releases, data, synthetic, jobs=jobs, progress=progress,
                                            clock=clock, out=out)
        try:
            if result.ok:
                _move_into_place(tmp, out, names)
                return [out / n for n in names]
            # the backstop found a count worked back: withhold the tables it was read from (each in the report
            # it was read from) and render again, rather than refuse the whole release
            new = _to_withhold(result, tmp, by_file)
            if not new or attempt == _MAX_WITHHOLD_ROUNDS:
                raise DisclosureAuditError(result)
            for rel, key in new:
                rel.withheld.add(key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    raise AssertionError("unreachable")  # pragma: no cover


def _to_withhold(result, tmp: Path, by_file: dict) -> list[tuple]:
    """The (release, (site, table)) pairs the audit's leaks were read from, not withheld yet."""
    new = []
    for x in result.leaks:
        if x.report == WORKBOOK:  # a sheet of the workbook: withhold the page table it repeats
            found = _workbook_sources(tmp / WORKBOOK, x.table, by_file)
        else:
            found = [(*by_file[x.report], x.table.removesuffix(" (page)"))] if x.report in by_file else []
        for rel, site, table in found:
            key = (site, table)
            if key not in rel.withheld and not any(r is rel and k == key for r, k in new):
                new.append((rel, key))
    return new


def _workbook_sources(path: Path, sheet: str, by_file: dict) -> list[tuple]:
    """The page tables a workbook sheet repeats, as (release, site, table key), from its contents sheet.

    A sheet lists the report it came from and its CSV name (``s03_risk_missing.csv``); a table identical in
    several reports is one sheet ("also in"), so it is withheld from every page whose CSV has that name.
    """
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    try:
        rows = list(wb["Contents"].iter_rows(values_only=True))
    finally:
        wb.close()
    head = [str(h or "").lower() for h in rows[0]] if rows else []
    col = {name: head.index(name) for name in ("sheet", "csv file", "also in") if name in head}
    if "sheet" not in col or "csv file" not in col:
        return []
    out = []
    for r in rows[1:]:
        if str(r[col["sheet"]]) != sheet:
            continue
        csv = str(r[col["csv file"]] or "").removesuffix(".csv")
        shared = "also in" in col and bool(r[col["also in"]])
        for rel, site in by_file.values():
            prefix = slug(site or "all") + "_"
            key = csv[len(prefix):] if csv.startswith(prefix) else None
            if key is not None:
                out.append((rel, site, key))
        if shared and out:  # the same table on other pages: withheld there too
            key = out[0][2]
            out += [(rel, site, key) for rel, site in by_file.values() if (rel, site, key) not in out]
    return out


#: how many times a release is rendered again with more tables withheld before it is refused
_MAX_WITHHOLD_ROUNDS = 6


def _write_release(targets, releases, data, synthetic, *, jobs, progress, clock, out):
    """Render every page, the workbook and the index into a new folder beside ``out``; audit it there."""
    from tqdm.auto import tqdm

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        names, links = [], []
        plan = releases[0][0].plan
        # each page's tables go into the workbook as the page arrives, while the workers render the next ones
        book = WorkbookBuilder(title=f"{plan['title']}: all published tables")
        pages = _render_pages(targets, jobs=jobs)
        for (rel, suffix, site), (html, annex, scope, page_tables) in tqdm(
                zip(targets, pages), total=len(targets), desc="Rendering reports", unit="report",
                disable=not progress, leave=False):
            name = _report_name(site, suffix)
            (tmp / name).write_text(html, encoding="utf-8")
            (tmp / annex_name(name)).write_text(annex, encoding="utf-8")
            names += [name, annex_name(name)]
            book.add(page_tables)
            period = rel.plan["period"]
            links.append({"href": name, "annex": annex_name(name),
                          "label": scope + (f", referrals {period[0]} to {period[1]}" if period and suffix else "")})
        clock.lap("pages")
        stamp = _dt.datetime.combine(data.sites["data_extract_date"].max().date(), _dt.time())
        book.save(tmp / WORKBOOK, stamp=stamp)
        (tmp / "index.html").write_text(_index(plan, links, synthetic=synthetic, data=data,
                                                   asked=releases[0][0].threshold_asked), encoding="utf-8")
        names += [WORKBOOK, "index.html"]
        clock.lap("workbook_index")
        # attack the whole release where it was written; nothing reaches OUT unless the audit passes
        result = audit_release(tmp, threshold=int(plan["threshold"]))
        clock.lap("audit")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, names, result


class _Clock:
    """Wall seconds per stage into ``timings`` (a no-op without it)."""

    def __init__(self, timings: dict | None):
        self.timings, self.t = timings, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = round(now - self.t, 3)
        self.t = now


_TARGETS: list = []  # the pages of the release being rendered, inherited by forked workers
_UNITS: list = []  # (page number, section names): what one worker task renders


def _render_one(i: int):
    rel, suffix, site = _TARGETS[i]
    page = Page(rel, site)
    return (*render_pages(page, name=_report_name(site, suffix)), page.scope, page.tables)


def _render_unit(j: int) -> list:
    """Some independent sections of one page, on a copy of the page: (name, HTML, what it added to the page)."""
    i, names = _UNITS[j]
    rel, _suffix, site = _TARGETS[i]
    page = Page(rel, site)
    out = []
    with _figure_settings():
        for name in names:
            mark = page.mark()
            html = str(render_section(page, name))
            out.append((name, html, page.changes_since(mark)))
    return out


def _warm_up() -> None:
    """Import, in the parent, everything a page needs, and compile the templates, so that forked
    workers share it instead of each paying for it (about 2 s of CPU per worker)."""
    import lifelines  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import openpyxl  # noqa: F401
    import pyarrow.compute
    import pyarrow.csv  # noqa: F401
    import statsmodels.api  # noqa: F401
    import tqdm.auto  # noqa: F401

    from dapp_eval.analyses import attrition, followup, funnel, plotting, risk, safety  # noqa: F401

    env = _env()
    for name in SECTION_REGISTRY:
        load_section(name)
        env.get_template(f"sections/{name}.html.j2")
    env.get_template("report.html.j2")


def _figures_of(i: int):
    import dataclasses

    from dapp_eval.report.sections._headlines import figures

    rel, site, page_of_its_own = _TARGETS[i]
    res = figures(rel, site)
    if page_of_its_own or isinstance(res, Exception):
        return res
    # the analyses behind them serve the body of that scope's own page only: not sent back when it has
    # none (the programme's, for one site's report: at a million referrals, gigabytes to copy between processes),
    # except what the published cards read: the curves they are read off and the participant flow whose totals
    # they show (without them a one-site release's all-sites cards were rounded on their own: 920 starts beside
    # the full release's 925, a second rounding of the same people)
    return dataclasses.replace(res, model=_card_inputs(res.model))


def _card_inputs(model: dict) -> dict:
    """The parts of a headline figures' model its published cards read (curves, the participant flow)."""
    import copy

    from dapp_eval.report.sections._headlines import CURVE_SOURCES

    out = {k: model[k] for k in CURVE_SOURCES.values() if k in (model or {})}
    cascade = (model or {}).get("cascade")
    if cascade is not None and "flow" in getattr(cascade, "tables", {}):
        slim = copy.copy(cascade)
        slim.tables = {"flow": cascade.tables["flow"]}
        out["cascade"] = slim
    return out


def _forking(jobs: int | None, n: int) -> int:
    """Worker processes to use for ``n`` tasks (1: none, work in this process)."""
    jobs = min(jobs or os.cpu_count() or 1, n)
    return jobs if "fork" in multiprocessing.get_all_start_methods() else 1


def _headline_figures(targets: list, *, jobs: int | None, pages_of: list = ()) -> None:
    """The headline figures of each (release, scope), computed in worker processes and kept in each release
    (with the analyses behind them for the scopes among the pages ``pages_of``)."""
    from dapp_eval.report.sections._headlines import adopt, figures

    global _TARGETS
    if _forking(jobs, len(targets)) <= 1:
        for rel, site in targets:
            figures(rel, site)
        return
    _warm_up()
    pages = {(id(rel), site) for rel, _suffix, site in pages_of}
    _TARGETS = [(rel, site, (id(rel), site) in pages) for rel, site in targets]
    try:
        with ProcessPoolExecutor(max_workers=_forking(jobs, len(targets)),
                                 mp_context=multiprocessing.get_context("fork")) as ex:
            results = ex.map(_figures_of, range(len(targets)))
            _prepare(pages_of)  # meanwhile, here: what the pages' workers will inherit
            for (rel, site), res in zip(targets, results):
                adopt(rel, site, res)
    finally:
        _TARGETS = []


def _prepare(targets: list) -> None:
    """Derived tables every section of these pages uses, made before workers fork (each would make them)."""
    for rel, _suffix, site in targets:
        rel.site_data(site).episodes  # noqa: B018


#: the independent sections by time to render (at 2,000 and at 1,000,000 referrals): the rest follow
_LONGEST_FIRST = ("safety", "followup", "engagement", "risk", "sites", "attrition", "trends")


def _render_pages(targets: list, *, jobs: int | None):
    """Render every page, yielding (report HTML, annex HTML, scope, published tables) in order.

    With ``jobs`` > 1 the independent sections of every page (:func:`sections.independent`) are rendered
    one per task in forked worker processes, each on its own copy of its page; here, each page absorbs
    what its sections added (published tables, headline cards, disclosure log...) in page order and
    renders the rest. Every page's HTML is the same whichever process renders what
    (tests/test_report.py compares the two ways byte for byte).
    """
    from dapp_eval.report.sections import independent

    global _TARGETS, _UNITS
    n = len(targets)
    _TARGETS = list(targets)
    try:
        if _forking(jobs, n * len(independent())) <= 1:
            for i in range(n):
                yield _render_one(i)
            return
        _warm_up()
        _prepare(targets)
        # within a page the longest sections first, so that no worker is left with a long one at the end
        _UNITS = [(i, (name,)) for i in range(n)
                  for name in sorted(independent(), key=lambda m: _LONGEST_FIRST.index(m)
                                     if m in _LONGEST_FIRST else len(_LONGEST_FIRST))]
        with ProcessPoolExecutor(max_workers=_forking(jobs, len(_UNITS)),
                                 mp_context=multiprocessing.get_context("fork")) as ex:
            futures = [ex.submit(_render_unit, j) for j in range(len(_UNITS))]
            try:
                for i, (rel, suffix, site) in enumerate(targets):
                    got = {name: (html, changes) for (k, _names), fut in zip(_UNITS, futures) if k == i
                           for name, html, changes in fut.result()}
                    page, rendered = Page(rel, site), {}
                    for name in independent():  # absorbed in page order, whatever order they were rendered in
                        html, changes = got[name]
                        page.absorb(changes)
                        rendered[name] = html
                    yield (*render_pages(page, rendered, name=_report_name(site, suffix)), page.scope,
                           page.tables)
            except BaseException:  # an error (or Ctrl-C): do not wait for the sections not yet started
                ex.shutdown(cancel_futures=True)
                raise
    finally:
        _TARGETS, _UNITS = [], []


def _move_into_place(tmp: Path, out: Path, names: list[str]) -> None:
    if not out.exists():
        os.replace(tmp, out)
        return
    if not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    for n in names:  # each file replaced atomically; index.html last
        os.replace(tmp / n, out / n)


def render_reports(data_dir: str | Path, out: str | Path, *, sites: list[str] | None = None,
                   period: tuple[str, str] | None = None, plan: str | Path | None = None,
                   threshold: int | None = None, strict: bool = False, progress: bool = True,
                   overall: bool = True, column_map: str | Path | dict | None = None) -> list[Path]:
    """Render one HTML report per site plus an overall one, the workbook and an index page.

    The arguments of earlier versions; see :func:`render_release`.

    Examples
    --------
    >>> render_reports("data_synthetic", "output/reports", sites=["S01"])  # doctest: +SKIP
    """
    return render_release(data_dir, out, sites=sites, periods=[tuple(period)] if period else None,
                          plan_path=plan, column_map=column_map, threshold=threshold, strict=strict,
                          progress=progress, overall=overall)


class ReportBuilder:
    """One report (one site or all sites) from data already loaded: for notebooks and tests.

    Parameters
    ----------
    data : ProgrammeData
        Already restricted to the site (and period) the report is about.
    site : str or None
        ``None`` for the whole programme.
    plan : dict
        From :func:`dapp_eval.data.plan.load_plan`.
    strict : bool
        Suppress throughput counts too.
    synthetic : bool
        Show the SYNTHETIC DATA banner.
    full_data : ProgrammeData, optional
        All sites, for the comparison of sites.

    Examples
    --------
    >>> rb = ReportBuilder.from_folder("data_synthetic", site="S01")
    >>> rb.scope
    'Northvale Steps (synthetic) (S01)'
    >>> rb.section("title").split("\\n")[1]
    '<h1>Perpetrator programme evaluation: Northvale Steps (synthetic) (S01)</h1>'
    """

    def __init__(self, data: ProgrammeData, *, site: str | None, plan: dict, strict: bool = False,
                 synthetic: bool = False, full_data: ProgrammeData | None = None):
        self.release = Release(full_data if full_data is not None else data, plan, strict=strict,
                               synthetic=synthetic)
        self._page = Page(self.release, site, data=data)

    @classmethod
    def from_folder(cls, data_dir: str | Path, *, site: str | None = None, plan_path: str | Path | None = None,
                    threshold: int | None = None, strict: bool = False, period: tuple[str, str] | None = None,
                    synthetic: bool | None = None, column_map=None) -> ReportBuilder:
        """Load, restrict to site and period, and set up the report."""
        plan = load_plan(plan_path, threshold=threshold, period=list(period) if period else None)
        full = load_programme(data_dir, column_map=column_map)
        if plan["period"]:
            full = full.subset(period=tuple(plan["period"]))
        data = full.subset(sites=[site]) if site else full
        if synthetic is None:
            synthetic = (Path(data_dir) / "truth.json").exists()
        return cls(data, site=site, plan=plan, strict=strict, synthetic=synthetic, full_data=full)

    @property
    def dc(self):
        return self._page.dc

    @dc.setter
    def dc(self, control) -> None:
        """Use another DisclosureControl for this page (e.g. another threshold or rounding base)."""
        self._page.dc = control

    @property
    def data(self) -> ProgrammeData:
        """The data this page reports on (site and period applied)."""
        return self._page.data

    @property
    def kpis(self) -> list[dict]:
        return self._page.kpis

    @property
    def scope(self) -> str:
        return self._page.scope

    @property
    def tables(self):
        return self._page.tables

    def section(self, name: str) -> str:
        """HTML of one section."""
        with _figure_settings():
            return str(render_section(self._page, name))

    def page(self) -> str:
        """The whole page."""
        return render_page(self._page)

    def pages(self) -> tuple[str, str]:
        """The whole page and its technical annex page."""
        return render_pages(self._page)

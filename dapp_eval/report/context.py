"""What a report release is built from: data, plan, results computed once, disclosure state.

:class:`Release` holds the validated data and the plan of one release, and a
cache of analysis results keyed by (scope, name): every result is computed
once per release, however many pages show it (the comparison of sites, for
example, is computed on the whole programme once and shown on every page).

:class:`Page` is one report (one site or all sites). Its helpers turn results
into *blocks*, plain dicts that the section templates draw: ``p``, ``h3``,
``na`` (an analysis not available), ``table`` and ``figure``. Every table goes
through the page's :class:`~dapp_eval.disclosure.DisclosureControl` and is
rounded to the precision shown (:mod:`dapp_eval.report.format`) before it is
shown or offered as CSV; the page keeps the published tables for the
release workbook.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.data.io import ProgrammeData
from dapp_eval.data.plan import AnalysisPlan, as_plan
from dapp_eval.disclosure import DisclosureControl, protect_counts, protected_sentence
from dapp_eval.disclosure.control import release_threshold
from dapp_eval.errors import AnalysisError
from dapp_eval.formatting import PLAIN_NAMES, gbp, percent, plain_name, plain_text
from dapp_eval.report.format import csv_bytes, fmt_cell, publish_frame, slug

__all__ = ["Release", "Page", "PublishedTable"]

#: funnel stages that are the programme's own throughput (published unless strict)
THROUGHPUT_STAGES = ("referred", "started", "completed")
#: rows shown in a page table; the CSV and the workbook have them all
MAX_ROWS = 400


def threshold_raised(asked: int, applied: int) -> str:
    """The words saying that the threshold asked for was raised to a multiple of the rounding base ('' if not)."""
    if asked == applied:
        return ""
    return (f"; {asked} was asked for and raised to {applied}, the next multiple of 5: between two multiples, "
            "counts rounded up to the threshold could be solved exactly")

@dataclass
class PublishedTable:
    """One table as published (after disclosure control and rounding), for the page and the workbook."""

    report: str
    caption: str
    csv_name: str
    frame: pd.DataFrame
    notes: str = ""


@dataclass
class Release:
    """The loaded data, the plan and one cache of results for every page of a release."""

    data: ProgrammeData
    plan: AnalysisPlan
    strict: bool = False
    synthetic: bool = False
    label: str = ""
    #: published figures the user supplies to show beside the programme's (dapp_eval.commissioner.comparators.load_comparators)
    comparators: pd.DataFrame | None = None
    #: tables withheld from this release, as (site or None, table key): the release's backstop audit found that,
    #: read with the rest of the release, they would give back a count below the threshold
    withheld: set = field(default_factory=set, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    _subsets: dict = field(default_factory=dict, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.plan = as_plan(self.plan)  # checked once; a dict from older code is read through load_plan
        # a threshold between two multiples of the rounding base is applied as the next multiple: at 6, a count
        # of 6 or 7 is shown as 10 (6 to 12), and two levels shown as 10 in a group shown as 10 are 6 and 6
        # exactly (outside attack a23 G1); the page says which threshold was asked for
        self.threshold_asked = int(self.plan["threshold"])
        applied = release_threshold(self.threshold_asked)
        if applied != self.threshold_asked:
            self.plan = self.plan.replace(threshold=applied)

    @property
    def alpha(self) -> float:
        return self.plan.alpha

    @property
    def level(self) -> str:
        """The plan's confidence level as pages write it ('95%')."""
        return self.plan.level

    def site_data(self, site: str | None) -> ProgrammeData:
        if site is None:
            return self.data
        if site not in self._subsets:
            self._subsets[site] = self.data.subset(sites=[site])
        return self._subsets[site]

    def memo(self, key: str, fn: Callable[[], Any]):
        """Anything else made once per release (e.g. the SVG of a figure every page shows)."""
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def result(self, scope: str | None, key: str, fn: Callable[[], Any]):
        """Run an analysis once per release; an AnalysisError is kept and shown as 'not available'.

        So is a model that cannot be fitted to the data (lifelines' ConvergenceError, a singular
        matrix): one model failing on a small site must not stop the rest of the report.
        """
        ck = (scope, key)
        if ck not in self._cache:
            from lifelines.exceptions import ConvergenceError

            try:
                self._cache[ck] = fn()
            except AnalysisError as exc:
                self._cache[ck] = exc
            except (ConvergenceError, np.linalg.LinAlgError) as exc:
                first = str(exc).split(". ")[0].strip().rstrip(".")
                self._cache[ck] = AnalysisError(f"the model could not be fitted to these data, which are too few "
                                                f"or too uniform ({type(exc).__name__}: {first})")
        return self._cache[ck]


class Page:
    """One report of a release: its data, its disclosure state, and the block helpers sections use."""

    def __init__(self, release: Release, site: str | None, *, data: ProgrammeData | None = None):
        self.release = release
        self.site = site
        self.data = data if data is not None else release.site_data(site)
        self.plan = release.plan
        self.alpha = release.alpha
        self.level = release.level            # '95%': every label reads the plan's level from here
        self.ci_label = f"{self.level} CI"
        # a release with several sites: the all-sites report's zeros hold at every site, so every report of the
        # release shows a 0 of people as a small count (the zero rule for groups of any size); a site report too,
        # or its published 0s would add up to the all-sites report's hidden one
        self.dc = DisclosureControl(threshold=int(self.plan["threshold"]), strict=release.strict, alpha=self.alpha,
                                    carries_down=release.data.sites["site_id"].nunique() > 1)
        self.synthetic = release.synthetic
        self.full_data = release.data
        self.kpis: list[dict] = []
        self.tables: list[PublishedTable] = []
        self.used: dict[str, Any] = {}   # results this page used, in order (for the data-quality appendix)
        self.annex_parts: list[dict] = []  # technical material moved out of the body (sections/technical.py)
        self.saved: dict[str, Any] = {}  # what a section works out once for the page (e.g. the published headlines)
        #: what publishing each table published once per release logged (:meth:`publish_once`), added to this
        #: page's log once per table by :meth:`settle_once`, however the page's sections were shared out
        self.once_logs: dict = {}
        self._settled: set = set()

    # -- results ------------------------------------------------------------------
    def get(self, key: str, fn: Callable[[], Any]):
        """A result about this page's data (computed once per release)."""
        res = self.release.result(self.site, key, fn)
        self.used.setdefault(f"{self.site}/{key}", res)
        return res

    def unlist(self, key: str) -> None:
        """Leave the result ``key`` out of this page's data-quality appendix: an analysis a page does not show
        lists no rows there either (its row beside a sentence at one site, and none at another where the model
        could not be fitted, told 0 from a few; outside attack a21)."""
        k = f"{self.site}/{key}"
        if k in self.used:
            self.used[k] = AnalysisError("not shown on this page")

    def get_full(self, key: str, fn: Callable[[], Any]):
        """A result about the whole programme (e.g. the comparison of sites), shared by every page."""
        res = self.release.result(None, key, fn)
        self.used.setdefault(f"None/{key}", res)
        return res

    def keep(self, key: str, fn: Callable[[], Any]):
        """Something worked out once per page and reused by other sections (kept in :attr:`saved`)."""
        if key not in self.saved:
            self.saved[key] = fn()
        return self.saved[key]

    # -- the page's state, in parts -----------------------------------------------------
    # Sections before the first one marked AFTER_OTHERS may be rendered in separate processes, each on
    # its own copy of the page; what each adds to the page is then absorbed, in page order, into the
    # page the rest of the sections are rendered on (render.py), which ends in the same state.
    def mark(self) -> tuple:
        """Where the page's state stands now, for :meth:`changes_since`."""
        return (len(self.kpis), len(self.tables), len(self.used), len(self.annex_parts), len(self.saved),
                len(self.once_logs), self.dc.mark())

    def changes_since(self, mark: tuple) -> dict:
        """What sections added to the page since ``mark`` (the results used as their title and counts only)."""
        k, t, u, a, s, o, d = mark
        return {"kpis": self.kpis[k:], "tables": self.tables[t:],
                "used": [(key, _used(res)) for key, res in list(self.used.items())[u:]],
                "annex_parts": self.annex_parts[a:], "saved": list(self.saved.items())[s:],
                "once": list(self.once_logs.items())[o:], "disclosure": self.dc.changes_since(d)}

    def absorb(self, changes: dict) -> None:
        """Add what sections rendered on another copy of this page added to it (:meth:`changes_since`)."""
        self.kpis += changes["kpis"]
        self.tables += changes["tables"]
        for key, res in changes["used"]:
            self.used.setdefault(key, res)
        self.annex_parts += changes["annex_parts"]
        for key, value in changes["saved"]:
            self.saved.setdefault(key, value)
        for key, value in changes.get("once", ()):
            self.once_logs.setdefault(key, value)
        self.dc.absorb(changes["disclosure"])

    def settle_once(self) -> None:
        """Add to this page's log what each table published once per release logged, once per table. Absorbed
        where it was published, a table read by two sections rendered in separate processes was logged twice, and
        the log depended on how many processes rendered the release (the shipped log differed at 1 and 2)."""
        for key, changes in self.once_logs.items():
            if key not in self._settled:
                self._settled.add(key)
                self.dc.absorb(changes)

    @property
    def scope(self) -> str:
        if self.site is None:
            return "all sites"
        return f"{self.data.sites['site_name'].iloc[0]} ({self.site})"

    @property
    def title(self) -> str:
        return f"{self.plan['title']}: {self.scope}"

    def csv_name(self, name: str) -> str:
        return slug(f"{self.site or 'all'}_{name}")

    # -- blocks -------------------------------------------------------------------
    @staticmethod
    def p(text: str, cls: str = "") -> dict:
        return {"kind": "p", "text": text, "cls": cls}

    @staticmethod
    def h3(text: str) -> dict:
        return {"kind": "h3", "text": text}

    def annex(self, title: str, blocks: list, *, what: str) -> list:
        """Move technical ``blocks`` to the technical annex; the body keeps one line linking to them.

        ``what`` says in plain words what the annex part holds ("the model of who drops out ...").
        """
        if not blocks:
            return []
        anchor = "annex-" + slug(title).replace("_", "-")
        self.annex_parts.append({"id": anchor, "title": title, "blocks": list(blocks)})
        return [{"kind": "more", "text": f"Technical detail: {what}, in the technical annex", "href": f"#{anchor}",
                 "title": title}]

    def few_started(self) -> bool:
        """Whether fewer people started the programme here than the threshold (none included).

        Sections about the people who started (retention, follow-up after leaving, attendance) then show one
        sentence (:meth:`few_started_block`) instead of tables of '<T' cells whose shape, and the analyses'
        own reasons ("no started episodes"), told a site of nobody from a site of a few (issue 26)."""
        ref = self.data.referrals
        return int(ref["start_date"].notna().sum()) < self.dc.threshold

    def few_started_block(self, what: str) -> dict:
        """The sentence in place of a section about starters where fewer than the threshold started."""
        self.dc.record(what, "", "section", f"not shown: fewer than {self.dc.threshold} people started")
        where = " here; the report on all sites has it" if self.site is not None else ""
        return {"kind": "na", "what": what,
                "why": f"fewer than {self.dc.threshold} people started the programme{where}: too few to publish "
                       "this without risk of identifying them."}

    def na(self, what: str, why: str) -> dict:
        # disclosure (issue 15): an analysis's reason may print counts ("111 people referred; still attending: 4")
        return {"kind": "na", "what": what, "why": protect_counts(str(why), self.dc)}

    def publish(self, result, *, caption: str, name: str, table: str = "summary", roles=None, rows=None,
                drop: tuple = ()) -> dict:
        """The table block of an analysis's table, published through the release's one publication step.

        ``result`` is an :class:`~dapp_eval.results.AnalysisResult` (its ``table``, declared by
        ``result.roles[table]``) or a DataFrame with ``roles`` given. ``rows`` (a boolean mask or function of
        the table) picks rows before publishing; ``drop`` removes columns from the page (the CSV too).
        Withheld tables become their sentence.
        """
        from dapp_eval.disclosure.roles import publish

        df, roles = self.declared(result, table, roles)
        if rows is not None:
            df = df[rows(df) if callable(rows) else rows]
        csv = self.csv_name(name)
        if self.is_withheld(caption, csv):
            return self.withheld_block(caption)
        shown = publish(df, roles, self.dc, name=caption)
        return self.shown_table(shown.drop(columns=list(drop)), caption=caption, csv_name=csv)

    def publish_once(self, key, fn: Callable[[DisclosureControl], pd.DataFrame]) -> pd.DataFrame:
        """``fn(dc)``, a table published into ``dc``, published once per release where it is the same on every page
        (the all-sites headline figures, the sites side by side): each page gets a copy of the published table and,
        in its disclosure log, what publishing it logged, as if it had been published on the page.

        Publishing reads nothing of the control but its policy, so the table and its log are those the page's own
        control would give (the same threshold, strictness, rounding base, alpha and zero rule: part of the key).
        """
        dc = self.dc
        policy = (dc.threshold, dc.strict, dc.base, dc.alpha, dc.carries_down)

        def run():
            own = dc.same_policy()  # the whole policy (a13: without carries_down, "0 of 20" and "10 of 10" were shown)
            start = own.mark()
            return fn(own), own.changes_since(start)

        shown, changes = self.release.memo(("published once", policy, key), run)
        self.once_logs.setdefault(("published once", policy, key), changes)  # logged by settle_once
        return shown.copy()

    @staticmethod
    def declared(result, table: str = "summary", roles=None) -> tuple[pd.DataFrame, list]:
        """A result's table and the roles its analysis declared for it (or ``roles``, given with a DataFrame)."""
        if isinstance(result, pd.DataFrame):
            if roles is None:
                raise ValueError("a DataFrame is published with its column roles (roles=...)")
            return result, list(roles)
        df = result.summary if table == "summary" else result.tables[table]
        roles = roles if roles is not None else result.roles.get(table)
        if roles is None:
            raise ValueError(f"{result.title}: table {table!r} declares no column roles (AnalysisResult.roles)")
        return df, list(roles)

    def table_key(self, caption: str, csv_name: str | None) -> tuple[str, str]:
        """How the audit names a table of this page: its CSV name without the scope, and its caption's slug."""
        name = csv_name or slug(caption)
        prefix = slug(self.site or "all") + "_"
        return (name[len(prefix):] if name.startswith(prefix) else name,
                re.sub(r"[^a-z0-9]+", "_", plain_text(caption).lower()).strip("_")[:60] or "table")

    def is_withheld(self, caption: str, csv_name: str | None) -> bool:
        """Whether the release withholds this table (see :attr:`Release.withheld`)."""
        return any((self.site, k) in self.release.withheld for k in self.table_key(caption, csv_name))

    def withheld_block(self, caption: str) -> dict:
        """The sentence shown in place of a table withheld from the release (logged, never its values)."""
        self.dc.record(caption, "", "table", "table withheld: read with the rest of the release it could give back "
                       f"a count below {self.dc.threshold}")
        return {"kind": "na", "what": plain_text(caption),
                "why": f"Withheld: there are too few people here to publish this table safely (with the other "
                       f"figures in this release it could give back a count below {self.dc.threshold})."}

    def shown_table(self, shown: pd.DataFrame, *, caption: str, csv_name: str | None = None) -> dict:
        """Publish a table that is already safe (disclosure applied, or no counts of people)."""
        if self.is_withheld(caption, csv_name):
            return self.withheld_block(caption)
        pub = publish_frame(shown.reset_index(drop=True))
        csv_name = (csv_name or slug(caption)) + ".csv"
        self.tables.append(PublishedTable(self.scope, caption, csv_name, pub))
        text_cols = {c for c in pub.columns
                     if any(isinstance(v, str) and not _numberish(v) for v in pub[c])}
        # the page shows plain words and percentages (the CSV keeps the codes and numbers, which the audit reads)
        cols = [{"name": _header(pub, c, self.level), "cls": "txt" if c in text_cols else "num"} for c in pub.columns]
        rows = [[{"text": t, "cls": col["cls"]} for t, col in zip(rec, cols)]
                for rec in _display_rows(pub.head(MAX_ROWS))]
        csv = base64.b64encode(csv_bytes(pub)).decode("ascii")
        protected = protected_sentence(shown, threshold=self.dc.threshold, base=self.dc.base)
        return {"kind": "table", "caption": plain_text(caption), "columns": cols, "rows": rows, "n_rows": len(pub),
                "protected": protected,
                "max_rows": MAX_ROWS, "csv_name": csv_name, "csv_uri": f"data:text/csv;base64,{csv}"}

    def figure(self, ax_or_fig, *, alt: str, caption: str = "", data: dict | None = None) -> dict:
        """A matplotlib figure (or its data URI) as a deterministic SVG with alt text (the figure is closed).

        ``data``, a table block, is the data the figure draws, shown beside it for readers who cannot
        see the chart.
        """
        if data is not None and data.get("kind") == "na":  # its data are withheld: so is the chart that draws them
            if not isinstance(ax_or_fig, str):
                import matplotlib.pyplot as plt

                plt.close(ax_or_fig if hasattr(ax_or_fig, "savefig") else ax_or_fig.figure)
            return data
        uri = ax_or_fig if isinstance(ax_or_fig, str) else figure_uri(ax_or_fig)
        return {"kind": "figure", "alt": alt, "caption": caption, "src": uri, "data": data,
                "mobile_px": mobile_width(uri)}

    def curve_table(self, df: pd.DataFrame, *, time_col: str, group_cols: tuple[str, ...], step: float,
                    unit: str, caption: str, name: str, scale: float = 1.0) -> dict:
        """The data a (protected) step curve draws, read off every ``step`` time units, as a table block.

        The curve is a step function: its value at t is that of the last step at or before t. Only the
        estimate and its interval are listed (no counts), up to where the drawn curve stops. The times are
        listed divided by ``scale`` (days read every month of 365.25 / 12 days, listed as months).
        """
        rows = []
        gcols = [g for g in group_cols if g in df]
        for key, g in (df.groupby(gcols, sort=False) if gcols else [((), df)]):
            g = g.sort_values(time_col)
            key = key if isinstance(key, tuple) else (key,)
            t, end = 0.0, float(g[time_col].max())
            while t <= end:
                before = g[g[time_col] <= t]
                t += step
                if before.empty:  # the curve starts later
                    continue
                r = before.iloc[-1]
                rows.append({**dict(zip(gcols, key)), unit: (t - step) / scale, "estimate": r["estimate"],
                             "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
        return self.shown_table(pd.DataFrame(rows), caption=caption, csv_name=self.csv_name(name))

    @staticmethod
    def curve_ends(df: pd.DataFrame, *, time_col: str, label_col: str, scale: float = 1.0, unit: str = "days",
                   complement: bool = False) -> str:
        """A sentence-part with where each drawn curve ends: 'completed 69% by 180 days, ...'."""
        from dapp_eval.report.format import pct

        parts = []
        for label, g in df.groupby(label_col, sort=False):
            last = g.sort_values(time_col).iloc[-1]
            est = 1 - last["estimate"] if complement else last["estimate"]
            parts.append(f"{str(label).replace('_', ' ')} {pct(est)} by {last[time_col] / scale:.0f} {unit}")
        return "; ".join(parts)

    def kpi(self, label: str, value: str, n_text: str, reading: str) -> dict:
        if value == "not available":  # disclosure (issue 15): the reason is an analysis's message, which may print counts
            reading = protect_counts(str(reading), self.dc)
        card = {"measure": label, "value": value, "denominator": n_text, "reading": reading}
        self.kpis.append(card)
        return card


@dataclass
class UsedResult:
    """What the data-quality appendix reads of a result a section used: its title and its counts (``meta``)."""

    title: str
    meta: dict


def _used(res):
    if isinstance(res, Exception):
        return res
    return UsedResult(getattr(res, "title", ""), res.meta) if hasattr(res, "meta") else None


#: columns that hold a proportion (0-1) when every value of the row in them lies in 0..1 ...
_RATE_COLS = ("estimate", "ci_lower", "ci_upper")
#: ... unless the table is of ratios or the row's label names a statistic that is not a proportion
_RATIO_TABLE_COLS = {"hr", "or", "irr", "rr", "smd", "smd_max_abs", "emm"}
_LABEL_COLS = ("statistic", "measure", "unit", "term", "method", "label")
_NOT_RATE = re.compile(r"ratio|mean|average|median|cohen|hedges|effect|delta|tipping|difference|change|score|"
                       r"hazard|smd|days|weeks|sessions|per_|per person", re.I)


def _header(pub: pd.DataFrame, c, level: str = "") -> str:
    if str(c) == "statistic" and any(isinstance(v, (int, float, np.floating)) and not pd.isna(v) for v in pub[c]):
        return "Test statistic"
    return plain_name(str(c), level) if str(c) in PLAIN_NAMES else str(c)


def _plain_cell(v) -> str:
    if isinstance(v, str) and not _numberish(v):
        return (plain_name(v) if v in PLAIN_NAMES else None) or plain_text(v)
    return fmt_cell(v)


def _num(v) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return None if pd.isna(v) else float(v)
    if isinstance(v, str):
        try:
            return float(v.replace(",", ""))
        except ValueError:
            return None
    return None


def _as_percent(v: float) -> str:
    return percent(v, 1 if 0 < abs(v) < 0.1 else 0)


def _rows(pub: pd.DataFrame):
    """Each row as ``{column: value}``, the values those of ``pub.iterrows()`` (the rows of ``pub.values``) without
    a Series made per row (a page's tables have thousands of rows in all). A table whose column names repeat is
    read by ``iterrows`` (a repeated name selects several values)."""
    if not pub.columns.is_unique:
        yield from (r for _, r in pub.iterrows())
        return
    cols = list(pub.columns)
    for v in pub.values:
        yield dict(zip(cols, v))


def cell_units(pub: pd.DataFrame):
    """The unit of each numeric cell of a published table, row by row, as the page reads it.

    ``"proportion"`` (0-1, shown as a percentage), ``"percent"`` (already a percentage), ``"gbp"`` (pounds),
    or None (a count or another number, shown as it is). The page (:func:`_display_rows`) and the workbook
    (:mod:`dapp_eval.report.workbook`) read the units from here, so both say the same.
    """
    rate_cols = [c for c in _RATE_COLS if c in pub.columns]
    if _RATIO_TABLE_COLS & set(map(str, pub.columns)):
        rate_cols = []
    prop_cols = [c for c in pub.columns if str(c).startswith("prop_")]
    pct_cols = [c for c in pub.columns if str(c).startswith("pct") or "%" in str(c)]  # already percentages
    gbp_cols = [c for c in pub.columns if str(c).startswith("cost_") or str(c).endswith("_gbp")]
    label_cols = [c for c in pub.columns[:1].tolist() + list(_LABEL_COLS) if c in pub.columns]
    for r in _rows(pub):
        label = " ".join(str(r[c]) for c in label_cols if isinstance(r[c], str))
        vals = [x for x in (_num(r[c]) for c in rate_cols) if x is not None]
        is_rate = bool(vals) and all(0 <= x <= 1 for x in vals) and not _NOT_RATE.search(label)
        units = []
        for c in pub.columns:
            x = _num(r[c])
            if x is not None and ((c in rate_cols and is_rate) or (c in prop_cols and 0 <= x <= 1)):
                units.append("proportion")
            elif x is not None and c in gbp_cols:
                units.append("gbp")
            elif x is not None and c in pct_cols:
                units.append("percent")
            else:
                units.append(None)
        yield units


def _display_rows(pub: pd.DataFrame):
    """Each row's cells as the page shows them: code values in plain words, proportions as percentages."""
    for r, units in zip(_rows(pub), cell_units(pub)):
        out = []
        for c, unit in zip(pub.columns, units):
            x = _num(r[c])
            if unit == "proportion":
                out.append(_as_percent(x))
            elif unit == "gbp":
                out.append(gbp(x))
            elif unit == "percent":
                out.append(f"{x:.1f}%" if abs(x) < 10 else f"{x:.0f}%")
            else:
                out.append(_plain_cell(r[c]))
        yield out


def _numberish(v: str) -> bool:
    return bool(re.match(r"^[<\d.,%\-–£ \[\]c]*$", v))


#: the smallest chart text a phone shows (CSS px): a chart is drawn at least wide enough for it (report.css)
MIN_CHART_TEXT_PX = 12
#: phone screens the charts are fitted to: a chart narrower than this at 12 px text simply fills the screen
PHONE_PX = 370


def mobile_width(uri: str) -> int | None:
    """The width (CSS px) at which a chart's smallest text is :data:`MIN_CHART_TEXT_PX`, or None when the
    chart fits a phone screen (:data:`PHONE_PX`) at that size; read from the SVG's width and font sizes."""
    if not uri.startswith("data:image/svg+xml;base64,"):
        return None
    svg = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8", "replace")
    width = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg)
    sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*(?:[a-z]+ )*([\d.]+)px", svg)]
    if not width or not sizes:
        return None
    px = int(np.ceil(MIN_CHART_TEXT_PX * float(width.group(1)) / min(sizes)))
    return px if px > PHONE_PX else None


def figure_uri(ax_or_fig) -> str:
    """A figure as an SVG data URI with fixed metadata (no software version or date); the figure is closed.

    SVG rather than PNG: text stays text (sharp when printed or zoomed, and the browser's font), the
    file is smaller, and it is drawn about 40% faster (no rasterising). Element ids come from the
    fixed ``svg.hashsalt``, so the bytes are the same on every run. See :func:`svg_bytes`.
    """
    import matplotlib.pyplot as plt

    fig = ax_or_fig if hasattr(ax_or_fig, "savefig") else ax_or_fig.figure
    while not hasattr(fig, "savefig"):  # a sub-figure
        fig = fig.figure
    try:
        svg = svg_bytes(fig)
    finally:
        plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


#: white space kept around the drawn elements (inches; matplotlib's savefig.pad_inches)
_PAD_INCHES = 0.1
#: decimals of every coordinate, length and transform written in a figure's SVG (1/100 pt, far below
#: what any screen or printer shows)
SVG_DECIMALS = 2
#: a text node (left as it is: what the chart shows) or a number written with more decimals than that
_SVG_TEXT_OR_NUMBER = re.compile(rf">[^<]*<|-?\d+\.\d{{{SVG_DECIMALS + 1},}}")
#: ids matplotlib makes from a hash of what they name (clip paths, markers): a letter and 10 hex digits, and
#: the references to them
_SVG_ID = re.compile(r'(?<=id=")[a-z][0-9a-f]{10}(?=")|(?<=#)[a-z][0-9a-f]{10}(?=[)"])')


def _short(m: re.Match) -> str:
    text = m.group(0)
    if text[0] == ">":
        return text
    text = f"{round(float(text), SVG_DECIMALS):.{SVG_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fixed_precision_svg(svg: str) -> str:
    """The SVG with every number in its markup rounded to :data:`SVG_DECIMALS` and its hash-named ids numbered.

    matplotlib writes coordinates to 6 decimals, and names clip paths and markers after a hash of their
    coordinates: the last bits of a float (which differ between CPUs, BLAS builds and thread counts) would
    show in the file. Rounded, and those ids renumbered in order of first appearance, the bytes are the same
    wherever the figure is drawn. Text nodes (the words and numbers a chart shows) are never touched.
    """
    start = svg.index("<svg")  # not the XML declaration's version="1.0"
    svg = svg[:start] + _SVG_TEXT_OR_NUMBER.sub(_short, svg[start:])
    ids: dict[str, str] = {}
    return _SVG_ID.sub(lambda m: ids.setdefault(m.group(0), f"{m.group(0)[0]}{len(ids) + 1}"), svg)


def _titles_stay_put(fig) -> None:
    """Fix each title at the top of its axes where matplotlib's search for room above it would not move it.

    On every draw and every tight-bbox measurement, matplotlib lays out the y axis's tick labels once more
    (about a third of the cost of a chart) to see whether the title must move up: only when the x axis has
    ticks or its label on top, or the y axis's offset text ("1e6") is written where the title is, or the axes
    has twins or child axes. For an axes with none of these the title stays at the top of the axes (y = 1)
    anyway; setting that position through ``set_title(..., y=1.0)`` (matplotlib's public way to place a title
    by hand) skips the search. The title's text and style are kept as they were.
    """
    from matplotlib.text import Text

    for ax in fig.axes:
        if (ax.xaxis.get_ticks_position() in ("top", "unknown") or ax.xaxis.get_label_position() == "top"
                or ax.child_axes or len(ax.get_shared_x_axes().get_siblings(ax)) > 1
                or len(ax.get_shared_y_axes().get_siblings(ax)) > 1
                or ax.title.get_position()[1] != 1.0):
            continue
        fmt = ax.yaxis.get_major_formatter()
        fmt.set_locs(ax.yaxis.get_majorticklocs())  # as drawing does: decides the offset text
        if fmt.get_offset():
            continue
        kept = Text()
        kept.update_from(ax.title)
        ax.set_title(ax.get_title(), y=1.0)
        ax.title.update_from(kept)


def _ticks_worked_out_once(fig) -> None:
    """Each axis's major ticks and labels, worked out once and fixed (``FixedLocator``/``FixedFormatter``).

    matplotlib asks an axis's locator and formatter for its ticks every time it lays the axis out: several
    times while the figure is measured and again while it is drawn. Nothing that decides them changes in
    between (the figure is finished; its size and limits are fixed), so they are worked out here once, with
    the axis's own locator and formatter, and set as fixed ticks: the same positions and the same labels.
    Axes whose formatter writes an offset or multiplier ("1e6") keep their own.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_locator(), (NullLocator, FixedLocator)):
                continue
            locs = axis.get_majorticklocs()
            fmt = axis.get_major_formatter()
            labels = fmt.format_ticks(locs)
            if fmt.get_offset():
                continue
            axis.set_major_locator(FixedLocator(locs))
            axis.set_major_formatter(FixedFormatter(labels))


@functools.lru_cache(maxsize=16)
def _measuring_renderer(w_in: float, h_in: float):
    """matplotlib's SVG renderer for a figure size, kept to measure every figure of that size.

    It only measures (nothing is drawn on it): kept, its cache of text extents carries over from figure to
    figure, and most labels ("0", "20", "Number", the quarters) recur on every chart.
    """
    from matplotlib.backends.backend_svg import RendererSVG

    return RendererSVG(w_in * 72, h_in * 72, io.StringIO())


def svg_bytes(fig) -> bytes:
    """The figure as SVG, cropped to what is drawn (as ``savefig(bbox_inches="tight")``), drawn once.

    ``savefig(bbox_inches="tight")`` draws a figure twice: once (without output) to lay it out and measure
    it, once to write it. Here the drawn extent is measured without drawing (``Figure.get_tightbbox`` with
    matplotlib's SVG renderer, at SVG's 72 dpi, as savefig measures) and handed to ``savefig`` as the box to
    write, so the figure is drawn once. Public matplotlib API only (tests/test_no_private_matplotlib.py).
    The SVG is then written at a fixed precision (:func:`fixed_precision_svg`). The figure is taken as
    finished: its ticks are fixed as they are (:func:`_ticks_worked_out_once`).
    """
    import matplotlib

    _titles_stay_put(fig)
    _ticks_worked_out_once(fig)
    fh = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "dapp_eval", "svg.fonttype": "none"}):
        dpi = fig.get_dpi()
        fig.set_dpi(72)  # SVG units are points, as matplotlib's print_svg does
        try:
            w_in, h_in = fig.get_size_inches()
            box = fig.get_tightbbox(_measuring_renderer(float(w_in), float(h_in))).padded(_PAD_INCHES)
        finally:
            fig.set_dpi(dpi)
        fig.savefig(fh, format="svg", bbox_inches=box, facecolor="white",
                    metadata={"Date": None, "Creator": None})
    return fixed_precision_svg(fh.getvalue()).encode("utf-8")

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
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..disclosure import DisclosureControl, protect_counts, protected_sentence
from ..errors import AnalysisError
from ..io import ProgrammeData
from .format import csv_bytes, fmt_cell, publish_frame, slug

__all__ = ["Release", "Page", "PublishedTable"]

#: funnel stages that are the programme's own throughput (published unless strict)
THROUGHPUT_STAGES = ("referred", "started", "completed")
#: rows shown in a page table; the CSV and the workbook have them all
MAX_ROWS = 400


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
    plan: dict
    strict: bool = False
    synthetic: bool = False
    label: str = ""
    _cache: dict = field(default_factory=dict, repr=False)
    _subsets: dict = field(default_factory=dict, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def alpha(self) -> float:
        return float(self.plan["alpha"])

    def site_data(self, site: str | None) -> ProgrammeData:
        if site is None:
            return self.data
        if site not in self._subsets:
            self._subsets[site] = self.data.subset(sites=[site])
        return self._subsets[site]

    def memo(self, key: str, fn: Callable[[], Any]):
        """Anything else made once per release (e.g. the PNG of a figure every page shows)."""
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
        self.dc = DisclosureControl(threshold=int(self.plan["threshold"]), strict=release.strict)
        self.synthetic = release.synthetic
        self.full_data = release.data
        self.kpis: list[dict] = []
        self.tables: list[PublishedTable] = []
        self.used: dict[str, Any] = {}   # results this page used, in order (for the data-quality appendix)

    # -- results ------------------------------------------------------------------
    def get(self, key: str, fn: Callable[[], Any]):
        """A result about this page's data (computed once per release)."""
        res = self.release.result(self.site, key, fn)
        self.used.setdefault(f"{self.site}/{key}", res)
        return res

    def get_full(self, key: str, fn: Callable[[], Any]):
        """A result about the whole programme (e.g. the comparison of sites), shared by every page."""
        res = self.release.result(None, key, fn)
        self.used.setdefault(f"None/{key}", res)
        return res

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

    def na(self, what: str, why: str) -> dict:
        # disclosure (issue 15): an analysis's reason may print counts ("111 people referred; still attending: 4")
        return {"kind": "na", "what": what, "why": protect_counts(str(why), self.dc)}

    def table(self, df: pd.DataFrame, *, caption: str, name: str, kind: str = "people", drop: tuple = (),
              **dc_kw) -> dict:
        """Pass a table through disclosure control and publish it (the CSV carries the suppressed table)."""
        shown = self.dc.table(df, name=caption, kind=kind, **dc_kw)
        return self.shown_table(shown.drop(columns=list(drop)), caption=caption, csv_name=self.csv_name(name))

    def shown_table(self, shown: pd.DataFrame, *, caption: str, csv_name: str | None = None) -> dict:
        """Publish a table that is already safe (disclosure applied, or no counts of people)."""
        pub = publish_frame(shown.reset_index(drop=True))
        csv_name = (csv_name or slug(caption)) + ".csv"
        self.tables.append(PublishedTable(self.scope, caption, csv_name, pub))
        text_cols = {c for c in pub.columns
                     if any(isinstance(v, str) and not _numberish(v) for v in pub[c])}
        cols = [{"name": str(c), "cls": "txt" if c in text_cols else "num"} for c in pub.columns]
        rows = [[{"text": fmt_cell(v), "cls": col["cls"]} for v, col in zip(rec, cols)]
                for rec in pub.head(MAX_ROWS).itertuples(index=False)]
        csv = base64.b64encode(csv_bytes(pub)).decode("ascii")
        protected = protected_sentence(shown, threshold=self.dc.threshold, base=self.dc.base)
        return {"kind": "table", "caption": caption, "columns": cols, "rows": rows, "n_rows": len(pub),
                "protected": protected,
                "max_rows": MAX_ROWS, "csv_name": csv_name, "csv_uri": f"data:text/csv;base64,{csv}"}

    def figure(self, ax_or_fig, *, alt: str, caption: str = "", data: dict | None = None) -> dict:
        """A matplotlib figure (or its PNG data URI) as a deterministic PNG with alt text (the figure is closed).

        ``data``, a table block, is the data the figure draws, shown beside it for readers who cannot
        see the chart.
        """
        uri = ax_or_fig if isinstance(ax_or_fig, str) else figure_png_uri(ax_or_fig)
        return {"kind": "figure", "alt": alt, "caption": caption, "src": uri, "data": data}

    def curve_table(self, df: pd.DataFrame, *, time_col: str, group_cols: tuple[str, ...], step: float,
                    unit: str, caption: str, name: str) -> dict:
        """The data a (protected) step curve draws, read off every ``step`` time units, as a table block.

        The curve is a step function: its value at t is that of the last step at or before t. Only the
        estimate and its interval are listed (no counts), up to where the drawn curve stops.
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
                rows.append({**dict(zip(gcols, key)), unit: t - step, "estimate": r["estimate"],
                             "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
        return self.shown_table(pd.DataFrame(rows), caption=caption, csv_name=self.csv_name(name))

    @staticmethod
    def curve_ends(df: pd.DataFrame, *, time_col: str, label_col: str, scale: float = 1.0, unit: str = "days",
                   complement: bool = False) -> str:
        """A sentence-part with where each drawn curve ends: 'completed 69% by 180 days, ...'."""
        from .format import pct

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


def _numberish(v: str) -> bool:
    import re

    return bool(re.match(r"^[<\d.,%\-–£ \[\]c]*$", v))


def figure_png_uri(ax_or_fig) -> str:
    """PNG bytes of a figure with fixed metadata (no software version or date), as a data URI."""
    import matplotlib.pyplot as plt

    fig = ax_or_fig if hasattr(ax_or_fig, "savefig") else ax_or_fig.figure
    while not hasattr(fig, "savefig"):  # a sub-figure
        fig = fig.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


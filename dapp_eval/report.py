"""The commissioner report: self-contained HTML per site and overall.

:func:`render_reports` executes the parameterised report notebook
(``dapp_eval/templates/report.ipynb``, papermill ``parameters`` cell) once per
site and once for all sites, converts each with nbconvert with no code cells
and no prompts, and wraps it in a page that loads nothing from the network
(styles inline, figures as embedded PNG, tables downloadable as CSV through
``data:`` links).

This module formats; it computes no statistics. Every number comes from an
analysis module, and every table and figure annotation passes through one
:class:`~dapp_eval.disclosure.DisclosureControl` before it is shown.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .disclosure import DisclosureControl, how_figures_are_protected, protected_sentence
from .errors import AnalysisError
from .io import ProgrammeData, load_programme
from .plan import load_plan

__all__ = ["ReportBuilder", "render_reports", "html_table", "html_figure", "wrap_page", "TEMPLATE"]

TEMPLATE = Path(__file__).with_name("templates") / "report.ipynb"

CSS = """
body{font-family:Arial,Helvetica,sans-serif;max-width:1040px;margin:0 auto;padding:0 24px 48px;color:#111;line-height:1.45}
h1{font-size:1.8em;margin-top:.6em}h2{border-bottom:2px solid #333;padding-bottom:4px;margin-top:2em}h3{margin-top:1.4em}
.banner{background:#111;color:#fff;font-weight:bold;text-align:center;padding:8px;letter-spacing:.12em;position:sticky;top:0;z-index:9}
table.dt{border-collapse:collapse;margin:8px 0 4px;font-size:.9em}
table.dt th,table.dt td{border:1px solid #999;padding:3px 7px;text-align:right}
table.dt th{background:#e8e8e8}table.dt td.txt,table.dt th.txt{text-align:left}
table.dt caption{caption-side:top;text-align:left;font-weight:bold;padding-bottom:4px}
.dl{font-size:.8em;margin-bottom:14px}.note{color:#333;font-size:.9em}.reading{font-style:italic}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.kpi{border:1px solid #888;padding:8px 10px;border-radius:4px}.kpi .v{font-size:1.35em;font-weight:bold}
.kpi .n{font-size:.85em;color:#333}figure{margin:10px 0 20px}figcaption{font-size:.9em;color:#222}
.na{color:#444;border-left:4px solid #999;padding-left:8px}
img{max-width:100%}
@media print{.banner{position:static}.dl{display:none}}
"""


# ---------------------------------------------------------------------------
# HTML building blocks
# ---------------------------------------------------------------------------


def _fmt_cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (pd.Timestamp, _dt.date)):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    if isinstance(v, (float, np.floating)):
        if float(v).is_integer() and abs(v) < 1e9:
            return f"{int(v):,}"
        return f"{v:,.3g}" if abs(v) < 1 else f"{v:,.1f}"
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "table"


def _fmt_p(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and not np.isnan(v):
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    return _fmt_cell(v)


def _csv_view(df: pd.DataFrame) -> pd.DataFrame:
    """The table as downloaded: numbers rounded to what the page shows (no extra precision to work back from)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(4 if str(c).startswith("p_") else 3)
    return out


def html_table(df: pd.DataFrame, *, caption: str, csv_name: str | None = None,
               formatters: dict[str, Callable] | None = None, max_rows: int = 400) -> str:
    """A real HTML table (caption, header cells) plus a CSV download link embedded in the page.

    Examples
    --------
    >>> h = html_table(pd.DataFrame({"stage": ["referred"], "n": ["41"]}), caption="Funnel")
    >>> "<th scope=\\"col\\" class=\\"txt\\">stage</th>" in h and "data:text/csv;base64," in h
    True
    """
    formatters = formatters or {}
    shown = df.head(max_rows)
    text_cols = {c for c in shown.columns if shown[c].dtype == object and not shown[c].astype(str).str.match(
        r"^[<\d.,%\-–£ ]*$").all()}
    head = "".join(f'<th scope="col" class="{"txt" if c in text_cols else "num"}">{html.escape(str(c))}</th>'
                   for c in shown.columns)
    body = []
    for rec in shown.itertuples(index=False):
        cells = []
        for c, v in zip(shown.columns, rec):
            f = formatters.get(c, _fmt_p if str(c).startswith("p_") else _fmt_cell)
            cells.append(f'<td class="{"txt" if c in text_cols else "num"}">{html.escape(f(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="note">First {max_rows} of {len(df)} rows shown; the CSV has all.</p>'
            if len(df) > max_rows else "")
    csv = base64.b64encode(_csv_view(df).to_csv(index=False).encode("utf-8")).decode("ascii")
    name = (csv_name or _slug(caption)) + ".csv"
    return (f'<table class="dt"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{more}'
            f'<div class="dl"><a download="{html.escape(name)}" href="data:text/csv;base64,{csv}">'
            f'Download this table as CSV ({html.escape(name)})</a></div>')


def html_figure(ax_or_fig, *, alt: str, caption: str = "") -> str:
    """Embed a matplotlib figure as a PNG data URI with alt text, then close it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.plot([0, 1], [0, 1])
    >>> html_figure(ax, alt="A rising line").startswith("<figure><img alt=")
    True
    """
    import matplotlib.pyplot as plt

    fig = ax_or_fig.figure if hasattr(ax_or_fig, "figure") and not hasattr(ax_or_fig, "savefig") else ax_or_fig
    if hasattr(fig, "get_figure") and fig.get_figure() is not None and not hasattr(fig, "savefig"):
        fig = fig.get_figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def _p(text: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<p{c}>{html.escape(text)}</p>"


def _na(what: str, why: str) -> str:
    return f'<p class="na"><strong>{html.escape(what)}: not available.</strong> {html.escape(why)}</p>'


def wrap_page(body_html: str, *, title: str, synthetic: bool) -> str:
    """A complete, self-contained HTML page (inline CSS, no scripts, no external links)."""
    banner = '<div class="banner" role="note">SYNTHETIC DATA: NOT REAL PEOPLE</div>' if synthetic else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{banner}{body_html}{banner}</body></html>\n")


def pct(x: float, digits: int = 0) -> str:
    """Format a proportion (0-1) as a percentage string."""
    if x is None or pd.isna(x):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

#: funnel stages that are the programme's own throughput (published unless --strict)
THROUGHPUT_STAGES = ("referred", "started", "completed")

SECTIONS = ("title", "summary", "engagement", "attrition", "risk", "safety", "followup", "sites",
            "methods", "plan", "data_quality", "disclosure_log")


class ReportBuilder:
    """Build the HTML sections of one commissioner report (one site or all sites).

    Parameters
    ----------
    data : ProgrammeData
        Already restricted to the site (and period) the report is about.
    site : str or None
        ``None`` for the whole programme.
    plan : dict
        From :func:`dapp_eval.plan.load_plan`.
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
    >>> rb.section("title").startswith("<h1>Perpetrator programme evaluation: Northvale Steps")
    True
    """

    def __init__(self, data: ProgrammeData, *, site: str | None, plan: dict, strict: bool = False,
                 synthetic: bool = False, full_data: ProgrammeData | None = None):
        self.data = data
        self.site = site
        self.plan = plan
        self.alpha = float(plan["alpha"])
        self.dc = DisclosureControl(threshold=int(plan["threshold"]), strict=strict)
        self.synthetic = synthetic
        self.full_data = full_data or data
        self._cache: dict[str, Any] = {}
        self.kpis: list[dict] = []

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_folder(cls, data_dir: str | Path, *, site: str | None = None, plan_path: str | Path | None = None,
                    threshold: int | None = None, strict: bool = False, period: tuple[str, str] | None = None,
                    synthetic: bool | None = None) -> ReportBuilder:
        """Load, restrict to site and period, and set up the report."""
        plan = load_plan(plan_path, threshold=threshold, period=list(period) if period else None)
        full = load_programme(data_dir)
        if plan["period"]:
            full = full.subset(period=tuple(plan["period"]))
        data = full.subset(sites=[site]) if site else full
        if synthetic is None:
            synthetic = (Path(data_dir) / "truth.json").exists()
        return cls(data, site=site, plan=plan, strict=strict, synthetic=synthetic, full_data=full)

    @property
    def scope(self) -> str:
        if self.site is None:
            return "all sites"
        name = self.data.sites["site_name"].iloc[0]
        return f"{name} ({self.site})"

    def _get(self, key: str, fn: Callable[[], Any]):
        """Run an analysis once; an AnalysisError is kept and shown as 'not available'.

        So is a model that cannot be fitted to the data (lifelines' ConvergenceError, a singular matrix):
        one model failing on a small site must not stop the rest of the report.
        """
        if key not in self._cache:
            from lifelines.exceptions import ConvergenceError

            try:
                self._cache[key] = fn()
            except AnalysisError as exc:
                self._cache[key] = exc
            except (ConvergenceError, np.linalg.LinAlgError) as exc:
                first = str(exc).split(". ")[0].strip().rstrip(".")
                self._cache[key] = AnalysisError(f"the model could not be fitted to these data, which are too few "
                                                 f"or too uniform ({type(exc).__name__}: {first})")
        return self._cache[key]

    def section(self, name: str) -> str:
        """HTML of one section."""
        if name not in SECTIONS:
            raise KeyError(f"unknown section {name!r}; known: {', '.join(SECTIONS)}")
        return getattr(self, f"_s_{name}")()

    def display(self, name: str) -> None:
        """Show one section in a notebook (used by the report template)."""
        from IPython.display import HTML, display

        display(HTML(self.section(name)))

    def body(self) -> str:
        """All sections, in order."""
        return "\n".join(self.section(s) for s in SECTIONS)

    def page(self) -> str:
        return wrap_page(self.body(), title=self._title_text(), synthetic=self.synthetic)

    def _title_text(self) -> str:
        return f"{self.plan['title']}: {self.scope}"

    def _csv(self, name: str) -> str:
        return _slug(f"{self.site or 'all'}_{name}")

    def _table(self, df: pd.DataFrame, *, caption: str, name: str, kind: str = "people", drop: tuple = (),
               **dc_kw) -> str:
        """Pass a table through disclosure control and render it (the CSV carries the suppressed table)."""
        shown = self.dc.table(df, name=caption, kind=kind, **dc_kw)
        return html_table(shown.drop(columns=list(drop)), caption=caption, csv_name=self._csv(name)) + self._protected(
            shown)

    def _protected(self, shown: pd.DataFrame) -> str:
        """[disclosure] The plain sentence under a table with rounded or hidden cells ("" if none)."""
        text = protected_sentence(shown, threshold=self.dc.threshold, base=self.dc.base)
        return _p(text, "note") if text else ""

    # -- analyses (cached) ------------------------------------------------------
    def _funnel(self):
        from . import funnel

        return self._get("cascade", lambda: funnel.cascade(self.data, by=None, alpha=self.alpha))

    # -- sections ---------------------------------------------------------------
    def _s_title(self) -> str:
        d = self.data
        extract = d.sites["data_extract_date"].max()
        rows = [
            ("Programme", self.scope),
            ("Sites", ", ".join(f"{n} ({m.replace('_', '-')})" for n, m in
                                zip(d.sites["site_name"], d.sites["programme_model"]))),
            ("Evaluation period", f"{d.sites['period_start'].min():%d %B %Y} to {d.sites['period_end'].max():%d %B %Y}"),
            ("Referrals in scope", (f"received {self.plan['period'][0]} to {self.plan['period'][1]}"
                                    if self.plan["period"] else self._scope_note())),
            ("Data extracted", f"{extract:%d %B %Y} (cases still open are followed up to this date)"),
            ("dapp_eval version", __version__),
            ("Input data (SHA-256)", d.input_hash or "n/a"),
            ("Small-number threshold", f"counts below {self.dc.threshold} are hidden"
             + (" (strict: throughput counts too)" if self.dc.strict else "")),
        ]
        meta = "".join(f"<tr><th scope=\"row\" class=\"txt\">{html.escape(k)}</th><td class=\"txt\">{html.escape(v)}</td></tr>"
                       for k, v in rows)
        synth = ("<p><strong>These results are computed from synthetic data generated by dapp_eval. "
                 "They describe no real person or programme.</strong></p>" if self.synthetic else "")
        return (f"<h1>{html.escape(self._title_text())}</h1>{synth}"
                f'<table class="dt"><caption>About this report</caption><tbody>{meta}</tbody></table>')

    def _scope_note(self) -> str:
        ref = self.data.referrals
        start = ref["site_id"].map(self.data.sites.set_index("site_id")["period_start"])
        before = int((ref["referral_date"] < start).sum())
        if not before:
            return "all referrals in the data"
        before = self.dc.count(before, name="title", label="carried over", kind="throughput")  # [disclosure]
        return (f"all referrals in the data, including {before} received before the period start and carried "
                "over into it (costs count only what falls inside the period; quarters it does not fully cover are "
                "marked partial)")

    def _kpi(self, label: str, value: str, n_text: str, reading: str) -> str:
        self.kpis.append({"measure": label, "value": value, "denominator": n_text, "reading": reading})
        return (f'<div class="kpi"><div>{html.escape(label)}</div><div class="v">{html.escape(value)}</div>'
                f'<div class="n">{html.escape(n_text)}</div><div class="reading">{html.escape(reading)}</div></div>')

    def _s_summary(self) -> str:
        parts = [self._kpi_funnel(), self._kpi_completion(), self._kpi_wait(), self._kpi_throughput(),
                 self._kpi_risk(), self._kpi_safety(), self._kpi_followup(), self._kpi_costs()]
        return ("<h2>Summary</h2>"
                + _p("Each figure shows its denominator (n) and, where it estimates a rate, a 95% confidence "
                     "interval. Counts below the small-number threshold are hidden to protect the people involved.",
                     "note")
                + '<div class="kpis">' + "".join(x for x in parts if x) + "</div>"
                + '<div class="kpi protect" role="note"><strong>How figures are protected.</strong> '
                + html.escape(how_figures_are_protected(self.dc.threshold, self.dc.base)) + "</div>")

    def _counts(self) -> dict[str, int]:
        res = self._funnel()
        if isinstance(res, Exception):
            return {}
        c = res.tables["counts"]
        return dict(zip(c["stage"], c["n"].astype(int)))

    def _kpi_funnel(self) -> str:
        c = self._counts()
        if not c:
            return ""
        kind = "throughput"
        ref = self.dc.count(c["referred"], name="summary", label="referred", kind=kind)
        st = self.dc.count(c["started"], name="summary", label="started", kind=kind)
        co = self.dc.count(c["completed"], name="summary", label="completed", kind=kind)
        att = self.dc.count(c.get("still_attending", 0), name="summary", label="still attending", kind=kind)
        return self._kpi("Referrals, starts and completions", f"{ref} referred, {st} started, {co} completed",
                         f"n = {ref} referrals", f"Of the {ref} people referred, {st} started the programme and "
                         f"{co} completed it; {att} were still attending when the data were extracted.")

    def _wait(self, stage: str):
        from . import funnel

        return self._get(f"wait_{stage}", lambda: funnel.waiting_times(self.data, stage=stage, unit="weeks",
                                                                        alpha=self.alpha))

    def _kpi_wait(self) -> str:
        res = self._wait("assessment_to_start")
        if isinstance(res, Exception):
            return self._kpi("Wait from assessment to start", "not available", "", str(res))
        r = res.summary.iloc[0]
        n = self.dc.count(r["n"], name="summary", label="waited for a start", kind="throughput")
        if not r["median_reached"]:
            return self._kpi("Median wait from assessment to start", "not reached", f"n = {n} accepted",
                             "Fewer than half of the people accepted had started by the extract date.")
        ci = (f"95% CI {r['ci_lower']:.1f} to {r['ci_upper']:.1f}" if np.isfinite(r["ci_upper"])
              else f"95% CI from {r['ci_lower']:.1f} (upper limit not reached)" if np.isfinite(r["ci_lower"])
              else "95% CI not estimable: too few people")
        return self._kpi("Median wait from assessment to start", f"{r['estimate']:.1f} weeks ({ci})",
                         f"n = {n} accepted; people still waiting are counted, not dropped",
                         f"Half of the {n} people accepted onto the programme had started within "
                         f"{r['estimate']:.1f} weeks of assessment, allowing for those still waiting and those who left"
                         + (f"; among those who did start, the median wait was {r['median_observed_events']:.1f} weeks."
                            if pd.notna(r.get("median_observed_events")) else "."))

    def _throughput(self):
        from . import funnel

        return self._get("throughput", lambda: funnel.throughput(self.data, by=None, freq="fy_quarter"))

    def _kpi_throughput(self) -> str:
        res = self._throughput()
        if isinstance(res, Exception):
            return ""
        s = res.summary[(res.summary["group"] == "all") & ~res.summary["partial"].astype(bool)]
        if s.empty:
            return ""
        tgt = s["target_completions"]
        done = int(s["n_completions"].sum())
        nq = len(s)
        if tgt.notna().all():
            target = float(tgt.sum())
            met = int((s["n_completions"] >= s["target_completions"]).sum())
            return self._kpi("Completions against the contract target",
                             f"{self.dc.count(done, name='summary', label='completions', kind='throughput')} "
                             f"of {target:.0f} targeted",
                             f"{nq} complete quarters", f"The target was met in {met} of {nq} complete quarters.")
        return self._kpi("Completions per quarter",
                         f"{done / nq:.1f} on average", f"{nq} complete quarters",
                         "No contract target was given for this programme, so completions are shown without one.")

    def _costs(self):
        from . import funnel

        return self._get("costs", lambda: funnel.costs(self.data, by=None))

    def _kpi_costs(self) -> str:
        res = self._costs()
        if isinstance(res, Exception):
            return ""
        r = res.summary.iloc[-1]
        if pd.isna(r.get("period_cost_gbp")):
            return self._kpi("Cost per referral and per completion", "not available", "",
                             str(r.get("note") or "No annual cost was given in sites.csv."))

        def gbp(v):
            return "n/a" if pd.isna(v) or v == "[c]" else f"£{v:,.0f}"

        # [disclosure] counts rounded like everywhere else; costs per person recomputed from the rounded counts
        p = self.dc.table(res.summary.iloc[[-1]], name="summary: costs", kind="throughput", dependent={
            "n_referrals": ["cost_per_referral"], "n_started": ["cost_per_start"],
            "n_completed": ["cost_per_completion"], "n_carried_over": []}).iloc[0]
        return self._kpi("Cost per referral / start / completion",
                         f"{gbp(p['cost_per_referral'])} / {gbp(p['cost_per_start'])} / {gbp(p['cost_per_completion'])}",
                         f"period cost {gbp(r['period_cost_gbp'])} over {r['period_years']:.2f} years; "
                         f"n = {p['n_referrals']} referrals, {p['n_started']} starts and "
                         f"{p['n_completed']} completions dated within the period",
                         f"Over the period the programme cost {gbp(r['period_cost_gbp'])}, which is "
                         f"{gbp(p['cost_per_completion'])} for each person who completed it.")

    def _s_engagement(self) -> str:
        from . import funnel, plotting

        out = ["<h2>Engagement: from referral to completion</h2>"]
        res = self._funnel()
        if isinstance(res, Exception):
            return out[0] + _na("Funnel", str(res))
        out.append(_p("Every referral is placed in exactly one stage, derived from its case record. "
                      "Conversion rates are taken among cases that have reached a decision at that step; "
                      "cases still open are shown beside them and never counted as failures."))
        counts = res.tables["counts"][["group", "stage", "label", "level", "parent", "n", "pct_of_referred"]].copy()
        counts["parent"] = counts["parent"].fillna("")
        # referrals, starts and completions are the programme's throughput (published as councils do);
        # every other stage describes people and is suppressed, with its siblings as the margin
        shown = self.dc.table(counts, name="Participant flow", margins=["parent"], label_cols=["label"],
                              exempt=counts["stage"].isin(THROUGHPUT_STAGES))
        out.append(html_table(shown.drop(columns=["group", "stage", "parent"]).rename(
            columns={"label": "stage", "pct_of_referred": "% of referred"}),
            caption="Participant flow: people at each stage", csv_name=self._csv("funnel_counts")) + self._protected(shown))
        out.append(html_figure(plotting.plot_funnel_flow(shown), alt="Participant flow diagram from referral to "
                               "completion, with the number of people at each stage and each exit (small numbers "
                               "hidden).", caption="Participant flow (CONSORT-style)."))
        conv = res.tables["conversion"]
        conv = conv[[c for c in ("conversion", "n_converted", "n_resolved", "n_open", "estimate", "ci_lower",
                                 "ci_upper") if c in conv]]
        out.append(self._table(conv, caption="Conversion at each step (proportion with 95% Wilson CI)",
                               name="funnel_conversion", pairs={"n_converted": "n_resolved"},
                               label_cols=["conversion"], dependent={"n_open": []}))
        for stage, title in (("referral_to_assessment", "Wait from referral to assessment"),
                             ("assessment_to_start", "Wait from assessment to start")):
            w = self._wait(stage)
            if isinstance(w, Exception):
                out.append(_na(title, str(w)))
                continue
            cols = ["n", "n_event", "n_competing", "n_censored", "estimate", "ci_lower", "ci_upper",
                    "median_observed_events"]
            t = w.summary[[c for c in cols if c in w.summary]].rename(columns={
                "estimate": "median_weeks", "median_observed_events": "median_among_those_with_event"})
            out.append(f"<h3>{html.escape(title)}</h3>")
            out.append(self._table(t, caption=f"{title} (weeks; competing risks, people still waiting censored)",
                                   name=f"wait_{stage}", label_cols=[],
                                   row_margins=[["n_event", "n_competing", "n_censored"]],
                                   dependent={"n_censored": [], "n_competing": []}))
            safe = _protect_curve(self, w, f"{title} curves", table="cif", group_cols=("group", "cause"))
            if len(safe.tables["cif"]):
                out.append(html_figure(safe.plot(), alt=f"Cumulative incidence curves of the {title.lower()}, "
                                       "stopped where fewer people than the threshold remain.",
                                       caption=f"{title}: cumulative incidence, with competing exits."))
        wl = self._get("waiting_list", lambda: funnel.waiting_list(self.data, by=None))
        if isinstance(wl, Exception):
            out.append(_na("Waiting list at the extract date", str(wl)))
        if not isinstance(wl, Exception):
            out.append("<h3>Waiting list at the extract date</h3>")
            keep = [c for c in ("list", "n_waiting", "n_referred", "median_weeks", "q1_weeks", "q3_weeks",
                                "n_over_threshold", "threshold_weeks") if c in wl.summary]
            out.append(self._table(wl.summary[keep], caption="People waiting at the data extract date and how long "
                                   "they had waited so far (weeks; the longest single wait is not shown)",
                                   name="waiting_list", label_cols=["list"],
                                   dependent={"n_waiting": ["median_weeks", "q1_weeks", "q3_weeks"],
                                              "n_over_threshold": [], "n_referred": []}))
        tp = self._throughput()
        if isinstance(tp, Exception):
            out.append(_na("Throughput by quarter", str(tp)))
        if not isinstance(tp, Exception):
            out.append("<h3>Throughput by quarter</h3>")
            t = tp.summary[tp.summary["group"] == "all"].drop(columns=["group", "quarter_start", "quarter_end"],
                                                                 errors="ignore")
            out.append(self._table(t, caption="Referrals, starts and completions by financial quarter "
                                   "(partial = quarter not fully covered by the data)",
                                   name="throughput", kind="throughput", label_cols=["quarter"]))
            if not self.dc.strict:
                out.append(html_figure(tp.plot(), alt="Bar chart of referrals, starts and completions per quarter, "
                                       "with the contract target where given.", caption="Throughput by quarter."))
        att = self._get("attendance", lambda: funnel.attendance(self.data, by=None, alpha=self.alpha))
        if isinstance(att, Exception):
            out.append(_na("Attendance", str(att)))
        if not isinstance(att, Exception):
            out.append("<h3>Attendance</h3>")
            out.append(self._table(att.summary.drop(columns=["group"], errors="ignore"),
                                   caption="Sessions attended (ratio with 95% CI)", name="attendance",
                                   label_cols=["measure"] if "measure" in att.summary else None))
        t1 = self._get("table1", lambda: funnel.baseline_table(self.data, by="completion_status"))
        if isinstance(t1, Exception):
            out.append(_na("Baseline profile by completion status", str(t1)))
        if not isinstance(t1, Exception):
            out.append("<h3>Who completes? Baseline profile by completion status</h3>")
            out.append(_p("Standardised mean differences (SMD) above 0.1 in absolute value mark characteristics "
                          "that differ between people who completed and people who left early. This describes "
                          "who completes; it does not show that the programme caused any difference.", "note"))
            s = t1.summary
            keep = [c for c in ("variable", "level", "group", "n", "n_group", "pct", "mean", "sd", "smd_max_abs")
                    if c in s]
            tab = s[keep].copy()
            for c in ("pct", "mean", "sd", "smd_max_abs"):
                if c in tab:
                    tab[c] = tab[c].round(2)
            # an SMD describes both groups of a level: it is hidden with any of the level's cells
            out.append(self._table(tab, caption="Baseline characteristics by completion status (Table 1)",
                                   name="table1", margins=[["variable", "group"], ["variable", "level"]],
                                   pairs={"n": "n_group"}, label_cols=["variable", "level", "group"],
                                   group_all=["variable", "level"], keep=("n_group",)))
        return "\n".join(out)

    def _completion(self, by=None):
        from . import attrition

        a = self.plan["attrition"]
        return self._get(f"completion_{by}", lambda: attrition.completion_rate(
            self.data, by=by, grace_weeks=a["grace_weeks"], exit_time=a["exit_time"], alpha=self.alpha))

    def _kpi_completion(self) -> str:
        res = self._completion()
        if isinstance(res, Exception):
            return self._kpi("Completion rate", "not available", "", str(res))
        s = res.summary
        r = s[s["basis"].str.startswith("pooled")].iloc[0] if (s["basis"].str.startswith("pooled")).any() else s.iloc[0]
        n = self.dc.count(r["n"], name="summary", label="started (completion rate)", kind="throughput")
        grace = self.plan["attrition"]["grace_weeks"]
        weeks = r["horizon_days"] / 7
        if self.dc.is_small(r["n_completed"]) or self.dc.is_small(r["n"] - r["n_completed"]):
            return self._kpi("Completion rate", "hidden (small numbers)", f"n = {n} started",
                             "Too few people to publish a completion rate safely.")
        return self._kpi(
            "Completion rate", f"{pct(r['estimate'])} (95% CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])})",
            f"n = {n} started; {self.dc.count(r['n_open'], name='summary', label='open', kind='throughput')} "
            f"still attending are followed, not counted as failures",
            f"Of the people who started, an estimated {pct(r['estimate'])} completed within {weeks:.0f} weeks "
            f"({'the longest planned length here' if str(r['basis']).startswith('pooled') else 'the planned length'}"
            f", {int(r['planned_sessions'])} weekly sessions, plus {grace:g} weeks); the plain ratio of completions "
            f"to starts, "
            f"{pct(r['raw_ratio'])}, understates this while people are still attending.")

    def _s_attrition(self) -> str:
        from . import attrition, plotting

        a = self.plan["attrition"]
        out = ["<h2>Retention and attrition</h2>",
               _p("Time runs from the first attended session. An episode ends at its last attended session "
                  if a["exit_time"] == "last_session" else
                  "Time runs from the first attended session. An episode ends at its recorded exit date "
                  "(the plan chose exit_date)."),
               _p("Completion, dropping out, exclusion by the provider and other exits (moved away, custody) "
                  "are competing exits: each curve shows the share who had left for that reason by each time, "
                  "allowing for the others. People still attending are followed up to the extract date.")]
        ci = self._get("cif", lambda: attrition.cumulative_incidence(self.data, by=None, exit_time=a["exit_time"],
                                                                       alpha=self.alpha))
        if isinstance(ci, Exception):
            return "\n".join(out) + _na("Cumulative incidence", str(ci))
        safe = _protect_curve(self, ci, "cumulative incidence of exits")
        n_exits = ci.tables["detail"].groupby("outcome")["n_event"].sum()
        drawn = [o for o, k in n_exits.items() if k >= self.dc.threshold]
        for o, k in n_exits.items():
            if 0 < k < self.dc.threshold:
                self.dc._record("cumulative incidence of exits", o, "curve",
                                f"exit type with fewer than {self.dc.threshold} exits not drawn")
        if len(safe.summary) and drawn:
            ax = plotting.plot_cumulative_incidence(safe, show_p=False, outcomes=drawn)
            out.append(html_figure(ax, alt="Cumulative incidence of completion, dropout, exclusion and other exits "
                                   "by days since start, with 95% bands and numbers at risk underneath.",
                                   caption="Cumulative incidence of each exit (Aalen-Johansen), with numbers at "
                                           "risk (rounded to 5) and cumulative exits."))
        comp = self._completion()
        if isinstance(comp, Exception):
            out.append(_na("Completion rate", str(comp)))
        if not isinstance(comp, Exception):
            cols = ["planned_sessions", "basis", "horizon_days", "n", "n_completed", "n_open", "estimate",
                    "ci_lower", "ci_upper", "raw_ratio"]
            out.append(self._table(comp.summary[cols], caption="Completion rate: cumulative incidence of completion "
                                   "at the planned length plus grace period (raw ratio for comparison only)",
                                   name="completion_rate", label_cols=["basis"],
                                   pairs={"n_completed": "n"}, dependent={"n_open": []}))
        km = self._get("km", lambda: attrition.retention_km(self.data, by=None, exit_time=a["exit_time"],
                                                             alpha=self.alpha))
        if isinstance(km, Exception):
            out.append(_na("Kaplan-Meier retention", str(km)))
        if not isinstance(km, Exception):
            safe_km = _protect_curve(self, km, "Kaplan-Meier retention")
            if len(safe_km.summary):
                ax = plotting.plot_km(safe_km, show_p=False)
                out.append(html_figure(ax, alt="Kaplan-Meier curve of staying in the programme, treating "
                                       "completion as censoring; it overstates dropout.",
                                       caption="Kaplan-Meier retention (dropout as the event). Shown only for "
                                               "comparison: it treats completers as if they might still drop out, "
                                               "so it overstates dropout."))
        rm = self._get("rmst", lambda: attrition.rmst(self.data, by=None, exit_time=a["exit_time"], alpha=self.alpha))
        if isinstance(rm, Exception):
            out.append(_na("Restricted mean time in programme", str(rm)))
        if not isinstance(rm, Exception):
            out.append(self._table(rm.summary, caption="Restricted mean time in programme (days) up to the horizon",
                                   name="rmst", label_cols=["group"]))
        cox = self._get("cox", lambda: attrition.dropout_cox(self.data, exit_time=a["exit_time"], alpha=self.alpha))
        if isinstance(cox, Exception):
            out.append(_na("Dropout model", str(cox)))
        else:
            out.append("<h3>Who drops out? Cause-specific Cox model of dropout</h3>")
            out.append(_p("Hazard ratios above 1 mean a higher rate of dropping out. Standard errors allow for "
                          "people referred more than once. This describes risk factors; it does not explain why "
                          "people leave.", "note"))
            cols = ["term", "hr", "ci_lower", "ci_upper", "p_value", "n", "n_events"]
            n_ev = int(cox.summary["n_events"].iloc[0]) if "n_events" in cox.summary else 0
            n_terms = len(cox.summary)
            if not self.dc.model_allowed(n_ev, name="Dropout hazard ratios", what="dropouts"):
                return "\n".join(out + [_na("Dropout model", self.dc.withheld_reason("dropouts"))])
            excl = "; ".join(f"{k}: {v}" for k, v in cox.meta.get("excluded", {}).items())
            if n_ev < 10 * n_terms:
                out.append(_p(f"Caution: {self.dc.count(n_ev, name='Dropout hazard ratios', label='dropouts')} "
                              f"dropouts for {n_terms} terms is fewer than the 10 events per term "
                              "a model like this needs; the hazard ratios below are unstable and may be "
                              "exaggerated.", "note"))
            out.append(self._table(cox.summary[[c for c in cols if c in cox.summary]],
                                   caption="Dropout hazard ratios (95% CI, cluster-robust); episodes left out: "
                                           + (excl or "none"), name="dropout_cox",
                                   label_cols=["term"], dependent={"n": [], "n_events": []}))
            if "ph_test" in cox.tables:
                out.append(html_table(cox.tables["ph_test"], caption="Proportional-hazards check (Schoenfeld "
                                      "residuals); small p-values flag a hazard ratio that changes over time",
                                      csv_name=_slug(f"{self.site or 'all'}_ph_test")))
        if self.site is None and self.data.sites["site_id"].nunique() > 1:
            cg = self._get("compare_model", lambda: attrition.compare_groups(self.data, by="programme_model",
                                                                            exit_time=a["exit_time"]))
            if isinstance(cg, Exception):
                out.append(_na("Comparison of programme models", str(cg)))
            if not isinstance(cg, Exception):
                out.append(self._table(cg.summary, caption="Do exits differ by programme model? Log-rank and "
                                       "Gray's tests", name="compare_model", label_cols=["test", "outcome"],
                                       dependent={"n": []}))
                out.append(_p("Programmes of different lengths complete at different times, so a difference in "
                              "completion between models mostly reflects their length (10 vs 24 weeks, or "
                              "individual plans), not how well they work.", "note"))
        return "\n".join(out)

    def _s_sites(self) -> str:
        from . import compare, funnel

        out = ["<h2>Comparison of sites</h2>"]
        full = self.full_data
        if full.sites["site_id"].nunique() < 2:
            return out[0] + _p("The data hold one site only, so there is nothing to compare.")
        fp = self._get("site_funnel", lambda: compare.site_funnel(full, alpha=self.alpha))
        if isinstance(fp, Exception):
            return out[0] + _na("Funnel plot", str(fp))
        out.append(_p("Each point is a site: the share of people who completed within their programme's planned "
                      "length plus the grace period, among those who started long enough before the extract date "
                      "for that to be known, against the number of such people. Sites inside the dashed lines differ "
                      "from the pooled rate by no more than chance would produce; a site outside the dotted lines "
                      "(99.8%) stands out. Sites run different models (24-week and 10-week groups, one-to-one work), "
                      "so differences also reflect who they take on and how long their programme is."))
        cols = ["site_id", "site_name", "programme_model", "n", "n_completed", "n_recent", "estimate", "ci_lower",
                "ci_upper", "position"]
        shown = self.dc.table(fp.summary[cols], name="Completion by site", pairs={"n_completed": "n"},
                              label_cols=["site_id", "site_name", "programme_model", "position"],
                              dependent={"n_recent": []})
        if not shown[["n", "n_completed"]].isin([self.dc.marker, "[c]"]).any().any():
            out.append(html_figure(fp.plot(), alt="Funnel plot of completion proportion by site against the "
                                   "number of people, with 95% and 99.8% control limits around the pooled rate.",
                                   caption=f"Completion by site (pooled proportion "
                                           f"{pct(fp.meta['pooled_proportion'])}); markers show the programme model."))
        out.append(html_table(shown, caption="Completion within planned length + grace by site, cohorts with complete "
                              "follow-up (95% Wilson CI) and position in the funnel plot",
                              csv_name=self._csv("site_funnel")) + self._protected(shown))
        cs = self._get("costs_by_site", lambda: funnel.costs(full, by="site_id"))
        if isinstance(cs, Exception):
            out.append(_na("Costs by site", str(cs)))
        if not isinstance(cs, Exception):
            cols = [c for c in ("group", "annual_cost_gbp", "period_years", "period_cost_gbp", "n_referrals",
                                "n_started", "n_completed", "cost_per_referral", "cost_per_start",
                                "cost_per_completion", "cost_per_target_completion", "note") if c in cs.summary]
            out.append(self._table(cs.summary[cols], caption="Costs by site (GBP; whole-period ratios)",
                                   name="costs_by_site", kind="throughput", label_cols=["group", "note"]))
        return "\n".join(out)

    # -- risk -----------------------------------------------------------------
    def _risk_change(self):
        from . import risk

        r = self.plan["risk"]
        return self._get("risk_change", lambda: risk.change(self.data, instrument=r["instrument"], from_=r["from"],
                                                             to=r["to"], informant=r["informant"], alpha=self.alpha,
                                                             primary=self.plan["primary"]["risk"]))

    def _missing_exit(self):
        from . import risk

        r = self.plan["risk"]
        return self._get("missing_exit", lambda: risk.missing_exit(self.data, instrument=r["instrument"],
                                                                   informant=r["informant"], alpha=self.alpha))

    def _kpi_risk(self) -> str:
        res = self._risk_change()
        if isinstance(res, Exception):
            return self._kpi("Risk reduction", "not available", "", str(res))
        s = res.summary
        s = s[s["group"] == "all"] if "group" in s else s
        row = s.set_index("statistic")
        if "reliably_improved" not in row.index:
            return ""
        r = row.loc["reliably_improved"]
        n_paired, k = int(r["n_total"]), int(r["n"])
        inst = self.plan["risk"]["instrument"]
        npn = self.dc.count(n_paired, name="summary", label="risk pairs")
        if self.dc.is_small(k) or self.dc.is_small(n_paired - k):
            return self._kpi(f"Reliable reduction in {inst} risk", "hidden (small numbers)", f"n = {npn} pairs",
                             "Too few people to publish this figure safely.")
        mc = row.loc["mean_change"] if "mean_change" in row.index else None
        mc_txt = (f" The average change was {mc['estimate']:+.1f} points (95% CI {mc['ci_lower']:+.1f} to "
                  f"{mc['ci_upper']:+.1f})." if mc is not None else "")
        me = self._missing_exit()
        if not isinstance(me, Exception):
            mi = me.summary[(me.summary["method"] == "multiple imputation")
                            & (me.summary["statistic"] == "reliably_improved")]
            if len(mi) and pd.notna(mi["estimate"].iloc[0]):
                m = mi.iloc[0]
                mc_txt += (f" Counting everyone who started and left, with missing exit scores imputed, the "
                           f"estimate is {pct(m['estimate'])} (95% CI {pct(m['ci_lower'])} to {pct(m['ci_upper'])}; "
                           f"n = {self.dc.count(m['n'], name='summary', label='starters (MI)')}).")
        # [disclosure] the headline proportion is computed from the published (rounded) counts
        hp = self.dc.proportion(k, n_paired, name="summary", label="reliable reduction", alpha=self.alpha)
        if hp is None:
            return self._kpi(f"Reliable reduction in {inst} risk", "not available", f"n = {npn} pairs",
                             "No one was assessed twice, or too few to publish this figure safely.")
        return self._kpi(f"Reliable reduction in {inst} risk score",
                         f"{hp['k']} of {hp['n']} ({pct(hp['estimate'])}, 95% CI {pct(hp['ci_lower'])} to "
                         f"{pct(hp['ci_upper'])})",
                         f"n = {npn} people with both an {self.plan['risk']['from']} and an "
                         f"{self.plan['risk']['to']} score",
                         f"{hp['k']} of the {hp['n']} people assessed twice showed a reduction in risk larger than "
                         f"measurement error alone would produce.{mc_txt}")

    def _s_risk(self) -> str:
        from . import risk

        r = self.plan["risk"]
        out = ["<h2>Risk reduction</h2>",
               _p(f"{r['instrument']} scores recorded by the {r['informant']} at {r['from']} and {r['to']}. "
                  "The DASH checklist is completed by a practitioner with the (ex-)partner: it describes the risk "
                  "that person faces, not a trait of the person on the programme. Scores are paired only within the "
                  "same instrument and informant.")]
        res = self._risk_change()
        if isinstance(res, Exception):
            return "\n".join(out) + _na("Risk change", str(res))
        s = res.summary
        keep = [c for c in ("statistic", "estimate", "ci_lower", "ci_upper", "p_value", "p_value_holm", "role", "n",
                            "n_total", "population") if c in s]
        t = (s[s["group"] == "all"][keep] if "group" in s else s[keep]).reset_index(drop=True)
        # the three reliable-change categories add up to the people paired: one margin
        rc = t["statistic"].isin(["reliably_improved", "no_reliable_change", "reliably_worse"])
        t["_margin"] = np.where(rc, "reliable change", t.index.astype(str))
        out.append(self._table(t, caption=f"Change in {r['instrument']} score, {r['from']} to {r['to']} "
                               "(negative = lower risk)", name="risk_change",
                               label_cols=[c for c in ("statistic", "role", "population", "_margin") if c in t],
                               pairs={"n": "n_total"}, margins=["_margin"], drop=("_margin",)))
        bt = self._get("bands", lambda: risk.band_transitions(self.data, instrument=r["instrument"], from_=r["from"],
                                                             to=r["to"], informant=r["informant"], alpha=self.alpha))
        if isinstance(bt, Exception):
            out.append(_na("Risk bands", str(bt)))
        if not isinstance(bt, Exception):
            tr_shown = self.dc.table(bt.tables["transitions"], name="Risk band at intake and at exit",
                                     margins=[["band_from"], ["band_to"]], label_cols=["band_from", "band_to"])
            out.append(html_table(tr_shown, caption="Risk band at intake and at exit (people)",
                                  csv_name=self._csv("risk_bands")))
            high = (tr_shown["band_from"] == "high") | (tr_shown["band_to"] == "high")
            if tr_shown.loc[high, "n"].isin([self.dc.marker, "[c]"]).any():
                out.append(_p("The summary of moves into and out of the high-risk band is not shown: some of the "
                              "cells it is built from hold fewer people than the small-number threshold.", "note"))
            else:
                bs = bt.summary
                bkeep = [c for c in ("statistic", "estimate", "ci_lower", "ci_upper", "p_value", "n", "n_total")
                         if c in bs]
                out.append(self._table(bs[bkeep], caption="Moving out of the high-risk band: shares with their "
                                       "denominators (n_total); mcnemar_exact = share of band changers who left the "
                                       "high band, with the exact McNemar test", name="risk_band_summary",
                                       label_cols=["statistic"], pairs={"n": "n_total"}))
        tr = self._get("trajectory", lambda: risk.trajectory(self.data, instrument=r["instrument"],
                                                             informant=r["informant"], alpha=self.alpha))
        if isinstance(tr, Exception):
            out.append(_na("Mixed model of all timepoints", str(tr)))
        if not isinstance(tr, Exception):
            out.append("<h3>All timepoints: mixed model</h3>")
            out.append(_p("A linear mixed model with a random intercept per person uses every score, including "
                          "people seen only at some timepoints; estimated means by timepoint are shown.", "note"))
            tk = [c for c in ("statistic", "timepoint", "estimate", "ci_lower", "ci_upper", "p_value", "n")
                  if c in tr.summary]
            out.append(self._table(tr.summary[tk], caption="Estimated mean score by timepoint (95% CI)",
                                   name="risk_trajectory", label_cols=["statistic", "timepoint"]))
            out.append(html_figure(tr.plot(), alt=f"Estimated mean {r['instrument']} score at each timepoint with "
                                   "95% confidence intervals, from the mixed model.",
                                   caption="Estimated mean score by timepoint (mixed model)."))
        me = self._missing_exit()
        if isinstance(me, Exception):
            out.append(_na("People without an exit score", str(me)))
        if not isinstance(me, Exception):
            out.append("<h3>People without an exit score</h3>")
            mk = [c for c in ("method", "statistic", "population", "assumption", "estimate", "ci_lower", "ci_upper",
                              "n", "n_observed") if c in me.summary]
            out.append(self._table(me.summary[mk], caption="Complete-case, weighted and imputed estimates side by "
                                   "side, with the assumption each makes, and the tipping point",
                                   name="risk_missing", label_cols=[c for c in ("method", "statistic", "population",
                                                                                "assumption") if c in mk],
                                   dependent={"n": [], "n_observed": []}))
        return "\n".join(out)

    # -- safety ---------------------------------------------------------------
    def _safety_views(self):
        from . import safety

        sp = self.plan["safety"]
        return self._get("safety_paired", lambda: safety.paired_change(
            self.data, baseline=sp["baseline_wave"], followup=sp["followup_wave"],
            primary=self.plan["primary"]["safety"], alpha=self.alpha))

    def _kpi_safety(self) -> str:
        from . import safety

        sp = self.plan["safety"]
        fs = self._get("feeling_safe", lambda: safety.feeling_safe(self.data, baseline=sp["baseline_wave"],
                                                                  followup=sp["followup_wave"], alpha=self.alpha))
        if isinstance(fs, Exception):
            return self._kpi("(Ex-)partners feeling safer", "not available", "", str(fs))
        p = fs.tables.get("paired")
        if p is None or p.empty:
            return ""
        row = p.iloc[0]
        n_pairs = int(row.get("n_pairs", row.get("n", 0)))
        safer = row.get("n_safer")
        if safer is None or pd.isna(safer):
            return ""
        safer = int(safer)
        if n_pairs == 0:
            return self._kpi("(Ex-)partners feeling safer", "not available", "n = 0",
                             f"No (ex-)partner answered the feeling-safe question at both {sp['baseline_wave']} "
                             f"and {sp['followup_wave']}.")
        npn = self.dc.count(n_pairs, name="summary", label="partners answering both waves")
        if self.dc.is_small(safer) or self.dc.is_small(n_pairs - safer):
            return self._kpi("(Ex-)partners feeling safer", "hidden (small numbers)", f"n = {npn}",
                             "Too few (ex-)partners answered both surveys to publish this safely.")
        # [disclosure] the headline proportion is computed from the published (rounded) counts
        hp = self.dc.proportion(safer, n_pairs, name="summary", label="feeling safer", alpha=self.alpha)
        if hp is None:
            return self._kpi("(Ex-)partners feeling safer", "hidden (small numbers)", f"n = {npn}",
                             "Too few (ex-)partners answered both surveys to publish this safely.")
        return self._kpi("(Ex-)partners feeling safer",
                         f"{hp['k']} of {hp['n']} ({pct(hp['estimate'])}, 95% CI {pct(hp['ci_lower'])} to "
                         f"{pct(hp['ci_upper'])})",
                         f"n = {npn} (ex-)partners who answered at {sp['baseline_wave']} and {sp['followup_wave']}",
                         f"Of the {hp['n']} (ex-)partners who answered at both the start and about 12 months, "
                         f"{hp['k']} said they felt safer at the later survey.")

    def _s_safety(self) -> str:
        from . import safety

        sp = self.plan["safety"]
        out = ["<h2>Safety of (ex-)partners and children</h2>",
               _p("Reported by (ex-)partners in surveys at the start (T1) and about 3, 6 and 12 months later "
                  "(T2-T4), about the last 3 months. Percentages are of the people who answered each wave; the "
                  "number who answered is always shown. Partner reports are never merged with police records.")]
        pv = self._get("prevalence", lambda: safety.prevalence(self.data, primary=self.plan["primary"]["safety"],
                                                              alpha=self.alpha))
        if isinstance(pv, Exception):
            return "\n".join(out) + _na("Partner surveys", str(pv))
        keep = [c for c in ("wave", "behaviour", "label", "role", "n_answered", "n_reporting", "estimate", "ci_lower",
                            "ci_upper") if c in pv.summary]
        pv_shown = self.dc.table(pv.summary[keep], name="Behaviours reported by (ex-)partners",
                                 label_cols=["wave", "label", "role", "behaviour"], pairs={"n_reporting": "n_answered"})
        out.append(html_table(pv_shown.drop(columns=["behaviour"]), caption="Behaviours reported by (ex-)partners, by "
                              "wave (all who answered; Wilson 95% CI)", csv_name=self._csv("safety_prevalence")))
        hidden = pv_shown["n_reporting"].isin([self.dc.marker, "[c]"])
        safe_behaviours = [b for b in dict.fromkeys(pv_shown["behaviour"])
                           if not hidden[pv_shown["behaviour"] == b].any()]
        if safe_behaviours:
            left_out = len(set(pv_shown["behaviour"])) - len(safe_behaviours)
            out.append(html_figure(pv.plot(behaviours=safe_behaviours), alt="Share of (ex-)partners reporting each "
                                   "behaviour at each survey wave, with confidence intervals.",
                                   caption="Reported behaviours by wave (all respondents)"
                                           + (f"; {left_out} behaviour(s) with small numbers not drawn."
                                              if left_out else ".")))
        pc = self._safety_views()
        primary_visible = False
        if isinstance(pc, Exception):
            out.append(_na("Paired change", str(pc)))
        if not isinstance(pc, Exception):
            ck = [c for c in ("behaviour", "label", "role", "n_pairs", "n_yes_baseline", "n_yes_followup", "n_stopped",
                              "n_started", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted")
                  if c in pc.summary]

            def cells(d):  # the paired 2x2 table each row implies
                return pd.DataFrame({"both": d["n_yes_baseline"] - d["n_stopped"], "stopped": d["n_stopped"],
                                     "started": d["n_started"],
                                     "neither": d["n_pairs"] - d["n_yes_baseline"] - d["n_started"]})

            pc_shown = self.dc.table(pc.summary[ck], name="Paired change in reported behaviours",
                                     label_cols=["behaviour", "label", "role"], row_cells=cells, keep=("n_pairs",))
            out.append(html_table(pc_shown.drop(columns=["behaviour"]),
                                  caption=f"Paired change {sp['baseline_wave']} to {sp['followup_wave']} among "
                                          "(ex-)partners who answered both (percentage points; exact McNemar; the "
                                          "primary outcome unadjusted, secondary outcomes Holm-adjusted)",
                                  csv_name=self._csv("safety_paired")))
            prim = self.plan["primary"]["safety"]
            prow = pc_shown[pc_shown["behaviour"] == prim]
            pvrow = pv_shown[(pv_shown["behaviour"] == prim) & pv_shown["wave"].isin([sp["baseline_wave"],
                                                                                     sp["followup_wave"]])]
            primary_visible = (len(prow) == 1 and prow["n_stopped"].iloc[0] not in (self.dc.marker, "[c]")
                               and not pvrow["n_reporting"].isin([self.dc.marker, "[c]"]).any())
        cv = self._get("change_views", lambda: safety.change_views(
            self.data, baseline=sp["baseline_wave"], followup=sp["followup_wave"],
            primary=self.plan["primary"]["safety"], alpha=self.alpha))
        if isinstance(cv, Exception):
            out.append(_na("Three views of the change", str(cv)))
        if not isinstance(cv, Exception):
            prim = self.plan["primary"]["safety"]
            if primary_visible:
                v = cv.summary[cv.summary["behaviour"] == prim]
                vk = [c for c in v.columns if c not in ("behaviour",)]
                out.append(html_table(v[vk], caption="Three views of the primary outcome side by side: all "
                                      "respondents, paired respondents, and models unweighted and weighted for "
                                      "non-response (proportions 0-1; change in percentage points)",
                                      csv_name=self._csv("safety_views")))
            else:
                self.dc._record("Three views of the primary outcome", prim, "table",
                                "not shown: built on counts hidden elsewhere")
                out.append(_p("The side-by-side views of the primary outcome are not shown: they are built on counts "
                              "that are below the small-number threshold.", "note"))
        fs = self._cache.get("feeling_safe")
        if isinstance(fs, Exception):
            out.append(_na("Feeling safe", str(fs)))
        if fs is not None and not isinstance(fs, Exception):
            out.append("<h3>Feeling safe</h3>")
            out.append(self._table(fs.tables["headline"], caption="Feeling 'very safe' and 'not safe at all', by "
                                   "wave", name="feeling_safe_headline", pairs={"n": "n_answered"},
                                   label_cols=[c for c in fs.tables["headline"].columns
                                               if fs.tables["headline"][c].dtype == object]))
            levels = fs.summary
            if not any(self.dc.is_small(v) or self.dc.is_small(a - v)
                       for v, a in zip(levels["n"].fillna(0), levels["n_answered"].fillna(0))):
                out.append(html_figure(fs.plot(), alt="Stacked bars of how safe (ex-)partners feel at each wave, "
                                       "from not safe at all to very safe.", caption="How safe (ex-)partners feel, "
                                       "by wave."))
        rr = self._get("response", lambda: safety.response_rates(self.data, alpha=self.alpha))
        if isinstance(rr, Exception):
            out.append(_na("Survey response", str(rr)))
        if not isinstance(rr, Exception):
            out.append("<h3>Who answered?</h3>")
            out.append(_p("(Ex-)partners of people who left the programme early answer less often, so later waves "
                          "over-represent completers' families. The weighted model above adjusts for this, on the assumption that, "
                          "within the groups its response model uses, those who answered are like those who did not.", "note"))
            rk = [c for c in ("wave", "status_label", "n_expected", "n_answered", "estimate", "ci_lower", "ci_upper")
                  if c in rr.summary]
            out.append(self._table(rr.summary[rk], caption="Survey response by wave and programme status",
                                   name="safety_response", label_cols=["wave", "status_label"],
                                   pairs={"n_answered": "n_expected"}))
        ps = self._get("support", lambda: safety.partner_support(self.data, alpha=self.alpha))
        if isinstance(ps, Exception):
            out.append(_na("Partner support", str(ps)))
        if not isinstance(ps, Exception):
            out.append(self._table(ps.summary, caption="Support for (ex-)partners and children in the families",
                                   name="partner_support", label_cols=["measure"], pairs={"n": "n_of"}))
        mm = self._get("mirabal", lambda: safety.mirabal_measures(
            self.data, baseline=sp["baseline_wave"], followup=sp["followup_wave"],
            primary=self.plan["primary"]["safety"], alpha=self.alpha))
        if isinstance(mm, Exception):
            out.append(_na("Project Mirabal's six measures", str(mm)))
        if not isinstance(mm, Exception):
            mk = [c for c in ("measure_no", "measure", "informed_by", "status", "headline", "n") if c in mm.summary]
            out.append("<h3>Project Mirabal's six measures of success</h3>")
            # the headline is text built from the numbers, so it is hidden with its count
            out.append(self._table(mm.summary[mk], caption="What this data can and cannot say about each measure",
                                   name="mirabal_measures", label_cols=["measure", "informed_by", "status"],
                                   dependent={"n": ["headline"]}))
        return "\n".join(out)

    # -- follow-up ------------------------------------------------------------
    def _before_after(self):
        from . import followup

        return self._get("before_after", lambda: followup.before_after(
            self.data, design="commissioner", primary=self.plan["primary"]["followup"],
            after=(0, round(self.plan["followup"]["window_months"] * 365.25 / 12)),
            before=(-round(self.plan["followup"]["window_months"] * 365.25 / 12), 0), alpha=self.alpha))

    def _kpi_followup(self) -> str:
        res = self._before_after()
        if isinstance(res, Exception):
            return self._kpi("Police and MARAC involvement a year on", "not available", "", str(res))
        s = res.summary
        prim = self.plan["primary"]["followup"]
        rows = s[(s["outcome"] == prim) & (s["measure"] == "any incident")].set_index("period")
        if not {"before", "after"} <= set(rows.index):
            return ""
        b, a = rows.loc["before"], rows.loc["after"]
        n = int(b["n"])
        nn = self.dc.count(n, name="summary", label="eligible for follow-up")
        if any(self.dc.is_small(v) for v in (b["n_with_incident"], a["n_with_incident"], n - b["n_with_incident"],
                                              n - a["n_with_incident"])):
            return self._kpi("Police involvement a year on", "hidden (small numbers)", f"n = {nn}",
                             "Too few people with a full year of follow-up to publish this safely.")
        mar = s[(s["outcome"] == "marac") & (s["measure"] == "any incident")].set_index("period")
        mar_txt = ""
        if {"before", "after"} <= set(mar.index) and not any(
                self.dc.is_small(v) or self.dc.is_small(n - v)
                for v in (mar.loc["before", "n_with_incident"], mar.loc["after", "n_with_incident"])):
            mb, ma = (self.dc.proportion(mar.loc[p, "n_with_incident"], n, label=f"MARAC {p}", alpha=self.alpha)
                      for p in ("before", "after"))
            if mb is not None and ma is not None:
                mar_txt = f" MARAC referrals: {pct(mb['estimate'])} before, {pct(ma['estimate'])} after."
        started = res.meta["n_in"] - res.meta.get("excluded", {}).get("never started the programme", 0)
        # [disclosure] headline percentages computed from the published (rounded) counts
        b, a = (self.dc.proportion(r["n_with_incident"], n, label=f"police {p}", alpha=self.alpha)
                for p, r in (("before", b), ("after", a)))
        if b is None or a is None:
            return self._kpi("Police involvement a year on", "not available", f"n = {nn}",
                             "No one had a full year of follow-up, or too few to publish this safely.")

        def ci(r):
            return f"95% CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])}"

        return self._kpi("Police involvement a year on",
                         f"{pct(b['estimate'])} before ({ci(b)}), {pct(a['estimate'])} after ({ci(a)})",
                         f"n = {nn} of the {self.dc.count(started, name='summary', label='started')} people who "
                         "started: those with a full year of linked records before referral and after leaving "
                         "(the others are still attending or left less than a year ago)",
                         f"Of the {nn} people followed for a full year, {pct(b['estimate'])} had police involvement "
                         f"in the year before referral and {pct(a['estimate'])} in the year after leaving the "
                         f"programme; part of this fall is regression to the mean.{mar_txt}")

    def _s_followup(self) -> str:
        from . import followup

        out = ["<h2>Police, MARAC and children's services after the programme</h2>"]
        ba = self._before_after()
        if isinstance(ba, Exception):
            return out[0] + _na("Follow-up", str(ba))
        out.append(_p(ba.meta.get("caveat", "")))
        out.append(_p("Only people whose whole window is covered by the linked records count; the others are "
                      "reported as not yet eligible (see the data-quality appendix), never as having no incidents. "
                      "Records of one event count once.", "note"))
        keep = [c for c in ("label", "measure", "period", "model", "unit", "role", "n", "n_with_incident", "n_events",
                            "person_years", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted")
                if c in ba.summary]
        # one block per outcome: if any count of it is hidden, its change and ratio rows are hidden too
        ba_shown = self.dc.table(ba.summary[keep], name="12 months before referral vs 12 months after leaving",
                                 label_cols=["label", "measure", "period", "model"],
                                 pairs={"n_with_incident": "n"}, group_all=["label"], keep=("n",))
        out.append(html_table(ba_shown, caption="12 months before referral vs 12 months after leaving (unit column: "
                              "proportions with Wilson CI, percentage points, rates per person-year, rate ratios; "
                              "secondary outcomes Holm-adjusted)", csv_name=self._csv("followup_before_after")))
        blocked = set(ba_shown.loc[ba_shown["n_with_incident"].isin([self.dc.marker, "[c]"])
                                   | ba_shown["n_events"].isin([self.dc.marker, "[c]"]), "label"])
        if len(blocked) < ba_shown["label"].nunique():
            import copy

            vis = copy.copy(ba)
            vis.summary = ba.summary[~ba.summary["label"].isin(blocked)]
            out.append(html_figure(vis.plot(), alt="Share of people with police, MARAC and children's services "
                                   "involvement in the year before referral and the year after leaving.",
                                   caption="Any involvement before vs after (commissioner design)"
                                           + ("; outcomes with small numbers not drawn." if blocked else ".")))
        rm = self._get("repeat_marac", lambda: followup.repeat_marac(self.data, alpha=self.alpha))
        if isinstance(rm, Exception):
            out.append(_na("Repeat MARAC cases", str(rm)))
        if not isinstance(rm, Exception):
            rk = [c for c in rm.summary.columns if c != "note"]
            out.append(self._table(rm.summary[rk].assign(_block=1), caption="Repeat MARAC cases (a new MARAC "
                                   "referral within 12 months of the previous one, as SafeLives defines it)",
                                   name="repeat_marac", label_cols=[c for c in rk if rm.summary[c].dtype == object],
                                   pairs={"n_repeat": "n_marac", "n_people_repeat": "n_people_marac"},
                                   group_all=["_block"], keep=("n",), drop=("_block",)))
        cc = self._get("completers", lambda: followup.compare_completers(self.data, alpha=self.alpha))
        if isinstance(cc, Exception):
            out.append(_na("Completers and non-completers", str(cc)))
        if not isinstance(cc, Exception):
            out.append("<h3>Completers and non-completers (aligned windows since referral)</h3>")
            out.append(_p(cc.meta.get("caveat", "People who complete differ from people who leave early in ways "
                                               "that also affect their later behaviour, so this comparison is "
                                               "descriptive, not an effect of completing."), "note"))
            ck = [c for c in cc.summary.columns if c not in ("note",)]
            # the difference rows add the groups up, so one hidden count hides the whole table's counts
            out.append(self._table(cc.summary[ck].assign(_block=1), caption="Completers vs non-completers: any police "
                                   "involvement and rates (not a causal comparison)", name="followup_completers",
                                   label_cols=[c for c in ck if cc.summary[c].dtype == object],
                                   pairs={"n_with_incident": "n"}, group_all=["_block"], drop=("_block",)))
        tti = self._get("time_to_incident", lambda: followup.time_to_incident(self.data, alpha=self.alpha))
        if isinstance(tti, Exception):
            out.append(_na("Time to first police incident after leaving", str(tti)))
        if not isinstance(tti, Exception):
            safe = _protect_km_persons(self, tti, "time to first police incident after exit")
            if len(safe.tables["curves"]):
                out.append(html_figure(safe.plot(), alt="Kaplan-Meier curves of the share with no police incident "
                                       "since leaving the programme, with numbers at risk.",
                                       caption="Time to first police incident after leaving (Kaplan-Meier)."))
        return "\n".join(out)

    def _s_methods(self) -> str:
        items = [
            ("Funnel", "Each referral's stage is derived from its dates and exit reason (never from a status "
             "column), so every referral sits in exactly one stage and the counts add up."),
            ("Completion rate", "The completion rate is the cumulative incidence of completion at the planned "
             f"programme length plus a grace period of {self.plan['attrition']['grace_weeks']} weeks, estimated "
             "with the Aalen-Johansen method: dropping out, exclusion and other exits are competing outcomes, and "
             "people still attending are followed up to the extract date. A plain ratio of completions to starts "
             "would count people still attending as failures."),
            ("Dropout curves", "A Kaplan-Meier curve that treats completion as censoring overstates dropout; it is "
             "shown only beside the cumulative incidence and labelled as such."),
            ("Waiting times", "Waits are competing-risks estimates: people still waiting at the extract date are "
             "counted as still waiting (censored), never dropped and never given a zero wait."),
            ("Risk change", "DASH is completed with the (ex-)partner: it describes risk to that person, not a trait "
             "of the person on the programme. Change is paired within the same instrument and informant. A reliable "
             "change (Jacobson-Truax) is a change larger than measurement error alone would produce; the "
             "reliability and standard deviation used are shown with their source."),
            ("Missing scores", "People without an exit score are not ignored: complete-case, inverse-probability "
             "weighted and multiple-imputation estimates are shown side by side, each with the assumption it makes, "
             "and a tipping-point analysis shows how different the missing scores would have to be to change the "
             "conclusion."),
            ("Who is compared", "There is no control group. Completers are compared with non-completers only to "
             "describe them: people who complete differ from those who leave (see Table 1), so the difference in "
             "their outcomes is not an effect of the programme."),
            ("Regression to the mean", "Referral usually follows a crisis. Police call-outs in the year before "
             "referral are therefore unusually high, and part of any fall afterwards would have happened anyway."),
            ("Partner reports and police records", "Outcomes reported by (ex-)partners and outcomes from police "
             "records are shown side by side and never combined; effects on police records tend to look larger."),
            ("Partner surveys", "Each wave's percentages are of the people who answered that wave; the number who "
             "answered is shown. Because people whose (ex-)partner dropped out answer less often, a paired analysis "
             "of those who answered both waves and a model weighted for non-response are shown beside them."),
            ("Multiple outcomes", "One primary outcome per domain is fixed in the analysis plan; the other outcomes "
             "of the same domain are secondary and their p-values are Holm-adjusted (column p_adjusted or "
             "p_value_holm). Model coefficients, band summaries and alternative views of the primary outcome are "
             "descriptive and not adjusted."),
            ("Small numbers", f"Counts from 1 to {self.dc.threshold - 1} describing people are shown as "
             f"'{self.dc.marker}', and every other count is rounded to the nearest {self.dc.base}, the same way in "
             "every table and report (the method OpenSAFELY uses), so no hidden count can be worked out from a total, "
             "another site's report or another period. Percentages of counts are computed from the rounded counts; "
             f"values computed from a hidden count are shown as '[c]'; models with fewer than {self.dc.threshold} "
             f"events are not shown. Curves stop where fewer than {self.dc.threshold} people remain at risk and "
             "numbers at risk are rounded. Referrals, starts and completions are the programme's own throughput: "
             "rounded, but not hidden when small (unless the report is strict). Before a release is written, a "
             "built-in attacker (dapp-eval audit) tries to work back every hidden count and stops the release if it can."),
        ]
        lis = "".join(f"<li><strong>{html.escape(k)}.</strong> {html.escape(v)}</li>" for k, v in items)
        return f"<h2>Methods and caveats</h2><ul>{lis}</ul>"

    def _s_plan(self) -> str:
        import yaml

        text = yaml.safe_dump(self.plan, sort_keys=False, default_flow_style=False)
        return ("<h2>Analysis plan</h2>"
                + _p("The choices below were fixed in the analysis plan before the results were produced.", "note")
                + f"<pre>{html.escape(text)}</pre>")

    def _s_data_quality(self) -> str:
        from .quality import data_quality

        dq = data_quality(self.data)
        out = ["<h2>Appendix: data quality</h2>",
               _p("Rows read from each file. The data passed every rule of the data contract; nothing was dropped "
                  "on loading. Rows left out of an analysis are counted below with the reason.")]
        out.append(html_table(dq.summary, caption="Rows in each input table", csv_name="data_quality_sizes"))
        if len(dq.tables["load_log"]):
            out.append(html_table(dq.tables["load_log"], caption="Irregularities tolerated on loading",
                                  csv_name="data_quality_load_log"))
        rows = []
        for res in self._cache.values():
            if isinstance(res, Exception) or not hasattr(res, "meta"):
                continue
            m = res.meta
            items = [("used", m.get("n_used"))] + list(m.get("excluded", {}).items())
            for item, n in items:
                rows.append({"analysis": res.title, "unit": m.get("unit", "rows"), "n_in": m.get("n_in"),
                             "rows": item, "n": n})
        if rows:
            # per analysis, used + every exclusion adds up to n_in: one margin
            out.append(self._table(pd.DataFrame(rows), caption="Rows used by each analysis and why others were not",
                                   name="data_quality_exclusions", margins=["analysis"],
                                   label_cols=["analysis", "unit", "rows"]))
        return "\n".join(out)

    def _s_disclosure_log(self) -> str:
        log = self.dc.log
        head = "<h2>Appendix: disclosure control log</h2>"
        summ = self.dc.summary
        if summ.empty:
            return head + _p(f"No count needed protection at threshold {self.dc.threshold}.")
        summ = summ.rename(columns={"cells_published": "published", "cells_rounded": "rounded",
                                    "cells_withheld": "withheld", "values_hidden": "computed values hidden"})
        return head + _p(f"{int(summ['withheld'].sum())} of {int(summ['published'].sum() + summ['withheld'].sum())} "
                         f"counts were withheld (below {self.dc.threshold}) and {int(summ['rounded'].sum())} "
                         f"rounded to the nearest {self.dc.base}; {len(log)} cells, curve segments or models were "
                         "withheld in all. The hidden values are not recorded anywhere in this report.") + html_table(
            summ.rename(columns={"why": "why withheld"}), caption="What was published, rounded and withheld, per table",
            csv_name="disclosure_log")


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


def _notebook_to_html(nb_path: Path, *, title: str, synthetic: bool) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    # drop anything that could fetch from the network (the basic template adds none; be sure)
    body = re.sub(r"<script\b[^>]*\bsrc=[^>]*>\s*</script>", "", body, flags=re.I)
    return wrap_page(body, title=title, synthetic=synthetic)


def render_reports(data_dir: str | Path, out: str | Path, *, sites: list[str] | None = None,
                   period: tuple[str, str] | None = None, plan: str | Path | None = None,
                   threshold: int | None = None, strict: bool = False, progress: bool = True,
                   overall: bool = True) -> list[Path]:
    """Render one HTML report per site plus an overall one, and an index page.

    Each report is the template notebook executed with papermill (its
    parameters cell receives the site, threshold, plan, period) and converted
    by nbconvert with no code and no prompts, then wrapped in a
    self-contained page.

    Parameters
    ----------
    data_dir : str or Path
        Programme data folder.
    out : str or Path
        Output folder (created). Keep reports from real data out of git.
    sites : list of str, optional
        Only these sites (default: every site).
    period : (from, to), optional
        Only referrals received in this period.
    plan : str or Path, optional
        Analysis plan YAML.
    threshold : int, optional
        Small-number threshold (default from the plan: 10).
    strict : bool
        Suppress throughput counts too.
    progress : bool
        Show a progress bar across sites.

    Returns
    -------
    list of Path
        The HTML files written (index last).

    Examples
    --------
    >>> # skipped in doctests: runs papermill (about 8 s per report) and writes HTML files into the repository
    >>> render_reports("data_synthetic", "output/reports", sites=["S01"])  # doctest: +SKIP
    """
    import nbformat
    import papermill as pm
    from tqdm.auto import tqdm

    final_out = Path(out)
    data = load_programme(data_dir)  # validate once, up front, with a clear error
    plan_dict = load_plan(plan, threshold=threshold, period=list(period) if period else None)
    all_sites = list(data.sites["site_id"])
    chosen = all_sites if not sites else list(sites)
    unknown = sorted(set(chosen) - set(all_sites))
    if unknown:
        raise AnalysisError(f"unknown site(s) {', '.join(unknown)}; the data has {', '.join(all_sites)}")
    synthetic = (Path(data_dir) / "truth.json").exists()
    targets: list[str | None] = ([None] if overall else []) + chosen
    written = []
    names = dict(zip(data.sites["site_id"], data.sites["site_name"]))
    import tempfile

    # [disclosure] the release is written to a temporary folder, attacked there, and moved into place only if
    # no hidden count can be worked back from it
    final_out.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final_out.name}.", dir=final_out.parent))
    with tempfile.TemporaryDirectory() as tmp:
        for site in tqdm(targets, desc="Rendering reports", unit="report", disable=not progress):
            executed = Path(tmp) / f"report_{site or 'all'}.ipynb"
            pm.execute_notebook(
                str(TEMPLATE), str(executed), kernel_name="python3", progress_bar=False, log_output=False,
                cwd=str(Path.cwd()),
                parameters={"data_dir": str(Path(data_dir).resolve()), "site": site,
                            "threshold": int(plan_dict["threshold"]), "strict": bool(strict),
                            "plan_path": str(Path(plan).resolve()) if plan else None,
                            "period": list(period) if period else None},
            )
            nb = nbformat.read(str(executed), as_version=4)
            # papermill gives its injected-parameters cell a random id, which nbconvert writes into the
            # HTML; number the cells instead so that the same data always give byte-identical reports
            for i, cell in enumerate(nb.cells):
                cell["id"] = f"cell-{i}"
            nbformat.write(nb, str(executed))
            title = f"{plan_dict['title']}: {names[site] + ' (' + site + ')' if site else 'all sites'}"
            page = _notebook_to_html(executed, title=title, synthetic=synthetic)
            path = out / f"report_{_slug(site) if site else 'all_sites'}.html"
            path.write_text(page, encoding="utf-8")
            written.append(path)
    links = "".join(f'<li><a href="{p.name}">{html.escape(p.stem.replace("report_", "").replace("_", " "))}</a></li>'
                    for p in written)
    index = wrap_page(f"<h1>{html.escape(plan_dict['title'])}</h1><p>Reports:</p><ul>{links}</ul>",
                      title=plan_dict["title"], synthetic=synthetic)
    (out / "index.html").write_text(index, encoding="utf-8")
    written.append(out / "index.html")
    from .disclosure.release import publish_release

    publish_release(out, final_out, threshold=int(plan_dict["threshold"]))  # raises if a hidden count leaks
    return [final_out / p.name for p in written]


def _protect_km_persons(rb: ReportBuilder, res, name: str):
    """Cut Kaplan-Meier curves (``tables["curves"]``, per ``group``) where fewer than the threshold remain at risk.

    The number at risk at day t is the number of people whose follow-up
    (``tables["persons"]["days"]``) lasts at least t days.
    """
    import copy

    out = copy.copy(res)
    tables = dict(res.tables)
    persons, curves = tables["persons"], tables["curves"]
    keep = []
    for g, d in curves.groupby("group", sort=False):
        days = np.sort(persons.loc[persons["group"] == g, "days"].dropna().to_numpy())[::-1]
        if len(days) < rb.dc.threshold:
            rb.dc._record(name, str(g), "curve", f"group with fewer than {rb.dc.threshold} people not drawn")
            continue
        cutoff = days[rb.dc.threshold - 1]
        if (d["days"] > cutoff).any():
            rb.dc._record(name, str(g), "curve", f"curve stopped where fewer than {rb.dc.threshold} remain at risk")
        keep.append(d[d["days"] <= cutoff])
    tables["curves"] = pd.concat(keep) if keep else curves.iloc[:0]
    out.tables = tables
    out.summary = rb.dc.curve(res.summary, name=name, at_risk_col="n_at_risk", group_cols=("group",))
    out.summary = out.summary[out.summary["group"].isin(tables["curves"]["group"].unique())]
    return out


def _protect_curve(rb: ReportBuilder, res, name: str, *, table: str | None = None,
                   group_cols: tuple[str, ...] = ("group", "outcome")):
    """A copy of a survival-type result whose curves and at-risk table obey disclosure control.

    Every curve the plot draws (``summary`` and, where present, ``tables[table]``
    and ``tables["curves"]``) stops where fewer than the threshold remain at
    risk; numbers at risk and cumulative counts under the axes are rounded to
    the nearest 5 and shown only while at least the threshold are at risk.
    """
    import copy

    out = copy.copy(res)
    if "n_at_risk" in res.summary:
        out.summary = rb.dc.curve(res.summary, name=name, at_risk_col="n_at_risk", group_cols=group_cols)
    tables = dict(res.tables)
    for key in {t for t in (table, "curves") if t and t in tables}:
        cur = tables[key]
        if "n_at_risk" in cur:
            gc = tuple(g for g in (*group_cols, "cause") if g in cur)
            tables[key] = rb.dc.curve(cur, name=name, at_risk_col="n_at_risk", group_cols=gc)
    if "at_risk" in tables:
        ar = tables["at_risk"]
        keep = pd.to_numeric(ar["n_at_risk"]) >= rb.dc.threshold
        ar = ar[keep].copy()
        r = rb.dc.round_at_risk
        for c in [c for c in ar.columns if c.startswith("n_")]:
            ar[c] = (np.round(pd.to_numeric(ar[c]) / r) * r).astype(int)
        tables["at_risk"] = ar
    out.tables = tables
    return out

"""Trends for contract management: quarterly statistical process control (SPC) charts.

The quarterly series come from :func:`dapp_eval.analyses.trends.quarterly_spc`; their
counts pass through the page's disclosure control first, and each chart (its
average line, limits and special-cause flags) is recomputed from the
published counts with :func:`dapp_eval.analyses.trends.xmr` / :func:`~dapp_eval.analyses.trends.p_chart`,
so nothing drawn carries more than the published table beside it. A p-chart
with a hidden quarter is not drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.errors import AnalysisError

TITLE = "Trends by quarter"
PLACEMENT = "body"


def _published_chart(page, g: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(chart recomputed from published counts or None, the published table) for one measure."""
    from dapp_eval.analyses import trends

    code, chart = g["measure"].iloc[0], g["chart"].iloc[0]
    t = g[["quarter", "partial", "n_numerator", "n_denominator"]].reset_index(drop=True)
    partial = t["partial"].astype(bool).to_numpy()
    if chart == "XmR":
        shown = page.dc.table(t[["quarter", "partial", "n_numerator"]], name=f"Trends: {g['name'].iloc[0]}", kind="throughput",
                              label_cols=["quarter"])
        x = pd.to_numeric(shown["n_numerator"], errors="coerce").to_numpy(float)
        ch = trends.xmr(x, partial=partial, labels=t["quarter"])
    else:
        shown = page.dc.table(t, name=f"Trends: {g['name'].iloc[0]}", pairs={"n_numerator": "n_denominator"},
                              label_cols=["quarter"])
        k = pd.to_numeric(shown["n_numerator"], errors="coerce")
        n = pd.to_numeric(shown["n_denominator"], errors="coerce")
        # a quarter whose cohort is not complete yet has no value (quarterly_spc leaves it out)
        open_q = g["value"].isna().to_numpy() & (g["n_denominator"].fillna(0).to_numpy() > 0)
        k[open_q] = np.nan
        # hidden: a quarter whose published numerator or denominator is withheld (a count below the threshold)
        # (a quarter with both withheld is left off the chart: nothing of it is drawn or enters the limits)
        hidden = ((k.isna() & n.notna() & (n > 0)) | (n.isna() & k.notna())).to_numpy() & ~open_q
        if (hidden & ~partial).any() or ((n - k) < 0).any():
            return None, shown  # a complete quarter is hidden: its limits would describe hidden counts
        open_q = open_q | hidden  # a hidden part quarter is not drawn (part quarters are outside the limits anyway)
        k[open_q] = np.nan
        with np.errstate(invalid="ignore"):
            ch = trends.p_chart(k.fillna(0).to_numpy(float), n.fillna(0).to_numpy(float),
                                partial=partial | open_q, labels=t["quarter"])
        ch.loc[open_q, "value"] = np.nan
    ch["measure"], ch["name"], ch["chart"] = code, g["name"].iloc[0], chart
    return ch, shown


def _display(ch: pd.DataFrame | None, shown: pd.DataFrame, g: pd.DataFrame, is_p: bool) -> pd.DataFrame:
    reason = g["partial_reason"].fillna("").to_numpy()
    out = pd.DataFrame({"Quarter": shown["quarter"],
                        "Part quarter": ["yes: " + r if p else "no" for p, r in zip(g["partial"].astype(bool), reason)]})
    if is_p:
        out["n_numerator"] = shown["n_numerator"]
        out["n_denominator"] = shown["n_denominator"]
    else:
        out["Number"] = shown["n_numerator"]
    if ch is not None:
        f = fmt.percent if is_p else (lambda v: f"{v:,.0f}")
        out["Value" if is_p else "Average"] = [f(v) if pd.notna(v) else "" for v in
                                               (ch["value"] if is_p else ch["centre"])]
        if is_p:
            out["Average"] = [f(v) for v in ch["centre"]]
        out["Lower process limit"] = [f(v) if pd.notna(v) else "" for v in ch["lower_limit"]]
        out["Upper process limit"] = [f(v) if pd.notna(v) else "" for v in ch["upper_limit"]]
        out["Unusual variation"] = [t if s else "" for s, t in zip(ch["special_cause"], ch["special_cause_text"])]
    return out


def build(page) -> dict:
    from dapp_eval.analyses import trends

    res = page.get("quarterly_spc", lambda: trends.quarterly_spc(page.data, plan=page.plan))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Quarterly charts", str(res))]}
    out = [page.p("Each chart shows one measure by UK financial-year quarter, following NHS England's 'Making Data "
                  "Count': the solid line is the average, the dashed lines are the process limits within which "
                  "quarters usually vary. A quarter is marked as unusual (a triangle) when one of these rules "
                  "holds: " + "; ".join(trends.RULES.values()) + ". Unusual variation is a reason to ask what "
                  "changed, not proof of a cause. A part quarter (hollow circle, labelled 'part') is shown but "
                  "left out of the average and the limits, because its figure is incomplete.")]
    change = page.plan.trends.change_date
    its = []
    published = {}  # each measure's published quarterly counts, for this year against last
    for code, g in res.summary.groupby("measure", sort=False):
        g = g.reset_index(drop=True)
        name, chart, better = trends.MEASURES[code]
        is_p = chart == "p-chart"
        out.append(page.h3(name))
        try:
            ch, shown = _published_chart(page, g)
        except AnalysisError as exc:
            out.append(page.na(name, str(exc)))
            continue
        published[code] = (g, shown)
        table = page.shown_table(_display(ch, shown, g, is_p), caption=f"{name}: the data of the chart",
                                 csv_name=page.csv_name(f"trend_{code}"))
        if ch is None:
            out.append(page.p("The chart is not drawn: some quarters have too few people to publish; the table "
                              "shows what can be published.", cls="note"))
            out.append(table)
            continue
        if change:  # fitted to the published values, as the chart is
            its += trends.its_rows(ch["value"], g["quarter_start"], ch["partial"], change, code=code,
                                   alpha=page.alpha, labels=g["quarter"])
        sentence = trends.describe(ch)["text"].iloc[0]
        svg = page.release.memo(f"spc_{page.site}_{code}", lambda ch=ch, better=better: _svg(ch, better))
        out.append(page.figure(svg, alt=f"Statistical process control chart. {sentence}",
                               caption=sentence, data=table))
    out += _year_on_year(page, published)
    if change:
        out += _its_blocks(page, its, change)
    if res.meta.get("not_charted"):
        out.append(page.p("Not charted: " + "; ".join(f"{k} ({page.dc.count(v, name='trends', label=k)})"
                                                    for k, v in res.meta["not_charted"].items()) + ".", cls="note"))
    return {"blocks": out}


def _svg(ch, better):
    from dapp_eval.analyses.plotting import spc_chart
    from dapp_eval.report.context import figure_uri

    return figure_uri(spc_chart(ch, higher_is_better=better))


def _its_blocks(page, rows: list, change: str) -> list:
    """The interrupted time series table: step and trend change of each charted series at the plan's date."""
    out = [page.h3(f"Before and after the planned change date ({change})")]
    if not rows:
        return out + [page.p("No chart could be drawn, so no series is tested for a change.", cls="note")]
    df = pd.DataFrame(rows)
    from dapp_eval.analyses import trends

    is_p = df["measure"].map(lambda c: trends.MEASURES.get(c, ("", "", None))[1] == "p-chart").to_numpy()
    scale = np.where(is_p, 100.0, 1.0)
    for c in ("estimate", "ci_lower", "ci_upper"):
        df[c] = df[c] * scale
    if "level_before" in df:
        df["level_before"] = df["level_before"] * scale
    df["term"] = df["term"].map({"step": "step change at the change quarter",
                                 "slope_change": "change in the quarterly trend"}).fillna("")
    df["unit"] = np.where(is_p, "percentage points", "per quarter")
    keep = [c for c in ("name", "term", "unit", "change_quarter", "n_before", "n_after", "estimate", "ci_lower",
                        "ci_upper", "p_value", "note") if c in df]
    out.append(page.p("Segmented regression on the complete quarters shown above: the line before the change "
                      "carried on, against a new level (step) and trend from the first quarter starting on or after "
                      "the date the analysis plan names; Newey-West standard errors allow for neighbouring quarters "
                      "being alike. A change at that date does not show that the change caused it.", cls="note"))
    out.append(page.shown_table(df[keep].rename(columns={"n_before": "quarters_before", "n_after": "quarters_after"}),
                                caption=f"Interrupted time series at {change} (step and trend change, {page.level} CI)",
                                csv_name=page.csv_name("trend_interrupted_time_series")))
    return out


# ---------------------------------------------------------------------------
# this year against last (issue 29): a block of its own, after the charts
# ---------------------------------------------------------------------------


#: the anchor of the block; page 1 links to it
YEAR_ANCHOR = "this-year-against-last"


def _published_years(page, r: dict, label: str, is_p: bool) -> dict | None:
    """The two years' figures and their difference worked again from the published (rounded) counts, or None
    when a year's count is too small to publish."""
    from dapp_eval.analyses import yearly

    if is_p:
        this = page.dc.proportion(r["k_this"], r["n_this"], name="This year against last",
                                  label=f"{label} {r['this_year']}", alpha=page.alpha)
        last = page.dc.proportion(r["k_last"], r["n_last"], name="This year against last",
                                  label=f"{label} {r['last_year']}", alpha=page.alpha)
        if this is None or last is None:
            return None
        r.update(yearly.compare(*(int(x.replace(",", "")) for x in (this["k"], this["n"], last["k"], last["n"])),
                                kind="proportion", alpha=page.alpha))
        return r
    k1 = page.dc.rounded(r["k_this"], kind="throughput")
    k0 = page.dc.rounded(r["k_last"], kind="throughput")
    if k1 is None or k0 is None:
        return None
    r.update(yearly.compare(k1, None, k0, None, kind="count", alpha=page.alpha))
    return r


def _year_on_year(page, published: dict) -> list:
    """Each measure's latest financial year beside the one before (:func:`dapp_eval.analyses.yearly.year_on_year`).

    Worked from the quarterly counts as published beside the charts (after the page's disclosure control);
    each year's proportion goes through ``page.dc.proportion`` and each count through ``page.dc.rounded``,
    and the figures, the difference and its interval are computed from those published counts.
    """
    from dapp_eval.analyses import trends, yearly

    rows, sentences = [], []
    for code, (g, shown) in published.items():
        name, chart, _better = trends.MEASURES[code]
        is_p = chart == "p-chart"
        q = pd.DataFrame({"quarter": shown["quarter"], "partial": g["partial"].astype(bool).to_numpy(),
                          "n_numerator": pd.to_numeric(shown["n_numerator"], errors="coerce"),
                          "n_denominator": (pd.to_numeric(shown["n_denominator"], errors="coerce")
                                            if is_p else np.nan)})
        if is_p:  # a cohort not complete yet has no value (quarterly_spc leaves it out)
            q.loc[g["value"].isna().to_numpy(), "n_numerator"] = np.nan
        label = name.split(",")[0]
        try:
            r = yearly.year_on_year(q, kind="proportion" if is_p else "count", alpha=page.alpha)
        except AnalysisError as exc:
            rows.append(_row(label, reading=f"not compared: {exc}"))
            continue
        r = _published_years(page, r, label, is_p)
        if r is None:
            rows.append(_row(label, reading="not published: too few people"))
            continue
        span = f"{r['quarters']} of each year"
        if is_p:
            vals = (fmt.percent(r["last"]), fmt.percent(r["this"]))
            diff = fmt.percentage_points(100 * r["difference"])
            ci = (f"{fmt.percentage_points(100 * r['ci_lower']).split()[0]} to "
                  f"{fmt.percentage_points(100 * r['ci_upper'])}")
        else:
            vals = (f"{r['last']:,.0f}", f"{r['this']:,.0f}")
            diff = f"{r['difference']:+,.0f}"
            ci = f"{r['ci_lower']:+,.0f} to {r['ci_upper']:+,.0f}"
        rows.append(_row(label, span, r["last_year"], vals[0], r["this_year"], vals[1], diff, ci, r["reading"]))
        sentences.append(f"{label}: {vals[1]} in {r['this_year']} against {vals[0]} in {r['last_year']} "
                         f"({r['quarters']}), {r['reading']}")
    if not rows:
        return []
    intro = (f"Each measure's latest financial year beside the year before, over the same quarters: a quarter "
             f"counts when it is complete, and published, in both years. The difference has a {page.ci_label} "
             "(Newcombe's method for percentages; for counts, allowing for chance variation in the number of "
             "people); 'beyond chance' means the interval leaves out no change. The charts above ask whether any "
             "quarter is unusual; this asks whether the year differs from the last. Neither says why. The difference is "
             "worked out before rounding, so it may differ by one from the gap between the rounded figures.")
    # the plain answer first (page 1 links here: "Is it improving this year?"), the method after it
    blocks = [{"kind": "h3id", "id": YEAR_ANCHOR, "text": "This year against last"}]
    if sentences:
        blocks.append(page.p("Is it improving this year? " + ". ".join(sentences) + "."))
    blocks.append(page.p(intro, cls="note"))
    table = pd.DataFrame(rows, columns=["Measure", "Quarters compared", "Last year", "Last year's figure", "This year",
                                        "This year's figure", "Difference", page.ci_label, "Reading"])
    blocks.append(page.shown_table(table, caption="This year against last: each measure's latest "
                                   "financial year beside the year before, over the same quarters",
                                   csv_name=page.csv_name("year_on_year")))
    return blocks


def _row(label: str, *cells: str, reading: str = "") -> list:
    """A row of the table: measure, quarters compared, each year and its figure, difference, interval, reading."""
    cells = list(cells) or [""] * 8
    if reading:
        cells[-1] = reading
    return [label, *cells]

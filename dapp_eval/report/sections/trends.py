"""Trends for contract management: quarterly statistical process control (SPC) charts.

The quarterly series come from :func:`dapp_eval.trends.quarterly_spc`; their
counts pass through the page's disclosure control first, and each chart (its
average line, limits and special-cause flags) is recomputed from the
published counts with :func:`dapp_eval.trends.xmr` / :func:`~dapp_eval.trends.p_chart`,
so nothing drawn carries more than the published table beside it. A p-chart
with a hidden quarter is not drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import formatting as fmt
from ...errors import AnalysisError

TITLE = "Trends by quarter"
PLACEMENT = "body"


def _published_chart(page, g: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(chart recomputed from published counts or None, the published table) for one measure."""
    from ... import trends

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
    from ... import trends

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
    if change:
        out += _its_blocks(page, its, change)
    if res.meta.get("not_charted"):
        out.append(page.p("Not charted: " + "; ".join(f"{k} ({page.dc.count(v, name='trends', label=k)})"
                                                    for k, v in res.meta["not_charted"].items()) + ".", cls="note"))
    return {"blocks": out}


def _svg(ch, better):
    from ...plotting import spc_chart
    from ..context import figure_uri

    return figure_uri(spc_chart(ch, higher_is_better=better))


def _its_blocks(page, rows: list, change: str) -> list:
    """The interrupted time series table: step and trend change of each charted series at the plan's date."""
    out = [page.h3(f"Before and after the planned change date ({change})")]
    if not rows:
        return out + [page.p("No chart could be drawn, so no series is tested for a change.", cls="note")]
    df = pd.DataFrame(rows)
    from ... import trends

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

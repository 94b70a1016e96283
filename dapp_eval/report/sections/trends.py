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
        withheld = (shown["n_numerator"].isin([page.dc.marker, "[c]"])
                    | shown["n_denominator"].isin([page.dc.marker, "[c]"])).to_numpy()
        hidden = (withheld | (k.isna() & n.notna() & (n > 0)).to_numpy()) & ~open_q
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
        sentence = trends.describe(ch)["text"].iloc[0]
        svg = page.release.memo(f"spc_{page.site}_{code}", lambda ch=ch, better=better: _svg(ch, better))
        out.append(page.figure(svg, alt=f"Statistical process control chart. {sentence}",
                               caption=sentence, data=table))
    if res.meta.get("not_charted"):
        out.append(page.p("Not charted: " + "; ".join(f"{k} ({page.dc.count(v, name='trends', label=k)})"
                                                    for k, v in res.meta["not_charted"].items()) + ".", cls="note"))
    return {"blocks": out}


def _svg(ch, better):
    from ...plotting import spc_chart
    from ..context import figure_uri

    return figure_uri(spc_chart(ch, higher_is_better=better))

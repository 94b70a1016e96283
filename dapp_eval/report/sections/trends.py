"""Trends for contract management: statistical process control (SPC) charts by quarter, half-year or year.

The series come from :func:`dapp_eval.analyses.trends.quarterly_spc`. The counts of the throughput (referrals,
starts) are read off the throughput table as the page publishes it (its merged quarters, and its largest
quarter the participant flow's total less the others): the same people are never rounded twice by quarter,
which would narrow each other's counts (issue 26). Each chart's period is decided first,
from the chart's size as published (:func:`~dapp_eval.analyses.trends.choose_period`): quarters where the
numbers allow, half-years or years at a small site, never by looking at a period's figure. The counts by
period (:func:`~dapp_eval.analyses.trends.by_period`, which declares their roles) pass through the release's
one publication step, and each chart (its points, average line, limits and special-cause flags) is computed
from the published table with :func:`~dapp_eval.analyses.trends.xmr` / :func:`~dapp_eval.analyses.trends.p_chart`,
so nothing drawn carries more than the published table beside it. A p-chart with a hidden period is not drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.disclosure.roles import publish, published_numbers
from dapp_eval.errors import AnalysisError

TITLE = "Trends by quarter"
PLACEMENT = "body"

#: the word a period is named by in the page's text and tables
_WORD = {"quarter": "quarter", "half-year": "half-year", "year": "financial year"}


def _periods(page, res, ends=()) -> dict[str, str]:
    """Each measure's period, chosen from its size as published (never from the values it will show); the
    throughput's counts (referrals, starts) from the throughput table as published, not published again, by
    a coarser period where its merged quarters straddle too many (``trends.throughput_period``)."""
    from dapp_eval.analyses import trends
    from dapp_eval.report.sections._groups import published_throughput

    t, roles = trends.chart_sizes(res.summary)
    ours = t["measure"].isin(list(trends.FROM_THROUGHPUT)).to_numpy()
    shown = publish(t[~ours], roles, page.dc, name="Trends: size of each chart")
    size = published_numbers(shown, ["n_size"])["n_size"].fillna(0).reindex(t.index)
    tp = published_throughput(page)
    for i in t.index[ours]:
        g = res.summary[res.summary["measure"] == t.at[i, "measure"]]
        size[i] = 0.0 if tp is None else trends.published_size(g, tp)
    out = {m: trends.choose_period(float(n), int(q), page.dc.threshold, c)
           for m, c, n, q in zip(t["measure"], t["chart"], size, t["quarters"])}
    for m in t.loc[ours, "measure"]:
        if tp is not None:
            g = res.summary[res.summary["measure"] == m].reset_index(drop=True)
            out[m] = trends.throughput_period(g, tp, out[m], leave_out=ends)
    return out


def _xmr_chart(num: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    from dapp_eval.analyses import trends

    return trends.xmr(num["n_numerator"].to_numpy(float), partial=t["partial"].to_numpy(bool), labels=t["period"])


def _p_chart(num: pd.DataFrame, shown: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame | None:
    """The p-chart of the published counts, or None when a complete period's figure is withheld."""
    from dapp_eval.analyses import trends

    k, n = num["n_numerator"].copy(), num["n_denominator"]
    partial = t["partial"].to_numpy(bool)
    # a cohort not complete yet has no figure (its numerator is not known: nothing is withheld)
    open_p = (t["n_numerator"].isna() & (t["n_denominator"].fillna(0) > 0)).to_numpy()
    value = pd.to_numeric(shown["value"], errors="coerce")
    # withheld: a figure not published (a count below the threshold, a small complement, none or all of a
    # small group); a period whose denominator is withheld too is left off the chart altogether
    hidden = (value.isna() & n.notna() & (n > 0)).to_numpy() & ~open_p
    if (hidden & ~partial).any() or ((n - k) < 0).any():
        return None
    skip = open_p | hidden | n.isna().to_numpy()
    k[skip] = np.nan
    with np.errstate(invalid="ignore"):
        ch = trends.p_chart(k.fillna(0).to_numpy(float), n.fillna(0).to_numpy(float), partial=partial | skip,
                            labels=t["period"])
    ch.loc[skip, "value"] = np.nan
    return ch


def _from_throughput(page, g: pd.DataFrame, period: str, ends=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table by period, shown table) of a count of the throughput (referrals, starts): each period the sum of
    the throughput's published quarters in it (:func:`~dapp_eval.analyses.trends.from_published_quarters`),
    ``[c]`` where a merged quarter straddles it or the release withholds the throughput table."""
    from dapp_eval.analyses import trends
    from dapp_eval.report.sections._groups import published_throughput

    tp = published_throughput(page)
    if tp is None:
        raise AnalysisError("the throughput table is withheld or not available, and this chart is read from it")
    t = trends.from_published_quarters(g, tp, period, leave_out=ends)
    shown = t.assign(n_numerator=[int(v) if np.isfinite(v) else "[c]" for v in t["n_numerator"]])
    return t, shown


def _published_chart(page, g: pd.DataFrame, period: str, ends=()) -> tuple[pd.DataFrame | None, pd.DataFrame,
                                                                           pd.DataFrame]:
    """(chart from the published counts or None, the published table, the table by period) for one measure;
    ``ends`` are the part quarters at the ends of the data, left out of a chart by half-year or year."""
    from dapp_eval.analyses import trends

    code, chart = g["measure"].iloc[0], g["chart"].iloc[0]
    if code in trends.FROM_THROUGHPUT:
        t, shown = _from_throughput(page, g, period, ends)
    else:
        t, roles = trends.by_period(g, period, leave_out=ends)
        shown = publish(t, roles, page.dc, name=f"Trends: {g['name'].iloc[0]}")
    counts = ["n_numerator"] + (["n_denominator"] if chart == "p-chart" else [])
    num = published_numbers(shown, counts)
    ch = _xmr_chart(num, t) if chart == "XmR" else _p_chart(num, shown, t)
    if ch is not None:
        ch["measure"], ch["name"], ch["chart"] = code, g["name"].iloc[0], chart
    return ch, shown, t


def _display(ch: pd.DataFrame | None, shown: pd.DataFrame, t: pd.DataFrame, is_p: bool, period: str) -> pd.DataFrame:
    word = _WORD[period]
    reasons = t["partial_reason"].str.replace("quarter", word, regex=False)
    out = pd.DataFrame({word[0].upper() + word[1:]: shown["period"],
                        f"Part {word}": ["yes: " + r if p else "no" for p, r in zip(t["partial"], reasons)]})
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
    elif is_p:
        out["Value"] = [_share_cell(v, d) for v, d in zip(shown["value"], shown["n_denominator"])]
    return out


def _share_cell(value, denominator) -> str:
    """A period's share as shown: withheld (``[c]``) wherever its denominator is, 0 people included (a blank for 0
    beside ``[c]`` for a few told them apart; outside attack a24 H1); blank only for a published 0."""
    if isinstance(value, str):
        return value
    if str(denominator).startswith("<"):
        return "[c]"
    return fmt.percent(value) if isinstance(value, float) and pd.notna(value) else ""


def _period_note(page, period: str, chart: str, code: str = "") -> str:
    from dapp_eval.analyses import trends

    if period == "quarter":
        return ""
    if code in trends.FROM_THROUGHPUT:
        return (f" By {_WORD[period]}, not quarter: this chart is read from the throughput table, where quarters "
                "of a handful of people are merged with a neighbour; the period was chosen from its size and those "
                f"merges alone, before any figure was looked at. A {_WORD[period]} holding only a part quarter at "
                "either end of the data is left out.")
    need = trends.MIN_SIZE[chart] * page.dc.threshold
    what = "people in its denominators" if chart == "p-chart" else "of this count"
    return (f" By {_WORD[period]}, not quarter: this chart has on average fewer than {need} {what} a quarter, so "
            f"quarters would be too small to publish. The period was chosen from that number alone, before any "
            f"figure was looked at. A {_WORD[period]} holding only a part quarter at either end of the data is "
            "left out.")


def _measure_blocks(page, g: pd.DataFrame, period: str, its: list, ends=()) -> list:
    """The heading, chart (or note) and data table of one measure."""
    from dapp_eval.analyses import trends

    code = g["measure"].iloc[0]
    name, chart, better = trends.MEASURES[code]
    is_p = chart == "p-chart"
    out = [page.h3(name)]
    try:
        ch, shown, t = _published_chart(page, g, period, ends)
    except AnalysisError as exc:
        return out + [page.na(name, str(exc))]
    table = page.shown_table(_display(ch, shown, t, is_p, period), caption=f"{name}: the data of the chart",
                             csv_name=page.csv_name(f"trend_{code}"))
    note = _period_note(page, period, chart, code)
    if ch is None:
        return out + [page.p(f"The chart is not drawn: some {_WORD[period]}s have too few people to publish; the "
                             f"table shows what can be published.{note}", cls="note"), table]
    change = page.plan.trends.change_date
    if change and period == "quarter":  # fitted to the published values, as the chart is
        its += trends.its_rows(ch["value"], t["period_start"], ch["partial"], change, code=code,
                               alpha=page.alpha, labels=t["period"])
    sentence = trends.describe(ch, unit=_WORD[period])["text"].iloc[0]
    svg = page.release.memo(f"spc_{page.site}_{code}", lambda ch=ch, better=better: _svg(ch, better))
    return out + [page.figure(svg, alt=f"Statistical process control chart. {sentence}",
                              caption=sentence + note, data=table)]


def _not_charted(page, res) -> list:
    from dapp_eval.analyses import trends

    t, roles = trends.not_charted(res.meta)
    if t.empty:
        return []
    shown = publish(t, roles, page.dc, name="trends")
    return [page.p("Not charted: " + "; ".join(f"{k} ({v})" for k, v in zip(shown["reason"], shown["n"])) + ".",
                   cls="note")]


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
                  "left out of the average and the limits, because its figure is incomplete. Where a chart has "
                  "too few people a quarter to publish quarters, it is drawn by half-year or by financial year "
                  "instead, chosen from the number of people alone.")]
    change = page.plan.trends.change_date
    its: list = []
    s = res.summary
    # the part quarters at the ends of the data (outside the period start .. extract date): the same for every
    # measure, read off the referrals chart (a calendar fact, not a figure)
    ends = s.loc[(s["measure"] == "referrals") & s["partial"].astype(bool), "quarter"].tolist()
    periods = _periods(page, res, ends)
    for code, g in s.groupby("measure", sort=False):
        out += _measure_blocks(page, g.reset_index(drop=True), periods[code], its, ends)
    out += _year_on_year(page, res)
    if change:
        out += _its_blocks(page, its, change)
    out += _not_charted(page, res)
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


def _year_on_year(page, res) -> list:
    """Each measure's latest financial year beside the one before (:func:`dapp_eval.analyses.yearly.year_table`).

    The quarters compared are those complete in both years; each year's count is published as one count,
    and the figures, the difference and its interval are computed from the published counts.
    """
    from dapp_eval.analyses import trends, yearly

    series = {}
    cols = ["quarter", "partial", "n_numerator", "n_denominator"]
    by_measure = dict(tuple(res.summary.groupby("measure", sort=False)))
    # every measure, of nobody too: a row missing at one site said "no one here has an exit risk score" (issue 26,
    # attack a15 F3); with no quarter to compare, its row says "not compared", as where the counts are small
    for code, (name, chart, _better) in trends.MEASURES.items():
        g = by_measure.get(code, pd.DataFrame(columns=cols))
        is_p = chart == "p-chart"
        q = g[cols].reset_index(drop=True)
        if not is_p:
            q["n_denominator"] = np.nan
        series[name.split(",")[0]] = (q, "proportion" if is_p else "count")
    if not series:
        return []
    t, roles = yearly.year_table(series, alpha=page.alpha)
    shown = publish(t, roles, page.dc, name="This year against last")
    rows, sentences = [], []
    for r, pub in zip(t.itertuples(index=False), shown.itertuples(index=False)):
        row, sentence = _year_row(r, pub)
        rows.append(row)
        if sentence:
            sentences.append(sentence)
    intro = (f"Each measure's latest financial year beside the year before, over the same quarters: a quarter "
             f"counts when it is complete in both years. Each year's figure is published as one count (rounded, "
             f"or withheld when small), and the difference and its {page.ci_label} are worked out from the "
             "published counts (Newcombe's method for percentages; for counts, allowing for chance variation in "
             "the number of people); 'beyond chance' means the interval leaves out no change. The charts above "
             "ask whether any period is unusual; this asks whether the year differs from the last. Neither says "
             "why.")
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


def _num(v) -> float:
    return v if isinstance(v, float) else np.nan


def _year_row(r, pub) -> tuple[list, str]:
    """A row of the table and the sentence (or "") from one measure's published row."""
    from dapp_eval.analyses import yearly

    if r.note:
        return _row(r.measure, reading=r.note), ""
    d, lo, hi, this, last = (_num(getattr(pub, c)) for c in ("difference", "ci_lower", "ci_upper", "this", "last"))
    if any(pd.isna(v) for v in (d, lo, hi, this, last)):
        return _row(r.measure, reading="not published: too few people"), ""
    if pd.notna(r.n_of_this):
        vals = (fmt.percent(last), fmt.percent(this))
        diff = fmt.percentage_points(100 * d)
        ci = f"{fmt.percentage_points(100 * lo).split()[0]} to {fmt.percentage_points(100 * hi)}"
    else:
        vals = (f"{last:,.0f}", f"{this:,.0f}")
        diff = f"{d:+,.0f}"
        ci = f"{lo:+,.0f} to {hi:+,.0f}"
    reading = yearly.reading(d, lo, hi)
    return (_row(r.measure, f"{r.quarters} of each year", r.last_year, vals[0], r.this_year, vals[1], diff, ci,
                 reading),
            f"{r.measure}: {vals[1]} in {r.this_year} against {vals[0]} in {r.last_year} ({r.quarters}), {reading}")


def _row(label: str, *cells: str, reading: str = "") -> list:
    """A row of the table: measure, quarters compared, each year and its figure, difference, interval, reading."""
    cells = list(cells) or [""] * 8
    if reading:
        cells[-1] = reading
    return [label, *cells]

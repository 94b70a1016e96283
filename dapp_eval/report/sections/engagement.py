"""Engagement: the funnel from referral to completion, waits, waiting list, throughput, attendance, Table 1."""

from __future__ import annotations

import copy

import pandas as pd

from dapp_eval.disclosure.curves import protect_cif_table, wait_grain
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._counts import numbers, publish_block

TITLE = 'Engagement: from referral to completion'
PLACEMENT = 'body'


def build(page) -> dict:
    res = R.funnel_cascade(page)
    if isinstance(res, Exception):
        return {"blocks": [page.na("Funnel", str(res))]}
    out, flow = _flow(page, res)
    for stage, title in (("referral_to_assessment", "Wait from referral to assessment"),
                         ("assessment_to_start", "Wait from assessment to start")):
        out += _wait(page, stage, title, flow)
    out += _waiting_list(page, flow)
    out += _throughput(page)
    k = len(out)  # attendance ratios and the full Table 1 go to the technical annex
    if page.few_started():  # of nobody or of a few, one sentence (issue 26)
        out.append(page.few_started_block("Attendance and baseline profile of the people who started"))
    else:
        out += _attendance(page)
        out += _table1(page)
    out[k:] = page.annex("Attendance, and who completes: Table 1 in full", out[k:],
                         what="sessions attended, and the baseline characteristics of people who completed and "
                              "people who left early")
    return {"blocks": out}


def _flow(page, res) -> tuple[list, object]:
    """The participant flow: people at each final stage (a base of protected counts), every total and
    conversion their published sum (analyses.flow_published), the flow diagram and the conversions."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.analyses import plotting

    out = [page.p("Every referral is placed in exactly one stage, derived from its case record. "
                  "Conversion rates are taken among cases that have reached a decision at that step; "
                  "cases still open are shown beside them and never counted as failures."),
           page.p(fp.DERIVED_NOTE, "note")]
    table, shown = publish_block(page, res, table="flow", caption="Participant flow: people at each stage",
                                 name="funnel_counts", drop=("group", "stage", "level", "parent"),
                                 rename={"label": "stage", "pct_of_referred": "% of referred"})
    out.append(table)
    if shown is None:
        return out, None
    drawn = shown.assign(n=[t if str(n) in ("", "nan") else n for n, t in zip(shown["n"], shown["total"])])
    n = dict(zip(drawn["stage"], drawn["n"]))
    out.append(page.figure(plotting.plot_funnel_flow(drawn), alt="Participant flow diagram from referral to "
                           f"completion: {n.get('referred', 'n/a')} referred, {n.get('started', 'n/a')} started, "
                           f"{n.get('completed', 'n/a')} completed; the number at every stage and exit is in the "
                           "table above (small numbers hidden).", caption="Participant flow (CONSORT-style)."))
    conv = fp.conversion_table(shown, alpha=page.dc.alpha, zero_minimum=page.dc.zero_rule_minimum)
    out.append(page.publish(conv, roles=fp.CONVERSION_ROLES, name="funnel_conversion",
                            caption=f"Conversion at each step (proportion with {page.level} Wilson CI; the numbers "
                                    "are sums of the published stages)"))
    return out, shown


def _wait(page, stage: str, title: str, flow) -> list:
    """One wait (competing risks): its table and its curves, redrawn from rounded cumulative counts."""
    w = R.wait(page, stage)
    if isinstance(w, Exception):
        return [page.na(title, str(w))]
    out = [page.h3(title)]
    block = _wait_block(page, w, stage, title, flow)
    out.append(block)
    # redrawn from rounded cumulative counts: each step stands for at least the threshold (disclosure.curves)
    safe = copy.copy(w)
    # an end of the wait with fewer than the threshold of people (none included) has no curve: curves.too_few_events
    safe.tables = {"cif": protect_cif_table(w.tables["cif"], page.dc, name=f"{title} curves",
                                            causes=w.meta.get("causes"), grain=wait_grain(w.meta.get("time_unit")))}
    if len(safe.tables["cif"]):
        cif = safe.tables["cif"]
        data = page.curve_table(cif, time_col="time", group_cols=("cause",), step=4, unit="weeks",
                                caption=f"{title}: cumulative incidence every 4 weeks (the data of the chart)",
                                name=f"wait_{stage}_chart_data")
        out += page.annex(f"{title}: cumulative incidence", [page.figure(
            safe.plot(), data=data, alt=f"Cumulative incidence curves of the {title.lower()}"
                               " (stopped where fewer people than the threshold remain): "
                               + page.curve_ends(cif, time_col="time", label_col="cause", unit="weeks") + ".",
                               caption=f"{title}: cumulative incidence, with competing exits.")],
            what="the chart of the wait, with the people who left before it ended (competing exits)")
    return out


def _wait_block(page, w, stage: str, title: str, flow) -> dict:
    """A wait's table: its median (from the curve), and its people as sums of the published flow."""
    from dapp_eval.analyses import flow_published as fp

    def people(shown):
        counts = fp.wait_counts(flow, stage)
        rest = shown.drop(columns=["n", "n_event", "n_competing", "n_censored"])
        return pd.concat([pd.DataFrame({c: [v] * len(shown) for c, v in counts.items()}, index=shown.index), rest],
                         axis=1)

    block, _ = publish_block(page, w, caption=f"{title} (weeks; competing risks, people still waiting censored; "
                             "people from the participant flow)", name=f"wait_{stage}", then=people,
                             drop=("group", "step", "unit", "median_reached", "n_observed_events"),
                             rename={"estimate": "median_weeks",
                                     "median_observed_events": "median_among_those_with_event"})
    return block


def _waiting_list(page, flow) -> list:
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.analyses import funnel

    wl = page.get("waiting_list", lambda: funnel.waiting_list(page.data, by=None))
    if isinstance(wl, Exception):
        return [page.na("Waiting list at the extract date", str(wl))]

    def from_flow(shown):
        waiting, referred = fp.waiting_counts(flow, list(shown["list"].astype(str)))
        out = shown.drop(columns=["n_waiting", "n_referred"])
        out.insert(2, "waiting", waiting)
        out.insert(3, "referred", referred)
        return out

    block, _ = publish_block(page, wl, caption="People waiting at the data extract date and how long they had waited "
                             "so far (weeks; the longest single wait is not shown; people waiting and referred from "
                             "the participant flow)", name="waiting_list", then=from_flow,
                             drop=("group", "since", "max_weeks", "as_at", "as_at_varies"))
    return [page.h3("Waiting list at the extract date"), block]


def _throughput(page) -> list:
    """Referrals, starts and completions by quarter (quarters of a handful of people merged with a neighbour);
    in each count the largest quarter is the participant flow's published total less the other quarters
    (:func:`dapp_eval.analyses.flow_published.derive_largest_quarter`), so that the quarters add up to the flow
    exactly; the bars are drawn from the published table, which is the chart's data."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.report.sections._groups import THROUGHPUT_CAPTION, THROUGHPUT_NAME, published_flow

    tp = R.throughput(page)
    if isinstance(tp, Exception):
        return [page.na("Throughput by quarter", str(tp))]
    table, shown = publish_block(page, tp, rows=lambda t: (t["group"] == "all").to_numpy(),
                                 drop=("group", "quarter_start", "quarter_end"), caption=THROUGHPUT_CAPTION,
                                 name=THROUGHPUT_NAME,
                                 then=lambda shown: fp.derive_largest_quarter(shown, published_flow(page)))
    out = [page.h3("Throughput by quarter")]
    if shown is None:
        return [*out, table]
    drawn = copy.copy(tp)
    drawn.summary = shown.assign(**numbers(shown, ["n_referrals", "n_starts", "n_completions"]))
    return [*out, page.figure(drawn.plot(), alt="Bar chart of referrals, starts and completions per quarter, "
                              "with the contract target where given; the numbers are in the table of its data.",
                              caption="Throughput by quarter.", data=table)]


def _attendance(page) -> list:
    from dapp_eval.analyses import funnel

    att = page.get("attendance", lambda: funnel.attendance(page.data, by=None, alpha=page.alpha))
    if isinstance(att, Exception):
        return [page.na("Attendance", str(att))]
    return [page.h3("Attendance"),
            page.publish(funnel.attendance_published(att.summary), roles=att.roles["summary"],
                         caption=f"Sessions attended of sessions scheduled (ratio with {page.ci_label}; the ratio "
                                 "to planned sessions is not published: its denominator is the people times the "
                                 "planned length, which would give their number back)",
                         name="attendance", drop=("group",))]


def _table1(page) -> list:
    """Table 1: baseline characteristics by completion status (small levels merged, never withheld).

    At a site where fewer than twice the threshold left without completing (or completed), nearly every
    level of that group is a handful of people: the profile is then of everyone who started and left, not
    split by completion status.
    """
    from dapp_eval.analyses import funnel

    out = []
    t1 = page.get("table1", lambda: funnel.baseline_table(page.data, by="completion_status",
                                                          min_group=page.dc.zero_minimum,
                                                          pool_below=page.dc.threshold))
    if isinstance(t1, Exception):
        out.append(page.na("Baseline profile by completion status", str(t1)))
        return out
    caption = "Baseline characteristics by completion status (Table 1)"
    if t1.meta.get("split", True):
        out.append(page.h3("Who completes? Baseline profile by completion status"))
        out.append(page.p("Standardised mean differences (SMD) above 0.1 in absolute value mark characteristics "
                          "that differ between people who completed and people who left early. This describes "
                          "who completes; it does not show that the programme caused any difference.", "note"))
    else:
        out.append(page.h3("Baseline profile of the people who started and left"))
        out.append(page.p(f"Fewer than {page.dc.zero_minimum} people here completed, or fewer left without "
                          "completing, so the profile is not split by completion status: nearly every figure of "
                          "so small a group would describe a handful of people.", "note"))
        caption = "Baseline characteristics of the people who started and left (Table 1)"
    # a continuous characteristic's 'missing' row is the group less the people with a value (both shown); each
    # group's size is the participant flow's, and one level of each characteristic the size less the others
    block, _ = publish_block(page, t1, caption=caption + " (in each characteristic, one level is the group "
                             "less the other levels)", name="table1",
                             rows=lambda t: ~((t["kind"] == "continuous") & (t["level"] == "missing")).to_numpy(),
                             then=lambda shown: _table1_on_flow(page, shown), drop=("kind", "smd"))
    out.append(block)
    return out


def _table1_on_flow(page, shown):
    """Table 1 adding up to the participant flow as published (:func:`flow_published.derive_table1`), with the
    standardised differences of the counts shown."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.analyses.funnel import smd_published
    from dapp_eval.report.sections._groups import published_flow

    t = fp.derive_table1(shown, published_flow(page), threshold=page.dc.threshold,
                         zero_minimum=page.dc.zero_rule_minimum)
    num = t.assign(n=pd.to_numeric(t["n"].astype(str).str.replace(",", ""), errors="coerce"),
                   n_group=pd.to_numeric(t["n_group"].astype(str).str.replace(",", ""), errors="coerce"))
    smd = smd_published(num)
    for c in ("smd", "smd_max_abs"):
        if c in t:
            t[c] = smd[c].to_numpy()
    return t

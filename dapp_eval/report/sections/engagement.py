"""Engagement: the funnel from referral to completion, waits, waiting list, throughput, attendance, Table 1."""

from __future__ import annotations

import copy

from dapp_eval.disclosure.curves import protect_cif_table
from dapp_eval.report.context import THROUGHPUT_STAGES
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._counts import numbers, publish_block

TITLE = 'Engagement: from referral to completion'
PLACEMENT = 'body'


def build(page) -> dict:
    res = R.funnel_cascade(page)
    if isinstance(res, Exception):
        return {"blocks": [page.na("Funnel", str(res))]}
    out = _flow(page, res)
    for stage, title in (("referral_to_assessment", "Wait from referral to assessment"),
                         ("assessment_to_start", "Wait from assessment to start")):
        out += _wait(page, stage, title)
    out += _waiting_list(page)
    out += _throughput(page)
    k = len(out)  # attendance ratios and the full Table 1 go to the technical annex
    out += _attendance(page)
    out += _table1(page)
    out[k:] = page.annex("Attendance, and who completes: Table 1 in full", out[k:],
                         what="sessions attended, and the baseline characteristics of people who completed and "
                              "people who left early")
    return {"blocks": out}


def _flow(page, res) -> list:
    """The participant flow: people at each stage, the flow diagram and the conversion at each step."""
    from dapp_eval.analyses import plotting

    out = []
    out.append(page.p("Every referral is placed in exactly one stage, derived from its case record. "
                  "Conversion rates are taken among cases that have reached a decision at that step; "
                  "cases still open are shown beside them and never counted as failures."))
    counts = res.tables["counts"][["group", "stage", "label", "level", "parent", "n", "pct_of_referred"]].copy()
    counts["parent"] = counts["parent"].fillna("")
    # referrals, starts and completions are the programme's throughput (published as councils do);
    # every other stage describes people and is suppressed, with its siblings as the margin
    shown = page.dc.table(counts, name="Participant flow", margins=["parent"], label_cols=["label"],
                          exempt=counts["stage"].isin(THROUGHPUT_STAGES))
    out.append(page.shown_table(shown.drop(columns=["group", "stage", "parent"]).rename(
        columns={"label": "stage", "pct_of_referred": "% of referred"}),
        caption="Participant flow: people at each stage", csv_name=page.csv_name("funnel_counts")))
    ref, st, co = (page.dc.count(R.counts(page).get(k, 0), name="Participant flow", label=k, kind="throughput")
                   for k in ("referred", "started", "completed"))
    out.append(page.figure(plotting.plot_funnel_flow(shown), alt="Participant flow diagram from referral to "
                           f"completion: {ref} referred, {st} started, {co} completed; the number at every stage "
                           "and exit is in the "
                           "table above (small numbers hidden).", caption="Participant flow (CONSORT-style)."))
    conv = res.tables["conversion"]
    conv = conv[[c for c in ("conversion", "n_converted", "n_resolved", "n_open", "estimate", "ci_lower",
                             "ci_upper") if c in conv]]
    out.append(page.table(conv, caption=f"Conversion at each step (proportion with {page.level} Wilson CI)",
                           name="funnel_conversion", pairs={"n_converted": "n_resolved"},
                           label_cols=["conversion"], dependent={"n_open": []}))
    return out


def _wait(page, stage: str, title: str) -> list:
    """One wait (competing risks): its table and its curves, redrawn from rounded cumulative counts."""
    out = []
    w = R.wait(page, stage)
    if isinstance(w, Exception):
        return [page.na(title, str(w))]
    cols = ["n", "n_event", "n_competing", "n_censored", "estimate", "ci_lower", "ci_upper",
            "median_observed_events"]
    t = w.summary[[c for c in cols if c in w.summary]].rename(columns={
        "estimate": "median_weeks", "median_observed_events": "median_among_those_with_event"})
    out.append(page.h3(title))
    out.append(page.table(t, caption=f"{title} (weeks; competing risks, people still waiting censored)",
                           name=f"wait_{stage}", label_cols=[],
                           row_margins=[["n_event", "n_competing", "n_censored"]],
                           dependent={"n_censored": [], "n_competing": []}))
    # redrawn from rounded cumulative counts: each step stands for at least the threshold (disclosure.curves)
    safe = copy.copy(w)
    safe.tables = {"cif": protect_cif_table(w.tables["cif"], page.dc, name=f"{title} curves",
                                            causes=w.meta.get("causes"))}
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


def _waiting_list(page) -> list:
    from dapp_eval.analyses import funnel

    out = []
    wl = page.get("waiting_list", lambda: funnel.waiting_list(page.data, by=None))
    if isinstance(wl, Exception):
        out.append(page.na("Waiting list at the extract date", str(wl)))
    if not isinstance(wl, Exception):
        out.append(page.h3("Waiting list at the extract date"))
        keep = [c for c in ("list", "n_waiting", "n_referred", "median_weeks", "q1_weeks", "q3_weeks",
                            "n_over_threshold", "threshold_weeks") if c in wl.summary]
        out.append(page.table(wl.summary[keep], caption="People waiting at the data extract date and how long "
                               "they had waited so far (weeks; the longest single wait is not shown)",
                               name="waiting_list", label_cols=["list"],
                               dependent={"n_waiting": ["median_weeks", "q1_weeks", "q3_weeks"],
                                          "n_over_threshold": [], "n_referred": []}))
    return out


def _throughput(page) -> list:
    """Referrals, starts and completions by quarter (quarters of a handful of people merged with a neighbour);
    the bars are drawn from the published table, which is the chart's data."""
    import copy

    tp = R.throughput(page)
    if isinstance(tp, Exception):
        return [page.na("Throughput by quarter", str(tp))]
    table, shown = publish_block(page, tp, rows=lambda t: (t["group"] == "all").to_numpy(),
                                 drop=("group", "quarter_start", "quarter_end"),
                                 caption="Referrals, starts and completions by financial quarter (partial = quarter "
                                         "not fully covered by the data; quarters of a handful of people merged)",
                                 name="throughput")
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

    out = []
    att = page.get("attendance", lambda: funnel.attendance(page.data, by=None, alpha=page.alpha))
    if isinstance(att, Exception):
        out.append(page.na("Attendance", str(att)))
    if not isinstance(att, Exception):
        out.append(page.h3("Attendance"))
        out.append(page.table(att.summary.drop(columns=["group"], errors="ignore"),
                               caption=f"Sessions attended (ratio with {page.ci_label})", name="attendance",
                               label_cols=["measure"] if "measure" in att.summary else None))
    return out


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
    # a continuous characteristic's 'missing' row is the group less the people with a value (both shown)
    out.append(page.publish(t1, caption="Baseline characteristics by completion status (Table 1)", name="table1",
                            rows=lambda t: ~((t["kind"] == "continuous") & (t["level"] == "missing")).to_numpy(),
                            drop=("kind", "smd")))
    return out

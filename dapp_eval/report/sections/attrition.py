"""Retention and attrition: competing exits, completion rate, Kaplan-Meier, RMST, dropout model."""

from __future__ import annotations

from dapp_eval.disclosure.curves import protect_cif_result, protect_km_result
from dapp_eval.disclosure.roles import publish
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._counts import number, publish_block, published_counts
from dapp_eval.report.sections._publish import quiet
from dapp_eval.results import every_reason

TITLE = 'Retention and attrition'
PLACEMENT = 'body'


def _intro(page, a) -> list:
    return [page.p("Time runs from the first attended session. An episode ends at its last attended session "
              if a["exit_time"] == "last_session" else
              "Time runs from the first attended session. An episode ends at its recorded exit date "
              "(the plan chose exit_date)."),
           page.p("Completion, dropping out, exclusion by the provider and other exits (moved away, custody) "
              "are competing exits: each curve shows the share who had left for that reason by each time, "
              "allowing for the others. People still attending are followed up to the extract date"
              + ("." if not a.get("recording_lag") else
                 " less the recording lag (dropping out is recorded weeks after the last session, so people "
                 "who have stopped coming would otherwise look still attending).")
              )]


def build(page) -> dict:
    from dapp_eval.analyses import attrition

    a = page.plan["attrition"]
    out = [None, *_intro(page, a)]
    if page.few_started():
        return {"blocks": out[1:] + [page.few_started_block("Retention and attrition")]}
    ci = page.get("cif", lambda: attrition.cumulative_incidence(page.data, by=None, exit_time=a["exit_time"],
                                                                   alpha=page.alpha,
                                                                   recording_lag=R.recording_lag(page)))
    if isinstance(ci, Exception):
        return {"blocks": out[1:] + [page.na("Cumulative incidence", str(ci))]}
    out += _cif_figure(page, ci)
    out += _completion_table(page)
    out += _km(page, a)
    out += _rmst(page, a)
    k = len(out)  # models and tests of assumptions go to the technical annex
    out += _dropout_model(page, a)
    out += _compare_models(page, a)
    out[k:] = page.annex("Dropout model and tests", out[k:],
                         what="who drops out (Cox model), its proportional-hazards check (Schoenfeld residuals) and "
                              "the log-rank and Gray's tests of programme models")
    return {"blocks": out[1:]}


def _cif_figure(page, ci) -> list:
    """The cumulative incidence of each exit, redrawn from rounded cumulative exits (each step stands for at
    least the threshold: disclosure.curves); an exit of fewer people than the threshold is not drawn (read from
    the published number of each exit)."""
    from dapp_eval.analyses import plotting

    out = []
    safe = protect_cif_result(ci, page.dc, name="cumulative incidence of exits")
    exits = published_counts(page, ci.tables["detail"].groupby("outcome", sort=False)["n_event"].sum().to_dict(),
                             name="cumulative incidence of exits")
    drawn = [o for o, v in exits.items() if number(v) >= page.dc.threshold
             and o in set(safe.summary["outcome"])]  # a curve of none or few is not in the redrawn result
    if len(safe.summary) and drawn:
        ax = plotting.plot_cumulative_incidence(safe, show_p=False, outcomes=drawn)
        drawn_curves = safe.summary[safe.summary["outcome"].isin(drawn)]
        data = page.curve_table(drawn_curves, time_col="time_days", group_cols=("outcome",), step=28,
                                unit="days_since_start", caption="Cumulative incidence of each exit, every 28 "
                                "days (the data of the chart)", name="cif_chart_data")
        out.append(page.figure(ax, alt="Cumulative incidence of each exit by days since start: "
                               + page.curve_ends(drawn_curves, time_col="time_days", label_col="outcome")
                               + " (where the curves stop). The chart's data are in the table after it.",
                               data=data, caption="Cumulative incidence of each exit (Aalen-Johansen), with numbers at "
                                       "risk (rounded to 5) and cumulative exits."))
    return out


def _completion_table(page) -> list:
    """The completion rate by planned length (only the pooled rate where a planned length is a small group)."""
    from dapp_eval.analyses import attrition

    a = page.plan["attrition"]
    comp = page.get("completion_table", lambda: attrition.completion_rate(
        page.data, grace_weeks=a["grace_weeks"], exit_time=a["exit_time"], alpha=page.alpha,
        recording_lag=R.recording_lag(page), min_group=page.dc.zero_minimum))
    if isinstance(comp, Exception):
        return [page.na("Completion rate", str(comp))]
    # the plain ratio of completions to starts is not published: it is not the completion rate (it counts
    # people still attending as failures)
    # people started, completed and still attending are the participant flow's published numbers (the largest
    # row the flow's less the other rows): the table adds up to the flow exactly (analyses.flow_published)
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.report.sections._groups import published_flow

    block, _ = publish_block(page, comp, caption="Completion rate: cumulative incidence of completion at the planned "
                             "length plus grace period (people from the participant flow)", name="completion_rate",
                             then=lambda shown: fp.derive_completion_rows(shown, published_flow(page)),
                             drop=("group", "n_completed_by_horizon", "n_followed_to_horizon", "raw_ratio"))
    return [block]


def _km(page, a) -> list:
    """Kaplan-Meier retention, for comparison only (it overstates dropout): in the annex."""
    from dapp_eval.analyses import attrition, plotting

    out = []
    km = page.get("km", lambda: attrition.retention_km(page.data, by=None, exit_time=a["exit_time"],
                                                         alpha=page.alpha))
    if isinstance(km, Exception):
        out.append(page.na("Kaplan-Meier retention", str(km)))
    if not isinstance(km, Exception):
        safe_km = protect_km_result(km, page.dc, name="Kaplan-Meier retention")
        if len(safe_km.summary):
            ax = plotting.plot_km(safe_km, show_p=False)
            data = page.curve_table(safe_km.summary, time_col="time_days", group_cols=("group", "outcome"),
                                    step=28, unit="days_since_start", name="km_chart_data",
                                    caption="Kaplan-Meier retention every 28 days (the data of the chart)")
            fig = page.figure(ax, data=data, alt="Kaplan-Meier curve of staying in the programme, treating "
                              "completion as censoring, so it overstates dropout: "
                              + page.curve_ends(safe_km.summary, time_col="time_days", label_col="outcome")
                              + " (where the curve stops).",
                              caption="Kaplan-Meier retention (dropout as the event). Shown only for comparison: it "
                                      "treats completers as if they might still drop out, so it overstates dropout.")
            out += page.annex("Kaplan-Meier retention, for comparison", [fig],
                              what="the Kaplan-Meier retention curve (it overstates dropout; shown only for "
                                   "comparison)")
    return out


def _rmst(page, a) -> list:
    from dapp_eval.analyses import attrition

    rm = page.get("rmst", lambda: attrition.rmst(page.data, by=None, exit_time=a["exit_time"], alpha=page.alpha))
    if isinstance(rm, Exception):
        return [page.na("Restricted mean time in programme", str(rm))]
    return [page.publish(rm, caption="Restricted mean time in programme (days) up to the horizon", name="rmst")]


#: why a model is not shown, whatever the reason (a reason of its own would say how many people, which
#: characteristic everyone shares, or which exit nobody had)
MODEL_NOT_SHOWN = ("Not shown: the model cannot be fitted safely to these data (too few people or events, or "
                   "characteristics that do not vary enough); with fewer than {t} events a model would describe "
                   "a handful of people.")


def _dropout_model(page, a) -> list:
    """Who drops out: the cause-specific Cox model and its proportional-hazards check (shown only with at least
    the threshold of dropouts: the published table withholds the model otherwise)."""
    from dapp_eval.analyses import attrition

    cox = page.get("cox", lambda: attrition.dropout_cox(page.data, exit_time=a["exit_time"], alpha=page.alpha,
                                                        recording_lag=R.recording_lag(page)))
    if isinstance(cox, Exception) or cox.meta.get("dropped_terms"):
        # the model's own reason names how many episodes there were, which covariates did not vary (everyone the
        # same) and which exits there were none of (a13 E1, D2: "4 episodes ... on 4 terms" at a site shown '<5';
        # a Cox table without "substance misuse" at a site where none had it): one sentence for every reason
        page.unlist("cox")
        return [page.na("Dropout model", MODEL_NOT_SHOWN.format(t=page.dc.threshold))]
    probe = publish(*page.declared(cox), quiet(page.dc), name="dropout model")
    if len(probe) and (probe["hr"].astype(str) == "[c]").all():
        # the one sentence of a model not shown, whatever the reason, and no table: "fewer than T dropouts" with
        # a table of '[c]' beside "cannot be fitted" at a site of 0 or 1 dropout told the two apart (a21 F2)
        page.unlist("cox")  # nor a data-quality row: a21 F2 read the row there and not where it failed
        return [page.na("Dropout model", MODEL_NOT_SHOWN.format(t=page.dc.threshold))]
    out = [page.h3("Who drops out? Cause-specific Cox model of dropout"),
           page.p("Hazard ratios above 1 mean a higher rate of dropping out. Standard errors allow for "
                  "people referred more than once. This describes risk factors; it does not explain why "
                  "people leave.", "note")]
    # every reason, of nobody too (a caption naming only those that occur said "no one here is missing age")
    excl = published_counts(page, every_reason(cox.meta), name="Dropout hazard ratios")
    cols = [c for c in ("term", "hr", "ci_lower", "ci_upper", "p_value", "n", "n_events") if c in cox.summary]
    caption = (f"Dropout hazard ratios ({page.ci_label}, cluster-robust); episodes left out: "
               + ("; ".join(f"{k}: {v}" for k, v in excl.items()) or "none"))
    block, shown = publish_block(page, cox, caption=caption, name="dropout_cox",
                                 drop=tuple(c for c in cox.summary if c not in cols))
    n_ev = number(shown["n_events"].iloc[0]) if shown is not None and len(shown) else float("nan")
    if n_ev == n_ev and n_ev < 10 * len(shown):
        out.append(page.p(f"Caution: about {shown['n_events'].iloc[0]} dropouts for {len(shown)} terms is fewer "
                          "than the 10 events per term a model like this needs; the hazard ratios below are "
                          "unstable and may be exaggerated.", "note"))
    out.append(block)
    if "ph_test" in cox.tables:
        out.append(page.publish(cox, table="ph_test", name="ph_test", caption="Proportional-hazards check "
                                "(Schoenfeld residuals); small p-values flag a hazard ratio that changes over time"))
    return out


def _compare_models(page, a) -> list:
    """Do exits differ by programme model (all-sites page only)."""
    from dapp_eval.analyses import attrition

    if page.site is not None or page.data.sites["site_id"].nunique() <= 1:
        return []
    cg = page.get("compare_model", lambda: attrition.compare_groups(page.data, by="programme_model",
                                                                    exit_time=a["exit_time"]))
    if isinstance(cg, Exception):
        return [page.na("Comparison of programme models", MODEL_NOT_SHOWN.format(t=page.dc.threshold))]
    return [page.publish(cg, caption="Do exits differ by programme model? Log-rank and Gray's tests",
                         name="compare_model"),
            page.p("Programmes of different lengths complete at different times, so a difference in "
                   "completion between models mostly reflects their length (10 vs 24 weeks, or "
                   "individual plans), not how well they work.", "note")]

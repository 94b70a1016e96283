"""Risk reduction: paired change, reliable change, risk bands, mixed model, missing exit scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.disclosure.publish import publish_result
from dapp_eval.disclosure.roles import Count, Derived, Label, Model, Proportion, Summary, publish
from dapp_eval.report.sections import _results as R

TITLE = 'Risk reduction'
PLACEMENT = 'body'


_PROPORTION_STATS = ("reliably_improved", "any_improvement", "no_reliable_change", "reliably_worse",
                     "could_improve_reliably", "reliably_improved_of_could", "clinically_significant_improvement")


def _sign_test(pub: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The exact binomial test of reliable improvements vs deteriorations, from the published counts.

    A hidden count of deteriorations (1 to threshold - 1) is taken at threshold - 1, the value that gives the
    largest p-value: the test then reads nothing from the true count.
    """
    from scipy import stats as st

    s = pub.set_index("statistic")["n"] if "statistic" in pub else pd.Series(dtype=float)
    imp = s.get("reliably_improved", np.nan)
    wor = s.get("reliably_worse", np.nan)
    wor = threshold - 1 if pd.isna(wor) and "reliably_worse" in s.index else wor
    p = np.nan
    if pd.notna(imp) and pd.notna(wor) and imp + wor > 0:
        p = float(st.binomtest(int(imp), int(imp + wor)).pvalue)
    return pd.DataFrame({"p_value": np.full(len(pub), p)})


def _holm_published(pub: pd.DataFrame) -> pd.DataFrame:
    """Holm over the published p-values of the secondary rows (the primary keeps its own)."""
    from dapp_eval.estimators.proportions import holm

    p = pd.to_numeric(pub["p_value"], errors="coerce").to_numpy(dtype=float)
    role = pub["role"].astype(str).to_numpy() if "role" in pub else np.array([""] * len(pub))
    sec = np.char.startswith(role.astype(str), "secondary")
    adj = np.where(role == "primary", p, np.nan)
    adj[sec] = holm(np.where(np.isnan(p[sec]), 1.0, p[sec]))  # a p-value not shown counts as 1
    adj[np.isnan(p)] = np.nan
    return pd.DataFrame({"p_value_holm": adj})


def risk_change_roles(t: pd.DataFrame, threshold: int) -> list:
    """What each column of the risk-change table is (issue 26: no estimate from a true count)."""
    prop = t["statistic"].isin(_PROPORTION_STATS).to_numpy()
    labels = [c for c in ("statistic", "role", "population", "_margin") if c in t]
    stats_cols = tuple(c for c in ("estimate", "ci_lower", "ci_upper", "p_value") if c in t)
    roles = [Label(*labels), Count(*[c for c in ("n", "n_total") if c in t]),
             Proportion("n", "n_total", rows=prop),
             Summary(stats_cols, n="n", rows=~prop)]  # means, medians and effect sizes of the people paired
    if "p_value" in t:
        roles.append(Derived(("p_value",), lambda pub: _sign_test(pub, threshold), hidden_ok=True,
                             rows=(t["statistic"] == "reliably_improved").to_numpy()))
    if "p_value_holm" in t:
        roles.append(Derived(("p_value_holm",), _holm_published, hidden_ok=True))
    return roles



def build(page) -> dict:
    from dapp_eval.analyses import risk

    r = page.plan["risk"]
    out = [None,
           page.p(f"{r['instrument']} scores recorded by the {r['informant']} at {r['from']} and {r['to']}. "
              "The DASH checklist is completed by a practitioner with the (ex-)partner: it describes the risk "
              "that person faces, not a trait of the person on the programme. Scores are paired only within the "
              "same instrument and informant.")]
    res = R.risk_change(page)
    if isinstance(res, Exception):
        return {"blocks": out[1:] + [page.na("Risk change", str(res))]}
    s = res.summary
    keep = [c for c in ("statistic", "estimate", "ci_lower", "ci_upper", "p_value", "p_value_holm", "role", "n",
                        "n_total", "population") if c in s]
    t = (s[s["group"] == "all"][keep] if "group" in s else s[keep]).reset_index(drop=True)
    # disclosure (issue 15): rare exit reasons of people with one score are merged rather than withheld
    t = page.dc.merge_small(t.assign(_reason=t["statistic"].str.replace(r"left: .*$", "left", regex=True)),
                            by=["_reason"], level="statistic", where=t["statistic"].str.contains("left: "),
                            name="risk_change").drop(columns="_reason")
    # the three reliable-change categories add up to the people paired: one margin
    rc = t["statistic"].isin(["reliably_improved", "no_reliable_change", "reliably_worse"])
    t["_margin"] = np.where(rc, "reliable change", t.index.astype(str))
    caption = (f"Change in {r['instrument']} score, {r['from']} to {r['to']} (negative = lower risk)")
    if page.is_withheld(caption, page.csv_name("risk_change")):
        out.append(page.withheld_block(caption))
    else:
        shown = publish(t, risk_change_roles(t, page.dc.threshold), page.dc, name=caption)
        out.append(page.shown_table(shown.drop(columns=["_margin"]), caption=caption,
                                    csv_name=page.csv_name("risk_change")))
    bt = page.get("bands", lambda: risk.band_transitions(page.data, instrument=r["instrument"], from_=r["from"],
                                                         to=r["to"], informant=r["informant"], alpha=page.alpha))
    if isinstance(bt, Exception):
        out.append(page.na("Risk bands", str(bt)))
    if not isinstance(bt, Exception):
        tr_shown = page.dc.table(bt.tables["transitions"], name="Risk band at intake and at exit",
                                 margins=[["band_from"], ["band_to"]], label_cols=["band_from", "band_to"])
        out.append(page.shown_table(tr_shown, caption="Risk band at intake and at exit (people)",
                              csv_name=page.csv_name("risk_bands")))
        high = (tr_shown["band_from"] == "high") | (tr_shown["band_to"] == "high")
        if tr_shown.loc[high, "n"].isin([page.dc.marker, "[c]"]).any():
            out.append(page.p("The summary of moves into and out of the high-risk band is not shown: some of the "
                          "cells it is built from hold fewer people than the small-number threshold.", "note"))
        else:
            bs = bt.summary
            bkeep = [c for c in ("statistic", "estimate", "ci_lower", "ci_upper", "p_value", "n", "n_total")
                     if c in bs]
            out.append(page.table(bs[bkeep], caption="Moving out of the high-risk band: shares with their "
                                   "denominators (n_total); mcnemar_exact = share of band changers who left the "
                                   "high band, with the exact McNemar test", name="risk_band_summary",
                                   label_cols=["statistic"], pairs={"n": "n_total"}))
    k = len(out)  # the mixed model and the sensitivity analyses go to the technical annex
    tr = page.get("trajectory", lambda: risk.trajectory(page.data, instrument=r["instrument"],
                                                         informant=r["informant"], alpha=page.alpha))
    if isinstance(tr, Exception):
        out.append(page.na("Mixed model of all timepoints", str(tr)))
    if not isinstance(tr, Exception):
        out.append(page.h3("All timepoints: mixed model"))
        out.append(page.p("A linear mixed model with a random intercept per person uses every score, including "
                      "people seen only at some timepoints; estimated means by timepoint are shown.", "note"))
        tk = [c for c in ("statistic", "timepoint", "estimate", "ci_lower", "ci_upper", "p_value", "n")
              if c in tr.summary]
        out.append(page.table(tr.summary[tk], caption=f"Estimated mean score by timepoint ({page.ci_label})",
                               name="risk_trajectory", label_cols=["statistic", "timepoint"]))
        out.append(page.figure(publish_result(tr, page.dc).plot(), alt=f"Estimated mean {r['instrument']} score at each timepoint with "
                               f"{page.level} confidence intervals, from the mixed model; the numbers are in the table above.",
                               caption="Estimated mean score by timepoint (mixed model)."))
    me = R.missing_exit(page)
    if isinstance(me, Exception):
        out.append(page.na("People without an exit score", str(me)))
    if not isinstance(me, Exception):
        out.append(page.h3("People without an exit score"))
        mk = [c for c in ("method", "statistic", "population", "assumption", "estimate", "ci_lower", "ci_upper",
                          "n", "n_observed") if c in me.summary]
        out.append(_missing_exit_table(page, me.summary[mk]))
    out[k:] = page.annex("Risk: mixed model and missing exit scores", out[k:],
                         what="the mixed model of every timepoint and the sensitivity analyses for people without an "
                              "exit score (weighting for attrition, multiple imputation, tipping point)")
    return {"blocks": out[1:]}




def _missing_exit_table(page, t: pd.DataFrame) -> dict:
    """Complete-case, weighted and imputed estimates through the publication step: the complete-case share
    reliably improved is a proportion of published counts (its estimate and Wilson interval from the true
    counts gave them back); the other estimates are model outputs over the people observed."""
    caption = ("Complete-case, weighted and imputed estimates side by side, with the assumption each makes, and "
               "the tipping point")
    if page.is_withheld(caption, page.csv_name("risk_missing")):
        return page.withheld_block(caption)
    t = t.reset_index(drop=True).copy()
    cc = (t["method"] == "complete case") & (t["statistic"] == "reliably_improved")
    est = pd.to_numeric(t["estimate"], errors="coerce")
    t["n_improved"] = (est * pd.to_numeric(t["n_observed"], errors="coerce")).round().where(cc)
    labels = [c for c in ("method", "statistic", "population", "assumption") if c in t]
    stats = tuple(c for c in ("estimate", "ci_lower", "ci_upper") if c in t)
    roles = [Label(*labels), Count("n", "n_observed", "n_improved"),
             Proportion("n_improved", "n_observed", rows=cc),
             Model(stats, events="n_observed", rows=~cc)]
    shown = publish(t, roles, page.dc, name=caption)
    return page.shown_table(shown.drop(columns=["n_improved"]), caption=caption,
                            csv_name=page.csv_name("risk_missing"))

"""Risk reduction: paired change, reliable change, risk bands, mixed model, missing exit scores."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from dapp_eval.columns import AtPublishedN, Count, Label, Merge, Model, Proportion
from dapp_eval.commissioner.headlines import mean_at_published_n
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._publish import (
    BREAKDOWN_MINIMUM,
    chart_result,
    numbers,
    publish_table,
    published_count,
)
from dapp_eval.results import is_part

TITLE = 'Risk reduction'
#: a part's (a site's, a period's) model not shown, for any reason: one sentence decided by the threshold (its own
#: reasons, "no referral has two scores", said something of every person scored there; issue 26, a21 F1/F3)
_NO_SITE_MISSING = ("shown only where at least {t} people have an exit score and the models can be fitted to "
                    "their data")
_NO_SITE_MODEL = ("shown only where at least {t} people have scores at two or more timepoints and the model can be "
                  "fitted to their data")
_ALL_SITES_HAS_IT = "; the report on all sites has {it}"
PLACEMENT = 'body'


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
    out.append(_risk_change(page, res))
    out += _bands(page)
    k = len(out)  # the mixed model and the sensitivity analyses go to the technical annex
    tr = page.get("trajectory", lambda: risk.trajectory(page.data, instrument=r["instrument"],
                                                         informant=r["informant"], alpha=page.alpha))
    if not _model_shown(page, tr):
        # one sentence for every reason, and no data-quality row: a sentence at a site where nobody had two
        # scores beside a table of '[c]' where one person had told 0 from a few (outside attack a21 F1)
        page.unlist("trajectory")
        out.append(page.na("Mixed model of all timepoints", str(tr) if isinstance(tr, Exception) and not
                           is_part(page.data) else _not_here(page, _NO_SITE_MODEL)))
    else:
        tr = _every_timepoint(tr, page.release.memo("risk timepoints", lambda: risk.timepoints(
            page.full_data, instrument=r["instrument"], informant=r["informant"])))
        out.append(page.h3("All timepoints: mixed model"))
        out.append(page.p("A linear mixed model with a random intercept per person uses every score, including "
                      "people seen only at some timepoints; estimated means by timepoint are shown.", "note"))
        drop = tuple(c for c in ("std_error", "df", "test_statistic", "population") if c in tr.summary)
        block, shown = publish_table(page, tr, caption=f"Estimated mean score by timepoint ({page.ci_label})",
                                     name="risk_trajectory", drop=drop)
        out.append(block)
        if shown is not None:
            out.append(page.figure(chart_result(tr, shown).plot(), alt=f"Estimated mean {r['instrument']} score at each timepoint with "
                               f"{page.level} confidence intervals, from the mixed model; the numbers are in the table above.",
                               caption="Estimated mean score by timepoint (mixed model)."))
    me = R.missing_exit(page)
    if not _missing_shown(page, me):
        # the threshold decides, not whether the models could be fitted: the table came back at 3 exit scores
        # at a site shown '<5', and a sentence below 3 (outside attack a21 F3)
        page.unlist("missing_exit")
        out.append(page.na("People without an exit score", str(me) if isinstance(me, Exception) and not
                           is_part(page.data) else _not_here(page, _NO_SITE_MISSING, "them")))
    else:
        out.append(page.h3("People without an exit score"))
        mk = [c for c in ("method", "statistic", "population", "assumption", "estimate", "ci_lower", "ci_upper",
                          "n", "n_observed", "std_error") if c in me.summary]
        out.append(_missing_exit_table(page, me.summary[mk]))
    out[k:] = page.annex("Risk: mixed model and missing exit scores", out[k:],
                         what="the mixed model of every timepoint and the sensitivity analyses for people without an "
                              "exit score (weighting for attrition, multiple imputation, tipping point)")
    return {"blocks": out[1:]}




def _model_shown(page, tr) -> bool:
    """Whether the mixed model of all timepoints is shown: fitted, and, on a part of the folder (a site, a
    period), with at least the threshold of people scored at two or more timepoints (what the model learns
    change from; a threshold, not whether it could be fitted, decides, so 0 and a few read alike)."""
    if isinstance(tr, Exception):
        return False
    if not is_part(page.data):
        return True
    multi = sum(v for k, v in tr.meta.get("n_scores_per_referral", {}).items() if int(k) >= 2)
    return multi >= page.dc.threshold


def _not_here(page, why: str, it: str = "it") -> str:
    return why.format(t=page.dc.threshold) + (_ALL_SITES_HAS_IT.format(it=it) if page.site is not None else "")


def _missing_shown(page, me) -> bool:
    """Whether the analyses of missing exit scores are shown: fitted, and, on a part of the folder, with at least
    the threshold of people with an exit score."""
    if isinstance(me, Exception):
        return False
    return not is_part(page.data) or int(me.meta.get("n_observed", 0)) >= page.dc.threshold


def _risk_change(page, res) -> dict:
    """The change in score, through the roles the analysis module declares; rare reasons why people have one
    score (mutually exclusive, parts of those with one score) merged rather than withheld (Merge)."""
    from dapp_eval.analyses.risk import MOMENT_COLS, risk_change_roles, with_moments

    r = page.plan["risk"]
    s = res.summary
    keep = [c for c in ("statistic", "estimate", "ci_lower", "ci_upper", "p_value", "p_value_holm", "role", "n",
                        "n_total", "population") if c in s]
    t = (s[s["group"] == "all"][keep] if "group" in s else s[keep]).reset_index(drop=True)
    t = with_moments(t, res.tables["changes"])  # intervals and p-values at the published n (issue 26, F1b)
    one = t["statistic"].str.startswith("one_score: ").to_numpy()
    # the three reliable-change categories add up to the people paired: one margin
    rc = t["statistic"].isin(["reliably_improved", "no_reliable_change", "reliably_worse"])
    t = t.assign(_reason=np.where(one, "one_score", t["statistic"]),
                 _margin=np.where(rc, "reliable change", t.index.astype(str)))
    roles = [*risk_change_roles(t, page.dc.threshold), Merge(by=("_reason",), level="statistic", where=one)]
    caption = f"Change in {r['instrument']} score, {r['from']} to {r['to']} (negative = lower risk)"
    return page.publish(t, roles=roles, caption=caption, name="risk_change",
                        drop=("_margin", "_reason", *MOMENT_COLS))


#: bands below the top one, merged where a page has few people with both scores
LOWER_BANDS = "below high"


def _bands(page) -> list:
    """Risk band at intake and at exit (a cross-table; at a page with fewer than BREAKDOWN_MINIMUM x threshold
    people with both scores, as published, the bands below high are one band), and the summary of moves into
    and out of the high band, shown when the cells it is built from are published."""
    from dapp_eval.analyses import risk

    r = page.plan["risk"]
    bt = page.get("bands", lambda: risk.band_transitions(page.data, instrument=r["instrument"], from_=r["from"],
                                                         to=r["to"], informant=r["informant"], alpha=page.alpha))
    if isinstance(bt, Exception):
        return [page.na("Risk bands", str(bt))]
    tr = bt.tables["transitions"]
    total = published_count(page, float(tr["n"].sum()), name="people with both scores")
    if not total >= BREAKDOWN_MINIMUM * page.dc.threshold:
        tr = (tr.assign(band_from=tr["band_from"].where(tr["band_from"] == "high", LOWER_BANDS),
                        band_to=tr["band_to"].where(tr["band_to"] == "high", LOWER_BANDS))
              .groupby(["band_from", "band_to"], sort=False)["n"].sum().reset_index())
    block, tr_shown = publish_table(page, tr, roles=bt.roles["transitions"], caption="Risk band at intake and at "
                                    "exit (people)", name="risk_bands", margins=[["band_from"], ["band_to"]])
    out = [block]
    if tr_shown is None:
        return out
    high = (tr_shown["band_from"] == "high") | (tr_shown["band_to"] == "high")
    if numbers(tr_shown).loc[high, "n"].isna().any():
        out.append(page.p("The summary of moves into and out of the high-risk band is not shown: some of the "
                          "cells it is built from hold fewer people than the small-number threshold.", "note"))
        return out
    drop = tuple(c for c in ("population", "test", "n_left", "n_entered") if c in bt.summary)
    out.append(page.publish(bt, caption="Moving out of the high-risk band: shares with their denominators "
                            "(n_total); mcnemar_exact = share of band changers who left the high band, with the "
                            "exact McNemar test", name="risk_band_summary", drop=drop))
    return out


#: the complete-case mean change and its t-interval at the published number observed (the headline means' rule)
_CC_MEAN_AT_N = functools.partial(mean_at_published_n, cols=("estimate", "ci_lower", "ci_upper"), sd="_sd")


def _missing_exit_table(page, t: pd.DataFrame) -> dict:
    """Complete-case, weighted and imputed estimates through the publication step: the complete-case share
    reliably improved is a proportion of published counts (its estimate and Wilson interval from the true
    counts gave them back); the other estimates are model outputs over the people observed."""
    caption = ("Complete-case, weighted and imputed estimates side by side, with the assumption each makes, and "
               "the tipping point")
    t = t.reset_index(drop=True).copy()
    cc = (t["method"] == "complete case") & (t["statistic"] == "reliably_improved")
    est = pd.to_numeric(t["estimate"], errors="coerce")
    t["n_improved"] = (est * pd.to_numeric(t["n_observed"], errors="coerce")).round().where(cc)
    labels = [c for c in ("method", "statistic", "population", "assumption") if c in t]
    stats = tuple(c for c in ("estimate", "ci_lower", "ci_upper") if c in t)
    # the complete-case mean change is a t-interval over the people observed: at the published n (issue 26, F1b)
    mean = ((t["method"] == "complete case") & (t["statistic"] == "mean_change")).to_numpy()
    t["_sd"] = (pd.to_numeric(t.get("std_error"), errors="coerce").astype(float)
                * np.sqrt(pd.to_numeric(t["n_observed"], errors="coerce").astype(float))).where(mean)
    roles = [Label(*labels), Count("n", "n_observed", "n_improved"),
             Proportion("n_improved", "n_observed", rows=cc),
             AtPublishedN(stats, _CC_MEAN_AT_N, n="n_observed", inputs=("_sd",), rows=mean),
             Model(stats, events=_sensitivity_events, rows=~cc & ~mean)]
    t = t.drop(columns=[c for c in ("std_error",) if c in t])
    return page.publish(t, roles=roles, caption=caption, name="risk_missing", drop=("n_improved", "_sd"))


def _sensitivity_events(t: pd.DataFrame) -> np.ndarray:
    """The 'events' a weighted or imputed estimate is shown with: none where nobody's exit score is missing (it
    is then the complete-case figure itself, exactly: a weighted share of 0.368 was 7 of 19, attack a19 F1); for
    a share, the fewer of the complete cases who improved and who did not (its numerator and complement, as for
    the complete-case share); else the people observed."""
    n = pd.to_numeric(t["n"], errors="coerce").to_numpy(dtype=float)
    obs = pd.to_numeric(t["n_observed"], errors="coerce").to_numpy(dtype=float)
    cc = ((t["method"] == "complete case") & (t["statistic"] == "reliably_improved")).to_numpy()
    k = pd.to_numeric(t.loc[cc, "n_improved"], errors="coerce").to_numpy(dtype=float)
    k = float(k[0]) if len(k) else np.nan
    share = (t["statistic"] == "reliably_improved").to_numpy()
    ev = np.where(share, np.minimum(k, obs - k), obs)
    return np.where(obs < n, ev, 0.0)


def _every_timepoint(tr, timepoints: list[str]):
    """The mixed model's result with a row of nobody (n 0, no estimate) for each of the release's timepoints with
    no score here: a timepoint missing from a site's table said "no one here was scored at follow-up" (issue 26,
    attack a13 D4)."""
    import copy

    s = tr.summary
    have = set(s["timepoint"])
    missing = [t for t in timepoints if t not in have]
    if not missing:
        return tr
    base = s.loc[s["statistic"] != "emm", "statistic"].iloc[0] if (s["statistic"] != "emm").any() else None
    rows = [{"statistic": st, "timepoint": t, "n": 0, "population": s["population"].iloc[0]}
            for st in ("emm", base) if st is not None for t in missing]
    order = {t: i for i, t in enumerate(timepoints)}
    out = pd.concat([s, pd.DataFrame(rows)], ignore_index=True)
    out["n"] = out["n"].astype("Int64")
    out = out.assign(_s=(out["statistic"] != "emm").astype(int), _t=out["timepoint"].map(order))
    out = out.sort_values(["_s", "_t"], kind="mergesort").drop(columns=["_s", "_t"]).reset_index(drop=True)
    tr = copy.copy(tr)
    tr.summary = out
    return tr

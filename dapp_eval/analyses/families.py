"""Children and partner support: the family around a referral (data contract version 2).

:func:`children` reads ``children.csv`` (one row per child and referral): how
many children are affected, their age bands, and their children's services
plan at referral and 12 months later.  :func:`partner_support` reads
``partner_support.csv`` (one row per supported (ex-)partner and referral):
take-up, contacts, sessions, safety plans, why support closed, and whether
support ran for the length of the perpetrator's programme, as the Home Office
standards ask (partner support alongside every perpetrator intervention).

Examples
--------
>>> from dapp_eval import load_programme
>>> data = load_programme("data_synthetic")
>>> children(data).meta["n_children"]
3318
>>> ps = partner_support(data).summary.set_index("measure")
>>> int(ps.loc["safety_plan", "n"])
960
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.analyses.episodes import programme_status
from dapp_eval.analyses.episodes import require_table as _require
from dapp_eval.columns import Count, Derived, Label, Proportion, Summary
from dapp_eval.data.schema import CHILD_AGE_BANDS, CHILD_PLANS, SUPPORT_CLOSED
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import newcombe_paired_ci, wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, make_meta

__all__ = ["children", "partner_support", "PLAN_LABELS"]

PLAN_LABELS = {"none": "No plan", "child_in_need": "Child in need plan", "child_protection": "Child protection plan",
               "looked_after": "Looked after", "not_recorded": "Not recorded"}
AGE_LABELS = {"under_5": "Under 5", "5_to_10": "5 to 10", "11_to_15": "11 to 15", "16_to_17": "16 to 17"}
_ON_PLAN = ("child_in_need", "child_protection", "looked_after")


def _children_roles() -> list:
    """The plans table: shares of the published counts; the paired difference needs the discordant cells,
    which the table does not hold, so it is not derived from published counts and is withheld."""
    diff = ("difference", "difference_ci_lower", "difference_ci_upper")
    return [Label("measure", "group"), Count("n", "n_at_referral", "n_at_12_months"),
            Proportion("n_at_referral", "n", estimate="estimate_at_referral", ci=None),
            Proportion("n_at_12_months", "n", estimate="estimate_at_12_months", ci=None),
            Derived(diff, _not_derivable)]


def _not_derivable(pub: pd.DataFrame) -> pd.DataFrame:
    """The paired difference and its interval: not derivable from the published counts (withheld)."""
    diff = ["difference", "difference_ci_lower", "difference_ci_upper"]
    return pd.DataFrame(np.nan, index=pub.index, columns=diff)


def _prop_row(measure: str, k: int, n: int, alpha: float, **extra) -> dict:
    lo, hi = wilson_ci(k, n, alpha=alpha) if n else (np.nan, np.nan)
    return {"measure": measure, **extra, "n_yes": int(k), "n": int(n), "estimate": k / n if n else np.nan,
            "ci_lower": float(lo), "ci_upper": float(hi)}


def children(data, *, alpha: float = 0.05) -> AnalysisResult:
    """Children affected and their plans at referral and 12 months later.

    Returns
    -------
    AnalysisResult
        ``summary``: one row per plan measure (on a child protection plan; on any plan) and group
        (all, referral completed, did not complete), among children whose plan is known at both
        times: ``n`` children, ``n_at_referral``, ``n_at_12_months``, ``estimate_at_referral``,
        ``estimate_at_12_months``, ``difference`` with Newcombe's paired interval.
        ``tables["age_bands"]``: distinct children by age band (``n``); ``tables["transitions"]``:
        children by plan at referral and at 12 months (``n``) and group.
        ``meta``: ``n_children`` (distinct), ``n_rows`` (child-referral rows), ``n_referrals_with_children``,
        ``n_plan_known`` (rows with both plans known).
    """
    alpha = check_alpha(alpha)
    ch = _require(data, "children", " (contract version 2: children.csv, one row per child and referral)")
    if not data.folder_rows("children"):  # a site's or period's part of it may be empty: the analysis of nobody
        raise AnalysisError("children.csv holds no rows: the data record no children")
    ref = data.referrals.set_index("referral_id")
    status = programme_status(data.referrals).set_axis(data.referrals["referral_id"])
    group = ch["referral_id"].map(status).map(lambda s: "completed" if s == "completed" else "did not complete")
    first = ch.drop_duplicates("child_id")
    ages = first["age_band"].astype(object).fillna("not_recorded").value_counts()
    age_rows = [{"age_band": AGE_LABELS.get(a, a), "n": int(ages.get(a, 0))} for a in CHILD_AGE_BANDS]
    if ages.get("not_recorded", 0):
        age_rows.append({"age_band": "Not recorded", "n": int(ages["not_recorded"])})
    known = ch["plan_at_referral"].isin(CHILD_PLANS[:4]) & ch["plan_at_12_months"].isin(CHILD_PLANS[:4])
    k = ch[known]
    trans = (k.assign(group=group[known]).groupby(["group", "plan_at_referral", "plan_at_12_months"])
             .size().rename("n").reset_index())
    rows = []
    for grp_name, sel in (("all", np.ones(len(k), dtype=bool)), ("completed", (group[known] == "completed").to_numpy()),
                          ("did not complete", (group[known] != "completed").to_numpy())):
        kk = k[sel]
        for measure, plans in (("child_protection_plan", ("child_protection",)), ("any_plan", _ON_PLAN)):
            a = kk["plan_at_referral"].isin(plans).to_numpy()
            b = kk["plan_at_12_months"].isin(plans).to_numpy()
            n11, n10, n01, n00 = (int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()),
                                  int((~a & ~b).sum()))
            n = len(kk)
            d, lo, hi = newcombe_paired_ci(n11, n10, n01, n00, alpha=alpha) if n else (np.nan,) * 3
            rows.append({"measure": measure, "group": grp_name, "n": n, "n_at_referral": int(a.sum()),
                         "n_at_12_months": int(b.sum()), "estimate_at_referral": a.mean() if n else np.nan,
                         "estimate_at_12_months": b.mean() if n else np.nan, "difference": -d if n else np.nan,
                         "difference_ci_lower": -hi if n else np.nan, "difference_ci_upper": -lo if n else np.nan})
    summary = pd.DataFrame(rows)
    n_ref = int(ch["referral_id"].nunique())
    meta = make_meta(n_in=len(ch), excluded={"plan not yet known at 12 months, or not recorded": int((~known).sum())},
                     unit="child-referral rows", alpha=alpha,
                     method="plans at referral and 12 months later among children whose plan is known at both; "
                            "difference (12 months minus referral) with Newcombe's paired score interval",
                     n_children=int(ch["child_id"].nunique()), n_rows=len(ch), n_referrals_with_children=n_ref,
                     n_plan_known=int(known.sum()), n_referrals=len(ref))
    return AnalysisResult(summary=summary, meta=meta, tables={"age_bands": pd.DataFrame(age_rows),
                                                               "transitions": trans},
                          roles={"summary": _children_roles(), "age_bands": [Label("age_band"), Count("n", total="sum")]},
                          title="Children: plans at referral and 12 months later")


def partner_support(data, *, alpha: float = 0.05) -> AnalysisResult:
    """Partner support: take-up, contacts, sessions, safety plans and duration against the programme.

    Returns
    -------
    AnalysisResult
        ``summary``: proportions, one row per ``measure`` with ``n_yes``, ``n``, ``estimate`` and
        Wilson interval: ``accepted`` (of (ex-)partners offered support, from partners.csv),
        ``safety_plan`` (of supported partners), ``covers_programme`` (support ran until the
        perpetrator left the programme or is still open then, among partners of perpetrators who
        started and have left). ``tables["contacts"]``: mean and median contacts and sessions per
        supported partner, and median weeks of support among closed cases. ``tables["closed"]``:
        closed reasons (``n``).
    """
    alpha = check_alpha(alpha)
    ps = _require(data, "partner_support", " (contract version 2: partner_support.csv)")
    if not data.folder_rows("partner_support"):
        raise AnalysisError("partner_support.csv holds no rows: the data record no partner support")
    rows = []
    prt = data.partners
    if prt is not None and data.folder_rows("partners"):  # a site's part may be empty: the row of nobody
        offered = prt["support_offered"].fillna(False).astype(bool)
        acc = prt.loc[offered, "support_accepted"].fillna(False).astype(bool)
        rows.append(_prop_row("accepted", int(acc.sum()), int(offered.sum()), alpha))
    plan = ps["safety_plan"]
    rows.append(_prop_row("safety_plan", int(plan.fillna(False).astype(bool).sum()), int(plan.notna().sum()), alpha))
    ep = data.referrals.set_index("referral_id")
    start = ps["referral_id"].map(ep["start_date"])
    leave = ps["referral_id"].map(ep["exit_date"])
    left = start.notna() & leave.notna()
    covers = left & (ps["support_end"].isna() | (ps["support_end"] >= leave))
    rows.append(_prop_row("covers_programme", int(covers.sum()), int(left.sum()), alpha))
    closed = ps["support_end"].notna()
    weeks = (ps.loc[closed, "support_end"] - ps.loc[closed, "support_start"]).dt.days / 7
    contacts = pd.DataFrame([
        {"measure": "contacts", "n": int(ps["n_contacts"].notna().sum()),
         "mean": float(ps["n_contacts"].astype(float).mean()), "median": float(ps["n_contacts"].astype(float).median())},
        {"measure": "sessions", "n": int(ps["n_sessions"].notna().sum()),
         "mean": float(ps["n_sessions"].astype(float).mean()), "median": float(ps["n_sessions"].astype(float).median())},
        {"measure": "weeks_supported", "n": int(closed.sum()), "mean": float(weeks.mean()),
         "median": float(weeks.median())},
    ])
    # most frequent first, equal counts by name: not in the order the rows happen to come in
    # every reason, of nobody too (a reason missing at one site said "no one's support there ended so")
    reasons = ps["closed_reason"].astype(object).fillna("still supported").value_counts()
    reasons = reasons.reindex(sorted({*SUPPORT_CLOSED, "still supported", *reasons.index}), fill_value=0)
    reasons = reasons.sort_values(ascending=False, kind="mergesort")
    closed_t = pd.DataFrame({"closed_reason": reasons.index.astype(str), "n": reasons.to_numpy().astype(int)})
    meta = make_meta(n_in=len(ps), excluded={}, unit="supported (ex-)partners", alpha=alpha,
                     method="proportions with Wilson intervals; support covers the programme when it had not "
                            "closed before the perpetrator's exit date",
                     n_supported=len(ps), n_started_and_left=int(left.sum()))
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta, tables={"contacts": contacts, "closed": closed_t},
                          roles={"summary": [Label("measure"), Count("n_yes", "n"), Proportion("n_yes", "n")],
                                 "contacts": [Label("measure"), Count("n"), Summary(("mean",), n="n", moments=("mean",)),
                                              Summary(("median",), n="n", grain=1.0)],
                                 "closed": [Label("closed_reason"), Count("n")]},
                          title="Partner support")

"""Row accounting for every public analysis (issue 7).

Every analysis result's ``.meta`` must say how many rows (of its stated unit)
came in, how many were used and why the rest were not, with
``n_in == n_used + sum(excluded.values())``.  Here each public analysis runs on
the shipped synthetic data and ``n_in`` is checked against an independent
pandas count of the population the analysis declares:

==========================  ===================================================
population                  independent count
==========================  ===================================================
referrals                   rows of referrals.csv (funnel, attrition, compare)
risk referrals, pair        referrals with a practitioner DASH score at intake
                            or exit (risk.change, band_transitions, missing_exit)
risk referrals, any         referrals with any practitioner DASH score
                            (risk.trajectory, high_risk_trajectory)
survey responses            rows of partner_surveys.csv (prevalence, wave_model,
                            feeling_safe, space_for_action)
survey links T1/T4          distinct (partner_id, referral_id) answering T1 or
                            T4 (paired_change, change_views)
partner links               distinct (partner_id, referral_id) in partners.csv
                            (response_rates)
partners rows               rows of partners.csv (partner_support)
people                      distinct participant_id in referrals.csv (followup)
Mirabal measures            the six measures (mirabal_measures)
all rows                    rows of every table present (quality.data_quality)
==========================  ===================================================

:data:`CALLS` is shared with ``test_degenerate.py``; ``test_every_public_analysis_is_covered``
fails when a module gains a public analysis that is not listed here.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings

import pandas as pd
import pytest
from conftest import REFERENCE

from dapp_eval.analyses import attrition, compare, followup, funnel, risk, safety
from dapp_eval.data import quality
from dapp_eval.results import AnalysisResult

MODULES = ("funnel", "attrition", "risk", "safety", "followup", "compare", "quality")
#: public functions of those modules that are helpers, not analyses (they return no AnalysisResult)
NOT_ANALYSES = {"attrition.design_matrix", "safety.newcombe_paired_ci", "safety.newcombe_diff_ci"}


@functools.lru_cache(maxsize=1)
def comparison_cohort():
    """The comparison folder used for followup.matched_comparison (500 people, police records)."""
    from dapp_eval.data.io import load_programme

    return load_programme(REFERENCE / "followup_comparison_fixture")


# ---------------------------------------------------------------------------
# independent counts of each population
# ---------------------------------------------------------------------------


def _dash(data) -> pd.DataFrame:
    ra = data.risk_assessments
    return ra[(ra["instrument"] == "DASH") & (ra["informant"] == "practitioner")]


POPULATIONS = {
    "referrals": lambda d: len(d.referrals),
    "risk referrals, pair": lambda d: _dash(d).loc[_dash(d)["timepoint"].isin(["intake", "exit"]),
                                                 "referral_id"].nunique(),
    "risk referrals, any": lambda d: _dash(d)["referral_id"].nunique(),
    "survey responses": lambda d: len(d.partner_surveys),
    "survey links T1/T4": lambda d: len(d.partner_surveys.loc[d.partner_surveys["wave"].isin(["T1", "T4"]),
                                                              ["partner_id", "referral_id"]].drop_duplicates()),
    "partner links": lambda d: len(d.partners[["partner_id", "referral_id"]].drop_duplicates()),
    "partners rows": lambda d: len(d.partners),
    "people": lambda d: d.referrals["participant_id"].nunique(),
    "Mirabal measures": lambda d: 6,
    "all rows": lambda d: sum(len(t) for t in d.tables().values()),
}

#: test id -> (call on a ProgrammeData, population key).  Each public analysis once;
#: waiting_times and before_after once per stage / design.
CALLS = {
    "funnel.cascade": (lambda d: funnel.cascade(d), "referrals"),
    "funnel.waiting_times[referral_to_assessment]":
        (lambda d: funnel.waiting_times(d, stage="referral_to_assessment"), "referrals"),
    "funnel.waiting_times[assessment_to_start]":
        (lambda d: funnel.waiting_times(d, stage="assessment_to_start"), "referrals"),
    "funnel.waiting_list": (lambda d: funnel.waiting_list(d), "referrals"),
    "funnel.throughput": (lambda d: funnel.throughput(d), "referrals"),
    "funnel.attendance": (lambda d: funnel.attendance(d), "referrals"),
    "funnel.baseline_table": (lambda d: funnel.baseline_table(d), "referrals"),
    "funnel.costs": (lambda d: funnel.costs(d), "referrals"),
    "attrition.episode_times": (lambda d: attrition.episode_times(d), "referrals"),
    "attrition.cumulative_incidence": (lambda d: attrition.cumulative_incidence(d), "referrals"),
    "attrition.completion_rate": (lambda d: attrition.completion_rate(d), "referrals"),
    "attrition.retention_km": (lambda d: attrition.retention_km(d), "referrals"),
    "attrition.dropout_cox": (lambda d: attrition.dropout_cox(d), "referrals"),
    "attrition.fine_gray": (lambda d: attrition.fine_gray(d), "referrals"),
    "attrition.compare_groups": (lambda d: attrition.compare_groups(d), "referrals"),
    "attrition.rmst": (lambda d: attrition.rmst(d), "referrals"),
    "risk.change": (lambda d: risk.change(d), "risk referrals, pair"),
    "risk.band_transitions": (lambda d: risk.band_transitions(d), "risk referrals, pair"),
    "risk.trajectory": (lambda d: risk.trajectory(d), "risk referrals, any"),
    "risk.high_risk_trajectory": (lambda d: risk.high_risk_trajectory(d), "risk referrals, any"),
    "risk.missing_exit": (lambda d: risk.missing_exit(d, m=5), "risk referrals, pair"),
    "safety.prevalence": (lambda d: safety.prevalence(d), "survey responses"),
    "safety.paired_change": (lambda d: safety.paired_change(d), "survey links T1/T4"),
    "safety.wave_model": (lambda d: safety.wave_model(d), "survey responses"),
    "safety.change_views": (lambda d: safety.change_views(d), "survey links T1/T4"),
    "safety.feeling_safe": (lambda d: safety.feeling_safe(d), "survey responses"),
    "safety.space_for_action": (lambda d: safety.space_for_action(d), "survey responses"),
    "safety.response_rates": (lambda d: safety.response_rates(d), "partner links"),
    "safety.partner_support": (lambda d: safety.partner_support(d), "partners rows"),
    "safety.mirabal_measures": (lambda d: safety.mirabal_measures(d), "Mirabal measures"),
    "followup.person_windows": (lambda d: followup.person_windows(d), "people"),
    "followup.before_after[commissioner]": (lambda d: followup.before_after(d, design="commissioner"), "people"),
    "followup.before_after[aligned]": (lambda d: followup.before_after(d, design="aligned"), "people"),
    "followup.repeat_marac": (lambda d: followup.repeat_marac(d), "people"),
    "followup.time_to_incident": (lambda d: followup.time_to_incident(d), "people"),
    "followup.compare_completers": (lambda d: followup.compare_completers(d), "people"),
    "followup.matched_comparison": (lambda d: followup.matched_comparison(d, comparison_cohort()), "people"),
    "followup.recurrent_contacts": (lambda d: followup.recurrent_contacts(d), "people"),
    "compare.weighted_comparison": (lambda d: compare.weighted_comparison(d, comparison_cohort()), "people"),
    "compare.site_funnel": (lambda d: compare.site_funnel(d), "referrals"),
    "quality.data_quality": (lambda d: quality.data_quality(d), "all rows"),
}


def run(name: str, data) -> AnalysisResult:
    """Run one listed analysis, with its warnings silenced (they are not what is tested here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CALLS[name][0](data)


def check_meta(meta: dict) -> None:
    """The row-accounting contract every result must satisfy."""
    for key in ("n_in", "n_used", "excluded", "method", "alpha"):
        assert key in meta, f"meta lacks {key!r}"
    assert isinstance(meta["excluded"], dict)
    assert meta["n_in"] == meta["n_used"] + sum(meta["excluded"].values())
    assert meta["n_used"] >= 0 and all(int(v) > 0 for v in meta["excluded"].values())
    for reason in meta["excluded"]:
        assert isinstance(reason, str) and reason.strip(), f"blank exclusion reason in {meta['excluded']}"
    assert isinstance(meta["method"], str) and meta["method"].strip()
    assert 0 < meta["alpha"] < 0.5


@pytest.mark.parametrize("name", list(CALLS))
def test_row_accounting_on_synthetic_data(name, synthetic_data):
    res = run(name, synthetic_data)
    assert isinstance(res, AnalysisResult)
    check_meta(res.meta)
    population = CALLS[name][1]
    assert res.meta["n_in"] == POPULATIONS[population](synthetic_data), population
    assert res.meta["n_in"] > 0


# ---------------------------------------------------------------------------
# a few exclusions recounted independently
# ---------------------------------------------------------------------------


def test_exclusion_counts_match_the_records(synthetic_data):
    ref = synthetic_data.referrals
    started = ref["start_date"].notna()
    never_started_people = ref["participant_id"].nunique() - ref.loc[started, "participant_id"].nunique()
    for name in ("attrition.cumulative_incidence", "attrition.completion_rate", "attrition.retention_km",
                 "attrition.rmst", "attrition.episode_times"):
        meta = run(name, synthetic_data).meta
        assert meta["excluded"] == {"never started (no start_date)": int((~started).sum())}, name
        assert meta["n_used"] == int(started.sum()), name
    for name in ("followup.before_after[commissioner]", "followup.repeat_marac", "followup.compare_completers"):
        meta = run(name, synthetic_data).meta
        assert meta["excluded"]["never started the programme"] == never_started_people, name
    wl = run("funnel.waiting_list", synthetic_data).meta
    assert wl["n_used"] == int((ref["exit_reason"].isna() & ~started).sum())
    t1 = run("funnel.baseline_table", synthetic_data).meta
    assert t1["excluded"] == {"still attending": int((started & ref["exit_reason"].isna()).sum()),
                              "did not start": int((~started).sum())}
    att = run("funnel.attendance", synthetic_data).meta
    assert att["n_used"] == synthetic_data.sessions["referral_id"].nunique()
    ps = synthetic_data.partner_surveys
    pc = run("safety.paired_change", synthetic_data).meta
    t1_links = set(map(tuple, ps.loc[ps["wave"] == "T1", ["partner_id", "referral_id"]].to_numpy()))
    t4_links = set(map(tuple, ps.loc[ps["wave"] == "T4", ["partner_id", "referral_id"]].to_numpy()))
    assert pc["n_used"] == len(t1_links & t4_links)
    assert pc["excluded"] == {"answered T1 only": len(t1_links - t4_links), "answered T4 only": len(t4_links - t1_links)}


# ---------------------------------------------------------------------------
# the list above is complete
# ---------------------------------------------------------------------------


def public_analyses() -> set[str]:
    """'module.function' for every public function of the analysis modules that returns AnalysisResult."""
    found, unannotated = set(), set()
    for mod_name in MODULES:
        mod = getattr(importlib.import_module("dapp_eval"), mod_name)
        names = set(getattr(mod, "__all__", ())) | {
            n for n, f in inspect.getmembers(mod, inspect.isfunction)
            if f.__module__ == mod.__name__ and not n.startswith("_")}
        for n in sorted(names):
            f = getattr(mod, n)
            if not inspect.isfunction(f):
                continue
            ra = inspect.signature(f).return_annotation
            if ra in ("AnalysisResult", AnalysisResult):
                found.add(f"{mod_name}.{n}")
            elif ra is inspect.Signature.empty:
                unannotated.add(f"{mod_name}.{n}")
    assert unannotated <= NOT_ANALYSES, (
        f"public functions without a return annotation: {sorted(unannotated - NOT_ANALYSES)}; annotate them "
        "(-> AnalysisResult for an analysis, and add it to CALLS) or list them in NOT_ANALYSES")
    return found


def test_every_public_analysis_is_covered():
    covered = {name.split("[")[0] for name in CALLS}
    found = public_analyses()
    assert len(found) >= 37  # introspection really found the analyses
    assert found - covered == set(), f"public analyses missing from CALLS: {sorted(found - covered)}"
    assert covered - found == set(), f"CALLS lists functions that are not public analyses: {sorted(covered - found)}"
    for stage in funnel._WAIT_STAGES:
        assert f"funnel.waiting_times[{stage}]" in CALLS
    for design in followup.DEFAULT_WINDOWS:
        assert f"followup.before_after[{design}]" in CALLS

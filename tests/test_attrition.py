"""dapp_eval.analyses.attrition: episode times, competing exits, dropout models, figures.

A small hand-made programme checks every rule of the time scale against
numbers worked out by hand; a generated synthetic programme checks the models
against the generator's truth. The estimators themselves are checked against R
in tests/test_survival.py.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import SYNTHETIC

from dapp_eval.analyses import attrition as at
from dapp_eval.data.io import load_programme
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators import survival as sv

HEADER = ("referral_id,participant_id,site_id,referral_date,referral_source,programme_name,planned_sessions,gender,"
          "age,ethnicity,employment,prior_da_police_contact,substance_misuse,relationship_to_victim,abuse_types,"
          "n_children,assessment_date,assessment_outcome,start_date,exit_date,exit_reason")
HAND = {
    "sites.csv": """site_id,site_name,programme_model,planned_sessions,annual_cost_gbp,target_completions,period_start,period_end,data_extract_date,incident_data_from
S1,North (synthetic),group,4,,,2024-01-01,2024-06-01,2024-06-30,
S2,South (synthetic),one_to_one,3,,,2024-01-01,2024-06-01,2024-06-30,
""",
    "referrals.csv": HEADER + """
R1,P1,S1,2023-12-01,police,,,male,34,white_british,employed,true,false,partner,physical,1,2023-12-10,suitable,2024-01-01,2024-02-10,completed
R2,P2,S1,2023-12-01,court,,,male,25,asian,unemployed,false,true,ex_partner,verbal,0,2023-12-11,suitable,2024-01-01,2024-02-01,dropped_out
R3,P3,S1,2024-01-05,self,,,male,40,black,employed,false,false,partner,,0,2024-01-10,suitable,,2024-01-30,declined_to_start
R4,P4,S1,2024-02-01,police,,,female,31,white_other,other,true,true,partner,emotional,2,2024-02-10,suitable,2024-03-04,,
R5,P1,S2,2024-01-20,probation,,,male,34,white_british,employed,true,false,partner,physical,1,2024-01-25,suitable,2024-02-05,2024-02-20,excluded
R6,P5,S2,2024-01-20,self,,,male,50,mixed,unknown,,false,partner,,0,2024-01-22,suitable,2024-02-05,2024-02-06,moved_away
R7,P6,S2,2024-01-20,court,,,male,45,white_british,unemployed,true,true,partner,,1,2024-01-30,suitable,2024-02-05,2024-02-26,completed
R8,P7,S1,2024-05-01,police,,,male,29,other,employed,false,false,partner,,0,,,,,
""",
    "sessions.csv": """referral_id,session_number,session_date,session_type,attended
R1,1,2024-01-01,group,true
R1,2,2024-01-08,group,true
R1,3,2024-01-15,group,true
R1,4,2024-01-22,group,true
R2,1,2024-01-01,group,true
R2,2,2024-01-08,group,true
R2,3,2024-01-15,group,false
R4,1,2024-03-04,group,true
R4,2,2024-03-11,group,true
R5,1,2024-02-05,one_to_one,true
R5,2,2024-02-12,one_to_one,true
R6,1,2024-02-05,one_to_one,true
R7,1,2024-02-05,one_to_one,true
R7,2,2024-02-12,one_to_one,true
R7,3,2024-02-19,one_to_one,true
""",
}
# worked out by hand: days from start_date to the last attended session (closed) or the extract date (open)
LAST_SESSION = {"R1": 21, "R2": 7, "R4": 118, "R5": 7, "R6": 0, "R7": 14}
EXIT_DATE = {"R1": 40, "R2": 31, "R4": 118, "R5": 15, "R6": 1, "R7": 21}
OUTCOME = {"R1": "completed", "R2": "dropped_out", "R4": "censored", "R5": "excluded", "R6": "other_exit",
           "R7": "completed"}
SUMMARY_COLUMNS = ["group", "outcome", "time_days", "estimate", "ci_lower", "ci_upper", "n_at_risk"]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hand")
    for name, text in HAND.items():
        (folder / name).write_text(text, encoding="utf-8")
    return load_programme(folder)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A generated programme large enough for the models (3000 referrals, 5 sites)."""
    from dapp_eval import synthetic

    folder = tmp_path_factory.mktemp("synth")
    synthetic.generate(folder, referrals=3000, sites=5, seed=11)
    return load_programme(folder), json.loads((folder / "truth.json").read_text())


def accounting_ok(meta):
    return meta["n_in"] == meta["n_used"] + sum(meta["excluded"].values())


# ---------------------------------------------------------------------------
# episode times
# ---------------------------------------------------------------------------


def test_episode_times_last_session(hand):
    res = at.episode_times(hand)
    ep = res.episodes.set_index("referral_id")
    assert ep["time_days"].to_dict() == LAST_SESSION
    assert ep["outcome"].to_dict() == OUTCOME
    assert res.meta["excluded"] == {"never started (no start_date)": 2}
    assert res.meta["n_in"] == 8 and res.meta["n_used"] == 6 and accounting_ok(res.meta)
    assert res.meta["exit_time"] == "last_session"
    assert dict(zip(res.summary["outcome"], res.summary["n"])) == {
        "completed": 2, "dropped_out": 1, "excluded": 1, "other_exit": 1, "censored": 1}


def test_episode_times_exit_date_option(hand):
    res = at.episode_times(hand, exit_time="exit_date")
    assert res.episodes.set_index("referral_id")["time_days"].to_dict() == EXIT_DATE
    assert "exit_date" in res.meta["method"] or "recorded exit_date" in res.meta["method"]
    with pytest.raises(ValueError, match="exit_time"):
        at.episode_times(hand, exit_time="last_attended")


def test_episode_times_without_sessions_table_use_exit_date(hand):
    import dataclasses

    res = at.episode_times(dataclasses.replace(hand, sessions=None))
    assert res.episodes.set_index("referral_id")["time_days"].to_dict() == EXIT_DATE
    assert res.meta["n_exit_date_fallback"] == 5 and "no sessions table" in res.meta["exit_time_note"]


def test_episode_covariates_follow_truth_coding(hand):
    ep = at.episode_times(hand).episodes.set_index("referral_id")
    X, excluded, dropped = at.design_matrix(ep.reset_index(), programme_model=True)
    # R6 has prior_da_police_contact missing -> excluded; employment 'unknown' codes as 0 (truth.json)
    # every covariate's reason is listed, of nobody too (issue 26: a caption naming only those that occur said "none")
    assert {k: v for k, v in excluded.items() if v} == {"missing prior_da_police_contact": 1}
    assert set(excluded) == {f"missing {c}" for c in at.DEFAULT_COVARIATES}
    full = ep.reset_index()
    assert X.loc[full.index[full["referral_id"] == "R2"][0], "unemployed"] == 1.0
    # closed forms; pytest.approx's default rel=1e-6 is ample
    assert X.loc[full.index[full["referral_id"] == "R1"][0], "wait_per_30d"] == pytest.approx(22 / 30)
    assert X.loc[full.index[full["referral_id"] == "R1"][0], "age_per_10y"] == pytest.approx(3.4)
    assert "programme_model_one_to_one" in X.columns
    assert dropped == []


# ---------------------------------------------------------------------------
# cumulative incidence and completion
# ---------------------------------------------------------------------------


def test_cumulative_incidence_by_hand(hand):
    res = at.cumulative_incidence(hand, at_risk_times=[0, 7, 14])
    assert list(res.summary.columns) == SUMMARY_COLUMNS
    last = res.summary.groupby("outcome").tail(1).set_index("outcome")["estimate"]
    # n = 6: other exit at 0, dropout + exclusion at 7, completions at 14 and 21, one open case
    assert last.to_dict() == pytest.approx({"completed": 1 / 3, "dropped_out": 1 / 6, "excluded": 1 / 6,
                                            "other_exit": 1 / 6})
    at7 = res.summary[(res.summary["time_days"] == 7) & (res.summary["outcome"] == "dropped_out")]
    assert at7["n_at_risk"].item() == 5
    assert res.meta["excluded"] == {"never started (no start_date)": 2} and accounting_ok(res.meta)
    assert res.tests.empty  # no groups, no test
    ar = res.at_risk.set_index("time_days")
    assert ar.loc[0.0, "n_at_risk"] == 6 and ar.loc[0.0, "n_cum_other_exit"] == 1
    assert ar.loc[7.0, "n_cum_exits"] == 3
    assert res.medians["median_days"].isna().all()


def test_cumulative_incidence_equals_survival_module(synth):
    data, _ = synth
    res = at.cumulative_incidence(data, by="site_id")
    ep = at.episode_times(data).episodes
    sub = ep[ep["site_id"] == "S02"]
    aj = sv.aalen_johansen(sub["time_days"], sub["outcome"], censored="censored", causes=list(at.OUTCOMES))
    mine = res.summary[res.summary["group"] == "S02"]
    # the same exact estimator on the same data: assert_allclose's default rtol=1e-7 is ample
    np.testing.assert_allclose(mine["estimate"].to_numpy(), aj["estimate"].to_numpy())
    np.testing.assert_allclose(mine["ci_upper"].to_numpy(), aj["ci_upper"].to_numpy())
    assert set(res.tests["outcome"]) <= set(at.OUTCOMES) and (res.tests["df"] == 4).all()
    gt = sv.grays_test(ep["time_days"], ep["outcome"], ep["site_id"], censored="censored", causes=["completed"])
    # the same exact (non-iterative) test computed two ways: approx's default rel=1e-6
    assert res.tests.set_index("outcome").loc["completed", "statistic"] == pytest.approx(gt["statistic"].item())
    assert accounting_ok(res.meta)


def test_completion_rate_is_cif_at_planned_length(hand):
    res = at.completion_rate(hand, by="site_id")
    s1 = res.summary[res.summary["group"] == "S1"].iloc[0]
    # S1 (4 sessions): horizon (4 + 4) * 7 = 56 days; dropout at 7 then completion at 21 of 3 -> 2/3 * 1/2
    assert s1["horizon_days"] == 56 and s1["estimate"] == pytest.approx(1 / 3)
    assert s1["n"] == 3 and s1["n_completed"] == 1 and s1["raw_ratio"] == pytest.approx(1 / 3)
    s2 = res.summary[res.summary["group"] == "S2"].iloc[0]
    # S2: other exit at 0, exclusion at 7, completion at 14 -> 2/3 * 1/2 * 1 = 1/3
    assert s2["horizon_days"] == 49 and s2["estimate"] == pytest.approx(1 / 3)
    assert s2["ci_lower"] < s2["estimate"] < s2["ci_upper"]
    short = at.completion_rate(hand, by="site_id", grace_weeks=0)
    # S2: completion at 14 days is within 3 weeks; S1 completion at 21 is within 4 weeks
    assert short.summary["estimate"].tolist() == pytest.approx([1 / 3, 1 / 3])


def test_completion_rate_splits_then_pools_planned_lengths(hand):
    res = at.completion_rate(hand)  # S1 plans 4 sessions, S2 plans 3
    assert res.summary["basis"].tolist() == ["split by planned length", "split by planned length",
                                             "pooled (longest planned length)"]
    pooled = res.summary.iloc[-1]
    assert pooled["planned_sessions"] == 4 and pooled["n"] == 6


def test_completion_rate_differs_from_raw_ratio_when_cases_are_open(synth):
    data, _ = synth
    res = at.completion_rate(data, by="site_id")
    s = res.summary
    assert (s["estimate"] >= s["raw_ratio"] - 1e-12).all()  # open cases pull the raw ratio down
    assert (s["n_open"] > 0).any() and (s["estimate"] > s["raw_ratio"] + 0.01).any()


def test_retention_km_is_labelled_and_overstates(hand, synth):
    res = at.retention_km(hand)
    assert "overstates dropout" in res.title and "overstates dropout" in res.meta["method"]
    assert res.summary["outcome"].iloc[0] == "retained (KM, overstates dropout)"
    data, _ = synth
    res = at.retention_km(data, by="programme_model")
    comp = res.comparison
    assert (comp["overstatement"] >= -1e-12).all() and comp["overstatement"].max() > 0.01
    assert res.tests["test"].item() == "log-rank"


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


def test_dropout_cox_recovers_truth(synth):
    data, truth = synth
    res = at.dropout_cox(data)
    s = res.summary.set_index("term")
    for k, v in truth["dropout_log_hr"].items():
        assert abs(s.loc[k, "estimate"] - v) < 3.5 * s.loc[k, "std_error"], k
    assert accounting_ok(res.meta) and res.meta["n_clusters"] < s["n"].iloc[0]
    assert set(res.ph_test["term"]) == set(s.index)
    # the robust standard errors are R's coxph(cluster()) ones (see test_survival), from the lifelines fit
    ep = at.episode_times(data).episodes
    X, _, _ = at.design_matrix(ep)
    V = sv.cluster_robust_variance(ep.loc[X.index, "time_days"], ep.loc[X.index, "outcome"] == "dropped_out",
                                   X, res.model.params_[X.columns].to_numpy(),
                                   res.model.variance_matrix_.loc[X.columns, X.columns].to_numpy(),
                                   ep.loc[X.index, "participant_id"])
    # the same computation on the same fitted coefficients: float rounding only (measured 0)
    np.testing.assert_allclose(s.loc[X.columns, "std_error"], np.sqrt(np.diag(V)), rtol=1e-10)


@pytest.mark.skipif(not (SYNTHETIC / "truth.json").exists(), reason="data_synthetic/ has not been generated")
def test_dropout_cox_on_shipped_synthetic_data(synthetic_data):
    truth = json.loads((SYNTHETIC / "truth.json").read_text())
    s = at.dropout_cox(synthetic_data).summary.set_index("term")
    for k, v in truth["dropout_log_hr"].items():
        assert abs(s.loc[k, "estimate"] - v) < 3.5 * s.loc[k, "std_error"], k


def test_fine_gray_attrition_equals_survival_module(synth):
    data, _ = synth
    res = at.fine_gray(data, covariates=["age_per_10y", "substance_misuse"], programme_model=False)
    ep = at.episode_times(data).episodes
    X, _, _ = at.design_matrix(ep, ["age_per_10y", "substance_misuse"], programme_model=False)
    fit = sv.fine_gray(ep.loc[X.index, "time_days"], ep.loc[X.index, "outcome"], X,
                       cause_of_interest="dropped_out", censored="censored")
    # the same deterministic Newton iteration on the same data: default rtol=1e-7 is ample
    np.testing.assert_allclose(res.summary["estimate"], fit.params_.to_numpy())
    assert res.meta["converged"] and accounting_ok(res.meta)
    assert res.summary["n_events"].iloc[0] == (ep.loc[X.index, "outcome"] == "dropped_out").sum()


def test_models_refuse_bad_options(hand):
    with pytest.raises(ValueError, match="cause"):
        at.dropout_cox(hand, cause="declined")
    with pytest.raises(ValueError, match="unknown covariate"):
        at.dropout_cox(hand, covariates=["shoe_size"])
    with pytest.raises(ValueError, match="alpha"):
        at.cumulative_incidence(hand, alpha=5)
    with pytest.raises(ValueError, match="by="):
        at.cumulative_incidence(hand, by="favourite_colour")


def test_compare_groups_and_rmst(synth, hand):
    data, _ = synth
    res = at.compare_groups(data, by="programme_model")
    assert set(res.summary["test"]) == {"log-rank", "Gray"}
    ep = at.episode_times(data).episodes
    lr = sv.logrank_test(ep["time_days"], ep["outcome"] == "dropped_out", ep["programme_model"])
    got = res.summary.query("test == 'log-rank' and outcome == 'dropped_out'")["statistic"].item()
    # the same exact log-rank test computed two ways: approx's default rel=1e-6
    assert got == pytest.approx(lr["statistic"])
    with pytest.raises(AnalysisError, match="nothing to compare"):
        at.compare_groups(hand.subset(sites=["S1"]), by="site_id")
    r = at.rmst(hand)
    # horizon (4 + 4) * 7 = 56 days; all exits: 0, 7, 7, 14, 21 and one open to 118
    km = sv.rmst([0, 7, 7, 14, 21, 118], [1, 1, 1, 1, 1, 0], horizon=56)
    assert r.summary["horizon_days"].item() == 56
    assert r.summary["estimate"].item() == pytest.approx(km["estimate"])
    r2 = at.rmst(data, by="site_id", horizon_days=120)
    assert len(r2.differences) == 4 and (r2.summary["estimate"] <= 120).all()


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def test_plots_return_axes_with_risk_table(synth, hand):
    data, _ = synth
    res = at.cumulative_incidence(data, by="programme_model")
    ax = res.plot()
    assert ax.get_ylim() == (0.0, 1.0)
    # one "n (exits)" cell per group and time, plus one row header per group
    assert hasattr(ax, "risk_table_ax") and len(ax.risk_table_ax.texts) == len(res.at_risk) + 2
    assert "Gray's test: completed p" in ax.get_title()
    assert len(ax.get_legend().get_texts()) == 2 * 4
    plt.close("all")
    fig, given = plt.subplots()
    ax = at.retention_km(hand).plot(ax=given)
    assert ax is given and any("Overstates dropout" in t.get_text() for t in ax.texts)
    ax2 = at.cumulative_incidence(hand).plot(risk_table_on=False, outcomes=["completed", "dropped_out"])
    assert not hasattr(ax2, "risk_table_ax") and len(ax2.get_legend().get_texts()) == 2
    plt.close("all")


def test_summary_is_tidy_and_counts_named_n(synth):
    data, _ = synth
    res = at.cumulative_incidence(data, by="site_id")
    assert list(res.summary.columns) == SUMMARY_COLUMNS
    assert all(c.startswith("n_") or c in ("group", "time_days") for c in res.at_risk.columns)
    assert isinstance(res.summary["estimate"].iloc[0], float | np.floating)
    assert pd.api.types.is_integer_dtype(res.summary["n_at_risk"])

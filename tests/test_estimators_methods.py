"""Recurrent events, propensity weighting, E-values and interrupted time series against R.

Reference numbers: tests/reference/methods_reference.R on R's own data (survival::bladder2 and cgd,
MatchIt::lalonde, datasets::Seatbelts and Nile). reda, EValue, WeightIt and cobalt are not packaged for
the reference machine, so the script writes their published formulas out in R (the MCF's variance is
also checked there against survival::survfit's robust SE, which it equals to 1e-15).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.estimators import its, recurrent, sensitivity, weighting

REF = "tests/reference"
# Closed forms and exact algorithms (MCF sums, E-values, OLS, weighted means): float rounding only
EXACT = 1e-10
# Newton or IRLS fits (Cox partial likelihood, logistic regression) stopped at 1e-10 / 1e-14 on both sides:
# the coefficients agree to ~1e-13 and their SEs to ~1e-9 relative (R's glm SE uses the last IRLS weights)
FITTED = 1e-7


@pytest.fixture(scope="module")
def ref():
    r = pd.read_csv(f"{REF}/methods_reference.csv")
    return {case: g.set_index("term") for case, g in r.groupby("case")}


@pytest.fixture(scope="module")
def lalonde():
    return pd.read_csv(f"{REF}/methods_lalonde.csv")


PS_COVS = ["age", "educ", "black", "hispan", "married", "nodegree", "re74", "re75"]


# --- mean cumulative function -----------------------------------------------------------------------


@pytest.mark.parametrize("group", [0, 1])
def test_mcf_matches_survfit_and_reda_formula(group):
    cgd = pd.read_csv(f"{REF}/methods_cgd.csv")
    curve = pd.read_csv(f"{REF}/methods_mcf.csv").query("group == @group")
    d = cgd[cgd["treat"] == group]
    r = recurrent.mcf(d["tstart"], d["tstop"], d["status"], d["id"])
    np.testing.assert_array_equal(r.estimate.index.to_numpy(), curve["time"].to_numpy())
    np.testing.assert_array_equal(r.n_risk.to_numpy(), curve["n_risk"].to_numpy())
    np.testing.assert_allclose(r.estimate.to_numpy(), curve["mcf"].to_numpy(), rtol=0, atol=EXACT)
    np.testing.assert_allclose(r.bse.to_numpy(), curve["survfit_std_chaz"].to_numpy(), rtol=0, atol=EXACT)
    # reda::mcf(logConfInt = TRUE): MCF * exp(+-z SE / MCF)
    ci = r.conf_int(0.05)
    z = 1.959963984540054
    f = np.exp(z * curve["se"].to_numpy() / curve["mcf"].to_numpy())
    np.testing.assert_allclose(ci["ci_upper"].to_numpy(), curve["mcf"].to_numpy() * f, rtol=EXACT)
    plain = recurrent.MCFResult(r.estimate, r.bse, r.n_risk, r.n_events, r.n_obs, conf_type="plain").conf_int()
    np.testing.assert_allclose(plain["ci_lower"].to_numpy(), curve["mcf"] - z * curve["se"], rtol=0, atol=EXACT)


def _mcf_dense(start, stop, event, ids):
    """Lawless-Nadeau by the subject x time loop of reda's compute_var_ln (the definition)."""
    start, stop, event, ids = map(np.asarray, (start, stop, event, ids))
    tj = np.unique(stop[event > 0])
    subj = np.unique(ids)
    at = np.array([[np.any((start[ids == i] < t) & (t <= stop[ids == i])) for t in tj] for i in subj], float)
    n = np.array([[event[(ids == i) & (stop == t)].sum() for t in tj] for i in subj], float)
    Y = at.sum(axis=0)
    m = n.sum(axis=0) / Y
    var = np.sum(np.cumsum(at / Y * (n - m), axis=1) ** 2, axis=0)
    return np.cumsum(m), np.sqrt(var), Y


@st.composite
def _recurrent_data(draw):
    n = draw(st.integers(2, 12))
    rows = []
    for i in range(n):
        t0 = draw(st.integers(0, 5))
        cuts = sorted(set(draw(st.lists(st.integers(t0 + 1, 20), min_size=1, max_size=4))))
        prev = t0
        for c in cuts:
            rows.append((prev, c, draw(st.integers(0, 2)), i))
            prev = c
    df = pd.DataFrame(rows, columns=["start", "stop", "event", "id"])
    if df["event"].sum() == 0:
        df.loc[0, "event"] = 1
    return df


@settings(max_examples=60, deadline=None)
@given(_recurrent_data())
def test_mcf_fast_variance_equals_the_definition(df):
    r = recurrent.mcf(df["start"], df["stop"], df["event"], df["id"])
    m, se, Y = _mcf_dense(df["start"], df["stop"], df["event"], df["id"])
    np.testing.assert_allclose(r.estimate.to_numpy(), m, rtol=0, atol=EXACT)
    # the O(n log n) update is an exact rearrangement of the sum of squares: rounding only (compared as
    # variances: a variance of 0 computed as 1e-17 has a square root of 3e-9)
    np.testing.assert_allclose(r.bse.to_numpy() ** 2, se**2, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.n_risk.to_numpy(), Y)
    assert (r.conf_int()["ci_lower"] >= 0).all()


def test_mcf_refuses_gaps_and_bad_intervals():
    with pytest.raises(ValueError, match="contiguous"):
        recurrent.mcf([0, 5], [3, 8], [1, 0], ["a", "a"])
    with pytest.raises(ValueError, match="stop <= start"):
        recurrent.mcf([0, 5], [3, 5], [1, 0], ["a", "b"])
    with pytest.raises(ValueError, match="conf_type"):
        recurrent.mcf([0], [3], [1], ["a"], conf_type="arcsine")


def test_mcf_step_function_at_times():
    r = recurrent.mcf([0, 0, 0], [5, 8, 10], [2, 1, 0], ["a", "b", "c"])
    at = r.at([0, 5, 7, 9])
    np.testing.assert_allclose(at["estimate"], [0, 2 / 3, 2 / 3, 2 / 3 + 1 / 2], rtol=0, atol=EXACT)


# --- Andersen-Gill and LWYY ----------------------------------------------------------------------------


@pytest.mark.parametrize("case,variance,ties", [("ag_bladder2", "model", "efron"),
                                                ("lwyy_bladder2", "robust", "efron"),
                                                ("lwyy_bladder2_breslow", "robust", "breslow")])
def test_rate_model_matches_coxph_counting_process(ref, case, variance, ties):
    b2 = pd.read_csv(f"{REF}/methods_bladder2.csv")
    fit = recurrent.rate_model("~ rx + number + size", b2, start="start", stop="stop", event="event", id="id",
                               variance=variance, ties=ties)
    r = ref[case].loc[["rx", "number", "size"]]
    np.testing.assert_allclose(fit.params.to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=FITTED)
    np.testing.assert_allclose(fit.bse.to_numpy(), r["std_error"].to_numpy(), rtol=FITTED)
    if case == "lwyy_bladder2":
        np.testing.assert_allclose(fit.info["se_model"].to_numpy(), r["extra"].to_numpy(), rtol=FITTED)


def test_lwyy_matches_coxph_cluster_on_cgd(ref):
    cgd = pd.read_csv(f"{REF}/methods_cgd.csv")
    fit = recurrent.rate_model("~ treat + steroids + age", cgd, start="tstart", stop="tstop", event="status",
                               id="id")
    r = ref["lwyy_cgd"].loc[["treat", "steroids", "age"]]
    np.testing.assert_allclose(fit.params.to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=FITTED)
    np.testing.assert_allclose(fit.bse.to_numpy(), r["std_error"].to_numpy(), rtol=FITTED)
    np.testing.assert_allclose(fit.info["se_model"].to_numpy(), r["extra"].to_numpy(), rtol=FITTED)
    assert fit.info["n_subjects"] == 128 and fit.info["n_events"] == 76


def test_rate_model_splitting_rows_changes_nothing():
    # a (start, stop] row cut in two at a time with no event is the same data: same fit, same robust SE
    df = pd.DataFrame({"id": [1, 1, 2, 3, 3, 4, 5], "a": [0, 3, 0, 0, 2, 0, 0], "b": [3, 6, 5, 2, 7, 4, 9],
                       "ev": [1, 0, 1, 1, 1, 0, 1], "x": [1, 1, 0, 1, 1, 0, 0]})
    split = pd.concat([df[df["id"] != 5], pd.DataFrame({"id": [5, 5], "a": [0, 4.5], "b": [4.5, 9], "ev": [0, 1],
                                                        "x": [0, 0]})], ignore_index=True)
    f1 = recurrent.rate_model("~ x", df, start="a", stop="b", event="ev", id="id")
    f2 = recurrent.rate_model("~ x", split, start="a", stop="b", event="ev", id="id")
    np.testing.assert_allclose(f2.params, f1.params, rtol=0, atol=EXACT)
    np.testing.assert_allclose(f2.bse, f1.bse, rtol=0, atol=EXACT)


# --- propensity weights, balance, weighted outcome -----------------------------------------------------------


def test_att_weights_match_glm_and_weightit(ref, lalonde):
    fit = weighting.att_weights(lalonde[PS_COVS], lalonde["treat"])
    r = ref["ps_lalonde"]
    np.testing.assert_allclose(fit.params.to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=FITTED)
    np.testing.assert_allclose(fit.bse.to_numpy(), r["std_error"].to_numpy(), rtol=FITTED)
    w = ref["weights_lalonde"]
    ctrl = lalonde["treat"].to_numpy() == 0
    # sums of ~400 fitted weights: the coefficients' 1e-13 agreement, summed
    np.testing.assert_allclose(fit.info["weights"][ctrl].sum(), w.loc["sum_control_untrimmed", "estimate"], rtol=1e-9)
    np.testing.assert_allclose(fit.info["ess_comparison"], w.loc["ess_control", "estimate"], rtol=1e-9)
    tr = weighting.att_weights(lalonde[PS_COVS], lalonde["treat"], trim=0.99)
    # the same fitted weights (1e-13): the truncation value is one of them, their sum as above
    np.testing.assert_allclose(tr.info["trim_value"], w.loc["sum_control_trimmed", "extra"], rtol=1e-9)
    np.testing.assert_allclose(tr.info["weights"][ctrl].sum(), w.loc["sum_control_trimmed", "estimate"], rtol=1e-9)
    assert tr.info["n_trimmed"] == 4  # 429 comparison weights, type-3 99th centile: the top 4 exceed it
    assert (tr.info["weights"][~ctrl] == 1).all()


def test_balance_table_matches_cobalt_formulas(ref, lalonde):
    covs = ["age", "educ", "black", "hispan", "white", "married", "nodegree", "re74", "re75"]
    w = weighting.att_weights(lalonde[PS_COVS], lalonde["treat"]).info["weights"]
    tab = weighting.balance_table(lalonde[covs], lalonde["treat"], w).set_index("covariate")
    for stage, col in (("balance_un", "before"), ("balance_adj", "after")):
        r = ref[stage].loc[covs]
        # weights carry the logistic fit's 1e-13; differences in means of ~600 rows
        np.testing.assert_allclose(tab[f"diff_{col}"].to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(tab[f"var_ratio_{col}"].to_numpy(), r["extra"].to_numpy(), rtol=1e-9)
    assert (tab.loc[["black", "married"], "type"] == "binary").all()
    assert tab["var_ratio_before"].isna().sum() == 5


def test_weighted_outcomes_match_lm_glm_with_hc0(ref, lalonde):
    w = weighting.att_weights(lalonde[PS_COVS], lalonde["treat"]).info["weights"]
    d = weighting.weighted_outcome(lalonde["re78"], lalonde["treat"], w)
    r = ref["outcome_diff_lalonde"].loc["treat"]
    # earnings in dollars (~1e3): relative agreement of the weights (1e-13) times the scale
    np.testing.assert_allclose(d.params["treat"], r["estimate"], rtol=1e-9)
    np.testing.assert_allclose(d.bse["treat"], r["std_error"], rtol=1e-9)
    for case, trim in (("outcome_ratio_lalonde", None), ("outcome_ratio_lalonde_trimmed", 0.99)):
        wt = weighting.att_weights(lalonde[PS_COVS], lalonde["treat"], trim=trim).info["weights"]
        q = weighting.weighted_outcome(lalonde["any78"], lalonde["treat"], wt, scale="ratio")
        r = ref[case].loc["treat"]
        np.testing.assert_allclose(q.params["treat"], r["estimate"], rtol=0, atol=FITTED)
        np.testing.assert_allclose(q.bse["treat"], r["std_error"], rtol=FITTED)
        assert q.info["ratio"]["estimate"] == pytest.approx(np.exp(q.params["treat"]), rel=1e-12)  # exp of the same


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.booleans()), min_size=6, max_size=40))
def test_att_weights_balance_the_treated_means_exactly_for_a_saturated_score(rows):
    # with one binary covariate the logistic score is saturated: ATT weights reproduce the treated proportion
    x = np.array([float(b) for _, b in rows])
    t = np.array([1.0 if v > 0 else 0.0 for v, _ in rows])
    cells = {(a, b) for a, b in zip(x, t)}
    if len(cells) < 4:  # need both treatment groups in both covariate levels (no separation)
        return
    w = weighting.att_weights(x[:, None], t).info["weights"]
    tab = weighting.balance_table(x[:, None], t, w)
    assert abs(tab["diff_after"].iloc[0]) < 1e-8  # IRLS stopping rule 1e-14 on the deviance, propagated


def test_weighting_refuses_bad_inputs():
    with pytest.raises(ValueError, match="both treated"):
        weighting.att_weights(np.array([[1.0], [2.0]]), [1, 1])
    with pytest.raises(ValueError, match="one value for everyone"):
        weighting.att_weights(np.array([[1.0], [1.0], [1.0], [1.0]]), [1, 0, 1, 0])
    with pytest.raises(ValueError, match="trim"):
        weighting.att_weights(np.array([[1.0], [2.0], [0.0], [3.0]]), [1, 0, 1, 0], trim=0.3)
    with pytest.raises(ValueError, match="positive mean"):
        weighting.weighted_outcome([0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1], scale="ratio")


# --- E-values ------------------------------------------------------------------------------------------------------

E_CASES = [(3.9, 1.8, 8.7), (0.80, 0.71, 0.91), (0.86, 0.75, 1.10), (1.3, 1.02, 1.7)]


@pytest.mark.parametrize("k", range(len(E_CASES)))
def test_evalues_match_evalue_package(ref, k):
    est, lo, hi = E_CASES[k]
    for case, got in (("evalue_rr", sensitivity.evalues_rr(est, lo, hi)),
                      ("evalue_hr_common", sensitivity.evalues_hr(est, lo, hi, rare=False))):
        r = ref[case].loc[f"case{k + 1}", ["estimate", "ci_lower", "ci_upper"]].to_numpy(float)
        e = got.loc["E-value"].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(e), np.isnan(r))
        np.testing.assert_allclose(e[~np.isnan(e)], r[~np.isnan(r)], rtol=0, atol=EXACT)


def test_evalue_non_null_and_published_example(ref):
    e = sensitivity.evalues_rr(2, 1.5, 3, true=1.2).loc["E-value"]
    r = ref["evalue_rr_true1.2"].loc["case1"]
    np.testing.assert_allclose([e["point"], e["lower"]], [r["estimate"], r["ci_lower"]], rtol=0, atol=EXACT)
    # VanderWeele & Ding (2017): breastfeeding RR 3.9 (1.8 to 8.7) -> E-values 7.2 and 3.0 (their rounding)
    e = sensitivity.evalues_rr(3.9, 1.8, 8.7).loc["E-value"]
    assert round(e["point"], 1) == 7.3 and round(e["lower"], 1) == 3.0


@settings(max_examples=100, deadline=None)
@given(st.floats(0.05, 20), st.floats(0.01, 0.5))
def test_evalue_properties(rr, half):
    # symmetric on the log scale, at least 1, growing with distance from the null, interval E-value <= point
    e = sensitivity.evalue_threshold(rr)
    assert e >= 1
    assert e == pytest.approx(sensitivity.evalue_threshold(1 / rr), rel=1e-12)  # 1/x first: rounding only
    lo, hi = rr * np.exp(-half), rr * np.exp(half)
    ev = sensitivity.evalues_rr(rr, lo, hi).loc["E-value"]
    limit = ev["lower"] if rr > 1 else ev["upper"]
    if rr != 1:
        assert 1 <= limit <= e + 1e-12  # rounding


# --- interrupted time series --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case,lag,adjust", [("its_seatbelts_nw3", 3, False), ("its_seatbelts_nw12", 12, False),
                                             ("its_seatbelts_nw3_adjust", 3, True)])
def test_its_matches_lm_and_neweywest_seatbelts(ref, case, lag, adjust):
    sb = pd.read_csv(f"{REF}/methods_seatbelts.csv")
    change = int(np.flatnonzero(sb["law"].to_numpy() == 1)[0])
    fit = its.segmented_regression(sb["drivers"], change, lag=lag, adjust=adjust)
    r = ref[case]
    # deaths per month (~100): OLS by QR, float rounding relative to the scale
    np.testing.assert_allclose(fit.params.to_numpy(), r["estimate"].to_numpy(), rtol=EXACT)
    np.testing.assert_allclose(fit.bse.to_numpy(), r["std_error"].to_numpy(), rtol=EXACT)
    assert fit.df == len(sb) - 4


def test_its_matches_neweywest_nile(ref):
    nile = pd.read_csv(f"{REF}/methods_nile.csv")
    fit = its.segmented_regression(nile["flow"], int(np.flatnonzero(nile["post"].to_numpy() == 1)[0]), lag=2)
    r = ref["its_nile_nw2"]
    np.testing.assert_allclose(fit.params.to_numpy(), r["estimate"].to_numpy(), rtol=EXACT)
    np.testing.assert_allclose(fit.bse.to_numpy(), r["std_error"].to_numpy(), rtol=EXACT)


def test_its_refuses_short_segments_and_gives_default_lag():
    with pytest.raises(ValueError, match="at least 3 periods"):
        its.segmented_regression([1, 2, 3, 4, 5, 6, 7], 2)
    assert its.default_lag(12) == 2 and its.segmented_regression(np.arange(12.0), 6).info["lag"] == 2

"""dapp_eval.estimators.survival against stored R output (survival 3.5-3, cmprsk 2.2-11).

The numbers come from tests/reference/attrition_reference.R (run it with
``Rscript tests/reference/attrition_reference.R`` from the repository root);
these tests only read the stored CSV/JSON files and never need R.
Agreement achieved is ~1e-12 or better; the tolerance asserted is the 1e-6
of the specification.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter

from dapp_eval.estimators import survival as sv

# Absolute tolerance against R, the spec's 1e-6. Exact (non-iterative) algorithms -- Aalen-Johansen,
# Gray's test, Kaplan-Meier, log-rank, RMST, the sandwich at R's coefficients -- agree to ~1e-14 (float
# rounding; R stored with 15 significant digits). Iterative fits agree to ~4e-9: Fine-Gray Newton
# (ours gtol=1e-9, crr gtol=1e-12), lifelines Newton (precision=1e-12) against coxph (eps=1e-9).
TOL = 1e-6


@pytest.fixture(scope="module")
def R():
    return json.loads((REFERENCE / "attrition_reference.json").read_text())


@pytest.fixture(scope="module")
def tied():
    d = pd.read_csv(REFERENCE / "survival_tied_data.csv")
    d["grpB"] = (d["grp"] == "B").astype(float)
    d["grpC"] = (d["grp"] == "C").astype(float)
    return d


@pytest.fixture(scope="module")
def edge():
    return pd.read_csv(REFERENCE / "survival_edge_data.csv")


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(REFERENCE / "survival_rossi.csv")


@pytest.fixture(scope="module")
def curves():
    return pd.read_csv(REFERENCE / "attrition_cuminc_curves.csv", dtype={"group": str, "cause": str})


def test_reference_data_are_tied(tied):
    # the point of the data set: many ties, between events of different causes and censorings
    by_time = tied.groupby("time")["cause"].agg(["size", "nunique"])
    assert (by_time["size"] > 1).mean() > 0.9
    assert (by_time["nunique"] >= 3).sum() >= 5
    assert tied["time"].nunique() < 25 and len(tied) == 300


# ---------------------------------------------------------------------------
# Aalen-Johansen vs cmprsk::cuminc
# ---------------------------------------------------------------------------


def _compare_cuminc(curves, dataset, time, cause, group=None):
    sub = curves[curves["dataset"] == dataset]
    assert len(sub) > 0
    n_checked = 0
    for (g, k), r in sub.groupby(["group", "cause"]):
        m = np.ones(len(time), bool) if group is None else (np.asarray(group) == g)
        aj = sv.aalen_johansen(np.asarray(time)[m], np.asarray(cause)[m], causes=[int(k)])
        # cuminc gives the corners of the step function: take the value after each time
        last = r.groupby("time").tail(1)
        last = last[last["time"] > 0]
        est = sv.step_at(aj["time"], aj["estimate"], last["time"])
        var = sv.step_at(aj["time"], aj["variance"], last["time"])
        np.testing.assert_allclose(est, last["est"], atol=TOL, rtol=0)
        np.testing.assert_allclose(var, last["var"], atol=TOL, rtol=0)
        # relative agreement too: exact algorithm, measured 6e-13 (R's 15 digits, rounding over the steps)
        np.testing.assert_allclose(var, last["var"], rtol=1e-9, atol=1e-15)
        n_checked += len(last)
    return n_checked


def test_aalen_johansen_matches_cuminc_by_group(curves, tied):
    n = _compare_cuminc(curves, "tied_by_grp", tied["time"], tied["cause"], tied["grp"])
    assert n > 80


def test_aalen_johansen_matches_cuminc_overall(curves, tied):
    assert _compare_cuminc(curves, "tied_all", tied["time"], tied["cause"]) > 30


@pytest.mark.parametrize("dataset", ["e1", "e2"])
def test_aalen_johansen_matches_cuminc_edge_cases(curves, edge, dataset):
    e = edge[edge["set"] == dataset]
    assert _compare_cuminc(curves, dataset, e["time"], e["cause"]) > 4


def test_aalen_johansen_hand_computed():
    # times 0 (cause 3), 7 (causes 1 and 2), 14 and 21 (cause 4), 118 censored; n = 6
    t = [0, 7, 7, 14, 21, 118]
    c = ["c", "a", "b", "d", "d", "none"]
    aj = sv.aalen_johansen(t, c, censored="none")
    last = aj.groupby("cause").tail(1).set_index("cause")["estimate"]
    # Aalen-Johansen by hand, closed form; pytest.approx's default rel=1e-6 is ample for float rounding
    assert last.to_dict() == pytest.approx({"a": 1 / 6, "b": 1 / 6, "c": 1 / 6, "d": 1 / 3})
    at7 = aj[aj["time"] == 7].set_index("cause")
    assert at7.loc["a", "n_at_risk"] == 5 and at7.loc["a", "n_event"] == 1 and at7.loc["a", "n_event_any"] == 2


def test_aalen_johansen_reports_requested_cause_without_events():
    aj = sv.aalen_johansen([1, 2, 3], [1, 0, 1], causes=[1, 2])
    assert (aj.loc[aj["cause"] == 2, "estimate"] == 0).all()
    assert (aj.loc[aj["cause"] == 2, "ci_upper"] == 0).all()


def test_aalen_johansen_is_deterministic_and_order_free(tied):
    a = sv.aalen_johansen(tied["time"], tied["cause"])
    perm = np.random.default_rng(3).permutation(len(tied))
    b = sv.aalen_johansen(tied["time"].to_numpy()[perm], tied["cause"].to_numpy()[perm])
    # same exact algorithm on permuted rows: at most the order of a few sums changes (float rounding)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-13, atol=1e-15)


def test_cif_ci_is_loglog_and_inside_unit_interval(tied):
    aj = sv.aalen_johansen(tied["time"], tied["cause"], alpha=0.1)
    f, se = aj["estimate"].to_numpy(), aj["std_error"].to_numpy()
    ok = (f > 0) & (f < 1)
    z = 1.6448536269514722
    lo = f[ok] ** np.exp(z * se[ok] / (f[ok] * np.abs(np.log(f[ok]))))
    np.testing.assert_allclose(aj["ci_lower"].to_numpy()[ok], lo, rtol=1e-12)  # closed form: float rounding
    assert ((aj["ci_lower"] >= 0) & (aj["ci_lower"] <= aj["estimate"]) & (aj["estimate"] <= aj["ci_upper"])
            & (aj["ci_upper"] <= 1)).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=40))
def test_cifs_and_km_add_to_one(obs):
    t = np.array([o[0] for o in obs], float)
    c = np.array([o[1] for o in obs])
    aj = sv.aalen_johansen(t, c, causes=[1, 2, 3])
    km = sv.kaplan_meier(t, c > 0)
    total = aj.groupby("time")["estimate"].sum().to_numpy()
    # exact identity; float rounding accumulated over at most 40 product-limit steps
    np.testing.assert_allclose(total + km["estimate"].to_numpy(), 1.0, atol=1e-12)
    assert (aj["variance"] >= 0).all()


# ---------------------------------------------------------------------------
# Gray's test vs cuminc$Tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("key,kw", [
    ("gray_tests", {}),
    ("gray_tests_strata_x1", {"strata": "x1"}),
    ("gray_tests_rho1", {"rho": 1.0}),
])
def test_grays_test_matches_cuminc(R, tied, key, kw):
    kw = {k: (tied[v] if k == "strata" else v) for k, v in kw.items()}
    res = sv.grays_test(tied["time"], tied["cause"], tied["grp"], **kw)
    ref = pd.DataFrame(R[key])
    np.testing.assert_allclose(res["statistic"], ref["stat"], atol=TOL, rtol=0)
    np.testing.assert_allclose(res["p_value"], ref["pv"], atol=TOL, rtol=0)
    assert res["df"].tolist() == ref["df"].tolist()


def test_grays_test_two_groups(R, tied):
    res = sv.grays_test(tied["time"], tied["cause"], tied["x1"])
    ref = pd.DataFrame(R["gray_tests_two_groups"])
    np.testing.assert_allclose(res["statistic"], ref["stat"], atol=TOL, rtol=0)
    np.testing.assert_allclose(res["p_value"], ref["pv"], atol=TOL, rtol=0)


def test_grays_test_needs_two_groups():
    with pytest.raises(ValueError, match="at least two"):
        sv.grays_test([1, 2], [1, 0], ["a", "a"])


# ---------------------------------------------------------------------------
# Fine-Gray vs cmprsk::crr
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("key,cause,cols", [
    ("crr_cause1", 1, ["x1", "x2", "grpB", "grpC"]),
    ("crr_cause2", 2, ["x1", "x2", "grpB", "grpC"]),
    ("crr_cause1_x1", 1, ["x1"]),
])
def test_fine_gray_matches_crr(R, tied, key, cause, cols):
    fit = sv.fine_gray(tied["time"], tied["cause"], tied[cols], cause_of_interest=cause)
    ref = R[key]
    p = len(cols)
    assert fit.converged  # (R's run with gtol=1e-12 may flag non-convergence at the root itself)
    np.testing.assert_allclose(fit.params_.to_numpy(), ref["coef"], atol=TOL, rtol=0)
    V = np.array(ref["var"]).reshape(p, p)
    np.testing.assert_allclose(fit.variance_matrix_.to_numpy(), V, atol=TOL, rtol=0)
    np.testing.assert_allclose(fit.standard_errors_.to_numpy(), np.sqrt(np.diag(V)), atol=TOL, rtol=0)
    assert fit.log_likelihood_ == pytest.approx(ref["loglik"], abs=TOL)
    np.testing.assert_allclose(fit.event_times_, ref["uftime"])  # the data's own times: exact
    np.testing.assert_allclose(fit.baseline_jumps_, ref["bfitj"], atol=TOL, rtol=0)


def test_fine_gray_agrees_with_crr_defaults_too(R, tied):
    fit = sv.fine_gray(tied["time"], tied["cause"], tied[["x1", "x2", "grpB", "grpC"]])
    np.testing.assert_allclose(fit.params_.to_numpy(), R["crr_cause1_default"]["coef"], atol=TOL, rtol=0)


def test_fine_gray_summary_and_prediction(tied):
    fit = sv.fine_gray(tied["time"], tied["cause"], tied[["x1"]])
    s = fit.summary
    assert list(s.columns) == ["term", "estimate", "std_error", "hr", "ci_lower", "ci_upper", "p_value"]
    assert s.loc[0, "ci_lower"] < s.loc[0, "hr"] < s.loc[0, "ci_upper"]
    pred = fit.predict_cif([0.0])
    # with the covariate at 0 for everyone the prediction is the baseline CIF
    assert pred["estimate"].is_monotonic_increasing and 0 < pred["estimate"].iloc[-1] < 1


def test_fine_gray_without_competing_events_is_cox_breslow(rossi, R):
    # no competing risks and no covariate time functions: crr reduces to a Breslow Cox model
    X = rossi[["fin", "age", "race", "wexp", "mar", "paro", "prio"]]
    fit = sv.fine_gray(rossi["week"], rossi["arrest"], X)
    np.testing.assert_allclose(fit.params_.to_numpy(), R["cox_rossi_breslow"]["coef"], atol=TOL, rtol=0)


# ---------------------------------------------------------------------------
# Cox: lifelines on Rossi, and R's cluster-robust variance under ties
# ---------------------------------------------------------------------------


def test_lifelines_cox_on_rossi_matches_r_and_published(rossi, R):
    cph = CoxPHFitter().fit(rossi, "week", "arrest", fit_options={"precision": 1e-12, "r_precision": 1e-15})
    ref = R["cox_rossi_efron"]
    np.testing.assert_allclose(cph.params_[ref["names"]].to_numpy(), ref["coef"], atol=TOL, rtol=0)
    np.testing.assert_allclose(cph.standard_errors_[ref["names"]].to_numpy(), ref["se"], atol=TOL, rtol=0)
    published = {"fin": -0.3794, "age": -0.0574, "prio": 0.0915}
    for k, v in published.items():
        assert cph.params_[k] == pytest.approx(v, abs=5e-5)  # published to 4 decimals: half a last digit


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cluster_robust_variance_matches_coxph_cluster(R, tied, ties):
    ref = R[f"cox_tied_cluster_{ties}"]
    cols = ["x1", "x2", "grpB", "grpC"]
    V = sv.cluster_robust_variance(tied["time"], tied["cause"] == 1, tied[cols], ref["coef"],
                                   np.array(ref["naive_var"]), tied["id"], ties=ties)
    np.testing.assert_allclose(V, np.array(ref["var"]), atol=TOL, rtol=0)
    np.testing.assert_allclose(np.sqrt(np.diag(V)), ref["robust_se"], atol=TOL, rtol=0)


def test_cluster_robust_variance_from_lifelines_fit_matches_r(R, tied):
    cols = ["x1", "x2", "grpB", "grpC"]
    df = tied[cols].assign(time=tied["time"], event=(tied["cause"] == 1).astype(int))
    cph = CoxPHFitter().fit(df, "time", "event", fit_options={"precision": 1e-12, "r_precision": 1e-15})
    ref = R["cox_tied_cluster_efron"]
    np.testing.assert_allclose(cph.params_[cols].to_numpy(), ref["coef"], atol=TOL, rtol=0)
    V = sv.cluster_robust_variance(df["time"], df["event"], df[cols], cph.params_[cols].to_numpy(),
                                   cph.variance_matrix_.loc[cols, cols].to_numpy(), tied["id"])
    np.testing.assert_allclose(np.sqrt(np.diag(V)), ref["robust_se"], atol=TOL, rtol=0)
    # lifelines' own robust variance ignores the Efron tie correction: visibly different here
    cl = CoxPHFitter().fit(df.assign(id=tied["id"]), "time", "event", cluster_col="id")
    assert np.max(np.abs(cl.standard_errors_[cols].to_numpy() - ref["robust_se"])) > 1e-3


def test_score_residuals_sum_to_score_at_zero():
    rng = np.random.default_rng(2)
    t = rng.integers(1, 6, 60).astype(float)
    e = rng.integers(0, 2, 60)
    X = rng.normal(size=(60, 2))
    res = sv.cox_score_residuals(t, e, X, [0.3, -0.2])
    cph = CoxPHFitter().fit(pd.DataFrame(X, columns=["a", "b"]).assign(t=t, e=e), "t", "e",
                            fit_options={"precision": 1e-12, "r_precision": 1e-15})
    res_hat = sv.cox_score_residuals(t, e, X, cph.params_.to_numpy())
    # the score is zero at the MLE, up to lifelines' stopping rule: it may stop on a Newton decrement
    # g'H^-1 g / 2 < precision=1e-12, i.e. |g| up to ~1e-6 * sqrt(|H|) (H ~ 10s here); measured 5e-7
    np.testing.assert_allclose(res_hat.sum(axis=0), 0.0, atol=1e-5)
    assert np.abs(res.sum(axis=0)).max() > 1e-3


# ---------------------------------------------------------------------------
# Kaplan-Meier, restricted mean, log-rank
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def km_ref():
    return pd.read_csv(REFERENCE / "attrition_km_curves.csv", dtype={"strata": str})


@pytest.mark.parametrize("fit,strata", [("cause1", "all"), ("any", "all"), ("any_by_grp", "A"),
                                        ("any_by_grp", "B"), ("any_by_grp", "C")])
def test_kaplan_meier_matches_survfit(tied, km_ref, fit, strata):
    ref = km_ref[(km_ref["fit"] == fit) & (km_ref["strata"] == strata)]
    m = np.ones(len(tied), bool) if strata == "all" else (tied["grp"] == strata).to_numpy()
    ev = (tied["cause"] == 1) if fit == "cause1" else (tied["cause"] > 0)
    km = sv.kaplan_meier(tied["time"][m], ev[m]).merge(ref, on="time", validate="one_to_one")
    assert len(km) == len(ref)
    assert (km["n_at_risk"] == km["n_risk"]).all() and (km["n_event_x"] == km["n_event_y"]).all()
    for a, b in [("estimate", "surv"), ("std_error", "std_err"), ("ci_lower", "lower"), ("ci_upper", "upper")]:
        np.testing.assert_allclose(km[a], km[b], atol=TOL, rtol=0)


def test_rmst_matches_survfit_rmean(R, tied):
    ref = pd.DataFrame(R["rmean"])
    for r in ref.itertuples():
        ev = (tied["cause"] == 1) if r.fit == "cause1" else (tied["cause"] > 0)
        m = (tied["grp"] == r.strata) if r.fit == "any_by_grp" else np.ones(len(tied), bool)
        res = sv.rmst(tied["time"][m], ev[m], horizon=r.tau)
        assert res["estimate"] == pytest.approx(r.rmean, abs=TOL)
        assert res["std_error"] == pytest.approx(r.se, abs=TOL)


def test_rmst_closed_form_without_censoring():
    # no censoring: RMST = mean of min(T, tau); its variance = var(min(T, tau)) * (n-1)/n / n
    t = np.array([1.0, 2, 2, 4, 7, 9, 12])
    r = sv.rmst(t, np.ones_like(t), horizon=8)
    m = np.minimum(t, 8)
    # closed form; pytest.approx's default rel=1e-6 is ample for float rounding
    assert r["estimate"] == pytest.approx(m.mean())
    assert r["std_error"] == pytest.approx(np.sqrt(m.var(ddof=0) / len(t)))


def test_logrank_matches_survdiff(R, tied, rossi):
    lr = sv.logrank_test(tied["time"], tied["cause"] == 1, tied["grp"])
    ref = R["survdiff_cause1_grp"]
    assert lr["statistic"] == pytest.approx(ref["chisq"], abs=TOL)
    assert lr["p_value"] == pytest.approx(ref["p"], abs=TOL)
    assert lr["df"] == ref["df"]
    np.testing.assert_allclose(lr["table"]["observed"], ref["obs"])  # counts: exact
    np.testing.assert_allclose(lr["table"]["expected"], ref["exp"], atol=TOL)
    lr2 = sv.logrank_test(rossi["week"], rossi["arrest"], rossi["fin"])
    assert lr2["statistic"] == pytest.approx(R["survdiff_rossi_fin"]["chisq"], abs=TOL)


# ---------------------------------------------------------------------------
# small helpers and input checks
# ---------------------------------------------------------------------------


def test_loglog_ci_edges():
    lo, hi = sv.loglog_ci([0.0, 1.0, 0.5], [0.0, 0.0, 0.1])
    assert lo[0] == hi[0] == 0 and lo[1] == hi[1] == 1
    assert lo[2] < 0.5 < hi[2]
    with pytest.raises(ValueError, match="conf_type"):
        sv.loglog_ci([0.5], [0.1], conf_type="arcsine")


def test_step_at():
    assert sv.step_at([1, 3], [0.2, 0.5], [0, 0.99, 1, 2.5, 3, 100]).tolist() == [0, 0, 0.2, 0.2, 0.5, 0.5]


@pytest.mark.parametrize("bad,msg", [
    (dict(time=[1, -2], cause=[1, 0]), "negative"),
    (dict(time=[1, np.nan], cause=[1, 0]), "missing"),
    (dict(time=[], cause=[]), "empty"),
    (dict(time=[1, 2], cause=[1]), "one value per observation"),
    (dict(time=[1, 2], cause=[1, None]), "cause contains missing"),
])
def test_input_checks_name_the_problem(bad, msg):
    with pytest.raises(ValueError, match=msg):
        sv.aalen_johansen(**bad)


def test_alpha_is_checked():
    with pytest.raises(ValueError, match="alpha"):
        sv.aalen_johansen([1, 2], [1, 0], alpha=0.7)
    with pytest.raises(ValueError, match="event must be 0/1"):
        sv.kaplan_meier([1, 2], [2, 0])

"""Public estimators (Cox, count models, paired tests) against R (tests/reference/estimators_reference.R)."""

import numpy as np
import pandas as pd
import pytest

from dapp_eval.estimators import counts, paired, survival

REF = "tests/reference"


@pytest.fixture(scope="module")
def ref():
    r = pd.read_csv(f"{REF}/estimators_reference.csv")
    return {case: g.set_index("term") for case, g in r.groupby("case")}


@pytest.fixture(scope="module")
def quine():
    q = pd.read_csv(f"{REF}/est_quine.csv")
    return q.assign(log_expo=np.log(q["expo"]))


QUINE = "Days ~ Eth + Sex + Age + Lrn"


def _terms(names):
    # patsy names "Eth[T.N]"; R names "EthN"
    return [n.replace("[T.", "").replace("]", "").replace("Intercept", "(Intercept)") for n in names]


def test_cox_matches_coxph(ref):
    lung = pd.read_csv(f"{REF}/est_lung.csv").rename(columns={"ph.ecog": "ph_ecog"})
    m = survival.cox("~ age + sex + ph_ecog", lung, duration="time", event="dead")
    r = ref["cox_lung"].loc[["age", "sex", "ph.ecog"]]
    # both fits converge to 1e-10 or better; 1e-7 allows for the two optimisers' last steps
    np.testing.assert_allclose(m.params.to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(m.bse.to_numpy(), r["std_error"].to_numpy(), rtol=1e-6)


def test_cox_cluster_matches_coxph_cluster(ref):
    # institutions, with every 7th patient in a cluster of their own: clusters of size one
    lung = pd.read_csv(f"{REF}/est_lung.csv").rename(columns={"ph.ecog": "ph_ecog"})
    assert (lung.groupby("cl").size() == 1).sum() == 32
    m = survival.cox("~ age + sex + ph_ecog", lung, duration="time", event="dead", cluster="cl")
    r = ref["cox_lung_cluster"].loc[["age", "sex", "ph.ecog"]]
    # same convergence argument as above; the robust SE is a smooth function of beta
    np.testing.assert_allclose(m.bse.to_numpy(), r["std_error"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.info["se_naive"].to_numpy(), r["extra"].to_numpy(), rtol=1e-6)


def test_cox_refuses_all_censored():
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "d": [0, 0, 0], "x": [0.0, 1.0, 0.0]})
    with pytest.raises(ValueError, match="all observations are censored"):
        survival.cox("~ x", df, duration="t", event="d")
    with pytest.raises(ValueError, match="right-hand side"):
        survival.cox("t ~ x", df, duration="t", event="d")


@pytest.mark.parametrize("case,kw", [
    ("poisson_model", {"cov_type": "nonrobust"}),
    ("poisson_HC1_cluster", {"cluster": "cl", "cov_type": "HC1"}),
    ("poisson_HC0_cluster", {"cluster": "cl", "cov_type": "HC0"}),
    ("poisson_HC1_rows", {"cov_type": "HC1"}),
])
def test_poisson_matches_glm_and_vcovCL(ref, quine, case, kw):
    m = counts.count_model(QUINE, quine, offset="log_expo", **kw)
    r = ref[case].loc[_terms(m.params.index)]
    # IRLS to 1e-12 (statsmodels) vs 1e-14 (R): coefficients agree to ~1e-12; 1e-9 leaves room across CPUs
    np.testing.assert_allclose(m.params.to_numpy(), r["estimate"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(m.bse.to_numpy(), r["std_error"].to_numpy(), rtol=1e-8)


def test_hc0_is_smaller_than_hc1_by_the_documented_factor(quine):
    h1 = counts.count_model(QUINE, quine, offset="log_expo", cluster="cl", cov_type="HC1")
    h0 = counts.count_model(QUINE, quine, offset="log_expo", cluster="cl", cov_type="HC0")
    n, k = len(quine), len(h1.params)
    # HC1 / HC0 = sqrt((N-1)/(N-K)) exactly (both carry G/(G-1))
    np.testing.assert_allclose(h1.bse / h0.bse, np.sqrt((n - 1) / (n - k)), rtol=1e-12)


def test_negbin_matches_glm_nb(ref, quine):
    m = counts.count_model(QUINE, quine, offset="log_expo", family="negbin", cov_type="nonrobust")
    r = ref["negbin_model"]
    # theta by ML in both: statsmodels Newton to 1e-12 vs glm.nb's alternation to 1e-14; measured 1e-9
    assert 1 / m.nb_alpha == pytest.approx(r.loc["theta", "estimate"], rel=1e-6)
    rr = r.loc[_terms(m.params.index)]
    np.testing.assert_allclose(m.params.to_numpy(), rr["estimate"].to_numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(m.bse.to_numpy(), rr["std_error"].to_numpy(), rtol=1e-6)  # iterative fit (IRLS, statsmodels tol 1e-8 vs glm.nb epsilon 1e-8): 1e-6 on the SEs


def _fit_weighted(quine, w, **kw):
    from dapp_eval.estimators._base import design_from_formula

    y, X, names, _ = design_from_formula(QUINE, quine)
    cl = quine["cl"].to_numpy() if kw.pop("clustered", False) else None
    return counts.fit_count_model(y, X, offset=quine["log_expo"].to_numpy(), cluster=cl, names=names,
                                  freq_weights=w, **kw)


@pytest.mark.parametrize("case,kw", [
    ("poisson_model", {"cov_type": "nonrobust"}),
    ("poisson_HC1_cluster", {"clustered": True, "cov_type": "HC1"}),
    ("poisson_HC0_cluster", {"clustered": True, "cov_type": "HC0"}),
    ("poisson_HC1_rows", {"cov_type": "HC1"}),
    ("negbin_model", {"family": "negbin", "cov_type": "nonrobust"}),
])
def test_frequency_weights_of_one_match_r(ref, quine, case, kw):
    m = _fit_weighted(quine, np.ones(len(quine)), **kw)
    r = ref[case]
    rr = r.loc[_terms(m.params.index)]
    # the same iterative fits as the unweighted tests above (IRLS; for NB2 alpha by root finding to 1e-14
    # in log alpha against glm.nb's 1e-14): the same tolerances, 1e-6 for the negative binomial
    tol = 1e-6 if case == "negbin_model" else 1e-8
    np.testing.assert_allclose(m.params.to_numpy(), rr["estimate"].to_numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(m.bse.to_numpy(), rr["std_error"].to_numpy(), rtol=tol)
    if case == "negbin_model":
        assert 1 / m.nb_alpha == pytest.approx(r.loc["theta", "estimate"], rel=1e-6)  # (as test_negbin_matches_glm_nb)


@pytest.mark.parametrize("family,cov_type", [("poisson", "HC1"), ("poisson", "HC0"), ("negbin", "nonrobust"),
                                             ("negbin", "HC1")])
def test_frequency_weights_equal_the_expanded_data(quine, family, cov_type):
    # every cluster (school class) repeated 1-3 times as new clusters = the original rows with weights 1-3
    codes = pd.factorize(quine["cl"])[0]
    w = (codes % 3 + 1).astype(float)
    big = pd.concat([quine.assign(cl=quine["cl"].astype(str) + f"_{k}")[w > k] for k in range(3)],
                    ignore_index=True)
    full = counts.count_model(QUINE, big, offset="log_expo", cluster="cl", family=family, cov_type=cov_type)
    coll = _fit_weighted(quine, w, clustered=True, family=family, cov_type=cov_type)
    assert (coll.n_obs, coll.n_clusters) == (full.n_obs, full.n_clusters) == (len(big), big["cl"].nunique())
    # the same likelihood and sandwich; both fits iterate (IRLS to 1e-12, alpha by Newton vs root finding):
    # measured 1e-10 (NB, relative); 1e-7 is the margin
    np.testing.assert_allclose(coll.params.to_numpy(), full.params.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(coll.bse.to_numpy(), full.bse.to_numpy(), rtol=1e-7)
    if family == "negbin":
        assert coll.nb_alpha == pytest.approx(full.nb_alpha, rel=1e-7)  # (same)
    with pytest.raises(ValueError, match="same on every row of a cluster"):
        _fit_weighted(quine, np.arange(len(quine)) % 2 + 1.0, clustered=True, family=family, cov_type=cov_type)


def test_rate_ratios_and_bad_input(quine):
    m = counts.count_model(QUINE, quine, offset="log_expo", cluster="cl")
    np.testing.assert_allclose(m.rate_ratios["rate_ratio"], np.exp(m.params), rtol=1e-14)  # exp of the same numbers: float rounding only
    with pytest.raises(ValueError, match="family"):
        counts.count_model(QUINE, quine, family="zip")
    with pytest.raises(ValueError, match="cov_type"):
        counts.count_model(QUINE, quine, cov_type="HC3")
    with pytest.raises(KeyError, match="'nope'"):
        counts.count_model(QUINE, quine, cluster="nope")


def test_paired_tests_match_t_test_and_wilcox_test(ref):
    sleep = pd.read_csv(f"{REF}/est_sleep.csv")
    x1 = sleep.loc[sleep["group"] == 1, "extra"].to_numpy()
    x2 = sleep.loc[sleep["group"] == 2, "extra"].to_numpy()
    t = paired.paired_t(x1, x2)
    r = ref["sleep_t"].loc["mean_change"]
    # closed forms in both; 1e-12 is double rounding
    for ours, theirs in (("estimate", "estimate"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"),
                         ("statistic", "statistic"), ("p_value", "p_value"), ("df", "df")):
        assert t[ours] == pytest.approx(r[theirs], rel=1e-10)
    w = paired.wilcoxon_signed_rank(x1, x2)
    rw = ref["sleep_wilcoxon"].loc["V"]
    assert w["statistic"] == rw["estimate"]
    assert w["p_value"] == pytest.approx(rw["p_value"], rel=1e-10)  # normal approximation, same formula
    tab = paired.paired_score_change(x1, x2)
    assert tab.set_index("statistic").loc["mean_change", "p_value"] == pytest.approx(r["p_value"], rel=1e-10)


def test_reliable_change_index_closed_form():
    # Jacobson & Truax (1991): S_diff = sqrt(2 * SEM^2), SEM = SD sqrt(1 - r)
    rci = paired.reliable_change_index([30.0], [20.0], sd=7.5, reliability=0.88)
    assert rci[0] == pytest.approx(-10 / np.sqrt(2 * (7.5 * np.sqrt(0.12)) ** 2), rel=1e-14)
    with pytest.raises(ValueError, match="s_diff, or sd and reliability"):
        paired.reliable_change_index([1.0], [2.0])
    with pytest.raises(ValueError, match="missing"):
        paired.paired_t([1.0, np.nan], [2.0, 3.0])


def test_survival_plots_take_estimator_curves():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dapp_eval.analyses import plotting
    from dapp_eval.estimators import aalen_johansen, kaplan_meier

    t = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    cause = np.array([1, 2, 0, 1, 2, 1, 0, 1])
    aj = aalen_johansen(t, cause)
    ax = plotting.plot_cumulative_incidence(aj)
    # one step line per cause, ending at the estimator's last value
    lines = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    assert len(lines) == 2
    last = aj.groupby("cause")["estimate"].last()
    assert sorted(ln.get_ydata()[-1] for ln in lines) == pytest.approx(sorted(last), abs=1e-12)  # the plotted data are the estimator output itself: float identity
    plt.close(ax.figure)
    km = kaplan_meier(t, (cause > 0).astype(int))
    ax = plotting.plot_km(km)
    assert ax.get_lines()[0].get_ydata()[-1] == pytest.approx(km["estimate"].iloc[-1], abs=1e-12)  # the plotted data are the estimator output itself: float identity
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="needs column 'estimate'"):
        plotting.plot_km(km.drop(columns="estimate"))


# ---------------------------------------------------------------------------
# survival edge cases (tests/reference/estimators_edge_reference.R): events of both causes at time 0, tied
# times with both exit types and censorings, a group in which everybody is censored
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge():
    return pd.read_csv(f"{REF}/estimators_edge_data.csv")


@pytest.mark.parametrize("group", ["A", "B", "C"])
def test_aalen_johansen_edge_cases_match_cuminc(edge, group):
    curves = pd.read_csv(f"{REF}/estimators_edge_curves.csv")
    z = edge[edge["group"] == group]
    for cause in (1, 2):
        r = curves[(curves["group"] == group) & (curves["cause"] == cause)].groupby("time").tail(1)
        aj = survival.aalen_johansen(z["time"], z["cause"], causes=[cause])
        est = survival.step_at(aj["time"], aj["estimate"], r["time"])
        var = survival.step_at(aj["time"], aj["variance"], r["time"])
        # the same closed-form recursion as cmprsk's Fortran: agreement to rounding (measured 1e-16)
        np.testing.assert_allclose(est, r["est"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(var, r["var"], rtol=0, atol=1e-12)
    if group == "C":  # everybody censored: both curves stay at zero
        assert (aj["estimate"] == 0).all()


def test_grays_test_with_an_all_censored_group(edge):
    r = pd.read_csv(f"{REF}/estimators_edge_tests.csv").set_index("cause")
    g = survival.grays_test(edge["time"], edge["cause"], edge["group"]).set_index("cause")
    # crstm's statistic and chi-square p-value: same algebra, 1e-10 relative
    np.testing.assert_allclose(g.loc[[1, 2], "statistic"], r.loc[[1, 2], "stat"], rtol=1e-10)
    np.testing.assert_allclose(g.loc[[1, 2], "p_value"], r.loc[[1, 2], "p_value"], rtol=1e-10)
    assert (g.loc[[1, 2], "df"] == r.loc[[1, 2], "df"]).all()


def test_kaplan_meier_with_events_at_time_zero(edge):
    r = pd.read_csv(f"{REF}/estimators_edge_km.csv")
    km = survival.kaplan_meier(edge["time"], (edge["cause"] > 0).astype(int))
    m = km.set_index("time").loc[r["time"]]
    assert m["n_at_risk"].tolist() == r["n_risk"].tolist()
    # product-limit and log-log limits in closed form on both sides: rounding only
    np.testing.assert_allclose(m["estimate"], r["surv"], rtol=0, atol=1e-12)
    ok = r["lower"].notna()
    np.testing.assert_allclose(m["ci_lower"][ok.to_numpy()], r["lower"][ok], rtol=0, atol=1e-10)
    np.testing.assert_allclose(m["ci_upper"][ok.to_numpy()], r["upper"][ok], rtol=0, atol=1e-10)  # closed form on both sides (log-log limits): rounding only
    assert m["estimate"].iloc[0] == pytest.approx(37 / 40, abs=1e-15)  # three events at time 0 among 40

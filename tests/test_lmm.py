"""dapp_eval.estimators.lmm: exact REML against lme4 / lmerTest / emmeans references and closed forms.

References: tests/reference/risk_reference.json, made by risk_reference.R from
risk_lmm_data.csv (written by risk_make_data.py).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from dapp_eval.estimators.lmm import RandomInterceptLMM, design_matrix

TPS = ["intake", "midpoint", "exit"]


@pytest.fixture(scope="module")
def ref():
    with open(REFERENCE / "risk_reference.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def lmm_data():
    return pd.read_csv(REFERENCE / "risk_lmm_data.csv")


@pytest.fixture(scope="module")
def fixed_site_fit(lmm_data):
    X = design_matrix(lmm_data, ["timepoint", "site"], levels={"timepoint": TPS})
    return RandomInterceptLMM().fit(lmm_data["score"], X, lmm_data["id"])


@pytest.fixture(scope="module")
def random_site_fit(lmm_data):
    X = design_matrix(lmm_data, ["timepoint"], levels={"timepoint": TPS})
    return RandomInterceptLMM(site_effect=True).fit(lmm_data["score"], X, lmm_data["id"], lmm_data["site"])


def test_reference_data_is_unbalanced(lmm_data):
    sizes = lmm_data.groupby("id").size()
    assert set(sizes) == {1, 2, 3}  # people with one, two and three scores


def test_design_matrix_matches_r_names(lmm_data, ref):
    X = design_matrix(lmm_data, ["timepoint", "site"], levels={"timepoint": TPS})
    r_names = ref["lmm_fixed_site"]["coef_names"]
    ours = [c.replace("[T.", "").replace("]", "") for c in X.columns]
    assert ours == [n.replace("(Intercept)", "Intercept") for n in r_names]


@pytest.mark.parametrize("key,fixture", [("lmm_fixed_site", "fixed_site_fit"),
                                         ("lmm_random_site", "random_site_fit")])
def test_matches_lme4_reml(key, fixture, ref, request):
    m = request.getfixturevalue(fixture)
    r = ref[key]
    # Iterative fits on both sides: ours Brent on log(theta) (xatol=1e-11), lme4 bobyqa with rhoend=1e-12.
    # The REML criterion is flat at its minimum, so theta is pinned only to ~1e-8: measured theta 2.5e-8,
    # beta and SEs < 1e-8, variances 2e-7, the criterion itself (stationary there) 5e-12.
    # 1e-6 (1e-5 for theta and the variances) is the spec's margin over that.
    np.testing.assert_allclose(m.params_.to_numpy(), r["fixef"], atol=1e-6)
    np.testing.assert_allclose(m.bse_.to_numpy(), r["se"], atol=1e-6)
    np.testing.assert_allclose(m.cov_params_.to_numpy(), np.array(r["vcov"]), atol=1e-6)
    np.testing.assert_allclose(m.theta_, np.atleast_1d(r["theta"]), atol=1e-5)  # (as above)
    assert m.sigma2_ == pytest.approx(r["sigma"] ** 2, abs=1e-6)  # (as above)
    np.testing.assert_allclose(m.variance_components_["variance"].to_numpy(), r["varcomp"], atol=1e-5)  # (same)
    assert m.reml_criterion_ == pytest.approx(r["remlcrit"], abs=1e-6)  # (as above)


@pytest.mark.parametrize("key,fixture", [("lmm_fixed_site", "fixed_site_fit"),
                                         ("lmm_random_site", "random_site_fit")])
def test_satterthwaite_df_matches_lmertest(key, fixture, ref, request):
    m = request.getfixturevalue(fixture)
    s = m.summary
    # numerical derivatives: our central differences (step 1e-4 * max(|phi|, 0.1)) against lmerTest's
    # numDeriv Hessian/Jacobian of the REML deviance in (theta, sigma); they differ by 2.5e-5 and the
    # difference moves with BLAS/CPU (issue #13 failed at rtol=2e-5), so about 1e-4 is what is determined
    np.testing.assert_allclose(s["df"].to_numpy(), ref[key]["df"], rtol=1e-4)


def test_reml_criterion_is_the_minimum(random_site_fit):
    m = random_site_fit
    best = m.reml_deviance(m.theta_)
    for dt in ([1e-3, 0], [-1e-3, 0], [0, 1e-3], [0, -1e-3]):
        assert m.reml_deviance(m.theta_ + np.array(dt)) > best


def test_balanced_one_way_anova_closed_form():
    # balanced random-intercept model with only an intercept: REML = ANOVA estimators
    rng = np.random.default_rng(3)
    g, k = 40, 4
    grp = np.repeat(np.arange(g), k)
    y = 5 + rng.normal(0, 2, g)[grp] + rng.normal(0, 1, g * k)
    m = RandomInterceptLMM().fit(y, np.ones((g * k, 1)), grp)
    means = pd.Series(y).groupby(grp).mean().to_numpy()
    msw = ((y - means[grp]) ** 2).sum() / (g * (k - 1))
    msb = k * ((means - y.mean()) ** 2).sum() / (g - 1)
    # closed form vs an iterative fit: the REML criterion is flat at its minimum, so Brent's method
    # (xatol=1e-11 on log theta) finds theta only to ~sqrt(machine eps); measured 2e-8 on sigma2 and
    # 7e-8 on the person variance (was rel=1e-7 for sigma2: too close); rel=1e-6 for both
    assert m.sigma2_ == pytest.approx(msw, rel=1e-6)
    assert m.variance_components_.loc[0, "variance"] == pytest.approx((msb - msw) / k, rel=1e-6)
    assert m.params_.iloc[0] == pytest.approx(y.mean(), rel=1e-12)  # balanced: GLS = grand mean for any theta
    assert m.bse_.iloc[0] == pytest.approx(np.sqrt(msb / (g * k)), rel=1e-6)  # depends on theta: as above


def test_no_between_group_variance_gives_ols_on_the_boundary():
    # group means vary less than chance: REML puts the person variance at zero
    rng = np.random.default_rng(11)
    grp = np.repeat(np.arange(30), 2)
    e = rng.normal(0, 1, 60)
    e = e - pd.Series(e).groupby(grp).transform("mean").to_numpy()  # no between-group spread at all
    y = 3 + e
    X = np.column_stack([np.ones(60), np.tile([0.0, 1.0], 30)])
    m = RandomInterceptLMM().fit(y, X, grp)
    assert m.theta_[0] == 0.0
    assert m.singular_
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    # theta is exactly 0, so both are OLS (closed form): float rounding of a 2-column solve only
    np.testing.assert_allclose(m.params_.to_numpy(), beta, atol=1e-10)


def test_order_of_rows_does_not_matter(lmm_data, fixed_site_fit):
    shuffled = lmm_data.sample(frac=1.0, random_state=4)
    X = design_matrix(shuffled, ["timepoint", "site"], levels={"timepoint": TPS})
    m = RandomInterceptLMM().fit(shuffled["score"], X, shuffled["id"])
    # same iterative fit on permuted rows: the sums differ in rounding, and Brent (xatol=1e-11 on log theta)
    # may stop elsewhere on the rounding-flat REML minimum (theta ~1e-8 apart, beta ~1e-9); was 1e-9
    np.testing.assert_allclose(m.params_.to_numpy(), fixed_site_fit.params_.to_numpy(), atol=1e-7)


def test_contrast_asymptotic_and_conf_int(fixed_site_fit):
    c = fixed_site_fit.contrast(np.eye(len(fixed_site_fit.params_))[:1], df="asymptotic")
    se = fixed_site_fit.bse_.iloc[0]
    # closed form; 1.959963985 is the normal quantile to 10 digits (2.3e-10 relative error)
    assert c["ci_upper"].iloc[0] - c["estimate"].iloc[0] == pytest.approx(1.959963985 * se, rel=1e-8)
    ci = fixed_site_fit.conf_int(0.05)
    assert list(ci.columns) == ["ci_lower", "ci_upper"]


def test_input_checks(lmm_data):
    X = design_matrix(lmm_data, ["timepoint"], levels={"timepoint": TPS})
    bad_sites = lmm_data["site"].where(lmm_data.index % 7 != 0, "S9")  # some people in two sites
    with pytest.raises(ValueError, match="nested"):
        RandomInterceptLMM(site_effect=True).fit(lmm_data["score"], X, lmm_data["id"], bad_sites)
    with pytest.raises(ValueError, match="rank deficient"):
        RandomInterceptLMM().fit(lmm_data["score"], np.column_stack([X, X.iloc[:, 1]]), lmm_data["id"])
    with pytest.raises(ValueError, match="site labels"):
        RandomInterceptLMM(site_effect=True).fit(lmm_data["score"], X, lmm_data["id"])
    with pytest.raises(ValueError, match="finite"):
        RandomInterceptLMM().fit(lmm_data["score"].where(lmm_data.index > 0), X, lmm_data["id"])
    with pytest.raises(ValueError, match="levels"):
        design_matrix(lmm_data, ["timepoint"], levels={"timepoint": ["intake", "exit"]})


def test_large_data_runs_quickly_enough_to_use():
    # 20,000 people x 3 timepoints (not timed; just exercising the vectorised path)
    rng = np.random.default_rng(8)
    n = 20_000
    grp = np.repeat(np.arange(n), 3)
    site = rng.integers(0, 8, n)[grp]
    t = np.tile([0, 1, 2], n)
    y = 12 + rng.normal(0, 1, 8)[site] + rng.normal(0, 3, n)[grp] - 1.5 * t + rng.normal(0, 2, 3 * n)
    keep = rng.random(3 * n) > 0.15
    X = np.column_stack([np.ones(keep.sum()), t[keep] == 1, t[keep] == 2]).astype(float)
    m = RandomInterceptLMM(site_effect=True).fit(y[keep], X, grp[keep], site[keep])
    # sampling error against the simulated truth (seeded): SE ~0.024 for the exit effect (about 14,500
    # people with both scores, residual SD 2) and ~0.11 for the person variance 9; ~4 and ~8 SE
    assert m.params_.iloc[2] == pytest.approx(-3.0, abs=0.1)
    assert m.variance_components_.set_index("component").loc["person", "variance"] == pytest.approx(9, rel=0.1)


def test_one_observation_per_person_is_refused_as_lme4_does():
    # lme4: "number of levels of each grouping factor must be < number of observations", and it fits 39 groups
    # with one pair (tests/reference/lmm_identifiability.R and .txt); before this check the
    # fit returned person variance 1032.3, residual 6.6e-05 and singular_ = False (issue #18)
    rng = np.random.default_rng(3)
    y = rng.normal(50, 30, 40)
    X = np.column_stack([np.ones(40), rng.normal(size=40)])
    with pytest.raises(ValueError, match="no group has two observations"):
        RandomInterceptLMM().fit(y, X, np.arange(40))
    # lme4 accepts as soon as one group has two observations (39 levels < 40 observations), and so do we
    g = np.arange(40)
    g[1] = 0
    m = RandomInterceptLMM().fit(y, X, g)
    assert m.n_groups_ == 39


def test_residual_variance_on_the_boundary_is_flagged():
    # every person's two scores are identical up to 1e-3: nearly all variation is between people, the residual
    # variance (1e-6) is below a millionth of the person variance: the other boundary
    rng = np.random.default_rng(5)
    grp = np.repeat(np.arange(50), 2)
    y = rng.normal(20, 5, 50)[grp] + rng.normal(0, 1e-3, 100)
    X = np.ones((100, 1))
    m = RandomInterceptLMM().fit(y, X, grp)
    assert m.singular_
    assert any("residual variance" in r for r in m.singular_reasons_)
    # balanced one-way ANOVA: person variance = (MSB - MSW) / k = var(person means) - MSW / 2 under REML; the
    # REML criterion is nearly flat in theta this close to the boundary (measured 6e-5 relative), hence 1e-4
    means = y.reshape(50, 2).mean(axis=1)
    msw = ((y.reshape(50, 2) - means[:, None]) ** 2).sum() / 50
    assert m.variance_components_.loc[0, "variance"] == pytest.approx(np.var(means, ddof=1) - msw / 2, rel=1e-4)


def test_regular_fit_is_not_singular(fixed_site_fit):
    assert not fixed_site_fit.singular_
    assert fixed_site_fit.singular_reasons_ == []

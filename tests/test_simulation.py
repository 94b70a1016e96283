"""The simulation harness: rsimsum's performance measures against closed forms, the truths against the generator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dapp_eval import simulation as S


def _frame(est, se, true):
    return pd.DataFrame({"estimate": est, "se": se, "true": true})


def test_performance_hand_computed():
    # est 1, 2, 3, 4 (mean 2.5), se 1, 1, 2, 2, truth 2
    p = S.performance(_frame([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 2.0], 2.0)).set_index("stat")
    assert p.loc["nsim", "est"] == 4
    assert p.loc["bias", "est"] == pytest.approx(0.5)
    assert p.loc["bias", "mcse"] == pytest.approx(math.sqrt(5 / 12))  # sum of squares 5, n(n-1) = 12
    assert p.loc["empse", "est"] == pytest.approx(math.sqrt(5 / 3))
    assert p.loc["empse", "mcse"] == pytest.approx(math.sqrt(5 / 3) / math.sqrt(6))
    assert p.loc["mse", "est"] == pytest.approx((1 + 0 + 1 + 4) / 4)
    # squared errors 1, 0, 1, 4, mean 1.5: sum((e - 1.5)^2) = 0.25 + 2.25 + 0.25 + 6.25 = 9, over 12
    assert p.loc["mse", "mcse"] == pytest.approx(math.sqrt(9 / 12))
    # se^2 = 1, 1, 4, 4: modelse = sqrt(2.5), var(se^2) = 3
    assert p.loc["modelse", "est"] == pytest.approx(math.sqrt(2.5))
    assert p.loc["modelse", "mcse"] == pytest.approx(math.sqrt(3 / (4 * 4 * 2.5)))
    rel = math.sqrt(2.5) / math.sqrt(5 / 3)
    assert p.loc["relerror", "est"] == pytest.approx(100 * (rel - 1))
    assert p.loc["relerror", "mcse"] == pytest.approx(100 * rel * math.sqrt(3 / (4 * 4 * 2.5**2) + 1 / 6))
    # intervals est +/- 1.96 se all contain 2
    assert p.loc["cover", "est"] == 1.0 and p.loc["cover", "mcse"] == 0.0


def test_performance_ci_limits_and_missing_rows():
    d = pd.DataFrame({"estimate": [1.0, 2.0, np.nan, 4.0], "se": [0.1, 0.1, 0.1, 0.1], "true": 2.0,
                      "lo": [0.0, 1.5, 0.0, 3.5], "hi": [1.5, 2.5, 3.0, 4.5]})
    p = S.performance(d, ci_limits=("lo", "hi")).set_index("stat")
    assert p.loc["nsim", "est"] == 3  # the missing estimate is left out, as rsimsum's na.rm
    assert p.loc["cover", "est"] == pytest.approx(1 / 3)
    assert p.loc["cover", "mcse"] == pytest.approx(math.sqrt((1 / 3) * (2 / 3) / 3))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=40),
       st.floats(0.01, 10), st.floats(-100, 100))
def test_performance_mcse_identities(est, se, true):
    d = _frame(est, se, true)
    p = S.performance(d).set_index("stat")
    n = len(est)
    empse = float(np.std(est, ddof=1))
    # rsimsum's closed forms on values up to 100: float sums of up to 40 terms differ by ~1e-12
    assert p.loc["empse", "est"] == pytest.approx(empse, abs=1e-9)
    assert p.loc["bias", "mcse"] == pytest.approx(empse / math.sqrt(n), abs=1e-9)
    assert p.loc["empse", "mcse"] == pytest.approx(empse / math.sqrt(2 * (n - 1)), abs=1e-9)
    c = p.loc["cover", "est"]
    assert p.loc["cover", "mcse"] == pytest.approx(math.sqrt(c * (1 - c) / n))
    assert p.loc["modelse", "est"] == pytest.approx(se)  # a constant se: modelse = se, its MCSE 0
    assert p.loc["modelse", "mcse"] == pytest.approx(0.0, abs=1e-12)


def test_performance_calibrated_on_a_normal_mean():
    """Means of m normal draws with known SE: bias 0, empirical SE = model SE = 1/sqrt(m), 95% coverage,
    each within 3.5 of its Monte Carlo SE (fixed seed)."""
    rng = np.random.default_rng(31)
    m, reps = 25, 2000
    x = rng.normal(1.0, 1.0, size=(reps, m))
    est = x.mean(axis=1)
    se = x.std(axis=1, ddof=1) / math.sqrt(m)
    d = pd.DataFrame({"estimate": est, "true": 1.0, "se": se,
                      "lo": est - stats.t.ppf(0.975, m - 1) * se, "hi": est + stats.t.ppf(0.975, m - 1) * se})
    p = S.performance(d, ci_limits=("lo", "hi")).set_index("stat")
    assert abs(p.loc["bias", "est"]) < 3.5 * p.loc["bias", "mcse"]
    assert abs(p.loc["empse", "est"] - 1 / math.sqrt(m)) < 3.5 * p.loc["empse", "mcse"]
    assert abs(p.loc["cover", "est"] - 0.95) < 3.5 * p.loc["cover", "mcse"]
    # E[s^2] = sigma^2 / m exactly, so modelse = sqrt(mean(se^2)) estimates 1/sqrt(m) without bias in se^2
    assert abs(p.loc["modelse", "est"] - 1 / math.sqrt(m)) < 3.5 * p.loc["modelse", "mcse"]


def test_p_safer_closed_forms():
    a, b = (0.4, 0.3, 0.2, 0.1, 0.0), (0.1, 0.2, 0.3, 0.2, 0.2)
    # independent waves: P(later level > earlier level) = sum over j < k of a_j b_k
    indep = sum(a[j] * b[k] for j in range(5) for k in range(j + 1, 5))
    assert S._p_safer(a, b, 0.0) == pytest.approx(indep, abs=1e-6)
    # perfectly correlated with the same distribution: nobody moves up
    assert S._p_safer(a, a, 0.999999) == pytest.approx(0.0, abs=1e-3)


def test_p_any_is_one_minus_negative_binomial_zero():
    lam, k = np.array([0.2, 1.0, 3.5]), 1.5
    expect = 1 - stats.nbinom.pmf(0, k, k / (k + lam))
    # the same closed form as scipy's pmf at 0: last-bit rounding only
    np.testing.assert_allclose(S._p_any(lam, k), expect, rtol=1e-12)


def test_window_years_follow_the_generator_change_points():
    per = {"background": 1.0, "before_referral_12m": 2.5, "referral_to_exit": 1.0,
           "after_exit": {"completed": 0.45, "dropped_out": 0.9}}
    day = pd.Timestamp("2023-01-01")
    d = pd.Timedelta(days=1)
    referrals = pd.DataFrame({
        "participant_id": ["P1", "P2", "P2"], "referral_date": [day, day, day + 500 * d],
        "exit_date": [day + 100 * d, day + 100 * d, pd.NaT], "exit_reason": ["completed", "completed", None]})
    persons = pd.DataFrame({"participant_id": ["P1", "P2"], "before_start": [day - 365 * d] * 2,
                            "before_end": [day] * 2, "after_start": [day + 100 * d] * 2,
                            "after_end": [day + 465 * d] * 2})
    before = S._window_years(persons, referrals, per, "before")
    np.testing.assert_allclose(before, 2.5 * 365 / 365.25)
    after = S._window_years(persons, referrals, per, "after")
    # P1: 365 days at 0.45; P2: re-referred on day 500, so from day 135 its before-window multiplier 2.5 applies
    np.testing.assert_allclose(after, [0.45 * 365 / 365.25, (0.45 * 35 + 2.5 * 330) / 365.25])


def test_small_fixed_seed_study():
    sc = S.Scenario("tiny", referrals=300, sites=3)
    res = S.run([sc], reps=2, seed0=7)
    assert sorted(res["seed"].unique()) == [7, 8]
    assert (res["n_warnings"] == 0).all()
    comp = res[(res["estimand"] == "completion_rate") & (res["method"] == "headline (default plan)")]
    from dapp_eval import synthetic

    truth = synthetic.simulate(referrals=300, sites=3, seed=7).truth
    assert comp.set_index("seed").loc[7, "true"] == truth["funnel_model"]["expected_completion_probability_started"]
    cox = res[res["estimand"] == "dropout_log_hr_wait"]
    assert (cox["true"] == truth["dropout_log_hr"]["wait_per_30d"]).all()
    props = res[res["estimand"].isin(["reliable_risk_reduction", "partner_feels_safer", "police_after"])]
    assert ((props["true"] > 0) & (props["true"] < 1)).all()
    assert (res["ci_lower"] <= res["estimate"]).all() and (res["estimate"] <= res["ci_upper"]).all()
    tab = S.simsum(res)
    assert {"bias", "bias_mcse", "empse", "empse_mcse", "modelse", "modelse_mcse", "cover", "cover_mcse"} <= set(tab)
    text = S.report(res)
    assert "| tiny | completion_rate |" in text

"""Every public estimator returns a result with one protocol (issue 30).

``params``/``estimate``, ``bse``, ``conf_int(alpha)``, ``summary`` (a property
returning a DataFrame), ``n_obs``, ``alpha`` (the level, for labels) and
``table`` (the view the analyses read); curves add ``plot()``. Every name in
``dapp_eval.estimators.__all__`` is either called here or listed as a building
block with the reason it returns something simpler, so a new estimator cannot
slip in with a seventh return style.
"""

from __future__ import annotations

import inspect

import matplotlib
import numpy as np
import pandas as pd
import pytest

import dapp_eval.estimators as est

matplotlib.use("Agg")

RNG = np.random.default_rng(30)
N = 60
X1 = RNG.integers(0, 2, N)
T = RNG.exponential(10, N).round(1) + 0.1
E = RNG.integers(0, 2, N)
CAUSE = RNG.integers(0, 3, N)
BEFORE = RNG.normal(20, 5, N)
AFTER = BEFORE - 2 + RNG.normal(0, 3, N)
SERIES = np.arange(12.0) + RNG.normal(0, 1, 12)
FRAME = pd.DataFrame({"t": T, "e": E, "x": X1, "y": RNG.poisson(2, N), "b": RNG.integers(0, 2, N),
                      "id": np.repeat(np.arange(N // 2), 2), "pid": np.arange(N), "start": 0.0, "stop": T})

# name -> a call on small generated data
CALLS = {
    "kaplan_meier": lambda a: est.kaplan_meier(T, E, alpha=a),
    "aalen_johansen": lambda a: est.aalen_johansen(T, CAUSE, alpha=a),
    "mcf": lambda a: est.mcf(np.zeros(N), T, E, np.arange(N), alpha=a),
    "rmst": lambda a: est.rmst(T, E, horizon=10, alpha=a),
    "logrank_test": lambda a: est.logrank_test(T, E, X1),
    "grays_test": lambda a: est.grays_test(T, CAUSE, X1),
    "cox": lambda a: est.cox("~ x", FRAME, duration="t", event="e", alpha=a),
    "fine_gray": lambda a: est.fine_gray(T, CAUSE, X1, alpha=a),
    "gee": lambda a: est.gee("b ~ x", FRAME, groups="id").with_alpha(a),
    "count_model": lambda a: est.count_model("y ~ x", FRAME).with_alpha(a),
    "rate_model": lambda a: est.rate_model("~ x", FRAME, start="start", stop="stop", event="e", id="pid", alpha=a),
    "segmented_regression": lambda a: est.segmented_regression(SERIES, 6).with_alpha(a),
    "att_weights": lambda a: est.att_weights(BEFORE[:, None], X1).with_alpha(a),
    "weighted_outcome": lambda a: est.weighted_outcome(AFTER, X1, np.ones(N), alpha=a),
    "RandomInterceptLMM": lambda a: est.RandomInterceptLMM(alpha=a).fit(
        np.r_[BEFORE, AFTER], np.column_stack([np.ones(2 * N), np.repeat([0.0, 1.0], N)]),
        np.tile(np.arange(N), 2), names=["Intercept", "exit"]),
    "wilson_ci": lambda a: est.wilson_ci(6, 15, alpha=a),
    "newcombe_diff_ci": lambda a: est.newcombe_diff_ci(56, 70, 48, 80, alpha=a),
    "newcombe_paired_ci": lambda a: est.newcombe_paired_ci(59, 6, 16, 80, alpha=a),
    "cohens_dz": lambda a: est.cohens_dz(AFTER - BEFORE, alpha=a),
    "hedges_gav": lambda a: est.hedges_gav(BEFORE, AFTER, alpha=a),
    "paired_t": lambda a: est.paired_t(BEFORE, AFTER, alpha=a),
    "wilcoxon_signed_rank": lambda a: est.wilcoxon_signed_rank(BEFORE, AFTER),
    "paired_score_change": lambda a: est.paired_score_change(BEFORE, AFTER, alpha=a),
    "rubin": lambda a: est.rubin([1.0, 1.2, 0.8], [0.04, 0.05, 0.03], df_complete=50, alpha=a),
}
# tests without an interval: their level is the default, whatever alpha the caller has in mind
TESTS = {"logrank_test", "grays_test", "wilcoxon_signed_rank"}
CURVES = {"kaplan_meier", "aalen_johansen", "mcf"}

# names that are not estimators: result classes and building blocks that return a number, an array or a
# design, each with its reason
NOT_ESTIMATORS = {
    "CountModelResults": "result class", "EstimatorResults": "result class", "GEEResults": "result class",
    "MCFResult": "result class",
    "design_matrix": "builds a design matrix", "greedy_match": "returns matched index pairs",
    "holm": "adjusts an array of p-values", "mcnemar_exact": "one exact p-value (a float)",
    "newey_west": "a covariance matrix, used by segmented_regression",
    "reliable_change_index": "one index per person (an array)",
    "smd": "a standardised difference (a float)", "smd_binary": "a standardised difference (a float)",
    "smd_from_moments": "a standardised difference (a float)",
    "balance_table": "a diagnostic table of SMDs (no estimate with an interval)",
    "evalues_rr": "E-values of a given estimate (a sensitivity table)",
    "evalues_hr": "E-values of a given estimate (a sensitivity table)",
}


def test_every_public_name_is_classified():
    assert set(est.__all__) == set(CALLS) | set(NOT_ESTIMATORS)
    assert not set(CALLS) & set(NOT_ESTIMATORS)


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_protocol(name, alpha):
    res = CALLS[name](alpha)
    level = 0.05 if name in TESTS else alpha
    assert res.alpha == level
    assert isinstance(res.params, pd.Series) and isinstance(res.estimate, pd.Series)
    assert isinstance(res.bse, pd.Series) and len(res.bse) == len(res.params)
    assert isinstance(res.n_obs, (int, np.integer, np.ndarray)) and np.all(np.asarray(res.n_obs) > 0)
    # summary is a property (as lifelines), not a method
    summary_attr = inspect.getattr_static(type(res), "summary", None)
    assert isinstance(summary_attr, property), f"{name}: summary must be a property"
    assert isinstance(res.summary, pd.DataFrame) and len(res.summary) > 0
    assert isinstance(res.table, pd.DataFrame) and len(res.table) > 0
    ci = res.conf_int()
    assert isinstance(ci, pd.DataFrame) and list(ci.columns) == ["ci_lower", "ci_upper"]
    if name not in TESTS:
        ok = ci.notna().all(axis=1)
        assert ok.any()
        p = res.params.to_numpy()[ok.to_numpy()] if len(res.params) == len(ci) else None
        if p is not None and name not in {"cox", "fine_gray", "gee", "count_model", "rate_model"}:
            assert np.all(ci["ci_lower"].to_numpy()[ok.to_numpy()] <= p + 1e-12)
    if name in CURVES:
        import matplotlib.pyplot as plt

        ax = res.plot()
        assert ax.lines
        plt.close(ax.figure)


@pytest.mark.parametrize("name", sorted(set(CALLS) - TESTS - CURVES - {"paired_score_change"}))
def test_conf_int_at_another_level_is_the_estimator_at_that_level(name):
    """``conf_int(alpha)`` at another level equals refitting at that level: the level is not a label only."""
    at_05, at_10 = CALLS[name](0.05), CALLS[name](0.1)
    # same fit, same formula at the new level: only the last bits of the quantile arithmetic may differ
    pd.testing.assert_frame_equal(at_05.conf_int(0.1).reset_index(drop=True),
                                  at_10.conf_int().reset_index(drop=True), rtol=1e-10)
    narrower = (at_10.conf_int()["ci_upper"] - at_10.conf_int()["ci_lower"]).dropna()
    wider = (at_05.conf_int()["ci_upper"] - at_05.conf_int()["ci_lower"]).dropna()
    assert (narrower.to_numpy() < wider.to_numpy()).all()


def test_old_return_styles_still_work():
    lo, hi = est.wilson_ci(6, 15)
    assert round(float(lo), 4) == 0.1982 and round(float(hi), 4) == 0.6425
    d, lo, hi = est.cohens_dz(AFTER - BEFORE)
    assert lo < d < hi
    r = est.rmst([2, 4, 6, 8], [1, 1, 1, 1], horizon=10)
    assert r["estimate"] == 5.0 and isinstance(r, dict)
    km = est.kaplan_meier([1, 2, 2, 3], [1, 1, 0, 1])
    assert isinstance(km, pd.DataFrame) and km["estimate"].round(3).tolist() == [0.75, 0.5, 0.0]
    # anything derived from a curve is a plain table again
    assert type(km[km["time"] < 3]) is pd.DataFrame and type(km.table) is pd.DataFrame
    # wilson interval: params are the proportions, the Wald SE sqrt(p(1-p)/n)
    w = est.wilson_ci(6, 15)
    assert w.params.iloc[0] == pytest.approx(0.4) and w.bse.iloc[0] == pytest.approx(np.sqrt(0.4 * 0.6 / 15))


def test_old_paired_change_name_warns_and_is_the_score_change():
    """One deprecation cycle: the estimator's old name (the same as safety.paired_change, another analysis)."""
    from dapp_eval.estimators import paired

    with pytest.warns(DeprecationWarning, match="paired_score_change"):
        old = paired.paired_change
    assert old is est.paired_score_change

"""dropout_cox's proportional-hazards table uses a vectorised copy of lifelines'
scaled Schoenfeld residuals (lifelines' own loop is O(n^2)); it must give
lifelines' numbers exactly, rows in lifelines' order, including under heavy ties.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from dapp_eval.analyses import attrition
from dapp_eval.estimators import survival as sv


def _fit(df):
    cph = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(df, duration_col="time_days", event_col="event",
                fit_options={"precision": 1e-10, "r_precision": 1e-14})
    return cph


@pytest.fixture(scope="module")
def tied():
    """400 rows on 25 distinct days (groups of up to ~30 tied deaths), shuffled index labels."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"x1": rng.integers(0, 2, n).astype(float), "x2": rng.normal(size=n),
                       "x3": rng.normal(size=n)})
    df["time_days"] = rng.integers(1, 26, n).astype(float)
    df["event"] = (rng.random(n) < 0.35 + 0.3 * df["x1"]).astype(int)
    df.index = rng.permutation(np.arange(1000, 1000 + n))
    return df


def test_scaled_schoenfeld_equals_lifelines(tied):
    terms = ["x1", "x2", "x3"]
    cph = _fit(tied)
    ref = cph.compute_residuals(tied, kind="scaled_schoenfeld")
    mine = attrition._scaled_schoenfeld(cph, tied, terms)
    assert list(mine.index) == list(ref.index) and list(mine.columns) == terms
    assert len(mine) == tied["event"].sum()
    # same fitted model on both sides (no refit): exact algebra in another summation order, so float
    # rounding only (measured 2e-15 on the residuals, 3e-14 relative on the statistics)
    np.testing.assert_allclose(mine.to_numpy(), ref[terms].to_numpy(), rtol=0, atol=1e-10)
    ph_ref = proportional_hazard_test(cph, tied, time_transform="rank").summary
    ph = proportional_hazard_test(cph, tied, time_transform="rank", precomputed_residuals=mine).summary
    # the test from those residuals: still float rounding only (measured 3e-14 relative)
    np.testing.assert_allclose(ph["test_statistic"], ph_ref["test_statistic"], rtol=1e-10, atol=0)
    np.testing.assert_allclose(ph["p"], ph_ref["p"], rtol=1e-9, atol=1e-12)  # chi-square tail of the above


def test_efron_terms_match_a_loop_over_death_times(tied):
    """The vectorised Efron sums equal the per-death-time definition, for both tie methods."""
    t = tied["time_days"].to_numpy()
    e = tied["event"].to_numpy()
    X = tied[["x1", "x2", "x3"]].to_numpy()
    b = np.array([0.4, -0.3, 0.1])
    r = np.exp(X @ b)
    for ties in ("efron", "breslow"):
        rr, dt, _, H0, H1, D0, D1, M1 = sv._efron_terms(t, e, X, b, ties)
        scale = rr[0] / r[0]  # _efron_terms rescales the relative risks
        for j, u in enumerate(dt):
            risk, dead = t >= u, (t == u) & (e == 1)
            d = dead.sum()
            kk = np.arange(d) / d if ties == "efron" else np.zeros(d)
            den = r[risk].sum() - kk * r[dead].sum()
            mean = (r[risk] @ X[risk] - kk[:, None] * (r[dead] @ X[dead])) / den[:, None]
            # closed forms: cumulative sums vs a direct loop, float rounding only (measured < 3e-14)
            np.testing.assert_allclose(H0[j] * scale, (1 / den).sum(), rtol=1e-12)
            np.testing.assert_allclose(H1[j] * scale, (mean / den[:, None]).sum(axis=0), rtol=1e-12)
            np.testing.assert_allclose(D0[j] * scale, ((1 - kk) / den).sum(), rtol=1e-12)  # (same)
            np.testing.assert_allclose(D1[j] * scale, ((1 - kk)[:, None] * mean / den[:, None]).sum(axis=0),
                                       rtol=1e-12)  # (same)
            np.testing.assert_allclose(M1[j], mean.mean(axis=0), rtol=1e-12, atol=1e-14)  # (same)


def test_dropout_cox_ph_table_is_lifelines(tmp_path):
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    generate(tmp_path, referrals=1500, sites=3, seed=4)
    data = load_programme(tmp_path)
    res = attrition.dropout_cox(data)
    ep, X, *_ = attrition._model_frame(data, None, "last_session")
    df = X.copy()
    df["time_days"] = ep["time_days"].to_numpy()
    df["event"] = (ep["outcome"] == "dropped_out").astype(int).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the reference transform written out here: each event's rank among event times, ties averaged
        # (R cox.zph's rank transform); lifelines' own "rank" numbers tied events in row order
        def average_rank(t, c, w):
            out = pd.Series(0.0, index=t.index)
            ev = np.asarray(c).astype(bool)
            out[ev] = pd.Series(np.asarray(t)[ev]).rank(method="average").to_numpy()
            return out

        ref = proportional_hazard_test(res.model, df, time_transform=average_rank).summary
    got = res.tables["ph_test"].set_index("term")
    # the same fitted model res.model on both sides: exact algebra, float rounding over 1,500 rows
    # (measured 5e-14 relative)
    np.testing.assert_allclose(got.loc[ref.index, "statistic"], ref["test_statistic"], rtol=1e-9)
    np.testing.assert_allclose(got.loc[ref.index, "p_value"], ref["p"], rtol=1e-8, atol=1e-12)

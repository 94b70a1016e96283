"""dapp_eval.analyses.safety against R (stats::prop.test, binom.test, p.adjust, glm, geepack::geeglm), published
worked examples, closed forms and the synthetic generator's truth.json.

References: tests/reference/safety_reference_*.csv, made by safety_reference.R from the fixture folder
tests/reference/safety_followup_fixture/ (written by safety_followup_fixture.py) and the analysis data
exported by safety_followup_export.py.
"""

from __future__ import annotations

import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import HAND_BASE, REFERENCE, SYNTHETIC, write_folder
from scipy import stats
from statsmodels.stats.multitest import multipletests

from dapp_eval.analyses import safety
from dapp_eval.data.io import load_programme
from dapp_eval.errors import AnalysisError

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FIXTURE = REFERENCE / "safety_followup_fixture"
GENDERED = re.compile(r"\b(he|she|him|her|his|hers|men|women|man|woman|male|female|husband|wife|boyfriend|girlfriend)\b",
                      re.IGNORECASE)


@pytest.fixture(scope="module")
def data():
    return load_programme(FIXTURE)


@pytest.fixture(scope="module")
def ref():
    return {name: pd.read_csv(REFERENCE / f"safety_reference_{name}.csv")
            for name in ("prevalence", "paired", "response", "gee")}


@pytest.fixture(scope="module")
def wm(data):
    return safety.wave_model(data, behaviour="physical_violence")


# ---------------------------------------------------------------------------
# small statistics: published examples and closed forms
# ---------------------------------------------------------------------------


def test_newcombe_paired_matches_published_example():
    # Cavo et al. (2012) in Fagerland, Lydersen & Laake (2017), ch. 8: -0.0621 (-0.1186 to -0.0046)
    d, lo, hi = safety.newcombe_paired_ci(59, 6, 16, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (-0.0621, -0.1186, -0.0046)
    # swapping the two classifications negates the interval
    d2, lo2, hi2 = safety.newcombe_paired_ci(59, 16, 6, 80)
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo), abs=1e-12)  # closed form: float rounding only


def test_newcombe_paired_without_discordant_pairs_is_zero_centred_and_narrow():
    d, lo, hi = safety.newcombe_paired_ci(10, 0, 0, 30)
    assert d == 0 and lo < 0 < hi and hi - lo < 0.25


def test_newcombe_independent_matches_published_example():
    # Newcombe (1998, Stat Med 17:873) example: 56/70 - 48/80 = 0.2000 (0.0524 to 0.3339)
    d, lo, hi = safety.newcombe_diff_ci(56, 70, 48, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)


def test_wilson_closed_form_and_edges():
    lo, hi = safety.wilson_ci(0, 10)
    z = stats.norm.ppf(0.975)
    # closed form; pytest.approx's default rel=1e-6 is ample for float rounding
    assert float(lo) == 0 and float(hi) == pytest.approx(z**2 / (10 + z**2))
    lo, hi = safety.wilson_ci(10, 10)
    assert float(hi) == 1 and float(lo) == pytest.approx(10 / (10 + z**2))
    lo, hi = safety.wilson_ci(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_mcnemar_exact_equals_binomial_test():
    for b, c in [(6, 16), (0, 5), (3, 3), (0, 0), (40, 9)]:
        expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
        assert safety.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)  # exact binomial sums both


# ---------------------------------------------------------------------------
# prevalence and paired change against R
# ---------------------------------------------------------------------------


def test_prevalence_matches_prop_test(data, ref):
    res = safety.prevalence(data)
    m = res.summary.merge(ref["prevalence"], on=["wave", "behaviour"], suffixes=("", "_r"))
    assert len(m) == len(ref["prevalence"]) == 32
    assert (m["n_answered"] == m["n_answered_r"]).all() and (m["n_reporting"] == m["n_reporting_r"]).all()
    for c in ("estimate", "ci_lower", "ci_upper"):
        # proportions and Wilson limits (prop.test, correct = FALSE): closed forms, float rounding only
        assert np.abs(m[c] - m[f"{c}_r"]).max() < 1e-9
    # every wave shows its denominator; the accounting adds up
    assert (res.summary["n_answered"] + res.summary["n_missing"] == res.summary["n_responses"]).all()
    assert res.meta["n_in"] == len(data.partner_surveys) == res.meta["n_used"]
    assert set(res.summary.loc[res.summary["behaviour"] == "physical_violence", "role"]) == {"primary"}


def test_prevalence_by_programme_status(data):
    res = safety.prevalence(data, by="programme_status", behaviours=["injury"])
    total = safety.prevalence(data, behaviours=["injury"]).summary.set_index("wave")["n_answered"]
    by = res.summary.groupby("wave")["n_answered"].sum()
    assert (by == total).all()
    assert set(res.summary["programme_status"]) <= set(safety.STATUS_LABELS)


def test_paired_change_matches_binom_test_and_holm(data, ref):
    res = safety.paired_change(data, baseline="T1", followup="T4")
    m = res.summary.merge(ref["paired"], on="behaviour", suffixes=("", "_r"))
    assert len(m) == 8
    for c in ("n_pairs", "n_stopped", "n_started"):
        assert (m[c] == m[f"{c}_r"]).all()
    for c in ("prop_baseline", "prop_followup"):
        assert np.abs(m[c] - m[f"{c}_r"]).max() < 1e-12  # proportions of counts: exact up to rounding
    # exact binomial p-values (binom.test) and Holm: closed forms; compared on the log scale (relative)
    # because some p-values are tiny
    assert np.abs(np.log(m["p_value"]) - np.log(m["p_value_r"])).max() < 1e-8
    assert np.abs(np.log(m["p_adjusted"]) - np.log(m["p_adjusted_r"])).max() < 1e-8
    prim = res.summary[res.summary["role"] == "primary"]
    assert list(prim["behaviour"]) == ["physical_violence"] and (prim["p_adjusted"] == prim["p_value"]).all()
    # change in percentage points = (started - stopped) / n_pairs, inside its CI
    s = res.summary
    assert np.allclose(s["estimate"], 100 * (s["n_started"] - s["n_stopped"]) / s["n_pairs"])
    assert ((s["ci_lower"] <= s["estimate"]) & (s["estimate"] <= s["ci_upper"])).all()
    assert res.meta["n_in"] == res.meta["n_used"] + sum(res.meta["excluded"].values())


def test_secondary_holm_with_another_primary(data):
    res = safety.paired_change(data, primary="injury")
    s = res.summary
    sec = s[s["role"] == "secondary"]
    assert np.allclose(sec["p_adjusted"], multipletests(sec["p_value"], method="holm")[1])
    assert s.loc[s["behaviour"] == "injury", "role"].item() == "primary"


# ---------------------------------------------------------------------------
# response model and GEE against R
# ---------------------------------------------------------------------------


def test_response_model_matches_glm(wm, ref):
    m = wm.weights.merge(ref["response"], on=["partner_id", "referral_id", "wave"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    # logistic IRLS, statsmodels tol=1e-10 on the deviance, R glm epsilon=1e-12: both at the root
    assert np.abs(m["p_respond"] - m["p_respond_r"]).max() < 1e-8
    resp = wm.weights["responded"] == 1
    assert np.allclose(wm.weights.loc[resp, "weight"], 1 / wm.weights.loc[resp, "p_respond"])


def test_gee_matches_geepack(wm, ref):
    r = ref["gee"]
    py = wm.coefficients
    assert list(py["fit"]) == list(r["fit"])
    # iterative fits: statsmodels GEE stops at score norm < ctol=1e-10, geepack at epsilon=1e-12;
    # 1e-6 is the spec's margin
    assert np.abs(py["coef"].to_numpy() - r["coef"].to_numpy()).max() < 1e-6
    assert np.abs(py["se_robust"].to_numpy() - r["se_robust"].to_numpy()).max() < 1e-6
    assert len(wm.gee_data) == r["n_obs"].iloc[0]


def test_unweighted_gee_reproduces_raw_wave_proportions(wm):
    # with wave as the only covariate and independence, fitted prevalences are the raw proportions
    g = wm.gee_data.groupby("wave")["physical_violence"].mean()
    s = wm.summary[wm.summary["fit"] == "unweighted"].set_index("wave")["estimate"]
    assert np.allclose(s, g.reindex(s.index))
    # and the weighted ones are the weighted proportions
    gd = wm.gee_data
    wmean = gd.groupby("wave").apply(lambda x: np.average(x["physical_violence"], weights=x["weight"]),
                                     include_groups=False)
    s = wm.summary[wm.summary["fit"] == "weighted"].set_index("wave")["estimate"]
    assert np.allclose(s, wmean.reindex(s.index))


def test_gee_change_is_difference_of_prevalences(wm):
    for fit in ("unweighted", "weighted"):
        s = wm.summary[wm.summary["fit"] == fit].set_index("wave")["estimate"]
        ch = wm.change[wm.change["fit"] == fit].set_index("wave")["estimate"]
        assert np.allclose(ch, 100 * (s.reindex(ch.index) - s["T1"]))


def test_wave_model_accounting(wm, data):
    assert wm.meta["n_in"] == len(data.partner_surveys)
    assert wm.meta["n_used"] == len(wm.gee_data)
    assert wm.meta["offered_only"] is False  # the fixture has answers from people not offered support


def test_change_views_side_by_side(data):
    res = safety.change_views(data, behaviours=["physical_violence"])
    assert list(res.summary["view"]) == ["all respondents", "paired respondents", "unweighted GEE", "weighted GEE"]
    paired = safety.paired_change(data).summary.set_index("behaviour").loc["physical_violence"]
    row = res.summary.set_index("view").loc["paired respondents"]
    # the same estimate computed two ways: approx's default rel=1e-6
    assert row["estimate"] == pytest.approx(paired["estimate"])


# ---------------------------------------------------------------------------
# feeling safe, space for action, non-response, support, Mirabal table
# ---------------------------------------------------------------------------


def test_feeling_safe(data):
    res = safety.feeling_safe(data)
    s = res.summary
    assert np.allclose(s.groupby("wave")["estimate"].sum(), 1.0)
    sv = data.partner_surveys
    t4 = sv.loc[sv["wave"] == "T4", "feels_safe"].dropna()
    h = res.headline.set_index(["wave", "measure"])
    assert h.loc[("T4", "very safe (5)"), "n"] == (t4 == 5).sum()
    assert h.loc[("T4", "not safe at all (1)"), "n_answered"] == len(t4)
    p = res.paired.iloc[0]
    assert p["n_safer"] + p["n_same"] + p["n_less_safe"] == p["n_pairs"]
    # the same exact binomial test computed two ways: approx's default rel=1e-6
    assert p["p_value"] == pytest.approx(stats.binomtest(int(p["n_safer"]), int(p["n_safer"] + p["n_less_safe"])).pvalue)


def test_space_for_action_paired_change(data):
    res = safety.space_for_action(data)
    sv = data.partner_surveys
    w = sv[sv["wave"] == "T1"].merge(sv[sv["wave"] == "T4"], on=["partner_id", "referral_id"])
    d = (w["space_for_action_y"] - w["space_for_action_x"]).dropna()
    row = res.summary.set_index("measure").loc["paired change"]
    # the mean and t interval computed two ways (closed forms): approx's default rel=1e-6
    assert row["n"] == len(d) and row["estimate"] == pytest.approx(d.mean())
    ci = stats.ttest_1samp(d, 0).confidence_interval()
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low, ci.high))


def test_response_rates_show_who_answers(data):
    res = safety.response_rates(data)
    comp = res.composition.set_index(["wave", "group"])
    # later waves over-represent completers in this fixture
    assert comp.loc[("T4", "answered"), "share_completed"] > comp.loc[("T4", "all expected"), "share_completed"]
    assert res.meta["n_in"] == res.meta["n_used"] + sum(res.meta["excluded"].values())
    s = res.summary
    assert (s["n_answered"] + s["n_not_answered"] == s["n_expected"]).all()


HAND = {
    **HAND_BASE,
    "partners.csv": """partner_id,referral_id,relationship,gender,support_offered,support_accepted
V1,R1,partner,female,true,true
V1,R5b,partner,female,false,
V2,R2,partner,male,true,
V3,R3,ex_partner,female,false,
""",
}


def test_partner_support_hand_counts(tmp_path):
    data = load_programme(write_folder(tmp_path / "hand", HAND))
    s = safety.partner_support(data).summary.set_index("measure")
    assert s.loc["(ex-)partners linked to referrals", "n"] == 3
    assert (s.loc["support offered", "n"], s.loc["support offered", "n_of"]) == (2, 3)
    acc = s.loc["support accepted (of those offered, answer recorded)"]
    assert (acc["n"], acc["n_of"], acc["estimate"]) == (1, 1, 1.0)
    assert s.loc["offered, acceptance not recorded", "n"] == 1
    # children once per person who started, from the first started referral (P5 via R5b)
    assert s.loc["people who started the programme", "n"] == 4
    assert s.loc["people who started, with children", "n"] == 3
    assert s.loc["children in the families of people who started", "n"] == 2 + 0 + 1 + 3


def test_surveys_missing_is_a_plain_error(tmp_path):
    data = load_programme(write_folder(tmp_path / "hand", HAND))
    with pytest.raises(AnalysisError, match="partner_surveys"):
        safety.prevalence(data)
    with pytest.raises(ValueError, match="alpha"):
        safety.paired_change(load_programme(FIXTURE), alpha=0.7)
    with pytest.raises(ValueError, match="baseline"):
        safety.paired_change(load_programme(FIXTURE), baseline="T9")
    with pytest.raises(ValueError, match="unknown behaviour"):
        safety.prevalence(load_programme(FIXTURE), behaviours=["punching"])


def test_mirabal_measures_table(data):
    res = safety.mirabal_measures(data)
    s = res.summary
    assert set(s["measure_no"]) == {1, 2, 3, 4, 5, 6}
    not_measured = set(s.loc[s["status"] == safety.NOT_MEASURED, "measure_no"])
    assert not_measured == {1, 4, 5}
    prim = safety.paired_change(data).summary.set_index("behaviour").loc["physical_violence"]
    row = s[(s["measure_no"] == 3) & s["informed_by"].str.contains("physical_violence")].iloc[0]
    # the same estimate computed two ways: approx's default rel=1e-6
    assert row["estimate"] == pytest.approx(prim["estimate"])
    assert s.loc[s["measure_no"] == 6, "informed_by"].str.contains("incidents.csv").any()


def test_wording_is_gender_neutral(data):
    texts = list(safety.BEHAVIOUR_LABELS.values()) + list(safety.STATUS_LABELS.values())
    texts += list(safety.MIRABAL_MEASURES.values())
    s = safety.mirabal_measures(data).summary
    texts += list(s["headline"]) + list(s["informed_by"])
    for fn in (safety.prevalence, safety.paired_change, safety.response_rates, safety.feeling_safe):
        r = fn(data)
        texts += [r.meta["method"], r.title]
    bad = [t for t in texts if GENDERED.search(str(t))]
    assert not bad, bad


def test_plots_return_axes(data, wm):
    results = [safety.prevalence(data), safety.paired_change(data), wm, safety.feeling_safe(data),
               safety.space_for_action(data), safety.response_rates(data), safety.partner_support(data),
               safety.change_views(data, behaviours=["physical_violence", "injury"])]
    for r in results:
        ax = r.plot()
        assert isinstance(ax, matplotlib.axes.Axes)
        labels = " ".join(t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()) + ax.get_title()
        assert not GENDERED.search(labels)
        plt.close("all")


# ---------------------------------------------------------------------------
# synthetic data: recover truth.json
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth():
    if not (SYNTHETIC / "truth.json").exists():
        pytest.skip("data_synthetic/ has not been generated")
    with open(SYNTHETIC / "truth.json", encoding="utf-8") as fh:
        truth = json.load(fh)
    return load_programme(SYNTHETIC), truth["partner_surveys"]


def test_synthetic_prevalence_recovers_truth(synth):
    data, ps = synth
    for alpha, share in ((0.05, 0.9), (0.01, 1.0)):
        s = safety.prevalence(data, alpha=alpha).summary
        truth = np.array([ps["prevalence_respondents_expected"][b][w] for b, w in zip(s["behaviour"], s["wave"])])
        inside = (s["ci_lower"] <= truth) & (truth <= s["ci_upper"])
        assert inside.mean() >= share, s.assign(truth=truth)[~inside]


def test_synthetic_weighted_gee_recovers_all_partner_prevalence(synth):
    data, ps = synth
    res = safety.wave_model(data, behaviour="physical_violence")
    w = res.summary[res.summary["fit"] == "weighted"]
    truth = np.array([ps["prevalence_all_partners"]["physical_violence"][x] for x in w["wave"]])
    assert ((w["ci_lower"] <= truth) & (truth <= w["ci_upper"])).all()
    assert res.meta["offered_only"] is True  # only (ex-)partners offered support are surveyed
    # the weights move the T4 estimate towards the all-partner truth
    u = res.summary[res.summary["fit"] == "unweighted"].set_index("wave")["estimate"]
    t4 = ps["prevalence_all_partners"]["physical_violence"]["T4"]
    assert abs(w.set_index("wave").loc["T4", "estimate"] - t4) < abs(u["T4"] - t4)


def test_synthetic_paired_change_recovers_truth(synth):
    data, ps = synth
    share, resp = ps["share_completer_among_eligible"], ps["response_probability"]
    wc = share * resp["completer"]["T1"] * resp["completer"]["T4"]
    wn = (1 - share) * resp["non_completer"]["T1"] * resp["non_completer"]["T4"]

    def expected(b, w):  # prevalence expected among (ex-)partners answering both T1 and T4
        return (wc * ps["prevalence_completer"][b][w] + wn * ps["prevalence_non_completer"][b][w]) / (wc + wn)

    s = safety.paired_change(data, alpha=0.01).summary
    truth = np.array([100 * (expected(b, "T4") - expected(b, "T1")) for b in s["behaviour"]])
    assert ((s["ci_lower"] <= truth) & (truth <= s["ci_upper"])).all(), s.assign(truth=truth)
    prim = safety.paired_change(data).summary.iloc[0]
    assert prim["ci_lower"] <= truth[0] <= prim["ci_upper"]


def test_a_separated_fits_covariance_gives_an_empty_interval_quietly():
    """A one-month, 8-site extract's GEE fit came back with infinite robust variances: g' cov g printed
    'RuntimeWarning: invalid value encountered in matmul' on the user's terminal. The interval is now empty."""
    import warnings

    import numpy as np

    from dapp_eval.analyses.safety import _quad, _se

    cov = np.array([[np.inf, -np.inf], [-np.inf, np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(_se(_quad(np.array([1.0, 1.0]), cov)))
        assert _se(_quad(np.array([1.0, 0.0]), np.array([[4.0, 0.0], [0.0, 1.0]]))) == 2.0

"""Headline figures (dapp_eval.commissioner.headlines): one definition, one value, the same as the analyses give."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SYNTHETIC
from scipy import stats

from dapp_eval import formatting
from dapp_eval.analyses import attrition, funnel
from dapp_eval.commissioner import headlines
from dapp_eval.data.io import load_programme
from dapp_eval.errors import AnalysisError


def wilson(k, n, alpha=0.05):
    """Wilson score interval written out from its closed form (Wilson 1927)."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


@pytest.fixture(scope="module")
def hf(synthetic_data):
    return headlines.headline_figures(synthetic_data).summary.set_index("code")


def test_registry_every_figure_fully_defined_in_plain_words():
    for code, f in headlines.REGISTRY.items():
        assert f.code == code
        for field in ("name", "numerator", "denominator", "period", "definition", "how_to_quote"):
            text = getattr(f, field)
            assert text.strip(), (code, field)
            assert formatting.find_code_names(text) == [], (code, field, text)
        assert f.format in formatting.FORMATS, code
    assert set(headlines.SITE_OUTCOMES) <= set(headlines.REGISTRY)


def test_one_completion_rate_is_the_headline():
    rates = [f for f in headlines.REGISTRY.values() if f.format == "percent" and "ompletion" in f.name]
    assert [f.code for f in rates if f.headline] == ["completion_rate"]
    # the second basis carries a distinct name
    names = [f.name for f in rates]
    assert len(set(names)) == len(names)
    d = headlines.definitions(["completion_rate"]).iloc[0]
    assert "quote" in d["definition"].lower() or "quote" in d["how_to_quote"].lower()


def test_counts_equal_the_funnel_and_the_cost_table(hf, synthetic_data):
    # known values of the shipped synthetic data (issue #16 quotes 632 vs 602 and 922 vs 870)
    assert hf.loc[["referrals", "starts", "completions"], "value"].tolist() == [2000, 922, 632]
    assert hf.loc[["referrals_in_period", "starts_in_period", "completions_in_period"], "value"].tolist() == [
        1947, 870, 602]
    c = funnel.costs(synthetic_data, by=None).summary.iloc[-1]
    # cost per completion = period cost / completions in the period: 5 sites' annual costs x 2 years / 602
    assert c["period_cost_gbp"] == 2 * 281000
    # tolerance: float division only
    assert hf.loc["cost_per_completion", "value"] == pytest.approx(562000 / 602, rel=1e-12)
    assert hf.loc["cost_per_completion", "value_text"] == "£934"
    assert hf.loc["cost_per_referral", "value_text"] == "£289"


def test_completion_rate_is_the_attrition_analysis_value(hf, synthetic_data):
    # the default plan's recording-lag rule: followed to the extract date less 42 days (the data's 95th centile
    # of the delay in recording an exit other than completion, 40 days, up to whole weeks); 55 people who
    # started in those 42 days are out
    s = attrition.completion_rate(synthetic_data, by=None, recording_lag="auto").summary
    pooled = s[s["basis"].str.startswith("pooled")].iloc[0]
    r = hf.loc["completion_rate"]
    assert (r["value"], r["ci_lower"], r["ci_upper"]) == (pooled["estimate"], pooled["ci_lower"], pooled["ci_upper"])
    assert (r["n_numerator"], r["n_denominator"]) == (596, 867)
    assert r["value_text"] == "82% (95% CI 79% to 84%)"


def test_completion_rate_covers_the_generator_truth(hf):
    # known truth: the generator's expected probability that a started case completes
    truth = json.loads((SYNTHETIC / "truth.json").read_text())["funnel_model"]["expected_completion_probability_started"]
    r = hf.loc["completion_rate"]
    assert r["ci_lower"] <= truth <= r["ci_upper"]


def test_proportions_match_wilson_closed_form(hf):
    for code, k, n in (("partner_feels_safer", 115, 167), ("police_after", 81, 318), ("police_before", 201, 318),
                       ("reliable_risk_reduction", 186, 646), ("completion_rate_followed", 603, 737)):
        r = hf.loc[code]
        assert (r["n_numerator"], r["n_denominator"]) == (k, n), code
        lo, hi = wilson(k, n)
        # tolerance: the package's Wilson and this closed form differ only by float rounding
        assert r["value"] == pytest.approx(k / n, abs=1e-12), code
        assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((lo, hi), abs=1e-9), code


def test_value_text_is_what_a_reader_sees(hf):
    for code, r in hf.iterrows():
        assert formatting.find_raw_proportions(r["value_text"]) == [], code
        assert formatting.find_code_names(r["value_text"] + " " + r["period"]) == [], code
        if r["format"] == "percent":
            assert r["value_text"].startswith(formatting.percent(r["value"])), code
    assert hf.loc["wait_to_start", "value_text"].endswith("weeks)")
    assert hf.loc["referrals", "value_text"] == "2,000"
    assert "1 April 2023 to 31 March 2025" in hf.loc["cost_per_completion", "period"]


def test_site_and_all_sites_side_by_side(synthetic_data, hf):
    s = headlines.site_and_all_sites(synthetic_data, site="S01",
                                     codes=["completion_rate", "reliable_risk_reduction"]).summary.set_index("code")
    assert s.loc["completion_rate", "all_sites_value"] == hf.loc["completion_rate", "value"]
    assert s.loc["reliable_risk_reduction", "all_sites_value_text"] == hf.loc["reliable_risk_reduction",
                                                                              "value_text"]
    # the site's own value is the attrition analysis restricted to the site (24 sessions: one planned length)
    # followed to the extract date less the programme-wide recording lag (the plan's "auto", on all sites)
    own = attrition.completion_rate(synthetic_data.subset(sites=["S01"]), by=None,
                                    recording_lag=attrition.recording_lag_days(synthetic_data)).summary.iloc[0]
    assert s.loc["completion_rate", "value"] == own["estimate"]
    assert (s["scope"] == "S01").all()
    with pytest.raises(ValueError, match="needs a site_id"):
        headlines.site_and_all_sites(synthetic_data, site=None)


def test_unknown_code_and_site_are_named(synthetic_data):
    with pytest.raises(ValueError, match="completion_ratio"):
        headlines.headline_figures(synthetic_data, codes=["completion_ratio"])
    with pytest.raises(AnalysisError, match="S99"):
        headlines.headline_figures(synthetic_data, site="S99", codes=["referrals"])


def test_a_figure_the_data_cannot_support_says_why(mini_folder):
    (mini_folder / "incidents.csv").unlink()  # no linked police data at all
    data = load_programme(mini_folder)
    s = headlines.headline_figures(data, codes=["referrals", "police_after", "partner_feels_safer"]).summary
    s = s.set_index("code")
    assert s.loc["referrals", "value"] == 5
    for code in ("police_after", "partner_feels_safer"):
        assert np.isnan(s.loc[code, "value"]) and s.loc[code, "value_text"] == "not available"
        assert s.loc[code, "note"], code
    # one site has no annual cost: the analysis' note names the column; the reader sees plain words
    cost = headlines.headline_figures(data, codes=["cost_per_completion"]).summary.iloc[0]
    assert cost["value_text"] == "not available"
    assert "annual cost" in cost["note"] and formatting.find_code_names(cost["note"]) == []


@pytest.fixture(scope="module")
def sc(synthetic_data):
    return headlines.site_comparison(synthetic_data)


def test_site_comparison_values_equal_each_sites_headline(sc, synthetic_data, hf):
    s = sc.summary
    assert list(dict.fromkeys(s["outcome"])) == list(headlines.SITE_OUTCOMES)
    by_site = attrition.completion_rate(synthetic_data, by="site_id",
                                        recording_lag=attrition.recording_lag_days(synthetic_data)).summary
    comp = s[s["outcome"] == "completion_rate"].set_index("site_id")
    for sid, g in by_site.groupby("group"):
        row = g[g["basis"].str.startswith("pooled")].iloc[0] if len(g) > 1 else g.iloc[0]
        assert comp.loc[sid, "estimate"] == row["estimate"], sid
    # the all-sites row is the headline figure; site denominators add up to it
    for o in headlines.SITE_OUTCOMES:
        t = s[s["outcome"] == o].set_index("site_id")
        assert t.loc["all", "estimate"] == hf.loc[o, "value"], o
        if o == "police_after":
            # follow-up counts people (first started referral); someone who started at two sites counts at
            # each site but once overall, so the sites can add up to a little more than all sites
            ref = synthetic_data.referrals
            multi = int((ref[ref["start_date"].notna()].groupby("participant_id")["site_id"].nunique() > 1).sum())
            assert 0 <= t.drop(index="all")["n"].sum() - t.loc["all", "n"] <= multi
            assert multi > 0
        else:
            assert t.drop(index="all")["n"].sum() == t.loc["all", "n"], o
    assert comp.loc["S05", "programme_model"] == "one-to-one"
    assert (s["ci_lower"] <= s["estimate"]).all() and (s["estimate"] <= s["ci_upper"]).all()


def test_site_comparison_case_mix_sentences(sc, synthetic_data):
    cm = sc.tables["case_mix"].set_index("outcome")["case_mix"]
    assert list(cm.index) == list(headlines.SITE_OUTCOMES)
    for o, text in cm.items():
        assert formatting.find_code_names(text) == [], (o, text)
        # shares of people (referral sources, partners 'not safe at all', police the year before) are worded by
        # the release from its published counts (issue 26): the analysis's sentences carry none
        assert "%" not in text, (o, text)
    ri = sc.tables["risk_intake"].set_index("site_id")  # worded by the release from its published means
    mc = sc.tables["mix_counts"]
    assert set(mc["what"]) == {"not_safe_at_all", "police_before"}
    pb = mc[mc["what"] == "police_before"].set_index("site_id")
    assert pb.loc["S05", "n_numerator"] == 20 and pb.loc["S05", "n"] == 35  # headline_figures(site="S05")
    # the intake-risk means are the risk analysis's (mean intake DASH among people assessed twice)
    from dapp_eval.analyses import risk

    g = risk.change(synthetic_data).tables["changes"].groupby("site_id")["score_from"]
    np.testing.assert_array_equal(ri["mean"].to_numpy(), g.mean().to_numpy())
    np.testing.assert_array_equal(ri["n"].to_numpy(), g.size().to_numpy())
    assert "10 to 24 planned weekly sessions" in cm["completion_rate"]


def test_site_comparison_plot(sc):
    import matplotlib.pyplot as plt

    ax = sc.plot(outcome="police_after")
    assert len(ax.get_yticklabels()) == 5
    plt.close("all")


def test_definitions_table_lists_every_figure():
    d = headlines.definitions()
    assert d["code"].tolist() == list(headlines.REGISTRY)
    assert {"numerator", "denominator", "period", "definition", "how_to_quote", "format"} <= set(d.columns)
    assert isinstance(d, pd.DataFrame)


def test_every_published_column_has_plain_words(hf, sc, synthetic_data):
    from dapp_eval.analyses import trends

    s2 = headlines.site_and_all_sites(synthetic_data, site="S02", codes=["police_after"]).summary
    cols = [*hf.reset_index().columns, *sc.summary.columns, *sc.tables["case_mix"].columns,
            *headlines.definitions().columns, *s2.columns, *trends.xmr([1, 2, 3]).columns,
            *trends.p_chart([1, 2], [3, 4]).columns]
    assert formatting.plain_columns(cols)  # raises KeyError naming any code without plain words


def test_site_comparison_of_one_site_says_there_is_nothing_to_compare(synthetic_data):
    sc1 = headlines.site_comparison(synthetic_data.subset(sites=["S03"]))
    assert set(sc1.tables["case_mix"]["case_mix"]) == {"Only one site: there is no other site to compare with."}
    t = sc1.summary[sc1.summary["outcome"] == "completion_rate"].set_index("site_id")
    # one site: its figure and the all-sites figure are the same computation
    assert t.loc["S03", "estimate"] == t.loc["all", "estimate"]

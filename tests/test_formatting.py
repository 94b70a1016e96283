"""Commissioner formatting (dapp_eval.formatting): fixed inputs, exact expected text."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from dapp_eval import formatting as f


@pytest.mark.parametrize("x, digits, text", [
    (0.8012, 0, "80%"), (0.8012, 1, "80.1%"), (0.005, 0, "0%"), (1, 0, "100%"), (0.125, 1, "12.5%"),
])
def test_percent(x, digits, text):
    assert f.percent(x, digits) == text


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA])
def test_missing_values_read_n_a(missing):
    for fn in (f.percent, f.gbp, f.count, f.weeks, f.p_value, f.sig, f.in_n_in_10):
        assert fn(missing) == "n/a"
    assert f.long_date(pd.NaT) == "n/a"


def test_suppressed_cells_pass_through():
    for fn in (f.percent, f.gbp, f.count, f.weeks, f.p_value, f.sig):
        assert fn("<10") == "<10" and fn("[c]") == "[c]"


@pytest.mark.parametrize("x, text", [(304.3, "£304"), (1234.4, "£1,234"), (562000, "£562,000"), (0, "£0"),
                                     (-1500, "-£1,500")])
def test_gbp(x, text):
    assert f.gbp(x) == text


def test_gbp_pence_and_count():
    assert f.gbp(933.554817, pence=True) == "£933.55"
    assert f.count(1947) == "1,947" and f.count(np.int64(2000)) == "2,000"
    with pytest.raises(ValueError, match="whole number"):
        f.count(2.5)


@pytest.mark.parametrize("x, text", [
    ("2023-04-01", "1 April 2023"), (dt.date(2025, 3, 31), "31 March 2025"),
    (pd.Timestamp("2024-12-09"), "9 December 2024"), ("2025-04-30T00:00:00", "30 April 2025"),
])
def test_long_date(x, text):
    assert f.long_date(x) == text


@pytest.mark.parametrize("x, text", [(3.1e-26, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.001"),
                                     (0.0412, "0.041"), (1.0, "1.000")])
def test_p_value(x, text):
    assert f.p_value(x) == text


def test_p_value_out_of_range():
    with pytest.raises(ValueError, match="between 0 and 1"):
        f.p_value(1.2)


@pytest.mark.parametrize("x, digits, text", [
    (0.012345, 2, "0.012"), (12345.6, 3, "12,300"), (3.14159, 3, "3.14"), (0.999, 2, "1.0"), (-0.0456, 1, "-0.05"),
    (100, 2, "100"),
])
def test_significant_digits(x, digits, text):
    assert f.sig(x, digits) == text


@pytest.mark.parametrize("x, text", [
    (0.288, "about 3 in 10"), (0.25, "about 3 in 10"), (0.249, "about 2 in 10"), (0.81, "about 8 in 10"),
    (0.04, "fewer than 1 in 10"), (0.05, "about 1 in 10"), (0.95, "nearly all"), (0.5, "about half"),
    (0.0, "fewer than 1 in 10"),
])
def test_n_in_10(x, text):
    assert f.in_n_in_10(x) == text


def test_format_value_every_format():
    assert [f.format_value(v, k) for v, k in ((0.288, "percent"), (1947, "count"), (933.5, "gbp"), (8.43, "weeks"),
                                              (-3.61, "points"), (-37.7, "percentage_points"))] == [
        "29%", "1,947", "£934", "8.4 weeks", "-3.6 points", "-38 percentage points"]
    with pytest.raises(ValueError, match="unknown format"):
        f.format_value(1, "ratio")


def test_plain_names_cover_the_issue_examples_and_have_no_code():
    for code in ("assessed_of_referred", "n_resolved", "smd_max_abs", "emm", "p_value_holm"):
        assert f.plain_name(code) != code
    for code, words in f.PLAIN_NAMES.items():
        assert f.find_code_names(words) == [], (code, words)
    with pytest.raises(KeyError, match="PLAIN_NAMES"):
        f.plain_name("some_new_column")
    assert f.plain_name("Site") == "Site"


def test_find_code_names_in_visible_text():
    text = ("Completion (assessed_of_referred) was 80%; n_resolved = 12, see all_site_funnel.csv or "
            "/data_synthetic/referrals.csv; Cohen's d, p-value < 0.001; emm and p_value_holm; DASH_total.")
    assert f.find_code_names(text) == ["assessed_of_referred", "n_resolved", "p_value_holm", "DASH_total"]
    assert f.find_code_names("n_resolved", allow=["n_resolved"]) == []
    assert f.find_code_names("Planned length + grace, 95% CI, one-to-one (ex-)partners") == []


def test_find_raw_proportions():
    assert f.find_raw_proportions("0.859 and .42 and 0.8") == ["0.859", ".42"]
    assert f.find_raw_proportions("81% (95% CI 78% to 84%); 2023/24 Q1; version 0.2.1; 1,234.56") == []


def test_in_n_in_10_rounds_half_up_not_to_even():
    # Python's round() rounds 2.5 to 2; the phrasing must not depend on that
    assert math.floor(10 * 0.25 + 0.5) == 3 and f.in_n_in_10(0.35) == "about 4 in 10"


# every snake_case token visible in the 0.1 all-sites report (reports/report_all_sites.html, scanned with
# find_code_names on 2 December 2026: 142 tokens), apart from the package name
REPORT_01_TOKENS = """n_converted n_resolved n_open ci_lower ci_upper assessed_of_referred accepted_of_assessed
started_of_accepted completed_of_started started_of_referred completed_of_referred n_event n_competing n_censored
median_weeks median_among_those_with_event n_waiting n_referred q1_weeks q3_weeks n_over_threshold threshold_weeks
awaiting_assessment awaiting_start n_referrals n_starts n_completions target_completions n_participants
n_sessions_attended n_sessions_denominator median_attended attended_of_scheduled attended_of_planned n_group
smd_max_abs not_completed n_children prior_da_police_contact substance_misuse white_british white_other
referral_source childrens_social_care family_court relationship_to_victim ex_partner abuse_types coercive_control
planned_sessions horizon_days n_completed raw_ratio std_error start_date age_per_10y p_value n_events wait_per_30d
programme_model_one_to_one proportional_hazard_test dropped_out other_exit p_value_holm n_total n_with_a_score
n_one_score one_score n_paired mean_from mean_to mean_change median_change cohens_dz hedges_gav reliably_improved
any_improvement no_reliable_change reliably_worse could_improve_reliably reliably_improved_of_could
clinically_significant_improvement band_from band_to follow_up difference_vs_intake n_observed tipping_point_delta
n_reporting n_yes_baseline n_yes_followup n_stopped status_label n_expected n_of measure_no informed_by
space_for_action physical_violence feels_safe child_exposed child_protection n_marac n_repeat n_people_marac
n_people_repeat n_lookback_incomplete group_label did_not_complete one_to_one completion_rate dash_mean_change
exit_time last_session grace_weeks baseline_wave followup_wave window_months proven_lag_months n_rows n_columns
risk_assessments partner_surveys n_in emm""".split()


def test_every_code_of_the_01_report_has_plain_words():
    assert [t for t in REPORT_01_TOKENS if t not in f.PLAIN_NAMES] == []


def test_every_data_contract_value_with_an_underscore_has_plain_words():
    from dapp_eval.data import schema

    values = [v for name in ("PROGRAMME_MODELS", "REFERRAL_SOURCES", "ETHNICITIES", "RELATIONSHIPS", "ABUSE_TYPES",
                             "EXIT_REASONS", "TIMEPOINTS", "SURVEY_BEHAVIOURS", "INCIDENT_TYPES")
              for v in getattr(schema, name)]
    assert [v for v in values if "_" in v and v not in f.PLAIN_NAMES] == []


def test_plain_text_rewrites_known_codes_only():
    assert f.plain_text("no annual_cost_gbp") == "no annual cost"
    assert f.plain_text("marac_referral recorded") == "MARAC referral recorded"
    assert f.plain_text("see n_resolved; n_open too") == "see number with a decision; Number still open too"
    assert f.plain_text("an unknown_code stays") == "an unknown_code stays"


def test_plain_table_headers_cells_and_code_row():
    t = pd.DataFrame({"quarter_start": pd.to_datetime(["2023-04-01"]), "n": ["<10"], "partial": [True],
                      "cost_per_completion": [933.55], "mean_change": [-3.6146], "group": ["one_to_one"]})
    out = f.plain_table(t, {"cost_per_completion": "gbp"})
    assert list(out.columns) == ["Quarter starts", "Number of people", "Part quarter", "Cost per completion",
                                 "Average change in score", "Group"]
    assert out.iloc[0].tolist() == ["1 April 2023", "<10", "yes", "£934", "-3.61", "One-to-one"]
    coded = f.plain_table(t, keep_codes=True)
    assert coded.columns.get_level_values(1).tolist() == list(t.columns)
    text = " ".join(out.columns) + " " + " ".join(out.iloc[0])
    assert f.find_code_names(text) == []
    with pytest.raises(KeyError, match="new_thing"):
        f.plain_table(pd.DataFrame({"new_thing": [1]}))

"""Analysis plan, --period and --strict: choices fixed up front change exactly what they should."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SYNTHETIC

from dapp_eval.plan import DEFAULT_PLAN, load_plan
from dapp_eval.report import ReportBuilder


def test_defaults_and_overrides(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("title: Test plan\nprimary:\n  safety: sexual_violence\nfollowup:\n  window_months: 6\n")
    plan = load_plan(p, threshold=5)
    assert plan["title"] == "Test plan"
    assert plan["primary"]["safety"] == "sexual_violence"
    assert plan["primary"]["risk"] == DEFAULT_PLAN["primary"]["risk"]
    assert plan["followup"] == {"window_months": 6, "proven_lag_months": 6}
    assert plan["threshold"] == 5


@pytest.mark.parametrize(("raw", "message"), [
    ({"primary": {"safety": "shouting"}}, "primary.safety must be one of"),
    ({"primary": {"engagement": "raw_ratio"}}, "primary.engagement must be one of"),
    ({"attrition": {"exit_time": "whenever"}}, "attrition.exit_time must be one of"),
    ({"colour": "blue"}, "unknown setting 'colour'"),
    ({"risk": {"scale": 2}}, "unknown setting 'risk.scale'"),
    ({"threshold": 0}, "threshold must be >= 1"),
    ({"period": ["2024-01-01"]}, "period must be [FROM, TO]"),
])
def test_bad_plans_are_named(raw, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_plan(raw)


def test_period_restricts_referrals_and_is_printed():
    rb = ReportBuilder.from_folder(SYNTHETIC, period=("2024-04-01", "2024-09-30"))
    dates = rb.data.referrals["referral_date"]
    full = pd.read_csv(SYNTHETIC / "referrals.csv", parse_dates=["referral_date"])["referral_date"]
    expected = int(full.between("2024-04-01", "2024-09-30").sum())
    assert len(dates) == expected and expected > 0
    assert dates.min() >= pd.Timestamp("2024-04-01") and dates.max() <= pd.Timestamp("2024-09-30")
    assert "received 2024-04-01 to 2024-09-30" in rb.section("title")
    from dapp_eval import funnel

    counts = funnel.cascade(rb.data).counts  # the page's data: the funnel starts from the period's referrals
    assert int(counts.loc[counts["stage"] == "referred", "n"].iloc[0]) == expected


def test_strict_suppresses_small_throughput_counts(synthetic_data):
    plan = load_plan()
    lax = ReportBuilder(synthetic_data.subset(sites=["S05"]), site="S05", plan=plan, synthetic=True)
    strict = ReportBuilder(synthetic_data.subset(sites=["S05"]), site="S05", plan=plan, strict=True, synthetic=True)
    lax_html, strict_html = lax.section("engagement"), strict.section("engagement")
    assert strict_html.count("&lt;10") > lax_html.count("&lt;10")
    # referrals, starts and completions are throughput: published in the ordinary report, whatever their size
    flow = lax.dc.log[lax.dc.log["table"] == "Participant flow"]
    assert not flow["row"].isin(["Referred", "Started", "Completed"]).any()
    assert flow["row"].isin(["Awaiting assessment", "Excluded"]).any()   # exits and waits describe people
    strict_flow = strict.dc.log[strict.dc.log["table"] == "Participant flow"]
    assert len(strict_flow) >= len(flow)

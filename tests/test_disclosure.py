"""Disclosure control: every rule triggered on hand-made tables with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from dapp_eval.disclosure import DisclosureControl, count_columns


def test_primary_suppression_hides_counts_and_their_percentages():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"level": ["a", "b", "c"], "n": [0, 7, 40], "estimate": [0.0, 0.15, 0.85]})
    out = dc.table(t, name="t")
    assert out["n"].tolist() == ["0", "<10", "40"]       # zero is published: "none" identifies nobody
    assert out["estimate"].tolist()[1] == "<10"          # a rate built on a hidden count is hidden
    assert out["estimate"].tolist()[2] == 0.85
    assert dc.log["reason"].tolist() == ["count below 10"]


def test_secondary_suppression_protects_against_subtraction_from_total():
    dc = DisclosureControl(threshold=10)
    # one margin (site A): 30 + 4 + 12 = 46 published as a total elsewhere
    t = pd.DataFrame({"site": ["A", "A", "A", "B", "B"], "stage": ["x", "y", "z", "x", "y"],
                      "n": [30, 4, 12, 50, 60]})
    out = dc.table(t, name="funnel", margins=["site"])
    assert out["n"].tolist() == ["30", "<10", "<10", "50", "60"]   # 12 is the next-smallest in A's margin
    reasons = dc.log["reason"].tolist()
    assert reasons.count("secondary suppression: protects a suppressed cell in the same margin") == 1


def test_two_hidden_cells_need_no_secondary():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"g": ["A"] * 3, "n": [3, 4, 30]})
    assert dc.table(t, name="t", margins=["g"])["n"].tolist() == ["<10", "<10", "30"]


def test_complement_rule():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"item": ["injury"], "n_reporting": [48], "n_answered": [50], "estimate": [0.96]})
    out = dc.table(t, name="t", pairs={"n_reporting": "n_answered"})
    assert out.loc[0, "n_reporting"] == "<10" and out.loc[0, "estimate"] == "<10"
    assert out.loc[0, "n_answered"] == "50"


def test_throughput_published_unless_strict():
    t = pd.DataFrame({"quarter": ["Q1"], "n_referrals": [4]})
    assert DisclosureControl().table(t, name="t", kind="throughput")["n_referrals"].item() == "4"
    assert DisclosureControl(strict=True).table(t, name="t", kind="throughput")["n_referrals"].item() == "<10"
    assert DisclosureControl().count(4, kind="throughput") == "4"
    assert DisclosureControl(strict=True).count(4, kind="throughput") == "<10"


def test_curve_stops_below_threshold_and_rounds_at_risk():
    dc = DisclosureControl(threshold=10)
    curve = pd.DataFrame({"group": "all", "outcome": "completed", "time_days": [0, 7, 14, 21, 28],
                          "estimate": [0, .1, .2, .3, .4], "n_at_risk": [53, 27, 12, 9, 3]})
    out = dc.curve(curve, name="cif")
    assert out["time_days"].tolist() == [0, 7, 14]
    assert out["n_at_risk"].tolist() == [55, 25, 10]
    assert "curve stopped" in dc.log["reason"].iloc[0]


def test_threshold_setting_and_validation():
    dc = DisclosureControl(threshold=5)
    assert dc.count(5) == "5" and dc.count(4) == "<5"
    with pytest.raises(ValueError):
        DisclosureControl(threshold=0)


def test_count_columns_by_name():
    assert count_columns(pd.DataFrame(columns=["n", "n_open", "name", "estimate"])) == ["n", "n_open"]


def test_small_site_report_triggers_every_rule(synthetic_data):
    """A real report section of the smallest site exercises primary, complement, secondary and curve rules."""
    from dapp_eval.plan import load_plan
    from dapp_eval.report import ReportBuilder

    small = synthetic_data.subset(sites=["S05"])
    rb = ReportBuilder(small, site="S05", plan=load_plan(threshold=10), synthetic=True, full_data=synthetic_data)
    html = rb.page()
    reasons = set(rb.dc.log["reason"])
    assert "count below 10" in reasons
    assert any(r.startswith("complement") for r in reasons)
    assert any(r.startswith("secondary suppression") for r in reasons)
    assert any(r.startswith("curve stopped") for r in reasons)
    assert "Appendix: disclosure control log" in html
    # hidden values never appear in the log
    assert set(rb.dc.log.columns) == {"table", "row", "column", "reason"}

"""Disclosure control (suppress below 10, round the rest to 5): every rule on hand-made tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dapp_eval.disclosure import (
    DisclosureControl,
    count_columns,
    how_figures_are_protected,
    protected_sentence,
    round_count,
)
from dapp_eval.disclosure.control import WITH_SMALL, ZERO_OR_FEW
from dapp_eval.formatting import read_published_csv


def test_primary_suppression_hides_counts_and_their_percentages():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"level": ["a", "b", "c"], "n": [0, 7, 40], "estimate": [0.0, 0.15, 0.85]})
    out = dc.table(t, name="t")
    assert out["n"].tolist() == ["0", "<10", "40"]       # zero is published: "none" identifies nobody
    assert out["estimate"].tolist()[1] == "[c]"          # a rate built on a hidden count is hidden
    assert out["estimate"].tolist()[2] == 0.85
    assert dc.log["reason"].tolist() == ["count below 10"]


def test_no_secondary_suppression_every_other_count_rounded_to_5():
    dc = DisclosureControl(threshold=10)
    # one margin (site A): 30 + 4 + 12 = 46 published as a total elsewhere; rounding, not a second hidden cell,
    # protects the 4: 45 - 30 - 10 leaves anything from -2 to 8 (each rounded count is off by up to 2)
    t = pd.DataFrame({"site": ["A", "A", "A", "B", "B"], "stage": ["x", "y", "z", "x", "y"],
                      "n": [30, 4, 12, 52, 63]})
    out = dc.table(t, name="funnel", margins=["site"])
    assert out["n"].tolist() == ["30", "<10", "10", "50", "65"]
    assert dc.log["reason"].tolist() == ["count below 10"]
    summ = dc.summary.iloc[0]
    assert (summ["cells_published"], summ["cells_rounded"], summ["cells_withheld"]) == (4, 3, 1)


def test_rounding_is_the_same_function_of_the_true_value_everywhere():
    # halves go up; 10-12 -> 10, 13-17 -> 15; one true value has one published value in every table
    dc = DisclosureControl()
    assert [round_count(v) for v in (10, 12, 13, 17, 18, 22, 23, 1947)] == [10, 10, 15, 15, 20, 20, 25, 1945]
    a = dc.table(pd.DataFrame({"g": ["x"], "n": [23]}), name="a")
    b = dc.table(pd.DataFrame({"item": ["y", "z"], "n_reporting": [23, 40]}), name="b")
    assert a["n"].item() == b["n_reporting"].iloc[0] == dc.count(23) == "25"


def test_a_total_row_beside_a_suppressed_part_is_withheld():
    # 'any' = 4 + 14: with the funnel's other rounded views of the same people, 20 pinned the 4 (audit, S01)
    t = pd.DataFrame({"list": ["awaiting_assessment", "awaiting_start", "any"], "n_waiting": [4, 14, 18],
                      "n_referred": [427, 427, 427], "median_weeks": [3.0, 7.0, 6.5]})
    dc = DisclosureControl()
    out = dc.table(t, name="waiting list", dependent={"n_waiting": ["median_weeks"], "n_referred": []})
    assert out["n_waiting"].tolist() == ["<10", "15", "[c]"]
    assert out["median_weeks"].tolist() == ["[c]", 7.0, "[c]"]
    assert out["n_referred"].tolist() == ["425"] * 3       # not a part of anything small: published
    assert dc.log["reason"].tolist() == ["count below 10", WITH_SMALL]


def test_two_hidden_cells():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"g": ["A"] * 3, "n": [3, 4, 30]})
    assert dc.table(t, name="t", margins=["g"])["n"].tolist() == ["<10", "<10", "30"]


def test_complement_rule_hides_the_percentage_not_the_counts():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"item": ["injury"], "n_reporting": [48], "n_answered": [50], "estimate": [0.96]})
    out = dc.table(t, name="t", pairs={"n_reporting": "n_answered"})
    # 0.96 x 50 would give 48 and so the 2 who did not report: the estimate goes, the rounded counts stay
    assert out.loc[0, "n_reporting"] == "50" and out.loc[0, "estimate"] == "[c]"
    assert out.loc[0, "n_answered"] == "50"


def test_percentages_and_wilson_intervals_recomputed_from_published_counts():
    from dapp_eval.estimators.proportions import wilson_ci

    lo, hi = wilson_ci(np.array([176, 24]), np.array([208, 36]))
    t = pd.DataFrame({"conversion": ["a", "b"], "n_converted": [176, 24], "n_resolved": [208, 36],
                      "estimate": [176 / 208, 24 / 36], "ci_lower": lo, "ci_upper": hi})
    out = DisclosureControl().table(t, name="conv", pairs={"n_converted": "n_resolved"})
    assert out["n_converted"].tolist() == ["175", "25"] and out["n_resolved"].tolist() == ["210", "35"]
    # the published proportion is 175/210, not 176/208: it cannot be used to un-round the counts
    assert out["estimate"].tolist() == pytest.approx([175 / 210, 25 / 35], abs=1e-12)
    plo, phi = wilson_ci(np.array([175, 25]), np.array([210, 35]))
    assert out["ci_lower"].tolist() == pytest.approx(plo.tolist(), abs=1e-12)   # exact: same formula
    assert out["ci_upper"].tolist() == pytest.approx(phi.tolist(), abs=1e-12)
    # % of the first row (the funnel's "% of referred") and a cost per person are recomputed too
    f = pd.DataFrame({"stage": ["referred", "assessed"], "n": [212, 176], "pct": [100.0, 100 * 176 / 212]})
    assert DisclosureControl().table(f, name="f")["pct"].tolist() == pytest.approx([100.0, 100 * 175 / 210])
    c = pd.DataFrame({"group": ["all"], "period_cost_gbp": [562000.0], "n_referrals": [1947],
                      "cost_per_referral": [562000 / 1947]})
    out = DisclosureControl().table(c, name="c", kind="throughput")
    assert out["n_referrals"].item() == "1,945"
    assert out["cost_per_referral"].item() == pytest.approx(562000 / 1945)


def test_a_model_estimate_is_not_mistaken_for_a_ratio():
    # a cumulative incidence of 0.84 beside 73 of 97 is a model estimate: it is kept as computed
    t = pd.DataFrame({"basis": ["pooled"], "n": [97], "n_completed": [73], "estimate": [0.8395],
                      "ci_lower": [0.747], "ci_upper": [0.900]})
    out = DisclosureControl().table(t, name="t", pairs={"n_completed": "n"})
    assert out[["estimate", "ci_lower", "ci_upper"]].iloc[0].tolist() == [0.8395, 0.747, 0.900]


def test_row_margins_and_row_cells():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"step": ["wait"], "n": [212], "n_event": [176], "n_competing": [32], "n_censored": [4],
                      "estimate": [5.0]})
    out = dc.table(t, name="t", row_margins=[["n_event", "n_competing", "n_censored"]],
                   dependent={"n_censored": [], "n_competing": []})
    assert out[["n", "n_event", "n_competing", "n_censored"]].iloc[0].tolist() == ["210", "175", "30", "<10"]
    assert out.loc[0, "estimate"] == 5.0
    # paired 2x2: both = yes_base - stopped, started, neither = pairs - yes_base - started
    pairs = pd.DataFrame({"label": ["physical"], "n_pairs": [169], "n_yes_baseline": [107],
                          "n_yes_followup": [19], "n_stopped": [92], "n_started": [4], "estimate": [-0.52]})

    def cells(d):
        return pd.DataFrame({"both": d["n_yes_baseline"] - d["n_stopped"], "stopped": d["n_stopped"],
                             "started": d["n_started"],
                             "neither": d["n_pairs"] - d["n_yes_baseline"] - d["n_started"]})

    out = DisclosureControl().table(pairs, name="p", row_cells=cells, keep=("n_pairs",))
    assert out.iloc[0].tolist() == ["physical", "170", "105", "20", "90", "<10", "[c]"]


def test_block_suppression_hides_what_describes_the_block_not_a_sibling_percentage():
    t = pd.DataFrame({"label": ["police"] * 3, "period": ["before", "after", "change"],
                      "n": [35, 35, 35], "n_with_incident": [21, 8, None], "estimate": [21 / 35, 8 / 35, -13 / 35]})
    out = DisclosureControl().table(t, name="t", group_all=["label"], keep=("n",), label_cols=["label", "period"])
    assert out["n_with_incident"].tolist() == ["20", "<10", ""]
    # 'before' is a percentage of 35 people: kept, recomputed from the published 20 of 35; the small 'after'
    # and the change between them (a row with no counts of its own) are hidden
    assert out["estimate"].tolist()[1:] == ["[c]", "[c]"]
    assert out["estimate"].iloc[0] == pytest.approx(20 / 35)
    assert out["n"].tolist() == ["35", "35", "35"]
    # Table 1: an SMD (the same on both rows of a level) goes with the small cell; each group's % stays
    t1 = pd.DataFrame({"variable": ["employed"] * 2, "level": ["yes"] * 2, "group": ["completed", "not"],
                       "n": [40, 5], "n_group": [73, 15], "pct": [round(4000 / 73, 2), round(500 / 15, 2)],
                       "smd_max_abs": [0.42, 0.42]})
    out = DisclosureControl().table(t1, name="t1", group_all=["variable", "level"], keep=("n_group",))
    assert out["smd_max_abs"].tolist() == ["[c]", "[c]"] and out["pct"].iloc[1] == "[c]"
    assert out["pct"].iloc[0] == pytest.approx(100 * 40 / 75)


def test_exempt_rows_small_counts_withheld_too():
    t = pd.DataFrame({"stage": ["referred", "declined", "waiting", "started"], "parent": ["", "referred", "referred",
                                                                                        "referred"],
                      "n": [41, 5, 21, 4]})
    out = DisclosureControl().table(t, name="t", margins=["parent"], exempt=t["stage"].isin(["referred", "started"]))
    # issue 26 (f): a small throughput count is withheld like any other (5 would say 1-7: more than '<10')
    assert out["n"].tolist() == ["40", "<10", "20", "<10"]
    strict = DisclosureControl(strict=True).table(t, name="t", margins=["parent"],
                                                  exempt=t["stage"].isin(["referred", "started"]))
    assert strict["n"].tolist() == ["40", "<10", "20", "<10"]   # strict: starts are not exempt


def test_throughput_small_counts_withheld():
    t = pd.DataFrame({"quarter": ["Q1", "Q2", "Q3"], "n_referrals": [4, 1, 0]})
    # issue 26 (f): a small throughput count is withheld, not shown as 5 or 10
    assert DisclosureControl().table(t, name="t", kind="throughput")["n_referrals"].tolist() == ["<10", "<10", "0"]
    assert DisclosureControl(strict=True).table(t, name="t", kind="throughput")["n_referrals"].tolist() == [
        "<10", "<10", "0"]
    assert DisclosureControl().count(4, kind="throughput") == "<10"
    assert DisclosureControl(strict=True).count(4, kind="throughput") == "<10"


def test_model_allowed_needs_threshold_events():
    dc = DisclosureControl(threshold=10)
    assert not dc.model_allowed(9, name="cox") and dc.model_allowed(10, name="cox")
    assert dc.log.to_dict("records") == [{"table": "cox", "row": "", "column": "model",
                                          "reason": "model withheld: fewer than 10 events"}]
    assert "fewer than 10 events" in dc.withheld_reason()


def test_plain_english_text():
    box = how_figures_are_protected(10, 5)
    assert "below 10 are not shown" in box and "nearest 5" in box and "up to 2 either way" in box
    shown = DisclosureControl().table(pd.DataFrame({"g": ["a", "b"], "n": [3, 31], "estimate": [0.1, 0.9]}),
                                      name="t")
    assert protected_sentence(shown) == ("Counts are rounded to the nearest 5; '<10' marks a count below 10, "
                                         "and '[c]' a value calculated from one.")
    assert protected_sentence(pd.DataFrame({"g": ["a"], "n": ["0"]})) == ""


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


@pytest.fixture(scope="module")
def s05_pages(synthetic_data):
    """strict -> (ReportBuilder, page) of the smallest site, S05, at the plan's threshold of 10: each page is
    rendered once for the tests below."""
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report import ReportBuilder

    pages = {}

    def page(strict: bool):
        if strict not in pages:
            plan = load_plan(threshold=10)
            assert plan == load_plan()  # 10 is the default: the page of the default plan
            small = synthetic_data.subset(sites=["S05"])
            rb = ReportBuilder(small, site="S05", plan=plan, strict=strict, synthetic=True, full_data=synthetic_data)
            pages[strict] = rb, "".join(rb.pages())  # the report and its technical annex
        return pages[strict]

    return page


def test_small_site_report_triggers_every_rule(s05_pages):
    """A real report section of the smallest site exercises primary, complement, secondary and curve rules."""
    rb, html = s05_pages(False)
    reasons = set(rb.dc.log["reason"])
    assert "count below 10" in reasons
    assert ZERO_OR_FEW in reasons  # a small complement or none/all of a small group: one reason for both
    assert not any(r.startswith("secondary suppression") for r in reasons)   # rounding makes it unnecessary
    assert any(r.startswith("curve stopped") for r in reasons)
    assert "Appendix: disclosure control log" in html
    # hidden values never appear in the log
    assert set(rb.dc.log.columns) == {"table", "row", "column", "reason"}


def _csvs(html):
    import base64
    import re

    for name, data in re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html):
        yield name, read_published_csv(base64.b64decode(data).decode("utf-8"))


# CSVs whose counts are the programme's own throughput (published as councils do, unless --strict)
THROUGHPUT_TABLES = ("throughput", "costs")


@pytest.mark.parametrize("strict", [False, True])
def test_no_small_count_reaches_a_small_site_report(s05_pages, strict):
    """Every table downloadable from the S05 report carries only suppressed small counts."""
    from dapp_eval.report import THROUGHPUT_STAGES

    _rb, html = s05_pages(strict)
    checked = 0
    for name, df in _csvs(html):
        if "data_quality_sizes" in name or name.startswith("disclosure_log"):
            continue  # rows per input file and the log's own cell counts
        if not strict and any(t in name for t in THROUGHPUT_TABLES):
            continue
        for c in [c for c in df.columns if c == "n" or c.startswith("n_")]:
            for i, v in enumerate(df[c]):
                if not strict and name.endswith("funnel_counts.csv") and df.loc[i, "stage"].lower() in [
                        s.replace("_", " ") for s in THROUGHPUT_STAGES]:
                    continue
                checked += 1
                txt = v.replace(",", "")
                assert not (txt.isdigit() and 0 < int(txt) < 10), f"{name} row {i} column {c}: {v}"
    assert checked > 300


def test_merge_small_levels_instead_of_withholding_them():
    """Global recoding: small levels merge into one named level whose counts are the sums."""
    t = pd.DataFrame({"variable": "ethnicity", "level": ["white", "white", "asian", "asian", "black", "black",
                                                          "mixed", "mixed", "other", "other"],
                      "group": ["completed", "not_completed"] * 5,
                      "n": [436, 102, 98, 30, 20, 6, 25, 8, 7, 0], "n_group": [586, 146] * 5,
                      "smd": [0.09, 0.09, -0.1, -0.1, -0.04, -0.04, -0.05, -0.05, 0.15, 0.15]})
    t["pct"] = 100 * t["n"] / t["n_group"]
    dc = DisclosureControl()
    m = dc.merge_small(t, by=["variable"], level="level", across=["group"], ratios={"pct": ("n", "n_group", 100.0)},
                       name="Table 1", named=True)
    merged = m[m["level"] == "black, mixed or other"]
    assert merged["n"].tolist() == [52, 14] and merged["n_group"].tolist() == [586, 146]
    assert merged["pct"].round(6).tolist() == [round(100 * 52 / 586, 6), round(100 * 14 / 146, 6)]
    assert merged["smd"].isna().all()            # an SMD of single levels does not describe the merged one
    assert m["level"].tolist()[:4] == ["white", "white", "asian", "asian"] and len(m) == 6
    assert dc.log["reason"].tolist() == ["levels merged so that they need not be withheld: black, mixed or other"]
    shown = dc.table(m.drop(columns="smd"), name="Table 1", label_cols=["variable", "level", "group"])
    assert (shown["n"] == "<10").sum() == 0       # was 3 count cells withheld (6, 8, 7)
    # one small level alone joins the next smallest (issue 26: not left to be withheld); merged levels still
    # small take in the next smallest
    one = t[t["level"].isin(["white", "asian", "black"])]
    got = DisclosureControl().merge_small(one, by=["variable"], level="level", across=["group"], named=True)
    assert got[["level", "n"]].values.tolist() == [["white", 436], ["white", 102], ["asian or black", 118],
                                                   ["asian or black", 36]]
    four = pd.DataFrame({"v": "x", "level": ["a", "b", "c", "d", "e"], "n": [50, 40, 30, 3, 2]})
    got = DisclosureControl().merge_small(four, by=["v"], level="level", named=True)
    assert got[["level", "n"]].values.tolist() == [["a", 50], ["b", 40], ["c, d or e", 35]]  # d or e alone: 5
    five = pd.DataFrame({"v": "x", "level": ["a", "b", "c", "d", "e", "f"], "n": [50, 40, 30, 20, 3, 2]})
    got = DisclosureControl().merge_small(five, by=["v"], level="level", named=True)
    assert got[["level", "n"]].values.tolist() == [["a", 50], ["b", 40], ["c", 30], ["d, e or f", 25]]


def test_a_mean_over_enough_people_is_not_hidden_for_a_small_complement():
    """Table 1: the mean age of 625 completers stays when 7 have no age; it goes when the row's own count is small."""
    t = pd.DataFrame({"variable": "age", "level": ["mean", "missing"], "group": "completed", "n": [625, 7],
                      "n_group": [632, 632], "pct": [98.89, 1.11], "mean": [35.78, np.nan], "sd": [12.04, np.nan]})
    old = DisclosureControl().table(t, name="t1", pairs={"n": "n_group"}, label_cols=["variable", "level", "group"])
    new = DisclosureControl().table(t, name="t1", pairs={"n": "n_group"}, label_cols=["variable", "level", "group"],
                                    own_values=("mean", "sd"))
    assert old.loc[0, "mean"] == "[c]" and new.loc[0, "mean"] == 35.78 and new.loc[0, "sd"] == 12.04
    assert new.loc[0, "pct"] == "[c]"             # the share still pins the 7: hidden as before
    small = t.assign(n=[8, 7], n_group=[15, 15])
    assert DisclosureControl().table(small, name="t1", own_values=("mean", "sd"),
                                     label_cols=["variable", "level", "group"]).loc[0, "mean"] == "[c]"


def test_a_huge_ratio_is_read_quietly_as_no_rounded_number():
    """A separated model's ratio of about 1e305 overflowed numpy's rounding (a RuntimeWarning in a release test)."""
    import warnings

    from dapp_eval.disclosure.control import _half_unit

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _half_unit(np.array([1.5e305, 2.0])) == 0.5
        assert _half_unit(np.array([0.25, 1.5, np.nan])) == 0.005
        assert _half_unit(np.array([0.1234567891])) == 0.0



def test_a_merged_label_does_not_say_which_levels_are_present():
    """A merged row named after its levels ('sikh or hindu') said that at least one Sikh person was in the group,
    and a level missing from it that no one was (an outside attacker matched 350 of 350 sets of levels): the
    label of levels that come from the data is the same whoever is there."""
    dc = DisclosureControl(threshold=7)
    a = pd.DataFrame({"v": "religion", "level": ["christian", "none", "sikh", "hindu"], "n": [40, 30, 3, 4]})
    b = pd.DataFrame({"v": "religion", "level": ["christian", "none", "jewish", "buddhist"], "n": [40, 30, 2, 6]})
    la = dc.merge_small(a, by=["v"], level="level")["level"].tolist()
    lb = dc.merge_small(b, by=["v"], level="level")["level"].tolist()
    assert la == lb == ["christian", "none", "other groups (merged so that none is too small to show)"]
    assert not dc.log["reason"].str.contains("sikh|hindu|jewish").any()
    # a group whose every level is small: one row, whatever its levels
    tiny = pd.DataFrame({"v": "gender", "level": ["male"], "n": [5]})
    small = pd.DataFrame({"v": "gender", "level": ["male", "female"], "n": [3, 2]})
    assert dc.merge_small(small, by=["v"], level="level")["level"].tolist() == [
        "all groups together (merged so that none is too small to show)"]
    assert dc.merge_small(tiny, by=["v"], level="level")["level"].tolist() == [
        "all groups together (merged so that none is too small to show)"]
    assert dc.merge_small(tiny.assign(n=50), by=["v"], level="level")["level"].tolist() == ["male"]  # 50: allowed

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
    assert out["estimate"].tolist()[1] == "[c]"          # a rate built on a hidden count is hidden
    assert out["estimate"].tolist()[2] == 0.85
    assert dc.log["reason"].tolist() == ["count below 10"]


def test_secondary_suppression_protects_against_subtraction_from_total():
    dc = DisclosureControl(threshold=10)
    # one margin (site A): 30 + 4 + 12 = 46 published as a total elsewhere
    t = pd.DataFrame({"site": ["A", "A", "A", "B", "B"], "stage": ["x", "y", "z", "x", "y"],
                      "n": [30, 4, 12, 50, 60]})
    out = dc.table(t, name="funnel", margins=["site"])
    # 12 is the next-smallest in A's margin; it is marked [c], not "<10", because it is not small
    assert out["n"].tolist() == ["30", "<10", "[c]", "50", "60"]
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
    assert out.loc[0, "n_reporting"] == "[c]" and out.loc[0, "estimate"] == "[c]"
    assert out.loc[0, "n_answered"] == "50"


def test_two_way_margins_are_applied_until_stable():
    dc = DisclosureControl(threshold=10)
    # 2 x 2 cross-table with published row and column totals: one small cell forces three more
    t = pd.DataFrame({"r": ["a", "a", "b", "b"], "c": ["x", "y", "x", "y"], "n": [3, 40, 50, 60]})
    out = dc.table(t, name="t", margins=[["r"], ["c"]])
    assert out["n"].tolist() == ["<10", "[c]", "[c]", "[c]"]


def test_row_margins_and_row_cells():
    dc = DisclosureControl(threshold=10)
    t = pd.DataFrame({"step": ["wait"], "n": [212], "n_event": [176], "n_competing": [32], "n_censored": [4],
                      "estimate": [5.0]})
    out = dc.table(t, name="t", row_margins=[["n_event", "n_competing", "n_censored"]],
                   dependent={"n_censored": [], "n_competing": []})
    assert out[["n_event", "n_competing", "n_censored"]].iloc[0].tolist() == ["176", "[c]", "<10"]
    assert out.loc[0, "estimate"] == 5.0 and out.loc[0, "n"] == "212"
    # paired 2x2: both = yes_base - stopped, started, neither = pairs - yes_base - started
    pairs = pd.DataFrame({"label": ["physical"], "n_pairs": [169], "n_yes_baseline": [107],
                          "n_yes_followup": [19], "n_stopped": [92], "n_started": [4], "estimate": [-0.52]})

    def cells(d):
        return pd.DataFrame({"both": d["n_yes_baseline"] - d["n_stopped"], "stopped": d["n_stopped"],
                             "started": d["n_started"],
                             "neither": d["n_pairs"] - d["n_yes_baseline"] - d["n_started"]})

    out = DisclosureControl().table(pairs, name="p", row_cells=cells, keep=("n_pairs",))
    assert out.iloc[0].tolist() == ["physical", "169", "[c]", "[c]", "[c]", "<10", "[c]"]


def test_block_suppression_hides_change_rows():
    t = pd.DataFrame({"label": ["police"] * 3, "period": ["before", "after", "change"],
                      "n": [35, 35, 35], "n_with_incident": [20, 8, None], "estimate": [0.57, 0.23, -0.34]})
    out = DisclosureControl().table(t, name="t", group_all=["label"], keep=("n",), label_cols=["label", "period"])
    assert out["n_with_incident"].tolist() == ["[c]", "<10", ""]
    assert out["estimate"].tolist() == ["[c]", "[c]", "[c]"]
    assert out["n"].tolist() == ["35", "35", "35"]


def test_exempt_rows_are_published_and_never_secondary():
    t = pd.DataFrame({"stage": ["referred", "declined", "waiting", "started"], "parent": ["", "referred", "referred",
                                                                                        "referred"],
                      "n": [41, 5, 21, 15]})
    out = DisclosureControl().table(t, name="t", margins=["parent"], exempt=t["stage"].isin(["referred", "started"]))
    assert out["n"].tolist() == ["41", "<10", "[c]", "15"]
    strict = DisclosureControl(strict=True).table(t, name="t", margins=["parent"],
                                                  exempt=t["stage"].isin(["referred", "started"]))
    assert strict["n"].tolist() == ["41", "<10", "21", "[c]"]   # strict: starts are not exempt


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


def _csvs(html):
    import base64
    import io
    import re

    for name, data in re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html):
        yield name, pd.read_csv(io.StringIO(base64.b64decode(data).decode("utf-8")), dtype=str, keep_default_na=False)


# CSVs whose counts are the programme's own throughput (published as councils do, unless --strict)
THROUGHPUT_TABLES = ("throughput", "costs")


@pytest.mark.parametrize("strict", [False, True])
def test_no_small_count_reaches_a_small_site_report(synthetic_data, strict):
    """Every table downloadable from the S05 report carries only suppressed small counts."""
    from dapp_eval.plan import load_plan
    from dapp_eval.report import THROUGHPUT_STAGES, ReportBuilder

    small = synthetic_data.subset(sites=["S05"])
    rb = ReportBuilder(small, site="S05", plan=load_plan(), strict=strict, synthetic=True, full_data=synthetic_data)
    html = rb.page()
    checked = 0
    for name, df in _csvs(html):
        if name.startswith("data_quality_sizes") or name.startswith("disclosure_log"):
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

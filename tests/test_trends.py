"""SPC charts (dapp_eval.analyses.trends) against hand-computed closed forms and the MDC rules."""

import numpy as np
import pandas as pd
import pytest

from dapp_eval.analyses import trends
from dapp_eval.errors import AnalysisError


def test_xmr_limits_closed_form():
    # mean = 47/4 = 11.75; moving ranges 2, 1, 3 -> mean 2; limits 11.75 +/- 2.66 x 2; 2 sigma +/- (2/3) x 5.32
    r = trends.xmr([10, 12, 11, 14])
    assert r["moving_range"].tolist()[1:] == [2.0, 1.0, 3.0]
    # tolerance: float arithmetic only (sums of small integers times 2.66)
    assert r["centre"].iloc[0] == pytest.approx(11.75, abs=1e-12)
    assert r["upper_limit"].iloc[0] == pytest.approx(17.07, abs=1e-12)
    assert r["lower_limit"].iloc[0] == pytest.approx(6.43, abs=1e-12)
    assert r["upper_2sigma"].iloc[0] == pytest.approx(11.75 + 2.66 * 2 * 2 / 3, abs=1e-12)  # float arithmetic only
    assert not r["special_cause"].any()


def test_xmr_partial_point_is_shown_but_not_in_the_limits_or_rules():
    full = trends.xmr([10, 12, 11, 14])
    r = trends.xmr([10, 12, 11, 14, 0], partial=[False, False, False, False, True])
    # tolerance: identical arithmetic on the same four points
    assert r["centre"].iloc[0] == pytest.approx(full["centre"].iloc[0], abs=1e-12)
    assert r["upper_limit"].iloc[0] == pytest.approx(full["upper_limit"].iloc[0], abs=1e-12)
    # 0 is far below the lower limit (6.43) but a partial quarter is never a special cause
    assert r["value"].iloc[4] == 0 and not r["special_cause"].iloc[4]
    assert np.isnan(r["moving_range"].iloc[4])


def test_xmr_lower_limit_floored_at_zero_for_counts():
    # mean 3, mR bar = 4 -> 3 - 10.64 < 0; a count cannot be negative
    r = trends.xmr([1, 5, 1, 5])
    assert r["lower_limit"].iloc[0] == 0
    # tolerance: float arithmetic only
    assert r["upper_limit"].iloc[0] == pytest.approx(3 + 2.66 * 4, abs=1e-12)
    assert trends.xmr([1, 5, 1, 5], floor=None)["lower_limit"].iloc[0] == pytest.approx(3 - 10.64, abs=1e-12)


def test_xmr_flags_a_point_outside_the_limits():
    vals = [20, 21, 19, 20, 22, 20, 19, 21, 20, 40]
    r = trends.xmr(vals)
    xs = np.array(vals, float)
    mean, mr = xs.mean(), np.abs(np.diff(xs)).mean()
    # hand computation: mean 22.2, mR bar = (1+2+1+2+2+1+2+1+20)/9 = 32/9
    assert mean == pytest.approx(22.2) and mr == pytest.approx(32 / 9)  # tolerance: float sums
    assert r["upper_limit"].iloc[0] == pytest.approx(22.2 + 2.66 * 32 / 9)  # tolerance: float arithmetic
    assert r["outside_limits"].tolist() == [False] * 9 + [True]
    assert r["direction"].iloc[9] == "high"
    assert "above the upper process limit" in r["special_cause_text"].iloc[9]


def test_p_chart_limits_closed_form_vary_with_n():
    r = trends.p_chart([30, 40, 10], [100, 100, 25])
    pbar = 80 / 225
    for i, n in enumerate([100, 100, 25]):
        s = np.sqrt(pbar * (1 - pbar) / n)
        # tolerance: float arithmetic of the same formula
        assert r["centre"].iloc[i] == pytest.approx(pbar, abs=1e-12)
        assert r["upper_limit"].iloc[i] == pytest.approx(pbar + 3 * s, abs=1e-12)
        assert r["lower_limit"].iloc[i] == pytest.approx(max(pbar - 3 * s, 0), abs=1e-12)
        assert r["upper_2sigma"].iloc[i] == pytest.approx(pbar + 2 * s, abs=1e-12)  # float arithmetic of the same formula
    assert r["value"].tolist() == [0.3, 0.4, 0.4]


def test_p_chart_single_pair_hand_value():
    # pbar 0.35, sqrt(0.35 x 0.65 / 100) = 0.0476970, x 3 = 0.1430909
    r = trends.p_chart([30, 40], [100, 100])
    assert r["upper_limit"].iloc[0] == pytest.approx(0.4930909, abs=1e-7)  # tolerance: 7 hand-computed digits
    assert r["lower_limit"].iloc[0] == pytest.approx(0.2069091, abs=1e-7)  # tolerance: 7 hand-computed digits


def test_p_chart_limits_stay_inside_zero_and_one():
    r = trends.p_chart([9, 1], [10, 10])
    assert (r["upper_limit"] <= 1).all() and (r["lower_limit"] >= 0).all()


def test_p_chart_rejects_impossible_counts():
    with pytest.raises(ValueError, match="events <= n"):
        trends.p_chart([5], [3])


def _rules(values, centre=5.0, lo=0.0, hi=10.0, lo2=2.0, hi2=8.0):
    k = len(values)
    return trends.special_causes(values, [centre] * k, [lo] * k, [hi] * k, [lo2] * k, [hi2] * k)


def test_shift_needs_seven_in_a_row():
    assert not _rules([6] * 6)["shift"].any()
    assert _rules([6] * 7)["shift"].all()
    assert _rules([4] * 7)["direction"].eq("low").all()
    # a point on the centre line ends the run: 6 + on-line + 6 is no shift
    assert not _rules([6] * 6 + [5] + [6] * 6)["shift"].any()
    # 7 above embedded in a longer series: exactly those 7 are flagged
    sc = _rules([4, 4, 6, 6, 6, 6, 6, 6, 6, 4])
    assert sc["shift"].tolist() == [False, False] + [True] * 7 + [False]


def test_trend_needs_six_points_in_a_row():
    assert not _rules([1, 2, 3, 4, 5])["trend"].any()  # only 5 points rising
    assert _rules([1, 2, 3, 4, 5, 6])["trend"].all()
    sc = _rules([9, 8, 7, 6, 5, 4, 5])
    assert sc["trend"].tolist() == [True] * 6 + [False]
    assert sc["direction"].iloc[0] == "low"
    # an equal value ends a trend
    assert not _rules([1, 2, 3, 3, 4, 5])["trend"].any()


def test_two_of_three_beyond_two_sigma_same_side():
    sc = _rules([5, 9, 5, 9, 5])
    assert sc["two_of_three"].tolist() == [False, True, False, True, False]
    # one high and one low in a window is not the rule
    assert not _rules([9, 5, 1])["two_of_three"].any()
    # three apart: never 2 of 3
    assert not _rules([9, 5, 5, 9])["two_of_three"].any()


def test_rules_text_is_plain_words():
    for code, text in trends.RULES.items():
        assert "_" not in text, code


def test_xmr_needs_two_complete_points():
    with pytest.raises(AnalysisError, match="at least 2 complete"):
        trends.xmr([3, 4], partial=[True, False])


@pytest.fixture(scope="module")
def spc(synthetic_data):
    return trends.quarterly_spc(synthetic_data)


def test_quarterly_spc_counts_equal_throughput(spc, synthetic_data):
    from dapp_eval.analyses import funnel

    tp = funnel.throughput(synthetic_data, by=None, freq="fy_quarter").summary
    s = spc.summary
    ref = s[s["measure"] == "referrals"]
    assert ref["quarter"].tolist() == tp["quarter"].tolist()
    assert ref["value"].astype(int).tolist() == tp["n_referrals"].astype(int).tolist()
    assert s.loc[s["measure"] == "starts", "value"].astype(int).tolist() == tp["n_starts"].astype(int).tolist()
    # centre line = mean of complete quarters only
    complete = ref[~ref["partial"]]
    assert ref["centre"].iloc[0] == pytest.approx(complete["value"].mean())  # tolerance: float mean


def test_quarterly_spc_marks_the_quarter_holding_the_extract_date(spc, synthetic_data):
    extract = synthetic_data.sites["data_extract_date"].min()  # 30 April 2025 -> 2025/26 Q1
    s = spc.summary
    row = s[(s["measure"] == "referrals") & (s["quarter_start"] <= extract) & (s["quarter_end"] >= extract)]
    assert row["quarter"].tolist() == ["2025/26 Q1"]
    assert row["partial"].all()
    assert not s[s["partial"]]["special_cause"].any()


def test_quarterly_spc_completion_uses_only_complete_cohorts(spc, synthetic_data):
    from dapp_eval.analyses import attrition

    s = spc.summary[spc.summary["measure"] == "completion"]
    complete = s[~s["partial"]]
    # pbar = pooled completion over complete quarters (closed form)
    assert complete["centre"].iloc[0] == pytest.approx(  # tolerance: float division
        complete["n_numerator"].sum() / complete["n_denominator"].sum())
    # recompute one complete quarter by hand from the episode table
    ep = attrition.episode_times(synthetic_data).tables["episodes"]
    q = ep["start_date"].dt.to_period("Q-MAR")
    row = complete.iloc[2]
    sub = ep[q == pd.Period(row["quarter_start"], "Q-MAR")]
    horizon = (sub["planned"] + 4) * 7
    assert len(sub) == row["n_denominator"]
    assert int(((sub["outcome"] == "completed") & (sub["time_days"] <= horizon)).sum()) == row["n_numerator"]
    # the last cohorts have not reached their horizon: no value shown
    assert s[s["partial_reason"].str.contains("not yet reached")]["value"].isna().all()
    assert s["partial_reason"].str.contains("not yet reached").any()


def test_quarterly_spc_risk_counts_match_the_risk_analysis(spc, synthetic_data):
    from dapp_eval.analyses import risk

    s = spc.summary[spc.summary["measure"] == "reliable_risk_reduction"]
    rc = risk.change(synthetic_data).summary.set_index("statistic").loc["reliably_improved"]
    # every pair has an exit date, so quarters partition the pairs
    assert int(s["n_denominator"].sum()) == int(rc["n_total"])
    assert int(s["n_numerator"].sum()) == int(rc["n"])


def test_spc_chart_marks_special_causes_by_shape_and_partial_quarters_hollow():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dapp_eval.analyses import plotting

    vals = [20, 21, 19, 20, 22, 20, 19, 21, 20, 40, 5]
    ch = trends.xmr(vals, partial=[False] * 10 + [True], labels=[f"Q{i}" for i in range(11)])
    ax = plotting.spc_chart(ch, higher_is_better=True)
    # the outlier pulls the mean up to 22.2, so quarters 0-8 are a run of 9 below it (a shift, low) and
    # quarter 9 is above the upper limit (high): the shape of each point says which way (one scatter per kind)
    assert trends.xmr(vals[:10])["shift"].tolist() == [True] * 9 + [False]

    def apex(c):  # +0.5: triangle pointing up; -0.5: pointing down; a circle has many vertices
        v = c.get_paths()[0].vertices
        return round(float(v[0][1]), 1) if len(v) == 4 else "circle"

    shape, face = {}, {}
    for c in ax.collections:
        for x, y in c.get_offsets():
            shape[int(x)], face[int(x)] = apex(c), tuple(c.get_facecolor()[0][:3])
            assert y == vals[int(x)]
    assert [shape[i] for i in range(11)] == [-0.5] * 9 + [0.5] + ["circle"]
    assert face[10] == (1.0, 1.0, 1.0) and face[9] != (1.0, 1.0, 1.0)  # the part quarter is hollow
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1] == "Q10 (part)"
    # the limits are dashed, the centre line solid
    styles = [ln.get_linestyle() for ln in ax.get_lines()[:3]]
    assert styles == ["-", "--", "--"]
    with pytest.raises(ValueError, match="several measures"):
        plotting.spc_chart(pd.concat([ch.assign(measure="a"), ch.assign(measure="b")]))
    plt.close("all")


def test_quarterly_spc_plot_per_measure(spc):
    import matplotlib.pyplot as plt

    ax = spc.plot(measure="completion", higher_is_better=True)
    assert ax.get_title().startswith("Completion within the planned length")
    # no completion quarter is a special cause on the synthetic data: every drawn point is a circle
    assert all(len(c.get_paths()[0].vertices) > 4 for c in ax.collections)
    assert all("_" not in t.get_text() for t in ax.get_xticklabels())
    plt.close("all")


def test_dot_whisker_all_sites_line_and_shapes_by_model():
    import matplotlib.pyplot as plt

    from dapp_eval.analyses import plotting

    t = pd.DataFrame({"site_id": ["A", "B", "C", "all"], "site_name": ["Site A", "Site B", "Site C", "All sites"],
                      "programme_model": ["group", "group", "one-to-one", "group, one-to-one"],
                      "estimate": [0.7, 0.8, 0.6, 0.72], "ci_lower": [0.6, 0.7, 0.4, 0.68],
                      "ci_upper": [0.8, 0.9, 0.8, 0.76]})
    ax = plotting.dot_whisker(t)
    assert [x.get_text() for x in ax.get_yticklabels()] == ["Site A", "Site B", "Site C"]
    vlines = [ln for ln in ax.get_lines() if ln.get_xdata()[0] == ln.get_xdata()[-1] == 0.72]
    assert len(vlines) == 1 and vlines[0].get_linestyle() == "--"
    # the two programme models have different marker shapes, not only colours
    shapes = {len(c.get_paths()[0].vertices) for c in ax.collections}
    assert len(shapes) == 2
    assert "All sites (72%)" in [x.get_text() for x in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="no column"):
        plotting.dot_whisker(t.drop(columns="ci_upper"))
    plt.close("all")


def test_p_chart_finds_a_known_step_change_and_none_in_a_stable_process():
    # known truth: a simulated process whose completion probability steps from 0.30 to 0.50 at quarter 13
    rng = np.random.default_rng(16)
    n = np.full(20, 100)
    p = np.r_[np.full(12, 0.30), np.full(8, 0.50)]
    r = trends.p_chart(rng.binomial(n, p), n)
    assert r["shift"].iloc[12:].all() and (r["direction"].iloc[12:] == "high").all()
    assert r["shift"].iloc[:12].all() and (r["direction"].iloc[:12] == "low").all()
    # the same process without the step: no point outside the 3-sigma limits
    stable = trends.p_chart(rng.binomial(n, 0.30), n)
    assert not stable["outside_limits"].any()


def test_commissioner_modules_import_nothing_above_the_analysis_layer():
    import ast
    from pathlib import Path

    import dapp_eval

    root = Path(dapp_eval.__file__).parent
    forbidden = {"report", "cli", "templates"}
    for name in ("formatting", "glossary", "comparators", "headlines", "trends", "verdict"):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                mods = [node.module or ""] + [a.name for a in node.names] if not node.module else [node.module]
                assert not set(m.split(".")[0] for m in mods) & forbidden, (name, mods)
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert not a.name.startswith("dapp_eval.report"), (name, a.name)
    # formatting and glossary are data-free: they import nothing from the package
    for name in ("formatting", "glossary"):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level >= 1], name


def test_describe_says_what_each_chart_shows_in_plain_words(spc):
    from dapp_eval import formatting

    d = trends.describe(spc.summary).set_index("measure")["text"]
    assert list(d.index) == list(trends.MEASURES)
    # the first full quarter of starts (programmes filling up) is below the lower limit; nothing else is unusual
    assert "Unusual variation: 2023/24 Q1: below the lower process limit." in d["starts"]
    assert d["referrals"].startswith("Referrals received: average 243 a quarter over 8 complete quarters. No unusual")
    assert "average 81% over 6 complete quarters" in d["completion"]
    for text in d:
        assert "provisional" in text  # fewer than 15 complete quarters
        assert formatting.find_code_names(text) == [] and formatting.find_raw_proportions(text) == []


def test_people_left_out_of_a_chart_are_counted(tmp_path, synthetic_data):
    from conftest import MINI, write_folder

    from dapp_eval.data.io import load_programme

    assert trends.quarterly_spc(synthetic_data).meta["not_charted"] == {}
    files = dict(MINI)
    # R5 is still open (no exit date) but already has an exit score: it cannot be placed in a quarter of leaving
    files["risk_assessments.csv"] = MINI["risk_assessments.csv"] + (
        "R5,2024-01-08,intake,DASH,12,practitioner\nR5,2024-03-01,exit,DASH,5,practitioner\n")
    res = trends.quarterly_spc(load_programme(write_folder(tmp_path / "m", files)))
    assert res.meta["not_charted"] == {
        "reliable risk reduction: people assessed twice who have no exit date yet": 1}
    risk_rows = res.summary[res.summary["measure"] == "reliable_risk_reduction"]
    assert risk_rows["n_denominator"].sum() == 1  # R1 only

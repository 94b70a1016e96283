"""Issue 26: numbers published only from protected counts (alpha, zero rule, threshold floor, curves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.disclosure import DisclosureControl, check_threshold
from dapp_eval.disclosure.control import ZERO_OR_FEW
from dapp_eval.disclosure.curves import (
    cif_from_steps,
    km_from_steps,
    protected_steps,
    round_cumulative,
)
from dapp_eval.estimators.proportions import wilson_ci


def _table(k, n, alpha):
    lo, hi = wilson_ci(np.array(k), np.array(n), alpha=alpha)
    return pd.DataFrame({"group": [f"g{i}" for i in range(len(k))], "n_completed": k, "n": n,
                         "estimate": np.array(k) / np.array(n), "ci_lower": lo, "ci_upper": hi})


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.2])
def test_interval_recomputed_at_the_plans_alpha(alpha):
    # 632 of 789 published as 630 of 790: the interval must be the Wilson interval of 630/790 at the plan's
    # level (at alpha 0.1 the true counts came back from the interval, because only 0.05 was recomputed)
    dc = DisclosureControl(alpha=alpha)
    shown = dc.table(_table([632, 300], [789, 412], alpha), name="t", pairs={"n_completed": "n"})
    lo, hi = wilson_ci(np.array([630, 300]), np.array([790, 410]), alpha=alpha)
    # the same Wilson formula on the same published counts: last-bit rounding only
    assert shown["ci_lower"].astype(float).tolist() == pytest.approx(lo.tolist(), abs=1e-12)
    assert shown["ci_upper"].astype(float).tolist() == pytest.approx(hi.tolist(), abs=1e-12)
    assert shown["estimate"].astype(float).tolist() == pytest.approx([630 / 790, 300 / 410])


def test_zero_rule_hides_none_or_all_of_a_small_group():
    dc = DisclosureControl()
    t = _table([15, 0, 30], [15, 14, 30], 0.05)  # all of 15, none of 14: below twice the threshold (20)
    shown = dc.table(t, name="t", pairs={"n_completed": "n"})
    # all of 15: the proportion is withheld; the count is rounded like any other (15 of 15 and 13 of 17 look alike)
    assert shown.loc[0, "estimate"] == "[c]" and shown.loc[0, "n_completed"] == "15"
    # none of 14: the 0 is shown as a count below the threshold, like a few
    assert shown.loc[1, "estimate"] == "[c]" and shown.loc[1, "n_completed"] == "<10"
    assert set(dc.log["reason"]) == {"count below 10", ZERO_OR_FEW}  # no reason of its own for "none or all"
    assert shown.loc[2, "n_completed"] == "30"  # all of 30: at least twice the threshold, published
    assert dc.proportion(15, 15) is None and dc.proportion(0, 12) is None
    assert dc.proportion(0, 40)["k"] == "0"


@given(n=st.integers(1, 19), k=st.integers(0, 19))
def test_no_proportion_of_a_group_below_twice_the_threshold(n, k):
    """Whatever its value, a proportion of fewer than 20 people is never published (no selection by value)."""
    k = min(k, n)
    assert DisclosureControl().proportion(k, n) is None


def test_threshold_floor():
    assert check_threshold(5) == 5
    with pytest.raises(ValueError, match="at least 5"):
        check_threshold(4)


def test_round_cumulative_is_opensafely_midpoint():
    # R: ceiling(x/7)*7 - floor(7/2)*(x!=0)
    x = np.array([0, 1, 6, 7, 8, 14, 15, 100])
    assert round_cumulative(x, 7).tolist() == [int(np.ceil(v / 7) * 7 - 3) if v else 0 for v in x]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 400), threshold=st.integers(5, 20),
       alpha=st.floats(0.01, 0.2))
def test_curve_steps_each_stand_for_the_threshold(seed, n, threshold, alpha):
    """Every drop of a redrawn Kaplan-Meier curve is a multiple of the threshold (the first, its midpoint),
    the numbers at risk start at the published count, and no step comes from an unrounded count."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 60, n).astype(float)
    cause = rng.integers(0, 3, n)  # 0 censored, 1 and 2 two kinds of exit
    times = np.unique(t)
    ev = {k: np.array([np.sum((t == u) & (cause == j)) for u in times]) for j, k in ((1, "a"), (2, "b"))}
    cens = np.array([np.sum((t == u) & (cause == 0)) for u in times])
    steps = protected_steps(times, ev, cens, n, min_count=threshold, grain=1)
    n0 = int(np.floor(n / 5 + 0.5) * 5)
    start = int(steps["n_at_risk"].iloc[0])
    assert start >= n0  # the published number, or the sum of the rounded exits where that is larger
    assert int(steps[["n_event_a", "n_event_b", "n_censored"]].to_numpy().sum()) == start
    assert (steps["n_censored"] >= 0).all()
    for k in ("a", "b"):
        cum = np.cumsum(steps[f"n_event_{k}"].to_numpy())
        pos = cum[cum > 0]
        # the rounded cumulative count is m*j - m//2: its steps are whole multiples of the threshold
        assert np.all((pos + threshold // 2) % threshold == 0)
    km = km_from_steps(steps, "a", alpha=alpha)
    d = km["n_at_risk"].to_numpy() * -np.diff(np.r_[1.0, km["estimate"].to_numpy()]) / np.r_[
        1.0, km["estimate"].to_numpy()[:-1]].clip(1e-300)
    d = d[d > 1e-9]
    # events worked back from a product-limit curve of up to a few hundred steps: float error ~1e-10
    assert np.allclose(d, np.round(d), atol=1e-6)
    cif = cif_from_steps(steps, alpha=alpha)
    assert set(cif["cause"]) <= {"a", "b"}
    assert (cif["ci_lower"] <= cif["estimate"] + 1e-12).all()


def test_data_quality_names_tables_by_contract_and_protects_load_counts():
    """No input file name or extra column header reaches the page; cleaning counts are protected counts."""
    import base64
    import re

    from dapp_eval.report.render import ReportBuilder

    rb = ReportBuilder.from_folder("data_synthetic", site="S05")
    sizes = rb.data.sizes()
    rb.data.load_log = pd.DataFrame({
        "file": [sizes.loc[sizes["table"] == "referrals", "file"].iloc[0], "Jane_Doe_extract.csv", "partners.csv"],
        "note": ["extra columns kept: keyworker_Jane_Doe", "trailing blank rows ignored",
                 "victim_contact: yes/no values read as true/false (y, oui)"],
        "n": [1, 4, 1953]})
    html = rb.section("data_quality")
    assert "Jane" not in html and "keyworker" not in html and "oui" not in html
    csvs = {m.group(1): base64.b64decode(m.group(2)).decode() for m in
            re.finditer(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html)}
    log = next(v for k, v in csvs.items() if "load_log" in k)
    assert "1,953" not in log and "1,955" in log  # rounded like any count of people
    assert "<10" in log                          # 4 blank rows: a small count
    assert not any(".csv" in v for v in csvs.values())


def test_rate_recomputed_from_the_published_count():
    """Incidents per person-year x person-years gave the true count back (0.337 x 109.9 = 37, shown as 35)."""
    t = pd.DataFrame({"period": ["before", "after", "before", "after"], "n": [112] * 4,
                      "n_with_incident": [47, 23, np.nan, np.nan], "n_events": [np.nan, np.nan, 37, 21],
                      "person_years": [np.nan, np.nan, 109.9, 104.2]})
    t["estimate"] = [47 / 112, 23 / 112, 37 / 109.9, 21 / 104.2]
    t["ci_lower"], t["ci_upper"] = t["estimate"] * 0.8, t["estimate"] * 1.25
    s = DisclosureControl().table(t, name="x", pairs={"n_with_incident": "n"})
    assert s["n_events"].tolist()[2:] == ["35", "20"]
    assert s["estimate"].astype(float).tolist()[2:] == pytest.approx([35 / 109.9, 20 / 104.2])
    assert s["person_years"].astype(float).tolist()[2:] == pytest.approx([109.9, 104.2])  # not a ratio: kept
    assert s["ci_lower"].astype(float).tolist()[2:] == pytest.approx([0.8 * 35 / 109.9, 0.8 * 20 / 104.2])
    assert s["estimate"].astype(float).tolist()[:2] == pytest.approx([45 / 110, 25 / 110])


def test_other_interval_of_a_proportion_moves_with_it():
    """A proportion's non-Wilson interval (clustered, exact) keeps its method but moves with the published
    estimate, so it is no longer centred on the true counts."""
    t = pd.DataFrame({"group": ["a", "b"], "n_completed": [632, 300], "n": [789, 412]}, index=[7, 9])
    t["estimate"] = t["n_completed"] / t["n"]
    t["ci_lower"], t["ci_upper"] = t["estimate"] - 0.05, t["estimate"] + 0.05
    s = DisclosureControl().table(t, name="t", pairs={"n_completed": "n"})
    f = np.array([630 / 790, 300 / 410]) / (t["estimate"].to_numpy())
    assert s["ci_lower"].astype(float).tolist() == pytest.approx(((t["estimate"] - 0.05).to_numpy() * f).tolist())


def test_curve_value_is_read_off_the_curve_rebuilt_from_rounded_counts():
    """An outside attacker found completion rates equal to the Aalen-Johansen estimate of the true data (0.682
    = the true curve, n 61, 32 completions). Through :class:`CurveAt` the value is read off the curve rebuilt
    from rounded cumulative counts: with no one censored before the horizon it is (rounded completions) /
    (published people), never the true share."""
    import numpy as np
    import pandas as pd

    from dapp_eval.columns import Count, CurveAt, Label, Value
    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.disclosure.roles import publish

    rng = np.random.default_rng(26)
    for threshold in (7, 10, 12):
        n = int(rng.integers(40, 120))
        done = int(rng.integers(threshold, n - threshold))
        steps = pd.DataFrame({"time": [30.0, 60.0, 200.0], "completed": [0, done, 0],
                              "dropped": [n - done, 0, 0], "censored": [0, 0, 0]})
        t = pd.DataFrame({"group": ["A"], "horizon_days": [100.0], "n": [n], "estimate": [done / n],
                          "ci_lower": [0.1], "ci_upper": [0.9]})
        roles = [Label("group"), Value("horizon_days"), Count("n"),
                 CurveAt(("estimate", "ci_lower", "ci_upper"), steps=lambda row, s=steps: s, cause="completed",
                         at="horizon_days", n="n")]
        dc = DisclosureControl(threshold=threshold)
        shown = publish(t, roles, dc, name="completion")
        m = threshold
        rounded_done = int(np.ceil(done / m) * m - m // 2)
        rounded_drop = int(np.ceil((n - done) / m) * m - m // 2)
        n0 = max(int(shown.loc[0, "n"]), rounded_done + rounded_drop)
        assert float(shown.loc[0, "estimate"]) == pytest.approx(rounded_done / n0)
        assert 0 < float(shown.loc[0, "ci_lower"]) < float(shown.loc[0, "estimate"]) < float(shown.loc[0, "ci_upper"])


def test_completion_rate_table_and_card_are_read_off_the_protected_curve(tmp_path):
    """The completion rate (table and headline card) is the value of the completion curve rebuilt from rounded
    counts, on a generated folder: never the Aalen-Johansen estimate of the people themselves."""
    from dapp_eval import load_programme
    from dapp_eval.analyses import attrition
    from dapp_eval.commissioner.headlines import headline_figures, to_publish
    from dapp_eval.disclosure.roles import curve_value_at, publish
    from dapp_eval.synthetic import generate

    generate(tmp_path / "d", referrals=700, sites=2, seed=90210)
    data = load_programme(tmp_path / "d")
    dc = DisclosureControl(threshold=7, alpha=0.1)
    res = attrition.completion_rate(data, by="site_id")
    shown = publish(res.summary, res.roles["summary"], dc, name="completion")
    ct = res.tables["curve_counts"]
    checked = 0
    for i, r in res.summary.iterrows():
        if shown.loc[i, "estimate"] == "[c]":
            continue
        own = (ct["group"] == str(r["group"])) & (ct["planned_sessions"] == r["planned_sessions"]) & \
            (ct["basis"] == r["basis"])
        want = curve_value_at(ct.loc[own, ["time", "completed", "other", "censored"]], cause="completed",
                              at=r["horizon_days"], n_total=r["n"], dc=dc)
        assert float(shown.loc[i, "estimate"]) == pytest.approx(want[0])
        # abs=1e-9: a different number, not a rounding of the same one (the true curve's value to float precision)
        assert float(shown.loc[i, "estimate"]) != pytest.approx(float(r["estimate"]), abs=1e-9)
        checked += 1
    assert checked >= 2
    hf = headline_figures(data, codes=["completion_rate"])
    t, roles = to_publish(hf.summary, ["completion_rate"], curves={"completion_rate": hf.model["completion_curve"]})
    card = publish(t, roles, dc, name="headline figures", pairs={"n_numerator": "n_denominator"})
    steps, horizon = hf.model["completion_curve"]
    want = curve_value_at(steps, cause="completed", at=horizon, n_total=hf.summary.loc[0, "n_denominator"], dc=dc)
    assert float(card.loc[0, "value"]) == pytest.approx(want[0])
    # abs=1e-9: a different number, not the true curve's value to float precision
    assert float(card.loc[0, "value"]) != pytest.approx(float(hf.summary.loc[0, "value"]), abs=1e-9)


def test_order_statistics_of_a_time_are_shown_in_whole_units():
    """A waiting list's median and quartiles were one person's exact wait (8.7 weeks = 61 days: with the extract
    date, that person's referral date); with ``grain`` they are shown in whole weeks, rounded down."""
    from dapp_eval.columns import Count, Label, Summary
    from dapp_eval.disclosure.roles import publish

    t = pd.DataFrame({"list": ["any", "few"], "n_waiting": [23, 4], "median_weeks": [8.714, 3.2],
                      "q1_weeks": [4.0, 1.0]})
    roles = [Label("list"), Count("n_waiting"), Summary(("median_weeks", "q1_weeks"), n="n_waiting", grain=1.0)]
    pub = publish(t, roles, DisclosureControl(threshold=10), name="waiting list")
    assert pub.loc[0, ["median_weeks", "q1_weeks"]].tolist() == [8.0, 4.0]
    assert pub.loc[1, "median_weeks"] == "[c]"

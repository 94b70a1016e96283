"""Tests for dapp_eval.analyses.funnel: stages, cascade, waiting times, waiting list,
throughput, attendance, baseline table and costs.

References: closed forms worked by hand in the comments; Wilson intervals
against Newcombe (1998, Stat Med 17:857, Table I, method 3) and statsmodels;
waiting-time cumulative incidence against R cmprsk::cuminc
(tests/reference/funnel_waiting_reference.R on the programme folder
tests/reference/funnel_waiting_fixture/, made by funnel_make_fixture.py).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from datetime import date, timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.analyses import funnel
from dapp_eval.data.io import load_programme
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.survival import step_at

plt.switch_backend("Agg")

REF = Path(__file__).resolve().parent / "reference"
SYNTHETIC = Path(__file__).resolve().parents[1] / "data_synthetic"

SITE_COLS = ["site_id", "site_name", "programme_model", "planned_sessions", "annual_cost_gbp", "target_completions",
             "period_start", "period_end", "data_extract_date", "incident_data_from"]
REF_COLS = ["referral_id", "participant_id", "site_id", "referral_date", "referral_source", "programme_name",
            "planned_sessions", "gender", "age", "ethnicity", "employment", "prior_da_police_contact",
            "substance_misuse", "relationship_to_victim", "abuse_types", "n_children", "assessment_date",
            "assessment_outcome", "start_date", "exit_date", "exit_reason"]
SES_COLS = ["referral_id", "session_number", "session_date", "session_type", "attended"]


def _csv(rows, cols):
    df = pd.DataFrame(rows).reindex(columns=cols)
    return df.to_csv(index=False)


def _folder(tmp_path, sites, referrals, sessions=None, name="prog"):
    d = tmp_path / name
    d.mkdir()
    (d / "sites.csv").write_text(_csv(sites, SITE_COLS))
    (d / "referrals.csv").write_text(_csv(referrals, REF_COLS))
    if sessions is not None:
        (d / "sessions.csv").write_text(_csv(sessions, SES_COLS))
    return load_programme(d, check_identifiers=False)


def _ref(rid, site, referral_date, **kw):
    rec = {"referral_id": rid, "participant_id": kw.pop("participant_id", "P" + rid), "site_id": site,
           "referral_date": referral_date, "referral_source": "police", "gender": "male", "age": 35,
           "ethnicity": "white_british", "employment": "employed", "prior_da_police_contact": "true",
           "substance_misuse": "false", "relationship_to_victim": "partner", "abuse_types": "physical",
           "n_children": 1}
    rec.update(kw)
    return rec


def _iso(d: date) -> str:
    return d.isoformat()


# ---------------------------------------------------------------------------
# Bromley 2013/14, made consistent
# ---------------------------------------------------------------------------
# The report: 41 referrals (Q1 22, Q2 9, Q3 10) = 5 declined assessment + 16 awaiting
# assessment + 25 assessed -> 10 accepted but declined to engage, 15 engaged -> 6 completed,
# 9 still attending.  5 + 16 + 25 = 46, not 41.  Keeping the total (41) and the assessed
# count (25), awaiting assessment must be 11.  This fixture is that consistent version.

BROMLEY_SITE = {"site_id": "BR", "site_name": "Bromley (TRYangle)", "programme_model": "group",
                "planned_sessions": 24, "annual_cost_gbp": 28000, "target_completions": 30,
                "period_start": "2013-04-01", "period_end": "2013-12-31", "data_extract_date": "2014-01-31"}
BROMLEY_EXTRACT = date(2014, 1, 31)


def bromley_referrals():
    rows = []
    q1 = [date(2013, 4, 1) + timedelta(days=4 * i) for i in range(22)]   # 1 Apr .. 24 Jun
    q2 = [date(2013, 7, 1) + timedelta(days=10 * j) for j in range(9)]   # 1 Jul .. 19 Sep
    q3 = [date(2013, 10, 1) + timedelta(days=7 * k) for k in range(10)]  # 1 Oct .. 3 Dec
    for i, rd in enumerate(q1):
        rid = f"BR{i:02d}"
        a, s = rd + timedelta(days=7), rd + timedelta(days=21)
        if i < 6:  # completed: 24 weeks after starting, in October 2013
            rows.append(_ref(rid, "BR", _iso(rd), assessment_date=_iso(a), assessment_outcome="suitable",
                             start_date=_iso(s), exit_date=_iso(s + timedelta(days=168)), exit_reason="completed"))
        elif i < 15:  # still attending
            rows.append(_ref(rid, "BR", _iso(rd), assessment_date=_iso(a), assessment_outcome="suitable",
                             start_date=_iso(s)))
        elif i < 20:  # accepted, declined to start
            rows.append(_ref(rid, "BR", _iso(rd), assessment_date=_iso(a), assessment_outcome="suitable",
                             exit_date=_iso(a + timedelta(days=14)), exit_reason="declined_to_start"))
        else:  # declined assessment
            rows.append(_ref(rid, "BR", _iso(rd), exit_date=_iso(rd + timedelta(days=10)),
                             exit_reason="declined_assessment"))
    for j, rd in enumerate(q2):
        rid = f"BR{22 + j:02d}"
        a = rd + timedelta(days=7)
        if j < 5:
            rows.append(_ref(rid, "BR", _iso(rd), assessment_date=_iso(a), assessment_outcome="suitable",
                             exit_date=_iso(a + timedelta(days=14)), exit_reason="declined_to_start"))
        elif j < 8:
            rows.append(_ref(rid, "BR", _iso(rd), exit_date=_iso(rd + timedelta(days=10)),
                             exit_reason="declined_assessment"))
        else:
            rows.append(_ref(rid, "BR", _iso(rd)))  # awaiting assessment
    for k, rd in enumerate(q3):
        rows.append(_ref(f"BR{31 + k:02d}", "BR", _iso(rd)))  # awaiting assessment
    return rows


@pytest.fixture
def bromley(tmp_path):
    return _folder(tmp_path, [BROMLEY_SITE], bromley_referrals(), name="bromley")


@pytest.fixture(scope="module")
def waiting_fixture():
    return load_programme(REF / "funnel_waiting_fixture", check_identifiers=False)


def test_bromley_stage_counts_add_up(bromley):
    res = funnel.cascade(bromley)
    n = res.counts.set_index("stage")["n"].astype(int).to_dict()
    assert n["referred"] == 41
    expected = {"declined_assessment": 5, "awaiting_assessment": 11, "exited_before_assessment": 0,
                "assessed": 25, "unsuitable": 0, "accepted": 25, "declined_to_start": 10, "awaiting_start": 0,
                "exited_before_start": 0, "started": 15, "still_attending": 9, "completed": 6, "dropped_out": 0,
                "excluded": 0, "other_exit": 0}
    for stage, value in expected.items():
        assert n[stage] == value, stage
    # each referral in exactly one terminal stage
    assert sum(n[s] for s in funnel.STAGES) == 41
    assert len(res.stages) == 41 and res.stages["stage"].notna().all()
    assert res.meta["n_in"] == res.meta["n_used"] == 41


def test_bromley_conversions_exclude_open_cases(bromley):
    conv = funnel.cascade(bromley).conversion.set_index("conversion")
    exp = {  # (converted, resolved, open)
        "assessed_of_referred": (25, 30, 11),
        "accepted_of_assessed": (25, 25, 0),
        "started_of_accepted": (15, 25, 0),
        "completed_of_started": (6, 6, 9),   # not 6/15 = 40%: the 9 still attending are not failures
        "started_of_referred": (15, 30, 11),
        "completed_of_referred": (6, 21, 20),
    }
    for name, (x, n, o) in exp.items():
        row = conv.loc[name]
        assert (row["n_converted"], row["n_resolved"], row["n_open"]) == (x, n, o), name
        assert row["estimate"] == pytest.approx(x / n)  # closed form (approx's default rel=1e-6 is ample)
        assert row["n_resolved"] + row["n_open"] == row["n_stage"]
    # Wilson 95% for 25/30 by hand: z = 1.959964, centre = (p + z^2/2n)/(1 + z^2/n)
    z = 1.959963984540054
    p, n = 25 / 30, 30
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    # closed form, float rounding only (the same formula rearranged)
    assert conv.loc["assessed_of_referred", "ci_lower"] == pytest.approx(centre - half, abs=1e-12)
    assert conv.loc["assessed_of_referred", "ci_upper"] == pytest.approx(centre + half, abs=1e-12)
    # 6/6: Wilson upper limit is exactly 1, lower = n / (n + z^2)
    assert conv.loc["completed_of_started", "ci_upper"] == pytest.approx(1.0)  # closed forms (default rel=1e-6)
    assert conv.loc["completed_of_started", "ci_lower"] == pytest.approx(6 / (6 + z**2))


def test_coventry_completion_rate_among_resolved():
    # Coventry Apr-Sep 2015: 119 accessed (112 male, 7 female), 54 completed (51 male, 3 female),
    # 51 "currently accessing".  54/119 = 45% counts the 51 still attending as failures; among the
    # 68 resolved the completion rate is 54/68 = 79%, with the 51 shown beside it.
    n_done, n_open, n_left = 54, 51, 14
    reasons = ["completed"] * n_done + [None] * n_open + ["dropped_out"] * n_left
    gender = ["male"] * 51 + ["female"] * 3 + ["male"] * 49 + ["female"] * 2 + ["male"] * 12 + ["female"] * 2
    ep = pd.DataFrame({
        "referral_id": [f"C{i:03d}" for i in range(119)], "gender": gender,
        "assessment_date": pd.Timestamp("2015-03-01"), "assessment_outcome": "suitable",
        "start_date": pd.Timestamp("2015-04-01"), "exit_reason": reasons,
    })
    res = funnel.cascade(ep, by="gender")
    conv = res.conversion.set_index(["group", "conversion"])
    row = conv.loc[("all", "completed_of_started")]
    assert (row["n_converted"], row["n_resolved"], row["n_open"], row["n_stage"]) == (54, 68, 51, 119)
    # closed forms; approx's default rel=1e-6
    assert row["estimate"] == pytest.approx(54 / 68)
    assert conv.loc[("male", "completed_of_started"), "n_converted"] == 51
    assert conv.loc[("female", "completed_of_started"), "n_stage"] == 7
    lo, hi = funnel.wilson_ci(54, 68)
    assert row["ci_lower"] == pytest.approx(float(lo)) and row["ci_upper"] == pytest.approx(float(hi))
    assert not (row["ci_lower"] <= 54 / 119 <= row["ci_upper"])   # the naive 45% is far outside


def test_wilson_against_newcombe_and_statsmodels():
    # Newcombe (1998) Table I, method 3 (score interval without continuity correction)
    table = {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
             (1, 29): (0.0061, 0.1718), (29, 29): (0.8830, 1.0)}
    for (x, n), (lo, hi) in table.items():
        got_lo, got_hi = funnel.wilson_ci(x, n)
        # published to 4 decimals: half a unit of the last digit (measured 4.5e-5)
        assert float(got_lo) == pytest.approx(lo, abs=5e-5)
        assert float(got_hi) == pytest.approx(hi, abs=5e-5)
    from statsmodels.stats.proportion import proportion_confint

    xs, ns = np.array([0, 3, 7, 25, 54]), np.array([5, 11, 40, 30, 68])
    lo, hi = funnel.wilson_ci(xs, ns, alpha=0.1)
    ref_lo, ref_hi = proportion_confint(xs, ns, alpha=0.1, method="wilson")
    # closed form computed two ways: float rounding only (measured 2e-16)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)
    lo0, hi0 = funnel.wilson_ci(0, 0)
    assert np.isnan(lo0) and np.isnan(hi0)


def test_bromley_waiting_list(bromley):
    res = funnel.waiting_list(bromley, by=None)
    row = res.summary.set_index("list").loc["awaiting_assessment"]
    waits = [(BROMLEY_EXTRACT - date.fromisoformat(r["referral_date"])).days
             for r in bromley_referrals() if r.get("exit_reason") is None and r.get("assessment_date") is None]
    assert len(waits) == 11
    # by hand: 19 Sep 2013 -> 134 days; 1 Oct .. 3 Dec -> 122, 115, ..., 59 days
    assert sorted(waits) == sorted([134] + [122 - 7 * k for k in range(10)])
    assert row["n_waiting"] == 11
    assert row["median_weeks"] == pytest.approx(statistics.median(waits) / 7)   # 94 days
    assert row["q1_weeks"] == pytest.approx(76.5 / 7)   # (73 + 80) / 2 days, linear interpolation
    assert row["q3_weeks"] == pytest.approx(111.5 / 7)  # (108 + 115) / 2
    assert row["max_weeks"] == pytest.approx(134 / 7)
    assert row["n_over_threshold"] == 7                  # 87, 94, 101, 108, 115, 122, 134 days > 84
    assert res.summary.set_index("list").loc["awaiting_start", "n_waiting"] == 0
    assert res.summary.set_index("list").loc["any", "n_waiting"] == 11
    assert row["as_at"] == pd.Timestamp(BROMLEY_EXTRACT)
    assert res.meta["n_in"] == 41 and res.meta["excluded"]["not waiting at the extract date"] == 30


def test_bromley_throughput_against_report_quarters(bromley):
    cal = funnel.throughput(bromley, by=None).summary.set_index("quarter")
    assert cal.loc[["2013Q2", "2013Q3", "2013Q4"], "n_referrals"].tolist() == [22, 9, 10]   # the report's Q1-Q3
    assert cal.loc[["2013Q2", "2013Q3", "2013Q4"], "n_starts"].tolist() == [15, 0, 0]
    assert cal.loc[["2013Q2", "2013Q3", "2013Q4"], "n_completions"].tolist() == [0, 0, 6]
    assert (cal["target_completions"] == 7.5).all()          # 30 a year / 4
    assert not cal["partial"].any()
    fy = funnel.throughput(bromley, freq="fy_quarter").summary
    fy = fy[fy["group"] == "BR"].set_index("quarter")
    assert fy.loc[["2013/14 Q1", "2013/14 Q2", "2013/14 Q3"], "n_referrals"].tolist() == [22, 9, 10]
    assert int(fy["n_referrals"].sum()) == 41


def test_bromley_costs(bromley):
    res = funnel.costs(bromley, by=None)
    row = res.summary.iloc[0]
    # period 1 Apr - 31 Dec 2013 = 9 whole months = 0.75 years; 28,000 x 0.75 = 21,000
    assert row["period_years"] == pytest.approx(0.75)
    assert row["period_cost_gbp"] == pytest.approx(21000)
    assert (row["n_referrals"], row["n_started"], row["n_completed"]) == (41, 15, 6)
    # exact arithmetic on counts and costs; approx's default rel=1e-6
    assert row["cost_per_referral"] == pytest.approx(21000 / 41)
    assert row["cost_per_start"] == pytest.approx(1400)
    assert row["cost_per_completion"] == pytest.approx(3500)
    assert row["cost_per_target_completion"] == pytest.approx(28000 / 30)
    assert row["target_completions_period"] == pytest.approx(22.5)


def test_costs_missing_cost_is_nan_with_note(waiting_fixture, tmp_path):
    res = funnel.costs(waiting_fixture)
    s = res.summary.set_index("group")
    assert s.loc["A", "period_years"] == pytest.approx(1.0)   # 1 Apr 2023 - 31 Mar 2024
    assert s.loc["A", "cost_per_referral"] == pytest.approx(60000 / s.loc["A", "n_referrals"])
    assert s.loc["B", "cost_per_target_completion"] != s.loc["B", "cost_per_target_completion"]  # no target -> NaN
    assert s.loc["all", "period_cost_gbp"] == pytest.approx(100000)
    # remove site B's cost: NaN + note, and no programme total
    sites = pd.read_csv(REF / "funnel_waiting_fixture" / "sites.csv", dtype=str, keep_default_na=False)
    sites.loc[sites["site_id"] == "B", "annual_cost_gbp"] = ""
    refs = pd.read_csv(REF / "funnel_waiting_fixture" / "referrals.csv", dtype=str, keep_default_na=False)
    data = _folder(tmp_path, sites.to_dict("records"), refs.to_dict("records"))
    s2 = funnel.costs(data).summary.set_index("group")
    for c in ("period_cost_gbp", "cost_per_referral", "cost_per_start", "cost_per_completion"):
        assert np.isnan(s2.loc["B", c]) and np.isnan(s2.loc["all", c])
    assert "no annual_cost_gbp" in s2.loc["B", "note"]
    assert "B" in s2.loc["all", "note"]
    assert s2.loc["A", "note"] == ""
    assert s2.loc["B", "n_referrals"] == 90        # counts are still shown


def test_period_years_partial_months():
    # calendar arithmetic, exact; approx's default rel=1e-6
    assert funnel._period_years(pd.Timestamp("2015-04-01"), pd.Timestamp("2015-09-30")) == pytest.approx(0.5)
    assert funnel._period_years(pd.Timestamp("2023-04-15"), pd.Timestamp("2023-05-14")) == pytest.approx(1 / 12)
    assert funnel._period_years(pd.Timestamp("2023-04-03"), pd.Timestamp("2023-05-01")) == pytest.approx(29 / 365.25)


# ---------------------------------------------------------------------------
# stage mapping: every combination of the record fields
# ---------------------------------------------------------------------------

EXITS = [None, "declined_assessment", "unsuitable", "declined_to_start", "dropped_out", "excluded",
         "moved_away", "custody", "completed", "other"]


def _expected_stage(exit_reason, has_adate, outcome, started):
    """The documented mapping, written out independently; None = contradiction (must raise)."""
    if outcome == "unsuitable" and started:
        return None
    if exit_reason in ("completed", "dropped_out", "excluded"):
        return exit_reason if started else None
    if exit_reason == "unsuitable" and outcome != "unsuitable":
        return None
    if exit_reason == "declined_assessment":
        return "declined_assessment" if not (has_adate or outcome or started) else None
    if exit_reason == "declined_to_start":
        return "declined_to_start" if not started and outcome != "unsuitable" else None
    if started:
        return "still_attending" if exit_reason is None else "other_exit"
    if outcome == "unsuitable":
        return "unsuitable"
    if outcome == "suitable":
        return "awaiting_start" if exit_reason is None else "exited_before_start"
    return "awaiting_assessment" if exit_reason is None else "exited_before_assessment"


def _grid():
    rows = []
    for er, has_a, outcome, started in itertools.product(EXITS, [False, True], [None, "suitable", "unsuitable"],
                                                         [False, True]):
        rows.append({"referral_id": f"{er}-{has_a}-{outcome}-{started}", "exit_reason": er,
                     "assessment_date": pd.Timestamp("2024-01-10") if has_a else pd.NaT,
                     "assessment_outcome": outcome,
                     "start_date": pd.Timestamp("2024-01-20") if started else pd.NaT,
                     "_expected": _expected_stage(er, has_a, outcome, started)})
    return pd.DataFrame(rows)


def test_stage_mapping_covers_every_combination():
    grid = _grid()
    assert len(grid) == 10 * 2 * 3 * 2
    for _, row in grid.iterrows():
        one = pd.DataFrame([row.drop("_expected")])
        if row["_expected"] is None:
            with pytest.raises(AnalysisError, match="contradict"):
                funnel.derive_stage(one)
        else:
            assert funnel.derive_stage(one).iloc[0] == row["_expected"], row["referral_id"]
    valid = grid[grid["_expected"].notna()].reset_index(drop=True)
    st = funnel.derive_stage(valid.drop(columns="_expected"))
    assert st.tolist() == valid["_expected"].tolist()
    assert st.notna().all() and st.cat.categories.tolist() == list(funnel.STAGES)
    # a contradictory record is named in the message
    bad = grid[grid["_expected"].isna()].iloc[[0]].drop(columns="_expected")
    with pytest.raises(AnalysisError, match=bad["referral_id"].iloc[0]):
        funnel.derive_stage(bad)


_VALID = _grid().query("_expected.notna()", engine="python").reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.sampled_from(["S1", "S2", "S3"])),
                min_size=0, max_size=40))
def test_counts_add_up_for_any_mix_of_records(picks):
    ep = _VALID.iloc[[i for i, _ in picks]].drop(columns="_expected").reset_index(drop=True)
    ep["site_id"] = [s for _, s in picks]
    ep["referral_id"] = [f"R{k}" for k in range(len(ep))]
    res = funnel.cascade(ep, by="site_id")
    c = res.counts
    for _, sub in c.groupby("group"):
        n = sub.set_index("stage")["n"].astype(int)
        assert n["referred"] == sum(n[x] for x in funnel.STAGES)
        for inter, members in funnel.INTERMEDIATE_STAGES.items():
            assert n[inter] == sum(n[m] for m in members)
    overall = c[c["group"] == "all"].set_index("stage")["n"].astype(int)
    assert overall["referred"] == len(ep)
    for g in set(ep["site_id"]):
        assert c[(c["group"] == g) & (c["stage"] == "referred")]["n"].iloc[0] == (ep["site_id"] == g).sum()
    conv = res.conversion
    assert ((conv["n_resolved"] + conv["n_open"]) == conv["n_stage"]).all()
    ok = conv["n_resolved"] > 0
    assert ((conv.loc[ok, "ci_lower"] <= conv.loc[ok, "estimate"])
            & (conv.loc[ok, "estimate"] <= conv.loc[ok, "ci_upper"])).all()


def test_stage_as_at_an_earlier_date():
    r = pd.DataFrame({
        "referral_id": ["a", "b", "c"],
        "referral_date": pd.to_datetime(["2023-04-01", "2023-04-01", "2023-09-01"]),
        "assessment_date": pd.to_datetime(["2023-04-10", "2023-10-10", None]),
        "assessment_outcome": ["suitable", "suitable", None],
        "start_date": pd.to_datetime(["2023-04-20", None, None]),
        "exit_date": pd.to_datetime(["2023-10-07", None, "2023-09-05"]),
        "exit_reason": ["completed", None, "declined_assessment"],
    })
    assert funnel.derive_stage(r).tolist() == ["completed", "awaiting_start", "declined_assessment"]
    as_at = funnel.derive_stage(r, "2023-09-30")
    assert as_at.tolist() == ["still_attending", "awaiting_assessment", "declined_assessment"]
    with pytest.raises(AnalysisError, match="after the extract date"):
        funnel.derive_stage(r, "2023-08-01")


def test_cascade_adds_up_per_group_on_the_fixture(waiting_fixture):
    res = funnel.cascade(waiting_fixture, by="site_id")
    counts = res.counts
    for g, sub in counts.groupby("group"):
        n = sub.set_index("stage")["n"].astype(int)
        assert n["referred"] == sum(n[s] for s in funnel.STAGES)
        for inter, members in funnel.INTERMEDIATE_STAGES.items():
            assert n[inter] == sum(n[m] for m in members), (g, inter)
    by_site = counts[(counts["group"] != "all")].groupby("stage")["n"].sum()
    overall = counts[counts["group"] == "all"].set_index("stage")["n"]
    assert (by_site.reindex(overall.index) == overall).all()
    assert overall["referred"] == 180
    # per-referral stage table matches the counts
    assert res.stages["stage"].value_counts().reindex(list(funnel.STAGES), fill_value=0).tolist() == \
        overall.reindex(list(funnel.STAGES)).astype(int).tolist()
    # summary holds stage rows and conversion rows
    assert set(res.summary["row_type"]) == {"stage", "conversion"}
    assert len(res.summary) == 3 * (len(funnel.FUNNEL_ORDER) + 6)


# ---------------------------------------------------------------------------
# waiting times
# ---------------------------------------------------------------------------


def test_median_wait_by_hand(tmp_path):
    # six referrals on 1 May 2023; assessed after 7, 14, 14, 21 days, one declined on day 10,
    # one still waiting at the extract date (day 30).  Aalen-Johansen by hand:
    #   t=7:  6 at risk, 1 assessed       F = 1/6,  S = 5/6
    #   t=10: 5 at risk, 1 declined       F = 1/6,  S = 4/6, F_declined = 1/6
    #   t=14: 4 at risk, 2 assessed       F = 1/6 + (4/6)(2/4) = 1/2  -> median = 14 days
    #   t=21: 2 at risk, 1 assessed       F = 1/2 + (2/6)(1/2) = 2/3
    site = {**BROMLEY_SITE, "site_id": "S", "period_start": "2023-04-01", "period_end": "2023-05-31",
            "data_extract_date": "2023-05-31"}
    rd = date(2023, 5, 1)
    rows = []
    for i, d in enumerate([7, 14, 14, 21]):
        rows.append(_ref(f"R{i}", "S", _iso(rd), assessment_date=_iso(rd + timedelta(days=d)),
                         assessment_outcome="suitable"))
    rows.append(_ref("R4", "S", _iso(rd), exit_date=_iso(rd + timedelta(days=10)), exit_reason="declined_assessment"))
    rows.append(_ref("R5", "S", _iso(rd)))
    data = _folder(tmp_path, [site], rows)
    res = funnel.waiting_times(data)
    s = res.summary.iloc[0]
    assert (s["n"], s["n_event"], s["n_competing"], s["n_censored"]) == (6, 4, 1, 1)
    assert s["estimate"] == 14 and bool(s["median_reached"])
    assert s["median_observed_events"] == 14      # median of 7, 14, 14, 21
    cif = res.cif[res.cif["cause"] == "assessed"].set_index("time")["estimate"]
    assert cif[7.0] == pytest.approx(1 / 6) and cif[14.0] == pytest.approx(0.5) and cif[21.0] == pytest.approx(2 / 3)
    dec = res.cif[res.cif["cause"] == "declined_assessment"].set_index("time")["estimate"]
    # Aalen-Johansen by hand, closed form; pytest.approx's default rel=1e-6 is ample for float rounding
    assert dec[10.0] == pytest.approx(1 / 6) and dec[30.0] == pytest.approx(1 / 6)
    # the person still waiting is censored at day 30 (extract date), not dropped, not a zero wait
    d = res.data.set_index("referral_id")
    assert d.loc["R5", "cause"] == "censored" and d.loc["R5", "time"] == 30
    # in weeks
    w = funnel.waiting_times(data, unit="weeks").summary.iloc[0]
    assert w["estimate"] == pytest.approx(2.0)
    hz = res.horizons.set_index(["cause", "time"])
    assert hz.loc[("assessed", 28.0), "estimate"] == pytest.approx(2 / 3)


def test_median_not_reached_is_nan(tmp_path):
    # 4 referrals: 1 assessed, 3 declined -> the CIF of assessment stops at 1/4
    site = {**BROMLEY_SITE, "site_id": "S"}
    rd = date(2013, 5, 1)
    rows = [_ref("R0", "S", _iso(rd), assessment_date=_iso(rd + timedelta(days=5)), assessment_outcome="suitable")]
    rows += [_ref(f"R{i}", "S", _iso(rd), exit_date=_iso(rd + timedelta(days=3 + i)), exit_reason="declined_assessment")
             for i in (1, 2, 3)]
    s = funnel.waiting_times(_folder(tmp_path, [site], rows)).summary.iloc[0]
    assert np.isnan(s["estimate"]) and not s["median_reached"]
    assert s["median_observed_events"] == 5   # shown beside, labelled


@pytest.mark.parametrize("step", ["referral_to_assessment", "assessment_to_start"])
def test_waiting_times_match_cmprsk(waiting_fixture, step):
    ref = pd.read_csv(REF / "funnel_waiting_cuminc.csv")
    ref = ref[ref["step"] == step]
    res = funnel.waiting_times(waiting_fixture, stage=step, by="site_id")
    for (g, cause), r in ref.groupby(["group", "cause"]):
        cur = res.cif[(res.cif["group"] == g) & (res.cif["cause"] == cause)].sort_values("time")
        est = step_at(cur["time"], cur["estimate"], r["time"])
        var = step_at(cur["time"], cur["variance"], r["time"])
        # exact (non-iterative) Aalen-Johansen and its variance against cmprsk::cuminc, R written with 15
        # significant digits: float rounding only (measured 8e-16); 1e-8 is generous
        np.testing.assert_allclose(est, r["estimate"], atol=1e-8, err_msg=f"{g} {cause}")
        np.testing.assert_allclose(var, r["variance"], atol=1e-8, err_msg=f"{g} {cause}")
    med = pd.read_csv(REF / "funnel_waiting_medians.csv")
    med = med[med["step"] == step].set_index("group")
    s = res.summary.set_index("group")
    for g in med.index:
        assert s.loc[g, "n"] == med.loc[g, "n"]
        assert s.loc[g, "n_event"] == med.loc[g, "n_event"]
        assert s.loc[g, "n_censored"] == med.loc[g, "n_censored"]
        for c in ("median", "ci_lower", "ci_upper"):
            ours = s.loc[g, "estimate" if c == "median" else c]
            theirs = med.loc[g, c]
            assert (np.isnan(ours) and np.isnan(theirs)) or ours == theirs, (g, c)
    assert res.meta["n_in"] == res.meta["n_used"] + sum(res.meta["excluded"].values())


def test_waiting_times_validation(bromley):
    with pytest.raises(ValueError, match="stage must be"):
        funnel.waiting_times(bromley, stage="start_to_end")
    with pytest.raises(ValueError, match="alpha"):
        funnel.waiting_times(bromley, alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        funnel.cascade(bromley, alpha=1.2)


# ---------------------------------------------------------------------------
# attendance
# ---------------------------------------------------------------------------


def _attendance_data(tmp_path):
    site = {**BROMLEY_SITE, "site_id": "S", "planned_sessions": 10}
    s0 = date(2013, 5, 6)
    eps = [  # (rid, pid, scheduled, attended, exit_reason)
        ("E1", "P1", 10, 8, "completed"),
        ("E2", "P2", 5, 2, "dropped_out"),
        ("E3", "P3", 4, 4, None),            # still attending
        ("E4", "P1", 6, 3, "dropped_out"),   # the same person, a second episode
    ]
    refs, sess = [], []
    for rid, pid, m, a, er in eps:
        last = s0 + timedelta(days=7 * (m - 1))
        refs.append(_ref(rid, "S", "2013-04-01", participant_id=pid, assessment_date="2013-04-20",
                         assessment_outcome="suitable", start_date=_iso(s0),
                         exit_date=_iso(last) if er else None, exit_reason=er))
        for k in range(m):
            sess.append({"referral_id": rid, "session_number": k + 1, "session_date": _iso(s0 + timedelta(days=7 * k)),
                         "session_type": "group", "attended": "true" if (k == 0 or k < a) else "false"})
    refs.append(_ref("E5", "S", "2013-04-01", exit_date="2013-04-10", exit_reason="declined_assessment"))
    return _folder(tmp_path, [site], refs, sess)


def test_attendance_ratio_estimator_by_hand(tmp_path):
    data = _attendance_data(tmp_path)
    res = funnel.attendance(data, by=None)
    s = res.summary.set_index("measure")
    # attended / scheduled, people as clusters: P1 (11, 16), P2 (2, 5), P3 (4, 4); r = 17/25
    r = 17 / 25
    resid = np.array([11 - r * 16, 2 - r * 5, 4 - r * 4])
    se = math.sqrt(3 / 2 * (resid**2).sum()) / 25
    # ratio estimator and its SE by hand, closed form; pytest.approx's default rel=1e-6 is ample for float rounding
    assert s.loc["attended_of_scheduled", "estimate"] == pytest.approx(0.68)
    assert s.loc["attended_of_scheduled", "se"] == pytest.approx(se)
    assert s.loc["attended_of_scheduled", "ci_lower"] == pytest.approx(r - 1.959963984540054 * se)
    assert (s.loc["attended_of_scheduled", "n"], s.loc["attended_of_scheduled", "n_participants"]) == (4, 3)
    # attended / planned among started and closed: P1 (11, 20), P2 (2, 10); r = 13/30
    r2 = 13 / 30
    resid2 = np.array([11 - r2 * 20, 2 - r2 * 10])
    se2 = math.sqrt(2 / 1 * (resid2**2).sum()) / 30
    assert s.loc["attended_of_planned", "estimate"] == pytest.approx(r2)
    assert s.loc["attended_of_planned", "se"] == pytest.approx(se2)
    assert s.loc["attended_of_planned", "n_sessions_denominator"] == 30
    assert res.meta["excluded"] == {"no scheduled sessions": 1}
    dist = res.distribution
    assert set(zip(dist["stage"], dist["sessions_attended"], dist["n"])) == {
        ("completed", 8, 1), ("dropped_out", 2, 1), ("dropped_out", 3, 1)}


def test_attendance_needs_sessions(bromley):
    with pytest.raises(AnalysisError, match="sessions"):
        funnel.attendance(bromley)


# ---------------------------------------------------------------------------
# baseline table
# ---------------------------------------------------------------------------


def _baseline_data(tmp_path):
    site = {**BROMLEY_SITE, "site_id": "S"}
    done = {"assessment_date": "2013-04-10", "assessment_outcome": "suitable", "start_date": "2013-04-20"}
    refs = [
        _ref("C1", "S", "2013-04-01", age=30, substance_misuse="true", **done, exit_date="2013-10-01",
             exit_reason="completed", abuse_types="physical;coercive_control"),
        _ref("C2", "S", "2013-04-01", age=40, substance_misuse="false", **done, exit_date="2013-10-01",
             exit_reason="completed", abuse_types="verbal"),
        _ref("N1", "S", "2013-04-01", age=20, substance_misuse="true", **done, exit_date="2013-06-01",
             exit_reason="dropped_out", abuse_types="physical"),
        _ref("N2", "S", "2013-04-01", age=30, substance_misuse="false", **done, exit_date="2013-06-01",
             exit_reason="excluded", prior_da_police_contact="", abuse_types=""),
        _ref("N3", "S", "2013-04-01", age=40, substance_misuse="false", **done, exit_date="2013-06-01",
             exit_reason="custody", abuse_types="physical"),
        _ref("A1", "S", "2013-04-01", age=99, **done),                                           # still attending
        _ref("D1", "S", "2013-04-01", age=99, exit_date="2013-04-05", exit_reason="declined_assessment"),
    ]
    return _folder(tmp_path, [site], refs)


def test_baseline_smd_closed_form(tmp_path):
    res = funnel.baseline_table(_baseline_data(tmp_path))
    s = res.summary.set_index(["variable", "level", "group"])
    assert res.meta["groups"] == ["completed", "not_completed"]
    assert res.meta["excluded"] == {"still attending": 1, "did not start": 1}
    assert res.meta["n_in"] == 7 and res.meta["n_used"] == 5
    # age: completed 30, 40 (mean 35, sd 7.071); not completed 20, 30, 40 (mean 30, sd 10)
    assert s.loc[("age", "mean", "completed"), "mean"] == pytest.approx(35)
    assert s.loc[("age", "mean", "not_completed"), "sd"] == pytest.approx(10)
    assert s.loc[("age", "mean", "completed"), "smd"] == pytest.approx(5 / math.sqrt((50 + 100) / 2))  # 0.57735
    # substance misuse yes: 1/2 vs 1/3 -> (1/6) / sqrt((1/4 + 2/9) / 2) = 0.34300
    p1, p2 = 1 / 2, 1 / 3
    assert s.loc[("substance_misuse", "yes", "completed"), "smd"] == pytest.approx(
        (p1 - p2) / math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2))
    assert s.loc[("substance_misuse", "yes", "not_completed"), "n"] == 1
    # missing is its own level: prior police contact missing 0/2 vs 1/3 -> (0 - 1/3) / sqrt((0 + 2/9)/2) = -1
    assert s.loc[("prior_da_police_contact", "missing", "not_completed"), "n"] == 1
    assert s.loc[("prior_da_police_contact", "missing", "completed"), "smd"] == pytest.approx(-1.0)
    # abuse types: one row per type; physical 1/2 vs 2/3; missing 0/2 vs 1/3
    assert s.loc[("abuse_types", "physical", "not_completed"), "n"] == 2
    assert s.loc[("abuse_types", "missing", "not_completed"), "n"] == 1
    # categorical levels add up to the group size
    g = res.summary[(res.summary["variable"] == "gender")]
    assert g.groupby("group")["n"].sum().to_dict() == {"completed": 2, "not_completed": 3}
    # pairwise SMD table and smd_max_abs agree for two groups
    assert (res.summary["smd"].abs() - res.summary["smd_max_abs"]).abs().max() < 1e-12


def test_baseline_by_site_and_start_status(waiting_fixture):
    by_site = funnel.baseline_table(waiting_fixture, by="site_id")
    assert by_site.meta["groups"] == ["A", "B"]
    assert by_site.meta["n_used"] == 180
    st = funnel.baseline_table(waiting_fixture, by="start_status", variables=["age", "gender"])
    n = funnel.cascade(waiting_fixture).counts.set_index("stage")["n"]
    assert st.meta["n_used"] == n["accepted"] - n["awaiting_start"]
    assert set(st.summary["variable"]) == {"age", "gender"}
    with pytest.raises(ValueError, match="unknown baseline"):
        funnel.baseline_table(waiting_fixture, variables=["shoe_size"])


# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------


def test_figures_draw(bromley, tmp_path, waiting_fixture):
    axes = [
        funnel.cascade(bromley).plot(),
        funnel.waiting_times(waiting_fixture, by="site_id").plot(),
        funnel.waiting_list(waiting_fixture).plot(),
        funnel.throughput(bromley).plot(),
        funnel.attendance(_attendance_data(tmp_path)).plot(),
        funnel.baseline_table(waiting_fixture).plot(),
        funnel.costs(waiting_fixture).plot(),
    ]
    for ax in axes:
        assert ax.figure is not None
    texts = " ".join(t.get_text() for t in axes[0].texts)
    assert "Referred\nn = 41" in texts and "Completed\nn = 6" in texts and "Still\nattending\nn = 9" in texts
    plt.close("all")


def test_flow_diagram_shows_suppressed_counts(bromley):
    counts = funnel.cascade(bromley).counts.astype({"n": object})
    counts.loc[counts["stage"] == "completed", "n"] = "<10"
    ax = funnel.plotting.plot_funnel_flow(counts)
    assert any("Completed\nn = <10" == t.get_text() for t in ax.texts)
    plt.close("all")


# ---------------------------------------------------------------------------
# the shipped synthetic programme
# ---------------------------------------------------------------------------


def _check_against_truth(data, truth):
    """Stage counts add up, and the cascade reproduces the generator's funnel (truth.json)."""
    res = funnel.cascade(data, by="site_id")
    counts = res.counts
    for g, sub in counts.groupby("group"):
        n = sub.set_index("stage")["n"].astype(int)
        assert n["referred"] == sum(n[s] for s in funnel.STAGES), g
        for inter, members in funnel.INTERMEDIATE_STAGES.items():
            assert n[inter] == sum(n[m] for m in members), (g, inter)
    n = counts[counts["group"] == "all"].set_index("stage")["n"].astype(int)
    assert n["referred"] == len(data.referrals)
    site_sum = counts[counts["group"] != "all"].groupby("stage")["n"].sum().astype(int)
    assert (site_sum.reindex(n.index) == n).all()
    # the generator's achieved conversions (its definitions in truth["funnel_target_definitions"])
    ours = {
        "declined_assessment": (n["declined_assessment"], n["declined_assessment"] + n["assessed"]),
        "unsuitable": (n["unsuitable"], n["assessed"]),
        "declined_to_start": (n["declined_to_start"], n["declined_to_start"] + n["started"]),
        "completed": (n["completed"], n["started"] - n["still_attending"]),
    }
    conv = res.conversion.query("group == 'all'").set_index("conversion")
    assert (conv.loc["completed_of_started", "n_converted"], conv.loc["completed_of_started", "n_resolved"]) == \
        ours["completed"]
    for key, (x, d) in ours.items():
        got = truth["funnel_achieved"][key]
        assert (x, d) == (got["n_event"], got["n"]), key
        # calibration: within 5 percentage points of the target (the generator's own promise)
        assert abs(x / d - truth["funnel_targets"][key]) < 0.05, key
    return res


def test_generated_synthetic_matches_truth(tmp_path):
    from dapp_eval import synthetic

    out = tmp_path / "synth"
    synthetic.generate(out, referrals=2000, sites=5, seed=1)
    data = load_programme(out, check_identifiers=False)
    truth = json.loads((out / "truth.json").read_text())
    _check_against_truth(data, truth)
    # every analysis runs on it and keeps its row accounting
    for res in (funnel.waiting_times(data, by="site_id"), funnel.waiting_times(data, stage="assessment_to_start"),
                funnel.waiting_list(data), funnel.throughput(data), funnel.attendance(data),
                funnel.baseline_table(data), funnel.costs(data)):
        assert res.meta["n_in"] == res.meta["n_used"] + sum(res.meta["excluded"].values())
        assert len(res.summary) > 0
    # nobody still waiting is dropped: censored = awaiting start
    w = funnel.waiting_times(data, stage="assessment_to_start").summary.set_index("group")
    n = funnel.cascade(data).counts.set_index("stage")["n"]
    assert w.loc["all", "n_censored"] == n["awaiting_start"]
    assert w.loc["all", "n"] == n["accepted"]


def test_shipped_synthetic_matches_truth(synthetic_data):
    truth_file = SYNTHETIC / "truth.json"
    if not truth_file.exists():
        pytest.skip("data_synthetic/truth.json not present")
    _check_against_truth(synthetic_data, json.loads(truth_file.read_text()))

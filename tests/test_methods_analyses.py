"""The issue #31 methods in use: recurrent police contacts (against R on the follow-up fixture), the
weighted comparison cohort, and the interrupted time series of the quarterly charts."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dapp_eval.analyses import compare, followup, trends
from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import DEFAULT_PLAN, load_plan
from dapp_eval.estimators import sensitivity, weighting

REFERENCE = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def data():
    return load_programme(REFERENCE / "safety_followup_fixture")


@pytest.fixture(scope="module")
def rc(data):
    return followup.recurrent_contacts(data, outcome="police")


@pytest.fixture(scope="module")
def ref_rec():
    return pd.read_csv(REFERENCE / "followup_reference_recurrent.csv")


def test_recurrent_contacts_match_r_from_raw_incidents(rc, ref_rec):
    # R rebuilt every person's police events after exit from the raw CSVs (tests/reference/followup_reference.R)
    for group, r in ref_rec[ref_rec["group"].isin(["completed", "did_not_complete"])].groupby("group"):
        c = rc.tables["curves"]
        c = c[(c["group"] == group) & (c["n_events"] > 0)]
        np.testing.assert_array_equal(c["days"].to_numpy(), r["time"].to_numpy())
        np.testing.assert_array_equal(c["n_at_risk"].to_numpy(), r["n_risk"].to_numpy())
        # sums of 1/Y and the Lawless-Nadeau sum of squares: float rounding only
        np.testing.assert_allclose(c["estimate"].to_numpy(), r["mcf"].to_numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(c["std_error"].to_numpy(), r["se"].to_numpy(), rtol=0, atol=1e-10)
    lw = ref_rec[ref_rec["group"] == "lwyy_completed"].iloc[0]
    fit = rc.model["lwyy"]
    # Newton on the partial likelihood to 1e-10 (ours) and coxph's eps 1e-11
    assert fit.params["completed"] == pytest.approx(lw["mcf"], abs=1e-7)
    assert fit.bse["completed"] == pytest.approx(lw["se"], rel=1e-7)  # the same convergence, through the sandwich
    assert fit.info["n_events"] == lw["n_events"]
    rr = rc.tables["rate_ratio"].iloc[0]
    assert rr["estimate"] == pytest.approx(np.exp(lw["mcf"]), rel=1e-7)  # exp of the same coefficient


def test_recurrent_contacts_count_every_event_and_person(rc, data):
    p, rows = rc.tables["persons"], rc.tables["rows"]
    assert rows.groupby("participant_id")["event"].sum().reindex(p["participant_id"]).fillna(0).astype(int).tolist() \
        == p["n_events"].tolist()
    assert rc.meta["n_in"] == rc.meta["n_used"] + sum(rc.meta["excluded"].values())
    # the summary's people followed at t and events by t are plain counts of the persons table
    s = rc.summary.query("months == 6 and group == 'completed'").iloc[0]
    g = p[p["group"] == "completed"]
    assert s["n_at_risk"] == int((g["days"] >= s["days"]).sum())
    # with everyone followed, the MCF is events / people: at day 0 (events on the exit day)
    c0 = rc.summary.query("months == 0")
    assert (c0["estimate"] >= 0).all()
    assert "not a causal comparison" in rc.meta["caveat"]


def test_recurrent_contacts_by_none_and_no_lwyy(data):
    r = followup.recurrent_contacts(data, by=None)
    assert set(r.summary["group"]) == {"all"} and r.tables["rate_ratio"].empty
    assert r.plot() is not None


@pytest.fixture(scope="module")
def weighted():
    d = load_programme("data_synthetic")
    return compare.weighted_comparison(d.subset(sites=["S01", "S02"]), d.subset(sites=["S03", "S04"]))


def test_weighted_comparison_is_the_estimators_on_its_cohorts(weighted):
    w = weighted.tables["weights"]
    t = (w["cohort"] == "programme").to_numpy(float)
    assert (w.loc[t == 1, "weight"] == 1).all()
    assert weighted.meta["trim"] == 0.99 and "99th centile" in weighted.meta["trim_text"]
    s = weighted.summary.set_index("measure")
    rr = s.loc["any incident in the window: risk ratio"]
    ev = sensitivity.evalues_rr(rr["estimate"], rr["ci_lower"], rr["ci_upper"]).loc["E-value"]
    assert rr["e_value"] == pytest.approx(ev["point"], rel=1e-12)  # the same closed form
    d = s.loc["any incident in the window: difference"]
    assert d["estimate"] == pytest.approx(100 * (d["mean_programme"] - d["mean_comparison_weighted"]), abs=1e-9)
    bal = weighted.balance.set_index("covariate")
    assert abs(bal.loc["propensity score", "diff_after"]) < abs(bal.loc["propensity score", "diff_before"])
    assert weighted.meta["max_abs_diff_after"] < 0.1
    assert weighted.meta["n_in"] == weighted.meta["n_used"] + sum(weighted.meta["excluded"].values())


def test_weighted_comparison_balance_matches_estimator(weighted):
    # the balance table is balance_table on the covariates plus the score, with the reported weights
    w = weighted.tables["weights"]
    t = (w["cohort"] == "programme").to_numpy(float)
    ps = w["ps"].to_numpy()
    tab = weighting.balance_table(ps[:, None], t, w["weight"].to_numpy(), names=["propensity score"])
    got = weighted.balance.set_index("covariate").loc["propensity score"]
    assert got["diff_after"] == pytest.approx(tab["diff_after"].iloc[0], abs=1e-12)  # same arithmetic


def test_its_only_with_a_change_date():
    assert DEFAULT_PLAN["trends"] == {"change_date": None}
    assert load_plan({"trends": {"change_date": "2024-04-01"}}).trends.change_date == "2024-04-01"
    with pytest.raises(ValueError, match="trends.change_date"):
        load_plan({"trends": {"change_date": "April 2024"}})
    d = load_programme("data_synthetic")
    with pytest.raises(Exception, match="no change date"):
        trends.interrupted_time_series(d)
    res = trends.interrupted_time_series(d, plan=load_plan({"trends": {"change_date": "2024-04-01"}}))
    ref = res.summary.query("measure == 'referrals'").set_index("term")
    spc = trends.quarterly_spc(d).summary.query("measure == 'referrals' and not partial")
    from dapp_eval.estimators.its import segmented_regression

    c = int((spc["quarter_start"] < pd.Timestamp("2024-04-01")).sum())
    fit = segmented_regression(spc["value"].to_numpy(float), c)
    assert ref.loc["step", "estimate"] == pytest.approx(float(fit.params["step"]), abs=1e-9)  # same OLS
    assert ref.loc["step", "change_quarter"] == "2024/25 Q1"
    short = res.summary.query("measure == 'completion'")
    assert short["note"].str.contains("at least 3 complete quarters").all()


def test_release_shows_recurrent_contacts_and_its_only_with_a_change_date(tmp_path, capsys):
    import base64
    import re
    import warnings

    from conftest import SYNTHETIC

    from dapp_eval.report import render_release

    plan = tmp_path / "plan.yaml"
    plan.write_text("trends:\n  change_date: 2024-04-01\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing of the new methods may reach the user as a warning
        with_date = render_release(SYNTHETIC, tmp_path / "dated", sites=["S02"], overall=True, progress=False,
                                   plan_path=plan)
    # the report and its technical annex together
    html = "".join(p.read_text(encoding="utf-8") for p in with_date if p.name.startswith("report_s02"))
    assert "Police contacts since leaving (every contact, not only the first)" in html
    assert "Before and after the planned change date (2024-04-01)" in html
    assert "Repeat police contacts" in html and "Before and after a change" in html  # the methods annex
    # the step change is estimated where the quarters before and after the date are complete: all sites (a
    # site's referrals and starts are read off its throughput table, whose early quarters are merged)
    overall = "".join(p.read_text(encoding="utf-8") for p in with_date if p.name.startswith("report_all_sites"))
    csvs = dict(re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', overall))
    its = base64.b64decode(csvs["all_trend_interrupted_time_series.csv"]).decode("utf-8")
    assert "step change at the change quarter" in its and "2024/25 Q1" in its
    csvs = dict(re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html))
    assert "s02_recurrent_contacts.csv" in csvs and "s02_recurrent_contacts_chart_data.csv" in csvs
    plain = render_release(SYNTHETIC, tmp_path / "plain", sites=["S02"], overall=False, progress=False)
    html = next(p for p in plain if p.name == "report_s02.html").read_text(encoding="utf-8")
    assert "planned change date" not in html  # no date in the plan: no interrupted time series
    assert "Before and after a change" not in html
    assert capsys.readouterr().err == ""

"""The recording-lag rule, the completion interval at 0% / 100%, and the populations the headline cards name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dapp_eval.analyses import attrition
from dapp_eval.commissioner import headlines
from dapp_eval.data.io import ProgrammeData
from dapp_eval.data.plan import load_plan
from dapp_eval.estimators import survival as sv
from dapp_eval.estimators.proportions import wilson_ci


@pytest.fixture
def data(synthetic_data):
    return synthetic_data


def test_recording_lag_days_is_the_95th_centile_of_non_completion_delays(data):
    ep = data.episodes
    m = ep["start_date"].notna() & ep["exit_reason"].isin(["dropped_out", "excluded", "moved_away", "custody", "other"])
    d = (ep.loc[m, "exit_date"] - ep.loc[m, "last_attended_date"]).dt.days.dropna()
    assert attrition.recording_lag_days(data) == 7 * np.ceil(np.quantile(d, 0.95) / 7)  # whole weeks (a22 P1)
    # the generator records these exits 0-42 days after the last session
    assert 35 <= attrition.recording_lag_days(data) <= 42


def test_lag_rule_equals_aalen_johansen_on_hand_censored_times(data):
    lag = 40
    res = attrition.completion_rate(data, recording_lag=lag)
    pooled = res.summary[res.summary["basis"].str.startswith("pooled")].iloc[0]
    # by hand: cut-off = extract - 40 days; later starters out; later exits and open episodes censored at it
    ep = data.episodes
    ep = ep[ep["start_date"].notna()].copy()
    cut = ep["data_extract_date"] - pd.Timedelta(days=lag)
    ep = ep[ep["start_date"] <= cut]
    cut = cut.loc[ep.index]
    exit_at = ep["last_attended_date"].where(ep["exit_reason"].notna())
    exit_at = exit_at.where(exit_at.notna() | ep["exit_reason"].isna(), ep["exit_date"])
    event = ep["exit_reason"].notna() & (exit_at <= cut)
    end = exit_at.where(event, cut)
    t = (end - ep["start_date"]).dt.days.astype(float)
    outcome = ep["exit_reason"].map({"completed": "completed", "dropped_out": "dropped_out", "excluded": "excluded",
                                     "moved_away": "other_exit", "custody": "other_exit", "other": "other_exit"})
    outcome = outcome.where(event, "censored")
    aj = sv.aalen_johansen(t, outcome, censored="censored", causes=["completed"])
    horizon = pooled["horizon_days"]
    idx = np.searchsorted(aj["time"].to_numpy(), horizon, side="right") - 1
    # the same Aalen-Johansen product on the same data: last-bit rounding only
    assert pooled["estimate"] == pytest.approx(float(aj["estimate"].iloc[idx]), abs=1e-12)
    assert pooled["n"] == len(ep)
    assert res.meta["recording_lag_days"] == lag
    key = f"started within the recording lag ({lag} days) before the extract date"
    assert res.meta["excluded"][key] == int((data.episodes["start_date"] > data.episodes["data_extract_date"]
                                             - pd.Timedelta(days=lag)).sum())


def test_lag_rule_off_is_the_old_estimate(data):
    a = attrition.completion_rate(data, recording_lag=None).summary
    b = attrition.completion_rate(data, recording_lag=0).summary
    c = attrition.completion_rate(data).summary
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    auto = attrition.completion_rate(data, recording_lag="auto")
    assert auto.meta["recording_lag_days"] == attrition.recording_lag_days(data)
    with pytest.raises(ValueError, match="recording_lag"):
        attrition.completion_rate(data, recording_lag="soon")
    with pytest.raises(ValueError, match="recording_lag"):
        attrition.completion_rate(data, recording_lag=-3)


def test_plan_recording_lag_and_completers_only_keys():
    plan = load_plan()
    assert plan["attrition"]["recording_lag"] == "auto" and plan["headlines"]["completers_only"] is False
    assert load_plan({"attrition": {"recording_lag": None}}).attrition.recording_lag is None
    assert load_plan({"attrition": {"recording_lag": 28}}).attrition.recording_lag == 28
    with pytest.raises(ValueError, match="recording_lag"):
        load_plan({"attrition": {"recording_lag": -1}})
    with pytest.raises(ValueError, match="completers_only"):
        load_plan({"headlines": {"completers_only": "yes"}})


def test_dropout_cox_takes_the_lag_rule(data):
    off = attrition.dropout_cox(data).summary.set_index("term")
    on = attrition.dropout_cox(data, recording_lag="auto")
    assert on.meta["recording_lag_days"] == attrition.recording_lag_days(data)
    assert on.summary["n"].iloc[0] < off["n"].iloc[0]


def test_completion_interval_at_100_percent(data):
    """Every ending a completion: the log-log interval is undefined; Wilson on those whose outcome is known."""
    ref = data.referrals.copy()
    started_closed = ref["start_date"].notna() & ref["exit_reason"].notna()
    ref.loc[started_closed, "exit_reason"] = "completed"
    # every started episode closed well inside the horizon (no open or late-closing ones)
    quick = started_closed & ((ref["exit_date"] - ref["start_date"]).dt.days <= 150)
    one = (ref["site_id"] == "S01") & (ref["start_date"].isna() | quick)
    d = ProgrammeData(sites=data.sites[data.sites["site_id"] == "S01"].reset_index(drop=True),
                      referrals=ref[one].reset_index(drop=True), sessions=data.sessions, source="test")
    res = attrition.completion_rate(d, recording_lag=None)
    r = res.summary.iloc[0]
    assert r["estimate"] == 1.0
    n_known = int(r["n_followed_to_horizon"])
    lo, hi = wilson_ci(n_known, n_known, alpha=0.05)
    assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((float(lo), float(hi)))
    assert r["ci_lower"] < 1.0 and r["ci_upper"] == pytest.approx(1.0)
    assert "log-log" in res.meta["ci_note"]


def test_headline_cards_name_their_population(data):
    plan = load_plan({"headlines": {"completers_only": True}})
    s = headlines.headline_figures(data, plan=plan).summary.set_index("code")
    rr = s.loc["reliable_risk_reduction"]
    ch = headlines.headline_figures(data, codes=["reliable_risk_reduction"]).model["risk_change"].tables["changes"]
    reason = data.referrals.set_index("referral_id")["exit_reason"]
    done = (ch["referral_id"].map(reason) == "completed")
    assert rr["n_population"] == len(ch) == rr["n_denominator"]
    assert rr["n_population_completed"] == done.sum()
    assert rr["population"] == f"of those assessed twice: {100 * done.mean():.0f}% completed the programme"
    k = int((ch.loc[done, "reliable_change"] == "reliably improved").sum())
    assert rr["completers_value"] == pytest.approx(k / done.sum())
    assert s.loc["partner_feels_safer", "n_population"] == s.loc["partner_feels_safer", "n_denominator"]
    assert s.loc["police_after", "n_population"] == s.loc["police_after", "n_denominator"]
    assert s.loc["completion_rate", "population"] == "of everyone who started"
    # without the plan's request no completers-only figure is computed
    plain = headlines.headline_figures(data, codes=["partner_feels_safer"]).summary.iloc[0]
    assert np.isnan(plain["completers_value"]) and plain["population"].startswith("of the (ex-)partners")


def test_population_text_hides_a_small_share():
    t = headlines.population_text("police_after", 3, 8, share_shown=False)
    assert "%" not in t and "small numbers" in t


def test_a_few_exits_give_the_fallback_lag_not_one_persons_delay(data):
    """a24 H3: in a one-month release of 17 leavers the 95th centile was two people's 35 days. With fewer than
    MIN_EXITS_FOR_LAG delays the lag is the fallback, whatever the delays."""
    ep = data.episodes
    m = ep["start_date"].notna() & ep["exit_reason"].isin(["dropped_out", "excluded", "moved_away", "custody", "other"])
    keep_ids = set(ep.loc[m, "referral_id"].head(attrition.MIN_EXITS_FOR_LAG - 1)) | set(ep.loc[~m, "referral_id"])
    few = data.subset(sites=list(data.sites["site_id"]))
    few = type(few)(**{**{k: getattr(few, k) for k in few.__dataclass_fields__},
                       "referrals": few.referrals[few.referrals["referral_id"].isin(keep_ids)].reset_index(drop=True)})
    assert attrition.recording_lag_days(few) == attrition.FALLBACK_LAG_DAYS
    assert attrition.recording_lag_days(data) != attrition.FALLBACK_LAG_DAYS  # many exits: estimated (42 days)

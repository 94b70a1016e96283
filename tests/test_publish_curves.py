"""Issue 26, figures read off curves: the wait medians and the restricted mean time in programme are read off
the curves rebuilt from rounded cumulative counts (the curves a release draws), never off the people.

Each expected value is computed here from the curve rebuilt with :func:`protected_steps` and
:func:`cif_from_steps` / :func:`km_from_steps` (and the Greenwood sum written out), not with the functions the
publication step calls. The data are generated here (sizes and seeds not used elsewhere).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dapp_eval.columns import Count, CurveQuantile, Label
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.curves import cif_from_steps, km_from_steps, protect_cif_table, protected_steps
from dapp_eval.disclosure.roles import publish

STAGES = ("referral_to_assessment", "assessment_to_start")
EVENT = {"referral_to_assessment": "assessed", "assessment_to_start": "started"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("curves") / "data"
    generate(folder, referrals=380, sites=2, seed=26226)
    return load_programme(folder)


def _steps(time, cause, causes: list, n: int, dc, *, grain: float, censor_start: bool = False) -> pd.DataFrame:
    """Rounded per-time counts of a curve on the release's time grid, from the people's (time, cause)
    ('censored' for those still open)."""
    tab = pd.crosstab(pd.Series(np.asarray(time, float)), pd.Series(np.asarray(cause, object)))
    tab = tab.reindex(columns=[*causes, "censored"], fill_value=0).sort_index()
    return protected_steps(tab.index.to_numpy(), {c: tab[c].to_numpy() for c in causes}, tab["censored"].to_numpy(),
                           n, min_count=dc.threshold, grain=grain, base=dc.round_at_risk, censor_start=censor_start)


def _drawn(steps: pd.DataFrame, cause: str, dc) -> pd.DataFrame:
    """The curve of ``cause`` as drawn: up to where fewer than the threshold remain at risk."""
    c = cif_from_steps(steps, alpha=dc.alpha)
    c = c[c["cause"] == cause].sort_values("time").reset_index(drop=True)
    small = np.flatnonzero(c["n_at_risk"].to_numpy() < dc.threshold)
    return c.iloc[: small[0]] if len(small) else c


def _first(curve: pd.DataFrame, col: str) -> float:
    hit = curve.loc[curve[col] >= 0.5 - 1e-12, "time"]
    return float(hit.iloc[0]) if len(hit) else np.nan


def _same(a, b) -> bool:
    a, b = float(a), float(b)
    return (np.isnan(a) and np.isnan(b)) or a == b


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("threshold", [5, 10])
def test_wait_median_is_the_first_time_the_protected_curve_reaches_one_half(data, stage, threshold):
    from dapp_eval.analyses import funnel

    dc = DisclosureControl(threshold=threshold, alpha=0.1)
    w = funnel.waiting_times(data, stage=stage, by="site_id", unit="weeks", alpha=0.1)
    shown = publish(w.summary, w.roles["summary"], dc, name="wait").set_index("group")
    wd = w.tables["data"]
    for g, row in w.summary.set_index("group").iterrows():
        sub = wd if g == "all" else wd[wd["site_id"] == g]
        steps = _steps(sub["time"], sub["cause"], w.meta["causes"], len(sub), dc, grain=1.0)  # weeks
        curve = _drawn(steps, EVENT[stage], dc)
        pub = shown.loc[g]
        if row["n_event"] < threshold:
            assert pub["estimate"] == "[c]"
            continue
        assert _same(pub["estimate"], _first(curve, "estimate")), g
        assert _same(pub["ci_lower"], _first(curve, "ci_upper")), g  # the band inverted
        assert _same(pub["ci_upper"], _first(curve, "ci_lower")), g
        assert bool(pub["median_reached"]) == bool(np.isfinite(_first(curve, "estimate")))
        # the plain median among those with the event: of the rounded people the curve stands for
        d = steps[f"n_event_{EVENT[stage]}"].to_numpy()
        want = steps["time"].to_numpy()[np.flatnonzero(np.cumsum(d) >= d.sum() / 2)[0]]
        assert pub["median_observed_events"] == want


def test_wait_median_is_read_off_the_curve_the_chart_draws(data):
    """The table's median and the wait chart (report/sections/engagement.py) come from one curve."""
    from dapp_eval.analyses import funnel

    dc = DisclosureControl()
    for stage in STAGES:
        w = funnel.waiting_times(data, stage=stage, unit="weeks")
        chart = protect_cif_table(w.tables["cif"], dc, name="chart", causes=w.meta["causes"])
        drawn = chart[chart["cause"] == EVENT[stage]]
        pub = publish(w.summary, w.roles["summary"], dc, name="wait").iloc[0]
        assert pub["estimate"] == _first(drawn, "estimate")
        assert pub["estimate"] in set(drawn.loc[drawn["n_event"] > 0, "time"])  # a vertex of the drawn curve
        # the true median is not what is published unless the rounded curve crosses at the same time
        true = w.summary.iloc[0]["estimate"]
        assert pub["estimate"] == true or true not in set(drawn["time"]) or _first(drawn, "estimate") != true


def test_the_wait_card_equals_the_tables_median(data):
    from dapp_eval.analyses import funnel
    from dapp_eval.commissioner.headlines import headline_figures, to_publish
    from dapp_eval.report.sections._headlines import curves_of

    dc = DisclosureControl(alpha=0.1)
    hf = headline_figures(data, codes=["wait_to_start"], alpha=0.1)
    t, roles = to_publish(hf.summary, ["wait_to_start"], curves=curves_of(hf.model))
    card = publish(t, roles, dc, name="cards", pairs={"n_numerator": "n_denominator"}).iloc[0]
    w = funnel.waiting_times(data, stage="assessment_to_start", unit="weeks", alpha=0.1)
    table = publish(w.summary, w.roles["summary"], dc, name="wait").iloc[0]
    assert (card["value"], card["ci_lower"], card["ci_upper"]) == (table["estimate"], table["ci_lower"],
                                                                   table["ci_upper"])
    assert card["value"] != "[c]"
    # without its curve the card is withheld, never the true curve's median
    t, roles = to_publish(hf.summary, ["wait_to_start"])
    assert publish(t, roles, dc, name="cards").iloc[0]["value"] == "[c]"


@pytest.mark.parametrize("threshold", [5, 10, 20])
def test_rmst_is_the_area_under_the_protected_all_exits_curve(data, threshold):
    """Area under the Kaplan-Meier curve of leaving (any exit) rebuilt from rounded counts, up to the horizon,
    and the Greenwood-type SE sum_j A_j^2 d_j / (n_j (n_j - d_j)) over its steps (R's print(survfit, rmean=))."""
    from dapp_eval.analyses import attrition

    dc = DisclosureControl(threshold=threshold, alpha=0.1)
    r = attrition.rmst(data, by="site_id", alpha=0.1)
    shown = publish(r.summary, r.roles["summary"], dc, name="rmst").set_index("group")
    ep = attrition.episode_times(data).tables["episodes"]
    for g, row in r.summary.set_index("group").iterrows():
        sub = ep[ep["site_id"] == g]
        cause = np.where(sub["outcome"] == attrition.CENSORED, "censored", "exit")
        steps = _steps(sub["time_days"], cause, ["exit"], len(sub), dc, grain=7.0, censor_start=True)
        km = km_from_steps(steps, "exit", alpha=dc.alpha)
        km = km[km["time"] <= row["horizon_days"]]
        t, s = km["time"].to_numpy(), km["estimate"].to_numpy()
        grid = np.r_[0.0, t, row["horizon_days"]]
        area = np.diff(grid) * np.r_[1.0, s]
        by_t = steps.set_index("time")
        d = by_t.loc[t, "n_event_exit"].to_numpy(float)
        n = by_t.loc[t, "n_at_risk"].to_numpy(float)
        right = np.cumsum(area[::-1])[::-1][1:]
        se = np.sqrt(np.sum(np.where(n > d, right ** 2 * d / (n * np.maximum(n - d, 1)), 0.0)))
        pub = shown.loc[g]
        # the same sums in another order (float rounding only): the area to 1e-12, the SE and limits to 1e-9
        assert pub["estimate"] == pytest.approx(area.sum(), rel=1e-12)
        assert pub["std_error"] == pytest.approx(se, rel=1e-9)
        z = stats.norm.ppf(0.95)
        assert pub["ci_lower"] == pytest.approx(area.sum() - z * se, rel=1e-9)  # as above: float rounding only
        # not the true curve's area (the people's exit times)
        assert pub["estimate"] != row["estimate"]


# ---------------------------------------------------------------------------------------------------------------
# generated step tables: the published median is a vertex of the protected curve
# ---------------------------------------------------------------------------------------------------------------


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    time = rng.integers(0, rng.integers(3, 80), size=n).astype(float)
    cause = rng.choice(["done", "other", "censored"], size=n, p=rng.dirichlet([4, 2, 1]))
    return pd.DataFrame({"time": time, "cause": cause})


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(5, 500), threshold=st.integers(5, 20), alpha=st.floats(0.01, 0.2), seed=st.integers(0, 2**31))
def test_published_median_is_a_vertex_of_the_protected_curve(n, threshold, alpha, seed):
    people = _people(n, seed)
    tab = pd.crosstab(people["time"], people["cause"]).reindex(columns=["done", "other", "censored"], fill_value=0)
    counts = tab.rename_axis(None, axis=1).reset_index(names="time")
    true = pd.DataFrame({"group": ["g"], "n": [n], "n_event": [int(tab["done"].sum())],
                         "estimate": [1.0], "ci_lower": [1.0], "ci_upper": [1.0]})
    roles = [Label("group"), Count("n", "n_event"),
             CurveQuantile(("estimate", "ci_lower", "ci_upper"), steps=lambda row: counts, cause="done", n="n",
                           events="n_event", grain=1.0)]
    dc = DisclosureControl(threshold=threshold, alpha=alpha)
    pub = publish(true, roles, dc, name="generated").iloc[0]
    if true.loc[0, "n_event"] < threshold:
        assert pub["estimate"] == "[c]"
        return
    steps = protected_steps(counts["time"].to_numpy(), {c: counts[c].to_numpy() for c in ("done", "other")},
                            counts["censored"].to_numpy(), n, min_count=threshold, grain=1.0, base=5)
    curve = _drawn(steps, "done", dc)
    assert _same(pub["estimate"], _first(curve, "estimate"))
    if np.isnan(pub["estimate"]):
        return
    step = steps.set_index("time")["n_event_done"]
    d = int(step.loc[pub["estimate"]])
    # a vertex: a step of the rounded curve, the first of threshold - threshold // 2 people, every other of a
    # multiple of the threshold
    assert d == threshold - threshold // 2 or (d > 0 and d % threshold == 0)
    moved = steps.loc[(steps["n_event_done"] + steps["n_event_other"]) > 0, "time"]
    for c in ("ci_lower", "ci_upper"):  # the band moves only where a rounded step of some exit is
        assert np.isnan(pub[c]) or pub[c] in set(moved)


def test_curve_readings_do_not_read_the_true_estimates(data):
    """The published median, its interval and the restricted mean do not change when the analysis's own
    (true-data) values are replaced: they come from the rounded counts only."""
    from dapp_eval.analyses import attrition, funnel

    dc = DisclosureControl()
    w = funnel.waiting_times(data, stage="assessment_to_start", by="site_id", unit="weeks")
    r = attrition.rmst(data, by="site_id")
    for res, cols in ((w, ["estimate", "ci_lower", "ci_upper", "median_observed_events"]),
                      (r, ["estimate", "std_error", "ci_lower", "ci_upper"])):
        shown = publish(res.summary, res.roles["summary"], dc, name="t")
        junk = publish(res.summary.assign(**{c: 999.0 for c in cols}), res.roles["summary"], dc, name="t")
        pd.testing.assert_frame_equal(shown[cols], junk[cols])
        assert not (shown[cols] == 999.0).any().any()


def test_no_drawn_step_where_fewer_than_the_threshold_truly_remain():
    """a26 N1: the rounded numbers at risk stayed at the threshold after the true ones fell below it, and a step
    at 14 months stood for one person's incident with 3 people left. Every kept step of a redrawn time-to-incident
    curve now has at least the threshold of people truly remaining after it."""
    import copy

    import numpy as np

    from dapp_eval.analyses import followup
    from dapp_eval.data.io import load_programme
    from dapp_eval.disclosure.control import DisclosureControl
    from dapp_eval.disclosure.curves import GRAIN_FOLLOWUP_DAYS, grid_times, protect_persons_km_result

    res = followup.time_to_incident(load_programme("data_synthetic"))
    persons = res.tables["persons"]
    g = persons["group"] == "did_not_complete"
    p = persons[g].sort_values("days").reset_index(drop=True)
    # everyone but the last 3 followed for at most a year; the last 3 much longer, one with a late incident
    late = p.index >= len(p) - 3
    p.loc[~late, "days"] = np.minimum(p.loc[~late, "days"], 360.0)
    p.loc[late, "days"] = [700.0, 760.0, 800.0]
    p.loc[late, "event"] = [False, True, False]
    r = copy.copy(res)
    r.tables = {**res.tables, "persons": pd.concat([persons[~g], p], ignore_index=True)}
    dc = DisclosureControl(threshold=10)
    safe = protect_persons_km_result(r, dc, name="t")
    drawn = safe.tables["curves"]
    d = drawn.loc[drawn["group"] == "did_not_complete", "days"].to_numpy()
    ends = grid_times(p["days"].to_numpy(), GRAIN_FOLLOWUP_DAYS)
    for t in d[d > 0]:
        assert len(p) - (ends <= t).sum() >= dc.threshold, t
    assert d.max() <= 366

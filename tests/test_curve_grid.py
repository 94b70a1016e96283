"""Protected curves are drawn on a coarse time grid (issue 26, attack a7 F0/F0b).

An outside attacker read every vertex of the protected curves as a real person's day: 264 of 264 exit dates
off the police-contacts curve (extract date less the vertex), 128 of 128 off the Kaplan-Meier of the first
police incident, and 985 of 985 individual waits off the wait curves. Rounded counts protect the heights of
the steps, not where they are. Every protected curve is now drawn on a grid (a week of days in the
programme, a week of waits in weeks, an average month of follow-up after leaving): these tests check that
every vertex of the protected curves and of the drawn SVG paths is a grid point, on generated data of 5 to
2,000 people and thresholds 5 to 20, and that at the grid points the curves equal the unprotected estimators
where the rounding changes nothing (closed forms).
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.disclosure.control import DisclosureControl
from dapp_eval.disclosure.curves import (
    GRAIN_FOLLOWUP_DAYS,
    GRAIN_PROGRAMME_DAYS,
    GRAIN_WAIT_WEEKS,
    grid_times,
    protect_cif_result,
    protect_cif_table,
    protect_km_result,
    protect_mcf_result,
    protect_persons_km_result,
    protected_steps,
)
from dapp_eval.estimators.survival import aalen_johansen, kaplan_meier

MONTH = 365.25 / 12


def _on_grid(values, grain: float, tol: float = 1e-9) -> bool:
    k = np.asarray(values, dtype=float) / grain
    return bool(np.all(np.abs(k - np.round(k)) <= tol) and np.all(k >= -tol))


def _people(seed: int, n: int, horizon: int):
    """Integer days 0..horizon and a code per person: 0 censored, 1 and 2 two kinds of exit."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, horizon + 1, n).astype(float), rng.integers(0, 3, n)


def _detail(t, code, *, time_col: str, cause_col: str, names=("a", "b")) -> pd.DataFrame:
    """An Aalen-Johansen detail table of the true counts: per distinct time and cause, the events, the
    censorings and the number at risk (as the analyses give it)."""
    rows = []
    for u in np.unique(t):
        at_risk, cens = int((t >= u).sum()), int(((t == u) & (code == 0)).sum())
        for j, name in enumerate(names, start=1):
            rows.append({"group": "all", cause_col: name, time_col: float(u), "n_at_risk": at_risk,
                         "n_event": int(((t == u) & (code == j)).sum()), "n_censored": cens})
    return pd.DataFrame(rows)


def _cif_result(t, code):
    det = _detail(t, code, time_col="time_days", cause_col="outcome")
    ticks = np.arange(0, t.max() + 1e-9, 28.0)
    at = pd.DataFrame({"group": "all", "time_days": ticks, "n_at_risk": [int((t >= u).sum()) for u in ticks]})
    return types.SimpleNamespace(summary=det.iloc[:0], tables={"detail": det, "at_risk": at}, meta={}, title="cif")


def _km_result(t, code):
    km = kaplan_meier(t, code == 1)
    summ = pd.DataFrame({"group": "all", "outcome": "retained", "time_days": km["time"],
                         "n_at_risk": km["n_at_risk"], "estimate": km["estimate"], "ci_lower": km["ci_lower"],
                         "ci_upper": km["ci_upper"]})
    ticks = np.arange(0, t.max() + 1e-9, 28.0)
    at = pd.DataFrame({"group": "all", "time_days": ticks, "n_at_risk": [int((t >= u).sum()) for u in ticks]})
    return types.SimpleNamespace(summary=summ, tables={"at_risk": at}, meta={}, title="km")


def _followup_summary(t, months=(0, 3, 6, 12, 18, 24)) -> pd.DataFrame:
    return pd.DataFrame([{"group": "completed", "months": m, "days": float(round(m * MONTH)),
                          "n_at_risk": int((t >= round(m * MONTH)).sum()), "n_events": 0, "n_censored": 0,
                          "estimate": 1.0, "ci_lower": 1.0, "ci_upper": 1.0} for m in months])


def _persons_km_result(t, code):
    persons = pd.DataFrame({"group": "completed", "days": t, "event": code == 1})
    return types.SimpleNamespace(summary=_followup_summary(t), tables={"persons": persons, "curves": persons.iloc[:0]},
                                 meta={"alpha": 0.05}, title="tti")


def _mcf_result(t, code, seed):
    """Follow-up ends at ``t``; people with code 1 or 2 have that many contacts on random days before it."""
    rng = np.random.default_rng(seed + 1)
    persons = pd.DataFrame({"group": "completed", "days": t})
    stops = [rng.integers(0, int(d) + 1) for d, k in zip(t, code) for _ in range(int(k))]
    rows = pd.DataFrame({"group": "completed", "stop": np.asarray(stops, dtype=float), "event": 1})
    return types.SimpleNamespace(summary=_followup_summary(t), tables={"persons": persons, "rows": rows,
                                                                       "curves": persons.iloc[:0]},
                                 meta={"alpha": 0.05}, title="mcf")


def _svg(ax) -> str:
    from dapp_eval.report.context import svg_bytes

    svg = svg_bytes(ax.figure).decode()
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
    return svg


def _drawn_x(ax, unit_grain: float) -> None:
    """Every vertex of every step curve of the chart's SVG, read back as an attacker reads it, is a grid point."""
    from dapp_eval.disclosure.audit_charts import step_vertex_times

    curves = step_vertex_times(_svg(ax))
    for _label, xs, tol in curves:
        assert _on_grid(xs, unit_grain, tol=tol / unit_grain + 1e-6), (xs, unit_grain)


def _protect(kind: str, t, code, seed, dc):
    """(the protected curve's times, its grain in those units, the chart drawn from it)."""
    from dapp_eval.analyses import plotting

    if kind == "cif":
        safe = protect_cif_result(_cif_result(t, code), dc, name="cif")
        draw = lambda: plotting.plot_cumulative_incidence(safe, show_p=False, outcomes=["a", "b"])  # noqa: E731
        return safe.summary["time_days"], GRAIN_PROGRAMME_DAYS, draw, safe.tables["at_risk"]["time_days"]
    if kind == "km":
        safe = protect_km_result(_km_result(t, code), dc, name="km")
        return (safe.summary["time_days"], GRAIN_PROGRAMME_DAYS, lambda: plotting.plot_km(safe, show_p=False),
                safe.tables["at_risk"]["time_days"])
    if kind == "wait":
        weeks = t / 7.0
        cif = protect_cif_table(_detail(weeks, code, time_col="time", cause_col="cause"), dc, name="wait")
        res = types.SimpleNamespace(tables={"cif": cif}, meta={"causes": ["a", "b"], "time_unit": "weeks"}, title="w")
        return cif["time"], GRAIN_WAIT_WEEKS, lambda: plotting.plot_waiting_times(res), []
    if kind == "incident":
        safe = protect_persons_km_result(_persons_km_result(t, code), dc, name="tti")
        return (safe.tables["curves"]["days"], GRAIN_FOLLOWUP_DAYS, lambda: plotting.plot_time_to_incident(safe),
                [])
    safe = protect_mcf_result(_mcf_result(t, code, seed), dc, name="mcf")
    return (safe.tables["curves"]["days"], GRAIN_FOLLOWUP_DAYS, lambda: plotting.plot_recurrent_contacts(safe),
            [])


#: the drawn axis's unit per grain: days of programme (a week is 7 of them), weeks, months since leaving
_AXIS_GRAIN = {"cif": 7.0, "km": 7.0, "wait": 1.0, "incident": 1.0, "mcf": 1.0}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 2000), threshold=st.integers(5, 20),
       kind=st.sampled_from(["cif", "km", "wait", "incident", "mcf"]), horizon=st.integers(20, 900),
       draw=st.booleans())
def test_every_vertex_of_a_protected_curve_is_a_grid_point(seed, n, threshold, kind, horizon, draw):
    """Every time of every protected curve (and, for half the cases, every vertex of its drawn SVG path) is a
    multiple of its grain, starting at 0; no person's day is a vertex."""
    t, code = _people(seed, n, horizon)
    dc = DisclosureControl(threshold=threshold)
    times, grain, chart, ticks = _protect(kind, t, code, seed, dc)
    assert _on_grid(times, grain), (kind, sorted(set(times))[:10])
    assert _on_grid(ticks, grain)  # the at-risk numbers are read at grid points too
    if draw and len(times):
        _drawn_x(chart(), _AXIS_GRAIN[kind])


def test_grid_times_put_each_time_at_the_end_of_its_interval():
    assert grid_times([0, 0.5, 7, 7.000001, 8, 14], 7).tolist() == [0.0, 7.0, 7.0, 14.0, 14.0, 14.0]
    assert (grid_times([1, 30, 31, 365, 366, 730], MONTH) / MONTH).tolist() == [1.0, 1.0, 2.0, 12.0, 13.0, 24.0]
    with pytest.raises(ValueError, match="positive"):
        grid_times([1.0], 0)


def test_protected_steps_keep_events_before_censorings_within_an_interval():
    """Life-table order (waits, follow-up): a censoring on day 8 and an event on day 12 both go to day 14, and
    the event counts among the 40 at risk; no step stands at day 8 or 12."""
    s = protected_steps([8, 12], {"x": [0, 5]}, [5, 0], 40, min_count=10, grain=7)
    assert s["time"].tolist() == [14.0]
    assert s[["n_event_x", "n_censored", "n_at_risk"]].iloc[0].tolist() == [5, 35, 40]


def test_time_in_programme_puts_censorings_at_the_start_of_their_week():
    """Censorings on days 8-13 (people still attending) and completions on day 14 (the last weekly session):
    with ``censor_start`` the censorings go to day 7 and the completions stay at day 14, so the true order is
    kept (the censored are not counted at risk for the completions) and no step stands at a person's day."""
    s = protected_steps([8, 12, 14], {"x": [0, 0, 15]}, [3, 2, 0], 40, min_count=10, grain=7, censor_start=True)
    assert s["time"].tolist() == [7.0, 14.0]
    assert s[["n_event_x", "n_censored", "n_at_risk"]].values.tolist() == [[0, 5, 40], [15, 20, 35]]


def test_protected_km_equals_the_true_km_at_grid_points_where_rounding_changes_nothing():
    """40 people; threshold 10 (midpoint rounding keeps cumulative counts of 5, 15, 25 as they are): 5
    dropouts on days 2-6, 10 more on days 8-13, 5 censored on days 16-20, 20 still attending at day 40.
    Closed form on the week grid: S(7) = 35/40, S(14) = 35/40 * 25/35 = 25/40, S(21) = 25/40; the true
    Kaplan-Meier has the same values at days 7, 14 and 21."""
    t = np.r_[[2, 3, 3, 5, 6], [8, 8, 9, 10, 10, 11, 12, 12, 13, 13], [16, 17, 18, 19, 20], [40] * 20].astype(float)
    ev = np.r_[[1] * 15, [0] * 25].astype(bool)
    true = kaplan_meier(t, ev)
    res = types.SimpleNamespace(summary=pd.DataFrame({"group": "all", "outcome": "retained",
                                                      "time_days": true["time"], "n_at_risk": true["n_at_risk"],
                                                      "estimate": true["estimate"]}), tables={}, meta={})
    safe = protect_km_result(res, DisclosureControl(threshold=10), name="km").summary
    assert safe["time_days"].tolist() == [7.0, 14.0, 35.0]  # dropouts' weeks; censorings at their week's start
    for day, want in ((7, 35 / 40), (14, 25 / 40), (21, 25 / 40)):
        got = float(safe.loc[safe["time_days"] <= day, "estimate"].iloc[-1])
        assert got == pytest.approx(want, abs=1e-12)
        # closed form: ratios of small integers, so only float rounding (~1e-16) separates them
        assert float(true.loc[true["time"] <= day, "estimate"].iloc[-1]) == pytest.approx(want, abs=1e-12)


def test_protected_cif_and_completion_rate_equal_the_true_aalen_johansen_at_grid_points():
    """60 people, threshold 10: 5 complete on days 64-70, 10 more on days 71-77 (cumulative 5, 15), 5 leave
    another way on days 50-55, the other 40 are censored on day 120. At the horizon of 11 weeks (77 days) the
    cumulative incidence of completion is 15/60 on the week grid and for the true Aalen-Johansen; the
    completion rate read off the protected curve (CurveAt) is the same."""
    from dapp_eval.disclosure.roles import curve_value_at

    comp = [64, 65, 66, 68, 70, 71, 72, 72, 73, 74, 75, 75, 76, 77, 77]
    t = np.r_[comp, [50, 51, 52, 54, 55], [120] * 40].astype(float)
    code = np.r_[[1] * 15, [2] * 5, [0] * 40]
    true = aalen_johansen(t, code, censored=0, causes=[1, 2])
    want = float(true.loc[(true["cause"] == 1) & (true["time"] <= 77), "estimate"].iloc[-1])
    # closed form: ratios of small integers, so only float rounding (~1e-16) separates them
    assert want == pytest.approx(15 / 60, abs=1e-12)
    counts = pd.DataFrame({"time": np.unique(t)})
    for j, name in ((1, "completed"), (2, "other"), (0, "censored")):
        counts[name] = [int(((t == u) & (code == j)).sum()) for u in counts["time"]]
    dc = DisclosureControl(threshold=10)
    est, _, _ = curve_value_at(counts, cause="completed", at=77, n_total=60, dc=dc)
    # closed form: ratios of small integers, so only float rounding (~1e-16) separates them
    assert est == pytest.approx(15 / 60, abs=1e-12)
    det = _detail(t, code, time_col="time_days", cause_col="outcome", names=("completed", "other"))
    res = types.SimpleNamespace(summary=det.iloc[:0], tables={"detail": det}, meta={})
    safe = protect_cif_result(res, dc, name="cif").summary
    done = safe[safe["outcome"] == "completed"]
    assert set(done["time_days"]) <= {56.0, 70.0, 77.0, 119.0}  # exits at their week's end, censorings at its start
    for day, want_day in ((63, 0.0), (70, 5 / 60), (77, 15 / 60)):
        assert float(done.loc[done["time_days"] <= day, "estimate"].iloc[-1]) == pytest.approx(want_day, abs=1e-12)
        # closed form: ratios of small integers, so only float rounding (~1e-16) separates them
        assert float(true.loc[(true["cause"] == 1) & (true["time"] <= day), "estimate"].iloc[-1]) == \
            pytest.approx(want_day, abs=1e-12)


def test_protected_mcf_equals_the_true_mean_cumulative_function_at_whole_months():
    """20 people followed from leaving, threshold 10: 5 contacts on days 3-25 (month 1), 10 more on days
    33-38 (month 2, before anyone's follow-up ends), 5 people's follow-up ends on days 40-55 and 15 on day
    400. True mean cumulative function: 5/20 by month 1 and 15/20 by month 2 (everyone still followed);
    the protected curve has its steps at exactly 1 and 2 months with these heights."""
    ends = np.r_[[40, 45, 50, 52, 55], [400] * 15].astype(float)
    stops = np.r_[[3, 8, 12, 20, 25], [33, 33, 34, 35, 35, 36, 36, 37, 38, 38]].astype(float)
    persons = pd.DataFrame({"group": "completed", "days": ends})
    rows = pd.DataFrame({"group": "completed", "stop": stops, "event": 1})
    res = types.SimpleNamespace(summary=_followup_summary(ends, months=(0, 1, 2, 12)),
                                tables={"persons": persons, "rows": rows, "curves": persons.iloc[:0]}, meta={})
    safe = protect_mcf_result(res, DisclosureControl(threshold=10), name="mcf")
    c = safe.tables["curves"]
    assert (c["days"] / MONTH).tolist()[:3] == [0.0, 1.0, 2.0]
    # closed form: ratios of small integers, so only float rounding (~1e-16) separates them
    assert c["estimate"].tolist()[:3] == pytest.approx([0.0, 5 / 20, 15 / 20], abs=1e-12)
    by_month = safe.summary.set_index("months")["estimate"]
    assert by_month[1] == pytest.approx(5 / 20) and by_month[2] == pytest.approx(15 / 20)

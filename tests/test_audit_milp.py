"""Issue 26: the audit's integer program over all relations, and its reading of charts from their SVG.

* A release of three sites over three disjoint periods and their union (each count rounded to 5, small ones
  hidden) where interval propagation pins nothing but one integer program over the site sums and the period
  sums pins 8 counts, each to its true value.
* A bar chart drawn from true counts beside a rounded table is reported (each bar's true count); the same
  chart drawn from the published counts passes.
* A Kaplan-Meier curve drawn from the data, one person a step, is reported; drawn in steps of 5 people (the
  smallest step of the release's protected curves at threshold 10) it passes.
* The shipped release and newly generated ones (new seeds, 1-8 sites) have no leak, and their charts are read.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dapp_eval.disclosure.audit import (
    CHARTS,
    INTEGER_PROGRAM,
    ReadTable,
    _Report,
    audit_release,
    audit_reports,
)
from dapp_eval.disclosure.audit_charts import read_charts
from dapp_eval.disclosure.audit_milp import pinned_by_milp
from dapp_eval.disclosure.control import DisclosureControl

ROOT = Path(__file__).resolve().parents[1]


def _shown(n: int, threshold: int = 10) -> str:
    """A count as the release publishes it: '<T' if small, else rounded (never below T)."""
    v = DisclosureControl(threshold=threshold).rounded(n)
    return "0" if n == 0 else f"<{threshold}" if v is None else str(v)


# -- one integer program -------------------------------------------------------------------------------

#: true referrals of 3 sites in 3 disjoint periods (found by searching random grids for one where the
#: integer program pins counts that interval propagation does not)
GRID = [[9, 2, 9], [19, 18, 10], [15, 18, 24]]
PERIODS = ["2024-01-01 to 2024-04-30", "2024-05-01 to 2024-08-31", "2024-09-01 to 2024-12-31"]
YEAR = "2024-01-01 to 2024-12-31"


def _grid_reports(grid):
    """Reports of each site and of all sites, for each period and the year: one count (referred) each."""
    truth, reports = {}, []
    sites = [f"S0{k + 1}" for k in range(len(grid))]
    for scope, row in [("all", [sum(c) for c in zip(*grid)])] + list(zip(sites, grid)):
        for period, n in list(zip(PERIODS, row)) + [(YEAR, sum(row))]:
            file = f"report_{scope}_{period[:10]}_{period[-10:]}.html"
            tables = {"referrals": ReadTable(file, "referrals", ["stage", "n"], [["referred", _shown(n)]])}
            if scope == "all":  # the overall report lists its sites: the site reports add up to it
                tables["site_funnel"] = ReadTable(file, "site_funnel", ["site_id"], [[s] for s in sites])
            reports.append(_Report(file, scope, 10, period, tables=tables, base=5))
            truth[file] = n
    return reports, truth


def test_integer_program_pins_what_propagation_does_not():
    reports, truth = _grid_reports(GRID)
    res = audit_reports(reports, path="three periods")
    assert not res.ok
    # interval propagation alone pinned nothing: every leak is the integer program's ...
    assert {x.attack for x in res.leaks} == {INTEGER_PROGRAM}
    # ... and each is the true count (8 of the 16 counts, hidden '<10' and rounded ones alike)
    assert sorted((x.report, x.value) for x in res.leaks) == sorted((x.report, truth[x.report]) for x in res.leaks)
    assert len(res.leaks) == 8
    assert {x.published for x in res.leaks} == {"<10", "20", "45", "55"}


def test_integer_program_leaves_a_release_without_joint_pins_alone():
    # the same structure with other counts: nothing is pinned, so nothing is reported
    reports, _ = _grid_reports([[30, 41, 52], [63, 25, 37], [48, 59, 26]])
    assert audit_reports(reports, path="three periods").ok


def test_milp_parity_beyond_intervals():
    # x + y = 3, y + z = 3, x + z = 4 (whole numbers, each 0..9): every interval alone is 0..3, the three
    # relations together give x = 2, y = 1, z = 2
    eqs = [("t", "eq", {0: 1.0, 1: 1.0, 3: -1.0}, "x + y = a"), ("t", "eq", {1: 1.0, 2: 1.0, 4: -1.0}, "y + z = b"),
           ("t", "eq", {0: 1.0, 2: 1.0, 5: -1.0}, "x + z = c")]
    lo, hi = [0, 0, 0, 3, 3, 4], [9, 9, 9, 3, 3, 4]
    pins, notes = pinned_by_milp(6, lo, hi, [False, False, False, True, True, True], eqs)
    assert {c: v for c, (v, _) in pins.items()} == {0: 2, 1: 1, 2: 2}
    assert not notes


def test_milp_contradiction_is_left_to_propagation():
    eqs = [("t", "eq", {0: 1.0, 1: -1.0}, "x = y"), ("t", "eq", {0: 1.0, 1: 1.0, 2: -1.0}, "x + y = 3")]
    pins, notes = pinned_by_milp(3, [0, 0, 3], [5, 5, 3], [False, False, True], eqs)
    assert pins == {} and len(notes) == 1


def test_random_grids_pins_are_true_values():
    """Over random site-by-period grids, whatever the integer program pins is the true count."""
    n_pinned = 0
    for seed in range(150):
        rng = random.Random(seed)
        grid = [[rng.randint(0, 14) for _ in PERIODS] for _ in range(rng.choice([2, 3]))]
        reports, truth = _grid_reports(grid)
        res = audit_reports(reports, path="grid")
        for x in res.leaks:
            assert x.value == truth[x.report]
        n_pinned += len(res.leaks)
    assert n_pinned > 0


# -- charts --------------------------------------------------------------------------------------------


def _svg_img(fig, alt: str) -> str:
    from dapp_eval.report.context import svg_bytes

    data = base64.b64encode(svg_bytes(fig)).decode()
    return f'<figure><img alt="{alt}" src="data:image/svg+xml;base64,{data}"></figure>'


def _page(tables: dict[str, pd.DataFrame], extra: str, threshold: int = 10) -> str:
    about = ('<table class="dt"><caption>About this report</caption><tbody><tr><th>Programme</th><td>all sites</td>'
             '</tr><tr><th>Referrals in scope</th><td>all referrals in the data</td></tr><tr><th>Small-number '
             f'threshold</th><td>counts below {threshold} are hidden</td></tr></tbody></table>')
    body = [about, "<p>Every other count is rounded to the nearest 5.</p>"]
    for name, df in tables.items():
        data = base64.b64encode(df.to_csv(index=False).encode()).decode()
        body.append(f'<table class="dt"><caption>{name}</caption></table><div class="dl"><a download="all_{name}.csv" '
                    f'href="data:text/csv;base64,{data}">csv</a></div>')
    return "<html><body>" + "".join(body) + extra + "</body></html>"


def _release(tmp_path: Path, html: str) -> Path:
    out = tmp_path / "release"
    out.mkdir()
    (out / "report_all_sites.html").write_text(html, encoding="utf-8")
    return out


QUARTERS = ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4"]
TRUE = [88, 43, 27, 61]


def _bar_chart(heights):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(range(4), heights)
    ax.set_xticks(range(4), QUARTERS)
    ax.set_ylabel("People referred")
    return fig


@pytest.mark.parametrize("drawn", ["true", "published"])
def test_bar_chart_drawn_from_true_counts_is_reported(tmp_path, drawn):
    import matplotlib.pyplot as plt

    published = [int(_shown(n)) for n in TRUE]
    table = pd.DataFrame({"quarter": QUARTERS, "n_referrals": published})
    fig = _bar_chart(TRUE if drawn == "true" else published)
    html = _page({"throughput": table}, _svg_img(fig, "Bar chart of referrals per quarter"))
    plt.close(fig)
    res = audit_release(_release(tmp_path, html))
    charts = [x for x in res.leaks if x.attack == CHARTS]
    if drawn == "true":
        assert sorted(x.value for x in charts) == sorted(TRUE)
        assert {x.row for x in charts} == set(QUARTERS)
        assert all(x.column == "bar height" for x in charts)
    else:
        assert res.ok, res.text()


def test_bar_heights_read_to_the_unit():
    import matplotlib.pyplot as plt

    fig = _bar_chart(TRUE)
    charts = read_charts(_svg_img(fig, "bars"))
    plt.close(fig)
    heights = [(lab, v) for what, lab, v, tol in charts[0].values if what == "bar height"]
    assert [lab for lab, _ in heights] == QUARTERS
    # coordinates are written to 1/100 pt; on this 0-90 axis of about 170 pt that is 0.005 a unit per end
    assert np.allclose([v for _, v in heights], TRUE, atol=0.05)


def _km_chart(at_risk_drops: list[tuple[float, int]], n: int):
    """A Kaplan-Meier curve falling by d of those at risk at each time (nobody censored)."""
    import matplotlib.pyplot as plt

    t, s, left, surv = [0.0], [1.0], n, 1.0
    for time, d in at_risk_drops:
        surv *= 1 - d / left
        left -= d
        t.append(time)
        s.append(surv)
    t.append(200.0)
    s.append(surv)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.step(t, s, where="post")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Days since start")
    ax.set_ylabel("Still attending")
    return fig


@pytest.mark.parametrize("step", [1, 5])
def test_kaplan_meier_step_of_one_person_is_reported(tmp_path, step):
    import matplotlib.pyplot as plt

    n = 30
    drops = [(7.0 * (k + 1), step) for k in range(15 // step)]
    fig = _km_chart(drops, n)
    table = pd.DataFrame({"group": ["started"], "n": [_shown(n)]})
    html = _page({"retention": table}, _svg_img(fig, "Kaplan-Meier curve of staying in the programme"))
    plt.close(fig)
    res = audit_release(_release(tmp_path, html))
    steps = [x for x in res.leaks if x.column == "curve step"]
    if step == 1:
        assert len(steps) == 15, res.text()
        assert all(x.value < 5 for x in steps)
    else:
        assert res.ok, res.text()


def test_a_chart_without_numeric_ticks_is_noted_not_judged(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar([0, 1], [7, 3])
    ax.set_xticks([])
    ax.set_yticks([])
    html = _page({"t": pd.DataFrame({"group": ["a"], "n": ["10"]})}, _svg_img(fig, "no ticks"))
    plt.close(fig)
    res = audit_release(_release(tmp_path, html))
    assert res.ok
    assert any("charts partly not read" in n for n in res.notes)


# -- shipped and generated releases -----------------------------------------------------------------------


def test_shipped_release_has_no_leak_and_its_charts_are_read():
    res = audit_release(ROOT / "reports")
    assert res.ok, res.text()
    html = (ROOT / "reports" / "report_all_sites.html").read_text(encoding="utf-8")
    charts = read_charts(html)
    bars = [v for c in charts for what, _, v, _ in c.values if what == "bar height"]
    assert len(bars) >= 20  # the quarterly throughput chart is read bar by bar ...
    annex = read_charts((ROOT / "reports" / "report_all_sites_annex.html").read_text(encoding="utf-8"))
    assert sum(len(c.steps) for c in annex) >= 10  # ... and the Kaplan-Meier curves step by step


def _generated(tmp_path, referrals, sites, seed, threshold=None):
    from dapp_eval.report import render_release
    from dapp_eval.synthetic import generate

    data, out = tmp_path / "data", tmp_path / "out"
    generate(data, referrals=referrals, sites=sites, seed=seed)
    render_release(data, out, threshold=threshold, progress=False)  # refuses (raises) if its audit finds a leak
    return out


@pytest.mark.parametrize("referrals, sites, seed", [(120, 1, 9101), (900, 3, 9102)])
def test_generated_releases_render_and_pass(tmp_path, referrals, sites, seed):
    out = _generated(tmp_path, referrals, sites, seed)
    res = audit_release(out)
    assert res.ok, res.text()


@pytest.mark.slow
@pytest.mark.parametrize("referrals, sites, seed, threshold", [
    (60, 1, 9201, 5), (400, 2, 9202, 10), (1500, 4, 9203, 12), (2500, 6, 9204, 20), (3000, 8, 9205, 7)])
def test_more_generated_releases_render_and_pass(tmp_path, referrals, sites, seed, threshold):
    out = _generated(tmp_path, referrals, sites, seed, threshold)
    res = audit_release(out)
    assert res.ok, res.text()


def test_every_published_count_lies_in_the_interval_the_audit_reads():
    """The bounds the integer program starts from hold the truth: for every count and threshold 5-20, the
    interval the audit reads from the published text contains the count (at threshold 7 a 7 is shown as
    10, so '10' stands for 7 to 12, not 8 to 12)."""
    from dapp_eval.disclosure.audit import _Cells

    cells = _Cells(rounded=True, base=5)
    for t in range(5, 21):
        for n in range(0, 60):
            lo, hi, *_ = cells.interval(_shown(n, t), t)
            assert lo <= n <= hi, (t, n, _shown(n, t), lo, hi)
    assert cells.interval("10", 7)[:2] == (7.0, 12.0)
    assert cells.interval("15", 12)[:2] == (12.0, 17.0)
    assert cells.interval("10", 10)[:2] == (10.0, 12.0)


# -- relations an attacker would not write (each pinned a number no one has, found by the wide sweep) ----


def _one_report(tables: dict, threshold: int, scope: str = "all", file: str = "report_all_sites.html"):
    return _Report(file, scope, threshold, "all", base=5,
                   tables={k: ReadTable(file, k, cols, rows) for k, (cols, rows) in tables.items()})


def test_a_ratio_pairs_with_the_count_its_header_names():
    # prop_completed is n_completed / n_left (20 / 30); read as n_left / n_started it fits 28 / 42 and
    # pinned n_left to 28 (false); read as its header says, it pins the true 20 and 30
    cols = ["variable", "group", "n_started", "n_left", "n_completed", "prop_completed"]
    rep = _one_report({"strands": (cols, [["Programme strand", "Steps", "40", "30", "20", "0.667"]])}, 6)
    res = audit_reports([rep])
    assert {(x.column, x.value) for x in res.leaks} <= {("n_left", 30), ("n_completed", 20)}
    assert all("n_started" not in x.how for x in res.leaks)


def test_rebuilt_curve_counts_are_not_summed_across_sites():
    # numbers followed at 6 months, rebuilt from each report's own rounded counts: 105 for all sites and
    # 20 + 20 + 50 + 25 for the sites do not add up, and summing them pinned 107, 18, 18, 48 and 23
    cols = ["group", "months", "n_followed", "n_events"]
    sites = ["S01", "S02", "S03", "S04"]
    reps = [_one_report({"recurrent_contacts": (cols, [["completed", "6", "105", "20"]]),
                         "site_funnel": (["site_id"], [[s] for s in sites])}, 6)]
    for s, n in zip(sites, ["20", "20", "50", "25"]):
        reps.append(_one_report({"recurrent_contacts": (cols, [["completed", "6", n, "<6"]])}, 6,
                                scope=s, file=f"report_{s.lower()}.html"))
    assert audit_reports(reps).ok


#: Table 1 of a release at threshold 9 (240 referrals, 3 sites, seed 3105): two variables of the completers
TABLE1 = {
    "all": [
        ["prior_da_police_contact", "yes", "completed", "45", "75"],
        ["prior_da_police_contact", "yes", "not_completed", "10", "20"],
        ["prior_da_police_contact", "no", "completed", "30", "75"],
        ["prior_da_police_contact", "no", "not_completed", "<9", "20"],
        ["prior_da_police_contact", "missing", "completed", "<9", "75"],
        ["prior_da_police_contact", "missing", "not_completed", "<9", "20"],
        ["substance_misuse", "yes", "completed", "15", "75"],
        ["substance_misuse", "yes", "not_completed", "10", "20"],
        ["substance_misuse", "no", "completed", "55", "75"],
        ["substance_misuse", "no", "not_completed", "10", "20"],
        ["substance_misuse", "missing", "completed", "<9", "75"],
        ["substance_misuse", "missing", "not_completed", "<9", "20"],
    ],
    "S01": [
        ["prior_da_police_contact", "yes", "completed", "15", "25"],
        ["prior_da_police_contact", "yes", "not_completed", "<9", "10"],
        ["prior_da_police_contact", "no", "completed", "10", "25"],
        ["prior_da_police_contact", "no", "not_completed", "<9", "10"],
        ["prior_da_police_contact", "missing", "completed", "0", "25"],
        ["prior_da_police_contact", "missing", "not_completed", "<9", "10"],
        ["substance_misuse", "yes", "completed", "<9", "25"],
        ["substance_misuse", "yes", "not_completed", "<9", "10"],
        ["substance_misuse", "no", "completed", "20", "25"],
        ["substance_misuse", "no", "not_completed", "<9", "10"],
        ["substance_misuse", "missing", "completed", "<9", "25"],
        ["substance_misuse", "missing", "not_completed", "<9", "10"],
    ],
    "S02": [
        ["prior_da_police_contact", "yes", "completed", "20", "30"],
        ["prior_da_police_contact", "yes", "not_completed", "<9", "<9"],
        ["prior_da_police_contact", "no", "completed", "10", "30"],
        ["prior_da_police_contact", "no", "not_completed", "<9", "<9"],
        ["prior_da_police_contact", "missing", "completed", "<9", "30"],
        ["prior_da_police_contact", "missing", "not_completed", "[c]", "<9"],
        ["substance_misuse", "yes", "completed", "<9", "30"],
        ["substance_misuse", "yes", "not_completed", "<9", "<9"],
        ["substance_misuse", "no", "completed", "20", "30"],
        ["substance_misuse", "no", "not_completed", "<9", "<9"],
        ["substance_misuse", "missing", "completed", "<9", "30"],
        ["substance_misuse", "missing", "not_completed", "[c]", "<9"],
    ],
    "S03": [
        ["prior_da_police_contact", "yes", "completed", "10", "15"],
        ["prior_da_police_contact", "yes", "not_completed", "<9", "<9"],
        ["prior_da_police_contact", "no", "completed", "<9", "15"],
        ["prior_da_police_contact", "no", "not_completed", "[c]", "<9"],
        ["substance_misuse", "yes", "completed", "<9", "15"],
        ["substance_misuse", "yes", "not_completed", "<9", "<9"],
        ["substance_misuse", "no", "completed", "15", "15"],
        ["substance_misuse", "no", "not_completed", "<9", "<9"],
    ],
}


def test_n_group_sums_over_the_levels_of_a_variable_not_over_variables():
    # n_group (15 at S03) is constant over the rows of one level of two variables too; summing n over those
    # ('n_group of each block of level, group') pinned S03's hidden 'no / completed' police count to 4 and 6
    # more counts with it (false); n_group is the sum over the levels of one variable
    cols = ["variable", "level", "group", "n", "n_group"]
    reps = []
    for scope, rows in TABLE1.items():
        file = "report_all_sites.html" if scope == "all" else f"report_{scope.lower()}.html"
        tables = {"table1": (cols, rows)}
        if scope == "all":
            tables["site_funnel"] = (["site_id"], [[s] for s in TABLE1 if s != "all"])
        reps.append(_one_report(tables, 9, scope=scope, file=file))
    res = audit_reports(reps)
    assert not any("block of level, group" in x.how for x in res.leaks)
    assert res.ok, res.text()


def test_a_ratio_is_paired_only_when_one_pairing_fits():
    # threshold 12: estimate = n_converted / n_resolved (15 / 25 = 0.6), but n_open / n_converted fits too
    # (7 / 12 = 0.58); a CI bound is no ratio of counts, though ci_upper = n / n_participants fitted 0.92.
    # Chosen by the attacker, such pairings pinned 'n_open' to 7 and 'n' to 12 (false: 4 and 13 in the data)
    conv = (["conversion", "n_converted", "n_resolved", "n_open", "estimate", "ci_lower", "ci_upper"],
            [["started_of_accepted", "15", "25", "<12", "0.6", "0.407", "0.766"],
             ["started_of_referred", "15", "30", "<12", "0.5", "0.332", "0.668"]])
    att = (["measure", "estimate", "se", "ci_lower", "ci_upper", "n", "n_participants", "n_sessions_attended",
            "n_sessions_denominator"], [["attended_of_scheduled", "0.854", "0.0334", "0.788", "0.92", "15", "15",
                                         "205", "240"]])
    res = audit_reports([_one_report({"funnel_conversion": conv, "attendance": att}, 12)])
    assert not any("ci_upper" in x.how or "n_open / n_converted" in x.how for x in res.leaks)
    assert res.ok, res.text()


def test_a_curve_table_rebuilt_from_rounded_counts_is_not_attacked():
    # mean contacts per person at threshold 9: the cumulative contacts are rounded to midpoints of multiples
    # of 9 (any 1-9 is 5), so 0.25 x 20 = 5 is the protected value, not a count of anyone; read as a '<9'
    # beside its ratio, it was 'worked back' to 5
    cols = ["group", "months", "n_followed", "n_events", "estimate", "ci_lower", "ci_upper", "measure"]
    mean = "contacts per person (mean)"
    rows = [["completed", "0", "25", "0", "0.0", "0.0", "0.0", mean],
            ["completed", "3", "20", "<9", "0.25", "0.104", "0.601", mean],
            ["completed", "6", "20", "<9", "0.25", "0.104", "0.601", mean],
            ["did_not_complete", "12", "10", "<9", "0.556", "0.231", "1.3", mean]]
    res = audit_reports([_one_report({"recurrent_contacts": (cols, rows)}, 9)])
    assert res.ok, res.text()


def test_a_shaded_band_across_the_axes_is_no_bar(tmp_path):
    # the throughput chart shades part quarters with axvspan: a rectangle as tall as the axis, 189 here
    # (a whole number the page does not print) was read as a bar and refused a release of 1,200 referrals
    import matplotlib.pyplot as plt

    published = [int(_shown(n)) for n in TRUE]
    fig = _bar_chart(published)
    ax = fig.axes[0]
    ax.axvspan(-0.5, 0.5, color="#DDDDDD", alpha=0.5, linewidth=0, zorder=0)
    ax.axvspan(2.5, 3.5, color="#DDDDDD", alpha=0.5, linewidth=0, zorder=0)
    ax.axhspan(40, 57, color="#EEEEEE", zorder=0)  # a target band, 17 high
    ax.set_ylim(0, 189)
    table = pd.DataFrame({"quarter": QUARTERS, "n_referrals": published})
    html = _page({"throughput": table}, _svg_img(fig, "Bar chart of referrals per quarter"))
    plt.close(fig)
    charts = read_charts(html)
    assert sorted(round(v) for w, _, v, _ in charts[0].values if w == "bar height") == sorted(published)
    assert audit_release(_release(tmp_path, html)).ok


def test_a_control_charts_centre_line_is_not_read_as_each_periods_ratio():
    # the centre line (67% = 50 / 75 over the periods) fits one period's own counts only by chance: 24 / 36
    # inside a published 25 / 35 pinned 24 (a four-year release of 300 referrals, 3 sites, withheld for it)
    cols = ["Financial year", "Part financial year", "n_numerator", "n_denominator", "Value", "Average",
            "Lower process limit", "Upper process limit"]
    rows = [["2023/24", "no", "25", "40", "0.625", "0.6667", "0.4431", "0.8902"],
            ["2024/25", "no", "25", "35", "0.7143", "0.6667", "0.4276", "0.9057"]]
    res = audit_reports([_one_report({"trend_completion": (cols, rows)}, 10)])
    assert res.ok, res.text()
    # the same numbers as the period's own ratio do pin it (the control)
    rows[1][4] = "0.6667"
    assert not audit_reports([_one_report({"trend_completion": (cols, rows)}, 10)]).ok

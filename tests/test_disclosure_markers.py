"""Issue 26, seventh round: a withheld count's marker and its logged reason never tell "none" from "a few".

Attack a8 read "none or all of a small group" at a 5-referral site from the marker (`[c]` for a 0 of the zero
rule, `<T` for a count of a few) and from the disclosure log's per-table reasons. Attack a10 read every site's
"nobody awaiting start" from the all-sites flow's 0 in a large group, and "nobody started" from a site flow's
"Started 0" under a small "Accepted". These tests generate tables and flows of every size around the
thresholds and check the published markers against the true values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.columns import Count, Label, Proportion
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.control import WITH_SMALL, ZERO_OR_FEW
from dapp_eval.disclosure.roles import publish, published_numbers

#: every reason a count or value may be logged with: none of them names "none" or "all"
_REASONS = {ZERO_OR_FEW, WITH_SMALL}


def _reasons_ok(dc: DisclosureControl) -> bool:
    return all(r in _REASONS or r.startswith(("count below", "levels merged", "computed from a count not"))
               for r in dc.log["reason"])


def _check_markers(true: np.ndarray, shown: pd.Series, dc: DisclosureControl) -> None:
    """A count below the threshold is shown as a number only when it is a 0 allowed by the rule; every other
    count below the threshold shows '<T'; '[c]' only ever stands for a count of at least the threshold."""
    for v, s in zip(true, shown.astype(str)):
        if s == "[c]":
            assert v >= dc.threshold, (v, s)
        elif 0 < v < dc.threshold:
            assert s == dc.marker, (v, s)
        elif s == dc.marker:
            assert v < dc.threshold, (v, s)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(cells=st.lists(st.integers(0, 30), min_size=2, max_size=6), threshold=st.integers(5, 20),
       carries=st.booleans())
def test_a_zero_of_the_rule_looks_like_a_few(cells, threshold, carries):
    dc = DisclosureControl(threshold=threshold, carries_down=carries)
    t = pd.DataFrame({"level": [f"l{i}" for i in range(len(cells))], "n": cells, "n_total": sum(cells),
                      "estimate": np.array(cells) / max(sum(cells), 1)})
    shown = publish(t, [Label("level"), Count("n", "n_total", total="n_total"),
                        Proportion("n", "n_total", estimate="estimate")], dc, name="dist")
    _check_markers(np.array(cells), shown["n"], dc)
    total = sum(cells)
    for v, s, e in zip(cells, shown["n"].astype(str), shown["estimate"].astype(str)):
        if v == 0 and 0 < total < dc.zero_rule_minimum:
            assert s == dc.marker  # none of a small group (of any group, in the all-sites report)
        if 0 < total < dc.zero_rule_minimum and v in (0, total):
            assert e == "[c]"  # no 0% or 100% of such a group, whatever the value
        if v == 0 and total >= dc.zero_rule_minimum:
            assert s == "0"
    assert _reasons_ok(dc)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 45), k=st.integers(0, 45), extra=st.integers(0, 20), threshold=st.integers(5, 12))
def test_events_markers(n, k, extra, threshold):
    k = min(k, n)
    events = k + extra if k else 0
    from dapp_eval.analyses.followup import events_role

    t = pd.DataFrame({"label": ["police"] * 2, "period": ["after"] * 2,
                      "measure": ["any incident", "incidents per person-year"],
                      "n": [n, n], "n_with_incident": [k, np.nan], "n_events": [np.nan, events]})
    dc = DisclosureControl(threshold=threshold)
    shown = publish(t, [Label("label", "period", "measure"), Count("n", "n_with_incident"),
                        events_role(["label"])], dc, name="ba", pairs={"n_with_incident": "n"})
    _check_markers(np.array([k]), shown["n_with_incident"].iloc[:1], dc)
    if published_numbers(shown, ["n_with_incident"])["n_with_incident"].isna().iloc[0]:
        # beside a hidden number of people the incidents are '[c]' whatever their number: '<T' for a few and
        # '[c]' for more said 'at least T incidents among fewer than T people' (outside attack a25 J2)
        assert shown["n_events"].iloc[1] == "[c]"
    else:
        _check_markers(np.array([events]), shown["n_events"].iloc[1:], dc)
    assert _reasons_ok(dc)


def _flow(n: dict, threshold: int, carries: bool = False) -> pd.DataFrame:
    from dapp_eval.analyses import flow_published as fp

    rows = [{"group": "all", "stage": s, "label": fp.STAGE_LABELS[s], "parent": p,
             "level": "intermediate" if s in fp.INTERMEDIATE_STAGES else "terminal", "n": n.get(s, 0)}
            for s, p in fp.STAGE_PARENT.items()]
    t = pd.DataFrame(rows)
    for inter, kids in (("started", ("still_attending", "completed", "dropped_out", "excluded", "other_exit")),
                        ("accepted", ("declined_to_start", "awaiting_start", "exited_before_start", "started")),
                        ("assessed", ("unsuitable", "accepted")),
                        ("referred", ("declined_assessment", "awaiting_assessment", "exited_before_assessment",
                                      "assessed"))):
        t.loc[t["stage"] == inter, "n"] = int(t.loc[t["stage"].isin(kids), "n"].sum())
    dc = DisclosureControl(threshold=threshold, carries_down=carries)
    from dapp_eval.disclosure.roles import publish as pub

    return pub(fp.flow_table(t), fp.FLOW_ROLES, dc, name="flow"), t, dc


def test_a_parent_of_nobody_under_a_small_group_is_not_shown_as_0():
    """a10 A2 (H, S05, one month): 2 accepted, both declined to start: 'Started 0' and its stages' 0s said that
    nobody accepted started. The stages' group is the nearest stage above with people (Accepted)."""
    shown, _, _ = _flow({"declined_assessment": 3, "unsuitable": 2, "declined_to_start": 2}, 10)
    started = shown.loc[shown["stage"] == "started"]
    assert started["total"].astype(str).tolist() != ["0"]
    under = shown[shown["parent"] == "started"]
    assert "0" not in under["n"].astype(str).tolist()
    # the same flow with 40 accepted, 20 declining: a 0 started of 40 is published (a group of at least 20)
    shown, _, _ = _flow({"declined_assessment": 3, "unsuitable": 2, "declined_to_start": 40}, 10)
    assert shown.loc[shown["stage"] == "started", "total"].astype(str).tolist() == ["0"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(sizes=st.lists(st.integers(0, 25), min_size=12, max_size=12), threshold=st.integers(5, 15),
       carries=st.booleans())
def test_no_flow_stage_shows_0_of_a_small_group(sizes, threshold, carries):
    stages = ["declined_assessment", "awaiting_assessment", "exited_before_assessment", "unsuitable",
              "declined_to_start", "awaiting_start", "exited_before_start", "still_attending", "completed",
              "dropped_out", "excluded", "other_exit"]
    shown, true, dc = _flow(dict(zip(stages, sizes)), threshold, carries)
    people = dict(zip(true["stage"], true["n"]))
    parent = dict(zip(true["stage"], true["parent"]))
    for _, row in shown.iterrows():
        if row["level"] != "terminal" or not isinstance(row["stage"], str) or str(row["n"]) != "0":
            continue
        up = parent[row["stage"]]
        while people[up] == 0 and isinstance(parent.get(up), str):
            up = parent[up]
        assert people[up] == 0 or people[up] >= dc.zero_rule_minimum, (row["label"], people[up])
    assert _reasons_ok(dc)


@pytest.mark.parametrize("carries", [False, True])
def test_the_all_sites_report_treats_every_zero_as_none_of_a_small_group(carries):
    """a10 A2: the all-sites flow's 'Awaiting start 0' (of 1,000 accepted) said that at every one of eight sites
    no accepted person was waiting: a 0 at all sites is a 0 at each site, where the group may be small."""
    n = {"declined_assessment": 300, "unsuitable": 200, "declined_to_start": 150, "exited_before_start": 40,
         "still_attending": 100, "completed": 500, "dropped_out": 200, "excluded": 30, "other_exit": 25}
    shown, _, dc = _flow(n, 10, carries)
    zeros = shown[shown["n"].astype(str) == "0"]
    if carries:
        assert zeros.empty
        assert dc.zero_rule_minimum == float("inf")
    else:
        assert set(zeros["stage"]) == {"awaiting_assessment", "exited_before_assessment", "awaiting_start"}


def test_every_page_of_a_release_of_several_sites_carries_down(tmp_path):
    """The all-sites page's zeros hold at every site; a site page's published 0s would add up to the all-sites
    page's hidden one (the backstop worked such a '<5' back to 0 in a two-site release), so both carry down."""
    from dapp_eval.data.io import load_programme
    from dapp_eval.report.context import Page, Release
    from dapp_eval.synthetic import generate

    generate(tmp_path / "d", referrals=120, sites=2, seed=8811)
    rel = Release(load_programme(tmp_path / "d"), {"threshold": 10})
    assert Page(rel, None).dc.carries_down and Page(rel, "S01").dc.carries_down
    generate(tmp_path / "one", referrals=60, sites=1, seed=8812)
    assert not Page(Release(load_programme(tmp_path / "one"), {"threshold": 10}), None).dc.carries_down


def _fits(n: int, mean: float, sd: float, hm: float, hs: float) -> bool:
    """a11's test of one candidate n (scripts/means_n.py, table1_sd.py): whole-number values of n people with an
    integer sum S and sum of squares Q (of S's parity) shown as ``mean`` and ``sd`` at steps ``hm``, ``hs``."""
    import math

    for s_ in range(math.floor((mean - hm) * n) - 1, math.ceil((mean + hm) * n) + 2):
        if abs(round(s_ / n / hm) * hm - mean) > 1e-9:
            continue
        lo, hi = max(sd - hs / 2, 0.0), sd + hs / 2
        for q in range(math.floor(lo * lo * (n - 1) + s_ * s_ / n) - 2, math.ceil(hi * hi * (n - 1) + s_ * s_ / n) + 3):
            var = (q - s_ * s_ / n) / (n - 1)
            if (q - s_) % 2 == 0 and var >= 0 and abs(round(math.sqrt(var) / hs) * hs - sd) <= 1e-9:
                return True
    return False


@settings(max_examples=120, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 30), min_size=5, max_size=45), threshold=st.integers(5, 12))
def test_a_mean_and_sd_do_not_tell_the_rounded_n(values, threshold):
    """a11 B1/B10: the true mean (0.1) and SD (3 figures) of whole numbers beside a rounded n fitted one n of the
    band (9.4 beside 5 is 66 / 7). As published, the mean and SD fit every n of the published count's band."""
    from dapp_eval.estimators.paired import _step, protected_moments

    n = len(values)
    if n < threshold:
        return
    dc = DisclosureControl(threshold=threshold)
    n_pub = dc.published_count(n)
    x = np.array(values, dtype=float)
    m, sd = (float(v[0]) for v in protected_moments([x.mean()], [x.std(ddof=1)], [n_pub]))
    n_lo = max(n_pub - 4, 2)
    hm = _step(max(0.1, 1 / n_lo))
    hs = _step(max(hm, 1 / (max(x.std(ddof=1), 0.25) * (n_lo - 1))))
    if not np.isfinite(sd):  # an SD that would show 0 is not shown (everyone the same value)
        assert round(x.std(ddof=1) / hs) == 0
        sd, hs = 0.0, 2 * hs  # the attacker then knows only that it is under half a step
    # the release rounds to its step: within half a step of the true values
    assert abs(m - x.mean()) <= hm / 2 + 1e-9 and abs(sd - x.std(ddof=1)) <= hs / 2 + 1e-9
    band = [k for k in range(threshold, n_pub + 3) if dc.published_count(k) == n_pub]
    assert n in band
    assert all(_fits(k, m, sd, hm, hs) for k in band), (n, band, m, sd)


def test_a_group_of_nobody_is_none_of_the_tables_largest_group():
    """a12 C1: 'in the clinical range at intake 0' of 3 people assessed twice said that none of them was; a group
    total of 0 is 'none' of the table's largest group."""
    t = pd.DataFrame({"statistic": ["n_paired", "clinical"], "n": [3, 0], "n_total": [3, 0]})
    shown = publish(t, [Label("statistic"), Count("n", "n_total", total="n_total")], DisclosureControl(), name="rc")
    assert shown["n_total"].tolist() == ["<10", "<10"] and shown["n"].tolist() == ["<10", "<10"]
    big = pd.DataFrame({"statistic": ["n_paired", "clinical"], "n": [40, 0], "n_total": [40, 0]})
    shown = publish(big, [Label("statistic"), Count("n", "n_total", total="n_total")], DisclosureControl(), name="rc")
    assert shown["n_total"].tolist() == ["40", "0"]


def test_table1_never_drops_an_empty_group_alone():
    """a12 C2: with nobody left without completing, Table 1 showed only 'completed': everyone completed. A group
    under the minimum, an empty one included, means one 'started and left' column."""
    import tempfile
    from pathlib import Path

    from dapp_eval.analyses import funnel
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "d", referrals=80, sites=1, seed=8813)
        data = load_programme(Path(tmp) / "d")
    res = funnel.baseline_table(data, min_group=10_000)
    assert set(res.summary["group"]) == {"started and left"}


def test_a_one_site_release_shows_the_same_all_sites_cards_as_the_full_release(tmp_path):
    """The perf review's find: without the curves and the participant flow, a one-site release's all-sites cards
    were rounded on their own (920 starts beside the full release's 925: a second rounding of the same people)."""
    from pathlib import Path

    from dapp_eval.disclosure.audit import decode_release
    from dapp_eval.report import render_release

    root = Path(__file__).resolve().parents[1]
    render_release(root / "data_synthetic", tmp_path / "one", sites=["S02"], overall=False, progress=False)

    def cards(folder):
        return next(r for r in decode_release(folder) if r.file == "report_s02.html").tables["headline_figures"].rows

    assert cards(tmp_path / "one") == cards(root / "reports")


def test_the_audit_reads_no_ratio_in_groups_run_staff_or_money():
    """A generated release (200 referrals, 3 sites, threshold 6): a quarter's 1 group run beside 6 of 6 places
    filled was read as filled / offered, pinned both, and withheld the capacity table; an attacker reading the
    header reads a number of groups."""
    from dapp_eval.disclosure.audit import _NOT_A_RATIO

    assert all(_NOT_A_RATIO.search(c) for c in ("groups_run", "Groups run", "staff_fte", "funding_gbp"))
    assert not any(_NOT_A_RATIO.search(c) for c in ("prop_filled", "estimate", "pct", "% of referred"))


def test_a_table_published_once_per_release_keeps_the_pages_zero_rule(tmp_path):
    """a13 D1, D7: the headline cards, published once per release, were published under a control without the
    release's zero rule for several sites: 'MARAC referral a year on 0% (0 of 20)' and '100% (10 of 10)'."""
    from dapp_eval.data.io import load_programme
    from dapp_eval.report.context import Page, Release
    from dapp_eval.synthetic import generate

    generate(tmp_path / "d", referrals=120, sites=2, seed=8814)
    page = Page(Release(load_programme(tmp_path / "d"), {"threshold": 10}), "S01")
    t = pd.DataFrame({"what": ["none", "all"], "n": [0, 30], "n_total": [30, 30], "estimate": [0.0, 1.0]})
    roles = [Label("what"), Count("n", "n_total"), Proportion("n", "n_total", estimate="estimate")]
    seen = []

    def fn(dc):
        seen.append(dc.carries_down)
        return publish(t, roles, dc, name="cards")

    shown = page.publish_once("cards", fn)
    assert seen == [True]
    assert shown["n"].tolist() == ["<10", "30"] and shown["estimate"].tolist() == ["[c]", "[c]"]


def test_feedback_rows_are_the_releases_not_the_sites(tmp_path):
    """a13 D3: a feedback row left out where nobody at a site rated ('referring agency, at follow-up') said that
    none of them did. Every report gives the rows of the whole release's data, of nobody too."""
    from dapp_eval.analyses import delivery
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    generate(tmp_path / "d", referrals=300, sites=2, seed=8815)
    data = load_programme(tmp_path / "d")
    rows = delivery.feedback_rows(data)
    assert rows and len(set(rows)) == len(rows)
    site = data.subset(sites=[sorted(data.sites["site_id"])[0]])
    gone = rows[0]
    fb = site.feedback
    site.feedback = fb[~((fb["informant"] == gone[0]) & (fb["wave"] == gone[1]) & (fb["item"] == gone[2]))]
    res = delivery.feedback(site, rows=rows)
    got = res.summary.set_index(["informant", "wave", "item"])
    assert len(got) == len(rows) and got.loc[gone, "n"] == 0
    shown = publish(res.summary[["informant", "wave", "item", "n", "n_better", "estimate"]],
                    [Label("informant", "wave", "item"), Count("n", "n_better"), Proportion("n_better", "n")],
                    DisclosureControl(carries_down=True), name="feedback")
    assert shown.loc[res.summary.index[(res.summary["n"] == 0).to_numpy()][0], "n"] == "<10"


def test_an_empty_risk_band_is_none_of_the_tables_largest_group():
    """a12 C1 through the shared zero rule: 'high -> below high 0' and 'high -> high 0' beside 3 people below
    high said that none of them was high at intake; the empty band's group of 0 is read as the largest group."""
    from dapp_eval.analyses.risk import band_group

    t = pd.DataFrame({"band_from": ["below", "below", "high", "high"], "band_to": ["below", "high", "below", "high"],
                      "n": [3, 0, 0, 0]})
    shown = publish(t, [Label("band_from", "band_to"), Count("n", total=band_group)], DisclosureControl(), name="b")
    assert shown["n"].tolist() == ["<10"] * 4
    t["n"] = [40, 0, 0, 0]  # 40 below high: a 0 of 40 is published
    shown = publish(t, [Label("band_from", "band_to"), Count("n", total=band_group)], DisclosureControl(), name="b")
    assert shown["n"].tolist() == ["40", "0", "0", "0"]

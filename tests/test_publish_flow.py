"""Issue 26, programme flow: the tables of the engagement, attrition, capacity, waiting-list, equality and
data-quality sections go through the one publication step, and an attacker's arithmetic on what they publish
does not give a true count back.

The data are generated here (``dapp_eval.synthetic.generate``) with seeds and sizes nobody tuned the release
on; the plan's alpha is 0.1, so any interval left computed from true counts would show (the release used to
recompute Wilson intervals only at 0.05). Each test does what an outside reader could: proportion times
denominator, Wilson inversion, differencing a parent and its parts, summing merged levels.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.columns import Count, Label, Merge
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.control import MERGED_ALL, MERGED_OTHER
from dapp_eval.disclosure.roles import publish
from dapp_eval.estimators.proportions import wilson_ci

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["engagement", "attrition", "capacity", "waiting_list", "data_quality", "equality", "about", "_groups",
            "districts", "strands", "definitions", "_counts"]
T = 10
BASE = 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from dapp_eval.synthetic import generate

    out = tmp_path_factory.mktemp("flow") / "data"
    generate(out, referrals=640, sites=3, seed=60613)
    return out


@pytest.fixture(scope="module")
def data(folder):
    from dapp_eval.data.io import load_programme

    return load_programme(folder)


@pytest.fixture(scope="module")
def sites(data):
    return [None, *sorted(data.sites["site_id"])]


def _dc() -> DisclosureControl:
    return DisclosureControl(threshold=T, alpha=0.1)


def _num(v) -> float:
    return pd.to_numeric(str(v).replace(",", ""), errors="coerce")


def _scope(data, site):
    return data if site is None else data.subset(sites=[site])


def _true_merged(df: pd.DataFrame, roles: list, dc: DisclosureControl) -> pd.DataFrame:
    """The true table with the same levels merged as the published one (counts summed, nothing rounded)."""
    from dapp_eval.columns import Proportion, row_mask

    pairs = {r.numerator: r.denominator for r in roles if isinstance(r, Proportion) and r.rows is None}
    t = df.reset_index(drop=True)
    for r in roles:
        if isinstance(r, Merge):
            where = None if r.where is None else row_mask(r.where, t)
            t = dc.merge_small(t, by=list(r.by), level=r.level, across=tuple(r.across), add=tuple(r.add),
                               where=where, pairs=pairs, adjacent=r.adjacent, sums=tuple(r.sums),
                               group_size=None if r.group_size is None else r.group_size(t), named=r.named)
    return t


def _counts_protected(shown: pd.DataFrame, true: pd.DataFrame, cols) -> int:
    """Every count cell is '<T', '[c]' or a multiple of the base at least T (or 0 for a true 0); returns how
    many cells were checked."""
    n = 0
    for c in cols:
        for v, x in zip(shown[c], true[c]):
            if pd.isna(x):
                continue
            s = str(v).replace(",", "")
            n += 1
            if s.startswith("<") or s == "[c]":
                continue
            assert s.isdigit(), (c, v)
            k = int(s)
            assert k % BASE == 0 and (k >= T or (k == 0 and x == 0)), (c, v, x)
            assert abs(k - x) <= BASE / 2 or (x >= T and k == int(np.ceil(T / BASE)) * BASE), (c, v, x)
    return n


def _candidates(p: float, n_pub: float, decimals: int, scale: float = 1.0) -> set[tuple[int, int]]:
    """(k, n) pairs an attacker cannot rule out: n within the rounding band of the published denominator and
    k / n shown as ``p`` at the published precision."""
    half = 0.5 * 10.0 ** -decimals
    out = set()
    for n in range(max(1, int(n_pub) - 2), int(n_pub) + 3):
        for k in range(0, n + 1):
            if abs(round(scale * k / n, decimals) - p) <= half + 1e-12:
                out.add((k, n))
    return out


# -- the sections use the publication step only ------------------------------------------------------------------

_OLD_DC_CALLS = {"table", "count", "proportion", "rounded", "is_small", "_zero_small", "merge_small", "drawable",
                 "model_allowed", "withheld_reason", "curve_result", "km_persons_result"}


@pytest.mark.parametrize("module", SECTIONS)
def test_sections_have_no_old_path_calls(module):
    """No dc.table / dc.count / merge_small / page.table( / shown_table of a section's own frame and no
    published_numbers or publish_result in the programme-flow sections (AST, so comments do not count)."""
    tree = ast.parse((ROOT / "dapp_eval" / "report" / "sections" / f"{module}.py").read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            owner = f.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "dc" and f.attr in _OLD_DC_CALLS:
                bad.append(f"dc.{f.attr} (line {node.lineno})")
            if f.attr == "table" and name == "page":
                bad.append(f"page.table (line {node.lineno})")
            if f.attr == "shown_table" and module != "_counts":
                bad.append(f"shown_table (line {node.lineno})")
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name in ("published_numbers", "publish_result", "published_values"):
                    bad.append(f"import {a.name} (line {node.lineno})")
    assert not bad, f"{module}: {bad}"


# -- Table 1 -----------------------------------------------------------------------------------------------------

def test_table1_shares_and_smds_are_of_published_counts(data, sites):
    """pct x n_group gives the published count back, never the true one; no small count is shown; SMDs of the
    shares are those of the published counts."""
    from dapp_eval.analyses import funnel
    from dapp_eval.estimators.effect_sizes import smd_binary

    checked = recovered = 0
    for site in sites:
        dc = _dc()
        r = funnel.baseline_table(_scope(data, site), min_group=dc.zero_minimum, pool_below=T)
        df = r.summary[~((r.summary["kind"] == "continuous") & (r.summary["level"] == "missing"))]
        roles = r.roles["summary"]
        shown = publish(df, roles, dc, name="t1")
        true = _true_merged(df, roles, _dc())
        assert list(true["level"]) == list(shown["level"])
        checked += _counts_protected(shown, true, ["n", "n_group"])
        for i in range(len(shown)):
            pct, k_pub, n_pub = _num(shown.at[i, "pct"]), _num(shown.at[i, "n"]), _num(shown.at[i, "n_group"])
            if np.isnan(pct) or np.isnan(n_pub):
                continue
            assert pct == pytest.approx(100 * k_pub / n_pub)
            cands = _candidates(round(pct, 1), n_pub, 1, scale=100)
            truth = (int(true.at[i, "n"]), int(true.at[i, "n_group"]))
            if cands == {truth} and truth != (k_pub, n_pub):
                recovered += 1
        for (_var, lev), b in shown.groupby(["variable", "level"], sort=False):
            smd = b["smd_max_abs"].map(_num).dropna()
            if lev == "mean" or smd.empty or len(b) != 2:
                continue
            p = (b["n"].map(_num) / b["n_group"].map(_num)).to_numpy()
            # the SMD is rounded to 2 decimals in the analysis: half a unit of the last digit, and a hair
            assert float(smd.iloc[0]) == pytest.approx(abs(smd_binary(p[0], p[1])), abs=0.0051)
    assert checked > 100 and recovered == 0


def test_table1_is_not_split_where_a_group_is_small(data):
    """A group of fewer than twice the threshold: one profile of everyone who started and left, not split."""
    from dapp_eval.analyses import funnel

    for site in sorted(data.sites["site_id"]):
        d = _scope(data, site)
        split = funnel.baseline_table(d)
        sizes = split.summary.drop_duplicates("group").set_index("group")["n_group"].astype(int)
        r = funnel.baseline_table(d, min_group=2 * T)
        assert r.meta["split"] == bool((sizes >= 2 * T).all())
        if not r.meta["split"]:
            assert r.summary["group"].unique().tolist() == ["started and left"]
            assert int(r.summary["n_group"].iloc[0]) == int(sizes.sum())


def test_pooled_answers_of_a_multiple_response_variable_count_people_once(data):
    """abuse_types: rare answers are pooled as the union (people with any of them), not the sum: the pooled
    count is that of people holding any of the answers, counted from the episodes directly."""
    from dapp_eval.analyses import funnel

    pooled_seen = 0
    for site in sorted(data.sites["site_id"]):
        d = _scope(data, site)
        r = funnel.baseline_table(d, variables=["abuse_types"], pool_below=T).summary
        ep = funnel._with_stage(funnel._episodes(d), d)
        grp, _, _ = funnel._status(ep, "completion_status")
        answers = ep["abuse_types"].fillna("").astype(str).str.split(";").map(set)
        every = set().union(*answers) - {""} | ({"missing"} if (answers == {""}).any() else set())
        for lev in (x for x in r["level"].unique() if x in (funnel.POOLED_ANSWERS, funnel.ALL_ANSWERS)):
            # the pooled label names no answer (issue 26): the pooled answers are those not shown on their own
            parts = every - set(r["level"])
            has = answers.map(lambda a, parts=parts: bool(a & parts) or ("missing" in parts and a == {""}))
            for g, rows in r[r["level"] == lev].groupby("group"):
                assert int(rows["n"].iloc[0]) == int((has & (grp == g)).sum()), (site, lev, g)
            pooled_seen += 1
    assert pooled_seen


# -- equality profile ---------------------------------------------------------------------------------------------

def test_equality_profile_rates_and_merges_do_not_give_counts_back(data, sites):
    """Start and completion rates x published denominators, and merged groups, give no true count back."""
    from dapp_eval.analyses import equality

    checked = 0
    for site in sites:
        r = equality.profile(_scope(data, site))
        roles = r.roles["summary"]
        shown = publish(r.summary, roles, _dc(), name="eq")
        true = _true_merged(r.summary, roles, _dc())
        checked += _counts_protected(shown, true, list(equality.COUNT_COLUMNS))
        for est, k, n in (("prop_started", "n_started", "n_resolved"), ("prop_completed", "n_completed", "n_left")):
            for i in range(len(shown)):
                p = _num(shown.at[i, est])
                if np.isnan(p):
                    continue
                assert p == pytest.approx(_num(shown.at[i, k]) / _num(shown.at[i, n]))
                cands = _candidates(round(p, 3), _num(shown.at[i, n]), 3)
                truth = (int(true.at[i, k]), int(true.at[i, n]))
                assert not (cands == {truth} and truth != (_num(shown.at[i, k]), _num(shown.at[i, n])))
        # merged groups are the sums of their groups; a label is a group of the data shown on its own, or the
        # merged row's, which names no group (naming them said which are present)
        generic = {MERGED_OTHER, MERGED_ALL}
        for ch, g in r.summary.groupby("characteristic"):
            labels = set(shown.loc[shown["characteristic"] == ch, "group"])
            assert labels <= set(map(str, g["group"])) | generic, labels - set(map(str, g["group"]))
            assert true.loc[true["characteristic"] == ch, "n_referred"].sum() == g["n_referred"].sum()
    assert checked > 200


# -- participant flow, conversion (Wilson inversion at alpha 0.1), waits ------------------------------------------

def test_conversion_intervals_are_of_published_counts_at_the_plans_alpha(data, sites):
    """Wilson inversion at alpha 0.1: the interval matches the published pair, never a true pair alone."""
    from dapp_eval.analyses import funnel

    tried = 0
    for site in sites:
        r = funnel.cascade(_scope(data, site), alpha=0.1)
        conv = r.tables["conversion"]
        shown = publish(conv, r.roles["conversion"], _dc(), name="conv")
        for i in range(len(shown)):
            lo, hi = _num(shown.at[i, "ci_lower"]), _num(shown.at[i, "ci_upper"])
            if np.isnan(lo):
                continue
            k_pub, n_pub = _num(shown.at[i, "n_converted"]), _num(shown.at[i, "n_resolved"])
            w = wilson_ci(k_pub, n_pub, alpha=0.1)
            # the same function on the same numbers: equal up to float summation order
            assert (lo, hi) == pytest.approx((float(w[0]), float(w[1])), abs=1e-9)
            # the attacker reads the interval as the page prints it (3 decimals): half a unit of the last one
            matches = [(k, n) for n in range(int(n_pub) - 2, int(n_pub) + 3)
                       for k in range(int(k_pub) - 2, min(n, int(k_pub) + 2) + 1)
                       if np.allclose(wilson_ci(k, n, alpha=0.1), (lo, hi), atol=5e-4)]
            truth = (int(conv.at[i, "n_converted"]), int(conv.at[i, "n_resolved"]))
            assert (int(k_pub), int(n_pub)) in matches
            assert not (matches == [truth] and truth != (k_pub, n_pub))
            tried += 1
    assert tried >= 10


def test_hidden_stages_are_not_pinned_by_their_parent_and_siblings(data, sites):
    """Participant flow: a stage shown '<10' worked back as parent - siblings (each rounded count +/- 2)
    leaves more than one value."""
    from dapp_eval.analyses import funnel

    hidden = 0
    for site in sites:
        r = funnel.cascade(_scope(data, site))
        c = r.tables["counts"]
        shown = publish(c, r.roles["counts"], _dc(), name="flow")
        pub = dict(zip(shown["stage"], shown["n"]))
        for parent, kids in c.groupby("parent"):
            for s in kids["stage"]:
                if not str(pub[s]).startswith("<"):
                    continue
                hidden += 1
                others = [pub[x] for x in kids["stage"] if x != s]
                if any(str(v).startswith("<") or v == "[c]" for v in [pub[parent], *others]):
                    continue
                lo = _num(pub[parent]) - 2 - sum(_num(v) + 2 for v in others)
                hi = _num(pub[parent]) + 2 - sum(_num(v) - 2 for v in others)
                assert min(hi, T - 1) > max(lo, 1), (site, s)
    assert hidden


def test_flow_alt_text_and_figure_read_published_counts(folder, data):
    """The diagram's alt text prints the published referred / started / completed counts."""
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import engagement

    release = Release(data, load_plan(None, alpha=0.1), synthetic=True)
    site = sorted(data.sites["site_id"])[0]
    page = Page(release, site)
    res = engagement.R.funnel_cascade(page)
    blocks, shown = engagement._flow(page, res)
    fig = next(b for b in blocks if b["kind"] == "figure")
    m = re.search(r"completion: ([\d,<]+) referred, ([\d,<]+) started, ([\d,<]+) completed", fig["alt"])
    assert m
    # referred and started are the sums of the published final stages (flow_published), completed a final stage
    n = res.tables["counts"].set_index("stage")["n"]
    terminal = shown[shown["level"] == "terminal"]
    started = terminal[terminal["parent"] == "started"]
    assert m.group(1) == str(sum(int(v) for v in terminal["n"]))
    assert m.group(2) == str(sum(int(v) for v in started["n"]))
    assert m.group(3) == _dc().count(int(n["completed"]))


def test_headline_counts_are_the_flows_published_totals(data, sites):
    """The headline referrals, starts and completions of every scope (a site's page shows its own and all
    sites') are the participant flow's published totals: rounded again on their own they were a second
    rounding of the same people (a headline 55 beside the flow's 60 narrowed the people who started to 56-57)."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import _groups, _headlines

    release = Release(data, load_plan(None, alpha=0.1), synthetic=True)
    checked = 0
    for site in sites:
        page = Page(release, site)
        flow = _groups.published_flow(page)
        pub = _headlines.published(page).set_index("code")
        for code, stage in (("referrals", "referred"), ("starts", "started"), ("completions", "completed")):
            want = fp.stage_value(flow, (stage,))
            got = pub.loc[code, "value"]
            assert (np.isnan(want) and bool(pub.loc[code, "hidden"])) or got == want, (site, code, got, want)
            checked += np.isfinite(want)
    assert checked >= 3 * len(sites) - 2


# -- throughput: coarser periods, bars of published counts ------------------------------------------------------

def test_throughput_merges_small_quarters_with_a_neighbour(data, sites):
    """No quarter count of 1 to 9 is published; merged periods are runs of adjacent quarters whose counts are
    the sums, so the table still adds up to the whole."""
    from dapp_eval.analyses import funnel

    cols = ["n_referrals", "n_starts", "n_completions"]
    for site in sites:
        r = funnel.throughput(_scope(data, site), by=None, freq="fy_quarter")
        shown = publish(r.summary, r.roles["summary"], _dc(), name="tp")
        true = _true_merged(r.summary, r.roles["summary"], _dc())
        _counts_protected(shown, true, cols)
        assert not shown[cols].astype(str).apply(lambda s: s.str.startswith("<")).any().any()
        assert true[cols].sum().tolist() == r.summary[cols].sum().tolist()
        quarters = list(r.summary["quarter"])
        pos = 0
        for q in shown["quarter"]:
            first, _, last = q.partition(" to ")
            assert quarters.index(first) == pos
            pos = quarters.index(last or first) + 1
        assert pos == len(quarters)


def test_throughput_bars_are_the_published_counts(data):
    """The bar heights are the published (rounded) counts: multiples of the base."""
    import matplotlib.pyplot as plt

    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import engagement

    page = Page(Release(data, load_plan(None, alpha=0.1), synthetic=True), sorted(data.sites["site_id"])[-1])
    captured = []
    real = plt.Axes.bar

    def spy(self, x, height, *a, **k):
        captured.extend(np.asarray(height, dtype=float).tolist())
        return real(self, x, height, *a, **k)

    plt.Axes.bar = spy
    try:
        blocks = engagement._throughput(page)
    finally:
        plt.Axes.bar = real
    assert any(b["kind"] == "figure" for b in blocks)
    heights = [h for h in captured if np.isfinite(h)]
    assert heights and all(h % BASE == 0 and (h == 0 or h >= T) for h in heights)


# -- waiting list, data-quality exclusions: differencing a total and its parts ----------------------------------

def test_waiting_lists_do_not_give_a_small_part_back(data, sites):
    """'any' minus the other list, or a merged row: a hidden list is never pinned (rounding leaves >= 2 values)."""
    from dapp_eval.analyses import delivery, funnel

    for site in sites:
        d = _scope(data, site)
        wl = funnel.waiting_list(d, by=None)
        shown = publish(wl.summary, wl.roles["summary"], _dc(), name="wl")
        pub = dict(zip(shown["list"], shown["n_waiting"]))
        for part, other in (("awaiting_assessment", "awaiting_start"), ("awaiting_start", "awaiting_assessment")):
            if part in pub and str(pub[part]).startswith("<") and other in pub and "any" in pub \
                    and not str(pub[other]).startswith("<") and not str(pub["any"]).startswith("<"):
                lo, hi = _num(pub["any"]) - _num(pub[other]) - 4, _num(pub["any"]) - _num(pub[other]) + 4
                assert min(hi, T - 1) > max(lo, 1)
        band = delivery.waiting_list(d)
        bshown = publish(band.summary, band.roles["summary"], _dc(), name="bands")
        btrue = _true_merged(band.summary, band.roles["summary"], _dc())
        _counts_protected(bshown, btrue, ["n_waiting", "n_awaiting_assessment", "n_awaiting_start"])
        assert btrue["n_waiting"].sum() == band.summary["n_waiting"].sum()


def test_exclusion_reasons_merge_and_do_not_difference_out(data):
    """Rows used by each analysis: rare reasons are merged (never the 'used' row), and n_in - the rest never
    pins a hidden reason."""
    from dapp_eval.analyses import attrition, funnel
    from dapp_eval.data.quality import EXCLUSION_ROLES, exclusions

    d = _scope(data, sorted(data.sites["site_id"])[-1])
    results = [funnel.baseline_table(d), attrition.dropout_cox(d), attrition.cumulative_incidence(d),
               funnel.waiting_times(d, stage="assessment_to_start")]
    ex = exclusions(results + results[:1])  # an analysis shown twice is listed once
    assert not ex.duplicated().any()
    shown = publish(ex, EXCLUSION_ROLES, _dc(), name="ex")
    true = _true_merged(ex, EXCLUSION_ROLES, _dc())
    _counts_protected(shown, true, ["n_in", "n"])
    assert (shown.loc[shown["rows"] == "used"].index == true.loc[true["rows"] == "used"].index).all()
    for _a, b in shown.groupby("analysis"):
        hid = b[b["n"].astype(str).str.startswith("<")]
        rest = b[~b.index.isin(hid.index)]
        if len(hid) == 1 and not rest["n"].astype(str).str.startswith("<").any():
            n_in = _num(b["n_in"].iloc[0])
            lo = n_in - 2 - sum(_num(v) + 2 for v in rest["n"])
            hi = n_in + 2 - sum(_num(v) - 2 for v in rest["n"])
            assert min(hi, T - 1) > max(lo, 1)


# -- attrition: estimate x denominator --------------------------------------------------------------------------

def test_completion_rate_times_the_group_gives_no_count_back(data, sites):
    """Where nobody is left open, rate x people = completions: the rate is shown only when that count and its
    complement are each at least the threshold, and then it pins a count already at least T (never a small one)."""
    from dapp_eval.analyses import attrition

    for site in sites:
        r = attrition.completion_rate(_scope(data, site), alpha=0.1, min_group=2 * T)
        s = r.summary
        shown = publish(s, r.roles["summary"], _dc(), name="cr")
        for i in range(len(shown)):
            k, known = int(s.at[i, "n_completed_by_horizon"]), int(s.at[i, "n_followed_to_horizon"])
            if 0 < k < T or 0 < known - k < T:
                assert shown.at[i, "estimate"] == "[c]"
        split = s[s["basis"] == "split by planned length"]
        assert (split["n"] >= 2 * T).all()  # a small planned length: only the pooled rate is given


# -- sentences: counts in text are published counts ------------------------------------------------------------

def test_counts_in_text_are_published_whatever_their_name(data):
    """published_counts (and publish) protect a count declared as one even when its name is not n_*: the
    dropout model's caption once printed 'missing age: 2'."""
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections._counts import published_counts

    page = Page(Release(data, load_plan(None)), None)
    got = published_counts(page, {"missing age": 3, "dropouts": 12, "never started": 0, "n_x": 212},
                           name="caption")
    # a 0 of people is a small count in a release of several sites (a 0 for all sites is one at every site)
    zero = "<10" if page.dc.carries_down else "0"
    assert got == {"missing age": "<10", "dropouts": "10", "never started": zero, "n_x": "210"}
    shown = publish(pd.DataFrame({"reason": ["a"], "people": [7]}), [Label("reason"), Count("people")], _dc(),
                    name="t")
    assert shown["people"].tolist() == ["<10"]


def test_under_18_sentence_is_published(data):
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import equality as section

    page = Page(Release(data, load_plan(None)), None)
    text = " ".join(b.get("text", "") for b in section.build(page)["blocks"])
    m = re.search(r"aged under 18: (\S+) \(aged 16 or 17: (\S+)\), of (\S+) referrals", text)
    assert m
    for v in m.groups():
        assert v.startswith("<") or (int(v.replace(",", "")) % BASE == 0)


# -- the merge rule ----------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=7), st.integers(5, 20))
def test_merge_leaves_no_small_level_while_two_levels_remain(sizes, threshold):
    """Any sizes, any threshold: counts are kept (sums), every level is named in the result, and a small level
    remains only when it is the whole block."""
    t = pd.DataFrame({"v": "x", "level": [f"g{i}" for i in range(len(sizes))], "n": sizes})
    dc = DisclosureControl(threshold=threshold)
    m = dc.merge_small(t, by=["v"], level="level", named=True)
    assert m["n"].sum() == sum(sizes)
    names = " ".join(m["level"])
    assert all(g in names for g in t["level"])
    # unnamed (levels from the data): the same merge, labels that name no merged level
    u = DisclosureControl(threshold=threshold).merge_small(t, by=["v"], level="level")
    assert u["n"].tolist() == m["n"].tolist()
    assert set(u["level"]) <= set(t["level"]) | {MERGED_OTHER, MERGED_ALL}
    small = m[(m["n"] > 0) & (m["n"] < threshold)]
    assert small.empty or len(m) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=9), st.integers(5, 15))
def test_adjacent_merge_keeps_order_and_sums(sizes, threshold):
    t = pd.DataFrame({"q": [f"Q{i}" for i in range(len(sizes))], "n": sizes, "target": 1.0})
    m = DisclosureControl(threshold=threshold).merge_small(t, by=[], level="q", adjacent=True, sums=("target",))
    assert m["n"].sum() == sum(sizes) and m["target"].sum() == len(sizes)
    small = m[(m["n"] > 0) & (m["n"] < threshold)]
    assert small.empty or len(m) == 1
    spans = [q.split(" to ") for q in m["q"]]
    flat = list(itertools.chain.from_iterable([s[0], s[-1]] for s in spans))
    assert [int(x[1:]) for x in flat] == sorted(int(x[1:]) for x in flat)


def test_a_small_flow_says_neither_none_nor_all():
    """A month's extract of one small site: 9 referred, all assessed, accepted and started, all 9 completed.
    Exact zeros beside 'Completed 10' told a reader that every starter completed (an outside attacker); now a
    stage of nobody or everybody in a group under the zero minimum merges like a small one, and one left
    with no sibling to merge with ('Assessed as unsuitable' beside the intermediate 'Accepted') is withheld."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.disclosure.roles import publish

    n = {"referred": 9, "assessed": 9, "accepted": 9, "started": 9, "completed": 9}
    rows = [{"group": "all", "stage": s, "label": fp.STAGE_LABELS[s], "parent": p,
             "level": "intermediate" if s in fp.INTERMEDIATE_STAGES else "terminal", "n": n.get(s, 0)}
            for s, p in fp.STAGE_PARENT.items()]
    dc = DisclosureControl(threshold=7)
    pub = publish(fp.flow_table(pd.DataFrame(rows)), fp.FLOW_ROLES, dc, name="flow")
    term = pub[pub["level"] == "terminal"]
    shown = dict(zip(term["label"], term["n"].astype(str)))
    assert "Completed" not in shown  # merged with the exits and those still attending
    started = [v for k, v in shown.items() if "Completed" in k]
    assert started == ["10"]
    assert shown["Assessed as unsuitable"] == "<7"  # its 0 looks like a few
    assert all(v != "0" for v in shown.values()), shown
    # the same flow at 30 people: zeros are published (a group of at least the zero minimum)
    big = [dict(r, n=30 if r["n"] else 0) for r in rows]
    pub = publish(fp.flow_table(pd.DataFrame(big)), fp.FLOW_ROLES, dc, name="flow")
    term = pub[pub["level"] == "terminal"]
    assert dict(zip(term["label"], term["n"].astype(str)))["Completed"] == "30"

"""Issue 26 (outside attack a21): a count of the participant flow's people is published once.

The contract period's referrals, starts and completions were rounded on their own beside the flow's totals (sums
of its protected stages): 125 referrals in the flow and 120 in the contract period, of the same 122 people. They are
now the flow's published total less the rounded number of the stage's people outside the contract period.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.report.context import Page, Release
from dapp_eval.report.sections import _headlines, sites

PERIOD = ("2023-10-01", "2023-12-31")  # inside the contract period: the same people as the flow's


@lru_cache(maxsize=1)
def _release():
    data = load_programme("data_synthetic").subset(period=PERIOD)
    return Release(data, load_plan(None, period=list(PERIOD)))


@pytest.mark.parametrize("site", [None, "S01", "S02", "S03", "S04", "S05"])
def test_contract_period_counts_are_the_flow_totals(site):
    page = Page(_release(), site)
    pub = _headlines.published(page).set_index("code")
    for whole, part in (("referrals", "referrals_in_period"), ("starts", "starts_in_period"),
                        ("completions", "completions_in_period")):
        a, b = pub.loc[whole], pub.loc[part]
        assert bool(a["hidden"]) == bool(b["hidden"]), (site, part)
        if not a["hidden"]:
            assert a["value"] == b["value"], (site, part, a["value"], b["value"])
    for cost, n in (("cost_per_referral", "referrals"), ("cost_per_start", "starts")):
        if not pub.loc[cost, "hidden"] and not pub.loc[n, "hidden"]:
            assert pub.loc[cost, "n_denominator"] == pub.loc[n, "value"]


def test_costs_by_site_count_the_people_of_each_sites_flow():
    page = Page(_release(), None)
    cs = pd.DataFrame({"group": ["S01", "S02", "all"], "n_referrals": [0, 0, 0], "n_started": [0, 0, 0],
                       "n_completed": [0, 0, 0]})
    from dapp_eval.analyses import funnel

    for i, g in enumerate(["S01", "S02", None]):
        c = funnel.cascade(_release().site_data(g), by=None).tables["counts"].set_index("stage")["n"]
        cs.loc[i, ["n_referrals", "n_started", "n_completed"]] = [c["referred"], c["started"], c["completed"]]
    t, gone = sites._costs_on_flow(page, cs)
    for i, g in enumerate(["S01", "S02", None]):
        other = Page(_release(), g)
        pub = _headlines.published(other).set_index("code")
        for col, code in (("n_referrals", "referrals"), ("n_started", "starts"), ("n_completed", "completions")):
            if pub.loc[code, "hidden"]:
                assert bool(gone.loc[i, col]) or t.loc[i, col] < page.dc.threshold
            else:
                assert t.loc[i, col] == pub.loc[code, "value"], (g, col)


def test_a_part_of_a_stage_is_the_total_less_the_rounded_rest():
    from dapp_eval.analyses.flow_published import STAGES
    from dapp_eval.report.sections._on_flow import on_flow

    class _Page:
        class dc:
            base = 5

    from dapp_eval.analyses import flow_published as fp

    true = pd.DataFrame({"stage": list(STAGES), "level": "terminal", "parent": [fp._PARENT[s] for s in STAGES],
                         "n": 0.0})
    true.loc[true["stage"] == "completed", "n"] = 63.0
    pub = true.assign(n=true["n"].where(true["stage"] != "completed", 65.0))
    got = [on_flow(_Page, (true, pub), "completed", k) for k in (63, 62, 61, 60, 58, 57, 40)]
    assert got == [65.0, 65.0, 65.0, 60.0, 60.0, 60.0, 40.0]  # rest 0, 1, 2, 3, 5, 6, 23
    withheld = pub.assign(n=pub["n"].where(pub["stage"] != "completed", np.nan))
    assert np.isnan(on_flow(_Page, (true, withheld), "completed", 60))
    assert on_flow(_Page, (true, pub), "completed", 70) == 70  # not a part of the stage: rounded on its own


@pytest.mark.parametrize("site", [None, "S02", "S05"])
def test_table1_adds_up_to_the_participant_flow(site):
    flowed, checked = _table1_on_flow(_release(), site)
    assert checked >= (3 if site is None else 0)  # a small site's characteristics are one merged level each


@pytest.mark.parametrize("site", [None, "S03"])
def test_table1_group_sizes_are_the_flows_where_it_publishes_them(site):
    """On the whole shipped folder the flow publishes both groups' sizes: Table 1 shows them."""
    rel = Release(load_programme("data_synthetic"), load_plan(None))
    flowed, checked = _table1_on_flow(rel, site)
    assert flowed == 2 and checked >= 3


def _table1_on_flow(release, site) -> tuple[int, int]:
    """a23 G2: Table 1's levels and group sizes, rounded on their own, narrowed 9 group sizes to 2 values. Each
    group's size is the flow's published count, and in each characteristic the levels add up to it exactly."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.report.sections import engagement
    from dapp_eval.report.sections._groups import published_flow

    page = Page(release, site)
    engagement._table1(page)
    t = page.tables[-1].frame
    flow = published_flow(page)
    n = pd.to_numeric(t["n"].astype(str).str.replace(",", ""), errors="coerce")
    size = pd.to_numeric(t["n_group"].astype(str).str.replace(",", ""), errors="coerce")
    flowed = 0
    for g in t["group"].unique():
        want = fp.stage_value(flow, fp.TABLE1_GROUPS[g])
        if np.isfinite(want):  # NaN: the flow merges a stage of the group with one outside it (still attending)
            assert set(size[t["group"] == g]) == {want}, (site, g)
            flowed += 1
        else:
            assert size[t["group"] == g].nunique() == 1
    # the characteristics of levels that exclude each other are those with a derived level (a multi-select
    # one, such as the abuse types, adds up to more than the group)
    derived = t["level"].astype(str).str.contains(fp.DERIVED_GROUP, regex=False)
    exclusive = t["variable"].isin(set(t.loc[derived, "variable"]))
    checked = 0
    for (var, g), idx in t[exclusive].groupby(["variable", "group"]).groups.items():
        assert derived[idx].sum() == 1, (site, var, g)
        if n[idx].notna().all():
            assert n[idx].sum() == size[idx].iloc[0], (site, var, g)
            checked += 1
    return flowed, checked

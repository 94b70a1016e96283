"""Comparison, trends and headline sections publish through the one publication step (issue 26).

Each test does an attacker's arithmetic on what a section publishes (estimate x denominator, Wilson inversion
at alpha 0.1, the chart's points, the limits, a difference and one of its years) on generated data no one
tuned these tests on, and shows that it gives back the published (rounded) counts, never the true ones where
they differ. The last test reads the section modules: no call of the old heuristic path is left.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.data.plan import load_plan
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.roles import publish, published_numbers
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import wilson_ci

ALPHA = 0.1
SECTIONS = Path(__file__).resolve().parents[1] / "dapp_eval" / "report" / "sections"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from dapp_eval import load_programme
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("pubcmp") / "data"
    generate(folder, referrals=900, sites=3, seed=4127)
    return load_programme(folder)


@pytest.fixture(scope="module")
def plan():
    return load_plan({"alpha": ALPHA})


@pytest.fixture()
def page(data, plan):
    from dapp_eval.report.context import Page, Release

    return Page(Release(data=data, plan=plan, synthetic=True), None)


def _dc() -> DisclosureControl:
    return DisclosureControl(threshold=10, alpha=ALPHA)


def _wilson_candidates(lo: float, hi: float, n: int) -> set[int]:
    """Every k whose Wilson interval at alpha 0.1 with this n is the published one (the attacker's inversion)."""
    # the published interval is the float Wilson gives (same formula): 1e-9 only absorbs printing, while two
    # neighbouring k at n <= 5,000 give bounds at least 1e-5 apart
    return {k for k in range(n + 1) if np.allclose(wilson_ci(k, n, alpha=ALPHA), (lo, hi), atol=1e-9)}


def _attack_proportions(shown: pd.DataFrame, true: pd.DataFrame, k: str, n: str, est: str, ci=None) -> int:
    """Estimate x denominator and the Wilson inversion give the published count, never a different true one.

    Returns how many rows had a true count that differs from the published one (the attack's chance)."""
    pub = published_numbers(shown, [k, n])
    differ = 0
    for i in range(len(shown)):
        e = shown[est].iloc[i]
        if not isinstance(e, float) or pd.isna(e) or pd.isna(pub[n].iloc[i]):
            continue
        kp, np_ = int(pub[k].iloc[i]), int(pub[n].iloc[i])
        assert round(e * np_) == kp, (i, e, np_, kp)
        if ci is not None:
            cand = _wilson_candidates(float(shown[ci[0]].iloc[i]), float(shown[ci[1]].iloc[i]), np_)
            assert cand == {kp}, (i, cand, kp)
        kt, nt = true[k].iloc[i], true[n].iloc[i]
        if kt != kp or nt != np_:
            differ += 1
            # not the true share (equal only when the two fractions are the same number: checked exactly)
            assert e != pytest.approx(kt / nt, abs=1e-12) or kt * np_ == kp * nt
    return differ


def test_funnel_table_points_limits_and_positions_come_from_published_counts(data, page):
    from dapp_eval.analyses import compare
    from dapp_eval.report.sections.sites import _published_funnel

    fp = compare.site_funnel(data, alpha=ALPHA)
    df, roles = page.declared(fp)
    shown = publish(df, roles, _dc(), name="Completion by site")
    differ = _attack_proportions(shown, df, "n_completed", "n", "estimate", ("ci_lower", "ci_upper"))
    pub = published_numbers(shown, ["n", "n_completed"])
    true_n = df["n"].to_numpy(float)
    assert differ + int((pub["n"].to_numpy() != true_n).sum()) > 0  # the data give the attack something to find
    # the limits at each site's size are those of the published pooled rate at the published size
    p0 = pub["n_completed"].sum() / pub["n"].sum()
    z = 1.6448536269514722  # alpha 0.1
    lo, hi = compare.wilson_limits(p0, pub["n"], z)
    # the same formula on the same published numbers: equal to float rounding (1e-12)
    np.testing.assert_allclose(shown["limit_inner_lower"].astype(float), lo, atol=1e-12)
    np.testing.assert_allclose(shown["limit_inner_upper"].astype(float), hi, atol=1e-12)
    # ... and not those of the true counts where they differ
    lo_true, _ = compare.wilson_limits(df["n_completed"].sum() / df["n"].sum(), true_n, z)
    moved = pub["n"].to_numpy() != true_n
    assert not np.allclose(shown["limit_inner_lower"].astype(float)[moved], lo_true[moved]) or not moved.any()
    # the plotted points: each site at its published size and published share
    plot = _published_funnel(fp, shown, ALPHA)
    np.testing.assert_allclose(plot.summary["n"], pub["n"])
    np.testing.assert_allclose(plot.summary["estimate"], pub["n_completed"] / pub["n"])
    assert float(plot.tables["limits"]["pooled"].iloc[0]) == pytest.approx(p0)


def test_sites_side_by_side_give_back_only_published_counts(data, plan, page):
    from dapp_eval.commissioner import headlines
    from dapp_eval.report.sections._gap import published_outcome

    sc = headlines.site_comparison(data, plan=plan, alpha=ALPHA)
    differ = 0
    for code in headlines.SITE_OUTCOMES:
        true = sc.summary.loc[sc.summary["outcome"] == code, headlines.SITE_COLUMNS].reset_index(drop=True)
        shown = published_outcome(page, sc, code)
        if code == "completion_rate":  # an estimate (not k / n): withheld when its completions or others are few
            fewer = np.minimum(true["n_numerator"], true["n"] - true["n_numerator"])
            assert (shown.loc[(fewer < 10).to_numpy(), "estimate"] == "[c]").all()
            continue
        differ += _attack_proportions(shown, true, "n_numerator", "n", "estimate", ("ci_lower", "ci_upper"))
    assert differ > 0


def test_case_mix_ranges_are_published_shares(data, plan, page):
    from dapp_eval import formatting as fmt
    from dapp_eval.commissioner import headlines
    from dapp_eval.report.sections.sites import case_mix

    sc = headlines.site_comparison(data, plan=plan, alpha=ALPHA)
    t = sc.tables["mix_counts"]
    shown = publish(t, sc.roles["mix_counts"], _dc(), name="Case mix by site")
    _attack_proportions(shown, t, "n_numerator", "n", "share")
    mix = case_mix(page, sc)
    for what, code in (("police_before", "police_after"), ("not_safe_at_all", "partner_feels_safer")):
        share = pd.to_numeric(shown.loc[t["what"] == what, "share"], errors="coerce")
        if share.isna().any():
            assert "not compared by site" in mix[code]
            continue
        assert f"from {fmt.percent(share.min(), 0)} (" in mix[code] and f"to {fmt.percent(share.max(), 0)} (" in mix[code]
    # the analysis's own sentences carry no share of people: the release words them from what it publishes
    assert all("%" not in str(x) for x in sc.tables["case_mix"]["case_mix"])
    # the intake score by site: a mean of the people assessed twice, shown only when they are at least the
    # threshold (a mean of 4 people describes those 4)
    ri = sc.tables["risk_intake"]
    m = ri["mean"]
    assert f"from {m.min():.1f} (" in mix["reliable_risk_reduction"] and f"to {m.max():.1f} (" in mix["reliable_risk_reduction"]
    cut = int(ri["n"].min()) + 1
    few = publish(ri, sc.roles["risk_intake"], DisclosureControl(threshold=cut, alpha=ALPHA), name="intake")
    assert (few.loc[(ri["n"] < cut).to_numpy(), ["mean", "sd"]] == "[c]").all().all()


def test_trend_charts_draw_the_published_counts(data, plan, page):
    from dapp_eval.analyses import trends
    from dapp_eval.report.sections.trends import _published_chart

    res = trends.quarterly_spc(data, plan=plan)
    moved = 0
    for code, g in res.summary.groupby("measure", sort=False):
        g = g.reset_index(drop=True)
        drawn_periods = 0
        for period in trends.PERIODS:
            try:
                ch, shown, t = _published_chart(page, g, period)
            except AnalysisError:
                # a count read off the throughput table: a period its merged quarters straddle has no count,
                # and a period with fewer than 2 complete ones has no chart (the section picks one that has)
                assert code in trends.FROM_THROUGHPUT
                continue
            drawn_periods += 1
            counts = ["n_numerator"] + (["n_denominator"] if g["chart"].iloc[0] == "p-chart" else [])
            pub = published_numbers(shown, counts)
            if g["chart"].iloc[0] == "XmR":  # the bars are the published counts, not the true ones
                drawn = ch["value"].to_numpy(float)
                ok = ~np.isnan(pub["n_numerator"].to_numpy())
                np.testing.assert_array_equal(drawn[ok], pub["n_numerator"].to_numpy()[ok])
                true = trends.by_period(g, period)[0]["n_numerator"].to_numpy()  # the unpublished counts
                moved += int((drawn[ok] != true[ok]).sum())
                continue
            _attack_proportions(shown, t, "n_numerator", "n_denominator", "value")
            if ch is not None:
                v = ch["value"].to_numpy(float)
                ok = ~np.isnan(v)
                np.testing.assert_allclose(v[ok], (pub["n_numerator"] / pub["n_denominator"]).to_numpy()[ok])
                # the average line is the published pooled rate of the complete periods drawn
                use = ok & ~ch["partial"].to_numpy(bool)
                assert ch["centre"].iloc[0] == pytest.approx(pub["n_numerator"][use].sum() / pub["n_denominator"][use].sum())
        assert drawn_periods >= 1
    assert moved > 0


def test_year_against_last_is_worked_from_the_published_years(data, plan):
    from dapp_eval.analyses import trends, yearly

    res = trends.quarterly_spc(data, plan=plan)
    series = {}
    for code, g in res.summary.groupby("measure", sort=False):
        is_p = g["chart"].iloc[0] == "p-chart"
        q = g[["quarter", "partial", "n_numerator", "n_denominator"]].reset_index(drop=True)
        if not is_p:
            q["n_denominator"] = np.nan
        series[code] = (q, "proportion" if is_p else "count")
    t, roles = yearly.year_table(series, alpha=ALPHA)
    shown = publish(t, roles, _dc(), name="This year against last")
    pub = published_numbers(shown, ["n_this", "n_last", "n_of_this", "n_of_last"])
    differ = 0
    for i in range(len(t)):
        d = shown["difference"].iloc[i]
        if not isinstance(d, float) or pd.isna(d):
            continue
        is_p = pd.notna(t["n_of_this"].iloc[i])
        c = yearly.compare(pub["n_this"].iloc[i], pub["n_of_this"].iloc[i], pub["n_last"].iloc[i],
                           pub["n_of_last"].iloc[i], kind="proportion" if is_p else "count", alpha=ALPHA)
        assert (d, shown["ci_lower"].iloc[i], shown["ci_upper"].iloc[i]) == pytest.approx(
            (c["difference"], c["ci_lower"], c["ci_upper"]))
        if not is_p:  # this year minus the difference is last year's published count, never its true one
            last = float(shown["this"].iloc[i]) - d
            assert last == pub["n_last"].iloc[i]
            differ += int(last != t["n_last"].iloc[i])
        else:
            differ += _attack_proportions(shown.iloc[[i]], t.iloc[[i]], "n_this", "n_of_this", "this")
    assert differ > 0


def test_headline_figures_give_back_only_published_counts(page):
    from dapp_eval.commissioner.headlines import PROPORTIONS
    from dapp_eval.report.sections import _headlines as H

    pub = H.published(page)
    res = H.figures(page.release, None).summary.set_index("code")
    differ = 0
    for r in pub.itertuples(index=False):
        if r.hidden or pd.isna(r.value):
            continue
        if r.code in PROPORTIONS:
            k, n = int(r.n_numerator), int(r.n_denominator)
            assert round(r.value * n) == k
            assert _wilson_candidates(r.ci_lower, r.ci_upper, n) == {k}
            differ += int(k != res.loc[r.code, "n_numerator"])
            assert f"{k:,} of {n:,}" in r.n_text
        if r.code.startswith("cost_per_"):  # the period's cost over the published count, not the true one
            period_cost = res.loc[r.code, "value"] * res.loc[H_DEN[r.code], "value"]
            assert r.value == pytest.approx(round(period_cost / r.n_denominator, 2))
            assert r.n_denominator % 5 == 0
    assert differ > 0


H_DEN = {"cost_per_referral": "referrals_in_period", "cost_per_start": "starts_in_period",
         "cost_per_completion": "completions_in_period"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=4, max_size=16), st.integers(5, 20))
def test_period_is_chosen_from_the_size_and_keeps_the_counts(xs, threshold):
    """The period depends on the size only (the same size gives the same period, whatever the values), a
    coarser period never averages fewer people, and coarsening keeps every count."""
    from dapp_eval.analyses import trends

    quarters = [f"{2020 + i // 4}/{(21 + i // 4) % 100:02d} Q{1 + i % 4}" for i in range(len(xs))]
    g = pd.DataFrame({"quarter": quarters, "chart": "XmR", "partial": False, "partial_reason": "",
                      "quarter_start": pd.date_range("2020-04-01", periods=len(xs), freq="QS-APR"),
                      "n_numerator": np.asarray(xs, float), "n_denominator": np.nan})
    total = float(sum(xs))
    period = trends.choose_period(total, len(xs), threshold, "XmR")
    assert period == trends.choose_period(total, len(xs), threshold, "XmR")
    shuffled = trends.choose_period(float(sum(sorted(xs))), len(xs), threshold, "XmR")
    assert shuffled == period
    for p in trends.PERIODS:
        t, _ = trends.by_period(g, p)
        assert t["n_numerator"].sum() == total
        assert len(t) == len({trends._period_label(q, p) for q in quarters})


FORBIDDEN = {"table", "count", "proportion", "rounded", "is_small", "_zero_small", "merge_small"}
MINE = ("sites", "_gap", "trends", "_headlines", "summary", "methods", "_results")


@pytest.mark.parametrize("module", MINE)
def test_section_has_no_old_disclosure_calls(module):
    """No dc.table/count/proportion/rounded/is_small/_zero_small/merge_small and no page.table( left."""
    tree = ast.parse((SECTIONS / f"{module}.py").read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if owner_name == "dc" and node.func.attr in FORBIDDEN:
            bad.append((node.lineno, f"dc.{node.func.attr}"))
        if owner_name == "page" and node.func.attr == "table":
            bad.append((node.lineno, "page.table"))
        if node.func.attr == "merge_small":
            bad.append((node.lineno, "merge_small"))
    assert bad == [], f"{module}.py: {bad}"

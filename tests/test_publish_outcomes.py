"""Issue 26, outcome sections: every table goes through the one publication step with roles its analysis
declares, and an attacker's arithmetic on the published tables gives back published (rounded) counts only.

The data are generated here (sizes and seeds not used elsewhere); the attacks are those of the issue: an
estimate times its denominator, a Wilson interval inverted at alpha 0.1, a rate times its person-years,
a paired change times its pairs, and sums of rows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.roles import publish, published_numbers
from dapp_eval.estimators.proportions import wilson_ci

SECTIONS = Path(__file__).resolve().parents[1] / "dapp_eval" / "report" / "sections"
MINE = ("safety", "followup", "reoffending", "children", "feedback", "partner_support", "risk", "_publish")
OLD_PATH = {"table", "count", "proportion", "rounded", "is_small", "_zero_small", "merge_small"}
ALPHA = 0.1


def _old_calls(path: Path) -> list[str]:
    """Calls of the old heuristic path: ``<...>dc.<method>(`` for the methods above, and ``page.table(``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        recv, attr = node.func.value, node.func.attr
        name = recv.id if isinstance(recv, ast.Name) else recv.attr if isinstance(recv, ast.Attribute) else ""
        if (name == "dc" and attr in OLD_PATH) or (name == "page" and attr == "table"):
            found.append(f"{path.name}:{node.lineno} {name}.{attr}(")
    return found


@pytest.mark.parametrize("module", MINE)
def test_outcome_sections_have_no_old_path_calls(module):
    assert _old_calls(SECTIONS / f"{module}.py") == []


def test_the_old_path_detector_finds_old_calls(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f(page, dc):\n    page.dc.table(1)\n    dc.count(2)\n    page.table(3)\n    s.count()\n")
    assert [c.split()[1] for c in _old_calls(f)] == ["dc.table(", "dc.count(", "page.table("]


# ---------------------------------------------------------------------------------------------------------------
# generated data, not the shipped folder
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("outcomes") / "data"
    generate(folder, referrals=520, sites=2, seed=60613)
    return load_programme(folder)


@pytest.fixture
def dc():
    return DisclosureControl(alpha=ALPHA)


def _pub(res, dc, table="summary", **kw):
    df = res.summary if table == "summary" else res.tables[table]
    return publish(df, res.roles[table], dc, name=table, **kw).reset_index(drop=True), df.reset_index(drop=True)


def _n(shown: pd.DataFrame, c: str) -> np.ndarray:
    return published_numbers(shown, [c])[c].to_numpy(dtype=float)


def _f(shown: pd.DataFrame, c: str) -> np.ndarray:
    return pd.to_numeric(shown[c], errors="coerce").to_numpy(dtype=float)


def _wilson_solutions(lo: float, hi: float, n_band: range, alpha: float) -> set[tuple[int, int]]:
    """Every (k, n) whose Wilson interval at ``alpha`` is the published one (to 1e-9): the inversion attack."""
    out = set()
    for n in n_band:
        k = np.arange(0, n + 1)
        l_, h_ = wilson_ci(k, np.full(len(k), n), alpha=alpha)
        hit = (np.abs(np.asarray(l_) - lo) < 1e-9) & (np.abs(np.asarray(h_) - hi) < 1e-9)
        out |= {(int(x), n) for x in k[hit]}
    return out


def _check_proportions(shown, true, num: str, den: str, est: str = "estimate", ci=("ci_lower", "ci_upper")):
    """Estimate x published denominator is the published numerator; the Wilson interval inverts only to the
    published counts; and at least one row's true numerator differs from what the attacker gets."""
    k_pub, n_pub, e = _n(shown, num), _n(shown, den), _f(shown, est)
    k_true = pd.to_numeric(true[num], errors="coerce").to_numpy(dtype=float)
    n_true = pd.to_numeric(true[den], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(e) & np.isfinite(n_pub) & (n_pub > 0)
    assert ok.any()
    assert np.allclose(np.round(e[ok] * n_pub[ok]), k_pub[ok])
    differs = ok & ((k_true != k_pub) | (n_true != n_pub))
    assert differs.any()  # the attack gives the rounded counts, not the true ones
    if ci is not None:
        i = int(np.flatnonzero(differs)[0])
        lo, hi = _f(shown, ci[0])[i], _f(shown, ci[1])[i]
        band = range(int(n_pub[i]) - 2, int(n_pub[i]) + 3)
        found = _wilson_solutions(lo, hi, band, ALPHA)
        assert (int(k_true[i]), int(n_true[i])) not in found
        assert (int(k_pub[i]), int(n_pub[i])) in found


def test_prevalence_estimates_invert_to_published_counts_only(data, dc):
    from dapp_eval.analyses import safety

    shown, true = _pub(safety.prevalence(data, alpha=ALPHA), dc)
    _check_proportions(shown, true, "n_reporting", "n_answered")


def test_response_and_feeling_safe_invert_to_published_counts_only(data, dc):
    from dapp_eval.analyses import safety

    shown, true = _pub(safety.response_rates(data, alpha=ALPHA), dc)
    _check_proportions(shown, true, "n_answered", "n_expected")
    fs = safety.feeling_safe(data, alpha=ALPHA)
    shown, true = _pub(fs, dc, "headline")
    _check_proportions(shown, true, "n", "n_answered")


def test_paired_change_times_pairs_gives_published_discordant_difference(data, dc):
    """change x pairs / 100 = published started - published stopped (not the true difference), and a row
    with a small discordant count shows no statistic at all."""
    from dapp_eval.analyses import safety

    res = safety.paired_change(data, alpha=ALPHA)
    shown, true = _pub(res, dc, pairs=safety.PAIRED_ZERO_RULE)
    e, n = _f(shown, "estimate"), _n(shown, "n_pairs")
    started, stopped = _n(shown, "n_started"), _n(shown, "n_stopped")
    ok = np.isfinite(e)
    assert np.allclose(e[ok] * n[ok] / 100, started[ok] - stopped[ok])
    small = ((true["n_started"] > 0) & (true["n_started"] < dc.threshold)).to_numpy()
    assert small.any() and (shown.loc[small, ["estimate", "ci_lower", "ci_upper", "p_value"]] == "[c]").all(axis=None)


def test_before_after_rates_and_changes_from_published_counts(data, dc):
    """rate x person-years = published incidents; person-years / follow-up per person = published people;
    a rate ratio is the ratio of published rates; a change x N is the published discordant difference."""
    from dapp_eval.analyses import followup

    res = followup.before_after(data, alpha=ALPHA)
    shown, true = _pub(res, dc)
    rate = (true["measure"] == "incidents per person-year").to_numpy()
    e, py, ev, n = _f(shown, "estimate"), _f(shown, "person_years"), _n(shown, "n_events"), _n(shown, "n")
    ok = rate & np.isfinite(e)
    assert ok.any()
    assert np.allclose(e[ok] * py[ok], ev[ok])
    per_person = true["person_years"].to_numpy(dtype=float) / true["n"].to_numpy(dtype=float)
    assert np.allclose(py[ok] / per_person[ok], n[ok])
    assert (true.loc[ok, "n_events"].to_numpy(dtype=float) != ev[ok]).any()  # the true incidents stay hidden
    for label, g in shown.groupby("label"):
        rates = g[g["measure"] == "incidents per person-year"].set_index("period")["estimate"]
        before, after = (pd.to_numeric(rates.get(p), errors="coerce") for p in ("before", "after"))
        ratio = pd.to_numeric(g.loc[g["measure"].str.startswith("rate ratio"), "estimate"], errors="coerce")
        if np.isfinite(before) and np.isfinite(after) and ratio.notna().any():
            assert np.allclose(ratio.dropna(), after / before), label
    change = ((true["measure"] == "any incident") & (true["period"] == "change")).to_numpy()
    ok = change & np.isfinite(e)
    assert np.allclose(e[ok] * n[ok] / 100, _n(shown, "n_started")[ok] - _n(shown, "n_stopped")[ok])
    small = change & ((true["n_started"] > 0) & (true["n_started"] < dc.threshold)).to_numpy()
    assert small.any() and not np.isfinite(e[small]).any()  # a small discordant count: no change shown


def test_completers_rates_use_the_published_people(data, dc):
    from dapp_eval.analyses import followup

    res = followup.compare_completers(data, alpha=ALPHA)
    shown, true = _pub(res, dc)
    any_inc = (true["measure"] == "any incident").to_numpy()
    _check_proportions(shown.loc[any_inc].reset_index(drop=True), true.loc[any_inc].reset_index(drop=True),
                       "n_with_incident", "n")
    rate = (true["measure"] == "incidents per person-year").to_numpy()
    e, ev, n = _f(shown, "estimate"), _n(shown, "n_events"), _n(shown, "n")
    py_per = true["n_events"].to_numpy(dtype=float) / true["estimate"].to_numpy(dtype=float) / true["n"].to_numpy(
        dtype=float)
    ok = rate & np.isfinite(e) & (e > 0)
    assert ok.any()
    # incidents / (rate x follow-up per person) is the published number of people, never the true one
    assert np.allclose(ev[ok] / (e[ok] * py_per[ok]), n[ok])


def test_repeat_marac_and_reoffending_from_published_counts(data, dc):
    from dapp_eval.analyses import followup, reoffending

    shown, true = _pub(followup.repeat_marac(data, alpha=ALPHA), dc)
    e, k, n = _f(shown, "estimate"), _n(shown, "n_repeat"), _n(shown, "n_marac")
    ok = np.isfinite(e)
    assert np.allclose(e[ok] * n[ok], k[ok])
    res = reoffending.proven_reoffending(data, alpha=ALPHA)
    shown, true = _pub(res, dc)
    f, o, n = _f(shown, "frequency"), _n(shown, "n_offences"), _n(shown, "n")
    ok = np.isfinite(f)
    assert np.allclose(f[ok] * n[ok], o[ok])


def test_risk_band_summary_mcnemar_from_published_discordant_counts(data, dc):
    from dapp_eval.analyses import risk

    res = risk.band_transitions(data, alpha=ALPHA)
    shown, true = _pub(res, dc)
    mc = (true["statistic"] == "mcnemar_exact").to_numpy()
    left, entered, e = _n(shown, "n_left")[mc][0], _n(shown, "n_entered")[mc][0], _f(shown, "estimate")[mc][0]
    if np.isfinite(e):
        assert e == pytest.approx(left / (left + entered))
    else:  # a discordant count below the threshold withholds the row's statistics
        b, c = true.loc[mc, ["n_left", "n_entered"]].to_numpy(dtype=float)[0]
        assert (0 < b < dc.threshold) or (0 < c < dc.threshold) or not (np.isfinite(left) and np.isfinite(entered))
    props = ~mc
    _check_proportions(shown.loc[props].reset_index(drop=True), true.loc[props].reset_index(drop=True), "n",
                       "n_total")


def test_risk_bands_cross_table_keeps_its_margins_secondary_suppression(data):
    """The band cross-table's rows and columns add up to totals published elsewhere: publish passes the margins
    to the count step, which then protects them as the old path did (same cells hidden)."""
    from dapp_eval.analyses import risk

    res = risk.band_transitions(data, alpha=ALPHA)
    t = res.tables["transitions"]
    margins = [["band_from"], ["band_to"]]
    for threshold in (10, 20, 30):
        a = publish(t, res.roles["transitions"], DisclosureControl(threshold=threshold), name="b", margins=margins)
        b = DisclosureControl(threshold=threshold).table(t, name="b", label_cols=["band_from", "band_to"],
                                                         margins=margins)
        assert a["n"].astype(str).tolist() == b["n"].astype(str).tolist()
    plain = publish(t, res.roles["transitions"], DisclosureControl(threshold=30), name="b")
    with_m = publish(t, res.roles["transitions"], DisclosureControl(threshold=30), name="b", margins=margins)
    assert (published_numbers(with_m, ["n"])["n"].isna().sum() >= published_numbers(plain, ["n"])["n"].isna().sum())


def test_children_plans_difference_not_published(data, dc):
    """The children's paired difference needs discordant cells the table does not hold: it is withheld."""
    from dapp_eval.analyses import families

    res = families.children(data, alpha=ALPHA)
    shown, true = _pub(res, dc)
    has = true["difference"].notna().to_numpy()
    assert (shown.loc[has, "difference"] == "[c]").all()


# ---------------------------------------------------------------------------------------------------------------
# the pages: small waves not broken down, charts from the published table, sentences from published counts
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(data):
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Release

    return Release(data, load_plan(), synthetic=True)


def _tables(release, section: str, site=None) -> tuple[dict, object]:
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, site)
    load(section).build(page)
    return {t.caption: t.frame for t in page.tables}, page


def _site(release) -> str:
    return str(release.data.sites["site_id"].iloc[-1])


def test_a_small_wave_is_one_row_and_every_other_is_broken_down(release):
    from dapp_eval.analyses import safety
    from dapp_eval.report.sections._publish import WAVE_MINIMUM

    site = _site(release)
    tables, page = _tables(release, "safety", site)
    prev = next(df for cap, df in tables.items() if cap.startswith("Behaviours reported"))
    res = safety.prevalence(page.data, alpha=page.alpha)
    for wave, g in prev.groupby("wave"):
        returned = res.summary.loc[res.summary["wave"] == wave, "n_responses"].max()
        rounded = 5 * np.floor(returned / 5 + 0.5)
        assert (len(g) == 1) == (rounded < WAVE_MINIMUM * page.dc.threshold), wave


def test_the_why_fewer_sentence_prints_published_counts(release):
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, None)
    blocks = load("safety").build(page)["blocks"]
    text = next(b["text"] for b in blocks if isinstance(b, dict) and str(b.get("text", "")).startswith("Why fewer"))
    prev = next(t.frame for t in page.tables if t.caption.startswith("Behaviours reported"))
    first = prev[prev["wave"] == "T1"]["n_answered"].iloc[0]
    assert f"{first} (ex-)partners answered at T1" in text

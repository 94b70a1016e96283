"""Issue 26: the outside attacker's arithmetic on published files, and the construction that defeats it.

Each test does what the attacker did with the published numbers only (estimate x denominator, inverting a
Wilson interval at any alpha, a complement of a category split, the 2x2 behind a Newcombe interval and a
McNemar p, cost / cost per person) and asserts that it gives back nothing but the published (rounded)
counts. The release tests read the committed ``reports/`` (the shipped release; the suite checks it is the
current code's output); the unit tests run :func:`dapp_eval.disclosure.roles.publish` on tables built so
the true counts differ from their rounded values.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.audit import decode_release
from dapp_eval.estimators.proportions import mcnemar_exact, newcombe_paired_ci, wilson_ci

REPORTS = Path(__file__).resolve().parents[1] / "reports"
ALPHAS = (0.01, 0.05, 0.1, 0.2)


def _num(text: str) -> float | None:
    try:
        return float(str(text).replace(",", "").replace("%", ""))
    except ValueError:
        return None


def _band(text: str, threshold: int = 10) -> range:
    """The true counts a published count allows: '<10' is 1-9, a number v is v-2..v+2 (5 is 1..7)."""
    if text.startswith("<"):
        return range(1, threshold)
    v = int(_num(text))
    if v == 5:
        return range(1, 8)
    return range(max(v - 2, 0), v + 3)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _matches(value: float, text: str) -> bool:
    """Whether ``value`` prints as ``text`` at its precision (3 significant digits or its decimals)."""
    d = _decimals(text)
    x = _num(text)
    return abs(value - x) <= 0.5 * 10.0 ** (-d) + 1e-12


def invert_wilson(est: str, lo: str, hi: str, k_band, n_band) -> set[tuple[int, int]]:
    """The attacker: every (k, n) in the bands whose proportion and Wilson interval (at any alpha) print as shown."""
    found = set()
    for n in n_band:
        for k in k_band:
            if n <= 0 or k > n or not _matches(k / n, est):
                continue
            for a in ALPHAS:
                w_lo, w_hi = wilson_ci(k, n, alpha=a)
                if _matches(float(w_lo), lo) and _matches(float(w_hi), hi):
                    found.add((k, n))
    return found


def _release():
    return [r for r in decode_release(REPORTS) if r.file.endswith(".html")]


def _proportion_rows(table, num: str, den: str):
    cols = table.columns
    for row in table.rows:
        d = dict(zip(cols, row))
        if all(d.get(c, "") not in ("", "[c]") for c in ("estimate", "ci_lower", "ci_upper", num, den)):
            if _num(d["estimate"]) is not None and 0 <= _num(d["estimate"]) <= 1:
                yield d


@pytest.mark.parametrize("table,num,den", [("risk_change", "n", "n_total"),
                                           ("followup_completers", "n_with_incident", "n"),
                                           ("risk_band_summary", "n", "n_total"),
                                           ("safety_prevalence", "n_reporting", "n_answered")])
def test_wilson_inversion_gives_back_only_published_counts(table, num, den):
    """(a), (c): estimate x denominator and the Wilson interval at alpha 0.01-0.2 pin nothing but the published
    pair (before issue 26's fix the risk-change rows gave 454/645 beside a published 455/645)."""
    tried = 0
    for r in _release():
        t = r.tables.get(table)
        if t is None:
            continue
        for d in _proportion_rows(t, num, den):
            tried += 1
            pub = (int(_num(d[num])), int(_num(d[den])))
            found = invert_wilson(d["estimate"], d["ci_lower"], d["ci_upper"], _band(d[num]), _band(d[den]))
            assert found <= {pub} or len(found) > 1, (r.file, table, d, found)
    assert tried > 0 or table == "risk_band_summary"


def test_reliable_change_split_has_no_recoverable_complement():
    """(a): reliably worse = paired - improved - no change, each read back from its estimate: the published
    estimates are those of the rounded counts, so the complement is only known to the rounding band."""
    for r in _release():
        t = r.tables["risk_change"]
        rows = {row[0]: dict(zip(t.columns, row)) for row in t.rows}
        if not {"reliably_improved", "no_reliable_change", "reliably_worse"} <= set(rows):
            continue
        worse = rows["reliably_worse"]
        if not worse["n"].startswith("<"):
            continue
        for s in ("reliably_improved", "no_reliable_change"):
            d = rows[s]
            if d["estimate"] in ("", "[c]"):
                continue
            k, n = _num(d["n"]), _num(d["n_total"])
            assert _matches(k / n, d["estimate"]), (r.file, s, d)  # the published counts' own proportion


def _paired_summary(started: int, stopped: int = 40, yes_base: int = 60, pairs: int = 148) -> pd.DataFrame:
    both, neither = yes_base - stopped, pairs - yes_base - started
    d, lo, hi = newcombe_paired_ci(both, started, stopped, neither, alpha=0.1)
    return pd.DataFrame([{"behaviour": "physical_violence", "label": "Physical violence", "role": "primary",
                          "n_pairs": pairs, "n_yes_baseline": yes_base, "n_yes_followup": both + started,
                          "n_stopped": stopped, "n_started": started, "estimate": 100 * d, "ci_lower": 100 * lo,
                          "ci_upper": 100 * hi, "p_value": mcnemar_exact(stopped, started)}])


def _attack_paired(row: pd.Series) -> set[tuple[int, int]]:
    """(b): every (stopped, started) in the bands whose difference and McNemar p print as published."""
    found = set()
    n = int(row["n_pairs"].replace(",", ""))
    for s in _band(row["n_stopped"]):
        for t in _band(row["n_started"]):
            if _matches(100 * (t - s) / n, f"{float(row['estimate']):.3f}") and \
                    _matches(mcnemar_exact(s, t), f"{float(row['p_value']):.4f}"):
                found.add((s, t))
    return found


@pytest.mark.parametrize("started", [7, 12, 23])
def test_paired_safety_row_derived_from_published_cells(started):
    """(b): the paired row's Newcombe interval and McNemar p come from the published 2x2 (a hidden 'started'
    withholds them); the attacker's search finds only the published cells."""
    from dapp_eval.analyses.safety import paired_roles
    from dapp_eval.disclosure.roles import publish

    t = _paired_summary(started)
    dc = DisclosureControl(alpha=0.1)
    shown = publish(t, paired_roles(list(t.columns), 0.1), dc, name="paired").iloc[0]
    if started < 10:
        assert shown["estimate"] == "[c]" and shown["p_value"] == "[c]"
        return
    pub = (int(shown["n_stopped"]), int(shown["n_started"]))
    assert pub != (40, started) or started % 5 == 0
    found = _attack_paired(shown)
    assert pub in found  # the statistics are the published cells' own: they say nothing more
    assert len(found) > 1 or found == {pub}


def test_completers_difference_and_rates_from_published_counts():
    """(c): each proportion is its published counts' own; a group below the threshold hides its rows and the
    model (the rate ratio then says nothing about a handful of people)."""
    from dapp_eval.analyses.followup import completers_roles
    from dapp_eval.disclosure.roles import publish

    rows = []
    for grp, n, k, ev, py in (("completed", 223, 141, 337, 220.0), ("did_not_complete", 8, 4, 9, 6.0)):
        lo, hi = wilson_ci(k, n)
        rows.append({"group": grp, "group_label": grp, "period": "after", "measure": "any incident", "n": n,
                     "n_with_incident": k, "n_events": ev, "estimate": k / n, "ci_lower": float(lo),
                     "ci_upper": float(hi), "p_value": np.nan})
        rows.append({"group": grp, "group_label": grp, "period": "after", "measure": "incidents per person-year",
                     "n": n, "n_with_incident": np.nan, "n_events": ev, "estimate": ev / py, "ci_lower": np.nan,
                     "ci_upper": np.nan, "p_value": np.nan})
    rows.append({"group": "completed / did_not_complete", "group_label": "rate ratio", "period": "after",
                 "measure": "rate ratio", "n": 231, "n_with_incident": np.nan, "n_events": 346, "estimate": 0.9,
                 "ci_lower": 0.5, "ci_upper": 1.6, "p_value": 0.7})
    t = pd.DataFrame(rows)
    shown = publish(t, completers_roles(t, 0.05), DisclosureControl(), name="completers")
    assert shown.loc[0, "estimate"] == pytest.approx(140 / 225)          # published 140 of 225, not 141/223
    # published incidents / the person-years of the published people (the true 220 person-years with the
    # published rate gave the 223 people back)
    assert shown.loc[1, "estimate"] == pytest.approx(335 / (220.0 * 225 / 223))
    assert (shown.loc[2:3, ["estimate"]] == "[c]").all().all()           # a group of 8
    assert (shown.loc[4, ["estimate", "ci_lower", "ci_upper", "p_value"]] == "[c]").all()


def test_cost_per_person_divides_by_the_published_count():
    """(d): period cost / cost per referral gives the published number of referrals, never the true one."""
    from dapp_eval.disclosure.roles import publish
    from dapp_eval.report.sections.sites import cost_roles

    t = pd.DataFrame({"group": ["S01"], "annual_cost_gbp": [60000.0], "period_years": [1 / 12],
                      "period_cost_gbp": [5000.0], "n_referrals": [23], "n_started": [12], "n_completed": [3],
                      "cost_per_referral": [5000 / 23], "cost_per_start": [5000 / 12],
                      "cost_per_completion": [5000 / 3], "note": [""]})
    shown = publish(t, cost_roles(list(t.columns)), DisclosureControl(), name="costs").iloc[0]
    assert 5000.0 / float(shown["cost_per_referral"]) == pytest.approx(25)
    assert 5000.0 / float(shown["cost_per_start"]) == pytest.approx(10)
    assert shown["n_completed"] == "<10" and shown["cost_per_completion"] == "[c]"


def test_shipped_costs_invert_to_published_counts():
    """(d) on the shipped release: period cost / cost per X = the published count of X (to the printed 0.1)."""
    for r in _release():
        t = r.tables.get("costs_by_site")
        if t is None:
            continue
        for row in t.rows:
            d = dict(zip(t.columns, row))
            for c, n in (("cost_per_referral", "n_referrals"), ("cost_per_start", "n_started"),
                         ("cost_per_completion", "n_completed")):
                if d[c] in ("", "[c]") or _num(d["period_cost_gbp"]) is None:
                    continue
                assert _matches(_num(d["period_cost_gbp"]) / _num(d[n]), d[c]), (r.file, d["group"], c)


def test_small_throughput_count_is_withheld_not_rounded():
    """(f): a month's 3 referrals is '<10', not 5 (5 says 1-7, 10 says 8-12: more than '<10')."""
    dc = DisclosureControl()
    assert dc.rounded(3, kind="throughput") is None and dc.count(8, kind="throughput") == "<10"
    shown = dc.table(pd.DataFrame({"quarter": ["Q1", "Q2"], "n": [3, 48]}), name="t", kind="throughput")
    assert shown["n"].tolist() == ["<10", "50"]


def test_first_referral_date_published_as_month_only():
    """(f): the day of the earliest referral is one person's date; the release names its month only."""
    from dapp_eval import formatting as fmt
    from dapp_eval import load_programme

    data = load_programme(REPORTS.parent / "data_synthetic")
    first = fmt.long_date(data.referrals["referral_date"].min())
    for p in REPORTS.glob("*.html"):
        assert first not in p.read_text(encoding="utf-8"), p.name


def test_summary_of_a_small_group_is_withheld():
    """(g): a mean or median over fewer people than the threshold is not shown."""
    from dapp_eval.disclosure.roles import Count, Label, Summary, publish

    t = pd.DataFrame({"group": ["A", "B"], "n": [7, 40], "mean_age": [31.2, 35.0], "median_weeks": [4.0, 6.5]})
    shown = publish(t, [Label("group"), Count("n"), Summary(("mean_age", "median_weeks"), n="n")],
                    DisclosureControl(), name="t")
    assert shown.loc[0, ["mean_age", "median_weeks"]].tolist() == ["[c]", "[c]"]
    assert shown.loc[1, ["mean_age", "median_weeks"]].tolist() == [35.0, 6.5]


def test_publish_refuses_an_undeclared_column():
    """Nothing reaches a page by accident: a column with values and no role is an error."""
    from dapp_eval.disclosure.roles import Count, Label, publish

    t = pd.DataFrame({"group": ["A"], "n": [40], "estimate": [0.4]})
    with pytest.raises(ValueError, match="estimate"):
        publish(t, [Label("group"), Count("n")], DisclosureControl(), name="t")


def test_proportion_role_zero_rule_and_alpha():
    """Zero rule: 'all' of a group below twice the threshold is withheld, count included; intervals at the
    control's alpha from the published counts."""
    from dapp_eval.disclosure.roles import Count, Label, Proportion, publish

    t = pd.DataFrame({"g": ["A", "B"], "n": [14, 633], "n_total": [14, 789], "estimate": [1.0, 633 / 789],
                      "ci_lower": [0.8, 0.77], "ci_upper": [1.0, 0.83]})
    dc = DisclosureControl(alpha=0.1)
    shown = publish(t, [Label("g"), Count("n", "n_total"), Proportion("n", "n_total")], dc, name="t")
    assert shown.loc[0, "estimate"] == "[c]" and shown.loc[0, "n"] == "15"  # all of 14: no 100%; count rounded
    lo, hi = wilson_ci(635, 790, alpha=0.1)
    assert shown.loc[1, "estimate"] == pytest.approx(635 / 790)
    assert shown.loc[1, "ci_lower"] == pytest.approx(float(lo)) and shown.loc[1, "ci_upper"] == pytest.approx(float(hi))
    assert not math.isclose(shown.loc[1, "estimate"], 633 / 789)


def test_mcf_steps_count_nothing_below_the_threshold():
    """The mean cumulative function's steps are contacts / number followed: the attacker multiplied each step
    by the number followed and got 1-9 contacts. Redrawn, every step stands for a multiple of the threshold
    (the first for threshold - threshold // 2), from the rounded numbers followed."""
    from dapp_eval import load_programme
    from dapp_eval.analyses import followup
    from dapp_eval.disclosure.curves import protect_mcf_result

    res = followup.recurrent_contacts(load_programme(REPORTS.parent / "data_synthetic"))
    dc = DisclosureControl()
    safe = protect_mcf_result(res, dc, name="mcf")
    assert len(safe.tables["persons"]) == 0 and len(safe.tables["rows"]) == 0
    for _, c in safe.tables["curves"].groupby("group"):
        c = c.sort_values("days")
        jumps = np.diff(c["estimate"].to_numpy()) * c["n_at_risk"].to_numpy()[1:]
        contacts = np.round(jumps[jumps > 1e-12], 6)
        assert len(contacts)
        cum = np.cumsum(contacts)
        assert np.allclose((cum - 5) % 10, 0), cum  # 5, 15, 25 ...: the midpoints of each 10
        assert (c["n_at_risk"] % 5 == 0).all() and (c["n_at_risk"] >= dc.threshold).all()


def test_publish_an_empty_table():
    """A period with no one in a group gives an empty table: published empty, not a traceback."""
    from dapp_eval.disclosure.roles import Count, Label, Proportion, publish

    t = pd.DataFrame({"g": pd.Series([], dtype=object), "n": pd.Series([], dtype=float),
                      "n_total": pd.Series([], dtype=float), "estimate": pd.Series([], dtype=float)})
    shown = publish(t, [Label("g"), Count("n", "n_total"), Proportion("n", "n_total", ci=None)],
                    DisclosureControl(), name="t")
    assert len(shown) == 0 and list(shown.columns) == list(t.columns)


def test_mcf_draws_a_vertex_only_where_a_rounded_count_moves():
    """An outside attacker read every vertex of the mean cumulative function's path as a person's end of
    follow-up or a contact day (40 curves, 0 vertices unmatched), flat stretches included. Redrawn, a curve
    has a point only where its rounded contacts or rounded ends of follow-up move: at most one per threshold
    of each, on generated data the release never shipped."""
    from dapp_eval import load_programme
    from dapp_eval.analyses import followup
    from dapp_eval.disclosure.curves import protect_mcf_result
    from dapp_eval.synthetic import generate

    for seed, t in ((4711, 10), (4712, 7)):
        folder = Path(tempfile.mkdtemp()) / "d"
        generate(folder, referrals=260, sites=1, seed=seed)
        res = followup.recurrent_contacts(load_programme(folder))
        dc = DisclosureControl(threshold=t)
        safe = protect_mcf_result(res, dc, name="mcf")
        for g, c in safe.tables["curves"].groupby("group"):
            persons = res.tables["persons"]
            n_people = int((persons["group"] == g).sum())
            n_contacts = int(res.tables["rows"].loc[res.tables["rows"]["group"] == g, "event"].sum())
            assert len(c) - 1 <= n_people // t + n_contacts // t + 2, (g, len(c), n_people, n_contacts)
            assert n_people + n_contacts > 3 * (n_people // t + n_contacts // t + 2)  # the bound can fail

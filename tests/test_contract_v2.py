"""Data contract version 2: validation, the generator's separate stream, and every new measure against the
generator's truth (data_synthetic/truth.json, contract_v2) or an independent count."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval import load_programme, synthetic
from dapp_eval.analyses import delivery, equality, families, reoffending
from dapp_eval.commissioner import headlines
from dapp_eval.data.schema import CONTRACT_VERSION, TABLES, V2_REFERRAL_COLUMNS, V2_TABLES
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.control import MERGED_ALL, MERGED_OTHER
from dapp_eval.errors import DataValidationError
from dapp_eval.estimators.proportions import wilson_ci

SYNTHETIC = Path(__file__).resolve().parents[1] / "data_synthetic"
#: sha256 of the version-1 tables of the shipped folder before contract version 2 (referrals: its version-1
#: columns with programme_name empty, as it was): version 2 draws from a stream of its own
V1_SHA256 = {
    "sites": "183c9ba0d6293c53b06681446737231446dd66331509983b06d8fdca20f2b344",
    "referrals": "5cde0abd50304eac62df33e81a4334f70e6a6be22972751c783b9ea0098f873d",
    "sessions": "2a0cce7519a5df6d18366f8829354b9772d03e71f0eaec547b48fd6b61c25432",
    "risk_assessments": "87efec3bcac0a2b75bcdb0046b8f0fefa5e52684848df7c5c6d0034572b40c27",
    "partners": "6650b5deec9a43ca7c66c8817f975ec42c49a0ece57243166966d673d12f2697",
    "partner_surveys": "0d69e5168f07901adbd4d8560262df8bd32e5e1fe8b985a357203ef67c0b5f1f",
    "incidents": "a0ea059806a9b93339fad9782a8a1fb406a7cacf1efa934603e17e21687fda62",
}
V1_REFERRAL_COLUMNS = [c for c in TABLES["referrals"].names if c not in V2_REFERRAL_COLUMNS]


@pytest.fixture(scope="module")
def truth():
    return json.loads((SYNTHETIC / "truth.json").read_text(encoding="utf-8"))["contract_v2"]


@pytest.fixture(scope="module")
def prog():
    return synthetic.simulate(**{k: v for k, v in synthetic.DEFAULT_ARGS.items()})


# -- the contract --------------------------------------------------------------------------------------------

def test_version_2_adds_only_optional_items():
    assert CONTRACT_VERSION == 2
    for name in V2_TABLES:
        assert TABLES[name].optional
    for col in V2_REFERRAL_COLUMNS:
        c = TABLES["referrals"].column(col)
        assert not c.required and c.nullable
    for col in ("disability", "religion", "sexual_orientation"):
        assert {"prefer_not_to_say", "not_recorded"} <= set(TABLES["referrals"].column(col).values)


def test_generator_keeps_version_1_tables_byte_identical(prog):
    for name, digest in V1_SHA256.items():
        df = prog.tables[name]
        if name == "referrals":
            df = df[V1_REFERRAL_COLUMNS].assign(programme_name=None)
        text = synthetic.table_to_csv(df, name)
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == digest, name


def test_shipped_folder_is_the_generator_output(prog):
    for name in TABLES:
        assert (SYNTHETIC / f"{name}.csv").read_text(encoding="utf-8") == synthetic.table_to_csv(prog.tables[name], name)


def test_version_1_export_validates_unchanged(tmp_path, synthetic_data):
    for name in V1_SHA256:
        shutil.copy(SYNTHETIC / f"{name}.csv", tmp_path / f"{name}.csv")
    ref = pd.read_csv(tmp_path / "referrals.csv", dtype=str, keep_default_na=False)
    ref[V1_REFERRAL_COLUMNS].to_csv(tmp_path / "referrals.csv", index=False)
    data = load_programme(tmp_path)
    assert data.children is None and data.capacity is None and data.feedback is None
    assert data.referrals["disability"].isna().all()
    assert len(data.referrals) == len(synthetic_data.referrals)


def _problems(folder) -> pd.DataFrame:
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder)
    return exc.value.problems


def test_validator_rules_of_the_new_tables(tmp_path):
    for name in TABLES:
        shutil.copy(SYNTHETIC / f"{name}.csv", tmp_path / f"{name}.csv")
    ps = pd.read_csv(tmp_path / "partner_support.csv", dtype=str, keep_default_na=False)
    closed = ps.index[ps["support_end"] != ""][0]
    ps.loc[closed, "support_end"] = "2020-01-01"
    ps.to_csv(tmp_path / "partner_support.csv", index=False)
    cap = pd.read_csv(tmp_path / "capacity.csv", dtype=str, keep_default_na=False)
    cap.loc[0, "places_filled"] = str(int(cap.loc[0, "places_offered"]) + 1)
    cap.loc[1, "groups_run"] = "3"
    cap.to_csv(tmp_path / "capacity.csv", index=False)
    ref = pd.read_csv(tmp_path / "referrals.csv", dtype=str, keep_default_na=False)
    ref.loc[4, "disability"] = "maybe"
    ref.to_csv(tmp_path / "referrals.csv", index=False)
    p = _problems(tmp_path)
    rules = set(zip(p["file"], p["row"].astype(int), p["column"], p["rule"]))
    assert ("partner_support.csv", closed + 2, "support_end", "support_end is before support_start") in rules
    assert ("capacity.csv", 2, "places_filled", "places_filled is more than places_offered") in rules
    assert any(f == "capacity.csv" and r == 3 and "more than one row" in rule for f, r, _c, rule in rules)
    assert any(f == "referrals.csv" and r == 6 and c == "disability" and "prefer_not_to_say" in rule
               for f, r, c, rule in rules)


# -- equality monitoring ---------------------------------------------------------------------------------------

_WORD = {"yes": "Yes", "no": "No", "prefer_not_to_say": "Prefer not to say", "not_recorded": "Not recorded",
         "True": "Yes", "False": "No"}


def test_equality_counts_equal_the_truth(synthetic_data, truth):
    p = equality.profile(synthetic_data).summary
    for col in ("disability", "interpreter_needed"):
        got = dict(zip(p.loc[p["characteristic"] == col, "group"], p.loc[p["characteristic"] == col, "n_referred"]))
        want = {_WORD[k]: v for k, v in truth["referrals_by"][col].items()}
        assert got == want, col
    s = equality.profile(synthetic_data, by="programme_name").summary
    assert dict(zip(s["group"], s["n_referred"])) == truth["referrals_by"]["programme_name"]
    d = equality.profile(synthetic_data, by="district").summary
    want = {("Not recorded" if k == "missing" else k): v for k, v in truth["referrals_by"]["district"].items()}
    assert dict(zip(d["group"], d["n_referred"])) == want
    assert p.groupby("characteristic")["n_referred"].sum().eq(len(synthetic_data.referrals)).all()


def test_equality_names_the_groups_the_generator_disadvantaged(synthetic_data, truth):
    par = truth["parameters"]
    assert par["disability_yes"]["left_early"] > par["disability_yes"]["completed"]
    assert par["interpreter_needed"]["not_started"] > par["interpreter_needed"]["other"]
    c = equality.compare_groups(equality.profile(synthetic_data).summary)
    low = set(zip(c.loc[c["lower"], "characteristic"], c.loc[c["lower"], "group"], c.loc[c["lower"], "measure"]))
    assert ("disability", "Yes", "completion") in low
    assert ("interpreter_needed", "Yes", "start") in low
    for char in ("religion", "sexual_orientation"):  # drawn independently of every outcome
        assert not any(ch == char for ch, _g, _m in low), char


def test_under_18_counts(synthetic_data):
    age = synthetic_data.referrals["age"].astype(float)
    u = equality.under_18(synthetic_data)
    assert u == {"n_under_18": int((age < 18).sum()), "n_aged_16_17": int(((age >= 16) & (age < 18)).sum()),
                 "n_age_recorded": int(age.notna().sum())}
    assert u["n_under_18"] > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 300), st.integers(0, 300), st.integers(0, 300)),
                min_size=2, max_size=6))
def test_compare_groups_arithmetic(rows):
    t = pd.DataFrame([{"characteristic": "x", "group": f"g{i}", "n_resolved": a, "n_started": min(b, a),
                       "n_left": min(c, b, a), "n_completed": min(d, c, b, a)} for i, (a, b, c, d) in enumerate(rows)])
    r = equality.compare_groups(t)
    for row in r.itertuples(index=False):
        assert row.difference == pytest.approx(row.estimate - row.rest)
        assert row.difference_ci_lower <= row.difference + 1e-12 <= row.difference_ci_upper + 2e-12
        assert row.lower == (row.difference_ci_upper < 0)
        assert row.k + row.k_rest == t[{"start": "n_started", "completion": "n_completed"}[row.measure]].sum()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=7))
def test_small_groups_are_merged_never_dropped(sizes):
    t = pd.DataFrame({"characteristic": "x", "label": "X", "group": [f"g{i}" for i in range(len(sizes))],
                      "n_referred": sizes, "n_resolved": sizes, "n_started": sizes, "n_left": sizes,
                      "n_completed": sizes})
    m = DisclosureControl().merge_small(t, by=["characteristic"], level="group", add=tuple(t.columns[3:]))
    assert m["n_referred"].sum() == sum(sizes)
    # a group shown on its own keeps its name; merged ones are "other groups" whoever is in them (issue 26)
    assert set(m["group"]) <= set(t["group"]) | {MERGED_OTHER, MERGED_ALL}
    named = DisclosureControl().merge_small(t, by=["characteristic"], level="group", add=tuple(t.columns[3:]),
                                            named=True)
    merged_names = " ".join(named["group"])
    for g in t["group"]:
        assert g in merged_names


# -- children --------------------------------------------------------------------------------------------------

def test_children_against_the_truth(synthetic_data, truth):
    ch = families.children(synthetic_data)
    tr = truth["children"]
    assert ch.meta["n_children"] == tr["n_distinct_children"]
    assert ch.meta["n_rows"] == tr["n_children_rows"]
    assert ch.meta["n_referrals_with_children"] == tr["n_referrals_with_children"]
    t = ch.tables["transitions"]
    for grp, key in (("completed", "completed"), ("did not complete", "not_completed")):
        got = {(a, b): int(n) for a, b, n in t.loc[t["group"] == grp,
                                                   ["plan_at_referral", "plan_at_12_months", "n"]].itertuples(index=False)}
        want = {(a, b): n for a, row in tr["transitions_realised"][key].items() for b, n in row.items()
                if a != "not_recorded"}
        assert got == want, grp
    # the transition probability the generator used lies in the 95% interval of the realised share
    p = truth["parameters"]["children"]["plan_at_12_months"]
    for grp, key in (("completed", "completed"), ("did not complete", "not_completed")):
        row = t[(t["group"] == grp) & (t["plan_at_referral"] == "child_protection")]
        k, n = int(row.loc[row["plan_at_12_months"] == "child_protection", "n"].sum()), int(row["n"].sum())
        lo, hi = wilson_ci(k, n)
        assert lo <= p[key]["child_protection"][2] <= hi, grp


def test_children_plans_summary_is_the_transitions(synthetic_data):
    ch = families.children(synthetic_data)
    s = ch.summary.set_index(["measure", "group"])
    t = ch.tables["transitions"]
    cp = s.loc[("child_protection_plan", "all")]
    assert cp["n"] == t["n"].sum()
    assert cp["n_at_referral"] == t.loc[t["plan_at_referral"] == "child_protection", "n"].sum()
    assert cp["n_at_12_months"] == t.loc[t["plan_at_12_months"] == "child_protection", "n"].sum()
    assert cp["difference"] == pytest.approx(cp["estimate_at_12_months"] - cp["estimate_at_referral"])
    assert cp["difference_ci_lower"] < cp["difference"] < cp["difference_ci_upper"]


# -- partner support -------------------------------------------------------------------------------------------

def test_partner_support_against_the_truth(synthetic_data, truth):
    res = families.partner_support(synthetic_data)
    s = res.summary.set_index("measure")
    tr = truth["partner_support"]
    assert (s.loc["covers_programme", "n_yes"], s.loc["covers_programme", "n"]) == (
        tr["n_covering_episode_among_left"], tr["n_started_and_left"])
    assert s.loc["safety_plan", "n_yes"] == tr["n_safety_plan"]
    assert s.loc["safety_plan", "n"] == tr["n_rows"] == len(synthetic_data.partner_support)
    par = truth["parameters"]["partner_support"]
    for m, p in (("covers_programme", par["p_covers_episode"]), ("safety_plan", par["p_safety_plan"])):
        assert s.loc[m, "ci_lower"] <= p <= s.loc[m, "ci_upper"], m
    prt = synthetic_data.partners
    offered = prt["support_offered"].fillna(False).astype(bool)
    assert s.loc["accepted", "n"] == offered.sum()
    assert s.loc["accepted", "n_yes"] == tr["n_partners_accepted"]


# -- proven reoffending ----------------------------------------------------------------------------------------

def _reoffending_by_hand(data, window=365, lag=183):
    """An independent count: person by person, in plain Python."""
    ref = data.referrals.merge(data.sites[["site_id", "data_extract_date"]], on="site_id")
    started = ref[ref["start_date"].notna()].sort_values(["participant_id", "referral_date", "referral_id"])
    inc = data.incidents
    out = {"completed": [0, 0, 0], "started": [0, 0, 0]}
    for pid, rows in started.groupby("participant_id"):
        r = rows.iloc[0]
        if pd.isna(r["exit_date"]):
            continue
        end = r["exit_date"] + pd.Timedelta(days=window)
        if end + pd.Timedelta(days=lag) > r["data_extract_date"]:
            continue
        mine = inc[(inc["participant_id"] == pid) & (inc["incident_type"] == "da_crime")]
        events = set()
        for e in mine.itertuples(index=False):
            ok = (r["exit_date"] <= e.incident_date < end and pd.notna(e.outcome_date)
                  and e.outcome_date <= end + pd.Timedelta(days=lag))
            if ok:
                events.add(e.event_id if isinstance(e.event_id, str) else e.incident_id)
        for cohort in ("completed", "started"):
            if cohort == "completed" and r["exit_reason"] != "completed":
                continue
            out[cohort][0] += 1
            out[cohort][1] += bool(events)
            out[cohort][2] += len(events)
    return out


def test_proven_reoffending_against_an_independent_count(synthetic_data):
    res = reoffending.proven_reoffending(synthetic_data).summary.set_index("cohort")
    hand = _reoffending_by_hand(synthetic_data)
    for cohort, (n, k, o) in hand.items():
        assert (res.loc[cohort, "n"], res.loc[cohort, "n_reoffenders"], res.loc[cohort, "n_offences"]) == (n, k, o)
        assert res.loc[cohort, "meets_minimum"] == (n >= 60)
    assert hand["completed"][0] >= 60


def test_proven_reoffending_small_cohort_is_flagged(synthetic_data):
    r = reoffending.proven_reoffending(synthetic_data.subset(sites=["S05"])).summary
    assert not r["meets_minimum"].any()
    h = headlines.headline_figures(synthetic_data, site="S05", codes=["proven_reoffending_rate"]).summary
    assert h["value_text"].iloc[0] == "not available" and "under 60" in h["note"].iloc[0]


# -- capacity, feedback, waiting list --------------------------------------------------------------------------

def test_capacity_against_the_truth(synthetic_data, truth):
    res = delivery.capacity(synthetic_data)
    by_site = res.tables["by_site"]
    cap = synthetic_data.capacity
    got = {}
    for r in cap[cap["places_offered"].notna()].itertuples(index=False):
        got[f"{r.site_id} {r.quarter_start.date().isoformat()}"] = [int(r.places_filled), int(r.places_offered)]
    assert got == truth["capacity"]["places_filled_offered"]
    assert by_site["n_places_filled"].sum() == sum(v[0] for v in got.values())
    lo, hi = truth["parameters"]["capacity"]["utilisation"]
    shown = by_site[by_site["n_places_offered"] > 0]
    assert ((shown["prop_filled"] >= lo - 0.1) & (shown["prop_filled"] <= 1)).all()
    f = res.tables["funding"].set_index("funder")["share"]
    for funder, share in truth["parameters"]["capacity"]["funding_shares"].items():
        # shares of a total the generator splits exactly by these shares: rounding of the stored amounts only
        assert f[funder] == pytest.approx(share, abs=1e-6)


def test_capacity_places_filled_are_people_attending(synthetic_data):
    ses = synthetic_data.sessions
    att = ses[ses["attended"].fillna(False).astype(bool)]
    q = att["session_date"].dt.to_period("Q").dt.start_time
    site = att["referral_id"].map(synthetic_data.referrals.set_index("referral_id")["site_id"])
    want = att.assign(q=q, site=site).groupby(["site", "q"])["referral_id"].nunique()
    cap = synthetic_data.capacity.dropna(subset=["places_filled"]).set_index(["site_id", "quarter_start"])
    for (s, qq), n in want.items():
        if (s, qq) in cap.index:
            assert int(cap.loc[(s, qq), "places_filled"]) == n


def test_feedback_against_the_truth(synthetic_data, truth):
    s = delivery.feedback(synthetic_data).summary
    realised = truth["feedback"]["positive_realised"]
    par = truth["parameters"]["feedback"]["p_positive"]
    for r in s.itertuples(index=False):
        groups = realised[f"{r.informant} {r.wave} {r.item}"]
        assert r.n_better == sum(k for k, _n in groups.values())
        assert r.n == sum(n for _k, n in groups.values())
        assert r.n_better + r.n_no_change + r.n_worse == r.n
        # the expected share under the generator's probabilities lies in the 95% interval
        expected = sum(par[r.informant][g] * n for g, (_k, n) in groups.items()) / r.n
        assert r.ci_lower <= expected <= r.ci_upper, (r.informant, r.wave, r.item)


def test_waiting_list_matches_the_funnel(synthetic_data):
    from dapp_eval.analyses import funnel

    w = delivery.waiting_list(synthetic_data)
    c = funnel.cascade(synthetic_data, by=None).tables["counts"].set_index("stage")["n"]
    assert w.meta["n_waiting"] == int(c["awaiting_assessment"] + c["awaiting_start"])
    assert w.summary["n_waiting"].sum() == w.meta["n_waiting"]
    assert w.summary["risk_band"].tolist()[:3] == ["High", "Medium", "Standard"]
    assert (w.summary["n_awaiting_assessment"] + w.summary["n_awaiting_start"] == w.summary["n_waiting"]).all()


# -- headline registry -----------------------------------------------------------------------------------------

def test_v2_figures_are_registered_and_match_their_analyses(synthetic_data, truth):
    from dapp_eval.commissioner.glossary import GLOSSARY
    from dapp_eval.data.plan import DEFAULT_PLAN
    from dapp_eval.report.sections import _headlines as H

    h = headlines.headline_figures(synthetic_data, codes=list(headlines.V2_FIGURES)).summary.set_index("code")
    assert not h["headline"].any()
    assert set(headlines.V2_FIGURES) <= set(headlines.REGISTRY)
    assert not set(headlines.V2_FIGURES) & set(H.table_codes(DEFAULT_PLAN))  # page 1 only when the plan asks
    assert set(H.table_codes({"headlines": {"extra": ["utilisation"]}})) - set(H.TABLE) == {"utilisation"}
    with pytest.raises(ValueError, match="unknown figure"):
        H.table_codes({"headlines": {"extra": ["no_such_figure"]}})
    assert h.loc["children_affected", "value"] == truth["children"]["n_distinct_children"]
    ps = truth["partner_support"]
    assert h.loc["partner_support_covers_programme", "value"] == pytest.approx(
        ps["n_covering_episode_among_left"] / ps["n_started_and_left"])
    assert h.loc["under_18_referrals", "value"] == equality.under_18(synthetic_data)["n_under_18"]
    cap = delivery.capacity(synthetic_data).summary
    assert h.loc["utilisation", "value"] == pytest.approx(cap["n_places_filled"].sum() / cap["n_places_offered"].sum())
    for term in ("Equality monitoring", "Proven reoffending", "Utilisation", "Partner support service",
                 "Child protection plan", "Adverse childhood experiences (ACEs)", "Rating of change"):
        assert term in GLOSSARY
    assert np.isfinite(h.loc[list(headlines.V2_FIGURES), "value"].astype(float)).all()


def test_subset_keeps_the_new_tables_of_its_sites_and_period(synthetic_data):
    sub = synthetic_data.subset(sites=["S02"], period=("2024-04-01", "2024-09-30"))
    rid = set(sub.referrals["referral_id"])
    for name in ("children", "partner_support", "feedback"):
        t = getattr(sub, name)
        assert set(t["referral_id"]) <= rid and len(t), name
    cap = sub.capacity
    assert set(cap["site_id"]) == {"S02"}
    assert sorted(cap["quarter_start"].dt.strftime("%Y-%m-%d").unique()) == ["2024-04-01", "2024-07-01"]


def test_plan_puts_a_v2_figure_on_page_one_through_disclosure_control(synthetic_data):
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import _headlines as H

    plan = load_plan({"headlines": {"extra": ["utilisation", "under_18_referrals"]}})
    assert plan.headlines.extra == ("utilisation", "under_18_referrals")
    pub = H.published(Page(Release(synthetic_data, plan), None)).set_index("code")
    assert list(pub.index[-2:]) == ["utilisation", "under_18_referrals"]
    assert pub.loc["under_18_referrals", "hidden"]  # 8 people: a small count of people is suppressed
    cap = delivery.capacity(synthetic_data).summary
    k, n = DisclosureControl().rounded(cap["n_places_filled"].sum()), DisclosureControl().rounded(
        cap["n_places_offered"].sum())
    assert pub.loc["utilisation", "value"] == pytest.approx(k / n)  # recomputed from the published counts
    with pytest.raises(ValueError, match="headlines.extra"):
        load_plan({"headlines": {"extra": "utilisation"}})


def test_reoffending_section_shows_a_supplied_matched_comparison(synthetic_data):
    from dapp_eval.commissioner.comparators import load_comparators
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.sections import reoffending as section

    comp = load_comparators({"comparators": [{"figure": "proven_reoffending_rate", "value": "21%",
                                              "source": "Justice Data Lab matched comparison (example)",
                                              "year": 2024}]})
    blocks = section.build(Page(Release(synthetic_data, load_plan(None), comparators=comp), None))["blocks"]
    text = " ".join(str(b.get("text", "")) for b in blocks)
    assert "Comparison: 21% (Justice Data Lab matched comparison (example), 2024)" in text
    assert any(b["kind"] == "table" for b in blocks)
    plain = section.build(Page(Release(synthetic_data, load_plan(None)), None))["blocks"]
    assert "No matched comparison group was supplied" in " ".join(str(b.get("text", "")) for b in plain)


V2_CALLS = {
    "equality.profile": (lambda d: equality.profile(d), lambda d: len(d.referrals)),
    "families.children": (lambda d: families.children(d), lambda d: len(d.children)),
    "families.partner_support": (lambda d: families.partner_support(d), lambda d: len(d.partner_support)),
    "reoffending.proven_reoffending": (lambda d: reoffending.proven_reoffending(d),
                                       lambda d: d.referrals["participant_id"].nunique()),
    "delivery.capacity": (lambda d: delivery.capacity(d), lambda d: len(d.capacity)),
    "delivery.feedback": (lambda d: delivery.feedback(d), lambda d: len(d.feedback)),
    "delivery.waiting_list": (lambda d: delivery.waiting_list(d), lambda d: len(d.referrals)),
}


@pytest.mark.parametrize("name", list(V2_CALLS))
def test_row_accounting_of_the_v2_analyses(name, synthetic_data):
    from test_accounting import check_meta

    run, population = V2_CALLS[name]
    meta = run(synthetic_data).meta
    check_meta(meta)
    assert meta["n_in"] == population(synthetic_data) > 0


def test_every_v2_analysis_is_listed():
    import inspect

    found = set()
    for mod in (equality, families, reoffending, delivery):
        for name in mod.__all__:
            fn = getattr(mod, name)
            if inspect.isfunction(fn) and inspect.signature(fn).return_annotation in ("AnalysisResult",):
                found.add(f"{mod.__name__.split('.')[-1]}.{name}")
    assert found == set(V2_CALLS)


def test_column_map_draft_places_the_v2_tables(tmp_path):
    """`dapp-eval map` on a version-2 export names a file for each new table, with no TODO for them."""
    from dapp_eval.data.mapdraft import draft_map

    for name in TABLES:
        shutil.copy(SYNTHETIC / f"{name}.csv", tmp_path / f"{name}.csv")
    text = draft_map(tmp_path)
    text = text if isinstance(text, str) else str(text)
    for name in V2_TABLES:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{name}:"))
        assert f"'{name}.csv'" in line and "TODO" not in line, line

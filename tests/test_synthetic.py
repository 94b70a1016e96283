"""The synthetic generator: determinism, contract validity, calibration and truth recovery.

The shipped folder ``data_synthetic/`` must equal a fresh generation with the
documented arguments byte for byte, and every funnel conversion must lie
within 5 percentage points of its calibration target in ``truth.json``.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dapp_eval import synthetic
from dapp_eval.data import schema

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data_synthetic"
FILES = [t.filename for t in schema.TABLES.values()] + ["truth.json", "README.md"]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def read_raw(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table as raw text (empty cell -> '')."""
    return {
        name: pd.read_csv(folder / t.filename, dtype=str, keep_default_na=False, na_filter=False)
        for name, t in schema.TABLES.items()
    }


def parse(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Parse raw text tables with the contract's types (independently of dapp_eval.data.io)."""
    out = {}
    for name, df in raw.items():
        t = schema.TABLES[name]
        p = pd.DataFrame(index=df.index)
        for c in t.columns:
            s = df[c.name].mask(df[c.name] == "")
            if c.kind == "date":
                p[c.name] = pd.to_datetime(s, format="%Y-%m-%d")
            elif c.kind in ("int", "float"):
                p[c.name] = pd.to_numeric(s)
            elif c.kind == "bool":
                p[c.name] = s.map({"true": True, "false": False})
            else:
                p[c.name] = s
        out[name] = p
    return out


class Problems(list):
    """The broken contract rules found so far, each as '<rule>: <n> rows'."""

    def check(self, ok, msg):
        n_bad = int((~np.asarray(ok, dtype=bool)).sum())
        if n_bad:
            self.append(f"{msg}: {n_bad} rows")


def check_encoding(folder: Path, bad: Problems) -> None:
    """UTF-8, LF line endings, a final newline."""
    for name, t in schema.TABLES.items():
        text = (folder / t.filename).read_bytes()
        bad.check([b"\r" not in text], f"{name}: CR line ending")
        text.decode("utf-8")
        bad.check([text.endswith(b"\n")], f"{name}: no final newline")


def check_kind(where: str, c, v: pd.Series, bad: Problems) -> None:
    """The filled cells ``v`` of one column have the text form of its kind."""
    if c.kind == "date":
        bad.check(v.str.match(ISO), f"{where}: not ISO")
    elif c.kind == "bool":
        bad.check(v.isin(["true", "false"]), f"{where}: not true/false")
    elif c.kind == "enum":
        bad.check(v.isin(c.values), f"{where}: value not allowed")
    elif c.kind == "set":
        bad.check(v.str.split(";").map(lambda xs: set(xs) <= set(c.values) and len(xs) == len(set(xs))),
                  f"{where}: bad set")
    elif c.kind == "int":
        bad.check(v.str.fullmatch(r"-?\d+"), f"{where}: not a whole number")


def check_range(where: str, c, v: pd.Series, bad: Problems) -> None:
    """Numbers lie within the column's min and max."""
    if c.kind not in ("int", "float") or not len(v):
        return
    x = pd.to_numeric(v)
    if c.min is not None:
        bad.check(x >= c.min, f"{where}: below min")
    if c.max is not None:
        bad.check(x <= c.max, f"{where}: above max")


def check_column(name: str, c, s: pd.Series, bad: Problems) -> None:
    """One column's rules: required, kind, range, unique."""
    where = f"{name}.{c.name}"
    filled = s != ""
    if not c.nullable:
        bad.check(filled, f"{where}: missing required value")
    check_kind(where, c, s[filled], bad)
    check_range(where, c, s[filled], bad)
    if c.unique:
        bad.check(~s.duplicated(), f"{where}: duplicated")


def check_tables(raw: dict[str, pd.DataFrame], bad: Problems) -> None:
    """Per table: column order, every column's rules, the key, the foreign keys."""
    for name, df in raw.items():
        t = schema.TABLES[name]
        bad.check([list(df.columns) == t.names], f"{name}: columns not in schema order")
        for c in t.columns:
            check_column(name, c, df[c.name], bad)
        if t.key:
            bad.check(~df.duplicated(list(t.key)), f"{name}: duplicate key {t.key}")
        for col, other, ocol in t.foreign_keys:
            bad.check(df[col].isin(raw[other][ocol]), f"{name}.{col}: orphan")


def check_sites(s: pd.DataFrame, bad: Problems) -> None:
    bad.check(s["period_start"] <= s["period_end"], "sites: period_start > period_end")
    bad.check(s["data_extract_date"] >= s["period_end"], "sites: extract before period_end")


def check_referral_dates(ref: pd.DataFrame, bad: Problems) -> None:
    """Referral dates in the period, nothing after the extract, the pathway's dates in order."""
    ext = ref["data_extract_date"]
    bad.check(ref["referral_date"] <= ref["period_end"], "referral after period_end")
    for c in ("referral_date", "assessment_date", "start_date", "exit_date"):
        bad.check(ref[c].isna() | (ref[c] <= ext), f"referrals.{c} after extract")
    bad.check(ref["assessment_date"].isna() | (ref["assessment_date"] >= ref["referral_date"]), "assessment < referral")
    bad.check(ref["start_date"].isna() | (ref["start_date"] >= ref["assessment_date"]), "start < assessment")
    bad.check(ref["start_date"].isna() | ref["assessment_outcome"].eq("suitable"), "start without suitable assessment")
    for c in ("referral_date", "assessment_date", "start_date"):
        bad.check(ref["exit_date"].isna() | ref[c].isna() | (ref["exit_date"] >= ref[c]), f"exit_date < {c}")


def check_referral_outcomes(ref: pd.DataFrame, bad: Problems) -> None:
    """Exit reasons and assessment outcomes agree with the dates recorded."""
    bad.check(ref["exit_date"].isna() == ref["exit_reason"].isna(), "exit_date / exit_reason not both or neither")
    reason = ref["exit_reason"]
    bad.check(~reason.eq("unsuitable") | ref["assessment_outcome"].eq("unsuitable"), "unsuitable exit without outcome")
    bad.check(~ref["assessment_outcome"].eq("unsuitable") | ref["start_date"].isna(), "unsuitable with a start")
    bad.check(~reason.isin(schema.STARTED_EXITS) | ref["start_date"].notna(), "started exit without start_date")
    bad.check(~reason.eq("declined_assessment") | ref["assessment_date"].isna(), "declined assessment with a date")
    bad.check(ref["assessment_outcome"].isna() == ref["assessment_date"].isna(), "outcome without assessment date")


def check_sessions(sessions: pd.DataFrame, ref: pd.DataFrame, bad: Problems) -> None:
    """Attended between start and exit (or extract); nothing after extract; start is the first attended."""
    se = sessions.merge(ref[["referral_id", "start_date", "exit_date", "data_extract_date"]], on="referral_id")
    end = se["exit_date"].fillna(se["data_extract_date"])
    att = se["attended"].astype(bool)
    bad.check(~att | ((se["session_date"] >= se["start_date"]) & (se["session_date"] <= end)),
              "attended outside episode")
    bad.check(se["session_date"] <= se["data_extract_date"], "session after extract")
    bad.check(se["start_date"].notna(), "sessions of a referral that never started")
    first_att = se[att].groupby("referral_id")["session_date"].min()
    st = ref.set_index("referral_id")["start_date"].dropna()
    bad.check(first_att.reindex(st.index) == st, "start_date is not the first attended session")


def check_child_tables(d: dict[str, pd.DataFrame], ref: pd.DataFrame, bad: Problems) -> None:
    """Dated child tables never pass the extract date; DASH scores are whole numbers 0-24."""
    ex_by_ref = ref.set_index("referral_id")["data_extract_date"]
    for name, col in (("risk_assessments", "assessment_date"), ("partner_surveys", "survey_date")):
        x = d[name]
        bad.check(x[col] <= x["referral_id"].map(ex_by_ref), f"{name}.{col} after extract")
    ra = d["risk_assessments"]
    bad.check(ra["instrument"].eq("DASH") & ra["score"].between(0, 24) & (ra["score"] % 1 == 0), "DASH out of range")


def check_incidents(inc: pd.DataFrame, ref: pd.DataFrame, bad: Problems) -> None:
    """Incidents within the person's data window; outcomes only on crimes; events hang together."""
    ex_by_p = ref.groupby("participant_id")["data_extract_date"].max()
    from_by_p = ref.groupby("participant_id")["incident_data_from"].min()
    bad.check(inc["incident_date"] <= inc["participant_id"].map(ex_by_p), "incident after extract")
    bad.check(inc["incident_date"] >= inc["participant_id"].map(from_by_p), "incident before incident_data_from")
    bad.check(inc["outcome_date"].isna() | (inc["outcome_date"] <= inc["participant_id"].map(ex_by_p)), "outcome late")
    bad.check(inc["outcome_date"].isna() | inc["incident_type"].eq("da_crime"), "outcome_date on a non-crime")
    ev = inc.groupby("event_id")
    bad.check(ev["incident_date"].nunique() == 1, "one event on several dates")
    bad.check(ev["participant_id"].nunique() == 1, "one event for several people")
    alone = ev["incident_id"].transform("size") == 1
    bad.check(~alone | (inc["event_id"] == inc["incident_id"]), "single-record event id differs from incident id")


def contract_problems(folder: Path) -> list[str]:
    """Check every rule of the data contract with plain pandas; return the broken ones."""
    bad = Problems()
    check_encoding(folder, bad)
    raw = read_raw(folder)
    check_tables(raw, bad)
    d = parse(raw)
    check_sites(d["sites"], bad)
    ref = d["referrals"].merge(d["sites"], on="site_id", how="left", suffixes=("", "_site"))
    check_referral_dates(ref, bad)
    check_referral_outcomes(ref, bad)
    check_sessions(d["sessions"], ref, bad)
    check_child_tables(d, ref, bad)
    check_incidents(d["incidents"], ref, bad)
    return list(bad)


def conversions(referrals: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Funnel conversions derived from case records (events, resolved cases)."""
    reason = referrals["exit_reason"]
    assessed = referrals["assessment_date"].notna()
    declined_a = reason.eq("declined_assessment")
    suitable = referrals["assessment_outcome"].eq("suitable")
    started = referrals["start_date"].notna()
    declined_s = reason.eq("declined_to_start")
    closed = reason.notna()
    return {
        "declined_assessment": (int(declined_a.sum()), int((declined_a | assessed).sum())),
        "unsuitable": (int((assessed & referrals["assessment_outcome"].eq("unsuitable")).sum()), int(assessed.sum())),
        "declined_to_start": (int((suitable & declined_s).sum()), int((suitable & (declined_s | started)).sum())),
        "completed": (int((started & reason.eq("completed")).sum()), int((started & closed).sum())),
    }


@pytest.fixture(scope="module")
def shipped_truth() -> dict:
    if not (SHIPPED / "truth.json").exists():
        pytest.skip("data_synthetic/ has not been generated")
    return json.loads((SHIPPED / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def large():
    """One larger programme (20,000 referrals) shared by the calibration checks."""
    return synthetic.simulate(referrals=20_000, sites=5, seed=11)


# ---------------------------------------------------------------------------
# determinism and the shipped folder
# ---------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    synthetic.generate(a, referrals=400, sites=5, seed=7)
    synthetic.generate(b, referrals=400, sites=5, seed=7)
    assert sorted(p.name for p in a.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = tmp_path / "c"
    synthetic.generate(c, referrals=400, sites=5, seed=8)
    assert (a / "referrals.csv").read_bytes() != (c / "referrals.csv").read_bytes()


def test_shipped_folder_equals_fresh_generation(tmp_path, shipped_truth):
    args = shipped_truth["arguments"]
    assert args == synthetic.DEFAULT_ARGS
    fresh = tmp_path / "fresh"
    synthetic.generate(fresh, **{k: v for k, v in args.items()})
    for name in FILES:
        assert (SHIPPED / name).read_bytes() == (fresh / name).read_bytes(), (
            f"data_synthetic/{name} differs from a fresh `{shipped_truth['command']}`; regenerate it")


def test_generate_returns_the_tables_it_writes(tmp_path):
    out = tmp_path / "x"
    tables = synthetic.generate(out, referrals=150, sites=3, seed=2)
    assert list(tables) == list(schema.TABLE_ORDER)
    for name, df in tables.items():
        assert list(df.columns) == schema.TABLES[name].names
        assert (out / schema.TABLES[name].filename).read_text(encoding="utf-8") == synthetic.table_to_csv(df, name)
    assert synthetic.generate(None, referrals=150, sites=3, seed=2)["referrals"].equals(tables["referrals"])


def test_fast_csv_writer_equals_pandas_writer_byte_for_byte():
    # the column-wise writer must give exactly the bytes of pandas' csv writer, on generated tables and on
    # the awkward cells: -0.0, NaN, missing ints and dates, and text that needs quoting (falls back to pandas)
    tables = synthetic.generate_tables(referrals=400, sites=2, seed=3)
    ra = tables["risk_assessments"].copy()
    ra.loc[ra.index[:3], "score"] = [-0.0, np.nan, 1.0 / 3.0]
    ref = tables["referrals"].copy()
    ref.loc[ref.index[0], "exit_date"] = pd.NaT
    quoted = tables["sites"].copy()
    quoted.loc[0, "site_name"] = 'North, "East"'
    cases = {**tables, "risk_assessments": ra, "referrals": ref}
    for name, df in [*cases.items(), ("sites", quoted)]:
        spec = schema.TABLES[name]
        names = [c.name for c in spec.columns if c.name in df.columns]
        assert synthetic.table_to_csv(df, name) == synthetic._table_to_csv_pandas(df, spec, names), name
    assert synthetic._csv_columns_fast(quoted, schema.TABLES["sites"], list(quoted.columns)) is None
    assert '"North, ""East"""' in synthetic.table_to_csv(quoted, "sites")
    assert ",-0," in synthetic.table_to_csv(ra, "risk_assessments")


# ---------------------------------------------------------------------------
# validity
# ---------------------------------------------------------------------------


def test_shipped_folder_obeys_the_contract(shipped_truth):
    assert contract_problems(SHIPPED) == []


@pytest.mark.parametrize("kwargs", [
    {"referrals": 1, "sites": 1, "seed": 0},
    {"referrals": 60, "sites": 2, "seed": 3},
    {"referrals": 900, "sites": 7, "years": 1, "seed": 5},
    {"referrals": 700, "sites": 4, "years": 3, "seed": 6, "scenario": "no_effect"},
])
def test_other_arguments_obey_the_contract(tmp_path, kwargs):
    synthetic.generate(tmp_path, **kwargs)
    assert contract_problems(tmp_path) == []
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["n_rows"]["sites"] == kwargs["sites"]
    assert truth["n_rows"]["referrals"] == kwargs["referrals"]


def test_loader_accepts_it_with_the_same_types(tmp_path):
    io = importlib.import_module("dapp_eval.data.io")
    if not hasattr(io, "load_programme"):
        pytest.skip("dapp_eval.data.io.load_programme not available yet")
    prog = synthetic.simulate(referrals=500, sites=5, seed=9)
    synthetic.write_programme(prog.tables, tmp_path, truth=prog.truth)
    data = io.load_programme(tmp_path)
    for name, df in prog.tables.items():
        pd.testing.assert_frame_equal(df, getattr(data, name)[df.columns])


def test_bad_arguments_are_refused():
    for kwargs in ({"referrals": 0}, {"sites": 0}, {"years": 0}, {"seed": -1}, {"referrals": 2.5},
                   {"scenario": "utopia"}):
        with pytest.raises(ValueError):
            synthetic.simulate(**kwargs)


# ---------------------------------------------------------------------------
# calibration of the shipped data
# ---------------------------------------------------------------------------


def test_each_funnel_conversion_within_5pp_of_its_target(shipped_truth):
    ref = parse(read_raw(SHIPPED))["referrals"]
    conv = conversions(ref)
    targets = shipped_truth["funnel_targets"]
    assert set(targets) == set(conv)
    for key, (x, n) in conv.items():
        assert n >= 300, key
        assert abs(x / n - targets[key]) < 0.05, (key, x / n, targets[key])
        assert (x, n) == (shipped_truth["funnel_achieved"][key]["n_event"], shipped_truth["funnel_achieved"][key]["n"])


def test_shipped_sites_are_the_documented_models():
    s = pd.read_csv(SHIPPED / "sites.csv")
    assert s["programme_model"].tolist() == ["group", "group", "group", "group", "one_to_one"]
    assert s["planned_sessions"].tolist() == [24, 24, 10, 10, 12]
    assert s["site_name"].str.endswith("(synthetic)").all()
    assert s["annual_cost_gbp"].between(20_000, 100_000).all()
    assert (s["period_start"] == "2023-04-01").all() and (s["period_end"] == "2025-03-31").all()
    assert (s["data_extract_date"] == "2025-04-30").all() and (s["incident_data_from"] == "2021-04-01").all()


def test_truth_json_is_complete_and_consistent(shipped_truth):
    t = shipped_truth
    assert t["seed"] == 1 and t["scenario"] == "default"
    assert t["generator_version"] == synthetic.GENERATOR_VERSION
    assert t["command"] == "dapp-eval synth --out data_synthetic --referrals 2000 --sites 5 --seed 1"
    for name in schema.TABLE_ORDER:
        with open(SHIPPED / schema.TABLES[name].filename, encoding="utf-8") as fh:
            assert sum(1 for _ in fh) - 1 == t["n_rows"][name], name
    assert set(t["dropout_log_hr"]) == {"age_per_10y", "unemployed", "substance_misuse",
                                        "prior_da_police_contact", "wait_per_30d"}
    assert set(t["dropout_covariate_coding"]) == set(t["dropout_log_hr"])
    assert t["dropout_log_hr"]["age_per_10y"] < 0 < t["dropout_log_hr"]["wait_per_30d"]
    for v in t["funnel_targets"].values():
        assert 0 < v < 1
    ps = t["partner_surveys"]
    for key in ("prevalence_completer", "prevalence_non_completer", "prevalence_all_partners",
                "prevalence_respondents_expected"):
        assert set(ps[key]) == set(schema.SURVEY_BEHAVIOURS)
        for item, waves in ps[key].items():
            assert list(waves) == list(schema.WAVES)
            assert waves["T4"] <= waves["T1"], (key, item)
    for g in ("completer", "non_completer"):
        for w, probs in ps["feels_safe_distribution_1_to_5"][g].items():
            # truth.json rounds each of the 5 probabilities to 6 decimals: the sum is within 5 x 5e-7
            assert abs(sum(probs) - 1) < 3e-6, (g, w)
    rr = t["incidents"]["true_rate_ratio_after_exit_vs_12m_before_referral"]
    assert rr["completed"] < rr["dropped_out"] < 1
    assert t["risk"]["assumed_observed_sd"] == 5.0 and t["risk"]["assumed_reliability"] == 0.85
    # truth.json rounds to 6 decimals (5e-7); 1e-5 is generous
    assert abs(t["risk"]["reliable_change_index_threshold"] - 1.96 * np.sqrt(2) * 5 * np.sqrt(0.15)) < 1e-5


def test_readme_is_a_complete_data_dictionary(shipped_truth):
    text = (SHIPPED / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text
    assert shipped_truth["command"] in text
    for name, t in schema.TABLES.items():
        assert f"### {t.filename}" in text
        section = text.split(f"### {t.filename}")[1].split("###")[0]
        for c in t.columns:
            assert f"| {c.name} |" in section, (name, c.name)


# ---------------------------------------------------------------------------
# calibration and truth recovery on a larger sample
# ---------------------------------------------------------------------------


def test_people_and_partners_match_the_calibration(large):
    r = large.tables["referrals"]
    t = large.truth
    assert abs(r["gender"].eq("female").mean() - 0.06) < 0.01
    assert 0.60 <= r["referral_source"].eq("childrens_social_care").mean() <= 0.70
    assert abs(t["repeat_referral_share_realised"] - 0.08) < 0.015
    # truth.json rounds to 6 decimals (error <= 5e-7)
    assert 1 - r["participant_id"].nunique() / len(r) == pytest.approx(t["repeat_referral_share_realised"], abs=1e-6)
    assert 31 <= r["age"].median() <= 35 and r["age"].min() in (16, 17) and r["age"].max() <= 70
    assert abs(r["relationship_to_victim"].eq("partner").mean() - 0.77) < 0.02
    assert abs(r["prior_da_police_contact"].mean() - 0.5) < 0.02
    assert abs(r["substance_misuse"].mean() - 0.3) < 0.02
    starters = r.loc[r["start_date"].notna(), "referral_id"]
    pa = large.tables["partners"]
    assert abs(starters.isin(pa["referral_id"]).mean() - 0.90) < 0.02
    assert pa.groupby("referral_id").size().max() == 2
    assert pa["gender"].eq("male").sum() > 0 and pa.groupby("partner_id")["referral_id"].nunique().max() >= 2
    # repeat referrals are later than the person's first
    first = r.groupby("participant_id")["referral_date"].transform("min")
    rep = r[r.duplicated("participant_id")]
    assert (rep["referral_date"] > first[rep.index]).all()


def test_waiting_grows_only_where_capacity_is_short(large):
    r = large.tables["referrals"]
    load = {s["site_id"]: s["load_factor"] for s in large.truth["sites"]}
    r = r[r["start_date"].notna()].assign(wait=lambda d: (d["start_date"] - d["assessment_date"]).dt.days)
    early = r[r["assessment_date"] < "2023-10-01"].groupby("site_id")["wait"].mean()
    late = r[r["assessment_date"].between("2024-10-01", "2025-01-31")].groupby("site_id")["wait"].mean()
    for site, lf in load.items():
        if lf > 1.05:
            assert late[site] > early[site] + 20, site
        elif lf < 1:
            assert abs(late[site] - early[site]) < 10, site


def test_dropout_cox_recovers_true_log_hazard_ratios(large):
    lifelines = pytest.importorskip("lifelines")
    r = large.tables["referrals"]
    s = large.tables["sessions"]
    extract = large.tables["sites"]["data_extract_date"].max()
    last = s[s["attended"].astype(bool)].groupby("referral_id")["session_date"].max()
    st = r[r["start_date"].notna()].set_index("referral_id")
    # starters whose ending is known by design (longest programme + closing lag < 250 days)
    st = st[st["start_date"] <= extract - pd.Timedelta(days=250)]
    d = pd.DataFrame({
        "T": (last.reindex(st.index) - st["start_date"]).dt.days,
        "E": st["exit_reason"].eq("dropped_out").astype(int),
        "age_per_10y": st["age"].astype(float) / 10,
        "unemployed": st["employment"].eq("unemployed").astype(float),
        "substance_misuse": st["substance_misuse"].astype(float),
        "prior_da_police_contact": st["prior_da_police_contact"].astype(float),
        "wait_per_30d": (st["start_date"] - st["assessment_date"]).dt.days / 30,
    }).dropna()
    assert st["exit_reason"].notna().all()  # nothing open in this cohort
    assert d["E"].sum() > 600
    fit = lifelines.CoxPHFitter().fit(d, "T", "E")
    for term, true in large.truth["dropout_log_hr"].items():
        est, se = fit.params_[term], fit.standard_errors_[term]
        assert abs(est - true) < 3 * se, (term, est, true, se)


def test_completion_and_exit_rules(large):
    r = large.tables["referrals"]
    s = large.tables["sessions"]
    sites = large.tables["sites"].set_index("site_id")["planned_sessions"]
    planned = r["planned_sessions"].fillna(r["site_id"].map(sites)).astype(int)
    comp = r[r["exit_reason"].eq("completed")]
    last_att = s[s["attended"].astype(bool)].groupby("referral_id")["session_number"].max()
    assert (last_att[comp["referral_id"]].to_numpy() == planned[comp.index].to_numpy()).all()
    assert (s.merge(r[["referral_id"]].assign(p=planned), on="referral_id").eval("session_number <= p")).all()
    closed = r[r["start_date"].notna() & r["exit_reason"].notna()]
    last_day = s[s["attended"].astype(bool)].groupby("referral_id")["session_date"].max()
    lag = (closed["exit_date"] - last_day[closed["referral_id"]].to_numpy()).dt.days
    assert lag.between(0, 42).all()
    assert r["exit_reason"].isna().sum() > 0  # open cases at the extract date
    assert set(r["exit_reason"].dropna()) == set(schema.EXIT_REASONS)
    # one-to-one site overrides planned sessions for suitable referrals only
    o2o = large.tables["sites"].query("programme_model == 'one_to_one'")["site_id"]
    ov = r["planned_sessions"].notna()
    assert (r.loc[ov, "site_id"].isin(o2o)).all() and (r.loc[ov, "assessment_outcome"] == "suitable").all()


def test_risk_scores_match_the_truth(large):
    ra = large.tables["risk_assessments"]
    t = large.truth["risk"]
    intake = ra.query("timepoint == 'intake' and informant == 'practitioner'")["score"]
    exp = t["intake_band_shares_expected"]
    assert abs((intake < 10).mean() - exp["standard_below_10"]) < 0.02
    assert abs((intake >= 14).mean() - exp["high_14_plus"]) < 0.02
    real = t["realised_intake_to_exit_practitioner"]
    exp_obs = t["expected_observed_intake_to_exit"]
    assert abs(real["completed"]["mean_change"] - t["true_mean_change"]["completed"]) < 0.4
    for g, tol_mean, tol_share in (("completed", 0.15, 0.02), ("dropped_out", 0.35, 0.05)):
        assert abs(real[g]["mean_change"] - exp_obs[g]["mean_change"]) < tol_mean, g
        assert abs(real[g]["share_reliable_improvement"] - exp_obs[g]["share_reliable_improvement"]) < tol_share, g
    assert exp_obs["completed"]["share_reliable_improvement"] < t["expected_share_reliable_improvement_unrounded"][
        "completed"]  # whole-number scores need a change of 6 points to pass 5.37
    assert set(ra["informant"]) == {"practitioner", "partner"}
    assert set(ra["timepoint"]) == set(schema.TIMEPOINTS)


def test_partner_surveys_match_true_prevalences(large):
    sv = large.tables["partner_surveys"]
    t = large.truth["partner_surveys"]
    for item in schema.SURVEY_BEHAVIOURS:
        by_wave = sv.groupby("wave")[item].mean()
        for w in schema.WAVES:
            assert abs(by_wave[w] - t["prevalence_respondents_expected"][item][w]) < 0.03, (item, w)
    fs = sv.groupby("wave")["feels_safe"].apply(lambda x: x.value_counts(normalize=True))
    assert abs(fs[("T1", 1)] - 0.32) < 0.03 and abs(fs[("T1", 5)] - 0.08) < 0.03
    n = sv.groupby("wave").size()
    assert n["T1"] > n["T2"] > n["T3"] > n["T4"]
    assert 0.01 < sv["coercive_control"].isna().mean() < 0.03


def test_incidents_show_regression_to_the_mean(large):
    inc = large.tables["incidents"]
    r = large.tables["referrals"]
    first = r.drop_duplicates("participant_id")  # first episode, people with one episode only
    single = r.groupby("participant_id").size().eq(1)
    first = first[first["participant_id"].map(single) & first["exit_reason"].eq("completed")]
    ext = large.tables["sites"]["data_extract_date"].max()
    first = first[first["exit_date"] <= ext - pd.Timedelta(days=365)]
    calls = inc[inc["incident_type"].eq("police_callout")].merge(
        first[["participant_id", "referral_date", "exit_date"]], on="participant_id")
    before = calls["incident_date"].between(calls["referral_date"] - pd.Timedelta(days=365),
                                            calls["referral_date"] - pd.Timedelta(days=1)).sum()
    after = calls["incident_date"].between(calls["exit_date"] + pd.Timedelta(days=1),
                                           calls["exit_date"] + pd.Timedelta(days=365)).sum()
    true_rr = large.truth["incidents"]["true_rate_ratio_after_exit_vs_12m_before_referral"]["completed"]
    assert before > 200
    assert abs(np.log(after / before) - np.log(true_rr)) < 3 * np.sqrt(1 / after + 1 / before)
    # a call-out and the crime/arrest it led to share its event id
    grp = inc.groupby("event_id")["incident_type"].agg(lambda x: tuple(sorted(x)))
    assert grp.map(len).max() == 3 and (grp[grp.map(len) > 1].map(lambda x: "police_callout" in x)).all()


def test_no_effect_scenario_shares_people_and_funnel():
    a = synthetic.simulate(referrals=600, seed=4)
    b = synthetic.simulate(referrals=600, seed=4, scenario="no_effect")
    pd.testing.assert_frame_equal(a.tables["referrals"], b.tables["referrals"])
    pd.testing.assert_frame_equal(a.tables["sessions"], b.tables["sessions"])
    assert len(set(b.truth["risk"]["true_mean_change"].values())) == 1
    # the generator's parameter echoed back: approx's default rel=1e-6
    assert b.truth["incidents"]["true_rate_ratio_after_exit_vs_12m_before_referral"]["completed"] == pytest.approx(0.4)

"""Degenerate but valid data (issue 7): a clear message or a valid result, never a crash.

Each case is a valid programme folder (it loads without a DataValidationError)
that an evaluator will meet in practice.  Every public analysis of
``test_accounting.CALLS`` runs on it and must either return an
:class:`AnalysisResult` whose row accounting adds up and whose table is not
all NaN without a stated reason, or raise :class:`AnalysisError` whose message
says in plain words what is missing.  Which analyses raise, and what their
message must mention, is pinned per case in :data:`EXPECTED_ERRORS`; every
other analysis must return a result.  The commissioner report must render for
every case, with "not available" and the reason where a section cannot be
computed.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import write_folder
from test_accounting import CALLS, check_meta

from dapp_eval import synthetic
from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.data.schema import V2_TABLES
from dapp_eval.errors import AnalysisError
from dapp_eval.report import ReportBuilder
from dapp_eval.results import AnalysisResult

matplotlib.use("Agg")

OPTIONAL = ("sessions", "risk_assessments", "partners", "partner_surveys", "incidents")


# ---------------------------------------------------------------------------
# the cases: small generated folders edited with pandas
# ---------------------------------------------------------------------------


def _base(referrals: int = 150, sites: int = 2, seed: int = 3) -> dict[str, pd.DataFrame]:
    return synthetic.generate_tables(referrals=referrals, sites=sites, seed=seed)


def _keep_referrals(t: dict, mask: pd.Series) -> dict:
    """Keep some referrals; child tables follow (sessions etc. by referral, incidents by person)."""
    t = dict(t)
    ref = t["referrals"][mask].reset_index(drop=True)
    t["referrals"] = ref
    for name in ("sessions", "risk_assessments", "partners", "partner_surveys"):
        t[name] = t[name][t[name]["referral_id"].isin(ref["referral_id"])].reset_index(drop=True)
    t["incidents"] = t["incidents"][t["incidents"]["participant_id"].isin(ref["participant_id"])].reset_index(drop=True)
    t["sites"] = t["sites"][t["sites"]["site_id"].isin(ref["site_id"])].reset_index(drop=True)
    for name in ("children", "partner_support", "feedback"):  # contract version 2
        t[name] = t[name][t[name]["referral_id"].isin(ref["referral_id"])].reset_index(drop=True)
    t["capacity"] = t["capacity"][t["capacity"]["site_id"].isin(t["sites"]["site_id"])].reset_index(drop=True)
    return t


def site_without_completions(t):
    """Two sites; at S01 every completion became a dropout."""
    ref = t["referrals"].copy()
    ref.loc[(ref["site_id"] == "S01") & (ref["exit_reason"] == "completed"), "exit_reason"] = "dropped_out"
    return {**t, "referrals": ref}


def no_partner_tables(t):
    """partners.csv and partner_surveys.csv deleted."""
    return {k: v for k, v in t.items() if k not in ("partners", "partner_surveys")}


def single_participant(t):
    """One person, one referral, who started and completed."""
    ref = t["referrals"]
    return _keep_referrals(t, ref.index == ref.index[ref["exit_reason"] == "completed"][0])


def all_censored(t):
    """Nobody has exited: every exit is blanked (exit-timepoint risk scores go with them)."""
    ref = t["referrals"].copy()
    ref["exit_reason"] = pd.NA
    ref["exit_date"] = pd.NaT
    ref.loc[ref["assessment_outcome"] == "unsuitable", "assessment_outcome"] = "suitable"
    ra = t["risk_assessments"]
    return {**t, "referrals": ref, "risk_assessments": ra[ra["timepoint"] != "exit"].reset_index(drop=True)}


def intake_only(t):
    """risk_assessments holds intake scores only."""
    ra = t["risk_assessments"]
    return {**t, "risk_assessments": ra[ra["timepoint"] == "intake"].reset_index(drop=True)}


def just_started(t):
    """Extract date 11 days after the period started: 4 referrals, one assessed, nobody started."""
    t = _keep_referrals(t, t["referrals"]["site_id"] == "S01")
    t = _keep_referrals(t, pd.Series(np.arange(len(t["referrals"])) < 4))
    sites = t["sites"].copy()
    sites["period_start"] = pd.Timestamp("2024-04-01")
    sites["period_end"] = sites["data_extract_date"] = pd.Timestamp("2024-04-12")
    ref = t["referrals"].copy()
    ref["referral_date"] = pd.to_datetime(["2024-04-02", "2024-04-03", "2024-04-08", "2024-04-10"])
    for c in ("assessment_date", "start_date", "exit_date"):
        ref[c] = pd.NaT
    for c in ("assessment_outcome", "exit_reason"):
        ref[c] = pd.NA
    ref.loc[0, ["assessment_date", "assessment_outcome"]] = [pd.Timestamp("2024-04-09"), "suitable"]
    ra = t["risk_assessments"]
    ra = ra[ra["timepoint"] == "intake"].copy()
    ra["assessment_date"] = ra["referral_id"].map(ref.set_index("referral_id")["referral_date"])
    # records dated after the extract date are refused by the loader (issue 17): keep the incidents before it
    inc = t["incidents"]
    inc = inc[inc["incident_date"] <= pd.Timestamp("2024-04-12")].copy()
    inc.loc[inc["outcome_date"] > pd.Timestamp("2024-04-12"), "outcome_date"] = pd.NaT
    return {**t, "sites": sites, "referrals": ref, "sessions": t["sessions"].iloc[0:0],
            "partner_surveys": t["partner_surveys"].iloc[0:0], "risk_assessments": ra.reset_index(drop=True),
            "incidents": inc.reset_index(drop=True),
            # contract version 2: no one has been supported, rated or counted in a quarter yet
            "partner_support": t["partner_support"].iloc[0:0], "feedback": t["feedback"].iloc[0:0],
            "capacity": t["capacity"].iloc[0:0]}


def no_incidents(t):
    """incidents.csv deleted."""
    return {k: v for k, v in t.items() if k != "incidents"}


def no_sessions(t):
    """sessions.csv deleted."""
    return {k: v for k, v in t.items() if k != "sessions"}


def empty_tables(t):
    """Every optional table present with its header only (sessions: emptied after loading, see _Folders)."""
    return {**t, **{k: t[k].iloc[0:0] for k in (*OPTIONAL, *V2_TABLES) if k != "sessions"}}


BUILDERS = {f.__name__: f for f in (site_without_completions, no_partner_tables, single_participant, all_censored,
                                    intake_only, just_started, no_incidents, no_sessions, empty_tables)}
#: case -> sites whose own report is also rendered (the report restricted to that site)
SITE_REPORTS = {"site_without_completions": ["S01"]}
CASES = [*BUILDERS, "site_without_completions_alone", "mini", "tiny"]


class _Folders:
    """Builds each case's folder once per module and loads it."""

    def __init__(self, root):
        self.root, self.cache = root, {}

    def folder(self, case: str):
        path = self.root / case
        if not path.exists():
            if case == "mini":  # tests/conftest.py's hand-made folder
                write_folder(path)
            elif case == "tiny":  # ten referrals at two sites
                synthetic.generate(path, referrals=10, sites=2, seed=1)
            else:
                synthetic.write_programme(BUILDERS[case](_base()), path, readme=False)
        return path

    def __call__(self, case: str):
        if case not in self.cache:
            if case == "site_without_completions_alone":
                self.cache[case] = self("site_without_completions").subset(sites=["S01"])
            elif case == "empty_tables":
                # the loader refuses a header-only sessions.csv beside started referrals (issue 17); the
                # analyses must still cope with an empty attendance log, so it is emptied in memory
                data = load_programme(self.folder(case))
                self.cache[case] = dataclasses.replace(data, sessions=data.sessions.iloc[0:0])
            else:
                self.cache[case] = load_programme(self.folder(case))
        return self.cache[case]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return _Folders(tmp_path_factory.mktemp("degenerate"))


def test_cases_are_what_they_claim(cases):
    d = cases("site_without_completions")
    done = d.referrals.groupby("site_id")["exit_reason"].apply(lambda s: int((s == "completed").sum()))
    assert done["S01"] == 0 and done["S02"] > 10
    assert cases("site_without_completions_alone").sites["site_id"].tolist() == ["S01"]
    d = cases("no_partner_tables")
    assert d.partners is None and d.partner_surveys is None and d.sessions is not None
    d = cases("single_participant")
    assert len(d.referrals) == 1 and d.referrals["exit_reason"].iloc[0] == "completed" and len(d.sessions) > 0
    d = cases("all_censored")
    assert d.referrals["exit_reason"].isna().all() and d.referrals["start_date"].notna().sum() > 50
    assert set(cases("intake_only").risk_assessments["timepoint"]) == {"intake"}
    d = cases("just_started")
    assert len(d.referrals) == 4 and d.referrals["start_date"].isna().all() and len(d.sessions) == 0
    assert (d.sites["data_extract_date"] - d.sites["period_start"]).dt.days.max() == 11
    assert cases("no_incidents").incidents is None and cases("no_sessions").sessions is None
    assert all(len(getattr(cases("empty_tables"), k)) == 0 for k in OPTIONAL)
    assert len(cases("mini").referrals) == 5 and len(cases("tiny").referrals) == 10


# ---------------------------------------------------------------------------
# what each case must give
# ---------------------------------------------------------------------------

_PARTNERS = {name: r"needs partner_surveys\.csv" for name in (
    "safety.prevalence", "safety.paired_change", "safety.change_views", "safety.feeling_safe",
    "safety.space_for_action")} | {name: r"needs partners\.csv" for name in (
        "safety.wave_model", "safety.response_rates", "safety.partner_support")}
_INCIDENTS = {name: r"needs incidents\.csv" for name in CALLS
              if name.startswith("followup.") or name == "compare.weighted_comparison"}
_NO_SURVEYS = {name: r"partner_surveys\.csv has no rows" for name in (
    "safety.prevalence", "safety.change_views", "safety.feeling_safe", "safety.space_for_action")} | {
    "safety.paired_change": r"no \(ex-\)partner answered both T1 and T4",
    "safety.wave_model": r"not enough answers to physical_violence",
    "safety.response_rates": r"no \(ex-\)partner was due to answer a survey"}
_NO_EXIT_SCORE = {name: r"no scores at timepoint 'exit'" for name in (
    "risk.change", "risk.band_transitions", "risk.missing_exit")}
_ONE_TIMEPOINT = {name: r"needs scores at two or more timepoints" for name in (
    "risk.trajectory", "risk.high_risk_trajectory")}
_CENSORED = {name: r"all \d+ started episodes are censored" for name in (
    "attrition.cumulative_incidence", "attrition.completion_rate", "attrition.retention_km",
    "attrition.compare_groups", "attrition.rmst")}
_NOT_STARTED = r"no one in the follow-up population \('started'\) \(4 people referred; never started the programme: 4\)"

#: case -> {analysis: regex its AnalysisError message must match}; every analysis not listed must return
EXPECTED_ERRORS: dict[str, dict[str, str]] = {
    "site_without_completions": {},
    "site_without_completions_alone": {"attrition.compare_groups": r"only one site_id"},
    "no_partner_tables": _PARTNERS,
    "single_participant": {
        "attrition.dropout_cox": r"no covariate varies", "attrition.fine_gray": r"no covariate varies",
        "attrition.compare_groups": r"only one site_id",
        "risk.trajectory": r"too few scores for the mixed model: \d DASH \(practitioner\) scores from 1 referral",
        "risk.high_risk_trajectory": r"too few scores for the GEE: .* in 1 referral_id cluster",
        "risk.missing_exit": r"only 1 referral\(s\) in the population have an exit score",
        "safety.paired_change": r"no \(ex-\)partner answered both T1 and T4",
        "safety.change_views": r"no change from T1 to T4 can be estimated",
        "followup.matched_comparison": r"no one of the 1 eligible people in the programme cohort has a comparison "
                                       r"match within the caliper",
    },
    "all_censored": {
        **_CENSORED, **_NO_EXIT_SCORE,
        "funnel.baseline_table": r"nobody who started has completed or left yet",
        "attrition.dropout_cox": r"no 'dropped_out' exits", "attrition.fine_gray": r"no 'dropped_out' exits",
        "followup.before_after[commissioner]": r"no one is eligible .*no exit date yet \(still attending\)",
        "followup.repeat_marac": r"no one is eligible .*no exit date yet \(still attending\)",
        "followup.time_to_incident": r"no one has left the programme",
        "followup.recurrent_contacts": r"no one has left the programme",
        "followup.compare_completers": r"no one who completed or left is eligible",
    },
    "intake_only": {**_NO_EXIT_SCORE, **_ONE_TIMEPOINT},
    "just_started": {
        **_NO_EXIT_SCORE, **_ONE_TIMEPOINT, **_NO_SURVEYS,
        "funnel.attendance": r"no referral has a scheduled session in sessions\.csv \(of 4 referrals, 0 started\)",
        "funnel.baseline_table": r"nobody who started has completed or left yet",
        "attrition.cumulative_incidence": r"no started episodes", "attrition.completion_rate": r"no started episodes",
        "attrition.retention_km": r"no started episodes", "attrition.dropout_cox": r"no started episodes",
        "attrition.fine_gray": r"no started episodes", "attrition.rmst": r"no started episodes",
        "attrition.compare_groups": r"only one site_id",
        **{name: _NOT_STARTED for name in CALLS if name.startswith("followup.")},
        "followup.time_to_incident": r"no one has left the programme",
        "followup.recurrent_contacts": r"no one has left the programme",
        "compare.weighted_comparison": _NOT_STARTED,
        "compare.site_funnel": r"funnel plot needs at least one",
    },
    "no_incidents": _INCIDENTS,
    "no_sessions": {"funnel.attendance": r"needs sessions\.csv"},
    "empty_tables": {
        **_NO_SURVEYS,
        "funnel.attendance": r"no referral has a scheduled session",
        **{name: r"no DASH scores with informant 'practitioner'" for name in CALLS if name.startswith("risk.")},
    },
    "mini": {
        "attrition.dropout_cox": r"too few started episodes with complete covariates \(2\) for a regression on 4",
        "attrition.fine_gray": r"too few started episodes with complete covariates \(2\) for a regression on 4",
        "attrition.compare_groups": r"only one site_id",
        "risk.missing_exit": r"only 1 referral\(s\) in the population have an exit score",
        "safety.paired_change": r"answered T1 only: 1; answered T4 only: 0",
        "safety.change_views": r"1 survey\(s\) answered at T1 and 0 at T4",
        "followup.before_after[aligned]": r"no one is eligible .*not yet eligible",
        "followup.compare_completers": r"no one who completed or left is eligible",
    },
    "tiny": {"risk.missing_exit": r"too few referrals with an exit score",
             "attrition.dropout_cox": r"the dropout model cannot be fitted: \d+ 'dropped_out' exits"},
}

#: (case, analysis) that still crash, with where the fix belongs; strict, so a fix turns them into failures
KNOWN_CRASHES: dict[tuple[str, str], str] = {}  # (case, analysis) -> why; empty: every crash is fixed

_INTERNAL = re.compile(r"Traceback|<function|<object|array\(|dtype\(|Series\(|DataFrame\(|\bnan\b|KeyError|IndexError")


def _explained(res: AnalysisResult) -> bool:
    """A table that is empty or all NaN must say why (meta note, or a note / status / median_reached column)."""
    s = res.summary
    if "estimate" in s:
        cols = ["estimate"]
    else:
        cols = [c for c in s.columns if pd.api.types.is_float_dtype(s[c]) and c != "n" and not c.startswith("n_")]
    if len(s) and not (cols and s[cols].isna().all().all()):
        return True
    if str(res.meta.get("note", "")).strip():
        return True
    return len(s) > 0 and any(c in s for c in ("note", "status", "median_reached"))


def _outcome(name: str, data):
    """('ok', result) or ('error', message); anything else propagates (a crash)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", CALLS[name][0](data)
    except AnalysisError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("case", CASES)
def test_every_analysis_gives_a_result_or_a_plain_message(cases, case):
    data = cases(case)
    expected = EXPECTED_ERRORS[case]
    assert set(expected) <= set(CALLS)
    problems = []
    for name in CALLS:
        if (case, name) in KNOWN_CRASHES:
            continue
        kind, out = _outcome(name, data)
        if kind == "error":
            if name not in expected:
                problems.append(f"{name}: unexpected AnalysisError {out!r}")
            elif not re.search(expected[name], out):
                problems.append(f"{name}: message {out!r} does not match {expected[name]!r}")
            elif len(out.split()) < 5 or _INTERNAL.search(out):
                problems.append(f"{name}: message is not plain words: {out!r}")
            continue
        if name in expected:
            problems.append(f"{name}: returned a result, expected AnalysisError matching {expected[name]!r}")
            continue
        try:
            check_meta(out.meta)
        except AssertionError as exc:
            problems.append(f"{name}: row accounting: {exc}")
        if not _explained(out):
            problems.append(f"{name}: a table that is empty or all NaN, with no note saying why")
    assert not problems, f"{case}:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------------------
# the commissioner report renders, with reasons for what it cannot show
# ---------------------------------------------------------------------------

_FEW_STARTED = r"^fewer than 10 people started the programme: too few to publish this"
#: case -> [(section or sub-section title, regex of the reason)] that the page must show as "not available"
NOT_AVAILABLE = {
    "no_partner_tables": [("Partner surveys", r"needs partner_surveys\.csv")],
    # no pairs is shown as a few pairs are (the note that too few answered both), never "no one answered both"
    "single_participant": [("Mixed model of all timepoints", r"too few scores for the mixed model")],
    "all_censored": [("Cumulative incidence", r"all \d+ started episodes are censored"),
                     ("Risk change", r"no scores at timepoint"),
                     ("Follow-up", r"no one is eligible for the before/after comparison yet")],
    "intake_only": [("Risk change", r"no scores at timepoint")],
    # fewer than the threshold started: the sections about starters are one sentence, for 0 and for 9 alike
    "just_started": [("Retention and attrition", _FEW_STARTED),
                     ("Attendance and baseline profile of the people who started", _FEW_STARTED),
                     ("Partner surveys", r"partner_surveys\.csv has no rows"),
                     ("Follow-up", _FEW_STARTED)],
    "no_incidents": [("Follow-up", r"needs incidents\.csv")],
    "no_sessions": [("Attendance", r"needs sessions\.csv")],
    "empty_tables": [("Risk change", r"no DASH scores"), ("Attendance", r"no referral has a scheduled session")],
    # one sentence whatever the reason (a13: the model's own reason printed '(4)' episodes at a site shown '<5')
    "mini": [("Retention and attrition", _FEW_STARTED)],
}
REPORT_CASES = [c for c in CASES if c not in ("site_without_completions_alone", "tiny")]  # tiny: below


def _visible_text(page: str) -> str:
    """The page without embedded data (figures, CSV downloads) and tags, entities unescaped."""
    import html

    page = re.sub(r'(src|href)="data:[^"]*"', "", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize("case", REPORT_CASES)
def test_report_renders_with_reasons(cases, case):
    import matplotlib.pyplot as plt

    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.render import render_pages

    release = Release(cases(case), load_plan())  # one release for its pages, as `dapp-eval report` renders them
    for site in [None, *SITE_REPORTS.get(case, [])]:
        page = "".join(render_pages(Page(release, site)))  # the report and its technical annex
        plt.close("all")
        text = _visible_text(page)
        for title in ("At a glance", "Engagement", "Retention and attrition", "Risk reduction", "Methods and caveats",
                      "Appendix: data quality"):
            assert f"<h2>{title}" in page, (case, site, title)
        for what, why in NOT_AVAILABLE.get(case, []):
            m = re.search(re.escape(f"{what}: not available.") + r"\s*([^\n]*)", text)
            assert m, f"{case}: '{what}' is not shown as not available"
            assert re.search(why, m.group(1)), f"{case}: reason for '{what}' is {m.group(1)[:200]!r}"
        assert not re.search(r"(?<![A-Za-z])nan(?![A-Za-z])", text, flags=re.I), \
            f"{case}: 'nan' printed in the report: " + re.search(r".{80}(?<![A-Za-z])nan(?![A-Za-z]).{40}", text,
                                                                 flags=re.I | re.S).group(0)


def test_report_survives_a_model_that_cannot_be_fitted(cases, monkeypatch):
    """On ten referrals the Cox model cannot be fitted; the report says so and goes on."""
    import matplotlib.pyplot as plt

    from dapp_eval.report.context import Page

    # its 4 starters make the sections about starters one sentence (Page.few_started): shown here all the same, to
    # see what the page says of the model
    monkeypatch.setattr(Page, "few_started", lambda self: False)
    page = "".join(ReportBuilder(cases("tiny"), site=None, plan=load_plan()).pages())
    plt.close("all")
    text = _visible_text(page)
    m = re.search(r"Dropout model: not available\.\s*([^\n]*)", text)
    # the analysis's own reason ("1 'dropped_out' exits among 4 episodes for 3 terms") said how many people and
    # which exits nobody had (a13 E1): the page gives one sentence whatever the reason
    assert m and m.group(1).startswith("Not shown: the model cannot be fitted safely to these data"), m and m.group(1)
    assert not re.search(r"\d+ episodes|'dropped_out'", m.group(1))
    assert "Traceback" not in m.group(1) and "http" not in m.group(1)
    for title in ("Risk reduction", "Police, MARAC and children", "Appendix: disclosure control log"):
        assert f"<h2>{title}" in page

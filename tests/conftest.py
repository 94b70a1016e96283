"""Shared fixtures: a small hand-made valid programme folder, and the shipped synthetic data."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "data_synthetic"
REFERENCE = Path(__file__).resolve().parent / "reference"

# A tiny folder that satisfies every rule of the contract. Row numbers in the
# tests below refer to spreadsheet rows (header = row 1).
MINI = {
    "sites.csv": """site_id,site_name,programme_model,planned_sessions,annual_cost_gbp,target_completions,period_start,period_end,data_extract_date,incident_data_from
S1,North (synthetic),group,24,28000,30,2023-04-01,2024-03-31,2024-04-30,2021-01-01
S2,South (synthetic),one_to_one,12,,,2023-04-01,2024-03-31,2024-04-30,
""",
    "referrals.csv": """referral_id,participant_id,site_id,referral_date,referral_source,programme_name,planned_sessions,gender,age,ethnicity,employment,prior_da_police_contact,substance_misuse,relationship_to_victim,abuse_types,n_children,assessment_date,assessment_outcome,start_date,exit_date,exit_reason
R1,P1,S1,2023-04-03,childrens_social_care,,,male,34,white_british,employed,true,false,partner,physical;emotional,2,2023-04-10,suitable,2023-04-17,2023-05-01,completed
R2,P2,S1,2023-05-01,police,,,female,27,asian,unemployed,false,true,ex_partner,verbal,0,2023-05-08,suitable,2023-05-15,2023-05-22,dropped_out
R3,P3,S1,2023-06-01,self,,,male,,unknown,other,,,partner,,1,,,,2023-06-10,declined_assessment
R4,P4,S2,2023-07-01,court,,6,male,45,black,employed,true,true,partner,coercive_control,3,2023-07-05,unsuitable,,2023-07-06,unsuitable
R5,P1,S2,2024-01-02,probation,,,male,35,white_british,employed,true,false,partner,physical,2,2024-01-08,suitable,,,
""",
    "sessions.csv": """referral_id,session_number,session_date,session_type,attended
R1,1,2023-04-17,group,true
R1,2,2023-04-24,group,false
R1,3,2023-05-01,group,true
R2,1,2023-05-15,group,true
R2,2,2023-05-22,group,false
""",
    "risk_assessments.csv": """referral_id,assessment_date,timepoint,instrument,score,informant
R1,2023-04-10,intake,DASH,15,practitioner
R1,2023-05-01,exit,DASH,8,practitioner
R2,2023-05-08,intake,DASH,11,practitioner
""",
    "partners.csv": """partner_id,referral_id,relationship,gender,support_offered,support_accepted
V1,R1,partner,female,true,true
V2,R2,ex_partner,male,true,
""",
    "partner_surveys.csv": """partner_id,referral_id,wave,survey_date,physical_violence,sexual_violence,threats,weapon_used,injury,harassment_stalking,coercive_control,child_exposed,feels_safe,space_for_action
V1,R1,T1,2023-04-18,true,false,true,false,true,false,true,true,1,40
V1,R1,T2,2023-07-18,false,false,false,false,false,false,true,,4,65.5
""",
    "incidents.csv": """incident_id,event_id,participant_id,incident_date,incident_type,outcome_date
I1,E1,P1,2023-01-05,police_callout,
I2,E1,P1,2023-01-05,arrest,
I3,I3,P2,2023-09-01,marac_referral,
""",
}


# Sites and referrals of a hand-made programme whose follow-up windows and survey waves are worked out by
# hand in test_followup.py and test_safety.py (each adds its own partner / incident tables).
HAND_BASE = {
    "sites.csv": """site_id,site_name,programme_model,planned_sessions,period_start,period_end,data_extract_date,incident_data_from
S1,Hand (test),group,24,2020-01-01,2020-12-31,2022-06-30,2019-01-01
""",
    "referrals.csv": """referral_id,participant_id,site_id,referral_date,referral_source,gender,age,ethnicity,employment,prior_da_police_contact,substance_misuse,relationship_to_victim,abuse_types,n_children,assessment_date,assessment_outcome,start_date,exit_date,exit_reason
R1,P1,S1,2020-02-01,police,male,30,white_british,employed,true,false,partner,physical,2,2020-02-05,suitable,2020-02-10,2020-08-01,completed
R2,P2,S1,2020-12-01,self,female,40,asian,employed,false,false,partner,verbal,0,2020-12-05,suitable,2020-12-10,2021-09-01,dropped_out
R3,P3,S1,2019-06-01,court,male,35,black,unemployed,true,true,ex_partner,physical,1,2019-06-05,suitable,2019-06-10,2019-12-01,completed
R4,P4,S1,2020-03-01,self,unknown,28,other,other,,,partner,,4,,,,2020-03-10,declined_assessment
R5a,P5,S1,2020-01-15,health,male,50,white_other,employed,false,false,partner,emotional,3,2020-01-20,suitable,,2020-02-15,declined_to_start
R5b,P5,S1,2020-05-01,health,male,50,white_other,employed,false,false,partner,emotional,3,2020-05-05,suitable,2020-05-10,2020-11-01,completed
""",
}


def write_folder(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or MINI).items():
        (path / name).write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mini_folder(tmp_path) -> Path:
    """A small valid programme folder in a temporary directory."""
    return write_folder(tmp_path / "mini")


@pytest.fixture(scope="session")
def synthetic_data():
    """The shipped synthetic programme, loaded once per test session."""
    from dapp_eval.data.io import load_programme

    if not (SYNTHETIC / "referrals.csv").exists():
        pytest.skip("data_synthetic/ has not been generated")
    return load_programme(SYNTHETIC)


@pytest.fixture
def synthetic_copy(tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(SYNTHETIC, dst)
    return dst


# ---------------------------------------------------------------------------
# a synthetic programme of 3 sites of unequal size, and its pages rendered with a given rounding base
# (tests/test_disclosure_release_*.py attack them)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def three_sites(tmp_path_factory):
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("synth3") / "data"
    generate(folder, referrals=900, sites=3, seed=11)
    return folder


@contextlib.contextmanager
def figures_not_drawn():
    """Render without drawing the charts (each is an empty SVG): for releases rendered only to be attacked.

    The disclosure audit never reads a chart's picture (it cuts data URIs out of a page before reading
    it) and attacks the data table published beside every chart, so a release rendered this way is
    attacked exactly as the real one; drawing is about a third of the time of a page. Every other
    release in the tests (tests/test_report*.py) draws its charts.
    """
    from unittest import mock

    with mock.patch("dapp_eval.report.context.svg_bytes", lambda fig: b"<svg xmlns='http://www.w3.org/2000/svg'/>"):
        yield


def render_pages(folder: Path, out: Path, *, base: int) -> Path:
    """Every page of a 3-site release, from one load and one set of results as ``dapp-eval report`` does,
    with counts rounded to ``base`` (1: exact, to show what rounding protects against); charts not drawn."""
    from dapp_eval.data.io import load_programme
    from dapp_eval.data.plan import load_plan
    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.report.context import Page, Release
    from dapp_eval.report.render import annex_name, render_pages

    out.mkdir(parents=True)
    release = Release(load_programme(folder), load_plan(), synthetic=True)
    with figures_not_drawn():
        for site in (None, "S01", "S02", "S03"):
            page = Page(release, site)
            page.dc = DisclosureControl(threshold=10, round_at_risk=base)
            name = "report_all_sites.html" if site is None else f"report_{site.lower()}.html"
            html, annex = render_pages(page, name=name)
            (out / name).write_text(html, encoding="utf-8")
            (out / annex_name(name)).write_text(annex, encoding="utf-8")
    return out


def synthetic_release(tmp_path_factory, name: str, *, periods=None, **synth) -> tuple[Path, Path]:
    """A synthetic folder (``generate(**synth)``) and its whole release (``render_release``, as `dapp-eval
    report` writes it), charts not drawn (:func:`figures_not_drawn`), for the release-level attacks."""
    from dapp_eval.report.render import render_release
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp(name) / "data"
    generate(folder, **synth)
    out = tmp_path_factory.mktemp(f"{name}_release") / "out"
    with figures_not_drawn():
        render_release(folder, out, progress=False, periods=periods)
    return folder, out


def site_sizes(folder: Path):
    """Referrals per site in a programme folder."""
    import pandas as pd

    return pd.read_csv(folder / "referrals.csv").groupby("site_id").size()


# ---------------------------------------------------------------------------
# scheduling on the two pytest-xdist workers of `make test` (--dist loadfile)
#
# The work units are files, as pytest-xdist makes them, except the few long tests named in UNIT_SECONDS,
# and the longest units are handed out first. Without these hooks (a run that does not collect tests/)
# the run is plain --dist loadfile. (pytest-xdist's --dist loadgroup cannot do this: with pytest 9 the
# group it appends to a node id is ignored, and a notebook's cells would be spread over both workers.)
# ---------------------------------------------------------------------------

#: Wall seconds of the longest work units in `make test` on 2 busy cores (--durations; the larger of the runs
#: before and after these units were made, December 2026); only their order matters. A unit is a whole file
#: (its module fixtures are then made once, and a notebook's cells run in order in one kernel), except the
#: tests named here with "::": each needs nothing from its file's other tests, so it is a unit of its own
#: (all its parameters together) and the two workers can share the file.
UNIT_SECONDS = {
    "tests/test_report.py": 157,
    "tests/test_degenerate.py": 119,
    "tests/test_properties.py::test_corrupted_folder_loads_or_names_every_problem": 107,
    "tests/test_disclosure_release_six.py": 44,
    "tests/test_disclosure_release_four.py": 42,
    "tests/test_report_release.py::test_release_is_byte_identical_across_thread_counts": 30,
    "tests/test_report_release.py::test_column_mapped_export_renders_quietly_and_is_spreadsheet_safe": 28,
    "tests/test_commissioner_release.py": 40,
    "tests/test_funnel.py": 18,
    "tests/test_properties.py::test_duplicated_row_is_reported_with_both_rows": 17,
    "tests/test_disclosure_release_exact.py": 16,
    "tests/test_identifier_properties.py": 16,
    "tests/test_io.py": 15,
    "tests/test_disclosure_release_rounded.py": 13,
    "tests/test_disclosure.py": 13,
    "tests/test_bench.py": 12,
    "tests/test_report_release.py": 10,
    "tests/test_properties.py::test_stray_delimiters_and_quotes_load_or_name_every_problem": 11,
    "tests/test_properties.py::test_truncated_file_loads_or_names_every_problem": 11,
    "tests/test_layers.py": 8,
    "tests/test_report_release.py::test_workbook_lists_every_published_table": 6,
}


def work_unit(nodeid: str) -> str:
    """The work unit of a test: its own node id (without parameters) if listed in UNIT_SECONDS, else its file."""
    test = nodeid.split("[", 1)[0]
    return test if test in UNIT_SECONDS else nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the longest units first (the controller hands the units out in this order).

    A plain ``pytest`` run keeps the collection order.
    """
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: -UNIT_SECONDS.get(work_unit(item.nodeid), 0))  # stable: a file stays in order


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the units of :func:`work_unit`, handed out in collection order (longest first).

    pytest-xdist would otherwise sort the files by their number of tests, which puts a file of one long
    test (a release attack, the benchmark) near the end, where the other worker waits for it.
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return LongestFirst(config, log)

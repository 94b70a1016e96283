"""The evaluator's route on the repository's example export: map draft -> validate -> notebooks -> report.

The export (examples/provider_export/make_export.py) holds data_synthetic's records in a provider's shape:
one workbook (Services, Referrals, Attendance, Risk (DASH), Partners, Partner Surveys), a police CSV,
provider column names, DD/MM/YYYY dates, codes in words, Yes/No and Y/N, a multi-select column, extra
columns and a derived assessment date.
"""

from __future__ import annotations

import importlib.util
import shutil

import pandas as pd
import pytest
from conftest import ROOT, SYNTHETIC

from dapp_eval import load_programme, open_evaluation
from dapp_eval.cli import main
from dapp_eval.data.mapdraft import draft_map
from dapp_eval.data.schema import V2_REFERRAL_COLUMNS, V2_TABLES

EXAMPLE = ROOT / "examples" / "provider_export"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_export", EXAMPLE / "make_export.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("provider") / "export"
    mod.build(SYNTHETIC, out)
    return out


def test_the_draft_needs_only_its_todos_filled(export):
    draft = draft_map(export)
    shipped = (EXAMPLE / "map.yaml").read_text(encoding="utf-8")
    todo = [line for line in draft.splitlines() if "TODO" in line and not line.startswith("#")]
    # one TODO to fill (assessment_date, which the export gives as Days Waiting) and one note on dropped columns
    assert len(todo) == 2 and "assessment_date" in todo[0] and "add_days: [referral_date, Days Waiting]" in todo[0]
    body = lambda text: [ln for ln in text.splitlines() if not ln.startswith("#")]  # noqa: E731
    filled = [ln for ln in body(shipped) if ln not in body(draft)]
    assert filled == ["    derive:   # filled in from the TODO the draft left here",
                      "      assessment_date: {add_days: [referral_date, Days Waiting]}"]
    # nothing but code-like values is written: no identifiers, dates or notes from the export
    assert "R000001" not in draft and "P000001" not in draft and "/20" not in draft and "Letter sent" not in draft


def test_the_mapped_export_is_the_synthetic_data(export):
    got = load_programme(export, column_map=EXAMPLE / "map.yaml")
    want = load_programme(SYNTHETIC)
    # the example export carries the version-1 contract: the items of version 2 are compared elsewhere
    v2 = list(V2_REFERRAL_COLUMNS)
    for name, df in want.tables().items():
        if name in V2_TABLES:
            assert name not in got.tables(), name
            continue
        pd.testing.assert_frame_equal(got.tables()[name].drop(columns=v2, errors="ignore"),
                                      df.drop(columns=v2, errors="ignore"), check_dtype=True, obj=name)


def test_validate_and_the_notebooks_first_cell_through_the_evaluation_file(export, tmp_path, capsys):
    shutil.copy(EXAMPLE / "map.yaml", tmp_path / "map.yaml")
    ev = tmp_path / "evaluation.yaml"
    ev.write_text(f"data: {export}\ncolumn_map: map.yaml\noutput: release\n", encoding="utf-8")
    assert main(["validate", "--config", str(ev)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "Abuse Types" not in out  # the load log speaks of contract columns it produced
    # what every notebook's first cell runs
    data = open_evaluation(ev).load()
    assert len(data.referrals) == 2000 and data.source == str(export)


def test_the_release_renders_from_the_export(export, tmp_path):
    shutil.copy(EXAMPLE / "map.yaml", tmp_path / "map.yaml")
    ev = tmp_path / "evaluation.yaml"
    ev.write_text(f"data: {export}\ncolumn_map: map.yaml\noutput: release\n", encoding="utf-8")
    assert main(["report", "--config", str(ev), "--site", "S01", "--quiet"]) == 0
    assert (tmp_path / "release" / "report_s01.html").exists()


def test_a_workbook_sheet_that_is_not_there_is_named(export, tmp_path):
    text = (EXAMPLE / "map.yaml").read_text(encoding="utf-8").replace('sheet: "Risk (DASH)"', 'sheet: "Risk"')
    (tmp_path / "map.yaml").write_text(text, encoding="utf-8")
    from dapp_eval.errors import DataValidationError

    with pytest.raises(DataValidationError) as exc:
        load_programme(export, column_map=tmp_path / "map.yaml")
    rule = exc.value.problems["rule"].iloc[0]
    assert "sheet 'Risk', which is not in this workbook" in rule and "Risk (DASH)" in rule


# ---------------------------------------------------------------------------
# a second export built differently: CSV files only, short codes, other names, referrals over two files
# ---------------------------------------------------------------------------

def _d(s, fmt="%d-%m-%Y"):
    return s.dt.strftime(fmt).where(s.notna(), "")

def _build_csv_export(src, out):
    """The second export: CSV files only, other names, short codes, referrals split by year."""
    x = load_programme(src)
    out.mkdir(parents=True, exist_ok=True)
    s = x.sites
    pd.DataFrame({"Team": s["site_id"], "TeamName": s["site_name"], "Format": s["programme_model"].map({"group": "GRP", "one_to_one": "IND", "mixed": "MIX"}),
                  "Sessions": s["planned_sessions"], "Budget": s["annual_cost_gbp"], "Target": s["target_completions"],
                  "From": _d(s["period_start"]), "To": _d(s["period_end"]), "ExtractedOn": _d(s["data_extract_date"]),
                  "PoliceFrom": _d(s["incident_data_from"])}).to_csv(out / "teams.csv", index=False)
    r = x.referrals
    ab = {"physical": "PHYS", "emotional": "EMOT", "verbal": "VERB", "sexual": "SEX", "financial": "FIN", "coercive_control": "CC", "stalking": "STALK"}
    cases = pd.DataFrame({
        "CaseNo": r["referral_id"], "ClientID": r["participant_id"], "Team": r["site_id"], "RefDate": _d(r["referral_date"]),
        "Source": r["referral_source"].map({"childrens_social_care": "CSC", "police": "POL", "probation": "PROB", "court": "CRT",
                                            "family_court": "FAMCRT", "self": "SELF", "health": "HLTH", "other": "OTH"}),
        "Gender": r["gender"].map({"male": "M", "female": "F", "other": "O", "unknown": "U"}), "AgeAtReferral": r["age"].astype("Int64"),
        "Ethnicity": r["ethnicity"].map({"white_british": "WB", "white_other": "WO", "asian": "A", "black": "B", "mixed": "MX", "other": "OT", "unknown": "NS"}),
        "Employment": r["employment"].map({"employed": "EMP", "unemployed": "UNEMP", "other": "OTH", "unknown": "UNK"}),
        "PriorDA": r["prior_da_police_contact"].map({True: 1, False: 0}).astype("Int64"),
        "Substance": r["substance_misuse"].map({True: "TRUE", False: "FALSE"}),
        "VictimRel": r["relationship_to_victim"].map({"partner": "P", "ex_partner": "XP", "family": "FAM", "other": "OTH"}),
        "AbuseCodes": r["abuse_types"].map(lambda v: "/".join(ab[p] for p in v.split(";")) if isinstance(v, str) and v else ""),
        "Kids": r["n_children"], "AssessedOn": _d(r["assessment_date"]),
        "Suitable": r["assessment_outcome"].map({"suitable": "Y", "unsuitable": "N"}),
        "StartedOn": _d(r["start_date"]), "ClosedOn": _d(r["exit_date"]),
        "CloseCode": r["exit_reason"].map({"declined_assessment": "DA", "unsuitable": "UNS", "declined_to_start": "DNS", "dropped_out": "DO",
                                           "excluded": "EXC", "moved_away": "MOV", "custody": "CUS", "completed": "COMP", "other": "OTH"}),
    })
    y = r["referral_date"].dt.year
    cases[y <= 2023].to_csv(out / "cases_2023.csv", index=False)
    cases[y > 2023].to_csv(out / "cases_2024.csv", index=False)
    se = x.sessions
    pd.DataFrame({"CaseNo": se["referral_id"], "Seq": se["session_number"], "ApptDate": _d(se["session_date"]),
                  "Kind": se["session_type"].map({"group": "G", "one_to_one": "I"}), "Present": se["attended"].map({True: "P", False: "A"})}
                 ).to_csv(out / "appointments.csv", index=False)
    ra = x.risk_assessments
    pd.DataFrame({"CaseNo": ra["referral_id"], "When": _d(ra["assessment_date"]), "Tool": ra["instrument"],
                  "Point": ra["timepoint"].map({"intake": "T0", "midpoint": "T1", "exit": "T2", "follow_up": "T3"}),
                  "Total": ra["score"], "By": ra["informant"].map({"practitioner": "PRAC", "partner": "VIC", "self": "SELF"})}
                 ).to_csv(out / "risk_scores.csv", index=False)
    inc = x.incidents
    pd.DataFrame({"OccNo": inc["incident_id"], "EventNo": inc["event_id"], "ClientID": inc["participant_id"], "OccDate": _d(inc["incident_date"]),
                  "Type": inc["incident_type"].map({"police_callout": "CALL", "da_crime": "CRIME", "arrest": "ARR", "marac_referral": "MARAC", "child_protection": "CP"}),
                  "Proven": _d(inc["outcome_date"])}).to_csv(out / "police.csv", index=False)


def test_a_csv_export_with_other_names_and_codes(tmp_path):
    _build_csv_export(SYNTHETIC, tmp_path / "export")
    draft = draft_map(tmp_path / "export")
    todo = [ln.split(":")[0].strip() for ln in draft.splitlines() if ": TODO" in ln]
    # what no rule can know: the provider's own timepoint numbers, Y/N for suitability, DNS
    assert todo == ['"DNS"', '"N"', '"Y"', '"T0"', '"T1"', '"T2"', '"T3"']
    assert '- "cases_2023.csv"' in draft and '- "cases_2024.csv"' in draft  # one table over two files
    fills = {'"DNS"': "declined_to_start", '"N"': "unsuitable", '"Y"': "suitable", '"T0"': "intake",
             '"T1"': "midpoint", '"T2"': "exit", '"T3"': "follow_up"}
    lines = []
    for ln in draft.splitlines():
        key = ln.split(":")[0].strip()
        lines.append(ln.split(":")[0] + ": " + fills[key] if ": TODO" in ln else ln)
    (tmp_path / "map.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "evaluation.yaml").write_text("data: export\ncolumn_map: map.yaml\n", encoding="utf-8")
    got = open_evaluation(tmp_path / "evaluation.yaml").load()
    want = load_programme(SYNTHETIC)
    # this export does not carry them (nor any item of contract version 2)
    per_referral = ["planned_sessions", "programme_name", *V2_REFERRAL_COLUMNS]
    for name, df in got.tables().items():
        pd.testing.assert_frame_equal(df.drop(columns=per_referral, errors="ignore"),
                                      want.tables()[name].drop(columns=per_referral, errors="ignore"), obj=name)


def test_notebook_01_runs_on_the_export_after_one_edit_of_the_evaluation_file(export, tmp_path):
    """A smoke run: notebook 01 as shipped, beside an evaluation.yaml whose data: and column_map: name the
    export (the only edit an evaluator makes); every cell runs without an error."""
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "notebooks").mkdir()
    shutil.copy(EXAMPLE / "map.yaml", tmp_path / "map.yaml")
    text = (ROOT / "evaluation.yaml").read_text(encoding="utf-8")
    text = text.replace("data: data_synthetic", f"data: {export}").replace("column_map:   ", "column_map: map.yaml")
    (tmp_path / "evaluation.yaml").write_text(text, encoding="utf-8")
    nb = nbformat.read(str(ROOT / "notebooks" / "01_data_quality.ipynb"), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path / "notebooks")}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"data: {export}" in printed

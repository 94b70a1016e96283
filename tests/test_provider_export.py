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
from dapp_eval.mapdraft import draft_map

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
    for name, df in want.tables().items():
        pd.testing.assert_frame_equal(got.tables()[name], df, check_dtype=True, obj=name)


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


@pytest.mark.xfail(reason="issue #26: the release's disclosure audit refuses the load log's unrounded counts "
                          "(values recoded by the column map); remove this mark when #26 lands", strict=False)
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

"""The dapp-eval command: validate exits non-zero on errors and prints the same report."""

from __future__ import annotations

from conftest import MINI, write_folder

from dapp_eval.cli import main


def test_validate_ok(mini_folder, capsys):
    assert main(["validate", str(mini_folder)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "referrals.csv" in out


def test_validate_reports_problems_and_fails(tmp_path, capsys):
    files = dict(MINI)
    files["referrals.csv"] = files["referrals.csv"].replace(",female,27,", ",woman,27,")
    folder = write_folder(tmp_path / "bad", files)
    csv = tmp_path / "problems.csv"
    assert main(["validate", str(folder), "--csv", str(csv)]) == 1
    out = capsys.readouterr().out
    assert "NOT VALID" in out and "referrals.csv, row 3, column 'gender'" in out
    assert "woman" in csv.read_text()


def test_missing_folder_is_a_clean_error(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().out

"""A provider-style export with planted identifiers, from `dapp-eval map` to a release (issues 27 and 28).

The export is the example of examples/provider_export (one workbook, a police CSV), made from a small
generated folder, with three identifier columns planted in its Referrals sheet (a full name, a mobile
number, an NHS number), a workbook file named after a person and a sheet named after another.  The route:
map draft -> fill its TODO -> validate -> pseudonymise (--coarsen month) -> validate -> report.  No planted
value, and no planted file or sheet name, reaches a message, a log or any file written.

The rule for names (docs/pseudonymisation.md): messages to the person running validate on their own
export may name the provider's file, sheet and column, unless the name itself looks like an identifier
(it is then named by position and what it looks like); nothing from the input's names reaches the release
or the pseudonymised copy.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from dapp_eval.cli import main
from dapp_eval.data.identifiers import name_looks_identifying, shown_name
from dapp_eval.data.io import load_programme
from dapp_eval.data.privacy import keygen
from dapp_eval.errors import DataValidationError
from dapp_eval.synthetic import generate

NAMES = ["Aisha Okafor", "Tomasz Wisniewski", "Gareth Pryce", "Niamh Doherty"]
MOBILES = [f"07700 9{i:05d}" for i in range(40)]
NHS = "943 476 5919"
BOOK = "Referrals Jane Doe.xlsx"  # a file named after a person
SHEET = "Partners Mary Jones"  # a sheet named after a person
PLANTED = [*NAMES, *(n.split()[1] for n in NAMES), MOBILES[7], NHS, "9434765919", "Jane Doe", "Mary Jones"]


def _make_export(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_export", ROOT / "examples" / "provider_export" / "make_export.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generate(folder / "generated", referrals=200, sites=2, seed=11)
    export = folder / "export"
    mod.build(folder / "generated", export)
    sheets = pd.read_excel(export / "provider_export.xlsx", sheet_name=None, dtype=object)
    ref = sheets["Referrals"]
    ref.insert(2, "Client Name", [NAMES[i % 4] for i in range(len(ref))])
    ref["Mobile"] = [MOBILES[i % len(MOBILES)] for i in range(len(ref))]
    ref["NHS Number"] = NHS
    sheets[SHEET] = sheets.pop("Partners")
    with pd.ExcelWriter(export / BOOK) as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    (export / "provider_export.xlsx").unlink()
    return export


def _fill_todos(draft: str) -> str:
    """The evaluator's only edit: the TODO the draft leaves for assessment_date (the export gives Days Waiting)."""
    out = []
    for line in draft.splitlines():
        if line.strip().startswith("# TODO: no column found for assessment_date"):
            out += ["    derive:", "      assessment_date: {add_days: [referral_date, Days Waiting]}"]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _everything(folder: Path) -> str:
    """Every text written under a folder, workbooks unzipped."""
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8", "ignore") for n in z.namelist()]
        elif p.is_file():
            parts.append(p.read_text(encoding="utf-8", errors="ignore"))
    return "\n".join(parts)


def _clean(text: str) -> None:
    for value in PLANTED:
        assert value not in text, value


def test_planted_export_from_map_draft_to_release(tmp_path, capsys):
    export = _make_export(tmp_path)
    key = keygen(tmp_path / "KEY")
    assert main(["map", str(export)]) == 0
    draft = capsys.readouterr().out
    assert "TODO" in draft and '"Client Name"' in draft  # the identifier columns are listed under drop:
    (tmp_path / "map.yaml").write_text(_fill_todos(draft), encoding="utf-8")
    said = []
    assert main(["validate", str(export), "--column-map", str(tmp_path / "map.yaml")]) == 0
    said.append(capsys.readouterr())
    # the provider's own terminal: file and sheet named only where the names do not look like a person's
    out = said[-1].out
    assert "sheet Referrals" in out and "sheet 6 (name not shown: looks like a person's name)" in out
    assert "file (name not shown: looks like a person's name)" in out
    for coarsen in ([], ["--coarsen", "month"]):
        clean = tmp_path / f"clean{len(coarsen)}"
        assert main(["pseudonymise", str(export), str(clean), "--key-file", str(key),
                     "--column-map", str(tmp_path / "map.yaml"), *coarsen]) == 0
        said.append(capsys.readouterr())
        assert main(["validate", str(clean)]) == 0
        said.append(capsys.readouterr())
        data = load_programme(clean)
        assert len(data.referrals) == 200 and data.risk_assessments["instrument"].eq("DASH").all()
        _clean(_everything(clean))
    site = sorted(data.sites["site_id"])[0]
    assert main(["report", str(clean), "--out", str(tmp_path / "release"), "--site", site, "--quiet"]) == 0
    said.append(capsys.readouterr())
    _clean(_everything(tmp_path / "release"))
    # a release straight from the export (through the map): no file, sheet or header name of the input
    assert main(["report", str(export), "--column-map", str(tmp_path / "map.yaml"), "--out",
                 str(tmp_path / "release_raw"), "--site", site, "--quiet"]) == 0
    said.append(capsys.readouterr())
    published = _everything(tmp_path / "release_raw")
    _clean(published)
    for name in ("Client Name", "Mobile", "NHS Number", "Keyworker", "Case Notes", "Days Waiting", BOOK, "Referrals"
                 " Jane", "sheet Referrals", "sheet 6"):
        assert name not in published, name
    _clean("\n".join(s.out + s.err for s in said))
    assert "Client Name" not in _everything(tmp_path / "clean2")  # not even the header the map dropped


@pytest.mark.parametrize("name, looks", [
    ("Client Ref", None), ("Abuse Types", None), ("NHS Number", None), ("provider_export.xlsx", None),
    ("Risk (DASH)", None), ("cases_2023.csv", None), ("Session No", None), ("Keyworker", None),
    ("Referrals Jane Doe.csv", "a person's name"), ("Referrals_Jane_Doe.csv", "a person's name"),
    ("Mr Smith", "a person's name"), ("07700 900123", "an identifier"), ("referrals 943 476 5919.csv", "an identifier"),
    ("CV6 1AB.csv", "an identifier"), ("jane@example.org", "an identifier"), ("dob 03-03-1985", "a date"),
])
def test_which_names_may_be_shown(name, looks):
    assert name_looks_identifying(name) == looks
    shown = shown_name(name, position=3)
    assert (name in shown) == (looks is None)


def test_a_header_that_looks_like_a_name_is_named_by_position_in_messages_and_the_log(tmp_path, capsys):
    from conftest import write_folder

    folder = write_folder(tmp_path / "f")
    ref = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False)
    ref["Aisha Okafor"] = "x"  # an extra column whose header is a person's name
    ref.to_csv(folder / "referrals.csv", index=False)
    data = load_programme(folder)
    log = data.load_log.to_string()
    assert "Aisha Okafor" not in log and "header not shown: looks like a person's name" in log
    # a contract column mapped from such a header, holding a bad value: the message names it by what it is
    ref = ref.drop(columns="Aisha Okafor").rename(columns={"gender": "Gareth Pryce"})
    ref.loc[0, "Gareth Pryce"] = "bloke"
    ref.to_csv(folder / "referrals.csv", index=False)
    (tmp_path / "map.yaml").write_text('tables:\n  referrals:\n    columns:\n      "Gareth Pryce": gender\n')
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder, column_map=tmp_path / "map.yaml")
    text = exc.value.problems.to_string() + str(exc.value)
    assert "Gareth Pryce" not in text and "[gender]" in text


def test_a_file_named_like_a_person_is_not_named_in_a_refusal(tmp_path):
    from conftest import write_folder

    folder = write_folder(tmp_path / "f")
    ref = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False)
    ref.loc[0, "age"] = "seven"
    (folder / "referrals.csv").unlink()
    ref.to_csv(folder / "Referrals Jane Doe.csv", index=False)
    (tmp_path / "map.yaml").write_text('tables:\n  referrals:\n    file: "Referrals Jane Doe.csv"\n')
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder, column_map=tmp_path / "map.yaml")
    text = exc.value.problems.to_string() + str(exc.value)
    assert "Jane Doe" not in text
    assert "the referrals table's .csv file (name not shown: looks like a person's name)" in text

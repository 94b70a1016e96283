"""Column maps that express real exports, the evaluation file, and messages in the provider's words."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI, write_folder
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval import load_programme, open_evaluation
from dapp_eval.cli import main
from dapp_eval.data.mapping import MultiSelect, read_column_map, recode
from dapp_eval.errors import DataValidationError


def _problems(call):
    with pytest.raises(DataValidationError) as exc:
        call()
    return exc.value.problems


def test_the_schema_check_names_the_map_line(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text("tables:\n  referrals:\n    columns:\n      Sex: gendr\n    values:\n      exit_reason:\n"
                 "        Dropped out: dropped_outt\n  refferals: {}\ncolums: {}\n", encoding="utf-8")
    p = _problems(lambda: read_column_map(m))
    rules = {int(r.split(" line ")[1].split()[0]): r for r in p["rule"]}
    assert set(rules) == {4, 7, 8, 9}
    assert "line 4" in rules[4] and "did you mean 'gender'" in rules[4]
    assert "'dropped_outt' is not a code of exit_reason" in rules[7] and "did you mean 'dropped_out'" in rules[7]
    assert "unknown table 'refferals'" in rules[8] and "did you mean 'referrals'" in rules[8]
    assert "unknown key 'colums'" in rules[9]


def test_yes_and_no_stay_words_in_a_map():
    cm = read_column_map({"tables": {"referrals": {"values": {"substance_misuse": {"Yes": True, "No": False}}}}})
    assert cm.for_table("referrals").values["substance_misuse"] == {"Yes": True, "No": False}
    # the YAML text form: Yes/No keys are text, true/false values are booleans
    import yaml

    from dapp_eval.data.mapping import _MapLoader
    assert yaml.load("{Yes: true, No: false, on: off}", Loader=_MapLoader) == {"Yes": True, "No": False, "on": "off"}


def test_a_todo_left_in_a_draft_is_refused_with_its_line(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text('tables:\n  referrals:\n    values:\n      gender:\n        "Prefer not to say": TODO\n',
                 encoding="utf-8")
    p = _problems(lambda: read_column_map(m))
    assert p["rule"].tolist() == ["column map line 5 (tables.referrals.values.gender.Prefer not to say): 'TODO' is "
                                  "not a code of gender; use one of: male, female, other, unknown"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["Physical", "emotional", " Coercive control", "Verbal "]), min_size=1, max_size=4),
       st.sampled_from([",", " / ", "|"]))
def test_multi_select_cells_split_and_map_each_part(parts, sep):
    rule = MultiSelect(sep.strip() or sep, {"Physical": "physical", "Emotional": "emotional",
                                            "Coercive control": "coercive_control", "Verbal": "verbal"})
    cell = sep.join(parts)
    out, _ = recode(pd.Series([cell, ""], dtype=object), None, rule)
    assert out[0] == ";".join(p.strip().lower().replace(" ", "_") for p in parts)
    assert out[1] == ""


def _provider_folder(tmp_path):
    """MINI with provider names, UK dates, words for codes, Y/N, a multi-select column and two referral files."""
    ref = pd.read_csv(pd.io.common.StringIO(MINI["referrals.csv"]), dtype=str, keep_default_na=False)
    for c in ("referral_date", "assessment_date", "start_date", "exit_date"):
        ref[c] = ref[c].map(lambda v: "" if not v else f"{v[8:10]}/{v[5:7]}/{v[:4]}")
    ref["exit_reason"] = ref["exit_reason"].replace({"dropped_out": "Dropped out", "completed": "Completed"})
    ref["prior_da_police_contact"] = ref["prior_da_police_contact"].replace({"true": "Y", "false": "N"})
    ref["abuse_types"] = ref["abuse_types"].str.replace(";", ", ").str.title().str.replace("_", " ")
    ref = ref.rename(columns={"participant_id": "Client Ref", "referral_date": "Date of Referral",
                              "abuse_types": "Abuse Types"})
    files = {k: v for k, v in MINI.items() if k != "referrals.csv"}
    folder = write_folder(tmp_path / "export", files)
    ref.iloc[:3].to_csv(folder / "referrals_2023a.csv", index=False)
    ref.iloc[3:].to_csv(folder / "referrals_2023b.csv", index=False)
    cmap = {"tables": {"referrals": {
        "files": ["referrals_2023a.csv", "referrals_2023b.csv"], "date_format": "%d/%m/%Y",
        "columns": {"Client Ref": "participant_id", "Date of Referral": "referral_date", "Abuse Types": "abuse_types"},
        "values": {"exit_reason": {"Dropped out": "dropped_out", "Completed": "completed"},
                   "prior_da_police_contact": {"Y": True, "N": False},
                   "abuse_types": {"separator": ",", "values": {"Coercive Control": "coercive_control"}}}}}}
    return folder, cmap


def test_a_provider_export_loads_to_the_same_tables(tmp_path):
    folder, cmap = _provider_folder(tmp_path)
    got = load_programme(folder, column_map=cmap)
    want = load_programme(write_folder(tmp_path / "mini"))
    pd.testing.assert_frame_equal(got.referrals, want.referrals)


def test_messages_name_the_stacked_file_its_row_and_the_providers_column(tmp_path):
    folder, cmap = _provider_folder(tmp_path)
    text = (folder / "referrals_2023b.csv").read_text()
    (folder / "referrals_2023b.csv").write_text(text.replace("Physical", "Physicall").replace("45", "4"))
    p = _problems(lambda: load_programme(folder, column_map=cmap))
    by_col = {c: (f, r, v) for f, r, c, v in zip(p["file"], p["row"], p["column"], p["value"])}
    # the second file's second data row is its spreadsheet row 3 (header = row 1), not row 5 of the stack
    assert by_col["Abuse Types [abuse_types]"] == ("referrals_2023b.csv", 3, "Physicall")
    assert by_col["age"][:2] == ("referrals_2023b.csv", 2)


def test_a_value_unlike_the_columns_is_never_repeated(tmp_path):
    files = dict(MINI)
    files["referrals.csv"] = files["referrals.csv"].replace(",female,27,", ",Jane Smith is here,27,")
    p = _problems(lambda: load_programme(write_folder(tmp_path / "f", files)))
    assert "Jane" not in " ".join(map(str, p["value"])) and "not shown" in p["value"][0]


def test_the_further_rows_line_counts_them(tmp_path):
    files = dict(MINI)
    head, *rows = files["sessions.csv"].splitlines()
    many = [f"R1,{k},2023-04-17,group,perhaps" for k in range(10, 260)]
    files["sessions.csv"] = "\n".join([head, *rows, *many]) + "\n"
    p = _problems(lambda: load_programme(write_folder(tmp_path / "f", files)))
    assert (p["row"].notna()).sum() == 200
    assert p["rule"].str.contains(r"further 50 rows with this problem not listed").sum() == 1


def test_evaluation_file_moves_the_data_in_one_edit(tmp_path, capsys):
    folder, cmap = _provider_folder(tmp_path)
    import yaml
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(cmap), encoding="utf-8")
    ev_file = tmp_path / "evaluation.yaml"
    ev_file.write_text("data: export\ncolumn_map: map.yaml\nthreshold: 5\noutput: out\n", encoding="utf-8")
    ev = open_evaluation(ev_file)
    assert ev.data == tmp_path / "export" and ev.load_plan()["threshold"] == 5
    assert len(ev.load().referrals) == 5
    assert main(["validate", "--config", str(ev_file)]) == 0
    ev_file.write_text("data: exports\ncolumn_mapp: map.yaml\n", encoding="utf-8")
    p = _problems(lambda: open_evaluation(ev_file))
    assert sorted(p["rule"].str.extract(r"line (\d+)")[0].astype(int).tolist()) == [1, 2]
    assert any("did you mean 'column_map'" in r for r in p["rule"])


def test_validate_counts_agree_and_point_to_csv(tmp_path, capsys):
    folder, cmap = _provider_folder(tmp_path)
    import yaml
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(cmap), encoding="utf-8")
    text = (folder / "sessions.csv").read_text()
    head, *rows = text.splitlines()
    (folder / "sessions.csv").write_text("\n".join([head, *rows, *[f"R1,{k},2023-04-17,group,perhaps"
                                                                    for k in range(10, 260)]]) + "\n")
    assert main(["validate", str(folder), "--column-map", str(tmp_path / "map.yaml")]) == 1
    out = capsys.readouterr().out
    assert "250  sessions.csv · attended: not a yes/no value" in out
    assert "250 problems found" in out
    assert "--csv problems.csv" in out and ".problems" not in out and "DataFrame" not in out
    csv = tmp_path / "p.csv"
    main(["validate", str(folder), "--column-map", str(tmp_path / "map.yaml"), "--csv", str(csv)])
    out = capsys.readouterr().out
    assert "All 200 listed rows written" in out and "50 further rows" in out
    assert len(pd.read_csv(csv)) == 201


def test_a_folder_without_contract_files_says_how_to_map_it(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    pd.DataFrame({"Client Ref": ["A1"]}).to_excel(tmp_path / "x" / "export.xlsx", index=False)
    assert main(["validate", str(tmp_path / "x")]) == 1
    out = capsys.readouterr().out
    # the workbook is counted, not named (a provider's file name can name a person: issue 27)
    assert "1 .xlsx file" in out and "export.xlsx" not in out and "dapp-eval map" in out and "--column-map" in out


def test_a_duplicate_in_a_stacked_file_names_the_file_and_row_it_repeats(tmp_path):
    folder, cmap = _provider_folder(tmp_path)
    b = (folder / "referrals_2023b.csv").read_text().replace("R4,", "R1,", 1)
    (folder / "referrals_2023b.csv").write_text(b)
    p = _problems(lambda: load_programme(folder, column_map=cmap))
    dup = p[p["rule"].str.startswith("duplicate key")]
    assert dup["file"].tolist() == ["referrals_2023b.csv"] and dup["row"].tolist() == [2]
    assert "first seen in referrals_2023a.csv, row 2" in dup["rule"].iloc[0]


def test_report_refusals_are_counted_like_validate_with_no_python_words(tmp_path, capsys):
    folder, cmap = _provider_folder(tmp_path)
    import yaml
    cmap["tables"]["referrals"]["values"]["exit_reason"] = {"Completed": "completed"}  # "Dropped out" unmapped
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(cmap), encoding="utf-8")
    assert main(["report", str(folder), "--column-map", str(tmp_path / "map.yaml"), "--out",
                 str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1  referrals_2023a.csv · exit_reason: value not allowed" in err
    assert "--csv problems.csv" in err and "DataFrame" not in err and ".problems" not in err


def test_the_draft_never_writes_a_rare_value_it_does_not_know(tmp_path):
    from dapp_eval.data.mapdraft import draft_map

    folder = tmp_path / "export"
    folder.mkdir()
    sex = ["M"] * 6 + ["F"] * 6 + ["Not known"] + ["Jane Smith"]
    pd.DataFrame({"Client Ref": [f"C{i:03d}" for i in range(len(sex))], "Sex": sex}).to_csv(
        folder / "clients.csv", index=False)
    draft = draft_map(folder)
    assert '"M": male' in draft and '"F": female' in draft and '"Not known": unknown' in draft
    assert "Jane" not in draft and "C001" not in draft
    assert "1 value(s) of 'Sex' held by fewer than 5 rows are not listed" in draft

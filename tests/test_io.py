"""The loader: every validation rule with a deliberately broken file, and the tolerated variants."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import MINI, write_folder

from dapp_eval.data.io import load_programme, read_column_map
from dapp_eval.errors import DataValidationError


def broken(tmp_path, file, old, new, count=1):
    files = dict(MINI)
    assert old in files[file], f"fixture text {old!r} not in {file}"
    files[file] = files[file].replace(old, new, count)
    return write_folder(tmp_path / "broken", files)


def problems_of(folder, **kw):
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder, **kw)
    return exc.value.problems


def assert_problem(problems, file, row, column, rule_part):
    hit = problems[(problems["file"] == file) & (problems["column"] == column)
                   & problems["rule"].str.contains(rule_part, regex=False)]
    if row is None:
        hit = hit[hit["row"].isna()]
    else:
        hit = hit[hit["row"] == row]
    assert len(hit) == 1, f"expected one problem {file} row {row} {column} '{rule_part}', got:\n{problems.to_string()}"
    return hit.iloc[0]


def test_mini_folder_loads_with_types(mini_folder):
    data = load_programme(mini_folder)
    assert len(data.referrals) == 5 and len(data.sessions) == 5
    ref = data.referrals
    assert str(ref["referral_date"].dtype) == "datetime64[ns]"
    assert str(ref["age"].dtype) == "Int64" and ref["age"].isna().sum() == 1
    assert str(ref["prior_da_police_contact"].dtype) == "boolean"
    assert ref.loc[0, "abuse_types"] == "physical;emotional"
    assert data.partner_surveys["space_for_action"].tolist() == [40.0, 65.5]
    assert pd.isna(data.partner_surveys.loc[1, "child_exposed"])
    ep = data.episodes
    assert ep["planned"].tolist() == [24, 24, 24, 6, 12]  # referral override 6 for R4
    assert ep["n_sessions_attended"].tolist() == [2, 1, 0, 0, 0]
    assert ep.loc[0, "last_attended_date"] == pd.Timestamp("2023-05-01")
    assert "_row" not in ref.columns
    assert len(data.input_hash) == 64


# -- every rule, with the file, row, column it must name ----------------------

RULES = [
    # (file, old text, new text, expected file, row, column, rule fragment)
    ("sites.csv", "site_id,site_name", "site_ident,site_name", "sites.csv", 1, "site_id", "required column is missing"),
    ("referrals.csv", "R2,P2,S1,2023-05-01", "R2,P2,S1,2023-13-01", "referrals.csv", 3, "referral_date", "not a valid date"),
    ("referrals.csv", "R2,P2,S1,2023-05-01", "R2,P2,S1,2023-05", "referrals.csv", 3, "referral_date", "partial date"),
    ("referrals.csv", ",female,27,", ",woman,27,", "referrals.csv", 3, "gender", "value not allowed"),
    ("referrals.csv", ",female,27,", ",female,twenty,", "referrals.csv", 3, "age", "not a number"),
    ("referrals.csv", ",female,27,", ",female,12,", "referrals.csv", 3, "age", "below the allowed minimum 14"),
    ("referrals.csv", ",female,27,", ",female,27.5,", "referrals.csv", 3, "age", "not a whole number"),
    ("referrals.csv", "unemployed,false,true", "unemployed,maybe,true", "referrals.csv", 3, "prior_da_police_contact", "not a yes/no value"),
    ("referrals.csv", "R2,P2,S1", "R1,P2,S1", "referrals.csv", 3, "referral_id", "duplicate key"),
    ("referrals.csv", "R2,P2,S1", "R2,P2,S9", "referrals.csv", 3, "site_id", "orphan foreign key"),
    ("referrals.csv", "R2,P2,S1", "R2,,S1", "referrals.csv", 3, "participant_id", "required value is missing"),
    ("referrals.csv", "verbal,0,", "verbal;punching,0,", "referrals.csv", 3, "abuse_types", "';'-separated values"),
    ("referrals.csv", "2023-05-15,2023-05-22,dropped_out", "2023-05-15,2023-05-12,dropped_out",
     "referrals.csv", 3, "exit_date", "exit_date is before start_date"),
    ("referrals.csv", "2023-05-08,suitable,2023-05-15", "2023-05-08,suitable,2023-05-01",
     "referrals.csv", 3, "start_date", "start_date is before assessment_date"),
    ("referrals.csv", "2023-05-22,dropped_out", "2023-05-22,", "referrals.csv", 3, "exit_reason", "both or neither"),
    ("referrals.csv", ",,,2023-06-10,declined_assessment", ",,,,declined_assessment", "referrals.csv", 4, "exit_date", "both or neither"),
    ("referrals.csv", "2023-07-05,unsuitable,,2023-07-06,unsuitable", "2023-07-05,suitable,,2023-07-06,unsuitable",
     "referrals.csv", 5, "exit_reason", "requires assessment_outcome 'unsuitable'"),
    ("referrals.csv", "2023-07-05,unsuitable,,2023-07-06", "2023-07-05,unsuitable,2023-07-06,2023-07-06",
     "referrals.csv", 5, "start_date", "allows no start_date"),
    ("referrals.csv", ",,,2023-06-10,declined_assessment", "2023-06-05,,,2023-06-10,declined_assessment",
     "referrals.csv", 4, "assessment_date", "'declined_assessment' allows no assessment_date"),
    ("referrals.csv", "2023-05-08,suitable,2023-05-15,2023-05-22,dropped_out", "2023-05-08,suitable,,2023-05-22,dropped_out",
     "referrals.csv", 3, "start_date", "requires a start_date"),
    ("referrals.csv", "R5,P1,S2,2024-01-02", "R5,P1,S2,2024-04-02", "referrals.csv", 6, "referral_date", "after the site's period_end"),
    ("sites.csv", "2023-04-01,2024-03-31,2024-04-30,2021", "2023-04-01,2024-03-31,2023-03-30,2021",
     "sites.csv", 2, "data_extract_date", "before period_start"),
    ("sites.csv", "group,24,", "group,0,", "sites.csv", 2, "planned_sessions", "below the allowed minimum 1"),
    ("sessions.csv", "R1,3,2023-05-01,group,true", "R1,3,2023-05-08,group,true", "sessions.csv", 4, "session_date",
     "after the referral's exit_date"),
    ("sessions.csv", "R1,1,2023-04-17,group,true", "R1,1,2023-04-10,group,true", "sessions.csv", 2, "session_date",
     "before the referral's start_date"),
    ("sessions.csv", "R2,2,2023-05-22", "R2,1,2023-05-22", "sessions.csv", 6, "referral_id+session_number", "duplicate key"),
    ("sessions.csv", "R2,1,2023-05-15,group,true", "R9,1,2023-05-15,group,true", "sessions.csv", 5, "referral_id", "orphan foreign key"),
    ("sessions.csv", "R2,2,2023-05-22,group,false", "R2,2,2023-05-22,group,", "sessions.csv", 6, "attended", "required value is missing"),
    ("risk_assessments.csv", "DASH,15,", "DASH,25,", "risk_assessments.csv", 2, "score", "outside the range of DASH"),
    ("risk_assessments.csv", "intake,DASH,11", "intake,DAHS,11", "risk_assessments.csv", 4, "instrument", "not in the registry"),
    ("risk_assessments.csv", "2023-05-08,intake", "2023-05-08,start", "risk_assessments.csv", 4, "timepoint", "value not allowed"),
    ("partner_surveys.csv", "true,1,40", "true,6,40", "partner_surveys.csv", 2, "feels_safe", "above the allowed maximum 5"),
    ("partner_surveys.csv", "V1,R1,T2", "V1,R1,T1", "partner_surveys.csv", 3, "partner_id+referral_id+wave", "duplicate key"),
    ("partners.csv", "V2,R2,ex_partner,male", "V2,R7,ex_partner,male", "partners.csv", 3, "referral_id", "orphan foreign key"),
    ("incidents.csv", "I3,I3,P2", "I3,I3,P7", "incidents.csv", 4, "participant_id", "orphan foreign key"),
    ("incidents.csv", "I2,E1,P1", "I1,E1,P1", "incidents.csv", 3, "incident_id", "duplicate key"),
]


@pytest.mark.parametrize(("file", "old", "new", "efile", "row", "column", "rule"), RULES,
                         ids=[f"{r[3]}:{r[5]}:{r[6][:25]}" for r in RULES])
def test_each_rule_is_reported_with_file_row_column(tmp_path, file, old, new, efile, row, column, rule):
    folder = broken(tmp_path, file, old, new)
    problems = problems_of(folder)
    assert_problem(problems, efile, row, column, rule)


def test_all_problems_of_all_files_are_collected(tmp_path):
    files = dict(MINI)
    files["referrals.csv"] = files["referrals.csv"].replace(",female,27,", ",woman,27,").replace("R5,P1,S2", "R5,P1,S9")
    files["sessions.csv"] = files["sessions.csv"].replace("R2,2,2023-05-22,group,false", "R2,2,2023-05-22,group,perhaps")
    folder = write_folder(tmp_path / "many", files)
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder)
    p = exc.value.problems
    assert list(p.columns) == ["file", "row", "column", "value", "rule"]
    assert len(p) == 3
    assert set(p["file"]) == {"referrals.csv", "sessions.csv"}
    msg = str(exc.value)
    assert msg.startswith("3 problems found")
    assert "referrals.csv, row 3, column 'gender'" in msg
    assert "'woman'" in msg


def test_missing_required_table(tmp_path):
    files = {k: v for k, v in MINI.items() if k != "sites.csv"}
    problems = problems_of(write_folder(tmp_path / "nosites", files))
    assert_problem(problems, "sites.csv", None, "", "required table sites is missing")


def test_missing_folder(tmp_path):
    problems = problems_of(tmp_path / "nope")
    assert "does not exist" in problems.loc[0, "rule"]


def test_blank_row_inside_data_is_an_error(tmp_path):
    files = dict(MINI)
    lines = files["sessions.csv"].splitlines(keepends=True)
    files["sessions.csv"] = "".join(lines[:3] + [",,,,\n"] + lines[3:])
    problems = problems_of(write_folder(tmp_path / "blank", files))
    assert_problem(problems, "sessions.csv", 4, "", "blank row inside the data")


def test_not_utf8_is_reported(tmp_path):
    folder = write_folder(tmp_path / "enc")
    text = MINI["sites.csv"].replace("North (synthetic)", "Nörth (synthetic)")
    (folder / "sites.csv").write_bytes(text.encode("latin-1"))
    problems = problems_of(folder)
    row = assert_problem(problems, "sites.csv", 2, "", "not UTF-8")
    assert row["file"] == "sites.csv"


def test_identifier_column_is_refused(tmp_path):
    files = dict(MINI)
    files["partners.csv"] = files["partners.csv"].replace("support_accepted\n", "support_accepted,Surname\n")
    files["partners.csv"] = files["partners.csv"].replace("female,true,true\n", "female,true,true,Smith\n")
    files["partners.csv"] = files["partners.csv"].replace("male,true,\n", "male,true,,Jones\n")
    problems = problems_of(write_folder(tmp_path / "ident", files))
    hit = assert_problem(problems, "partners.csv", 1, "Surname", "a person's name")
    assert "dapp-eval pseudonymise" in hit["rule"]


# -- tolerated variants ------------------------------------------------------

def test_bom_crlf_booleans_extra_columns_trailing_blank_rows(tmp_path):
    files = dict(MINI)
    ref = files["referrals.csv"]
    ref = ref.replace("employed,true,false", "employed,Yes,N").replace("unemployed,false,true", "unemployed,0,Y")
    ref = ref.replace("exit_reason\n", "exit_reason,keyworker_code\n")
    ref = "\n".join(line + ("," if i else "") for i, line in enumerate(ref.strip("\n").split("\n"))) + "\n"
    ref = ref.replace(",\n", ",K1\n", 1)
    files["referrals.csv"] = ref + ",,,,,,,,,,,,,,,,,,,,,\n,,,,,,,,,,,,,,,,,,,,,\n"
    folder = write_folder(tmp_path / "tolerant", files)
    raw = (folder / "referrals.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    (folder / "referrals.csv").write_bytes(b"\xef\xbb\xbf" + raw.encode("utf-8"))
    data = load_programme(folder)
    ref = data.referrals
    assert len(ref) == 5
    assert ref["prior_da_police_contact"].tolist()[:2] == [True, False]
    assert ref["substance_misuse"].tolist()[:2] == [False, True]
    assert "keyworker_code" in ref.columns
    log = data.load_log
    assert log.loc[log["note"] == "trailing blank rows ignored", "n"].item() == 2
    assert log["note"].str.contains("extra columns kept: keyworker_code").any()
    # Yes/N in rows 2 and 6 (R1, R5) and 0/Y in row 3 (R2): read, and each counted in the log
    assert log.loc[log["note"].str.startswith("prior_da_police_contact: yes/no values read"), "n"].item() == 3
    assert log.loc[log["note"].str.startswith("substance_misuse: yes/no values read"), "n"].item() == 3


def test_uk_dates_with_column_map(tmp_path):
    files = dict(MINI)
    iso = files["referrals.csv"]
    files["referrals.csv"] = pd.Series([iso]).str.replace(
        r"(\d{4})-(\d{2})-(\d{2})", r"\3/\2/\1", regex=True).iloc[0]
    folder = write_folder(tmp_path / "uk", files)
    problems = problems_of(folder)
    assert problems["rule"].str.contains("DD/MM/YYYY set date_format").any()
    data = load_programme(folder, column_map={"tables": {"referrals": {"date_format": "%d/%m/%Y"}}})
    assert data.referrals.loc[0, "referral_date"] == pd.Timestamp("2023-04-03")


def test_column_map_renames_and_recodes(tmp_path):
    files = dict(MINI)
    files["referrals.csv"] = (files["referrals.csv"]
                              .replace("referral_id,participant_id", "Ref No,Client")
                              .replace(",male,", ",M,").replace(",female,", ",F,"))
    folder = write_folder(tmp_path / "mapped", files)
    (folder / "column_map.yaml").write_text(
        "tables:\n  referrals:\n    columns:\n      Ref No: referral_id\n      Client: participant_id\n"
        "    values:\n      gender: {M: male, F: female}\n", encoding="utf-8")
    data = load_programme(folder)
    assert data.referrals["gender"].tolist() == ["male", "female", "male", "male", "male"]
    assert data.load_log["note"].str.contains("gender: values recoded").any()


def test_column_map_errors_are_named():
    with pytest.raises(DataValidationError, match="not a column of referrals"):
        read_column_map({"tables": {"referrals": {"columns": {"X": "not_a_column"}}}})
    with pytest.raises(DataValidationError, match="unknown table"):
        read_column_map({"tables": {"people": {}}})


@pytest.mark.parametrize("fmt", ["xlsx", "parquet", "dta", "sav"])
def test_other_formats_load_like_csv(mini_folder, tmp_path, fmt):
    reference = load_programme(mini_folder)
    out = tmp_path / fmt
    out.mkdir()
    for name in ("sites", "referrals", "sessions"):
        df = pd.read_csv(mini_folder / f"{name}.csv", dtype=str, keep_default_na=False)
        if fmt == "xlsx":
            df.to_excel(out / f"{name}.xlsx", index=False)
        elif fmt == "parquet":
            df.to_parquet(out / f"{name}.parquet", index=False)
        elif fmt == "dta":
            df.to_stata(out / f"{name}.dta", write_index=False, version=118)
        else:
            import pyreadstat

            pyreadstat.write_sav(df, str(out / f"{name}.sav"))
    data = load_programme(out)
    pd.testing.assert_frame_equal(data.referrals, reference.referrals)
    pd.testing.assert_frame_equal(data.sessions, reference.sessions)


def test_xlsx_native_dates_and_numbers(mini_folder, tmp_path):
    out = tmp_path / "native"
    out.mkdir()
    for name in ("sites", "referrals"):
        df = pd.read_csv(mini_folder / f"{name}.csv", keep_default_na=True)
        for c in df.columns:
            if c.endswith("date") or c.startswith("period") or c in ("data_extract_date", "incident_data_from"):
                df[c] = pd.to_datetime(df[c])
        df.to_excel(out / f"{name}.xlsx", index=False)
    data = load_programme(out)
    assert data.referrals.loc[1, "start_date"] == pd.Timestamp("2023-05-15")
    assert data.referrals["age"].tolist()[:2] == [34, 27]


def test_subset_filters_child_tables(mini_folder):
    data = load_programme(mini_folder)
    sub = data.subset(sites=["S2"])
    assert sub.referrals["referral_id"].tolist() == ["R4", "R5"]
    assert len(sub.sessions) == 0
    assert sub.incidents["participant_id"].tolist() == ["P1", "P1"]


def test_a_monthly_extract_is_read_as_ending_the_period_at_its_extract_date(tmp_path):
    """An extract taken while the contract year runs (period_end 2024-03-31, extracted 2024-01-31) validates;
    the period is read to the extract date and the load log says so (it was refused: 'before period_end')."""
    folder = broken(tmp_path, "sites.csv", "2024-03-31,2024-04-30,2021", "2024-03-31,2024-01-31,2021")
    data = load_programme(folder)
    s = data.sites.set_index("site_id")
    assert s.loc["S1", "period_end"] == pd.Timestamp("2024-01-31")
    assert s.loc["S2", "period_end"] == pd.Timestamp("2024-03-31")  # its extract is after its period: as given
    note = data.load_log[data.load_log["note"].str.contains("read as ending at the extract date")]
    assert note[["file", "n"]].values.tolist() == [["sites.csv", 1]]
    # a referral received after the extract date is not in the extract: still an error, named as the period's end
    late = broken(tmp_path / "late", "sites.csv", "one_to_one,12,,,2023-04-01,2024-03-31,2024-04-30,",
                  "one_to_one,12,,,2023-04-01,2024-03-31,2023-12-31,")
    assert_problem(problems_of(late), "referrals.csv", 6, "referral_date", "after the site's period_end")

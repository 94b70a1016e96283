"""Direct identifiers: detection on load (true positives and false alarms) and pseudonymise."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINI, SYNTHETIC, write_folder

from dapp_eval.cli import main
from dapp_eval.data.io import load_programme
from dapp_eval.data.privacy import identifier_problems, pseudonym, pseudonymise
from dapp_eval.data.schema import TABLES
from dapp_eval.errors import DataValidationError

KEY = "0f3c9a7e5b2d4c18a6e0b7f1d2c3e4a5"
OTHER_KEY = "a-completely-different-secret-key-42"


def _nhs(first9: str) -> str:
    """An NHS number with a valid modulus-11 check digit (None if the stem has none)."""
    check = 11 - sum(int(d) * w for d, w in zip(first9, range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return None if check == 10 else first9 + str(check)


VALID_NHS = [n for n in (_nhs(f"{i:09d}") for i in range(943476500, 943476600)) if n][:6]
# ten-digit codes whose last digit is NOT the check digit: a numbering system, not NHS numbers
CODES_10 = [n[:9] + str((int(n[9]) + 1) % 10) for n in VALID_NHS]


# ---------------------------------------------------------------------------
# detection: true positives
# ---------------------------------------------------------------------------

NAMED = [
    ("First Name", "a person's name"), ("Surname", "a person's name"), ("Full name", "a person's name"),
    ("client_name", "a person's name"), ("Name", "a person's name"), ("Partner Name", "a person's name"),
    ("Child name", "a person's name"), ("Known as", "a person's name"),
    ("DOB", "a date of birth"), ("Date of Birth", "a date of birth"), ("D.O.B.", "a date of birth"),
    ("birth_date", "a date of birth"),
    ("Postcode", "a postcode"), ("Post Code", "a postcode"),
    ("Address", "an address"), ("Address Line 1", "an address"), ("Home Address", "an address"),
    ("Street", "an address"),
    ("Phone", "a phone number"), ("Mobile Number", "a phone number"), ("Telephone No", "a phone number"),
    ("Tel", "a phone number"),
    ("Email", "an e-mail address"), ("E-mail", "an e-mail address"),
    ("NHS Number", "an NHS number"), ("NHS No.", "an NHS number"), ("nhs", "an NHS number"),
    ("PNC ID", "a police or court reference"), ("Police Ref", "a police or court reference"),
    ("Crime Reference Number", "a police or court reference"), ("CRO number", "a police or court reference"),
]


@pytest.mark.parametrize(("column", "what"), NAMED, ids=[c for c, _ in NAMED])
def test_identifier_column_names_are_flagged(column, what):
    df = pd.DataFrame({"referral_id": ["R1", "R2"], column: ["x", "y"]})
    found = identifier_problems(df, file="referrals.csv", table="referrals")
    assert found["column"].tolist() == [column]
    assert found.loc[0, "row"] == 1 and found.loc[0, "file"] == "referrals.csv"
    assert f"column looks like {what}" in found.loc[0, "rule"]
    assert "dapp-eval pseudonymise IN OUT --key-file KEY" in found.loc[0, "rule"]


VALUES = [
    ("contact", ["", "x", "someone@example.org", "other.person@example.co.uk"], "e-mail addresses", 4),
    ("info", ["07700 900123", "+44 7700 900456", "020 7946 0000", "n/a"], "phone numbers", 2),
    ("area", ["CV6 5AB", "B15 2TT", "le1 7rh", "LE1"], "full UK postcodes", 2),
    ("ref_code", ["unknown", *VALID_NHS[:3]], "NHS numbers", 3),
    ("ref_code", [f"{n[:3]} {n[3:6]} {n[6:]}" for n in VALID_NHS[:4]], "NHS numbers", 2),
]


@pytest.mark.parametrize(("column", "values", "what", "row"), VALUES)
def test_identifier_values_under_innocuous_names_are_flagged(column, values, what, row):
    df = pd.DataFrame({"referral_id": [f"R{i}" for i in range(len(values))], column: values})
    found = identifier_problems(df, file="referrals.csv", table="referrals")
    assert found["column"].tolist() == [column]
    n = sum(v != "" and v not in ("x", "n/a", "LE1", "unknown") for v in values)
    assert found.loc[0, "rule"].startswith(f"{n} value{'s' if n > 1 else ''} look{'' if n > 1 else 's'} like {what}")
    assert found.loc[0, "row"] == row  # the first value that looks like one (header = row 1)
    assert f"first in row {row}" in found.loc[0, "rule"]
    assert found.loc[0, "value"] == "(hidden)"  # the report never repeats an identifier


def test_loader_refuses_a_table_with_an_identifier_and_names_the_way_out(tmp_path):
    files = dict(MINI)
    files["incidents.csv"] = (files["incidents.csv"].replace("outcome_date\n", "outcome_date,contact_info\n")
                              .replace("police_callout,\n", "police_callout,,call 07700 900123\n")
                              .replace("arrest,\n", "arrest,,07700 900456\n")
                              .replace("marac_referral,\n", "marac_referral,,07700 900789\n"))
    with pytest.raises(DataValidationError) as exc:
        load_programme(write_folder(tmp_path / "ident", files))
    p = exc.value.problems
    hit = p[p["column"] == "contact_info"]
    # every cell is read, not only whole-cell matches: "call 07700 900123" in row 2 is the first
    assert len(hit) == 1 and hit["file"].item() == "incidents.csv" and hit["row"].item() == 2
    assert hit["rule"].item().startswith("3 values look like phone numbers (direct identifiers; first in row 2)")
    assert "dapp-eval pseudonymise" in hit["rule"].item()
    assert "07700" not in str(exc.value)


# ---------------------------------------------------------------------------
# detection: false alarms that must not happen
# ---------------------------------------------------------------------------


def test_contract_columns_of_the_shipped_data_raise_no_alarm():
    for name in TABLES:
        path = SYNTHETIC / f"{name}.csv"
        if not path.exists():
            continue
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert identifier_problems(df, file=path.name, table=name).empty, name


def test_mini_fixture_raises_no_alarm():
    for fname, text in MINI.items():
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        assert identifier_problems(df, file=fname, table=fname[:-4]).empty, fname


@pytest.mark.parametrize(("table", "column", "values"), [
    ("sites", "site_name", ["Coventry Project (synthetic)", "Leicestershire Choices", "Bromley"]),
    ("referrals", "programme_name", ["Foundations", "Step Up", "Caring Dads"]),
    ("referrals", "referral_id", ["R000123", "R000124", "R000125"]),
    ("referrals", "participant_id", ["P000123", "100234", "000123456"]),
    ("partners", "partner_id", ["V000001", "V000002", "V000003"]),
    ("incidents", "incident_id", ["I0000001", "I0000002", "I0000003"]),
    ("sessions", "session_number", ["1", "2", "3"]),
    ("referrals", "team_code", ["01", "02", "17"]),
    ("referrals", "case_no", ["000123456", "000123457", "000123458"]),  # zero-padded codes are not phone numbers
    ("referrals", "batch", CODES_10[:3]),  # ten digits without a valid NHS check digit
    ("referrals", "nhs_trust", ["Coventry and Warwickshire", "Leicester", "Bromley"]),
    ("referrals", "postcode_district", ["CV6", "LE1", "B15"]),
    ("referrals", "keyworker_remark_code", ["seen twice", "tel. contact preferred", "ok"]),
    # yes/no flags are never refused by their names
    ("referrals", "telephone_contact_made", ["yes", "no", "Y", ""]),
    ("referrals", "email_sent", ["true", "false", "1", "0"]),
    ("referrals", "address_known", ["Y", "n", "", "N"]),
    # counts with 10-11 digits (no leading zero) are not phone numbers; a decimal is not one either
    ("referrals", "n_contacts", ["12345678901", "7700900123", "0.1234567890"]),
    ("sites", "annual_cost_gbp", ["28000", "1234567890.5", "68000"]),
    ("referrals", "contact_date", ["2023-04-01", "2023-05-02", "2023-06-03"]),  # not dates of birth
])
def test_no_false_alarm(table, column, values):
    df = pd.DataFrame({column: values})
    assert identifier_problems(df, file=f"{table}.csv", table=table).empty


def test_allow_columns_silence_the_name_rule_but_never_the_content_scan(tmp_path):
    files = dict(MINI)
    files["sites.csv"] = (files["sites.csv"].replace("incident_data_from\n", "incident_data_from,office_phone\n")
                          .replace("2021-01-01\n", "2021-01-01,ext 12\n")
                          .replace("2024-04-30,\n", "2024-04-30,,ext 14\n"))
    folder = write_folder(tmp_path / "allow", files)
    with pytest.raises(DataValidationError, match="office_phone"):
        load_programme(folder)
    data = load_programme(folder, column_map={"allow_columns": ["office_phone"]})
    assert data.sites["office_phone"].tolist() == ["ext 12", "ext 14"]
    # allowed by name, but a cell holds a phone number: still refused, and the number is not repeated
    (folder / "sites.csv").write_text(files["sites.csv"].replace("ext 14", "024 7600 0001"))
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder, column_map={"allow_columns": ["office_phone"]})
    assert exc.value.problems["rule"].str.startswith("1 value looks like phone numbers").any()
    assert "7600" not in str(exc.value)


# ---------------------------------------------------------------------------
# pseudonymise
# ---------------------------------------------------------------------------

# the referral dates of MINI are 2023-04-03, 2023-05-01, 2023-06-01, 2023-07-01, 2024-01-02
DOBS = ["1989-04-04", "01/05/1996", "", "1978-06-30", "1988-01-02"]
AGES = [33, 27, None, 45, 36]  # 1989-04-04 is a day short of 34; 01/05/1996 is 27 on the day
POSTCODES = ["CV6 5AB", "b15 2tt", "", "LE1", "not known"]
DISTRICTS = ["CV6", "B15", "", "LE1", ""]


def _raw_export(folder: Path, *, key_inside: bool = False) -> Path:
    """MINI with direct identifiers in referrals.csv and partners.csv, and linked incidents."""
    write_folder(folder)
    ref = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False).drop(columns="age")
    ref["Surname"] = ["Smith", "Jones", "Brown", "Taylor", "Smith"]
    ref["DOB"] = DOBS
    ref["Postcode"] = POSTCODES
    ref["Mobile"] = ["07700 900123", "07700 900124", "", "07700 900125", "07700 900123"]
    ref["Email"] = ["js@example.org", "", "", "", "js@example.org"]
    ref["NHS Number"] = ["", *VALID_NHS[:3], ""]
    ref["client_ref"] = ["CASE-1", "CASE-2", "CASE-3", "CASE-4", "CASE-1"]
    ref.to_csv(folder / "referrals.csv", index=False, lineterminator="\n")
    par = pd.read_csv(folder / "partners.csv", dtype=str, keep_default_na=False)
    par["Partner Name"] = ["Ann Smith", "Bob Jones"]
    par.to_csv(folder / "partners.csv", index=False, lineterminator="\n")
    # I4 has no event_id (it defaults to its incident_id); I5 belongs to the same event
    with open(folder / "incidents.csv", "a", encoding="utf-8") as fh:
        fh.write("I4,,P2,2023-10-01,police_callout,\nI5,I4,P2,2023-10-01,da_crime,\n")
    # the only extra column the provider asks to keep: a case reference, which pseudonymise hashes
    (folder / "column_map.yaml").write_text("allow_columns: [client_ref]\n")
    return folder


def _key(path: Path, text: str = KEY) -> Path:
    """A key file as a careful user keeps it: readable by its owner only."""
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def export(tmp_path) -> Path:
    return _raw_export(tmp_path / "raw")


@pytest.fixture
def key_file(tmp_path) -> Path:
    return _key(tmp_path / "KEY")


def test_raw_export_is_refused_by_the_loader(export):
    with pytest.raises(DataValidationError) as exc:
        load_programme(export)
    flagged = set(exc.value.problems["column"])
    assert {"Surname", "DOB", "Postcode", "Mobile", "Email", "NHS Number", "Partner Name"} <= flagged


def test_pseudonymised_copy_loads_and_keeps_every_link(export, key_file, tmp_path):
    original = load_programme(write_folder(tmp_path / "original"))
    out = tmp_path / "clean"
    pseudonymise(export, out, key_file=key_file)
    data = load_programme(out)  # no identifier left, every foreign key still matches
    key = KEY.encode()
    ref = data.referrals
    assert ref["participant_id"].tolist() == [pseudonym(p, key, prefix="P") for p in ["P1", "P2", "P3", "P4", "P1"]]
    assert ref["referral_id"].tolist() == [pseudonym(f"R{i}", key, prefix="R") for i in range(1, 6)]
    # the repeat referral of P1 still shares one pseudonym, and the incidents still find their people
    assert ref.loc[0, "participant_id"] == ref.loc[4, "participant_id"]
    assert set(data.incidents["participant_id"]) <= set(ref["participant_id"])
    assert data.incidents["participant_id"].tolist()[:2] == [ref.loc[0, "participant_id"]] * 2
    assert set(data.partner_surveys["partner_id"]) == {pseudonym("V1", key, prefix="V")}
    # joins give the same numbers as before pseudonymisation
    assert data.episodes["n_sessions_attended"].tolist() == original.episodes["n_sessions_attended"].tolist()
    assert data.episodes["planned"].tolist() == original.episodes["planned"].tolist()
    # a person-reference column outside the contract is hashed too, consistently
    assert ref["client_ref"].tolist()[0] == ref["client_ref"].tolist()[4] == pseudonym("CASE-1", key, prefix="X")


def test_dob_becomes_age_at_referral_and_postcode_its_district(export, key_file, tmp_path):
    out = tmp_path / "clean"
    pseudonymise(export, out, key_file=key_file)
    ref = load_programme(out).referrals
    assert ref["age"].tolist() == [pd.NA if a is None else a for a in AGES]
    assert "DOB" not in ref and "Postcode" not in ref
    assert ref["postcode_district"].fillna("").tolist() == DISTRICTS


def test_iso_dob_with_a_blank_is_not_read_day_first(tmp_path, key_file):
    # with one empty DOB every date used to be parsed day-first: 1990-03-10 became 3 October (age 32, not 33)
    folder = tmp_path / "iso"
    folder.mkdir()
    pd.DataFrame({"referral_id": ["R1", "R2", "R3"], "referral_date": ["2023-04-05", "2023-04-05", "2023-04-05"],
                  "date_of_birth": ["1990-03-10", "", "1990-04-06"]}).to_csv(folder / "referrals.csv", index=False)
    pseudonymise(folder, tmp_path / "out", key_file=key_file)
    out = pd.read_csv(tmp_path / "out" / "referrals.csv", dtype=str, keep_default_na=False)
    assert out["age"].tolist() == ["33", "", "32"]


def test_direct_identifiers_are_dropped_and_the_key_is_never_written(export, key_file, tmp_path):
    out = tmp_path / "clean"
    pseudonymise(export, out, key_file=key_file)
    everything = b"".join(p.read_bytes() for p in sorted(out.iterdir()))
    assert KEY.encode() not in everything
    for secret in ["Smith", "Jones", "Ann Smith", "07700 900123", "js@example.org", VALID_NHS[0], "CV6 5AB",
                   "1989-04-04", "CASE-1"]:
        assert secret.encode() not in everything, secret
    header = (out / "referrals.csv").read_text().splitlines()[0].split(",")
    for dropped in ["Surname", "DOB", "Mobile", "Email", "NHS Number"]:
        assert dropped not in header
    assert "Partner Name" not in (out / "partners.csv").read_text()
    assert not (out / "KEY").exists()


def test_log_says_what_was_done_with_counts(export, key_file, tmp_path):
    out = tmp_path / "clean"
    log = pseudonymise(export, out, key_file=key_file)
    pd.testing.assert_frame_equal(log, pd.read_csv(out / "pseudonymisation_log.csv", keep_default_na=False),
                                  check_dtype=False)

    def n(file, column, action):
        if column in ("DOB", "Postcode", "Surname", "Mobile", "Partner Name"):
            # a provider's header is never copied into the log: the column is named by its position
            header = (export / file).read_text().splitlines()[0].split(",")
            column = f"column {header.index(column) + 1} (header not shown"
            hit = log[(log["file"] == file) & log["column"].str.startswith(column)
                      & log["action"].str.startswith(action)]
            assert len(hit) == 1, log.to_string()
            return hit["n"].item()
        hit = log[(log["file"] == file) & (log["column"] == column) & log["action"].str.startswith(action)]
        assert len(hit) == 1, log.to_string()
        return hit["n"].item()

    assert n("referrals.csv", "participant_id", "replaced by keyed hash") == 5
    assert n("incidents.csv", "incident_id", "replaced by keyed hash") == 5
    assert n("incidents.csv", "event_id", "replaced by keyed hash") == 4  # I4's is empty
    assert n("referrals.csv", "client_ref", "replaced by keyed hash") == 5
    assert n("referrals.csv", "DOB", "converted to age at referral") == 4
    assert n("referrals.csv", "DOB", "dropped (date of birth)") == 5
    assert n("referrals.csv", "Postcode", "coarsened to postcode district") == 3
    assert n("referrals.csv", "Postcode", "emptied: not a UK postcode") == 1
    assert n("referrals.csv", "Surname", "dropped (column looks like a person's name") == 5
    assert n("referrals.csv", "Mobile", "dropped (column looks like a phone number") == 5
    assert n("partners.csv", "Partner Name", "dropped") == 2
    for header in ("DOB", "Postcode", "Surname", "Mobile", "Partner Name", "NHS Number", "Email"):
        assert header not in (out / "pseudonymisation_log.csv").read_text()


def test_event_ids_stay_consistent_with_incident_id_defaulting(export, key_file, tmp_path):
    out = tmp_path / "clean"
    pseudonymise(export, out, key_file=key_file)
    inc = load_programme(out).incidents.set_index("incident_id")
    i4, i5 = pseudonym("I4", KEY.encode(), prefix="I"), pseudonym("I5", KEY.encode(), prefix="I")
    assert pd.isna(inc.loc[i4, "event_id"])
    assert inc.loc[i5, "event_id"] == i4  # I5 still points at I4, whose event_id defaults to its incident_id
    events = inc["event_id"].fillna(pd.Series(inc.index, index=inc.index))
    assert events.loc[i4] == events.loc[i5]
    assert events.nunique() == 3  # {I1, I2}, {I3}, {I4, I5}


def test_same_key_same_output_other_key_other_pseudonyms(export, key_file, tmp_path):
    pseudonymise(export, tmp_path / "a", key_file=key_file)
    pseudonymise(export, tmp_path / "b", key_file=key_file)
    for name in ("referrals.csv", "incidents.csv", "pseudonymisation_log.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = _key(tmp_path / "OTHER_KEY", OTHER_KEY)
    pseudonymise(export, tmp_path / "c", key_file=other)
    a = load_programme(tmp_path / "a").referrals
    c = load_programme(tmp_path / "c").referrals
    assert not set(a["participant_id"]) & set(c["participant_id"])
    assert not set(a["referral_id"]) & set(c["referral_id"])
    assert c["participant_id"].tolist()[0] == c["participant_id"].tolist()[4]


def test_provider_export_with_column_map_is_written_under_contract_names(tmp_path, key_file):
    raw = write_folder(tmp_path / "provider")
    (raw / "referrals.csv").unlink()
    (raw / "Referrals 2024 Smith.csv").write_text(
        MINI["referrals.csv"].replace("referral_id,participant_id", "Ref No,Client ID"))
    (raw / "column_map.yaml").write_text(
        "tables:\n  referrals:\n    file: Referrals 2024 Smith.csv\n    columns:\n      Ref No: referral_id\n"
        "      Client ID: participant_id\n")
    out = tmp_path / "clean"
    log = pseudonymise(raw, out, key_file=key_file)
    # the copy is in contract form: contract file and column names, so it needs no map
    assert not (out / "column_map.yaml").exists()
    ref = load_programme(out).referrals
    assert ref["participant_id"].tolist()[0] == pseudonym("P1", KEY.encode(), prefix="P")
    assert ref["referral_id"].tolist()[1] == pseudonym("R2", KEY.encode(), prefix="R")
    assert log.loc[(log["column"] == "participant_id") & (log["file"] == "referrals.csv"), "n"].item() == 5
    # the provider's file name (which holds a surname) reaches neither the copy nor its log
    assert not any(b"Smith" in p.read_bytes() for p in out.iterdir())


def test_ids_with_stray_spaces_keep_their_link(tmp_path, key_file):
    folder = write_folder(tmp_path / "spaces")
    (folder / "incidents.csv").write_text(MINI["incidents.csv"].replace("I3,I3,P2", "I3,I3, P2 "))
    pseudonymise(folder, tmp_path / "out", key_file=key_file)
    data = load_programme(tmp_path / "out")
    assert data.incidents["participant_id"].iloc[2] == data.referrals["participant_id"].iloc[1]


@pytest.mark.parametrize(("key", "message"), [("short", "too short"), ("  123456789012345  ", "too short")])
def test_short_key_is_refused_and_nothing_written(export, tmp_path, key, message):
    kf = _key(tmp_path / "KEY", key)
    with pytest.raises(ValueError, match=message):
        pseudonymise(export, tmp_path / "out", key_file=kf)
    assert not (tmp_path / "out").exists()


def test_same_folder_in_and_out_is_refused(export, key_file):
    with pytest.raises(ValueError, match="different folder"):
        pseudonymise(export, export, key_file=key_file)
    with pytest.raises(ValueError, match="different folder"):
        pseudonymise(export, export / ".." / export.name, key_file=key_file)


def test_key_file_inside_the_output_folder_is_refused(export, tmp_path):
    out = tmp_path / "clean"
    out.mkdir()
    _key(out / "KEY")
    with pytest.raises(ValueError, match="outside the output folder"):
        pseudonymise(export, out, key_file=out / "KEY")
    (out / "sub").mkdir()
    _key(out / "sub" / "KEY")
    with pytest.raises(ValueError, match="outside the output folder"):
        pseudonymise(export, out, key_file=out / "sub" / "KEY")


def test_key_file_inside_the_input_folder_is_refused(tmp_path):
    raw = _raw_export(tmp_path / "raw")
    _key(raw / "secret.csv")  # a key kept (badly) as a .csv next to the data
    with pytest.raises(ValueError, match="outside the input folder"):
        pseudonymise(raw, tmp_path / "out", key_file=raw / "secret.csv")
    assert not (tmp_path / "out").exists()


def test_other_csv_files_and_subfolders_are_listed_never_copied(export, key_file, tmp_path):
    (export / "secret.csv").write_text(f"key\n{KEY}\n")  # say, a copy of the key
    (export / "old").mkdir()
    (export / "old" / "referrals.csv").write_text("Surname\nSmith\n")
    log = pseudonymise(export, tmp_path / "out", key_file=key_file)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [*MINI, "column_map.yaml", "pseudonymisation_log.csv", "pseudonymisation_note.json"])
    # counted, not named: a file name can hold a person's name
    hit = log[log["file"] == "(other files)"]
    assert hit["action"].item().startswith("not copied: not a table") and hit["n"].item() == 1
    assert log.loc[log["file"] == "(subfolders)", "n"].item() == 1
    assert "secret" not in log.to_string()


def test_non_csv_files_are_logged_not_silently_skipped(export, key_file, tmp_path):
    pd.DataFrame({"x": [1]}).to_parquet(export / "extra.parquet")
    log = pseudonymise(export, tmp_path / "out", key_file=key_file)
    hit = log[log["file"] == "(other files)"]
    assert hit["action"].str.startswith("not copied").all() and hit["n"].item() == 1
    assert not (tmp_path / "out" / "extra.parquet").exists()


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def test_cli_pseudonymise(export, key_file, tmp_path, capsys):
    out = tmp_path / "clean"
    assert main(["pseudonymise", str(export), str(out), "--key-file", str(key_file)]) == 0
    printed = capsys.readouterr().out
    assert "Pseudonymised copy written to" in printed and "The key was not copied" in printed
    assert "converted to age at referral" in printed
    assert KEY not in printed
    assert len(load_programme(out).referrals) == 5


def test_cli_pseudonymise_refuses_a_short_key_without_traceback(export, tmp_path, capsys):
    kf = _key(tmp_path / "KEY", "abc")
    assert main(["pseudonymise", str(export), str(tmp_path / "out"), "--key-file", str(kf)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dapp-eval pseudonymise: ") and "too short" in err and "Traceback" not in err


def test_cli_pseudonymise_missing_key_file(export, tmp_path, capsys):
    assert main(["pseudonymise", str(export), str(tmp_path / "out"), "--key-file", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_missing_table_message_counts_the_folders_files_without_naming_them(tmp_path):
    """A provider's file can be named after a person: the refusal says what kinds of file it found, not their names."""
    (tmp_path / "Referrals Jane Example.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "notes Jane.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(DataValidationError) as err:
        load_programme(tmp_path)
    text = str(err.value) + " ".join(err.value.problems["rule"].astype(str))
    assert "Jane" not in text and "Example" not in text
    assert "1 .csv file, 1 .xlsx file" in text

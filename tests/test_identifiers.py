"""Issue 17: personal data cannot get through the loader, pseudonymise, its log or an error message."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MINI, write_folder

from dapp_eval.cli import main
from dapp_eval.data.identifiers import identifier_problems, mask_identifiers, name_rule, scan_column
from dapp_eval.data.io import load_programme
from dapp_eval.data.privacy import keygen, pseudonymise
from dapp_eval.errors import DataValidationError

KEY = "0f3c9a7e5b2d4c18a6e0b7f1d2c3e4a5"


def _nhs(first9: str) -> str | None:
    check = 11 - sum(int(d) * w for d, w in zip(first9, range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return None if check == 10 else first9 + str(check)


NHS = [n for n in (_nhs(f"{i:09d}") for i in range(943476500, 943476600)) if n][:5]


def _key(path: Path, text: str = KEY) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _problems(folder, **kw) -> pd.DataFrame:
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder, **kw)
    return exc.value.problems


def _with_column(table: str, column: str, values: list[str], files=None) -> dict[str, str]:
    """MINI with one more column in ``table`` (one value per data row, in order)."""
    files = dict(files or MINI)
    df = pd.read_csv(pd.io.common.StringIO(files[f"{table}.csv"]), dtype=str, keep_default_na=False)
    df[column] = values[: len(df)]
    files[f"{table}.csv"] = df.to_csv(index=False, lineterminator="\n")
    return files


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "what"), [
    ("client", "a person's name"), ("perpetrator", "a person's name"), ("victim", "a person's name"),
    ("birth", "a date of birth"), ("date_born", "a date of birth"), ("Born", "a date of birth"),
    ("crime_no", "a police or court reference"), ("occurrence", "a police or court reference"),
    ("ni_number", "a National Insurance number"), ("NI No", "a National Insurance number"),
    ("location", "an address or location"), ("notes", "free text"), ("Case Notes", "free text"),
    ("Comments", "free text"),
])
def test_names_from_the_issue_are_refused(column, what):
    assert name_rule(column).startswith(what)
    found = identifier_problems(pd.DataFrame({column: ["a", "b"]}), file="referrals.csv", table="referrals")
    assert found["column"].tolist() == [column] and found["row"].tolist() == [1]
    # every refusal says how to fix it: drop, pseudonymise, or allow
    rule = found["rule"].item()
    assert "drop the column" in rule and "dapp-eval pseudonymise" in rule and "allow_columns" in rule


@pytest.mark.parametrize("column", ["telephone_contact_made", "email_sent", "address_known", "home_visit"])
def test_yes_no_flags_are_not_refused_by_name(column):
    df = pd.DataFrame({column: ["yes", "No", "", "Y", "n", "TRUE", "0"]})
    assert identifier_problems(df, file="referrals.csv", table="referrals").empty
    # a name that counts, flags or dates something is not refused by its name whatever its values (issue 27:
    # phone_contact_made, emails_sent, home_visits); its content is still scanned
    assert identifier_problems(pd.DataFrame({column: ["07/03", "x"]}), file="r.csv", table="referrals").empty
    assert not identifier_problems(pd.DataFrame({column: ["07700 900123", "x"]}), file="r.csv",
                                   table="referrals").empty


# ---------------------------------------------------------------------------
# content: every cell of every column
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "what"), [
    ("9434765919", "NHS numbers"), ("943 476 5919", "NHS numbers"), ("943-476-5919", "NHS numbers"),
    ("07700 900123", "phone numbers"), ("+44 (0)7700 900123", "phone numbers"), ("0044 20 7946 0000", "phone numbers"),
    ("01632 960001", "phone numbers"), ("call 07700900123 after 5", "phone numbers"),
    ("someone@example.org", "e-mail addresses"), ("mail j.o'neil+x@nhs.net now", "e-mail addresses"),
    ("CV6 5AB", "full UK postcodes"), ("12 High St, Coventry CV6 5AB", "full UK postcodes"),
    ("cv65ab", "full UK postcodes"), ("AB 12 34 56 C", "National Insurance numbers"),
    ("AB123456C", "National Insurance numbers"), ("CR/000000/24", "police crime or occurrence references"),
    ("CR-012345-24", "police crime or occurrence references"), ("42/123456/24", "police crime or occurrence references"),
    ("98/123456A", "police crime or occurrence references"), ("http://x.example/?a=1", "URLs"),
    ("see www.example.org", "URLs"),
])
def test_each_rule_finds_its_identifier_anywhere_in_a_cell(value, what):
    assert (what, 1, 1) in scan_column(pd.Series(["ok", value, ""]))


@pytest.mark.parametrize("value", [
    "9434765918",  # wrong check digit
    "2023-04-01", "01/04/2023", "R000123", "P1", "S01", "0.1234567890", "12345678901", "7700900123",
    "physical;emotional", "CV6", "Foundations", "DASH", "24", "28000.50", "1234567890.5", "B15",
    "group 2 of 3", "tel. contact preferred", "A1", "room 12/3",
])
def test_ordinary_values_match_no_rule(value):
    assert scan_column(pd.Series([value])) == []


def test_one_cell_is_enough_wherever_it_is():
    # e-mails that begin after the first 500 filled cells; a column 40% phone numbers
    late = pd.Series([f"case {i}" for i in range(900)] + ["x@example.org"])
    assert scan_column(late) == [("e-mail addresses", 1, 900)]
    mixed = pd.Series([f"07700 900{i:03d}" if i % 5 < 2 else "none" for i in range(600)])
    assert scan_column(mixed) == [("phone numbers", 240, 0)]


@pytest.mark.parametrize(("column", "values", "what"), [
    ("participant_id", NHS, "NHS numbers"),
    ("participant_id", ["P1", "07700 900123", "P3", "P4", "P1"], "phone numbers"),
    ("referral_id", ["R1", "R2", "CR/000000/24", "R4", "R5"], "police crime or occurrence references"),
    ("programme_name", ["", "", "lead@example.org", "", ""], "e-mail addresses"),
])
def test_contract_columns_are_scanned_too(tmp_path, column, values, what):
    files = dict(MINI)
    df = pd.read_csv(pd.io.common.StringIO(files["referrals.csv"]), dtype=str, keep_default_na=False)
    df[column] = values
    files["referrals.csv"] = df.to_csv(index=False, lineterminator="\n")
    p = _problems(write_folder(tmp_path / "c", files))
    hit = p[(p["column"] == column) & p["rule"].str.contains(what)]
    assert len(hit) == 1
    assert hit["value"].item() == "(hidden)"
    if column.endswith("_id"):
        assert "replaces this column with keyed pseudonyms" in hit["rule"].item()
    for v in values:
        if v not in ("", "P1", "P3", "P4", "R1", "R2", "R4", "R5"):
            assert v not in p.to_string()


def test_identifiers_in_other_columns_are_masked_in_validation_messages(tmp_path):
    # a phone number typed into age and a crime reference into an enum: both invalid, neither repeated
    files = dict(MINI)
    files["referrals.csv"] = (files["referrals.csv"].replace(",male,34,", ",male,07700 900123,")
                              .replace(",female,27,", ",CR/000000/24,27,"))
    with pytest.raises(DataValidationError) as exc:
        load_programme(write_folder(tmp_path / "m", files), check_identifiers=False)
    p = exc.value.problems
    assert p.loc[p["column"] == "age", "rule"].str.startswith("not a number").any()
    assert p.loc[p["column"] == "gender", "rule"].str.startswith("value not allowed").any()
    assert "07700" not in str(exc.value) and "000000" not in str(exc.value)
    assert "07700" not in p.to_string() and "000000" not in p.to_string()
    assert mask_identifiers(["male", "07700 900123"]) == ["male", "(hidden: looks like an identifier)"]


def test_xlsx_numbers_and_dates_are_read_as_identifiers(tmp_path):
    folder = write_folder(tmp_path / "xl")
    ref = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False)
    ref["nhs_code"] = [int(n) for n in NHS]  # stored as numbers, as Excel does
    ref["born"] = pd.to_datetime(["1989-04-04", "1996-05-01", "1978-06-30", "1988-01-02", "1989-04-04"])
    ref["d2"] = pd.to_datetime(["1989-04-04", "1996-05-01", "1978-06-30", "1988-01-02", "1989-04-04"])
    (folder / "referrals.csv").unlink()
    ref.to_excel(folder / "referrals.xlsx", index=False)
    p = _problems(folder)
    assert p.loc[p["column"] == "nhs_code", "rule"].str.startswith("5 values look like NHS numbers").any()
    assert p.loc[p["column"] == "born", "rule"].str.contains("a date of birth").any()
    # an innocent name does not hide dates of birth: ages 27-45 at referral
    assert p.loc[p["column"] == "d2", "rule"].str.contains("dates imply adults' ages for 5 rows").any()
    for n in NHS:
        assert n not in p.to_string()


def test_formula_like_site_names_are_refused(tmp_path):
    for bad, rule in [('=HYPERLINK("http://x.example/?"&B3,"Open")', "URLs"), ("@SUM(1+1)", "spreadsheet formulas")]:
        files = dict(MINI)
        files["sites.csv"] = files["sites.csv"].replace("North (synthetic)", '"' + bad.replace('"', '""') + '"')
        p = _problems(write_folder(tmp_path / rule[:3], files))
        hit = p[p["column"] == "site_name"]
        assert len(hit) == 1 and hit["row"].item() == 2 and rule in hit["rule"].item()
        assert "SUM" not in p.to_string() and "HYPERLINK" not in p.to_string()


# ---------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------

def test_column_map_files_stay_inside_the_data_folder(tmp_path):
    outside = write_folder(tmp_path / "outside", {"private.csv": MINI["sites.csv"].replace("North", "Ann Smith 07700 900123")})
    folder = write_folder(tmp_path / "data")
    (folder / "sites.csv").unlink()
    cmap = {"tables": {"sites": {"file": "../outside/private.csv"}}}
    p = _problems(folder, column_map=cmap)
    assert p["rule"].str.contains("outside the data folder").any()
    assert "07700" not in p.to_string() and "Ann Smith" not in p.to_string()
    # a symbolic link out of the folder is the same escape
    (folder / "sites.csv").symlink_to(outside / "private.csv")
    assert _problems(folder)["rule"].str.contains("symbolic link to a place outside").any()
    (folder / "sites.csv").unlink()
    # --allow-outside lets the file be read; its phone number is then refused, and still not printed
    p = _problems(folder, column_map=cmap, allow_outside=True)
    assert p["rule"].str.contains("phone numbers").any() and "07700" not in p.to_string()


# ---------------------------------------------------------------------------
# no silent acceptance
# ---------------------------------------------------------------------------

def test_header_only_sessions_next_to_started_referrals_is_an_error(tmp_path):
    files = dict(MINI)
    files["sessions.csv"] = MINI["sessions.csv"].split("\n", 1)[0] + "\n"
    p = _problems(write_folder(tmp_path / "h", files))
    # R1 and R2 have a start_date
    assert p.loc[p["file"] == "sessions.csv", "rule"].str.contains("while 2 referrals have a start_date").any()
    files = dict(MINI)
    files["referrals.csv"] = MINI["referrals.csv"].split("\n", 1)[0] + "\n"
    p = _problems(write_folder(tmp_path / "r", files))
    assert p.loc[p["file"] == "referrals.csv", "rule"].str.startswith("the file has a header but no data rows").any()


def test_dates_after_the_extract_date_are_errors(tmp_path):
    files = dict(MINI)
    files["incidents.csv"] = MINI["incidents.csv"].replace("I3,I3,P2,2023-09-01", "I3,I3,P2,2029-09-01")
    files["sessions.csv"] = MINI["sessions.csv"].replace("R2,2,2023-05-22", "R2,2,2024-05-22")
    p = _problems(write_folder(tmp_path / "d", files))
    assert p[(p["file"] == "incidents.csv") & (p["row"] == 4)]["rule"].str.contains("after the data_extract_date").any()
    assert p[(p["file"] == "sessions.csv") & (p["row"] == 6)]["rule"].str.contains("after the site's data_extract").any()


def test_every_normalisation_is_counted(tmp_path):
    files = dict(MINI)
    files["referrals.csv"] = (MINI["referrals.csv"].replace(",male,34,", ",MALE,34,")
                              .replace("R2,P2,S1,", "R2,P2, S1 ,").replace("employed,true,false", "employed,Y,n"))
    files["sites.csv"] = MINI["sites.csv"].replace("S2,South", '" S2 ",South')
    log = load_programme(write_folder(tmp_path / "n", files)).load_log

    def n(note):
        hit = log[(log["file"] == "referrals.csv") & log["note"].str.startswith(note)]
        assert len(hit) == 1, log.to_string()
        return hit["n"].item()

    assert n("gender: codes normalised") == 1
    assert n("site_id: white space around values removed") == 1  # in referrals.csv, row 3
    assert log.loc[log["file"] == "sites.csv", "note"].str.startswith("site_id: white space").sum() == 1
    assert n("prior_da_police_contact: yes/no values read as true/false (y)") == 2  # R1 and R5
    assert n("substance_misuse: yes/no values read as true/false (n)") == 2


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_or_tab_delimited_file_is_named(tmp_path, sep, word):
    files = dict(MINI)
    files["sites.csv"] = MINI["sites.csv"].replace(",", sep)
    p = _problems(write_folder(tmp_path / "s", files))
    sites = p[p["file"] == "sites.csv"]
    assert sites["rule"].str.startswith(f"the header splits on {word}").any()
    assert not sites["rule"].str.contains("required column").any()


# ---------------------------------------------------------------------------
# pseudonymise: an export built to leak
# ---------------------------------------------------------------------------

SECRETS = ["Ann Smith", "Bob Jones", "07700 900123", "07700900124", "CR/000000/24", "CR/000001/24",
           "AB 12 34 56 C", "12 High Street", "CV6 5AB", "1989-04-04", "ann@example.org", *NHS]


def _leaky(folder: Path) -> Path:
    write_folder(folder)
    ref = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False).drop(columns="age")
    ref["client"] = ["Ann Smith", "Bob Jones", "Cy Brown", "Di Taylor", "Ann Smith"]
    ref["notes"] = ["Ann Smith, mobile 07700 900123", "", "ok", "", "seen"]
    ref["crime_no"] = ["CR/000000/24", "CR/000001/24", "", "", ""]
    ref["ni_number"] = ["AB 12 34 56 C", "", "", "", ""]
    ref["location"] = ["12 High Street, Coventry CV6 5AB", "", "", "", ""]
    ref["born"] = ["1989-04-04", "1996-05-01", "", "1978-06-30", "1988-01-02"]
    ref["contact"] = ["ann@example.org", "07700900124", "", "", ""]  # allowed by name: content still checked
    ref["keyworker_code"] = ["K1", "K2", "K1", "", "K3"]  # allowed and clean: kept
    ref["nhs"] = NHS
    ref.to_csv(folder / "referrals.csv", index=False, lineterminator="\n")
    (folder / "column_map.yaml").write_text("allow_columns: [contact, keyworker_code]\n")
    return folder


def test_nothing_identifying_reaches_out_and_out_validates(tmp_path):
    raw, out = _leaky(tmp_path / "raw"), tmp_path / "out"
    assert _problems(raw)["column"].nunique() >= 8
    log = pseudonymise(raw, out, key_file=_key(tmp_path / "KEY"))
    everything = b"".join(p.read_bytes() for p in sorted(out.iterdir()))
    for secret in SECRETS:
        assert secret.encode() not in everything, secret
    data = load_programme(out)
    assert data.referrals["keyworker_code"].fillna("").tolist() == ["K1", "K2", "K1", "", "K3"]
    assert data.referrals["age"].tolist()[:2] == [33, 27]  # born 1989-04-04, referred 2023-04-03
    actions = dict(zip(log.loc[log["file"] == "referrals.csv", "column"], log.loc[log["file"] == "referrals.csv", "action"]))
    # a dropped column is named by its position in the provider's file, never by its header
    header = (raw / "referrals.csv").read_text().splitlines()[0].split(",")
    for h in ("client", "notes", "crime_no"):
        label = next(c for c in actions if c.startswith(f"column {header.index(h) + 1} (header not shown"))
        actions[h] = actions.pop(label)
    assert actions["client"].startswith("dropped (column looks like a person's name")
    assert actions["notes"].startswith("dropped (column looks like free text")
    assert actions["crime_no"].startswith("dropped (column looks like a police or court reference")
    assert actions["contact"].startswith("dropped (allowed by name, but 1 value looks like phone numbers (first in "
                                         "row 3); 1 value looks like e-mail addresses (first in row 2)")


def test_a_failed_run_leaves_out_as_it_was_and_logs_beside_it(tmp_path):
    raw, out = _leaky(tmp_path / "raw"), tmp_path / "out"
    (raw / "risk_assessments.csv").write_bytes(b"referral_id,score\nR1,\xff\xfe1\n")  # not UTF-8
    out.mkdir()
    (out / "referrals.csv").write_text("an earlier raw file\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    key = _key(tmp_path / "KEY")
    with pytest.raises(ValueError, match="not empty"):
        pseudonymise(raw, out, key_file=key)
    with pytest.raises(ValueError, match="the risk_assessments table, row 2: file is not UTF-8"):
        pseudonymise(raw, out, key_file=key, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["KEY", "out", "out.failed-run.log", "raw"]  # no temp left
    failed = (tmp_path / "out.failed-run.log").read_text()
    assert "left as it was" in failed and "not UTF-8" in failed  # every table is read before any is written
    assert not any(s in failed for s in SECRETS)
    # fixed: --force replaces OUT whole (the stale raw file is gone)
    (raw / "risk_assessments.csv").write_text(MINI["risk_assessments.csv"])
    pseudonymise(raw, out, key_file=key, force=True)
    assert "an earlier raw file" not in (out / "referrals.csv").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["KEY", "out", "out.failed-run.log", "raw"]


def test_contract_column_with_an_identifier_stops_pseudonymise(tmp_path):
    files = dict(MINI)
    files["sites.csv"] = MINI["sites.csv"].replace("North (synthetic)", "@SUM(1+1)")
    raw = write_folder(tmp_path / "raw", files)
    with pytest.raises(ValueError, match=r"sites.csv, column site_name: 1 value\(s\) look like spreadsheet formulas"):
        pseudonymise(raw, tmp_path / "out", key_file=_key(tmp_path / "KEY"))
    files["sites.csv"] = MINI["sites.csv"].replace("North (synthetic)", "ring 07700 900123")
    raw = write_folder(tmp_path / "raw", files)
    with pytest.raises(ValueError, match="1 value looks like phone numbers") as exc:
        pseudonymise(raw, tmp_path / "out", key_file=_key(tmp_path / "KEY"))
    assert "07700" not in str(exc.value) and not (tmp_path / "out").exists()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_keys_readable_by_others_or_repetitive_are_refused(tmp_path):
    raw = write_folder(tmp_path / "raw")
    loose = _key(tmp_path / "LOOSE")
    loose.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        pseudonymise(raw, tmp_path / "out", key_file=loose)
    with pytest.raises(ValueError, match="fewer than 16 different bytes"):
        pseudonymise(raw, tmp_path / "out", key_file=_key(tmp_path / "AAA", "a" * 40))
    assert not (tmp_path / "out").exists()


def test_keygen_writes_a_private_random_key_that_pseudonymise_accepts(tmp_path, capsys):
    assert main(["keygen", str(tmp_path / "KEY")]) == 0
    key = tmp_path / "KEY"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert len(set(key.read_bytes())) >= 16
    assert main(["keygen", str(key)]) == 2  # never overwritten
    assert "never overwritten" in capsys.readouterr().err
    other = keygen(tmp_path / "KEY2")
    assert other.read_bytes() != key.read_bytes()
    raw = write_folder(tmp_path / "raw")
    assert main(["pseudonymise", str(raw), str(tmp_path / "out"), "--key-file", str(key)]) == 0
    assert len(load_programme(tmp_path / "out").referrals) == 5


def test_cli_pseudonymise_refuses_non_empty_out_and_names_the_failed_log(tmp_path, capsys):
    raw, out = write_folder(tmp_path / "raw"), tmp_path / "out"
    out.mkdir()
    (out / "x.txt").write_text("x")
    assert main(["pseudonymise", str(raw), str(out), "--key-file", str(_key(tmp_path / "KEY"))]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and "out.failed-run.log" in err
    assert main(["pseudonymise", str(raw), str(out), "--key-file", str(tmp_path / "KEY"), "--force"]) == 0
    assert not (out / "x.txt").exists()


def test_scan_of_100k_rows_is_vectorised():
    """The rules run on distinct values with one regex pass per rule, not once per cell."""
    n = 100_000
    rng = np.random.default_rng(1)
    ids = pd.Series([f"P{i:06d}" for i in rng.permutation(n)])
    ids.iloc[99_998] = "07700 900123"
    assert scan_column(ids) == [("phone numbers", 1, 99_998)]


def test_cli_validate_refuses_an_outside_file_unless_allowed(tmp_path, capsys):
    write_folder(tmp_path / "outside", {"private.csv": MINI["sites.csv"]})
    folder = write_folder(tmp_path / "data")
    (folder / "sites.csv").unlink()
    (folder / "column_map.yaml").write_text("tables:\n  sites:\n    file: ../outside/private.csv\n")
    assert main(["validate", str(folder)]) == 1
    assert "outside the data folder" in capsys.readouterr().out
    assert main(["validate", str(folder), "--allow-outside"]) == 0


def test_a_column_map_given_apart_is_applied_and_the_copy_needs_none(tmp_path):
    raw = write_folder(tmp_path / "raw")
    (raw / "referrals.csv").write_text(MINI["referrals.csv"].replace("referral_id,participant_id", "Ref No,Client ID"))
    cmap = tmp_path / "map.yaml"
    cmap.write_text("tables:\n  referrals:\n    columns:\n      Ref No: referral_id\n      Client ID: participant_id\n")
    pseudonymise(raw, tmp_path / "out", key_file=_key(tmp_path / "KEY"), column_map=cmap)
    # the copy is written under the contract's names (issue 27), so it loads without the map
    assert not (tmp_path / "out" / "column_map.yaml").exists()
    assert load_programme(tmp_path / "out").referrals["participant_id"].nunique() == 4

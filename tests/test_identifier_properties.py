"""Property tests: an identifier put anywhere never reaches a pseudonymised folder, a log or a message.

Hypothesis generates identifier-like values (NHS numbers with a valid check
digit in three spellings, UK phone numbers in several formats, e-mail
addresses, full postcodes, National Insurance numbers, crime references,
URLs), wraps some in text, and puts one in a random cell of a random table
of the hand-made MINI folder, under an innocent new column name or in a
contract column (IDs, site_name, programme_name, ...).  Then:

- the loader refuses the folder, and neither the message nor the problems
  table repeats the value;
- pseudonymise either refuses (OUT not created; the message and the failed-run
  log do not repeat the value) or writes a copy in which no file holds it.

The settings are fixed (``derandomize=True``, no database), so every run
tries the same 30 + 20 cases (about 15 s of CPU time together).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINI, write_folder
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dapp_eval.data.io import load_programme
from dapp_eval.data.privacy import pseudonymise
from dapp_eval.errors import DataValidationError

PROFILE = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                   phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.too_slow])
KEY = "0f3c9a7e5b2d4c18a6e0b7f1d2c3e4a5"


def _nhs(stem: int) -> str | None:
    first9 = f"{stem:09d}"
    check = 11 - sum(int(d) * w for d, w in zip(first9, range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return None if check == 10 else first9 + str(check)


nhs = st.tuples(st.integers(400_000_000, 999_999_999).map(_nhs).filter(bool), st.sampled_from(["", " ", "-"])).map(
    lambda t: t[1].join([t[0][:3], t[0][3:6], t[0][6:]]))
phone = st.tuples(st.sampled_from(["7", "1", "2", "3"]), st.from_regex(r"[0-9]{9}", fullmatch=True),
                  st.sampled_from(["0{}{}", "0{} {}", "+44 {}{}", "+44 (0){} {}", "0044{}{}"])).map(
    lambda t: t[2].format(t[0] + t[1][:3], t[1][3:]))
email = st.from_regex(r"[a-z][a-z0-9._]{0,8}@[a-z]{2,10}\.(org|co\.uk|nhs\.net|com)", fullmatch=True)
postcode = st.from_regex(r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UW-Z]{2}", fullmatch=True)
nino = st.from_regex(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", fullmatch=True)
crime = st.from_regex(r"(CR|OCC)/[0-9]{6}/2[0-9]|[0-9]{2}/[0-9]{6}/2[0-9]", fullmatch=True)
url = st.from_regex(r"https?://[a-z]{3,10}\.example/[a-z0-9]{0,8}", fullmatch=True)
identifier = st.one_of(nhs, phone, email, postcode, nino, crime, url)
wrapped = st.tuples(st.sampled_from(["", "", "call ", "Ann: ", "see "]), identifier,
                    st.sampled_from(["", "", " today", ", urgent"])).map(lambda t: (t[0] + t[1] + t[2], t[1]))

TABLES = {"sites": 2, "referrals": 5, "incidents": 3, "partners": 2, "sessions": 5}
CONTRACT_TEXT = {"sites": ["site_id", "site_name"], "referrals": ["referral_id", "participant_id", "programme_name"],
                 "incidents": ["incident_id", "event_id", "participant_id"], "partners": ["partner_id"],
                 "sessions": ["referral_id"]}
NEW_NAMES = ["info", "x1", "ref_code", "team", "contact", "misc field", "keyworker_code"]

placement = st.sampled_from(sorted(TABLES)).flatmap(lambda t: st.tuples(
    st.just(t), st.one_of(st.sampled_from(NEW_NAMES), st.sampled_from(CONTRACT_TEXT[t])),
    st.integers(0, TABLES[t] - 1)))


def _forms(value: str) -> list[str]:
    """The value and its digits alone (a phone or NHS number must not come through respelt either)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return [value] + ([digits] if len(digits) >= 9 else [])


def _inject(folder: Path, table: str, column: str, row: int, cell: str) -> None:
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if column not in df:
        df[column] = ""
    df.loc[row, column] = cell
    df.to_csv(path, index=False, lineterminator="\n")
    # the new column is allowed by name: only the content scan stands between it and OUT
    (folder / "column_map.yaml").write_text(f"allow_columns: [{column!r}]\n")


def _assert_absent(text: str, value: str) -> None:
    for form in _forms(value):
        assert form not in text, form


@settings(PROFILE, max_examples=30)
@given(where=placement, cell=wrapped)
def test_loader_refuses_and_never_repeats_the_identifier(where, cell):
    table, column, row = where
    text, value = cell
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp) / "raw", MINI)
        _inject(folder, table, column, row, text)
        with pytest.raises(DataValidationError) as exc:
            load_programme(folder)
    problems = exc.value.problems
    assert (problems["column"] == column).any()
    _assert_absent(str(exc.value), value)
    _assert_absent(problems.to_csv(index=False), value)


@settings(PROFILE, max_examples=20)
@given(where=placement, cell=wrapped)
def test_nothing_identifying_reaches_out_or_the_logs(where, cell):
    table, column, row = where
    text, value = cell
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = write_folder(tmp / "raw", MINI)
        _inject(folder, table, column, row, text)
        key = tmp / "KEY"
        key.write_text(KEY)
        key.chmod(0o600)
        out = tmp / "out"
        try:
            log = pseudonymise(folder, out, key_file=key)
        except ValueError as exc:
            _assert_absent(str(exc), value)
            assert not out.exists()
            _assert_absent((tmp / "out.failed-run.log").read_text(), value)
            return
        _assert_absent(log.to_csv(index=False), value)
        for path in out.iterdir():
            _assert_absent(path.read_text(encoding="utf-8"), value)
        if column in NEW_NAMES:
            load_programme(out)  # what is left is a valid folder (a hashed ID cell may now be an orphan)

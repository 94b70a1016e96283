"""The loader's column-wise path (issue #20): each column's distinct cells are validated once and keys are
matched on integer codes.  It must give exactly what the cell-by-cell path gives: the same typed tables, the
same problems (file, row, column, value, rule, in the same order) and the same load log."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dapp_eval.data.io import (
    TableMap,
    _duplicates,
    _encode,
    _read_raw,
    load_programme,
    validate_tables,
)
from dapp_eval.data.schema import TABLES
from dapp_eval.errors import DataValidationError

ROOT = Path(__file__).resolve().parents[1]
SEED_CELLS = ["", "xx", "2023-13-40", "2023-05", "-5", "1.5", "MALE", "Y", "ORPHAN9", "inf", "99999", "TRUE",
              " yes ", "R000001", "P000002", "2020-01-01", "2030-01-01", "unsuitable", "completed"]


def _corrupted(dest: Path, seed: int, pad: bool) -> Path:
    """data_synthetic with 40 random cells per file replaced by bad or awkward values and a repeated first row."""
    rng = random.Random(seed)
    shutil.copytree(ROOT / "data_synthetic", dest)
    for f in sorted(dest.glob("*.csv")):
        lines = f.read_text().splitlines()
        header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
        for _ in range(40):
            r, c = rng.randrange(len(rows)), rng.randrange(len(header))
            rows[r][c] = rng.choice(SEED_CELLS)
        if pad:
            for _ in range(20):
                r, c = rng.randrange(len(rows)), rng.randrange(len(header))
                rows[r][c] = f" {rows[r][c]} "
        rows.append(list(rows[0]))
        f.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n")
    return dest


def _both_ways(folder: Path):
    """validate_tables on the cells as Python strings (no factors) and on the reader's factors."""
    plain, arrow, factors, files = {}, {}, {}, {}
    for name in TABLES:
        p = folder / f"{name}.csv"
        if not p.exists():
            continue
        files[name] = p.name
        plain[name] = _read_raw(p, TableMap())
        factors[name] = []
        arrow[name] = _read_raw(p, TableMap(), [], [], factors[name])
        assert len(factors[name]) == plain[name].shape[1]  # every column of a plain CSV is factored
    slow = validate_tables(plain, files=dict(files))
    fast = validate_tables(arrow, files=dict(files), _factors=factors)
    return slow, fast


@pytest.mark.parametrize("seed,pad", [(3, False), (4, True), (5, False)])
def test_factored_validation_gives_the_same_problems_tables_and_log(tmp_path, seed, pad):
    folder = _corrupted(tmp_path / "bad", seed, pad)
    (slow_tabs, slow_probs, slow_log), (fast_tabs, fast_probs, fast_log) = _both_ways(folder)
    assert len(slow_probs) > 100  # the corruption is caught: orphans, bad codes, dates, duplicate keys
    for kind in ("duplicate key", "orphan foreign key", "not a valid date", "value not allowed"):
        assert slow_probs["rule"].str.contains(kind, regex=False).any(), kind
    pd.testing.assert_frame_equal(fast_probs, slow_probs)
    pd.testing.assert_frame_equal(fast_log, slow_log)
    assert list(fast_tabs) == list(slow_tabs)
    for name in slow_tabs:
        pd.testing.assert_frame_equal(fast_tabs[name], slow_tabs[name], check_exact=True)


def test_load_programme_is_unchanged_on_the_shipped_folder():
    """The shipped folder loads to the same tables through either path (dtypes included)."""
    data = load_programme(ROOT / "data_synthetic")
    (slow_tabs, slow_probs, _), _ = _both_ways(ROOT / "data_synthetic")
    assert slow_probs.empty
    for name, df in data.tables().items():
        pd.testing.assert_frame_equal(df, slow_tabs[name].drop(columns="_row"), check_exact=True)


@pytest.mark.parametrize("cells", [
    ["I01", "I02", "I03", "I04"],                  # in order, all distinct: no hashing
    ["E1", "E1", "E2", "E3", "E3", "E3"],          # in order with repeats
    ["b", "a", "b", "", "a", "c"],                 # not in order: pyarrow's hash table
    ["2023-01-02", "2023-01-02", "2023-01-01"],
    ["x"],
])
def test_encode_gives_codes_whose_distinct_cells_rebuild_the_column(cells):
    codes, dictionary = _encode(pa.array(cells, type=pa.string()))
    uniq = np.asarray(dictionary.to_pylist(), dtype=object)
    assert uniq[codes].tolist() == cells
    assert len(set(uniq.tolist())) == len(uniq)  # each distinct cell once
    ref = pc.dictionary_encode(pa.array(cells, type=pa.string()))
    assert dictionary.to_pylist() == ref.dictionary.to_pylist()  # same order: first appearance
    assert codes.tolist() == ref.indices.to_pylist()


def test_duplicates_found_in_and_out_of_order():
    assert _duplicates(np.array([1, 2, 3, 7])).tolist() == []
    assert _duplicates(np.array([1, 2, 2, 7, 1])).tolist() == [2, 4]
    assert _duplicates(np.array([5, 3, 9])).tolist() == []


def test_duplicate_session_key_out_of_order_names_first_row(tmp_path):
    """A repeated (referral_id, session_number) far from its first copy is still found, with the first row."""
    folder = tmp_path / "f"
    shutil.copytree(ROOT / "data_synthetic", folder)
    lines = (folder / "sessions.csv").read_text().splitlines()
    at = len(lines) // 2
    lines.insert(at, lines[3])  # spreadsheet row 4 (header = row 1) repeated in the middle, at row at + 1
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as exc:
        load_programme(folder)
    probs = exc.value.problems
    dup = probs[probs["rule"].str.startswith("duplicate key")]
    assert len(dup) == 1
    assert dup.iloc[0]["row"] == at + 1
    assert dup.iloc[0]["column"] == "referral_id+session_number"
    assert "first seen in row 4" in dup.iloc[0]["rule"]

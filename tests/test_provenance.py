"""Stored notebook outputs and committed reports come from data_synthetic/ only."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _text_outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                yield out["text"]
            for key in ("text/plain", "text/html"):
                if key in out.get("data", {}):
                    yield out["data"][key]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) == 5


def test_the_shipped_evaluation_file_reads_data_synthetic():
    import yaml

    assert yaml.safe_load((ROOT / "evaluation.yaml").read_text(encoding="utf-8"))["data"] == "data_synthetic"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_outputs_were_made_from_data_synthetic(path, synthetic_data):
    nb = nbformat.read(str(path), as_version=4)
    texts = list(_text_outputs(nb))
    stamp = f"data: ../data_synthetic; input SHA-256 {synthetic_data.input_hash[:16]}"
    assert any(stamp in t for t in texts), f"{path.name}: outputs not stamped with the data_synthetic hash"
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # the data come from the evaluation file, once, and the shipped one names data_synthetic
    assert sources.count("open_evaluation(") == 1 and 'open_evaluation("../evaluation.yaml")' in sources
    assert "load_programme(" not in sources
    assert all(c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code"), "unexecuted cell"

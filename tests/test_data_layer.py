"""The data layer (contract, detection, loading, pseudonymisation) imports no analysis module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import MINI, write_folder

from dapp_eval.analyses import risk
from dapp_eval.data.io import load_programme
from dapp_eval.errors import DataValidationError

PACKAGE = Path(__file__).resolve().parents[1] / "dapp_eval"
DATA_LAYER = {"errors", "results", "columns", "formatting", "optional", "schema", "instruments", "identifiers", "io", "privacy", "quality",
              "mapping", "evaluation", "mapdraft", "plan"}


def _imports(module: str) -> set[str]:
    """dapp_eval modules that ``module`` imports, at the top or inside a function."""
    path = PACKAGE / "data" / f"{module}.py"
    tree = ast.parse((path if path.exists() else PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add((node.module or "").split(".")[0])
            if not node.module:
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "dapp_eval.data":
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dapp_eval."):
            parts = node.module.split(".")
            found.add(parts[2] if parts[1] == "data" else parts[1])
    return found


@pytest.mark.parametrize("module", sorted(DATA_LAYER))
def test_data_modules_import_only_the_data_layer(module):
    assert _imports(module) <= DATA_LAYER, _imports(module) - DATA_LAYER


def test_io_and_privacy_are_no_longer_a_circle():
    assert "privacy" not in _imports("io") and "io" in _imports("privacy")


def test_a_registered_instrument_range_reaches_the_loader(tmp_path):
    files = dict(MINI)
    files["risk_assessments.csv"] = MINI["risk_assessments.csv"] + "R2,2023-05-22,exit,SCALE-T,140,practitioner\n"
    folder = write_folder(tmp_path / "inst", files)
    with pytest.raises(DataValidationError, match="instrument is not in the registry"):
        load_programme(folder)
    risk.register_instrument(risk.Instrument(name="SCALE-T", min_score=30, max_score=150, bands=(("all", 30),),
                                             sd=18.0, reliability=0.9, sd_source="test", reliability_source="test"),
                             replace=True)
    assert len(load_programme(folder).risk_assessments) == 4
    files["risk_assessments.csv"] = files["risk_assessments.csv"].replace(",140,", ",151,")
    with pytest.raises(DataValidationError, match=r"score outside the range of SCALE-T \(30..150\)"):
        load_programme(write_folder(tmp_path / "inst2", files))

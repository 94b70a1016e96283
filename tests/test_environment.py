"""environment.yml (conda) and pyproject.toml (pip) must pin the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(specs):
    out = {}
    for spec in specs:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*$", spec)
        assert m, f"not an exact pin: {spec!r}"
        out[_norm(m.group(1))] = m.group(2)
    return out


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_pins = _pins(project["dependencies"] + extras["test"] + extras["docs"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_specs = [d for d in env["dependencies"] if isinstance(d, str) and "==" in d]
    conda_pins = _pins(conda_specs)
    assert conda_pins == pip_pins
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python == ["python=3.11"]
    assert project["requires-python"].startswith(">=3.11")


def test_lock_file_agrees_with_direct_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = _pins(project["dependencies"] + extras["test"] + extras["docs"])
    lock = _pins([line for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
                  if line.strip() and not line.startswith("#")])
    for name, version in pins.items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"
    assert lock["pandas"].startswith("2.3."), "lifelines 0.30.3 needs pandas < 3"

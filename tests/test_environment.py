"""pyproject.toml (ranges), requirements-lock.txt (exact pins) and environment.yml (conda) agree.

pyproject.toml states what dapp_eval supports: ranges, so the library installs beside a user's own pinned
versions. requirements-lock.txt pins one tested set of every package for `make report` / `make test`, and
environment.yml is the same set for conda. Here: every direct dependency (runtime and every extra) is pinned
in the lock at a version its range allows, and environment.yml names exactly those packages at the lock's
versions.
"""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.version import Version


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(specs) -> dict[str, str]:
    out = {}
    for spec in specs:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*$", spec)
        assert m, f"not an exact pin: {spec!r}"
        out[_norm(m.group(1))] = m.group(2)
    return out


def _direct() -> dict[str, Requirement]:
    """Every direct requirement of dapp_eval, runtime and extras (the extras' references to dapp_eval left out)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return {_norm(r.name): r for r in reqs if _norm(r.name) != "dapp-eval"}


def _lock() -> dict[str, str]:
    return _pins([line for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
                  if line.strip() and not line.startswith("#")])


def test_runtime_dependencies_are_ranges_with_lower_bounds():
    # a library pinned exactly would replace the user's own numpy/pandas (issue 30)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        ops = {s.operator for s in req.specifier}
        assert ">=" in ops and "==" not in ops, f"{spec}: a range with a lower bound, not a pin"
    assert "jupyterlab" not in " ".join(project["dependencies"])  # notebooks are an extra
    assert set(project["optional-dependencies"]) >= {"report", "notebooks", "test", "docs"}


def test_lock_pins_every_direct_dependency_within_its_range():
    lock = _lock()
    for name, req in _direct().items():
        assert name in lock, f"{name} is a dependency of dapp_eval but not pinned in requirements-lock.txt"
        assert req.specifier.contains(lock[name], prereleases=True), \
            f"{name}: the lock pins {lock[name]}, outside pyproject's {req.specifier}"
    assert Version(lock["pandas"]) < Version("3"), "lifelines 0.30.3 needs pandas < 3"
    for tool in ("uv", "build", "twine"):  # make test-lowest and make dist install these from the lock
        assert tool in lock, tool


def test_environment_yml_matches_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_pins = _pins([d for d in env["dependencies"] if isinstance(d, str) and "==" in d])
    lock = _lock()
    assert set(conda_pins) == set(_direct()), "environment.yml must name exactly pyproject's direct dependencies"
    assert conda_pins == {name: lock[name] for name in conda_pins}
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python == ["python=3.11"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")

"""The evaluation file: one place that says where an evaluation's inputs and outputs are.

``evaluation.yaml`` holds the data folder, its column map, the analysis plan, the comparators, the
small-number threshold and the output folder.  The notebooks open it in their first cell
(``dapp_eval.open_evaluation("../evaluation.yaml")``) and the command line reads the same file
(``dapp-eval validate|report|pseudonymise --config evaluation.yaml``), so moving the data is one edit
in one file.  Paths are relative to the evaluation file's own folder.

.. code-block:: yaml

    data: data_synthetic              # the export folder (keep real data outside the repository)
    column_map:                       # e.g. provider_map.yaml (drafted by `dapp-eval map DATA`)
    plan:                             # analysis plan YAML, or its settings written here
    comparators:                      # published figures to show beside the programme's
    threshold: 10                     # small-number suppression (wins over the plan's)
    output: reports                   # where `dapp-eval report` writes the release
    pseudonymised:                    # where `dapp-eval pseudonymise` writes its copy
    key_file:                         # the pseudonymisation key (kept apart from data and reports)

The name ``evaluation.yaml`` says what the file describes (one evaluation), and a search for "evaluation"
in a folder finds it beside the reports it made.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dapp_eval.data.mapping import _line_index, _MapLoader
from dapp_eval.errors import DataValidationError

__all__ = ["Evaluation", "open_evaluation", "EVALUATION_KEYS"]

EVALUATION_KEYS = ("data", "column_map", "plan", "comparators", "threshold", "output", "pseudonymised", "key_file")
_PATH_KEYS = ("data", "column_map", "comparators", "output", "pseudonymised", "key_file")


@dataclass
class Evaluation:
    """An opened evaluation file: resolved paths and settings.  Made by :func:`open_evaluation`.

    Attributes
    ----------
    path : Path or None
        The evaluation file.
    data : Path
        The data folder.
    column_map, comparators, output, pseudonymised, key_file : Path or None
    plan : Path, dict or None
        Analysis plan file, or its settings given inline.
    threshold : int or None
    """

    path: Path | None
    data: Path
    column_map: Path | None = None
    plan: Path | dict | None = None
    comparators: Path | None = None
    threshold: int | None = None
    output: Path | None = None
    pseudonymised: Path | None = None
    key_file: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def load(self, **kwargs):
        """Load and validate the data through the column map (:func:`dapp_eval.load_programme`)."""
        from dapp_eval.data.io import load_programme

        return load_programme(self.data, column_map=self.column_map, **kwargs)

    def load_plan(self) -> dict[str, Any]:
        """The analysis plan over the defaults, with the evaluation file's threshold winning."""
        from dapp_eval.data.plan import load_plan

        return load_plan(self.plan, threshold=self.threshold)

    def describe(self) -> str:
        """One line per setting, as the notebooks print it."""
        lines = [f"evaluation file: {self.path}" if self.path else "evaluation: defaults"]
        for k in EVALUATION_KEYS:
            v = getattr(self, k)
            if v is not None:
                lines.append(f"  {k}: {'(inline settings)' if isinstance(v, dict) else v}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Evaluation {self.path}: data {self.data}>"


def _problem(fname: str, line: int | None, key: str, rule: str) -> dict:
    return {"file": fname, "row": None, "column": "", "value": "",
            "rule": f"evaluation file{f' line {line}' if line else ''}: {rule}"}


def _paths(raw: dict, base: Path, fname: str, lines: dict, problems: list) -> dict[str, Path | None]:
    """The path settings resolved against the evaluation file's folder; missing inputs are problems."""
    resolved: dict[str, Path | None] = {}
    for k in _PATH_KEYS:
        v = raw.get(k)
        if v is None or v == "":
            resolved[k] = None
            continue
        if not isinstance(v, str):
            problems.append(_problem(fname, lines.get((k,)), k, f"{k} must be a path (a folder or file name)"))
            resolved[k] = None
            continue
        p = Path(v).expanduser()
        resolved[k] = p if p.is_absolute() else base / p
    if resolved["data"] is None and not problems:
        problems.append(_problem(fname, lines.get(("data",)), "data", "data: the folder holding the export is required"))
    for k in ("data", "column_map", "comparators"):
        p = resolved.get(k)
        if p is not None and not p.exists():
            problems.append(_problem(fname, lines.get((k,)), k, f"{k}: {p} does not exist (paths are relative to "
                                     "the evaluation file's folder)"))
    return resolved


def _plan(plan, base: Path, fname: str, lines: dict, problems: list):
    """plan: a file (resolved against the evaluation file's folder) or the plan's settings."""
    if isinstance(plan, str) and plan:
        plan = base / Path(plan).expanduser() if not Path(plan).expanduser().is_absolute() else Path(plan)
        if not plan.exists():
            problems.append(_problem(fname, lines.get(("plan",)), "plan", f"plan: {plan} does not exist"))
        return plan
    if plan is not None and not isinstance(plan, dict):
        problems.append(_problem(fname, lines.get(("plan",)), "plan", "plan must be a file name or the plan's "
                                                                      "settings (title:, primary:, ...)"))
        return None
    return plan


def open_evaluation(path: str | Path = "evaluation.yaml") -> Evaluation:
    """Read an evaluation file (``evaluation.yaml``) and resolve its paths against its folder.

    Parameters
    ----------
    path : str or Path
        The evaluation file.

    Returns
    -------
    Evaluation

    Raises
    ------
    DataValidationError
        When the file is missing, is not valid YAML, or names unknown settings or missing files
        (each problem with the file's line).

    Examples
    --------
    >>> ev = open_evaluation("evaluation.yaml")
    >>> str(ev.data), ev.threshold
    ('data_synthetic', 10)
    """
    path = Path(path)
    fname = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataValidationError(pd.DataFrame([_problem(
            str(path), None, "", f"cannot be read ({exc.strerror or exc}); write one (see docs/evaluator-guide.md) "
                                 "or give its path")])) from None
    try:
        raw = yaml.load(text, Loader=_MapLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataValidationError(pd.DataFrame([_problem(
            fname, mark.line + 1 if mark else None, "",
            f"is not valid YAML: {getattr(exc, 'problem', None) or exc}")])) from None
    lines = _line_index(text)
    problems = []
    if not isinstance(raw, dict):
        problems.append(_problem(fname, 1, "", "must be a mapping of settings (data: FOLDER, ...)"))
        raw = {}
    for k in raw:
        if k not in EVALUATION_KEYS:
            close = difflib.get_close_matches(str(k), EVALUATION_KEYS, n=1)
            problems.append(_problem(fname, lines.get((k,)), str(k), f"unknown setting '{k}' (known: "
                                     f"{', '.join(EVALUATION_KEYS)})" + (f"; did you mean '{close[0]}'?" if close else "")))
    base = path.parent
    resolved = _paths(raw, base, fname, lines, problems)
    plan = _plan(raw.get("plan"), base, fname, lines, problems)
    threshold = raw.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1):
        problems.append(_problem(fname, lines.get(("threshold",)), "threshold", "threshold must be a whole number "
                                                                                ">= 1 (e.g. 10)"))
        threshold = None
    if problems:
        raise DataValidationError(pd.DataFrame(problems))
    return Evaluation(path=path, data=resolved["data"], column_map=resolved["column_map"], plan=plan or None,
                      comparators=resolved["comparators"], threshold=threshold, output=resolved["output"],
                      pseudonymised=resolved["pseudonymised"], key_file=resolved["key_file"], settings=dict(raw))

#!/usr/bin/env python3
"""Move dapp_eval's flat modules into folders that show its floors (issue 30), in one mechanical step.

Run from the repository root on a clean tree, with the project's environment (ruff is used to sort the
rewritten imports):

    .venv/bin/python scripts/move_layout.py          # do the move (git mv + rewrites + shims + tests)
    .venv/bin/python scripts/move_layout.py --check  # exit 1 if anything is left to move or rewrite

Steps, in order:

1. every relative import inside dapp_eval/ becomes an absolute ``dapp_eval.`` import (resolved from the
   file's location before the move; ``from . import x``, ``from ..x import y``, imports inside functions,
   parenthesised imports);
2. ``git mv`` of each module to its folder (the table ``PLACEMENT`` below); the new folders get an
   ``__init__.py`` that loads their modules on first use (as ``dapp_eval`` does);
3. every reference to an old path is rewritten: dotted ``dapp_eval.<old>`` (imports, ``patch("...")``
   and ``import_module("...")`` strings, Sphinx roles, automodule lines) and file paths
   ``dapp_eval/<old>.py``, in every tracked text file except CHANGELOG.md (history), reports/ (the
   committed release, which must not change) and tests/reference/ data; ``from dapp_eval import a, b``
   is split by new folder; notebooks are edited in their cell sources only (outputs and execution counts
   untouched, nbformat's JSON layout kept);
4. a deprecation shim at each old top-level path (``dapp_eval/risk.py`` etc.) re-exports the new module and
   warns (DeprecationWarning; removal in 0.3); the three older shims (lmm, survival, stats) are rewritten
   the same way;
5. tests/test_layers.py is rewritten to enforce each folder's floor, the floors inside analyses/ and
   commissioner/ (derived from the imports at the time of the move: a module's floor is one above the
   highest floor it imports from in its folder), and that nothing imports a shim; tests/test_shims.py
   checks that each shim warns and re-exports and that ``import dapp_eval`` and a release warn nothing;
6. ``ruff check --fix --select I`` sorts the rewritten imports.

Placement, by what imports what (``farm-studio look`` and the AST walk of tests/test_layers.py):

- data/ (floor 1): the contract (``schema``), instrument registry, identifiers, column maps and their
  draft (``mapping``, ``mapdraft``), loading (``io``), pseudonymisation (``privacy``), data quality,
  the analysis plan and the evaluation file. They import each other and only the shared types below.
- synthetic/ (beside data/): the generators import only data/ (``schema``). ``synthetic.py`` becomes the
  package's ``__init__.py``, so ``dapp_eval.synthetic`` (in truth.json, data_synthetic/README.md and
  users' code) keeps meaning the same module with every name; ``synthetic_v2`` becomes ``synthetic.v2``.
- estimators/ (floor 2): already a folder; ``lmm``, ``survival`` and ``stats`` are its old paths.
- analyses/ (floor 3): programme logic on ProgrammeData with estimators; ``episodes`` (treatment episodes,
  read by the analyses of both contract versions) and ``plotting`` (the figures the analyses return;
  imports only ``results``) are its ground floor.
- commissioner/ (floor 4): headline registry, verdict wording, user comparators (checked against the
  headlines), glossary: built from the analyses' results, read by the report.
- disclosure/ (5), report/ (6): unchanged folders.

Kept at the top level, with the reason:

- ``__init__``: the package.
- ``cli``: the ``dapp-eval`` entry point (pyproject's ``[project.scripts]``); imports every floor.
- ``bench``: times a whole release (``dapp-eval bench``): a tool above the report.
- ``simulation``: the simulation study of the headline figures: generator + analyses + commissioner
  headlines, so it cannot sit in synthetic/ (which imports only data/); a tool beside cli.
- ``errors``, ``results``, ``optional``: shared types imported by every floor, data/ included (floor 0).
- ``formatting``: reader-facing number and p-value formats, imported by disclosure/, commissioner/ and
  report/; imports nothing of dapp_eval (floor 0).

A module in dapp_eval/ that the table does not place stops the script (so a module added since is
noticed); a placed module that does not exist is skipped with a note. Running the script again on a moved
tree does nothing (every move is already done).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path

PKG = "dapp_eval"

#: old top-level module -> new dotted path. Reasons: module docstring above.
PLACEMENT: dict[str, str] = {
    # data/: contract, registry, identifiers, column maps, loading, privacy, quality, plan, evaluation file
    "schema": "dapp_eval.data.schema",
    "instruments": "dapp_eval.data.instruments",
    "identifiers": "dapp_eval.data.identifiers",
    "mapping": "dapp_eval.data.mapping",
    "mapdraft": "dapp_eval.data.mapdraft",
    "io": "dapp_eval.data.io",
    "privacy": "dapp_eval.data.privacy",
    "quality": "dapp_eval.data.quality",
    "plan": "dapp_eval.data.plan",
    "evaluation": "dapp_eval.data.evaluation",
    # analyses/: ground floor (episodes, figures), then the analyses of contract versions 1 and 2
    "episodes": "dapp_eval.analyses.episodes",
    "plotting": "dapp_eval.analyses.plotting",
    "funnel": "dapp_eval.analyses.funnel",
    "attrition": "dapp_eval.analyses.attrition",
    "risk": "dapp_eval.analyses.risk",
    "followup": "dapp_eval.analyses.followup",
    "safety": "dapp_eval.analyses.safety",
    "compare": "dapp_eval.analyses.compare",
    "trends": "dapp_eval.analyses.trends",
    "yearly": "dapp_eval.analyses.yearly",
    "costs": "dapp_eval.analyses.costs",
    "equality": "dapp_eval.analyses.equality",
    "families": "dapp_eval.analyses.families",
    "reoffending": "dapp_eval.analyses.reoffending",
    "delivery": "dapp_eval.analyses.delivery",
    # commissioner/: what the commissioner reads, built from the analyses
    "headlines": "dapp_eval.commissioner.headlines",
    "verdict": "dapp_eval.commissioner.verdict",
    "comparators": "dapp_eval.commissioner.comparators",
    "glossary": "dapp_eval.commissioner.glossary",
    # synthetic/: the generators (synthetic.py becomes the package itself: same import path, same names)
    "synthetic": "dapp_eval.synthetic",
    "synthetic_v2": "dapp_eval.synthetic.v2",
}

#: old import paths that are already shims; they stay shims, pointing at these modules
OLD_SHIMS: dict[str, str] = {
    "lmm": "dapp_eval.estimators.lmm",
    "survival": "dapp_eval.estimators.survival",
    "stats": "dapp_eval.estimators.proportions",
}

#: top-level modules that stay where they are (reasons: module docstring)
KEEP = ("__init__", "cli", "bench", "simulation", "errors", "results", "optional", "formatting")

#: folders of dapp_eval/ and their layer (0 = shared types at the top level)
FOLDERS = {"data": 1, "synthetic": 1, "estimators": 2, "analyses": 3, "commissioner": 4,
           "disclosure": 5, "report": 6}
TOP_LAYERS = {"errors": 0, "results": 0, "optional": 0, "formatting": 0,
              "bench": 7, "cli": 7, "simulation": 7}
#: folders whose modules get floors of their own in tests/test_layers.py
FLOORED = ("analyses", "commissioner")
#: the least floor of a module inside its folder: the hierarchy the old tests/test_layers.py documented
#: (ANALYSIS_FLOORS; issue 30: funnel and attrition, then risk and followup, then safety, trends and compare).
#: A module's floor is the larger of this and one above the highest floor it imports from in its folder.
MIN_FLOORS = {
    "analyses": {"episodes": 0, "plotting": 0, "funnel": 1, "attrition": 1, "equality": 1, "families": 1,
                 "reoffending": 1, "delivery": 1, "risk": 2, "followup": 2, "safety": 3, "trends": 3,
                 "yearly": 3, "compare": 3},
    "commissioner": {"glossary": 0, "headlines": 0, "verdict": 1, "comparators": 1},
}

NEW_PACKAGE_DOCS = {
    "data": "The data floor: the data contract, instrument registry, identifiers, column maps, loading,\n"
            "pseudonymisation, data quality, the analysis plan and the evaluation file.",
    "analyses": "The analyses: programme logic on :class:`~dapp_eval.data.io.ProgrammeData`, each returning an\n"
                ":class:`~dapp_eval.results.AnalysisResult`; they use the estimators and the data floor only.",
    "commissioner": "What a commissioner reads, built from the analyses: the headline registry, verdict wording,\n"
                    "user-supplied comparators and the glossary.",
}

# files whose text is not rewritten: history, the committed release, reference data
SKIP_PREFIXES = ("CHANGELOG.md", "reports/", ".git", "scripts/move_layout")
REFERENCE_DATA = "tests/reference/"  # only its scripts (.py, .R) are rewritten
REWRITE_SUFFIXES = {".py", ".ipynb", ".md", ".rst", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".R", ".j2"}
REWRITE_NAMES = {"Makefile", "run"}

# exact edits a generic rewrite cannot make: (file, old text, new text)
SPECIAL_EDITS = [
    # the accounting test lists analysis modules by short name; the package attribute loads the new path
    ("tests/test_accounting.py", 'importlib.import_module(f"dapp_eval.{mod_name}")',
     'getattr(importlib.import_module("dapp_eval"), mod_name)'),
    # the data-layer test reads each data module's source by short name: at its new path, and a
    # `dapp_eval.data.<module>` import counts as <module>
    ("tests/test_data_layer.py", 'tree = ast.parse((PACKAGE / f"{module}.py").read_text())',
     'path = PACKAGE / "data" / f"{module}.py"\n'
     '    tree = ast.parse((path if path.exists() else PACKAGE / f"{module}.py").read_text())'),
    ("tests/test_data_layer.py",
     '        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dapp_eval."):\n'
     '            found.add(node.module.split(".")[1])',
     '        elif isinstance(node, ast.ImportFrom) and node.module == "dapp_eval.data":\n'
     '            found |= {a.name for a in node.names}\n'
     '        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dapp_eval."):\n'
     '            parts = node.module.split(".")\n'
     '            found.add(parts[2] if parts[1] == "data" else parts[1])'),
    # the old import paths warn by design, and `pytest --doctest-modules dapp_eval` imports them while collecting
    ("pyproject.toml", '  "ignore::DeprecationWarning:jupyter_client.*",\n',
     '  "ignore::DeprecationWarning:jupyter_client.*",\n'
     '  # the old import paths (shims, removed in 0.3) warn by design; collecting doctests imports them\n'
     '  # (tests/test_shims.py checks the warning; tests/test_layers.py that nothing imports them)\n'
     '  "ignore:dapp_eval\\\\.\\\\w+ is deprecated and will be removed in dapp_eval 0\\\\.3:DeprecationWarning",\n'),
]


class MoveError(SystemExit):
    def __init__(self, msg: str):
        super().__init__(f"move_layout: {msg}")


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


# ---------------------------------------------------------------------------------------------------------
# the plan: which moves remain
# ---------------------------------------------------------------------------------------------------------

def src_path(old: str) -> Path:
    return Path(PKG, f"{old}.py")


def dst_path(new: str) -> Path:
    parts = new.split(".")
    if (Path(*parts) / "__init__.py").exists() or new == "dapp_eval.synthetic":
        return Path(*parts, "__init__.py")
    return Path(*parts[:-1], f"{parts[-1]}.py")


def is_shim(path: Path) -> bool:
    return path.exists() and "DeprecationWarning" in path.read_text(encoding="utf-8")[:3000] and \
        "Old import path" in path.read_text(encoding="utf-8")[:400]


def unplaced_modules() -> list[str]:
    known = set(PLACEMENT) | set(OLD_SHIMS) | set(KEEP)
    out = [p.stem for p in sorted(Path(PKG).glob("*.py")) if p.stem not in known]
    out += [p.name for p in sorted(Path(PKG).iterdir())
            if p.is_dir() and p.name not in FOLDERS and p.name != "__pycache__" and any(p.glob("*.py"))]
    return out


def pending_moves(notes: list[str]) -> dict[str, str]:
    """old -> new for every module still at its old path (and not yet a shim)."""
    moves = {}
    for old, new in PLACEMENT.items():
        src = src_path(old)
        if not src.exists():
            notes.append(f"skip {old}: dapp_eval/{old}.py does not exist")
            continue
        if is_shim(src):
            continue  # already moved: the old path is a shim
        if old == "synthetic" and Path(PKG, "synthetic", "__init__.py").exists():
            continue
        moves[old] = new
    return moves


# ---------------------------------------------------------------------------------------------------------
# step 1: relative imports -> absolute
# ---------------------------------------------------------------------------------------------------------

REL_FROM = re.compile(r"from\s+(\.+)\s*([\w.]*)\s+import\b")


def module_of(path: Path) -> tuple[str, str]:
    """(dotted module, dotted package that relative imports start from)."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def absolutise(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    _, pkg = module_of(path)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        line = lines[node.lineno - 1]
        col = len(line.encode("utf-8")[: node.col_offset].decode("utf-8"))
        at = starts[node.lineno - 1] + col
        m = REL_FROM.match(text, at)
        if not m:
            raise MoveError(f"{path}:{node.lineno}: cannot read the relative import")
        base = pkg.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
        edits.append((m.start(), m.end(), f"from {target} import"))
    for a, b, new in sorted(edits, reverse=True):
        text = text[:a] + new + text[b:]
    if edits:
        path.write_text(text, encoding="utf-8")
    return bool(edits)


# ---------------------------------------------------------------------------------------------------------
# step 3: references to old paths
# ---------------------------------------------------------------------------------------------------------

PKG_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from dapp_eval import (?P<body>\([^)]*\)|[^\n]*)", re.M)


class Rewriter:
    def __init__(self, mapping: dict[str, str]):
        # old short name -> new dotted path, only where the path changes
        self.mapping = {o: n for o, n in mapping.items() if n != f"dapp_eval.{o}"}
        names = "|".join(sorted(self.mapping, key=len, reverse=True))
        self.dotted = re.compile(rf"(?<![\w.])dapp_eval\.({names})(?!\w)") if names else None
        self.slashed = re.compile(rf"(?<![\w./])dapp_eval/({names})\.py(?!\w)") if names else None

    def split_from_import(self, m: re.Match) -> str:
        indent, body = m.group("indent"), m.group("body")
        comment = ""
        if body.startswith("("):
            inner = "\n".join(re.sub(r"#.*$", "", ln) for ln in body[1:-1].splitlines())
        else:
            inner, _, comment = body.partition("#")
            comment = f"  #{comment}" if comment else ""
        items = [i.strip() for i in inner.replace("\n", " ").split(",") if i.strip()]
        if not any(i.split()[0] in self.mapping for i in items):
            return m.group(0)
        groups: dict[str, list[str]] = {"dapp_eval": []}
        for item in items:
            name, _, alias = item.partition(" as ")
            name, alias = name.strip(), alias.strip()
            if name not in self.mapping:
                groups["dapp_eval"].append(item)
                continue
            parent, leaf = self.mapping[name].rsplit(".", 1)
            bound = alias or name
            groups.setdefault(parent, []).append(leaf if leaf == bound else f"{leaf} as {bound}")
        stmts = [f"from {parent} import {', '.join(names)}" for parent, names in groups.items() if names]
        stmts[0] += comment
        return ("\n" + indent).join([indent + stmts[0]] + stmts[1:]) if stmts else m.group(0)

    def text(self, text: str) -> str:
        if not self.dotted:
            return text
        text = PKG_IMPORT.sub(self.split_from_import, text)
        text = self.dotted.sub(lambda m: self.mapping[m.group(1)], text)
        return self.slashed.sub(lambda m: str(dst_path(self.mapping[m.group(1)])), text)

    def notebook(self, raw: str) -> str:
        nb = json.loads(raw)
        if json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n" != raw:
            raise MoveError("a notebook is not in nbformat's JSON layout; refusing to rewrite it")
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            new = self.text(src)
            if new != src:
                cell["source"] = new.splitlines(keepends=True)
        return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+]){3,}$")


def fix_rst_underlines(text: str) -> str:
    lines = text.split("\n")
    for i in range(1, len(lines)):
        u, title = lines[i], lines[i - 1]
        if RST_UNDERLINE.match(u) and title.strip() and not RST_UNDERLINE.match(title) and len(u) < len(title):
            lines[i] = u[0] * len(title)
    return "\n".join(lines)


def rewrite_candidates() -> list[Path]:
    out = []
    for f in run("git", "ls-files").splitlines():
        p = Path(f)
        if f.startswith(SKIP_PREFIXES) or not p.exists():
            continue
        if f.startswith(REFERENCE_DATA) and p.suffix not in (".py", ".R"):
            continue
        if p.suffix in REWRITE_SUFFIXES or p.name in REWRITE_NAMES:
            out.append(p)
    return out


def rewrite_file(path: Path, rw: Rewriter) -> bool:
    raw = path.read_text(encoding="utf-8")
    new = rw.notebook(raw) if path.suffix == ".ipynb" else rw.text(raw)
    if path.suffix == ".rst":
        new = fix_rst_underlines(new)
    if new != raw:
        path.write_text(new, encoding="utf-8")
    return new != raw


# ---------------------------------------------------------------------------------------------------------
# shims, new package files, the package's lazy attributes
# ---------------------------------------------------------------------------------------------------------

SHIM = '''"""Old import path: :mod:`dapp_eval.{old}` is now :mod:`{new}`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`{new}` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

from {new} import *  # noqa: F403

import {new} as _module

warnings.warn("dapp_eval.{old} is deprecated and will be removed in dapp_eval 0.3; import {new} instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)
'''

PACKAGE_INIT = '''"""{doc}

Its modules are imported on first use (``dapp_eval.{name}.<module>``), so importing the folder stays light.
"""

from importlib import import_module

_SUBMODULES = {modules}

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{{__name__}}.{{name}}")
    raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
'''


def write_shim(old: str, new: str) -> None:
    Path(PKG, f"{old}.py").write_text(SHIM.format(old=old, new=new), encoding="utf-8")
    run("git", "add", str(Path(PKG, f"{old}.py")))


def write_package_inits() -> list[str]:
    written = []
    for name, doc in NEW_PACKAGE_DOCS.items():
        folder = Path(PKG, name)
        if not folder.is_dir():
            continue
        mods = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
        text = PACKAGE_INIT.format(doc=doc, name=name, modules=tuple_literal(mods))
        init = folder / "__init__.py"
        if not init.exists() or init.read_text(encoding="utf-8") != text:
            init.write_text(text, encoding="utf-8")
            run("git", "add", str(init))
            written.append(str(init))
    return written


INIT_GETATTR_OLD = 'return import_module(f".{name}", __name__)'
INIT_GETATTR_NEW = 'return import_module(_NEW_PATHS.get(name, f"dapp_eval.{name}"))'
INIT_IF_OLD = "if name in _SUBMODULES:"
INIT_IF_NEW = "if name in _SUBMODULES or name in _NEW_PATHS:"


def update_package_init(mapping: dict[str, str]) -> None:
    """dapp_eval.<old> attributes load the module at its new path (no shim, no warning)."""
    init = Path(PKG, "__init__.py")
    text = init.read_text(encoding="utf-8")
    if INIT_GETATTR_NEW in text:
        return
    if INIT_GETATTR_OLD not in text or "_SUBMODULES = (" not in text or INIT_IF_OLD not in text:
        raise MoveError("dapp_eval/__init__.py: its lazy __getattr__ changed; update update_package_init()")
    moved = {o: n for o, n in mapping.items() if n != f"dapp_eval.{o}"}
    lines = ["# old names of modules moved into the layer folders (issue 30): the attribute gives the module at",
             "# its new path (the shim at the old import path warns)", "_NEW_PATHS = {"]
    lines += [f'    "{o}": "{n}",' for o, n in sorted(moved.items())]
    lines += ["}", "", "", ""]
    folders = [f for f in ("analyses", "commissioner", "data") if f'"{f}"' not in text.split("_SUBMODULES = (")[1]
               .split(")")[0]]
    text = text.replace("_SUBMODULES = (\n", "_SUBMODULES = (\n    " + ", ".join(f'"{f}"' for f in folders)
                        + ",\n", 1) if folders else text
    text = text.replace(INIT_GETATTR_OLD, INIT_GETATTR_NEW).replace(INIT_IF_OLD, INIT_IF_NEW)
    text = text.replace("\ndef __getattr__(name):", "\n".join(lines) + "def __getattr__(name):", 1)
    init.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# step 5: the layer tests
# ---------------------------------------------------------------------------------------------------------

def import_graph() -> dict[str, set[str]]:
    """module -> dapp_eval modules it imports (absolute imports only: step 1 ran)."""
    def is_module(name: str) -> bool:
        p = Path(*name.split("."))
        return p.with_suffix(".py").exists() or (p / "__init__.py").exists()

    graph = {}
    for path in sorted(Path(PKG).rglob("*.py")):
        mod, _ = module_of(path)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in names:
                while t.startswith("dapp_eval.") and not is_module(t):
                    t = t.rsplit(".", 1)[0]
                if t.startswith("dapp_eval.") and t != mod:
                    deps.add(t)
        graph[mod] = deps
    return graph


def floors(folder: str, graph: dict[str, set[str]]) -> dict[str, int]:
    """Floor of each module of a folder: one above the highest floor it imports from in the folder, at least
    its MIN_FLOORS entry (0 for a module the table does not name)."""
    prefix = f"dapp_eval.{folder}."
    mods = {m[len(prefix):] for m in graph if m.startswith(prefix)}
    deps = {m: {d[len(prefix):].split(".")[0] for d in graph[prefix + m] if d.startswith(prefix)} for m in mods}
    out: dict[str, int] = {}

    def floor(m: str, seen: tuple[str, ...] = ()) -> int:
        if m in seen:
            raise MoveError(f"import cycle inside {folder}/: {' -> '.join(seen + (m,))}")
        if m not in out:
            least = MIN_FLOORS.get(folder, {}).get(m, 0)
            out[m] = max((floor(d, seen + (m,)) + 1 for d in deps[m]), default=least)
            out[m] = max(out[m], least)
        return out[m]

    for m in sorted(mods):
        floor(m)
    return dict(sorted(out.items(), key=lambda kv: (kv[1], kv[0])))


def tuple_literal(names, per_line: int = 8, indent: str = "    ") -> str:
    items = [f'"{n}"' for n in names]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "(\n" + "".join(f"{indent}{r},\n" for r in rows) + ")"


def dict_literal(d: dict, per_line: int = 6) -> str:
    items = [f'"{k}": {v!r}' for k, v in d.items()]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n" + "".join(f"    {r},\n" for r in rows) + "}"


#: the tests of the old tests/test_layers.py; the template carries each (under the new layout) or replaces it
KNOWN_LAYER_TESTS = {
    "test_every_module_has_a_layer", "test_nothing_imports_upwards", "test_no_import_cycles",
    "test_cycle_finder_finds_a_cycle", "test_analyses_import_only_from_lower_floors",
    "test_followup_and_safety_import_in_one_direction_only", "test_every_layer_entry_is_a_module",
    "test_disclosure_sits_below_the_report", "test_import_does_not_load_pyplot",
}


def check_layer_tests_known() -> None:
    """Stop if tests/test_layers.py has a test the template does not carry (added since the script was written)."""
    path = Path("tests/test_layers.py")
    if not path.exists() or "move_layout" in path.read_text(encoding="utf-8"):
        return
    names = {n.name for n in ast.parse(path.read_text(encoding="utf-8")).body
             if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    if names - KNOWN_LAYER_TESTS:
        raise MoveError(f"tests/test_layers.py has tests the template does not carry: {sorted(names - KNOWN_LAYER_TESTS)}; "
                        "add them to scripts/move_layout_templates/test_layers.py.in and KNOWN_LAYER_TESTS")


def write_tests(shims: dict[str, str]) -> None:
    graph = import_graph()
    floor_tables = {f: floors(f, graph) for f in FLOORED}
    here = Path(__file__).resolve().parent / "move_layout_templates"
    layers = (here / "test_layers.py.in").read_text(encoding="utf-8")
    layers = layers.replace("__TOP_LAYERS__", dict_literal(TOP_LAYERS)).replace("__FOLDERS__", dict_literal(FOLDERS))
    layers = layers.replace("__SHIMS__", tuple_literal(sorted(shims)))
    layers = layers.replace("__FLOORS__", "{\n" + "".join(
        f'    "{f}": {dict_literal(t).replace(chr(10), chr(10) + "    ")},\n' for f, t in floor_tables.items()) + "}")
    Path("tests/test_layers.py").write_text(layers, encoding="utf-8")
    shim_test = (here / "test_shims.py.in").read_text(encoding="utf-8")
    shim_test = shim_test.replace("__SHIMS__", dict_literal(dict(sorted(shims.items())), per_line=1))
    Path("tests/test_shims.py").write_text(shim_test, encoding="utf-8")
    run("git", "add", "tests/test_layers.py", "tests/test_shims.py")


# ---------------------------------------------------------------------------------------------------------
# --check: is anything left behind?
# ---------------------------------------------------------------------------------------------------------

def leftovers(mapping: dict[str, str]) -> list[str]:
    out = [f"not placed in move_layout.PLACEMENT: dapp_eval/{m}" for m in unplaced_modules()]
    for old in mapping:
        src = src_path(old)
        if src.exists() and not is_shim(src):
            out.append(f"not moved: {src}")
    for path in Path(PKG).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                out.append(f"relative import: {path}:{node.lineno}")
    rw = Rewriter(mapping)
    shim_files = {str(src_path(o)) for o in mapping} | {"tests/test_shims.py"}
    for path in rewrite_candidates():
        if str(path) in shim_files:
            continue
        raw = path.read_text(encoding="utf-8")
        new = rw.notebook(raw) if path.suffix == ".ipynb" else rw.text(raw)
        if new != raw:
            out.append(f"old path referenced: {path}")
    return out


# ---------------------------------------------------------------------------------------------------------

def _parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if anything is left to move or rewrite")
    ap.add_argument("--allow-dirty", action="store_true", help="run on a tree with uncommitted changes")
    return ap.parse_args()


def _check_only(mapping: dict) -> int:
    """--check: what is left to move or rewrite (exit 1 if anything)."""
    left = leftovers(mapping)
    print("\n".join(left) if left else "move_layout --check: nothing left to move or rewrite")
    return 1 if left else 0


def _absolutise_and_move(moves: dict, summary: dict) -> None:
    """Steps 1-2: relative imports made absolute at the old locations, then `git mv`."""
    for path in sorted(Path(PKG).rglob("*.py")):
        if absolutise(path):
            summary["relative imports made absolute in"].append(str(path))
    for old, new in moves.items():
        src, dst = src_path(old), dst_path(new)
        dst.parent.mkdir(parents=True, exist_ok=True)
        run("git", "mv", str(src), str(dst))
        summary["moved"].append(f"{src} -> {dst}")
    summary["created"] = write_package_inits()


def _rewrite_references(moves: dict, summary: dict) -> list[str]:
    """Step 3: every reference to an old path (and the package's lazy attributes, the exact special edits);
    returns the special edits that found no text."""
    missed: list[str] = []
    update_package_init({**{o: PLACEMENT[o] for o in moves}, **OLD_SHIMS})
    rw = Rewriter({**{o: PLACEMENT[o] for o in moves}, **OLD_SHIMS})
    for path in rewrite_candidates():
        if rewrite_file(path, rw):
            summary["rewritten"].append(str(path))
    for file, old, new in SPECIAL_EDITS:
        p = Path(file)
        if p.exists() and old in p.read_text(encoding="utf-8"):
            p.write_text(p.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        else:
            missed.append(f"special edit not made (text not found; make it by hand): {file}: {old[:60]!r}")
    return missed


def _shims_tests_and_order(summary: dict) -> None:
    """Steps 4-6: shims at the old paths, the layer and shim tests, import order; everything staged."""
    shims = {o: n for o, n in PLACEMENT.items() if dst_path(n).exists() and n != f"dapp_eval.{o}"} | OLD_SHIMS
    for old, new in sorted(shims.items()):
        write_shim(old, new)
        summary["shims"].append(f"dapp_eval/{old}.py -> {new}")
    write_tests(shims)
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "I", "--quiet", "dapp_eval",
                    "tests", "scripts", "examples", "docs"], check=False)
    run("git", "add", "-u")


def _report(notes: list[str], summary: dict, left: list[str], seconds: float) -> int:
    for note in notes:
        print(f"note: {note}")
    for key, items in summary.items():
        print(f"{key}: {len(items)}")
        for item in items:
            print(f"  {item}")
    print(f"move_layout: {len(summary['moved'])} modules moved, {len(summary['rewritten'])} files rewritten, "
          f"{len(summary['shims'])} shims written, in {seconds:.1f} s; left behind: {len(left)}")
    for item in left:
        print(f"  LEFT: {item}")
    if not left:
        print("next: the test suite, `make report` (git status shows no change under reports/), then\n"
              "  git commit -m 'Move the modules into the folders of their floors (scripts/move_layout.py, issue 30)'")
    return 1 if left else 0


def main() -> int:
    args = _parse_args()
    if not Path(PKG, "__init__.py").exists() or not Path("pyproject.toml").exists():
        raise MoveError("run from the repository root")
    mapping = {**{o: n for o, n in PLACEMENT.items()}, **OLD_SHIMS}
    if args.check:
        return _check_only(mapping)
    unplaced = unplaced_modules()
    if unplaced:
        raise MoveError(f"modules the placement table does not place: {unplaced}; add them to PLACEMENT or KEEP")
    t0 = time.perf_counter()
    notes: list[str] = []
    moves = pending_moves(notes)
    summary = {"relative imports made absolute in": [], "moved": [], "rewritten": [], "shims": [], "created": []}
    if not moves:
        print("\n".join(notes))
        print("move_layout: every module is already in its folder; nothing to do")
        return 0
    if run("git", "status", "--porcelain", "--untracked-files=no").strip() and not args.allow_dirty:
        raise MoveError("the tree has uncommitted changes (commit them, or --allow-dirty)")
    check_layer_tests_known()
    _absolutise_and_move(moves, summary)
    missed = _rewrite_references(moves, summary)
    _shims_tests_and_order(summary)
    return _report(notes, summary, leftovers(mapping) + missed, time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())

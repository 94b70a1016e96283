"""The package's folders are its floors: data <- estimators <- analyses <- commissioner <- disclosure <- report/cli.

An AST walk over dapp_eval/ (every import statement, including those inside functions): each module
belongs to the layer of its folder (or, at the top level, of its own name) and may import only from its
own layer or the ones below; synthetic/ sits beside data/ and imports only data/ and the shared types;
inside analyses/ and commissioner/ a module imports only from lower floors; nothing imports an old
import path (a deprecation shim); the module-level graph has no cycles.

Written by scripts/move_layout.py (issue 30); the floors were derived from the imports at the move.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dapp_eval"

# top-level modules: shared types and reader-facing formats (0), tools and entry points (7)
TOP_LAYERS = {
    "errors": 0, "results": 0, "columns": 0, "optional": 0, "formatting": 0, "bench": 7, "cli": 7,
    "simulation": 7,
}
# folders: data and the synthetic generators beside it (1), estimators (2), analyses (3),
# commissioner content (4), disclosure control (5), the release (6)
FOLDERS = {
    "data": 1, "synthetic": 1, "estimators": 2, "analyses": 3, "commissioner": 4, "disclosure": 5,
    "report": 6,
}
# old import paths: deprecation shims (removed in 0.3); above everything, so nothing may import them
SHIMS = (
    "attrition", "comparators", "compare", "delivery", "episodes", "equality", "evaluation", "families",
    "followup", "funnel", "glossary", "headlines", "identifiers", "instruments", "io", "lmm",
    "mapdraft", "mapping", "plan", "plotting", "privacy", "quality", "reoffending", "risk",
    "safety", "schema", "stats", "survival", "synthetic_v2", "trends", "verdict", "yearly",
)
LAYERS = {**TOP_LAYERS, **FOLDERS, **dict.fromkeys(SHIMS, 8)}
SHARED = {name for name, layer in TOP_LAYERS.items() if layer == 0}
KNOWN_CYCLES: list[set[str]] = []

# floors inside a folder: a module may import only from lower floors of its folder, never from its own floor
# or a higher one (so two modules of one floor never import each other, in either direction)
FLOORS = {
    "analyses": {
        "episodes": 0, "plotting": 0, "flow_published": 0, "attrition": 1, "delivery": 1, "equality": 1, "families": 1,
        "funnel": 1, "reoffending": 1, "followup": 2, "risk": 2, "compare": 3, "safety": 3,
        "trends": 3, "yearly": 3,
    },
    "commissioner": {
        "glossary": 0, "headlines": 0, "comparators": 1, "verdict": 1,
    },
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PKG.parent / rel).with_suffix(".py").exists() or (PKG.parent / rel / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """dapp_eval modules imported anywhere in the file (resolved to the deepest existing module)."""
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{a.name}" for a in node.names] + [stem]
        for t in targets:
            if not t.startswith("dapp_eval"):
                continue
            while t and not _is_module(t):
                t = t.rsplit(".", 1)[0] if "." in t else ""
            if t and t != "dapp_eval":
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) - {_module_name(p)} for p in sorted(PKG.rglob("*.py"))}


def _component(mod: str) -> str:
    """The folder (or top-level module) a module belongs to."""
    return mod.split(".")[1] if mod.count(".") >= 1 else ""


def _in_folder(mod: str, folder: str) -> str:
    """The module's name inside the folder ('' if it is not in it, or is the folder's __init__)."""
    prefix = f"dapp_eval.{folder}."
    return mod[len(prefix):].split(".")[0] if mod.startswith(prefix) else ""


def test_every_module_has_a_layer():
    missing = sorted({_component(m) for m in _graph() if _component(m) and _component(m) not in LAYERS})
    assert not missing, f"assign a layer in tests/test_layers.py to: {missing}"


def test_nothing_imports_upwards():
    bad = []
    for mod, deps in _graph().items():
        c = _component(mod)
        if not c or c not in LAYERS:
            continue
        for d in deps:
            dc = _component(d)
            if dc in LAYERS and LAYERS[dc] > LAYERS[c]:
                bad.append(f"{mod} (layer {LAYERS[c]}) imports {d} (layer {LAYERS[dc]})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def test_nothing_imports_an_old_path():
    # the shims warn; the package itself uses the new paths only
    bad = sorted(f"{m} imports {d}" for m, deps in _graph().items() for d in deps
                 if _component(d) in SHIMS and _component(m) not in SHIMS)
    assert not bad, "imports of deprecated paths:\n" + "\n".join(bad)


def test_synthetic_sits_beside_data():
    # the generators write data in the contract's form: they read data/ (the contract) and nothing above it,
    # and nothing in data/ reads them
    g = _graph()
    above = sorted(f"{m} imports {d}" for m, deps in g.items() if _component(m) == "synthetic" for d in deps
                   if _component(d) not in {"data", "synthetic", *SHARED})
    assert not above, "\n".join(above)
    assert not [d for m, deps in g.items() if _component(m) == "data" for d in deps if _component(d) == "synthetic"]
    assert any(_component(d) == "data" for m, deps in g.items() if _component(m) == "synthetic" for d in deps)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Modules reachable from ``start`` by one or more imports (within the graph)."""
    seen: set[str] = set()
    todo = [w for w in graph.get(start, ()) if w in graph]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(w for w in graph.get(v, ()) if w in graph)
    return seen


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module: the modules that reach each other."""
    reach = {v: _reachable(graph, v) for v in graph}
    out: list[set[str]] = []
    for v in graph:
        comp = {w for w in reach[v] if v in reach[w]} | {v}
        if len(comp) > 1 and comp not in out:
            out.append(comp)
    return out


def test_no_import_cycles():
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"


def test_cycle_finder_finds_a_cycle():
    # the check above must be able to fail
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_folder_imports_only_from_lower_floors(folder):
    floors = FLOORS[folder]
    g = _graph()
    assert set(floors) == {_in_folder(m, folder) for m in g if _in_folder(m, folder)}, \
        f"give every module of {folder}/ a floor in tests/test_layers.py (and only those)"
    bad = []
    for mod, deps in g.items():
        c = _in_folder(mod, folder)
        for d in deps:
            dc = _in_folder(d, folder)
            if c and dc and dc != c and floors[dc] >= floors[c]:
                bad.append(f"{mod} (floor {floors[c]}) imports {d} (floor {floors[dc]})")
    assert not bad, f"{folder}/ importing sideways or upwards:\n" + "\n".join(sorted(bad))


def test_followup_and_safety_import_in_one_direction_only():
    # followup no longer imports safety; safety's Mirabal measures read followup's before/after table,
    # and that is the only direction
    g = _graph()
    assert "dapp_eval.analyses.safety" not in g["dapp_eval.analyses.followup"]
    assert "dapp_eval.analyses.followup" in g["dapp_eval.analyses.safety"]
    assert FLOORS["analyses"]["followup"] < FLOORS["analyses"]["safety"]
    assert "dapp_eval.analyses.risk" not in g["dapp_eval.data.io"]


def test_every_layer_entry_is_a_module():
    # a stale entry (a module since moved or removed) would hide a module of that name added later
    stale = sorted(name for name in LAYERS if not _is_module(f"dapp_eval.{name}"))
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_disclosure_sits_below_the_report():
    # the report publishes only through disclosure control; disclosure never reaches up into the report
    g = _graph()
    assert LAYERS["disclosure"] < LAYERS["report"]
    assert not [d for m, deps in g.items() if _component(m) == "disclosure" for d in deps
                if _component(d) in ("report", "cli", "bench")]
    assert any(_component(d) == "disclosure" for m, deps in g.items() if _component(m) == "report" for d in deps)


@pytest.mark.parametrize("stmt", ["import dapp_eval",
                                  "import dapp_eval.analyses.risk, dapp_eval.analyses.safety, "
                                  "dapp_eval.analyses.followup, dapp_eval.analyses.funnel, "
                                  "dapp_eval.analyses.attrition, dapp_eval.estimators"])
def test_import_does_not_load_pyplot(stmt):
    code = f"import sys; {stmt}; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

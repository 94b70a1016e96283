"""The package's import graph keeps its layers: data <- estimators <- analyses <- disclosure <- report <- cli.

An AST walk over dapp_eval/ (every import statement, including those inside
functions): each module belongs to a layer and may import only from its own
layer or the ones below; the module-level graph has no cycles.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dapp_eval"

# layer of each top-level module or subpackage of dapp_eval
LAYERS = {
    # shared types
    "errors": 0, "results": 0, "optional": 0,
    # wording and number formats for readers, and the glossary: no data, no statistics
    "formatting": 0, "glossary": 0,
    # data: contract, instrument registry, loading, privacy, quality, analysis plan
    "schema": 1, "instruments": 1, "identifiers": 1, "io": 1, "privacy": 1, "quality": 1, "plan": 1,
    # column maps, their draft from an export, and the evaluation file
    "mapping": 1, "mapdraft": 1, "evaluation": 1,
    # estimators (and the old import paths that re-export them)
    "estimators": 2, "survival": 2, "lmm": 2, "stats": 2,
    # figures: take estimator or analysis outputs
    "plotting": 3,
    # analyses: programme logic
    "episodes": 4, "funnel": 4, "attrition": 4, "risk": 4, "safety": 4, "followup": 4, "compare": 4,
    # commissioner figures built from the analyses: headline registry, site comparison, SPC trends, verdict wording,
    # user-supplied comparators (checked against the headline registry)
    "headlines": 4, "trends": 4, "verdict": 4, "comparators": 4, "yearly": 4,
    # analyses of data contract version 2 (issue 32)
    "equality": 4, "families": 4, "reoffending": 4, "delivery": 4,
    # statistical disclosure control of what is published; the synthetic-data generator
    "disclosure": 5, "synthetic": 5, "synthetic_v2": 5,
    # the release: pages, workbook, index (published through the disclosure layer)
    "report": 6,
    # tools and entry points; the simulation study of the headline figures (generator + analyses)
    "bench": 7, "cli": 7, "simulation": 7,
}
KNOWN_CYCLES: list[set[str]] = []

# floors inside the analyses (layer 4): a module may import only from lower floors, never from its own
# floor or a higher one (so two modules of one floor never import each other, in either direction)
ANALYSIS_FLOORS = {
    "episodes": 0,
    "funnel": 1, "attrition": 1,
    # contract version 2's analyses read episodes only
    "equality": 1, "families": 1, "reoffending": 1, "delivery": 1,
    "risk": 2, "followup": 2,
    # compare weights a comparison cohort on follow-up outcomes (compare.weighted_comparison reads followup)
    "safety": 3, "trends": 3, "yearly": 3, "compare": 3,
    "headlines": 4,
    "verdict": 5, "comparators": 5,
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
    return mod.split(".")[1] if mod.count(".") >= 1 else ""


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


def test_analyses_import_only_from_lower_floors():
    assert set(ANALYSIS_FLOORS) == {name for name, layer in LAYERS.items() if layer == 4}
    bad = []
    for mod, deps in _graph().items():
        c = _component(mod)
        for d in deps:
            dc = _component(d)
            if c in ANALYSIS_FLOORS and dc in ANALYSIS_FLOORS and dc != c and ANALYSIS_FLOORS[dc] >= ANALYSIS_FLOORS[c]:
                bad.append(f"{mod} (floor {ANALYSIS_FLOORS[c]}) imports {d} (floor {ANALYSIS_FLOORS[dc]})")
    assert not bad, "analyses importing sideways or upwards:\n" + "\n".join(sorted(bad))


def test_followup_and_safety_import_in_one_direction_only():
    # followup (floor 2) no longer imports safety; safety's Mirabal measures (floor 3) read followup's
    # before/after table, and that is the only direction
    g = _graph()
    assert "dapp_eval.safety" not in g["dapp_eval.followup"]
    assert "dapp_eval.followup" in g["dapp_eval.safety"]
    assert ANALYSIS_FLOORS["followup"] < ANALYSIS_FLOORS["safety"]
    assert "dapp_eval.risk" not in g["dapp_eval.io"]


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
                                  "import dapp_eval.risk, dapp_eval.safety, dapp_eval.followup, "
                                  "dapp_eval.funnel, dapp_eval.attrition, dapp_eval.estimators"])
def test_import_does_not_load_pyplot(stmt):
    code = f"import sys; {stmt}; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""The package's import graph keeps its layers: data <- estimators <- analyses <- report / cli, no cycles.

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
    "errors": 0, "results": 0,
    # wording and number formats for readers, and the glossary: no data, no statistics
    "formatting": 0, "glossary": 0,
    # data: contract, instrument registry, loading, privacy, quality, analysis plan
    "schema": 1, "instruments": 1, "identifiers": 1, "io": 1, "privacy": 1, "quality": 1, "plan": 1, "data": 1,
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
    # release, tools and entry points
    "disclosure": 5, "report": 5, "synthetic": 5, "synthetic_v2": 5, "bench": 5, "cli": 5,
    # the simulation study of the headline figures (generator + analyses), a tool like bench
    "simulation": 5,
}
KNOWN_CYCLES: list[set[str]] = []


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


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"


def test_cycle_finder_finds_a_cycle():
    # the check above must be able to fail
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_followup_and_safety_no_longer_import_each_other():
    g = _graph()
    assert "dapp_eval.safety" not in g["dapp_eval.followup"]
    assert "dapp_eval.risk" not in g["dapp_eval.io"]


@pytest.mark.parametrize("stmt", ["import dapp_eval",
                                  "import dapp_eval.risk, dapp_eval.safety, dapp_eval.followup, "
                                  "dapp_eval.funnel, dapp_eval.attrition, dapp_eval.estimators"])
def test_import_does_not_load_pyplot(stmt):
    code = f"import sys; {stmt}; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

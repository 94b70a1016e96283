"""dapp_eval uses matplotlib's public API only.

A matplotlib release may rename or drop any ``_``-prefixed name without notice; charts that read, set or
override one break (or, worse, silently change) with it. An AST scan of every module of dapp_eval finds:

- imports of a private matplotlib module or name (``from matplotlib.x import _y``, ``matplotlib._z``);
- attribute uses ``obj._name`` (read, set, deleted or overridden as a method) where ``_name`` is a private
  name found in matplotlib's source and not defined by dapp_eval itself;
- the same names given as strings to ``getattr``/``setattr``/``hasattr``/``delattr``.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dapp_eval"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _root(expr: ast.AST) -> str:
    while isinstance(expr, ast.Attribute | ast.Call | ast.Subscript):
        expr = expr.value if not isinstance(expr, ast.Call) else expr.func
    return expr.id if isinstance(expr, ast.Name) else ""


def _matplotlib_classes(nodes: list[ast.AST]) -> list[ast.ClassDef]:
    """Classes of a source (its nodes) that subclass something imported from matplotlib."""
    bound = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "matplotlib":
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] == "matplotlib"}
    return [c for c in nodes if isinstance(c, ast.ClassDef) and any(_root(b) in bound for b in c.bases)]


def _defined_names(nodes: list[ast.AST]) -> set[str]:
    """Private names a source defines: functions, classes, methods, assigned names and ``self._x`` attributes.
    The methods of classes that subclass a matplotlib class are not counted: they override matplotlib's.
    """
    subclassed = {id(f) for c in _matplotlib_classes(nodes) for f in c.body}
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if id(node) not in subclassed:
                out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            out.add(node.attr)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return {n for n in out if _private(n)}


@functools.cache
def _matplotlib_private_names() -> frozenset[str]:
    """Every ``_``-prefixed identifier in matplotlib's source (what it defines, and more: a superset is stricter)."""
    root = Path(importlib.util.find_spec("matplotlib").origin).parent
    names: set[str] = set()
    for path in root.rglob("*.py"):
        if not {"tests", "testing", "sphinxext"} & set(path.relative_to(root).parts):
            names |= set(re.findall(r"\b_[A-Za-z0-9]\w*", path.read_text(encoding="utf-8")))
    return frozenset(n for n in names if _private(n))


def _uses(nodes: list[ast.AST], private: frozenset[str], own: set[str]) -> list[tuple[int, str]]:
    """(line, what) for every use of a private matplotlib module or name in one parsed source (its nodes)."""
    found: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "matplotlib":
            parts = node.module.split(".") + [a.name for a in node.names]
            found += [(node.lineno, f"import {node.module}: {p}") for p in parts if _private(p)]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] == "matplotlib" and any(map(_private, a.name.split(".")))]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr in private:
            if node.attr not in own:
                found.append((node.lineno, f".{node.attr}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value) and node.args[1].value in private
              and node.args[1].value not in own):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    for cls in _matplotlib_classes(nodes):  # a method overriding a private one of a matplotlib class
        found += [(f.lineno, f"def {f.name} (overrides matplotlib's)") for f in cls.body
                  if isinstance(f, ast.FunctionDef) and _private(f.name) and f.name in private]
    return found


def _scan(sources: dict[str, str]) -> list[str]:
    trees = {name: list(ast.walk(ast.parse(text))) for name, text in sources.items()}
    own: set[str] = set()
    for nodes in trees.values():
        own |= _defined_names(nodes)
    private = _matplotlib_private_names()
    return [f"{name}:{line}: {what}" for name, nodes in trees.items() for line, what in _uses(nodes, private, own)]


def test_dapp_eval_uses_no_private_matplotlib_name():
    sources = {str(p.relative_to(PKG.parent)): p.read_text(encoding="utf-8") for p in sorted(PKG.rglob("*.py"))}
    bad = _scan(sources)
    assert not bad, "private matplotlib names used (use the public API):\n" + "\n".join(bad)


def test_the_scan_finds_what_the_charts_once_used():
    # the check above must be able to fail: each of the 9 private names the report's charts relied on in
    # 0.1, in the way they were used, is found
    old = '''
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib import _api


def titles(fig):
    for ax in fig.axes:
        if len(ax._twinned_axes.get_siblings(ax)) > 1 or fig._align_label_groups["title"]:
            continue
        if any(t.get_position()[1] != 1.0 for t in (ax.title, ax._left_title, ax._right_title)):
            continue
        ax._autotitlepos = False


def ticks(fig):
    axes = [axis for ax in fig.axes for axis in ax._axis_map.values()]
    for axis in axes:
        axis._update_ticks, axis._get_ticklabel_bboxes = 1, 2
        setattr(axis, "_update_ticks", 3)


class _Unclipped(RendererSVG):
    def _convert_path(self, path, transform=None, clip=None, simplify=None, sketch=None):
        return super()._convert_path(path, transform, None, simplify, sketch)
'''
    found = "\n".join(_scan({"old.py": old}))
    for name in ("_api", "_twinned_axes", "_align_label_groups", "_left_title", "_right_title", "_autotitlepos",
                 "_axis_map", "_update_ticks", "_get_ticklabel_bboxes", "def _convert_path", "._convert_path",
                 "setattr(..., '_update_ticks')"):
        assert name in found, name
    # and a module's own private helpers are not matplotlib's
    assert _scan({"own.py": "def _short(x):\n    return x\n\n\ny = _short(1)\n"}) == []

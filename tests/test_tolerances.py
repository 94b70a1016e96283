"""Every explicit test tolerance says where its number comes from (issue #13).

A numeric ``rtol=``, ``atol=``, ``abs=``, ``rel=`` or ``decimal=`` argument,
and a module-level tolerance constant (``TOL = 1e-6``), must have a comment on
its line or in the 3 lines above it: closed form (float rounding), exact
algorithm against R, an optimiser's stopping rule, numerical derivatives,
Monte Carlo error or a published table's digits. A tolerance written as a
named constant (``atol=TOL``) is explained where the constant is defined;
``rtol=0`` (switching a tolerance off) needs no reason.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

TESTS = Path(__file__).resolve().parent
KEYWORDS = {"rtol", "atol", "abs", "rel", "decimal"}
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
TOL_NAME = re.compile(r"(^|_)(TOL|RTOL|ATOL|EPS)(_|$)")
WINDOW = 3  # comment on the line itself or up to this many lines above


def _is_number(node: ast.AST) -> bool:
    """A literal number or arithmetic on literal numbers (``1e-6``, ``-1``, ``5 / 1e4``)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    return False


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def tolerance_lines(source: str) -> list[tuple[int, str]]:
    """(line, what) of every explicit numeric tolerance in ``source``."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in KEYWORDS and _is_number(kw.value) and not _is_zero(kw.value):
                    found.append((kw.value.lineno, f"{kw.arg}="))
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else [])
        for t in targets:
            if (isinstance(t, ast.Name) and CONSTANT.match(t.id) and TOL_NAME.search(t.id)
                    and _is_number(stmt.value)):
                found.append((stmt.lineno, t.id))
    return sorted(found)


def comment_lines(source: str) -> set[int]:
    return {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT}


def uncommented(source: str) -> list[tuple[int, str]]:
    """Tolerances in ``source`` with no comment on their line or the WINDOW lines above."""
    comments = comment_lines(source)
    return [(line, what) for line, what in tolerance_lines(source)
            if not any(line - k in comments for k in range(WINDOW + 1))]


def test_checker_finds_uncommented_tolerances():
    src = (
        "import numpy as np\n"
        "TOL = 1e-6\n"
        "np.testing.assert_allclose(a, b, rtol=1e-9)\n"
        "\n\n\n\n"
        "# closed form: float rounding only\n"
        "np.testing.assert_allclose(a, b,\n"
        "                           atol=1e-12)\n"
        "assert x == pytest.approx(y, abs=TOL, rel=0)\n"
        "assert x == pytest.approx(y, rel=-1e-3 * 2)  # published to 3 digits\n"
    )
    assert tolerance_lines(src) == [(2, "TOL"), (3, "rtol="), (10, "atol="), (12, "rel=")]
    assert uncommented(src) == [(2, "TOL"), (3, "rtol=")]


def test_every_test_tolerance_says_where_it_comes_from():
    missing = []
    for path in sorted(TESTS.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        for line, what in uncommented(path.read_text(encoding="utf-8")):
            missing.append(f"tests/{path.name}:{line}: {what} has no comment on its line or the "
                           f"{WINDOW} lines above saying where the number comes from")
    assert not missing, "\n".join(missing)

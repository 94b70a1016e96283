"""The audit's integer program: every linear relation at once, over whole counts.

Interval propagation (``audit._propagate``) bounds each cell by one relation at a time. It misses what
only several relations together imply: two periods that make up a half-year and three that make up the
year fix the third period to "year minus half-year" (a band 4 wide where each relation alone leaves 8),
and whole numbers with rounding bands often leave a single solution. This module asks the question
exactly. For every connected group of cells (cells linked by some relation), it writes one integer
program: each cell an integer inside the interval its publication (and the propagation before it)
allows, every relation a linear constraint. For each cell not published exactly, the program's lowest
and highest value say what an attacker with all the relations can know: if they are equal, the cell is
pinned.

Speed: a feasible solution x0 is found first; then programs that push many cells at once (minimise and
maximise the sum of the cells still undecided) free every cell that moves; only the cells that never
moved get their own minimise and maximise. A group whose relations the published numbers contradict
(an attacker's wrong guess about the tables' structure) has no solution and is left to the propagation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

__all__ = ["IntegerProgram", "pinned_by_milp"]

#: seconds a single program may take before the audit gives up on that group (a missed pin, never a false one)
TIME_LIMIT = 5.0


def _components(n_cells: int, eqs) -> list[tuple[list[int], list[int]]]:
    """(cells, relation numbers) of each group of cells linked by relations (union-find over the relations)."""
    parent = list(range(n_cells))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, _, coefs, _ in eqs:
        ids = list(coefs)
        for j in ids[1:]:
            a, b = find(ids[0]), find(j)
            if a != b:
                parent[a] = b
    groups: dict[int, tuple[set, list]] = {}
    for k, (_, _, coefs, _) in enumerate(eqs):
        root = find(next(iter(coefs)))
        cells, rels = groups.setdefault(root, (set(), []))
        cells.update(coefs)
        rels.append(k)
    return [(sorted(c), r) for c, r in groups.values()]


class IntegerProgram:
    """One group of cells and its relations as an integer program (``scipy.optimize.milp``, HiGHS)."""

    def __init__(self, cells: list[int], eqs: list, lo, hi):
        self.cells = cells
        self.pos = {c: k for k, c in enumerate(cells)}
        rows, cols, vals, lb, ub = [], [], [], [], []
        for r, (_, kind, coefs, _) in enumerate(eqs):
            for c, a in coefs.items():
                rows.append(r)
                cols.append(self.pos[c])
                vals.append(a)
            lb.append(0.0)
            ub.append(0.0 if kind == "eq" else np.inf)
        a = csr_array((vals, (rows, cols)), shape=(len(eqs), len(cells)))
        self.constraints = LinearConstraint(a, lb, ub)
        self.bounds = Bounds(np.array([lo[c] for c in cells], dtype=float),
                             np.array([hi[c] if not math.isinf(hi[c]) else np.inf for c in cells], dtype=float))
        self.integrality = np.ones(len(cells))
        self.n_solved = 0

    def solve(self, objective) -> np.ndarray | None:
        """The integer solution minimising ``objective`` (None if there is none or the solver ran out of time)."""
        self.n_solved += 1
        res = milp(objective, constraints=self.constraints, bounds=self.bounds, integrality=self.integrality,
                   options={"time_limit": TIME_LIMIT, "presolve": True})
        if res.status != 0 or res.x is None:
            return None
        return np.round(res.x)

    def unit(self, ks, sign: float = 1.0) -> np.ndarray:
        """An objective of ``sign`` on the variables at positions ``ks`` and 0 elsewhere."""
        c = np.zeros(len(self.cells))
        c[list(ks)] = sign
        return c

    def pinned(self, candidates: list[int]) -> dict[int, int] | None:
        """{cell: value} of the candidate cells that take one value in every solution; None if there is no
        solution (the relations contradict the published numbers)."""
        x0 = self.solve(np.zeros(len(self.cells)))
        if x0 is None:
            return None
        open_ = {self.pos[c] for c in candidates}
        open_ = self._free_in_bulk(x0, open_)
        out = {}
        for k in sorted(open_):
            if k not in open_:
                continue
            moved = False
            for sign in (1.0, -1.0):
                x = self.solve(self.unit([k], sign))
                if x is None:
                    moved = True  # out of time: not proven pinned (a missed pin, never a false one)
                    break
                open_ -= {j for j in open_ if x[j] != x0[j]}
                if x[k] != x0[k]:
                    moved = True
                    break
            if not moved:
                out[self.cells[k]] = int(x0[k])
            open_.discard(k)
        return out

    def _free_in_bulk(self, x0: np.ndarray, open_: set) -> set:
        """Push every undecided cell down, then up, at once; a cell that moves is not pinned."""
        while open_:
            before = len(open_)
            for sign in (1.0, -1.0):
                x = self.solve(self.unit(sorted(open_), sign))
                if x is not None:
                    open_ = {j for j in open_ if x[j] == x0[j]}
            if len(open_) == before:
                break
        return open_


def _propagation_is_exact(group) -> bool:
    """Whether interval propagation already found all the group can tell: one relation with coefficients of
    plus or minus 1 (a sum of whole-number intervals takes every whole value between its bounds), or only
    equalities of two cells (the same count published twice)."""
    unit = all(abs(a) == 1.0 for _, _, coefs, _ in group for a in coefs.values())
    pairs = all(kind == "eq" and len(coefs) == 2 for _, kind, coefs, _ in group)
    return unit and (len(group) == 1 or pairs)


def pinned_by_milp(n_cells: int, lo, hi, exact, eqs, stats: dict | None = None
                   ) -> tuple[dict[int, tuple[int, str]], list[str]]:
    """Cells (not published exactly, not already a single value) that the relations together pin.

    Parameters
    ----------
    n_cells : int
        Number of published cells.
    lo, hi : sequences
        Each cell's interval (after propagation).
    exact : sequence of bool
        Whether a cell was published exactly.
    eqs : list of (attack, kind, coefs, description)
        The relations the published numbers do not contradict.
    stats : dict, optional
        Filled with the number of programs written ("integer programs") and solved ("solves").

    Returns
    -------
    (dict, list)
        {cell: (value, description of the group)} and notes on groups left to the propagation.
    """
    found, notes = {}, []
    for cells, rel_ids in _components(n_cells, eqs):
        cand = [c for c in cells if not exact[c] and lo[c] < hi[c]]
        group = [eqs[k] for k in rel_ids]
        if not cand or _propagation_is_exact(group):
            continue
        prog = IntegerProgram(cells, group, lo, hi)
        pins = prog.pinned(cand)
        if stats is not None:
            stats["integer programs"] = stats.get("integer programs", 0) + 1
            stats["solves"] = stats.get("solves", 0) + prog.n_solved
        if pins is None:
            notes.append(f"a group of {len(cells)} cells and {len(group)} relations has no whole-number solution "
                         "(a guess about the tables' structure is wrong); left to interval propagation")
            continue
        for c, v in pins.items():
            own = [d for _, _, coefs, d in group if c in coefs]
            found[c] = (v, f"one integer program over the {len(group)} relations of {len(cells)} linked cells, "
                           "among them: " + "; ".join(own[:3]) + (" ..." if len(own) > 3 else ""))
    return found, notes

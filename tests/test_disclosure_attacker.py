"""Issue 26: an attacker independent of the release's own audit, with an integer program.

It reads only the published CSV tables of a release (through the audit's HTML decoder, nothing else of
it) and writes its own linear relations: every all-sites cell is the sum of the same cell in every site's
report (same period and threshold); a waiting table's ``n = n_event + n_competing + n_censored``; a funnel
stage marked ``intermediate`` is the sum of the stages under it. Each count cell is an integer inside the
range its text allows ("<T": 1 to T-1; a number v at rounding base 5: v-2 to v+2, a 5 also 1 to 7 for the
programme's throughput; "[c]": any). For every cell that is not published exactly, it solves the
smallest and the largest value it can take over the relations it is in
(``scipy.optimize.milp``, one connected group of relations at a time). A cell pinned to a value from 1
to T-1 is a leak.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from dapp_eval.disclosure.audit import decode_release
from dapp_eval.report import render_release
from dapp_eval.synthetic import generate

BIG = 10**6


def _range(text: str, threshold: int) -> tuple[int, int] | None:
    v = text.replace(",", "").strip()
    if v == "":
        return None
    if v.startswith("<"):
        return 1, threshold - 1
    if v == "[c]":
        return 0, BIG
    if not v.isdigit():
        return None
    n = int(v)
    if n == 0:
        return 0, 0
    if n == 5:
        return 1, 7
    return n - 2, n + 2


def _is_count(col) -> bool:
    return col == "n" or str(col).startswith("n_")


def _labels(t) -> list[str]:
    """Each row's label: its text columns joined (what matches a row across reports)."""
    txt = [j for j, c in enumerate(t.columns) if not _is_count(c)]
    return [" / ".join(row[j] for j in txt) for row in t.rows]


def _sum_relation(total: int, parts: list[int]) -> dict[int, float]:
    """total - sum(parts) = 0, as coefficients by cell."""
    coefs = {total: 1.0}
    for m in parts:
        coefs[m] = coefs.get(m, 0.0) - 1.0
    return coefs


class _Cells:
    """The count cells the attacker reasons about: one integer variable each, in the range its text allows."""

    def __init__(self):
        self.index, self.lo, self.hi, self.thr, self.exact = {}, [], [], [], []

    def __call__(self, r, key, i, col) -> int | None:
        """The variable of cell (report, table, row, column); None if the cell says nothing."""
        k = (r.file, key, i, col)
        if k in self.index:
            return self.index[k]
        t = r.tables[key]
        rng = _range(t.rows[i][t.columns.index(col)], r.threshold)
        if rng is None:
            return None
        self.index[k] = len(self.lo)
        self.lo.append(rng[0])
        self.hi.append(rng[1])
        self.thr.append(r.threshold)
        self.exact.append(rng[0] == rng[1])
        return self.index[k]

    def names(self) -> dict[int, tuple]:
        return {v: k for k, v in self.index.items()}


# relations: all-sites cell = sum of the same cell in every site's report


def _all_and_sites(group):
    """The all-sites report and the site reports of one (period, threshold), if every listed site is there."""
    alls = [r for r in group if r.scope == "all"]
    sites = [r for r in group if r.scope != "all"]
    if not alls or not sites:
        return None
    a = alls[0]
    listed = set()
    if "site_funnel" in a.tables and "site_id" in a.tables["site_funnel"].columns:
        listed = set(a.tables["site_funnel"].col("site_id"))
    if not listed or listed != {s.scope for s in sites}:
        return None  # the attacker needs every site's report
    return a, sites


def _site_members(cells, sites, key, col, lab, site_labels) -> list | None:
    """The cell labelled ``lab`` in each site's table (None if some site's table lacks the row or column)."""
    members = []
    for s, lab_s in zip(sites, site_labels):
        if lab not in lab_s or col not in s.tables[key].columns:
            return None
        members.append(cells(s, key, lab_s.index(lab), col))
    return members


def _table_sums(cells, a, sites, key) -> list[dict]:
    """Each count cell of an all-sites table = the same row and column summed over the sites' tables."""
    t = a.tables[key]
    site_labels = [_labels(s.tables[key]) for s in sites]
    rels = []
    for col in [c for c in t.columns if _is_count(c)]:
        for i, lab in enumerate(_labels(t)):
            members = _site_members(cells, sites, key, col, lab, site_labels)
            if members is None:
                continue
            ia = cells(a, key, i, col)
            if ia is not None and None not in members:
                rels.append(_sum_relation(ia, members))
    return rels


def _site_sum_relations(cells, reports) -> list[dict]:
    fam = defaultdict(list)
    for r in reports:
        fam[(r.period, r.threshold)].append(r)
    rels = []
    for group in fam.values():
        found = _all_and_sites(group)
        if found is None:
            continue
        a, sites = found
        for key, t in a.tables.items():
            if t.source != "csv" or not all(key in s.tables for s in sites):
                continue
            if all(s.tables[key].rows == t.rows for s in sites):
                continue  # a table every report shows the same (comparison of sites)
            rels.extend(_table_sums(cells, a, sites, key))
    return rels


# relations within one table


def _waiting_relations(cells, r, key, t) -> list[dict]:
    """n = n_event + n_competing + n_censored in a waiting table."""
    cols = ("n", "n_event", "n_competing", "n_censored")
    if not set(cols) <= set(t.columns):
        return []
    rels = []
    for i in range(len(t.rows)):
        ids = [cells(r, key, i, c) for c in cols]
        if None not in ids:
            rels.append(_sum_relation(ids[0], ids[1:]))
    return rels


def _funnel_relations(cells, r, key, t) -> list[dict]:
    """An intermediate funnel stage is the sum of the stages under it."""
    cols = t.columns
    if not {"stage", "level", "parent", "n"} <= set(cols):
        return []
    st, lv, pa = cols.index("stage"), cols.index("level"), cols.index("parent")
    rels = []
    for i, row in enumerate(t.rows):
        if row[lv] != "intermediate":
            continue
        kids = [j for j, x in enumerate(t.rows) if x[pa] == row[st]]
        ids = [cells(r, key, i, "n")] + [cells(r, key, j, "n") for j in kids]
        if kids and None not in ids:
            rels.append(_sum_relation(ids[0], ids[1:]))
    return rels


def _table_relations(cells, reports) -> list[dict]:
    rels = []
    for r in reports:
        for key, t in r.tables.items():
            if t.source == "csv":
                rels.extend(_waiting_relations(cells, r, key, t))
                rels.extend(_funnel_relations(cells, r, key, t))
    return rels


# solving


def _connected_groups(rels, n_cells) -> list[list[int]]:
    """The relations split into groups that share no cell (union-find over cells)."""
    parent = list(range(n_cells))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for coefs in rels:
        ks = list(coefs)
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    groups = defaultdict(list)
    for k, coefs in enumerate(rels):
        groups[find(next(iter(coefs)))].append(k)
    return list(groups.values())


def _pinned(cells, rels) -> list[tuple[int, int]]:
    """(cell, value) for every inexact cell of this connected group whose smallest and largest values agree."""
    var = sorted({v for coefs in rels for v in coefs})
    pos = {v: j for j, v in enumerate(var)}
    a = np.zeros((len(rels), len(var)))
    for row, coefs in enumerate(rels):
        for v, c in coefs.items():
            a[row, pos[v]] += c
    cons = LinearConstraint(a, 0, 0)
    bounds = Bounds([cells.lo[v] for v in var], [cells.hi[v] for v in var])
    out = []
    for v in var:
        if cells.exact[v]:
            continue
        c = np.zeros(len(var))
        c[pos[v]] = 1.0
        low = milp(c, constraints=cons, bounds=bounds, integrality=np.ones(len(var)))
        high = milp(-c, constraints=cons, bounds=bounds, integrality=np.ones(len(var)))
        if low.status != 0 or high.status != 0:
            continue  # the relations do not hold for this release (the attacker guessed wrong)
        vmin, vmax = round(low.fun), round(-high.fun)
        if vmin == vmax:
            out.append((v, vmin))
    return out


def attack(folder) -> list[tuple]:
    """Cells of a release pinned to a value from 1 to T-1: (report, table, row, column, value)."""
    reports = [r for r in decode_release(folder) if r.scope != "workbook"]
    cells = _Cells()
    rels = _site_sum_relations(cells, reports) + _table_relations(cells, reports)
    names = cells.names()
    leaks = []
    for rel_ids in _connected_groups(rels, len(cells.lo)):
        for v, value in _pinned(cells, [rels[k] for k in rel_ids]):
            if 1 <= value <= cells.thr[v] - 1:
                leaks.append((*names[v], value))
    return leaks


@pytest.mark.slow
@pytest.mark.parametrize(("referrals", "sites", "seed"), [(300, 3, 5), (1100, 4, 14)])
def test_independent_attacker_recovers_nothing(tmp_path, referrals, sites, seed):
    data = tmp_path / "data"
    generate(data, referrals=referrals, sites=sites, seed=seed)
    render_release(data, tmp_path / "out", progress=False, jobs=1)
    assert attack(tmp_path / "out") == []

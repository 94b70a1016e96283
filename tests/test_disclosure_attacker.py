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


def attack(folder) -> list[tuple]:
    """Cells of a release pinned to a value from 1 to T-1: (report, table, row, column, value)."""
    reports = [r for r in decode_release(folder) if r.scope != "workbook"]
    cells, lo, hi, thr, exact = {}, [], [], [], []

    def cell(r, key, i, col):
        k = (r.file, key, i, col)
        if k in cells:
            return cells[k]
        t = r.tables[key]
        rng = _range(t.rows[i][t.columns.index(col)], r.threshold)
        if rng is None:
            return None
        cells[k] = len(lo)
        lo.append(rng[0])
        hi.append(rng[1])
        thr.append(r.threshold)
        exact.append(rng[0] == rng[1])
        return cells[k]

    def labels(t):
        txt = [j for j, c in enumerate(t.columns) if not (c == "n" or str(c).startswith("n_"))]
        return [" / ".join(row[j] for j in txt) for row in t.rows]

    rels = []  # (coefficients, right-hand side 0)
    fam = defaultdict(list)
    for r in reports:
        fam[(r.period, r.threshold)].append(r)
    for group in fam.values():
        alls = [r for r in group if r.scope == "all"]
        sites = [r for r in group if r.scope != "all"]
        if not alls or not sites:
            continue
        a = alls[0]
        listed = set()
        if "site_funnel" in a.tables and "site_id" in a.tables["site_funnel"].columns:
            listed = set(a.tables["site_funnel"].col("site_id"))
        if not listed or listed != {s.scope for s in sites}:
            continue  # the attacker needs every site's report
        for key, t in a.tables.items():
            if t.source != "csv" or not all(key in s.tables for s in sites):
                continue
            if all(s.tables[key].rows == t.rows for s in sites):
                continue  # a table every report shows the same (comparison of sites)
            la = labels(t)
            ls = [labels(s.tables[key]) for s in sites]
            for col in [c for c in t.columns if c == "n" or str(c).startswith("n_")]:
                for i, lab in enumerate(la):
                    members = []
                    for s, lab_s in zip(sites, ls):
                        if lab not in lab_s or col not in s.tables[key].columns:
                            break
                        members.append(cell(s, key, lab_s.index(lab), col))
                    else:
                        ia = cell(a, key, i, col)
                        if ia is not None and None not in members:
                            coefs = {ia: 1.0}
                            for m in members:
                                coefs[m] = coefs.get(m, 0.0) - 1.0
                            rels.append(coefs)
    for r in reports:
        for key, t in r.tables.items():
            if t.source != "csv":
                continue
            cols = t.columns
            if {"n", "n_event", "n_competing", "n_censored"} <= set(cols):
                for i in range(len(t.rows)):
                    ids = [cell(r, key, i, c) for c in ("n", "n_event", "n_competing", "n_censored")]
                    if None not in ids:
                        rels.append({ids[0]: 1.0, ids[1]: -1.0, ids[2]: -1.0, ids[3]: -1.0})
            if {"stage", "level", "parent", "n"} <= set(cols):
                st, lv, pa = cols.index("stage"), cols.index("level"), cols.index("parent")
                for i, row in enumerate(t.rows):
                    if row[lv] != "intermediate":
                        continue
                    kids = [j for j, x in enumerate(t.rows) if x[pa] == row[st]]
                    ids = [cell(r, key, i, "n")] + [cell(r, key, j, "n") for j in kids]
                    if kids and None not in ids:
                        coefs = {ids[0]: 1.0}
                        for m in ids[1:]:
                            coefs[m] = coefs.get(m, 0.0) - 1.0
                        rels.append(coefs)
    # connected groups of relations, each solved on its own
    parent = list(range(len(lo)))

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
    names = {v: k for k, v in cells.items()}
    leaks = []
    for rel_ids in groups.values():
        var = sorted({v for k in rel_ids for v in rels[k]})
        pos = {v: j for j, v in enumerate(var)}
        a = np.zeros((len(rel_ids), len(var)))
        for row, k in enumerate(rel_ids):
            for v, c in rels[k].items():
                a[row, pos[v]] += c
        cons = LinearConstraint(a, 0, 0)
        bounds = Bounds([lo[v] for v in var], [hi[v] for v in var])
        for v in var:
            if exact[v]:
                continue
            c = np.zeros(len(var))
            c[pos[v]] = 1.0
            low = milp(c, constraints=cons, bounds=bounds, integrality=np.ones(len(var)))
            high = milp(-c, constraints=cons, bounds=bounds, integrality=np.ones(len(var)))
            if low.status != 0 or high.status != 0:
                continue  # the relations do not hold for this release (the attacker guessed wrong)
            vmin, vmax = round(low.fun), round(-high.fun)
            if vmin == vmax and 1 <= vmin <= thr[v] - 1:
                leaks.append((*names[v], vmin))
    return leaks


@pytest.mark.slow
@pytest.mark.parametrize(("referrals", "sites", "seed"), [(300, 3, 5), (1100, 4, 14)])
def test_independent_attacker_recovers_nothing(tmp_path, referrals, sites, seed):
    data = tmp_path / "data"
    generate(data, referrals=referrals, sites=sites, seed=seed)
    render_release(data, tmp_path / "out", progress=False, jobs=1)
    assert attack(tmp_path / "out") == []

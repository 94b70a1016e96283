"""The audit's relations of the participant flow: every table built from the funnel's stages, tied to them.

An outside attacker pinned 38 exact counts in three releases that the audit passed (issue 26), with an
integer program over relations that hold by construction of the product's tables. Each of them is written
here over the twelve *terminal* stages of a report (``analyses.funnel.STAGES``; every referral is in exactly
one), kept as unpublished cells of the audit: published cells are tied to them, never to each other, so the
relations still bind when the release engine withholds one of the tables (the funnel itself included).

``participant flow``
    each row of the funnel table (``funnel_counts``: ``stage``, ``n``) is the sum of its terminal stages
    (``analyses.funnel.INTERMEDIATE_STAGES``; rows named by ``STAGE_LABELS``);
``conversions``
    each row of ``funnel_conversion`` (named by its code, ``assessed_of_referred`` ...): ``n_converted`` is
    the later stage, ``n_resolved`` the later stage and the stages that failed at the step, ``n_open`` the
    stages still open at it (:data:`CONVERSIONS`);
``waits``
    ``wait_referral_to_assessment`` and ``wait_assessment_to_start``: ``n`` is the stage waiting,
    ``n_event`` the stage reached, ``n_competing`` the stages left another way, ``n_censored`` the stage
    still waiting (:data:`WAITS`);
``waiting list``
    by list (``list``: ``awaiting_assessment``, ``awaiting_start``, ``any``): ``n_waiting`` is the stage
    (``any`` both), ``n_referred`` the referrals, ``n_over_threshold`` at most ``n_waiting`` (and ``any``'s
    the sum of the other two); by risk band (``risk_band``): ``n_waiting = n_awaiting_assessment +
    n_awaiting_start`` in each row, and the bands (zeros included) add up to the two stages;
``throughput``
    the quarters' ``n_referrals``, ``n_starts`` and ``n_completions`` add up to referred, started and
    completed;
``group profiles``
    every table with ``variable``, ``group`` and the five counts of ``analyses.equality.profile``
    (equality profile, districts, programme strands): within each characteristic the groups add up to
    referred, ``n_resolved`` (referred minus those still waiting), started, ``n_left`` (started minus
    still attending) and completed; within each group ``n_referred >= n_resolved >= n_started >= n_left
    >= n_completed`` (inequalities);
``across reports``
    the all-sites report's stages are the sum of the site reports' (at least it, when not every site's
    report is published), within one threshold and period; the same scope and period at another
    threshold has the same stages.

Two of these are an attacker's reading of the tables rather than guaranteed by every export: the data
contract allows a case left open with an ``unsuitable`` outcome (counted neither as resolved nor as
waiting) and an open case with an assessment date but no outcome (awaiting assessment in the funnel, not
in the risk-band waiting list). Where an export has such cases the attacker's sum is off by them; the
audit makes the same guess, so it can only protect more than needed there, never less. Both hold on every
generated programme (``tests/test_audit_flow.py`` checks every relation against the analyses' unrounded
tables).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

from dapp_eval.analyses.funnel import INTERMEDIATE_STAGES, STAGE_LABELS, STAGES

__all__ = ["FLOW", "UNPUBLISHED", "CONVERSIONS", "WAITS", "PROFILE_COUNTS", "RATIO_DENOMINATORS", "add_flow_relations"]

#: the attack's name in the audit's account
FLOW = "participant flow"
#: the table name of the unpublished stage cells (never reported as a leak themselves)
UNPUBLISHED = "(participant flow stages, not published)"

_OPEN = ("awaiting_assessment", "awaiting_start", "still_attending")
#: conversion code -> (later stage, stages failed at the step, stages still open at it), as analyses.funnel
CONVERSIONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "assessed_of_referred": ("assessed", ("declined_assessment", "exited_before_assessment"),
                             ("awaiting_assessment",)),
    "accepted_of_assessed": ("accepted", ("unsuitable",), ()),
    "started_of_accepted": ("started", ("declined_to_start", "exited_before_start"), ("awaiting_start",)),
    "completed_of_started": ("completed", ("dropped_out", "excluded", "other_exit"), ("still_attending",)),
    "started_of_referred": ("started", ("declined_assessment", "exited_before_assessment", "unsuitable",
                                        "declined_to_start", "exited_before_start"),
                            ("awaiting_assessment", "awaiting_start")),
    "completed_of_referred": ("completed", tuple(s for s in STAGES if s not in _OPEN and s != "completed"),
                              _OPEN),
}
#: wait table -> stages of (n, n_event, n_competing, n_censored)
WAITS: dict[str, tuple[tuple[str, ...], ...]] = {
    "wait_referral_to_assessment": (("referred",), ("assessed",),
                                    ("declined_assessment", "exited_before_assessment"), ("awaiting_assessment",)),
    "wait_assessment_to_start": (("accepted",), ("started",), ("declined_to_start", "exited_before_start"),
                                 ("awaiting_start",)),
}
#: the counts of a group profile, as stages: (plus, minus)
PROFILE_COUNTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "n_referred": (("referred",), ()),
    "n_resolved": (("referred",), ("awaiting_assessment", "awaiting_start")),
    "n_started": (("started",), ()),
    "n_left": (("started",), ("still_attending",)),
    "n_completed": (("completed",), ()),
}
#: ratio columns whose denominator the contract documents (analyses.equality: start rate = started / no longer
#: waiting, completion rate = completed / started and left): an attacker reading the header pairs no other count
RATIO_DENOMINATORS = {"prop_started": "n_resolved", "prop_completed": "n_left"}
_LIST_STAGES = {"awaiting_assessment": ("awaiting_assessment",), "awaiting_start": ("awaiting_start",),
                "any": ("awaiting_assessment", "awaiting_start")}
_BY_LABEL = {v.lower(): k for k, v in STAGE_LABELS.items()}


def _terminal(stage: str) -> tuple[str, ...]:
    return INTERMEDIATE_STAGES.get(stage, (stage,))


class _Stages:
    """One report's terminal stages as unpublished cells, and the relations its tables have with them."""

    def __init__(self, r, cells, eqs, row_labels: Callable):
        self.r, self.cells, self.eqs, self.row_labels = r, cells, eqs, row_labels
        self.var = {s: _unpublished(cells, (r.file, UNPUBLISHED, s, "n"), r) for s in STAGES}

    def cell(self, key: str, label: str, col: str):
        return self.cells.index.get((self.r.file, key, label, col))

    def add(self, cell, plus=(), minus=(), desc: str = "", kind: str = "eq", others=()) -> None:
        """cell (+ the cells ``others``) = sum of the stages ``plus`` minus those of ``minus``; skipped when a
        published cell is missing."""
        if cell is None or None in others:
            return
        coefs: dict[int, float] = defaultdict(float)
        coefs[cell] += 1.0
        for o in others:
            coefs[o] += 1.0
        for group, sign in ((plus, -1.0), (minus, 1.0)):
            for s in group:
                for t in _terminal(s):
                    coefs[self.var[t]] += sign
        coefs = {k: v for k, v in coefs.items() if v}
        if len(coefs) > 1:
            self.eqs.append((FLOW, kind, coefs, f"{self.r.file}: {desc}"))

    def table(self, name: str):
        """The report's table ``name`` (its CSV name without the scope), or None."""
        return self.r.tables.get(name)


def _unpublished(cells, key, r) -> int:
    """A cell for a count no table shows (0 .. infinity), never a leak itself."""
    i = len(cells.lo)
    cells.lo.append(0.0)
    cells.hi.append(float("inf"))
    cells.exact.append(False)
    cells.hidden.append(False)
    cells.meta.append((r.file, UNPUBLISHED, key[2], "n", "", r.threshold))
    cells.index[key] = i
    cells.unpublished.add(i)
    return i


def _funnel(st: _Stages) -> None:
    """Each funnel row is the sum of its terminal stages."""
    t = st.table("funnel_counts")
    if t is None or "n" not in t.columns:
        return
    for lab in st.row_labels(t):
        stage = _BY_LABEL.get(lab.split(" / ")[0].strip().lower())
        if stage:
            st.add(st.cell("funnel_counts", lab, "n"), (stage,), desc=f"funnel '{STAGE_LABELS[stage]}'")


def _conversions(st: _Stages) -> None:
    """Conversion rows: converted, resolved and open as sums of stages."""
    t = st.table("funnel_conversion")
    if t is None:
        return
    for lab in st.row_labels(t):
        code = lab.split(" / ")[0].strip()
        if code not in CONVERSIONS:
            continue
        num, failed, open_ = CONVERSIONS[code]
        for col, plus in (("n_converted", (num,)), ("n_resolved", (num, *failed)), ("n_open", open_)):
            st.add(st.cell("funnel_conversion", lab, col), plus, desc=f"conversion {code}: {col}")


def _waits(st: _Stages) -> None:
    """Waiting-time tables (one row): n, n_event, n_competing and n_censored as stages."""
    for name, stages in WAITS.items():
        t = st.table(name)
        if t is None or len(t) != 1:
            continue
        lab = st.row_labels(t)[0]
        for col, plus in zip(("n", "n_event", "n_competing", "n_censored"), stages):
            st.add(st.cell(name, lab, col), plus, desc=f"{name}: {col}")


def _waiting_list(st: _Stages) -> None:
    """The waiting list by list (stages, referrals, waits over the threshold) or by risk band (band sums)."""
    t = st.table("waiting_list")
    if t is None:
        return
    labels = st.row_labels(t)
    if "list" in t.columns:
        _by_list(st, t, labels)
    elif "risk_band" in t.columns:
        _by_band(st, labels)


def _by_list(st: _Stages, t, labels) -> None:
    over = {}
    for lab, code in zip(labels, t.col("list")):
        code = code.strip()
        if code not in _LIST_STAGES:
            continue
        st.add(st.cell("waiting_list", lab, "n_waiting"), _LIST_STAGES[code], desc=f"waiting list {code}")
        st.add(st.cell("waiting_list", lab, "n_referred"), ("referred",), desc="waiting list n_referred")
        o, w = st.cell("waiting_list", lab, "n_over_threshold"), st.cell("waiting_list", lab, "n_waiting")
        over[code] = o
        if o is not None and w is not None:
            st.eqs.append((FLOW, "ge", {w: 1.0, o: -1.0}, f"{st.r.file}: waiting list {code}: over the threshold "
                                                              "at most waiting"))
    if len(over) == 3 and None not in over.values():
        st.eqs.append((FLOW, "eq", {over["any"]: 1.0, over["awaiting_assessment"]: -1.0,
                                    over["awaiting_start"]: -1.0}, f"{st.r.file}: waiting list: any over the "
                                                                   "threshold = the two lists'"))


def _by_band(st: _Stages, labels) -> None:
    cols = {"n_awaiting_assessment": [], "n_awaiting_start": []}
    for lab in labels:
        ids = {c: st.cell("waiting_list", lab, c) for c in ("n_waiting", *cols)}
        for c in cols:
            cols[c].append(ids[c])
        if None not in ids.values():
            st.eqs.append((FLOW, "eq", {ids["n_waiting"]: 1.0, ids["n_awaiting_assessment"]: -1.0,
                                        ids["n_awaiting_start"]: -1.0},
                           f"{st.r.file}: waiting list '{lab}': waiting = awaiting assessment + a place"))
    for c, stage in (("n_awaiting_assessment", "awaiting_assessment"), ("n_awaiting_start", "awaiting_start")):
        ids = cols[c]
        if ids and None not in ids:
            st.add(ids[0], (stage,), others=ids[1:], desc=f"waiting list by risk band: sum of {c}")


def _throughput(st: _Stages) -> None:
    """The quarters add up to referred, started and completed."""
    t = st.table("throughput")
    if t is None:
        return
    labels = st.row_labels(t)
    for col, stage in (("n_referrals", "referred"), ("n_starts", "started"), ("n_completions", "completed")):
        ids = [st.cell("throughput", lab, col) for lab in labels]
        if ids and None not in ids:
            st.add(ids[0], (stage,), others=ids[1:], desc=f"throughput: sum of quarterly {col}")


def _profiles(st: _Stages) -> None:
    """Group profiles: groups add up to the stages within each characteristic; counts fall down each row."""
    for key, t in st.r.tables.items():
        if key.endswith(" (page)") or not {"variable", "group", *PROFILE_COUNTS} <= set(t.columns):
            continue
        labels = st.row_labels(t)
        blocks: dict[str, list[str]] = defaultdict(list)
        for lab, var in zip(labels, t.col("variable")):
            blocks[var.strip()].append(lab)
        for var, labs in blocks.items():
            for col, (plus, minus) in PROFILE_COUNTS.items():
                ids = [st.cell(key, lab, col) for lab in labs]
                if None not in ids:
                    st.add(ids[0], plus, minus, others=ids[1:], desc=f"{key} '{var}': groups add up ({col})")
        _falling(st, key, labels)


def _falling(st: _Stages, key: str, labels) -> None:
    """Within a group: referred >= resolved >= started >= left >= completed."""
    order = list(PROFILE_COUNTS)
    for lab in labels:
        for a, b in zip(order, order[1:]):
            i, j = st.cell(key, lab, a), st.cell(key, lab, b)
            if i is not None and j is not None:
                st.eqs.append((FLOW, "ge", {i: 1.0, j: -1.0}, f"{st.r.file} {key} '{lab}': {a} >= {b}"))


def _across_reports(stages: dict, reports, eqs, listed_sites: Callable) -> None:
    """All sites = the sum of the sites (at least it when not every site is published), per threshold and
    period; the same scope and period at two thresholds has the same stages."""
    families: dict[tuple, list] = defaultdict(list)
    by_scope: dict[tuple, list] = defaultdict(list)
    for r in reports:
        if r.file in stages:
            families[(r.threshold, r.period)].append(r)
            by_scope[(r.scope, r.period)].append(r)
    for fam in families.values():
        _sites_add_up(stages, fam, eqs, listed_sites)
    for group in by_scope.values():
        for a, b in zip(group, group[1:]):
            if a.threshold != b.threshold:
                for s in STAGES:
                    eqs.append((FLOW, "eq", {stages[a.file].var[s]: 1.0, stages[b.file].var[s]: -1.0},
                                f"stage {s} of {a.scope} at thresholds {a.threshold} and {b.threshold}"))


def _sites_add_up(stages: dict, fam: list, eqs, listed_sites: Callable) -> None:
    """One family of reports (one threshold and period): the all-sites stages minus the sites' stages."""
    overall = [r for r in fam if r.scope == "all"]
    sites = [r for r in fam if r.scope != "all"]
    if not overall or not sites:
        return
    o = overall[0]
    listed = listed_sites(o)
    complete = bool(listed) and listed <= {s.scope for s in sites}
    for s in STAGES:
        coefs = {stages[o.file].var[s]: 1.0}
        for x in sites:
            coefs[stages[x.file].var[s]] = -1.0
        eqs.append((FLOW, "eq" if complete else "ge", coefs,
                    f"all sites minus the {len(sites)} site reports, stage {s} ({o.period})"))


_FLOW_TABLES = re.compile(r"(funnel_counts|funnel_conversion|wait_referral_to_assessment|wait_assessment_to_start|"
                          r"waiting_list|throughput)$")


def _has_flow(r) -> bool:
    return any(_FLOW_TABLES.match(k) or {"variable", "group", *PROFILE_COUNTS} <= set(t.columns)
               for k, t in r.tables.items())


def add_flow_relations(reports, cells, eqs, *, row_labels: Callable, listed_sites: Callable) -> int:
    """Add every relation of the participant flow (module doc) to the audit's relations ``eqs``.

    Parameters
    ----------
    reports : list
        The audit's decoded reports (``audit.decode_release``); the workbook is tied by the audit's own
        relations across outputs.
    cells : audit._Cells
        The published cells; the unpublished stage cells are added to it (and to ``cells.unpublished``).
    eqs : list
        The audit's relations, (attack, "eq" or "ge", {cell: coefficient}, description); appended to.
    row_labels : callable
        The audit's row labels of a table (``audit._row_labels``), which name the cells.
    listed_sites : callable
        The site ids an all-sites report lists (``audit._listed_sites``): whether every site is published.

    Returns
    -------
    int
        The number of relations added.
    """
    before = len(eqs)
    stages = {}
    for r in reports:
        if r.scope == "workbook" or not _has_flow(r):
            continue
        st = stages[r.file] = _Stages(r, cells, eqs, row_labels)
        for step in (_funnel, _conversions, _waits, _waiting_list, _throughput, _profiles):
            step(st)
    _across_reports(stages, reports, eqs, listed_sites)
    return len(eqs) - before

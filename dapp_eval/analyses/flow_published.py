"""The participant flow protected by construction: one base set of counts, every other count an identity of them.

Each count of the participant flow is rounded to a multiple of the rounding base on its own. Where one
table's count is an exact identity of others (``Referred`` is the sum of its stages; a conversion's
``n_resolved`` is the earlier stage less the people still open; a wait's ``n`` is a stage of the funnel),
publishing it rounded on its own gives each of them a band of +-2 around its true value, and an integer
program over all the identities intersects those bands and pins exact counts (issue 26: 38 counts pinned by
an outside attacker). This module publishes the flow the way additive tables are published in official
statistics (controlled, additive tables): a **base** of independently protected counts, the flow's terminal
stages (people in exactly one stage each), and every other count **derived from the published base** by the
identity that defines it. A derived count is then an identity of published numbers: it tells nothing the
base does not, and an attacker's relation ``parent = sum of its stages`` holds among the published numbers
themselves (it adds no band).

- Terminal stages of a handful of people are merged with their siblings (``Merge``: "Declined assessment or
  other exit before assessment"), so that a parent is almost always a sum of published numbers. Where a
  merged stage is still a handful, it is shown as ``<T`` and every total above it is withheld (``[c]``).
- The intermediate stages (referred, assessed, accepted, started) are published in the column ``total``: the
  sum of the published stages under them. Derived counts are never published in a count column (``n``,
  ``n_*``), so that no reader takes them for independently rounded counts.
- Conversions, the waits' people, and the waiting list's lists are computed from the published flow (see
  :func:`stage_value`), with the Wilson interval of the published counts.

Examples
--------
>>> import pandas as pd
>>> pub = pd.DataFrame({"stage": ["referred", "declined_assessment", "awaiting_assessment",
...                                "exited_before_assessment", "assessed"] + [None],
...                     "level": ["intermediate", "terminal", "terminal", "terminal", "intermediate", "terminal"],
...                     "parent": [None, "referred", "referred", "referred", "referred", "assessed"],
...                     "n": [None, "20", "15", "0", None, "400"], "total": ["435", None, None, None, "400", None]})
>>> stage_value(pub, ("awaiting_assessment",)), stage_value(pub, ("declined_assessment", "awaiting_assessment"))
(15.0, 35.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dapp_eval.columns import Count, Derived, Label, Merge, Value
from dapp_eval.estimators.proportions import wilson_ci

#: terminal stages, in funnel order; every referral is in exactly one
STAGES: tuple[str, ...] = (
    "declined_assessment",
    "awaiting_assessment",
    "exited_before_assessment",
    "unsuitable",
    "declined_to_start",
    "awaiting_start",
    "exited_before_start",
    "still_attending",
    "completed",
    "dropped_out",
    "excluded",
    "other_exit",
)

#: intermediate stages as unions of terminal stages
INTERMEDIATE_STAGES: dict[str, tuple[str, ...]] = {
    "referred": STAGES,
    "assessed": STAGES[3:],
    "accepted": STAGES[4:],
    "started": STAGES[7:],
}

#: every stage's parent stage (None for referred), in display order
STAGE_PARENT = {
    "referred": None,
    "declined_assessment": "referred",
    "awaiting_assessment": "referred",
    "exited_before_assessment": "referred",
    "assessed": "referred",
    "unsuitable": "assessed",
    "accepted": "assessed",
    "declined_to_start": "accepted",
    "awaiting_start": "accepted",
    "exited_before_start": "accepted",
    "started": "accepted",
    "still_attending": "started",
    "completed": "started",
    "dropped_out": "started",
    "excluded": "started",
    "other_exit": "started",
}

#: every stage (intermediate and terminal) in display order
FUNNEL_ORDER: tuple[str, ...] = tuple(STAGE_PARENT)

STAGE_LABELS: dict[str, str] = {
    "referred": "Referred",
    "declined_assessment": "Declined assessment",
    "awaiting_assessment": "Awaiting assessment",
    "exited_before_assessment": "Other exit before assessment",
    "assessed": "Assessed",
    "unsuitable": "Assessed as unsuitable",
    "accepted": "Accepted (suitable)",
    "declined_to_start": "Declined to start",
    "awaiting_start": "Awaiting start",
    "exited_before_start": "Other exit before starting",
    "started": "Started",
    "still_attending": "Still attending",
    "completed": "Completed",
    "dropped_out": "Dropped out",
    "excluded": "Excluded by the programme",
    "other_exit": "Other exit after starting (moved away, custody, other)",
}

__all__ = ["derive_largest_quarter", "derived_cell", "DERIVED_QUARTER", "derive_largest_group", "derive_largest_band", "derive_completion_rows", "derive_table1", "TABLE1_GROUPS", "profile_totals", "DERIVED_GROUP", "FLOW_ROLES", "flow_table", "stage_value", "conversion_table", "CONVERSION_ROLES", "wait_counts",
           "waiting_counts", "DERIVED_NOTE"]

#: what the page says about the derived counts
DERIVED_NOTE = ("Only the people at each final stage (column n) are counted and rounded on their own; every total "
                "(column total), every conversion and every count of the waits and the waiting list is the sum of "
                "those published numbers, so that they add up exactly and carry nothing of their own. Stages of a "
                "handful of people are merged with a neighbouring stage.")

#: the intermediate stages whose terminal stages' parents are each intermediate stage or below it
_BELOW = {"referred": ("referred", "assessed", "accepted", "started"), "assessed": ("assessed", "accepted", "started"),
          "accepted": ("accepted", "started"), "started": ("started",)}
_PARENT = {"declined_assessment": "referred", "awaiting_assessment": "referred", "exited_before_assessment": "referred",
           "unsuitable": "assessed", "declined_to_start": "accepted", "awaiting_start": "accepted",
           "exited_before_start": "accepted", "still_attending": "started", "completed": "started",
           "dropped_out": "started", "excluded": "started", "other_exit": "started"}


def flow_table(counts: pd.DataFrame) -> pd.DataFrame:
    """The funnel's stage rows (``cascade``'s ``counts``) as the flow is published: ``n`` on terminal rows
    only, ``total`` on intermediate rows."""
    t = counts[["group", "stage", "label", "level", "parent", "n"]].copy()
    inter = (t["level"] == "intermediate").to_numpy()
    t["total"] = t["n"].where(inter)
    t["n"] = t["n"].where(~inter)
    t["pct_of_referred"] = np.nan
    return t


def _numbers(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.replace(",", ""), errors="coerce")


def _totals(pub: pd.DataFrame) -> pd.DataFrame:
    """Each intermediate stage: the sum of the published terminal rows under it (NaN if one is hidden)."""
    n = _numbers(pub["n"])
    out = pd.Series(np.nan, index=pub.index, dtype=float)
    term = pub["level"] == "terminal"
    for i in pub.index[pub["level"] == "intermediate"]:
        under = term & (pub["group"] == pub.at[i, "group"]) & pub["parent"].isin(_BELOW.get(pub.at[i, "stage"], ()))
        out[i] = n[under].sum(min_count=1) if n[under].notna().all() else np.nan
    return pd.DataFrame({"total": [int(v) if np.isfinite(v) else np.nan for v in out]}, index=pub.index, dtype=object)


def _pct(pub: pd.DataFrame) -> pd.DataFrame:
    """Each row's published number as a % of its group's published referrals."""
    v = _numbers(pub["n"]).fillna(_numbers(pub["total"]))
    ref = _numbers(pub["total"]).where(pub["stage"] == "referred").groupby(pub["group"]).transform("max")
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"pct_of_referred": 100 * v / ref.where(ref > 0)})


def _terminal(t: pd.DataFrame) -> np.ndarray:
    return (t["level"] == "terminal").to_numpy()


def _intermediate(t: pd.DataFrame) -> np.ndarray:
    return (t["level"] == "intermediate").to_numpy()


_OPEN = ("awaiting_assessment", "awaiting_start", "still_attending")


def _exits(t: pd.DataFrame) -> np.ndarray:
    """Terminal stages that are exits (not people still waiting or attending, nor completers): merged among
    themselves first, so that a conversion's people still open, and the completers, stay apart where they are
    not a handful themselves."""
    return ((t["level"] == "terminal") & ~t["stage"].isin((*_OPEN, "completed"))).to_numpy()


def _parent_total(t: pd.DataFrame) -> np.ndarray:
    """Each row's parent's people (the true total of the intermediate stage it belongs to; NaN at the top), for
    the zero rule of the merges: in a small group a stage of nobody or everybody is merged like a small one."""
    totals = {(g, s): v for g, s, v in zip(t["group"], t["stage"], t["total"])}
    up = dict(zip(t["stage"], t["parent"]))

    def people(g, p) -> float:
        # a parent of nobody ("Started 0") is itself "none" of its own parent: its stages' 0s say so too, so
        # the group they are "none" of is the nearest stage above with people in it
        while totals.get((g, p)) == 0 and isinstance(up.get(p), str):
            p = up[p]
        return totals.get((g, p), np.nan)

    return np.array([people(g, p) for g, p in zip(t["group"], t["parent"])], dtype=float)


#: the flow: terminal stages counted (a handful merged with a sibling exit first, then with any sibling),
#: intermediate stages their published sums
FLOW_ROLES = [Merge(by=("group", "parent"), level="label", add=("n",), where=_exits, group_size=_parent_total,
                    named=True),
              Merge(by=("group", "parent"), level="label", add=("n",), where=_terminal, group_size=_parent_total,
                    named=True),
              Label("label"), Value("group", "stage", "level", "parent"), Count("n"),
              Derived(("total",), _totals, rows=_intermediate, hidden_ok=True),
              Derived(("pct_of_referred",), _pct, hidden_ok=True)]


def _covered(pub: pd.DataFrame) -> list[tuple[frozenset, float]]:
    """(terminal stages, published number) of each terminal row: a merged row covers its parent's terminal
    stages that are not shown on their own."""
    n = _numbers(pub["n"])
    term = pub[pub["level"] == "terminal"]
    out = []
    for parent, rows in term.groupby("parent", sort=False):
        own = set(rows["stage"].dropna())
        rest = frozenset(s for s, p in _PARENT.items() if p == parent and s not in own)
        for i, st in rows["stage"].items():
            out.append((frozenset([st]) if isinstance(st, str) else rest, float(n[i])))
    return out


def stage_value(pub: pd.DataFrame, stages: Sequence[str]) -> float:
    """The sum of the published rows that make up exactly the terminal ``stages`` (intermediate names allowed);
    NaN when one of them is hidden or merged with a stage outside ``stages``."""
    want = set()
    for s in stages:
        want |= set(INTERMEDIATE_STAGES.get(s, (s,)))
    total, got = 0.0, set()
    for cover, v in _covered(pub):
        if cover & want:
            if not cover <= want or np.isnan(v):
                return float("nan")
            total += v
            got |= cover
    return total if got == want else float("nan")


# conversion: (earlier stage, later stage, stages still open at the step)
_CONVERSIONS = {
    "assessed_of_referred": ("referred", "assessed", ("awaiting_assessment",)),
    "accepted_of_assessed": ("assessed", "accepted", ()),
    "started_of_accepted": ("accepted", "started", ("awaiting_start",)),
    "completed_of_started": ("started", "completed", ("still_attending",)),
    "started_of_referred": ("referred", "started", ("awaiting_assessment", "awaiting_start")),
    "completed_of_referred": ("referred", "completed", ("awaiting_assessment", "awaiting_start", "still_attending")),
}


def _minus(total: float, open_: Sequence[str], pub: pd.DataFrame) -> tuple[float, float]:
    """(people still open, people resolved): the open stages' published sum, and the stage less it."""
    if not open_:
        return 0.0, total
    o = stage_value(pub, open_)
    return o, total - o


def conversion_table(pub: pd.DataFrame, *, alpha: float, zero_minimum: int) -> pd.DataFrame:
    """Each conversion computed from the published flow ``pub`` (one group): converted of those resolved at
    the step, with the Wilson interval of those published numbers; ``[c]`` where a number it needs is not
    published, and the rate also where it says "none" or "all" of fewer than ``zero_minimum`` people."""
    rows = []
    for code, (den, num, open_) in _CONVERSIONS.items():
        conv = stage_value(pub, (num,))
        opn, res = _minus(stage_value(pub, (den,)), open_, pub)
        est = lo = hi = float("nan")
        ok = np.isfinite(conv) and np.isfinite(res) and res > 0
        if ok and not (res < zero_minimum and conv in (0, res)):
            est = conv / res
            lo, hi = (float(x) for x in wilson_ci(conv, res, alpha=alpha))
        rows.append({"conversion": code, "resolved": res, "converted": conv, "open": opn,
                     "estimate": est, "ci_lower": lo, "ci_upper": hi})
    return _marked(pd.DataFrame(rows), ["resolved", "converted", "open", "estimate", "ci_lower", "ci_upper"])


def _marked(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Whole numbers as integers and ``[c]`` for a value not published."""
    out = df.copy()
    for c in cols:
        out[c] = [("[c]" if not np.isfinite(v) else int(v) if float(v).is_integer() and c not in
                   ("estimate", "ci_lower", "ci_upper") else v) for v in df[c].astype(float)]
    return out


#: the conversions are computed from published numbers only (conversion_table): published as they are
CONVERSION_ROLES = [Label("conversion"), Value("resolved", "converted", "open", "estimate", "ci_lower", "ci_upper")]

# wait -> (people waiting, reached the step, left another way, still waiting)
_WAITS = {
    "referral_to_assessment": (("referred",), ("assessed",), ("declined_assessment", "exited_before_assessment"),
                               ("awaiting_assessment",)),
    "assessment_to_start": (("accepted",), ("started",), ("declined_to_start", "exited_before_start"),
                            ("awaiting_start",)),
}
WAIT_COLUMNS = ("people", "reached_step", "left_another_way", "still_waiting")


def wait_counts(pub: pd.DataFrame | None, stage: str) -> dict[str, object]:
    """A wait's people, from the published flow (``[c]`` where not published)."""
    vals = [float("nan") if pub is None else stage_value(pub, s) for s in _WAITS[stage]]
    return {c: ("[c]" if not np.isfinite(v) else int(v)) for c, v in zip(WAIT_COLUMNS, vals)}


_LISTS = {"awaiting_assessment": ("awaiting_assessment",), "awaiting_start": ("awaiting_start",),
          "any": ("awaiting_assessment", "awaiting_start")}


def waiting_counts(pub: pd.DataFrame | None, lists: Sequence[str]) -> tuple[list, object]:
    """(people waiting on each list, referrals) from the published flow; a merged list ("awaiting assessment
    or awaiting start") is the sum of the two."""
    out = []
    for code in lists:
        stages = _LISTS.get(code, tuple(s for s in ("awaiting_assessment", "awaiting_start") if s in str(code)))
        v = float("nan") if pub is None or not stages else stage_value(pub, stages)
        out.append("[c]" if not np.isfinite(v) else int(v))
    ref = float("nan") if pub is None else stage_value(pub, ("referred",))
    return out, ("[c]" if not np.isfinite(ref) else int(ref))


assert set(_PARENT) == set(STAGES) and set(STAGE_LABELS) >= set(_PARENT)


#: how a group profile's row derived from the published totals is named (the audit reads no band into it)
DERIVED_GROUP = "(the total less the other groups)"
#: a profile's count -> (stages added, stages taken away) of the published flow
_PROFILE_TOTALS = {"n_referred": (("referred",), ()),
                   "n_resolved": (("referred",), ("awaiting_assessment", "awaiting_start")),
                   "n_started": (("started",), ()), "n_left": (("started",), ("still_attending",)),
                   "n_completed": (("completed",), ())}


def profile_totals(pub: pd.DataFrame | None) -> dict[str, float]:
    """The totals a group profile's groups add up to, from the published flow (NaN where not published)."""
    out = {}
    for col, (plus, minus) in _PROFILE_TOTALS.items():
        if pub is None:
            out[col] = float("nan")
            continue
        out[col] = stage_value(pub, plus) - (stage_value(pub, minus) if minus else 0.0)
    return out


def _rate(k: float, n: float, zero_minimum: int) -> object:
    if not (np.isfinite(k) and np.isfinite(n)) or n <= 0 or (n < zero_minimum and k in (0, n)) or k > n:
        return "[c]"
    return k / n


def derive_largest_group(shown: pd.DataFrame, totals: dict[str, float], *, zero_minimum: int) -> pd.DataFrame:
    """A published group profile in which, within each characteristic, the largest group's counts are the
    published total less the other groups' published counts (labelled so), so that the groups add up to the
    published total exactly and no characteristic tells anything about the total that the flow does not.

    >>> shown = pd.DataFrame({"characteristic": "g", "group": ["a", "b"], "n_referred": ["100", "20"],
    ...                       "n_resolved": ["90", "20"], "n_started": ["50", "10"], "n_left": ["40", "10"],
    ...                       "n_completed": ["30", "<10"], "prop_started": [0.55, 0.5], "prop_completed": [0.75, "[c]"]})
    >>> t = {"n_referred": 125.0, "n_resolved": 110.0, "n_started": 60.0, "n_left": 50.0, "n_completed": 35.0}
    >>> derive_largest_group(shown, t, zero_minimum=20).iloc[0].tolist()
    ['g', 'a (the total less the other groups)', 105, 90, 50, 40, '[c]', 0.5555555555555556, '[c]']
    """
    out = shown.copy().astype(object)
    for _, idx in out.groupby("characteristic", sort=False).indices.items():
        top = _derive_block(out, list(idx), totals, label="group")
        d = {c: pd.to_numeric(out.iat[top, out.columns.get_loc(c)], errors="coerce") for c in totals}
        if "prop_started" in out:
            out.iat[top, out.columns.get_loc("prop_started")] = _rate(d["n_started"], d["n_resolved"], zero_minimum)
        if "prop_completed" in out:
            out.iat[top, out.columns.get_loc("prop_completed")] = _rate(d["n_completed"], d["n_left"], zero_minimum)
    return out


def _derive_block(out: pd.DataFrame, idx: list, totals: dict[str, float], *, label: str) -> int:
    """In the rows ``idx`` of ``out``, the row largest in the first of ``totals``'s columns becomes the total
    less the other rows (``[c]`` where one of them or the total is not published), labelled so; its position."""
    cols = list(totals)
    nums = out[cols].apply(_numbers)
    first = nums[cols[0]].to_numpy()[idx]
    top = idx[int(np.nanargmax(first))] if np.isfinite(first).any() else idx[0]
    rest = [i for i in idx if i != top]
    for c in cols:
        v = totals[c] - nums[c].iloc[rest].sum(min_count=0)
        ok = np.isfinite(v) and nums[c].iloc[rest].notna().all() and v >= 0
        out.iat[top, out.columns.get_loc(c)] = int(v) if ok else "[c]"
    out.iat[top, out.columns.get_loc(label)] = f"{out.iat[top, out.columns.get_loc(label)]} {DERIVED_GROUP}"
    return top


#: Table 1's groups (baseline_table by completion status) and the flow's terminal stages they are
TABLE1_GROUPS = {"completed": ("completed",), "not_completed": ("dropped_out", "excluded", "other_exit"),
                 "started and left": ("completed", "dropped_out", "excluded", "other_exit")}


def derive_table1(shown: pd.DataFrame, pub: pd.DataFrame | None, *, threshold: int, zero_minimum: int) -> pd.DataFrame:
    """Table 1 with each group's size the participant flow's published count of its people, and in each
    characteristic of levels that exclude each other one level (the largest over the groups, the same in every
    group) that size less the other levels (labelled so): the levels add up to a published total exactly.
    Rounded on their own, levels and group sizes narrowed 9 group sizes to 2 values each (outside attack a23
    G2). Shares are then recomputed from the counts shown; a derived level below ``threshold`` is shown as
    ``[c]``, and with it the characteristic's shares in that group.

    >>> shown = pd.DataFrame({"variable": "v", "kind": "binary", "level": ["yes", "no"], "group": "completed",
    ...                       "n": ["35", "40"], "n_group": ["70", "70"], "pct": [50.0, 57.1]})
    >>> flow = pd.DataFrame({"stage": ["completed"], "level": "terminal", "parent": ["started"], "n": ["70"]})
    >>> t = derive_table1(shown, flow, threshold=10, zero_minimum=20)
    >>> t[["level", "n", "n_group"]].values.tolist(), t["pct"].astype(float).tolist()
    ([['yes', '35', 70], ['no (the total less the other groups)', 35, 70]], [50.0, 50.0])
    """
    out = shown.copy().astype(object)
    if pub is None or not len(out):
        return out
    for g, stages in TABLE1_GROUPS.items():
        size = stage_value(pub, stages)
        rows = (out["group"] == g).to_numpy()
        if rows.any() and np.isfinite(size):
            out.loc[rows, "n_group"] = int(size)
    exclusive = out["kind"].isin(["categorical", "binary"]).to_numpy()
    n = _numbers(out["n"])
    for _, idx in out[exclusive].groupby("variable", sort=False).indices.items():
        rows = np.flatnonzero(exclusive)[idx]
        levels = out["level"].iloc[rows]
        if levels.nunique() < 2:
            continue
        # the same level in every group (the shares of a level are compared between groups): the largest overall
        sums = n.iloc[rows].groupby(levels.to_numpy(), sort=False).sum(min_count=1)
        if sums.isna().all():
            continue
        top = sums.idxmax()
        for _, grp in out.iloc[rows].groupby("group", sort=False).indices.items():
            _derive_level(out, list(rows[grp]), top, threshold)
        out.loc[out.index[rows][levels.to_numpy() == top], "level"] = f"{top} {DERIVED_GROUP}"
    _table1_shares(out, exclusive, zero_minimum)
    return out


def _derive_level(out: pd.DataFrame, block: list, top, threshold: int) -> None:
    """In the rows ``block`` (one characteristic, one group), the level ``top`` becomes the group's size less
    the other levels (``[c]`` where one of them or the size is not published, or it is below the threshold)."""
    size = _numbers(out["n_group"].iloc[block[:1]]).iloc[0]
    n = _numbers(out["n"].iloc[block])
    at = [i for i, lev in zip(block, out["level"].iloc[block]) if lev == top]
    if not at:
        return
    rest = n[(out["level"].iloc[block] != top).to_numpy()]
    v = size - rest.sum(min_count=0)
    ok = np.isfinite(v) and rest.notna().all() and v >= threshold
    out.iat[at[0], out.columns.get_loc("n")] = int(v) if ok else "[c]"


def _table1_shares(out: pd.DataFrame, exclusive: np.ndarray, zero_minimum: int) -> None:
    """Table 1's shares (%) of the counts shown, in place: withheld for a whole characteristic and group where
    a level is not shown (with the others it gives the hidden one back), and for none or all of a small group."""
    n, size = _numbers(out["n"]), _numbers(out["n_group"])
    key = out["variable"].astype(str) + "\x00" + out["group"].astype(str)
    gap = key.isin(set(key[exclusive & n.isna().to_numpy()]))
    for i in np.flatnonzero(exclusive):
        k, m = n.iloc[i], size.iloc[i]
        bad = gap.iloc[i] or not (np.isfinite(k) and np.isfinite(m)) or m <= 0 or k > m or (
            m < zero_minimum and k in (0, m))
        out.iat[i, out.columns.get_loc("pct")] = "[c]" if bad else round(100.0 * k / m, 1)


def derive_completion_rows(shown: pd.DataFrame, pub: pd.DataFrame | None) -> pd.DataFrame:
    """The completion-rate table (rows by planned length, or one pooled row) with the largest row's people
    started, completed and still attending the flow's published numbers less the other rows: the rows add up
    to the flow exactly (an independent rounding of the same people would narrow the flow's counts)."""
    out = shown.copy().astype(object)
    totals = {c: float("nan") if pub is None else stage_value(pub, (s,))
              for c, s in (("n", "started"), ("n_completed", "completed"), ("n_open", "still_attending"))}
    if len(out):
        _derive_block(out, list(range(len(out))), totals, label="basis")
    return out


def derive_largest_band(shown: pd.DataFrame, pub: pd.DataFrame | None) -> pd.DataFrame:
    """The waiting list by risk band with the largest band's people the flow's published people waiting (for
    an assessment or a place) less the other bands: the bands add up to the flow exactly.

    >>> shown = pd.DataFrame({"risk_band": ["High", "Medium"], "n_waiting": ["20", "35"]})
    >>> flow = pd.DataFrame({"stage": ["awaiting_assessment", "awaiting_start"], "level": "terminal",
    ...                      "parent": ["referred", "accepted"], "n": ["40", "15"]})
    >>> derive_largest_band(shown, flow)["n_waiting"].tolist()
    ['20', 35]
    """
    out = shown.copy().astype(object)
    total = float("nan") if pub is None else stage_value(pub, ("awaiting_assessment", "awaiting_start"))
    if len(out):
        _derive_block(out, list(range(len(out))), {"n_waiting": total}, label="risk_band")
    return out


#: how a throughput quarter's count derived from the flow's published totals is marked (in the column
#: ``from_totals``, naming the counts derived: the audit reads no band into them)
DERIVED_QUARTER = "the total less the other quarters"
#: a throughput count -> the stage of the published flow its quarters add up to
_QUARTER_TOTALS = {"n_referrals": "referred", "n_starts": "started", "n_completions": "completed"}


def derive_largest_quarter(shown: pd.DataFrame, pub: pd.DataFrame | None) -> pd.DataFrame:
    """The published throughput (one group's quarters, handfuls already merged with a neighbour) in which,
    for each count, the quarter largest in it is the flow's published total less the other quarters'
    published counts (``[c]`` where one of them or the total is not published, or the difference is
    negative). The column ``from_totals`` names, in that quarter's row, the counts derived. The quarters then
    add up to the flow's published referrals, starts and completions exactly, and no quarter's rounding
    narrows the flow's counts (each count rounded on its own gave "the quarters add up to the total" a band
    of its own, and an integer program pinned counts: issue 26).

    >>> shown = pd.DataFrame({"quarter": ["Q1", "Q2", "Q3"], "n_referrals": ["40", "55", "30"],
    ...                       "n_starts": ["10", "20", "25"], "n_completions": ["0", "10", "15"]})
    >>> flow = pd.DataFrame({"stage": list(STAGES), "level": "terminal", "parent": [_PARENT[s] for s in STAGES],
    ...                      "n": ["10", "0", "0", "10", "0", "30", "0", "0", "25", "15", "0", "0"]})
    >>> out = derive_largest_quarter(shown, flow)
    >>> out[["n_referrals", "n_starts", "n_completions"]].values.tolist()
    [['40', '10', '0'], [20, '20', '10'], ['30', 10, 15]]
    >>> out["from_totals"].tolist()
    ['', 'referrals: the total less the other quarters', 'starts, completions: the total less the other quarters']
    """
    out = shown.copy().astype(object)
    out["from_totals"] = ""
    if not len(out):
        return out
    nums = out[list(_QUARTER_TOTALS)].apply(_numbers)
    derived: dict[int, list[str]] = {}
    for col, stage in _QUARTER_TOTALS.items():
        total = float("nan") if pub is None else stage_value(pub, (stage,))
        vals = nums[col].to_numpy(dtype=float)
        top = int(np.nanargmax(vals)) if np.isfinite(vals).any() else 0
        rest = np.delete(vals, top)
        v = total - rest.sum()
        ok = np.isfinite(v) and np.isfinite(rest).all() and v >= 0
        out.iat[top, out.columns.get_loc(col)] = int(v) if ok else "[c]"
        derived.setdefault(top, []).append(col.removeprefix("n_"))
    for top, words in derived.items():
        out.iat[top, out.columns.get_loc("from_totals")] = f"{', '.join(words)}: {DERIVED_QUARTER}"
    return out


def derived_cell(label: str, column: str) -> bool:
    """Whether the published cell of row ``label`` (the audit's row label: the row's text cells joined by
    " / ") and ``column`` is an identity of other published numbers (no rounding band of its own): a
    group profile's largest group (:data:`DERIVED_GROUP`), or a throughput quarter's count that its
    ``from_totals`` cell names (:func:`derive_largest_quarter`).

    >>> derived_cell("2024/25 Q2 / False / referrals, completions: " + DERIVED_QUARTER, "n_completions")
    True
    >>> derived_cell("2024/25 Q2 / False / referrals, completions: " + DERIVED_QUARTER, "n_starts")
    False
    """
    if DERIVED_GROUP in label:
        return True
    part = next((p for p in label.split(" / ") if DERIVED_QUARTER in p), None)
    if part is None or not column.startswith("n_"):
        return False
    return column.removeprefix("n_") in re.findall(r"[a-z]+", part.split(":")[0])

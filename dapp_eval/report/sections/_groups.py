"""Referrals, starts and completions by group, published and compared (equality, strands, districts).

One helper for every section that shows :func:`dapp_eval.analyses.equality.profile`:
small groups are merged under the disclosure rules (never dropped), the table
goes through the release's publication step, and the groups that start or
complete less than everyone else are named from the *published* counts, so
the sentences tell no more than the table.
"""

from __future__ import annotations

import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._counts import publish_block


def _num(v) -> float:
    return pd.to_numeric(str(v).replace(",", ""), errors="coerce")


def published_flow(page) -> pd.DataFrame | None:
    """The participant flow as the page publishes it (published again, deterministically, on a copy of the
    release's log: it is logged once, by the engagement section); None if there is none."""
    import copy

    from dapp_eval.disclosure.roles import publish

    res = R.funnel_cascade(page)
    if isinstance(res, Exception):
        return None
    flow, roles = page.declared(res, "flow")
    return page.keep("published_flow", lambda: publish(flow, roles, copy.deepcopy(page.dc), name="participant flow"))


#: the throughput table's caption and CSV name (engagement section): the trends section reads its published
#: quarters, and draws nothing from them when the release withholds it
THROUGHPUT_CAPTION = ("Referrals, starts and completions by financial quarter (partial = quarter not fully covered by "
                      "the data; quarters of a handful of people merged; in each count the largest quarter is the "
                      "total less the other quarters)")
THROUGHPUT_NAME = "throughput"


def published_throughput(page) -> pd.DataFrame | None:
    """The throughput by quarter as the page publishes it (all groups' row only; handfuls merged, the largest
    quarter of each count the participant flow's total less the others:
    :func:`dapp_eval.analyses.flow_published.derive_largest_quarter`), published again deterministically on
    a copy of the release's log; None if there is none or the release withholds it."""
    import copy

    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.disclosure.roles import publish

    res = R.throughput(page)
    if isinstance(res, Exception) or page.is_withheld(THROUGHPUT_CAPTION, page.csv_name(THROUGHPUT_NAME)):
        return None
    df, roles = page.declared(res)
    df = df[(df["group"] == "all").to_numpy()]
    return page.keep("published_throughput", lambda: fp.derive_largest_quarter(
        publish(df, roles, copy.deepcopy(page.dc), name=THROUGHPUT_CAPTION), published_flow(page)))


def flow_totals(page) -> dict[str, float]:
    """The totals every group profile adds up to, from the participant flow as the page publishes it."""
    from dapp_eval.analyses import flow_published as fp

    return fp.profile_totals(published_flow(page))


def publish(page, res, *, caption: str, name: str) -> tuple[list, pd.DataFrame]:
    """(blocks, published table) of a profile result: merged, protected, with start and completion rates
    (its analysis declares the roles: :func:`dapp_eval.analyses.equality.profile_roles`). Within each
    characteristic the largest group is the published total less the other groups
    (:func:`dapp_eval.analyses.flow_published.derive_largest_group`): the groups add up to the flow's published
    totals exactly, and no characteristic tells anything of the totals (issue 26). A count whose total the flow
    does not publish (its people still waiting or attending merged with an exit) cannot add up to a published
    total: that column, and the rate it is the denominator of, are left out with a sentence."""
    from dapp_eval.analyses import flow_published as fp

    totals = flow_totals(page)
    gone = [c for c in ("n_resolved", "n_left") if not pd.notna(totals[c])]
    rates = {"n_resolved": "prop_started", "n_left": "prop_completed"}
    block, shown = publish_block(page, res, caption=f"{caption} (in each characteristic, the largest group is the "
                                 "total less the other groups)", name=name, rename={"label": "variable"},
                                 then=lambda t: fp.derive_largest_group(t, totals, zero_minimum=page.dc.zero_rule_minimum),
                                 drop=("characteristic", *gone, *(rates[c] for c in gone)))
    if shown is None:
        return [block], res.summary.iloc[:0]
    if not gone:
        return [block], shown
    what = {"n_resolved": "the people no longer waiting (and the start rate)",
            "n_left": "the people who have left (and the share of them who completed)"}
    note = page.p("Not shown here: " + " and ".join(what[c] for c in gone) + ", because the participant flow "
                  "merges a handful of people still waiting or attending with those who left, so these counts could "
                  "not add up to a published total." + (" The all-sites report shows them." if page.site else ""),
                  "note")
    return [block, note], shown


def named(page, shown: pd.DataFrame, *, what: str) -> list:
    """Sentences naming the groups that start or complete less than everyone else (published counts only)."""
    from dapp_eval.analyses.equality import NOT_DISCLOSED, compare_groups

    if shown.empty:  # the table is withheld: nothing to compare
        return []
    nums = shown[["characteristic", "label", "group"]].copy()
    for c in ("n_resolved", "n_started", "n_left", "n_completed"):
        nums[c] = shown[c].map(_num)
    cmp = compare_groups(nums, alpha=page.alpha)
    label = dict(zip(shown["characteristic"], shown["label"]))
    # a comparison is named only when both sides' published counts and complements are large enough to publish
    # their rates (so a sentence never shows a rate the table withholds, nor one worked out from a hidden part)
    big = cmp[["k", "n", "k_rest", "n_rest"]].assign(c=cmp["n"] - cmp["k"], c_rest=cmp["n_rest"] - cmp["k_rest"])
    enough = (big >= page.dc.threshold).all(axis=1)
    low = cmp[cmp["lower"] & enough & ~cmp["group"].isin(NOT_DISCLOSED)]
    level = page.level
    if low.empty:
        return [page.p(f"No {what} starts or completes less than everyone else by more than chance would explain "
                       f"(each group against all others, {level} intervals made simultaneous over the groups of "
                       "each characteristic, from the published counts).")]
    out = [page.p(f"These {what}s start or complete less than everyone else, by more than chance would explain "
                  f"(difference with a {level} interval made simultaneous over the groups of the characteristic, "
                  "from the published counts). 'Completed, of those who left' is a plain share of the people who "
                  "have left; unlike the completion rate, it leaves out people still attending:")]
    for r in low.itertuples(index=False):
        rate = "started, of those no longer waiting" if r.measure == "start" else "completed, of those who left"
        out.append(page.p(
            f"{label.get(r.characteristic, '')}: {r.group}. {fmt.percent(r.estimate)} {rate} "
            f"({level} CI {fmt.percent(r.ci_lower)} to {fmt.percent(r.ci_upper)}) against {fmt.percent(r.rest)} "
            f"of everyone else; difference {fmt.percentage_points(100 * r.difference)} "
            f"({100 * r.difference_ci_lower:+.0f} to {100 * r.difference_ci_upper:+.0f})."))
    return out

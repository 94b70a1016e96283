"""A table published through :func:`dapp_eval.disclosure.roles.publish` (declared column roles) as a page block."""

from __future__ import annotations


def role_table(page, df, roles, *, caption: str, name: str, drop: tuple = ()) -> dict:
    """The table block of ``df`` published with ``roles`` under the page's policy (or the withheld sentence)."""
    return page.publish(df, roles=roles, caption=caption, name=name, drop=drop)


def published_paired_change(dc, n, yes_before, stopped, started, alpha: float) -> dict | None:
    """Change in percentage points, Newcombe's paired interval and the exact McNemar p from the *published*
    2x2 table of a before/after (or T1/T4) comparison, or None where the table may not be shown.

    ``n`` and ``yes_before`` are true counts; every cell is taken as published (rounded): the pairs, those
    with the event before, the discordant pairs (issue 26: the change x N and its interval gave the true
    discordant pairs back). Withheld when a discordant pair count is from 1 to threshold - 1, when a
    published cell is negative (the rounded cells do not add up), or under the zero rule (a 0 or a
    complement of 0 among fewer than twice the threshold).
    """
    import numpy as np

    from dapp_eval.estimators.proportions import mcnemar_exact, newcombe_paired_ci

    true = [n, yes_before, stopped, started]
    if any(v is None or v != v for v in true) or n <= 0:
        return None
    if any(dc.is_small(v) for v in true) or n < dc.zero_minimum:
        return None  # a small cell, or a group so small that a 0 or all in it says something of everyone
    pub = [dc.rounded(v) for v in true]
    if any(v is None for v in pub):
        return None
    pn, pb, ps, pst = pub
    cells = (pb - ps, pst, ps, pn - pb - pst)  # both, started, stopped, neither
    if min(cells) < 0 or pn <= 0:
        return None
    d, lo, hi = newcombe_paired_ci(*cells, alpha=alpha)
    return {"n": pn, "estimate": 100 * float(d), "ci_lower": 100 * float(lo), "ci_upper": 100 * float(hi),
            "p_value": float(mcnemar_exact(int(ps), int(pst))) if ps + pst > 0 else float(np.nan)}


def change_cells(summary, label) -> tuple:
    """The true pairs, 'yes before' and discordant pairs of one outcome's 'any incident' comparison."""
    rows = summary[(summary["label"] == label) & (summary["measure"] == "any incident")].set_index("period")
    if not {"before", "change"} <= set(rows.index) or "n_stopped" not in rows:
        return (None,) * 4
    ch = rows.loc["change"]
    return (float(ch["n"]), float(rows.loc["before", "n_with_incident"]), float(ch["n_stopped"]),
            float(ch["n_started"]))

"""Counts for a sentence, a caption or alt text, read from a one-row table published like every other.

A number in text is a published number: :func:`published_counts` puts the counts through the release's
publication step (:func:`dapp_eval.disclosure.roles.publish`) as a one-row table and returns them as the
page prints them (``'55'``, ``'<10'``), so a sentence never says more than a table would.
"""

from __future__ import annotations

import pandas as pd

from dapp_eval.columns import Count


def published_counts(page, counts: dict, *, name: str, roles: list | None = None) -> dict[str, str]:
    """``{column: published text}`` of ``counts`` (a dict of counts of people), published as one row."""
    from dapp_eval.disclosure.roles import publish

    if not counts:
        return {}
    row = pd.DataFrame([{k: (pd.NA if v is None else v) for k, v in counts.items()}])
    shown = publish(row, roles or [Count(*counts)], page.dc, name=name).iloc[0]
    return {k: ("n/a" if pd.isna(counts[k]) else str(shown[k])) for k in counts}


def publish_block(page, result, *, caption: str, name: str, table: str = "summary", roles: list | None = None,
                  rows=None, drop: tuple = (), rename: dict | None = None, then=None,
                  pairs: dict | None = None, margins: list | None = None) -> tuple[dict, pd.DataFrame | None]:
    """``(block, published table)``: :meth:`Page.publish` that also hands back the published frame, for a
    chart or a sentence drawn from it (published once). The frame is None when the table is withheld.
    ``rename`` renames columns on the page (after publishing; the roles name the analysis's columns).
    ``then`` (published frame -> frame) derives columns from published numbers only (e.g. the participant
    flow's sums) before the page shows the table; the frame handed back is the one shown. ``pairs`` and
    ``margins`` go to :func:`dapp_eval.disclosure.roles.publish` (the zero rule's extra pairs, secondary
    suppression's margins)."""
    from dapp_eval.disclosure.roles import publish

    df, roles = page.declared(result, table, roles)
    if rows is not None:
        df = df[rows(df) if callable(rows) else rows]
    csv = page.csv_name(name)
    if page.is_withheld(caption, csv):
        return page.withheld_block(caption), None
    shown = publish(df, roles, page.dc, name=caption, pairs=pairs, margins=margins)
    if then is not None:
        shown = then(shown)
    page_table = shown.drop(columns=list(drop)).rename(columns=rename or {})
    return page.shown_table(page_table, caption=caption, csv_name=csv), shown


def numbers(shown: pd.DataFrame, cols) -> dict[str, pd.Series]:
    """Published counts as numbers for a chart (NaN where shown as '<T' or '[c]': not drawn)."""
    return {c: pd.to_numeric(shown[c].astype(str).str.replace(",", ""), errors="coerce") for c in cols}


def number(v) -> float:
    """A published cell as a number ('1,234' -> 1234.0); NaN for '<10', '[c]' and other text."""
    x = pd.to_numeric(str(v).replace(",", ""), errors="coerce")
    return float(x) if pd.notna(x) else float("nan")

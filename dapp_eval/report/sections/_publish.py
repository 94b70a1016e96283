"""A table published through :func:`dapp_eval.disclosure.roles.publish` (declared column roles) as a page block."""

from __future__ import annotations

from ...disclosure.roles import publish


def role_table(page, df, roles, *, caption: str, name: str, drop: tuple = ()) -> dict:
    """The table block of ``df`` published with ``roles`` under the page's policy (or the withheld sentence)."""
    csv = page.csv_name(name)
    if page.is_withheld(caption, csv):
        return page.withheld_block(caption)
    shown = publish(df, roles, page.dc, name=caption)
    return page.shown_table(shown.drop(columns=list(drop)), caption=caption, csv_name=csv)

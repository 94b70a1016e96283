"""Appendix: what disclosure control hid on this page, where and why."""

from __future__ import annotations

TITLE = 'Appendix: disclosure control log'
PLACEMENT = 'annex'


def build(page) -> dict:
    log = page.dc.log
    if log.empty:
        return {"blocks": [page.p(f"No cell needed suppression at threshold {page.dc.threshold}.")]}
    agg = log.groupby(["table", "reason"], sort=False).size().rename("cells").reset_index()
    return {"blocks": [
        page.p(f"{len(log)} cells or curve segments were hidden (threshold {page.dc.threshold}). "
               "The hidden values are not recorded anywhere in this report."),
        page.shown_table(agg, caption="What was suppressed, where and why", csv_name="disclosure_log")]}

"""Appendix: what disclosure control hid on this page, where and why."""

from __future__ import annotations

TITLE = 'Appendix: disclosure control log'
PLACEMENT = 'annex'
#: reads what every other section withheld: rendered after every section before it
AFTER_OTHERS = True


def build(page) -> dict:
    log, summ = page.dc.log, page.dc.summary
    if summ.empty:
        return {"blocks": [page.p(f"No count needed protection at threshold {page.dc.threshold}.")]}
    summ = summ.rename(columns={"cells_published": "published", "cells_rounded": "rounded",
                                "cells_withheld": "withheld", "values_hidden": "computed values hidden",
                                "why": "why withheld"})
    return {"blocks": [
        page.p(f"{int(summ['withheld'].sum())} of {int(summ['published'].sum() + summ['withheld'].sum())} "
               f"counts were withheld (below {page.dc.threshold}) and {int(summ['rounded'].sum())} rounded to the "
               f"nearest {page.dc.base}; {len(log)} cells, curve segments or models were withheld in all. "
               "The hidden values are not recorded anywhere in this report."),
        page.shown_table(summ, caption="What was published, rounded and withheld, per table",
                         csv_name="disclosure_log")]}

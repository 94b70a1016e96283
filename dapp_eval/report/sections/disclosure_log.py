"""Appendix: what disclosure control hid on this page, where and why."""

from __future__ import annotations

TITLE = 'Appendix: disclosure control log'
PLACEMENT = 'annex'
#: reads what every other section withheld: rendered after every section before it
AFTER_OTHERS = True


def build(page) -> dict:
    page.settle_once()  # what tables published once per release logged, once each
    log, summ = page.dc.log, page.dc.summary
    if summ.empty:
        return {"blocks": [page.p(f"No count needed protection at threshold {page.dc.threshold}.")]}
    # how many counts rounding changed is not given: "published - changed" said how many published counts were
    # exact (a table with none changed gave every count exactly; attack a16 F1, 18 of 18 right)
    summ = summ.drop(columns=["cells_rounded"]).rename(columns={
        "cells_published": "published", "cells_withheld": "withheld", "values_hidden": "computed values hidden",
        "why": "why withheld"})
    return {"blocks": [
        page.p(f"{int(summ['withheld'].sum())} of {int(summ['published'].sum() + summ['withheld'].sum())} "
               f"counts were withheld (below {page.dc.threshold}); every count published is rounded to the nearest "
               f"{page.dc.base}; {len(log)} cells, curve segments or models were withheld in all. "
               "The hidden values are not recorded anywhere in this report."),
        page.shown_table(summ, caption="What was published and withheld, per table", csv_name="disclosure_log")]}

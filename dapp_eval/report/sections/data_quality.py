"""Appendix: rows read from each file and rows used by each analysis."""

from __future__ import annotations

import pandas as pd

TITLE = 'Appendix: data quality'
PLACEMENT = 'annex'


def build(page) -> dict:
    from ...quality import data_quality

    dq = data_quality(page.data)
    out = [None,
           page.p("Rows read from each file. The data passed every rule of the data contract; nothing was dropped "
              "on loading. Rows left out of an analysis are counted below with the reason.")]
    out.append(page.shown_table(dq.summary, caption="Rows in each input table", csv_name="data_quality_sizes"))
    if len(dq.tables["load_log"]):
        out.append(page.shown_table(dq.tables["load_log"], caption="Irregularities tolerated on loading",
                              csv_name="data_quality_load_log"))
    rows = []
    for res in page.used.values():
        if isinstance(res, Exception) or not hasattr(res, "meta"):
            continue
        m = res.meta
        items = [("used", m.get("n_used"))] + list(m.get("excluded", {}).items())
        for item, n in items:
            rows.append({"analysis": res.title, "unit": m.get("unit", "rows"), "n_in": m.get("n_in"),
                         "rows": item, "n": n})
    if rows:
        # per analysis, used + every exclusion adds up to n_in: one margin
        out.append(page.table(pd.DataFrame(rows), caption="Rows used by each analysis and why others were not",
                               name="data_quality_exclusions", margins=["analysis"],
                               label_cols=["analysis", "unit", "rows"]))
    return {"blocks": out[1:]}

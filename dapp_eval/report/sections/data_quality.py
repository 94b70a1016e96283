"""Appendix: rows read from each file and rows used by each analysis."""

from __future__ import annotations

import pandas as pd

TITLE = 'Appendix: data quality'
PLACEMENT = 'annex'
#: reads the results every other section used: rendered after every section before it
AFTER_OTHERS = True


def _published_log(log: pd.DataFrame) -> pd.DataFrame:
    """The load log as a report may show it (issue 27): an input file is named by its contract table when its
    name is the table's, else not at all (a provider's file name can hold a client's name), and the headers
    of extra columns are counted, not listed."""
    from pathlib import PurePath

    from ...schema import TABLES

    def file(f):
        stem = PurePath(str(f)).stem
        return f"{stem}.csv" if stem in TABLES and PurePath(str(f)).suffix.lower() == ".csv" else (
            f"{stem} table" if stem in TABLES else "an input file (name not published)")

    note = log["note"].astype(str).str.replace(r"^extra columns kept: .*$", "extra columns kept (names not published)",
                                               regex=True)
    return log.assign(file=log["file"].map(file), note=note)


def build(page) -> dict:
    from ...quality import data_quality

    dq = data_quality(page.data)
    out = [None,
           page.p("Rows read from each file. The data passed every rule of the data contract; nothing was dropped "
              "on loading. Rows left out of an analysis are counted below with the reason.")]
    # disclosure (issue 15): rows of a file are people or their records: rounded like every other count
    # (not suppressed: the programme's throughput); the number of columns is not a count
    out.append(page.table(dq.summary.rename(columns={"n_columns": "columns"}), caption="Rows in each input table",
                          name="data_quality_sizes", kind="throughput"))
    if len(dq.tables["load_log"]):
        out.append(page.shown_table(_published_log(dq.tables["load_log"]), caption="Irregularities tolerated on "
                                    "loading", csv_name="data_quality_load_log"))
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
        # disclosure (issue 15): rare exit reasons are merged rather than withheld; the Mirabal measures are
        # a list of measures, not people (their 'n' is how many measures, which no rule needs to hide)
        ex = pd.DataFrame(rows)
        ex = ex[ex["unit"] != "Mirabal measures"]
        ex = page.dc.merge_small(ex.assign(_reason=ex["analysis"] + ex["rows"].astype(str).str.replace(
                                     r"left: .*$", "left", regex=True)),
                                 by=["_reason"], level="rows", across=["analysis"],
                                 where=ex["rows"].astype(str).str.contains("left: "),
                                 name="data_quality_exclusions").drop(columns="_reason")
        # per analysis, used + every exclusion adds up to n_in: one margin
        out.append(page.table(ex, caption="Rows used by each analysis and why others were not",
                               name="data_quality_exclusions", margins=["analysis"],
                               label_cols=["analysis", "unit", "rows"]))
    return {"blocks": out[1:]}

"""Appendix: rows read from each file and rows used by each analysis."""

from __future__ import annotations

import re

import pandas as pd

TITLE = 'Appendix: data quality'
PLACEMENT = 'annex'
#: reads the results every other section used: rendered after every section before it
AFTER_OTHERS = True


def _plain_note(note: str) -> str:
    """A load-log note without names or values read from the input (extra column headers, yes/no words)."""
    note = str(note)
    if note.startswith("extra columns kept"):
        return "extra columns kept (not used)"
    if note.startswith("columns not read"):  # the provider's headers of the columns the map drops
        return "columns not read (drop: in the column map)"
    derived = re.match(r"^(\w+): (derived as|copied from) ", note)
    if derived:  # a derivation names the provider's columns it reads
        return f"{derived.group(1)}: derived by the column map"
    return re.sub(r"\s*\([^()]*\)\s*$", "", note) if "yes/no values read" in note else note


def _published_log(log: pd.DataFrame) -> pd.DataFrame:
    """The load log with file names a report may show (issue 27): an input file is named by its contract table
    when its name is the table's, else not at all (a provider's file name can hold a client's name), and the
    headers of extra columns are counted, not listed. The page itself (:func:`build`) names tables by their
    contract name and publishes the counts through disclosure control (issue 26)."""
    from pathlib import PurePath

    from dapp_eval.data.schema import TABLES

    def file(f):
        stem = PurePath(str(f)).stem
        return f"{stem}.csv" if stem in TABLES and PurePath(str(f)).suffix.lower() == ".csv" else (
            f"{stem} table" if stem in TABLES else "an input file (name not published)")

    note = log["note"].astype(str).str.replace(r"^extra columns kept: .*$", "extra columns kept (names not published)",
                                               regex=True)
    return log.assign(file=log["file"].map(file), note=note)


def build(page) -> dict:
    from dapp_eval.data.quality import (
        EXCLUSION_ROLES,
        LOAD_LOG_ROLES,
        SIZE_ROLES,
        data_quality,
        exclusions,
        published_sizes,
    )

    dq = data_quality(page.data)
    out = [None,
           page.p("Rows read from each file. The data passed every rule of the data contract; nothing was dropped "
              "on loading. Rows left out of an analysis are counted below with the reason.")]
    # disclosure (issue 26): tables are named by their contract name, never the input's file names (a file
    # named after a person reached every page); rows of a file of people or their records are rounded like
    # every other count (the programme's throughput: not suppressed); the sites table lists sites, not people,
    # so its rows are published as they are (rounded, 7 sites of 1 row each were pinned by the all-sites sum)
    out.append(page.publish(published_sizes(dq), roles=SIZE_ROLES, caption="Rows in each input table",
                            name="data_quality_sizes"))
    n_sites = dq.summary.loc[dq.summary["table"] == "sites", "n_rows"]
    if len(n_sites):
        out.append(page.p(f"The sites table lists {int(n_sites.iloc[0])} site(s) (sites, not people).", "note"))
    log = dq.tables["load_log"]
    if len(log):
        # what was cleaned or recoded on loading, per contract table and column, as protected counts; the
        # names of extra columns and of input files are not published
        names = dict(zip(dq.summary["file"], dq.summary["table"]))
        ll = pd.DataFrame({"table": [names.get(f, "other input file") for f in log["file"]],
                           "note": [_plain_note(x) for x in log["note"]], "n": log["n"].astype(int)})
        ll = ll.groupby(["table", "note"], sort=False, as_index=False)["n"].sum()
        out.append(page.publish(ll, roles=LOAD_LOG_ROLES, caption="Irregularities tolerated on loading (cells or rows)",
                                name="data_quality_load_log"))
    ex = exclusions(page.used.values())
    if len(ex):
        # per analysis, used + every exclusion adds up to n_in; rare reasons are merged, not withheld
        out.append(page.publish(ex, roles=EXCLUSION_ROLES, caption="Rows used by each analysis and why others "
                                "were not", name="data_quality_exclusions"))
    return {"blocks": out[1:]}

"""Compare two rendered releases of the same data: cells withheld, headline changes, counts recovered.

Usage::

    python scripts/compare_disclosure.py OLD_RELEASE NEW_RELEASE

Prints the markdown table used in docs/disclosure.md: per release, count
cells and how many are withheld (``<10`` or ``[c]``) in the all-sites report
and in every site report, the largest absolute change of a headline figure
(page-1 summary numbers) from OLD to NEW, and the counts from 1 to 9 that
``dapp-eval audit`` works back, by attack.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

from dapp_eval.disclosure.audit import audit_release
from dapp_eval.formatting import read_published_csv

_CSV = re.compile(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"')
_KPI = re.compile(r'<div class="kpi">\s*(?:<div>|<h3 class="m">)([^<]+)</(?:div|h3)>\s*(?:<div|<p) class="v">([^<]+)<')


def withheld(html: str) -> tuple[int, int]:
    """(count cells, withheld count cells) over every CSV download of a page, the disclosure log excluded."""
    cells = hidden = 0
    for name, data in _CSV.findall(html):
        if name.startswith("disclosure_log"):
            continue
        df = read_published_csv(base64.b64decode(data).decode("utf-8"))
        for c in [c for c in df.columns if c == "n" or str(c).startswith("n_")]:
            v = df[c].astype(str)
            cells += int((v != "").sum())
            hidden += int((v.str.fullmatch(r"<\d+") | (v == "[c]")).sum())
    return cells, hidden


def headline(html: str) -> dict[str, list[tuple[str, float]]]:
    """Numbers of each page-1 figure, by label: (kind, value) with kind '%', '£' or 'count'."""
    out = {}
    for label, value in _KPI.findall(html):
        nums = re.findall(r"(£?)(-?\d[\d,]*(?:\.\d+)?)(%?)", value)
        out[label] = [("%" if pc else "£" if gbp else "count", float(x.replace(",", ""))) for gbp, x, pc in nums]
    return out


def main(old: str, new: str) -> None:
    old, new = Path(old), Path(new)
    rows = []
    for path in sorted(new.glob("report_*.html")):
        o, n = (old / path.name).read_text(encoding="utf-8"), path.read_text(encoding="utf-8")
        (co, ho), (cn, hn) = withheld(o), withheld(n)
        ko, kn = headline(o), headline(n)
        row = {"report": path.stem.replace("report_", ""), "count cells": cn,
               "withheld old": f"{ho} ({100 * ho / max(co, 1):.1f}%)",
               "withheld new": f"{hn} ({100 * hn / max(cn, 1):.1f}%)"}
        for kind, name in (("count", "largest change: count"), ("%", "percentage points"), ("£", "GBP")):
            diffs = [(abs(a - b), a, b) for label in ko.keys() & kn.keys() if len(ko[label]) == len(kn[label])
                     for (ka, a), (kb, b) in zip(ko[label], kn[label]) if ka == kb == kind]
            big = max(diffs) if diffs else None
            row[name] = f"{big[1]:g} -> {big[2]:g}" if big else "none"
        rows.append(row)
    cols = list(rows[0]) if rows else []
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    for label, path in (("old", old), ("new", new)):
        res = audit_release(path)
        print(f"\n{label}: {len(res.leaks)} leaks (hidden counts from 1 to 9 worked back, or counts published "
              "unrounded) "
              f"({', '.join(f'{k} {v}' for k, v in res.recovered_by_attack.items()) or 'none'}); "
              f"{len(res.narrowed)} narrowed to 2-3 values; relations tried: "
              + ", ".join(f"{k} {v}" for k, v in res.relations.items()))


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Definitions and glossary (the end of the report): each headline figure defined once, then the terms.

Each definition gives the figure's numerator, denominator and period (the
period with this report's dates, from the published headline figures) and
how to quote it; page 1's cards link here (``#def-<figure>``).
"""

from __future__ import annotations

from dapp_eval.commissioner.glossary import glossary
from dapp_eval.commissioner.headlines import REGISTRY, definitions
from dapp_eval.report.sections import _headlines as H

TITLE = "Definitions and glossary"
PLACEMENT = "annex"


def build(page) -> dict:
    pub = H.published(page)
    periods = {} if isinstance(pub, Exception) else dict(zip(pub["code"], pub["period"]))
    defs = []
    shown = H.table_codes(page.plan)
    # every figure of the registry is defined: page 1's table first, then the rest (the sections quote them)
    for r in definitions([*shown, *(c for c in REGISTRY if c not in shown)]).itertuples(index=False):
        defs.append({"anchor": f"def-{r.code.replace('_', '-')}", "name": r.name, "definition": r.definition,
                     "numerator": r.numerator, "denominator": r.denominator,
                     "period": periods.get(r.code) or r.period, "quote": r.how_to_quote})
    g = glossary(level=page.level)
    return {"defs": defs, "glossary": list(zip(g["term"], g["definition"]))}

"""Technical annex: the model diagnostics, tests of assumptions and sensitivity analyses moved out of the body.

The body sections hand their technical blocks to :meth:`Page.annex`, which
leaves a link in the body; this section, placed after every body section,
prints them under their own headings.
"""

from __future__ import annotations

TITLE = "Technical detail of the results"
PLACEMENT = "annex"
#: reads the technical material other sections moved to the annex: rendered after every section before it
AFTER_OTHERS = True


def build(page) -> dict:
    blocks = []
    for part in page.annex_parts:
        blocks.append({"kind": "h3id", "id": part["id"], "text": part["title"]})
        blocks += part["blocks"]
    if not blocks:
        blocks.append(page.p("No technical detail for this report."))
    return {"blocks": blocks}

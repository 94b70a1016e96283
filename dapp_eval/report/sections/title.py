"""The page title: what the report covers in one line; the full record is "About this report" in the annex."""

from __future__ import annotations

from dapp_eval.formatting import long_date
from dapp_eval.report.sections.about import _scope_note

TITLE = "Title"
PLACEMENT = "top"  # before the contents list; its heading is the page's <h1>


def build(page) -> dict:
    d, plan = page.data, page.plan
    scope = (f"referrals received {plan['period'][0]} to {plan['period'][1]}" if plan["period"]
             else _scope_note(page))
    line = (f"{long_date(d.sites['period_start'].min())} to {long_date(d.sites['period_end'].max())}; "
            f"{scope}; data extracted {long_date(d.sites['data_extract_date'].max())}.")
    return {"h1": page.title, "line": line, "synthetic": page.synthetic}

"""The analysis plan, printed as it was fixed before the results were produced."""

from __future__ import annotations

TITLE = "Analysis plan"
PLACEMENT = "annex"


def build(page) -> dict:
    import yaml

    return {"note": "The choices below were fixed in the analysis plan before the results were produced.",
            "text": yaml.safe_dump(page.plan.to_dict(), sort_keys=False, default_flow_style=False)}

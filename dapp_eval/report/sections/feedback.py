"""Structured feedback: ratings of change by the person, the (ex-)partner and the referring agency, by wave."""

from __future__ import annotations

from dapp_eval.disclosure.roles import Count, Label, Proportion
from dapp_eval.report.sections._publish import role_table

TITLE = "Feedback: ratings of change"
PLACEMENT = "body"
_INF = {"perpetrator": "Person on the programme", "partner": "(Ex-)partner", "referring_agency": "Referring agency"}
_WAVE = {"exit": "At exit", "follow_up": "At follow-up"}
_ITEM = {"behaviour_change": "Change in behaviour", "understanding": "Understanding of domestic abuse",
         "feels_safer": "Feeling safer", "relationship": "Relationship", "children": "Impact on the children"}


def build(page) -> dict:
    from dapp_eval.analyses import delivery

    # the rows of the whole release's data on every page (a row of nobody at one site said "none of them")
    rows = page.release.memo("feedback rows", lambda: delivery.feedback_rows(page.full_data))
    res = page.get("v2_feedback", lambda: delivery.feedback(page.data, alpha=page.alpha, rows=rows))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Feedback", str(res))]}
    if res.summary.empty:
        return {"blocks": [page.p("The feedback table holds no ratings.")]}
    out = [page.p("Ratings of change on a five-point scale (much worse, worse, no change, better, much better) by "
                  "who gave them and when. Only ratings are held, never free text. Those who answer are not a random "
                  "sample: people who complete, and their (ex-)partners, answer more often.")]
    s = res.summary.copy()
    s["informant"] = s["informant"].map(_INF)
    s["wave"] = s["wave"].map(_WAVE)
    s["item"] = s["item"].map(_ITEM)
    # only the share rating better: the other categories and the mean rating, beside rounded counts, could
    # pin a small count (found by the release's disclosure audit)
    s = s[["informant", "wave", "item", "n", "n_better", "estimate", "ci_lower", "ci_upper"]]
    roles = [Label("informant", "wave", "item"), Count("n", "n_better"), Proportion("n_better", "n")]
    out.append(role_table(page, s, roles, caption=f"Share rating change as better or much better (Wilson "
                          f"{page.ci_label})", name="feedback"))
    return {"blocks": out}

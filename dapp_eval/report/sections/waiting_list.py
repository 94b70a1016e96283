"""The waiting list at the data extract date, by risk band, highest risk first."""

from __future__ import annotations

TITLE = "Waiting list by risk"
PLACEMENT = "body"


def build(page) -> dict:
    from dapp_eval.analyses import delivery

    res = page.get("v2_waiting_list", lambda: delivery.waiting_list(page.data))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Waiting list by risk", str(res))]}
    if res.meta["n_waiting"] == 0:  # a zero is published as it is: 'none' identifies nobody
        return {"blocks": [page.p("No one was waiting for an assessment or a place at the data extract date.")]}
    block = page.publish(res, caption="Waiting list at the extract date by risk band", name="waiting_list")
    return {"blocks": [page.p("People waiting at the data extract date for an assessment or a place, by risk, "
                              "highest first, so that the list can be prioritised by assessed risk. The band is the "
                              "referring agency's risk level where recorded, otherwise the practitioner's intake "
                              "risk score (DASH 14 or more high, 10 to 13 medium). Bands of a handful of people are "
                              "merged."), block]}

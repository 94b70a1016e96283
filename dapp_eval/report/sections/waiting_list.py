"""The waiting list at the data extract date, by risk band, highest risk first."""

from __future__ import annotations

TITLE = "Waiting list by risk"
PLACEMENT = "body"


def build(page) -> dict:
    from dapp_eval.analyses import delivery

    res = page.get("v2_waiting_list", lambda: delivery.waiting_list(page.data))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Waiting list by risk", str(res))]}
    n = res.meta["n_waiting"]
    if n == 0 and len(page.data.referrals) >= page.dc.zero_rule_minimum:
        return {"blocks": [page.p("No one was waiting for an assessment or a place at the data extract date.")]}
    if n < page.dc.threshold:
        # a 0 is published as it is only where the referrals are many (and in a release of one site: in one of
        # several, a 0 is a 0 at every site); otherwise "no one was waiting" says something of every one of them
        # (the zero rule; a8 N2: a site of 5 referrals; a12 C3), so it reads as a few waiting do
        return {"blocks": [page.na("Waiting list by risk", f"Not shown: fewer than {page.dc.threshold} people were "
                                   "waiting at the data extract date, too few to show by risk safely.")]}
    block = _table(page, res)
    return {"blocks": [page.p("People waiting at the data extract date for an assessment or a place, by risk, "
                              "highest first, so that the list can be prioritised by assessed risk. The band is the "
                              "referring agency's risk level where recorded, otherwise the practitioner's intake "
                              "risk score (DASH 14 or more high, 10 to 13 medium). Bands of a handful of people are "
                              "merged. The largest band is the participant flow's people waiting less the other "
                              "bands, so that the bands add up to the flow exactly."), block]}


def _table(page, res) -> dict:
    """The bands' people waiting (published), the largest band the flow's people waiting less the other bands
    (:func:`dapp_eval.analyses.flow_published.derive_largest_band`); the split between the two lists is the
    flow's, not repeated by band (an independent split of the same people would narrow the flow's counts)."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.report.sections._counts import publish_block
    from dapp_eval.report.sections._groups import published_flow

    block, _ = publish_block(page, res, caption="Waiting list at the extract date by risk band (the largest band is "
                             "the total less the other bands)", name="waiting_list",
                             then=lambda shown: fp.derive_largest_band(shown, published_flow(page)),
                             drop=("n_awaiting_assessment", "n_awaiting_start"))
    return block

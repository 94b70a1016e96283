"""Results by programme strand (programme_name): referrals, starts and completions of each course a site runs."""

from __future__ import annotations

from dapp_eval.report.sections import _groups

TITLE = "Results by programme strand"
PLACEMENT = "body"


def build(page) -> dict:
    from dapp_eval.analyses import equality

    # the strands of the whole release, at every site (a18 H5: "one strand only" at a site said that nobody there
    # was referred to the release's other strand; a site's strands of nobody merge like strands of a few)
    whole = page.release.memo("strands", lambda: _release_strands(page.full_data))
    res = page.get("strand_profile", lambda: equality.profile(page.data, by="programme_name", every=whole))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Programme strands", "the data do not record which programme (strand) each "
                                   "referral was for (programme name is empty)")]}
    if len(whole) < 2:
        return {"blocks": [page.p("The data hold one programme strand only, so there is nothing to split by.")]}
    out = [page.p("Where a site runs more than one course (for example a 24-week group and a fathering course), "
                  "each strand's referrals, starts and completions. Strands take on different people and run for "
                  "different lengths, so a difference is a question to ask, not a ranking.")]
    blocks, shown = _groups.publish(page, res, caption="Referrals, starts and completions by programme strand",
                                    name="strands")
    return {"blocks": out + blocks + _groups.named(page, shown, what="strand")}


def _release_strands(data) -> list[str]:
    """The named programme strands in the release's data."""
    ref = data.referrals
    if "programme_name" not in ref:
        return []
    return sorted({str(v) for v in ref["programme_name"].dropna()})

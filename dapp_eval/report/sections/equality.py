"""Equality monitoring: referrals, starts and completions by each protected characteristic and complex need."""

from __future__ import annotations

from dapp_eval.report.sections import _groups
from dapp_eval.report.sections._counts import published_counts

TITLE = "Equality monitoring: who is referred, starts and completes"
PLACEMENT = "body"


def build(page) -> dict:
    from dapp_eval.analyses import equality

    # the characteristics recorded anywhere in the release, at every site (issue 26: a row missing at one site said
    # that nobody's value was recorded there)
    recorded = page.release.memo("recorded characteristics", lambda: equality.recorded_characteristics(page.full_data))
    res = page.get("equality_profile", lambda: equality.profile(page.data, recorded=recorded))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Equality monitoring", str(res))]}
    out = [page.p("A public body has to show that its service reaches and serves every group (the public sector "
                  "equality duty). For each characteristic the data record: referrals, starts and completions, the "
                  "share who started among those no longer waiting, and the share who completed among those who "
                  "started and have left (people still attending are not counted, so this is simpler than the "
                  "headline completion rate). Small groups are merged with each other, never dropped.")]
    blocks, shown = _groups.publish(page, res, caption="Referrals, starts and completions by characteristic",
                                    name="equality_profile")
    out += blocks
    out += _groups.named(page, shown, what="group")
    u = published_counts(page, equality.under_18(page.data), roles=equality.under_18_roles(),
                         name="Under-18 referrals")
    out.append(page.p(f"Referrals of people aged under 18: {u['n_under_18']} (aged 16 or 17: {u['n_aged_16_17']}), "
                      f"of {u['n_age_recorded']} referrals with an age recorded."))
    missing = [equality.CHARACTERISTICS[c].lower() for c in res.meta["not_recorded"]]
    if missing:
        out.append(page.p("Not shown, because the data do not record them (the columns are absent or empty): "
                          + ", ".join(missing) + ". Version 2 of the data contract holds them.", "note"))
    return {"blocks": out}

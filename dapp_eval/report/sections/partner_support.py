"""Partner support in depth: take-up, contacts, sessions, safety plans, and support for the programme's length."""

from __future__ import annotations

from dapp_eval.columns import Label, Merge

TITLE = "Partner support"
PLACEMENT = "body"
_MEASURE = {"accepted": "Accepted support, of (ex-)partners offered it",
            "safety_plan": "Safety plan made, of supported (ex-)partners",
            "covers_programme": "Supported until the perpetrator left the programme, of those whose partner "
                                "started and left"}
_NUMBER = {"contacts": "Contacts per supported (ex-)partner", "sessions": "IDVA or support-worker sessions per "
           "supported (ex-)partner", "weeks_supported": "Weeks supported (support closed)"}
_CLOSED = {"completed": "Support completed", "disengaged": "Disengaged", "declined": "Declined further support",
           "moved_away": "Moved away", "referred_on": "Referred on", "other": "Other",
           "still supported": "Still supported"}


def build(page) -> dict:
    from dapp_eval.analyses import families

    res = page.get("v2_partner_support", lambda: families.partner_support(page.data, alpha=page.alpha))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Partner support", str(res))]}
    out = [page.p("The Home Office standards ask that support for (ex-)partners runs alongside every perpetrator "
                  "programme. How many took it up, how much contact they had, whether a safety plan was made, and "
                  "whether support lasted until the perpetrator left the programme.")]
    s = res.summary.copy()
    s["measure"] = s["measure"].map(_MEASURE)
    out.append(page.publish(s, roles=res.roles["summary"], caption="Partner support: take-up, safety plans and "
                            f"duration (Wilson {page.ci_label})", name="partner_support"))
    c = res.tables["contacts"].copy()
    c["measure"] = c["measure"].map(_NUMBER)
    out.append(page.publish(c, roles=res.roles["contacts"], caption="Contacts, sessions and weeks of support",
                            name="partner_support_contacts"))
    cl = res.tables["closed"].copy()
    cl["closed_reason"] = cl["closed_reason"].map(_CLOSED)
    # small reasons merged into one, not withheld (one block: every reason is a part of the supported)
    roles = [*res.roles["closed"], Label("_block"), Merge(by=("_block",), level="closed_reason")]
    out.append(page.publish(cl.assign(_block="all"), roles=roles, caption="Why partner support closed",
                            name="partner_support_closed", drop=("_block",)))
    return {"blocks": out}

"""Children: how many are affected, their ages, and their children's services plans before and after."""

from __future__ import annotations

from dapp_eval.columns import Label, Merge
from dapp_eval.disclosure.roles import publish
from dapp_eval.report.sections._publish import count_text, numbers, quiet, renamed

TITLE = "Children in the families referred"
PLACEMENT = "body"
_GROUP = {"all": "All children", "completed": "Parent completed", "did not complete": "Parent did not complete"}
# the plans by whether the parent completed, and the full table of moves between plans, stay in the analysis
# (families.children): at a site their cells are mostly a handful of children
_MEASURE = {"child_protection_plan": "On a child protection plan", "any_plan": "On any plan (child in need, child "
            "protection or looked after)"}


def build(page) -> dict:
    from dapp_eval.analyses import families

    res = page.get("v2_children", lambda: families.children(page.data, alpha=page.alpha))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Children", str(res))]}
    m = res.meta
    out = [page.p(f"{count_text(page, m['n_children'], name='children')} children were in the families of "
                  f"{count_text(page, m['n_referrals_with_children'], name='referrals with children')} referrals "
                  "(each child counted once, however often the parent was referred).")]
    # small age bands merged into one, not withheld
    roles = [*res.roles["age_bands"], Label("_block"), Merge(by=("_block",), level="age_band")]
    out.append(page.publish(res.tables["age_bands"].assign(_block="all"), roles=roles,
                            caption="Children by age band at referral", name="children_age", drop=("_block",)))
    s = res.summary.copy()
    s["group"] = s["group"].map(_GROUP)
    s["measure"] = s["measure"].map(_MEASURE)

    out.append(page.p("Plans at referral and 12 months later, for the same children (those referred at least a year "
                      "before the data were taken, with both plans recorded). Plans change for many reasons besides "
                      "the programme, and parents who complete differ from those who do not, so this describes what "
                      "happened; it does not measure the programme's effect."))
    s = s[s["group"] == _GROUP["all"]].reset_index(drop=True)
    s, roles = renamed(s, res.roles["summary"], {"n": "n_children", "estimate_at_referral": "prop_at_referral",
                                                 "estimate_at_12_months": "prop_at_12_months"})
    caption = "Children's services plans at referral and 12 months later (same children)"
    shown = publish(s, roles, quiet(page.dc), name=caption)
    if numbers(shown)[["n_children", "n_at_referral", "n_at_12_months"]].isna().any(axis=None):
        # a handful of children: the counts beside each other (and other pages) could identify them
        out.append(page.p("Too few children have both plans recorded to publish the plans without risk of "
                          "identifying them.", "note"))
    else:
        out.append(page.publish(s, roles=roles, caption=caption, name="children_plans",
                                drop=("group", "difference", "difference_ci_lower", "difference_ci_upper")))
    return {"blocks": out}

"""Children: how many are affected, their ages, and their children's services plans before and after."""

from __future__ import annotations

from dapp_eval.disclosure.roles import Count, Label, Proportion
from dapp_eval.report.sections._publish import role_table

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
    count = page.dc.count
    out = [page.p(f"{count(m['n_children'], name='Children')} children were in the families of "
                  f"{count(m['n_referrals_with_children'], name='Children')} referrals (each child counted once, "
                  "however often the parent was referred).")]
    ages = page.dc.merge_small(res.tables["age_bands"].rename(columns={"n": "n_children"}).assign(_block=1),
                               by=["_block"], level="age_band", add=("n_children",),
                               name="Children by age band at referral")
    out.append(page.table(ages, caption="Children by age band at referral", name="children_age",
                          label_cols=["age_band"], drop=("_block",)))
    s = res.summary.copy()
    s["group"] = s["group"].map(_GROUP)
    s["measure"] = s["measure"].map(_MEASURE)
    s = s[["measure", "group", "n", "n_at_referral", "n_at_12_months", "estimate_at_referral",
           "estimate_at_12_months"]].rename(columns={"estimate_at_referral": "prop_at_referral",
                                                     "estimate_at_12_months": "prop_at_12_months"})
    out.append(page.p("Plans at referral and 12 months later, for the same children (those referred at least a year "
                      "before the data were taken, with both plans recorded). Plans change for many reasons besides "
                      "the programme, and parents who complete differ from those who do not, so this describes what "
                      "happened; it does not measure the programme's effect."))
    s = s[s["group"] == _GROUP["all"]].drop(columns="group").rename(columns={"n": "n_children"})
    small = s[["n_children", "n_at_referral", "n_at_12_months"]].apply(lambda c: c.map(page.dc.is_small)).any(axis=None)
    if small:  # a handful of children: the counts beside each other (and other pages) could identify them
        out.append(page.p("Too few children have both plans recorded to publish the plans without risk of "
                          "identifying them.", "note"))
    else:
        roles = [Label("measure"), Count("n_children", "n_at_referral", "n_at_12_months"),
                 Proportion("n_at_referral", "n_children", estimate="prop_at_referral", ci=None),
                 Proportion("n_at_12_months", "n_children", estimate="prop_at_12_months", ci=None)]
        out.append(role_table(page, s, roles, caption="Children's services plans at referral and 12 months later "
                              "(same children)", name="children_plans"))
    return {"blocks": out}

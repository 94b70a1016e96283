"""Children: how many are affected, their ages, and their children's services plans before and after."""

from __future__ import annotations

from ...families import PLAN_LABELS

TITLE = "Children in the families referred"
PLACEMENT = "body"
_GROUP = {"all": "All children", "completed": "Parent completed", "did not complete": "Parent did not complete"}
_MEASURE = {"child_protection_plan": "On a child protection plan", "any_plan": "On any plan (child in need, child "
            "protection or looked after)"}


def build(page) -> dict:
    from ... import families

    res = page.get("v2_children", lambda: families.children(page.data, alpha=page.alpha))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Children", str(res))]}
    m = res.meta
    count = page.dc.count
    out = [page.p(f"{count(m['n_children'], name='Children')} children were in the families of "
                  f"{count(m['n_referrals_with_children'], name='Children')} referrals (each child counted once, "
                  "however often the parent was referred).")]
    out.append(page.table(res.tables["age_bands"], caption="Children by age band at referral", name="children_age",
                          label_cols=["age_band"]))
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
    out.append(page.table(s, caption="Children's services plans at referral and 12 months later (same children)",
                          name="children_plans", label_cols=["measure", "group"]))
    t = res.tables["transitions"]
    t = t.groupby(
        ["plan_at_referral", "plan_at_12_months"], sort=False)["n"].sum().reset_index()
    t["plan_at_referral"] = t["plan_at_referral"].map(PLAN_LABELS)
    t["plan_at_12_months"] = t["plan_at_12_months"].map(PLAN_LABELS)
    out.append(page.table(t, caption="Children by plan at referral and 12 months later", name="children_transitions",
                          label_cols=["plan_at_referral", "plan_at_12_months"]))
    return {"blocks": out}

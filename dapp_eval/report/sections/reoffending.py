"""Proven reoffending in the Justice Data Lab's form, beside a matched comparison where one is supplied."""

from __future__ import annotations

TITLE = "Proven reoffending"
PLACEMENT = "body"
_COHORT = {"completed": "People who completed", "started": "Everyone who started and left"}


def build(page) -> dict:
    from dapp_eval.analyses import reoffending

    res = page.get("proven_reoffending", lambda: reoffending.proven_reoffending(page.data, alpha=page.alpha))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Proven reoffending", str(res))]}
    m = res.meta
    out = [page.p(f"The Justice Data Lab's measure: the share of people with a domestic abuse offence committed "
                  f"within a year of leaving the programme and proved by a caution or conviction within a further "
                  f"six months, with the number of such offences per person (frequency) and the average time to "
                  f"the first. Only people whose year and six months have passed by the data extract date count; "
                  f"a cohort under {m['min_cohort']} is not reported. The offences are those in the linked records, "
                  "not a Police National Computer match.")]
    s = res.summary.copy()
    small = s[~s["meets_minimum"]]
    for r in small.itertuples(index=False):
        out.append(page.p(f"{_COHORT[r.cohort]}: not reported, the cohort is under {m['min_cohort']} people "
                          "(the Justice Data Lab minimum).", "note"))
    s = s[s["meets_minimum"]]
    if len(s):
        s["cohort"] = s["cohort"].map(_COHORT)
        out.append(page.publish(s, roles=res.roles["summary"], caption="Proven reoffending within one year of "
                                f"leaving (six-month lag; Wilson {page.ci_label})", name="proven_reoffending",
                                drop=("meets_minimum",)))
    comp = getattr(page.release, "comparators", None)
    rows = [] if comp is None else list(comp[comp["figure"] == "proven_reoffending_rate"].itertuples(index=False))
    if rows:
        for r in rows:
            out.append(page.p(f"Comparison: {r.value_text} ({r.source}, {r.year}{'; ' + r.note if r.note else ''})."))
    else:
        out.append(page.p("No matched comparison group was supplied, so this rate cannot show what the programme "
                          "changed: people who complete differ from those who do not. The Justice Data Lab can "
                          "match a comparison group; its rate can be shown here (comparators file, figure "
                          "'proven reoffending within a year').", "note"))
    return {"blocks": out}

"""Capacity and utilisation by quarter: places offered and filled, groups run, staff and funding by funder."""

from __future__ import annotations

import pandas as pd

from dapp_eval.columns import Label
from dapp_eval.report.sections._counts import publish_block

TITLE = "Value for money, capacity and funding"
PLACEMENT = "body"
_FUNDER = {"home_office": "Home Office", "pcc": "Police and crime commissioner", "local_authority": "Local authority",
           "childrens_services": "Children's services", "health": "Health", "probation": "Probation",
           "charity": "Charity", "other": "Other"}


def build(page) -> dict:
    from dapp_eval.analyses import delivery

    value = value_for_money(page)
    res = page.get("v2_capacity", lambda: delivery.capacity(page.data))
    if isinstance(res, Exception):
        return {"blocks": [*value, page.na("Capacity and utilisation", str(res))]}
    out = [*value, page.h3("Capacity and utilisation"), page.p("Places offered and filled each quarter (financial years), with the groups run, staff in "
                  "full-time equivalents and funding. High utilisation alongside a waiting list means people wait "
                  "because the programme is full.")]
    # places filled are people attending: a handful is suppressed like any count of people, and the
    # utilisation computed from it with it
    out.append(page.publish(res, caption="Places, utilisation, groups, staff and funding by quarter", name="capacity"))
    f = res.tables["funding"].assign(funder=lambda t: t["funder"].map(_FUNDER))
    out.append(publish_block(page, f, roles=res.roles["funding"], caption="Funding by funder over the quarters "
                             "recorded", name="funding", rename={"share": "prop_of_funding"})[0])
    return {"blocks": out}


#: the outcomes a cost per outcome is illustrated for: (headline code, what one outcome is)
OUTCOMES = (("reliable_risk_reduction", "person with a reliable reduction in risk"),
            ("partner_feels_safer", "(ex-)partner feeling safer"))


def _comparator_text(page) -> dict[str, str]:
    comp = getattr(page.release, "comparators", None)
    if comp is None or not len(comp):
        return {}
    return {r.figure: f"{r.value_text} ({r.source}, {r.year})" for r in comp.itertuples(index=False)}


def value_for_money(page) -> list:
    """Cost per referral and per completion beside any published benchmark, and a cost per outcome as an
    illustration: the period cost (money, not people) divided by the published count of people with the outcome."""
    from dapp_eval.analyses import funnel
    from dapp_eval.formatting import gbp
    from dapp_eval.report.sections import _headlines as H

    pub = H.published(page)
    costs = page.get("costs_all", lambda: funnel.costs(page.data, by=None))
    if isinstance(pub, Exception) or isinstance(costs, Exception):
        return []
    by = pub.set_index("code")
    period_cost = float(costs.summary["period_cost_gbp"].sum())
    comps = _comparator_text(page)
    none = "none supplied"
    rows = [{"Measure": by.loc[c, "name"], "Cost": by.loc[c, "value_text"], "Benchmark": comps.get(c, none),
             "What it is": "cost of running the programme divided by the count"}
            for c in ("cost_per_referral", "cost_per_completion") if c in by.index]
    for code, one in OUTCOMES:
        k = by.loc[code, "n_numerator"] if code in by.index else None
        shown = code in by.index and not by.loc[code, "hidden"] and k is not None and k == k and k > 0
        rows.append({"Measure": f"Cost per {one} (illustration)",
                     "Cost": gbp(period_cost / float(k)) if shown and period_cost == period_cost else "withheld",
                     "Benchmark": "", "What it is": "period cost divided by the published number of people with "
                     "the outcome" if shown else "not shown: the number of people is too small to publish"})
    out = [{"kind": "h3id", "id": "value-for-money", "text": "Value for money"},
           page.publish(pd.DataFrame(rows), roles=[Label("Measure", "Cost", "Benchmark", "What it is")],
                        caption="Costs per referral, completion and outcome, with any published benchmark",
                        name="value_for_money"),
           page.p("The costs per outcome are an illustration, not a price of results: the people counted are not "
                  "limited to the contract period, the outcome is known only for people assessed twice or "
                  "(ex-)partners who answered both surveys, and without a comparison group some of it would have "
                  "happened anyway.", "note")]
    if not comps:
        out.append(page.p("No benchmark was supplied, so this report cannot say whether these costs are good value. "
                          "To show a published figure beside them (another programme's cost per completion, with "
                          "its source and year), list it in a comparators file and render with dapp-eval report "
                          "--comparators comparators.yaml (see dapp_eval.commissioner.comparators).", "note"))
    return out

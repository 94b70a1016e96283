"""Capacity and utilisation by quarter: places offered and filled, groups run, staff and funding by funder."""

from __future__ import annotations

TITLE = "Capacity, utilisation and funding"
PLACEMENT = "body"
_FUNDER = {"home_office": "Home Office", "pcc": "Police and crime commissioner", "local_authority": "Local authority",
           "childrens_services": "Children's services", "health": "Health", "probation": "Probation",
           "charity": "Charity", "other": "Other"}


def build(page) -> dict:
    from ... import delivery

    res = page.get("v2_capacity", lambda: delivery.capacity(page.data))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Capacity and utilisation", str(res))]}
    out = [page.p("Places offered and filled each quarter (financial years), with the groups run, staff in "
                  "full-time equivalents and funding. High utilisation alongside a waiting list means people wait "
                  "because the programme is full.")]
    # places filled are people attending: a handful is suppressed like any count of people, and the row's
    # other figures with it (on a tiny site a ratio of two small counts can equal the groups run: audit, 6 sites)
    out.append(page.table(res.summary, caption="Places, utilisation, groups, staff and funding by quarter",
                          name="capacity", kind="people", label_cols=["quarter"]))
    f = res.tables["funding"].copy()
    f["funder"] = f["funder"].map(_FUNDER)
    out.append(page.shown_table(f.rename(columns={"share": "prop_of_funding"}),
                                caption="Funding by funder over the quarters recorded",
                                csv_name=page.csv_name("funding")))
    return {"blocks": out}

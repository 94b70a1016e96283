"""Referrals and completion by district (postcode district or local-authority area)."""

from __future__ import annotations

import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.report.sections import _groups

TITLE = "Referrals and completion by district"
PLACEMENT = "body"


def build(page) -> dict:
    from dapp_eval.analyses import equality

    res = page.get("district_profile", lambda: equality.profile(page.data, by="district"))
    if isinstance(res, Exception):
        return {"blocks": [page.na("Districts", "the data do not record the district (postcode district or local "
                                   "authority) of the people referred")]}
    out = [page.p("Where referrals come from and how many of them start and complete, by the district of the "
                  "person's home, so that a commissioner covering several areas can see where reach or completion "
                  "is low. Small districts are merged with each other.")]
    blocks, shown = _groups.publish(page, res, caption="Referrals, starts and completions by district",
                                    name="districts")
    n = shown["n_referred"].map(lambda v: pd.to_numeric(str(v).replace(",", ""), errors="coerce"))
    if n.notna().any() and n.sum() > 0:
        top = int(n.idxmax())
        out.append(page.p(f"Most referrals come from {shown.loc[top, 'group']}: about "
                          f"{fmt.percent(n[top] / n.sum())} of referrals (published counts)."))
    return {"blocks": out + blocks + _groups.named(page, shown, what="district")}

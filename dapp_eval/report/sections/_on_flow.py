"""Counts of part of a stage of the participant flow, published on the flow.

The contract period's referrals, starts and completions are, in most releases, the same people as the flow's
referred, started and completed (or nearly so). Rounded on their own beside the flow's totals (sums of its
protected stages), they gave a second rounding of the same people: 125 referrals in the flow beside 120 in
the contract period, and 60 starts beside 65, narrowed 122 referrals and 63 starts (outside attack a21). Such a
count is published as the flow's published total less the rounded number of the stage's people outside the
part: the same number where the part is the whole stage, and an identity of protected counts otherwise.
"""

from __future__ import annotations

import numpy as np

from dapp_eval.disclosure.control import round_count

#: the counts of a part of a flow stage, by headline figure code, and the stage
PERIOD_STAGES = {"referrals_in_period": "referred", "starts_in_period": "started",
                 "completions_in_period": "completed"}
#: the same, by column of the costs tables
COST_COLUMN_STAGES = {"n_referrals": "referred", "n_started": "started", "n_completed": "completed"}


def flows(page, site: str | None) -> tuple | None:
    """The participant flow of ``site`` (None: the release's data) as computed and as published (quietly: it
    is published and logged where the flow is shown), or None where there is none."""
    from dapp_eval.analyses import funnel
    from dapp_eval.disclosure.roles import publish
    from dapp_eval.report.sections._publish import quiet

    def read():
        cascade = page.release.result(site, "cascade", lambda: funnel.cascade(page.release.site_data(site),
                                                                              by=None, alpha=page.alpha))
        if isinstance(cascade, Exception) or "flow" not in getattr(cascade, "tables", {}):
            return None
        flow, roles = page.declared(cascade, "flow")
        return flow, publish(flow, roles, quiet(page.dc), name="participant flow")

    dc = page.dc  # once per release, scope and policy
    return page.release.memo(("flows", site, dc.threshold, dc.strict, dc.base, dc.alpha, dc.carries_down), read)


def on_flow(page, flow: tuple | None, stage: str, n) -> float:
    """``n`` people of the flow stage ``stage`` as published on the flow: the stage's published total less the
    rounded number of its people not counted in ``n``; NaN (withheld) where the flow withholds the stage's total
    (it would give the small stage under it back). ``n`` itself where there is no flow or ``n`` is not a part of
    the stage (it is then rounded on its own, as any other count).

    >>> import pandas as pd
    >>> from dapp_eval.analyses.flow_published import STAGES, _PARENT
    >>> true = pd.DataFrame({"stage": list(STAGES), "level": "terminal", "parent": [_PARENT[s] for s in STAGES],
    ...                      "n": [0.0] * len(STAGES)})
    >>> true.loc[true["stage"] == "completed", "n"] = 52.0
    >>> pub = true.assign(n=true["n"].where(true["stage"] != "completed", 50.0))
    >>> class P:
    ...     class dc:
    ...         base = 5
    >>> on_flow(P, (true, pub), "completed", 52), on_flow(P, (true, pub), "completed", 51)
    (50.0, 50.0)
    >>> on_flow(P, (true, pub), "completed", 44), on_flow(P, (true, pub), "completed", 60)
    (40.0, 60)
    """
    from dapp_eval.analyses import flow_published as fp

    if flow is None or n is None or not np.isfinite(float(n)):
        return n
    total, shown = fp.stage_value(flow[0], (stage,)), fp.stage_value(flow[1], (stage,))
    rest = total - float(n)
    if not np.isfinite(total) or rest < 0:
        return n
    if not np.isfinite(shown):
        return float("nan")
    return max(shown - round_count(rest, page.dc.base), 0.0)


def withhold(shown, cols, where) -> None:
    """Show ``cols`` of the rows ``where`` of a published table as withheld (``[c]``), in place."""
    for c in cols:
        if c in shown:
            shown[c] = shown[c].astype(object)
            shown.loc[where, c] = "[c]"

"""A site's gap, called: each headline figure of one site against the other sites combined (issue 29).

Worked out from published counts only (the funnel table's and the side-by-side tables' rounded counts, after
the page's disclosure control), so the gap table repeats nothing the release does not already show. A gap
is "beyond chance" only when the site lies outside the 99.8% control limits around the all-sites figure at
the site's size: the funnel plot's outer limits, named the same way everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.commissioner.headlines import REGISTRY, SITE_OUTCOMES

#: the one name of the limits a site's gap is called against (the funnel plot's outer limits)
LIMITS = "the 99.8% control limits"
_Z998 = 3.090232306167813  # the two-sided 99.8% normal quantile, as compare.site_funnel's outer limits


def _num(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col.astype(str).str.replace(",", ""), errors="coerce")


def gap_row(name: str, site: str, ks: pd.Series, ns: pd.Series, ids: pd.Series) -> dict | None:
    """One figure's row from published counts by site (``ks`` of ``ns``), or None when a count is withheld."""
    from dapp_eval.analyses.compare import wilson_limits

    ks, ns = _num(ks).to_numpy(), _num(ns).to_numpy()
    mine = (ids == site).to_numpy()
    if not mine.any() or np.isnan(ks).any() or np.isnan(ns).any() or (ns <= 0).any():
        return None
    k, n = ks[mine].sum(), ns[mine].sum()
    k_rest, n_rest = ks[~mine].sum(), ns[~mine].sum()
    if n_rest <= 0:
        return None
    p0 = ks.sum() / ns.sum()
    lo, hi = (float(x[0]) for x in wilson_limits(p0, [n], _Z998))
    est = k / n
    called = (f"above {LIMITS}: beyond chance" if est > hi else f"below {LIMITS}: beyond chance" if est < lo
              else f"inside {LIMITS}: no clear difference")
    return {"Figure": name, "This site": fmt.percent(est), "Other sites combined": fmt.percent(k_rest / n_rest),
            "Difference": fmt.percentage_points(100 * (est - k_rest / n_rest)), "Called": called,
            "_beyond": est > hi or est < lo}


def published_outcome(page, sc, code: str) -> pd.DataFrame:
    """One outcome's rows of the side-by-side comparison (sites and all sites) as the release publishes them,
    through the one publication step with the roles the comparison declares (the same on every page)."""
    from dapp_eval.commissioner.headlines import SITE_COLUMNS
    from dapp_eval.disclosure.roles import publish

    t = sc.summary.loc[sc.summary["outcome"] == code, SITE_COLUMNS].reset_index(drop=True)
    return page.publish_once(("sites side by side", id(sc), code), lambda dc: _as_on_own_page(page, code, publish(
        t, sc.roles["summary"], dc, name=f"Sites side by side: {REGISTRY[code].name}", pairs={"n_numerator": "n"})))


def _as_on_own_page(page, code: str, shown: pd.DataFrame) -> pd.DataFrame:
    """The comparison with each figure withheld where its site's own page withholds it: an all-sites table
    printed 85% for two sites whose pages hid their completion rate (outside attack a25 J4)."""
    out = shown.copy()
    for i, sid in zip(out.index, out["site_id"].astype(str)):
        if code in _hidden_on_own_page(page, None if sid == "all" else sid):
            for c in ("estimate", "ci_lower", "ci_upper", "n_numerator"):
                if c in out:
                    out[c] = out[c].astype(object)
                    out.at[i, c] = "[c]"
    return out


def _hidden_on_own_page(page, scope) -> frozenset:
    """The headline figures ``scope``'s own page withholds (once per release and policy). Read on a page of the
    scope's own: what publishing its figures logs goes to that page, not this one (this runs inside a table
    published once per release, on whichever page gets there first)."""
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections._headlines import published

    def read():
        own = published(Page(page.release, scope))
        return frozenset() if isinstance(own, Exception) else frozenset(own.loc[own["hidden"].astype(bool), "code"])

    dc = page.dc
    return page.release.memo(("hidden on own page", scope, dc.threshold, dc.strict, dc.base, dc.alpha,
                              dc.carries_down), read)


def _outcome_rows(page, sc) -> list[dict]:
    """Risk, partners and police: from the side-by-side tables as the all-sites page publishes them (the same
    table through the same publication step); withheld when any site's figure there is withheld."""
    rows = []
    for code in SITE_OUTCOMES:
        if code == "completion_rate":
            continue  # an estimate that follows people still attending: compared through the funnel's share
        shown = published_outcome(page, sc, code)
        shown = shown[shown["site_id"] != "all"]
        r = None
        if _num(shown["estimate"]).notna().all():
            r = gap_row(REGISTRY[code].name, page.site, shown["n_numerator"], shown["n"], shown["site_id"])
        rows.append(r or {"Figure": REGISTRY[code].name, "This site": "withheld", "Other sites combined": "",
                          "Difference": "", "Called": "withheld: a site's figure is too small to publish",
                          "_beyond": False})
    return rows


def site_gap(page, funnel_shown: pd.DataFrame | None, sc, mix: dict) -> list:
    """The blocks of the gap section on a site's page (empty on the all-sites page)."""
    if page.site is None:
        return []
    rows = []
    if funnel_shown is not None:
        r = gap_row(REGISTRY["completion_rate_followed"].name, page.site, funnel_shown["n_completed"],
                    funnel_shown["n"], funnel_shown["site_id"])
        if r:
            rows.append(r)
    if sc is not None and not isinstance(sc, Exception):
        rows += _outcome_rows(page, sc)
    if not rows:
        return []
    table = pd.DataFrame(rows)
    beyond = table.loc[table.pop("_beyond"), "Figure"].tolist()
    site = page.data.sites.iloc[0]
    model = fmt.plain_text(str(site["programme_model"]).replace("_", "-"))
    out = [{"kind": "h3id", "id": "site-gap", "text": "This site against the other sites combined"},
           page.p(f"Each headline figure of this site beside the other sites combined, from the published counts. "
                  f"A gap is called beyond chance only when the site lies outside {LIMITS} around the all-sites "
                  f"figure (the funnel plot's outer limits); inside them, chance alone could produce it. The "
                  f"completion row uses the funnel plot's share (people followed to the end), not the completion "
                  f"rate, which is an estimate and cannot be added up across sites."),
           page.shown_table(table, caption="This site against the other sites combined, called against "
                                           f"{LIMITS}", csv_name=page.csv_name("site_gap"))]
    reason = (f"This site runs a {model} programme of {int(site['planned_sessions'])} planned sessions; "
              "programmes of different lengths and models take on different people and give more or less time "
              "to leave early, so a gap may reflect case mix rather than quality.")
    said = [fmt.plain_text(mix[c]) for c in ("completion_rate", *SITE_OUTCOMES) if c in mix and mix[c]][:1]
    out.append(page.p(("Beyond chance: " + ", ".join(beyond).lower() + ". " if beyond else
                       "No gap is beyond chance. ") + reason + (f" Case mix: {said[0]}" if said else ""), "note"))
    return out

"""Comparison of sites: completion funnel plot and costs by site (computed once per release)."""

from __future__ import annotations

from ..context import figure_uri
from ..format import pct

TITLE = 'Comparison of sites'
PLACEMENT = 'body'


def build(page) -> dict:
    from ... import compare, funnel

    out = [None]
    full = page.full_data
    if full.sites["site_id"].nunique() < 2:
        return {"blocks": [page.p("The data hold one site only, so there is nothing to compare.")]}
    fp = page.get_full("site_funnel", lambda: compare.site_funnel(full, alpha=page.alpha))
    if isinstance(fp, Exception):
        return {"blocks": [page.na("Funnel plot", str(fp))]}
    out.append(page.p("Each point is a site: the share of people who completed within their programme's planned "
                  "length plus the grace period, among those who started long enough before the extract date "
                  "for that to be known, against the number of such people. Sites inside the dashed lines differ "
                  "from the pooled rate by no more than chance would produce; a site outside the dotted lines "
                  "(99.8%) stands out. Sites run different models (24-week and 10-week groups, one-to-one work), "
                  "so differences also reflect who they take on and how long their programme is."))
    cols = ["site_id", "site_name", "programme_model", "n", "n_completed", "n_recent", "estimate", "ci_lower",
            "ci_upper", "position"]
    shown = page.dc.table(fp.summary[cols], name="Completion by site", pairs={"n_completed": "n"},
                          label_cols=["site_id", "site_name", "programme_model", "position"],
                          dependent={"n_recent": []})
    if not shown[["n", "n_completed"]].isin([page.dc.marker, "[c]"]).any().any():
        svg = page.release.memo("site_funnel_svg", lambda: figure_uri(fp.plot()))
        out.append(page.figure(svg, alt="Funnel plot of completion proportion by site against the "
                               "number of people, with 95% and 99.8% control limits around the pooled rate "
                               f"({pct(fp.meta['pooled_proportion'])}); each site's position is in the table below.",
                               caption=f"Completion by site (pooled proportion "
                                       f"{pct(fp.meta['pooled_proportion'])}); markers show the programme model."))
    out.append(page.shown_table(shown, caption="Completion within planned length + grace by site, cohorts with complete "
                          "follow-up (95% Wilson CI) and position in the funnel plot",
                          csv_name=page.csv_name("site_funnel")))
    cs = page.get_full("costs_by_site", lambda: funnel.costs(full, by="site_id"))
    if isinstance(cs, Exception):
        out.append(page.na("Costs by site", str(cs)))
    if not isinstance(cs, Exception):
        cols = [c for c in ("group", "annual_cost_gbp", "period_years", "period_cost_gbp", "n_referrals",
                            "n_started", "n_completed", "cost_per_referral", "cost_per_start",
                            "cost_per_completion", "cost_per_target_completion", "note") if c in cs.summary]
        out.append(page.table(cs.summary[cols], caption="Costs by site (GBP; whole-period ratios)",
                               name="costs_by_site", kind="throughput", label_cols=["group", "note"]))
    return {"blocks": out[1:]}



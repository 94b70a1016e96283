"""Comparison of sites: each headline outcome side by side (overall report), funnel plot, costs by site.

The side-by-side comparison (:func:`dapp_eval.commissioner.headlines.site_comparison`) is
computed once per release, on the overall report only; its tables go through
the release's one publication step (with the roles the analyses declare), and
every chart point, label, range and case-mix sentence is read from the
published tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.commissioner.headlines import REGISTRY, SITE_OUTCOMES
from dapp_eval.disclosure.roles import Count, Derived, Label, Proportion, Value, publish, published_numbers
from dapp_eval.report.context import figure_uri
from dapp_eval.report.format import pct

TITLE = 'Comparison of sites'
PLACEMENT = 'body'

def _position(v) -> str:
    """A funnel position named as the page names the limits: a site stands out only beyond the 99.8% control limits."""
    v = str(v)
    if v.startswith(("above 99.8%", "below 99.8%")):
        return f"{v.split()[0]} the 99.8% control limits: beyond chance"
    if v.startswith(("above", "below")):
        return f"{v.split()[0]} the {v.split()[1]} limits, inside the 99.8% control limits"
    return "inside the limits" if v.startswith("inside") else v


def _gap(page, funnel_shown: pd.DataFrame) -> list:
    """On a site's page: each headline figure against the other sites combined, called against the limits."""
    if page.site is None:
        return []
    from dapp_eval.commissioner import headlines
    from dapp_eval.report.sections._gap import site_gap
    from dapp_eval.report.sections._headlines import figures

    full = page.full_data
    done = {sid: figures(page.release, sid) for sid in [*full.sites["site_id"], None]}
    sc = page.get_full("site_comparison", lambda: headlines.site_comparison(full, plan=page.plan, alpha=page.alpha,
                                                                            figures=done))
    mix = {} if isinstance(sc, Exception) else case_mix(page, sc)
    hidden = published_numbers(funnel_shown, ["n", "n_completed"]).isna().any().any()
    return site_gap(page, None if hidden else funnel_shown, sc, mix)


def _published_funnel(fp, shown: pd.DataFrame, alpha: float):
    """The funnel plot's result redrawn from the published table: each site at its published size and
    completions, the pooled rate and the limits (over a grid from the published sizes) from published counts."""
    import copy

    import numpy as np
    from scipy import stats

    from dapp_eval.analyses.compare import wilson_limits

    out = copy.copy(fp)
    s = fp.summary.copy()
    s["n"] = pd.to_numeric(shown["n"].astype(str).str.replace(",", ""), errors="coerce").to_numpy()
    s["n_completed"] = pd.to_numeric(shown["n_completed"].astype(str).str.replace(",", ""), errors="coerce").to_numpy()
    s["estimate"] = s["n_completed"] / s["n"].where(s["n"] > 0)
    out.summary = s
    p0 = float(s["n_completed"].sum() / s["n"].sum())
    grid = np.unique(np.round(np.geomspace(5, max(float(s["n"].max()) * 1.3, 10), 120)))
    z_in, z_out = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(0.999)
    li, ui = wilson_limits(p0, grid, z_in)
    lo, uo = wilson_limits(p0, grid, z_out)
    out.tables = {**fp.tables, "limits": pd.DataFrame({"n": grid, "pooled": p0, "limit_inner_lower": li,
                                                       "limit_inner_upper": ui, "limit_outer_lower": lo,
                                                       "limit_outer_upper": uo})}
    return out


def build(page) -> dict:
    from dapp_eval.analyses import compare, funnel

    out = [None]
    full = page.full_data
    if full.sites["site_id"].nunique() < 2:
        return {"blocks": [page.p("The data hold one site only, so there is nothing to compare.")]}
    fp = page.get_full("site_funnel", lambda: compare.site_funnel(full, alpha=page.alpha))
    if isinstance(fp, Exception):
        return {"blocks": [page.na("Funnel plot", str(fp))]}
    out += _headline_comparison(page) if page.site is None else []
    out.append(page.h3("Completion by site: funnel plot"))
    out.append(page.p("Each point is a site: the share of people who completed within their programme's planned "
                  "length plus the grace period, among those who started long enough before the extract date "
                  "for that to be known, against the number of such people. Sites inside the dashed lines differ "
                  "from the pooled rate by no more than chance would produce; a site outside the dotted lines "
                  "(the 99.8% control limits) stands out: its gap is beyond chance. Sites run different models (24-week and 10-week groups, one-to-one work), "
                  "so differences also reflect who they take on and how long their programme is."))
    cols = ["site_id", "site_name", "programme_model", "n", "n_completed", "n_recent", "estimate", "ci_lower",
            "ci_upper", "position"]
    df, roles = page.declared(fp)
    # the points, the pooled rate, the limits and each site's position: all from the published counts
    shown = publish(df, roles, page.dc, name="Completion by site")[cols]
    shown["position"] = shown["position"].map(_position)
    out[1:1] = _gap(page, shown)
    caption = (f"Completion within planned length + grace by site, cohorts with complete follow-up ({page.level} "
               "Wilson CI) and position in the funnel plot")
    # the chart draws the table's numbers: a table the release withholds takes its chart with it
    drawn = not page.is_withheld(caption, page.csv_name("site_funnel"))
    if drawn and not published_numbers(shown, ["n", "n_completed"]).isna().any().any():
        pub = _published_funnel(fp, shown, page.alpha)
        pooled = pub.tables["limits"]["pooled"].iloc[0]
        svg = page.release.memo("site_funnel_svg", lambda: figure_uri(pub.plot()))
        out.append(page.figure(svg, alt="Funnel plot of completion proportion by site against the "
                               f"number of people, with {page.level} and 99.8% control limits around the pooled rate "
                               f"({pct(pooled)}); each site's position is in the table below.",
                               caption=f"Completion by site (pooled proportion "
                                       f"{pct(pooled)}); markers show the programme model."))
    out.append(page.shown_table(shown, caption=caption, csv_name=page.csv_name("site_funnel")))
    cs = page.get_full("costs_by_site", lambda: funnel.costs(full, by="site_id"))
    if isinstance(cs, Exception):
        out.append(page.na("Costs by site", str(cs)))
    if not isinstance(cs, Exception):
        cols = [c for c in ("group", "annual_cost_gbp", "period_years", "period_cost_gbp", "n_referrals",
                            "n_started", "n_completed", "cost_per_referral", "cost_per_start",
                            "cost_per_completion", "cost_per_target_completion", "note") if c in cs.summary]
        caption = "Costs by site (GBP; whole-period ratios)"
        if page.is_withheld(caption, page.csv_name("costs_by_site")):
            out.append(page.withheld_block(caption))
        else:
            t, gone = _costs_on_flow(page, cs.summary[cols])
            out.append(page.shown_table(_costs_withheld(publish(t, cost_roles(cols), page.dc, name=caption), gone),
                                        caption=caption, csv_name=page.csv_name("costs_by_site")))
    return {"blocks": out[1:]}


def _costs_on_flow(page, t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each site's (and the programme's) contract-period counts on its participant flow as published
    (:mod:`._on_flow`), not a second rounding of the people the site pages' flows count."""
    from dapp_eval.report.sections._on_flow import COST_COLUMN_STAGES, flows, on_flow

    t = t.copy()
    gone = pd.DataFrame(False, index=t.index, columns=list(COST_COLUMN_STAGES))
    sites = set(page.full_data.sites["site_id"].astype(str))
    for i, g in zip(t.index, t["group"].astype(str)):
        flow = flows(page, g if g in sites else None) if g in sites or g == "all" else None
        for col, stage in COST_COLUMN_STAGES.items():
            if col in t:
                was = t.at[i, col]
                t.at[i, col] = on_flow(page, flow, stage, was)
                gone.at[i, col] = bool(pd.notna(was) and pd.isna(t.at[i, col]))
    return t, gone


def _costs_withheld(shown: pd.DataFrame, gone: pd.DataFrame) -> pd.DataFrame:
    """The costs table with each count whose flow total is withheld, and the cost per person over it, withheld."""
    from dapp_eval.report.sections._on_flow import withhold

    shown = shown.copy()
    for col, per in (("n_referrals", "cost_per_referral"), ("n_started", "cost_per_start"),
                     ("n_completed", "cost_per_completion")):
        if col in gone and gone[col].any():
            withhold(shown, (col, per), gone[col].to_numpy())
    return shown


def _per_person(pub: pd.DataFrame) -> pd.DataFrame:
    """Costs per referral, start and completion: the period's cost over the published count."""
    out = pd.DataFrame(index=pub.index)
    cost = pd.to_numeric(pub["period_cost_gbp"], errors="coerce")
    for c, n in (("cost_per_referral", "n_referrals"), ("cost_per_start", "n_started"),
                 ("cost_per_completion", "n_completed")):
        den = pub[n].where(pub[n] > 0)
        out[c] = cost / den
    return out


def cost_roles(cols) -> list:
    """What each column of the costs table is: costs per person divide by the published counts (issue 26)."""
    per = [(c, n) for c, n in (("cost_per_referral", "n_referrals"), ("cost_per_start", "n_started"),
                                ("cost_per_completion", "n_completed")) if c in cols]
    return [Label(*[c for c in ("group", "note") if c in cols]),
            Count(*[c for c in ("n_referrals", "n_started", "n_completed") if c in cols]),
            Value(*[c for c in ("annual_cost_gbp", "period_years", "period_cost_gbp", "cost_per_target_completion")
                    if c in cols]),
            *[Derived((c,), _per_person, inputs=(n,)) for c, n in per]]


def _published_shares(mix: pd.DataFrame, dc) -> pd.DataFrame:
    """Each site's share of each referral source from the published counts (NaN where not published: a count
    below the threshold, a small complement, or none or all of a small group)."""
    t = mix[["level", "group", "n", "n_group"]].reset_index(drop=True)
    t = t.assign(share=t["n"] / t["n_group"].where(t["n_group"] > 0))
    pub = publish(t, [Label("level", "group"), Count("n", "n_group"), Proportion("n", "n_group", estimate="share",
                                                                                  ci=None)],
                  dc, name="Referral sources by site (case mix)")
    return t.assign(share=pd.to_numeric(pub["share"], errors="coerce").to_numpy())


def published_mix_sentence(mix: pd.DataFrame | None, sites: pd.DataFrame, dc) -> str:
    """The referral-mix sentence with the shares and the standardised difference of the *published* counts
    (issue 26: the sentence's percentages and SMD, from the true shares, gave hidden counts back)."""
    from dapp_eval import formatting as fmt
    from dapp_eval.commissioner.headlines import SMD_FLAG, _size
    from dapp_eval.estimators.effect_sizes import smd_binary

    if mix is None or not len(mix):
        return ""
    sh = _published_shares(mix[mix["level"] != "missing"], dc)
    full = sh.groupby("level")["share"].apply(lambda v: v.notna().all() and len(v) > 1)
    sh = sh[sh["level"].isin(full[full].index)]
    if sh.empty:
        return ("Referral sources by site are not compared here: some of their counts are below the "
                "small-number threshold.")
    lev = sh.groupby("level")["share"].agg(lambda p: p.max() - p.min()).idxmax()
    p = sh[sh["level"] == lev].set_index("group")["share"]
    d = max(abs(smd_binary(a, b)) for i, a in enumerate(p) for b in p.iloc[i + 1:])
    names = sites.set_index("site_id")["site_name"]
    lo, hi = (f"{fmt.percent(p[g], 0)} ({names.get(g, g)})" for g in (p.idxmin(), p.idxmax()))
    source = fmt.plain_name(str(lev))
    source = source if source[:2].isupper() else source[0].lower() + source[1:]
    verb = "differ" if d >= SMD_FLAG else "are similar"
    return (f"Referral sources {verb} between sites: the share referred by {source} ranges from {lo} to {hi} "
            f"(standardised difference {d:.2f}, {_size(d)}; above {SMD_FLAG} is usually taken as a real "
            f"difference in case mix; shares and difference from the published counts).")


def _published_ranges(page, sc) -> dict[str, str]:
    """The case-mix ranges by site (partners 'not safe at all' at the first survey; police involvement the year
    before), each from the published shares of the comparison's ``mix_counts``: one sentence per figure."""
    from dapp_eval.commissioner.headlines import MIX_WORDS

    t = sc.tables.get("mix_counts")
    if t is None or t.empty:
        return {}
    shown = publish(t, sc.roles["mix_counts"], page.dc, name="Case mix by site")
    share = pd.to_numeric(shown["share"], errors="coerce")
    names = page.full_data.sites.set_index("site_id")["site_name"]
    out = {}
    for what, words in MIX_WORDS.items():
        m = (t["what"] == what).to_numpy()
        if not m.any():
            continue
        v = share[m]
        if v.isna().any() or len(v) < 2:
            out[what] = (f"{words} is not compared by site here: at some sites it rests on too few people to "
                         "publish.")
            continue
        ids = t.loc[m, "site_id"].to_numpy()
        lo, hi = int(np.argmin(v.to_numpy())), int(np.argmax(v.to_numpy()))
        out[what] = (f"{words} ranges from {fmt.percent(v.iloc[lo], 0)} ({names.get(ids[lo], ids[lo])}) to "
                     f"{fmt.percent(v.iloc[hi], 0)} ({names.get(ids[hi], ids[hi])}), from the published counts.")
    return out


def _published_intake(page, sc) -> str:
    """The intake risk score by site, from the published means and SDs (each of at least the threshold people)."""
    from dapp_eval.commissioner.headlines import SMD_FLAG, _size
    from dapp_eval.estimators.effect_sizes import smd_from_moments

    t = sc.tables.get("risk_intake")
    if t is None or len(t) < 2:
        return ""
    shown = publish(t, sc.roles["risk_intake"], page.dc, name="Risk at intake by site (case mix)")
    m, sd = (pd.to_numeric(shown[c], errors="coerce") for c in ("mean", "sd"))
    instrument = page.plan["risk"]["instrument"]
    if m.isna().any() or sd.isna().any():
        return (f"The average {instrument} score at intake is not compared by site here: at some sites it rests "
                "on too few people to publish.")
    hi, lo = int(m.idxmax()), int(m.idxmin())
    d = smd_from_moments(m[hi], sd[hi], m[lo], sd[lo])
    names = page.full_data.sites.set_index("site_id")["site_name"]
    ids = t["site_id"].to_numpy()
    return (f"Risk at intake {'differs' if abs(d) >= SMD_FLAG else 'is similar'}: the average {instrument} score "
            f"at intake among people assessed twice ranges from {m[lo]:.1f} ({names.get(ids[lo], ids[lo])}) to "
            f"{m[hi]:.1f} ({names.get(ids[hi], ids[hi])}) (standardised difference {d:.2f}, {_size(d)}).")


def case_mix(page, sc) -> dict[str, str]:
    """Each outcome's case-mix sentence: the comparison's words, with the ranges and the referral mix as the
    release publishes them (worked out once per page)."""
    def make():
        ranges = _published_ranges(page, sc)
        mix_sentence = published_mix_sentence(sc.tables.get("referral_mix"), page.full_data.sites, page.dc)
        lead = {"partner_feels_safer": ranges.get("not_safe_at_all", ""), "police_after": ranges.get("police_before", ""),
                "reliable_risk_reduction": _published_intake(page, sc)}
        return {o: " ".join(x for x in (lead.get(o, ""), str(t), mix_sentence) if x)
                for o, t in zip(sc.tables["case_mix"]["outcome"], sc.tables["case_mix"]["case_mix"])}

    return page.keep("site_case_mix", make)


def _headline_comparison(page) -> list:
    """Table by site and a dot-and-whisker chart for each headline outcome, with its case-mix sentence."""
    from dapp_eval.commissioner import headlines
    from dapp_eval.report.sections._gap import published_outcome
    from dapp_eval.report.sections._headlines import figures

    full = page.full_data
    # each site's headline figures as its own page computed them (once per release; see render.py)
    done = {sid: figures(page.release, sid) for sid in [*full.sites["site_id"], None]}
    sc = page.get_full("site_comparison", lambda: headlines.site_comparison(full, plan=page.plan, alpha=page.alpha,
                                                                            figures=done))
    if isinstance(sc, Exception):
        return [page.na("Sites side by side", str(sc))]
    mix = case_mix(page, sc)
    out = [page.h3("Sites side by side on the headline outcomes"),
           page.p(f"Each outcome by site, with its {page.level} confidence interval and the all-sites figure, computed exactly "
                  "as on each site's own report. Intervals that overlap widely mean the data cannot tell the sites "
                  "apart. Sites run different programmes and take on different people, so a difference is a "
                  "question to ask, not a ranking; the sentence under each chart says how the sites' case mix "
                  "differs.")]
    k = len(out)
    for code in SITE_OUTCOMES:
        # completion is an estimate that allows for people still attending, not numerator / denominator: withheld
        # when its completers or the others are few, as on the cards (the roles site_comparison declares)
        shown = published_outcome(page, sc, code)
        num = shown.copy()
        for c in ("estimate", "ci_lower", "ci_upper"):
            num[c] = pd.to_numeric(num[c], errors="coerce")
        name = REGISTRY[code].name
        disp = pd.DataFrame({
            "Site": shown["site_name"], "Programme model": shown["programme_model"],
            name: [fmt.percent(v) if pd.notna(v) else str(o) if isinstance(o, str) else "not available"
                   for v, o in zip(num["estimate"], shown["estimate"])],
            page.ci_label: [f"{fmt.percent(lo)} to {fmt.percent(hi)}" if pd.notna(lo) and pd.notna(hi) else ""
                       for lo, hi in zip(num["ci_lower"], num["ci_upper"])],
            "n_numerator": shown["n_numerator"], "n_denominator": shown["n"]})
        if code == "completion_rate":  # an estimate that follows people still attending, not completions / starts
            disp = disp.drop(columns="n_numerator")
        table = page.shown_table(disp, caption=f"{name} by site, with {page.level} confidence intervals",
                                 csv_name=page.csv_name(f"sites_{code}"))
        out.append(page.h3(name))
        drawn = num[num["estimate"].notna()]
        if len(drawn[drawn["site_id"] != "all"]):
            def draw(num=num, name=name):
                from dapp_eval.report.context import figure_uri

                # every site is on the chart: one whose figure is withheld is marked so, never left out
                return figure_uri(num.assign(site_name=num["site_name"].str.replace(" (synthetic)", "", regex=False))
                                  .pipe(_dot_whisker, title=name, level=page.level))
            svg = page.release.memo(f"site_comparison_{code}_svg", draw)
            sites_ = drawn[drawn["site_id"] != "all"]
            hi, lo = sites_.loc[sites_["estimate"].idxmax()], sites_.loc[sites_["estimate"].idxmin()]
            every = drawn.loc[drawn["site_id"] == "all", "estimate"]
            withheld = num.loc[num["estimate"].isna() & (num["site_id"] != "all"), "site_name"].tolist()
            alt = (f"Dot-and-whisker chart of {name.lower()} by site with {page.level} confidence intervals: highest "
                   f"{hi['site_name']} at {fmt.percent(hi['estimate'])}, lowest {lo['site_name']} at "
                   f"{fmt.percent(lo['estimate'])}"
                   + (f"; all sites {fmt.percent(every.iloc[0])}" if len(every) else "")
                   + (f"; withheld (too few people to publish safely): {', '.join(withheld)}" if withheld else "")
                   + ".")
            note = (f" Withheld, with too few people to publish safely: {', '.join(withheld)}." if withheld else "")
            out.append(page.figure(svg, alt=alt, caption=f"{name} by site (dots) with {page.level} confidence "
                                   "intervals (lines); the dashed line is all sites; the marker shape shows the "
                                   "programme model." + note, data=table))
        else:
            out.append(table)
        out.append(page.p(f"Case mix: {fmt.plain_text(mix.get(code, ''))}", cls="note"))
        if code == SITE_OUTCOMES[0]:
            k = len(out)  # the body keeps the completion rate; the other outcomes by site are one click away
    out[k:] = page.annex("Sites side by side: the other headline outcomes", out[k:],
                         what="risk reduction, partners feeling safer and police involvement by site, each with its "
                              "chart, table and case mix")
    return out


def _dot_whisker(df, *, title, level):
    from dapp_eval.analyses.plotting import dot_whisker

    ax = dot_whisker(df, title=title, xlabel=f"Percentage with {level} confidence interval")
    for t in ax.texts:  # a row without a figure: withheld by disclosure control here, not missing data
        if t.get_text() == "not available":
            t.set_text("withheld: too few people to publish safely")
    return ax


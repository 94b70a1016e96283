"""Police, MARAC and children's services before referral and after leaving the programme."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.disclosure.curves import protect_mcf_result, protect_persons_km_result
from dapp_eval.disclosure.roles import Count, Derived, Label, Model, Proportion, Value, publish
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._publish import chart_result, numbers, publish_table

TITLE = "Police, MARAC and children's services after the programme"
PLACEMENT = 'body'


def build(page) -> dict:
    from dapp_eval.analyses import followup

    out = [None]
    ba = R.before_after(page)
    if isinstance(ba, Exception):
        return {"blocks": [page.na("Follow-up", str(ba))]}
    out.append(page.p(ba.meta.get("caveat", "")))
    out.append(page.p("Only people whose whole window is covered by the linked records count; the others are "
                  "reported as not yet eligible (see the data-quality appendix), never as having no incidents. "
                  "Records of one event count once.", "note"))
    out += _before_after(page, ba)
    rm = page.get("repeat_marac", lambda: followup.repeat_marac(page.data, alpha=page.alpha))
    if isinstance(rm, Exception):
        out.append(page.na("Repeat MARAC cases", str(rm)))
    if not isinstance(rm, Exception):
        rk = [c for c in rm.summary.columns if c != "note"]
        out.append(page.table(rm.summary[rk].assign(_block=1), caption="Repeat MARAC cases (a new MARAC "
                               "referral within 12 months of the previous one, as SafeLives defines it)",
                               name="repeat_marac", label_cols=[c for c in rk if rm.summary[c].dtype == object],
                               pairs={"n_repeat": "n_marac", "n_people_repeat": "n_people_marac"},
                               group_all=["_block"], keep=("n",), drop=("_block",)))
    k = len(out)  # completers against non-completers, and every police contact: the technical annex
    out += _completers(page, followup)
    tti = page.get("time_to_incident", lambda: followup.time_to_incident(page.data, alpha=page.alpha))
    if isinstance(tti, Exception):
        out.append(page.na("Time to first police incident after leaving", str(tti)))
    if not isinstance(tti, Exception):
        # redrawn from rounded cumulative incidents and censorings (disclosure.curves)
        safe = protect_persons_km_result(tti, page.dc, name="time to first police incident after exit")
        if len(safe.tables["curves"]):
            data = page.curve_table(safe.tables["curves"], time_col="days", group_cols=("group",), step=30,
                                    unit="days_since_leaving", name="time_to_incident_chart_data",
                                    caption="Share with no police incident since leaving, every 30 days (the data "
                                            "of the chart)")
            out.append(page.figure(safe.plot(), data=data, alt="Kaplan-Meier curves of the share with no police "
                                   "incident since leaving the programme: "
                                   + page.curve_ends(safe.tables["curves"], time_col="days", label_col="group")
                                   + " (where the curves stop).",
                                   caption="Time to first police incident after leaving (Kaplan-Meier)."))
    out += _recurrent(page, followup)
    out[k:] = page.annex("Completers and non-completers; police contacts over time", out[k:],
                         what="police involvement of completers against non-completers (descriptive), time to the "
                              "first police incident and every police contact since leaving")
    return {"blocks": out[1:]}


def _before_after(page, ba) -> list:
    """The 12 months before referral against the 12 months after leaving: the table (every statistic from
    the published counts, as the analysis declares) and the chart of the outcomes whose counts are all
    published, drawn from that published table."""
    out = []
    drop = [c for c in ba.summary.columns if c in ("outcome", "note", "n_stopped", "n_started")]
    block, shown = publish_table(page, ba, caption="12 months before referral vs 12 months after leaving (unit "
                                 "column: proportions with Wilson CI, percentage points, rates per person-year, rate "
                                 "ratios; secondary outcomes Holm-adjusted)", name="followup_before_after",
                                 drop=tuple(drop))
    out.append(block)
    if shown is None:
        return out
    pub = numbers(shown)
    counts = pub[["n_with_incident", "n_events"]]
    blocked = set(shown.loc[(counts.isna() & ba.summary[["n_with_incident", "n_events"]].reset_index(drop=True)
                             .notna()).any(axis=1), "label"])
    if len(blocked) < shown["label"].nunique():
        vis = chart_result(ba, shown[~shown["label"].isin(blocked)].reset_index(drop=True))
        out.append(page.figure(vis.plot(), alt="Share of people with police, MARAC and children's services "
                               "involvement in the year before referral and the year after leaving; the numbers "
                               "are in the table above.",
                               caption="Any involvement before vs after (commissioner design)"
                                       + ("; outcomes with small numbers not drawn." if blocked else ".")))
    return out


def _completers(page, followup) -> list:
    """Completers against non-completers (descriptive), published through the publication step."""
    out = []
    cc = page.get("completers", lambda: followup.compare_completers(page.data, alpha=page.alpha))
    if isinstance(cc, Exception):
        out.append(page.na("Completers and non-completers", str(cc)))
    if not isinstance(cc, Exception):
        out.append(page.h3("Completers and non-completers (aligned windows since referral)"))
        out.append(page.p(cc.meta.get("caveat", "People who complete differ from people who leave early in ways "
                                           "that also affect their later behaviour, so this comparison is "
                                           "descriptive, not an effect of completing."), "note"))
        ck = [c for c in cc.summary.columns if c not in ("note",)]
        # the difference rows add the groups up, so one hidden count hides the whole table's counts
        caption = "Completers vs non-completers: any police involvement and rates (not a causal comparison)"
        if page.is_withheld(caption, page.csv_name("followup_completers")):
            out.append(page.withheld_block(caption))
        else:
            t = cc.summary[ck].reset_index(drop=True)
            out.append(page.shown_table(publish(t, completers_roles(t, page.dc), page.dc, name=caption),
                                        caption=caption, csv_name=page.csv_name("followup_completers")))
    return out


def _rates(pub: pd.DataFrame, true: pd.DataFrame) -> pd.DataFrame:
    """Incidents per person-year from the published number of incidents (the person-years are not a count)."""
    ev = pd.to_numeric(true["n_events"], errors="coerce").to_numpy(dtype=float)
    rate = pd.to_numeric(true["estimate"], errors="coerce").to_numpy(dtype=float)
    n_true = pd.to_numeric(true["n"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # the person-years of the published number of people (the true person-years, with the published
        # rate, gave the number of people back: 35.97 person-years = 36 people)
        py = np.where(rate > 0, ev / rate, np.nan) * pub["n"].to_numpy(dtype=float) / n_true
        new = np.where(pub["n_events"].to_numpy(dtype=float) == 0, 0.0, pub["n_events"].to_numpy(dtype=float) / py)
    return pd.DataFrame({"estimate": new})


def _difference(pub: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Completers minus non-completers after leaving: Newcombe's interval and Fisher's test on published counts."""
    from scipy import stats as st

    from dapp_eval.estimators.proportions import newcombe_diff_ci

    after = pub[(pub["period"] == "after") & (pub["measure"] == "any incident")].set_index("group")
    res = (np.nan,) * 4
    if {"completed", "did_not_complete"} <= set(after.index):
        kc, nc = after.loc["completed", ["n_with_incident", "n"]].astype(float)
        kd, nd = after.loc["did_not_complete", ["n_with_incident", "n"]].astype(float)
        shown = pd.to_numeric(after["estimate"], errors="coerce").notna().all()  # both proportions published
        if shown and not np.isnan([kc, nc, kd, nd]).any() and nc > 0 and nd > 0:
            d, lo, hi = newcombe_diff_ci(kc, nc, kd, nd, alpha=alpha)
            p = float(st.fisher_exact([[kc, nc - kc], [kd, nd - kd]])[1])
            res = (100 * d, 100 * lo, 100 * hi, p)
    return pd.DataFrame([res] * len(pub), columns=["estimate", "ci_lower", "ci_upper", "p_value"])


def completers_roles(t: pd.DataFrame, dc) -> list:
    """What each column of the completers table is (issue 26: its estimates inverted to the true counts)."""
    any_inc = (t["measure"] == "any incident").to_numpy()
    rate = (t["measure"] == "incidents per person-year").to_numpy()
    diff = t["group"].astype(str).str.contains(" - ").to_numpy()
    model = t["group"].astype(str).str.contains(" / ").to_numpy()
    sizes = t.loc[(t["period"] == "after") & any_inc, "n"]
    groups_ok = len(sizes) == 2 and bool((pd.to_numeric(sizes, errors="coerce") >= dc.threshold).all())
    stats_cols = ("estimate", "ci_lower", "ci_upper", "p_value")
    return [Label("group", "group_label", "period", "measure"), Count("n", "n_with_incident", "n_events"),
            Proportion("n_with_incident", "n", rows=any_inc),
            Derived(("estimate",), lambda pub: _rates(pub, t), inputs=("n", "n_events"), rows=rate),
            Derived(stats_cols, lambda pub: _difference(pub, dc.alpha), rows=diff, hidden_ok=True),
            Model(stats_cols, events="n_events" if groups_ok else 0, rows=model)]


def _recurrent(page, followup) -> list:
    """Police contacts since leaving, every contact: mean cumulative number per person by exit group."""
    rc = page.get("recurrent_contacts", lambda: followup.recurrent_contacts(page.data, alpha=page.alpha))
    if isinstance(rc, Exception):
        return [page.na("Police contacts since leaving", str(rc))]
    out = [page.h3("Police contacts since leaving (every contact, not only the first)")]
    # redrawn from rounded cumulative contacts and ends of follow-up, as the Kaplan-Meier curves are (issue 26:
    # the steps of the true mean cumulative function are 1 / number followed, so they counted the contacts)
    safe = protect_mcf_result(rc, page.dc, name="police contacts since leaving (mean cumulative function)")
    keep = [c for c in ("group", "months", "n_at_risk", "n_events", "estimate", "ci_lower", "ci_upper")
            if c in safe.summary]
    per = "contacts per person (mean)"  # a mean count, not a proportion: the page must not show it as a percentage
    tab = safe.summary[keep].rename(columns={"n_at_risk": "n_followed"}).assign(measure=per)
    caption = ("Mean number of police contacts per person since leaving, by exit group (people still followed, "
               f"contacts by then; {page.level} CI from the rounded counts, which does not allow for repeat "
               "contacts of one person)")
    if page.is_withheld(caption, page.csv_name("recurrent_contacts")):
        out.append(page.withheld_block(caption))
    else:
        roles = [Label("group", "months", "measure"), Count("n_followed", "n_events"),
                 Value("estimate", "ci_lower", "ci_upper")]  # read off the curve redrawn from rounded counts
        out.append(page.shown_table(publish(tab, roles, page.dc, name=caption), caption=caption,
                                    csv_name=page.csv_name("recurrent_contacts")))
    if len(safe.tables["curves"]):
        data = page.curve_table(safe.tables["curves"].assign(measure=per), time_col="days",
                                group_cols=("group", "measure"), step=30,
                                unit="days_since_leaving", name="recurrent_contacts_chart_data",
                                caption="Mean number of police contacts per person since leaving, every 30 days "
                                        "(the data of the chart)")
        out.append(page.figure(safe.plot(), data=data, alt="Step curves of the mean cumulative number of police "
                               "contacts per person since leaving the programme, by exit group: "
                               + _ends(safe.tables["curves"]) + " (where the curves stop).",
                               caption="Police contacts since leaving: mean cumulative number per person "
                                       f"(mean cumulative function, {page.level} CI)."))
    rr = rc.tables.get("rate_ratio")
    if rr is not None and len(rr) and np.isfinite(rr["estimate"].iloc[0]):
        out.append(page.p(_ratio_sentence(rr.iloc[0], page.level) + " " + str(rc.meta.get("caveat", "")), "note"))
    return out


def _ends(curves) -> str:
    """Where each drawn MCF curve ends: 'completed 64 contacts per 100 people by 655 days; ...'."""
    from dapp_eval.analyses.followup import GROUP_LABELS

    parts = []
    for g, d in curves.groupby("group", sort=False):
        last = d.sort_values("days").iloc[-1]
        parts.append(f"{GROUP_LABELS.get(g, g)} {100 * last['estimate']:.0f} contacts per 100 people by "
                     f"{last['days']:.0f} days")
    return "; ".join(parts)


def _ratio_sentence(r, level: str) -> str:
    """The LWYY rate ratio in words, as a percentage more or fewer (a ratio written 0.43 reads as a proportion)."""
    def pct(v):
        return f"{abs(100 * (v - 1)):.0f}% {'fewer' if v < 1 else 'more'}"

    return (f"Since leaving, people who completed had {pct(r['estimate'])} police contacts per year followed than "
            f"people who started but did not complete ({level} CI {pct(r['ci_lower'])} to {pct(r['ci_upper'])}; "
            "proportional rates model, intervals allowing for repeat contacts of one person).")

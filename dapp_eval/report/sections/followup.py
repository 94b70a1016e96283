"""Police, MARAC and children's services before referral and after leaving the programme."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.disclosure.curves import protect_mcf_result, protect_persons_km_result
from dapp_eval.disclosure.publish import publish_result
from dapp_eval.disclosure.roles import Count, Derived, Label, Model, Proportion, Value, publish
from dapp_eval.report.sections import _results as R
from dapp_eval.report.sections._publish import change_cells, published_paired_change

TITLE = "Police, MARAC and children's services after the programme"
PLACEMENT = 'body'


def changes_from_published(summary: pd.DataFrame, shown: pd.DataFrame, dc, alpha: float) -> pd.DataFrame:
    """The 'any incident' change rows (percentage points, Newcombe paired interval, McNemar p and Holm p)
    recomputed from the published 2x2 table of each outcome (issue 26: the change x N and its interval pinned
    the discordant pairs, 39 stopped and 6 newly involved); withheld where that table may not be shown."""
    from dapp_eval.estimators.proportions import holm

    shown = shown.copy()
    is_change = ((shown["measure"] == "any incident") & (shown["period"] == "change")).to_numpy()
    cols = [c for c in ("estimate", "ci_lower", "ci_upper", "p_value") if c in shown]
    for i in np.flatnonzero(is_change):
        if str(shown["estimate"].iloc[i]) in (dc.marker, "[c]"):
            continue
        pub = published_paired_change(dc, *change_cells(summary, shown["label"].iloc[i]), alpha)
        for c in cols:
            shown[c] = shown[c].astype(object)
            shown.iloc[i, shown.columns.get_loc(c)] = "[c]" if pub is None else pub[c]
        if pub is None:
            dc.record("12 months before referral vs 12 months after leaving", shown["label"].iloc[i], "estimate",
                      "change built on a small or unpublished 2x2 cell")
    if "p_adjusted" in shown and "role" in shown:
        p = pd.to_numeric(shown["p_value"], errors="coerce").to_numpy(dtype=float)
        sec = is_change & (shown["role"] == "secondary").to_numpy()
        adj = np.where(is_change, p, np.nan)
        adj[sec] = holm(np.where(np.isnan(p[sec]), 1.0, p[sec]))
        adj[np.isnan(p)] = np.nan
        old = shown["p_adjusted"].astype(object)
        shown["p_adjusted"] = [("[c]" if str(o) in (dc.marker, "[c]") or (ch and a != a) else a) if ch else o
                               for o, a, ch in zip(old, adj, is_change)]
    return shown


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
    """The 12 months before referral against the 12 months after leaving: the table (changes from the
    published cells) and the chart of the outcomes whose counts are all published."""
    out = []
    keep = [c for c in ("label", "measure", "period", "model", "unit", "role", "n", "n_with_incident", "n_events",
                        "person_years", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted")
            if c in ba.summary]
    # one block per outcome: if any count of it is hidden, its change and ratio rows are hidden too
    ba_shown = page.dc.table(ba.summary[keep], name="12 months before referral vs 12 months after leaving",
                             label_cols=["label", "measure", "period", "model"],
                             pairs={"n_with_incident": "n"}, group_all=["label"], keep=("n",))
    ba_shown = changes_from_published(ba.summary, ba_shown, page.dc, page.alpha)
    ba_shown = rates_from_published(ba.summary, ba_shown, page.dc)
    out.append(page.shown_table(ba_shown, caption="12 months before referral vs 12 months after leaving (unit column: "
                          "proportions with Wilson CI, percentage points, rates per person-year, rate ratios; "
                          "secondary outcomes Holm-adjusted)", csv_name=page.csv_name("followup_before_after")))
    blocked = set(ba_shown.loc[ba_shown["n_with_incident"].isin([page.dc.marker, "[c]"])
                               | ba_shown["n_events"].isin([page.dc.marker, "[c]"]), "label"])
    if len(blocked) < ba_shown["label"].nunique():
        import copy

        vis = copy.copy(ba)
        vis.summary = ba.summary[~ba.summary["label"].isin(blocked)]
        vis = publish_result(vis, page.dc, pairs={"n_with_incident": "n"})  # drawn from published values
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


def rates_from_published(summary: pd.DataFrame, shown: pd.DataFrame, dc) -> pd.DataFrame:
    """Incidents per person-year, their person-years and the rate ratios from the published counts.

    The person-years are those of the published number of people (mean follow-up per person x published
    n); each rate is published incidents / those person-years; a rate ratio is the ratio of the published
    rates. Intervals keep their width on the log scale (the model's, from the true data). Issue 26: the
    true person-years gave the number of people back (140.9 = 141 x 365/365.25), and the true rate ratio
    the numbers of incidents (0.244 = 47 / 193 beside 45 and 195).
    """
    true = summary.reset_index(drop=True)
    out = shown.reset_index(drop=True).copy()
    if len(out) != len(true) or "person_years" not in out:
        return shown
    n_t, n_p, ev_p = num(true, "n"), num(out, "n"), num(out, "n_events")
    py_t, est_t = num(true, "person_years"), num(true, "estimate")
    is_rate = (true["measure"] == "incidents per person-year").to_numpy()
    is_ratio = true["measure"].astype(str).str.startswith("rate ratio").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        py_p = py_t * n_p / n_t
        rate_p = np.where(ev_p == 0, 0.0, ev_p / py_p)
    published_rate = {}
    for i in np.flatnonzero(is_rate):
        key = (true["label"].iloc[i], true["period"].iloc[i])
        ok = np.isfinite(rate_p[i]) and np.isfinite(py_p[i])
        published_rate[key] = rate_p[i] if ok else np.nan
        _put_rate(out, i, rate_p[i] if ok else None, est_t[i], true, py_p[i] if ok else None)
    for i in np.flatnonzero(is_ratio):
        label = true["label"].iloc[i]
        before, after = published_rate.get((label, "before"), np.nan), published_rate.get((label, "after"), np.nan)
        rr = after / before if before and np.isfinite(before) and np.isfinite(after) else None
        _put_rate(out, i, rr, est_t[i], true, None)
    if (out["person_years"].astype(str) == "[c]").any() or any(np.isnan(v) for v in published_rate.values()):
        dc.record("12 months before referral vs 12 months after leaving", "", "estimate",
                  "rates and rate ratios from published counts; withheld where a count is not published")
    return out


def num(df: pd.DataFrame, c: str) -> np.ndarray:
    """Column ``c`` as numbers (a published "1,234" read as 1234; "[c]" and "<10" as NaN)."""
    return pd.to_numeric(df[c].astype(str).str.replace(",", ""), errors="coerce").to_numpy(float)


def _put_rate(out: pd.DataFrame, i: int, value, true_value: float, true: pd.DataFrame, py) -> None:
    """Row ``i``'s estimate (and interval, scaled on the log scale), or ``[c]`` when ``value`` is None."""
    cols = [c for c in ("estimate", "ci_lower", "ci_upper") if c in out]
    for c in cols + ["person_years"]:
        out[c] = out[c].astype(object)
    if value is None:
        for c in cols:
            out.iloc[i, out.columns.get_loc(c)] = "[c]"
        if pd.notna(true["person_years"].iloc[i]):
            out.iloc[i, out.columns.get_loc("person_years")] = "[c]"
        return
    scale = value / true_value if true_value else np.nan
    out.iloc[i, out.columns.get_loc("estimate")] = value
    for c in cols[1:]:
        t = pd.to_numeric(true[c].iloc[i], errors="coerce")
        out.iloc[i, out.columns.get_loc(c)] = t * scale if np.isfinite(scale) and pd.notna(t) else t
    if py is not None:
        out.iloc[i, out.columns.get_loc("person_years")] = py


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

"""The headline figures as one page publishes them: one value per figure, after disclosure control.

:func:`published` turns :func:`dapp_eval.commissioner.headlines.headline_figures` into the
rows every part of a page quotes (the "At a glance" cards, the verdict, the
headline table and its CSV, the workbook): counts rounded (or hidden) by the
page's disclosure control, proportions of two counts recomputed from the
published counts with their Wilson interval, costs per person recomputed from
the published denominators. A figure is formatted once, here, and every
other place copies the text.

The figures are computed once per release and scope; the analyses they come
from are put into the release cache under the keys the body sections use
(``sections/_results.py``), so nothing is fitted twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.commissioner.headlines import MIXED_POPULATION, REGISTRY, population_text, value_ci_texts
from dapp_eval.disclosure import protect_counts
from dapp_eval.results import level_text

#: the cards of page 1, in order (each a headline figure code; the police card shows the year before too)
CARDS = ("referrals", "starts", "completions", "completion_rate", "wait_to_start", "reliable_risk_reduction",
         "partner_feels_safer", "police_after", "cost_per_referral", "cost_per_completion")

#: figures the headline table lists (the cards plus the figures with a second base, under their own names)
TABLE = ("referrals", "referrals_in_period", "starts", "starts_in_period", "completions", "completions_in_period",
         "completion_rate", "completion_rate_followed", "wait_to_start", "reliable_risk_reduction",
         "risk_score_change", "partner_feels_safer", "police_before", "police_after", "marac_before", "marac_after",
         "cost_per_referral", "cost_per_start", "cost_per_completion")


def table_codes(plan) -> tuple[str, ...]:
    """The figures of page 1's headline table: :data:`TABLE` and those the plan adds (``headlines.extra``)."""
    extra = list((plan.get("headlines") or {}).get("extra") or [])
    unknown = [c for c in extra if c not in REGISTRY]
    if unknown:
        raise ValueError(f"analysis plan: headlines.extra names unknown figure(s) {unknown}; known: "
                         f"{', '.join(REGISTRY)}")
    return tuple(TABLE) + tuple(c for c in dict.fromkeys(extra) if c not in TABLE)


#: proportions of two counts of people (recomputed from the published counts)
_PROPORTIONS = ("completion_rate_followed", "reliable_risk_reduction", "partner_feels_safer", "police_before",
                "police_after", "marac_before", "marac_after", "children_cp_plan_at_referral",
                "children_cp_plan_12_months", "partner_support_covers_programme", "partner_safety_plan",
                "proven_reoffending_rate", "utilisation", "agency_positive_change")
#: counts of people in what may be a small group (suppressed like any count of people, not throughput)
_PEOPLE_COUNTS = ("under_18_referrals", "children_affected", "waiting_high_risk")
_DENOMINATOR = {"cost_per_referral": "referrals_in_period", "cost_per_start": "starts_in_period",
                "cost_per_completion": "completions_in_period"}
#: the page-1 caption under each card's value: the denominator in words
_DEN_WORDS = {
    "referrals": "referrals received", "starts": "people who started", "completions": "completions",
    "referrals_in_period": "referrals in the contract period", "starts_in_period": "starts in the contract period",
    "completions_in_period": "completions in the contract period",
    "completion_rate": "people who started", "completion_rate_followed": "people followed to the end",
    "wait_to_start": "people accepted", "reliable_risk_reduction": "people assessed twice",
    "risk_score_change": "people assessed twice", "partner_feels_safer": "(ex-)partners who answered both surveys",
    "police_before": "people with a full year of records", "police_after": "people with a full year of records",
    "marac_before": "people with a full year of records", "marac_after": "people with a full year of records",
    "cost_per_referral": "referrals in the contract period", "cost_per_start": "starts in the contract period",
    "cost_per_completion": "completions in the contract period",
    "under_18_referrals": "referrals", "children_affected": "children",
    "children_cp_plan_at_referral": "children with a known plan", "children_cp_plan_12_months":
        "children with a known plan", "partner_support_covers_programme": "supported (ex-)partners",
    "partner_safety_plan": "supported (ex-)partners", "proven_reoffending_rate": "people who completed",
    "utilisation": "places offered", "agency_positive_change": "referring-agency ratings",
    "waiting_high_risk": "referrals waiting",
}
HIDDEN_TEXT = "hidden (small numbers)"
#: the technical-annex part that holds the missing-exit-score sensitivity analyses (sections/risk.py)
RISK_ANNEX_TITLE = "Risk: mixed model and missing exit scores"


def _population_texts(dc, code: str, s_row: pd.Series, alpha: float, hidden: bool, completers_only: bool) -> dict:
    """Who the figure is about (with the share who completed, from published counts) and the completers-only figure."""
    out = {"population": "", "completers_text": ""}
    if hidden:
        return out
    k, n = s_row.get("n_population_completed", np.nan), s_row.get("n_population", np.nan)
    if code in MIXED_POPULATION and pd.notna(n) and n:
        p = dc.proportion(k, n, name="headline figures", label=f"{code}: share who completed", alpha=alpha)
        out["population"] = (population_text(code, float(str(p["k"]).replace(",", "")),
                                             float(str(p["n"]).replace(",", "")))
                             if p is not None else population_text(code, k, n, share_shown=False))
    else:
        out["population"] = population_text(code)
    cv, cn = s_row.get("completers_value", np.nan), s_row.get("completers_n_denominator", np.nan)
    if not completers_only or pd.isna(cv) or pd.isna(cn):
        return out
    level = f"{100 * (1 - alpha):g}% CI"
    f = REGISTRY[code].format
    if f == "percent":
        p = dc.proportion(s_row["completers_n_numerator"], cn, name="headline figures",
                          label=f"{code}: completers only", alpha=alpha)
        if p is None:
            out["completers_text"] = "Completers only: hidden (small numbers)"
        else:
            out["completers_text"] = (f"Completers only: {fmt.format_value(p['estimate'], f)} ({level} "
                                      f"{fmt.format_value(p['ci_lower'], f)} to {fmt.format_value(p['ci_upper'], f)}; "
                                      f"{p['k']} of {p['n']})")
    elif not dc.is_small(cn):
        out["completers_text"] = (f"Completers only: {fmt.format_value(cv, f)} ({level} "
                                  f"{s_row['completers_ci_lower']:+.1f} to {s_row['completers_ci_upper']:+.1f}; "
                                  f"n = {fmt.count(dc.rounded(cn))})")
    return out


def figures(release, site: str | None):
    """``headline_figures`` for one scope, once per release (an AnalysisError is returned, not raised)."""
    from dapp_eval.commissioner import headlines

    def run():
        res = headlines.headline_figures(release.data, site=site, plan=release.plan, alpha=release.alpha,
                                         codes=list(table_codes(release.plan)))
        _prime(release, site, res.model)
        return res

    return release.result(site, "headline_figures", run)


def adopt(release, site: str | None, res) -> None:
    """Keep ``headline_figures`` computed elsewhere (a worker process of the release) as if :func:`figures` had run."""
    release._cache.setdefault((site, "headline_figures"), res)
    if not isinstance(res, Exception):
        _prime(release, site, res.model)


def _prime(release, site, sources: dict) -> None:
    """Give the body sections the analyses the headline figures already ran (same function, same arguments)."""
    keys = {"costs": "costs", "completion_rate": "completion_None", "waiting_times": "wait_assessment_to_start",
            "risk_change": "risk_change", "feeling_safe": "feeling_safe", "before_after": "before_after",
            "cascade": "cascade"}  # each run at the plan's alpha, as the body sections run them
    for src, key in keys.items():
        if src in sources:
            release._cache.setdefault((site, key), sources[src])


def _count(dc, v, kind):
    return None if v is None or pd.isna(v) else dc.rounded(v, kind=kind)


def _publish_row(dc, r: pd.Series, alpha: float, period_cost: float | None) -> dict:
    """One figure after disclosure control: value, interval and counts as published (NaN = not shown)."""
    code, f = r["code"], REGISTRY[r["code"]].format
    out = {"code": code, "value": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "n_numerator": np.nan,
           "n_denominator": np.nan, "hidden": False}
    if pd.isna(r["value"]):
        return out
    if f == "count":
        v = _count(dc, r["value"], "people" if code in _PEOPLE_COUNTS else "throughput")
        out.update(value=v if v is not None else np.nan, n_numerator=v if v is not None else np.nan,
                   hidden=v is None)
        return out
    if code in _PROPORTIONS:
        p = dc.proportion(r["n_numerator"], r["n_denominator"], name="headline figures", label=code, alpha=alpha)
        if p is None:
            out["hidden"] = True
            return out
        k, n = (int(str(p[x]).replace(",", "")) for x in ("k", "n"))
        out.update(value=p["estimate"], ci_lower=p["ci_lower"], ci_upper=p["ci_upper"], n_numerator=k,
                   n_denominator=n)
        return out
    if code == "completion_rate":
        k, n = r["n_numerator"], r["n_denominator"]
        if dc.is_small(k) or dc.is_small(n - k):
            out["hidden"] = True
            return out
        # an estimate that follows people still attending: no numerator is shown, so that no one divides
        # completions by starts (the plain ratio the registry says not to quote)
        out.update(value=r["value"], ci_lower=r["ci_lower"], ci_upper=r["ci_upper"],
                   n_denominator=dc.rounded(n, kind="throughput"))
        return out
    if f == "gbp":
        n = _count(dc, r["n_denominator"], "throughput")
        if not n or period_cost is None:
            out["hidden"] = not n
            return out
        out.update(value=round(period_cost / n, 2), n_denominator=n)
        return out
    # a median wait or an average change: an estimate about people; shown when its group is not small
    n = r["n_denominator"]
    if dc.is_small(n):
        out["hidden"] = True
        return out
    out.update(value=r["value"], ci_lower=r["ci_lower"], ci_upper=r["ci_upper"], n_denominator=dc.rounded(n))
    return out


def _texts(row: dict, alpha: float = 0.05) -> dict:
    code, f = row["code"], REGISTRY[row["code"]].format
    level = f"{level_text(alpha)} CI"  # the plan's alpha
    if row["hidden"]:
        return {"value_text": HIDDEN_TEXT, "ci_text": "", "n_text": ""}
    if pd.isna(row["value"]):
        return {"value_text": "not available", "ci_text": "", "n_text": ""}
    v, ci = value_ci_texts(row["value"], row["ci_lower"], row["ci_upper"], f, level)
    k, n = row["n_numerator"], row["n_denominator"]
    words = _DEN_WORDS[code]
    if f == "count":
        n_text = ""
    elif pd.notna(k) and pd.notna(n) and f == "percent" and code != "completion_rate":  # an estimate, not k / n
        n_text = f"{fmt.count(k)} of {fmt.count(n)} {words}"
    elif pd.notna(n):
        n_text = f"n = {fmt.count(n)} {words}"
    else:
        n_text = ""
    return {"value_text": v, "ci_text": ci, "n_text": n_text}


def published(page, site: str | None = "page") -> pd.DataFrame | Exception:
    """The headline figures of ``site`` (default: the page's own scope) as this page publishes them.

    Columns: ``code``, ``name``, ``value``, ``ci_lower``, ``ci_upper``, ``n_numerator``,
    ``n_denominator`` (published counts), ``hidden``, ``value_text``, ``ci_text``, ``n_text``,
    ``period``, ``note``; the verdict reads the numeric columns, the cards and the table the texts.
    """
    scope = page.site if site == "page" else site
    return page.keep(f"published_headlines_{scope}", lambda: _published(page, scope))


def _published(page, scope):
    res = figures(page.release, scope)
    if isinstance(res, Exception):
        return res
    if scope == page.site:
        page.used.setdefault(f"{scope}/headline_figures", res)
    s = res.summary.set_index("code")
    period_cost = {}
    for code, den in _DENOMINATOR.items():
        v, n = s.loc[code, "value"], s.loc[den, "value"]
        period_cost[code] = float(v * n) if pd.notna(v) and pd.notna(n) and n else None
    rows = []
    for code in table_codes(page.plan):
        r = s.loc[code].copy()
        r["code"] = code
        row = _publish_row(page.dc, r, page.alpha, period_cost.get(code))
        row.update(_texts(row, page.alpha))
        row.update(_population_texts(page.dc, code, s.loc[code], page.alpha, bool(row["hidden"]),
                                     bool(page.plan["headlines"]["completers_only"])))
        row.update(name=REGISTRY[code].name, period=fmt.plain_text(str(s.loc[code, "period"])),
                   # an analysis's message may print counts ("221 people referred; never started: 127")
                   note=(protect_counts(str(s.loc[code, "note"]), page.dc) if not row["hidden"]
                         else "too few people to publish safely"))
        rows.append(row)
    return pd.DataFrame(rows)


def full_text(row) -> str:
    """The value with its interval, as every page writes it: '81% (95% CI 78% to 84%)'."""
    return f"{row['value_text']} ({row['ci_text']})" if row["ci_text"] else row["value_text"]

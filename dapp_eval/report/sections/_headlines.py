"""The headline figures as one page publishes them: one value per figure, after disclosure control.

:func:`published` turns :func:`dapp_eval.commissioner.headlines.headline_figures` into the
rows every part of a page quotes (the "At a glance" cards, the verdict, the
headline table and its CSV, the workbook). The figures go through the
release's one publication step with the roles
:func:`dapp_eval.commissioner.headlines.to_publish` declares: counts rounded
(or hidden), proportions of two counts recomputed from the published counts
with their Wilson interval at the plan's alpha, costs per person from the
published denominators, the share who completed and the completers-only
figure likewise. A figure is formatted once, here, and every other place
copies the text.

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


def _num(v) -> float:
    """A published cell as a number (NaN where withheld or empty)."""
    return float(v) if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) else np.nan


def _population_texts(code: str, pub: pd.Series, level: str, hidden: bool, completers_only: bool) -> dict:
    """Who the figure is about (with the published share who completed) and the completers-only figure, from the
    figure's published row."""
    out = {"population": "", "completers_text": ""}
    if hidden:
        return out
    share = _num(pub["population_share"])
    if code in MIXED_POPULATION and pd.notna(pub["n_population"]) and str(pub["n_population"]) not in ("", "0"):
        out["population"] = (population_text(code, share, 1.0) if pd.notna(share)
                             else population_text(code, 1, 1, share_shown=False))
    else:
        out["population"] = population_text(code)
    if not completers_only or pd.isna(pub["completers_n_denominator"]):
        return out
    f = REGISTRY[code].format
    v, lo, hi = (_num(pub[c]) for c in ("completers_value", "completers_ci_lower", "completers_ci_upper"))
    if any(pd.isna(x) for x in (v, lo, hi)):
        out["completers_text"] = ("Completers only: hidden (small numbers)"
                                  if str(pub["completers_value"]) == "[c]" or f == "percent" else "")
    elif f == "percent":
        out["completers_text"] = (f"Completers only: {fmt.format_value(v, f)} ({level} {fmt.format_value(lo, f)} to "
                                  f"{fmt.format_value(hi, f)}; {pub['completers_n_numerator']} of "
                                  f"{pub['completers_n_denominator']})")
    else:
        out["completers_text"] = (f"Completers only: {fmt.format_value(v, f)} ({level} {lo:+.1f} to {hi:+.1f}; "
                                  f"n = {pub['completers_n_denominator']})")
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


def _figure_row(code: str, pub: pd.Series) -> dict:
    """One figure as published: value, interval and counts as numbers (NaN = not shown), and whether it is
    hidden (its value, or the count it is, withheld)."""
    kind = pub["kind"]
    value = _num(pub["value"])
    hidden = str(pub["value"]) == "[c]" or (kind == "count" and str(pub["n_value"]).startswith("<"))
    out = {"code": code, "value": value, "ci_lower": _num(pub["ci_lower"]), "ci_upper": _num(pub["ci_upper"]),
           "n_numerator": _count_of(pub["n_value"] if kind == "count" else pub["n_numerator"]),
           "n_denominator": _count_of(pub["n_denominator"]), "hidden": bool(hidden)}
    if hidden:
        out.update(value=np.nan, ci_lower=np.nan, ci_upper=np.nan, n_numerator=np.nan, n_denominator=np.nan)
    elif kind in ("estimate", "cost", "summary", "median"):
        # an estimate that follows people still attending shows no numerator, so that no one divides completions
        # by starts (the plain ratio the registry says not to quote); a cost or a summary has none
        out["n_numerator"] = np.nan
    if kind == "count":
        out["n_denominator"] = np.nan
    return out


def _count_of(v) -> float:
    """A published count as a number (NaN where withheld)."""
    return float(str(v).replace(",", "")) if str(v).replace(",", "").replace(".", "").isdigit() else np.nan


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
    from dapp_eval.commissioner.headlines import to_publish
    from dapp_eval.disclosure.roles import publish

    res = figures(page.release, scope)
    if isinstance(res, Exception):
        return res
    if scope == page.site:
        page.used.setdefault(f"{scope}/headline_figures", res)
    codes = table_codes(page.plan)
    t, roles = to_publish(res.summary, codes, curves=curves_of(res.model))
    t, gone = _period_counts_on_flow(page, scope, t)
    # the same on every page that shows this scope's figures: published once per release
    shown = page.publish_once(("headline figures", id(res)), lambda dc: _withheld(_flow_counts(page, res, publish(
        t, roles, dc, name="headline figures", pairs={"n_numerator": "n_denominator"})), gone))
    s = res.summary.set_index("code")
    level = f"{level_text(page.alpha)} CI"
    rows = []
    for code, pub in zip(codes, (r for _, r in shown.iterrows())):
        row = _figure_row(code, pub)
        row.update(_texts(row, page.alpha))
        row.update(_population_texts(code, pub, level, bool(row["hidden"]),
                                     bool(page.plan["headlines"]["completers_only"])))
        row.update(name=REGISTRY[code].name, period=fmt.plain_text(str(s.loc[code, "period"])),
                   note=_note(code, row, str(s.loc[code, "note"]), page.dc))
        rows.append(row)
    return pd.DataFrame(rows)


def _period_counts_on_flow(page, scope, t: pd.DataFrame) -> tuple[pd.DataFrame, set]:
    """The contract period's referrals, starts and completions (and the costs per person over them) on the
    participant flow as published (:mod:`._on_flow`): not a second rounding of the flow's people. Also the
    figures to show as withheld (their flow total is withheld)."""
    from dapp_eval.commissioner.headlines import COST_DENOMINATORS
    from dapp_eval.report.sections._on_flow import PERIOD_STAGES, flows, on_flow

    if not t["code"].isin(list(PERIOD_STAGES)).any():
        return t, set()
    flow = flows(page, scope)
    t = t.copy()
    shown, gone = {}, set()
    for i, code in zip(t.index, t["code"]):
        if code in PERIOD_STAGES:
            was = t.at[i, "n_value"]
            shown[code] = t.at[i, "n_value"] = on_flow(page, flow, PERIOD_STAGES[code], was)
            if pd.notna(was) and pd.isna(shown[code]):
                gone.add(code)
    for i, code in zip(t.index, t["code"]):
        if code in COST_DENOMINATORS and COST_DENOMINATORS[code] in shown and pd.notna(t.at[i, "n_denominator"]):
            t.at[i, "n_denominator"] = shown[COST_DENOMINATORS[code]]
            if COST_DENOMINATORS[code] in gone:
                gone.add(code)
    return t, gone


def _withheld(shown: pd.DataFrame, codes: set) -> pd.DataFrame:
    """The headline figures ``codes`` shown as withheld (a contract-period count whose flow total is withheld,
    and the costs per person over it)."""
    from dapp_eval.report.sections._on_flow import withhold

    if codes:
        shown = shown.copy()
        withhold(shown, ("value", "n_value", "n_denominator"), shown["code"].isin(list(codes)))
    return shown


#: the headline counts that are the participant flow's own totals
_FLOW_STAGES = {"referrals": ("referred",), "starts": ("started",), "completions": ("completed",)}


def _flow_counts(page, res, shown: pd.DataFrame) -> pd.DataFrame:
    """The published headline figures with the referrals, starts and completions of the participant flow as
    it is published (its totals are sums of its protected stages): a headline count rounded again on its own
    gave a second rounding of the same people (55 beside the flow's 60 narrowed the people who started to 56
    or 57). A total the flow withholds is withheld here."""
    from dapp_eval.analyses import flow_published as fp
    from dapp_eval.disclosure.roles import publish
    from dapp_eval.report.sections._publish import quiet

    cascade = (res.model or {}).get("cascade")
    if cascade is None or "flow" not in getattr(cascade, "tables", {}):
        return shown
    flow, roles = page.declared(cascade, "flow")
    pub = publish(flow, roles, quiet(page.dc), name="participant flow")  # read here, published (and logged) elsewhere
    shown = shown.copy()
    for i, code in enumerate(shown["code"]):
        if code in _FLOW_STAGES:
            v = fp.stage_value(pub, _FLOW_STAGES[code])
            shown.at[shown.index[i], "n_value"] = shown.at[shown.index[i], "value"] = (
                float(v) if np.isfinite(v) else "[c]")
    return shown


#: the sources of figures read off a curve rebuilt from rounded counts (figure code -> key of its curve's counts
#: in ``headline_figures(...).model``)
CURVE_SOURCES = {"completion_rate": "completion_curve", "wait_to_start": "wait_curve"}


def curves_of(model: dict | None) -> dict:
    """The curves (per-time counts, time read) of the figures read off a curve, from a ``headline_figures`` model."""
    return {code: model[key] for code, key in CURVE_SOURCES.items() if key in (model or {})}


def _note(code: str, row: dict, note: str, dc) -> str:
    """A figure's note as published: a median says "not reached" when it is not reached on the published curve."""
    from dapp_eval.commissioner.headlines import CURVE_MEDIANS, MEDIAN_NOT_REACHED

    if row["hidden"]:
        return "too few people to publish safely"
    if code in CURVE_MEDIANS:
        return MEDIAN_NOT_REACHED if pd.isna(row["value"]) else ""
    return protect_counts(note, dc)  # an analysis's message may print counts ("221 people referred; never ...")


def full_text(row) -> str:
    """The value with its interval, as every page writes it: '81% (95% CI 78% to 84%)'."""
    return f"{row['value_text']} ({row['ci_text']})" if row["ci_text"] else row["value_text"]

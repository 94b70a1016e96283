"""At a glance (page 1): the verdict in plain words, the headline cards, Project Mirabal's measures.

Every number comes from the page's published headline figures
(:mod:`._headlines`: one value per figure, after disclosure control), so the
verdict, each card, the headline table and its CSV say the same thing. A
site report shows the all-sites figure beside its own on every card; each
card links to its definition at the end of the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.commissioner.headlines import REGISTRY
from dapp_eval.disclosure import how_figures_are_protected
from dapp_eval.report.sections import _headlines as H
from dapp_eval.report.sections.trends import YEAR_ANCHOR

TITLE = "At a glance"
PLACEMENT = "body"


def _comparators(page) -> dict[str, str]:
    comp = getattr(page.release, "comparators", None)
    if comp is None or len(comp) == 0:
        return {}
    out: dict[str, list[str]] = {}
    for r in comp.itertuples(index=False):
        out.setdefault(r.figure, []).append(f"{r.value_text} ({r.source}, {r.year}{'; ' + r.note if r.note else ''})")
    return {k: "; ".join(v) for k, v in out.items()}


def _verdict_input(pub: pd.DataFrame, every: pd.DataFrame | None, comps: dict) -> pd.DataFrame:
    """The published figures in the shape verdict_paragraphs reads (hidden figures as not available)."""
    v = pub[["code", "value", "ci_lower", "ci_upper", "n_numerator", "n_denominator", "note", "period"]].copy()
    if every is not None:
        v["all_sites_value"] = v["code"].map(every.set_index("code")["value"])
    v["comparators"] = v["code"].map(lambda c: comps.get(c, ""))
    return v


def _card(page, row, every_row, comps: dict, police_before=None) -> dict:
    code = row["code"]
    value = H.full_text(row)
    if code == "police_after" and police_before is not None and not police_before["hidden"] \
            and pd.notna(police_before["value"]):
        value = f"{value}; the year before: {police_before['value_text']}"
    card = {"measure": REGISTRY[code].name, "code": code, "anchor": f"def-{code.replace('_', '-')}",
            "value": value, "value_text": row["value_text"], "ci_text": row["ci_text"],
            "denominator": row["n_text"], "reading": REGISTRY[code].definition, "all_sites": "",
            "comparator": comps.get(code, ""), "population": row.get("population", ""),
            "completers": row.get("completers_text", ""), "sensitivity": None,
            # page 1 is short: the card's name links to its definition (numerator, denominator, period) in the annex
            "short": True}
    if code in ("reliable_risk_reduction", "risk_score_change") and not row["hidden"] and pd.notna(row["value"]):
        from dapp_eval.report.format import slug

        card["sensitivity"] = {"href": "#annex-" + slug(H.RISK_ANNEX_TITLE).replace("_", "-"),
                               "text": "How people without an exit score could change this (sensitivity analyses, "
                                       "technical annex)"}
    if code == "completion_rate" and "pooled" in str(row.get("note", "")):
        from dapp_eval.commissioner.verdict import completion_horizon

        # the scope's definition as computed: one horizon for every planned length
        card["population"] = f"{card['population']}; completed {completion_horizon(row)}".lstrip("; ")
    if every_row is not None:
        card["all_sites"] = f"All sites: {H.full_text(every_row)}"
    page.kpis.append(card)
    return card


def _headline_table(page, pub: pd.DataFrame, every: pd.DataFrame | None) -> dict:
    t = pd.DataFrame({"Figure": pub["name"], "Value": pub["value_text"], page.ci_label: pub["ci_text"],
                      "n_numerator": pub["n_numerator"], "n_denominator": pub["n_denominator"],
                      "Period": pub["period"]})
    if every is not None:
        t["All sites"] = every["value_text"].to_numpy()
        t[f"All sites {page.ci_label}"] = every["ci_text"].to_numpy()
    t["How to quote it"] = [REGISTRY[c].how_to_quote for c in pub["code"]]
    # counts are already published (rounded / hidden) in _headlines: the table is shown as it is
    t["n_numerator"] = [fmt.count(v) if pd.notna(v) else "" for v in t["n_numerator"]]
    t["n_denominator"] = [fmt.count(v) if pd.notna(v) else "" for v in t["n_denominator"]]
    return page.shown_table(t, caption="Headline figures: the one value of each figure, as every part of this "
                                       "report quotes it", csv_name=page.csv_name("headline_figures"))


def build(page) -> dict:
    from dapp_eval.commissioner.verdict import mirabal_measures, verdict_paragraphs

    protection = how_figures_are_protected(page.dc.threshold, page.dc.base)
    pub = H.published(page)
    if isinstance(pub, Exception):
        return {"verdict": [], "cards": [], "table": None, "protection": protection,
                "na": str(pub), "site": page.site, "level": page.level, "more": []}
    every = None
    if page.site is not None:
        every = H.published(page, site=None)
        every = None if isinstance(every, Exception) else every
    comps = _comparators(page)
    ver = verdict_paragraphs(_verdict_input(pub, every, comps), alpha=page.alpha)
    by = pub.set_index("code", drop=False)
    ev = every.set_index("code", drop=False) if every is not None else None
    cards = [_card(page, by.loc[c], ev.loc[c] if ev is not None else None, comps,
                   police_before=by.loc["police_before"] if c == "police_after" else None) for c in H.CARDS]
    mm = mirabal_measures(_verdict_input(pub, None, {}).assign(value=lambda d: d["value"].astype(float)))
    mirabal = [{"no": int(r.measure_no), "measure": r.measure, "can": r.can_say, "cannot": r.cannot_say}
               for r in mm.itertuples(index=False)]
    table = _headline_table(page, pub, every)
    # the full measures and the full protection box are analyst's reading: in the technical annex, linked
    more = page.annex(MIRABAL_TITLE, [{"kind": "mirabal", "rows": mirabal}], what="what these data can and cannot say "
                      "about each of Project Mirabal's six measures of success")
    more += page.annex("How figures are protected, in full", [page.p(protection)],
                       what="how figures are protected, in full")
    more = [dict(more[0], text="What these data can and cannot say on each of Project Mirabal's measures",
                 title="technical annex"), dict(more[1], text="How figures are protected", title="in full")]
    more.insert(0, {"kind": "more", "text": "Is it improving this year? Higher, lower or no clear change",
                    "href": f"#{YEAR_ANCHOR}", "title": "This year against last"})
    more.insert(1, {"kind": "more", "text": "Value for money", "href": "#value-for-money",
                    "title": "costs per outcome, and how to add a benchmark"})
    if page.site is not None and page.full_data.sites["site_id"].nunique() > 1:
        more.insert(0, {"kind": "more", "text": "Is this site's gap real?", "href": "#site-gap",
                        "title": "each figure against the other sites combined"})
    # page 1 stays short (issue 29: about 600 words): the verdict in short and the cost are read first; the sentence
    # on each figure, with its caveats, is one click away (the cards below give the same figures)
    short = ver["topic"].isin(["in_short", "cost"])
    return {"verdict": list(ver.loc[short, "text"]), "verdict_more": list(ver.loc[~short, "text"]), "cards": cards, "protection": _short_protection(protection),
            "table": table, "na": "", "site": page.site, "level": page.level, "which": _which_to_quote(by),
            "more": more}


MIRABAL_TITLE = "Project Mirabal's measures of success: what these data can and cannot say"


def _short_protection(full: str) -> str:
    """The first two sentences of the protection box (threshold, rounding); the rest is linked."""
    return ". ".join(full.split(". ")[1:3]) + "."


def _which_to_quote(by: pd.DataFrame) -> str:
    """The sentence that says which of two bases to quote (all completions vs those in the contract period)."""
    c, cp = by.loc["completions"], by.loc["completions_in_period"]
    if pd.isna(c["value"]) or pd.isna(cp["value"]) or np.isclose(c["value"], cp["value"]):
        return ("Each figure is defined once, at the end of this report; quote the completion rate for how many "
                "people complete.")
    return (f"Two completion counts: {c['value_text']} completions in all (to the extract date) and "
            f"{cp['value_text']} in the contract period (the basis of the costs). For how many people complete, "
            "quote the completion rate.")

"""Plain-English verdict paragraphs, written from the headline figures.

Nothing is computed here: every number comes from the table that
:func:`dapp_eval.commissioner.headlines.headline_figures` returns (or
:func:`~dapp_eval.commissioner.headlines.site_and_all_sites`), so the words and the cards
always agree. The wording is cautious where the evidence is:

- how sure: keyed on the width of the 95% confidence interval (a percentage
  figure whose interval spans at most 10 percentage points is stated plainly;
  up to 25 points is "roughly", with the range; wider, or fewer than
  :data:`FEW` people, is "too few people to be sure");
- what kind of evidence: with no comparison group (the usual design), the
  opening paragraph says so once (each paragraph says it when there is no
  opening paragraph);
- one completion figure: the completion rate is never put beside a ratio of
  counts (completions / starts), and its horizon is named as computed.

:func:`mirabal_measures` says, for each of Project Mirabal's six measures of
success, what these data can and cannot say.

Examples
--------
>>> import pandas as pd
>>> h = pd.DataFrame([{"code": "reliable_risk_reduction", "value": 0.288, "ci_lower": 0.254,
...                    "ci_upper": 0.324, "n_numerator": 186, "n_denominator": 646, "note": ""}])
>>> print(verdict_paragraphs(h).set_index("topic").loc["risk", "text"])
Risk: a reliable reduction in risk for about 3 in 10 of those assessed twice (29%, 95% CI 25% to 32%; 646 people).
"""

from __future__ import annotations

import re

import pandas as pd

from dapp_eval import formatting as fmt
from dapp_eval.results import check_alpha, level_text

__all__ = ["FEW", "MIRABAL", "certainty", "completion_horizon", "mirabal_measures", "verdict_paragraphs"]

#: below this many people a figure is always "too few to be sure"
FEW = 30
#: interval widths (proportion scale) that separate firm / rough / very uncertain wording
FIRM_WIDTH, ROUGH_WIDTH = 0.10, 0.25

#: Project Mirabal's six measures of success (Kelly & Westmarland 2015)
MIRABAL = {
    1: "An improved relationship between the man and his (ex-)partner, built on respect and communication",
    2: "Expanded 'space for action' for (ex-)partners: a restored voice, able to make choices, improved wellbeing",
    3: "Safety and freedom from violence and abuse for women and children",
    4: "Safe, positive and shared parenting",
    5: "Men's awareness of self and others, including the impact of their abuse",
    6: "Safer, healthier childhoods in which children feel heard and cared about",
}


def certainty(row) -> str:
    """How sure a figure is: "firm", "rough", "very uncertain" or "no interval".

    Examples
    --------
    >>> certainty({"value": 0.29, "ci_lower": 0.25, "ci_upper": 0.32, "n_denominator": 646})
    'firm'
    >>> certainty({"value": 0.70, "ci_lower": 0.48, "ci_upper": 0.85, "n_denominator": 20})
    'very uncertain'
    """
    lo, hi, n = row.get("ci_lower"), row.get("ci_upper"), row.get("n_denominator")
    if n is not None and pd.notna(n) and n < FEW:
        return "very uncertain"
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "no interval"
    w = float(hi) - float(lo)
    return "firm" if w <= FIRM_WIDTH else "rough" if w <= ROUGH_WIDTH else "very uncertain"


def _rows(headlines: pd.DataFrame, alpha: float = 0.05) -> dict[str, dict]:
    need = {"code", "value"}
    missing = need - set(headlines.columns)
    if missing:
        raise ValueError(f"the headline table has no column(s) {sorted(missing)}: pass headline_figures(...).summary")
    level = level_text(alpha)
    return {r["code"]: {**r, "level": level} for r in headlines.to_dict("records")}


def _ok(r) -> bool:
    return r is not None and pd.notna(r.get("value"))


def _pct_ci(r) -> str:
    if pd.notna(r.get("ci_lower")) and pd.notna(r.get("ci_upper")):
        return f"{fmt.percent(r['value'])}, {r['level']} CI {fmt.percent(r['ci_lower'])} to {fmt.percent(r['ci_upper'])}"
    return fmt.percent(r["value"])


def _ci_only(r) -> str:
    if pd.notna(r.get("ci_lower")) and pd.notna(r.get("ci_upper")):
        return f" ({r['level']} CI {fmt.percent(r['ci_lower'])} to {fmt.percent(r['ci_upper'])})"
    return ""


def _people(r) -> str:
    n = r.get("n_denominator")
    return f"{fmt.count(n)} {'person' if n == 1 else 'people'}" if pd.notna(n) else ""


def _share(r) -> str:
    """'about 3 in 10' / 'roughly 3 in 10' / 'perhaps ...' by how sure the figure is."""
    c = certainty(r)
    words = fmt.in_n_in_10(r["value"])
    if c == "rough":
        return words.replace("about ", "roughly ")
    if c == "very uncertain":
        return words.replace("about ", "perhaps ")
    return words


def _hedge(r) -> str:
    c = certainty(r)
    if c == "rough":
        return " The figure is uncertain: the data are consistent with anything from " \
               f"{fmt.percent(r['ci_lower'])} to {fmt.percent(r['ci_upper'])}."
    if c == "very uncertain":
        rng = (f" anything from {fmt.percent(r['ci_lower'])} to {fmt.percent(r['ci_upper'])} is consistent with "
               "the data" if pd.notna(r.get("ci_lower")) and pd.notna(r.get("ci_upper")) else "")
        return f" There are too few people to be sure{':' if rng else '.'}{rng}{'.' if rng else ''}"
    return ""


def _beside(r) -> str:
    """' (all sites: 81%)' for a site report; comparators the user supplied."""
    from dapp_eval.commissioner.headlines import REGISTRY

    out = ""
    if "all_sites_value" in r and pd.notna(r.get("all_sites_value")):
        f = REGISTRY[r["code"]].format if r.get("code") in REGISTRY else "percent"
        out += f" All sites: {fmt.format_value(r['all_sites_value'], f)}."
    if r.get("comparators"):
        out += f" Published figure for comparison: {r['comparators']}."
    return out


def _not_available(name: str, r) -> str:
    note = (r or {}).get("note") or "the data do not support it"
    return f"{name}: not available ({note})."


_SHORT_NAMES = {"completion_rate": "completion", "reliable_risk_reduction": "risk reduction",
                "partner_feels_safer": "partner safety", "police_after": "police involvement"}


def _in_short(rows: dict, comparison_group: bool) -> str:
    """The opening paragraph: is it working, compared with what, and how sure."""
    parts = []
    r = rows.get("completion_rate")
    if _ok(r):
        parts.append(f"{_share(r)} of the people who started completed the programme")
    r = rows.get("reliable_risk_reduction")
    if _ok(r):
        parts.append(f"risk fell reliably for {_share(r)} of those assessed twice")
    r = rows.get("partner_feels_safer")
    if _ok(r):
        parts.append(f"{_share(r)} (ex-)partners who answered both surveys felt safer")
    a, b = rows.get("police_after"), rows.get("police_before")
    if _ok(a) and _ok(b):
        word = "lower" if a["value"] < b["value"] else "higher" if a["value"] > b["value"] else "the same"
        parts.append(f"police involvement in the year after leaving was {word} than in the year before referral "
                     f"({fmt.percent(b['value'])}, then {fmt.percent(a['value'])})")
    if not parts:
        return ""
    text = "In short: " + "; ".join(parts) + "."
    if comparison_group:
        text += " These changes are compared with a matched comparison group of people who did not take part."
    else:
        supplied = any(r.get("comparators") for r in rows.values())
        text += (" Compared with what: only with the same people before the programme"
                 + (", and with the published figures supplied" if supplied else "")
                 + ". There is no comparison group, so these are changes seen alongside the programme, not proof "
                   "that it caused them.")
    unsure = [name for code, name in _SHORT_NAMES.items()
              if _ok(rows.get(code)) and certainty(rows[code]) in ("rough", "very uncertain")]
    firm = [name for code, name in _SHORT_NAMES.items() if _ok(rows.get(code)) and certainty(rows[code]) == "firm"]
    if firm:
        text += f" How sure: the {_join(firm)} figure{'s are' if len(firm) > 1 else ' is'} based on enough people to " \
                "be fairly precise"
        text += f"; the {_join(unsure)} figure{'s are' if len(unsure) > 1 else ' is'} less certain." if unsure else "."
    elif unsure:
        text += f" How sure: the {_join(unsure)} figure{'s are' if len(unsure) > 1 else ' is'} uncertain (few people)."
    return text[0].upper() + text[1:]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def verdict_paragraphs(headlines: pd.DataFrame, *, comparison_group: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """The verdict, one paragraph per topic, from a headline-figures table.

    Parameters
    ----------
    headlines : DataFrame
        ``headline_figures(...).summary`` (``code``, ``value``, ``ci_lower``, ``ci_upper``,
        ``n_numerator``, ``n_denominator``, ``note``); the ``all_sites_value`` column of
        ``site_and_all_sites`` and a ``comparators`` column
        (:func:`dapp_eval.commissioner.comparators.attach_comparators`) are used when present.
    comparison_group : bool
        True only when the outcomes were compared with a matched comparison group; otherwise every
        change is said to be possibly one that would have happened anyway.
    alpha : float, default 0.05
        The level the intervals were computed at (the plan's); the text names it ('95% CI').

    Returns
    -------
    DataFrame
        ``topic`` (in_short: is it working, compared with what, how sure; then engagement, risk,
        safety, police, cost) and ``text``; topics without a figure are left out, a figure that could
        not be computed says so.

    Examples
    --------
    >>> h = pd.DataFrame([{"code": "completion_rate", "value": 0.81, "ci_lower": 0.78, "ci_upper": 0.84,
    ...                    "n_numerator": 632, "n_denominator": 922, "note": ""}])
    >>> print(verdict_paragraphs(h).set_index("topic").loc["engagement", "text"])
    Completion: about 8 in 10 people who started completed the programme within its planned length plus 4 weeks (81%, 95% CI 78% to 84%; 922 people).
    """
    rows = _rows(headlines, check_alpha(alpha))
    out = []
    short = _in_short(rows, comparison_group)
    if short:
        out.append(("in_short", short))
    # the opening paragraph says once that there is no comparison group; without it, each paragraph says so
    anyway = "" if comparison_group or short else "; no comparison group, so some of this may have happened anyway"
    for topic, code, write in _TOPICS:
        if code in rows:
            out.append((topic, write(rows, anyway, comparison_group)))
    return pd.DataFrame(out, columns=["topic", "text"])


def completion_horizon(r) -> str:
    """How the completion rate's horizon reads: 'within its planned length plus 4 weeks', or, for a scope whose
    planned lengths differ (pooled at the longest), 'within 28 weeks of starting (...)'."""
    period, note = str(r.get("period") or ""), str(r.get("note") or "")
    m = re.search(r"followed to (\d+) weeks", period)
    if "pooled" in note and m:
        return (f"within {m.group(1)} weeks of starting (the longest planned length plus 4 weeks; the sites' "
                "planned lengths differ, so one horizon is used for all)")
    return "within its planned length plus 4 weeks"


def _completion_text(rows: dict, anyway: str, comparison_group: bool) -> str:
    r = rows["completion_rate"]
    if not _ok(r):
        return _not_available("Completion", r)
    # the rate alone: a ratio of counts (completions / starts) beside it would read as a second completion rate
    return (f"Completion: {_share(r)} people who started completed the programme {completion_horizon(r)} "
            f"({_pct_ci(r)}; {_people(r)}).{_hedge(r)}{_beside(r)}")


def _risk_text(rows: dict, anyway: str, comparison_group: bool) -> str:
    r = rows["reliable_risk_reduction"]
    if not _ok(r):
        return _not_available("Risk", r)
    return (f"Risk: a reliable reduction in risk for {_share(r)} of those assessed twice ({_pct_ci(r)}; "
            f"{_people(r)}){anyway}.{_hedge(r)}{_beside(r)}")


def _safety_text(rows: dict, anyway: str, comparison_group: bool) -> str:
    r = rows["partner_feels_safer"]
    if not _ok(r):
        return _not_available("Safety", r)
    return (f"Safety: {_share(r)} (ex-)partners who answered both the first survey and the one about a year later "
            f"said they felt safer ({_pct_ci(r)}; {_people(r)}){anyway}. Those who answer follow-up surveys may not "
            f"be typical of all (ex-)partners.{_hedge(r)}{_beside(r)}")


def _police_text(rows: dict, anyway: str, comparison_group: bool) -> str:
    a, b = rows["police_after"], rows.get("police_before")
    if _ok(a) and _ok(b):
        direction = "fell" if a["value"] < b["value"] else "rose" if a["value"] > b["value"] else "was unchanged"
        return (f"Police involvement {direction} from {fmt.percent(b['value'])} in the year before referral to "
                f"{fmt.percent(a['value'])}{_ci_only(a)} in the year after leaving the programme, among the "
                f"{_people(a)} with a full year of linked records. Referral often follows a crisis, so part of "
                f"{'this fall' if direction == 'fell' else 'any change'} would have happened anyway"
                f"{'' if comparison_group else ', and there is no comparison group'}."
                f"{_hedge(a)}{_beside(a)}")
    if _ok(a):
        return f"Police involvement a year on: {_pct_ci(a)} ({_people(a)}){anyway}.{_hedge(a)}{_beside(a)}"
    return _not_available("Police involvement a year on", a)


def _cost_text(rows: dict, anyway: str, comparison_group: bool) -> str:
    r = rows["cost_per_completion"]
    if not _ok(r):
        return _not_available("Cost", r)
    per_ref = rows.get("cost_per_referral")
    extra = f" and {fmt.gbp(per_ref['value'])} per referral" if _ok(per_ref) else ""
    supplied = bool(r.get("comparators")) or bool((per_ref or {}).get("comparators"))
    bench = ("" if supplied else " No benchmark was supplied, so the report cannot say whether this is good value; "
             "a published cost can be added in a comparators file (dapp-eval report --comparators).")
    return (f"Cost: over the contract period the programme cost {fmt.gbp(r['value'])} per completion{extra}: the "
            f"cost of running it divided by completions, not a cost per good outcome.{_beside(r)}{bench}")


#: the verdict's paragraphs after the opening one: (topic, headline code that must be present, writer)
_TOPICS = (("engagement", "completion_rate", _completion_text), ("risk", "reliable_risk_reduction", _risk_text),
           ("safety", "partner_feels_safer", _safety_text), ("police", "police_after", _police_text),
           ("cost", "cost_per_completion", _cost_text))


def mirabal_measures(headlines: pd.DataFrame) -> pd.DataFrame:
    """Project Mirabal's six measures of success, each with what these data can and cannot say.

    Parameters
    ----------
    headlines : DataFrame
        ``headline_figures(...).summary``; figures that bear on a measure are quoted from it.

    Returns
    -------
    DataFrame
        ``measure_no``, ``measure``, ``can_say``, ``cannot_say``.

    Examples
    --------
    >>> mm = mirabal_measures(pd.DataFrame(columns=["code", "value"]))
    >>> mm["measure_no"].tolist()
    [1, 2, 3, 4, 5, 6]
    """
    rows = _rows(headlines)
    safer, pol = rows.get("partner_feels_safer"), rows.get("police_after")
    safe_txt = (f" In these data, {fmt.percent(safer['value'])} of (ex-)partners who answered both surveys felt "
                f"safer ({_people(safer)})." if _ok(safer) else "")
    pol_txt = (f" {fmt.percent(pol['value'])} had police involvement in the year after leaving ({_people(pol)})."
               if _ok(pol) else "")
    table = [
        (1, "Nothing directly: the data hold no questions about respect or communication in the relationship.",
         "Whether relationships improved. That needs the (ex-)partner's own account, which Mirabal gathered in "
         "interviews."),
        (2, "The (ex-)partner survey's 'space for action' score at the start and about a year later, for those "
            "who answered both (shown in the safety section).",
         "How things changed for (ex-)partners who did not answer the later survey, or who were never contacted."),
        (3, "Whether (ex-)partners report fewer abusive behaviours and feel safer, and police and MARAC "
            "involvement before and after the programme." + safe_txt + pol_txt,
         "Abuse that is neither reported in the survey nor known to the police; and, without a comparison "
         "group, how much of any change the programme caused."),
        (4, "Only indirectly, through children's services (child protection) involvement before and after.",
         "Whether parenting is safe, positive and shared: the data hold no parenting questions."),
        (5, "Only indirectly: the risk score (DASH) measures the risk to the (ex-)partner, not the man's "
            "awareness.",
         "Changes in men's awareness of themselves and of the impact of their abuse; that needs the men's and "
         "practitioners' accounts."),
        (6, "Whether (ex-)partners report that children were exposed to abuse, at the start and about a year "
            "later, and children's services involvement.",
         "Whether children feel heard and cared about: children were not asked."),
    ]
    return pd.DataFrame([{"measure_no": no, "measure": MIRABAL[no], "can_say": can, "cannot_say": cannot}
                         for no, can, cannot in table])

"""Safety of (ex-)partners and children: partner surveys by wave, paired change, feeling safe, response."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dapp_eval.disclosure.publish import publish_result
from dapp_eval.disclosure.roles import Count, Derived, Label, publish
from dapp_eval.disclosure.text import protect_counts
from dapp_eval.report.sections import _results as R

TITLE = 'Safety of (ex-)partners and children'
PLACEMENT = 'body'


def _num(v) -> float:
    return float(str(v).replace(",", ""))


def _published_views(v: pd.DataFrame, prow: pd.DataFrame, pvrow: pd.DataFrame, sp, alpha: float) -> pd.DataFrame:
    """The 'three views' rows of the primary outcome with the two views built on counts recomputed from the
    published counts: all respondents (proportions and Newcombe interval from the published prevalence table)
    and paired respondents (the paired table's published row); the model rows are model outputs."""
    from dapp_eval.estimators.proportions import newcombe_diff_ci

    v = v.copy().reset_index(drop=True)
    base = pvrow[pvrow["wave"] == sp["baseline_wave"]].iloc[0]
    fol = pvrow[pvrow["wave"] == sp["followup_wave"]].iloc[0]
    kb, nb, kf, nf = (_num(base["n_reporting"]), _num(base["n_answered"]), _num(fol["n_reporting"]),
                      _num(fol["n_answered"]))
    pr = prow.iloc[0]
    n_pairs = _num(pr["n_pairs"])
    for i, view in enumerate(v["view"]):
        if view == "all respondents" and nb > 0 and nf > 0:
            d, lo, hi = newcombe_diff_ci(kf, nf, kb, nb, alpha=alpha)
            v.loc[i, ["n_baseline", "n_followup", "prop_baseline", "prop_followup", "estimate", "ci_lower",
                      "ci_upper"]] = [nb, nf, kb / nb, kf / nf, 100 * d, 100 * lo, 100 * hi]
        elif view == "paired respondents" and n_pairs > 0:
            v.loc[i, ["n_baseline", "n_followup", "prop_baseline", "prop_followup"]] = [
                n_pairs, n_pairs, _num(pr["n_yes_baseline"]) / n_pairs, _num(pr["n_yes_followup"]) / n_pairs]
            for c in ("estimate", "ci_lower", "ci_upper", "p_value"):
                if c in pr.index:
                    v.loc[i, c] = float(pr[c])
    return v


def _paired_cells(d: pd.DataFrame) -> pd.DataFrame:
    """The paired 2x2 table each row implies (from whichever counts it is given: true or published)."""
    return pd.DataFrame({"both": d["n_yes_baseline"] - d["n_stopped"], "stopped": d["n_stopped"],
                         "started": d["n_started"],
                         "neither": d["n_pairs"] - d["n_yes_baseline"] - d["n_started"]})


def _paired_stats(pub: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Change in percentage points, Newcombe's interval and the exact McNemar p, from the published 2x2."""
    from dapp_eval.estimators.proportions import mcnemar_exact, newcombe_paired_ci

    rows = []
    for _, c in _paired_cells(pub).iterrows():
        if c.isna().any() or (c < 0).any() or c.sum() <= 0:
            rows.append((np.nan, np.nan, np.nan, np.nan))
            continue
        d, lo, hi = newcombe_paired_ci(c["both"], c["started"], c["stopped"], c["neither"], alpha=alpha)
        rows.append((100 * d, 100 * lo, 100 * hi, mcnemar_exact(int(c["stopped"]), int(c["started"]))))
    return pd.DataFrame(rows, columns=["estimate", "ci_lower", "ci_upper", "p_value"])


def _holm_published(pub: pd.DataFrame) -> pd.DataFrame:
    from dapp_eval.estimators.proportions import holm

    p = pd.to_numeric(pub["p_value"], errors="coerce").to_numpy(dtype=float)
    sec = (pub["role"] == "secondary").to_numpy()
    adj = p.copy()  # a p-value not shown counts as 1 among the tests (conservative: never as if absent)
    adj[sec] = holm(np.where(np.isnan(p[sec]), 1.0, p[sec]))
    adj[np.isnan(p)] = np.nan  # a row whose own p-value is not shown shows no adjusted one
    return pd.DataFrame({"p_adjusted": adj})


#: every count of the paired table is a part of its pairs: "0 started" or "all reported it at T4" among
#: fewer than twice the threshold pairs is withheld like a small count (the zero rule; issue 26: a site of 15
#: pairs showed 'started 0' and 'at the later survey 0'), and the statistics built on it with it
PAIRED_ZERO_RULE = {c: "n_pairs" for c in ("n_yes_baseline", "n_yes_followup", "n_stopped", "n_started")}


def paired_roles(cols, alpha: float) -> list:
    """What each column of the paired-change table is: its statistics come from the published 2x2 cells and
    are withheld when a cell is from 1 to threshold - 1 (issue 26: they gave a hidden 'started' back)."""
    counts = ("n_pairs", "n_yes_baseline", "n_yes_followup", "n_stopped", "n_started")
    stats_cols = tuple(c for c in ("estimate", "ci_lower", "ci_upper", "p_value") if c in cols)
    roles = [Label(*[c for c in ("behaviour", "label", "role") if c in cols]), Count(*counts),
             Derived(stats_cols, lambda pub: _paired_stats(pub, alpha), inputs=counts, small=_paired_cells)]
    if "p_adjusted" in cols:
        roles.append(Derived(("p_adjusted",), _holm_published, hidden_ok=True))
    return roles


def _pp_headline(old: str, pub: dict | None, conf: str, what: str = "paired (ex-)partners") -> str:
    if pub is None:
        return old.split(": ")[0] + ": not shown (built on numbers below the small-number threshold)"
    return (f"{old.split(': ')[0]}: {pub['estimate']:+.1f} percentage points ({conf} {pub['ci_lower']:+.1f} to "
            f"{pub['ci_upper']:+.1f}; {pub['n']:,} {what})")


def _row_of(pc_shown, behaviour: str, marker: str) -> dict | None:
    """A published paired-change row as numbers (None where any of its figures is withheld)."""
    if pc_shown is None:
        return None
    r = pc_shown[pc_shown["behaviour"] == behaviour]
    if len(r) != 1 or r[["n_pairs", "estimate", "ci_lower", "ci_upper"]].isin([marker, "[c]"]).any().any():
        return None
    r = r.iloc[0]
    return {"n": int(_num(r["n_pairs"])), "estimate": float(r["estimate"]), "ci_lower": float(r["ci_lower"]),
            "ci_upper": float(r["ci_upper"])}


def mirabal_from_published(page, mm: pd.DataFrame, pc_shown) -> pd.DataFrame:
    """The Mirabal headlines with every number taken from a published table (issue 26: the paired n and the
    Newcombe change from the true 2x2 table gave T1, T4, stopped and started back, hidden cells included).

    Behaviours: the published paired-change row; children's services: the change from the published 2x2
    table of the before/after comparison; feeling very safe (whose 2x2 table is not published): no change
    shown here; space for action: a mean over the pairs, shown when they are at least the threshold."""
    from dapp_eval.analyses import followup
    from dapp_eval.report.sections._publish import change_cells, published_paired_change
    from dapp_eval.results import level_text

    conf = f"{level_text(page.alpha)} CI"
    mm = mm.copy()
    measured = mm["status"] == "measured"
    # a reason such as "not estimable: ... (82 people referred; never started the programme: 53)" prints counts
    mm["status"] = [s if m else protect_counts(str(s), page.dc) for s, m in zip(mm["status"], measured)]
    for i in mm.index[measured]:
        src, head = str(mm.at[i, "informed_by"]), str(mm.at[i, "headline"])
        if "space_for_action" in src:  # a mean change over the pairs: the number of pairs as published
            n = page.dc.count(mm.at[i, "n"], name="Project Mirabal measures", label="space for action")
            mm.at[i, "headline"] = re.sub(r"; [\d,]+ paired", f"; {n} paired", head)
            continue
        if "feels_safe" in src:
            mm.at[i, "headline"] = (head.split(": ")[0] + ": the change is not shown here; each wave's share "
                                    "feeling very safe is in the table of feeling safe")
        elif "child_exposed" in src or "primary outcome" in src:
            b = "child_exposed" if "child_exposed" in src else page.plan["primary"]["safety"]
            pub = _row_of(pc_shown, b, page.dc.marker)
            mm.at[i, "headline"] = _pp_headline(head, pub, conf)
            mm.at[i, "n"] = pd.NA if pub is None else mm.at[i, "n"]
        elif "incidents.csv" in src:
            ba = page.get("mirabal_before_after", lambda: followup.before_after(
                page.data, outcomes=("childrens_services",), alpha=page.alpha))
            lab = ba.summary["label"].iloc[0]
            pub = published_paired_change(page.dc, *change_cells(ba.summary, lab), page.alpha)
            mm.at[i, "headline"] = _pp_headline(head, pub, conf, "people")
            mm.at[i, "n"] = pd.NA if pub is None else mm.at[i, "n"]
    return mm


def _wave_args(page) -> dict:
    """The plan's safety settings as the arguments of the paired analyses (baseline and follow-up waves,
    primary outcome, the plan's alpha)."""
    sp = page.plan["safety"]
    return {"baseline": sp["baseline_wave"], "followup": sp["followup_wave"],
            "primary": page.plan["primary"]["safety"], "alpha": page.alpha}


def build(page) -> dict:
    from dapp_eval.analyses import safety

    out = [None,
           page.p("Reported by (ex-)partners in surveys at the start (T1) and about 3, 6 and 12 months later "
              "(T2-T4), about the last 3 months. Percentages are of the people who answered each wave; the "
              "number who answered is always shown. Partner reports are never merged with police records.")]
    pv = page.get("prevalence", lambda: safety.prevalence(page.data, primary=page.plan["primary"]["safety"],
                                                          alpha=page.alpha))
    if isinstance(pv, Exception):
        return {"blocks": out[1:] + [page.na("Partner surveys", str(pv))]}
    blocks, pv_shown = _prevalence(page, pv)
    out += blocks
    beside_figure = len(out)  # why later surveys have fewer answers goes here, once the response table is published
    blocks, pc_shown = _paired_and_views(page, pv_shown)
    out += blocks
    out += _feeling_safe(page)
    k = len(out)  # survey response (the basis of the non-response weighting) goes to the technical annex
    response, rr_shown = _response(page)
    out += response
    out.insert(beside_figure, _why_fewer(page, pv_shown, rr_shown))
    k += 1
    out[k:] = page.annex("Survey response and weighting", out[k:],
                         what="who answered each survey wave, the basis of the weighting for non-response")
    out += _support(page)
    k = len(out)  # page 1 says what the data can say about each measure; the table in full is in the annex
    out += _mirabal(page, pc_shown)
    out[k:] = page.annex("Project Mirabal's measures in full", out[k:],
                         what="the evidence on each of Project Mirabal's six measures, with its numbers")
    return {"blocks": out[1:]}


def _prevalence(page, pv) -> tuple[list, pd.DataFrame]:
    """Behaviours reported at each wave (all who answered): the table, and the chart of the behaviours whose
    counts are all published."""
    out = []
    keep = [c for c in ("wave", "behaviour", "label", "role", "n_answered", "n_reporting", "estimate", "ci_lower",
                        "ci_upper") if c in pv.summary]
    pv_shown = page.dc.table(pv.summary[keep], name="Behaviours reported by (ex-)partners",
                             label_cols=["wave", "label", "role", "behaviour"], pairs={"n_reporting": "n_answered"})
    out.append(page.shown_table(pv_shown.drop(columns=["behaviour"]), caption="Behaviours reported by (ex-)partners, by "
                          f"wave (all who answered; Wilson {page.ci_label})", csv_name=page.csv_name("safety_prevalence")))
    hidden = pv_shown["n_reporting"].isin([page.dc.marker, "[c]"])
    safe_behaviours = [b for b in dict.fromkeys(pv_shown["behaviour"])
                       if not hidden[pv_shown["behaviour"] == b].any()]
    if safe_behaviours:
        left_out = len(set(pv_shown["behaviour"])) - len(safe_behaviours)
        pv_pub = publish_result(pv, page.dc, pairs={"n_reporting": "n_answered"})  # bars and labels: published values
        out.append(page.figure(pv_pub.plot(behaviours=safe_behaviours), alt="Share of (ex-)partners reporting each "
                               "behaviour at each survey wave, with confidence intervals; the numbers are in the table above.",
                               caption="Reported behaviours by wave (all respondents)"
                                       + (f"; {left_out} behaviour(s) with small numbers not drawn."
                                          if left_out else ".")))
    return out, pv_shown


def _paired_and_views(page, pv_shown: pd.DataFrame) -> tuple[list, pd.DataFrame | None]:
    """The paired change among (ex-)partners who answered both waves, then the three views of the primary
    outcome (shown only when every cell they are built on is published); also the published paired table
    (None when the analysis could not run), which the Mirabal measures read."""
    from dapp_eval.analyses import safety

    sp = page.plan["safety"]
    out = []
    prow = pvrow = pc_shown = None
    pc = page.get("safety_paired", lambda: safety.paired_change(
        page.data, **_wave_args(page)))
    primary_visible = False
    if isinstance(pc, Exception):
        out.append(page.na("Paired change", str(pc)))
    if not isinstance(pc, Exception):
        ck = [c for c in ("behaviour", "label", "role", "n_pairs", "n_yes_baseline", "n_yes_followup", "n_stopped",
                          "n_started", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted")
              if c in pc.summary]

        pc_shown = publish(pc.summary[ck], paired_roles(ck, page.dc.alpha), page.dc,
                           name="Paired change in reported behaviours", pairs=PAIRED_ZERO_RULE)
        out.append(page.shown_table(pc_shown.drop(columns=["behaviour"]),
                              caption=f"Paired change {sp['baseline_wave']} to {sp['followup_wave']} among "
                                      "(ex-)partners who answered both (percentage points; exact McNemar; the "
                                      "primary outcome unadjusted, secondary outcomes Holm-adjusted)",
                              csv_name=page.csv_name("safety_paired")))
        prim = page.plan["primary"]["safety"]
        prow = pc_shown[pc_shown["behaviour"] == prim]
        pvrow = pv_shown[(pv_shown["behaviour"] == prim) & pv_shown["wave"].isin([sp["baseline_wave"],
                                                                                 sp["followup_wave"]])]
        # every cell of the paired row published (a hidden 'started' hid its 2x2 table: the views must not show it)
        primary_visible = (len(prow) == 1 and not prow.isin([page.dc.marker, "[c]"]).any().any()
                           and len(pvrow) == 2 and not pvrow.isin([page.dc.marker, "[c]"]).any().any())
    cv = page.get("change_views", lambda: safety.change_views(
        page.data, **_wave_args(page)))
    if isinstance(cv, Exception):
        out.append(page.na("Three views of the change", str(cv)))
    if not isinstance(cv, Exception):
        prim = page.plan["primary"]["safety"]
        if primary_visible:
            v = _published_views(cv.summary[cv.summary["behaviour"] == prim], prow, pvrow, sp, page.alpha)
            vk = [c for c in v.columns if c not in ("behaviour",)]
            # disclosure (issue 15): the numbers of respondents are counts of people, rounded like every other
            out.append(page.table(v[vk], caption="Three views of the primary outcome side by side: all "
                                  "respondents, paired respondents, and models unweighted and weighted for "
                                  "non-response (proportions 0-1; change in percentage points)",
                                  name="safety_views"))
        else:
            page.dc.record("Three views of the primary outcome", prim, "table",
                            "not shown: built on counts hidden elsewhere")
            out.append(page.p("The side-by-side views of the primary outcome are not shown: they are built on counts "
                          "that are below the small-number threshold.", "note"))
    return out, pc_shown


def _feeling_safe(page) -> list:
    out = []
    fs = R.feeling_safe(page)
    if isinstance(fs, Exception):
        out.append(page.na("Feeling safe", str(fs)))
    if fs is not None and not isinstance(fs, Exception):
        out.append(page.h3("Feeling safe"))
        out.append(page.table(fs.tables["headline"], caption="Feeling 'very safe' and 'not safe at all', by "
                               "wave", name="feeling_safe_headline", pairs={"n": "n_answered"},
                               label_cols=[c for c in fs.tables["headline"].columns
                                           if fs.tables["headline"][c].dtype == object]))
        levels = fs.summary
        if not any(page.dc.is_small(v) or page.dc.is_small(a - v)
                   for v, a in zip(levels["n"].fillna(0), levels["n_answered"].fillna(0))):
            out.append(page.figure(publish_result(fs, page.dc, pairs={"n": "n_answered"}).plot(), alt="Stacked bars of how safe (ex-)partners feel at each wave, "
                                   "from not safe at all to very safe.", caption="How safe (ex-)partners feel, "
                                   "by wave."))
    return out


def _response(page) -> tuple[list, pd.DataFrame | None]:
    """The survey response blocks, and the response table as published (None when it is not)."""
    from dapp_eval.analyses import safety

    rr = page.get("response", lambda: safety.response_rates(page.data, alpha=page.alpha))
    if isinstance(rr, Exception):
        return [page.na("Survey response", str(rr))], None
    out = [page.h3("Who answered?"),
           page.p("(Ex-)partners of people who left the programme early answer less often, so later waves "
                  "over-represent completers' families. The weighted model above adjusts for this, on the assumption "
                  "that, within the groups its response model uses, those who answered are like those who did not.",
                  "note")]
    rk = [c for c in ("wave", "status_label", "n_expected", "n_answered", "estimate", "ci_lower", "ci_upper")
          if c in rr.summary]
    caption, csv_name = "Survey response by wave and programme status", page.csv_name("safety_response")
    if page.is_withheld(caption, csv_name):
        return out + [page.withheld_block(caption)], None
    shown = page.dc.table(rr.summary[rk], name=caption, label_cols=["wave", "status_label"],
                          pairs={"n_answered": "n_expected"})
    return out + [page.shown_table(shown, caption=caption, csv_name=csv_name)], shown


def _published_by_wave(shown: pd.DataFrame | None, col: str) -> dict[str, float]:
    """A published count summed over the rows of each wave; a wave with any count withheld is left out."""
    if shown is None or col not in shown:
        return {}
    x = pd.to_numeric(shown[col].astype(str).str.replace(",", ""), errors="coerce")
    return {w: float(v.sum()) for w, v in x.groupby(shown["wave"].astype(str), sort=False) if v.notna().all()}


def _offered_only(page) -> bool:
    """Whether only (ex-)partners offered partner support count as due a survey (the response analysis says)."""
    from dapp_eval.analyses import safety

    rr = page.get("response", lambda: safety.response_rates(page.data, alpha=page.alpha))
    return not isinstance(rr, Exception) and bool(rr.meta.get("offered_only"))


def _why_fewer(page, pv_shown: pd.DataFrame, rr_shown: pd.DataFrame | None) -> dict:
    """Beside the chart: why later surveys have fewer answers, in plain words, from published counts only
    (the behaviours table's and the response table's counts as printed)."""
    from dapp_eval import formatting as fmt
    from dapp_eval.analyses.safety import WAVE_MONTHS

    prim = page.plan["primary"]["safety"]
    rows = pv_shown[pv_shown["behaviour"] == prim] if "behaviour" in pv_shown else pv_shown.iloc[0:0]
    answered = _published_by_wave(rows, "n_answered")
    waves = [w for w in WAVE_MONTHS if w in answered]
    first, last = (waves[0], waves[-1]) if waves else ("the first survey", "the last")
    text = (f"Why fewer answers at later surveys: {fmt.count(answered[first])} (ex-)partners answered at {first} "
            f"and {fmt.count(answered[last])} at {last}. " if len(waves) > 1 else "Why fewer answers at later "
            "surveys: ")
    months = [str(m) for m in WAVE_MONTHS.values() if m]
    text += ("Three things lower the later numbers. Not yet due: the later surveys are asked "
             + ", ".join(months[:-1]) + f" and {months[-1]} months after the programme starts, so the "
             "(ex-)partners of people who started less than a year before the extract date were not yet due "
             "the last survey. Not answered: some (ex-)partners who were due did not answer. Not eligible: only "
             "(ex-)partners of people who started the programme"
             + (", and offered partner support, are surveyed." if _offered_only(page) else ", are surveyed."))
    due = _published_by_wave(rr_shown, "n_expected")
    got = _published_by_wave(rr_shown, "n_answered")
    if first in due and last in due and first in got and last in got:
        text += (f" In the published response table, about {fmt.count(due[first])} were due the {first} survey and "
                 f"about {fmt.count(due[last])} the {last} survey; about {fmt.count(got[first])} and "
                 f"{fmt.count(got[last])} of them answered.")
    return page.p(text + " Percentages are of those who answered; the weighted model in the technical annex "
                  "allows for who did not.")


def _support(page) -> list:
    from dapp_eval.analyses import safety

    out = []
    ps = page.get("support", lambda: safety.partner_support(page.data, alpha=page.alpha))
    if isinstance(ps, Exception):
        out.append(page.na("Partner support", str(ps)))
    if not isinstance(ps, Exception):
        out.append(page.table(ps.summary, caption="Support for (ex-)partners and children in the families",
                               name="partner_support", label_cols=["measure"], pairs={"n": "n_of"}))
    return out


def _mirabal(page, pc_shown: pd.DataFrame | None) -> list:
    from dapp_eval.analyses import safety

    out = []
    mm = page.get("mirabal", lambda: safety.mirabal_measures(
        page.data, **_wave_args(page)))
    if isinstance(mm, Exception):
        out.append(page.na("Project Mirabal's six measures", str(mm)))
    if not isinstance(mm, Exception):
        mm_pub = mirabal_from_published(page, mm.summary, pc_shown)
        mk = [c for c in ("measure_no", "measure", "informed_by", "status", "headline", "n") if c in mm_pub]
        out.append(page.h3("Project Mirabal's six measures of success"))
        # the headline is text built from the numbers, so it is hidden with its count
        out.append(page.table(mm_pub[mk], caption="What this data can and cannot say about each measure",
                               name="mirabal_measures", label_cols=["measure", "informed_by", "status"],
                               dependent={"n": ["headline"]}))
    return out



"""Police, MARAC and children's services records before and after the programme.

``incidents.csv`` is keyed by person (``participant_id``), so follow-up is per
person, never per referral: a person referred twice is counted once.  Each
person's **index referral** is their first referral that started the
programme (earliest ``referral_date``, ties by ``referral_id``), or their
first referral if none started.  Records sharing an ``event_id`` (a call-out
that led to a crime report and an arrest) count as one event, dated by its
earliest record.

Two designs, both offered, each with its caveat:

``design="commissioner"``
    What commissioners ask ("assessed one year after completion"): the 12
    months before referral, ``[referral_date - 365 d, referral_date)``, vs the
    12 months after exit, ``[exit_date, exit_date + 365 d)``.  Referral usually
    follows a crisis, so part of any fall is regression to the mean; and the
    after window starts at a different time for people who complete and
    people who leave early, so it does not compare them fairly.
``design="aligned"``
    Windows fixed relative to the referral date for everyone, by default
    months -12..0 (days -365..0) and months 7..18 (days 183..548), the same
    for completers and non-completers: use this for any comparison between
    them (:func:`compare_completers`).

Windows are ``(start, end)`` day offsets from their anchor, start inclusive,
end exclusive.  With ``proven=True`` an event counts only if a caution or
conviction proved it (``outcome_date``) by the window end plus ``lag_days``
(the Justice Data Lab allows 6 months).  Only people whose whole windows are
covered by the linked data (site ``incident_data_from`` <= window start, window
end + lag <= ``data_extract_date``) count; the rest are reported as not yet
eligible (or as not covered), never as zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from dapp_eval.analyses import plotting
from dapp_eval.analyses.episodes import as_float as _as_float
from dapp_eval.analyses.episodes import episodes as _episodes
from dapp_eval.analyses.episodes import holm_secondary as _holm
from dapp_eval.analyses.episodes import programme_status
from dapp_eval.analyses.episodes import require_table as _require
from dapp_eval.analyses.episodes import sorted_codes as _sorted_codes
from dapp_eval.data.schema import INCIDENT_TYPES
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.counts import fit_count_model
from dapp_eval.estimators.effect_sizes import smd
from dapp_eval.estimators.matching import greedy_match as _greedy_match
from dapp_eval.estimators.proportions import mcnemar_exact, newcombe_diff_ci, newcombe_paired_ci, wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, is_part, make_meta

if TYPE_CHECKING:
    from dapp_eval.columns import Events

__all__ = [
    "OUTCOMES",
    "OUTCOME_LABELS",
    "DEFAULT_WINDOWS",
    "CAVEATS",
    "NOT_CAUSAL",
    "person_windows",
    "before_after",
    "repeat_marac",
    "time_to_incident",
    "recurrent_contacts",
    "compare_completers",
    "matched_comparison",
]

POLICE_TYPES = ("police_callout", "da_crime", "arrest")
#: outcome name -> incident types it counts
OUTCOMES = {
    "police": POLICE_TYPES,
    "da_crime": ("da_crime",),
    "marac": ("marac_referral",),
    "childrens_services": ("child_protection",),
    "any_record": INCIDENT_TYPES,
}
OUTCOME_LABELS = {
    "police": "Police involvement (call-out, domestic abuse crime or arrest)",
    "da_crime": "Domestic abuse crime",
    "marac": "MARAC referral",
    "childrens_services": "Children's services (child protection) involvement",
    "any_record": "Any linked record",
}
#: design -> ((before start, before end), (after start, after end)) in days
DEFAULT_WINDOWS = {
    "commissioner": ((-365, 0), (0, 365)),
    "aligned": ((-365, 0), (183, 548)),
}
CAVEATS = {
    "commissioner": (
        "Before = the 12 months before referral; after = the 12 months after leaving the programme. "
        "Referral usually follows a crisis, so incidents are often at a peak just before it: part of any "
        "fall would have happened anyway (regression to the mean), and the fall is not the programme's "
        "effect. The after window starts at a different time for people who complete and for people who "
        "leave early, so do not compare those groups with this design."
    ),
    "aligned": (
        "Windows are fixed relative to the referral date and are the same for everyone, whether they "
        "completed or not, so groups can be compared on equal terms. Part of any fall since referral is "
        "still regression to the mean."
    ),
}
NOT_CAUSAL = (
    "This is not a causal comparison: people who complete a programme differ from people who leave early "
    "(motivation, stability, risk), and those differences also affect later incidents. A difference here "
    "does not show what the programme achieved."
)
GROUP_LABELS = {
    "completed": "completed",
    "did_not_complete": "started, did not complete",
    "ongoing": "still attending",
    "not_started": "did not start",
}
_GROUP_OF_STATUS = {"completed": "completed", "dropped_out": "did_not_complete", "other_exit": "did_not_complete",
                    "ongoing": "ongoing", "not_started": "not_started"}
_YEAR = 365.25
_SMALL_COHORT = 60


# ---------------------------------------------------------------------------
# persons, windows, events
# ---------------------------------------------------------------------------


def _outcome_types(outcome) -> tuple[str, tuple[str, ...]]:
    if isinstance(outcome, str):
        if outcome in INCIDENT_TYPES and outcome not in OUTCOMES:
            return outcome, (outcome,)
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}, an incident type "
                             f"({', '.join(INCIDENT_TYPES)}) or a list of incident types")
        return outcome, OUTCOMES[outcome]
    types = tuple(outcome)
    bad = [t for t in types if t not in INCIDENT_TYPES]
    if bad or not types:
        raise ValueError(f"unknown incident type(s) {bad}; incidents.csv has {', '.join(INCIDENT_TYPES)}")
    return "+".join(types), types


def _persons(data, population: str) -> tuple[pd.DataFrame, int, dict[str, int]]:
    """One row per person (index referral); returns (persons, n_in, excluded)."""
    if population not in ("started", "completed", "all"):
        raise ValueError("population must be 'started', 'completed' or 'all'")
    ep = _episodes(data)
    # first row per person by (not started, referral_date, referral_id): a sort of integer codes, then
    # only the chosen rows are copied (participant and referral codes in string order, as a sort by the ids)
    pcode, rcode = _sorted_codes(ep["participant_id"]), _sorted_codes(ep["referral_id"])
    rdate = ep["referral_date"].to_numpy().astype("datetime64[ns]")
    day = np.where(np.isnat(rdate), np.iinfo(np.int64).max, rdate.view(np.int64))  # missing last, as sort_values
    order = np.lexsort((rcode, day, ep["start_date"].isna().to_numpy(), pcode))
    ps = pcode[order]
    first = order[np.r_[True, ps[1:] != ps[:-1]]] if len(ps) else order
    persons = ep.take(first)
    persons.index = pd.RangeIndex(len(persons))
    persons["programme_status"] = programme_status(persons)
    persons["group"] = persons["programme_status"].map(_GROUP_OF_STATUS)
    n_in = len(persons)
    excluded: dict[str, int] = {}
    if population == "started":
        drop = persons["group"] == "not_started"
        excluded["never started the programme"] = int(drop.sum())
        persons = persons[~drop]
    elif population == "completed":
        excluded["never started the programme"] = int((persons["group"] == "not_started").sum())
        excluded["started but did not complete (or still attending)"] = int(
            persons["group"].isin(["did_not_complete", "ongoing"]).sum())
        persons = persons[persons["group"] == "completed"]
    return persons.reset_index(drop=True), n_in, excluded


def _check_window(w, name) -> tuple[int, int]:
    try:
        a, b = (int(w[0]), int(w[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{name} must be a (start, end) pair of day offsets, e.g. (-365, 0)") from None
    if b <= a:
        raise ValueError(f"{name} window must end after it starts, got {w!r}")
    return a, b


def _add_windows(persons: pd.DataFrame, design: str, before, after, lag: int) -> pd.DataFrame:
    if design not in DEFAULT_WINDOWS:
        raise ValueError("design must be 'commissioner' (before referral vs after exit) or 'aligned' "
                         "(both windows relative to referral)")
    before = _check_window(before or DEFAULT_WINDOWS[design][0], "before")
    after = _check_window(after or DEFAULT_WINDOWS[design][1], "after")
    p = persons.copy()
    ref = p["referral_date"]
    anchor = p["exit_date"] if design == "commissioner" else ref
    day = pd.Timedelta(days=1)
    p["before_start"] = ref + before[0] * day
    p["before_end"] = ref + before[1] * day
    p["after_start"] = anchor + after[0] * day
    p["after_end"] = anchor + after[1] * day
    data_from = p["incident_data_from"] if "incident_data_from" in p else pd.Series(pd.NaT, index=p.index)
    reasons = np.select(
        [
            anchor.isna(),
            (p["after_end"] + lag * day) > p["data_extract_date"],
            data_from.notna() & (p["before_start"] < data_from),
        ],
        list(INELIGIBLE_REASONS),
        default="",
    )
    p["ineligible_reason"] = reasons
    p["eligible"] = p["ineligible_reason"] == ""
    p["exposure_before"] = (before[1] - before[0]) / _YEAR
    p["exposure_after"] = (after[1] - after[0]) / _YEAR
    p.attrs["windows"] = {"before": before, "after": after}
    return p


#: why a person has no before/after windows, in the order they are checked; every one is listed, of nobody too
INELIGIBLE_REASONS = ("no exit date yet (still attending): no after-exit window",
                      "not yet eligible: follow-up window not complete at the extract date",
                      "before window not covered: incident data start later")


def _event_ids(inc: pd.DataFrame) -> pd.Series:
    """Each record's event: its ``event_id`` (records of one incident share it), else its own ``incident_id``."""
    eid = inc["event_id"] if "event_id" in inc else pd.Series(np.nan, index=inc.index, dtype=object)
    return eid.astype(object).where(eid.notna(), inc["incident_id"])


def _events(data, types: Sequence[str]) -> pd.DataFrame:
    """One row per (participant_id, event_id): earliest record date, earliest proof date, number of records.

    Sorted by participant_id then event_id. The keys are grouped as integer codes
    (one factorisation per key column), not as pairs of strings.
    """
    inc = _require(data, "incidents", " (linked police / MARAC / children's services records)")
    inc = inc[inc["incident_type"].isin(types)]
    eid = _event_ids(inc)
    pcode, puniq = pd.factorize(inc["participant_id"], sort=True)
    ecode, euniq = pd.factorize(eid, sort=True)
    key = pcode.astype(np.int64) * max(len(euniq), 1) + ecode
    proved = inc["outcome_date"] if "outcome_date" in inc else pd.Series(pd.NaT, index=inc.index)
    g = pd.DataFrame({"key": key, "event_date": inc["incident_date"].to_numpy(),
                      "proved_date": pd.to_datetime(proved).to_numpy()}).groupby("key", sort=True)
    agg = pd.DataFrame({"event_date": g["event_date"].min(), "proved_date": g["proved_date"].min(),
                        "n_records": g.size()})
    k = agg.index.to_numpy()
    n_e = max(len(euniq), 1)
    out = pd.DataFrame({"participant_id": puniq.take(k // n_e), "event_id": euniq.take(k % n_e)})
    for c in ("event_date", "proved_date", "n_records"):
        out[c] = agg[c].to_numpy()
    return out


def _no_one(what: str, n_in: int, excluded: dict[str, int]) -> AnalysisError:
    # every reason, of nobody too: a reason left out when nobody had it said "none" of them (a13 D5: no "still
    # attending" at a site told that every starter there had left)
    why = "; ".join(f"{k}: {v}" for k, v in excluded.items())
    return AnalysisError(f"{what} ({n_in} people referred" + (f"; {why})" if why else ")"))


def _window_counts(data, persons: pd.DataFrame, specs: list[tuple[str, tuple[str, ...]]], proven: bool,
                   lag: int) -> dict[str, pd.Series]:
    """``n_<name>_before`` / ``n_<name>_after`` for every (name, incident types) in ``specs``.

    The same events as :func:`_events`, counted in each window, done once for all outcomes on
    integer codes: each incident's person (position in ``persons``, one row per participant_id) and
    event (event_id, else incident_id) are looked up once; an outcome's events are grouped on
    (person, event) codes, never on strings, and counted per person with bincount.
    """
    out: dict[str, pd.Series] = {}
    if not specs:
        return out
    inc = _require(data, "incidents", " (linked police / MARAC / children's services records)")
    pos = pd.Index(persons["participant_id"]).get_indexer(inc["participant_id"])
    keep = pos >= 0
    inc = inc[keep]
    pos = pos[keep]
    tcode, tuniq = pd.factorize(inc["incident_type"])
    ecode, euniq = pd.factorize(_event_ids(inc))
    key_all = pos.astype(np.int64) * max(len(euniq), 1) + ecode
    date_all = inc["incident_date"].to_numpy()
    proved_all = (pd.to_datetime(inc["outcome_date"]) if "outcome_date" in inc
                  else pd.Series(pd.NaT, index=inc.index, dtype="datetime64[ns]")).to_numpy()
    n = len(persons)
    for name, types in specs:
        m = np.isin(tcode, [i for i, t in enumerate(tuniq) if t in set(types)])
        g = pd.DataFrame({"event_date": date_all[m], "proved_date": proved_all[m]}).groupby(key_all[m], sort=False)
        ev = g.min()
        who = (ev.index.to_numpy() // max(len(euniq), 1)).astype(np.intp)
        when, proved = ev["event_date"].to_numpy(), ev["proved_date"].to_numpy()
        for period in ("before", "after"):
            start, end = persons[f"{period}_start"].to_numpy()[who], persons[f"{period}_end"]
            inwin = (when >= start) & (when < end.to_numpy()[who])
            if proven:
                inwin &= ~np.isnat(proved) & (proved <= (end + pd.Timedelta(days=lag)).to_numpy()[who])
            out[f"n_{name}_{period}"] = pd.Series(np.bincount(who[inwin], minlength=n), index=persons.index)
    return out


def _prepare(data, *, design, outcomes, before, after, population, proven, lag_days):
    lag = int(lag_days) if proven else 0
    if lag < 0:
        raise ValueError("lag_days must be >= 0")
    persons, n_in, excluded = _persons(data, population)
    persons = _add_windows(persons, design, before, after, lag)
    specs = [_outcome_types(o) for o in outcomes]
    names = [name for name, _ in specs]
    counts = _window_counts(data, persons, specs, proven, lag)
    eligible = persons["eligible"].to_numpy()
    for name in names:
        for period in ("before", "after"):
            n = counts.get(f"n_{name}_{period}", pd.Series([], dtype=int))
            # people whose windows are not fully covered get no count (never a zero)
            persons[f"n_{name}_{period}"] = n.astype("Int64").where(eligible, pd.NA)
    if len(persons) == 0 and not is_part(data):
        # the folder: said so. A site's (or period's) part: nobody eligible, as where a few started (issue 26)
        raise _no_one(f"no one in the follow-up population ('{population}')", n_in, excluded)
    # every reason, of nobody too (a15 F2: "still attending" listed only where someone was said "everyone at
    # this site has left")
    found = persons.loc[~persons["eligible"], "ineligible_reason"].value_counts()
    for reason in INELIGIBLE_REASONS:
        excluded[reason] = int(found.get(reason, 0))
    no_from = sorted(set(persons.loc[persons["incident_data_from"].isna(), "site_id"])) \
        if "incident_data_from" in persons else []
    return persons, n_in, excluded, names, lag, no_from


def person_windows(data, *, design: str = "commissioner", outcomes: Sequence = ("police", "marac",
                   "childrens_services"), before=None, after=None, population: str = "started",
                   proven: bool = False, lag_days: int = 183) -> AnalysisResult:
    """Per-person follow-up windows, eligibility and event counts.

    Parameters
    ----------
    data : ProgrammeData
        Needs ``referrals``, ``sites`` and ``incidents``.
    design : {"commissioner", "aligned"}
        See the module notes; :data:`CAVEATS` holds the plain-words caveat.
    outcomes : sequence
        Names in :data:`OUTCOMES` or lists of incident types.
    before, after : (int, int), optional
        Day offsets; defaults in :data:`DEFAULT_WINDOWS`.
    population : {"started", "completed", "all"}
        Whose index referral is followed.
    proven : bool
        Count only events proved (``outcome_date``) by window end + ``lag_days``.
    lag_days : int
        Lag for proven outcomes (default 183 days, the Justice Data Lab's 6 months).

    Returns
    -------
    AnalysisResult
        ``summary``: eligibility counts by group (``n``, ``n_eligible``,
        ``n_not_eligible``); ``tables["persons"]``: one row per person with the
        index referral, window dates, ``eligible``, ``ineligible_reason`` and
        ``n_<outcome>_before`` / ``n_<outcome>_after``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> pw = person_windows(data, design="aligned")
    >>> pw.summary.set_index("group")["n_eligible"].to_dict()
    {'did_not_complete': 53, 'completed': 226, 'ongoing': 0}
    >>> int(pw.persons["eligible"].sum())
    279
    """
    persons, n_in, excluded, names, lag, no_from = _prepare(
        data, design=design, outcomes=outcomes, before=before, after=after, population=population,
        proven=proven, lag_days=lag_days)
    summary = (persons.groupby("group", sort=False)
               .agg(n=("participant_id", "size"), n_eligible=("eligible", "sum")).reset_index())
    summary["n_not_eligible"] = summary["n"] - summary["n_eligible"]
    summary["group_label"] = summary["group"].map(GROUP_LABELS)
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", method=_method(design, persons, proven, lag),
                     design=design, caveat=CAVEATS[design], windows=persons.attrs["windows"], lag_days=lag,
                     sites_without_incident_data_from=no_from)
    return AnalysisResult(summary=summary, meta=meta, tables={"persons": persons},
                          title=f"Follow-up windows ({design} design)")


def _method(design, persons, proven, lag) -> str:
    w = persons.attrs["windows"]
    anchor = "exit date" if design == "commissioner" else "referral date"
    txt = (f"Index referral = first started referral per person. Before window days {w['before'][0]}..{w['before'][1]} "
           f"from the referral date; after window days {w['after'][0]}..{w['after'][1]} from the {anchor}. "
           "Records sharing an event_id count once. Only people whose windows are fully covered by the "
           "linked data count.")
    if proven:
        txt += f" Events count only if proved (outcome_date) within {lag} days after the window ends."
    return txt


# ---------------------------------------------------------------------------
# before vs after
# ---------------------------------------------------------------------------


def _se(variance) -> float:
    """A standard error from a variance estimate; NaN (interval withheld) when the estimate is not positive.

    Sandwich variances from a handful of people can come out zero or negative; their square root is not taken.
    """
    v = float(variance)
    return float(np.sqrt(v)) if np.isfinite(v) and v > 0 else np.nan


#: the rate-ratio models of :func:`before_after`, each a row of every outcome (estimable or not)
_RATE_MODELS = ("poisson", "negative binomial")


def _rate_models(yb, ya, eb, ea, pid, alpha, models=_RATE_MODELS):
    """Person-period count model: rate before, after and rate ratio, clustered by person.

    Fitted on the distinct (count before, count after, exposures) patterns with
    frequency weights: people with the same pattern contribute identical rows and
    identical cluster scores, so the estimates, clustered SEs and small-sample factors
    are those of the person-level fit, at a cost that does not grow with the data.
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    n = len(yb)
    y = np.concatenate([yb, ya]).astype(float)
    X = pd.DataFrame({"const": 1.0, "after": np.r_[np.zeros(n), np.ones(n)]})
    if n and pd.Series(pid).duplicated().any():
        raise ValueError("follow-up rate models need one row per person")
    cells = (pd.DataFrame({"yb": yb, "ya": ya, "eb": eb, "ea": ea}).value_counts(sort=False)
             .reset_index().sort_values(["yb", "ya", "eb", "ea"], kind="stable"))
    m = len(cells)
    yc = np.r_[cells["yb"], cells["ya"]].astype(float)
    Xc = np.c_[np.ones(2 * m), np.r_[np.zeros(m), np.ones(m)]]
    offc = np.log(np.r_[cells["eb"], cells["ea"]].astype(float))
    wc = np.r_[cells["count"], cells["count"]].astype(float)
    groups = np.r_[np.arange(m), np.arange(m)]
    out, fits = [], {}
    if n == 0 or y[:n].sum() == 0 or y[n:].sum() == 0:
        return out, fits, "no events in one of the windows: rate ratio not estimable"
    if n < 2:
        return out, fits, "one person: a rate ratio with a person-clustered interval needs at least two"
    for model in models:
        try:
            if model == "poisson":
                res = fit_count_model(yc, Xc, family="poisson", offset=offc, cluster=groups, cov_type="HC1",
                                      names=list(X.columns), freq_weights=wc)
            else:
                res = fit_count_model(yc, Xc, family="negbin", offset=offc, cluster=groups, cov_type="HC1",
                                      names=list(X.columns), freq_weights=wc)
        except (np.linalg.LinAlgError, ValueError) as err:
            out.append({"model": model, "measure": "rate ratio (after / before)", "period": "change",
                        "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                        "note": str(err)})
            continue
        fits[model] = res
        b = res.params.to_numpy()
        se1 = _se(res.cov_params.iloc[1, 1])
        if not np.isfinite(se1):
            out.append({"model": model, "measure": "rate ratio (after / before)", "period": "change",
                        "estimate": float(np.exp(b[1])), "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                        "note": "the variance estimate is not positive (too few people or events): interval "
                                "withheld"})
            continue
        out.append({"model": model, "measure": "rate ratio (after / before)", "period": "change",
                    "estimate": float(np.exp(b[1])), "ci_lower": float(np.exp(b[1] - z * se1)),
                    "ci_upper": float(np.exp(b[1] + z * se1)), "p_value": float(2 * stats.norm.sf(abs(b[1] / se1))),
                    "note": "" if model == "poisson" else (
                        f"NB2 dispersion alpha = {res.nb_alpha:.4g} (theta = {1 / res.nb_alpha:.4g}); SE clustered by "
                        "person (the model-based SE ignores that each person is in both windows)")})
    return out, fits, ""


def _any_rows(yb, ya, alpha):
    ab, aa = (np.asarray(yb) > 0), (np.asarray(ya) > 0)
    n = len(ab)
    rows = []
    for period, x in (("before", ab), ("after", aa)):
        k = int(x.sum())
        lo, hi = wilson_ci(k, n, alpha=alpha)
        rows.append({"measure": "any incident", "period": period, "model": "Wilson", "n": n,
                     "n_with_incident": k, "estimate": k / n if n else np.nan,
                     "ci_lower": float(lo), "ci_upper": float(hi), "p_value": np.nan, "unit": "proportion"})
    both, stopped = int((ab & aa).sum()), int((ab & ~aa).sum())
    started, neither = int((~ab & aa).sum()), int((~ab & ~aa).sum())
    d, lo, hi = newcombe_paired_ci(both, started, stopped, neither, alpha=alpha)
    rows.append({"measure": "any incident", "period": "change", "model": "Newcombe paired; exact McNemar",
                 "n": n, "n_with_incident": np.nan, "estimate": 100 * d, "ci_lower": 100 * lo,
                 "ci_upper": 100 * hi, "p_value": mcnemar_exact(stopped, started) if n else np.nan,
                 "unit": "percentage points", "n_stopped": stopped, "n_started": started})
    return rows


def _rate_rows(yb, ya, eb, ea, pid, alpha):
    rows = []
    z = float(stats.norm.ppf(1 - alpha / 2))
    for period, y, e in (("before", yb, eb), ("after", ya, ea)):
        k, py = int(np.sum(y)), float(np.sum(e))
        est = k / py if py > 0 else np.nan
        # cluster-robust (one observation per person) interval on the log scale
        if k > 0 and len(y) > 1:
            mu = est * np.asarray(e)
            u = np.asarray(y) - mu
            se_log = float(np.sqrt(np.sum(u**2) * len(y) / (len(y) - 1)) / k)
            lo, hi = est * np.exp(-z * se_log), est * np.exp(z * se_log)
        else:
            lo, hi = (0.0, float(-np.log(alpha / 2) / py)) if py > 0 else (np.nan, np.nan)
        rows.append({"measure": "incidents per person-year", "period": period, "model": "robust (by person)",
                     "n": len(y), "n_events": k, "person_years": py, "estimate": est, "ci_lower": lo,
                     "ci_upper": hi, "p_value": np.nan, "unit": "per person-year"})
    mod, fits, note = _rate_models(np.asarray(yb), np.asarray(ya), np.asarray(eb), np.asarray(ea), pid, alpha)
    for r in mod:
        lab = " (SE clustered by person)"
        rows.append({**r, "n": len(yb), "unit": "ratio", "model": r["model"] + lab})
    if note:
        # the rows of every model, not estimable: one row of its own without a model said "no incident in one of
        # the windows" where a few gave the fitted rows (attack a19 F2)
        for model in _RATE_MODELS:
            rows.append({"measure": "rate ratio (after / before)", "period": "change",
                         "model": model + " (SE clustered by person)", "n": len(yb), "estimate": np.nan,
                         "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan, "unit": "ratio", "note": note})
    return rows, fits


_BA_COLS = ["outcome", "label", "role", "measure", "period", "model", "unit", "n", "n_with_incident", "n_events",
            "person_years", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted", "note", "n_stopped", "n_started"]


def before_after(data, *, design: str = "commissioner",
                 outcomes: Sequence = ("police", "marac", "childrens_services"), before=None, after=None,
                 population: str = "started", by: str | None = None, proven: bool = False,
                 lag_days: int = 183, primary: str | None = None, alpha: float = 0.05) -> AnalysisResult:
    """Incidents before vs after, per person: any-incident proportions, rates and rate ratios.

    For every eligible person (see the module notes) and outcome:

    * any incident in the before and after windows: proportions with Wilson
      intervals; the change in percentage points (Newcombe method 10 for
      paired proportions) with the exact McNemar test;
    * incidents per person-year before and after, and the rate ratio from a
      Poisson GLM on the two person-periods with log exposure offset and
      standard errors clustered by person (statsmodels ``cov_type="cluster"``,
      small-sample factor G/(G-1)(N-1)/(N-K), as ``sandwich::vcovCL(type="HC1")``),
      with a negative binomial alternative (NB2, dispersion by maximum
      likelihood as ``MASS::glm.nb``), its SE also clustered by person.  With
      windows of equal length both give the same rate ratio (the ratio of
      event totals) and, the window being the only term, the same clustered
      interval.  The negative binomial's model-based SE is not used: it
      allows for over-dispersion but treats a person's two windows as
      independent, whereas people with many incidents before tend to have
      many after; in simulation it over-covered (98.0%, issue #31) while the
      clustered interval covered 96.1%.

    Parameters
    ----------
    data : ProgrammeData
    design : {"commissioner", "aligned"}
        ``commissioner``: 12 months before referral vs 12 months after exit.
        ``aligned``: months -12..0 vs 7..18 since referral for everyone.
        Read ``meta["caveat"]``.
    outcomes : sequence
        Names in :data:`OUTCOMES` (``police``, ``da_crime``, ``marac``,
        ``childrens_services``, ``any_record``), single incident types
        (e.g. ``police_callout``) or lists of incident types.
    before, after : (int, int), optional
        Window day offsets (default :data:`DEFAULT_WINDOWS`); for a plan's
        ``window_months`` use ``round(months * 365.25 / 12)`` days.
    population : {"started", "completed", "all"}
    by : str, optional
        ``"group"`` (completed / started, did not complete / ...),
        ``"programme_status"``, ``"site_id"`` or another referral column.
    proven, lag_days
        Proven-outcome rule (Justice Data Lab: 6-month lag = 183 days).
    primary : str, optional
        The analysis plan's primary follow-up outcome (one of ``outcomes``;
        default the first).  Its change in "any incident" is tested as is
        (exact McNemar); the other outcomes' are secondary and
        Holm-adjusted (``p_adjusted``, within each ``by`` group).
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary`` columns: [by], ``outcome``, ``label``, ``role``
        (primary / secondary), ``measure``, ``period`` (before / after /
        change), ``model``, ``unit``, ``n`` (eligible people),
        ``n_with_incident``, ``n_events``, ``person_years``, ``estimate``,
        ``ci_lower``, ``ci_upper``, ``p_value``, ``p_adjusted`` (on the
        "any incident" change rows), ``note``.  ``tables["persons"]``: per-person windows and
        counts; ``tables["eligibility"]``: people by group and eligibility.
        ``model``: dict of fitted rate models.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> ba = before_after(data, design="commissioner")
    >>> rr = ba.summary.query("outcome == 'police' and measure == 'rate ratio (after / before)'").iloc[0]
    >>> rr["model"], round(float(rr["estimate"]), 2)
    ('poisson (SE clustered by person)', 0.24)
    """
    alpha = check_alpha(alpha)
    persons, n_in, excluded, names, lag, no_from = _prepare(
        data, design=design, outcomes=outcomes, before=before, after=after, population=population,
        proven=proven, lag_days=lag_days)
    elig = persons[persons["eligible"]]
    if len(elig) == 0 and not is_part(data):
        # the folder: said so. A site's (or period's) part: the comparison of nobody, shown as one of a few (a
        # site's "no one is eligible" said so of its few starters; issue 26)
        raise _no_one("no one is eligible for the before/after comparison yet", n_in, excluded)
    if by is not None and by not in elig.columns:
        raise ValueError(f"by={by!r} is not a referral, site or derived column ('group', 'programme_status')")
    primary_name = names[0] if primary is None else _outcome_types(primary)[0]
    if primary_name not in names:
        raise ValueError(f"primary={primary!r} must be one of the outcomes analysed ({', '.join(names)})")
    groups = [((None,), elig)] if by is None else [((k,), g) for k, g in elig.groupby(by, sort=True)]
    rows, fits = [], {}
    for key, g in groups:
        for name in names:
            yb, ya = g[f"n_{name}_before"].to_numpy(dtype=int), g[f"n_{name}_after"].to_numpy(dtype=int)
            base = {"outcome": name, "label": OUTCOME_LABELS.get(name, name),
                    "role": "primary" if name == primary_name else "secondary"}
            if by is not None:
                base = {by: key[0], **base}
            for r in _any_rows(yb, ya, alpha):
                rows.append({**base, **r})
            rr, f = _rate_rows(yb, ya, g["exposure_before"].to_numpy(), g["exposure_after"].to_numpy(),
                               g["participant_id"].to_numpy(), alpha)
            rows += [{**base, **r} for r in rr]
            fits[(key[0], name) if by is not None else name] = f
    cols = ([by] if by is not None else []) + _BA_COLS
    summary = pd.DataFrame(rows).reindex(columns=cols)
    summary["note"] = summary["note"].fillna("")
    tested = (summary["measure"] == "any incident") & (summary["period"] == "change")
    for _, idx in (summary[tested].groupby(by, dropna=False).groups.items() if by is not None
                   else [(None, summary.index[tested])]):
        summary.loc[idx, "p_adjusted"] = _holm(summary.loc[idx])
    for c in ("n", "n_with_incident", "n_events"):
        summary[c] = summary[c].astype("Int64")
    elig_tab = (persons.assign(status=np.where(persons["eligible"], "eligible", persons["ineligible_reason"]))
                .groupby(["group", "status"]).size().rename("n").reset_index())
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha,
                     method=_method(design, persons, proven, lag) + " Rate ratio: Poisson GLM with log "
                     "exposure offset, SE clustered by person (HC1: G/(G-1)(N-1)/(N-K), as sandwich::vcovCL; HC0 "
                     "would be slightly smaller); negative binomial (NB2) alternative, SE also clustered by person.",
                     design=design, caveat=CAVEATS[design], windows=persons.attrs["windows"], lag_days=lag,
                     proven=proven, primary=primary_name, sites_without_incident_data_from=no_from,
                     note_incident_data_from=("incident_data_from not given for site(s) "
                                              f"{', '.join(no_from)}: their before windows are assumed complete")
                     if no_from else "")
    return AnalysisResult(summary=summary, meta=meta, model=fits,
                          tables={"persons": persons, "eligibility": elig_tab},
                          roles={"summary": before_after_roles(summary, alpha, by)},
                          title=f"Incidents before and after ({design} design)",
                          _plotter=plotting.plot_before_after)


# ---------------------------------------------------------------------------
# repeat MARAC
# ---------------------------------------------------------------------------


def repeat_marac(data, *, design: str = "commissioner", before=None, after=None, population: str = "started",
                 by: str | None = None, alpha: float = 0.05) -> AnalysisResult:
    """Repeat MARAC referrals as SafeLives defines them, before vs after.

    A MARAC referral is a **repeat** when the same person had a previous
    MARAC referral within the 12 months (365 days) before it (SafeLives).
    The previous referral may lie outside the window (all linked data are
    searched).  Repeats are counted per MARAC referral (the SafeLives repeat
    rate = repeat referrals / all referrals) and per person.

    Returns
    -------
    AnalysisResult
        ``summary``: per period (before / after): ``n`` (eligible people),
        ``n_marac`` (MARAC referrals in the window), ``n_repeat``,
        ``estimate`` (repeat rate, Wilson CI), ``n_people_marac``,
        ``n_people_repeat``, ``n_lookback_incomplete`` (first-time referrals
        within 12 months of the start of the linked data, whose status
        cannot be known).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> rm = repeat_marac(data).summary.set_index("period")
    >>> rm["estimate"].round(3).to_dict()
    {'before': 0.385, 'after': 0.3}
    """
    alpha = check_alpha(alpha)
    persons, n_in, excluded, _, _, _ = _prepare(data, design=design, outcomes=(), before=before, after=after,
                                                population=population, proven=False, lag_days=0)
    elig = persons[persons["eligible"]]
    if len(elig) == 0 and not is_part(data):
        # the folder: said so. A site's (or period's) part: the count of nobody, shown like one of a few (a
        # site's "no one is eligible" beside another's table said 0 against 1; attack a17 G2)
        raise _no_one("no one is eligible for the repeat MARAC count yet", n_in, excluded)
    ev = _events(data, ("marac_referral",)).sort_values(["participant_id", "event_date", "event_id"])
    ev["prev_date"] = ev.groupby("participant_id")["event_date"].shift()
    ev["repeat"] = (ev["event_date"] - ev["prev_date"]).dt.days <= 365
    cols = ["participant_id", "before_start", "before_end", "after_start", "after_end", "incident_data_from"]
    if by is not None:
        if by not in elig.columns:
            raise ValueError(f"by={by!r} is not a referral, site or derived column")
        cols.append(by)
    m = ev.merge(elig[cols], on="participant_id", how="inner")
    m["lookback_incomplete"] = (~m["repeat"]) & m["incident_data_from"].notna() & (
        (m["event_date"] - m["incident_data_from"]).dt.days < 365)
    groups = [(None, elig, m)] if by is None else [(k, g, m[m[by] == k]) for k, g in elig.groupby(by, sort=True)]
    rows = []
    for key, g, mm in groups:
        for period in ("before", "after"):
            w = mm[(mm["event_date"] >= mm[f"{period}_start"]) & (mm["event_date"] < mm[f"{period}_end"])]
            k, n_ev = int(w["repeat"].sum()), len(w)
            lo, hi = wilson_ci(k, n_ev, alpha=alpha)
            row = {"period": period, "n": len(g), "n_marac": n_ev, "n_repeat": k,
                   "estimate": k / n_ev if n_ev else np.nan, "ci_lower": float(lo), "ci_upper": float(hi),
                   "n_people_marac": int(w["participant_id"].nunique()),
                   "n_people_repeat": int(w.loc[w["repeat"], "participant_id"].nunique()),
                   "n_lookback_incomplete": int(w["lookback_incomplete"].sum())}
            rows.append(row if by is None else {by: key, **row})
    empty = sorted({r["period"] for r in rows if r["n_marac"] == 0}, reverse=True)
    note = (f"no MARAC referrals among the eligible people in the {' and '.join(empty)} window"
            f"{'s' if len(empty) > 1 else ''}: no repeat rate there" if empty else "")
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha, note=note,
                     method=("SafeLives repeat MARAC: a MARAC referral within 365 days of the same person's "
                             "previous MARAC referral; repeat rate = repeats / MARAC referrals in the window "
                             "(Wilson interval, referrals treated as independent)."),
                     design=design, caveat=CAVEATS[design], windows=persons.attrs["windows"])
    summary = pd.DataFrame(rows)
    return AnalysisResult(summary=summary, meta=meta, title="Repeat MARAC referrals (SafeLives)",
                          tables={"marac_events": m}, roles={"summary": _repeat_marac_roles(summary.columns, by)})


#: the counts of a repeat MARAC row that are parts of its MARAC referrals (and people referred to MARAC)
REPEAT_PARTS = ("n_repeat", "n_people_marac", "n_people_repeat", "n_lookback_incomplete")


def _repeat_marac_roles(cols, by: str | None) -> list:
    """The repeat rate is a proportion of the published repeats and MARAC referrals."""
    from dapp_eval.columns import Count, Events, Label, Proportion

    return [Label(*[c for c in (by, "period", "note") if c and c in cols]),
            Count("n", "n_marac", *REPEAT_PARTS), Events("n_marac", n="n", people="n_people_marac"),
            Proportion("n_repeat", "n_marac")]


# ---------------------------------------------------------------------------
# time to first incident after exit
# ---------------------------------------------------------------------------


def time_to_incident(data, *, outcome="police", population: str = "started", by: str | None = "group",
                     timeline_months: Sequence[float] = (0, 3, 6, 9, 12, 18, 24), proven: bool = False,
                     alpha: float = 0.05) -> AnalysisResult:
    """Time from exit to the first incident: Kaplan-Meier with numbers at risk.

    Time zero is the exit date of the person's index referral; follow-up ends
    at the first event (an event on the exit day counts at day 0) or is
    censored at the site's data extract date.  People still attending, and
    people whose exit precedes the start of the linked data, are excluded
    (counted in ``meta``).  Estimates use lifelines' ``KaplanMeierFitter``
    (product-limit, tied times handled exactly) with its log(-log) intervals.
    With ``proven=True`` the event date is when the event was proved
    (``outcome_date``), since only then is it known to be an offence.

    Returns
    -------
    AnalysisResult
        ``summary``: per group and time point: ``months``, ``days``,
        ``n_at_risk``, ``n_events`` (cumulative), ``n_censored``
        (cumulative), ``estimate`` (proportion with no incident since exit;
        empty beyond the longest follow-up), ``ci_lower``, ``ci_upper``.  ``tables["persons"]``: durations.
        ``model``: dict of fitted ``KaplanMeierFitter`` per group.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> tti = time_to_incident(data, outcome="police")
    >>> tti.summary.query("months == 12").set_index("group")["estimate"].round(3).to_dict()
    {'completed': 0.792, 'did_not_complete': 0.602}
    """
    from lifelines import KaplanMeierFitter

    alpha = check_alpha(alpha)
    name, types = _outcome_types(outcome)
    persons, n_in, excluded = _persons(data, population)
    no_exit = persons["exit_date"].isna()
    excluded["no exit date yet (still attending)"] = int(no_exit.sum())
    p = persons[~no_exit].copy()
    late = p["incident_data_from"].notna() & (p["incident_data_from"] > p["exit_date"])
    excluded["linked incident data start after exit"] = int(late.sum())
    p = p[~late].reset_index(drop=True)
    ev = _events(data, types)
    if proven:
        ev = ev[ev["proved_date"].notna()].assign(event_date=lambda d: d["proved_date"])
    m = ev.merge(p[["participant_id", "exit_date", "data_extract_date"]], on="participant_id")
    m = m[(m["event_date"] >= m["exit_date"]) & (m["event_date"] <= m["data_extract_date"])]
    first = m.groupby("participant_id")["event_date"].min()
    p["first_event_date"] = p["participant_id"].map(first)
    p["event"] = p["first_event_date"].notna()
    end = p["first_event_date"].where(p["event"], p["data_extract_date"])
    p["days"] = (end - p["exit_date"]).dt.days.astype(float)
    if by is not None and by not in p.columns:
        raise ValueError(f"by={by!r} is not a referral, site or derived column")
    if len(p) == 0:
        raise AnalysisError("no one has left the programme with linked data after exit: nothing to follow up")
    groups = [("all", p)] if by is None else list(p.groupby(by, sort=True))
    rows, fits, curves = [], {}, []
    for key, g in groups:
        kmf = KaplanMeierFitter(alpha=alpha, label=str(GROUP_LABELS.get(key, key)))
        kmf.fit(g["days"], event_observed=g["event"])
        fits[key] = kmf
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        curves.append(pd.DataFrame({"group": key, "days": sf.index.to_numpy(), "estimate": sf.to_numpy(),
                                    "ci_lower": ci.iloc[:, 0].to_numpy(), "ci_upper": ci.iloc[:, 1].to_numpy()}))
        for mo in timeline_months:
            t = float(round(mo * _YEAR / 12))
            idx = sf.index[sf.index <= t]
            at = idx.max() if len(idx) else sf.index.min()
            beyond = t > g["days"].max()  # no one followed this long: no estimate
            rows.append({"group": key, "months": mo, "days": t,
                         "n_at_risk": int((g["days"] >= t).sum()),
                         "n_events": int(((g["days"] <= t) & g["event"]).sum()),
                         "n_censored": int(((g["days"] <= t) & ~g["event"]).sum()),
                         "estimate": np.nan if beyond else float(sf.loc[at]),
                         "ci_lower": np.nan if beyond else float(ci.loc[at].iloc[0]),
                         "ci_upper": np.nan if beyond else float(ci.loc[at].iloc[1])})
    summary = pd.DataFrame(rows)
    if by is not None:
        summary = summary.rename(columns={"group": by})
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha,
                     method=(f"Kaplan-Meier estimate of the proportion with no {OUTCOME_LABELS.get(name, name).lower()} "
                             "since exit (time zero = exit date of the index referral, censored at the data "
                             "extract date); log(-log) intervals; records sharing an event_id count once."),
                     outcome=name, proven=proven)
    return AnalysisResult(summary=summary, meta=meta, model=fits,
                          tables={"persons": p, "curves": pd.concat(curves, ignore_index=True)},
                          title="Time to first incident after exit", _plotter=plotting.plot_time_to_incident)


# ---------------------------------------------------------------------------
# recurrent contacts after exit: mean cumulative function
# ---------------------------------------------------------------------------


def _recurrent_rows(p: pd.DataFrame, m: pd.DataFrame) -> pd.DataFrame:
    """Counting-process rows per person: (start, stop] between event days, ``event`` = events on ``stop``.

    Time is days since exit; the at-risk period is (-1, follow-up days], so an event on the exit day
    counts at day 0. ``m``: one row per event with ``participant_id`` and ``day``.
    """
    pos = pd.Index(p["participant_id"]).get_indexer(m["participant_id"])
    ev = (pd.DataFrame({"pos": pos, "day": m["day"].to_numpy(dtype=float)})
          .groupby(["pos", "day"]).size().rename("event").reset_index())
    prev = ev.groupby("pos")["day"].shift().fillna(-1.0)
    rows = pd.DataFrame({"pos": ev["pos"], "start": prev, "stop": ev["day"], "event": ev["event"]})
    last = ev.groupby("pos")["day"].max()
    end = p["days"].to_numpy(dtype=float)
    tail_start = np.full(len(p), -1.0)
    tail_start[last.index.to_numpy()] = last.to_numpy()
    tail = pd.DataFrame({"pos": np.arange(len(p)), "start": tail_start, "stop": end, "event": 0})
    tail = tail[tail["stop"] > tail["start"]]
    out = pd.concat([rows, tail], ignore_index=True).sort_values(["pos", "start"], kind="stable")
    out["participant_id"] = p["participant_id"].to_numpy()[out["pos"].to_numpy()]
    out["group"] = p["group"].to_numpy()[out["pos"].to_numpy()] if "group" in p else "all"
    return out.reset_index(drop=True)


def _lwyy_completed(rows_all: pd.DataFrame, alpha: float, fits: dict) -> list[dict]:
    """LWYY rate ratio since exit, completed vs did not complete (one row, or none if a group has no events)."""
    from dapp_eval.estimators.recurrent import rate_model

    two = rows_all[rows_all["group"].isin(["completed", "did_not_complete"])].copy()
    two["event"] = (two["event"] > 0).astype(int)
    counts = two.groupby("group")["event"].sum()
    if len(counts) < 2 or not (counts > 0).all():
        return []
    two["completed"] = (two["group"] == "completed").astype(float)
    measure = "rate ratio since exit (completed / did not complete)"
    try:
        fit = rate_model("~ completed", two, start="start", stop="stop", event="event", id="participant_id",
                         alpha=alpha)
    except (ValueError, np.linalg.LinAlgError) as err:
        return [{"measure": measure, "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan,
                 "note": f"not estimable: {err}"}]
    fits["lwyy"] = fit
    ci = fit.conf_int(alpha).loc["completed"]
    return [{"measure": measure, "estimate": float(np.exp(fit.params["completed"])),
             "ci_lower": float(np.exp(ci["ci_lower"])), "ci_upper": float(np.exp(ci["ci_upper"])),
             "p_value": float(fit.pvalues["completed"]), "n_events": int(counts.min()),
             "note": "LWYY proportional rates model, robust SE clustered by person; descriptive, not causal"}]


def _rate_ratio_roles() -> list:
    """The LWYY rate ratio: model output, shown when each group has at least ``threshold`` contacts
    (``n_events``, the smaller group's)."""
    from dapp_eval.columns import Count, Label, Model

    return [Label("measure", "note"), Count("n_events"),
            Model(("estimate", "ci_lower", "ci_upper", "p_value"), events="n_events")]


def _followed_since_exit(persons: pd.DataFrame, excluded: dict) -> pd.DataFrame:
    """The people followed from their exit date, with ``days`` of follow-up; the others counted in ``excluded``."""
    no_exit = persons["exit_date"].isna()
    excluded["no exit date yet (still attending)"] = int(no_exit.sum())
    p = persons[~no_exit]
    late = p["incident_data_from"].notna() & (p["incident_data_from"] > p["exit_date"]) \
        if "incident_data_from" in p else pd.Series(False, index=p.index)
    excluded["linked incident data start after exit"] = int(late.sum())
    p = p[~late].reset_index(drop=True)
    p["days"] = (p["data_extract_date"] - p["exit_date"]).dt.days.astype(float)
    after_extract = p["days"] < 0
    excluded["exit date after the data extract date"] = int(after_extract.sum())
    return p[~after_extract].reset_index(drop=True)


def recurrent_contacts(data, *, outcome="police", population: str = "started", by: str | None = "group",
                       timeline_months: Sequence[float] = (0, 3, 6, 12, 18, 24), proven: bool = False,
                       alpha: float = 0.05) -> AnalysisResult:
    """Police contacts (or another outcome) over time since leaving: every event, not only the first.

    Time zero is the exit date of the person's index referral; follow-up runs
    to the site's data extract date. Records sharing an ``event_id`` count
    once; an event on the exit day counts at day 0. The **mean cumulative
    function** (MCF) is the average number of events per person by each day
    since exit among the people still followed (Nelson-Aalen of the pooled
    process, :func:`dapp_eval.estimators.recurrent.mcf`), with the
    Lawless-Nadeau robust interval, which allows for one person's contacts
    depending on each other (R: ``reda::mcf``, ``survival::survfit(..., id =)``).
    Log-transformed intervals, so never below zero.

    With ``by="group"`` the ratio of contact rates since exit, completed vs
    started but did not complete, comes from the LWYY proportional rates
    model (:func:`dapp_eval.estimators.recurrent.rate_model`, robust SE
    clustered by person). People who complete differ from people who leave
    early, and their clocks start at different points of their lives: the
    ratio is descriptive (:data:`NOT_CAUSAL`). For that model, two events of
    one person on the same day count once (``meta["n_same_day_merged"]``).

    Returns
    -------
    AnalysisResult
        ``summary``: per group and time point: ``months``, ``days``,
        ``n_at_risk`` (people followed at least that long), ``n_events``
        (events by then), ``estimate`` (MCF: events per person), ``ci_lower``,
        ``ci_upper`` (empty beyond the longest follow-up).
        ``tables["curves"]``: the MCF steps (``group``, ``days``,
        ``n_at_risk``, ``n_events``, ``estimate``, ``ci_lower``, ``ci_upper``);
        ``tables["persons"]``: one row per person with ``days`` of follow-up
        and ``n_events``; ``tables["rows"]``: the counting-process rows;
        ``tables["rate_ratio"]``: the LWYY ratio (one row, or none).
        ``model``: dict of :class:`~dapp_eval.estimators.recurrent.MCFResult`
        per group and ``"lwyy"``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> rc = recurrent_contacts(load_programme("data_synthetic"))
    >>> rc.summary.query("months == 12").set_index("group")["estimate"].round(2).to_dict()
    {'completed': 0.27, 'did_not_complete': 0.7}
    """
    from dapp_eval.estimators.recurrent import mcf

    alpha = check_alpha(alpha)
    name, types = _outcome_types(outcome)
    persons, n_in, excluded = _persons(data, population)
    p = _followed_since_exit(persons, excluded)
    if by is not None and by not in p.columns:
        raise ValueError(f"by={by!r} is not a referral, site or derived column")
    if len(p) == 0:
        raise AnalysisError("no one has left the programme with linked data after exit: nothing to follow up")
    ev = _events(data, types)
    if proven:
        ev = ev[ev["proved_date"].notna()].assign(event_date=lambda d: d["proved_date"])
    m = ev.merge(p[["participant_id", "exit_date", "data_extract_date"]], on="participant_id")
    m = m[(m["event_date"] >= m["exit_date"]) & (m["event_date"] <= m["data_extract_date"])]
    m = m.assign(day=(m["event_date"] - m["exit_date"]).dt.days)
    p["n_events"] = p["participant_id"].map(m.groupby("participant_id").size()).fillna(0).astype(int)
    gcol = by if by is not None else "_all"
    if by is None:
        p["_all"] = "all"
    rows_all = _recurrent_rows(p.assign(group=p[gcol]), m)
    summary, curves, fits = [], [], {}
    for key, g in rows_all.groupby("group", sort=True):
        r = mcf(g["start"], g["stop"], g["event"], g["participant_id"], alpha=alpha, conf_type="log")
        fits[key] = r
        s = r.summary.rename(columns={"time": "days", "n_risk": "n_at_risk"})
        if not len(s) or s["days"].iloc[0] > 0:
            n0 = int((p.loc[p[gcol] == key, "days"] >= 0).sum())
            s = pd.concat([pd.DataFrame({"days": [0.0], "n_at_risk": [n0], "n_events": [0.0], "estimate": [0.0],
                                         "std_error": [0.0], "ci_lower": [0.0], "ci_upper": [0.0]}), s])
        curves.append(s.assign(group=key))
        gp = p[p[gcol] == key]
        ge = m[m["participant_id"].isin(gp["participant_id"])]
        for mo in timeline_months:
            t = float(round(mo * _YEAR / 12))
            at = r.at([t]).iloc[0]
            beyond = t > gp["days"].max()
            summary.append({"group": key, "months": mo, "days": t, "n_at_risk": int((gp["days"] >= t).sum()),
                            "n_events": int((ge["day"] <= t).sum()),
                            "estimate": np.nan if beyond else float(at["estimate"]),
                            "ci_lower": np.nan if beyond else float(at["ci_lower"]),
                            "ci_upper": np.nan if beyond else float(at["ci_upper"])})
    curves_df = pd.concat(curves, ignore_index=True)[["group", "days", "n_at_risk", "n_events", "estimate",
                                                      "std_error", "ci_lower", "ci_upper"]]
    merged = int(len(m) - m[["participant_id", "day"]].drop_duplicates().shape[0])
    rr_rows = _lwyy_completed(rows_all, alpha, fits) if by == "group" else []
    summary_df = pd.DataFrame(summary)
    if by is not None:
        summary_df = summary_df.rename(columns={"group": by}) if by != "group" else summary_df
    label = OUTCOME_LABELS.get(name, name)
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha, outcome=name, proven=proven,
                     n_same_day_merged=merged, caveat=NOT_CAUSAL,
                     method=(f"Mean cumulative function of {label.lower()} since exit (every event, records "
                             "sharing an event_id once; time zero = exit date of the index referral; followed to "
                             "the data extract date): Nelson-Aalen of the pooled process with the Lawless-Nadeau "
                             "robust variance and log-transformed intervals (= reda::mcf, survival::survfit with "
                             "id). Rate ratio: LWYY proportional rates model, robust SE clustered by person "
                             "(= coxph(Surv(start, stop, event) ~ completed + cluster(id)))."))
    return AnalysisResult(summary=summary_df, meta=meta, model=fits,
                          tables={"curves": curves_df, "persons": p.drop(columns=["_all"], errors="ignore"),
                                  "rows": rows_all, "rate_ratio": pd.DataFrame(rr_rows)},
                          roles={"rate_ratio": _rate_ratio_roles()},
                          title=f"{label} since leaving: mean number per person",
                          _plotter=plotting.plot_recurrent_contacts)


# ---------------------------------------------------------------------------
# completers vs non-completers
# ---------------------------------------------------------------------------


def compare_completers(data, *, outcome="police", before=None, after=None, proven: bool = False,
                       lag_days: int = 183, alpha: float = 0.05) -> AnalysisResult:
    """People who completed vs people who started but did not: aligned windows.

    Uses the aligned design (windows fixed relative to referral, the same for
    both groups).  **Not a causal comparison** (see :data:`NOT_CAUSAL`, also in
    ``meta["caveat"]``).

    Returns
    -------
    AnalysisResult
        ``summary`` rows per group and window: any incident (Wilson) and
        incidents per person-year; then the difference in the after-window
        proportion (completed minus did not complete, percentage points,
        Newcombe hybrid score interval, Fisher exact p) and the after-window
        rate ratio (Poisson GLM, robust SE), unadjusted and adjusted for
        log(1 + before-window count).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> cc = compare_completers(data)
    >>> cc.meta["caveat"].startswith("This is not a causal comparison")
    True
    >>> diff = cc.summary.query("group == 'completed - did_not_complete'")
    >>> round(float(diff["estimate"].iloc[0]), 1)
    -23.6
    """
    alpha = check_alpha(alpha)
    z = float(stats.norm.ppf(1 - alpha / 2))
    persons, n_in, excluded, names, lag, _ = _prepare(
        data, design="aligned", outcomes=(outcome,), before=before, after=after, population="started",
        proven=proven, lag_days=lag_days)
    name = names[0]
    elig = persons[persons["eligible"]]
    ongoing = elig["group"] == "ongoing"
    excluded["still attending (neither completed nor left)"] = int(ongoing.sum())
    elig = elig[~ongoing].reset_index(drop=True)
    if len(elig) == 0 and not is_part(data):
        # the folder: said so. A part: the comparison of nobody, shown like one of a few (a one-month release's
        # "no one who completed or left is eligible" stated a 0 in words; outside attack a21 F4)
        raise _no_one("no one who completed or left is eligible for the comparison yet", n_in, excluded)
    rows = []
    for grp in ("completed", "did_not_complete"):
        g = elig[elig["group"] == grp]
        for period in ("before", "after"):
            y = g[f"n_{name}_{period}"].to_numpy(dtype=int)
            k, n = int((y > 0).sum()), len(y)
            lo, hi = wilson_ci(k, n, alpha=alpha)
            rows.append({"group": grp, "group_label": GROUP_LABELS[grp], "period": period,
                         "measure": "any incident", "n": n, "n_with_incident": k, "n_events": int(y.sum()),
                         "estimate": k / n if n else np.nan, "ci_lower": float(lo), "ci_upper": float(hi),
                         "p_value": np.nan})
            py = float(g[f"exposure_{period}"].sum())
            rows.append({"group": grp, "group_label": GROUP_LABELS[grp], "period": period,
                         "measure": "incidents per person-year", "n": n, "n_with_incident": np.nan,
                         "n_events": int(y.sum()), "estimate": y.sum() / py if py else np.nan,
                         "ci_lower": np.nan, "ci_upper": np.nan, "p_value": np.nan})
    c, d = elig[elig["group"] == "completed"], elig[elig["group"] == "did_not_complete"]
    kc, nc = int((c[f"n_{name}_after"] > 0).sum()), len(c)
    kd, nd = int((d[f"n_{name}_after"] > 0).sum()), len(d)
    diff, lo, hi = newcombe_diff_ci(kc, nc, kd, nd, alpha=alpha)
    p_f = float(stats.fisher_exact([[kc, nc - kc], [kd, nd - kd]])[1]) if nc and nd else np.nan
    rows.append({"group": "completed - did_not_complete", "group_label": "difference (completed minus not)",
                 "period": "after", "measure": "any incident: difference in percentage points", "n": nc + nd,
                 "n_with_incident": kc + kd, "n_events": np.nan, "estimate": 100 * diff, "ci_lower": 100 * lo,
                 "ci_upper": 100 * hi, "p_value": p_f})
    fits = {}
    if nc and nd and elig[f"n_{name}_after"].sum() > 0:
        y = elig[f"n_{name}_after"].to_numpy(dtype=float)
        off = np.log(elig["exposure_after"].to_numpy(dtype=float))
        Xu = pd.DataFrame({"const": 1.0, "completed": (elig["group"] == "completed").astype(float)})
        Xa = Xu.assign(log1p_before=np.log1p(elig[f"n_{name}_before"].to_numpy(dtype=float)))
        for label, X in (("unadjusted", Xu), ("adjusted for before-window count", Xa)):
            res = fit_count_model(y, X.to_numpy(), family="poisson", offset=off, cov_type="HC0",
                                  names=list(X.columns))
            fits[label] = res
            b, se = float(res.params.iloc[1]), _se(res.cov_params.iloc[1, 1])
            if not (np.isfinite(se) and abs(b) < 20 and se < 10):  # separation (no incident in a group), or no
                b, se = np.nan, np.nan                                # usable variance: not estimable
            # se_log: the robust standard error of the log ratio, with which a report puts the unadjusted ratio
            # of the published rates in its interval (a18 H1: the ratio of the true rates, with 12-month windows,
            # gave the non-completers' hidden incidents back exactly)
            rows.append({"group": "completed / did_not_complete", "group_label": "rate ratio (completed vs not)",
                         "period": "after", "measure": f"rate ratio, Poisson robust SE, {label}", "n": nc + nd,
                         "n_with_incident": np.nan, "n_events": int(y.sum()), "estimate": np.exp(b),
                         "ci_lower": np.exp(b - z * se), "ci_upper": np.exp(b + z * se),
                         "p_value": float(2 * stats.norm.sf(abs(b / se))), "se_log": se})
    summary = pd.DataFrame(rows)
    for c_ in ("n", "n_with_incident", "n_events"):
        summary[c_] = summary[c_].astype("Int64")
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha,
                     method=_method("aligned", persons, proven, lag) + " Difference: Newcombe hybrid score; "
                     "Fisher exact test; rate ratio: Poisson GLM with robust (HC0) SE.",
                     caveat=NOT_CAUSAL + " " + CAVEATS["aligned"], outcome=name,
                     windows=persons.attrs["windows"])
    return AnalysisResult(summary=summary, meta=meta, model=fits, tables={"persons": elig},
                          title="Completers vs non-completers (not a causal comparison)",
                          roles={"summary": completers_roles(summary, alpha)},
                          _plotter=plotting.plot_compare_completers)


# ---------------------------------------------------------------------------
# comparison cohort: Justice Data Lab-style propensity score matching
# ---------------------------------------------------------------------------

DEFAULT_COVARIATES = ("age", "gender", "ethnicity", "employment", "referral_source", "prior_da_police_contact",
                      "substance_misuse", "n_children", "prior_incidents")
_NUMERIC = ("age", "n_children", "prior_incidents")


def _covariate_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric covariates (median-filled, with a missing flag) and all category levels as 0/1."""
    cols = {}
    for c in covariates:
        if c not in df.columns:
            raise ValueError(f"covariate {c!r} is not a referral column (nor 'prior_incidents')")
        s = df[c]
        if c in _NUMERIC or pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            x = _as_float(s)
            if x.isna().any():
                cols[f"{c}: missing"] = x.isna().astype(float)
                x = x.fillna(x.median() if x.notna().any() else 0.0)
            cols[c] = x
        else:
            if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
                lev = pd.Series(np.where(s.isna(), "unknown", np.where(s.fillna(False).astype(bool), "yes", "no")),
                                index=s.index)
            else:
                lev = s.astype(object).where(s.notna(), "unknown").astype(str)
            for v in sorted(lev.unique()):
                cols[f"{c}: {v}"] = (lev == v).astype(float)
    return pd.DataFrame(cols, index=df.index)


def _smd(xt: np.ndarray, xc: np.ndarray, sd: float) -> float:
    return smd(xt, xc, sd=sd)


def _balance_table(X: pd.DataFrame, both: pd.DataFrame, eta: np.ndarray, ti: np.ndarray,
                   ci: np.ndarray) -> pd.DataFrame:
    """Means and standardised differences of each covariate (and the logit score) before and after matching."""
    bal = []
    Xa = X.to_numpy(dtype=float)
    tr = both["treated"].to_numpy() == 1
    for j, cname in enumerate(X.columns):
        xt, xc = Xa[tr, j], Xa[~tr, j]
        sd = float(np.sqrt((np.var(xt, ddof=1) + np.var(xc, ddof=1)) / 2)) if min(len(xt), len(xc)) > 1 else np.nan
        bal.append({"covariate": cname, "mean_programme_before": xt.mean(), "mean_comparison_before": xc.mean(),
                    "smd_before": _smd(xt, xc, sd),
                    "mean_programme_after": Xa[ti, j].mean() if len(ti) else np.nan,
                    "mean_comparison_after": Xa[ci, j].mean() if len(ci) else np.nan,
                    "smd_after": _smd(Xa[ti, j], Xa[ci, j], sd) if len(ti) else np.nan})
    bal.append({"covariate": "logit propensity score", "mean_programme_before": eta[tr].mean(),
                "mean_comparison_before": eta[~tr].mean(),
                "smd_before": _smd(eta[tr], eta[~tr], float(np.sqrt((np.var(eta[tr], ddof=1)
                                                                      + np.var(eta[~tr], ddof=1)) / 2))),
                "mean_programme_after": eta[ti].mean() if len(ti) else np.nan,
                "mean_comparison_after": eta[ci].mean() if len(ci) else np.nan,
                "smd_after": _smd(eta[ti], eta[ci], float(np.sqrt((np.var(eta[tr], ddof=1)
                                                                    + np.var(eta[~tr], ddof=1)) / 2)))
                if len(ti) else np.nan})
    return pd.DataFrame(bal)


def _matched_effects(pairs: pd.DataFrame, n_pairs: int, alpha: float) -> list[dict]:
    """Per-cohort rates and paired differences (Newcombe, exact McNemar, paired t) in the matched pairs."""
    rows = []
    yt, yc = pairs["y_after"].to_numpy(), pairs["comparison_y_after"].to_numpy()
    at, ac = yt > 0, yc > 0
    for lab, a, yy in (("programme (matched)", at, yt), ("comparison (matched)", ac, yc)):
        k = int(a.sum())
        lo, hi = wilson_ci(k, n_pairs, alpha=alpha)
        rows.append({"cohort": lab, "measure": "any incident in the window", "n": n_pairs, "n_with_incident": k,
                     "estimate": k / n_pairs if n_pairs else np.nan, "ci_lower": float(lo), "ci_upper": float(hi),
                     "p_value": np.nan, "unit": "proportion"})
        rows.append({"cohort": lab, "measure": "incidents per person", "n": n_pairs, "n_with_incident": np.nan,
                     "estimate": float(yy.mean()) if n_pairs else np.nan, "ci_lower": np.nan,
                     "ci_upper": np.nan, "p_value": np.nan, "unit": "mean count"})
    both_, t_only = int((at & ac).sum()), int((at & ~ac).sum())
    c_only, neither = int((~at & ac).sum()), int((~at & ~ac).sum())
    d, lo, hi = newcombe_paired_ci(both_, t_only, c_only, neither, alpha=alpha)
    rows.append({"cohort": "programme - comparison", "measure": "any incident in the window: difference",
                 "n": n_pairs, "n_with_incident": np.nan, "estimate": 100 * d, "ci_lower": 100 * lo,
                 "ci_upper": 100 * hi, "p_value": mcnemar_exact(t_only, c_only) if n_pairs else np.nan,
                 "unit": "percentage points"})
    diffs = (yt - yc).astype(float)
    if n_pairs > 1:
        m = diffs.mean()
        half = float(stats.t.ppf(1 - alpha / 2, n_pairs - 1) * diffs.std(ddof=1) / np.sqrt(n_pairs))
        p = float(stats.ttest_1samp(diffs, 0).pvalue) if diffs.std() > 0 else np.nan
    else:
        m, half, p = (diffs.mean() if n_pairs else np.nan), np.nan, np.nan
    rows.append({"cohort": "programme - comparison", "measure": "incidents per person: difference",
                 "n": n_pairs, "n_with_incident": np.nan, "estimate": m, "ci_lower": m - half, "ci_upper": m + half,
                 "p_value": p, "unit": "mean count"})
    return rows


def comparison_cohorts(data, comparison, *, outcome, covariates, before, after, population, comparison_population,
                       proven, lag_days) -> tuple:
    """The eligible people of a programme and a comparison folder, with covariates, for matching or weighting.

    Returns ``(name, both, X, Xm, n_in, excluded, comp_meta, n_treated, n_comparison)``: ``both`` one row per
    eligible person (``treated`` 1/0, ``prior_incidents``, ``y_after``), ``X`` every covariate level as 0/1 (for
    balance), ``Xm`` the propensity model's columns (one reference level dropped per category, constant columns
    dropped, no intercept).
    """
    name, types = _outcome_types(outcome)
    cohorts = []
    excluded: dict[str, int] = {}
    n_in = 0
    comp_meta = {}
    for label, d, pop in (("programme", data, population), ("comparison", comparison, comparison_population)):
        persons, n, excl, names, lag, _ = _prepare(d, design="aligned", outcomes=(types,), before=before,
                                                   after=after, population=pop, proven=proven, lag_days=lag_days)
        col = names[0]
        persons = persons.rename(columns={f"n_{col}_before": "prior_incidents", f"n_{col}_after": "y_after"})
        el = persons[persons["eligible"]].copy()
        el["cohort"] = label
        el["treated"] = 1.0 if label == "programme" else 0.0
        cohorts.append(el)
        if label == "programme":
            n_in, excluded = n, dict(excl)
        else:
            comp_meta = {"n_in": n, "excluded": excl, "n_eligible": len(el)}
    both = pd.concat(cohorts, ignore_index=True)
    nt, nc = int(both["treated"].sum()), int((1 - both["treated"]).sum())
    if nt == 0 or nc == 0:
        raise AnalysisError("no eligible people in the programme or in the comparison cohort")
    X = _covariate_matrix(both, covariates)
    Xm = X.copy()
    for c in list(covariates):  # drop one reference level per category for the model
        levels = [k for k in Xm.columns if k.startswith(f"{c}: ") and not k.endswith(": missing")]
        if levels and c not in _NUMERIC:
            Xm = Xm.drop(columns=levels[0])
    Xm = Xm.loc[:, Xm.std(ddof=0) > 0]
    return name, both, X, Xm, n_in, excluded, comp_meta, nt, nc


def matched_comparison(data, comparison, *, outcome="police", covariates: Sequence[str] = DEFAULT_COVARIATES,
                       before=(-365, 0), after=(0, 365), population: str = "started",
                       comparison_population: str = "all", caliper: float | None = 0.2, proven: bool = False,
                       lag_days: int = 183, alpha: float = 0.05) -> AnalysisResult:
    """Programme cohort vs a comparison cohort, Justice Data Lab style: propensity score matching.

    ``comparison`` is another programme-data folder (same layout: referrals,
    sites, incidents), e.g. people referred but not offered a place, or a
    neighbouring area.  Each person's index referral is the anchor; the
    one-year outcome window is ``after`` (days from the referral date) and
    the ``before`` window gives the prior-incident covariate.  Only people
    whose windows are covered by their own folder's linked data count.

    Method: logistic propensity score on ``covariates`` (numeric ones
    median-filled with a missing flag, categories as indicators);
    1:1 nearest-neighbour matching on the logit of the score without
    replacement, caliper ``caliper`` x SD of the logit score (pooled),
    treated people matched in descending score order and ties broken by
    position (deterministic; the same as MatchIt's ``m.order = "largest"``;
    ``caliper=None`` matches without a caliper).
    Balance: standardised mean differences before and after matching, with
    the pooled pre-matching SD as denominator (Austin 2009); an absolute SMD below 0.1 is
    conventionally balanced.  Effects among matched pairs: any incident in the
    window (difference in percentage points, Newcombe method 10 for paired
    data, exact McNemar) and incidents per person (paired mean difference,
    t-interval).  Cohorts under 60 matched people are flagged as too small to
    conclude (``meta["too_small"]``), the Justice Data Lab's threshold.

    Returns
    -------
    AnalysisResult
        ``summary``: effect rows; ``tables["balance"]``: covariate,
        ``mean_programme_before``, ``mean_comparison_before``, ``smd_before``,
        ``mean_programme_after``, ``mean_comparison_after``, ``smd_after``;
        ``tables["pairs"]``: matched pairs with scores; ``tables["cohorts"]``:
        everyone eligible with score; ``tables["design"]``: the propensity
        model's design matrix; ``model``: the propensity model.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> # two synthetic sites stand in for the programme, two others for a comparison area
    >>> programme, comparison = data.subset(sites=["S01", "S02"]), data.subset(sites=["S03", "S04"])
    >>> res = matched_comparison(programme, comparison)
    >>> res.meta["n_pairs"]
    178
    >>> bal = res.balance.set_index("covariate")
    >>> bal.loc["logit propensity score", ["smd_before", "smd_after"]].astype(float).round(3).tolist()
    [0.23, 0.001]
    """
    alpha = check_alpha(alpha)
    if caliper is not None and not caliper > 0:
        raise ValueError("caliper must be positive (in SDs of the logit propensity score), or None for no caliper")
    name, both, X, Xm, n_in, excluded, comp_meta, nt, nc = comparison_cohorts(
        data, comparison, outcome=outcome, covariates=covariates, before=before, after=after, population=population,
        comparison_population=comparison_population, proven=proven, lag_days=lag_days)
    Xm = sm.add_constant(Xm, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps_fit = sm.GLM(both["treated"].to_numpy(), Xm, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    eta = np.asarray(Xm @ np.asarray(ps_fit.params))
    both["ps"] = 1 / (1 + np.exp(-eta))
    both["logit_ps"] = eta
    width = np.inf if caliper is None else caliper * float(np.std(eta, ddof=1))
    t_idx = np.flatnonzero(both["treated"].to_numpy() == 1)
    c_idx = np.flatnonzero(both["treated"].to_numpy() == 0)
    match = _greedy_match(eta[t_idx], eta[c_idx], width)
    ok = match >= 0
    ti, ci = t_idx[ok], c_idx[match[ok]]
    excluded["no comparison match within the caliper"] = int((~ok).sum())
    if not ok.any():
        raise AnalysisError(f"no one of the {nt} eligible people in the programme cohort has a comparison match "
                            f"within the caliper ({caliper:g} SD of the logit propensity score): nothing to "
                            "compare (a wider caliper, caliper=None or more people may help)")
    pairs = pd.DataFrame({"pair": np.arange(ok.sum()),
                          "participant_id": both["participant_id"].to_numpy()[ti],
                          "comparison_participant_id": both["participant_id"].to_numpy()[ci],
                          "logit_ps": eta[ti], "comparison_logit_ps": eta[ci],
                          "y_after": both["y_after"].to_numpy(dtype=int)[ti],
                          "comparison_y_after": both["y_after"].to_numpy(dtype=int)[ci]})
    balance = _balance_table(X, both, eta, ti, ci)
    n_pairs = len(pairs)
    too_small = n_pairs < _SMALL_COHORT
    rows = _matched_effects(pairs, n_pairs, alpha)
    summary = pd.DataFrame(rows)
    for c_ in ("n", "n_with_incident"):
        summary[c_] = summary[c_].astype("Int64")
    flag = (f"Only {n_pairs} matched people: too small to conclude (the Justice Data Lab needs at least "
            f"{_SMALL_COHORT})." if too_small else "")
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people in the programme cohort", alpha=alpha,
                     method=("Logistic propensity score; 1:1 nearest-neighbour matching on the logit score "
                             f"without replacement, caliper {caliper} SD of the logit score, greedy in descending "
                             "score order; balance by standardised mean differences (pooled pre-matching SD); "
                             "paired effects (Newcombe method 10, exact McNemar; paired t for counts)."),
                     outcome=name, windows={"before": before, "after": after}, caliper_width=width,
                     n_comparison_in=comp_meta.get("n_in"), comparison_excluded=comp_meta.get("excluded"),
                     n_comparison_eligible=nc, n_pairs=n_pairs, too_small=too_small, too_small_note=flag,
                     caveat=("Matching balances only the measured characteristics; people who join a programme "
                             "may still differ in ways not recorded. " + flag).strip())
    return AnalysisResult(summary=summary, meta=meta, model=ps_fit,
                          tables={"balance": balance, "pairs": pairs, "cohorts": both,
                                  "design": Xm.assign(treated=both["treated"].to_numpy(),
                                                      participant_id=both["participant_id"].to_numpy(),
                                                      cohort=both["cohort"].to_numpy())},
                          title="Programme vs matched comparison cohort", _plotter=plotting.plot_balance)


# ---------------------------------------------------------------------------
# what each column of the before/after table is (read by the release's publication step)
# ---------------------------------------------------------------------------


def paired_cells(d: pd.DataFrame) -> pd.DataFrame:
    """The paired 2x2 table each row implies (from whichever counts it is given: true or published)."""
    return pd.DataFrame({"both": d["n_yes_baseline"] - d["n_stopped"], "stopped": d["n_stopped"],
                         "started": d["n_started"],
                         "neither": d["n_pairs"] - d["n_yes_baseline"] - d["n_started"]})


def paired_stats(pub: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Change in percentage points, Newcombe's interval and the exact McNemar p, from the (published) 2x2."""
    rows = []
    for _, c in paired_cells(pub).iterrows():
        if c.isna().any() or (c < 0).any() or c.sum() <= 0:
            rows.append((np.nan, np.nan, np.nan, np.nan))
            continue
        d, lo, hi = newcombe_paired_ci(c["both"], c["started"], c["stopped"], c["neither"], alpha=alpha)
        rows.append((100 * d, 100 * lo, 100 * hi, mcnemar_exact(int(c["stopped"]), int(c["started"]))))
    return pd.DataFrame(rows, columns=["estimate", "ci_lower", "ci_upper", "p_value"])


def _num(df: pd.DataFrame, c: str) -> pd.Series:
    return pd.to_numeric(df[c], errors="coerce").astype(float)


def _period_value(d: pd.DataFrame, col: str, measure: str, period: str, keys: list) -> pd.Series:
    """Each row's ``col`` from the row of the same outcome (``keys``) with ``measure`` and ``period``."""
    src = d[(d["measure"] == measure) & (d["period"] == period)]
    look = dict(zip(map(tuple, src[keys].astype(str).to_numpy()), _num(src, col)))
    return pd.Series([look.get(k, np.nan) for k in map(tuple, d[keys].astype(str).to_numpy())], index=d.index)


def _ba_cells(d: pd.DataFrame, keys: list) -> pd.DataFrame:
    """The 2x2 table (before x after any incident) each 'change' row stands for; NaN on the other rows."""
    change = ((d["measure"] == "any incident") & (d["period"] == "change")).to_numpy()
    yes_before = _period_value(d, "n_with_incident", "any incident", "before", keys)
    cells = pd.DataFrame({"n_pairs": _num(d, "n"), "n_yes_baseline": yes_before,
                          "n_stopped": _num(d, "n_stopped"), "n_started": _num(d, "n_started")})
    return cells.where(pd.Series(change, index=d.index), np.nan)


def _ba_changes(pub: pd.DataFrame, keys: list, alpha: float) -> pd.DataFrame:
    """Change in percentage points, Newcombe's paired interval and the exact McNemar p of each outcome, from
    its published 2x2 table (issue 26: the change x N and its interval pinned the discordant pairs)."""
    cells = _ba_cells(pub, keys)
    out = paired_stats(cells.fillna(-1), alpha)  # a row without a table gives a negative cell: NaN
    bad = cells.isna().any(axis=1).to_numpy()
    out.loc[bad] = np.nan
    out.loc[(paired_cells(cells) < 0).any(axis=1).to_numpy()] = np.nan
    return out.set_axis(pub.index)


def _ba_small(d: pd.DataFrame, keys: list) -> pd.DataFrame:
    return paired_cells(_ba_cells(d, keys))


def _ba_rates(pub: pd.DataFrame, true: pd.DataFrame, keys: list) -> pd.DataFrame:
    """Person-years, incidents per person-year and rate ratios from the published counts.

    The person-years are those of the published number of people (mean follow-up per person x published
    n); each rate is published incidents / those person-years; a rate ratio is the ratio of the published
    rates, and its p-value the model's, shown with its rates. Intervals keep their width on the log scale
    (the model's). Issue 26: the true person-years gave the number of people back (140.9 = 141 x
    365/365.25), and the true rate ratio the numbers of incidents (0.244 = 47 / 193 beside 45 and 195).
    """
    n_t, n_p, ev_p = _num(true, "n"), _num(pub, "n"), _num(pub, "n_events")
    with np.errstate(invalid="ignore", divide="ignore"):
        py = _num(true, "person_years") * n_p / n_t
        rate = pd.Series(np.where(ev_p == 0, 0.0, ev_p / py), index=pub.index)
    is_rate = (true["measure"] == "incidents per person-year").to_numpy()
    rate = rate.where(is_rate, np.nan)
    before = _period_value(true.assign(_r=rate), "_r", "incidents per person-year", "before", keys)
    after = _period_value(true.assign(_r=rate), "_r", "incidents per person-year", "after", keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = pd.Series(np.where(is_rate, rate, after / before), index=pub.index)
    scale = est / _num(true, "estimate")
    out = pd.DataFrame({"person_years": py.where(is_rate, np.nan), "estimate": est,
                        "ci_lower": _num(true, "ci_lower") * scale, "ci_upper": _num(true, "ci_upper") * scale,
                        "p_value": _num(true, "p_value").where(np.isfinite(est), np.nan)})
    out.loc[~np.isfinite(est).to_numpy()] = np.nan
    return out


def any_incident_value(t: pd.DataFrame, col: str, keys: Sequence[str]) -> np.ndarray:
    """Each row's ``col`` on the 'any incident' row of the same ``keys`` and period (NaN where none): the
    number of people a count of incidents implies, or the size of its group.

    >>> t = pd.DataFrame({"label": ["a", "a", "a"], "period": ["after"] * 3, "n": [9, None, None],
    ...                   "measure": ["any incident", "incidents per person-year", "rate ratio"]})
    >>> any_incident_value(t, "n", ["label"]).tolist()
    [9.0, 9.0, 9.0]
    """
    cols = [*keys, "period"]
    anyr = t[t["measure"] == "any incident"]
    look = {tuple(k): v for k, v in zip(anyr[cols].astype(str).itertuples(index=False),
                                        pd.to_numeric(anyr[col], errors="coerce").astype("float64"))}
    return np.array([look.get(tuple(k), np.nan) for k in t[cols].astype(str).itertuples(index=False)], dtype=float)


def events_role(keys: Sequence[str]) -> Events:
    """The number of incidents of a rate row: withheld where 0 in a small group, and beside a number of people
    with an incident (its 'any incident' row) that is not published (issue 26, F1)."""
    from dapp_eval.columns import Events

    keys = tuple(keys)
    return Events("n_events", n=partial(any_incident_value, col="n", keys=keys),
                  people=partial(any_incident_value, col="n_with_incident", keys=keys))


def before_after_roles(summary: pd.DataFrame, alpha: float, by: str | None = None) -> list:
    """What each column of :func:`before_after`'s summary is.

    Proportions of the published counts; the change from each outcome's published 2x2 table (withheld with
    a discordant cell from 1 to threshold - 1); person-years, rates and rate ratios from the published
    numbers of people and incidents.
    """
    from dapp_eval.columns import Count, Derived, Label, Proportion

    keys = [c for c in (by, "outcome", "label") if c]
    change = ((summary["measure"] == "any incident") & (summary["period"] == "change")).to_numpy()
    rates = summary["measure"].astype(str).str.startswith(("incidents per", "rate ratio")).to_numpy()
    stats_cols = ("estimate", "ci_lower", "ci_upper", "p_value")
    roles = [Label(*keys, "role", "measure", "period", "model", "unit", "note"),
             Count("n", "n_with_incident", "n_events", "n_stopped", "n_started"), events_role(keys),
             Proportion("n_with_incident", "n"),
             Derived(stats_cols, partial(_ba_changes, keys=keys, alpha=alpha), rows=change,
                     small=partial(_ba_small, keys=keys)),
             Derived(("person_years", *stats_cols), partial(_ba_rates, true=summary.reset_index(drop=True), keys=keys),
                     rows=rates, hidden_ok=True)]
    if "p_adjusted" in summary:
        roles.append(Derived(("p_adjusted",), partial(_ba_holm, by=by), rows=change, hidden_ok=True))
    return roles


def _ba_holm(pub: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Holm over the published p-values of the secondary outcomes' changes (within each ``by`` group); a
    p-value not shown counts as 1 among the tests; a row whose own p-value is not shown shows none."""
    from dapp_eval.estimators.proportions import holm

    p = _num(pub, "p_value")
    change = (pub["measure"] == "any incident") & (pub["period"] == "change")
    adj = pd.Series(np.nan, index=pub.index)
    for _, g in (pub[change].groupby(by, dropna=False) if by else [(None, pub[change])]):
        pg = p[g.index]
        sec = (g["role"] == "secondary").to_numpy()
        a = pg.to_numpy(dtype=float).copy()
        a[sec] = holm(np.where(np.isnan(a[sec]), 1.0, a[sec]))
        adj[g.index] = a
    return pd.DataFrame({"p_adjusted": adj.where(p.notna(), np.nan)})


# ---------------------------------------------------------------------------
# what each column of the completers table is
# ---------------------------------------------------------------------------


def _group_any(d: pd.DataFrame, col: str) -> pd.Series:
    """Each row's ``col`` from the 'any incident' row of its group and period."""
    return pd.Series([_lookup_any(d, col, g, p) for g, p in zip(d["group"], d["period"])], index=d.index)


def _lookup_any(d: pd.DataFrame, col: str, group, period) -> float:
    r = d[(d["group"] == group) & (d["period"] == period) & (d["measure"] == "any incident")]
    return float(pd.to_numeric(r[col], errors="coerce").iloc[0]) if len(r) == 1 else np.nan


def completer_rates(pub: pd.DataFrame, true: pd.DataFrame) -> pd.DataFrame:
    """Incidents per person-year: the published incidents over the person-years of the published people of
    the group (mean follow-up per person x the published number; the true person-years, with the published
    rate, gave the number of people back: 35.97 person-years = 36 people)."""
    ev_t, rate_t = _num(true, "n_events"), _num(true, "estimate")
    n_t, n_p = _group_any(true, "n"), _group_any(pub, "n")
    with np.errstate(invalid="ignore", divide="ignore"):
        py = np.where(rate_t > 0, ev_t / rate_t, np.nan) * n_p / n_t
        ev_p = _num(pub, "n_events")
        new = np.where(ev_p == 0, 0.0, ev_p / py)
    return pd.DataFrame({"estimate": new}, index=pub.index)


def completer_rate_ratio(pub: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The unadjusted rate ratio, completers over non-completers, of the published rates, in the robust interval
    of the fitted model: exp(log(r1 / r0) -/+ z se_log) and its Wald p-value (NaN where a rate is not published).
    The point estimate of the fit (the ratio of the true rates) is not published."""
    cols = ["estimate", "ci_lower", "ci_upper", "p_value"]
    rates = []
    for g in ("completed", "did_not_complete"):
        r = pub[(pub["group"] == g) & (pub["period"] == "after") & (pub["measure"] == "incidents per person-year")]
        rates.append(float(pd.to_numeric(r["estimate"], errors="coerce").iloc[0]) if len(r) == 1 else np.nan)
    se = (pd.to_numeric(pub["se_log"], errors="coerce").to_numpy(dtype=float) if "se_log" in pub
          else np.full(len(pub), np.nan))
    out = pd.DataFrame(np.nan, index=pub.index, columns=cols)
    if np.isfinite(rates).all() and min(rates) > 0:
        b = float(np.log(rates[0] / rates[1]))
        z = float(stats.norm.ppf(1 - alpha / 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = pd.DataFrame({"estimate": np.exp(b), "ci_lower": np.exp(b - z * se), "ci_upper": np.exp(b + z * se),
                                "p_value": 2 * stats.norm.sf(np.abs(b / se))}, index=pub.index)
    return out


def completer_difference(pub: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Completers minus non-completers after leaving: Newcombe's interval and Fisher's test on the published
    counts of the two groups (NaN where either group's counts or proportion are not published)."""
    cols = ["estimate", "ci_lower", "ci_upper", "p_value"]
    vals = [_lookup_any(pub, c, g, "after") for g in ("completed", "did_not_complete")
            for c in ("n_with_incident", "n", "estimate")]
    kc, nc, _, kd, nd, _ = vals  # both proportions published too (a withheld one withholds the difference)
    res = (np.nan,) * 4
    if not np.isnan(vals).any() and nc > 0 and nd > 0:
        d, lo, hi = newcombe_diff_ci(kc, nc, kd, nd, alpha=alpha)
        p = float(stats.fisher_exact([[kc, nc - kc], [kd, nd - kd]])[1])
        res = (100 * d, 100 * lo, 100 * hi, p)
    return pd.DataFrame([res] * len(pub), columns=cols, index=pub.index)


def _groups_published(pub: pd.DataFrame) -> pd.DataFrame:
    """The model rows' figures as published so far, withheld unless both groups' sizes and both rates after
    leaving (each with at least the threshold of incidents) are published: an adjusted ratio shown beside a
    withheld rate said the hidden group had incidents, and roughly how many (outside attack a23 G3)."""
    cols = ["estimate", "ci_lower", "ci_upper", "p_value"]
    rates = []
    for g in ("completed", "did_not_complete"):
        r = pub[(pub["group"] == g) & (pub["period"] == "after") & (pub["measure"] == "incidents per person-year")]
        rates.append(float(pd.to_numeric(r["estimate"], errors="coerce").iloc[0]) if len(r) == 1 else np.nan)
    ok = all(np.isfinite(_lookup_any(pub, "n", g, "after")) for g in ("completed", "did_not_complete")) and \
        bool(np.isfinite(rates).all())
    out = pub[cols].apply(pd.to_numeric, errors="coerce")
    return out if ok else out * np.nan


def completers_roles(summary: pd.DataFrame, alpha: float) -> list:
    """What each column of :func:`compare_completers`'s summary is (issue 26: its estimates inverted to the
    true counts): proportions and rates of the published counts, the difference from the published counts
    of both groups, the rate ratios model outputs shown with enough incidents and both groups published."""
    from dapp_eval.columns import Count, Derived, Label, Model, Proportion, Value

    measure = summary["measure"].astype(str)
    group = summary["group"].astype(str)
    any_inc = (measure == "any incident").to_numpy()
    rate = (measure == "incidents per person-year").to_numpy()
    diff = group.str.contains(" - ").to_numpy()
    ratio = group.str.contains(" / ").to_numpy()
    unadjusted = ratio & measure.str.contains("unadjusted").to_numpy()
    model = ratio & ~unadjusted
    stats_cols = ("estimate", "ci_lower", "ci_upper", "p_value")
    labels = [c for c in ("group", "group_label", "period", "measure", "note") if c in summary]
    extra = [Value("se_log")] if "se_log" in summary else []  # read by the unadjusted ratio; a report drops it
    # the people with an incident are a part of the group's n (the zero rule: a7 read "none of the 6 completers
    # had police involvement" from a 0 beside a group published as 5)
    return [Label(*labels), Count("n", "n_events"), Count("n_with_incident", total="n"), events_role(("group",)),
            Proportion("n_with_incident", "n", rows=any_inc),
            Derived(("estimate",), partial(completer_rates, true=summary.reset_index(drop=True)),
                    inputs=("n_events",), rows=rate),
            Derived(stats_cols, partial(completer_difference, alpha=alpha), rows=diff, hidden_ok=True),
            *extra, Derived(stats_cols, partial(completer_rate_ratio, alpha=alpha), rows=unadjusted, hidden_ok=True),
            Model(stats_cols, events="n_events", rows=model),
            Derived(stats_cols, _groups_published, rows=ratio, hidden_ok=True)]

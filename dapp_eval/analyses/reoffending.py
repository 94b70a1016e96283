"""Proven reoffending in the form of the Justice Data Lab (Ministry of Justice).

The Justice Data Lab reports, for a cohort of at least 60 people, the share
who committed a proven offence in a **one-year** follow-up window, where
*proven* means a caution or conviction within the window **plus six months**
(so that offences late in the year have time to reach court); with it, the
*frequency* (proven offences per person in the cohort) and the *time to the
first proven offence* (average days, among those who reoffended).

Here the offences are the linked domestic abuse crimes (``incidents.csv``,
``incident_type == "da_crime"``; records of one event count once), proven
when ``outcome_date`` is given and falls by the window end plus the lag.
Each person counts once, at their index referral (their first referral that
started the programme, as in :mod:`dapp_eval.analyses.followup`); the one-year window
starts on the day they left the programme.  Only people whose window and lag
have passed by the data extract date are in the cohort; the rest are counted
as not yet eligible, never as not reoffending.

This is the linked records' view, not a Police National Computer match: it
counts the crimes the linked data hold.  A matched comparison group (the
Justice Data Lab's own product) is not in a programme data folder; a
published comparison rate can be given to the report as a comparator
(``proven_reoffending_rate`` in ``comparators.yaml``).

Examples
--------
>>> from dapp_eval import load_programme
>>> r = proven_reoffending(load_programme("data_synthetic")).summary.set_index("cohort")
>>> int(r.loc["completed", "n"]), bool(r.loc["completed", "meets_minimum"])
(80, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.analyses.episodes import episodes as _episodes
from dapp_eval.analyses.episodes import programme_status
from dapp_eval.analyses.episodes import require_table as _require
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, is_part, make_meta

__all__ = ["MIN_COHORT", "proven_reoffending"]

#: the Justice Data Lab's smallest cohort
MIN_COHORT = 60


def _index_persons(data) -> pd.DataFrame:
    ep = _episodes(data).copy()
    ep["status"] = programme_status(ep).to_numpy()
    started = ep[ep["start_date"].notna()].sort_values(["participant_id", "referral_date", "referral_id"])
    return started.drop_duplicates("participant_id").reset_index(drop=True)


def proven_reoffending(data, *, window_days: int = 365, lag_days: int = 183, alpha: float = 0.05,
                       min_cohort: int = MIN_COHORT) -> AnalysisResult:
    """One-year proven reoffending rate, frequency and time to reoffend (Justice Data Lab form).

    Parameters
    ----------
    data : ProgrammeData
        Needs ``incidents`` with ``outcome_date``.
    window_days, lag_days : int
        Follow-up window from the day the person left the programme, and the time allowed after it for
        the caution or conviction (default one year and six months, as the Justice Data Lab).
    alpha : float
    min_cohort : int
        Cohorts smaller than this have ``meets_minimum`` False (the report then withholds them).

    Returns
    -------
    AnalysisResult
        ``summary``: one row per cohort (``completed``; ``started``: everyone who started and left):
        ``n`` (people in the cohort), ``n_reoffenders``, ``n_offences``, ``estimate`` (rate) with
        Wilson interval, ``frequency`` (offences per person), ``offences_per_reoffender``,
        ``mean_days_to_first``, ``meets_minimum``.
    """
    alpha = check_alpha(alpha)
    inc = _require(data, "incidents", " (linked police records with outcome_date)")
    # a site's (or period's) part with no proved offence is analysed as nobody proved, shown like a few (its own
    # "no outcome_date" said "no proved offence here"; attack a18 H3); the whole folder without any is refused
    if "outcome_date" not in inc or (inc["outcome_date"].isna().all() and not is_part(data)):
        raise AnalysisError("the linked records hold no outcome_date (date a caution or conviction proved an "
                            "offence), so proven reoffending cannot be measured")
    persons = _index_persons(data)
    n_in = int(data.referrals["participant_id"].nunique())
    left = persons[persons["exit_date"].notna()].copy()
    day = pd.Timedelta(days=1)
    left["w_end"] = left["exit_date"] + window_days * day
    ok = (left["w_end"] + lag_days * day) <= left["data_extract_date"]
    cohort = left[ok].reset_index(drop=True)
    crimes = inc[(inc["incident_type"] == "da_crime") & inc["outcome_date"].notna()].copy()
    eid = crimes["event_id"].astype(object).where(crimes["event_id"].notna(), crimes["incident_id"]) \
        if "event_id" in crimes else crimes["incident_id"]
    crimes["_event"] = eid
    crimes = crimes.merge(cohort[["participant_id", "exit_date", "w_end"]], on="participant_id", how="inner")
    inwin = ((crimes["incident_date"] >= crimes["exit_date"]) & (crimes["incident_date"] < crimes["w_end"])
             & (crimes["outcome_date"] <= crimes["w_end"] + lag_days * day))
    ev = (crimes[inwin].groupby(["participant_id", "_event"], sort=True)
          .agg(day=("incident_date", "min"), exit_date=("exit_date", "first")).reset_index())
    per = ev.groupby("participant_id").agg(n_off=("_event", "size"), first=("day", "min"),
                                           exit_date=("exit_date", "first"))
    cohort["n_off"] = cohort["participant_id"].map(per["n_off"]).fillna(0).astype(int)
    cohort["days_to_first"] = (cohort["participant_id"].map(per["first"]) - cohort["exit_date"]).dt.days
    rows = []
    for name, sel in (("completed", cohort["status"] == "completed"), ("started", pd.Series(True, index=cohort.index))):
        c = cohort[sel]
        n, k, o = len(c), int((c["n_off"] > 0).sum()), int(c["n_off"].sum())
        lo, hi = wilson_ci(k, n, alpha=alpha) if n else (np.nan, np.nan)
        rows.append({"cohort": name, "n": n, "n_reoffenders": k, "n_offences": o,
                     "estimate": k / n if n else np.nan, "ci_lower": float(lo), "ci_upper": float(hi),
                     "frequency": o / n if n else np.nan, "offences_per_reoffender": o / k if k else np.nan,
                     "mean_days_to_first": float(c["days_to_first"].mean()) if k else np.nan,
                     "meets_minimum": n >= min_cohort})
    excluded = {"did not start the programme": n_in - len(persons),
                "still attending (no exit date)": int(persons["exit_date"].isna().sum()),
                "not yet eligible: one year plus six months since leaving not passed by the extract date":
                    int((~ok).sum())}
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people", alpha=alpha,
                     method=f"Justice Data Lab form: proven domestic abuse offences (a caution or conviction by the "
                            f"window end + {lag_days} days) committed within {window_days} days of leaving the "
                            f"programme; each person once (index referral); cohorts under {min_cohort} withheld",
                     window_days=window_days, lag_days=lag_days, min_cohort=min_cohort)
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta, title="Proven reoffending (Justice Data Lab form)",
                          roles={"summary": _roles()})


def _ratios(pub: pd.DataFrame) -> pd.DataFrame:
    """Offences per person and per reoffender, from the published counts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"frequency": pub["n_offences"] / pub["n"],
                             "offences_per_reoffender": pub["n_offences"] / pub["n_reoffenders"]})


def _roles() -> list:
    """Shares, frequencies and offences per reoffender from the published counts; the mean days to the first
    offence over the reoffenders, shown when they are at least the threshold."""
    from dapp_eval.columns import Count, Derived, Label, Proportion, Summary

    return [Label("cohort", "meets_minimum"), Count("n", "n_reoffenders", "n_offences"),
            Proportion("n_reoffenders", "n"),
            Derived(("frequency", "offences_per_reoffender"), _ratios, inputs=("n", "n_reoffenders", "n_offences")),
            Summary(("mean_days_to_first",), n="n_reoffenders", moments=("mean_days_to_first",))]

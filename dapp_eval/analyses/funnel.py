"""Engagement: the referral -> completion cascade, waiting times, throughput,
attendance, the baseline profile ("Table 1") and costs.

Every stage is derived from the case record (dates, assessment outcome and
exit reason), never from a separate status column, so that each referral sits
in exactly one *terminal* stage and the counts always add up::

    referred
    |-- declined_assessment        exit_reason declined_assessment
    |-- awaiting_assessment        open, no assessment outcome yet
    |-- exited_before_assessment   moved_away / custody / other before an assessment outcome
    `-- assessed
        |-- unsuitable             assessment_outcome unsuitable
        `-- accepted
            |-- declined_to_start  exit_reason declined_to_start
            |-- awaiting_start     suitable, open, not started
            |-- exited_before_start  moved_away / custody / other after acceptance, before starting
            `-- started
                |-- still_attending
                |-- completed
                |-- dropped_out
                |-- excluded
                `-- other_exit     moved_away / custody / other after starting

Conversion rates (assessed of referred, started of accepted, completed of
started, ...) are taken among *resolved* cases only; cases still open at that
step (awaiting assessment, awaiting start, still attending) are shown beside the
rate and never counted as failures.  (Coventry's "54 completed of 119 accessed"
counted 51 people still attending in the denominator.)

Examples
--------
>>> from dapp_eval.data.io import load_programme
>>> data = load_programme("data_synthetic")
>>> res = cascade(data, by="site_id")
>>> conv = res.conversion.query("group == 'all'").set_index("conversion")
>>> round(float(conv.loc["completed_of_started", "estimate"]), 3)
0.801
>>> int(conv.loc["completed_of_started", "n_open"])  # still attending: shown beside, not failures
133
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.analyses import flow_published as fp
from dapp_eval.analyses import plotting
from dapp_eval.analyses.flow_published import FUNNEL_ORDER, INTERMEDIATE_STAGES, STAGE_LABELS, STAGES
from dapp_eval.analyses.flow_published import STAGE_PARENT as _PARENT
from dapp_eval.columns import Count, CurveQuantile, Derived, Label, Merge, Model, Proportion, Summary, Value
from dapp_eval.data.schema import EXIT_REASONS
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.effect_sizes import smd_binary, smd_from_moments
from dapp_eval.estimators.proportions import wilson_ci
from dapp_eval.estimators.survival import aalen_johansen
from dapp_eval.results import AnalysisResult, check_alpha, make_meta

__all__ = [
    "STAGES",
    "INTERMEDIATE_STAGES",
    "FUNNEL_ORDER",
    "STAGE_LABELS",
    "derive_stage",
    "wilson_ci",
    "cascade",
    "waiting_times",
    "waiting_list",
    "throughput",
    "attendance",
    "baseline_table",
    "costs",
]

_OPEN_STAGES = ("awaiting_assessment", "awaiting_start", "still_attending")
_OTHER_REASONS = ("moved_away", "custody", "other")

# conversion name -> (denominator stage, converted stage, failed terminal stages, open terminal stages)
_CONVERSIONS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "assessed_of_referred": ("referred", "assessed",
                             ("declined_assessment", "exited_before_assessment"), ("awaiting_assessment",)),
    "accepted_of_assessed": ("assessed", "accepted", ("unsuitable",), ()),
    "started_of_accepted": ("accepted", "started",
                            ("declined_to_start", "exited_before_start"), ("awaiting_start",)),
    "completed_of_started": ("started", "completed", ("dropped_out", "excluded", "other_exit"),
                             ("still_attending",)),
    "started_of_referred": ("referred", "started",
                            ("declined_assessment", "exited_before_assessment", "unsuitable",
                             "declined_to_start", "exited_before_start"),
                            ("awaiting_assessment", "awaiting_start")),
    "completed_of_referred": ("referred", "completed",
                              tuple(s for s in STAGES if s not in _OPEN_STAGES and s != "completed"),
                              _OPEN_STAGES),
}

_CASCADE_METHOD = (
    "Each referral is placed in one terminal stage derived from its case record (assessment date and outcome, "
    "start date, exit reason), never from a status column; intermediate stages are sums of terminal stages. "
    "Conversion rates are taken among resolved cases only (cases still open at that step are shown beside the "
    "rate in n_open, never counted as failures), with Wilson score {level}% confidence intervals. Proportions "
    "among resolved cases can still favour early exits when follow-up is short, because early exits resolve "
    "first; the cumulative-incidence analyses account for that."
)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


# Wilson interval shared with the other modules (dapp_eval.estimators.proportions)


def _episodes(data) -> pd.DataFrame:
    """The episodes table (referrals + site settings) of a ProgrammeData, or a DataFrame as given."""
    if isinstance(data, pd.DataFrame):
        ep = data
    elif hasattr(data, "episodes"):
        ep = data.episodes
    else:
        raise TypeError("expected a ProgrammeData (from dapp_eval.data.io.load_programme) or an episodes DataFrame")
    if isinstance(ep.index, pd.RangeIndex) and ep.index.start == 0 and ep.index.step == 1:
        # already 0..n-1: a shallow copy (the analyses add columns and take rows, never write into the
        # columns they were given), not a copy of every column per analysis (13 per report page)
        return ep.copy(deep=False)
    return ep.reset_index(drop=True)  # a copy (one, not two), with a fresh RangeIndex


def _need(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise AnalysisError(f"{what} needs the column(s) {', '.join(missing)}, which the referrals data lack")


def _group_frames(ep: pd.DataFrame, by: str | None, *, overall: bool = True) -> list[tuple[str, pd.DataFrame]]:
    """[(label, rows)] for each level of ``by`` (missing -> 'missing') then 'all'."""
    if by is None:
        return [("all", ep)]
    if by not in ep.columns:
        raise AnalysisError(f"cannot group by {by!r}: no such column (available: {', '.join(map(str, ep.columns))})")
    # one factorisation, then each group's rows by position (file order kept), not one scan per group
    codes, uniq = pd.factorize(ep[by])
    names = np.array([str(u) for u in uniq] + ["missing"], dtype=object)[codes]
    gcodes, labels = pd.factorize(names)
    order = np.argsort(gcodes, kind="stable")
    bounds = np.cumsum(np.bincount(gcodes, minlength=len(labels)))
    rows = dict(zip(labels, np.split(order, bounds[:-1]))) if len(labels) else {}
    out = [(str(g), ep.take(rows[g])) for g in sorted(labels)]
    if overall:
        out.append(("all", ep))
    return out


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (pd.to_datetime(later) - pd.to_datetime(earlier)).dt.days.astype(float)


def _str_col(s: pd.Series, strip: bool = False) -> pd.Series:
    """Values as text, missing as "" (optionally stripped): converted once per distinct value."""
    codes, uniq = pd.factorize(s)
    text = [str(u).strip() if strip else str(u) for u in uniq]
    return pd.Series(np.array(text + [""], dtype=object)[codes], index=s.index)


# ---------------------------------------------------------------------------
# stages
# ---------------------------------------------------------------------------


def derive_stage(referrals: pd.DataFrame, extract_date=None) -> pd.Series:
    """Terminal programme stage of every referral, from the case record only.

    Mapping (applied in this order; *started* = a ``start_date`` is present,
    *other* = ``moved_away``, ``custody`` or ``other``):

    ==============================  ================================  ==========================
    started?                        exit_reason                       stage
    ==============================  ================================  ==========================
    yes                             empty (open)                      ``still_attending``
    yes                             completed / dropped_out /         the same
                                    excluded
    yes                             other                             ``other_exit``
    no, outcome ``unsuitable``      empty, unsuitable or other        ``unsuitable``
    no                              declined_assessment               ``declined_assessment``
    no                              declined_to_start                 ``declined_to_start``
    no, outcome ``suitable``        empty (open)                      ``awaiting_start``
    no, outcome ``suitable``        other                             ``exited_before_start``
    no, no outcome                  empty (open)                      ``awaiting_assessment``
    no, no outcome                  other                             ``exited_before_assessment``
    ==============================  ================================  ==========================

    An assessment counts once its outcome is recorded: an open case with an
    ``assessment_date`` but no outcome is still *awaiting assessment*.  A
    start, or ``declined_to_start``, implies a place was offered, so such
    cases count as assessed and accepted even if the outcome is blank.
    Records that contradict the data contract (for example ``completed``
    without a ``start_date``, ``declined_assessment`` with an assessment, or
    ``declined_to_start`` after an ``unsuitable`` outcome) raise
    :class:`~dapp_eval.errors.AnalysisError` naming the rows.

    Parameters
    ----------
    referrals : pandas.DataFrame
        Contract columns ``exit_reason``, ``start_date``,
        ``assessment_outcome``, ``assessment_date`` (and ``referral_date``,
        ``exit_date`` when ``extract_date`` is given).
    extract_date : date-like or Series, optional
        Stage "as at" this date (one date, or one per row): assessments,
        starts and exits dated after it are treated as not yet happened.
        Referrals made after it raise an error.  ``None`` takes the record
        as it stands.

    Returns
    -------
    pandas.Series
        Ordered categorical (categories :data:`STAGES`) named ``stage``,
        with the index of ``referrals``.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"assessment_date": pd.to_datetime(["2024-01-05", None]),
    ...                   "assessment_outcome": ["suitable", None],
    ...                   "start_date": pd.to_datetime(["2024-01-10", None]),
    ...                   "exit_reason": [None, "declined_assessment"]})
    >>> derive_stage(r).tolist()
    ['still_attending', 'declined_assessment']
    """
    _need(referrals, ["exit_reason", "start_date", "assessment_outcome", "assessment_date"], "derive_stage")
    er = _str_col(referrals["exit_reason"], strip=True).to_numpy(dtype=object)
    outcome = _str_col(referrals["assessment_outcome"], strip=True).to_numpy(dtype=object)
    adate = pd.to_datetime(referrals["assessment_date"])
    started = pd.to_datetime(referrals["start_date"]).notna().to_numpy()
    has_adate = adate.notna().to_numpy()

    if extract_date is not None:
        _need(referrals, ["referral_date", "exit_date"], "derive_stage with an extract_date")
        if isinstance(extract_date, pd.Series):
            d = pd.to_datetime(extract_date).reindex(referrals.index)
        else:
            d = pd.Series(pd.Timestamp(extract_date), index=referrals.index)
        late_ref = (pd.to_datetime(referrals["referral_date"]) > d).to_numpy()
        if late_ref.any():
            raise AnalysisError(f"{int(late_ref.sum())} referral(s) are dated after the extract date; "
                                "they cannot have a stage at that date (drop them first)")
        after_a = (adate > d).to_numpy()
        has_adate = has_adate & ~after_a
        outcome = np.where(after_a, "", outcome)
        started = started & ~(pd.to_datetime(referrals["start_date"]) > d).to_numpy()
        er = np.where((pd.to_datetime(referrals["exit_date"]) > d).to_numpy(), "", er)

    unknown = sorted(set(er) - set(EXIT_REASONS) - {""})
    if unknown:
        raise AnalysisError(f"exit_reason has value(s) outside the contract: {', '.join(unknown)}")
    bad_outcome = sorted(set(outcome) - {"", "suitable", "unsuitable"})
    if bad_outcome:
        raise AnalysisError(f"assessment_outcome has value(s) outside the contract: {', '.join(bad_outcome)}")

    other = np.isin(er, _OTHER_REASONS)
    open_ = er == ""
    unsuit = outcome == "unsuitable"
    suit = outcome == "suitable"
    contradictions = {
        "exit_reason completed/dropped_out/excluded requires a start_date":
            np.isin(er, ("completed", "dropped_out", "excluded")) & ~started,
        "exit_reason 'unsuitable' requires assessment_outcome 'unsuitable'": (er == "unsuitable") & ~unsuit,
        "assessment_outcome 'unsuitable' allows no start_date": unsuit & started,
        "exit_reason 'declined_assessment' allows no assessment or start":
            (er == "declined_assessment") & (has_adate | (outcome != "") | started),
        "exit_reason 'declined_to_start' allows no start_date": (er == "declined_to_start") & started,
        "exit_reason 'declined_to_start' contradicts assessment_outcome 'unsuitable'":
            (er == "declined_to_start") & unsuit,
    }
    problems = []
    for rule, mask in contradictions.items():
        if mask.any():
            ids = (referrals.loc[mask, "referral_id"].astype(str).tolist() if "referral_id" in referrals
                   else [str(i) for i in referrals.index[mask]])
            problems.append(f"{rule}: {int(mask.sum())} referral(s), e.g. {', '.join(ids[:5])}")
    if problems:
        raise AnalysisError("case records contradict the data contract, so no stage can be derived:\n  - "
                            + "\n  - ".join(problems))

    conds = [
        started & open_,
        started & (er == "completed"),
        started & (er == "dropped_out"),
        started & (er == "excluded"),
        started & other,
        ~started & unsuit,
        ~started & (er == "declined_assessment"),
        ~started & (er == "declined_to_start"),
        ~started & suit & open_,
        ~started & suit & other,
        ~started & ~suit & ~unsuit & open_,
        ~started & ~suit & ~unsuit & other,
    ]
    choices = ["still_attending", "completed", "dropped_out", "excluded", "other_exit", "unsuitable",
               "declined_assessment", "declined_to_start", "awaiting_start", "exited_before_start",
               "awaiting_assessment", "exited_before_assessment"]
    hits = np.vstack(conds).sum(axis=0) if len(er) else np.zeros(0)
    if len(er) and not (hits == 1).all():  # pragma: no cover - the table above is a partition
        raise AssertionError("stage mapping is not a partition")
    stage = np.select(conds, choices, default="") if len(er) else np.array([], dtype=object)
    return pd.Series(pd.Categorical(stage, categories=list(STAGES), ordered=True),
                     index=referrals.index, name="stage")


def _stage_notes(ep: pd.DataFrame, stage: pd.Series) -> dict[str, int]:
    """Counts of records whose stage rests on an implication; for meta['notes']."""
    outcome = _str_col(ep["assessment_outcome"])
    er = _str_col(ep["exit_reason"])
    notes = {
        "assessment outcome blank but a start or declined_to_start implies acceptance":
            int(((outcome == "") & stage.isin(INTERMEDIATE_STAGES["accepted"])).sum()),
        "assessment_date recorded but no outcome, case open: counted as awaiting assessment":
            int((pd.to_datetime(ep["assessment_date"]).notna() & (stage == "awaiting_assessment")).sum()),
        "assessed unsuitable but case not closed as 'unsuitable'":
            int(((stage == "unsuitable") & (er != "unsuitable")).sum()),
    }
    return {k: v for k, v in notes.items() if v}


def _with_stage(ep: pd.DataFrame, data=None) -> pd.DataFrame:
    """``ep`` (from :func:`_episodes`) with its ``stage``; derived once per ProgrammeData (like its episodes),
    as every funnel analysis of a report needs it."""
    def compute() -> pd.Series:
        ext = ep["data_extract_date"] if "data_extract_date" in ep and "exit_date" in ep and "referral_date" in ep \
            else None
        return derive_stage(ep, ext)

    derived = None if data is None or isinstance(data, pd.DataFrame) else getattr(data, "derived", None)
    stage = compute() if derived is None else derived.get(("funnel", "stage"), compute)
    if not stage.index.equals(ep.index):  # the data's episodes were not the frame given: derive for this one
        stage = compute()
    ep = ep.copy(deep=False)  # a new column on a shallow copy: the caller's frame is left as it was
    ep["stage"] = stage.copy()  # (a copy of the codes: nothing cached can be changed from outside)
    return ep


def _stage_counts(stage: pd.Series) -> dict[str, int]:
    vc = stage.value_counts()
    counts = {s: int(vc.get(s, 0)) for s in STAGES}
    for name, members in INTERMEDIATE_STAGES.items():
        counts[name] = sum(counts[m] for m in members)
    return counts


# ---------------------------------------------------------------------------
# cascade
# ---------------------------------------------------------------------------


def cascade(data, *, by: str | None = None, alpha: float = 0.05) -> AnalysisResult:
    """Counts at every stage of the referral -> completion funnel, with conversion rates.

    Parameters
    ----------
    data : ProgrammeData
        From :func:`dapp_eval.data.io.load_programme` (or its ``episodes`` DataFrame).
    by : str, optional
        Column to split by (e.g. ``"site_id"``); an overall group ``"all"``
        is always added.
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    AnalysisResult
        ``summary``: one row per group and stage (``row_type == "stage"``:
        ``stage``, ``level`` terminal/intermediate, ``parent``, ``n``,
        ``pct_of_referred``) followed by one row per group and conversion
        (``row_type == "conversion"``: ``conversion``, ``n_resolved`` (the
        denominator), ``n_converted``, ``n_open`` (still open at that step,
        shown beside, never a failure), ``estimate``, ``ci_lower``,
        ``ci_upper``).  ``tables``: ``counts`` (stage rows), ``conversion``
        (conversion rows), ``stages`` (one row per referral: referral_id,
        group, stage).  ``plot()`` draws a CONSORT-style flow diagram.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = cascade(data, by="site_id")
    >>> n = res.counts.query("group == 'all'").set_index("stage")["n"]
    >>> int(n["referred"]), int(n["started"]), int(n["completed"])
    (2000, 922, 632)
    """
    alpha = check_alpha(alpha)
    ep = _with_stage(_episodes(data), data)
    stage_rows: list[dict[str, Any]] = []
    conv_rows: list[dict[str, Any]] = []
    for label, sub in _group_frames(ep, by):
        counts = _stage_counts(sub["stage"])
        if counts["referred"] != sum(counts[s] for s in STAGES) or counts["referred"] != len(sub):
            raise AssertionError("funnel accounting error")  # pragma: no cover
        for s in FUNNEL_ORDER:
            stage_rows.append({
                "group": label, "row_type": "stage", "stage": s, "label": STAGE_LABELS[s],
                "level": "intermediate" if s in INTERMEDIATE_STAGES else "terminal",
                "parent": _PARENT[s], "n": counts[s],
                "pct_of_referred": 100 * counts[s] / counts["referred"] if counts["referred"] else np.nan,
            })
        for conv, (den, num, failed, open_) in _CONVERSIONS.items():
            n_conv = counts[num]
            n_res = n_conv + sum(counts[s] for s in failed)
            n_open = sum(counts[s] for s in open_)
            if n_res + n_open != counts[den]:
                raise AssertionError(f"conversion {conv} does not add up")  # pragma: no cover
            lo, hi = wilson_ci(n_conv, n_res, alpha=alpha)
            conv_rows.append({
                "group": label, "row_type": "conversion", "conversion": conv, "from_stage": den,
                "to_stage": num, "n_stage": counts[den], "n_resolved": n_res, "n_converted": n_conv,
                "n_open": n_open, "estimate": n_conv / n_res if n_res else np.nan,
                "ci_lower": float(lo), "ci_upper": float(hi),
            })
    counts_df = pd.DataFrame(stage_rows)
    conv_df = pd.DataFrame(conv_rows)
    for c in ("n_stage", "n_resolved", "n_converted", "n_open"):
        conv_df[c] = conv_df[c].astype("Int64")
    counts_df["n"] = counts_df["n"].astype("Int64")
    summary = pd.concat([counts_df, conv_df], ignore_index=True, sort=False)
    stages = pd.DataFrame({
        "referral_id": ep["referral_id"] if "referral_id" in ep else ep.index.astype(str),
        "group": ep[by].astype("object").where(ep[by].notna(), "missing").astype(str) if by else "all",
        "stage": ep["stage"],
    })
    meta = make_meta(
        n_in=len(ep), excluded={}, method=_CASCADE_METHOD.format(level=round(100 * (1 - alpha), 1)),
        alpha=alpha, unit="referrals", by=by, notes=_stage_notes(ep, ep["stage"]),
        stage_definitions=dict(STAGE_LABELS),
    )
    return AnalysisResult(summary=summary, meta=meta, tables={"counts": counts_df, "conversion": conv_df,
                                                              "stages": stages, "flow": fp.flow_table(counts_df)},
                          title="Referral to completion funnel", _plotter=plotting.plot_funnel_flow,
                          roles={"counts": _COUNTS_ROLES, "conversion": _CONVERSION_ROLES, "flow": fp.FLOW_ROLES})


def _pct_of_referred(pub: pd.DataFrame) -> pd.DataFrame:
    """Each stage's published count as a % of its group's published referrals."""
    ref = pub["n"].where(pub["stage"] == "referred").groupby(pub["group"]).transform("max")
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"pct_of_referred": 100 * pub["n"] / ref.where(ref > 0)})


#: the stage counts: people at each stage, and their share of the (published) referrals
_COUNTS_ROLES = [Label("label"), Value("group", "row_type", "stage", "level", "parent"), Count("n"),
                 Derived(("pct_of_referred",), _pct_of_referred, inputs=("n",))]
#: each conversion: converted of those resolved at the step (Wilson interval of the published counts); the
#: people still open are shown beside it
_CONVERSION_ROLES = [Label("group", "row_type", "conversion", "from_stage", "to_stage"),
                     Count("n_stage", "n_resolved", "n_converted", "n_open"),
                     Proportion("n_converted", "n_resolved")]


# ---------------------------------------------------------------------------
# waiting times (competing risks)
# ---------------------------------------------------------------------------

_WAIT_STAGES = {
    # name: (population stages, origin column, event name, {competing terminal stage: cause name}, censored stage)
    "referral_to_assessment": (
        STAGES, "referral_date", "assessed",
        {"declined_assessment": "declined_assessment", "exited_before_assessment": "exited_before_assessment"},
        "awaiting_assessment"),
    "assessment_to_start": (
        INTERMEDIATE_STAGES["accepted"], "assessment_date", "started",
        {"declined_to_start": "declined_to_start", "exited_before_start": "exited_before_start"},
        "awaiting_start"),
}


def _wait_data(ep: pd.DataFrame, stage: str) -> tuple[pd.DataFrame, dict[str, int], int]:
    """Per-referral (time in days, cause) for one waiting step; returns (frame, exclusions, n_population)."""
    pop_stages, origin, event, competing, censored = _WAIT_STAGES[stage]
    pop = ep[ep["stage"].isin(pop_stages)]  # (a new frame already; only read below)
    excluded = {"not in this step's population": len(ep) - len(pop)}
    if stage == "referral_to_assessment":
        is_event = pop["stage"].isin(INTERMEDIATE_STAGES["assessed"])
        event_date = pop["assessment_date"]
    else:
        is_event = pop["stage"].isin(INTERMEDIATE_STAGES["started"])
        event_date = pop["start_date"]
    is_comp = pop["stage"].isin(list(competing))
    is_cens = pop["stage"] == censored
    end = pd.Series(pd.NaT, index=pop.index, dtype="datetime64[ns]")
    end[is_event] = pd.to_datetime(event_date[is_event])
    end[is_comp] = pd.to_datetime(pop.loc[is_comp, "exit_date"])
    end[is_cens] = pd.to_datetime(pop.loc[is_cens, "data_extract_date"])
    cause = pd.Series("censored", index=pop.index, dtype=object)
    cause[is_event] = event
    cause[is_comp] = pop.loc[is_comp, "stage"].map(competing).astype(object)
    t = _days(end, pop[origin])
    no_origin = pop[origin].isna()
    no_end = end.isna() & ~no_origin
    excluded[f"no {origin}"] = int(no_origin.sum())
    excluded["no date for the event or exit"] = int(no_end.sum())
    keep = ~no_origin & ~no_end
    if (t[keep] < 0).any():
        bad = pop.loc[keep & (t < 0)]
        ids = bad["referral_id"].astype(str).tolist()[:5] if "referral_id" in bad else []
        raise AnalysisError(f"negative waiting time for {len(bad)} referral(s) ({', '.join(ids)}): "
                            f"a date precedes the {origin}")
    out = pd.DataFrame({"referral_id": pop.loc[keep, "referral_id"] if "referral_id" in pop else pop.index[keep],
                        "stage": _cat_text(pop.loc[keep, "stage"]), "time": t[keep], "cause": cause[keep]})
    return out, excluded, len(pop)


def _cat_text(s: pd.Series) -> pd.Series:
    """A categorical as text (``astype(str)``), converting each category once rather than each row."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(str)
    codes = s.cat.codes.to_numpy()
    if not (codes >= 0).all():
        return s.astype(str)
    return pd.Series(np.asarray(s.cat.categories.astype(str), dtype=object)[codes], index=s.index, name=s.name)


def _aalen_johansen(time, cause, causes, alpha):
    return aalen_johansen(np.asarray(time, dtype=float), np.asarray(cause, dtype=object),
                          censored="censored", causes=list(causes), alpha=alpha)


def _first_time_reaching(curve: pd.DataFrame, col: str, level: float = 0.5) -> float:
    hit = curve.loc[curve[col] >= level - 1e-12, "time"]
    return float(hit.min()) if len(hit) else np.nan


def waiting_times(data, *, stage: str = "referral_to_assessment", by: str | None = None,
                  unit: str = "days", alpha: float = 0.05,
                  horizons: Sequence[float] = (28, 56, 84)) -> AnalysisResult:
    """Waiting times as competing risks, with people still waiting censored.

    ``referral_to_assessment``: time from referral to an assessment outcome,
    competing with declining assessment and other exits before assessment;
    people awaiting assessment are censored at their site's
    ``data_extract_date``.  ``assessment_to_start``: among people accepted as
    suitable, time from assessment to the first attended session, competing
    with declining to start and other exits before starting; people awaiting
    start are censored at the extract date.  Nobody still waiting is dropped or
    counted as a zero wait.

    The cumulative incidence of each outcome is the Aalen-Johansen estimate
    (:func:`dapp_eval.estimators.survival.aalen_johansen`).  The median wait is the first
    time the cumulative incidence of the event (assessment / start) reaches
    0.5; its confidence interval inverts the pointwise band (lower limit: the
    first time the upper band reaches 0.5; upper limit: the first time the
    lower band does).  When fewer than half are ever assessed / started the
    median is "not reached" (NaN), reported as such.  The plain median among
    those who were assessed / started is shown beside it, labelled: it ignores
    everyone still waiting or who left, so it understates the wait.

    Parameters
    ----------
    data : ProgrammeData
    stage : {"referral_to_assessment", "assessment_to_start"}
    by : str, optional
        Column to split by; an overall group ``"all"`` is always added.
    unit : {"days", "weeks"}
        Unit of every time in the result.
    alpha : float
    horizons : sequence of float
        Times (in ``unit``) at which ``tables["horizons"]`` reports the
        cumulative incidence of each outcome.

    Returns
    -------
    AnalysisResult
        ``summary``: per group ``n`` (people in the step), ``n_event``,
        ``n_competing``, ``n_censored`` (still waiting), ``estimate``
        (median wait), ``ci_lower``, ``ci_upper``, ``median_reached``,
        ``median_observed_events`` and ``n_observed_events``.
        ``tables``: ``cif`` (the Aalen-Johansen curves per group and cause),
        ``horizons``, ``data`` (time and cause per referral), ``curve_counts`` (per group and time, the
        number ending the wait each way and still waiting: :func:`wait_counts`).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = waiting_times(data, stage="assessment_to_start", by="site_id", unit="weeks")
    >>> res.summary.set_index("group")["estimate"].round(1).to_dict()
    {'S01': 6.3, 'S02': 7.3, 'S03': 5.3, 'S04': 15.1, 'S05': 10.0, 'all': 8.4}
    >>> int(res.summary.set_index("group").loc["all", "n_censored"])
    101
    """
    alpha = check_alpha(alpha)
    if stage not in _WAIT_STAGES:
        raise ValueError(f"stage must be one of {', '.join(_WAIT_STAGES)}, got {stage!r}")
    if unit not in ("days", "weeks"):
        raise ValueError(f"unit must be 'days' or 'weeks', got {unit!r}")
    scale = 7.0 if unit == "weeks" else 1.0
    ep = _with_stage(_episodes(data), data)
    _need(ep, ["referral_date", "assessment_date", "start_date", "exit_date", "data_extract_date"], "waiting_times")
    wd, excluded, _ = _wait_data(ep, stage)
    wd["time"] = wd["time"] / scale
    event = _WAIT_STAGES[stage][2]
    causes = [event, *dict.fromkeys(_WAIT_STAGES[stage][3].values())]
    if by is not None:
        wd[by] = ep.loc[wd.index, by].to_numpy()
    rows, curves, hz_rows, steps = [], [], [], {}
    for label, sub in _group_frames(wd, by):
        steps[str(label)] = wait_counts(sub["time"], sub["cause"], causes)
        n_event = int((sub["cause"] == event).sum())
        n_comp = int(sub["cause"].isin(causes[1:]).sum())
        n_cens = int((sub["cause"] == "censored").sum())
        row = {"group": label, "step": stage, "unit": unit, "n": len(sub), "n_event": n_event,
               "n_competing": n_comp, "n_censored": n_cens}
        ev_times = sub.loc[sub["cause"] == event, "time"]
        # nobody reached the step but some left another way: their curves still (a wait without them said "no
        # one here started"; issue 26); the median is then not reached
        if len(sub) == 0 or (n_event == 0 and n_comp == 0):
            curve = pd.DataFrame(columns=["time", "cause", "estimate", "ci_lower", "ci_upper"])
            row.update(estimate=np.nan, ci_lower=np.nan, ci_upper=np.nan, median_reached=False)
        else:
            curve = _aalen_johansen(sub["time"], sub["cause"], causes, alpha)
            curve = curve.assign(group=label)
            ce = curve[curve["cause"] == event].sort_values("time")
            med = _first_time_reaching(ce, "estimate")
            row.update(estimate=med, ci_lower=_first_time_reaching(ce, "ci_upper"),
                       ci_upper=_first_time_reaching(ce, "ci_lower"), median_reached=bool(np.isfinite(med)))
            for h in horizons:
                for c in causes:
                    cc = curve[(curve["cause"] == c) & (curve["time"] <= h)].sort_values("time")
                    last = cc.iloc[-1] if len(cc) else None
                    hz_rows.append({"group": label, "cause": c, "time": float(h), "unit": unit,
                                    "estimate": float(last["estimate"]) if last is not None else 0.0,
                                    "ci_lower": float(last["ci_lower"]) if last is not None else np.nan,
                                    "ci_upper": float(last["ci_upper"]) if last is not None else np.nan,
                                    "n": len(sub)})
            curves.append(curve)
        row["median_observed_events"] = float(ev_times.median()) if len(ev_times) else np.nan
        row["n_observed_events"] = len(ev_times)
        rows.append(row)
    summary = pd.DataFrame(rows)
    for c in ("n", "n_event", "n_competing", "n_censored", "n_observed_events"):
        summary[c] = summary[c].astype("Int64")
    cif = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    if len(cif):
        cif = cif[["group", *[c for c in cif.columns if c != "group"]]]
    level = round(100 * (1 - alpha), 1)
    method = (
        f"Competing risks, {stage.replace('_', ' ')}: Aalen-Johansen cumulative incidence of '{event}' with "
        f"{' and '.join(causes[1:])} as competing outcomes (delta-method variance as cmprsk::cuminc, log(-log) "
        f"pointwise intervals); people still waiting are censored at their site's "
        f"data extract date (never dropped, never a zero wait). Median wait = first time the cumulative incidence "
        f"of '{event}' reaches 0.5 (NaN = not reached); its {level}% CI inverts the pointwise band (first times "
        f"the upper and lower limits reach 0.5). median_observed_events is the plain median among those with "
        f"the event only, which ignores everyone still waiting or who left. Times in {unit}."
    )
    meta = make_meta(n_in=len(ep), excluded=excluded, method=method, alpha=alpha, unit="referrals", by=by,
                     step=stage, time_unit=unit, causes=causes)
    counts = (pd.concat([c.assign(group=g) for g, c in steps.items()], ignore_index=True) if steps
              else pd.DataFrame(columns=["time", *causes, "censored", "group"]))
    return AnalysisResult(summary=summary, meta=meta, tables={"cif": cif, "horizons": pd.DataFrame(hz_rows),
                                                              "data": wd, "curve_counts": counts},
                          title=f"Waiting time: {stage.replace('_', ' ')}", _plotter=plotting.plot_waiting_times,
                          roles={"summary": wait_roles(steps, event, unit)})


def wait_counts(time, cause, causes: Sequence[str]) -> pd.DataFrame:
    """Per distinct time, the number ending the wait each way (``causes``) and still waiting (``censored``): the
    counts a wait's cumulative-incidence curve is made of (no person's row)."""
    tab = pd.crosstab(pd.Series(np.asarray(time, dtype=float)), pd.Series(np.asarray(cause, dtype=object)))
    tab = tab.reindex(columns=[*causes, "censored"], fill_value=0).sort_index()
    return tab.rename_axis(None, axis=1).reset_index(names="time")


def _group_steps(steps: dict, row) -> pd.DataFrame:
    return steps[str(row["group"])]


def wait_roles(steps: dict, event: str, unit: str = "weeks") -> list:
    """Roles of :func:`waiting_times`'s summary: a wait's counts (people with the event, a competing exit, still
    waiting); its median and interval read off the curve of ``event`` rebuilt from rounded cumulative counts (the
    curve a release draws: :class:`~dapp_eval.columns.CurveQuantile`), withheld with fewer than the threshold of
    events; the plain median among those with the event, read off the same rounded counts."""
    of_group = functools.partial(_group_steps, steps)
    grain = 1.0 if unit == "weeks" else 7.0  # the curve is drawn by whole weeks (disclosure.curves.wait_grain)
    return [Label("group", "step", "unit"),
            Count("n", "n_event", "n_competing", "n_censored", "n_observed_events"),
            CurveQuantile(("estimate", "ci_lower", "ci_upper"), steps=of_group, cause=event, n="n", events="n_event",
                          reached="median_reached", grain=grain),
            CurveQuantile(("median_observed_events",), steps=of_group, cause=event, n="n", among=True,
                          events="n_observed_events", grain=grain)]


# ---------------------------------------------------------------------------
# waiting list at the extract date
# ---------------------------------------------------------------------------


def waiting_list(data, *, by: str | None = "site_id", since: str = "referral",
                 long_wait_weeks: float = 12) -> AnalysisResult:
    """The waiting list at each site's data extract date, as commissioners report it.

    Counts the people awaiting assessment and awaiting start (after being
    accepted) at the extract date, and how long they have waited so far
    (median, quartiles, maximum, number waiting longer than
    ``long_wait_weeks``).  Waits so far are not completed waits: use
    :func:`waiting_times` for the time people wait until assessment or start.

    Parameters
    ----------
    data : ProgrammeData
    by : str or None
        Column to split by (default ``"site_id"``); ``"all"`` is added.
    since : {"referral", "stage_entry"}
        Clock start: the referral date for everyone (default), or the
        assessment date for people awaiting start.
    long_wait_weeks : float
        Threshold for ``n_over_threshold``.

    Returns
    -------
    AnalysisResult
        ``summary``: per group and list (``awaiting_assessment``,
        ``awaiting_start``, ``any``): ``n_waiting``, ``n_referred``,
        ``median_weeks``, ``q1_weeks``, ``q3_weeks``, ``max_weeks``,
        ``n_over_threshold``, ``as_at`` (the extract date, or the latest one
        when a group spans sites with different dates).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> wl = waiting_list(data).summary.query("list == 'any'").set_index("group")
    >>> int(wl.loc["all", "n_waiting"]), int(wl.loc["all", "n_over_threshold"])
    (114, 32)
    """
    if since not in ("referral", "stage_entry"):
        raise ValueError(f"since must be 'referral' or 'stage_entry', got {since!r}")
    ep = _with_stage(_episodes(data), data)
    _need(ep, ["referral_date", "assessment_date", "data_extract_date"], "waiting_list")
    waiting = ep["stage"].isin(["awaiting_assessment", "awaiting_start"])
    origin = ep["referral_date"]
    if since == "stage_entry":
        origin = ep["assessment_date"].where(ep["stage"] == "awaiting_start", ep["referral_date"])
    ep["_wait_weeks"] = _days(ep["data_extract_date"], origin) / 7.0
    no_origin = waiting & ep["_wait_weeks"].isna()
    rows = []
    for label, sub in _group_frames(ep, by):
        for lst, members in (("awaiting_assessment", ["awaiting_assessment"]), ("awaiting_start", ["awaiting_start"]),
                             ("any", ["awaiting_assessment", "awaiting_start"])):
            w = sub.loc[sub["stage"].isin(members), "_wait_weeks"].dropna()
            q = w.quantile([0.25, 0.5, 0.75]) if len(w) else pd.Series([np.nan] * 3, index=[0.25, 0.5, 0.75])
            dates = sub["data_extract_date"].dropna().unique()
            rows.append({
                "group": label, "list": lst, "since": since, "n_waiting": int(sub["stage"].isin(members).sum()),
                "n_referred": len(sub), "median_weeks": q[0.5], "q1_weeks": q[0.25], "q3_weeks": q[0.75],
                "max_weeks": float(w.max()) if len(w) else np.nan,
                "n_over_threshold": int((w > long_wait_weeks).sum()), "threshold_weeks": long_wait_weeks,
                "as_at": pd.Timestamp(max(dates)) if len(dates) else pd.NaT,
                "as_at_varies": len(dates) > 1,
            })
    summary = pd.DataFrame(rows)
    for c in ("n_waiting", "n_referred", "n_over_threshold"):
        summary[c] = summary[c].astype("Int64")
    method = (f"People open at the extract date and awaiting assessment (no assessment outcome) or awaiting start "
              f"(assessed suitable, no attended session), with time waited so far from the "
              f"{'referral date' if since == 'referral' else 'referral date (awaiting assessment) or assessment date (awaiting start)'} "
              f"to their site's data extract date, in weeks; quartiles by linear interpolation.")
    meta = make_meta(n_in=len(ep), excluded={"not waiting at the extract date": int((~waiting).sum()),
                                             "waiting, but no date to time the wait from": int(no_origin.sum())},
                     method=method, alpha=0.05, unit="referrals", by=by,
                     note="" if waiting.any() else "nobody was waiting at the extract date: no waits to summarise")
    return AnalysisResult(summary=summary, meta=meta, title="Waiting list at the extract date",
                          _plotter=plotting.plot_waiting_list, roles={"summary": _WAITING_LIST_ROLES})


#: people waiting (the two lists merged when one is a handful of people; 'any' is both), their waits so far
#: (shown over at least the threshold of people) and the long-wait threshold (weeks, not people)
def _not_any(t: pd.DataFrame) -> np.ndarray:
    return (t["list"] != "any").to_numpy()


def _waiting_group(t: pd.DataFrame) -> pd.Series:
    """The people a count of long waits is part of: those waiting, or, where nobody is, those referred (the 0s
    then say "none of the referrals is waiting"; a12 C3)."""
    waiting = pd.to_numeric(t["n_waiting"], errors="coerce")
    return waiting.where(waiting > 0, pd.to_numeric(t["n_referred"], errors="coerce"))


_WAITING_LIST_ROLES = [Merge(by=("group",), level="list", add=("n_waiting",), where=_not_any, named=True,
                             sums=("n_over_threshold",)),  # a merged row's blank said 1 against 0 (a22 F3)
                       Label("group", "list", "since", "as_at", "as_at_varies"),
                       Count("n_referred"), Count("n_waiting", total="n_referred"),
                       Count("n_over_threshold", total=_waiting_group),  # none or all of a few waiting: withheld
                       Summary(("median_weeks", "q1_weeks", "q3_weeks", "max_weeks"), n="n_waiting",
                               grain=1.0),
                       Value("threshold_weeks")]


# ---------------------------------------------------------------------------
# throughput by quarter
# ---------------------------------------------------------------------------


def _quarter_label(p: pd.Period, freq: str) -> str:
    if freq == "quarter":
        return f"{p.year}Q{p.quarter}"
    # Q-MAR periods: p.qyear is the year in which the financial year ends
    return f"{p.qyear - 1}/{str(p.qyear)[-2:]} Q{p.quarter}"


def throughput(data, *, by: str | None = "site_id", freq: str = "quarter") -> AnalysisResult:
    """Referrals, starts and completions per quarter, against the contract target.

    Parameters
    ----------
    data : ProgrammeData
    by : str or None
        ``"site_id"`` (default), another column, or ``None`` for the whole
        programme.  The overall group ``"all"`` is always added.
    freq : {"quarter", "fy_quarter"}
        Calendar quarters labelled ``2023Q2``, or UK financial-year quarters
        (April-March) labelled ``2023/24 Q1``.

    Returns
    -------
    AnalysisResult
        ``summary``: per group and quarter ``quarter``, ``quarter_start``,
        ``quarter_end``, ``n_referrals``, ``n_starts``, ``n_completions``,
        ``target_completions`` (the yearly target / 4 where the site has one;
        for a group of sites the sum, only if every site has a target) and
        ``partial`` (the quarter is not wholly inside the group's period
        start .. data extract date, so its counts are incomplete).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> tp = throughput(data, freq="fy_quarter").summary
    >>> tp.loc[tp["group"] == "S01", "quarter"].head(3).tolist()
    ['2022/23 Q4', '2023/24 Q1', '2023/24 Q2']
    >>> bool(tp["partial"].iloc[0])
    True
    """
    if freq not in ("quarter", "fy_quarter"):
        raise ValueError(f"freq must be 'quarter' or 'fy_quarter', got {freq!r}")
    pfreq = "Q" if freq == "quarter" else "Q-MAR"
    ep = _with_stage(_episodes(data), data)
    _need(ep, ["site_id", "referral_date", "start_date", "exit_date", "period_start", "data_extract_date"],
          "throughput")
    events = {
        "n_referrals": ep["referral_date"],
        "n_starts": ep["start_date"],
        "n_completions": ep["exit_date"].where(ep["stage"] == "completed"),
    }
    rows = []
    for label, sub in _group_frames(ep, by):
        if not len(sub):
            continue
        lo = min(sub["period_start"].min(), sub["referral_date"].min())
        hi = max(sub["period_end"].max() if "period_end" in sub else sub["data_extract_date"].max(),
                 *[events[k].loc[sub.index].max() for k in events if events[k].loc[sub.index].notna().any()])
        periods = pd.period_range(lo, hi, freq=pfreq)
        obs_from, obs_to = sub["period_start"].min(), sub["data_extract_date"].min()
        site_targets = sub.drop_duplicates("site_id")["target_completions"] if "target_completions" in sub \
            else pd.Series(dtype=float)
        if by in (None, "site_id") and len(site_targets) and site_targets.notna().all():
            target = float(site_targets.astype(float).sum()) / 4
        else:
            target = np.nan
        pi = {k: v.loc[sub.index].dropna().dt.to_period(pfreq).value_counts() for k, v in events.items()}
        for p in periods:
            rows.append({
                "group": label, "quarter": _quarter_label(p, freq), "quarter_start": p.start_time.normalize(),
                "quarter_end": p.end_time.normalize(),
                **{k: int(pi[k].get(p, 0)) for k in events},
                "target_completions": target,
                "partial": bool(p.start_time < obs_from or p.end_time.normalize() > obs_to),
            })
    if not rows:
        raise AnalysisError("no referrals in the data or period chosen: there is no quarter to count")
    summary = pd.DataFrame(rows)
    for c in events:
        summary[c] = summary[c].astype("Int64")
    method = ("Counts of referral dates, start dates (first attended session) and completion exit dates falling in "
              f"each {'calendar' if freq == 'quarter' else 'UK financial-year (April-March)'} quarter. The target "
              "is the site's yearly target_completions divided by 4 (summed over sites only when every site in the "
              "group has a target). Quarters not wholly inside period start .. data extract date are flagged "
              "partial: their counts are incomplete.")
    meta = make_meta(n_in=len(ep), excluded={}, method=method, alpha=0.05, unit="referrals", by=by, freq=freq)
    return AnalysisResult(summary=summary, meta=meta, title="Throughput by quarter",
                          _plotter=plotting.plot_throughput, roles={"summary": throughput_roles(list(events))})


def throughput_roles(counts: list[str]) -> list:
    """Throughput's columns: counts of people per period; a period whose count is a handful of people is
    merged with its smaller neighbour (coarser periods at a small site, never a withheld count), its target
    summed over the quarters merged, and partial if any of them is."""
    return [Merge(by=("group",), level="quarter", add=tuple(counts), adjacent=True,
                  sums=("target_completions", "partial")),
            Label("group", "quarter"), Count(*counts), Value("target_completions", "quarter_start", "quarter_end"),
            Derived(("partial",), _any_partial, hidden_ok=True)]


def _any_partial(pub: pd.DataFrame) -> pd.DataFrame:
    """A period merged from quarters is partial when any of them is."""
    return pd.DataFrame({"partial": pd.to_numeric(pub["partial"]) > 0})


# ---------------------------------------------------------------------------
# attendance
# ---------------------------------------------------------------------------


def _ratio_ci(num: np.ndarray, den: np.ndarray, z: float) -> tuple[float, float, float, float]:
    """Ratio estimator sum(num)/sum(den) with a linearised (cluster) standard error."""
    n = len(num)
    if n == 0 or den.sum() == 0:
        return np.nan, np.nan, np.nan, np.nan
    r = num.sum() / den.sum()
    if n < 2:
        return r, np.nan, np.nan, np.nan
    resid = num - r * den
    se = np.sqrt(n / (n - 1) * np.sum(resid**2)) / den.sum()
    return r, se, max(r - z * se, 0.0), r + z * se


def attendance(data, *, by: str | None = "site_id", alpha: float = 0.05) -> AnalysisResult:
    """Sessions attended out of sessions scheduled and out of sessions planned.

    Two ratios per group, each a ratio estimator (total attended / total
    scheduled or planned) whose standard error is linearised with people
    (``participant_id``) as clusters, so heavy attenders do not count as
    independent sessions; Wald interval, lower limit cut at 0.

    ``attended_of_scheduled``
        every episode with at least one scheduled session (the sessions log);
    ``attended_of_planned``
        episodes that started and are closed (completed, dropped out,
        excluded, other exit), against their planned sessions (the
        referral's override, else the site's); can exceed 1 when extra
        sessions were given.

    Parameters
    ----------
    data : ProgrammeData
        Needs ``sessions.csv``.
    by : str or None
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary``: per group and measure ``estimate``, ``se``,
        ``ci_lower``, ``ci_upper``, ``n`` (episodes), ``n_participants``,
        ``n_sessions_attended``, ``n_sessions_denominator``,
        ``median_attended``.  ``tables["distribution"]``: number of
        episodes by sessions attended, per group and closing stage, for
        started and closed episodes.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> att = attendance(data).summary.query("group == 'all'").set_index("measure")
    >>> att["estimate"].round(3).to_dict()
    {'attended_of_scheduled': 0.881, 'attended_of_planned': 0.781}
    """
    alpha = check_alpha(alpha)
    if not isinstance(data, pd.DataFrame):
        data.require("sessions")
    ep = _with_stage(_episodes(data), data)
    _need(ep, ["n_sessions_scheduled", "n_sessions_attended", "planned"], "attendance")
    if ep["n_sessions_scheduled"].isna().all():
        raise AnalysisError("attendance needs sessions.csv (the attendance log), which is not in the data")
    pid = ep["participant_id"] if "participant_id" in ep else ep.get("referral_id", pd.Series(ep.index))
    ep["_cluster"] = pid.astype(str)
    z = stats.norm.ppf(1 - alpha / 2)
    closed_started = ep["stage"].isin(["completed", "dropped_out", "excluded", "other_exit"])
    has_sched = ep["n_sessions_scheduled"].fillna(0) > 0
    if not has_sched.any():
        raise AnalysisError(f"no referral has a scheduled session in sessions.csv (of {len(ep)} referrals, "
                            f"{int(ep['start_date'].notna().sum()) if 'start_date' in ep else 0} started): "
                            "attendance needs at least one")
    rows, dist = [], []
    for label, sub in _group_frames(ep, by):
        for measure, mask, den_col in (("attended_of_scheduled", has_sched, "n_sessions_scheduled"),
                                       ("attended_of_planned", closed_started, "planned")):
            s = sub[mask.loc[sub.index]]
            s = s[s[den_col].notna()]
            agg = s.groupby("_cluster").agg(a=("n_sessions_attended", "sum"), m=(den_col, "sum"))
            r, se, lo, hi = _ratio_ci(agg["a"].to_numpy(float), agg["m"].to_numpy(float), z)
            rows.append({"group": label, "measure": measure, "estimate": r, "se": se, "ci_lower": lo,
                         "ci_upper": hi, "n": len(s), "n_participants": len(agg),
                         "n_sessions_attended": int(s["n_sessions_attended"].sum()),
                         "n_sessions_denominator": int(s[den_col].sum()),
                         "median_attended": float(s["n_sessions_attended"].median()) if len(s) else np.nan})
        cs = sub[closed_started.loc[sub.index]]
        if len(cs):
            tab = cs.groupby([cs["stage"].astype(str), "n_sessions_attended"]).size()
            for (st, k), n in tab.items():
                dist.append({"group": label, "stage": st, "sessions_attended": int(k), "n": int(n)})
    summary = pd.DataFrame(rows)
    for c in ("n", "n_participants", "n_sessions_attended", "n_sessions_denominator"):
        summary[c] = summary[c].astype("Int64")
    level = round(100 * (1 - alpha), 1)
    method = (f"Ratio estimators: total sessions attended / total sessions scheduled (episodes with any scheduled "
              f"session) and / total planned sessions (started and closed episodes). Standard errors by "
              f"linearisation with people (participant_id) as clusters; {level}% Wald intervals, lower limit cut "
              f"at 0.")
    meta = make_meta(n_in=len(ep), excluded={"no scheduled sessions": int((~has_sched).sum())}, method=method,
                     alpha=alpha, unit="referrals", by=by,
                     n_used_planned=int(closed_started.sum()))
    return AnalysisResult(summary=summary, meta=meta, tables={"distribution": pd.DataFrame(dist)},
                          title="Attendance", _plotter=plotting.plot_attendance,
                          roles={"summary": attendance_roles(alpha)})


def _attendance_ratio(pub: pd.DataFrame, z: float) -> pd.DataFrame:
    """Sessions attended over sessions scheduled or planned (published counts), +/- z standard errors."""
    with np.errstate(invalid="ignore", divide="ignore"):
        est = pub["n_sessions_attended"] / pub["n_sessions_denominator"].where(pub["n_sessions_denominator"] > 0)
    se = pd.to_numeric(pub["se"], errors="coerce")
    return pd.DataFrame({"estimate": est, "ci_lower": (est - z * se).clip(lower=0), "ci_upper": est + z * se})


def attendance_roles(alpha: float = 0.05) -> list:
    """Attendance's columns: counts of episodes, people and sessions; the ratio of the published session counts
    with its (cluster) standard error around it, so the interval is centred on the published ratio.

    Planned sessions are people x planned length: their count, rounded to 5, gave the number of people back
    exactly (attack a16 F2: 11 of 13), and so did the ratio to planned itself with the planned length on the page
    (a20 F1). The ratio to planned is never published (withheld by its role; a report leaves its row out,
    :func:`attendance_published`)."""
    ratio = functools.partial(_attendance_ratio, z=float(stats.norm.ppf(1 - alpha / 2)))
    return [Label("group", "measure"), Count("n", "n_participants", "n_sessions_attended", "n_sessions_denominator"),
            Model(("se",), events="n"), Summary(("median_attended",), n="n"),
            Derived(("estimate", "ci_lower", "ci_upper"), ratio, inputs=("n_sessions_attended", "n_sessions_denominator"),
                    rows=_of_scheduled),
            Derived(("estimate", "ci_lower", "ci_upper"), _never, rows=_of_planned, hidden_ok=True)]


def _never(pub: pd.DataFrame) -> pd.DataFrame:
    """Nothing published (a value that would give the people back whatever the threshold)."""
    return pd.DataFrame(np.nan, index=pub.index, columns=["estimate", "ci_lower", "ci_upper"])


def _of_scheduled(t: pd.DataFrame) -> np.ndarray:
    return (t["measure"] != "attended_of_planned").to_numpy()


def _of_planned(t: pd.DataFrame) -> np.ndarray:
    return (t["measure"] == "attended_of_planned").to_numpy()


def attendance_published(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`attendance`'s summary as a report publishes it: without the ratio to planned sessions. Its
    denominator is the people times the planned length, so its session counts (a16 F2) and the ratio itself, to
    three figures with the planned length on the page (a20 F1: 0.614 = 162 / (11 x 24)), gave the number of
    people back exactly."""
    return summary[~_of_planned(summary)].reset_index(drop=True)


# ---------------------------------------------------------------------------
# baseline profile (Table 1)
# ---------------------------------------------------------------------------

_CONTINUOUS = ("age", "n_children")
_BOOLEAN = ("prior_da_police_contact", "substance_misuse")
_CATEGORICAL = ("gender", "ethnicity", "employment", "referral_source", "relationship_to_victim")
_SET = ("abuse_types",)


def _status(ep: pd.DataFrame, by: str) -> tuple[pd.Series, dict[str, int], list[str]]:
    st = ep["stage"].astype(str)
    if by == "completion_status":
        g = pd.Series(np.where(st == "completed", "completed", "not_completed"), index=ep.index, dtype=object)
        excl = {"still attending": st == "still_attending",
                "did not start": ~ep["stage"].isin(INTERMEDIATE_STAGES["started"])}
        order = ["completed", "not_completed"]
    else:  # start_status
        g = pd.Series(np.where(ep["stage"].isin(INTERMEDIATE_STAGES["started"]), "started", "not_started"),
                      index=ep.index, dtype=object)
        excl = {"awaiting start": st == "awaiting_start",
                "not accepted (declined or awaiting assessment, unsuitable, other exit before assessment)":
                    ~ep["stage"].isin(INTERMEDIATE_STAGES["accepted"])}
        order = ["started", "not_started"]
    drop = pd.Series(False, index=ep.index)
    counts = {}
    for k, m in excl.items():
        counts[k] = int(m.sum())
        drop |= m
    return g.where(~drop), counts, order


#: the label of a multiple-response variable's pooled rare answers, whichever they are
POOLED_ANSWERS = "other answers (pooled so that none is too small to show)"
ALL_ANSWERS = "any answer (pooled so that none is too small to show)"


def _pool_rare(indicators: dict[str, pd.Series], groups: dict[str, pd.DataFrame], below: int | None) -> dict:
    """A multiple-response variable's rare answers pooled into one answer (had any of them), labelled the same
    whichever answers it pools (:data:`POOLED_ANSWERS`).

    An answer held by 1 to ``below - 1`` people of some group joins the others like it, and the next rarest
    joins them while the pooled answer is still that rare (a person counts once: the union, not the sum).

    Examples
    --------
    >>> ind = {t: pd.Series(v) for t, v in {"a": [1, 1, 1, 0], "b": [0, 1, 0, 0], "c": [0, 0, 0, 1]}.items()}
    >>> list(_pool_rare({k: v.astype(bool) for k, v in ind.items()}, {"all": pd.DataFrame(index=range(4))}, 2))
    ['a', 'other answers (pooled so that none is too small to show)']
    >>> list(_pool_rare({k: v.astype(bool) for k, v in ind.items()}, {"all": pd.DataFrame(index=range(4))}, 3))
    ['any answer (pooled so that none is too small to show)']
    """
    if not below:
        return indicators

    def rare(ind: pd.Series) -> bool:
        return any(0 < int(ind.loc[sub.index].sum()) < below for sub in groups.values())

    pool = [t for t, ind in indicators.items() if rare(ind)]
    rest = sorted((t for t in indicators if t not in pool), key=lambda t: int(indicators[t].sum()))
    if not pool or len(indicators) < 2:
        return indicators
    union = functools.reduce(lambda a, b: a | b, (indicators[t] for t in pool))
    while rest and (len(pool) < 2 or rare(union)):
        pool.append(rest.pop(0))
        union = union | indicators[pool[-1]]
    out = {t: ind for t, ind in indicators.items() if t not in pool}
    # never named after the answers pooled: the names said which answers the group's people gave (issue 26, an
    # outside attacker read one person's whole abuse profile off "coercive_control, physical or verbal")
    out[POOLED_ANSWERS if out else ALL_ANSWERS] = union
    return out


def _baseline_rows(ep: pd.DataFrame, variables: list[str], groups: dict[str, pd.DataFrame],
                   pool_below: int | None = None) -> list[dict]:
    """One row per variable, level and group: n, n_group, pct (and mean, sd for continuous variables)."""
    rows = []
    # each group's rows as positions in ep, looked up once (not a label lookup per level and group)
    pos = {g: ep.index.get_indexer(sub.index) for g, sub in groups.items()} if ep.index.is_unique else None
    for var in variables:
        col = ep[var]
        if var in _CONTINUOUS:
            x = pd.to_numeric(col, errors="coerce").astype(float)
            levels = ["mean"] + (["missing"] if x.isna().any() else [])
            for g, sub in groups.items():
                xs = x.loc[sub.index]
                ng = len(sub)
                rows.append({"variable": var, "kind": "continuous", "level": "mean", "group": g,
                             "n": int(xs.notna().sum()), "n_group": ng,
                             "pct": 100 * xs.notna().sum() / ng if ng else np.nan,
                             "mean": float(xs.mean()), "sd": float(xs.std(ddof=1))})
                if "missing" in levels:
                    rows.append({"variable": var, "kind": "continuous", "level": "missing", "group": g,
                                 "n": int(xs.isna().sum()), "n_group": ng,
                                 "pct": 100 * xs.isna().sum() / ng if ng else np.nan})
            continue
        if var in _SET:
            s = _str_col(col)
            # the tokens of each distinct value, not of each row
            codes, uniq = pd.factorize(s)
            parts = [set(str(v).split(";")) for v in uniq]
            present = sorted({t for ps in parts for t in ps if t})
            indicators = {t: pd.Series(np.array([t in ps for ps in parts], dtype=bool)[codes], index=s.index)
                          for t in present}
            if (s == "").any():
                indicators["missing"] = s == ""
            indicators = _pool_rare(indicators, groups, pool_below)
            kind = "set"
        else:
            if var in _BOOLEAN:
                s = col.astype("object").map({True: "yes", False: "no"}).where(col.notna(), "missing")
                kind = "binary"
                levs = [v for v in ("yes", "no", "missing") if (s == v).any()]
            else:
                s = col.astype("object").where(col.notna(), "missing").astype(str)
                kind = "categorical"
                levs = sorted(set(pd.unique(s)) - {"missing"}) + (["missing"] if (s == "missing").any() else [])
            codes, uniq = pd.factorize(s)  # compare integer codes, not text, per level
            code_of = {v: k for k, v in enumerate(uniq)}
            indicators = {lev: pd.Series(codes == code_of[lev], index=s.index) for lev in levs}
        for lev, ind in indicators.items():
            for g, sub in groups.items():
                k = int(ind.to_numpy()[pos[g]].sum()) if pos is not None else int(ind.loc[sub.index].sum())
                rows.append({"variable": var, "kind": kind, "level": lev, "group": g, "n": k, "n_group": len(sub),
                             "pct": 100 * k / len(sub) if len(sub) else np.nan})
    return rows


def _smd_columns(summary: pd.DataFrame, order: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise standardised differences per variable level, and the summary with smd / smd_max_abs."""
    smd_rows = []
    for (var, lev), block in summary.groupby(["variable", "level"], sort=False):
        b = block.set_index("group")
        for i, g1 in enumerate(order):
            for g2 in order[i + 1:]:
                if g1 not in b.index or g2 not in b.index:
                    continue
                if lev == "mean":
                    smd = smd_from_moments(b.at[g1, "mean"], b.at[g1, "sd"], b.at[g2, "mean"], b.at[g2, "sd"])
                else:
                    smd = smd_binary(b.at[g1, "pct"] / 100, b.at[g2, "pct"] / 100)
                smd_rows.append({"variable": var, "level": lev, "group_1": g1, "group_2": g2, "smd": smd})
    smd = pd.DataFrame(smd_rows, columns=["variable", "level", "group_1", "group_2", "smd"])
    if len(smd):
        smax = smd.assign(a=smd["smd"].abs()).groupby(["variable", "level"], sort=False)["a"].max()
        summary = summary.merge(smax.rename("smd_max_abs").reset_index(), on=["variable", "level"], how="left")
        if len(order) == 2:
            summary = summary.merge(smd[["variable", "level", "smd"]], on=["variable", "level"], how="left")
        else:
            summary["smd"] = np.nan
    else:
        summary["smd_max_abs"] = np.nan
        summary["smd"] = np.nan
    return summary, smd


def baseline_table(data, *, by: str = "completion_status", variables: Sequence[str] | None = None,
                   min_group: int | None = None, pool_below: int | None = None) -> AnalysisResult:
    """Baseline profile ("Table 1") by group, with standardised mean differences.

    Parameters
    ----------
    data : ProgrammeData
    by : str
        ``"completion_status"`` (default: among people who started and whose
        episode is closed, ``completed`` vs ``not_completed`` = dropped out,
        excluded or other exit; people still attending or who never started
        are counted in ``meta["excluded"]``), ``"start_status"`` (among
        people accepted, ``started`` vs ``not_started`` = declined to start or
        other exit before starting; people awaiting start excluded), or any
        referral column such as ``"site_id"`` (all referrals; missing as its
        own group).
    variables : sequence of str, optional
        Subset of ``age``, ``n_children``, ``gender``, ``ethnicity``,
        ``employment``, ``prior_da_police_contact``, ``substance_misuse``,
        ``referral_source``, ``relationship_to_victim``, ``abuse_types``.
    min_group : int, optional
        With ``completion_status`` or ``start_status``, a group of fewer people than this is not compared:
        the table then describes everyone in the population as one group (``meta["split"]`` False), since
        nearly every level of a group that small is a handful of people (a small site).
    pool_below : int, optional
        Answers of ``abuse_types`` (a multiple-response variable) held by 1 to ``pool_below - 1`` people of
        a group are pooled into one answer (:func:`_pool_rare`).

    Returns
    -------
    AnalysisResult
        ``summary``: one row per variable, level and group: ``n`` (people
        with that level; for continuous variables people with a value),
        ``n_group``, ``pct`` (n / n_group x 100), ``mean`` and ``sd``
        (continuous), then ``smd`` (two groups: first minus second, e.g.
        completed minus not completed) and ``smd_max_abs`` (largest absolute
        pairwise SMD).  Missing values are their own level (``"missing"``).
        ``tables["smd"]``: every pairwise SMD.

    Notes
    -----
    SMD, continuous: (mean1 - mean2) / sqrt((sd1^2 + sd2^2) / 2).  Binary or
    one level of a categorical variable: (p1 - p2) / sqrt((p1 (1 - p1) +
    p2 (1 - p2)) / 2), with p among everyone in the group (missing
    included as a level).  ``abuse_types``: one level per type (the person
    disclosed it), plus ``missing``.  An absolute SMD above 0.1 is a common flag of
    imbalance.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> t1 = baseline_table(data)
    >>> age = t1.summary.query("variable == 'age' and level == 'mean'").set_index("group")
    >>> age["mean"].round(1).to_dict()
    {'completed': 35.8, 'not_completed': 33.1}
    >>> round(float(age["smd"].iloc[0]), 2)
    0.25
    """
    ep = _with_stage(_episodes(data), data)
    allvars = (*_CONTINUOUS, *_BOOLEAN, *_CATEGORICAL, *_SET)
    variables = list(allvars if variables is None else variables)
    unknown = [v for v in variables if v not in allvars]
    if unknown:
        raise ValueError(f"unknown baseline variable(s) {unknown}; choose from {', '.join(allvars)}")
    variables = [v for v in variables if v in ep.columns]
    if by in ("completion_status", "start_status"):
        grp, excluded, order = _status(ep, by)
    else:
        if by not in ep.columns:
            raise AnalysisError(f"cannot group by {by!r}: no such column")
        grp = ep[by].astype("object").where(ep[by].notna(), "missing").astype(str)
        excluded, order = {}, sorted(grp.unique())
    keep = grp.notna()
    if not keep.any():
        why = "; ".join(f"{k}: {v}" for k, v in excluded.items() if v)
        raise AnalysisError(f"no referral can be placed in a {by.replace('_', ' ')} group ({why}): "
                            + ("nobody who started has completed or left yet" if by == "completion_status"
                               else "no one accepted has yet started or left before starting"))
    ep, grp = ep[keep], grp[keep]
    # an empty group is a group under min_group too: dropping it first left "completed" alone, which said that
    # everyone who left completed (a12 C2)
    split = not (min_group and by in ("completion_status", "start_status")
                 and any((grp == g).sum() < min_group for g in order))
    order = [g for g in order if (grp == g).any()] or order
    if not split:
        whole = {"completion_status": "started and left", "start_status": "accepted"}[by]
        grp, order = pd.Series(whole, index=grp.index, dtype=object), [whole]
    groups = {g: ep[grp == g] for g in order}

    rows = _baseline_rows(ep, variables, groups, pool_below)
    summary = pd.DataFrame(rows, columns=["variable", "kind", "level", "group", "n", "n_group", "pct", "mean", "sd"])

    summary, smd = _smd_columns(summary, order)
    for c in ("n", "n_group"):
        summary[c] = summary[c].astype("Int64")
    n_in = len(keep)
    method = ("Baseline characteristics at referral by group: n and % of the group for each level (missing as its "
              "own level), mean and SD for continuous variables. Standardised mean difference: continuous "
              "(m1 - m2) / sqrt((s1^2 + s2^2) / 2); each level (p1 - p2) / sqrt((p1(1 - p1) + p2(1 - p2)) / 2).")
    if by == "completion_status":
        method += (" Completion status among people who started and whose episode is closed: completed vs not "
                   "completed (dropped out, excluded, other exit); still attending excluded.")
    meta = make_meta(n_in=n_in, excluded=excluded, method=method, alpha=0.05, unit="referrals", by=by,
                     groups=order, split=split)
    return AnalysisResult(summary=summary, meta=meta, tables={"smd": smd}, title="Baseline profile (Table 1)",
                          _plotter=plotting.plot_smd, roles={"summary": baseline_roles()})


def _exclusive_levels(t: pd.DataFrame) -> np.ndarray:
    """Rows of characteristics whose levels exclude each other (categorical, yes/no): these may be merged."""
    return t["kind"].isin(["categorical", "binary"]).to_numpy()


def baseline_roles() -> list:
    """What each column of Table 1 is: counts of people, the % of the group, means over the row's people, and
    SMDs derived from the published counts (and published means); small levels of a categorical or yes/no
    characteristic are merged. ``kind`` and ``smd`` name and repeat what the other columns say."""
    return [Merge(by=("variable",), level="level", across=("group",), where=_exclusive_levels),
            Label("variable", "kind", "level", "group"), Count("n", "n_group"),
            Proportion("n", "n_group", estimate="pct", ci=None, scale=100.0),
            Summary(("mean", "sd"), n="n", moments=("mean", "sd")),
            Derived(("smd", "smd_max_abs"), smd_published, inputs=("n", "n_group"))]


def _num(v) -> float:
    return pd.to_numeric(pd.Series([v]).astype(str).str.replace(",", ""), errors="coerce").iloc[0]


def smd_published(pub: pd.DataFrame) -> pd.DataFrame:
    """Each level's SMDs from published numbers: shares of published counts, or published means and SDs.

    A level with any count (or mean) not published gets no SMD: with the others it would give the hidden
    one back (issue 26: SMDs of the true shares, with the levels summing to the group, did).
    """
    out = pd.DataFrame({"smd": np.nan, "smd_max_abs": np.nan}, index=pub.index)
    shares = pub["level"] != "mean"
    hidden = set(pub.loc[shares & pub["n"].isna(), "variable"])  # with the group size, a share of the rest
    for (var, _lev), idx in pub.groupby(["variable", "level"], sort=False).groups.items():
        b = pub.loc[idx]
        if len(b) < 2 or (var in hidden and (b["level"] != "mean").all()):
            continue
        if (b["level"] == "mean").all():
            m, sd = b["mean"].map(_num).to_numpy(dtype=float), b["sd"].map(_num).to_numpy(dtype=float)
            d = [smd_from_moments(m[i], sd[i], m[j], sd[j]) for i in range(len(b)) for j in range(i + 1, len(b))]
        else:
            k, n = b["n"].to_numpy(dtype=float), b["n_group"].to_numpy(dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.clip(k / np.where(n > 0, n, np.nan), 0, 1)
            d = [smd_binary(p[i], p[j]) for i in range(len(b)) for j in range(i + 1, len(b))]
        d = np.asarray(d, dtype=float)
        if len(d) and np.isfinite(d).all():
            out.loc[idx, "smd_max_abs"] = round(float(np.abs(d).max()), 2)
            if len(b) == 2:
                out.loc[idx, "smd"] = round(float(d[0]), 2)
    return out


# ---------------------------------------------------------------------------
# costs
# ---------------------------------------------------------------------------


def _period_years(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of start..end inclusive in years: whole calendar months / 12, else days / 365.25."""
    end_excl = pd.Timestamp(end) + pd.Timedelta(days=1)
    start = pd.Timestamp(start)
    if start.day == end_excl.day:
        return ((end_excl.year - start.year) * 12 + end_excl.month - start.month) / 12
    return (end_excl - start).days / 365.25


def _cost_notes(df: pd.DataFrame) -> list[str]:
    """Why a cost ratio is missing, per row of the costs table."""
    notes = []
    for r in df.to_dict("records"):
        note = []
        if pd.isna(r["period_cost_gbp"]):
            if r["group"] == "all":
                missing = ", ".join(df.loc[(df["group"] != "all") & df["annual_cost_gbp"].isna(), "group"])
                note.append(f"no programme total: no annual_cost_gbp for {missing}" if missing
                            else "no annual_cost_gbp")
            else:
                note.append("no annual_cost_gbp given for this site")
        # a cost per start of nobody is missing without a note of its own: "no starts in the period" said so of
        # every person referred to a site (issue 26); a report withholds it as it does a cost per few starts
        notes.append("; ".join(note))
    return notes


def _programme_cost_row(df: pd.DataFrame) -> dict:
    """The programme total of the site rows of :func:`costs` (a cost only when every site has one)."""
    same = df["period_years"].nunique() == 1
    tot = {"group": "all", "period_start": df["period_start"].min(), "period_end": df["period_end"].max(),
           "period_years": float(df["period_years"].iloc[0]) if same else np.nan}
    for c in ("n_referrals", "n_started", "n_completed", "n_carried_over"):
        tot[c] = int(df[c].sum())
    all_cost = df["annual_cost_gbp"].notna().all()
    tot["annual_cost_gbp"] = float(df["annual_cost_gbp"].sum()) if all_cost else np.nan
    tot["period_cost_gbp"] = float(df["period_cost_gbp"].sum()) if all_cost else np.nan
    all_target = df["target_completions_period"].notna().all()
    tot["target_completions_period"] = float(df["target_completions_period"].sum()) if all_target else np.nan
    tot["cost_per_target_completion"] = (tot["period_cost_gbp"] / tot["target_completions_period"]
                                         if all_cost and all_target and tot["target_completions_period"] > 0
                                         else np.nan)
    return tot


def costs(data, *, by: str | None = "site_id") -> AnalysisResult:
    """Cost per referral, per start and per completion over each site's period.

    The period cost is ``annual_cost_gbp`` x period length in years, where
    the period runs from ``period_start`` to ``period_end`` inclusive and
    counts as whole calendar months / 12 when it spans whole months (e.g.
    1 April to 31 December = 0.75 years), else as days / 365.25.  Counted in the period: referrals received
    (referral_date in the period; referrals carried over from before it are
    not counted again), starts (start_date in the period) and completions
    (completion exit_date in the period).  Sites without a cost give NaN
    with an explanatory ``note``, never 0.  The contracted cost per completion
    (annual cost / yearly ``target_completions``) is shown beside the
    achieved figure.

    Parameters
    ----------
    data : ProgrammeData
    by : {"site_id", None}
        Per site (plus the programme total ``"all"``) or the total only.

    Returns
    -------
    AnalysisResult
        ``summary``: ``group``, ``annual_cost_gbp``, ``period_start``,
        ``period_end``, ``period_years``, ``period_cost_gbp``,
        ``n_referrals``, ``n_started``, ``n_completed``, ``cost_per_referral``,
        ``cost_per_start``, ``cost_per_completion``,
        ``target_completions_period``, ``cost_per_target_completion``,
        ``note``.  No confidence intervals: these are whole-period ratios.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> c = costs(data).summary.set_index("group")
    >>> int(c.loc["all", "n_completed"]), round(float(c.loc["all", "cost_per_completion"]), 2)
    (602, 933.55)
    """
    if by not in ("site_id", None):
        raise ValueError("costs are contracted per site: by must be 'site_id' or None")
    ep = _with_stage(_episodes(data), data)
    _need(ep, ["site_id", "period_start", "period_end", "referral_date", "start_date", "exit_date"], "costs")
    if "annual_cost_gbp" not in ep:
        ep["annual_cost_gbp"] = np.nan
    if "target_completions" not in ep:
        ep["target_completions"] = np.nan
    if isinstance(data, pd.DataFrame):
        sites = ep.drop_duplicates("site_id")[["site_id", "period_start", "period_end", "annual_cost_gbp",
                                               "target_completions"]]
    else:
        sites = data.sites.reindex(columns=["site_id", "period_start", "period_end", "annual_cost_gbp",
                                            "target_completions"])

    def within(d, s):
        return (d >= s["period_start"]) & (d <= s["period_end"])

    site_rows = []
    for s in sites.sort_values("site_id").to_dict("records"):
        sub = ep[ep["site_id"] == s["site_id"]]
        years = _period_years(s["period_start"], s["period_end"])
        cost = float(s["annual_cost_gbp"]) if pd.notna(s["annual_cost_gbp"]) else np.nan
        target = float(s["target_completions"]) if pd.notna(s["target_completions"]) else np.nan
        site_rows.append({
            "group": s["site_id"], "annual_cost_gbp": cost, "period_start": s["period_start"],
            "period_end": s["period_end"], "period_years": years, "period_cost_gbp": cost * years,
            "n_referrals": int(within(sub["referral_date"], s).sum()),
            "n_started": int(within(sub["start_date"], s).sum()),
            "n_completed": int((within(sub["exit_date"], s) & (sub["stage"] == "completed")).sum()),
            "n_carried_over": int((sub["referral_date"] < s["period_start"]).sum()),
            "target_completions_period": target * years,
            "cost_per_target_completion": cost / target if target and target > 0 else np.nan,
        })
    df = pd.DataFrame(site_rows)
    if len(df):
        tot = _programme_cost_row(df)
        df = pd.concat([df, pd.DataFrame([tot])], ignore_index=True) if by == "site_id" else pd.DataFrame([tot])
    notes = _cost_notes(df)
    df["note"] = notes
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, n in (("cost_per_referral", "n_referrals"), ("cost_per_start", "n_started"),
                     ("cost_per_completion", "n_completed")):
            df[c] = np.where(df[n] > 0, df["period_cost_gbp"] / df[n].where(df[n] > 0), np.nan)
    for c in ("n_referrals", "n_started", "n_completed", "n_carried_over"):
        df[c] = df[c].astype("Int64")
    cols = ["group", "annual_cost_gbp", "period_start", "period_end", "period_years", "period_cost_gbp",
            "n_referrals", "n_started", "n_completed", "n_carried_over", "cost_per_referral", "cost_per_start",
            "cost_per_completion", "target_completions_period", "cost_per_target_completion", "note"]
    summary = df.reindex(columns=cols)
    method = ("Period cost = annual_cost_gbp x period length in years (period_start to period_end inclusive: whole "
              "calendar months / 12 when it spans whole months, else days / 365.25). Referrals, starts "
              "and completions counted when dated within the site's period (referrals carried over from before "
              "the period are shown in n_carried_over, not counted as referrals). Programme total only when every "
              "site has a cost. cost_per_target_completion = annual cost / yearly target_completions (the "
              "contracted figure). Descriptive ratios, no confidence intervals.")
    meta = make_meta(n_in=len(ep), excluded={}, method=method, alpha=0.05, unit="referrals", by=by)
    return AnalysisResult(summary=summary, meta=meta, title="Costs", _plotter=plotting.plot_costs)

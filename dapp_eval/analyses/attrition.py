"""Attrition: time in programme, competing exits, dropout models.

Completion and dropout are competing exits from a programme: a case that
completes can no longer drop out. This module therefore reports the
cumulative incidence (Aalen-Johansen) of each kind of exit, never a
Kaplan-Meier curve on its own (a Kaplan-Meier "retention" curve that censors
completers overstates dropout; :func:`retention_km` shows it only beside the
cumulative incidence, labelled as such).

Time scale
    Time origin is the episode's ``start_date`` (its first attended session).
    A closed episode exits at its last attended session (``exit_date`` is
    often recorded weeks later); ``exit_time="exit_date"`` uses the recorded
    exit date instead. Every result states which in ``meta["exit_time"]``.
    Episodes still open are censored at their site's ``data_extract_date``.

Recording lag (``recording_lag``)
    A dropout is recorded weeks after the last attended session (in the
    synthetic data 7-42 days), a completion within days. Near the extract
    date, people who have already stopped coming therefore look open and stay
    at risk of completing, which biases completion upward. With
    ``recording_lag=L`` every episode is followed only to ``data_extract_date
    - L`` days: exits after that cut-off and open episodes are censored at it,
    and episodes that started after it are left out (counted in
    ``meta["excluded"]``). ``recording_lag="auto"`` takes ``L`` from the data:
    the 95th centile of the recording delay (``exit_date`` minus last attended
    session) of the exits other than completion, up to whole weeks, or 4 weeks
    where there are fewer than 40 such exits (:func:`recording_lag_days`).
    ``None`` or 0 switches the rule off.

Outcomes (causes of exit), kept separate
    ``completed``, ``dropped_out``, ``excluded`` (the provider's decision) and
    ``other_exit`` (``moved_away``, ``custody``, ``other``); open episodes are
    ``censored``.

The estimators live in :mod:`dapp_eval.estimators.survival` and reproduce R's
``survival`` and ``cmprsk`` to 1e-6 (see ``tests/reference/``).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.columns import Count, CurveArea, CurveAt, Derived, Label, Model, Value
from dapp_eval.errors import AnalysisError, NobodyError
from dapp_eval.estimators import survival as sv
from dapp_eval.estimators.proportions import wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, make_meta

__all__ = [
    "OUTCOMES",
    "episode_times",
    "cumulative_incidence",
    "completion_rate",
    "retention_km",
    "dropout_cox",
    "fine_gray",
    "compare_groups",
    "rmst",
    "design_matrix",
    "recording_lag_days",
    "resolve_recording_lag",
]

#: causes of exit after a programme start, in reporting order
OUTCOMES = ("completed", "dropped_out", "excluded", "other_exit")
CENSORED = "censored"
_REASON_TO_OUTCOME = {
    "completed": "completed",
    "dropped_out": "dropped_out",
    "excluded": "excluded",
    "moved_away": "other_exit",
    "custody": "other_exit",
    "other": "other_exit",
}
_PRESTART_REASONS = {"declined_assessment", "unsuitable", "declined_to_start"}
_EXIT_TIMES = ("last_session", "exit_date")

#: default covariates of the dropout models (names follow data_synthetic/truth.json)
DEFAULT_COVARIATES = ("age_per_10y", "unemployed", "substance_misuse", "prior_da_police_contact", "wait_per_30d")
_COVARIATE_DOC = {
    "age_per_10y": "age in years / 10",
    "unemployed": "1 if employment == 'unemployed' else 0 (employed, other and unknown are 0)",
    "substance_misuse": "substance_misuse (1 = yes)",
    "prior_da_police_contact": "prior_da_police_contact (1 = yes)",
    "wait_per_30d": "days from assessment_date to start_date / 30",
}
KM_LABEL = "Kaplan-Meier retention: overstates dropout (censors completers)"


# ---------------------------------------------------------------------------
# episode table
# ---------------------------------------------------------------------------


def _check_exit_time(exit_time: str) -> str:
    if exit_time not in _EXIT_TIMES:
        raise ValueError(f"exit_time must be one of {_EXIT_TIMES}, got {exit_time!r}")
    return exit_time


def _num(s: pd.Series) -> pd.Series:
    """Numeric float version of a column (booleans -> 0/1, missing -> NaN)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(s.astype("Float64").to_numpy(dtype=float, na_value=np.nan), index=s.index)
    if s.dtype == object:
        s = s.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else v)
    return pd.to_numeric(s, errors="raise").astype(float)


def _days(a: pd.Series, b: pd.Series) -> pd.Series:
    return (pd.to_datetime(a) - pd.to_datetime(b)).dt.days.astype("float")


#: fewer closed exits other than completion than this and "auto" is :data:`FALLBACK_LAG_DAYS`: a high centile of a
#: few delays is one person's delay (outside attack a24 H3: 35 days in a one-month release of 17 leavers)
MIN_EXITS_FOR_LAG = 40
#: the recording lag "auto" gives where the data hold too few exits to estimate one (4 weeks)
FALLBACK_LAG_DAYS = 28.0


def recording_lag_days(data, *, quantile: float = 0.95) -> float:
    """The exit-recording delay in days: a centile of ``exit_date`` minus the last attended session, rounded up
    to whole weeks (the report states it, and a high centile of a few delays is one person's delay: an outside
    attack read one person's 32 days from a report; a22 P1). With fewer than :data:`MIN_EXITS_FOR_LAG` such
    delays it is :data:`FALLBACK_LAG_DAYS` (4 weeks), not estimated.

    Taken over closed episodes that started and ended other than by completion (dropout, exclusion,
    other exits): those are the exits whose late recording makes a person look still attending.
    NaN when there is no sessions table or no such exit with both dates.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> recording_lag_days(load_programme("data_synthetic"))
    42.0
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    ep = data.episodes
    if getattr(data, "sessions", None) is None or "last_attended_date" not in ep:
        return float("nan")
    closed = ep["start_date"].notna() & ep["exit_reason"].notna() & ~ep["exit_reason"].isin(
        list(_PRESTART_REASONS) + ["completed"])
    d = _days(ep.loc[closed, "exit_date"], ep.loc[closed, "last_attended_date"]).dropna()
    d = d[d >= 0]
    if d.empty:
        return float("nan")
    if len(d) < MIN_EXITS_FOR_LAG:
        return FALLBACK_LAG_DAYS
    return float(7 * np.ceil(np.quantile(d.to_numpy(), quantile) / 7))


def resolve_recording_lag(data, recording_lag) -> float:
    """Days of the recording-lag rule for ``recording_lag`` ("auto", days or None): 0 when off.

    Resolve "auto" once on all sites and pass the number to each site's analysis, so that every site is
    followed to the same date (a site's own few exits give a noisy centile).
    """
    if recording_lag is None or recording_lag is False:
        return 0.0
    if isinstance(recording_lag, str):
        if recording_lag != "auto":
            raise ValueError(f"recording_lag must be 'auto', a number of days or None, got {recording_lag!r}")
        lag = recording_lag_days(data)
        return 0.0 if np.isnan(lag) else lag
    lag = float(recording_lag)
    if not np.isfinite(lag) or lag < 0:
        raise ValueError(f"recording_lag must be a non-negative number of days, got {recording_lag!r}")
    return lag


def _build_episodes(data, exit_time: str, recording_lag=None):
    """Per-started-episode times and outcomes, with exclusions counted."""
    _check_exit_time(exit_time)
    lag = resolve_recording_lag(data, recording_lag)
    # shallow: below only new columns are set and rows filtered, and reset_index copies at the end
    ep = data.episodes.copy(deep=False)
    n_in = len(ep)
    excluded: dict[str, int] = {}
    notes: dict[str, object] = {}

    def drop(mask, reason):  # every reason, of nobody too (issue 26, a16 F6)
        nonlocal ep
        k = int(mask.sum())
        excluded[reason] = excluded.get(reason, 0) + k
        if k:
            ep = ep[~mask]

    drop(ep["start_date"].isna(), "never started (no start_date)")
    reason = ep["exit_reason"]
    drop(reason.isin(_PRESTART_REASONS), "pre-start exit reason with a start_date")
    closed = ep["exit_reason"].notna()
    ep["exit_at"] = _exit_at(ep, closed, exit_time, getattr(data, "sessions", None) is None, notes)
    drop(closed & ep["exit_at"].isna(), "closed episode without an exit date")
    if lag > 0:
        cut = pd.to_timedelta(lag, unit="D")
        drop(pd.to_datetime(ep["start_date"]) > pd.to_datetime(ep["data_extract_date"]) - cut,
             f"started within the recording lag ({lag:g} days) before the extract date")
        cutoff = pd.to_datetime(ep["data_extract_date"]) - cut
        closed = ep["exit_reason"].notna()
        late = closed & (pd.to_datetime(ep["exit_at"]) > cutoff)
        notes["n_exits_after_lag_cutoff"] = int(late.sum())
        ep["_closed"] = closed & ~late
        end = ep["exit_at"].where(ep["_closed"], cutoff)
    else:
        ep["_closed"] = ep["exit_reason"].notna()
        end = ep["exit_at"].where(ep["_closed"], ep["data_extract_date"])
    if lag > 0:
        notes["recording_lag_days"] = lag
    ep["time_days"] = _days(end, ep["start_date"])
    drop(ep["time_days"].isna(), "open episode without a data_extract_date")
    drop(ep["time_days"] < 0, "exit or extract date before start_date")
    closed = ep.pop("_closed").astype(bool)
    ep["outcome"] = ep["exit_reason"].map(_REASON_TO_OUTCOME).where(closed, CENSORED)
    drop(ep["outcome"].isna(), "unrecognised exit_reason")
    ep = ep.reset_index(drop=True)
    _add_covariates(ep)
    return ep, n_in, excluded, notes


def _exit_at(ep: pd.DataFrame, closed: pd.Series, exit_time: str, no_sessions: bool, notes: dict) -> pd.Series:
    """When each closed episode ended: its last attended session (else exit_date) or its exit_date."""
    if exit_time != "last_session":
        return ep["exit_date"].where(closed)
    exit_at = ep["last_attended_date"].where(closed)
    fallback = closed & exit_at.isna() & ep["exit_date"].notna()
    notes["n_exit_date_fallback"] = int(fallback.sum())
    if no_sessions:
        notes["exit_time_note"] = "no sessions table: exit_date used for every closed episode"
    return exit_at.where(~fallback, ep["exit_date"])


def _add_covariates(ep: pd.DataFrame) -> None:
    """The model covariates, on the coding of the synthetic generator (truth.json)."""
    ep["age_per_10y"] = pd.to_numeric(ep["age"], errors="coerce").astype(float) / 10.0
    emp = ep["employment"].astype("object")
    ep["unemployed"] = np.where(emp.isna(), np.nan, (emp == "unemployed").astype(float))
    ep["wait_days"] = _days(ep["start_date"], ep["assessment_date"])
    ep["wait_per_30d"] = ep["wait_days"] / 30.0


def _require_exits(ep: pd.DataFrame, what: str) -> None:
    """Refuse when every started episode is still open (scikit-survival's "all samples are censored")."""
    if len(ep) and (ep["outcome"] == CENSORED).all():
        raise AnalysisError(f"all {len(ep)} started episodes are censored (nobody has left the programme yet, "
                            f"by completing or otherwise): {what} needs at least one exit")


def episode_times(data, *, exit_time: str = "last_session") -> AnalysisResult:
    """Time in programme and cause of exit for every started episode.

    Parameters
    ----------
    data : ProgrammeData
        A loaded programme folder.
    exit_time : {"last_session", "exit_date"}
        Time of exit of a closed episode: its last attended session (default)
        or its recorded ``exit_date``. With ``"last_session"``, a closed
        episode with no attended session on record falls back to its
        ``exit_date`` (counted in ``meta["n_exit_date_fallback"]``).

    Returns
    -------
    AnalysisResult
        ``summary``: number of episodes by ``outcome`` (``n``); table
        ``episodes``: one row per started episode with ``referral_id,
        participant_id, site_id, programme_model, planned, time_days, outcome,
        exit_reason``, the raw covariates and the model covariates
        (``age_per_10y, unemployed, wait_per_30d``). Referrals that never started
        and episodes with unusable dates are counted in ``meta["excluded"]``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> et = episode_times(data)
    >>> et.meta["n_in"], et.meta["n_used"]
    (2000, 922)
    >>> int((et.episodes["outcome"] == "completed").sum())
    632
    """
    ep, n_in, excluded, notes = _build_episodes(data, exit_time)
    cols = ["referral_id", "participant_id", "site_id", "site_name", "programme_model", "planned",
            "start_date", "exit_at", "time_days", "outcome", "exit_reason", "age", "employment",
            "substance_misuse", "prior_da_police_contact", "wait_days", *DEFAULT_COVARIATES]
    cols = list(dict.fromkeys(cols))
    table = ep.reindex(columns=cols)
    counts = table["outcome"].value_counts()
    summary = pd.DataFrame({"outcome": list(OUTCOMES) + [CENSORED],
                            "n": [int(counts.get(o, 0)) for o in list(OUTCOMES) + [CENSORED]]})
    meta = make_meta(n_in=n_in, excluded=excluded, unit="referrals",
                     method=_method_time(exit_time), alpha=0.05, exit_time=exit_time, **notes)
    return AnalysisResult(summary=summary, meta=meta, tables={"episodes": table},
                          title="Started episodes: time in programme and exit")


def _method_time(exit_time: str) -> str:
    ex = ("last attended session" if exit_time == "last_session" else "recorded exit_date")
    return (f"time from start_date to {ex} for closed episodes; open episodes censored at the site's "
            "data_extract_date")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _groups(ep: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series("all", index=ep.index, dtype=object)
    if by not in ep.columns:
        raise ValueError(f"by={by!r} is not a column of the episode table; use e.g. 'site_id' or 'programme_model'")
    g = ep[by].astype("object")
    if g.isna().any():
        raise AnalysisError(f"column {by!r} has missing values for {int(g.isna().sum())} started episodes")
    return g.astype(str)


def _sorted(values) -> list:
    return sorted(pd.unique(pd.Series(values, dtype=object)), key=str)


def break_times(max_time: float, *, max_columns: int = 9) -> np.ndarray:
    """Tick times for a numbers-at-risk table (days; steps of whole weeks).

    Examples
    --------
    >>> break_times(100).tolist()
    [0.0, 14.0, 28.0, 42.0, 56.0, 70.0, 84.0, 98.0]
    """
    for step in (7, 14, 28, 56, 84, 91, 182, 364, 728):
        if max_time / step <= max_columns - 1:
            break
    return np.arange(0, max_time + 1e-9, step, dtype=float)


def _group_rows(groups: pd.Series) -> dict:
    """Positions of each group's rows (file order), from one factorisation instead of a scan per group."""
    codes, uniq = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    parts = np.split(order, np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniq)))[:-1]) if len(uniq) else []
    return dict(zip(uniq, parts))


def _at_risk_table(ep: pd.DataFrame, groups: pd.Series, times) -> pd.DataFrame:
    """Numbers at risk and cumulative exits at each time: binary searches in each group's sorted times."""
    rows = []
    rows_of = _group_rows(groups)
    times = np.asarray(times, float)
    t_all = ep["time_days"].to_numpy(dtype=float)
    o_all = ep["outcome"].to_numpy()
    for g in _sorted(groups):
        t, o = t_all[rows_of[g]], o_all[rows_of[g]]
        at_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")  # t >= b
        cum = {k: np.searchsorted(np.sort(t[o == k]), times, side="right") for k in list(OUTCOMES) + [CENSORED]}
        exits = np.searchsorted(np.sort(t[o != CENSORED]), times, side="right")  # t <= b
        for i, b in enumerate(times):
            row = {"group": g, "time_days": float(b), "n_at_risk": int(at_risk[i])}
            for k in list(OUTCOMES) + [CENSORED]:
                row[f"n_cum_{k}"] = int(cum[k][i])
            row["n_cum_exits"] = int(exits[i])
            rows.append(row)
    return pd.DataFrame(rows)


def _first_reach(times, values, level=0.5, *, decreasing=False):
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    hit = values <= level if decreasing else values >= level
    return float(times[np.argmax(hit)]) if hit.any() else np.nan


# ---------------------------------------------------------------------------
# cumulative incidence
# ---------------------------------------------------------------------------


def cumulative_incidence(data, *, by: str | None = None, exit_time: str = "last_session",
                         alpha: float = 0.05, conf_type: str = "log-log",
                         at_risk_times=None, recording_lag=None) -> AnalysisResult:
    """Aalen-Johansen cumulative incidence of each kind of exit, with Gray's tests.

    Parameters
    ----------
    data : ProgrammeData
    by : str, optional
        Episode column to compare (``"site_id"``, ``"programme_model"``, ...).
    exit_time : {"last_session", "exit_date"}
        See :func:`episode_times`.
    alpha : float, default 0.05
    conf_type : {"log-log", "log", "plain"}
        Transformation of the pointwise intervals; log(-log) by default (as
        survminer / tidycmprsk), so the limits stay within (0, 1).
    at_risk_times : array-like, optional
        Times (days) for the numbers-at-risk table (default: whole weeks, at
        most 9 columns).

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``group, outcome, time_days, estimate, ci_lower,
        ci_upper, n_at_risk`` (one row per outcome and distinct time;
        ``estimate`` is the probability of having exited for that reason by
        ``time_days``). Tables: ``at_risk`` (numbers at risk and cumulative
        exits at ``at_risk_times``), ``tests`` (Gray's test for each outcome
        across groups, when ``by`` has two or more groups), ``medians`` (time
        at which an incidence reaches 50%, NaN if never), ``detail``
        (variances, standard errors and event counts). Estimates and
        variances equal ``cmprsk::cuminc`` exactly (ties included).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = cumulative_incidence(data, by="site_id")
    >>> s05 = res.summary.query("group == 'S05' and outcome == 'completed'")
    >>> round(float(s05["estimate"].iloc[-1]), 3)
    0.84
    >>> ax = res.plot()
    >>> ax.get_ylabel()
    'Cumulative incidence'
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    from dapp_eval.analyses import plotting

    alpha = check_alpha(alpha)
    ep, n_in, excluded, notes = _build_episodes(data, exit_time, recording_lag)
    if ep.empty:
        raise NobodyError("no started episodes: cumulative incidence needs at least one start_date")
    _require_exits(ep, "the cumulative incidence of exits")
    groups = _groups(ep, by)
    parts = []
    rows_of = _group_rows(groups)
    for g in _sorted(groups):
        sub = ep.take(rows_of[g])
        aj = sv.aalen_johansen(sub["time_days"], sub["outcome"], censored=CENSORED, causes=list(OUTCOMES),
                               alpha=alpha, conf_type=conf_type)
        aj.insert(0, "group", g)
        parts.append(aj)
    detail = pd.concat(parts, ignore_index=True).rename(columns={"cause": "outcome", "time": "time_days"})
    summary = detail[["group", "outcome", "time_days", "estimate", "ci_lower", "ci_upper", "n_at_risk"]].copy()
    if at_risk_times is None:
        at_risk_times = break_times(float(ep["time_days"].max()))
    at_risk = _at_risk_table(ep, groups, np.asarray(at_risk_times, float))
    tests = pd.DataFrame(columns=["test", "outcome", "statistic", "df", "p_value", "n"])
    if groups.nunique() >= 2:
        gt = sv.grays_test(ep["time_days"], ep["outcome"], groups, censored=CENSORED,
                           causes=[o for o in OUTCOMES if (ep["outcome"] == o).any()])
        gt = gt.rename(columns={"cause": "outcome"})
        gt.insert(0, "test", "Gray")
        tests = gt
    medians = (detail.groupby(["group", "outcome"], sort=False)
               .apply(lambda d: _first_reach(d["time_days"], d["estimate"]), include_groups=False)
               .rename("median_days").reset_index())
    meta = make_meta(
        n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
        method=("Aalen-Johansen cumulative incidence of each exit (completed, dropped_out, excluded, "
                f"other_exit), exact ties, {conf_type} pointwise {100 * (1 - alpha):.0f}% intervals with the "
                "cmprsk::cuminc delta-method variance; Gray's test across groups; " + _method_time(exit_time)),
        exit_time=exit_time, by=by, conf_type=conf_type, **notes)
    by_txt = f" by {by}" if by else ""
    return AnalysisResult(summary=summary, meta=meta,
                          tables={"at_risk": at_risk, "tests": tests, "medians": medians, "detail": detail},
                          title=f"Cumulative incidence of programme exits{by_txt}",
                          _plotter=plotting.plot_cumulative_incidence)


def _strata(planned: pd.Series, min_group: int | None) -> list[tuple]:
    """(planned length, basis) of a group's rows: one per planned length and the pooled one, or the pooled one
    alone where a planned length has fewer than ``min_group`` people."""
    lengths = sorted(planned.unique())
    strata = [(p, "planned length" if len(lengths) == 1 else "split by planned length") for p in lengths]
    if len(lengths) > 1:
        strata.append((max(lengths), "pooled (longest planned length)"))
        if min_group and (planned.value_counts() < min_group).any():
            strata = strata[-1:]
    return strata


def completion_rate(data, *, by: str | None = None, grace_weeks: float = 4, exit_time: str = "last_session",
                    alpha: float = 0.05, recording_lag=None, min_group: int | None = None) -> AnalysisResult:
    """Completion rate as the cumulative incidence of completion at the planned length.

    The rate is ``F_completed(t*)`` with ``t* = (planned sessions + grace_weeks)
    * 7`` days (planned sessions taken as weekly), so open episodes count
    for the time they have been observed, instead of the raw ratio
    ``completed / started`` that counts every open episode as a
    non-completion.

    Parameters
    ----------
    data : ProgrammeData
    by : str, optional
        Episode column to group by (e.g. ``"site_id"``).
    grace_weeks : float, default 4
        Grace period added to the planned length.
    exit_time : {"last_session", "exit_date"}
    alpha : float, default 0.05
    recording_lag : "auto", float or None
        Follow every episode only to the extract date minus this many days (see the module notes;
        the analysis plan's ``attrition.recording_lag``). None: to the extract date.
    min_group : int, optional
        Where a group's planned lengths differ and one of them was planned for fewer people than this, the
        group is not split by planned length: only its pooled row is given (a small site).

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``group, planned_sessions, basis, horizon_days,
        estimate, ci_lower, ci_upper, n, n_completed,
        n_completed_by_horizon, n_open, n_followed_to_horizon, raw_ratio``.
        ``n`` is the number of started episodes; ``raw_ratio = n_completed /
        n`` is given beside the estimate for comparison only (biased low while
        episodes are open). When a group's episodes have different planned
        lengths (one-to-one services with individual plans), there is one row
        per planned length (``basis = "split by planned length"``) plus a
        pooled row at the longest planned length (``basis = "pooled (longest
        planned length)"``).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> s = completion_rate(data, by="site_id").summary
    >>> round(float(s.loc[s["group"] == "S01", "estimate"].iloc[0]), 3)
    0.707
    >>> s["basis"].unique().tolist()
    ['planned length', 'split by planned length', 'pooled (longest planned length)']
    """
    alpha = check_alpha(alpha)
    if not np.isfinite(grace_weeks) or grace_weeks < 0:
        raise ValueError(f"grace_weeks must be a non-negative number, got {grace_weeks!r}")
    ep, n_in, excluded, notes = _build_episodes(data, exit_time, recording_lag)
    k = int(ep["planned"].isna().sum())
    if k:
        excluded["no planned_sessions"] = k
        ep = ep[ep["planned"].notna()].reset_index(drop=True)
    if ep.empty:
        raise NobodyError("no started episodes with a planned number of sessions")
    _require_exits(ep, "the completion rate")
    groups = _groups(ep, by)
    rows = []
    steps: dict[tuple, pd.DataFrame] = {}
    wilson_groups: list[str] = []
    for g in _sorted(groups):
        strata = _strata(ep.loc[groups == g, "planned"], min_group)
        for planned, basis in strata:
            sub = ep[(groups == g) & (ep["planned"] == planned)] if basis != "pooled (longest planned length)" \
                else ep[groups == g]
            horizon = (float(planned) + float(grace_weeks)) * 7.0
            aj = sv.aalen_johansen(sub["time_days"], sub["outcome"], censored=CENSORED,
                                   causes=["completed"], alpha=alpha)
            idx = np.searchsorted(aj["time"].to_numpy(), horizon, side="right") - 1
            if idx >= 0:
                est, lo, hi = (float(aj[c].iloc[idx]) for c in ("estimate", "ci_lower", "ci_upper"))
            else:
                est, lo, hi = 0.0, np.nan, np.nan
            est = min(max(est, 0.0), 1.0)  # rounding in the product-limit can leave 1 + 4e-16
            n_known = int(((sub["time_days"] >= horizon) | (sub["outcome"] != CENSORED)).sum())
            if not (np.isfinite(lo) and np.isfinite(hi)) or est <= 0 or est >= 1:
                # the log-log interval is undefined at 0% and 100%: Wilson on the people whose outcome at
                # the horizon is known (as a Clopper-Pearson / Wilson interval for the complement)
                lo, hi = (float(v) for v in wilson_ci(round(est * n_known), n_known, alpha=alpha)) if n_known \
                    else (np.nan, np.nan)
                wilson_groups.append(str(g))
            n = len(sub)
            n_comp = int((sub["outcome"] == "completed").sum())
            steps[(str(g), int(planned), basis)] = curve_counts(sub["time_days"], sub["outcome"])
            rows.append({
                "group": g, "planned_sessions": int(planned), "basis": basis, "horizon_days": horizon,
                "estimate": est, "ci_lower": lo, "ci_upper": hi, "n": n, "n_completed": n_comp,
                "n_completed_by_horizon": int(((sub["outcome"] == "completed") & (sub["time_days"] <= horizon)).sum()),
                "n_open": int((sub["outcome"] == CENSORED).sum()),
                "n_followed_to_horizon": int(((sub["time_days"] >= horizon) | (sub["outcome"] != CENSORED)).sum()),
                "raw_ratio": n_comp / n,
            })
    summary = pd.DataFrame(rows)
    meta = make_meta(
        n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
        method=(f"cumulative incidence (Aalen-Johansen) of completion at (planned sessions + {grace_weeks:g} weeks) "
                "x 7 days after start, with log-log interval; raw_ratio = completed / started (open episodes "
                "count as not completed) is shown only for comparison; " + _method_time(exit_time)),
        exit_time=exit_time, by=by, grace_weeks=float(grace_weeks), **notes)
    if wilson_groups:
        meta["ci_note"] = (f"{', '.join(sorted(set(wilson_groups)))}: the estimate is 0% or 100%, where the log-log "
                           "interval is undefined; the Wilson interval on the people whose outcome at the horizon "
                           "is known is given instead")
    return AnalysisResult(summary=summary, meta=meta, title="Completion rate (cumulative incidence at planned length)",
                          tables={"curve_counts": _curve_count_table(steps)}, roles={"summary": completion_roles(steps)})


def _curve_count_table(steps: dict) -> pd.DataFrame:
    """Every row's per-time counts (see :func:`curve_counts`) in one table keyed by the summary's labels."""
    parts = [st.assign(group=k[0], planned_sessions=k[1], basis=k[2]) for k, st in steps.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def completion_known_cells(t: pd.DataFrame, k: str = "n_completed_by_horizon",
                           known: str = "n_followed_to_horizon") -> pd.DataFrame:
    """People whose outcome at the horizon is known: completed by it, and not (the rate's two cells). The one
    definition the completion-rate table and the headline card both withhold by (issue 26, F4).

    >>> t = pd.DataFrame({"n_completed_by_horizon": [9, 3], "n_followed_to_horizon": [9, 20]})
    >>> completion_known_cells(t).values.tolist()
    [[9.0, 0.0], [3.0, 17.0]]
    """
    kk = pd.to_numeric(t[k], errors="coerce").astype(float)
    return pd.DataFrame({"k": kk, "rest": pd.to_numeric(t[known], errors="coerce").astype(float) - kk})


_known_cells = completion_known_cells


def _raw_ratio(pub: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"raw_ratio": pub["n_completed"] / pub["n"].where(pub["n"] > 0)})


def curve_counts(time, outcome) -> pd.DataFrame:
    """Per distinct time, the number of each exit (``completed``, ``other``) and of those still open (censored):
    the counts a cumulative-incidence curve is made of (no person's row)."""
    t = pd.Series(np.asarray(time, dtype=float))
    o = pd.Series(np.asarray(outcome, dtype=object))
    kind = np.where(o == "completed", "completed", np.where(o == CENSORED, "censored", "other"))
    tab = pd.crosstab(t, kind)
    tab = tab.reindex(columns=["completed", "other", "censored"], fill_value=0).sort_index()
    return tab.rename_axis(None, axis=1).reset_index(names="time")


def _row_steps(steps: dict, row) -> pd.DataFrame:
    return steps[(str(row["group"]), int(row["planned_sessions"]), row["basis"])]


def _published_rate(pub: pd.DataFrame) -> pd.DataFrame:
    """The rate and interval as :class:`CurveAt` read them off the protected curve (withheld here by the small
    rule of :func:`completion_roles`)."""
    return pub[["estimate", "ci_lower", "ci_upper"]]


def completion_roles(steps: dict) -> list:
    """Roles of :func:`completion_rate`'s summary: the rate is read off the completion curve rebuilt from rounded
    cumulative counts (:class:`~dapp_eval.columns.CurveAt`: the true curve's value gave the people back), and
    shown only when those completed by the horizon and those known not to have are each at least the
    threshold; the raw ratio is of the published counts."""
    return [Label("group", "planned_sessions", "basis"), Value("horizon_days"),
            Count("n", "n_completed", "n_completed_by_horizon", "n_open", "n_followed_to_horizon"),
            CurveAt(("estimate", "ci_lower", "ci_upper"), steps=functools.partial(_row_steps, steps),
                    cause="completed", at="horizon_days", n="n"),
            Derived(("estimate", "ci_lower", "ci_upper"), _published_rate, small=completion_known_cells,
                    inputs=("n", "n_completed_by_horizon", "n_followed_to_horizon"), group="n"),
            Derived(("raw_ratio",), _raw_ratio, inputs=("n", "n_completed"))]


# ---------------------------------------------------------------------------
# Kaplan-Meier retention (labelled as overstating dropout)
# ---------------------------------------------------------------------------


def retention_km(data, *, by: str | None = None, exit_time: str = "last_session", alpha: float = 0.05,
                 at_risk_times=None) -> AnalysisResult:
    """Kaplan-Meier "retention" with dropout as the event and every other exit censored.

    Shown only beside :func:`cumulative_incidence`: treating completion as
    censoring pretends completers could still drop out, so ``1 - KM``
    overstates dropout. The table ``comparison`` puts ``1 - KM`` next to the
    cumulative incidence of dropout at the at-risk times.

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``group, outcome, time_days, estimate, ci_lower,
        ci_upper, n_at_risk`` with ``outcome = "retained (KM, overstates
        dropout)"`` and ``estimate`` the KM probability of not having dropped
        out (log-log intervals, Greenwood variance, equal to R's ``survfit``).
        Tables ``at_risk``, ``comparison``, ``tests`` (log-rank of dropout
        across groups), ``medians``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> cmp = retention_km(data).comparison
    >>> cmp.columns.tolist()
    ['group', 'time_days', 'dropout_km', 'dropout_cif', 'overstatement']
    >>> round(float(cmp["overstatement"].iloc[-1]), 3)
    0.058
    """
    from dapp_eval.analyses import plotting

    alpha = check_alpha(alpha)
    ep, n_in, excluded, notes = _build_episodes(data, exit_time)
    if ep.empty:
        raise NobodyError("no started episodes (no referral has a start_date): nothing to follow in programme")
    _require_exits(ep, "Kaplan-Meier retention")
    groups = _groups(ep, by)
    parts, comp = [], []
    if at_risk_times is None:
        at_risk_times = break_times(float(ep["time_days"].max()))
    at_risk_times = np.asarray(at_risk_times, float)
    label = "retained (KM, overstates dropout)"
    for g in _sorted(groups):
        sub = ep[groups == g]
        ev = (sub["outcome"] == "dropped_out").to_numpy()
        km = sv.kaplan_meier(sub["time_days"], ev, alpha=alpha)
        parts.append(pd.DataFrame({"group": g, "outcome": label, "time_days": km["time"],
                                   "estimate": km["estimate"], "ci_lower": km["ci_lower"],
                                   "ci_upper": km["ci_upper"], "n_at_risk": km["n_at_risk"]}))
        aj = sv.aalen_johansen(sub["time_days"], sub["outcome"], censored=CENSORED, causes=["dropped_out"],
                               alpha=alpha)
        km_drop = 1 - sv.step_at(km["time"], km["estimate"], at_risk_times, before=1.0)
        cif = sv.step_at(aj["time"], aj["estimate"], at_risk_times)
        comp.append(pd.DataFrame({"group": g, "time_days": at_risk_times, "dropout_km": km_drop,
                                  "dropout_cif": cif, "overstatement": km_drop - cif}))
    summary = pd.concat(parts, ignore_index=True)
    tests = pd.DataFrame(columns=["test", "outcome", "statistic", "df", "p_value", "n"])
    if groups.nunique() >= 2:
        lr = sv.logrank_test(ep["time_days"], ep["outcome"] == "dropped_out", groups)
        tests = pd.DataFrame([{"test": "log-rank", "outcome": "dropped_out", "statistic": lr["statistic"],
                               "df": lr["df"], "p_value": lr["p_value"], "n": len(ep)}])
    medians = (summary.groupby("group", sort=False)
               .apply(lambda d: _first_reach(d["time_days"], d["estimate"], decreasing=True), include_groups=False)
               .rename("median_days").reset_index())
    medians.insert(1, "outcome", label)
    meta = make_meta(
        n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
        method=("Kaplan-Meier with dropout as the event and completion / exclusion / other exits censored "
                "(Greenwood variance, log-log intervals). This overstates dropout because completers are "
                "treated as if they could still drop out; read it beside the cumulative incidence. "
                + _method_time(exit_time)),
        exit_time=exit_time, by=by, warning=KM_LABEL, **notes)
    return AnalysisResult(summary=summary, meta=meta,
                          tables={"at_risk": _at_risk_table(ep, groups, at_risk_times),
                                  "comparison": pd.concat(comp, ignore_index=True), "tests": tests,
                                  "medians": medians},
                          title=KM_LABEL, _plotter=plotting.plot_km)


# ---------------------------------------------------------------------------
# regression models
# ---------------------------------------------------------------------------


def design_matrix(ep: pd.DataFrame, covariates=None, *, programme_model: bool = True):
    """Model covariates of the started episodes, with rows lacking any covariate counted.

    Parameters
    ----------
    ep : DataFrame
        The ``episodes`` table of :func:`episode_times`.
    covariates : list of str, optional
        Names among ``age_per_10y, unemployed, substance_misuse,
        prior_da_police_contact, wait_per_30d`` or any numeric episode
        column (default: all five).
    programme_model : bool, default True
        Add indicator columns ``programme_model_<level>`` (reference: the
        first level in ``group, one_to_one, mixed`` order that occurs), when
        two or more models occur.

    Returns
    -------
    X : DataFrame
        Complete-case design (index = rows of ``ep`` kept).
    excluded : dict
        Rows dropped, by the first missing covariate.
    dropped_terms : list
        Covariates left out because they do not vary.
    """
    covariates = list(DEFAULT_COVARIATES if covariates is None else covariates)
    cols = {}
    for c in covariates:
        if c in ep:
            try:
                cols[c] = _num(ep[c])
            except (TypeError, ValueError):
                raise ValueError(f"covariate {c!r} is not numeric; code it as 0/1 or a number first") from None
        else:
            raise ValueError(f"unknown covariate {c!r}; choose from {', '.join(DEFAULT_COVARIATES)} or an "
                             "episode column")
    X = pd.DataFrame(cols, index=ep.index)
    excluded: dict[str, int] = {}
    keep = pd.Series(True, index=ep.index)
    for c in covariates:  # every covariate's reason, of nobody too (a caption naming only those that occur said
        miss = keep & X[c].isna()  # "no one here is missing age"; attack a16 F6)
        excluded[f"missing {c}"] = int(miss.sum())
        keep &= ~miss
    X = X[keep]
    if programme_model and "programme_model" in ep:
        pm = ep.loc[keep, "programme_model"].astype("object")
        levels = [lv for lv in ("group", "one_to_one", "mixed") if (pm == lv).any()]
        levels += sorted(set(pm.dropna()) - set(levels))
        for lv in levels[1:]:
            X[f"programme_model_{lv}"] = (pm == lv).astype(float)
    dropped = [c for c in X.columns if X[c].nunique() < 2]
    X = X.drop(columns=dropped)
    return X, excluded, dropped


def _model_frame(data, covariates, exit_time, programme_model=True, recording_lag=None):
    ep, n_in, excluded, notes = _build_episodes(data, exit_time, recording_lag)
    if ep.empty:
        raise NobodyError("no started episodes (no referral has a start_date): a regression model of exits needs "
                            "started episodes")
    X, ex2, dropped = design_matrix(ep, covariates, programme_model=programme_model)
    for k, v in ex2.items():
        excluded[k] = excluded.get(k, 0) + v
    if X.shape[1] == 0:
        raise AnalysisError("no covariate varies among the started episodes; a regression model cannot be fitted")
    if len(X) <= X.shape[1] or np.linalg.matrix_rank(X.to_numpy(dtype=float)) < X.shape[1]:
        raise AnalysisError(f"too few started episodes with complete covariates ({len(X)}) for a regression on "
                            f"{X.shape[1]} terms ({', '.join(map(str, X.columns))}): the terms cannot be "
                            "separated; use fewer covariates or wait for more episodes")
    ep = ep.loc[X.index]
    return ep, X, n_in, excluded, dropped, notes


def _event_time_rank(durations, events, weights) -> pd.Series:
    """The rank of each event's time among the event times, tied times sharing their average rank.

    lifelines' own ``"rank"`` transform numbers events in row order (``cumsum``), so events at the same
    time got different ranks depending on how the input was sorted, and the test's p-value moved when IDs
    were renamed or rows shuffled.  Average ranks, as R's ``cox.zph(transform = "rank")`` gives tied times,
    depend on the times alone.  Returned for every row (non-events 0) as a Series, as lifelines indexes it
    by events and reads ``.values``.
    """
    from scipy.stats import rankdata

    t = np.asarray(durations, dtype=float)
    ev = np.asarray(events).astype(bool)
    out = np.zeros(len(t))
    out[ev] = rankdata(t[ev], method="average")
    return pd.Series(out, index=getattr(durations, "index", None))


def _scaled_schoenfeld(cph, df: pd.DataFrame, terms: list) -> pd.DataFrame:
    """lifelines' scaled Schoenfeld residuals (Efron ties), vectorised.

    Same rows (events in lifelines' sorted order), columns and values as
    ``cph.compute_residuals(df, kind="scaled_schoenfeld")``, whose row-by-row
    ``np.append`` loop in lifelines 0.30 is O(n^2) (about 3 s at 100,000
    episodes and growing as n^1.4). Pass the result to
    ``proportional_hazard_test(precomputed_residuals=...)``.
    """
    rows = df.index.get_indexer(cph.durations.index)
    if (rows < 0).any() or not df.index.is_unique:  # pragma: no cover - df is built with a unique index
        raise ValueError("model frame index must be unique")
    t = df["time_days"].to_numpy(dtype=float)[rows]
    e = df["event"].to_numpy()[rows].astype(int)
    X = df[terms].to_numpy(dtype=float)[rows]
    _, _, k_of, *_, M1 = sv._efron_terms(t, e, X, cph.params_[terms].to_numpy(), "efron")
    dead = e == 1
    resid = X[dead] - M1[k_of[dead]]
    var = cph.variance_matrix_.loc[terms, terms].to_numpy()
    return pd.DataFrame(dead.sum() * resid @ var, columns=terms, index=cph.durations.index[dead])


def _term_events(X: pd.DataFrame, event) -> list[int]:
    """Each term's events: for a 0/1 term, the fewer of the events with it and without it (a hazard ratio of a
    level with one dropout has an interval that says so: attack a20 F3); for another term, all the events."""
    ev = np.asarray(event, dtype=bool)
    out = []
    for c in X.columns:
        x = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)
        binary = set(np.unique(x[np.isfinite(x)])) <= {0.0, 1.0}
        out.append(int(min((ev & (x == 1)).sum(), (ev & (x == 0)).sum())) if binary else int(ev.sum()))
    return out


def dropout_cox(data, *, covariates=None, cause: str = "dropped_out", exit_time: str = "last_session",
                alpha: float = 0.05, programme_model: bool = True, recording_lag=None) -> AnalysisResult:
    """Cause-specific Cox model of dropout with cluster-robust standard errors.

    The event is ``cause`` (default dropout); every other exit and open
    episodes are censored, which is right for a cause-specific hazard. The
    model is fitted with lifelines' ``CoxPHFitter`` (Efron ties); standard
    errors are cluster-robust by ``participant_id`` (repeat episodes of one
    person are not independent), computed as R's ``coxph(... +
    cluster(participant_id))`` does (lifelines' own robust variance ignores
    the Efron tie correction and differs from R under tied days).

    Parameters
    ----------
    data : ProgrammeData
    covariates : list of str, optional
        Default: ``age_per_10y, unemployed, substance_misuse,
        prior_da_police_contact, wait_per_30d`` plus programme-model
        indicators (see :func:`design_matrix`). Episodes missing any
        covariate are excluded and counted.
    cause : str, default "dropped_out"
        One of ``completed, dropped_out, excluded, other_exit``.
    exit_time : {"last_session", "exit_date"}
    alpha : float, default 0.05
    programme_model : bool, default True
        Include programme-model indicators.
    recording_lag : "auto", float or None
        The recording-lag rule of the module notes (None: off).

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``term, estimate`` (log hazard ratio),
        ``std_error`` (cluster-robust), ``hr, ci_lower, ci_upper`` (for the
        hazard ratio), ``p_value, std_error_naive, n, n_events``. Table
        ``ph_test``: Schoenfeld-residual test of proportional hazards per term
        (lifelines ``proportional_hazard_test``, rank time transform).
        ``model`` is the fitted lifelines ``CoxPHFitter``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = dropout_cox(data)
    >>> hr = res.summary.set_index("term")
    >>> hr.loc["substance_misuse", ["hr", "ci_lower", "ci_upper"]].astype(float).round(2).tolist()
    [2.07, 1.4, 3.04]
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    alpha = check_alpha(alpha)
    if cause not in OUTCOMES:
        raise ValueError(f"cause must be one of {OUTCOMES}, got {cause!r}")
    ep, X, n_in, excluded, dropped, notes = _model_frame(data, covariates, exit_time, programme_model,
                                                         recording_lag)
    event = (ep["outcome"] == cause).astype(int).to_numpy()
    if event.sum() == 0:
        raise AnalysisError(f"no '{cause}' exits among the {len(ep)} episodes with complete covariates")
    df = X.copy()
    df["time_days"] = ep["time_days"].to_numpy()
    df["event"] = event
    cph = CoxPHFitter(alpha=alpha)
    from lifelines.exceptions import ConvergenceError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cph.fit(df, duration_col="time_days", event_col="event",
                    fit_options={"precision": 1e-10, "r_precision": 1e-14})
        except ConvergenceError:
            raise AnalysisError(
                f"the dropout model cannot be fitted: {int(event.sum())} '{cause}' exits among {len(ep)} episodes "
                f"for {X.shape[1]} terms (a covariate separates the exits perfectly or there are too few); "
                "use fewer covariates or more data") from None
    terms = list(X.columns)
    beta = cph.params_[terms].to_numpy()
    naive = cph.variance_matrix_.loc[terms, terms].to_numpy()
    robust = sv.cluster_robust_variance(df["time_days"], event, X.to_numpy(), beta, naive,
                                        ep["participant_id"].astype(str).to_numpy())
    se = np.sqrt(np.diag(robust))
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(over="ignore"):  # a near-separated covariate: its interval runs to infinity, said as such
        hr, lo, hi = np.exp(beta), np.exp(beta - z * se), np.exp(beta + z * se)
    summary = pd.DataFrame({
        "term": terms, "estimate": beta, "std_error": se, "hr": hr,
        "ci_lower": lo, "ci_upper": hi,
        "p_value": 2 * stats.norm.sf(np.abs(beta / se)), "std_error_naive": np.sqrt(np.diag(naive)),
        "n": len(ep), "n_events": int(event.sum()), "n_events_term": _term_events(X, event),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ph = proportional_hazard_test(cph, df, time_transform=_event_time_rank,
                                      precomputed_residuals=_scaled_schoenfeld(cph, df, terms))
    ph_tab = ph.summary.reset_index().rename(columns={"index": "term", "covariate": "term",
                                                       "test_statistic": "statistic", "p": "p_value"})
    ph_tab = ph_tab[["term", "statistic", "p_value"]]
    ph_tab["method"] = ("Schoenfeld residuals vs rank of time, tied times given their average rank "
                        "(lifelines proportional_hazard_test)")
    meta = make_meta(
        n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
        method=(f"cause-specific Cox model for '{cause}' (other exits censored), Efron ties, "
                "cluster-robust (participant_id) standard errors as R coxph(cluster()); " + _method_time(exit_time)),
        exit_time=exit_time, cause=cause, n_clusters=int(ep["participant_id"].nunique()),
        dropped_terms=dropped, covariate_coding={k: v for k, v in _COVARIATE_DOC.items() if k in terms},
        **notes)
    n_ev = float(summary["n_events"].iloc[0]) if "n_events" in summary and len(summary) else 0.0
    roles = {"summary": [Label("term"), Count("n", "n_events", "n_events_term"),
                         Model(("estimate", "std_error", "hr", "ci_lower", "ci_upper", "p_value", "std_error_naive"),
                               events="n_events_term")],
             "ph_test": [Label("term", "method"), Model(("statistic", "p_value"), events=n_ev)]}
    return AnalysisResult(summary=summary, meta=meta, model=cph, tables={"ph_test": ph_tab},
                          title=f"Cause-specific Cox model: {cause.replace('_', ' ')}", roles=roles)


def fine_gray(data, *, covariates=None, cause: str = "dropped_out", exit_time: str = "last_session",
              alpha: float = 0.05, programme_model: bool = True) -> AnalysisResult:
    """Fine-Gray subdistribution hazards model of one exit (as ``cmprsk::crr``).

    Covariates and exclusions as in :func:`dropout_cox`. The subdistribution
    hazard ratio describes the covariate's association with the cumulative
    incidence of ``cause`` (e.g. the probability of dropping out by a time),
    whereas the cause-specific hazard ratio describes the dropout rate among
    those still in the programme; report both.

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``term, estimate`` (log subdistribution HR),
        ``std_error`` (crr's sandwich), ``hr, ci_lower, ci_upper, p_value, n,
        n_events``; ``model`` is a :class:`dapp_eval.estimators.survival.FineGrayResult`.
        Standard errors do not account for repeat episodes of one person.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> fg = fine_gray(data).summary.set_index("term")
    >>> fg.loc["substance_misuse", ["hr", "ci_lower", "ci_upper"]].astype(float).round(2).tolist()
    [2.07, 1.42, 3.02]
    >>> int(fg["n_events"].iloc[0])
    110
    """
    alpha = check_alpha(alpha)
    if cause not in OUTCOMES:
        raise ValueError(f"cause must be one of {OUTCOMES}, got {cause!r}")
    ep, X, n_in, excluded, dropped, notes = _model_frame(data, covariates, exit_time, programme_model)
    if not (ep["outcome"] == cause).any():
        raise AnalysisError(f"no '{cause}' exits among the {len(ep)} episodes with complete covariates")
    fit = sv.fine_gray(ep["time_days"].to_numpy(), ep["outcome"].to_numpy(), X, cause_of_interest=cause,
                       censored=CENSORED, alpha=alpha)
    summary = fit.summary
    summary["n"] = fit.n
    summary["n_events"] = fit.n_events
    meta = make_meta(
        n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
        method=(f"Fine-Gray subdistribution hazards model for '{cause}' (other exits compete), censoring "
                "weights from the Kaplan-Meier of censoring, Breslow ties, sandwich variance as cmprsk::crr; "
                + _method_time(exit_time)),
        exit_time=exit_time, cause=cause, converged=fit.converged, dropped_terms=dropped, **notes)
    return AnalysisResult(summary=summary, meta=meta, model=fit,
                          title=f"Fine-Gray model: {cause.replace('_', ' ')}")


# ---------------------------------------------------------------------------
# group comparisons and restricted mean
# ---------------------------------------------------------------------------


def compare_groups(data, *, by: str = "site_id", exit_time: str = "last_session") -> AnalysisResult:
    """Log-rank and Gray's tests of each exit across groups (sites or programme models).

    For each outcome: the log-rank test compares cause-specific hazards (the
    other exits censored, R's ``survdiff``) and Gray's test compares
    cumulative incidences (``cmprsk::cuminc``).

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``test, outcome, statistic, df, p_value, n``;
        table ``observed_expected`` (log-rank observed and expected exits by
        group and outcome).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> s = compare_groups(data, by="programme_model").summary
    >>> s["test"].unique().tolist()
    ['log-rank', 'Gray']
    >>> bool(s.query("test == 'Gray' and outcome == 'completed'")["p_value"].iloc[0] < 0.001)
    True
    """
    ep, n_in, excluded, notes = _build_episodes(data, exit_time)
    groups = _groups(ep, by)
    if groups.nunique() < 2:
        raise AnalysisError(f"only one {by} among the started episodes: nothing to compare")
    _require_exits(ep, f"a comparison of exits across {by}")
    outs = [o for o in OUTCOMES if (ep["outcome"] == o).any()]
    events = {o: int((ep["outcome"] == o).sum()) for o in OUTCOMES}
    rows, oe = [], []
    # every exit, of nobody too, each test shown only with at least the threshold of its exits (a18 H4: the
    # table listed only the exits that occurred; a log-rank test of 1 or 2 exits said which group they were in)
    for o in OUTCOMES:
        if o not in outs:
            rows.append({"test": "log-rank", "outcome": o, "statistic": np.nan, "df": groups.nunique() - 1,
                         "p_value": np.nan, "n": len(ep), "n_events": 0})
            continue
        lr = sv.logrank_test(ep["time_days"], ep["outcome"] == o, groups)
        rows.append({"test": "log-rank", "outcome": o, "statistic": lr["statistic"], "df": lr["df"],
                     "p_value": lr["p_value"], "n": len(ep), "n_events": events[o]})
        if events[o] < 2:  # a test of one exit has 0 degrees of freedom: the design's, as for no exit (a19 C1)
            rows[-1]["df"] = groups.nunique() - 1
        tab = lr["table"].rename(columns={"observed": "n_observed", "expected": "expected"})
        tab.insert(1, "outcome", o)
        oe.append(tab)
    gt = sv.grays_test(ep["time_days"], ep["outcome"], groups, censored=CENSORED, causes=outs)
    gray = {r.cause: r for r in gt.itertuples()}
    for o in OUTCOMES:
        r = gray.get(o)
        rows.append({"test": "Gray", "outcome": o, "statistic": r.statistic if r else np.nan,
                     "df": r.df if r else groups.nunique() - 1, "p_value": r.p_value if r else np.nan,
                     "n": r.n if r else len(ep), "n_events": events[o]})
    meta = make_meta(n_in=n_in, excluded=excluded, unit="referrals",
                     method=("log-rank test of each cause-specific hazard (other exits censored) and Gray's test of "
                             f"each cumulative incidence across {by}; " + _method_time(exit_time)),
                     exit_time=exit_time, by=by, **notes)
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta,
                          tables={"observed_expected": pd.concat(oe, ignore_index=True)},
                          title=f"Exits compared across {by}",
                          roles={"summary": [Label("test", "outcome"), Count("n", "n_events"), Value("df"),
                                             Model(("statistic", "p_value"), events="n_events")]})


def rmst(data, *, by: str | None = None, horizon_days: float | None = None, exit_time: str = "last_session",
         alpha: float = 0.05) -> AnalysisResult:
    """Restricted mean time in programme up to a horizon, with a correct standard error.

    Time in programme runs from start to exit of any kind (open episodes
    censored); its restricted mean up to ``horizon_days`` is the area under
    the all-cause Kaplan-Meier curve. The standard error is the Greenwood-type
    formula R's ``print(survfit(...), rmean=)`` uses (see
    :func:`dapp_eval.estimators.survival.rmst`; lifelines' RMST "variance" is not a
    sampling variance).

    Parameters
    ----------
    horizon_days : float, optional
        Default ``(planned + 4) * 7`` days with ``planned`` the largest planned
        number of sessions among the episodes (weekly sessions), so that one
        horizon covers every course being compared; stated in the summary.

    Returns
    -------
    AnalysisResult
        ``summary`` columns ``group, horizon_days, estimate, std_error,
        ci_lower, ci_upper, n`` (days). With two or more groups, table
        ``differences``: each group minus the first, with standard error,
        interval and p-value.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> s = rmst(data, by="site_id").summary
    >>> float(s["horizon_days"].iloc[0])
    196.0
    >>> s["estimate"].round(1).tolist()
    [132.1, 137.6, 57.6, 60.6, 65.6]
    """
    alpha = check_alpha(alpha)
    ep, n_in, excluded, notes = _build_episodes(data, exit_time)
    if ep.empty:
        raise NobodyError("no started episodes (no referral has a start_date): no time in programme to average")
    _require_exits(ep, "the restricted mean time in programme")
    if horizon_days is None:
        planned = ep["planned"].dropna()
        if planned.empty:
            raise AnalysisError("no planned_sessions to set the default horizon; give horizon_days")
        horizon_days = (float(planned.max()) + 4.0) * 7.0
    groups = _groups(ep, by)
    rows, steps = [], {}
    for g in _sorted(groups):
        sub = ep[groups == g]
        steps[str(g)] = _exit_counts(sub)
        r = sv.rmst(sub["time_days"], sub["outcome"] != CENSORED, horizon=horizon_days, alpha=alpha)
        rows.append({"group": g, "horizon_days": float(horizon_days), "estimate": r["estimate"],
                     "std_error": r["std_error"], "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"],
                     "n": r["n"]})
    summary = pd.DataFrame(rows)
    tables = {}
    if len(summary) >= 2:
        z = stats.norm.ppf(1 - alpha / 2)
        ref = summary.iloc[0]
        diffs = []
        for r in summary.iloc[1:].itertuples():
            d = r.estimate - ref["estimate"]
            se = float(np.hypot(r.std_error, ref["std_error"]))
            diffs.append({"group": r.group, "reference": ref["group"], "estimate": d, "std_error": se,
                          "ci_lower": d - z * se, "ci_upper": d + z * se,
                          "p_value": float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else np.nan})
        tables["differences"] = pd.DataFrame(diffs)
    meta = make_meta(n_in=n_in, excluded=excluded, unit="referrals", alpha=alpha,
                     method=(f"restricted mean time in programme up to {horizon_days:g} days (area under the "
                             "all-exits Kaplan-Meier curve), Greenwood-type standard error as R "
                             "survival print(survfit, rmean=); " + _method_time(exit_time)),
                     exit_time=exit_time, by=by, horizon_days=float(horizon_days), **notes)
    return AnalysisResult(summary=summary, meta=meta, tables=tables,
                          title=f"Restricted mean time in programme (up to {horizon_days:g} days)",
                          roles={"summary": rmst_roles(steps)})


def _exit_counts(sub: pd.DataFrame) -> pd.DataFrame:
    """Per distinct time, the number leaving (any exit) and still open (censored): the all-exits curve's counts."""
    c = curve_counts(sub["time_days"], sub["outcome"])
    return pd.DataFrame({"time": c["time"], "exit": c["completed"] + c["other"], "censored": c["censored"]})


def _group_steps(steps: dict, row) -> pd.DataFrame:
    return steps[str(row["group"])]


def rmst_roles(steps: dict) -> list:
    """Roles of :func:`rmst`'s summary: the restricted mean and its standard error are the area under the
    all-exits Kaplan-Meier curve rebuilt from rounded cumulative counts (:class:`~dapp_eval.columns.CurveArea`),
    never the true curve's, whose area and Greenwood sum are functions of every person's exit time."""
    return [Label("group"), Value("horizon_days"), Count("n"),
            CurveArea(("estimate", "std_error", "ci_lower", "ci_upper"), steps=functools.partial(_group_steps, steps),
                      horizon="horizon_days", n="n")]

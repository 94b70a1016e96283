"""(Ex-)partner-reported safety by survey wave, the Project Mirabal way.

Partner surveys are repeated at programme start (``T1``) and about 3, 6 and
12 months later (``T2``-``T4``), each asking about the last 3 months.  This
module turns them into the tables a commissioner and an evaluator need:

* :func:`prevalence` -- per wave and behaviour, the proportion of those who
  answered who report it, with the denominator of every wave (the Mirabal
  "start vs 12 months" table) and Wilson intervals;
* :func:`paired_change` -- the same (ex-)partners seen at both waves: exact
  McNemar test and the change in percentage points (Newcombe's method 10);
  the declared primary outcome is tested as is, the other behaviours are
  secondary and Holm-adjusted;
* :func:`wave_model` -- a binomial GEE over all waves, weighted by the inverse
  probability of responding (who answers later waves depends on whether the
  person referred completed the programme), with the unweighted fit beside it;
* :func:`change_views` -- all-respondent, paired and model-based views of the
  change side by side, labelled;
* :func:`feeling_safe`, :func:`space_for_action` -- the 1-5 safety scale
  (% very safe, % not safe at all, ordinal change) and space for action;
* :func:`response_rates` -- who answered each wave and who did not, by the
  programme status of the person referred;
* :func:`partner_support` -- support offered and accepted, children in the
  families of people who started;
* :func:`mirabal_measures` -- the six Mirabal measures of success, each with
  the data that inform it or "not measured by this data".

Wording is gender-neutral throughout: "the person referred" (or "on the
programme") and "(ex-)partner".  Small statistical helpers used across the
package (:func:`wilson_ci`, :func:`newcombe_paired_ci`,
:func:`newcombe_diff_ci`, :func:`mcnemar_exact`) live here too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special, stats

from dapp_eval.analyses import plotting
from dapp_eval.analyses.episodes import as_float as _as_float
from dapp_eval.analyses.episodes import episodes as _episodes
from dapp_eval.analyses.episodes import holm_secondary as _holm
from dapp_eval.analyses.episodes import programme_status
from dapp_eval.analyses.episodes import require_table as _require
from dapp_eval.analyses.followup import paired_cells, paired_stats
from dapp_eval.data.schema import SURVEY_BEHAVIOURS, WAVES
from dapp_eval.errors import AnalysisError, NobodyError
from dapp_eval.estimators.gee import fit_gee
from dapp_eval.estimators.proportions import mcnemar_exact, newcombe_diff_ci, newcombe_paired_ci, wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, every_reason, is_part, level_text, make_meta

__all__ = [
    "BEHAVIOUR_LABELS",
    "WAVE_LABELS",
    "WAVE_MONTHS",
    "STATUS_LABELS",
    "wilson_ci",
    "newcombe_paired_ci",
    "newcombe_diff_ci",
    "mcnemar_exact",
    "programme_status",
    "prevalence",
    "paired_change",
    "wave_model",
    "change_views",
    "feeling_safe",
    "space_for_action",
    "response_rates",
    "partner_support",
    "mirabal_measures",
]

#: plain-words labels of the survey behaviours ("in the last 3 months")
BEHAVIOUR_LABELS = {
    "physical_violence": "Physical violence",
    "sexual_violence": "Sexual violence (made to do something sexual)",
    "threats": "Threats",
    "weapon_used": "Weapon used",
    "injury": "Physically injured",
    "harassment_stalking": "Harassment or stalking",
    "coercive_control": "Coercive control",
    "child_exposed": "Children saw or heard abuse",
}
WAVE_LABELS = {
    "T1": "T1 (programme start)",
    "T2": "T2 (about 3 months)",
    "T3": "T3 (about 6 months)",
    "T4": "T4 (about 12 months)",
}
#: months after the programme start at which each wave falls due
WAVE_MONTHS = {"T1": 0, "T2": 3, "T3": 6, "T4": 12}
#: programme status of the person referred (derived from the index referral)
STATUS_LABELS = {
    "completed": "completed",
    "dropped_out": "dropped out or excluded",
    "other_exit": "left for another reason",
    "ongoing": "still attending",
    "not_started": "did not start",
}
FEELS_SAFE_LABELS = {1: "1 not safe at all", 2: "2", 3: "3", 4: "4", 5: "5 very safe"}
_LINK = ["partner_id", "referral_id"]
_DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------------------
# small statistics shared with followup.py
# ---------------------------------------------------------------------------


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


# ---------------------------------------------------------------------------
# data access
# ---------------------------------------------------------------------------


def _check_behaviours(behaviours, primary: str) -> list[str]:
    if behaviours is None:
        behaviours = list(SURVEY_BEHAVIOURS)
    behaviours = list(behaviours)
    unknown = [b for b in behaviours + [primary] if b not in SURVEY_BEHAVIOURS]
    if unknown:
        raise ValueError(
            f"unknown behaviour(s) {unknown}; partner_surveys.csv has {', '.join(SURVEY_BEHAVIOURS)}"
        )
    return behaviours


def _check_wave(wave: str, name: str) -> str:
    if wave not in WAVES:
        raise ValueError(f"{name} must be one of {', '.join(WAVES)}, got {wave!r}")
    return wave


def _derived(data, key, fn):
    """``fn()``, computed once per data object: a table of ``data.derived`` (``ProgrammeData`` owns them).

    The report asks for the same intermediate tables (survey answers as numbers, the due
    (link, wave) grid) once per behaviour and view; they depend only on the data. Callers
    get a copy, so nothing cached can be changed from outside.
    """
    derived = getattr(data, "derived", None)
    return fn() if derived is None else derived.get(("safety", *key), fn)


def _surveys(data, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Survey rows with numeric answers and, on request, episode columns."""
    return _derived(data, ("surveys", tuple(extra)), lambda: _surveys_uncached(data, extra)).copy()


def _surveys_uncached(data, extra: Sequence[str]) -> pd.DataFrame:
    sv = _require(data, "partner_surveys").copy()
    for b in SURVEY_BEHAVIOURS:
        if b in sv:
            sv[b] = _as_float(sv[b])
    for c in ("feels_safe", "space_for_action"):
        if c in sv:
            sv[c] = _as_float(sv[c])
    need = [c for c in extra if c and c not in sv.columns]
    if need:
        ep = _episodes(data).copy()
        ep["programme_status"] = programme_status(ep)
        missing = [c for c in need if c not in ep.columns]
        if missing:
            raise ValueError(
                f"by={missing[0]!r} is neither a partner_surveys column nor a referral/site column "
                "(nor 'programme_status')"
            )
        sv = sv.merge(ep[["referral_id", *need]], on="referral_id", how="left")
        for c in need:
            sv[c] = sv[c].astype(object).where(sv[c].notna(), "unknown")
    sv["wave"] = pd.Categorical(sv["wave"], categories=list(WAVES), ordered=True)
    return sv


def _require_answers(sv: pd.DataFrame, data) -> None:
    """Refuse a folder whose partner_surveys.csv is empty; a site's (or period's) empty part of it is analysed
    as nobody, every wave shown like a small count (issue 26: a missing wave said "no survey at this site")."""
    if len(sv) == 0 and not data.folder_rows("partner_surveys"):
        raise AnalysisError("partner_surveys.csv has no rows: no (ex-)partner has answered a survey yet")


def _role(behaviour: str, primary: str) -> str:
    return "primary" if behaviour == primary else "secondary"


# ---------------------------------------------------------------------------
# prevalence by wave
# ---------------------------------------------------------------------------


def prevalence(data, *, by: str | None = None, behaviours: Sequence[str] | None = None,
               primary: str = "physical_violence", alpha: float = 0.05) -> AnalysisResult:
    """Proportion of (ex-)partners reporting each behaviour, per survey wave.

    The Project Mirabal "start vs 12 months" table: at every wave, among the
    (ex-)partners who answered the question, the proportion reporting the
    behaviour in the last 3 months, with the denominator shown.  Different
    people answer different waves; see :func:`paired_change` for the same
    people at two waves and :func:`wave_model` for a non-response-weighted
    estimate.

    Parameters
    ----------
    data : ProgrammeData
        Needs ``partner_surveys`` (and ``referrals``/``sites`` when ``by`` is
        a referral or site column).
    by : str, optional
        Split by a survey, referral or site column (e.g. ``"site_id"``) or by
        ``"programme_status"`` of the person referred.
    behaviours : sequence of str, optional
        Default: all eight survey behaviours.
    primary : str
        The analysis plan's primary outcome (labelled in the ``role`` column).
    alpha : float
        1 - confidence level of the Wilson intervals.

    Returns
    -------
    AnalysisResult
        ``summary`` columns: ``wave``, [by], ``behaviour``, ``label``, ``role``,
        ``n_responses`` (surveys returned at that wave), ``n_answered``,
        ``n_missing``, ``n_reporting``, ``estimate`` (proportion, 0-1),
        ``ci_lower``, ``ci_upper``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> res = prevalence(load_programme("data_synthetic"))
    >>> injury = res.summary.query("behaviour == 'injury'").set_index("wave")
    >>> injury["estimate"].round(3).to_dict()
    {'T1': 0.607, 'T2': 0.277, 'T3': 0.182, 'T4': 0.064}
    """
    alpha = check_alpha(alpha)
    behaviours = _check_behaviours(behaviours, primary)
    sv = _surveys(data, [by] if by else [])
    _require_answers(sv, data)
    keys = ["wave"] + ([by] if by else [])
    rows = []
    # every wave, answered or not: a wave missing from a site's table said "nobody answered it" (issue 26, a15 F1)
    for key, g in sv.groupby(keys, observed=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for b in behaviours:
            col = g[b]
            n_ans = int(col.notna().sum())
            k = int((col == 1).sum())
            rows.append({**dict(zip(keys, key)), "behaviour": b, "label": BEHAVIOUR_LABELS[b],
                         "role": _role(b, primary), "n_responses": len(g), "n_answered": n_ans,
                         "n_missing": len(g) - n_ans, "n_reporting": k})
    summary = pd.DataFrame(rows, columns=[*keys, "behaviour", "label", "role", "n_responses", "n_answered",
                                          "n_missing", "n_reporting"])
    with np.errstate(invalid="ignore", divide="ignore"):
        summary["estimate"] = summary["n_reporting"] / summary["n_answered"].where(summary["n_answered"] > 0)
    summary["ci_lower"], summary["ci_upper"] = wilson_ci(summary["n_reporting"], summary["n_answered"], alpha=alpha)
    summary["wave"] = summary["wave"].astype(str)
    meta = make_meta(
        n_in=len(sv), method=(
            "Proportion of (ex-)partners answering each question at each wave who reported the behaviour "
            f"in the last 3 months; Wilson score {100 * (1 - alpha):.0f}% intervals. Denominators differ "
            "by wave because different people answer each wave."),
        alpha=alpha, unit="survey responses", primary=primary, by=by,
    )
    return AnalysisResult(summary=summary, meta=meta, title="(Ex-)partner reports by survey wave",
                          _plotter=plotting.plot_prevalence,
                          roles={"summary": _proportion_roles(
                              [*keys, "behaviour", "label", "role"],
                              ("n_responses", "n_answered", "n_missing", "n_reporting"), "n_reporting", "n_answered")})


# ---------------------------------------------------------------------------
# paired change
# ---------------------------------------------------------------------------


def _link_codes(data) -> np.ndarray:
    """Each survey row's (partner_id, referral_id) link as one integer (rows as :func:`_surveys` gives them)."""
    def codes():
        sv = _derived(data, ("surveys", ()), lambda: _surveys_uncached(data, ()))
        pc = pd.factorize(sv["partner_id"])[0].astype(np.int64)
        rc = pd.factorize(sv["referral_id"])[0].astype(np.int64)
        return pc * (int(rc.max()) + 1 if len(rc) else 1) + rc
    return _derived(data, ("link_codes",), codes)


def _wide(sv: pd.DataFrame, link: np.ndarray, baseline: str, followup: str, cols: Sequence[str]) -> pd.DataFrame:
    """Links that answered both waves (in baseline order): ``<col>_base``, ``<col>_fu`` (a join on link codes)."""
    b, f = np.flatnonzero((sv["wave"] == baseline).to_numpy()), np.flatnonzero((sv["wave"] == followup).to_numpy())
    pos = pd.Index(link[f]).get_indexer(link[b])  # the key is unique within a wave
    b, f = b[pos >= 0], f[pos[pos >= 0]]
    out = {f"{c}_base": sv[c].to_numpy()[b] for c in cols}
    out.update({f"{c}_fu": sv[c].to_numpy()[f] for c in cols})
    return pd.DataFrame(out, columns=[f"{c}_base" for c in cols] + [f"{c}_fu" for c in cols])


def _link_accounting(sv, link: np.ndarray, baseline, followup) -> tuple[int, dict[str, int]]:
    b = np.unique(link[(sv["wave"] == baseline).to_numpy()])
    f = np.unique(link[(sv["wave"] == followup).to_numpy()])
    both = len(np.intersect1d(b, f, assume_unique=True))
    return len(b) + len(f) - both, {f"answered {baseline} only": len(b) - both,
                                    f"answered {followup} only": len(f) - both}


def _paired_binary(x_base: pd.Series, x_fu: pd.Series, alpha: float) -> dict:
    ok = x_base.notna() & x_fu.notna()
    xb, xf = x_base[ok].to_numpy(), x_fu[ok].to_numpy()
    both = int(((xb == 1) & (xf == 1)).sum())
    stopped = int(((xb == 1) & (xf == 0)).sum())
    started = int(((xb == 0) & (xf == 1)).sum())
    neither = int(((xb == 0) & (xf == 0)).sum())
    n = both + stopped + started + neither
    # rows = follow-up, columns = baseline: p1+ - p+1 = follow-up minus baseline
    d, lo, hi = newcombe_paired_ci(both, started, stopped, neither, alpha=alpha)
    return {
        "n_pairs": n, "n_missing_item": int((~ok).sum()),
        "n_yes_baseline": both + stopped, "n_yes_followup": both + started,
        "n_stopped": stopped, "n_started": started,
        "prop_baseline": (both + stopped) / n if n else np.nan,
        "prop_followup": (both + started) / n if n else np.nan,
        "estimate": 100 * d, "ci_lower": 100 * lo, "ci_upper": 100 * hi,
        "p_value": mcnemar_exact(stopped, started) if n else np.nan,
    }


def paired_change(data, *, baseline: str = "T1", followup: str = "T4",
                  behaviours: Sequence[str] | None = None, primary: str = "physical_violence",
                  alpha: float = 0.05) -> AnalysisResult:
    """Change among (ex-)partners who answered both waves: exact McNemar and Newcombe CI.

    A pair is one (ex-)partner linked to one referral who answered the
    question at both ``baseline`` and ``followup``.  The change is the
    follow-up proportion minus the baseline proportion, in percentage points,
    with Newcombe's (1998) method 10 interval for paired proportions (Wilson
    score limits combined with a correction for the correlation of the two
    waves); the p-value is the exact McNemar test (binomial test of the
    discordant pairs).  ``primary`` is tested at level ``alpha`` as declared
    in the analysis plan; the other behaviours are secondary and their
    p-values are Holm-adjusted (``p_adjusted``).

    Parameters
    ----------
    data : ProgrammeData
    baseline, followup : str
        Waves to compare (default ``T1`` and ``T4``).
    behaviours : sequence of str, optional
    primary : str
        Primary outcome of the analysis plan (default ``physical_violence``).
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary`` columns: ``behaviour``, ``label``, ``role``, ``baseline``,
        ``followup``, ``n_pairs``, ``n_missing_item``, ``n_yes_baseline``,
        ``n_yes_followup``, ``n_stopped`` (yes -> no), ``n_started``
        (no -> yes), ``prop_baseline``, ``prop_followup``, ``estimate``
        (change in percentage points), ``ci_lower``, ``ci_upper``,
        ``p_value`` (exact McNemar), ``p_adjusted`` (Holm for secondary
        outcomes; the primary's own p-value).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = paired_change(data, baseline="T1", followup="T4")
    >>> pv = res.summary.set_index("behaviour").loc["physical_violence"]
    >>> pv["role"], int(pv["n_pairs"]), round(float(pv["estimate"]), 1)
    ('primary', 169, -52.1)
    """
    alpha = check_alpha(alpha)
    behaviours = _check_behaviours(behaviours, primary)
    _check_wave(baseline, "baseline")
    _check_wave(followup, "followup")
    if baseline == followup:
        raise ValueError("baseline and followup must be different waves")
    sv = _surveys(data)
    link = _link_codes(data)
    wide = _wide(sv, link, baseline, followup, behaviours)
    if len(wide) == 0 and not is_part(data):
        # the folder: said so. A site's (or period's) part: the rows of nobody paired, shown like a few (issue 26)
        _, only = _link_accounting(sv, link, baseline, followup)
        raise NobodyError(f"no (ex-)partner answered both {baseline} and {followup}, so there is no paired change ("
                            + "; ".join(f"{k}: {v}" for k, v in only.items()) + ")")
    rows = []
    for b in behaviours:
        r = _paired_binary(wide[f"{b}_base"], wide[f"{b}_fu"], alpha)
        rows.append({"behaviour": b, "label": BEHAVIOUR_LABELS[b], "role": _role(b, primary),
                     "baseline": baseline, "followup": followup, **r})
    summary = pd.DataFrame(rows)
    summary["p_adjusted"] = _holm(summary)
    n_in, excluded = _link_accounting(sv, link, baseline, followup)
    meta = make_meta(
        n_in=n_in, excluded=excluded, alpha=alpha, unit="(ex-)partner links (partner x referral)",
        method=(f"(Ex-)partners who answered both {baseline} and {followup}: change in percentage points "
                f"({followup} minus {baseline}) with Newcombe's method 10 interval for paired proportions; "
                "exact McNemar test. Primary outcome tested as declared; secondary outcomes Holm-adjusted."),
        primary=primary,
    )
    return AnalysisResult(summary=summary, meta=meta, title=f"Paired change {baseline} to {followup}",
                          _plotter=plotting.plot_paired_change, roles={"summary": paired_roles(summary.columns, alpha)})


# ---------------------------------------------------------------------------
# non-response and response weights
# ---------------------------------------------------------------------------


def _months_key(wave_months: dict[str, float] | None):
    return tuple(sorted(wave_months.items())) if wave_months is not None else None


def _due_links_shared(data, wave_months: dict[str, float] | None, offered_only: bool | None):
    """:func:`_due_links` as derived once per data, not copied: for callers that only read it."""
    return _derived(data, ("due_links", _months_key(wave_months), offered_only),
                    lambda: _due_links_uncached(data, wave_months, offered_only))


def _due_links(data, wave_months: dict[str, float] | None, offered_only: bool | None = None):
    """Every (link, wave) that was due or answered, with the response indicator (see _due_links_uncached)."""
    long, sv, info = _due_links_shared(data, wave_months, offered_only)
    return long.copy(), sv.copy(), dict(info, outside_mask=info["outside_mask"].copy())


def _due_links_uncached(data, wave_months: dict[str, float] | None, offered_only: bool | None = None):
    """Every (link, wave) that was due or answered, with the response indicator.

    Population: (ex-)partner links in partners.csv whose referral started
    (and, with ``offered_only``, who were offered partner support; ``None``
    restricts to them when no one who was not offered support answered).
    A wave is due when start_date + its months <= the site's extract date.
    """
    months = dict(WAVE_MONTHS if wave_months is None else wave_months)
    bad = set(months) - set(WAVES)
    if bad or set(months) != set(WAVES):
        raise ValueError(f"wave_months must give months for each of {', '.join(WAVES)}")
    partners = _require(data, "partners", " (non-response needs the list of (ex-)partners who could answer)")
    sv = _surveys(data)
    ep = _episodes(data).copy()
    ep["programme_status"] = programme_status(ep)
    cols = ["referral_id", "participant_id", "site_id", "start_date", "data_extract_date", "programme_status"]
    pl = partners[_LINK + ["support_offered"]].drop_duplicates(_LINK)
    links = pl.merge(ep[cols], on="referral_id", how="left")
    started = links["start_date"].notna()
    n_links_not_started = int((~started).sum())
    links = links[started].reset_index(drop=True)
    offered = _as_float(links["support_offered"]).eq(1).to_numpy()
    if offered_only is None:
        not_offered_answered = len(links.loc[~offered, _LINK].merge(sv[_LINK].drop_duplicates(), on=_LINK)) > 0
        offered_only = bool((~offered).any()) and not not_offered_answered
    n_not_offered = int((~offered).sum()) if offered_only else 0
    if offered_only:
        links = links[offered].reset_index(drop=True)
    rows = []
    answered = sv[_LINK + ["wave"]].assign(responded=1)
    answered["wave"] = answered["wave"].astype(str)
    for w in WAVES:
        due_date = links["start_date"] + pd.to_timedelta(np.round(months[w] * _DAYS_PER_MONTH), unit="D")
        rows.append(links.assign(wave=w, due=(due_date <= links["data_extract_date"]).to_numpy()))
    long = pd.concat(rows, ignore_index=True)
    long = long.merge(answered, on=_LINK + ["wave"], how="left")
    long["responded"] = long["responded"].fillna(0).astype(int)
    not_due = (~long["due"]) & (long["responded"] == 0)
    n_not_due = int(not_due.sum())
    long = long[~not_due].reset_index(drop=True)
    # links are unique (drop_duplicates above), so the left join keeps one row per survey, in order
    outside = sv[_LINK].merge(links[_LINK].assign(_known=True), on=_LINK, how="left")["_known"].isna().to_numpy()
    info = {"n_links": len(links) + n_links_not_started + n_not_offered, "n_links_not_started": n_links_not_started,
            "n_links_not_offered": n_not_offered, "offered_only": offered_only,
            "n_link_waves_not_due": n_not_due, "n_responses_outside": int(outside.sum()),
            "outside_mask": outside}
    return long, sv, info


_T1_LEVELS = ("no", "not answered", "yes")  # the T1 answer's levels as text, sorted (codes 0, 1, 2)


def _wave_frame(data, wave_months: dict[str, float] | None, offered_only: bool | None):
    """What every behaviour's :func:`wave_model` shares, derived once per data (as integer codes).

    ``long``/``sv``/``info`` as :func:`_due_links` (not copied: read only); per (link, wave) row of
    ``long``: its wave, programme status and site as codes of sorted text levels, the response
    indicator and the position in ``sv`` of the link's T1 survey (-1: none); ``gee``: the survey rows
    from known links, sorted by partner, referral and wave (wave as text), with the position of each
    in ``long`` (``_long_pos``) and its partner as an integer cluster code (``_cluster``).
    """
    return _derived(data, ("wave_frame", _months_key(wave_months), offered_only),
                    lambda: _wave_frame_uncached(data, wave_months, offered_only))


def _wave_frame_uncached(data, wave_months, offered_only) -> dict:
    long, sv, info = _due_links_shared(data, wave_months, offered_only)
    fr = {"long": long, "sv": sv, "info": info}
    fr["wave"] = pd.Categorical(long["wave"], categories=list(WAVES)).codes.astype(np.int64)
    for c in ("programme_status", "site_id"):
        codes, levels = pd.factorize(long[c].astype(str), sort=True)
        fr[c] = (codes.astype(np.int64), [str(v) for v in levels])
    fr["responded"] = long["responded"].to_numpy(dtype=float)
    t1 = sv.loc[(sv["wave"] == WAVES[0]).to_numpy(), _LINK]
    pos = long[_LINK].merge(t1.assign(_pos=np.flatnonzero((sv["wave"] == WAVES[0]).to_numpy())), on=_LINK,
                            how="left")["_pos"]
    fr["t1_pos"] = pos.fillna(-1).to_numpy(dtype=np.int64)
    # the answers the GEEs use: from known links (each matches its responded (link, wave) row of long)
    df = sv.loc[~info["outside_mask"], _LINK + ["wave"]].copy()
    df["wave"] = df["wave"].astype(str)
    df["_sv_pos"] = np.flatnonzero(~info["outside_mask"])
    resp = long.loc[long["responded"].to_numpy() == 1, _LINK + ["wave"]].copy()
    resp["wave"] = resp["wave"].astype(str)
    resp["_long_pos"] = np.flatnonzero(long["responded"].to_numpy() == 1)
    df = df.merge(resp, on=_LINK + ["wave"], how="left")
    # sorted by cluster for a stable order (the key is unique, so no ties)
    df = df.sort_values(["partner_id", "referral_id", "wave"], kind="stable").reset_index(drop=True)
    df["_long_pos"] = df["_long_pos"].astype(np.int64)  # every answer from a known link was due or answered
    df["_cluster"] = pd.factorize(df["partner_id"], sort=False)[0]
    fr["gee"] = df
    return fr


def _dummies(codes: np.ndarray, levels: Sequence[str], name: str, cols: dict) -> None:
    """Treatment dummies of the levels present in ``codes`` (sorted text levels, first present dropped)."""
    present = np.flatnonzero(np.bincount(codes, minlength=len(levels)))
    for k in present[1:]:
        cols[f"{name}_{levels[k]}"] = (codes == k).astype(float)


def _t1_codes(fr: dict, sv: pd.DataFrame, behaviour: str) -> np.ndarray:
    """The T1 answer to ``behaviour`` of each (link, wave) row, as a code of :data:`_T1_LEVELS`."""
    pos = fr["t1_pos"]
    vals = np.full(len(pos), np.nan)
    has = pos >= 0
    vals[has] = sv[behaviour].to_numpy(dtype=float)[pos[has]]
    return np.select([vals == 1, vals == 0], [2, 0], 1).astype(np.int64)


def _fit_response(fr: dict, behaviour: str | None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Per-wave logistic model of responding; returns (t1 answer codes, p_respond, coefficient table).

    The covariates (programme status, site, T1 answer) are all categorical, so each wave's model is
    fitted on its distinct covariate patterns, responders and non-responders with frequency weights:
    the same likelihood, estimates and standard errors as on one row per (link, wave), in a fraction of
    the time. The design has the columns of ``pd.get_dummies(drop_first=True)`` + constant on the wave's
    rows (levels as text, sorted; the first present dropped).
    """
    status, status_levels = fr["programme_status"]
    site, site_levels = fr["site_id"]
    t1 = _t1_codes(fr, fr["sv"], behaviour) if behaviour is not None else np.zeros(len(status), dtype=np.int64)
    y_all = fr["responded"]
    p_respond = np.full(len(status), np.nan)
    coefs = []
    for k, w in enumerate(WAVES):
        rows = np.flatnonzero(fr["wave"] == k)
        if len(rows) == 0:
            continue
        use_t1 = w != WAVES[0] and behaviour is not None
        key = (status[rows] * len(site_levels) + site[rows]) * len(_T1_LEVELS) + (t1[rows] if use_t1 else 0)
        patterns, inverse = np.unique(key, return_inverse=True)
        y = y_all[rows]
        if y.min() == y.max():
            p_respond[rows] = y.mean()
            coefs.append(pd.DataFrame({"wave": w, "term": ["const"], "coef": [np.nan], "se": [np.nan]}))
            continue
        n = np.bincount(inverse, minlength=len(patterns)).astype(float)
        yes = np.bincount(inverse, weights=y, minlength=len(patterns))
        # the levels present in the wave are those of its patterns
        p_t1, rest = patterns % len(_T1_LEVELS), patterns // len(_T1_LEVELS)
        cols = {"const": np.ones(len(patterns))}
        _dummies(rest // len(site_levels), status_levels, "programme_status", cols)
        _dummies(rest % len(site_levels), site_levels, "site_id", cols)
        if use_t1:
            _dummies(p_t1, _T1_LEVELS, "t1_answer", cols)
        Xp = pd.DataFrame(cols)
        two = np.r_[np.arange(len(patterns)), np.arange(len(patterns))]
        yy = np.r_[np.ones(len(patterns)), np.zeros(len(patterns))]
        ff = np.r_[yes, n - yes]
        keep = ff > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(yy[keep], Xp.to_numpy()[two[keep]], family=sm.families.Binomial(),
                         freq_weights=ff[keep]).fit(tol=1e-10, maxiter=200)
        params = np.asarray(fit.params)
        p_respond[rows] = fit.model.family.link.inverse(Xp.to_numpy() @ params)[inverse]
        coefs.append(pd.DataFrame({"wave": w, "term": Xp.columns, "coef": params, "se": np.asarray(fit.bse)}))
    coef_table = pd.concat(coefs, ignore_index=True) if coefs else pd.DataFrame(columns=["wave", "term", "coef", "se"])
    return t1, p_respond, coef_table


def response_rates(data, *, wave_months: dict[str, float] | None = None, offered_only: bool | None = None,
                   alpha: float = 0.05) -> AnalysisResult:
    """Who answered each wave and who did not, by the programme status of the person referred.

    The population is every (ex-)partner link in partners.csv whose referral
    started the programme; a wave counts as expected once it is due
    (programme start + ``wave_months`` <= the site's extract date).  If later
    waves are answered mostly by the (ex-)partners of people who completed,
    raw later-wave percentages over-represent completers' families: compare
    the ``composition`` table with :func:`wave_model`'s weighted estimate.

    Parameters
    ----------
    data : ProgrammeData
        Needs ``partners``, ``partner_surveys``, ``referrals``, ``sites``.
    wave_months : dict, optional
        Months after start at which each wave is due (default
        :data:`WAVE_MONTHS`: T1 0, T2 3, T3 6, T4 12).
    offered_only : bool, optional
        Count only (ex-)partners offered partner support (surveys usually go
        through the support service).  Default ``None``: yes when no one who
        was not offered support answered a survey (said in ``meta``).
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary``: ``wave``, ``programme_status``, ``status_label``,
        ``n_expected``, ``n_answered``, ``n_not_answered``, ``estimate``
        (response rate), ``ci_lower``, ``ci_upper``; ``tables["composition"]``:
        per wave and group (answered / did not answer / all expected), ``n``,
        ``n_completed`` and the share whose person referred completed;
        ``tables["tests"]``: per wave, chi-square test of response by status.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = response_rates(data)
    >>> answered = res.composition.query("group == 'answered'").set_index("wave")
    >>> answered["share_completed"].round(3).to_dict()
    {'T1': 0.718, 'T2': 0.827, 'T3': 0.878, 'T4': 0.904}
    """
    alpha = check_alpha(alpha)
    long, _, info = _due_links(data, wave_months, offered_only)
    if len(long) == 0 and not is_part(data):  # a site's part: the response of nobody
        raise NobodyError(
            f"no (ex-)partner was due to answer a survey by the extract date ({info['n_links']} links in "
            f"partners.csv; referral never started: {info['n_links_not_started']}; not offered support: "
            f"{info['n_links_not_offered']}; waves not yet due: {info['n_link_waves_not_due']})")
    rows, comp, tests = [], [], []
    for w in WAVES:
        sub = long[long["wave"] == w]
        for s in STATUS_LABELS:
            g = sub[sub["programme_status"] == s]
            if len(g) == 0:
                continue
            rows.append({"wave": w, "programme_status": s, "status_label": STATUS_LABELS[s],
                         "n_expected": len(g), "n_answered": int(g["responded"].sum())})
        for grp, g in (("answered", sub[sub["responded"] == 1]), ("did not answer", sub[sub["responded"] == 0]),
                       ("all expected", sub)):
            k = int((g["programme_status"] == "completed").sum())
            lo, hi = wilson_ci(k, len(g), alpha=alpha)
            comp.append({"wave": w, "group": grp, "n": len(g), "n_completed": k,
                         "share_completed": k / len(g) if len(g) else np.nan,
                         "ci_lower": float(lo), "ci_upper": float(hi)})
        ct = pd.crosstab(sub["programme_status"], sub["responded"]) if len(sub) else pd.DataFrame()
        p = np.nan
        if ct.shape == (ct.shape[0], 2) and ct.shape[0] > 1:
            p = float(stats.chi2_contingency(ct.to_numpy(), correction=False)[1])
        tests.append({"wave": w, "test": "chi-square: response by programme status", "p_value": p,
                      "n": len(sub)})
    summary = pd.DataFrame(rows, columns=["wave", "programme_status", "status_label", "n_expected", "n_answered"])
    summary["n_not_answered"] = summary["n_expected"] - summary["n_answered"]
    summary["estimate"] = summary["n_answered"] / summary["n_expected"]
    summary["ci_lower"], summary["ci_upper"] = wilson_ci(summary["n_answered"], summary["n_expected"], alpha=alpha)
    excluded = {"referral never started (no survey waves expected)": info["n_links_not_started"],
                "not offered partner support (not surveyed)": info["n_links_not_offered"]}
    meta = make_meta(
        n_in=info["n_links"], excluded=excluded, alpha=alpha, unit="(ex-)partner links (partner x referral)",
        method=("Response to each survey wave among (ex-)partner links whose referral started, once the wave "
                "was due; Wilson intervals; chi-square test of response by the programme status of the "
                "person referred."),
        n_link_waves_not_yet_due=info["n_link_waves_not_due"],
        n_responses_from_links_not_in_partners=info["n_responses_outside"],
        offered_only=info["offered_only"],
    )
    return AnalysisResult(summary=summary, meta=meta, title="Survey response by wave",
                          tables={"composition": pd.DataFrame(comp), "tests": pd.DataFrame(tests)},
                          roles={"summary": response_roles()}, _plotter=plotting.plot_response_rates)


def response_roles() -> list:
    """What each column of :func:`response_rates`'s summary is (also for a table of nobody due)."""
    return _proportion_roles(["wave", "programme_status", "status_label"], ("n_expected", "n_answered",
                                                                             "n_not_answered"),
                             "n_answered", "n_expected")


# ---------------------------------------------------------------------------
# GEE over waves (unweighted and inverse-probability-of-response weighted)
# ---------------------------------------------------------------------------

_FIT_LABELS = {"unweighted": "unweighted GEE",
               "weighted": "GEE weighted by inverse probability of responding"}


def _gee_fit(y: np.ndarray, wave: np.ndarray, clusters: np.ndarray, weights, cov_struct: str):
    """Binomial GEE of ``y`` on wave (codes of :data:`WAVES`; the first present is the reference)."""
    waves = [w for k, w in enumerate(WAVES) if (wave == k).any()]
    cols = {"const": np.ones(len(y))}
    for w in waves[1:]:
        cols[f"wave[{w}]"] = (wave == WAVES.index(w)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a wave with no 'yes' separates: its odds ratio is shown as 0 / inf
        res = fit_gee(y, np.column_stack(list(cols.values())), clusters, family="binomial", cov_struct=cov_struct,
                      weights=weights, names=list(cols), maxiter=200)
    return res, waves


def _se(variance) -> float:
    """A standard error from a variance estimate; NaN (interval withheld) when the estimate is not positive.

    A robust GEE variance from a handful of (ex-)partners can come out zero or negative; its square root is not
    taken, and the interval is left empty instead of printing a warning.
    """
    v = float(variance)
    return float(np.sqrt(v)) if np.isfinite(v) and v > 0 else np.nan


def _quad(g: np.ndarray, cov: np.ndarray) -> float:
    """``g' cov g`` quietly: a separated fit's robust covariance holds infinities (inf - inf gives NaN, and
    :func:`_se` then leaves the interval empty instead of printing a RuntimeWarning)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return float(g @ cov @ g)


def _gee_rows(res, waves, n_obs: dict, n_clusters: int, fit: str, alpha: float):
    z = _z(alpha)
    params = np.asarray(res.params)
    cov = np.asarray(res.cov_robust)
    rows, change = [], []
    p0 = float(special.expit(params[0]))
    for j, w in enumerate(waves):
        g = np.zeros(len(params))
        g[0] = 1.0
        if j > 0:
            g[j] = 1.0
        eta = g @ params
        se = _se(_quad(g, cov))
        p = float(special.expit(eta))
        row = {"fit": fit, "label": _FIT_LABELS[fit], "wave": w,
               "n_obs": n_obs[w], "n_clusters": n_clusters,
               "estimate": p, "ci_lower": float(special.expit(eta - z * se)),
               "ci_upper": float(special.expit(eta + z * se)),
               "odds_ratio": np.nan, "or_ci_lower": np.nan, "or_ci_upper": np.nan, "p_value": np.nan}
        if j > 0:
            b, sb = params[j], _se(cov[j, j])
            with np.errstate(over="ignore"):  # a separated fit gives an infinite odds ratio, shown as inf
                row.update({"odds_ratio": np.exp(b), "or_ci_lower": np.exp(b - z * sb),
                            "or_ci_upper": np.exp(b + z * sb), "p_value": float(2 * stats.norm.sf(abs(b / sb)))})
            # change in percentage points, delta method
            grad = np.zeros(len(params))
            grad[0] = p * (1 - p) - p0 * (1 - p0)
            grad[j] = p * (1 - p)
            d = p - p0
            sd = _se(_quad(grad, cov))
            change.append({"fit": fit, "label": _FIT_LABELS[fit], "baseline": waves[0], "wave": w,
                           "estimate": 100 * d, "ci_lower": 100 * (d - z * sd), "ci_upper": 100 * (d + z * sd),
                           "p_value": row["p_value"]})
        rows.append(row)
    return rows, change


def wave_model(data, *, behaviour: str = "physical_violence", cov_struct: str = "independence",
               wave_months: dict[str, float] | None = None, offered_only: bool | None = None,
               alpha: float = 0.05) -> AnalysisResult:
    """Binomial GEE over all waves, weighted by the inverse probability of responding.

    Who answers later waves depends on what the person referred did: the
    (ex-)partners of people who dropped out answer less often, so the raw
    later-wave percentages over-represent completers' families and an
    unweighted GEE is biased.  For every (ex-)partner link whose referral
    started and every wave that was due, a logistic model of responding is
    fitted per wave on the programme status of the person referred, the site
    and (from T2 on) the T1 answer to the same question (yes / no / not
    answered).  Each answer is weighted by ``1 / P(responding)`` (Robins,
    Rotnitzky & Zhao 1995); the GEE has a logit link, wave as a categorical
    covariate, clusters = (ex-)partner and robust (sandwich) standard errors.
    The unweighted fit on the same answers is reported beside it.

    ``cov_struct="independence"`` (the default) is the working correlation
    under which inverse-probability weighting gives consistent estimates;
    ``"exchangeable"`` is offered for the comparison.  The GEEs are fitted by
    :func:`dapp_eval.estimators.gee.fit_gee`, which solves geepack's weighted
    equations (``D' W^1/2 R^-1 W^1/2 r``, weighted moment estimates of the
    scale and correlation): the same as ``geepack::geeglm(..., weights=)``
    with either working correlation (to 1e-8 in the tests; statsmodels' GEE
    weights the exchangeable equations differently).

    Parameters
    ----------
    data : ProgrammeData
        Needs ``partners``, ``partner_surveys``, ``referrals``, ``sites``.
    behaviour : str
        Survey behaviour to model (default the primary outcome).
    cov_struct : {"independence", "exchangeable"}
    wave_months : dict, optional
        When each wave falls due (see :func:`response_rates`).
    offered_only : bool, optional
        Population for the weights (see :func:`response_rates`).
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary``: per fit (``unweighted``, ``weighted``) and wave: ``n_obs``,
        ``n_clusters``, ``estimate`` (model prevalence), ``ci_lower``,
        ``ci_upper``, ``odds_ratio`` vs the first wave with CI and robust
        ``p_value``.  ``tables``: ``change`` (percentage-point change vs the
        first wave, delta method), ``coefficients``, ``response_model``
        (logistic coefficients per wave), ``weights`` (one row per link and
        wave: responded, p_respond, weight), ``gee_data`` (the answers the
        GEEs were fitted to, with their weights).  ``model``: dict of the two
        :class:`~dapp_eval.estimators.gee.GEEResults`.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = wave_model(data, behaviour="physical_violence")
    >>> res.change.query("wave == 'T4'").set_index("fit")["estimate"].round(1).to_dict()
    {'unweighted': -55.4, 'weighted': -51.7}
    """
    alpha = check_alpha(alpha)
    _check_behaviours([behaviour], behaviour)
    if cov_struct not in ("independence", "exchangeable"):
        raise ValueError("cov_struct must be 'independence' or 'exchangeable'")
    fr = _wave_frame(data, wave_months, offered_only)
    long, sv, info = fr["long"], fr["sv"], fr["info"]
    with np.errstate(over="ignore"):  # a separated response model: probabilities of 0 or 1, checked below
        t1, p_respond, coef_table = _fit_response(fr, behaviour)
    with np.errstate(divide="ignore"):  # a fitted response probability of 0 only where nobody responded
        weight = np.where(fr["responded"] == 1, 1.0 / p_respond, np.nan)
    gee = fr["gee"]
    answers = sv[behaviour].to_numpy(dtype=float)[gee["_sv_pos"].to_numpy()]
    item_missing = np.isnan(answers)
    n_in = len(sv)
    n_outside = info["n_responses_outside"]
    excluded = {"response from a link not in partners.csv, whose referral never started, or not offered support":
                n_outside,
                f"{behaviour} not answered": int(item_missing.sum())}
    keep = ~item_missing
    y = answers[keep]
    if len(y) == 0 or len(np.unique(y)) < 2:
        raise AnalysisError(f"not enough answers to {behaviour} to fit a model across waves")
    df = gee.loc[keep, _LINK + ["wave"]].reset_index(drop=True)
    df[behaviour] = y
    lpos = gee["_long_pos"].to_numpy()[keep]
    df["p_respond"] = p_respond[lpos]
    df["weight"] = weight[lpos]
    wave = fr["wave"][lpos]
    clusters = gee["_cluster"].to_numpy()[keep]
    n_obs = {w: int(c) for w, c in zip(WAVES, np.bincount(wave, minlength=len(WAVES)))}
    n_clusters = len(np.unique(clusters))
    w = df["weight"].to_numpy(dtype=float)
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise AnalysisError("the model of who answers the surveys separates the answers completely (a response "
                            "probability of 0 for someone who answered), so no inverse-probability weights exist "
                            "and the wave models are not fitted")
    res_u, waves = _gee_fit(y, wave, clusters, None, cov_struct)
    res_w, _ = _gee_fit(y, wave, clusters, w, cov_struct)
    rows, change, coefs = [], [], []
    for fit, res in (("unweighted", res_u), ("weighted", res_w)):
        r, c = _gee_rows(res, waves, n_obs, n_clusters, fit, alpha)
        rows += r
        change += c
        coefs.append(pd.DataFrame({"fit": fit, "term": res.exog_names, "coef": np.asarray(res.params),
                                   "se_robust": np.asarray(res.bse)}))
    summary = pd.DataFrame(rows)
    summary.insert(0, "behaviour", behaviour)
    weights = long[_LINK + ["participant_id", "site_id", "programme_status", "wave"]].copy()
    weights["t1_answer"] = np.array(_T1_LEVELS, dtype=object)[t1]
    weights["responded"] = long["responded"].to_numpy()
    weights["p_respond"] = p_respond
    weights["weight"] = weight
    meta = make_meta(
        n_in=n_in, excluded=excluded, alpha=alpha, unit="survey responses",
        method=("Binomial GEE (logit link, wave as categorical, clusters = (ex-)partner, robust SE, "
                f"{cov_struct} working correlation), unweighted and weighted by the inverse of the probability "
                "of responding from per-wave logistic models on programme status of the person referred, "
                "site and the T1 answer."),
        behaviour=behaviour, cov_struct=cov_struct,
        max_weight=float(np.nanmax(df["weight"])) if len(df) else np.nan,
        n_link_waves_not_yet_due=info["n_link_waves_not_due"], offered_only=info["offered_only"],
    )
    return AnalysisResult(
        summary=summary, meta=meta, model={"unweighted": res_u, "weighted": res_w},
        tables={"change": pd.DataFrame(change), "coefficients": pd.concat(coefs, ignore_index=True),
                "response_model": coef_table, "weights": weights,
                "gee_data": df[_LINK + ["wave", behaviour, "p_respond", "weight"]]},
        title=f"{BEHAVIOUR_LABELS[behaviour]}: model-based estimates by wave",
        _plotter=plotting.plot_wave_model,
    )


def _gee_view_rows(data, b: str, role: str, baseline: str, followup: str, alpha: float) -> list[dict]:
    """The unweighted and weighted GEE views of one behaviour's change (none where a fit is not estimable)."""
    try:
        wm = wave_model(data, behaviour=b, alpha=alpha)
    except AnalysisError:
        return []
    if "fit" not in wm.summary or "fit" not in wm.change:  # too few answers for either fit (e.g. one month)
        return []
    rows = []
    for fit in ("unweighted", "weighted"):
        s = wm.summary[wm.summary["fit"] == fit].set_index("wave")
        wch = wm.change
        if len(wch) == 0:  # one wave answered: no change rows (and no columns) to read
            continue
        ch = wch[(wch["fit"] == fit) & (wch["wave"] == followup)]
        if baseline not in s.index or followup not in s.index or len(ch) == 0:
            continue
        rows.append({"behaviour": b, "role": role,
                     "view": "unweighted GEE" if fit == "unweighted" else "weighted GEE",
                     "n_baseline": int(s.loc[baseline, "n_obs"]), "n_followup": int(s.loc[followup, "n_obs"]),
                     "prop_baseline": s.loc[baseline, "estimate"], "prop_followup": s.loc[followup, "estimate"],
                     "estimate": float(ch["estimate"].iloc[0]), "ci_lower": float(ch["ci_lower"].iloc[0]),
                     "ci_upper": float(ch["ci_upper"].iloc[0]), "p_value": float(ch["p_value"].iloc[0])})
    return rows


def change_views(data, *, baseline: str = "T1", followup: str = "T4",
                 behaviours: Sequence[str] | None = None, primary: str = "physical_violence",
                 wave_models: bool = True, alpha: float = 0.05) -> AnalysisResult:
    """All-respondent, paired and model-based views of the change, side by side.

    For each behaviour, the change from ``baseline`` to ``followup`` in
    percentage points, four ways, each labelled:

    ``all respondents``
        everyone who answered each wave (the Mirabal headline; different
        people at each wave; interval by Newcombe's hybrid score method,
        treating the waves as independent samples, which is approximate);
    ``paired respondents``
        only (ex-)partners who answered both waves (:func:`paired_change`);
    ``unweighted GEE`` / ``weighted GEE``
        all answers at all waves, without and with inverse-probability-of-
        response weights (:func:`wave_model`).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> cv = change_views(data, behaviours=["physical_violence"]).summary
    >>> cv["view"].tolist()
    ['all respondents', 'paired respondents', 'unweighted GEE', 'weighted GEE']
    >>> cv["estimate"].round(1).tolist()
    [-55.4, -52.1, -55.4, -51.7]
    """
    alpha = check_alpha(alpha)
    behaviours = _check_behaviours(behaviours, primary)
    prev = prevalence(data, behaviours=behaviours, primary=primary, alpha=alpha).summary
    try:
        paired = paired_change(data, baseline=baseline, followup=followup, behaviours=behaviours,
                               primary=primary, alpha=alpha)
    except AnalysisError:
        paired = None  # nobody answered both waves: the other views may still be estimable
    rows = []
    for b in behaviours:
        pb = prev[(prev["behaviour"] == b) & (prev["wave"] == baseline)]
        pf = prev[(prev["behaviour"] == b) & (prev["wave"] == followup)]
        kb, nb = (int(pb["n_reporting"].sum()), int(pb["n_answered"].sum()))
        kf, nf = (int(pf["n_reporting"].sum()), int(pf["n_answered"].sum()))
        d, lo, hi = newcombe_diff_ci(kf, nf, kb, nb, alpha=alpha)
        rows.append({"behaviour": b, "role": _role(b, primary), "view": "all respondents",
                     "n_baseline": nb, "n_followup": nf,
                     "prop_baseline": kb / nb if nb else np.nan, "prop_followup": kf / nf if nf else np.nan,
                     "estimate": 100 * d, "ci_lower": 100 * lo, "ci_upper": 100 * hi, "p_value": np.nan})
        if paired is not None:
            pr = paired.summary.set_index("behaviour").loc[b]
            rows.append({"behaviour": b, "role": _role(b, primary), "view": "paired respondents",
                         "n_baseline": int(pr["n_pairs"]), "n_followup": int(pr["n_pairs"]),
                         "prop_baseline": pr["prop_baseline"], "prop_followup": pr["prop_followup"],
                         "estimate": pr["estimate"], "ci_lower": pr["ci_lower"], "ci_upper": pr["ci_upper"],
                         "p_value": pr["p_value"]})
        if wave_models:
            rows += _gee_view_rows(data, b, _role(b, primary), baseline, followup, alpha)
    summary = pd.DataFrame(rows)
    # a folder with nothing to estimate: said so; a site's (or period's) part: its views of nobody (issue 26)
    if not np.isfinite(summary["estimate"].astype(float)).any() and not is_part(data):
        n_b = int(prev.loc[prev["wave"] == baseline, "n_responses"].max()) if (prev["wave"] == baseline).any() else 0
        n_f = int(prev.loc[prev["wave"] == followup, "n_responses"].max()) if (prev["wave"] == followup).any() else 0
        raise NobodyError(f"no change from {baseline} to {followup} can be estimated: {n_b} survey(s) answered at "
                            f"{baseline} and {n_f} at {followup}; every view needs answers at both waves")
    summary.insert(1, "label", summary["behaviour"].map(BEHAVIOUR_LABELS))
    if paired is not None:  # every reason, of nobody too (issue 26)
        n_links = paired.meta["n_in"]
        links_excluded = every_reason(paired.meta)
    else:
        sv_all = _surveys(data)
        n_links, links_excluded = _link_accounting(sv_all, _link_codes(data), baseline, followup)
    meta = make_meta(
        n_in=n_links, excluded=links_excluded, alpha=alpha,
        unit="(ex-)partner links (partner x referral); paired view",
        method=("Change in percentage points, follow-up minus baseline: all respondents (Newcombe hybrid "
                "score, waves treated as independent), paired respondents (Newcombe method 10, exact "
                "McNemar), GEE unweighted and weighted by inverse probability of responding (delta method)."),
        baseline=baseline, followup=followup, primary=primary,
    )
    return AnalysisResult(summary=summary, meta=meta, title=f"Change {baseline} to {followup}: three views",
                          _plotter=plotting.plot_change_views)


# ---------------------------------------------------------------------------
# feeling safe, space for action
# ---------------------------------------------------------------------------


def feeling_safe(data, *, baseline: str = "T1", followup: str = "T4", alpha: float = 0.05) -> AnalysisResult:
    """How safe (ex-)partners feel (1 = not safe at all ... 5 = very safe), by wave.

    Parameters
    ----------
    data : ProgrammeData
    baseline, followup : str
        Waves for the paired (ordinal) change.
    alpha : float

    Returns
    -------
    AnalysisResult
        ``summary``: per wave and level, ``n_answered`` (wave denominator),
        ``n`` (answering this level), ``estimate`` (proportion), Wilson CI.
        ``tables["headline"]``: per wave, % "very safe" (5) and % "not safe
        at all" (1), Mirabal's headline.  ``tables["paired"]``: among those
        answering both waves, numbers feeling safer / the same / less safe
        with the exact sign test, and the paired change in % very safe and
        % not safe at all (Newcombe method 10, exact McNemar).
        ``tables["pairs"]``: the pairs themselves (``referral_id``, ``feels_safe_base``,
        ``feels_safe_fu``), for saying who they are (e.g. the share whose programme ended in
        completion); not for publication.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = feeling_safe(data)
    >>> very_safe = res.headline.query("measure == 'very safe (5)'").set_index("wave")
    >>> very_safe["estimate"].round(3).to_dict()
    {'T1': 0.077, 'T2': 0.172, 'T3': 0.275, 'T4': 0.505}
    """
    alpha = check_alpha(alpha)
    _check_wave(baseline, "baseline")
    _check_wave(followup, "followup")
    sv = _surveys(data)
    _require_answers(sv, data)
    rows, head = [], []
    for w, g in sv.groupby("wave", observed=False, sort=True):  # every wave, answered or not (issue 26)
        x = g["feels_safe"].dropna()
        n = len(x)
        for lev in range(1, 6):
            rows.append({"wave": str(w), "level": lev, "label": FEELS_SAFE_LABELS[lev], "n_answered": n,
                         "n_missing": len(g) - n, "n": int((x == lev).sum())})
        for measure, lev in (("very safe (5)", 5), ("not safe at all (1)", 1)):
            head.append({"wave": str(w), "measure": measure, "n_answered": n, "n": int((x == lev).sum())})
    summary = pd.DataFrame(rows, columns=["wave", "level", "label", "n_answered", "n_missing", "n"])
    headline = pd.DataFrame(head, columns=["wave", "measure", "n_answered", "n"])
    for t in (summary, headline):
        t["estimate"] = t["n"] / t["n_answered"].where(t["n_answered"] > 0)
        t["ci_lower"], t["ci_upper"] = wilson_ci(t["n"], t["n_answered"], alpha=alpha)
    link = _link_codes(data)
    wide = _wide(sv, link, baseline, followup, ["feels_safe", "referral_id"])
    wide = wide[wide["feels_safe_base"].notna() & wide["feels_safe_fu"].notna()].reset_index(drop=True)
    pairs = pd.DataFrame({"referral_id": wide["referral_id_base"], "feels_safe_base": wide["feels_safe_base"],
                          "feels_safe_fu": wide["feels_safe_fu"]})
    diff = (wide["feels_safe_fu"] - wide["feels_safe_base"]).astype(float)
    safer, same, less = int((diff > 0).sum()), int((diff == 0).sum()), int((diff < 0).sum())
    p_sign = float(stats.binomtest(safer, safer + less, 0.5).pvalue) if safer + less else 1.0
    paired = [{"measure": "feels safer / same / less safe", "n_pairs": len(wide), "n_safer": safer,
               "n_same": same, "n_less_safe": less, "estimate": float(diff.median()) if len(diff) else np.nan,
               "ci_lower": np.nan, "ci_upper": np.nan, "p_value": p_sign,
               "method": "median change on the 1-5 scale; exact sign test (safer vs less safe)"}]
    # the headline share feeling safer (of all pairs) with its Wilson interval, for the report's summary
    lo, hi = ((float(np.asarray(v)) for v in wilson_ci(safer, len(wide), alpha=alpha)) if len(wide)
              else (np.nan, np.nan))
    paired[0].update(share_safer=safer / len(wide) if len(wide) else np.nan, share_safer_ci_lower=lo,
                     share_safer_ci_upper=hi)
    for measure, lev in (("very safe (5)", 5), ("not safe at all (1)", 1)):
        r = _paired_binary((wide["feels_safe_base"] == lev).astype(float), (wide["feels_safe_fu"] == lev).astype(float),
                           alpha)
        paired.append({"measure": f"{measure}: change in percentage points", "n_pairs": r["n_pairs"],
                       "n_safer": np.nan, "n_same": np.nan, "n_less_safe": np.nan, "estimate": r["estimate"],
                       "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"], "p_value": r["p_value"],
                       "method": "Newcombe method 10; exact McNemar"})
    meta = make_meta(
        n_in=len(sv), alpha=alpha, unit="survey responses",
        method=("Distribution of the 1-5 feeling-safe scale per wave with Wilson intervals; paired "
                f"{baseline} vs {followup}: exact sign test and Newcombe method 10."),
        baseline=baseline, followup=followup,
        n_paired_excluded=_link_accounting(sv, link, baseline, followup)[1],
    )
    return AnalysisResult(summary=summary, meta=meta, title="How safe (ex-)partners feel, by wave",
                          tables={"headline": headline, "paired": pd.DataFrame(paired), "pairs": pairs},
                          roles={"summary": _proportion_roles(["wave", "level", "label"], ("n_answered", "n_missing", "n"),
                                                              "n", "n_answered"),
                                 "headline": _proportion_roles(["wave", "measure"], ("n_answered", "n"), "n",
                                                               "n_answered")},
                          _plotter=plotting.plot_feeling_safe)


def space_for_action(data, *, baseline: str = "T1", followup: str = "T4", alpha: float = 0.05) -> AnalysisResult:
    """Space for action (0-100, higher = more freedom to act): means by wave and paired change.

    Returns
    -------
    AnalysisResult
        ``summary`` rows: one per wave (``measure = "mean"``: ``n``,
        ``estimate``, t-interval) and one ``"paired change"`` row (mean of
        follow-up minus baseline among (ex-)partners answering both, paired
        t-interval and p-value).

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> s = space_for_action(data).summary.set_index("wave")
    >>> int(s.loc["T4 - T1", "n"]), round(float(s.loc["T4 - T1", "estimate"]), 1)
    (166, 22.8)
    """
    alpha = check_alpha(alpha)
    sv = _surveys(data)
    _require_answers(sv, data)
    rows = []
    for w, g in sv.groupby("wave", observed=False, sort=True):  # every wave, answered or not (issue 26)
        x = g["space_for_action"].dropna().to_numpy()
        rows.append({"wave": str(w), "measure": "mean", **_mean_ci(x, alpha), "p_value": np.nan})
    wide = _wide(sv, _link_codes(data), baseline, followup, ["space_for_action"]).dropna()
    d = (wide["space_for_action_fu"] - wide["space_for_action_base"]).to_numpy()
    p = float(stats.ttest_1samp(d, 0).pvalue) if len(d) > 1 and np.std(d) > 0 else np.nan
    rows.append({"wave": f"{followup} - {baseline}", "measure": "paired change", **_mean_ci(d, alpha), "p_value": p})
    meta = make_meta(n_in=len(sv), alpha=alpha, unit="survey responses",
                     method="Mean with t-interval per wave; paired mean change with paired t-interval and t-test.",
                     baseline=baseline, followup=followup)
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta, title="Space for action by wave",
                          _plotter=plotting.plot_space_for_action)


def _mean_ci(x: np.ndarray, alpha: float) -> dict:
    n = len(x)
    if n == 0:
        return {"n": 0, "estimate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan}
    m = float(np.mean(x))
    if n == 1:
        return {"n": 1, "estimate": m, "ci_lower": np.nan, "ci_upper": np.nan}
    half = float(stats.t.ppf(1 - alpha / 2, n - 1) * np.std(x, ddof=1) / np.sqrt(n))
    return {"n": n, "estimate": m, "ci_lower": m - half, "ci_upper": m + half}


# ---------------------------------------------------------------------------
# partner support and children
# ---------------------------------------------------------------------------


def partner_support(data, *, alpha: float = 0.05) -> AnalysisResult:
    """Support offered to and accepted by (ex-)partners; children in the families.

    Units: each (ex-)partner once (a person linked to several referrals
    counts as offered if offered on any link and as accepting if they accepted
    on any link); children are counted once per person who started the
    programme, from their first started referral (repeat referrals of the same
    family are not added twice).

    Returns
    -------
    AnalysisResult
        ``summary`` rows: ``measure``, ``n`` (numerator), ``n_of``
        (denominator), ``estimate`` (proportion where it applies), Wilson CI.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> s = partner_support(data).summary.set_index("measure")
    >>> int(s.loc["support offered", "n"]), int(s.loc["support offered", "n_of"])
    (1398, 1500)
    """
    alpha = check_alpha(alpha)
    partners = _require(data, "partners")
    p = partners.copy()
    p["offered"] = _as_float(p["support_offered"])
    p["accepted"] = _as_float(p["support_accepted"])
    per = p.groupby("partner_id").agg(offered=("offered", "max"), accepted=("accepted", "max"))
    n_partners = len(per)
    offered = per["offered"] == 1
    acc_known = per["accepted"].notna() & offered
    rows = [
        {"measure": "(ex-)partners linked to referrals", "n": n_partners, "n_of": np.nan},
        {"measure": "support offered", "n": int(offered.sum()), "n_of": n_partners},
        {"measure": "support accepted (of those offered, answer recorded)", "n": int((per["accepted"][offered] == 1).sum()),
         "n_of": int(acc_known.sum())},
        {"measure": "offered, acceptance not recorded", "n": int((offered & per["accepted"].isna()).sum()),
         "n_of": int(offered.sum())},
    ]
    ep = _episodes(data)
    st = ep[ep["start_date"].notna()].sort_values(["participant_id", "start_date", "referral_id"], kind="stable")
    first = st.drop_duplicates("participant_id")
    kids = _as_float(first["n_children"]).fillna(0)
    rows += [
        {"measure": "people who started the programme", "n": len(first), "n_of": np.nan},
        {"measure": "people who started, with children", "n": int((kids > 0).sum()), "n_of": len(first)},
        {"measure": "children in the families of people who started", "n": int(kids.sum()), "n_of": np.nan},
    ]
    summary = pd.DataFrame(rows)
    has_of = summary["n_of"].notna() & (summary["n_of"] > 0)
    summary["estimate"] = np.where(has_of, summary["n"] / summary["n_of"].where(has_of), np.nan)
    lo, hi = wilson_ci(summary["n"].where(has_of, 0), summary["n_of"].where(has_of, 0), alpha=alpha)
    summary["ci_lower"] = np.where(has_of, lo, np.nan)
    summary["ci_upper"] = np.where(has_of, hi, np.nan)
    summary["n_of"] = summary["n_of"].astype("Int64")
    meta = make_meta(n_in=len(partners), alpha=alpha, unit="rows of partners.csv",
                     method=("Each (ex-)partner counted once; children counted once per person who started, "
                             "from their first started referral; Wilson intervals."),
                     n_unique_partners=n_partners)
    return AnalysisResult(summary=summary, meta=meta, title="Partner support and children",
                          _plotter=plotting.plot_partner_support,
                          roles={"summary": _proportion_roles(["measure"], ("n", "n_of"), "n", "n_of")})


# ---------------------------------------------------------------------------
# the six Mirabal measures
# ---------------------------------------------------------------------------

MIRABAL_MEASURES = {
    1: "An improved relationship between the person on the programme and their (ex-)partner, "
       "built on respect and communication",
    2: "Expanded 'space for action' for (ex-)partners: voice, choices and wellbeing",
    3: "Safety and freedom from violence and abuse for (ex-)partners and children",
    4: "Safe, positive and shared parenting",
    5: "Awareness of self and others for the person on the programme, including the impact of their abuse",
    6: "Safer, healthier childhoods in which children feel heard and cared about",
}
NOT_MEASURED = "not measured by this data"


def _fmt_pp(est, lo, hi, n, what, conf) -> str:
    return f"{what}: {est:+.1f} percentage points ({conf} {lo:+.1f} to {hi:+.1f}; {n} paired (ex-)partners)"


def _space_for_action_measure(add, data, baseline: str, followup: str, alpha: float, conf: str) -> None:
    """Mirabal measure 2 from the space-for-action scale, among (ex-)partners answering both waves."""
    sfa = space_for_action(data, baseline=baseline, followup=followup, alpha=alpha).summary
    ch = sfa[sfa["measure"] == "paired change"].iloc[0]
    if ch["n"] > 0:
        add(2, "partner_surveys.csv: space_for_action (0-100)", "measured",
            f"space for action, mean change {baseline} to {followup}: {ch['estimate']:+.1f} points "
            f"({conf} {ch['ci_lower']:+.1f} to {ch['ci_upper']:+.1f}; {int(ch['n'])} paired (ex-)partners)",
            ch["estimate"], ch["ci_lower"], ch["ci_upper"], int(ch["n"]))
    else:  # measured, of nobody: a report shows it like a measure of a few (issue 26: "no one answered both")
        add(2, "partner_surveys.csv: space_for_action (0-100)", "measured",
            f"space for action, mean change {baseline} to {followup}: no (ex-)partner answered both", n=0)


def _child_protection_measure(add, data, alpha: float, conf: str) -> None:
    """Mirabal measure 6 from linked children's services records (12 months before referral vs after exit)."""
    from dapp_eval.analyses import followup as _fu

    try:
        ba = _fu.before_after(data, outcomes=("childrens_services",), alpha=alpha).summary
        chg = ba[(ba["measure"] == "any incident") & (ba["period"] == "change")].iloc[0]
        add(6, "incidents.csv: child_protection records (12 months before referral vs after exit)", "measured",
            f"people with children's services involvement: {chg['estimate']:+.1f} percentage points "
            f"({conf} {chg['ci_lower']:+.1f} to {chg['ci_upper']:+.1f}; {int(chg['n'])} people)",
            chg["estimate"], chg["ci_lower"], chg["ci_upper"], int(chg["n"]))
    except AnalysisError as err:
        add(6, "incidents.csv: child_protection records", f"not estimable: {err}")


def mirabal_measures(data, *, baseline: str = "T1", followup: str = "T4", primary: str = "physical_violence",
                     alpha: float = 0.05) -> AnalysisResult:
    """The six Project Mirabal measures of success, each with the data that inform it.

    For each measure: which data in the folder inform it and the headline
    estimate among (ex-)partners answering both ``baseline`` and
    ``followup``, or "not measured by this data".  Measures 1, 4 and 5
    need relationship, parenting and self-awareness items that the data
    contract does not hold.

    Returns
    -------
    AnalysisResult
        ``summary`` columns: ``measure_no``, ``measure``, ``informed_by``,
        ``status``, ``headline`` (plain words), ``estimate``, ``ci_lower``,
        ``ci_upper``, ``n``.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> mm = mirabal_measures(data).summary
    >>> sorted(mm.loc[mm["status"] == "measured", "measure_no"].unique().tolist())
    [2, 3, 6]
    """
    alpha = check_alpha(alpha)
    conf = f"{level_text(alpha)} CI"
    surveys = getattr(data, "partner_surveys", None)
    has_sv = surveys is not None and data.folder_rows("partner_surveys") > 0  # a site's part may be empty
    has_inc = getattr(data, "incidents", None) is not None
    rows = []

    def add(no, informed_by, status, headline="", est=np.nan, lo=np.nan, hi=np.nan, n=np.nan):
        rows.append({"measure_no": no, "measure": MIRABAL_MEASURES[no], "informed_by": informed_by,
                     "status": status, "headline": headline, "estimate": est,
                     "ci_lower": lo, "ci_upper": hi, "n": n})

    add(1, "no relationship-quality items in the data contract", NOT_MEASURED)
    if has_sv:
        _space_for_action_measure(add, data, baseline, followup, alpha, conf)
        # a measure of no pairs is still measured, with n 0: a report shows it like a measure of a few pairs (a
        # reason of its own, "no (ex-)partner answered both", said so of a site's few partners; issue 26)
        no_pairs = f"no (ex-)partner answered both {baseline} and {followup}"
        try:
            pc = paired_change(data, baseline=baseline, followup=followup, primary=primary, alpha=alpha).summary
        except AnalysisError:
            pc = None
        pr = None if pc is None else pc.set_index("behaviour").loc[primary]
        if pr is not None and pr["n_pairs"] > 0:
            add(3, f"partner_surveys.csv: {primary} (primary outcome) and the other behaviours", "measured",
                _fmt_pp(pr["estimate"], pr["ci_lower"], pr["ci_upper"], int(pr["n_pairs"]),
                        f"{BEHAVIOUR_LABELS[primary].lower()}, {baseline} to {followup}", conf),
                pr["estimate"], pr["ci_lower"], pr["ci_upper"], int(pr["n_pairs"]))
        else:
            add(3, f"partner_surveys.csv: {primary} (primary outcome) and the other behaviours", "measured",
                f"{BEHAVIOUR_LABELS[primary].lower()}, {baseline} to {followup}: {no_pairs}", n=0)
        fs = feeling_safe(data, baseline=baseline, followup=followup, alpha=alpha).paired
        vs = fs[fs["measure"].str.startswith("very safe")].iloc[0]
        if vs["n_pairs"] > 0:
            add(3, "partner_surveys.csv: feels_safe (1-5)", "measured",
                _fmt_pp(vs["estimate"], vs["ci_lower"], vs["ci_upper"], int(vs["n_pairs"]), "feeling very safe", conf),
                vs["estimate"], vs["ci_lower"], vs["ci_upper"], int(vs["n_pairs"]))
        else:
            add(3, "partner_surveys.csv: feels_safe (1-5)", "measured", f"feeling very safe: {no_pairs}", n=0)
    else:
        where = "has no rows yet" if surveys is not None else "is not in this folder"
        add(2, f"partner_surveys.csv {where}", NOT_MEASURED)
        add(3, f"partner_surveys.csv {where}", NOT_MEASURED)
    add(4, "no parenting items in the data contract", NOT_MEASURED)
    add(5, "no self-awareness items in the data contract (risk scores measure risk, not awareness)", NOT_MEASURED)
    if has_sv:
        ce = None if pc is None else pc.set_index("behaviour").loc["child_exposed"]
        if ce is not None and ce["n_pairs"] > 0:
            add(6, "partner_surveys.csv: child_exposed", "measured",
                _fmt_pp(ce["estimate"], ce["ci_lower"], ce["ci_upper"], int(ce["n_pairs"]),
                        f"children seeing or hearing abuse, {baseline} to {followup}", conf),
                ce["estimate"], ce["ci_lower"], ce["ci_upper"], int(ce["n_pairs"]))
        else:
            add(6, "partner_surveys.csv: child_exposed", "measured",
                f"children seeing or hearing abuse, {baseline} to {followup}: {no_pairs}", n=0)
    if has_inc:
        _child_protection_measure(add, data, alpha, conf)
    if not has_sv and not has_inc:
        add(6, "neither partner_surveys.csv nor incidents.csv is in this folder", NOT_MEASURED)
    summary = pd.DataFrame(rows)
    summary["n"] = summary["n"].astype("Int64")
    meta = make_meta(n_in=6, alpha=alpha, unit="Mirabal measures",
                     method="Headline estimates from paired (ex-)partner reports (Newcombe method 10) and "
                            "linked records; measures without data in the contract are marked.",
                     baseline=baseline, followup=followup, primary=primary)
    return AnalysisResult(summary=summary, meta=meta, title="Project Mirabal measures of success")


# ---------------------------------------------------------------------------
# what each column of the tables is (read by the release's publication step)
# ---------------------------------------------------------------------------


def holm_published(pub: pd.DataFrame) -> pd.DataFrame:
    """Holm over the published p-values of the secondary rows; a p-value not shown counts as 1 among the
    tests (never as if absent) and a row whose own p-value is not shown shows no adjusted one."""
    from dapp_eval.estimators.proportions import holm

    p = pd.to_numeric(pub["p_value"], errors="coerce").to_numpy(dtype=float)
    sec = (pub["role"] == "secondary").to_numpy()
    adj = p.copy()
    adj[sec] = holm(np.where(np.isnan(p[sec]), 1.0, p[sec]))
    adj[np.isnan(p)] = np.nan
    return pd.DataFrame({"p_adjusted": adj})


#: every count of the paired table is a part of its pairs: "0 started" or "all reported it at T4" among
#: fewer than twice the threshold pairs is withheld like a small count (the zero rule), and the statistics
#: built on it with it
PAIRED_ZERO_RULE = {c: "n_pairs" for c in ("n_yes_baseline", "n_yes_followup", "n_stopped", "n_started")}


def paired_roles(cols, alpha: float) -> list:
    """What each column of a paired-change table is: its statistics come from the published 2x2 cells and
    are withheld when a cell is from 1 to threshold - 1 (issue 26: they gave a hidden 'started' back)."""
    from dapp_eval.columns import Count, Derived, Label, Proportion

    counts = tuple(c for c in ("n_pairs", "n_missing_item", "n_yes_baseline", "n_yes_followup", "n_stopped",
                               "n_started") if c in cols)
    cells = ("n_pairs", "n_yes_baseline", "n_yes_followup", "n_stopped", "n_started")
    stats_cols = tuple(c for c in ("estimate", "ci_lower", "ci_upper", "p_value") if c in cols)
    roles = [Label(*[c for c in ("behaviour", "label", "role", "baseline", "followup") if c in cols]),
             Count(*counts),
             Derived(stats_cols, partial(paired_stats, alpha=alpha), inputs=cells, small=paired_cells)]
    roles += [Proportion(k, "n_pairs", estimate=e, ci=None)
              for k, e in (("n_yes_baseline", "prop_baseline"), ("n_yes_followup", "prop_followup")) if e in cols]
    if "p_adjusted" in cols:
        roles.append(Derived(("p_adjusted",), holm_published, hidden_ok=True))
    return roles


def _proportion_roles(keys, counts, numerator: str, denominator: str) -> list:
    from dapp_eval.columns import Count, Label, Proportion

    return [Label(*keys), Count(*counts), Proportion(numerator, denominator)]


"""Comparisons: sites against each other (funnel plot), and the programme against a comparison cohort (weighting).

A funnel plot shows each site's completion proportion against its number of
people, with control limits around the pooled proportion that narrow as the
number grows (Spiegelhalter 2005, "Funnel plots for comparing institutional
performance"). Sites inside the inner limits (at the plan's confidence level,
95% by default) differ from the pooled rate by no
more than chance would produce; outside the 99.8% limits is a strong signal.
Limits follow the Wilson score method, as Public Health England's funnel-plot
tools do for proportions.

The proportion plotted is the commissioner's completion rate in the cohort
whose follow-up is complete: people who started at least the planned length
plus the grace period before the extract date, and the share of them who
completed within that time. Everyone in that cohort has reached the horizon
or left, so the proportion has a plain binomial denominator and estimates the
same quantity as the cumulative incidence of completion at the horizon,
without the bias against sites with many open cases that "completion among
closed episodes" has (open episodes are mostly the ones still on track to
complete). People who started later are counted in ``n_recent`` and left out.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.columns import Count, Derived, Label, Proportion
from dapp_eval.errors import AnalysisError, NobodyError
from dapp_eval.estimators.proportions import wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, level_text, make_meta

__all__ = ["site_funnel", "weighted_comparison", "wilson_limits", "funnel_positions", "funnel_roles"]


def wilson_limits(p0: float, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson-score control limits around a target proportion ``p0`` for sample sizes ``n``.

    Examples
    --------
    >>> lo, hi = wilson_limits(0.5, [100], 1.959964)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4038, 0.5962)
    """
    n = np.asarray(n, dtype=float)
    centre = (p0 + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p0 * (1 - p0) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


_LIMITS = ["limit_inner_lower", "limit_inner_upper", "limit_outer_lower", "limit_outer_upper"]


def funnel_positions(counts: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each site's funnel limits at its size and its position against them, from the counts ``n`` and
    ``n_completed`` (the published ones, in a release): the pooled proportion is theirs too.

    A row whose counts are missing (not published) has none; when any site's count is missing, the pooled
    proportion is not known and no row has a position.

    Examples
    --------
    >>> t = pd.DataFrame({"n": [100.0, 100.0, 400.0], "n_completed": [40.0, 75.0, 200.0]})
    >>> funnel_positions(t)["position"].tolist()
    ['below 95% limit', 'above 99.8% limit', 'inside limits']
    """
    n = pd.to_numeric(counts["n"], errors="coerce").to_numpy(float)
    k = pd.to_numeric(counts["n_completed"], errors="coerce").to_numpy(float)
    out = pd.DataFrame(np.nan, index=counts.index, columns=[*_LIMITS, "position"]).astype(object)
    if np.isnan(n).any() or np.isnan(k).any() or n.sum() <= 0:
        return out.assign(**{c: np.nan for c in _LIMITS})
    p0 = k.sum() / n.sum()
    z_in, z_out = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(0.999)
    with np.errstate(invalid="ignore", divide="ignore"):
        li, ui = wilson_limits(p0, np.where(n > 0, n, np.nan), z_in)
        lo, uo = wilson_limits(p0, np.where(n > 0, n, np.nan), z_out)
        est = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    inner = level_text(alpha)
    pos = np.select([n <= 0, est > uo, est < lo, est > ui, est < li],
                    ["no episodes with complete follow-up", "above 99.8% limit", "below 99.8% limit",
                     f"above {inner} limit", f"below {inner} limit"], "inside limits")
    return pd.DataFrame({"limit_inner_lower": li, "limit_inner_upper": ui, "limit_outer_lower": lo,
                         "limit_outer_upper": uo, "position": pos}, index=counts.index)


def site_starters(t: pd.DataFrame) -> pd.Series:
    """A site's starters: those followed to the horizon and those started too recently."""
    return pd.to_numeric(t["n"], errors="coerce") + pd.to_numeric(t["n_recent"], errors="coerce")


def funnel_roles(alpha: float) -> list:
    """The roles of :func:`site_funnel`'s summary: the proportion, the limits and the position are all worked
    out again from the published counts (a site's exact point gave its counts back, issue 26)."""
    # those started too recently are a part of the site's starters (a11 B8: "0 too recent" at a site of a few
    # starters said that every one of them had left)
    return [Label("site_id", "site_name", "programme_model"), Count("n", "n_completed"),
            Count("n_recent", total=site_starters),
            Proportion("n_completed", "n"),
            Derived((*_LIMITS, "position"), functools.partial(funnel_positions, alpha=alpha),
                    inputs=("n", "n_completed"))]


def site_funnel(data, *, alpha: float = 0.05, grace_weeks: float = 4,
                exit_time: str = "last_session") -> AnalysisResult:
    """Completion rate per site in cohorts with complete follow-up, with funnel-plot control limits.

    Parameters
    ----------
    data : ProgrammeData
    alpha : float
        For each site's own Wilson interval (the funnel's inner limits are at the same level; the outer at 99.8%).
    grace_weeks : float
        Added to the planned length (weeks) to give each episode's horizon.
    exit_time : {"last_session", "exit_date"}
        As in :func:`dapp_eval.analyses.attrition.episode_times`.

    Returns
    -------
    AnalysisResult
        ``summary``: site_id, site_name, programme_model, n (started at least
        their horizon before the extract date), n_completed (completed within
        the horizon), n_recent (started too recently; left out), estimate,
        ci_lower, ci_upper, limit95_lower/upper, limit998_lower/upper at the
        site's n, and ``position`` (inside, above/below the inner limit, above/below
        99.8%). ``tables["limits"]``: the limit curves over n for plotting.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> res = site_funnel(load_programme("data_synthetic"))
    >>> int(res.summary["n"].sum()) == int(res.meta["n_used"])
    True
    """
    from dapp_eval.analyses.attrition import episode_times

    alpha = check_alpha(alpha)
    et = episode_times(data, exit_time=exit_time)
    ep = et.tables["episodes"].copy()
    n_in = et.meta["n_in"]
    excluded = dict(et.meta["excluded"])
    extract = ep["site_id"].map(data.sites.set_index("site_id")["data_extract_date"])
    horizon = (ep["planned"].astype(float) + float(grace_weeks)) * 7.0
    followed = (extract - ep["start_date"]).dt.days >= horizon
    recent = ~followed
    excluded["started less than the planned length + grace before the extract date"] = int(recent.sum())
    ep["completed_by_horizon"] = (ep["outcome"] == "completed") & (ep["time_days"] <= horizon)
    sub = ep[followed]
    g = sub.groupby("site_id")
    per = pd.DataFrame({"n": g.size(), "n_completed": g["completed_by_horizon"].sum().astype(int)})
    per["n_recent"] = ep[recent].groupby("site_id").size().reindex(per.index).fillna(0).astype(int)
    per = data.sites.set_index("site_id")[["site_name", "programme_model"]].join(per, how="left")
    per[["n", "n_completed", "n_recent"]] = per[["n", "n_completed", "n_recent"]].fillna(0).astype(int)
    per = per.reset_index()
    total_n = int(per["n"].sum())
    if total_n == 0:
        raise NobodyError("no site has started episodes with complete follow-up (planned length + grace before "
                            "the extract date): the completion funnel plot needs at least one")
    p0 = per["n_completed"].sum() / total_n
    n = per["n"].to_numpy(float)
    est = per["n_completed"] / per["n"].where(per["n"] > 0)
    lo_i, hi_i = wilson_ci(per["n_completed"].to_numpy(float), n, alpha=alpha)
    per["estimate"], per["ci_lower"], per["ci_upper"] = est, lo_i, hi_i
    z95, z998 = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(0.999)
    inner = level_text(alpha)
    pos = funnel_positions(per, alpha)
    for c in pos.columns:
        per[c] = pos[c].to_numpy()
    grid = np.unique(np.round(np.geomspace(max(1, per["n"][per["n"] > 0].min() / 2), max(per["n"].max() * 1.3, 10),
                                           120)))
    l95, u95 = wilson_limits(p0, grid, z95)
    l998, u998 = wilson_limits(p0, grid, z998)
    limits = pd.DataFrame({"n": grid, "pooled": p0, "limit_inner_lower": l95, "limit_inner_upper": u95,
                           "limit_outer_lower": l998, "limit_outer_upper": u998})
    meta = make_meta(n_in=n_in, excluded=excluded, alpha=alpha, unit="referrals", pooled_proportion=float(p0),
                     grace_weeks=float(grace_weeks), exit_time=exit_time, inner_level=inner,
                     method="completion within the planned length + grace among episodes that started at least that "
                            "long before the extract date (complete follow-up), per site; funnel limits = Wilson "
                            f"score limits around the pooled proportion at {inner} (the plan's level) and 99.8% "
                            "(Spiegelhalter 2005)")
    from dapp_eval.analyses import plotting

    return AnalysisResult(summary=per, meta=meta, tables={"limits": limits}, title="Comparison of sites",
                          roles={"summary": funnel_roles(alpha)}, _plotter=plotting.plot_site_funnel)


# ---------------------------------------------------------------------------
# programme vs comparison cohort: propensity weighting (ATT) with balance and E-values
# ---------------------------------------------------------------------------


def _effect_row(measure, unit, fit, scale, alpha):
    from dapp_eval.estimators.sensitivity import evalues_rr

    ci = fit.conf_int(alpha).loc["treat"]
    b = float(fit.params["treat"])
    row = {"measure": measure, "unit": unit, "mean_programme": fit.info["mean_treated"],
           "mean_comparison_weighted": fit.info["mean_comparison"], "p_value": float(fit.pvalues["treat"])}
    if scale == "ratio":
        est, lo, hi = np.exp(b), np.exp(float(ci["ci_lower"])), np.exp(float(ci["ci_upper"]))
        ev = evalues_rr(est, lo, hi).loc["E-value"]
        row.update(estimate=est, ci_lower=lo, ci_upper=hi, e_value=float(ev["point"]),
                   e_value_ci=float(ev["lower"] if est >= 1 else ev["upper"]))
    else:
        f = 100.0 if unit == "percentage points" else 1.0
        row.update(estimate=f * b, ci_lower=f * float(ci["ci_lower"]), ci_upper=f * float(ci["ci_upper"]),
                   e_value=np.nan, e_value_ci=np.nan)
    return row


def weighted_comparison(data, comparison, *, outcome="police", covariates=None, before=(-365, 0), after=(0, 365),
                        population: str = "started", comparison_population: str = "all", trim: float | None = 0.99,
                        proven: bool = False, lag_days: int = 183, alpha: float = 0.05) -> AnalysisResult:
    """Programme cohort vs a comparison cohort by propensity weighting (the effect in the programme's people).

    The cohorts, windows and covariates are those of
    :func:`dapp_eval.analyses.followup.matched_comparison` (``comparison`` is another
    programme-data folder; one-year outcome window ``after`` from the index
    referral, the ``before`` window gives the prior-incident covariate).
    Instead of discarding unmatched people, everyone is kept and the
    comparison cohort is reweighted to look like the programme cohort:

    * ATT weights from a logistic propensity score: 1 for the programme,
      ``ps / (1 - ps)`` for the comparison (``WeightIt``, ``estimand =
      "ATT"``); comparison weights above their ``trim`` centile are set to it
      (``WeightIt::trim``; stated in ``meta``, ``trim=None`` keeps them all);
    * a balance table as ``cobalt::bal.tab`` gives it (differences before and
      after weighting: standardised by the programme cohort's SD for
      continuous covariates, differences in proportions for binary ones;
      variance ratios), with the propensity score itself;
    * weighted outcome comparison with HC0 robust SEs (weights treated as
      known): any incident in the window (risk ratio and difference in
      percentage points) and incidents per person (rate ratio and difference);
    * E-values (VanderWeele & Ding 2017) for the two ratios and the
      confidence limit nearer the null: how strongly an unmeasured
      confounder would have to be associated with both being in the
      programme and the outcome (risk-ratio scale) to explain the estimate
      away.

    Returns
    -------
    AnalysisResult
        ``summary``: measure, unit, estimate, ci_lower, ci_upper, p_value,
        e_value, e_value_ci, mean_programme, mean_comparison_weighted;
        ``tables["balance"]`` (covariate, type, diff_before, diff_after,
        var_ratio_before, var_ratio_after, means; plus smd_before/smd_after for
        the love plot), ``tables["weights"]`` (participant_id, cohort, ps,
        weight); ``model``: the propensity fit.

    Examples
    --------
    >>> from dapp_eval.data.io import load_programme
    >>> data = load_programme("data_synthetic")
    >>> res = weighted_comparison(data.subset(sites=["S01", "S02"]), data.subset(sites=["S03", "S04"]))
    >>> res.summary["measure"].tolist()[:2]
    ['any incident in the window: risk ratio', 'any incident in the window: difference']
    >>> bool(res.balance["diff_after"].abs().max() < res.balance["diff_before"].abs().max())
    True
    """
    from dapp_eval.analyses.followup import DEFAULT_COVARIATES, comparison_cohorts
    from dapp_eval.estimators.weighting import att_weights, balance_table, weighted_outcome

    alpha = check_alpha(alpha)
    covariates = DEFAULT_COVARIATES if covariates is None else tuple(covariates)
    name, both, X, Xm, n_in, excluded, comp_meta, nt, nc = comparison_cohorts(
        data, comparison, outcome=outcome, covariates=covariates, before=before, after=after, population=population,
        comparison_population=comparison_population, proven=proven, lag_days=lag_days)
    t = both["treated"].to_numpy()
    try:
        fit = att_weights(Xm, t, trim=trim)
    except (ValueError, np.linalg.LinAlgError) as err:
        raise AnalysisError(f"the propensity model for the weighted comparison cannot be fitted: {err}") from None
    w = fit.info["weights"]
    balance = balance_table(X.assign(**{"propensity score": fit.info["ps"]}), t, w)
    balance["smd_before"], balance["smd_after"] = balance["diff_before"], balance["diff_after"]
    y = both["y_after"].to_numpy(dtype=float)
    rows = []
    for measure, unit, yy, scale in (
            ("any incident in the window: risk ratio", "ratio", (y > 0).astype(float), "ratio"),
            ("any incident in the window: difference", "percentage points", (y > 0).astype(float), "difference"),
            ("incidents per person: rate ratio", "ratio", y, "ratio"),
            ("incidents per person: difference", "mean count", y, "difference")):
        try:
            res = weighted_outcome(yy, t, w, scale=scale, alpha=alpha)
        except ValueError as err:
            rows.append({"measure": measure, "unit": unit, "estimate": np.nan, "ci_lower": np.nan,
                         "ci_upper": np.nan, "p_value": np.nan, "e_value": np.nan, "e_value_ci": np.nan,
                         "note": f"not estimable: {err}"})
            continue
        rows.append({**_effect_row(measure, unit, res, scale, alpha), "note": ""})
    summary = pd.DataFrame(rows)
    trim_text = ("no truncation" if trim is None else
                 f"comparison weights above their {100 * trim:g}th centile ({fit.info['trim_value']:.3g}) set to it "
                 f"({fit.info['n_trimmed']} weights)")
    big = balance.loc[balance["covariate"] != "propensity score", "diff_after"].abs()
    too_small = nt < 60  # the Justice Data Lab's minimum cohort, as matched_comparison
    flag = (f"Only {nt} people in the programme cohort: too small to conclude (the Justice Data Lab needs at "
            "least 60)." if too_small else "")
    meta = make_meta(n_in=n_in, excluded=excluded, unit="people in the programme cohort", alpha=alpha, outcome=name,
                     windows={"before": before, "after": after}, trim=trim, trim_text=trim_text,
                     n_comparison_in=comp_meta.get("n_in"), comparison_excluded=comp_meta.get("excluded"),
                     n_comparison_eligible=nc, n_programme=nt, ess_comparison=fit.info["ess_comparison"],
                     max_abs_diff_after=float(big.max()) if len(big) else np.nan, too_small=too_small,
                     too_small_note=flag,
                     method=("Logistic propensity score; ATT weights (1 for the programme, ps/(1-ps) for the "
                             f"comparison), {trim_text}; balance as cobalt::bal.tab (SMD with the programme "
                             "cohort's SD for continuous covariates, difference in proportions for binary ones, "
                             "variance ratios); weighted outcome models with HC0 robust SE (weights treated as "
                             "known); E-values (VanderWeele & Ding 2017) for the ratios."),
                     caveat=("Weighting balances only the measured characteristics. The E-value is the strength "
                             "(as a risk ratio) that an unmeasured difference between the cohorts would need with "
                             "both joining the programme and the outcome to explain the estimate away; a small "
                             "E-value means a modest unmeasured difference could. " + flag).strip())
    from dapp_eval.analyses import plotting

    weights = pd.DataFrame({"participant_id": both["participant_id"].to_numpy(), "cohort": both["cohort"].to_numpy(),
                            "ps": fit.info["ps"], "weight": w})
    return AnalysisResult(summary=summary, meta=meta, model=fit,
                          tables={"balance": balance, "weights": weights},
                          title="Programme vs weighted comparison cohort",
                          _plotter=lambda r, ax=None, **kw: plotting.plot_balance(
                              r, ax, title=kw.get("title", "Covariate balance before and after weighting"),
                              adjusted="weighting"))

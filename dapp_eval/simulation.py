"""Simulation study of the headline figures (ADEMP), with Monte Carlo standard errors as rsimsum reports them.

A simulation study in the ADEMP structure of Morris, White & Crowther (2019, *Statistics in Medicine*
38:2074-2102):

Aims
    Do the analyses behind the headline figures recover the truth of the population they use, with
    intervals that cover it 95% of the time, at the sizes commissioners have?
Data-generating mechanisms
    :class:`Scenario`: :func:`dapp_eval.synthetic.simulate` with a number of referrals, sites and a
    named parameter set (``synthetic.SCENARIOS``); replication ``i`` uses seed ``seed0 + i``.
Estimands
    :data:`ESTIMANDS`: each headline figure with an interval, with its true value computed per
    replication from the generator's truth (:func:`true_values`). Where a figure's population is a
    mixture (the people assessed twice are mostly completers), the truth is the mixture actually
    analysed, and the completers-only truth is given beside it (``true_completers``).
Methods
    :func:`analyse`: the functions the report calls (:func:`dapp_eval.commissioner.headlines.headline_figures`
    with the default plan), plus the completion rate and dropout Cox model with and without the
    recording-lag rule (:mod:`dapp_eval.analyses.attrition`), and the two before/after rate-ratio models.
Performance measures
    :func:`performance`: bias, empirical SE, model SE, relative error in the model SE, mean squared
    error and coverage, each with its Monte Carlo SE, by the formulas of rsimsum's
    ``.performance`` (``R/performance.R``): bias MCSE ``sqrt(sum((est - mean)^2) / (n (n - 1)))``;
    empirical SE MCSE ``empse / sqrt(2 (n - 1))``; model SE ``sqrt(mean(se^2))`` with MCSE
    ``sqrt(var(se^2) / (4 n modelse^2))``; coverage MCSE ``sqrt(cover (1 - cover) / n)``.

The model SE of an interval that is not estimate +/- z SE (Wilson, log-log, log scale) is the
interval's half-width over z, ``(upper - lower) / (2 z)``; coverage always uses the interval itself
(rsimsum's ``ci.limits``).

Not part of ``make test``: ``dapp-eval simulate`` (or ``python -m dapp_eval.simulation``) runs the
study of ``docs/validation.md``; ``tests/test_simulation.py`` runs a few replications.

Examples
--------
>>> import pandas as pd
>>> res = pd.DataFrame({"estimate": [0.9, 1.1, 1.0, 1.2], "se": [0.1, 0.1, 0.1, 0.1], "true": 1.0})
>>> p = performance(res).set_index("stat")
>>> round(float(p.loc["bias", "est"]), 3), round(float(p.loc["bias", "mcse"]), 4)
(0.05, 0.0645)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Scenario", "ESTIMANDS", "DEFAULT_SCENARIOS", "performance", "simsum", "true_values", "analyse",
           "replicate", "run", "report", "add_arguments", "simulate_command", "main"]

_Z = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Scenario:
    """A data-generating mechanism: arguments of :func:`dapp_eval.synthetic.simulate`."""

    name: str
    referrals: int
    sites: int
    years: int = 2
    parameters: str = "default"


#: the two sizes of docs/validation.md
DEFAULT_SCENARIOS = (Scenario("2000 referrals, 5 sites", 2000, 5), Scenario("5 sites of about 100", 500, 5))

#: estimand code -> (plain description, population)
ESTIMANDS: dict[str, tuple[str, str]] = {
    "completion_rate": ("completion rate (cumulative incidence at planned length + 4 weeks)",
                        "everyone who started"),
    "dropout_log_hr_wait": ("dropout log hazard ratio per 30 days' wait", "everyone who started"),
    "dropout_log_hr_substance": ("dropout log hazard ratio, substance misuse", "everyone who started"),
    "reliable_risk_reduction": ("share with a reliable reduction in DASH", "people assessed at intake and exit"),
    "risk_score_change": ("mean change in DASH (exit - intake)", "people assessed at intake and exit"),
    "partner_feels_safer": ("share of (ex-)partners feeling safer at T4 than T1",
                            "(ex-)partners who answered both surveys"),
    "police_before": ("any police involvement, 12 months before referral", "people with both windows"),
    "police_after": ("any police involvement, 12 months after leaving", "people with both windows"),
    "marac_before": ("any MARAC referral, 12 months before referral", "people with both windows"),
    "marac_after": ("any MARAC referral, 12 months after leaving", "people with both windows"),
    "police_log_rate_ratio": ("log of police records per person-year, after / before", "people with both windows"),
}


# ---------------------------------------------------------------------------
# performance measures (rsimsum)
# ---------------------------------------------------------------------------


def performance(results: pd.DataFrame, *, estimate: str = "estimate", true: str = "true", se: str | None = "se",
                ci_limits: tuple[str, str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Performance measures and their Monte Carlo SEs for one method and estimand (rsimsum ``.performance``).

    Parameters
    ----------
    results : DataFrame
        One row per replication. Rows with a missing estimate (or SE) are left out, as rsimsum's
        ``na.rm``; the count used is ``nsim``.
    estimate, true, se : str
        Columns of the estimate, the true value (may vary by replication) and the model SE.
    ci_limits : (str, str), optional
        Columns of the interval; coverage uses it instead of estimate +/- z SE.
    level : float
        Nominal level of the intervals when ``ci_limits`` is not given.

    Returns
    -------
    DataFrame
        ``stat`` (nsim, thetamean, bias, empse, mse, modelse, relerror, cover, becover), ``est``, ``mcse``.
    """
    d = results
    keep = d[estimate].notna() & d[true].notna()
    if se is not None:
        keep &= d[se].notna()
    if ci_limits is not None:
        keep &= d[ci_limits[0]].notna() & d[ci_limits[1]].notna()
    d = d[keep]
    n = len(d)
    th = d[estimate].to_numpy(float)
    tr = d[true].to_numpy(float)
    rows = {"nsim": (float(n), np.nan)}
    if n < 2:
        return pd.DataFrame({"stat": list(rows), "est": [v[0] for v in rows.values()],
                             "mcse": [v[1] for v in rows.values()]})
    mean = th.mean()
    rows["thetamean"] = (mean, np.nan)
    dev2 = ((th - mean) ** 2).sum()
    rows["bias"] = (float((th - tr).mean()), math.sqrt(dev2 / (n * (n - 1))))
    empse = math.sqrt(dev2 / (n - 1))
    rows["empse"] = (empse, empse / math.sqrt(2 * (n - 1)))
    sq = (th - tr) ** 2
    mse = float(sq.mean())
    rows["mse"] = (mse, math.sqrt(((sq - mse) ** 2).sum() / (n * (n - 1))))
    if se is not None:
        s2 = d[se].to_numpy(float) ** 2
        modelse = math.sqrt(s2.mean())
        s2var = float(np.var(s2, ddof=1))
        rows["modelse"] = (modelse, math.sqrt(s2var / (4 * n * modelse**2)) if modelse > 0 else np.nan)
        rel = 100 * (modelse / empse - 1) if empse > 0 else np.nan
        rel_mcse = (100 * (modelse / empse) * math.sqrt(s2var / (4 * n * modelse**4) + 1 / (2 * (n - 1)))
                    if empse > 0 and modelse > 0 else np.nan)
        rows["relerror"] = (rel, rel_mcse)
    if ci_limits is not None:
        lo, hi = d[ci_limits[0]].to_numpy(float), d[ci_limits[1]].to_numpy(float)
    elif se is not None:
        crit = float(stats.norm.ppf(1 - (1 - level) / 2))
        s = d[se].to_numpy(float)
        lo, hi = th - crit * s, th + crit * s
    else:
        lo = hi = None
    if lo is not None:
        cover = float(((tr >= lo) & (tr <= hi)).mean())
        becover = float(((mean >= lo) & (mean <= hi)).mean())
        rows["cover"] = (cover, math.sqrt(cover * (1 - cover) / n))
        rows["becover"] = (becover, math.sqrt(becover * (1 - becover) / n))
    return pd.DataFrame({"stat": list(rows), "est": [v[0] for v in rows.values()],
                         "mcse": [v[1] for v in rows.values()]})


def simsum(results: pd.DataFrame, *, by: Sequence[str] = ("scenario", "estimand", "method"),
           true: str = "true") -> pd.DataFrame:
    """Performance of every method on every estimand: one row per group, ``<stat>`` and ``<stat>_mcse`` columns.

    ``results`` has the columns of :func:`replicate` (``estimate``, ``se``, ``ci_lower``, ``ci_upper``
    and ``true``; ``true`` may be another truth column, e.g. ``true_completers``).
    """
    out = []
    for key, g in results.groupby(list(by), sort=False):
        p = performance(g, true=true, se="se", ci_limits=("ci_lower", "ci_upper")).set_index("stat")
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["true_mean"] = float(g[true].mean())
        for stat, r in p.iterrows():
            row[stat] = r["est"]
            if stat != "nsim":
                row[f"{stat}_mcse"] = r["mcse"]
        out.append(row)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _p_safer(t1: tuple, t4: tuple, r: float) -> float:
    """P(level at T4 > level at T1) for ordinal levels cut from a bivariate normal with correlation r."""
    c1 = np.r_[-np.inf, stats.norm.ppf(np.cumsum(t1)[:-1]), np.inf]
    c4 = np.r_[-np.inf, stats.norm.ppf(np.cumsum(t4)[:-1]), np.inf]
    mvn = stats.multivariate_normal(mean=[0.0, 0.0], cov=[[1.0, r], [r, 1.0]])
    big = 40.0

    def cdf(a, b):
        a, b = np.clip(a, -big, big), np.clip(b, -big, big)
        return float(mvn.cdf([a, b]))

    total = 0.0
    for j in range(len(t1)):
        for k in range(j + 1, len(t4)):
            total += (cdf(c1[j + 1], c4[k + 1]) - cdf(c1[j], c4[k + 1]) - cdf(c1[j + 1], c4[k])
                      + cdf(c1[j], c4[k]))
    return total


def _feels_safe_truth(truth: dict) -> tuple[float, float]:
    """True P(feeling safer at T4 than T1) for partners of completers and of non-completers."""
    ps = truth["partner_surveys"]
    fs = ps["feels_safe_distribution_1_to_5"]
    r = float(ps["latent_correlation"]) ** 2  # both waves load rho on the same unit-variance latent severity
    pc = _p_safer(tuple(fs["completer"]["T1"]), tuple(fs["completer"]["T4"]), r)
    pn = _p_safer(tuple(fs["non_completer"]["T1"]), tuple(fs["non_completer"]["T4"]), r)
    return pc, pn


def _p_any(rate: np.ndarray, shape: float) -> np.ndarray:
    """P(at least one event) for Poisson counts with mean rate x gamma frailty (mean 1, given shape)."""
    return 1.0 - (1.0 + rate / shape) ** (-shape)


def _window_years(persons: pd.DataFrame, referrals: pd.DataFrame, per: dict, window: str) -> np.ndarray:
    """Multiplier-weighted years in each person's before or after window, from the generator's change points.

    The generator's rate multiplier for a person is piecewise constant: ``before_referral_12m`` from 365 days
    before each referral, ``referral_to_exit`` from the referral, the exit group's ``after_exit`` from the
    exit date unless the person's next referral's 12-month window has already begun (``synthetic._incidents``).
    A re-referral inside an after window therefore raises the true rate there.
    """
    col_a, col_b = (("before_start", "before_end") if window == "before" else ("after_start", "after_end"))
    epoch = pd.Timestamp("1970-01-01")

    def days(x):
        return ((pd.to_datetime(x) - epoch) // pd.Timedelta(days=1)).astype("Int64")

    ref = referrals[referrals["participant_id"].isin(persons["participant_id"])]
    ref = ref.assign(_r=days(ref["referral_date"]), _e=days(ref["exit_date"])).sort_values(["participant_id", "_r"])
    points: dict[str, list[tuple[int, int, float]]] = {}
    for pid, g in ref.groupby("participant_id", sort=False):
        r = g["_r"].to_numpy(dtype=float)
        e = g["_e"].to_numpy(dtype=float, na_value=np.nan)
        nxt = np.r_[r[1:] - 365, np.inf]
        pts = [(-10**9, 0, float(per["background"]))]
        for k in range(len(r)):
            pts.append((int(r[k]) - 365, 1, float(per["before_referral_12m"])))
            pts.append((int(r[k]), 2, float(per["referral_to_exit"])))
            if np.isfinite(e[k]) and e[k] < nxt[k]:
                pts.append((int(e[k]), 3, float(per["after_exit"].get(g["exit_reason"].iloc[k], 1.0))))
        points[pid] = sorted(pts)
    a_all, b_all = days(persons[col_a]).to_numpy(dtype=float), days(persons[col_b]).to_numpy(dtype=float)
    out = np.zeros(len(persons))
    for i, pid in enumerate(persons["participant_id"]):
        pts = points[pid]
        a, b = a_all[i], b_all[i]
        total = 0.0
        for j, (d0, _, m) in enumerate(pts):
            d1 = pts[j + 1][0] if j + 1 < len(pts) else np.inf
            lo, hi = max(a, d0), min(b, d1)
            if hi > lo:
                total += m * (hi - lo)
        out[i] = total / 365.25
    return out


def true_values(truth: dict, tables: dict, analysed: dict) -> dict[str, dict[str, float]]:
    """True value of every estimand in one replication, for the population the analysis used.

    Parameters
    ----------
    truth : dict
        ``SyntheticProgramme.truth``.
    tables : dict
        ``SyntheticProgramme.tables``.
    analysed : dict
        From :func:`analyse`: ``risk_pairs`` (exit group counts of the pairs analysed),
        ``safety_pairs`` (referral ids of the partners paired), ``persons`` (the follow-up people).

    Returns
    -------
    dict
        estimand -> ``{"true": mixture analysed, "true_completers": completers-only truth}``.
    """
    out: dict[str, dict[str, float]] = {}
    pc = float(truth["funnel_model"]["expected_completion_probability_started"])
    out["completion_rate"] = {"true": pc, "true_completers": np.nan}
    lhr = truth["dropout_log_hr"]
    out["dropout_log_hr_wait"] = {"true": lhr["wait_per_30d"], "true_completers": np.nan}
    out["dropout_log_hr_substance"] = {"true": lhr["substance_misuse"], "true_completers": np.nan}

    exp_obs = truth["risk"]["expected_observed_intake_to_exit"]
    groups = analysed["risk_pairs"]  # exit_reason -> n
    n = sum(groups.values())
    for code, key in (("reliable_risk_reduction", "share_reliable_improvement"), ("risk_score_change", "mean_change")):
        mix = sum(k * exp_obs[g][key] for g, k in groups.items()) / n if n else np.nan
        out[code] = {"true": mix, "true_completers": exp_obs["completed"][key]}

    p_c, p_n = _feels_safe_truth(truth)
    share = analysed["safety_completer_share"]
    out["partner_feels_safer"] = {"true": share * p_c + (1 - share) * p_n if np.isfinite(share) else np.nan,
                                  "true_completers": p_c}

    inc = truth["incidents"]
    per = inc["period_multiplier"]
    persons = analysed["persons"]
    prior = persons["prior_da_police_contact"].astype("boolean")
    p_prior = float(truth["covariate_distributions"]["prior_da_police_contact"]["p"])
    mult_prior = float(inc["prior_contact_multiplier"])
    shape = float(truth["parameters"]["incidents"]["frailty_gamma_shape"])
    years = {w: _window_years(persons, tables["referrals"], per, w) for w in ("before", "after")}
    base = inc["base_rate_per_person_year"]
    rates = {"police": base["police_callout"] + base["da_crime"], "marac": base["marac_referral"]}
    known = prior.notna().to_numpy()
    pri = prior.fillna(False).to_numpy(bool)
    comp = (persons["exit_reason"] == "completed").to_numpy()
    for outcome, rate in rates.items():
        for period in ("before", "after"):
            lam1 = rate * years[period]
            p_yes = _p_any(lam1 * mult_prior, shape)
            p_no = _p_any(lam1, shape)
            p = np.where(known, np.where(pri, p_yes, p_no), p_prior * p_yes + (1 - p_prior) * p_no)
            out[f"{outcome}_{period}"] = {"true": float(p.mean()) if len(p) else np.nan,
                                          "true_completers": float(p[comp].mean()) if comp.any() else np.nan}
    m_i = np.where(known, np.where(pri, mult_prior, 1.0), p_prior * mult_prior + 1 - p_prior)
    num, den = (m_i * years["after"]).sum(), (m_i * years["before"]).sum()
    out["police_log_rate_ratio"] = {
        "true": float(math.log(num / den)) if den > 0 and num > 0 else np.nan,
        "true_completers": float(math.log(per["after_exit"]["completed"] / per["before_referral_12m"]))}
    return out


# ---------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------


def _row(estimand, method, est, lo, hi, *, se=None, n=np.nan, note=""):
    if se is None:
        se = (hi - lo) / (2 * _Z) if np.isfinite(lo) and np.isfinite(hi) else np.nan
    return {"estimand": estimand, "method": method, "estimate": float(est), "se": float(se),
            "ci_lower": float(lo), "ci_upper": float(hi), "n": float(n), "note": note}


def _attrition_rows(data, a) -> list[dict]:
    """Completion rate and dropout Cox estimates with and without the recording-lag rule (``a``: an AttritionPlan)."""
    from dapp_eval.analyses import attrition
    from dapp_eval.errors import AnalysisError

    rows: list[dict] = []
    for method, kw in (("no recording-lag rule", {"recording_lag": None}),
                       ("recording-lag rule (auto: 95th centile)", {"recording_lag": "auto"}),
                       ("exit_date time scale", {"recording_lag": None, "exit_time": "exit_date"})):
        try:
            cr = attrition.completion_rate(data, **{**a.completion_args(), **kw}).summary
            r = cr[cr["basis"].str.startswith("pooled")].iloc[0] if cr["basis"].str.startswith("pooled").any() \
                else cr.iloc[0]
            rows.append(_row("completion_rate", method, r["estimate"], r["ci_lower"], r["ci_upper"], n=r["n"]))
        except AnalysisError:
            pass
        if method == "exit_date time scale":
            continue
        try:
            cox = attrition.dropout_cox(data, exit_time=a["exit_time"], **kw).summary.set_index("term")
            for term, code in (("wait_per_30d", "dropout_log_hr_wait"), ("substance_misuse", "dropout_log_hr_substance")):
                c = cox.loc[term]
                rows.append(_row(code, "Cox, " + method, c["estimate"], c["estimate"] - _Z * c["std_error"],
                                 c["estimate"] + _Z * c["std_error"], se=c["std_error"], n=c["n"]))
        except AnalysisError:
            pass
    return rows


def analyse(data, tables: dict) -> tuple[list[dict], dict]:
    """Every method on one generated programme.

    Returns the estimate rows and the populations analysed (for :func:`true_values`).
    """
    from dapp_eval.commissioner import headlines
    from dapp_eval.data.plan import DEFAULT_PLAN, AnalysisPlan

    rows: list[dict] = []
    hf = headlines.headline_figures(data, plan=DEFAULT_PLAN)
    s = hf.summary.set_index("code")
    for code in ("completion_rate", "reliable_risk_reduction", "risk_score_change", "partner_feels_safer",
                 "police_before", "police_after", "marac_before", "marac_after"):
        r = s.loc[code]
        if pd.notna(r["value"]):
            rows.append(_row(code, "headline (default plan)", r["value"], r["ci_lower"], r["ci_upper"],
                             n=r["n_denominator"]))
    rows += _attrition_rows(data, AnalysisPlan().attrition)
    ba = hf.model.get("before_after")
    persons = pd.DataFrame(columns=["prior_da_police_contact", "exit_reason", "exposure_before", "exposure_after"])
    if ba is not None:
        persons = ba.tables["persons"]
        persons = persons[persons["eligible"]]
        rr = ba.summary[(ba.summary["outcome"] == "police") & (ba.summary["measure"] == "rate ratio (after / before)")]
        for _, r in rr.iterrows():
            if pd.notna(r["estimate"]):
                lo, hi = math.log(r["ci_lower"]), math.log(r["ci_upper"])
                rows.append(_row("police_log_rate_ratio", r["model"], math.log(r["estimate"]), lo, hi, n=r["n"]))
    # populations analysed
    ref = tables["referrals"].set_index("referral_id")
    risk_pairs: dict[str, int] = {}
    rc = hf.model.get("risk_change")
    if rc is not None:
        ra = tables["risk_assessments"]
        pr = ra[(ra["informant"] == "practitioner") & ra["score"].notna()]
        i = pr[pr["timepoint"] == "intake"].drop_duplicates("referral_id")["referral_id"]
        e = pr[pr["timepoint"] == "exit"].drop_duplicates("referral_id")["referral_id"]
        both = pd.Index(i).intersection(pd.Index(e))
        risk_pairs = ref.loc[both, "exit_reason"].fillna("open").value_counts().to_dict()
        risk_pairs = {g: k for g, k in risk_pairs.items() if g != "open"}
    sv = tables["partner_surveys"]
    fs = sv[sv["feels_safe"].notna()]
    t1 = fs[fs["wave"] == "T1"][["partner_id", "referral_id"]]
    t4 = fs[fs["wave"] == "T4"][["partner_id", "referral_id"]]
    paired = t1.merge(t4, on=["partner_id", "referral_id"]).drop_duplicates()
    share = float((ref.loc[paired["referral_id"], "exit_reason"] == "completed").mean()) if len(paired) else np.nan
    return rows, {"risk_pairs": risk_pairs, "safety_completer_share": share, "persons": persons,
                  "n_safety_pairs": len(paired)}


def replicate(scenario: Scenario, seed: int) -> pd.DataFrame:
    """One replication: generate, analyse, attach the truth. Warnings are counted, not shown."""
    from dapp_eval import synthetic
    from dapp_eval.data.io import ProgrammeData

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prog = synthetic.simulate(referrals=scenario.referrals, sites=scenario.sites, years=scenario.years,
                                  seed=seed, scenario=scenario.parameters)
        t = prog.tables
        data = ProgrammeData(sites=t["sites"], referrals=t["referrals"], sessions=t.get("sessions"),
                             risk_assessments=t.get("risk_assessments"), partners=t.get("partners"),
                             partner_surveys=t.get("partner_surveys"), incidents=t.get("incidents"),
                             source=f"synthetic seed {seed}")
        rows, analysed = analyse(data, t)
        truth = true_values(prog.truth, t, analysed)
    df = pd.DataFrame(rows)
    df["true"] = df["estimand"].map(lambda e: truth[e]["true"])
    df["true_completers"] = df["estimand"].map(lambda e: truth[e]["true_completers"])
    df.insert(0, "seed", seed)
    df.insert(0, "scenario", scenario.name)
    df["n_warnings"] = len(caught)
    return df


def _rep_star(args):
    return replicate(*args)


def run(scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS, *, reps: int = 200, seed0: int = 20_000,
        workers: int = 1, progress: bool = False, out=None) -> pd.DataFrame:
    """Every replication of every scenario (seeds ``seed0 .. seed0 + reps - 1``, the same for each scenario).

    Replications are interleaved across scenarios; with ``out`` (a CSV path) each replication's rows are
    appended as it finishes, so a study stopped early keeps what it has done.
    """
    jobs = [(sc, seed0 + i) for i in range(reps) for sc in scenarios]
    res = []
    t0 = time.time()

    def keep(k, df):
        res.append(df)
        if out is not None:
            df.to_csv(out, mode="a" if k else "w", header=not k, index=False)
        if progress and (k + 1) % 20 == 0:
            print(f"  {k + 1}/{len(jobs)} replications ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for k, df in enumerate(pool.imap(_rep_star, jobs, chunksize=1)):
                keep(k, df)
    else:
        for k, job in enumerate(jobs):
            keep(k, _rep_star(job))
    return pd.concat(res, ignore_index=True)


def _markdown(tab: pd.DataFrame, cols: list[str], fmt: dict[str, str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in tab.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(fmt[c].format(v) if c in fmt and isinstance(v, (int, float, np.floating)) and np.isfinite(v)
                         else ("" if isinstance(v, float) and not np.isfinite(v) else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(results: pd.DataFrame) -> str:
    """The tables of docs/validation.md (markdown) from :func:`run`'s results."""
    perf = simsum(results)
    perf_c = simsum(results[results["true_completers"].notna()], true="true_completers")
    for p in (perf, perf_c):
        p["bias (MCSE)"] = [f"{b:+.4f} ({m:.4f})" for b, m in zip(p["bias"], p["bias_mcse"])]
        p["empirical SE (MCSE)"] = [f"{b:.4f} ({m:.4f})" for b, m in zip(p["empse"], p["empse_mcse"])]
        p["model SE (MCSE)"] = [f"{b:.4f} ({m:.4f})" for b, m in zip(p["modelse"], p["modelse_mcse"])]
        p["coverage % (MCSE)"] = [f"{100 * b:.1f} ({100 * m:.1f})" for b, m in zip(p["cover"], p["cover_mcse"])]
        p["bias / empirical SE"] = p["bias"] / p["empse"]
    cols = ["scenario", "estimand", "method", "nsim", "true_mean", "bias (MCSE)", "bias / empirical SE",
            "empirical SE (MCSE)", "model SE (MCSE)", "coverage % (MCSE)"]
    fmt = {"nsim": "{:.0f}", "true_mean": "{:.4f}", "bias / empirical SE": "{:+.2f}"}
    out = ["### Against the truth of the population analysed", "", _markdown(perf, cols, fmt), "",
           "### Against the completers-only truth", "", _markdown(perf_c, cols, fmt), ""]
    return "\n".join(out)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``dapp-eval simulate``."""
    ap.add_argument("--reps", type=int, default=200, help="replications per scenario (default 200)")
    ap.add_argument("--seed0", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--referrals", type=int, nargs="*", default=None,
                    help="referrals per scenario (default: 2000 and 500, 5 sites each)")
    ap.add_argument("--sites", type=int, default=5)
    ap.add_argument("--parameters", default="default", help="synthetic.SCENARIOS name")
    ap.add_argument("--out", default=None, help="write every replication's estimates to this CSV")


def simulate_command(args) -> int:
    """Run the study of parsed ``args`` and print the tables of docs/validation.md."""
    if args.reps < 2:
        raise ValueError("--reps must be at least 2")
    if args.referrals:
        scen = [Scenario(f"{n} referrals, {args.sites} sites", n, args.sites, parameters=args.parameters)
                for n in args.referrals]
    else:
        scen = [Scenario(**{**asdict(s), "parameters": args.parameters}) for s in DEFAULT_SCENARIOS]
    t0 = time.time()
    res = run(scen, reps=args.reps, seed0=args.seed0, workers=args.workers, progress=True, out=args.out)
    print(report(res))
    print(f"{args.reps} replications per scenario, seeds {args.seed0}-{args.seed0 + args.reps - 1}, "
          f"{args.workers} worker(s): {time.time() - t0:.0f} s; warnings raised inside the analyses: "
          f"{int(res.groupby(['scenario', 'seed'])['n_warnings'].first().sum())}")
    return 0


def main(argv=None) -> int:
    """``python -m dapp_eval.simulation``: as ``dapp-eval simulate``."""
    ap = argparse.ArgumentParser(prog="dapp-eval simulate", description=__doc__.split("\n")[0])
    add_arguments(ap)
    return simulate_command(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

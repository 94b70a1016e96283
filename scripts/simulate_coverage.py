"""Simulation study: do cause-specific Cox confidence intervals for dropout cover the truth?

Generates ``--reps`` synthetic programmes with :func:`dapp_eval.synthetic.simulate`
(seeds ``--seed0``, ``--seed0 + 1``, ...), fits
:func:`dapp_eval.analyses.attrition.dropout_cox` to each and reports, per coefficient,
the true log hazard ratio (``truth.json``: ``dropout_log_hr``), the mean
estimate, bias, empirical SD, mean cluster-robust and model-based standard
errors, and the coverage of the 95% intervals (with its Monte Carlo standard
error). Target coverage: 92-98%.

The simulation study of every headline figure (with the dropout model's wait and substance-misuse terms,
bias / empirical SE / model SE / coverage and their Monte Carlo SEs) is :mod:`dapp_eval.simulation`
(``dapp-eval simulate``, results in ``docs/validation.md``); this script keeps the full table of dropout-model
coefficients, robust and naive SEs side by side, with the Monte Carlo SEs of :func:`dapp_eval.simulation.performance`.

Not part of the default test run. Usage (from the repository root)::

    .venv/bin/python scripts/simulate_coverage.py --reps 200 --referrals 3000
    .venv/bin/python scripts/simulate_coverage.py --reps 200 --out coverage.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dapp_eval import synthetic
from dapp_eval.analyses import attrition
from dapp_eval.data.io import ProgrammeData
from dapp_eval.simulation import performance


def one_replication(seed: int, *, referrals: int, sites: int, exit_time: str, alpha: float) -> pd.DataFrame:
    prog = synthetic.simulate(referrals=referrals, sites=sites, seed=seed)
    tabs = prog.tables
    data = ProgrammeData(sites=tabs["sites"], referrals=tabs["referrals"], sessions=tabs.get("sessions"),
                         source=f"synthetic seed {seed}")
    truth = prog.truth["dropout_log_hr"]
    res = attrition.dropout_cox(data, exit_time=exit_time, alpha=alpha)
    s = res.summary.copy()
    s["truth"] = s["term"].map(truth).fillna(0.0)  # programme-model terms have no true effect
    q = stats.norm.ppf(1 - alpha / 2)
    s["covered"] = (s["ci_lower"] <= np.exp(s["truth"])) & (np.exp(s["truth"]) <= s["ci_upper"])
    s["covered_naive"] = (np.abs(s["estimate"] - s["truth"]) <= q * s["std_error_naive"])
    s["seed"] = seed
    return s[["seed", "term", "truth", "estimate", "std_error", "std_error_naive", "covered", "covered_naive",
              "n", "n_events"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--referrals", type=int, default=3000)
    ap.add_argument("--sites", type=int, default=5)
    ap.add_argument("--seed0", type=int, default=10_000)
    ap.add_argument("--exit-time", default="last_session", choices=["last_session", "exit_date"])
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=None, help="write per-replication estimates to this CSV")
    args = ap.parse_args(argv)

    t0 = time.time()
    reps = []
    for i in range(args.reps):
        reps.append(one_replication(args.seed0 + i, referrals=args.referrals, sites=args.sites,
                                    exit_time=args.exit_time, alpha=args.alpha))
        if (i + 1) % 25 == 0:
            print(f"  {i + 1}/{args.reps} replications ({time.time() - t0:.0f} s)", flush=True)
    allr = pd.concat(reps, ignore_index=True)
    if args.out:
        allr.to_csv(args.out, index=False)
    g = allr.groupby("term", sort=False)
    tab = pd.DataFrame({
        "truth": g["truth"].first(),
        "mean_estimate": g["estimate"].mean(),
        "bias": g["estimate"].mean() - g["truth"].first(),
        "empirical_sd": g["estimate"].std(ddof=1),
        "mean_se_robust": g["std_error"].mean(),
        "mean_se_naive": g["std_error_naive"].mean(),
        "coverage_robust": g["covered"].mean(),
        "coverage_naive": g["covered_naive"].mean(),
        "n_reps": g.size(),
    })
    for term, g_ in allr.groupby("term", sort=False):
        p = performance(g_.assign(true=g_["truth"]), se="std_error").set_index("stat")
        tab.loc[term, "mc_se_bias"] = p.loc["bias", "mcse"]
        tab.loc[term, "mc_se_empirical_sd"] = p.loc["empse", "mcse"]
        tab.loc[term, "mc_se_coverage"] = p.loc["cover", "mcse"]
    pd.set_option("display.width", 160)
    print(f"\n{args.reps} replications, {args.referrals} referrals, {args.sites} sites, exit_time={args.exit_time}; "
          f"mean started episodes used {allr.groupby('seed')['n'].first().mean():.0f}, "
          f"mean dropouts {allr.groupby('seed')['n_events'].first().mean():.0f}; {time.time() - t0:.0f} s")
    print(tab.round(4).to_string())
    core = tab.loc[tab.index.isin(list(attrition.DEFAULT_COVARIATES)), "coverage_robust"]
    ok = bool(((core >= 0.92) & (core <= 0.98)).all())
    print(f"\ncoverage of the five truth.json coefficients within 92-98%: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make the deterministic input data for the risk / lmm R references.

Run from the repository root:

    .venv/bin/python tests/reference/risk_make_data.py
    Rscript tests/reference/risk_reference.R

Writes tests/reference/risk_lmm_data.csv (repeated DASH-like scores, 420
episodes in 6 sites, three timepoints, unbalanced) and
tests/reference/risk_paired_data.csv (60 intake/exit pairs). The R script
writes tests/reference/risk_reference.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_lmm_data(seed: int = 20240601, n_people: int = 420, n_sites: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    site = rng.integers(0, n_sites, n_people)
    site_eff = rng.normal(0, 1.2, n_sites)
    person_eff = rng.normal(0, 3.0, n_people)
    tp_names = ["intake", "midpoint", "exit"]
    tp_eff = np.array([0.0, -1.5, -3.0])
    rows = []
    for i in range(n_people):
        for t in range(3):
            # unbalanced: ~12% of midpoints and ~25% of exits missing; a few intakes missing
            miss = {0: 0.03, 1: 0.12, 2: 0.25}[t]
            if rng.random() < miss:
                continue
            mu = 13.0 + site_eff[site[i]] + person_eff[i] + tp_eff[t]
            score = int(np.clip(np.rint(mu + rng.normal(0, 2.2)), 0, 24))
            rows.append((f"R{i:04d}", f"S{site[i] + 1}", tp_names[t], score))
    df = pd.DataFrame(rows, columns=["id", "site", "timepoint", "score"])
    df["high"] = (df["score"] >= 14).astype(int)
    return df


def make_paired_data(seed: int = 7, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    intake = np.clip(np.rint(rng.normal(13, 5, n)), 0, 24)
    exit_ = np.clip(np.rint(intake - 2.0 + rng.normal(0, 3.5, n)), 0, 24)
    return pd.DataFrame({"id": [f"P{i:03d}" for i in range(n)], "intake": intake.astype(int),
                         "exit": exit_.astype(int)})


if __name__ == "__main__":
    make_lmm_data().to_csv(HERE / "risk_lmm_data.csv", index=False)
    make_paired_data().to_csv(HERE / "risk_paired_data.csv", index=False)

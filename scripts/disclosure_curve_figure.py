"""Before/after figure for docs/disclosure.md: a Kaplan-Meier curve from the true data and redrawn from rounded counts.

Draws the shipped synthetic data's smallest site (S05) Kaplan-Meier retention curve as it was published
before issue 26 (true steps, cut where fewer than 10 remain at risk) and as it is published now (redrawn
from cumulative dropouts and censorings rounded to the threshold, OpenSAFELY's method), and writes
``docs/disclosure_curve_before_after.png``. It also prints the event counts the two curves' steps imply.

    python scripts/disclosure_curve_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dapp_eval.analyses import attrition
from dapp_eval.data.io import load_programme
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.curves import protect_km_result

ROOT = Path(__file__).resolve().parents[1]


def implied_events(summary) -> np.ndarray:
    """The number of events each drop of a Kaplan-Meier curve stands for: n at risk x (1 - S(t) / S(t-))."""
    s = summary.sort_values("time_days")
    est = s["estimate"].to_numpy(float)
    prev = np.r_[1.0, est[:-1]]
    d = s["n_at_risk"].to_numpy(float) * (1 - est / prev)
    return d[d > 1e-9]


def main() -> None:
    data = load_programme(ROOT / "data_synthetic").subset(sites=["S05"])
    dc = DisclosureControl(threshold=10)
    km = attrition.retention_km(data, by=None)
    before = DisclosureControl(threshold=10).curve_result(km, name="before")
    after = protect_km_result(km, dc, name="after")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, res, title in ((axes[0], before, "Before: true steps (cut below 10 at risk)"),
                           (axes[1], after, "After: redrawn from counts rounded to 10")):
        s = res.summary.sort_values("time_days")
        t = np.r_[0.0, s["time_days"].to_numpy(float)]
        ax.step(t, np.r_[1.0, s["estimate"].to_numpy(float)], where="post", color="#0072B2")
        ax.fill_between(t, np.r_[1.0, s["ci_lower"].to_numpy(float)], np.r_[1.0, s["ci_upper"].to_numpy(float)],
                        step="post", color="#0072B2", alpha=0.15, linewidth=0)
        d = implied_events(s)
        ax.set_title(f"{title}\nevents per step: {', '.join(f'{v:.0f}' for v in d[:8])}"
                     + (" ..." if len(d) > 8 else ""), fontsize=9)
        ax.set_xlabel("Days since programme start")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Not dropped out (Kaplan-Meier)")
    axes[0].set_ylim(0, 1.02)
    fig.suptitle("Kaplan-Meier retention at the smallest synthetic site (S05)", fontsize=10)
    fig.tight_layout()
    out = ROOT / "docs" / "disclosure_curve_before_after.png"
    fig.savefig(out, dpi=110, metadata={"Software": None})
    print(f"written {out.relative_to(ROOT)}")
    print("before: events per step", np.round(implied_events(before.summary), 2).tolist())
    print("after:  events per step", np.round(implied_events(after.summary), 2).tolist())


if __name__ == "__main__":
    main()

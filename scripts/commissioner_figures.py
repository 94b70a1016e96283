"""Draw the commissioner figures of issue #16 from the synthetic data into docs/ (development aid).

Usage::

    .venv/bin/python scripts/commissioner_figures.py [--data data_synthetic] [--out docs]

Writes ``site_comparison.png`` (dot-and-whisker chart of each headline outcome by site, with 95% CIs
and the all-sites line) and ``spc_trends.png`` (the four quarterly SPC charts). These show the
analysis-layer pieces before the report engine places them; the report's own screenshots replace them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dapp_eval.analyses import plotting, trends
from dapp_eval.commissioner import headlines
from dapp_eval.data.io import load_programme


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data_synthetic")
    ap.add_argument("--out", default="docs")
    args = ap.parse_args()
    data = load_programme(args.data)
    out = Path(args.out)

    sc = headlines.site_comparison(data)
    fig, axes = plt.subplots(2, 2, figsize=(11, 9), constrained_layout=True)
    for ax, code in zip(axes.flat, headlines.SITE_OUTCOMES):
        sc.plot(ax=ax, outcome=code, xlabel="Estimate with 95% confidence interval")
    fig.suptitle("Headline outcomes by site (SYNTHETIC DATA)")
    fig.savefig(out / "site_comparison.png", dpi=90)
    plt.close(fig)

    res = trends.quarterly_spc(data)
    fig, axes = plt.subplots(2, 2, figsize=(13, 10), constrained_layout=True)
    for ax, code in zip(axes.flat, trends.MEASURES):
        plotting.spc_chart(res, ax=ax, measure=code, higher_is_better=trends.MEASURES[code][2])
    fig.suptitle("Quarterly statistical process control charts (SYNTHETIC DATA)")
    fig.savefig(out / "spc_trends.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()

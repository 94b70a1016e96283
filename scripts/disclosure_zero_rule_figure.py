"""Before/after figure for docs/disclosure.md: what the zero rule withholds in the shipped release.

Renders the shipped synthetic data for one quarter (``--period 2024-01-01 2024-03-31``: small groups, as a
commissioner's quarterly extract has) twice, without the zero rule ("none" or "all" of a small group
published) and with it, and compares every estimate of every table of every report: an estimate that is
a number before and ``[c]`` after was withheld by the rule. The figure plots those estimates (before)
against the published size of their group, over every estimate the release publishes, and writes
``docs/disclosure_zero_rule_before_after.png``; it prints the counts.

    python scripts/disclosure_zero_rule_figure.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.audit import decode_release
from dapp_eval.report import render_release

ROOT = Path(__file__).resolve().parents[1]
PERIOD = ("2024-01-01", "2024-03-31")


def _num(v: str):
    try:
        return float(v.replace(",", ""))
    except ValueError:
        return None


def estimates(folder: Path) -> dict:
    """(report, table, row number) -> (estimate text, largest published count of the row)."""
    out = {}
    for r in decode_release(folder):
        if not r.file.endswith(".html"):
            continue
        for key, t in r.tables.items():
            if t.source != "csv" or "estimate" not in t.columns:
                continue
            j = t.columns.index("estimate")
            counts = [i for i, c in enumerate(t.columns) if c == "n" or c.startswith("n_")]
            for i, row in enumerate(t.rows):
                ns = [_num(row[c]) for c in counts]
                out[(r.file, key, i)] = (row[j], max([v for v in ns if v is not None], default=None))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        after_dir, before_dir = Path(tmp) / "after", Path(tmp) / "before"
        render_release(ROOT / "data_synthetic", after_dir, progress=False, periods=[PERIOD])
        rule = DisclosureControl.zero_minimum, DisclosureControl.zero_rule_minimum
        # the release as it was without the rule
        DisclosureControl.zero_minimum = DisclosureControl.zero_rule_minimum = property(lambda self: 0)
        try:
            render_release(ROOT / "data_synthetic", before_dir, progress=False, periods=[PERIOD])
        finally:
            DisclosureControl.zero_minimum, DisclosureControl.zero_rule_minimum = rule
        before, after = estimates(before_dir), estimates(after_dir)
    shown = [(n, _num(e)) for e, n in after.values() if _num(e) is not None and n and 0 <= _num(e) <= 1]
    gone = [(before[k][1], _num(before[k][0])) for k in before
            if k in after and _num(before[k][0]) is not None and after[k][0] == "[c]"
            and before[k][1] and 0 <= _num(before[k][0]) <= 1]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.scatter([n for n, _ in shown], [100 * p for _, p in shown], s=8, color="#9aa7b1",
               label=f"published (after; {len(shown)})")
    ax.scatter([n for n, _ in gone], [100 * p for _, p in gone], s=36, marker="x", color="#b03a2e",
               label=f"published before, withheld by the zero rule ({len(gone)})")
    ax.axvline(2 * DisclosureControl().threshold, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("largest published count of the row (group size, log scale)")
    ax.set_ylabel("estimate (%)")
    ax.legend(frameon=False, fontsize=8, loc="center right")
    ax.set_title(f"Shares in the shipped data's release for {PERIOD[0]} to {PERIOD[1]}:\n"
                 "before the zero rule, 0% and 100% of small groups were published", fontsize=9)
    fig.tight_layout()
    out = ROOT / "docs" / "disclosure_zero_rule_before_after.png"
    fig.savefig(out, dpi=110, metadata={"Software": None})
    at = sum(1 for _, p in gone if p in (0.0, 1.0))
    print(f"{len(shown)} shares published with the rule; {len(gone)} published without it are withheld "
          f"({at} of them 0% or 100%)")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Render releases of generated programme folders and say which were refused, withheld tables or leaked.

Issue 26's reproduction: on folders nobody had rendered before, ``dapp-eval report`` refused 6 of 14
releases. For each case (referrals, sites, seed, extra report options) this generates a folder with
``dapp_eval.synthetic.generate``, renders the release, and prints whether it was written, how many
tables were withheld with a sentence, and the share of count cells withheld per report.

    python scripts/disclosure_sweep.py                       # the cases of the issue's closing note
    python scripts/disclosure_sweep.py 300:1:1 2500:7:15 --threshold 7
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from dapp_eval.disclosure.audit import decode_release
from dapp_eval.disclosure.release import DisclosureAuditError
from dapp_eval.report import render_release
from dapp_eval.synthetic import generate

CASES = ["25:1:2", "300:1:1", "1100:4:14", "2500:7:15", "800:7:16", "400:5:17", "2000:6:18", "200:8:19",
         "1500:2:20", "60:1:21", "1100:4:22", "150:3:23"]


def withheld_share(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Per report: (count cells, cells withheld as '<T' or '[c]', tables withheld with a sentence)."""
    out = {}
    for r in decode_release(folder):
        if not r.file.endswith(".html"):
            continue
        tot = wh = 0
        for t in r.tables.values():
            if t.source != "csv":
                continue
            for j, c in enumerate(t.columns):
                if c == "n" or str(c).startswith("n_"):
                    for row in t.rows:
                        v = row[j].strip()
                        tot += bool(v)
                        wh += v.startswith("<") or v == "[c]"
        tables = (folder / r.file).read_text(encoding="utf-8").count("Withheld: there are too few people")
        out[r.file] = (tot, wh, tables)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cases", nargs="*", default=CASES, help="REFERRALS:SITES:SEED")
    p.add_argument("--threshold", type=int, default=None)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--period", nargs=2, default=None)
    a = p.parse_args()
    for case in a.cases:
        referrals, sites, seed = (int(x) for x in case.split(":"))
        with tempfile.TemporaryDirectory() as tmp:
            data, out = Path(tmp) / "data", Path(tmp) / "out"
            generate(data, referrals=referrals, sites=sites, seed=seed)
            try:
                render_release(data, out, threshold=a.threshold, strict=a.strict, progress=False,
                               periods=[tuple(a.period)] if a.period else None)
            except DisclosureAuditError as exc:
                print(f"{case}: REFUSED, {len(exc.result.leaks)} counts worked back")
                continue
            share = withheld_share(out)
            tables = sum(t for _, _, t in share.values())
            per = ", ".join(f"{name.removeprefix('report_').removesuffix('.html')} {100 * wh / max(1, tot):.1f}%"
                            for name, (tot, wh, _) in sorted(share.items()))
            print(f"{case}: written; tables withheld {tables}; count cells withheld: {per}")


if __name__ == "__main__":
    main()

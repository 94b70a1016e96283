"""Render releases of generated programme folders and say which were refused, withheld tables or leaked.

Issue 26's reproduction: on folders nobody had rendered before, ``dapp-eval report`` refused 6 of 14
releases. For each case (referrals, sites, seed, extra report options) this generates a folder with
``dapp_eval.synthetic.generate``, renders the release, and prints whether it was written, how many
tables were withheld with a sentence, and the share of count cells withheld per report.

    python scripts/disclosure_sweep.py                       # the cases of the issue's closing note
    python scripts/disclosure_sweep.py 300:1:1 2500:7:15 --threshold 7
    python scripts/disclosure_sweep.py --wide                # 20 more cases: 20-5,000 referrals, 1-8 sites,
                                                             # thresholds 5-20 (REFERRALS:SITES:SEED:THRESHOLD)

Each written release is audited again from its files (the audit that also reads the charts' SVG and
solves one integer program over all relations); the last line counts releases rendered, refused, and
leaks found in the written ones.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dapp_eval.disclosure.audit import audit_release, decode_release
from dapp_eval.disclosure.release import DisclosureAuditError
from dapp_eval.report import render_release
from dapp_eval.synthetic import generate

#: 20 cases nobody had rendered when the audit learned to read charts and solve one integer program
WIDE = ["20:1:3101:5", "35:1:3102:12", "80:2:3103:7", "150:1:3104:20", "240:3:3105:9", "400:2:3106:15",
        "550:4:3107:6", "700:8:3108:10", "900:5:3109:18", "1200:3:3110:5", "1500:6:3111:11", "1800:8:3112:14",
        "2100:2:3113:8", "2600:7:3114:10", "3000:4:3115:16", "3400:8:3116:5", "3900:6:3117:13",
        "4300:3:3118:19", "4700:5:3119:10", "5000:8:3120:7"]

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
    p.add_argument("cases", nargs="*", default=None, help="REFERRALS:SITES:SEED[:THRESHOLD]")
    p.add_argument("--wide", action="store_true", help="the 20 cases of the wide sweep")
    p.add_argument("--threshold", type=int, default=None)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--period", nargs=2, default=None)
    a = p.parse_args()
    counts = {"rendered": 0, "refused": 0, "leaks": 0}
    for case in a.cases or (WIDE if a.wide else CASES):
        for k, v in _one_case(case, a).items():
            counts[k] += v
    print(f"{len(a.cases or (WIDE if a.wide else CASES))} cases: {counts['rendered']} rendered, {counts['refused']} "
          f"refused, {counts['leaks']} leaks in the written releases")


def _one_case(case: str, a) -> dict:
    """Render one case and say how it went; the counts it adds to the summary."""
    referrals, sites, seed, *thr = (int(x) for x in case.split(":"))
    threshold = thr[0] if thr else a.threshold
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        generate(data, referrals=referrals, sites=sites, seed=seed)
        t0 = time.perf_counter()
        try:
            render_release(data, out, threshold=threshold, strict=a.strict, progress=False,
                           periods=[tuple(a.period)] if a.period else None)
        except DisclosureAuditError as exc:
            print(f"{case}: REFUSED, {len(exc.result.leaks)} counts worked back:\n  "
                  + "\n  ".join(str(x) for x in exc.result.leaks[:10]), flush=True)
            return {"refused": 1}
        secs = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = audit_release(out, threshold=threshold or 10)
        audit_secs = time.perf_counter() - t1
        share = withheld_share(out)
        tables = sum(t for _, _, t in share.values())
        per = ", ".join(f"{name.removeprefix('report_').removesuffix('.html')} {100 * wh / max(1, tot):.1f}%"
                        for name, (tot, wh, _) in sorted(share.items()))
        print(f"{case}: written in {secs:.0f} s (audit {audit_secs:.1f} s); leaks {len(res.leaks)}; tables withheld "
              f"{tables}; count cells withheld: {per}", flush=True)
        for x in res.leaks[:10]:
            print(f"  LEAK {x}", flush=True)
        return {"rendered": 1, "leaks": len(res.leaks)}


if __name__ == "__main__":
    main()

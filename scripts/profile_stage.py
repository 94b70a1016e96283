"""Profile one benchmark stage on synthetic data (development aid, not part of the package).

Usage::

    .venv/bin/pip install pyinstrument   # profiling only; not a dependency
    .venv/bin/python scripts/profile_stage.py dropout_cox --referrals 10000,100000
    .venv/bin/python scripts/profile_stage.py load_validate --referrals 100000 --html /tmp/prof

Synthetic folders are generated once and kept under ``--cache`` (default
``/tmp/dapp_eval_bench``) so repeated runs only pay for the stage itself.
``derive_episodes`` is built before the profiled stage (as in the benchmark)
unless that is the stage being profiled.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dapp_eval.bench import _stages
from dapp_eval.data.io import load_programme
from dapp_eval.synthetic import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage")
    ap.add_argument("--referrals", default="10000,100000")
    ap.add_argument("--cache", default="/tmp/dapp_eval_bench")
    ap.add_argument("--html", default=None, help="write pyinstrument HTML reports with this path prefix")
    ap.add_argument("--no-profile", action="store_true", help="only time the stage")
    args = ap.parse_args()
    stages = dict(_stages())
    stages["load_validate"] = None
    if args.stage not in stages:
        ap.error(f"unknown stage {args.stage!r}; choose from {', '.join(stages)}")
    for n in (int(x) for x in args.referrals.split(",")):
        folder = Path(args.cache) / f"synthetic_{n}"
        if not (folder / "referrals.csv").exists():
            generate(folder, referrals=n, seed=1)
        if args.stage == "load_validate":
            def fn(folder=folder):
                return load_programme(folder)
        else:
            data = load_programme(folder)
            if args.stage != "derive_episodes":
                _ = data.episodes

            def fn(data=data, stage=stages[args.stage]):
                return stage(data)
        if args.no_profile:
            t0 = time.perf_counter()
            fn()
            print(f"{args.stage} at {n}: {time.perf_counter() - t0:.3f} s")
            continue
        from pyinstrument import Profiler

        prof = Profiler(interval=0.001)
        prof.start()
        fn()
        prof.stop()
        print(f"===== {args.stage} at {n} referrals =====")
        print(prof.output_text(unicode=False, color=False, show_all=False))
        if args.html:
            Path(f"{args.html}_{args.stage}_{n}.html").write_text(prof.output_html())


if __name__ == "__main__":
    main()

"""The ``dapp-eval`` command.

Sub-commands::

    dapp-eval validate [DIR] [--config evaluation.yaml] [--column-map MAP] [--csv FILE] [--allow-outside]
    dapp-eval map EXPORT [--config evaluation.yaml]   (a draft column map on standard output)
    dapp-eval synth --out DIR [--referrals N] [--sites K] [--seed S]
    dapp-eval report [DATA_DIR] [--config evaluation.yaml] [--out OUT] [--column-map MAP] [--site SITE ...] [--period FROM TO] [--plan plan.yaml]
                     [--threshold 10] [--strict]
                     [--comparators comparators.yaml]
    dapp-eval pseudonymise [IN OUT] [--config evaluation.yaml] [--key-file KEY] [--column-map MAP] [--force]
                           [--allow-outside] [--coarsen month|shift] [--shift-days 30]
    dapp-eval keygen KEY
    dapp-eval audit OUT [--threshold 10] [--csv FILE]
    dapp-eval bench [--referrals 1000,10000,100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from dapp_eval import __version__
from dapp_eval.optional import MissingExtraError

__all__ = ["main"]


def _from_config(args, *, folder: str = "folder") -> None:
    """Fill the arguments not given on the command line from ``--config evaluation.yaml``."""
    if getattr(args, "config", None):
        from dapp_eval.data.evaluation import open_evaluation

        ev = open_evaluation(args.config)
        args.evaluation = ev
        if getattr(args, folder, None) is None:
            setattr(args, folder, str(ev.data))
        if getattr(args, "column_map", None) is None and ev.column_map is not None:
            args.column_map = str(ev.column_map)
        for k in ("plan", "comparators", "threshold"):
            if hasattr(args, k) and getattr(args, k) is None:
                v = getattr(ev, k)
                setattr(args, k, v if isinstance(v, (dict, int)) or v is None else str(v))
        if hasattr(args, "out") and args.out is None and ev.output is not None:
            args.out = str(ev.output)
        if hasattr(args, "output") and args.output is None and ev.pseudonymised is not None:
            args.output = str(ev.pseudonymised)
        if hasattr(args, "key_file") and args.key_file is None and ev.key_file is not None:
            args.key_file = str(ev.key_file)
    if getattr(args, folder, None) is None:
        raise ValueError("give the data folder, or --config evaluation.yaml naming it (data: FOLDER)")


def _rerun(args, extra: str) -> str:
    """The command as typed, with ``extra`` added: how to ask for more."""
    parts = ["dapp-eval", args.command]
    if getattr(args, "config", None):
        parts += ["--config", args.config]
    else:
        parts.append(args.folder)
        if args.column_map:
            parts += ["--column-map", args.column_map]
    return " ".join(parts + [extra])


def _print_problems(problems, args, screen: int = 30) -> None:
    """Every problem counted by file, column and rule, then the first few rows; the full list via --csv."""
    import pandas as pd

    from dapp_eval.errors import DataValidationError

    further = problems["rule"].str.extract(r"\(further (\d+) rows? with this problem not listed\)$")[0]
    extra = pd.to_numeric(further, errors="coerce").fillna(0).astype(int)
    rule = problems["rule"].str.replace(r" \(further \d+ rows? with this problem not listed\)$", "", regex=True)
    rule = rule.str.replace(r"; first seen in [^;)]*row \d+\)$", ")", regex=True)
    counted = pd.DataFrame({"file": problems["file"].astype(str), "column": problems["column"].fillna("").astype(str),
                            "rule": rule, "n": (extra.where(extra > 0, 1)).to_numpy()})
    by = counted.groupby(["file", "column", "rule"], sort=False)["n"].sum().reset_index()
    total = int(by["n"].sum())
    print(f"{total} problem{'s' if total != 1 else ''} found, by file, column and rule:")
    for rec in by.itertuples(index=False):
        col = f" · {rec.column}" if rec.column else ""
        print(f"  {rec.n:>6}  {rec.file}{col}: {rec.rule}")
    listed = problems[extra.to_numpy() == 0]
    print(f"\nThe first {min(screen, len(listed))} of these, row by row (rows as the spreadsheet numbers them):")
    print("\n".join(str(DataValidationError(listed.head(screen), max_lines=screen)).splitlines()[1:]))
    if args.csv:
        problems.to_csv(args.csv, index=False)
        print(f"\nAll {len(listed)} listed rows written to {args.csv}"
              + (f" ({total - len(listed)} further rows of the same problems are counted there, not listed)"
                 if total > len(listed) else ""))
    else:
        print(f"\nFor the full list as a spreadsheet: {_rerun(args, '--csv problems.csv')}")


def _cmd_validate(args) -> int:
    from dapp_eval.data.io import load_programme
    from dapp_eval.errors import DataValidationError

    _from_config(args)
    try:
        data = load_programme(args.folder, column_map=args.column_map, allow_outside=args.allow_outside)
    except DataValidationError as exc:
        print(f"Data-quality report for {args.folder}: NOT VALID\n")
        _print_problems(exc.problems, args)
        return 1
    print(f"Data-quality report for {args.folder}: valid\n")
    print(data.sizes().to_string(index=False))
    if len(data.load_log):
        print("\nTolerated and logged:")
        print(data.load_log.to_string(index=False))
    return 0


def _cmd_map(args) -> int:
    from dapp_eval.data.mapdraft import draft_map

    if args.export is None:
        _from_config(args, folder="export")
    sys.stdout.write(draft_map(args.export))
    return 0


def _cmd_synth(args) -> int:
    from dapp_eval.synthetic import generate

    generate(args.out, referrals=args.referrals, sites=args.sites, seed=args.seed, years=args.years,
             scenario=args.scenario)
    print(f"Synthetic programme folder written to {args.out} ({args.referrals} referrals, {args.sites} sites, seed {args.seed})")
    return 0


def _cmd_pseudonymise(args) -> int:
    from dapp_eval.data.privacy import pseudonymise

    _from_config(args, folder="input")
    if args.output is None or args.key_file is None:
        raise ValueError("give OUTPUT and --key-file, or name them in the evaluation file (pseudonymised:, key_file:)")

    try:
        log = pseudonymise(args.input, args.output, key_file=args.key_file, column_map=args.column_map,
                           force=args.force, allow_outside=args.allow_outside, coarsen=args.coarsen,
                           shift_days=args.shift_days)
    except (ValueError, FileNotFoundError):
        print(f"dapp-eval pseudonymise: {args.output} was left as it was; see {args.output.rstrip('/')}"
              ".failed-run.log beside it", file=sys.stderr)
        raise
    print(log.to_string(index=False) if len(log) else "No identifiers found; IDs re-keyed only.")
    print(f"\nPseudonymised copy written to {args.output} (log: pseudonymisation_log.csv). The key was not copied.")
    return 0


def _cmd_keygen(args) -> int:
    from dapp_eval.data.privacy import keygen

    path = keygen(args.key_file)
    print(f"New key written to {path} (32 random bytes, readable by you only). Keep it apart from the data and "
          "the reports, and keep it: the same key gives the same pseudonyms in the next extract.")
    return 0


def _cmd_report(args) -> int:
    from dapp_eval.report import render_release

    _from_config(args, folder="data_dir")
    if args.out is None:
        raise ValueError("give --out OUT, or name the output folder in the evaluation file (output: reports)")

    paths = render_release(
        args.data_dir, args.out, sites=args.site, periods=args.period, plan_path=args.plan,
        column_map=args.column_map, threshold=args.threshold, strict=args.strict, progress=not args.quiet,
        comparators=args.comparators,
    )
    for p in paths:
        print(p)
    return 0


def _cmd_audit(args) -> int:
    from dapp_eval.disclosure.audit import audit_release

    res = audit_release(args.folder, threshold=args.threshold)
    print(res.text(limit=args.limit))
    if args.csv:
        res.to_frame().to_csv(args.csv, index=False)
        print(f"\nEvery recovered count written to {args.csv}")
    return 0 if res.ok else 1


def _cmd_bench(args) -> int:
    from dapp_eval.bench import run_bench

    sizes = [int(s) for s in str(args.referrals).split(",") if s.strip()]
    run_bench(sizes, json_path=args.json, seed=args.seed, render=not args.no_render, release=not args.no_release,
              repeat=args.repeat,
              default_release=(args.default_data if not args.no_render and args.default_data
                               and Path(args.default_data).is_dir() else None))
    return 0


def _cmd_simulate(args) -> int:
    from dapp_eval.simulation import simulate_command

    return simulate_command(args)


def _add_validate_and_map(sub) -> None:
    v = sub.add_parser("validate", help="check a programme data folder against the data contract")
    v.add_argument("folder", nargs="?", default=None, help="data folder (default: the evaluation file's data:)")
    v.add_argument("--config", default=None, help="evaluation.yaml: data folder, column map, plan, ... in one file")
    v.add_argument("--column-map", default=None, help="YAML mapping a provider export onto the contract")
    v.add_argument("--csv", default=None, help="write every problem to this CSV file")
    v.add_argument("--allow-outside", action="store_true",
                   help="let the column map name files outside the data folder")
    v.set_defaults(func=_cmd_validate)

    mp = sub.add_parser("map", help="draft a column map for a provider's export (printed; redirect it to map.yaml)")
    mp.add_argument("export", nargs="?", default=None, help="the export's folder (or one workbook or CSV file)")
    mp.add_argument("--config", default=None, help="evaluation.yaml naming the export (data:)")
    mp.set_defaults(func=_cmd_map)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dapp-eval", description="Evaluate domestic abuse perpetrator programmes.")
    p.add_argument("--version", action="version", version=f"dapp_eval {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    for add in (_add_validate_and_map, _add_synth, _add_report, _add_audit, _add_pseudonymise, _add_keygen, _add_bench,
                _add_simulate):
        add(sub)
    return p


def _add_synth(sub) -> None:
    s = sub.add_parser("synth", help="write a synthetic programme data folder")
    s.add_argument("--out", required=True)
    s.add_argument("--referrals", type=int, default=2000)
    s.add_argument("--sites", type=int, default=5)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--years", type=int, default=2)
    s.add_argument("--scenario", choices=["default", "no_effect"], default="default",
                   help="no_effect: completing changes no outcome (any before/after fall is regression to the mean)")
    s.set_defaults(func=_cmd_synth)


def _add_report(sub) -> None:
    r = sub.add_parser("report", help="render the commissioner reports: HTML per site and overall, tables.xlsx, index")
    r.add_argument("data_dir", nargs="?", default=None, help="data folder (default: the evaluation file's data:)")
    r.add_argument("--config", default=None, help="evaluation.yaml: data, column map, plan, comparators, threshold, "
                                                  "output folder")
    r.add_argument("--out", default=None, help="output folder (default: the evaluation file's output:)")
    r.add_argument("--column-map", default=None, help="YAML mapping a provider export onto the contract")
    r.add_argument("--site", action="append", default=None, help="only this site (repeatable)")
    r.add_argument("--period", nargs=2, metavar=("FROM", "TO"), default=None, action="append",
                   help="only referrals received FROM..TO (repeatable: one set of pages per period)")
    r.add_argument("--plan", default=None, help="analysis plan YAML")
    r.add_argument("--threshold", type=int, default=None, help="small-number suppression threshold (default 10)")
    r.add_argument("--strict", action="store_true", help="suppress every published count below the threshold")
    r.add_argument("--comparators", default=None,
                   help="comparators.yaml: published figures (figure, value, source, year) to show beside the "
                        "programme's, labelled with their source (none are shipped)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_report)


def _add_audit(sub) -> None:
    au = sub.add_parser("audit", help="try to work back hidden counts from a rendered release; exit 1 if any can")
    au.add_argument("folder")
    au.add_argument("--threshold", type=int, default=10, help="threshold of reports that do not state one")
    au.add_argument("--csv", default=None, help="write every recovered count to this CSV file")
    au.add_argument("--limit", type=int, default=50, help="list at most this many recovered counts")
    au.set_defaults(func=_cmd_audit)


def _add_pseudonymise(sub) -> None:
    ps = sub.add_parser("pseudonymise", help="write an allow-listed copy: keyed pseudonyms, contract columns only")
    ps.add_argument("input", nargs="?", default=None)
    ps.add_argument("output", nargs="?", default=None)
    ps.add_argument("--config", default=None, help="evaluation.yaml: data (input), column_map, pseudonymised "
                                                   "(output), key_file")
    ps.add_argument("--key-file", default=None, help="from `dapp-eval keygen KEY`; mode 0600, kept apart")
    ps.add_argument("--column-map", default=None, help="default: INPUT/column_map.yaml if present")
    ps.add_argument("--force", action="store_true", help="replace a non-empty OUTPUT whole")
    ps.add_argument("--allow-outside", action="store_true",
                    help="let the column map name files outside the input folder")
    ps.add_argument("--coarsen", choices=["month", "shift"], default=None,
                    help="also reduce quasi-identifiers: 'month' (dates to their month, ages banded, ages that stay "
                         "unique emptied) or 'shift' (each person's dates moved by a keyed offset, intervals kept; "
                         "ages banded); both shuffle the rows. The log gives the share of unique records")
    ps.add_argument("--shift-days", type=int, default=30, help="largest offset of --coarsen shift (default 30)")
    ps.set_defaults(func=_cmd_pseudonymise)


def _add_keygen(sub) -> None:
    kg = sub.add_parser("keygen", help="write a new pseudonymisation key (32 random bytes, mode 0600)")
    kg.add_argument("key_file")
    kg.set_defaults(func=_cmd_keygen)


def _add_bench(sub) -> None:
    b = sub.add_parser("bench", help="time every stage on synthetic data of several sizes")
    b.add_argument("--referrals", default="1000,10000,100000")
    b.add_argument("--json", default=None)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--no-render", action="store_true", help="skip timing the report rendering")
    b.add_argument("--no-release", action="store_true",
                   help="time one site's report but not the whole release (which takes long at 1M referrals)")
    b.add_argument("--default-data", default="data_synthetic",
                   help="also time this folder's default report release and one site's report ('' to skip)")
    b.add_argument("--repeat", type=int, default=3,
                   help="passes at each size; each stage reports its fastest (default 3)")
    b.set_defaults(func=_cmd_bench)


def _add_simulate(sub) -> None:
    from dapp_eval.simulation import add_arguments

    sm = sub.add_parser("simulate", help="simulation study of the headline figures: bias, SEs and coverage with "
                                         "Monte Carlo SEs (docs/validation.md; about 30 minutes at the defaults)")
    add_arguments(sm)
    sm.set_defaults(func=_cmd_simulate)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dapp-eval`` command."""
    args = build_parser().parse_args(argv)
    from dapp_eval.errors import DataValidationError

    try:
        return int(args.func(args) or 0)
    except DataValidationError as exc:
        # data (or a map, or the evaluation file) refused: counted and listed as `validate` does, with the way
        # to the full list; no Python object named
        print(f"dapp-eval {args.command}: the data were not accepted.\n", file=sys.stderr)
        args.csv = None
        if not hasattr(args, "folder"):
            args.folder = getattr(args, "data_dir", None) or getattr(args, "input", None) or getattr(args, "export", "")
        if not hasattr(args, "column_map"):
            args.column_map = None
        args.command = "validate"
        with contextlib.redirect_stdout(sys.stderr):
            _print_problems(exc.problems, args)
        return 2
    except (ValueError, FileNotFoundError, MissingExtraError) as exc:
        # AnalysisError is a ValueError, MissingExtraError names the extra to install: say them plainly,
        # no traceback
        print(f"dapp-eval {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


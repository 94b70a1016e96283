"""Benchmark: time and peak memory of every stage on synthetic data of several sizes.

``dapp-eval bench --referrals 1000,10000,100000 --json bench.json`` generates a
synthetic folder per size (timed separately), then times each analysis stage
on it and reports wall time and peak resident memory per stage and in total,
plus the scaling exponent of each stage between consecutive sizes
(``log(t2/t1) / log(n2/n1)``); ``growth`` holds each stage's exponent between
the two largest sizes, which is the one the targets speak about. Targets
(issue 20, 2 cores; :data:`TARGETS`): at 1,000,000 referrals the whole
analysis under 60 s and 8 GB, load + validate under 20 s, generation under
60 s, one site's report under 60 s; at 100,000 the whole analysis under 5 s;
no stage growing faster than n^1.05 between the two largest sizes. Each
printed line shows its target beside the measured value.

The analysis stages are ``load_validate`` (read and check the CSV files),
``derive_episodes`` (the referral-level table every analysis starts from,
cached on ``ProgrammeData.episodes`` as a notebook would reuse it), then one
stage per analysis. ``analysis_total_s`` is the sum of these (everything but
generation and rendering) and ``peak_memory_mb`` their largest peak;
the report stages ``render_one_site`` (the HTML report of one site, from the
folder: load, validate, analyses, page, workbook) and ``render_release``
(every site + overall + index + ``tables.xlsx``, from the folder, in one
process) are reported but kept out of both. With ``default_release`` the
shipped ``data_synthetic/`` release and one of its sites are timed as well
(``report_default`` in the JSON).

Each size is run ``repeat`` times (``--repeat``, default 3) from nothing (a new folder, a new load), and
each stage reports its fastest pass and largest memory peak: single passes of the sub-second stages
vary by half on a shared machine, which moves growth exponents by a tenth.

Memory is the process's peak resident set size while the stage runs, sampled
every 5 ms from ``/proc/self/statm`` (or ``resource`` where /proc is absent),
so it includes the data already loaded.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_bench", "STAGES", "TARGETS", "GROWTH_TARGET", "measure"]

#: time (s) or memory (MB) targets by number of referrals and measure (issue 20, 2 cores)
TARGETS = {
    100_000: {"analysis_total_s": 5.0},
    1_000_000: {"analysis_total_s": 60.0, "peak_memory_mb": 8192.0, "load_validate": 20.0, "generation": 60.0,
                "render_one_site": 60.0},
}
#: no stage may grow faster than n^GROWTH_TARGET between the two largest sizes
GROWTH_TARGET = 1.05


def _target_note(n: int, name: str, value: float, unit: str = "s") -> str:
    target = TARGETS.get(n, {}).get(name)
    if target is None:
        return ""
    return f"  (target < {target:g} {unit}: {'met' if value < target else 'MISSED'})"


def growth_exponents(results: list[dict], generation: dict) -> dict:
    """Each stage's growth exponent between the two largest sizes: ``log(t2/t1) / log(n2/n1)``.

    Examples
    --------
    >>> res = [{"referrals": 10, "stages": {"x": {"seconds": 1.0}}, "analysis_total_s": 1.0},
    ...        {"referrals": 100, "stages": {"x": {"seconds": 10.0}}, "analysis_total_s": 10.0}]
    >>> growth_exponents(res, {})["x"]
    1.0
    """
    if len(results) < 2:
        return {}
    a, b = sorted(results, key=lambda r: r["referrals"])[-2:]
    pairs = {}
    if str(a["referrals"]) in generation and str(b["referrals"]) in generation:
        pairs["generation"] = (generation[str(a["referrals"])]["seconds"], generation[str(b["referrals"])]["seconds"])
    pairs.update({name: (a["stages"][name]["seconds"], b["stages"][name]["seconds"])
                  for name in b["stages"] if name in a["stages"]})
    pairs["analysis_total"] = (a["analysis_total_s"], b["analysis_total_s"])
    ratio = math.log(b["referrals"] / a["referrals"])
    return {name: round(math.log(tb / ta) / ratio, 3) for name, (ta, tb) in pairs.items() if ta > 0 and tb > 0}


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):  # pragma: no cover - non-Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], object]) -> tuple[object, float, float]:
    """Run ``fn``; return (result, wall seconds, peak RSS in MB while it ran).

    Examples
    --------
    >>> _, seconds, peak = measure(lambda: sum(range(1000)))
    >>> seconds >= 0 and peak > 0
    True
    """
    gc.collect()
    peak = [_rss_mb()]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            stop.wait(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        elapsed = time.perf_counter() - t0
        stop.set()
        th.join()
    peak[0] = max(peak[0], _rss_mb())
    return out, elapsed, peak[0]


def _stages() -> list[tuple[str, Callable]]:
    from dapp_eval.analyses import attrition, followup, funnel, risk, safety

    return [
        ("derive_episodes", lambda d: d.episodes),
        ("funnel", lambda d: funnel.cascade(d, by="site_id")),
        ("waiting", lambda d: funnel.waiting_times(d, stage="assessment_to_start", by="site_id")),
        ("cumulative_incidence", lambda d: attrition.cumulative_incidence(d, by="site_id")),
        ("dropout_cox", lambda d: attrition.dropout_cox(d)),
        ("risk_change", lambda d: risk.change(d)),
        ("repeated_measures", lambda d: risk.trajectory(d)),
        ("safety", lambda d: safety.prevalence(d)),
        ("followup", lambda d: followup.before_after(d)),
    ]


#: names of the timed stages, in order (load first, rendering last)
STAGES = ("load_validate", "derive_episodes", "funnel", "waiting", "cumulative_incidence", "dropout_cox", "risk_change",
          "repeated_measures", "safety", "followup", "render_one_site")


#: issue 14's targets for the shipped data's release, 2 cores, after install (wall seconds)
RELEASE_TARGETS_S = {"render_one_site": 3.0, "render_release": 15.0}


def _render_stages(folder: Path, out: Path, site: str, release: bool = True) -> dict:
    from dapp_eval.report import render_release

    stages = {}
    _, s, mb = measure(lambda: render_release(folder, out / "one", sites=[site], overall=False, progress=False))
    stages["render_one_site"] = {"seconds": round(s, 3), "peak_mb": round(mb, 1)}
    if not release:
        return stages
    parts: dict = {}
    _, s, mb = measure(lambda: render_release(folder, out / "all", progress=False, timings=parts))
    # the release's own stages (load and validate, pages, workbook and index, audit) in its JSON entry
    stages["render_release"] = {"seconds": round(s, 3), "peak_mb": round(mb, 1), "parts": parts}
    return stages


def _passes(folder: Path, n: int, *, sites: int, seed: int, repeat: int) -> tuple[dict, dict, object]:
    """Generation and every analysis stage, ``repeat`` passes from nothing (a new folder, a new load):
    (generation, stages, the last pass's data), each with its fastest pass and largest peak."""
    from dapp_eval.data.io import load_programme
    from dapp_eval.synthetic import generate

    runs: dict[str, list] = {}  # stage -> [(seconds, peak MB)] over the passes
    data = None
    for _ in range(max(1, int(repeat))):
        data = None  # the previous pass's tables are freed first
        gc.collect()
        # generate() returns the tables it wrote: drop them, so that they do not count in the stages' memory
        _, s, mb = measure(lambda: generate(folder, referrals=n, sites=sites, seed=seed) and None)
        runs.setdefault("generation", []).append((s, mb))
        data, s, mb = measure(lambda: load_programme(folder))
        runs.setdefault("load_validate", []).append((s, mb))
        for name, fn in _stages():
            _, s, mb = measure(lambda fn=fn, data=data: fn(data))
            runs.setdefault(name, []).append((s, mb))
    best = {name: {"seconds": round(min(s for s, _ in v), 3), "peak_mb": round(max(mb for _, mb in v), 1)}
            for name, v in runs.items()}
    return best.pop("generation"), best, data


def _scaling(results: list[dict], generation: dict) -> dict:
    """Growth exponent of every stage (and of generation) between each two consecutive sizes."""
    scaling = {}
    for a, b in zip(results, results[1:]):
        key = f"{a['referrals']}->{b['referrals']}"
        scaling[key] = {}
        timed = {"generation": (generation[str(a["referrals"])], generation[str(b["referrals"])])}
        timed.update({name: (a["stages"][name], b["stages"][name]) for name in b["stages"] if name in a["stages"]})
        for name, (va, vb) in timed.items():
            if va["seconds"] > 0 and vb["seconds"] > 0:
                scaling[key][name] = round(math.log(vb["seconds"] / va["seconds"])
                                           / math.log(b["referrals"] / a["referrals"]), 3)
    return scaling


def _echo_default_release(default_release, default: dict, echo: Callable[[str], None]) -> None:
    for name, v in default.items():
        target = RELEASE_TARGETS_S.get(name)
        note = f"  (target {target:g} s: {'met' if v['seconds'] < target else 'MISSED'})" if target else ""
        echo(f"{str(default_release):>18}: {name:<22} {v['seconds']:8.3f} s {v['peak_mb']:8.0f} MB{note}")
        if "parts" in v:
            echo(" " * 20 + "of which " + ", ".join(f"{k} {t:.1f} s" for k, t in v["parts"].items()))


def _echo_growth(scaling: dict, growth: dict, results: list[dict], echo: Callable[[str], None]) -> None:
    for key, exps in scaling.items():
        echo(f"scaling exponents {key}: " + ", ".join(f"{k} {v:.2f}" for k, v in exps.items()))
    if growth:
        big = sorted(r["referrals"] for r in results)[-2:]
        echo(f"growth between the two largest sizes ({big[0]} -> {big[1]}; target <= n^{GROWTH_TARGET:g}):")
        for name, v in growth.items():
            echo(f"           {name:<22} n^{v:.2f}  {'met' if v <= GROWTH_TARGET else 'ABOVE TARGET'}")


def run_bench(sizes: list[int], *, json_path: str | Path | None = None, seed: int = 1, sites: int = 5,
              render: bool = True, echo: Callable[[str], None] = print,
              default_release: str | Path | None = None, release: bool = True, repeat: int = 3) -> dict:
    """Time every stage at each size; print a table; optionally write JSON.

    Parameters
    ----------
    sizes : list of int
        Numbers of referrals, in increasing order.
    json_path : str or Path, optional
        Where to write the result as JSON.
    seed, sites : int
        Passed to :func:`dapp_eval.synthetic.generate`.
    render : bool, default True
        Also time the report stages (one site's report; the whole release).
    release : bool, default True
        With ``render``, time the whole release too (not only one site's report).
    default_release : str or Path, optional
        A programme folder (e.g. ``data_synthetic``) whose default release and first site's
        report are timed too.
    repeat : int, default 3
        Passes at each size (generate, load, every analysis stage, each pass starting from nothing derived);
        each stage reports its fastest pass and its largest memory peak. The fastest of several passes is
        the usual estimate of a command's own cost (``timeit``): on a shared machine a single pass of a
        sub-second stage can be slowed by half, which moves a growth exponent by a tenth. The report
        stages run once.
    echo : callable
        Receives the printed table line by line.

    Returns
    -------
    dict
        ``{"machine", "date", "sizes": [{"referrals", "stages": {name: {"seconds", "peak_mb"}},
        "analysis_total_s", "peak_memory_mb"}], "generation": {referrals: {"seconds", "peak_mb"}},
        "scaling": {"n1->n2": {stage: exponent}}, "growth": {stage: exponent}, "targets": {...}}``.
        Generation is timed separately (not a stage); its exponent is in ``scaling`` and ``growth`` too.
        ``growth`` compares the two largest sizes (``analysis_total`` included).

    Examples
    --------
    >>> out = run_bench([300], render=False, echo=lambda _: None, repeat=1)
    >>> sorted(out["sizes"][0])
    ['analysis_total_s', 'peak_memory_mb', 'referrals', 'stages']
    """
    from dapp_eval.data.io import load_programme

    results = []
    generation = {}
    default = {}
    if default_release is not None:
        # first, while the process is as small as `dapp-eval report` would be (after the large sizes the pages'
        # worker processes are forked from a process that has held gigabytes, which costs them time)
        from dapp_eval.report.render import _warm_up

        _warm_up()  # the imports a page needs (as the size loop's analyses would have done): not timed
        with tempfile.TemporaryDirectory() as tmp:
            first = str(load_programme(default_release).sites["site_id"].iloc[0])
            default = _render_stages(Path(default_release), Path(tmp), first)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / f"synthetic_{n}"
            generation[str(n)], stages, data = _passes(folder, n, sites=sites, seed=seed, repeat=repeat)
            gen_s = generation[str(n)]["seconds"]
            first_site = str(data.sites["site_id"].iloc[0])
            analysis_total = sum(v["seconds"] for v in stages.values())
            peak = max(v["peak_mb"] for v in stages.values())
            del data  # release this size's tables before rendering (which loads the folder itself) or the next size
            gc.collect()
            if render:
                stages.update(_render_stages(folder, Path(tmp), first_site, release))
            results.append({"referrals": n, "stages": stages, "analysis_total_s": round(analysis_total, 3),
                            "peak_memory_mb": round(peak, 1)})
            echo(f"{n:>8} referrals: generation {gen_s:6.2f} s{_target_note(n, 'generation', gen_s)}; "
                 f"analysis {analysis_total:6.2f} s{_target_note(n, 'analysis_total_s', analysis_total)}; "
                 f"peak {peak:7.0f} MB{_target_note(n, 'peak_memory_mb', peak, 'MB')}")
            for name, v in stages.items():
                echo(f"           {name:<22} {v['seconds']:8.3f} s {v['peak_mb']:8.0f} MB"
                     f"{_target_note(n, name, v['seconds'])}")
    scaling = _scaling(results, generation)
    growth = growth_exponents(results, generation)
    out = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "date": time.strftime("%Y-%m-%d"), "sizes": results, "generation": generation, "scaling": scaling,
           "growth": growth, "targets": {"by_size": {str(k): v for k, v in TARGETS.items()},
                                         "growth_exponent": GROWTH_TARGET}}
    if default_release is not None:
        _echo_default_release(default_release, default, echo)
        out["report_default"] = default
    _echo_growth(scaling, growth, results, echo)
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2) + "\n")
    return out

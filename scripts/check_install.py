"""Check a plain `pip install dapp_eval` (no extras) in the running environment (`make dist` runs it).

    python scripts/check_install.py numpy==2.1.3 pandas==2.2.3

- each NAME==VERSION given is still the installed version (the install kept the user's packages);
- `import dapp_eval` and an analysis work;
- none of the extras' packages came with it (JupyterLab, nbconvert, Jinja2, pyreadstat, ...);
- `import dapp_eval.report` without the report extra says which extra to install.

Prints the number of installed distributions and their size on disk. Exits 1 on the first failed check.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

EXTRAS_ONLY = ("jupyterlab", "notebook", "ipykernel", "nbformat", "nbclient", "nbconvert", "jinja2", "tqdm",
               "pyreadstat", "pytest", "selenium", "sphinx")


def _fail(msg: str) -> None:
    print(f"check_install: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def main(pins: list[str]) -> None:
    for pin in pins:
        name, version = pin.split("==")
        if metadata.version(name) != version:
            _fail(f"{name} is {metadata.version(name)}, was {version} before installing dapp_eval")
    dists = list(metadata.distributions())
    names = {d.metadata["Name"].lower().replace("_", "-") for d in dists}
    brought = sorted(n for n in EXTRAS_ONLY if n in names)
    if brought:
        _fail(f"installed without extras, yet present: {brought}")
    import dapp_eval
    from dapp_eval.analyses import funnel

    data = dapp_eval.load_programme(Path(__file__).resolve().parents[1] / "data_synthetic")
    if funnel.cascade(data).summary.empty:
        _fail("the funnel of the shipped data is empty")
    try:
        import dapp_eval.report
    except ImportError as err:
        if 'pip install "dapp_eval[report]"' not in str(err):
            _fail(f"import dapp_eval.report without the extra: unclear error {err}")
    else:
        _fail("import dapp_eval.report worked without the report extra")
    size = sum(f.stat().st_size for d in dists for f in (Path(d.locate_file(p)) for p in (d.files or []))
               if f.is_file())
    print(f"check_install: dapp_eval {dapp_eval.__version__}: {len(dists)} distributions, {size / 2**20:.0f} MiB; "
          f"kept {' '.join(pins) or '(nothing asked)'}; import and an analysis work; no extra came with it")


if __name__ == "__main__":
    main(sys.argv[1:])

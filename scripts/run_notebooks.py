"""Re-execute the notebooks in notebooks/ in place, so their stored outputs match the code.

Run with ``make notebooks`` after a deliberate change; nbval (``make test``)
then checks that a fresh run reproduces the stored outputs. Outputs must come
from data_synthetic/ only (tests/test_notebooks_provenance.py checks this).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, str(path))
    print(f"executed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    targets = [Path(a) for a in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for t in targets:
        run(t.resolve())

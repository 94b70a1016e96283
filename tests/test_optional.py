"""Without an extra, dapp_eval says which one to install (and the rest keeps working).

Each check runs in a fresh interpreter where the extra's package is made unimportable
(``sys.modules[name] = None``), as in an environment where ``pip install dapp_eval`` brought no extras.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, SYNTHETIC


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_report_without_the_report_extra_names_it():
    out = _run("import sys; sys.modules['jinja2'] = None\n"
               "import dapp_eval\n"
               "data = dapp_eval.load_programme('data_synthetic')\n"  # the library itself works
               "print(dapp_eval.analyses.funnel.cascade(data).summary.shape[0] > 0)\n"
               "try:\n    import dapp_eval.report\n"
               "except ImportError as err:\n    print(type(err).__name__, err)\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "True"
    assert lines[1] == ("MissingExtraError dapp_eval.report (the HTML report) needs the package 'jinja2', which is "
                        'not installed: pip install "dapp_eval[report]"')


def test_cli_report_without_the_extra_says_so_without_a_traceback(tmp_path):
    out = _run("import sys; sys.modules['tqdm'] = None\n"
               "from dapp_eval.cli import main\n"
               f"sys.exit(main(['report', {str(SYNTHETIC)!r}, '--out', {str(tmp_path / 'out')!r}]))\n")
    assert out.returncode == 2
    assert out.stderr.strip() == ("dapp-eval report: dapp_eval.report (the HTML report) needs the package 'tqdm', "
                                  'which is not installed: pip install "dapp_eval[report]"')
    assert not (tmp_path / "out").exists()


def test_sav_file_without_the_spss_extra_names_it(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    import pandas as pd

    folder = tmp_path / "prog"
    folder.mkdir()
    for f in SYNTHETIC.glob("*.csv"):
        (folder / f.name).write_bytes(f.read_bytes())
    sites = pd.read_csv(folder / "sites.csv", dtype=str, keep_default_na=False)
    pyreadstat.write_sav(sites, str(folder / "sites.sav"))
    (folder / "sites.csv").unlink()
    out = _run("import sys; sys.modules['pyreadstat'] = None\n"
               "import dapp_eval\n"
               f"dapp_eval.load_programme({str(folder)!r})\n")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "dapp_eval.optional.MissingExtraError: reading the SPSS file sites.sav needs the package 'pyreadstat', "
        'which is not installed: pip install "dapp_eval[spss]"')

"""Determinism (issue 7): the same folder gives byte-identical reports and result tables.

The reports are rendered from templates in one process (no notebook kernel).
Published numbers are rounded at the source to the precision shown, figures
are SVGs without software or date metadata and with fixed element ids, and the
workbook has fixed document dates and zip times. The reports carry no timestamp
(the only dates are the data's own: period and extract date), so nothing needs
stripping before comparing. Byte-identical renders (twice, with 1 and 2 BLAS
threads, in two processes) are checked in tests/test_report_release.py.
"""

from __future__ import annotations

import pandas as pd
from conftest import SYNTHETIC

from dapp_eval.analyses import attrition, funnel, risk, safety
from dapp_eval.data.io import load_programme


def test_result_tables_are_identical_on_reload():
    one, two = load_programme(SYNTHETIC), load_programme(SYNTHETIC)
    assert one.input_hash == two.input_hash
    for fn in (lambda d: funnel.cascade(d, by="site_id"), lambda d: attrition.completion_rate(d, by="site_id"),
               lambda d: risk.change(d), lambda d: risk.missing_exit(d, m=5, seed=3),
               lambda d: safety.wave_model(d)):
        a, b = fn(one), fn(two)
        pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
        assert a.meta == b.meta


def test_a_release_is_byte_identical_whatever_the_number_of_processes(tmp_path):
    """The shipped release's disclosure logs differed between 1 and 2 rendering processes: a table published once
    per release was logged again by each process that read it. Rendered with 1 and 3 processes, every file of a
    three-site release is the same, byte for byte."""
    from dapp_eval.report import render_release
    from dapp_eval.synthetic import generate

    data = tmp_path / "data"
    generate(data, referrals=300, sites=3, seed=4321)
    outs = []
    for jobs in (1, 3):
        out = tmp_path / f"jobs{jobs}"
        render_release(data, out, jobs=jobs, progress=False)
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir())
    assert [n for n in names if (outs[0] / n).read_bytes() != (outs[1] / n).read_bytes()] == []

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

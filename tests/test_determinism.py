"""Determinism (issue 7): the same folder gives byte-identical reports and result tables.

The reports are rendered from templates in one process (no notebook kernel).
Published numbers are rounded at the source to the precision shown, figures
are PNGs without software or date metadata, and the workbook has fixed
document dates and zip times. The reports carry no timestamp (the only dates
are the data's own: period and extract date), so nothing needs stripping
before comparing; see tests/test_report_release.py for the thread-count check.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
from conftest import SYNTHETIC

from dapp_eval import attrition, funnel, risk, safety
from dapp_eval.io import load_programme
from dapp_eval.report import render_reports


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rendered_report_is_byte_identical_twice(tmp_path):
    one = render_reports(SYNTHETIC, tmp_path / "one", sites=["S02"], overall=False, progress=False)
    two = render_reports(SYNTHETIC, tmp_path / "two", sites=["S02"], overall=False, progress=False)
    assert [p.name for p in one] == [p.name for p in two] == ["report_s02.html", "tables.xlsx", "index.html"]
    first = one[0].read_text(encoding="utf-8")
    assert len(first) > 100_000 and "<h2>At a glance" in first
    for a, b in zip(one, two):
        assert _digest(a) == _digest(b), f"{a.name} differs between two renders of the same data"
    # no render timestamp in the page
    today = dt.date.today()
    for stamp in (today.isoformat(), today.strftime("%d %B %Y")):
        assert stamp not in first, f"the report contains today's date ({stamp})"


def test_result_tables_are_identical_on_reload():
    one, two = load_programme(SYNTHETIC), load_programme(SYNTHETIC)
    assert one.input_hash == two.input_hash
    for fn in (lambda d: funnel.cascade(d, by="site_id"), lambda d: attrition.completion_rate(d, by="site_id"),
               lambda d: risk.change(d), lambda d: risk.missing_exit(d, m=5, seed=3),
               lambda d: safety.wave_model(d)):
        a, b = fn(one), fn(two)
        pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
        assert a.meta == b.meta

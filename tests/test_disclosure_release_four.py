"""A whole release (render_release, as `dapp-eval report` writes it) of 4 sites of unequal size, with two
--period variants beside each other: nothing is given back across sites, periods or the workbook."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import figures_not_drawn

from dapp_eval.disclosure.audit import audit_release


def _synth(tmp_path_factory, name, **kw):
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp(name) / "data"
    generate(folder, **kw)
    return folder


@pytest.fixture(scope="module")
def release_four_sites_periods(tmp_path_factory):
    from dapp_eval.report.render import render_release

    folder = _synth(tmp_path_factory, "synth4", referrals=480, sites=4, seed=12)
    out = tmp_path_factory.mktemp("rel4") / "out"
    with figures_not_drawn():  # the audit attacks each chart's data table, never its picture
        render_release(folder, out, progress=False,
                       periods=[("2023-01-01", "2025-03-31"), ("2024-04-01", "2025-03-31")])
    return folder, out


def _site_sizes(folder):
    return pd.read_csv(folder / "referrals.csv").groupby("site_id").size()


@pytest.mark.slow
def test_release_of_four_unequal_sites_with_periods_gives_nothing_back(release_four_sites_periods):
    folder, out = release_four_sites_periods
    sizes = _site_sizes(folder)
    assert len(sizes) == 4 and sizes.max() > 1.3 * sizes.min()      # unequal sites
    assert len(list(out.glob("report_*.html"))) == 10                # 5 pages x 2 periods, one release
    res = audit_release(out)
    assert res.ok, res.text()
    # the attacks ran on this release: other sites in each period, one period inside the other, the workbook
    for attack in ("across reports", "across periods", "row and column totals", "denominators and conversions",
                   "percentage x denominator"):
        assert res.relations.get(attack, 0) > 10, (attack, res.relations)

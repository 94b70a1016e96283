"""A whole release (render_release, as `dapp-eval report` writes it) of 4 sites of unequal size, with two
--period variants beside each other: nothing is given back across sites, periods or the workbook."""

from __future__ import annotations

import pytest
from conftest import site_sizes, synthetic_release

from dapp_eval.disclosure.audit import audit_release


@pytest.fixture(scope="module")
def release_four_sites_periods(tmp_path_factory):
    return synthetic_release(tmp_path_factory, "synth4", referrals=480, sites=4, seed=12,
                             periods=[("2023-01-01", "2025-03-31"), ("2024-04-01", "2025-03-31")])


@pytest.mark.slow
def test_release_of_four_unequal_sites_with_periods_gives_nothing_back(release_four_sites_periods):
    folder, out = release_four_sites_periods
    sizes = site_sizes(folder)
    assert len(sizes) == 4 and sizes.max() > 1.3 * sizes.min()      # unequal sites
    pages = [p.name for p in out.glob("report_*.html")]
    annexes = [p for p in pages if p.endswith("_annex.html")]
    assert len(pages) - len(annexes) == 10 and len(annexes) == 10    # 5 scopes x 2 periods, each with its annex
    res = audit_release(out)
    assert res.ok, res.text()
    # the attacks ran on this release: other sites in each period, one period inside the other, the workbook
    # (the flow's conversions are identities of its published stages: tried as 'participant flow')
    for attack in ("across reports", "across periods", "row and column totals", "participant flow",
                   "percentage x denominator"):
        assert res.relations.get(attack, 0) > 10, (attack, res.relations)

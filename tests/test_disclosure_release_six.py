"""A whole release of 6 sites of unequal size: many small counts, none worked back."""

from __future__ import annotations

import pytest
from conftest import site_sizes, synthetic_release

from dapp_eval.disclosure.audit import audit_release


@pytest.fixture(scope="module")
def release_six_sites(tmp_path_factory):
    return synthetic_release(tmp_path_factory, "synth6", referrals=600, sites=6, seed=13)


@pytest.mark.slow
def test_release_of_six_unequal_sites_gives_nothing_back(release_six_sites):
    folder, out = release_six_sites
    sizes = site_sizes(folder)
    assert len(sizes) == 6 and sizes.max() > 1.5 * sizes.min()
    res = audit_release(out)
    assert res.ok, res.text()
    assert res.relations["across reports"] > 100 and res.n_hidden > 300   # many small counts, none worked back

"""A whole release of 6 sites of unequal size: many small counts, none worked back."""

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
def release_six_sites(tmp_path_factory):
    from dapp_eval.report.render import render_release

    folder = _synth(tmp_path_factory, "synth6", referrals=600, sites=6, seed=13)
    out = tmp_path_factory.mktemp("rel6") / "out"
    with figures_not_drawn():  # the audit attacks each chart's data table, never its picture
        render_release(folder, out, progress=False)
    return folder, out


def _site_sizes(folder):
    return pd.read_csv(folder / "referrals.csv").groupby("site_id").size()


@pytest.mark.slow
def test_release_of_six_unequal_sites_gives_nothing_back(release_six_sites):
    folder, out = release_six_sites
    sizes = _site_sizes(folder)
    assert len(sizes) == 6 and sizes.max() > 1.5 * sizes.min()
    res = audit_release(out)
    assert res.ok, res.text()
    assert res.relations["across reports"] > 100 and res.n_hidden > 300   # many small counts, none worked back

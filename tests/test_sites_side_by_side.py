"""Issue 26 (outside attack a25 J4): a figure a site's own page withholds is withheld beside the other sites too.

The all-sites comparison printed 85% for two sites whose own pages hid their completion rate (too few who did
not complete): the same figure, withheld on one page and printed on another.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pytest

from dapp_eval.commissioner import headlines
from dapp_eval.commissioner.headlines import SITE_OUTCOMES
from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.report.context import Page, Release
from dapp_eval.report.sections import _headlines
from dapp_eval.report.sections._gap import published_outcome

PERIOD = ("2024-01-01", "2024-03-31")


@lru_cache(maxsize=1)
def _shipped():
    return Release(load_programme("data_synthetic").subset(period=PERIOD), load_plan(None, period=list(PERIOD)))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A folder in which two sites' own pages hide their completion rate (a few who did not complete)."""
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("side_by_side") / "data"
    generate(folder, referrals=640, sites=4, seed=19191)
    return Release(load_programme(folder), load_plan(None))


def test_the_generated_case_has_sites_whose_pages_hide_their_completion_rate(generated):
    rel = generated
    hidden = [sid for sid in rel.data.sites["site_id"]
              if _headlines.published(Page(rel, sid)).set_index("code").loc["completion_rate", "hidden"]]
    assert len(hidden) >= 1


@pytest.mark.parametrize("which", ["shipped", "generated"])
@pytest.mark.parametrize("code", SITE_OUTCOMES)
def test_a_figure_withheld_on_its_sites_page_is_withheld_in_the_comparison(code, which, generated):
    rel = _shipped() if which == "shipped" else generated
    page = Page(rel, None)
    sites = list(rel.data.sites["site_id"])
    done = {sid: _headlines.figures(rel, sid) for sid in [*sites, None]}
    sc = headlines.site_comparison(rel.data, plan=rel.plan, alpha=rel.alpha, figures=done)
    shown = published_outcome(page, sc, code).set_index("site_id")
    for sid in sites:
        own = _headlines.published(Page(rel, sid)).set_index("code").loc[code]
        value = pd.to_numeric(pd.Series([shown.loc[sid, "estimate"]]), errors="coerce").iloc[0]
        if own["hidden"]:
            assert pd.isna(value), (code, sid)
            if "n_numerator" in shown:  # the card hides its counts too: so does the comparison
                assert pd.isna(pd.to_numeric(pd.Series([shown.loc[sid, "n_numerator"]]), errors="coerce").iloc[0])
        elif pd.notna(own["value"]):
            assert value == pytest.approx(own["value"]), (code, sid)

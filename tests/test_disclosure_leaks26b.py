"""Issue 26, second attack round: numbers an outside attacker worked back from releases built with the
publication step (exclusion counts in a caption, the Mirabal and police before/after changes, Table 1
standardised differences, counts in sentences, zeros in small paired groups, periods that tile a union,
and two audit misreadings that refused valid releases). Each test does the attacker's arithmetic on a
generated folder (``dapp_eval.synthetic.generate``), not on the shipped data only."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from conftest import figures_not_drawn


@pytest.fixture(scope="module")
def folder_a(tmp_path_factory):
    """The attacker's release A: 700 referrals, 3 sites, seed 9101."""
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("leakA") / "data"
    generate(folder, referrals=700, sites=3, seed=9101)
    return folder


@pytest.fixture(scope="module")
def release_a(folder_a):
    from dapp_eval.io import load_programme
    from dapp_eval.plan import load_plan
    from dapp_eval.report.context import Release

    return Release(load_programme(folder_a), load_plan(), synthetic=True)


def _section(release, name: str, site: str | None = None) -> str:
    """Everything a section puts on a page (its blocks and the parts it moves to the technical annex)."""
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, site)
    with figures_not_drawn():
        ctx = load(name).build(page)
    return str(ctx) + str(page.annex_parts)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _protected(v: str, base: int = 5) -> bool:
    """A published count: withheld (``<T``), or a multiple of the rounding base."""
    v = v.replace(",", "")
    return v.startswith("<") or v.startswith("[") or (v.isdigit() and int(v) % base == 0)


def test_cox_exclusion_counts_are_protected(release_a, folder_a):
    """Item 1: the dropout model's caption printed 'never started 386; started within lag 19; missing age 2'."""
    text = _text(_section(release_a, "attrition"))
    cap = re.search(r"episodes left out: (.*?)['\"],", text)
    assert cap, "the dropout model's caption is on the page"
    pairs = re.findall(r"([a-z][^:;]*): ([^;]+?)(?=;|$| )", cap.group(1))
    assert pairs, cap.group(1)
    r = pd.read_csv(folder_a / "referrals.csv")
    assert int(r["start_date"].isna().sum()) % 5 != 0  # the folder tests something: the true count is not a multiple of 5
    for what, v in pairs:
        assert _protected(v), f"{what}: {v} printed in clear"

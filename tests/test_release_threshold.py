"""Issue 26 (outside attack a23 G1): a threshold between two multiples of the rounding base.

At threshold 6 a count of 6 or 7 was shown as 10 (it may not be shown below the threshold), so 10 stood for 6 to
12, and two levels shown as 10 in a group shown as 10 could only be 6 and 6: an outside attacker read exact
counts from Table 1. A release applies the next multiple of 5 and says which threshold was asked for.
"""

from __future__ import annotations

import pytest

from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.disclosure.control import DisclosureControl, release_threshold
from dapp_eval.report.context import Page, Release
from dapp_eval.report.sections import about


@pytest.mark.parametrize("asked", range(5, 21))
def test_a_release_applies_the_next_multiple_of_five(asked):
    rel = Release(load_programme("data_synthetic").subset(sites=["S05"]), load_plan(None, threshold=asked))
    applied = release_threshold(asked)
    assert applied % 5 == 0 and asked <= applied < asked + 5
    assert rel.threshold_asked == asked and rel.plan["threshold"] == applied
    page = Page(rel, None)
    assert page.dc.threshold == applied
    row = dict(about.build(page)["rows"])["Small-number threshold"]
    assert (f"{asked} was asked for and raised to {applied}" in row) is (asked != applied)


@pytest.mark.parametrize("threshold", [5, 10, 15, 20])
def test_at_a_multiple_of_five_levels_at_the_threshold_never_add_up_to_the_top_of_a_total(threshold):
    """The a23 G1 identity: k levels shown at the smallest published value, each at the lowest count it allows
    (the threshold), add up to the top of the band of a total's published number. At a multiple of the base it
    never holds (k up to 8). (Levels above the threshold can still meet a total's band at its end, four of them
    at the bottom of theirs: that is the margin problem of independently rounded tables the audit checks.)"""
    assert _identity(threshold) == []
    assert _identity(6) == [2, 7]  # between multiples it holds: why a release raises such a threshold


def _identity(threshold: int) -> list[int]:
    """The k (2 to 8) for which k counts at the threshold add up to the top of some published number's band, with
    the bands read off DisclosureControl.published_count at ``threshold``."""
    dc = DisclosureControl(threshold=threshold)
    shown = {}
    for n in range(threshold, 400):
        shown.setdefault(dc.published_count(n), []).append(n)
    assert min(shown[min(shown)]) == threshold  # the smallest published number stands for the threshold up
    tops = {max(ns) for v, ns in shown.items() if v < 390}
    return [k for k in range(2, 9) if k * threshold in tops]


def test_between_multiples_the_identity_holds_which_is_why_the_threshold_is_raised():
    dc = DisclosureControl(threshold=6)
    assert dc.published_count(6) == dc.published_count(12) == 10  # 10 stands for 6 to 12: 6 + 6 = 12 exactly

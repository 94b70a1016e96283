"""No warning reaches the user: releases of small generated programmes (5-15 people per site) run silently.

At these sizes sandwich variances can come out negative, a fitted log-odds can overflow and a site can have
one eligible person, or every partner answered only one survey wave; each used to print a RuntimeWarning
(or stop the release with an error). The pages are rendered in
this process (``jobs=1``) so that every warning is recorded here.
"""

from __future__ import annotations

import warnings

import pytest

from dapp_eval import synthetic
from dapp_eval.disclosure.release import DisclosureAuditError
from dapp_eval.report.render import render_release


@pytest.mark.parametrize(("referrals", "sites", "seed"), [
    (50, 5, 1), (50, 5, 4), (50, 5, 6),
    (25, 1, 73),   # a sandwich variance below 0 in a model's standard errors (estimators._base.bse)
    (80, 4, 85),   # a rate of 0 whose published interval was scaled by 0/0 (disclosure control)
])
def test_small_release_prints_no_warning(tmp_path, capfd, referrals, sites, seed):
    folder = tmp_path / "data"
    synthetic.generate(folder, referrals=referrals, sites=sites, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            render_release(folder, tmp_path / "out", progress=False, jobs=1)
        except DisclosureAuditError:
            pass  # the backstop may still refuse a release after its rounds of withholding; never with a warning
    assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
    out, err = capfd.readouterr()
    assert "Warning" not in err and "Warning" not in out


def test_one_month_release_prints_no_warning(tmp_path, capfd):
    """A one-month period of a 4-site programme: the mixed model's deviance is infinite where it is singular
    (Brent's search stepped through inf - inf) and a ratio column held an infinite value; both used to warn."""
    folder = tmp_path / "data"
    synthetic.generate(folder, referrals=600, sites=4, seed=11)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_release(folder, tmp_path / "out", progress=False, jobs=1, periods=[("2024-06-01", "2024-06-30")])
    assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
    out, err = capfd.readouterr()
    assert "Warning" not in err and "Warning" not in out

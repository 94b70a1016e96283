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


@pytest.mark.parametrize("referrals, sites, seed, month", [
    (600, 4, 11, ("2024-06-01", "2024-06-30")),
    # the mixed model's Hessian stepped through inf - inf, and a standard error took sqrt of a negative
    (1400, 7, 8102, ("2024-05-01", "2024-05-31")),
])
def test_one_month_release_prints_no_warning(tmp_path, capfd, referrals, sites, seed, month):
    """A one-month period: the mixed model's deviance is infinite where it is singular (Brent's search and
    the Hessian's central differences stepped through inf - inf) and a ratio column held an infinite value;
    each used to warn."""
    folder = tmp_path / "data"
    synthetic.generate(folder, referrals=referrals, sites=sites, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_release(folder, tmp_path / "out", progress=False, jobs=1, periods=[month])
    assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
    out, err = capfd.readouterr()
    assert "Warning" not in err and "Warning" not in out


def test_wilson_standard_error_of_counts_that_do_not_fit_is_quiet():
    """A published numerator above its denominator (both rounded) has no standard error: NaN, not a warning
    (a one-month 7-site release printed 'invalid value encountered in sqrt')."""
    import numpy as np

    from dapp_eval.estimators.proportions import wilson_ci

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = wilson_ci(np.array([10.0, 3.0]), np.array([5.0, 12.0]))
    assert np.isnan(res.bse[0]) and res.bse[1] == np.sqrt(0.25 * 0.75 / 12)


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


@pytest.mark.parametrize("seed", [1, 4, 6])
def test_small_release_prints_no_warning(tmp_path, capfd, seed):
    folder = tmp_path / "data"
    synthetic.generate(folder, referrals=50, sites=5, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            render_release(folder, tmp_path / "out", progress=False, jobs=1)
        except DisclosureAuditError:
            pass  # at 10 referrals a site some counts can be worked back: the release is refused, after rendering
    assert [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught] == []
    out, err = capfd.readouterr()
    assert "Warning" not in err and "Warning" not in out

"""The same 3-site release with exact counts (small ones suppressed table by table, nothing rounded): the
attacker works them back, and every funnel count it recovers is the true one, so the attack is real."""

from __future__ import annotations

import pytest
from conftest import render_pages

from dapp_eval.disclosure.audit import audit_release


@pytest.fixture(scope="module")
def release_exact(three_sites, tmp_path_factory):
    # base 1: small counts suppressed table by table, everything else exact (no secondary suppression)
    return render_pages(three_sites, tmp_path_factory.mktemp("rel") / "exact", base=1)


def test_the_audit_recovers_true_counts_from_table_by_table_suppression(release_exact, three_sites):
    """Without rounding the attack works, and every funnel count it recovers is the true one."""
    import dapp_eval
    from dapp_eval.analyses import funnel

    res = audit_release(release_exact)
    assert not res.ok
    # the flow's totals and conversions are sums of its published final stages (analyses.flow_published), so
    # row-and-column totals and denominators have nothing of their own to work on: sites against all sites do
    assert "across reports" in res.recovered_by_attack
    data = dapp_eval.load_programme(three_sites)
    truth = {}
    for site in (None, "S01", "S02", "S03"):
        c = funnel.cascade(data.subset(sites=[site]) if site else data, by=None).tables["counts"]
        truth[f"report_{site.lower()}.html" if site else "report_all_sites.html"] = dict(zip(c["label"], c["n"]))
    checked = 0
    for leak in res.leaks:
        if leak.table == "funnel_counts" and leak.row.split(" / ")[0] in truth[leak.report]:  # not a merged row
            assert truth[leak.report][leak.row.split(" / ")[0]] == leak.value, str(leak)
            checked += 1

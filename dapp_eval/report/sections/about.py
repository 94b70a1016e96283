"""About this report (annex): scope, period, data version, input hash, threshold, and the accessibility statement."""

from __future__ import annotations

from dapp_eval import __version__
from dapp_eval.formatting import long_date
from dapp_eval.report.context import threshold_raised
from dapp_eval.report.sections._counts import published_counts

TITLE = "About this report"
PLACEMENT = "annex"  # page 1 starts with the verdict; the record of what this is comes last


def _scope_note(page) -> str:
    ref = page.data.referrals
    start = ref["site_id"].map(page.data.sites.set_index("site_id")["period_start"])
    before = int((ref["referral_date"] < start).sum())
    if not before:
        return "all referrals in the data"
    before = published_counts(page, {"n_carried_over": before}, name="title")["n_carried_over"]
    return (f"all referrals in the data, including {before} received before the period start and carried "
            "over into it (costs count only what falls inside the period; quarters it does not fully cover are "
            "marked partial)")


def build(page) -> dict:
    d, plan = page.data, page.plan
    extract = d.sites["data_extract_date"].max()
    rows = [
        ("Programme", page.scope),
        ("Sites", ", ".join(f"{n} ({m.replace('_', '-')})" for n, m in
                            zip(d.sites["site_name"], d.sites["programme_model"]))),
        ("Evaluation period", f"{long_date(d.sites['period_start'].min())} to {long_date(d.sites['period_end'].max())}"),
        ("Referrals in scope", (f"received {plan['period'][0]} to {plan['period'][1]}"
                                if plan["period"] else _scope_note(page))),
        ("Data extracted", f"{long_date(extract)} (cases still open are followed up to this date)"),
        ("dapp_eval version", __version__),
        ("Input data (SHA-256)", d.input_hash or "n/a"),
        ("Small-number threshold", f"counts below {page.dc.threshold} are hidden"
         + (" (strict: throughput counts too)" if page.dc.strict else "")
         + threshold_raised(page.release.threshold_asked, page.dc.threshold)),
    ]
    return {"rows": rows}

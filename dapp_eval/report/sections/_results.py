"""The analyses more than one section shows, each called the same way wherever it is used.

Each function returns the (cached) result for the page's data, or the
AnalysisError that explains why it is not available.
"""

from __future__ import annotations


def funnel_cascade(page):
    from dapp_eval.analyses import funnel

    return page.get("cascade", lambda: funnel.cascade(page.data, by=None, alpha=page.alpha))


def counts(page) -> dict[str, int]:
    res = funnel_cascade(page)
    if isinstance(res, Exception):
        return {}
    c = res.tables["counts"]
    return dict(zip(c["stage"], c["n"].astype(int)))


def wait(page, stage: str):
    from dapp_eval.analyses import funnel

    return page.get(f"wait_{stage}", lambda: funnel.waiting_times(page.data, stage=stage, unit="weeks",
                                                                   alpha=page.alpha))


def throughput(page):
    from dapp_eval.analyses import funnel

    return page.get("throughput", lambda: funnel.throughput(page.data, by=None, freq="fy_quarter"))


def costs(page):
    from dapp_eval.analyses import funnel

    return page.get("costs", lambda: funnel.costs(page.data, by=None))


def completion(page, by=None):
    from dapp_eval.analyses import attrition

    a = page.plan["attrition"]
    return page.get(f"completion_{by}", lambda: attrition.completion_rate(
        page.data, by=by, grace_weeks=a["grace_weeks"], exit_time=a["exit_time"], alpha=page.alpha,
        recording_lag=recording_lag(page)))


def recording_lag(page) -> float:
    """The plan's recording lag in days, "auto" resolved once on the release's data (all sites)."""
    from dapp_eval.analyses import attrition

    return page.release.result(None, "recording_lag", lambda: attrition.resolve_recording_lag(
        page.release.data, page.plan["attrition"].get("recording_lag")))


def risk_change(page):
    from dapp_eval.analyses import risk

    r = page.plan["risk"]
    return page.get("risk_change", lambda: risk.change(page.data, instrument=r["instrument"], from_=r["from"],
                                                        to=r["to"], informant=r["informant"], alpha=page.alpha,
                                                        primary=page.plan["primary"]["risk"]))


def missing_exit(page):
    from dapp_eval.analyses import risk

    r = page.plan["risk"]
    return page.get("missing_exit", lambda: risk.missing_exit(page.data, instrument=r["instrument"],
                                                              informant=r["informant"], alpha=page.alpha,
                                                              seed=int(page.plan["seed"])))


def feeling_safe(page):
    from dapp_eval.analyses import safety

    sp = page.plan["safety"]
    return page.get("feeling_safe", lambda: safety.feeling_safe(page.data, baseline=sp["baseline_wave"],
                                                                 followup=sp["followup_wave"], alpha=page.alpha))


def before_after(page):
    from dapp_eval.analyses import followup

    days = round(page.plan["followup"]["window_months"] * 365.25 / 12)
    return page.get("before_after", lambda: followup.before_after(
        page.data, design="commissioner", primary=page.plan["primary"]["followup"], after=(0, days),
        before=(-days, 0), alpha=page.alpha))

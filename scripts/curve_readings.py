"""Before/after of the wait medians and the restricted mean on the shipped data (docs/disclosure.md)."""
from dapp_eval.analyses import attrition, funnel
from dapp_eval.data.io import load_programme
from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.roles import publish

full = load_programme("data_synthetic")
dc = DisclosureControl()
for sid in [None, *sorted(full.sites["site_id"].astype(str))]:
    d = full if sid is None else full.subset(sites=[sid])
    line = [sid or "all"]
    for st in ("referral_to_assessment", "assessment_to_start"):
        w = funnel.waiting_times(d, stage=st, unit="weeks")
        p = publish(w.summary, w.roles["summary"], dc, name="w").iloc[0]
        t = w.summary.iloc[0]
        f = lambda v: v if isinstance(v, str) else f"{v:.2f}"  # noqa: E731
        line.append(f"{st}: {t.estimate:.2f} ({t.ci_lower:.2f}-{t.ci_upper:.2f}) obs {t.median_observed_events:.2f}"
                    f" -> {f(p.estimate)} ({f(p.ci_lower)}-{f(p.ci_upper)}) obs {f(p.median_observed_events)}")
    r = attrition.rmst(d, by=None)
    p = publish(r.summary, r.roles["summary"], dc, name="r").iloc[0]
    t = r.summary.iloc[0]
    line.append(f"rmst<{t.horizon_days:g}: {t.estimate:.2f} (se {t.std_error:.3f}) -> {p.estimate:.2f} (se {p.std_error:.3f})")
    print(" | ".join(line))

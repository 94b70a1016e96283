"""The analysis plan: choices fixed before results are seen.

A plan is a small YAML file (``--plan plan.yaml``) that the report prints in
full. Anything not given takes the default below.

.. code-block:: yaml

    title: Evaluation of the Northvale perpetrator programme
    period: [2023-04-01, 2025-03-31]   # referrals received in this period (default: all)
    threshold: 10                      # small-number suppression
    alpha: 0.05
    primary:                           # one primary outcome per domain; the rest are secondary (Holm-adjusted)
      engagement: completion_rate      # cumulative incidence of completion at planned length + grace
      risk: dash_mean_change           # practitioner DASH, intake -> exit
      safety: physical_violence        # partner-reported, T1 vs T4
      followup: police                 # any police involvement, 12 months before referral vs 12 months after exit
    attrition:
      exit_time: last_session          # or exit_date
      grace_weeks: 4
    risk:
      instrument: DASH
      informant: practitioner
    safety:
      baseline_wave: T1
      followup_wave: T4
    followup:
      window_months: 12
      proven_lag_months: 6
    headlines:
      extra: [proven_reoffending_rate]  # further headline figures for page 1's table (default none)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULT_PLAN", "load_plan"]

DEFAULT_PLAN: dict[str, Any] = {
    "title": "Perpetrator programme evaluation",
    "period": None,
    "threshold": 10,
    "alpha": 0.05,
    "primary": {
        "engagement": "completion_rate",
        "risk": "dash_mean_change",
        "safety": "physical_violence",
        "followup": "police",
    },
    "attrition": {"exit_time": "last_session", "grace_weeks": 4},
    "risk": {"instrument": "DASH", "informant": "practitioner", "from": "intake", "to": "exit"},
    "safety": {"baseline_wave": "T1", "followup_wave": "T4"},
    "followup": {"window_months": 12, "proven_lag_months": 6},
    # figures of the headline registry beyond page 1's usual table (dapp_eval.headlines.V2_FIGURES and others)
    "headlines": {"extra": []},
}

_ALLOWED = {
    ("primary", "engagement"): {"completion_rate"},
    ("primary", "risk"): {"dash_mean_change", "reliable_improvement"},
    ("attrition", "exit_time"): {"last_session", "exit_date"},
    ("primary", "followup"): {"police", "marac", "childrens_services"},
}


def _merge(base: dict, new: dict, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in (new or {}).items():
        if k not in base:
            raise ValueError(f"analysis plan: unknown setting '{path}{k}' (known: {', '.join(base)})")
        if isinstance(base[k], dict) and isinstance(v, dict):
            out[k] = _merge(base[k], v, f"{path}{k}.")
        else:
            out[k] = v
    return out


def load_plan(source: str | Path | dict | None = None, **overrides) -> dict[str, Any]:
    """Read an analysis plan YAML (or dict) over the defaults and check it.

    Parameters
    ----------
    source : str, Path, dict or None
    **overrides
        Top-level settings that win over the file (e.g. ``threshold=5`` from the command line).

    Examples
    --------
    >>> plan = load_plan({"primary": {"safety": "sexual_violence"}}, threshold=5)
    >>> plan["primary"]["safety"], plan["threshold"], plan["primary"]["risk"]
    ('sexual_violence', 5, 'dash_mean_change')
    """
    if source is None:
        raw = {}
    elif isinstance(source, dict):
        raw = source
    else:
        raw = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    plan = _merge(DEFAULT_PLAN, raw)
    for k, v in overrides.items():
        if v is not None:
            plan = _merge(plan, {k: v})
    for (section, key), allowed in _ALLOWED.items():
        if plan[section][key] not in allowed:
            raise ValueError(f"analysis plan: {section}.{key} must be one of {sorted(allowed)}, got {plan[section][key]!r}")
    from .schema import SURVEY_BEHAVIOURS, WAVES

    if plan["primary"]["safety"] not in SURVEY_BEHAVIOURS:
        raise ValueError(f"analysis plan: primary.safety must be one of {list(SURVEY_BEHAVIOURS)}")
    for w in ("baseline_wave", "followup_wave"):
        if plan["safety"][w] not in WAVES:
            raise ValueError(f"analysis plan: safety.{w} must be one of {list(WAVES)}")
    extra = plan["headlines"]["extra"]
    if not isinstance(extra, list) or not all(isinstance(c, str) for c in extra):
        raise ValueError("analysis plan: headlines.extra must be a list of headline figure codes")
    if int(plan["threshold"]) < 1:
        raise ValueError("analysis plan: threshold must be >= 1")
    if plan["period"] is not None and len(plan["period"]) != 2:
        raise ValueError("analysis plan: period must be [FROM, TO]")
    return plan

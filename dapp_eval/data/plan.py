"""The analysis plan: choices fixed before results are seen.

A plan is a small YAML file (``--plan plan.yaml``) that the report prints in
full. Anything not given takes the default below. It is read once, checked
once, and held as a frozen, typed :class:`AnalysisPlan`; every later step
reads its settings (and the confidence level) from there.

.. code-block:: yaml

    title: Evaluation of the Northvale perpetrator programme
    period: [2023-04-01, 2025-03-31]   # referrals received in this period (default: all)
    threshold: 10                      # small-number suppression
    alpha: 0.05                        # 95% intervals; 0.1 gives 90% intervals everywhere
    seed: 20240601                     # random draws (multiple imputation): same plan, same numbers
    primary:                           # one primary outcome per domain; the rest are secondary (Holm-adjusted)
      engagement: completion_rate      # cumulative incidence of completion at planned length + grace
      risk: dash_mean_change           # practitioner DASH, intake -> exit
      safety: physical_violence        # partner-reported, T1 vs T4
      followup: police                 # any police involvement, 12 months before referral vs 12 months after exit
    attrition:
      exit_time: last_session          # or exit_date
      grace_weeks: 4
      recording_lag: auto              # follow episodes to the extract date minus this many days (auto: the
                                       # 95th centile of the exit-recording delay; null: to the extract date)
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
      completers_only: false           # also give each mostly-completers figure among completers only
      extra: [proven_reoffending_rate]  # more figures for page 1's headline table (default none)
    trends:
      change_date: null                # a known change (new provider, changed programme), YYYY-MM-DD:
                                       # adds an interrupted time series of each quarterly chart

The plan behaves as a read-only mapping too (``plan["attrition"]["grace_weeks"]``),
so code and notebooks written for the dict it used to be keep working.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dapp_eval.results import level_text

__all__ = ["DEFAULT_PLAN", "AnalysisPlan", "level_text", "load_plan"]


class _Section(Mapping):
    """A frozen group of settings that also reads as a mapping (``section["key"]``)."""

    #: YAML key -> attribute name, where the YAML key is not a Python name (``from``)
    _aliases: dict[str, str] = {}

    def _keys(self) -> list[str]:
        inv = {v: k for k, v in self._aliases.items()}
        return [inv.get(f.name, f.name) for f in dataclasses.fields(self)]

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, self._aliases.get(key, key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(dataclasses.fields(self))

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.to_dict() if isinstance(v, _Section) else (list(v) if isinstance(v, tuple) else v))
                for k, v in self.items()}

    def __eq__(self, other) -> bool:
        if isinstance(other, Mapping):
            return self.to_dict() == (other.to_dict() if isinstance(other, _Section) else dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class PrimaryOutcomes(_Section):
    """One primary outcome per domain; the rest are secondary (Holm-adjusted)."""

    engagement: str = "completion_rate"
    risk: str = "dash_mean_change"
    safety: str = "physical_violence"
    followup: str = "police"


@dataclass(frozen=True, eq=False)
class AttritionPlan(_Section):
    exit_time: str = "last_session"
    grace_weeks: float = 4
    #: "auto" (the data's 95th centile of exit-recording delay), a number of days, or None (no lag rule)
    recording_lag: str | float | None = "auto"

    def completion_args(self, *, recording_lag: str | float | None = "plan") -> dict[str, Any]:
        """The arguments of :func:`dapp_eval.analyses.attrition.completion_rate` that this plan sets.

        The one translation of the plan's attrition settings into arguments. ``recording_lag``: a value
        already resolved by the caller (e.g. "auto" resolved once on the whole release), else the plan's.

        Examples
        --------
        >>> AttritionPlan().completion_args(recording_lag=21.0)
        {'grace_weeks': 4, 'exit_time': 'last_session', 'recording_lag': 21.0}
        """
        lag = self.recording_lag if recording_lag == "plan" else recording_lag
        return {"grace_weeks": self.grace_weeks, "exit_time": self.exit_time, "recording_lag": lag}


@dataclass(frozen=True, eq=False)
class RiskPlan(_Section):
    _aliases = {"from": "from_"}
    instrument: str = "DASH"
    informant: str = "practitioner"
    from_: str = "intake"
    to: str = "exit"


@dataclass(frozen=True, eq=False)
class SafetyPlan(_Section):
    baseline_wave: str = "T1"
    followup_wave: str = "T4"


@dataclass(frozen=True, eq=False)
class FollowupPlan(_Section):
    window_months: int = 12
    proven_lag_months: int = 6


@dataclass(frozen=True, eq=False)
class HeadlinesPlan(_Section):
    #: beside a figure whose population is mostly completers, the same figure among completers only
    completers_only: bool = False
    #: figures of the headline registry added to page 1's headline table (codes of dapp_eval.commissioner.headlines)
    extra: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class TrendsPlan(_Section):
    """``change_date``: the first day under a known change (new provider, changed programme), or None.

    When set, the trends section fits an interrupted time series (segmented regression, Newey-West SE) to
    each quarterly chart, with the change at the first quarter starting on or after that date.
    """

    change_date: str | None = None


_SECTIONS: dict[str, type[_Section]] = {
    "primary": PrimaryOutcomes, "attrition": AttritionPlan, "risk": RiskPlan,
    "safety": SafetyPlan, "followup": FollowupPlan, "headlines": HeadlinesPlan, "trends": TrendsPlan,
}


@dataclass(frozen=True, eq=False)
class AnalysisPlan(_Section):
    """The analysis plan, checked once where it is read (:func:`load_plan`).

    ``alpha`` is the one source of the confidence level: every interval in a
    release is computed at it and every label reads :attr:`level` or
    :attr:`ci_label` (``'90% CI'`` at ``alpha = 0.1``).

    Examples
    --------
    >>> plan = load_plan({"alpha": 0.1})
    >>> plan.alpha, plan.level, plan.ci_label, plan.attrition.grace_weeks, plan["risk"]["from"]
    (0.1, '90%', '90% CI', 4, 'intake')
    """

    title: str = "Perpetrator programme evaluation"
    period: tuple[str, str] | None = None
    threshold: int = 10
    alpha: float = 0.05
    #: seeds every random draw of a release (multiple imputation); draws never depend on ID text or row order
    seed: int = 20240601
    primary: PrimaryOutcomes = field(default_factory=PrimaryOutcomes)
    attrition: AttritionPlan = field(default_factory=AttritionPlan)
    risk: RiskPlan = field(default_factory=RiskPlan)
    safety: SafetyPlan = field(default_factory=SafetyPlan)
    followup: FollowupPlan = field(default_factory=FollowupPlan)
    headlines: HeadlinesPlan = field(default_factory=HeadlinesPlan)
    trends: TrendsPlan = field(default_factory=TrendsPlan)

    @property
    def confidence(self) -> float:
        """``1 - alpha``."""
        return 1 - self.alpha

    @property
    def level(self) -> str:
        """The confidence level as written on a page, e.g. ``'95%'``."""
        return level_text(self.alpha)

    @property
    def ci_label(self) -> str:
        """``'95% CI'`` at the default alpha; the plan's level otherwise."""
        return f"{self.level} CI"

    def replace(self, **changes) -> AnalysisPlan:
        """A checked copy with top-level settings changed (``plan.replace(threshold=5)``)."""
        return load_plan(self, **changes)


DEFAULT_PLAN: dict[str, Any] = AnalysisPlan().to_dict()

_ALLOWED = {
    ("primary", "engagement"): {"completion_rate"},
    ("primary", "risk"): {"dash_mean_change", "reliable_improvement"},
    ("attrition", "exit_time"): {"last_session", "exit_date"},
    ("primary", "followup"): {"police", "marac", "childrens_services"},
}


def _merge(base: dict, new: Mapping | None, path: str = "") -> dict:
    out = dict(base)
    for k, v in (new or {}).items():
        if k not in base:
            raise ValueError(f"analysis plan: unknown setting '{path}{k}' (known: {', '.join(base)})")
        if isinstance(base[k], dict) and isinstance(v, Mapping):
            out[k] = _merge(base[k], v, f"{path}{k}.")
        elif isinstance(base[k], dict):
            raise ValueError(f"analysis plan: '{path}{k}' must be a group of settings (known: {', '.join(base[k])})")
        else:
            out[k] = v
    return out


def _number(value, name: str, kind: type):
    if isinstance(value, bool):
        raise ValueError(f"analysis plan: {name} must be a number")
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"analysis plan: {name} must be a number") from None
    if kind is int and out != float(value):
        raise ValueError(f"analysis plan: {name} must be a whole number")
    return out


def _date_text(value, name: str) -> str:
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return value.isoformat()
    try:
        return _dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValueError(f"analysis plan: {name} must be a date written YYYY-MM-DD") from None


def _recording_lag(lag):
    """attrition.recording_lag: 'auto', None (no rule) or a non-negative number of days."""
    if lag is None or lag == "auto":
        return lag
    lag = _number(lag, "attrition.recording_lag (days, 'auto' or null)", float)
    if lag < 0:
        raise ValueError("analysis plan: attrition.recording_lag must be >= 0 days, 'auto' or null")
    return int(lag) if lag == int(lag) else lag


def _headline_codes(extra) -> tuple[str, ...]:
    """``headlines.extra`` as a tuple of figure codes (checked against the registry where the report uses it)."""
    if isinstance(extra, str | bytes) or not all(isinstance(c, str) for c in (extra or ())):
        raise ValueError("analysis plan: headlines.extra must be a list of headline figure codes")
    return tuple(extra or ())


def _check_choices(raw: dict) -> None:
    """Settings that must be one of a fixed list."""
    for (section, key), allowed in _ALLOWED.items():
        if raw[section][key] not in allowed:
            raise ValueError(f"analysis plan: {section}.{key} must be one of {sorted(allowed)}, "
                             f"got {raw[section][key]!r}")
    from dapp_eval.data.schema import SURVEY_BEHAVIOURS, WAVES

    if raw["primary"]["safety"] not in SURVEY_BEHAVIOURS:
        raise ValueError(f"analysis plan: primary.safety must be one of {list(SURVEY_BEHAVIOURS)}")
    for w in ("baseline_wave", "followup_wave"):
        if raw["safety"][w] not in WAVES:
            raise ValueError(f"analysis plan: safety.{w} must be one of {list(WAVES)}")


def _period(period) -> tuple[str, str] | None:
    """The plan's ``period`` as two ISO dates, FROM not after TO (``None``: all the data)."""
    if period is None:
        return None
    if isinstance(period, str | bytes) or len(period) != 2:
        raise ValueError("analysis plan: period must be [FROM, TO]")
    period = (_date_text(period[0], "period FROM"), _date_text(period[1], "period TO"))
    if period[0] > period[1]:
        raise ValueError("analysis plan: period FROM must not be after TO")
    return period


def _check_followup(f: dict) -> None:
    for key in ("window_months", "proven_lag_months"):
        if _number(f[key], f"followup.{key}", int) < (1 if key == "window_months" else 0):
            raise ValueError(f"analysis plan: followup.{key} must be {'>= 1' if key == 'window_months' else '>= 0'}")


def _build(raw: dict) -> AnalysisPlan:
    _check_choices(raw)
    threshold = _number(raw["threshold"], "threshold", int)
    if threshold < 1:
        raise ValueError("analysis plan: threshold must be >= 1")
    alpha = _number(raw["alpha"], "alpha", float)
    if not 0 < alpha < 0.5:
        raise ValueError("analysis plan: alpha must be between 0 and 0.5 (0.05 gives 95% intervals)")
    period = _period(raw["period"])
    a = raw["attrition"]
    grace = _number(a["grace_weeks"], "attrition.grace_weeks", float)
    if grace < 0:
        raise ValueError("analysis plan: attrition.grace_weeks must be >= 0")
    f = raw["followup"]
    _check_followup(f)
    lag = _recording_lag(a.get("recording_lag", "auto"))
    completers_only = raw["headlines"]["completers_only"]
    if not isinstance(completers_only, bool):
        raise ValueError("analysis plan: headlines.completers_only must be true or false")
    extra = _headline_codes(raw["headlines"]["extra"])
    seed = _number(raw["seed"], "seed", int)
    if seed < 0:
        raise ValueError("analysis plan: seed must be a whole number >= 0")
    r = raw["risk"]
    change = raw["trends"]["change_date"]
    change = None if change is None else _date_text(change, "trends.change_date")
    return AnalysisPlan(
        title=str(raw["title"]), period=period, threshold=threshold, alpha=alpha, seed=seed,
        primary=PrimaryOutcomes(**raw["primary"]),
        attrition=AttritionPlan(exit_time=a["exit_time"], grace_weeks=int(grace) if grace == int(grace) else grace,
                                recording_lag=lag),
        risk=RiskPlan(instrument=r["instrument"], informant=r["informant"], from_=r["from"], to=r["to"]),
        safety=SafetyPlan(**raw["safety"]),
        followup=FollowupPlan(window_months=int(f["window_months"]), proven_lag_months=int(f["proven_lag_months"])),
        headlines=HeadlinesPlan(completers_only=completers_only, extra=extra),
        trends=TrendsPlan(change_date=change),
    )


def load_plan(source: str | Path | Mapping | None = None, **overrides) -> AnalysisPlan:
    """Read an analysis plan YAML (or mapping, or plan) over the defaults and check it once.

    Parameters
    ----------
    source : str, Path, dict, AnalysisPlan or None
    **overrides
        Top-level settings that win over the file (e.g. ``threshold=5`` from the command line).

    Returns
    -------
    AnalysisPlan
        Frozen; also readable as a mapping (``plan["primary"]["risk"]``).

    Examples
    --------
    >>> plan = load_plan({"primary": {"safety": "sexual_violence"}}, threshold=5)
    >>> plan["primary"]["safety"], plan.threshold, plan.primary.risk
    ('sexual_violence', 5, 'dash_mean_change')
    """
    if source is None:
        raw: Mapping = {}
    elif isinstance(source, _Section):
        raw = source.to_dict()
    elif isinstance(source, Mapping):
        raw = source
    else:
        raw = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"analysis plan {Path(source).name}: expected settings as 'name: value' lines")
    plan = _merge(DEFAULT_PLAN, raw)
    for k, v in overrides.items():
        if v is not None:
            plan = _merge(plan, {k: v})
    return _build(plan)


def as_plan(plan: AnalysisPlan | Mapping | str | Path | None) -> AnalysisPlan:
    """``plan`` itself when it is already checked, else :func:`load_plan` of it."""
    return plan if isinstance(plan, AnalysisPlan) else load_plan(plan)

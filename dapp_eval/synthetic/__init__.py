"""Synthetic programme data with known true parameters.

The generator writes a complete programme data folder in the form of the data
contract (:mod:`dapp_eval.data.schema`): ``sites.csv``, ``referrals.csv``,
``sessions.csv``, ``risk_assessments.csv``, ``partners.csv``,
``partner_surveys.csv`` and ``incidents.csv``, plus ``truth.json`` (every
parameter the data were drawn from, so analyses can be checked against the
truth) and ``README.md`` (the data dictionary).

The default scenario is calibrated to the public council reports in the
project's seed folder (Bromley 2014, Coventry 2016, Portsmouth 2014,
Leicestershire 2023, London Councils 2018) and to the Project Mirabal partner
survey headline figures.  Every number is invented: no real person, site or
provider is represented.

How the data are simulated (one referral episode at a time, vectorised)
-----------------------------------------------------------------------
1. Sites get a delivery model (24-session group, 10-session group,
   assessment-led one-to-one, mixed), a referral volume and a weekly capacity
   of programme starts.  Capacity is set from the expected demand divided by
   a *load factor*; sites with a load factor above 1 build a waiting list.
2. Referrals arrive uniformly over the evaluation period (a few are carried
   over from the months before it).  About 8% are repeat episodes of an
   earlier person (same ``participant_id``, later date).
3. Assessment stage: after an exponential wait the person either declines
   assessment or is assessed; assessed people are suitable or unsuitable.
4. Suitable people join the site's first-come-first-served queue.  Each week
   the site offers as many places as its capacity allows; people who decline
   to start do so when a place is offered (they do not use it).
5. Programme: weekly sessions from the offered slot; the first attended
   session is the start date.  Exits compete in continuous programme time
   (weeks since start): dropout with hazard
   ``h0 * exp(beta . x)``, exclusion and other exits (moved away, custody,
   other) with small constant hazards, and completion when the planned
   session is reached.  A person who leaves at continuous time ``t`` is
   recorded at the last session they attended before ``t``; the case is
   closed 0-6 weeks later.  A cause-specific Cox model of dropout on the
   time from start to the last attended session therefore recovers ``beta``
   approximately (exactly in continuous time; the weekly grid only adds
   ties).
6. Risk (DASH 0-24), (ex-)partners, partner survey waves and linked police /
   MARAC / children's services records are drawn from models whose true
   parameters are written to ``truth.json``.

Cases still open at the data extract date are censored there: their exit
fields are empty, later sessions, surveys and records do not exist.

Examples
--------
>>> from dapp_eval import synthetic
>>> tables = synthetic.generate_tables(referrals=200, sites=5, seed=3)
>>> sorted(tables)[:3]
['capacity', 'children', 'feedback']
>>> len(tables["referrals"])
200
"""

from __future__ import annotations

import copy
import json
import math
from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from dapp_eval.data import schema
from dapp_eval.synthetic.v2 import _bool, _dates  # the column builders both generators use

__all__ = [
    "GENERATOR_VERSION",
    "DEFAULT_ARGS",
    "SCENARIOS",
    "SyntheticProgramme",
    "scenario_parameters",
    "simulate",
    "generate_tables",
    "generate",
    "write_programme",
    "table_to_csv",
    "data_dictionary",
    "synth_command",
]

#: version of the generating process; bump whenever the output for a seed changes
GENERATOR_VERSION = "2.0.0"

#: arguments of the shipped ``data_synthetic/`` folder
DEFAULT_ARGS: dict[str, Any] = {"referrals": 2000, "sites": 5, "years": 2, "seed": 1, "scenario": "default"}

_EPOCH = date(1970, 1, 1)

# ---------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------

_DEFAULT: dict[str, Any] = {
    "calendar": {
        "period_start": "2023-04-01",
        "extract_lag_days": 30,
        "incident_history_years": 2,
        "carryover_share": 0.03,
        "carryover_days": 90,
    },
    # delivery models; sites cycle through `site_cycle` (see _site_models)
    "models": {
        "group24": {
            "programme_model": "group",
            "planned_sessions": 24,
            "volume_weight": 1.0,
            "cost_fixed_gbp": 12000,
            "cost_per_referral_gbp": 230,
            "assessment_wait_mean_days": 21,
            "one_to_one_share": 0.02,
            "programme_word": "Steps",
        },
        "group10": {
            "programme_model": "group",
            "planned_sessions": 10,
            "volume_weight": 1.2,
            "cost_fixed_gbp": 12000,
            "cost_per_referral_gbp": 180,
            "assessment_wait_mean_days": 14,
            "one_to_one_share": 0.02,
            "programme_word": "Choices",
        },
        "one_to_one12": {
            "programme_model": "one_to_one",
            "planned_sessions": 12,
            "volume_weight": 0.6,
            "cost_fixed_gbp": 12000,
            "cost_per_referral_gbp": 380,
            "assessment_wait_mean_days": 35,
            "one_to_one_share": 1.0,
            "programme_word": "Healthy Relationships 1-2-1",
            # assessment-led bespoke packages: the referral overrides planned sessions
            "planned_override": {"values": [8, 10, 12, 14, 16], "probs": [0.1, 0.2, 0.4, 0.2, 0.1]},
        },
        "mixed16": {
            "programme_model": "mixed",
            "planned_sessions": 16,
            "volume_weight": 0.9,
            "cost_fixed_gbp": 12000,
            "cost_per_referral_gbp": 260,
            "assessment_wait_mean_days": 21,
            "one_to_one_every": 4,
            "programme_word": "Change Project",
        },
    },
    "site_cycle": ["group24", "group24", "group10", "group10", "one_to_one12", "one_to_one12", "mixed16", "mixed16"],
    "load_factors": [0.85, 1.10, 0.90, 1.15, 1.00, 0.95, 1.05, 0.90],
    "target_completions_per_referral": 0.3,
    "place_names": [
        "Northvale", "Eastbrook", "Millford", "Harbourside", "Westmere", "Oakridge",
        "Southgate", "Fernley", "Kingsholm", "Ashcombe", "Riverton", "Highcliff",
    ],
    "referrals": {
        "repeat_share": 0.08,
        "repeat_min_gap_days": 90,
        "repeat_same_site": 0.85,
        "gender": {"male": 0.935, "female": 0.06, "other": 0.003, "unknown": 0.002},
        "age": {"min": 18, "gamma_shape": 2.2, "gamma_scale": 8.2, "max": 70, "under18_share": 0.004, "missing": 0.015},
        "ethnicity": {
            "white_british": 0.66, "white_other": 0.06, "asian": 0.18, "black": 0.04,
            "mixed": 0.04, "other": 0.01, "unknown": 0.01,
        },
        "employment": {"employed": 0.52, "unemployed": 0.33, "other": 0.10, "unknown": 0.05},
        "prior_da_police_contact": {"p": 0.50, "missing": 0.03},
        "substance_misuse": {"p": 0.30, "missing": 0.05},
        "referral_source": {
            "childrens_social_care": 0.65, "police": 0.08, "probation": 0.05, "court": 0.02,
            "family_court": 0.06, "self": 0.09, "health": 0.03, "other": 0.02,
        },
        "relationship_to_victim": {"partner": 0.77, "ex_partner": 0.21, "family": 0.015, "other": 0.005},
        "abuse_types": {
            "physical": 0.60, "emotional": 0.85, "verbal": 0.75, "sexual": 0.10,
            "financial": 0.15, "coercive_control": 0.45, "stalking": 0.08,
        },
        "abuse_types_missing": 0.02,
        "n_children_probs": [0.12, 0.30, 0.32, 0.16, 0.10],
    },
    "funnel": {
        "p_declined_assessment": 0.15,
        "assessment_min_days": 3,
        "p_unsuitable": 0.12,
        "p_declined_to_start": 0.35,
        "decline_record_days": [0, 10],
        "ready_min_days": 7,
        "ready_mean_extra_days": 10,
    },
    "attendance": {"p_attend": 0.90, "p_first_attended": 0.90, "max_first_missed": 2},
    "exits": {
        "dropout_baseline_per_week": 0.0058,
        "dropout_log_hr": {
            "age_per_10y": -0.25,
            "unemployed": 0.40,
            "substance_misuse": 0.50,
            "prior_da_police_contact": 0.30,
            "wait_per_30d": 0.20,
        },
        "reference_age": 35,
        "excluded_per_week": 0.002,
        "other_exits_per_week": {"moved_away": 0.0006, "custody": 0.0004, "other": 0.0005},
        "record_lag_days": {
            "completed": [0, 14], "dropped_out": [7, 42], "excluded": [0, 14],
            "moved_away": [0, 28], "custody": [0, 28], "other": [0, 28],
        },
    },
    "funnel_targets": {
        "declined_assessment": 0.15,
        "unsuitable": 0.12,
        "declined_to_start": 0.35,
        "completed": 0.79,
    },
    "risk": {
        "instrument": "DASH",
        "observed_sd": 5.0,
        "reliability": 0.85,
        "intake_mean": 11.0,
        "change_mean": {
            "completed": -4.0, "dropped_out": -1.0, "excluded": 0.5,
            "moved_away": -1.0, "custody": -1.0, "other": -1.0,
        },
        "change_sd": 2.5,
        "midpoint_fraction_of_change": 0.5,
        "follow_up_fraction_of_change": 1.0,
        "p_midpoint": 0.85,
        "p_exit": {
            "completed": 0.95, "dropped_out": 0.35, "excluded": 0.30,
            "moved_away": 0.20, "custody": 0.20, "other": 0.20,
        },
        "p_follow_up": {"completed": 0.45, "other_exits": 0.15},
        "follow_up_days": [182, 210],
        "partner_informed": {
            "p_intake_if_support_accepted": 0.5, "p_exit_if_intake_and_exit": 0.7,
            "offset": 1.0, "noise_sd": 2.5, "fraction_of_change": 0.6, "intake_delay_days": [0, 21],
        },
    },
    "partners": {
        "p_any_partner": 0.90,
        "p_second_partner": 0.12,
        "p_repeat_same_partner": 0.6,
        "gender_by_perpetrator_gender": {
            "male": {"female": 0.965, "male": 0.030, "other": 0.003, "unknown": 0.002},
            "female": {"male": 0.82, "female": 0.17, "other": 0.0, "unknown": 0.01},
            "other": {"female": 0.50, "male": 0.45, "other": 0.0, "unknown": 0.05},
            "unknown": {"female": 0.50, "male": 0.45, "other": 0.0, "unknown": 0.05},
        },
        "p_support_offered": 0.93,
        "support_accepted_if_offered": {"true": 0.68, "false": 0.22, "missing": 0.10},
    },
    "surveys": {
        "wave_offset_days": {"T1": [0, 14], "T2": [84, 98], "T3": [175, 189], "T4": [351, 379]},
        # probability a partner answers, by wave, for completers and non-completers
        "response": {
            "completer": {"T1": 0.88, "T2": 0.75, "T3": 0.65, "T4": 0.55},
            "non_completer": {"T1": 0.80, "T2": 0.55, "T3": 0.42, "T4": 0.32},
        },
        "item_missing": 0.02,
        "latent_correlation": 0.6,
        "latent_weight_on_dash": 0.5,
        # true prevalences among partners of completers; T1 is common to everyone
        "prevalence_completer": {
            "physical_violence": [0.65, 0.30, 0.17, 0.10],
            "sexual_violence": [0.30, 0.12, 0.06, 0.02],
            "threats": [0.60, 0.35, 0.25, 0.18],
            "weapon_used": [0.29, 0.10, 0.05, 0.02],
            "injury": [0.61, 0.25, 0.12, 0.05],
            "harassment_stalking": [0.50, 0.30, 0.22, 0.15],
            "coercive_control": [0.85, 0.70, 0.55, 0.45],
            "child_exposed": [0.50, 0.25, 0.15, 0.10],
        },
        # non-completers get this fraction of the completers' change from T1
        "non_completer_fraction_of_change": 0.5,
        "feels_safe_completer": {
            "T1": [0.32, 0.22, 0.22, 0.16, 0.08],
            "T2": [0.20, 0.20, 0.22, 0.20, 0.18],
            "T3": [0.12, 0.15, 0.20, 0.22, 0.31],
            "T4": [0.06, 0.10, 0.14, 0.20, 0.50],
        },
        "space_for_action_mean_completer": [45.0, 55.0, 63.0, 70.0],
        "space_for_action_sd": 15.0,
    },
    "incidents": {
        "base_rate_per_person_year": {
            "police_callout": 0.35, "da_crime": 0.05, "marac_referral": 0.08, "child_protection": 0.15,
        },
        "p_crime_given_callout": 0.40,
        "p_arrest_given_callout_crime": 0.55,
        "p_arrest_given_callout_no_crime": 0.05,
        "p_proven_outcome": 0.30,
        "outcome_lag_days": {"min": 28, "gamma_shape": 2.0, "gamma_scale": 45.0},
        "frailty_gamma_shape": 1.5,
        "prior_contact_multiplier": 1.8,
        "multiplier": {
            "background": 1.0,
            "before_referral_12m": 2.5,
            "referral_to_exit": 1.0,
            "after_exit": {
                "completed": 0.45, "dropped_out": 0.9, "excluded": 0.9, "moved_away": 0.9,
                "custody": 0.9, "other": 0.9, "declined_assessment": 1.1, "unsuitable": 1.1,
                "declined_to_start": 1.1,
            },
        },
    },
    # contract version 2: drawn from a random stream of their own (_V2_STREAM), after everything above, so
    # the version-1 columns and tables of a seed are the same as before version 2 existed
    "contract_v2": {
        # protected characteristics, per person; disability is more common among people who started and
        # left early (so completion is lower among disabled people: a known inequality to find)
        "disability_yes": {"completed": 0.10, "left_early": 0.24, "other": 0.14},
        "disability_undisclosed": {"prefer_not_to_say": 0.03, "not_recorded": 0.05},
        "religion": {"no_religion": 0.40, "christian": 0.30, "muslim": 0.12, "hindu": 0.04, "sikh": 0.03,
                     "jewish": 0.01, "buddhist": 0.01, "other": 0.02, "prefer_not_to_say": 0.04,
                     "not_recorded": 0.03},
        "sexual_orientation": {"heterosexual": 0.88, "gay_or_lesbian": 0.02, "bisexual": 0.01, "other": 0.005,
                               "prefer_not_to_say": 0.045, "not_recorded": 0.04},
        "district_weights": [0.40, 0.30, 0.20, 0.10],
        "district_words": ["Central", "North", "East", "West"],
        "district_missing": 0.02,
        # complex needs, per person; people who did not start (declined or unsuitable) more often need an
        # interpreter (so fewer of them start: a known gap in reach)
        "interpreter_needed": {"not_started": 0.12, "other": 0.04},
        "interpreter_languages": {"polish": 0.30, "urdu": 0.25, "punjabi": 0.15, "arabic": 0.15, "romanian": 0.15},
        "other_language_if_no_interpreter": 0.07,
        "aces_gamma": {"shape": 2.0, "scale": 1.2},
        "aces_missing": 0.20,
        "aces_flag_from": 4,
        "mental_health": {"p": 0.38, "missing": 0.05},
        "referral_risk_level": {"standard": 0.45, "medium": 0.35, "high": 0.20},
        "referral_risk_level_missing": 0.05,
        # a second strand at 24-session group sites (a fathering course, like Step Up)
        "second_strand": {"name": "Step Up", "share": 0.30},
        "children": {
            "age_band": {"under_5": 0.25, "5_to_10": 0.35, "11_to_15": 0.28, "16_to_17": 0.12},
            "plan_at_referral": {"none": 0.50, "child_in_need": 0.24, "child_protection": 0.18,
                                 "looked_after": 0.04, "not_recorded": 0.04},
            # plan 12 months after referral given the plan at referral, by whether the referral completed
            "plan_at_12_months": {
                "completed": {"none": [0.92, 0.06, 0.02, 0.0], "child_in_need": [0.55, 0.38, 0.06, 0.01],
                              "child_protection": [0.35, 0.40, 0.22, 0.03], "looked_after": [0.05, 0.05, 0.05, 0.85]},
                "not_completed": {"none": [0.85, 0.10, 0.05, 0.0], "child_in_need": [0.35, 0.45, 0.17, 0.03],
                                  "child_protection": [0.15, 0.35, 0.45, 0.05],
                                  "looked_after": [0.02, 0.03, 0.05, 0.90]},
            },
        },
        "partner_support": {
            "start_after_days": [0, 21],
            "p_covers_episode": 0.75,
            "after_exit_days": [0, 90],
            "not_started_days": [30, 180],
            "contacts_base": 2.0, "contacts_per_week": 0.5, "sessions_per_week": 0.25,
            "p_safety_plan": 0.80,
            "closed_if_covered": {"completed": 0.85, "referred_on": 0.15},
            "closed_if_not_covered": {"disengaged": 0.60, "declined": 0.15, "moved_away": 0.10, "other": 0.15},
        },
        "capacity": {
            "utilisation": [0.82, 0.97], "group_size": 10, "staff_fte": [1.5, 4.5],
            "funding_shares": {"pcc": 0.5, "local_authority": 0.3, "health": 0.2},
        },
        "feedback": {
            "p_respond": {
                "perpetrator_exit": {"completed": 0.75, "other": 0.30},
                "partner_exit": {"completed": 0.60, "other": 0.40},
                "referring_agency_exit": {"completed": 0.50, "other": 0.30},
                "referring_agency_follow_up": {"completed": 0.40, "other": 0.25},
            },
            "items": {"perpetrator": ["behaviour_change", "understanding"], "partner": ["feels_safer", "relationship"],
                      "referring_agency": ["behaviour_change", "children"]},
            # probability of a rating of 4 or 5 ("better" or "much better")
            "p_positive": {"perpetrator": {"completed": 0.85, "other": 0.40},
                           "partner": {"completed": 0.70, "other": 0.30},
                           "referring_agency": {"completed": 0.75, "other": 0.35}},
            "positive_levels": {"4": 0.6, "5": 0.4},
            "other_levels": {"3": 0.6, "2": 0.3, "1": 0.1},
            "follow_up_days": 182,
        },
    },
}

_NO_EFFECT = copy.deepcopy(_DEFAULT)
_NO_EFFECT["risk"]["change_mean"] = dict.fromkeys(_DEFAULT["risk"]["change_mean"], -1.0)
_NO_EFFECT["surveys"]["non_completer_fraction_of_change"] = 1.0
_NO_EFFECT["surveys"]["response"]["non_completer"] = dict(_DEFAULT["surveys"]["response"]["completer"])
_NO_EFFECT["incidents"]["multiplier"]["after_exit"] = dict.fromkeys(
    _DEFAULT["incidents"]["multiplier"]["after_exit"], 1.0
)

#: named scenarios.  ``default`` is calibrated to the seed reports; ``no_effect``
#: draws the same people, funnel and attendance (same seed -> same random
#: streams) but completion changes nothing: risk change, partner reports and
#: police contact after exit are the same for every group, so any before/after
#: "improvement" it shows is regression to the mean or a time trend.
SCENARIOS: dict[str, dict[str, Any]] = {"default": _DEFAULT, "no_effect": _NO_EFFECT}

_STREAMS = (
    "sites", "referrals", "people", "funnel", "programme", "sessions",
    "risk", "partners", "surveys", "incidents",
)


def scenario_parameters(scenario: str = "default") -> dict[str, Any]:
    """Return a deep copy of the parameters of a named scenario.

    Parameters
    ----------
    scenario : str
        A key of :data:`SCENARIOS`.

    Returns
    -------
    dict
        Nested parameter dictionary (the same one recorded in ``truth.json``).

    Examples
    --------
    >>> p = scenario_parameters("default")
    >>> p["funnel_targets"]["completed"]
    0.79
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    return copy.deepcopy(SCENARIOS[scenario])


def synth_command(*, out: str = "data_synthetic", referrals: int = 2000, sites: int = 5, years: int = 2,
                  seed: int = 1, scenario: str = "default") -> str:
    """The ``dapp-eval synth`` command line that reproduces a folder.

    Examples
    --------
    >>> synth_command()
    'dapp-eval synth --out data_synthetic --referrals 2000 --sites 5 --seed 1'
    """
    cmd = f"dapp-eval synth --out {out} --referrals {referrals} --sites {sites} --seed {seed}"
    if years != 2:
        cmd += f" --years {years}"
    if scenario != "default":
        cmd += f" --scenario {scenario}"
    return cmd


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _day(d: str | date) -> int:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - _EPOCH).days


def _iso(day: int) -> str:
    return (_EPOCH + timedelta(days=int(day))).isoformat()


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def _choice(rng: np.random.Generator, probs: dict[str, float], n: int) -> np.ndarray:
    keys = list(probs)
    p = np.asarray([probs[k] for k in keys], dtype=float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.asarray(keys, dtype=object)[idx]


def _randint(rng: np.random.Generator, lo_hi: list[int] | tuple[int, int], n: int) -> np.ndarray:
    lo, hi = lo_hi
    return rng.integers(lo, hi + 1, size=n)


def _int(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    arr = np.asarray(values, dtype=float)
    s = pd.array(np.where(np.isnan(arr), 0, arr).astype(np.int64), dtype="Int64")
    m = np.isnan(arr)
    if missing is not None:
        m = m | np.asarray(missing, dtype=bool)
    s[m] = pd.NA
    return pd.Series(s)


def _ids(prefix: str, n: int, width: int = 6) -> np.ndarray:
    width = max(width, len(str(n)))
    if n == 0:
        return np.asarray([], dtype=object)
    # numpy's string kernels: the same texts as f"{prefix}{i:0{width}d}", without a Python loop
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _segment_starts(lengths: np.ndarray) -> np.ndarray:
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _expand(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row owner and 0-based position for ragged blocks of the given lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(lengths.sum()) - np.repeat(_segment_starts(lengths), lengths)
    return owner, pos


def _site_models(k: int, cycle: list[str]) -> list[str]:
    """Delivery models for ``k`` sites.

    Fewer than four sites get distinct models; from four on, models come in
    pairs so that site and model are not confounded.
    """
    if k == 1:
        return ["group24"]
    if k == 2:
        return ["group24", "group10"]
    if k == 3:
        return ["group24", "group10", "one_to_one12"]
    return [cycle[i % len(cycle)] for i in range(k)]


def _round(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _round(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ---------------------------------------------------------------------------
# the simulation
# ---------------------------------------------------------------------------


@dataclass
class SyntheticProgramme:
    """A generated programme: contract tables plus the truth they came from.

    Attributes
    ----------
    tables : dict of str to DataFrame
        One DataFrame per contract table (``sites``, ``referrals``, ...), with
        contract column names and order and the dtypes of
        :func:`dapp_eval.data.io.load_programme` (dates ``datetime64[ns]``,
        booleans ``boolean``, whole numbers ``Int64``).
    truth : dict
        True parameters, calibration targets and row counts (``truth.json``).
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, Any]


def _check_args(referrals: int, sites: int, years: int, seed: int, scenario: str) -> None:
    for name, val, lo in (("referrals", referrals, 1), ("sites", sites, 1), ("years", years, 1)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < lo:
            raise ValueError(f"{name} must be a whole number >= {lo}, got {val!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")


class _SimState(SimpleNamespace):
    """The values that the stages of :func:`simulate` hand on to each other (one attribute per variable)."""


def simulate(*, referrals: int = 2000, sites: int = 5, years: int = 2, seed: int = 1,
             scenario: str = "default") -> SyntheticProgramme:
    """Simulate a programme and return its tables and truth (nothing is written).

    Parameters
    ----------
    referrals : int
        Number of referral episodes.
    sites : int
        Number of sites.  With 5 sites: two 24-session groups, two 10-session
        groups and one assessment-led one-to-one service.
    years : int
        Length of the evaluation period in years (from 2023-04-01).
    seed : int
        Seed of the random streams; the same arguments give identical data.
    scenario : str
        A key of :data:`SCENARIOS` (``"default"`` or ``"no_effect"``).

    Returns
    -------
    SyntheticProgramme
        ``.tables`` (dict of DataFrames) and ``.truth`` (dict).

    Examples
    --------
    >>> prog = simulate(referrals=300, sites=4, seed=2)
    >>> prog.truth["funnel_targets"]["declined_to_start"]
    0.35
    >>> prog.tables["sites"]["programme_model"].tolist()
    ['group', 'group', 'group', 'group']
    """
    _check_args(referrals, sites, years, seed, scenario)
    par = scenario_parameters(scenario)
    streams = dict(zip(_STREAMS, np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))))
    rngs = {k: np.random.default_rng(v) for k, v in streams.items()}
    n = int(referrals)
    # each stage reads and writes the shared values on `st`; the order of the stages is the order of the
    # random draws, so the output is identical to the one-function version (data_synthetic/ is unchanged)
    st = _SimState(n=n, par=par, referrals=referrals, rngs=rngs, scenario=scenario, seed=seed, sites=sites,
                   streams=streams, years=years)
    _sim_calendar(st)
    _sim_sites(st)
    _sim_referrals(st)
    _sim_people(st)
    _sim_referral_characteristics(st)
    _sim_assessment_stage(st)
    _sim_waiting_list(st)
    _sim_programme_exits(st)
    _sim_sessions(st)
    _sim_sessions_table(st)
    _sim_identifiers(st)
    _sim_partners(st)
    _sim_latent_outcome(st)
    _sim_dash(st)
    _sim_partner_dash(st)
    _sim_survey_population(st)
    _sim_survey_waves(st)
    _sim_surveys_table(st)
    _sim_incidents(st)
    _sim_referrals_table(st)
    _sim_contract_v2(st)
    return _sim_truth(st)


def _sim_calendar(st: _SimState) -> None:
    """Calendar."""
    cal = st.par["calendar"]
    p_start = date.fromisoformat(cal["period_start"])
    p_end = _add_years(p_start, int(st.years)) - timedelta(days=1)
    extract = p_end + timedelta(days=cal["extract_lag_days"])
    inc_from = _add_years(p_start, -cal["incident_history_years"])
    d_ps, d_pe, d_ex, d_if = _day(p_start), _day(p_end), _day(extract), _day(inc_from)
    st.cal = cal
    st.d_ex = d_ex
    st.d_if = d_if
    st.d_pe = d_pe
    st.d_ps = d_ps


def _sim_sites(st: _SimState) -> None:
    """Sites."""
    rs = st.rngs["sites"]
    models = _site_models(int(st.sites), st.par["site_cycle"])
    k = len(models)
    mspec = [st.par["models"][m] for m in models]
    weights = np.array([s["volume_weight"] for s in mspec]) * rs.uniform(0.8, 1.2, size=k)
    weights = weights / weights.sum()
    load = np.array([st.par["load_factors"][i % len(st.par["load_factors"])] for i in range(k)])
    weekday = rs.integers(0, 5, size=k)  # Monday..Friday session day
    places = st.par["place_names"]
    site_ids = _ids("S", k, width=2)
    site_names = []
    for i, s in enumerate(mspec):
        suffix = "" if i < len(places) else f" {i // len(places) + 1}"
        site_names.append(f"{places[i % len(places)]}{suffix} {s['programme_word']} (synthetic)")
    st.k = k
    st.load = load
    st.models = models
    st.mspec = mspec
    st.site_ids = site_ids
    st.site_names = site_names
    st.weekday = weekday
    st.weights = weights


def _sim_referrals(st: _SimState) -> None:
    """Referral dates, sites, repeat episodes."""
    rr = st.rngs["referrals"]
    site = rr.choice(st.k, size=st.n, p=st.weights)
    carry = rr.random(st.n) < st.cal["carryover_share"]
    ref_day = np.where(
        carry,
        rr.integers(st.d_ps - st.cal["carryover_days"], st.d_ps, size=st.n),
        rr.integers(st.d_ps, st.d_pe + 1, size=st.n),
    ).astype(np.int64)
    order = np.lexsort((rr.random(st.n), site, ref_day))
    site, ref_day = site[order], ref_day[order]

    rpar = st.par["referrals"]
    n_earlier = np.searchsorted(ref_day, ref_day - rpar["repeat_min_gap_days"], side="right")
    eligible = n_earlier > 0
    p_rep = min(1.0, rpar["repeat_share"] / max(eligible.mean(), 1e-9))
    is_repeat = eligible & (rr.random(st.n) < p_rep)
    parent = np.where(is_repeat, np.floor(rr.random(st.n) * n_earlier).astype(np.int64), -1)
    same_site = is_repeat & (rr.random(st.n) < rpar["repeat_same_site"])
    root = np.arange(st.n)
    while True:  # follow repeat chains (parents are always earlier)
        new_root = np.where(is_repeat, root[np.maximum(parent, 0)], root)
        new_site = np.where(same_site, site[np.maximum(parent, 0)], site)
        if np.array_equal(new_root, root) and np.array_equal(new_site, site):
            break
        root, site = new_root, new_site
    roots, person = np.unique(root, return_inverse=True)  # person index in order of first referral
    n_people = len(roots)
    st.is_repeat = is_repeat
    st.n_people = n_people
    st.parent = parent
    st.person = person
    st.ref_day = ref_day
    st.roots = roots
    st.rpar = rpar
    st.site = site


def _sim_people(st: _SimState) -> None:
    """People."""
    rp = st.rngs["people"]
    p_gender = _choice(rp, st.rpar["gender"], st.n_people)
    p_eth = _choice(rp, st.rpar["ethnicity"], st.n_people)
    p_emp = _choice(rp, st.rpar["employment"], st.n_people)
    p_prior = rp.random(st.n_people) < st.rpar["prior_da_police_contact"]["p"]
    p_subst = rp.random(st.n_people) < st.rpar["substance_misuse"]["p"]
    p_children = rp.choice(len(st.rpar["n_children_probs"]), size=st.n_people, p=st.rpar["n_children_probs"])
    a = st.rpar["age"]
    age_first = a["min"] + rp.gamma(a["gamma_shape"], a["gamma_scale"], size=st.n_people)
    young = rp.random(st.n_people) < a["under18_share"]
    # cap so that nobody is older than a["max"] at a later repeat referral
    age_cap = a["max"] + 0.99 - (int(st.years) + st.cal["carryover_days"] / 365.25)
    age_first = np.where(young, rp.uniform(16, 18, size=st.n_people), np.minimum(age_first, age_cap))
    first_ref = st.ref_day[st.roots]
    birth_day = first_ref - np.floor(age_first * 365.25).astype(np.int64)
    frailty = rp.gamma(st.par["incidents"]["frailty_gamma_shape"], 1 / st.par["incidents"]["frailty_gamma_shape"],
                       size=st.n_people)
    age_missing_p = rp.random(st.n_people) < a["missing"]
    prior_missing_p = rp.random(st.n_people) < st.rpar["prior_da_police_contact"]["missing"]
    subst_missing_p = rp.random(st.n_people) < st.rpar["substance_misuse"]["missing"]
    st.age_missing_p = age_missing_p
    st.birth_day = birth_day
    st.frailty = frailty
    st.p_children = p_children
    st.p_emp = p_emp
    st.p_eth = p_eth
    st.p_gender = p_gender
    st.p_prior = p_prior
    st.p_subst = p_subst
    st.prior_missing_p = prior_missing_p
    st.rp = rp
    st.subst_missing_p = subst_missing_p


def _sim_referral_characteristics(st: _SimState) -> None:
    """Referral-level characteristics."""
    age = np.floor((st.ref_day - st.birth_day[st.person]) / 365.25).astype(np.int64)
    age = np.clip(age, 16, 100)
    gender = st.p_gender[st.person]
    prior = st.p_prior[st.person]
    subst = st.p_subst[st.person]
    unemployed = st.p_emp[st.person] == "unemployed"
    source = _choice(st.rp, st.rpar["referral_source"], st.n)
    relation = _choice(st.rp, st.rpar["relationship_to_victim"], st.n)
    abuse_names = list(st.rpar["abuse_types"])
    abuse = st.rp.random((st.n, len(abuse_names))) < np.array(list(st.rpar["abuse_types"].values()))
    abuse[~abuse.any(axis=1), abuse_names.index("emotional")] = True
    abuse_missing = st.rp.random(st.n) < st.rpar["abuse_types_missing"]
    abuse_str = np.full(st.n, "", dtype=object)
    for j, name in enumerate(abuse_names):
        sep = np.where(abuse_str == "", "", ";")
        abuse_str = np.where(abuse[:, j], abuse_str + sep + name, abuse_str)
    abuse_str = abuse_str.astype(object)
    abuse_str[abuse_missing] = None
    st.abuse_str = abuse_str
    st.age = age
    st.gender = gender
    st.prior = prior
    st.relation = relation
    st.source = source
    st.subst = subst
    st.unemployed = unemployed


def _sim_assessment_stage(st: _SimState) -> None:
    """Assessment stage."""
    rf = st.rngs["funnel"]
    fp = st.par["funnel"]
    wait_mean = np.array([s["assessment_wait_mean_days"] for s in st.mspec])[st.site]
    resolve_day = st.ref_day + fp["assessment_min_days"] + np.round(rf.exponential(wait_mean)).astype(np.int64)
    declined_assess = rf.random(st.n) < fp["p_declined_assessment"]
    unsuitable_draw = rf.random(st.n) < fp["p_unsuitable"]
    declines_start = rf.random(st.n) < fp["p_declined_to_start"]
    ready_extra = np.round(rf.exponential(fp["ready_mean_extra_days"], size=st.n)).astype(np.int64)
    decline_lag = _randint(rf, fp["decline_record_days"], st.n)
    resolved = resolve_day <= st.d_ex

    nan = np.full(st.n, np.nan)
    assess_day = np.where(resolved & ~declined_assess, resolve_day, np.nan)
    assessed = ~np.isnan(assess_day)
    unsuitable = assessed & unsuitable_draw
    suitable = assessed & ~unsuitable_draw
    outcome = np.full(st.n, None, dtype=object)
    outcome[unsuitable] = "unsuitable"
    outcome[suitable] = "suitable"
    exit_day = nan.copy()
    exit_reason = np.full(st.n, None, dtype=object)
    m = resolved & declined_assess
    exit_day[m] = resolve_day[m]
    exit_reason[m] = "declined_assessment"
    exit_day[unsuitable] = assess_day[unsuitable]
    exit_reason[unsuitable] = "unsuitable"

    # planned sessions (site value; one-to-one sites override per referral)
    planned_site = np.array([s["planned_sessions"] for s in st.mspec])
    planned = planned_site[st.site].astype(np.int64)
    override = np.full(st.n, np.nan)
    for s_i, s in enumerate(st.mspec):
        if "planned_override" in s:
            mm = suitable & (st.site == s_i)
            po = s["planned_override"]
            override[mm] = rf.choice(po["values"], size=int(mm.sum()), p=po["probs"])
    planned = np.where(np.isnan(override), planned, override).astype(np.int64)
    st.assess_day = assess_day
    st.assessed = assessed
    st.decline_lag = decline_lag
    st.declines_start = declines_start
    st.exit_day = exit_day
    st.exit_reason = exit_reason
    st.fp = fp
    st.nan = nan
    st.outcome = outcome
    st.override = override
    st.planned = planned
    st.planned_site = planned_site
    st.ready_extra = ready_extra
    st.suitable = suitable


def _sim_waiting_list(st: _SimState) -> None:
    """Waiting list: weekly capacity of starts per site."""
    non_decl_share = (1 - st.fp["p_declined_assessment"]) * (1 - st.fp["p_unsuitable"]) * (1 - st.fp["p_declined_to_start"])
    span_weeks = (st.d_pe - (st.d_ps - st.cal["carryover_days"] * st.cal["carryover_share"])) / 7
    n_site = np.bincount(st.site, minlength=st.k)
    capacity = np.maximum(n_site * non_decl_share / span_weeks / st.load, 0.05)
    ready_day = st.assess_day + st.fp["ready_min_days"] + st.ready_extra
    offer_day = st.nan.copy()
    first_slot = np.zeros(st.k, dtype=np.int64)
    for s_i in range(st.k):
        idx = np.flatnonzero(st.suitable & (st.site == s_i))
        d0 = st.d_ps - st.cal["carryover_days"]
        d0 += (int(st.weekday[s_i]) - (date(1970, 1, 1).weekday() + d0) % 7) % 7  # first session weekday
        first_slot[s_i] = d0
        if len(idx) == 0:
            continue
        n_weeks = (st.d_ex - d0) // 7 + 1
        cum = np.floor(capacity[s_i] * np.arange(n_weeks + 1) + 0.5).astype(np.int64)
        caps = np.diff(cum)
        offer_day[idx] = _queue(ready_day[idx], st.declines_start[idx], d0, caps)

    decl = st.suitable & st.declines_start & ~np.isnan(offer_day)
    dday = offer_day + st.decline_lag
    m = decl & (dday <= st.d_ex)
    st.exit_day[m] = dday[m]
    st.exit_reason[m] = "declined_to_start"
    st.capacity = capacity
    st.first_slot = first_slot
    st.offer_day = offer_day


def _sim_programme_exits(st: _SimState) -> None:
    """Programme: attendance and competing exits."""
    rg = st.rngs["programme"]
    att = st.par["attendance"]
    ex = st.par["exits"]
    offered = st.suitable & ~st.declines_start & ~np.isnan(st.offer_day)
    first_missed = np.minimum(rg.geometric(att["p_first_attended"], size=st.n) - 1, att["max_first_missed"])
    start_sched = st.offer_day + 7 * first_missed
    started = offered & (start_sched <= st.d_ex)
    S = np.flatnonzero(started)
    ms = len(S)
    start_day = st.nan.copy()
    start_day[S] = start_sched[S]
    f = first_missed[S] + 1  # session number of the first attended session
    P = st.planned[S]
    wait30 = (start_day[S] - st.assess_day[S]) / 30.0
    beta = ex["dropout_log_hr"]
    lin = (beta["age_per_10y"] * (st.age[S] - ex["reference_age"]) / 10 + beta["unemployed"] * st.unemployed[S]
           + beta["substance_misuse"] * st.subst[S] + beta["prior_da_police_contact"] * st.prior[S]
           + beta["wait_per_30d"] * wait30)
    h_drop = ex["dropout_baseline_per_week"] * np.exp(lin)
    other_names = list(ex["other_exits_per_week"])
    h_other = np.array(list(ex["other_exits_per_week"].values()))
    t_drop = rg.exponential(1.0, size=ms) / h_drop
    t_excl = rg.exponential(1.0 / ex["excluded_per_week"], size=ms)
    t_oth = rg.exponential(1.0 / h_other.sum(), size=ms)
    oth_kind = rg.choice(len(other_names), size=ms, p=h_other / h_other.sum())
    t_comp = (P - f).astype(float)
    times = np.column_stack([t_comp, t_drop, t_excl, t_oth])
    cause_idx = np.argmin(times, axis=1)
    t_exit = times[np.arange(ms), cause_idx]
    cause = np.array(["completed", "dropped_out", "excluded", "other_exit"], dtype=object)[cause_idx]
    cause[cause_idx == 3] = np.asarray(other_names, dtype=object)[oth_kind[cause_idx == 3]]
    is_comp = cause_idx == 0
    bound = np.where(is_comp, P, f + np.floor(t_exit).astype(np.int64))
    st.P = P
    st.S = S
    st.att = att
    st.bound = bound
    st.cause = cause
    st.ex = ex
    st.f = f
    st.h_drop = h_drop
    st.h_other = h_other
    st.is_comp = is_comp
    st.ms = ms
    st.start_day = start_day
    st.started = started
    st.wait30 = wait30


def _sim_sessions(st: _SimState) -> None:
    """Sessions attended and exits recorded."""
    rsn = st.rngs["sessions"]
    owner, pos = _expand(st.P)
    k_num = pos + 1
    attend = rsn.random(len(owner)) < st.att["p_attend"]
    attend &= k_num >= st.f[owner]
    attend |= k_num == st.f[owner]
    attend |= st.is_comp[owner] & (k_num == st.P[owner])
    attend &= k_num <= st.bound[owner]
    offs = _segment_starts(st.P)
    last_k = np.maximum.reduceat(np.where(attend, k_num, 0), offs) if st.ms else np.zeros(0, dtype=np.int64)
    slot0 = st.offer_day[st.S].astype(np.int64)
    last_day = slot0 + 7 * (last_k - 1)
    lag = np.zeros(st.ms, dtype=np.int64)
    for reason, lohi in st.ex["record_lag_days"].items():
        mm = st.cause == reason
        lag[mm] = _randint(rsn, lohi, int(mm.sum()))
    prog_exit = last_day + lag
    closed = prog_exit <= st.d_ex
    st.exit_day[st.S[closed]] = prog_exit[closed]
    st.exit_reason[st.S[closed]] = st.cause[closed]
    st.attend = attend
    st.closed = closed
    st.k_num = k_num
    st.last_k = last_k
    st.owner = owner
    st.prog_exit = prog_exit
    st.rsn = rsn
    st.slot0 = slot0


def _sim_sessions_table(st: _SimState) -> None:
    """Sessions table."""
    sess_day = st.slot0[st.owner] + 7 * (st.k_num - 1)
    limit = np.where(st.closed, st.prog_exit, st.d_ex)
    keep = sess_day <= limit[st.owner]
    sess_type_site = np.array([s["programme_model"] for s in st.mspec], dtype=object)[st.site[st.S]]
    o2o_person = st.rsn.random(st.ms) < np.array([s.get("one_to_one_share", 0.0) for s in st.mspec])[st.site[st.S]]
    every = np.array([s.get("one_to_one_every", 0) for s in st.mspec])[st.site[st.S]]
    is_o2o = o2o_person[st.owner] | (sess_type_site[st.owner] == "one_to_one")
    is_o2o |= (sess_type_site[st.owner] == "mixed") & (st.k_num % np.maximum(every[st.owner], 1) == 0)
    sessions = pd.DataFrame({
        "referral_id": None,  # filled below
        "session_number": pd.array(st.k_num[keep], dtype="Int64"),
        "session_date": _dates(sess_day[keep]),
        "session_type": np.where(is_o2o[keep], "one_to_one", "group").astype(object),
        "attended": pd.array(st.attend[keep], dtype="boolean"),
    })
    sess_owner = st.S[st.owner[keep]]
    st.sess_owner = sess_owner
    st.sessions = sessions


def _sim_identifiers(st: _SimState) -> None:
    """Identifiers."""
    ref_ids = _ids("R", st.n)
    part_ids = _ids("P", st.n_people)
    pid = part_ids[st.person]
    st.sessions["referral_id"] = ref_ids[st.sess_owner]
    st.part_ids = part_ids
    st.pid = pid
    st.ref_ids = ref_ids


def _sim_partners(st: _SimState) -> None:
    """Partners."""
    pp = st.par["partners"]
    rpt = st.rngs["partners"]
    has_partner = st.suitable & (rpt.random(st.n) < pp["p_any_partner"])
    second = has_partner & (rpt.random(st.n) < pp["p_second_partner"])
    reuse = st.is_repeat & has_partner & (rpt.random(st.n) < pp["p_repeat_same_partner"])
    reuse &= has_partner[np.maximum(st.parent, 0)]
    code = np.arange(st.n)
    while True:
        new = np.where(reuse, code[np.maximum(st.parent, 0)], code)
        if np.array_equal(new, code):
            break
        code = new
    # rows: first partner of every referral with a partner, then the second ones
    r_first = np.flatnonzero(has_partner)
    r_second = np.flatnonzero(second)
    pr_ref = np.concatenate([r_first, r_second])
    pr_code = np.concatenate([code[r_first], st.n + r_second])
    uniq_codes, pr_pidx = np.unique(pr_code, return_inverse=True)
    # partner-level gender, drawn once per partner given the perpetrator's gender
    code_owner = np.where(uniq_codes < st.n, uniq_codes, uniq_codes - st.n)
    n_partners = len(uniq_codes)
    u_gender = np.empty(n_partners, dtype=object)
    gcond = st.gender[code_owner]
    for g, probs in pp["gender_by_perpetrator_gender"].items():
        mm = gcond == g
        u_gender[mm] = _choice(rpt, probs, int(mm.sum()))
    rel = st.relation[pr_ref].copy()
    is_sec = np.arange(len(pr_ref)) >= len(r_first)
    rel[is_sec] = np.where(st.relation[pr_ref[is_sec]] == "ex_partner", "partner", "ex_partner")
    offered_sup = rpt.random(len(pr_ref)) < pp["p_support_offered"]
    acc = _choice(rpt, pp["support_accepted_if_offered"], len(pr_ref))
    acc_true = offered_sup & (acc == "true")
    acc_missing = ~offered_sup | (acc == "missing")
    # partner ids numbered in order of first appearance by referral
    first_pos = np.full(n_partners, np.iinfo(np.int64).max)
    np.minimum.at(first_pos, pr_pidx, pr_ref * 2 + is_sec)
    rank = np.empty(n_partners, dtype=np.int64)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(n_partners)
    partner_ids = _ids("PTN", n_partners)[rank]
    partners = pd.DataFrame({
        "partner_id": partner_ids[pr_pidx],
        "referral_id": st.ref_ids[pr_ref],
        "relationship": rel.astype(object),
        "gender": u_gender[pr_pidx],
        "support_offered": _bool(offered_sup),
        "support_accepted": _bool(acc_true, acc_missing),
    })
    ord_p = np.lexsort((rank[pr_pidx], pr_ref))
    partners = partners.iloc[ord_p].reset_index(drop=True)
    pr_ref, pr_pidx, offered_sup, acc_true = pr_ref[ord_p], pr_pidx[ord_p], offered_sup[ord_p], acc_true[ord_p]
    st.acc_true = acc_true
    st.offered_sup = offered_sup
    st.partner_ids = partner_ids
    st.partners = partners
    st.pr_pidx = pr_pidx
    st.pr_ref = pr_ref
    st.rank = rank


def _sim_latent_outcome(st: _SimState) -> None:
    """Latent outcome per referral (for outcome models)."""
    outcome_group = np.full(st.n, None, dtype=object)  # completed / dropped_out / ... for starters
    outcome_group[st.S] = st.cause
    completer = outcome_group == "completed"
    st.completer = completer


def _sim_dash(st: _SimState) -> None:
    """Risk assessments (DASH)."""
    rk = st.par["risk"]
    rrk = st.rngs["risk"]
    sem = rk["observed_sd"] * math.sqrt(1 - rk["reliability"])
    true_sd = rk["observed_sd"] * math.sqrt(rk["reliability"])
    z_dash = rrk.standard_normal(st.n)
    t_true = rk["intake_mean"] + true_sd * z_dash
    delta = np.zeros(st.n)
    if st.ms:
        mu = np.array([rk["change_mean"][c] for c in st.cause])
        delta[st.S] = mu + rk["change_sd"] * rrk.standard_normal(st.ms)
    risk_parts = []

    def _score(latent: np.ndarray, sd: float) -> np.ndarray:
        return np.clip(np.round(latent + sd * rrk.standard_normal(len(latent))), 0, 24)

    ia = np.flatnonzero(st.assessed)
    risk_parts.append((ia, st.assess_day[ia], "intake", "practitioner", _score(t_true[ia], sem)))
    mid_k = np.ceil(st.P / 2).astype(np.int64)
    mid_day = st.slot0 + 7 * (mid_k - 1)
    mm = (st.last_k >= mid_k) & (mid_day <= st.d_ex) & (rrk.random(st.ms) < rk["p_midpoint"])
    i_mid = st.S[mm]
    risk_parts.append((i_mid, mid_day[mm].astype(float), "midpoint", "practitioner",
                       _score(t_true[i_mid] + rk["midpoint_fraction_of_change"] * delta[i_mid], sem)))
    p_exit = np.array([rk["p_exit"][c] for c in st.cause]) if st.ms else np.zeros(0)
    me = st.closed & (rrk.random(st.ms) < p_exit)
    i_exit = st.S[me]
    risk_parts.append((i_exit, st.prog_exit[me].astype(float), "exit", "practitioner",
                       _score(t_true[i_exit] + delta[i_exit], sem)))
    p_fu = np.where(st.is_comp, rk["p_follow_up"]["completed"], rk["p_follow_up"]["other_exits"])
    fu_day = st.prog_exit + _randint(rrk, rk["follow_up_days"], st.ms)
    mf = st.closed & (fu_day <= st.d_ex) & (rrk.random(st.ms) < p_fu)
    i_fu = st.S[mf]
    risk_parts.append((i_fu, fu_day[mf].astype(float), "follow_up", "practitioner",
                       _score(t_true[i_fu] + rk["follow_up_fraction_of_change"] * delta[i_fu], sem)))
    st._score = _score
    st.delta = delta
    st.i_exit = i_exit
    st.me = me
    st.risk_parts = risk_parts
    st.rk = rk
    st.rrk = rrk
    st.sem = sem
    st.t_true = t_true
    st.true_sd = true_sd
    st.z_dash = z_dash


def _sim_partner_dash(st: _SimState) -> None:
    """Partner-informed DASH (referrals with a partner who accepted support)."""
    pi = st.rk["partner_informed"]
    ref_acc = np.zeros(st.n, dtype=bool)
    ref_acc[st.pr_ref[st.acc_true]] = True
    p_int_day = st.assess_day + _randint(st.rrk, pi["intake_delay_days"], st.n)
    m_pi = ref_acc & st.assessed & (p_int_day <= st.d_ex) & (st.rrk.random(st.n) < pi["p_intake_if_support_accepted"])
    i_pi = np.flatnonzero(m_pi)
    st.risk_parts.append((i_pi, p_int_day[i_pi], "intake", "partner", st._score(st.t_true[i_pi] + pi["offset"], pi["noise_sd"])))
    has_exit = np.zeros(st.n, dtype=bool)
    has_exit[st.i_exit] = True
    exit_day_by_ref = st.nan.copy()
    exit_day_by_ref[st.i_exit] = st.prog_exit[st.me]
    m_pe = m_pi & has_exit & (st.rrk.random(st.n) < pi["p_exit_if_intake_and_exit"])
    i_pe = np.flatnonzero(m_pe)
    st.risk_parts.append((i_pe, exit_day_by_ref[i_pe], "exit", "partner",
                       st._score(st.t_true[i_pe] + pi["offset"] + pi["fraction_of_change"] * st.delta[i_pe], pi["noise_sd"])))
    tp_rank = {t: i for i, t in enumerate(schema.TIMEPOINTS)}
    inf_rank = {t: i for i, t in enumerate(schema.INFORMANTS)}
    r_idx = np.concatenate([p[0] for p in st.risk_parts]).astype(np.int64)
    r_day = np.concatenate([p[1] for p in st.risk_parts])
    r_tp = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in st.risk_parts])
    r_inf = np.concatenate([np.full(len(p[0]), p[3], dtype=object) for p in st.risk_parts])
    r_score = np.concatenate([p[4] for p in st.risk_parts]).astype(float)
    r_ord = np.lexsort((np.array([inf_rank[x] for x in r_inf], dtype=np.int64),
                        np.array([tp_rank[x] for x in r_tp], dtype=np.int64), r_idx))
    risk = pd.DataFrame({
        "referral_id": st.ref_ids[r_idx[r_ord]],
        "assessment_date": _dates(r_day[r_ord]),
        "timepoint": r_tp[r_ord],
        "instrument": np.full(len(r_ord), st.rk["instrument"], dtype=object),
        "score": r_score[r_ord],
        "informant": r_inf[r_ord],
    })
    risk_ids = (r_idx, r_tp, r_inf, r_score)
    st.risk = risk
    st.risk_ids = risk_ids


def _sim_survey_population(st: _SimState) -> None:
    """Partner surveys (Mirabal-style waves)."""
    sv = st.par["surveys"]
    rsv = st.rngs["surveys"]
    waves = list(schema.WAVES)
    elig = st.started[st.pr_ref] & st.offered_sup
    e_ref = st.pr_ref[elig]
    e_pidx = st.pr_pidx[elig]
    ne = len(e_ref)
    rho = sv["latent_correlation"]
    w_dash = sv["latent_weight_on_dash"]
    u = w_dash * st.z_dash[e_ref] + math.sqrt(1 - w_dash**2) * rsv.standard_normal(ne)
    e_comp = st.completer[e_ref]
    frac = sv["non_completer_fraction_of_change"]
    st.e_comp = e_comp
    st.e_pidx = e_pidx
    st.e_ref = e_ref
    st.frac = frac
    st.ne = ne
    st.rho = rho
    st.rsv = rsv
    st.sv = sv
    st.u = u
    st.waves = waves


def _sim_survey_waves(st: _SimState) -> None:
    """Partner survey waves."""
    items = list(schema.SURVEY_BEHAVIOURS)
    surv_rows = []
    share_due: dict[str, tuple[float | None, int]] = {}
    for wi, w in enumerate(st.waves):
        lo, hi = st.sv["wave_offset_days"][w]
        s_day = st.start_day[st.e_ref] + st.rsv.integers(lo, hi + 1, size=st.ne)
        due = s_day <= st.d_ex
        share_due[w] = (float(st.e_comp[due].mean()) if due.any() else None, int(due.sum()))
        r_prob = np.where(st.e_comp, st.sv["response"]["completer"][w], st.sv["response"]["non_completer"][w])
        resp = due & (st.rsv.random(st.ne) < r_prob)
        cols: dict[str, Any] = {}
        for it in items:
            prev = _survey_prevalence(st.sv, it, wi, st.e_comp, st.frac)
            z = st.rho * st.u + math.sqrt(1 - st.rho**2) * st.rsv.standard_normal(st.ne)
            val = z > norm.ppf(1 - prev)
            miss = st.rsv.random(st.ne) < st.sv["item_missing"]
            cols[it] = (val, miss)
        cum_c = np.cumsum(st.sv["feels_safe_completer"][w])[:-1]
        cum_1 = np.cumsum(st.sv["feels_safe_completer"]["T1"])[:-1]
        cum = np.where(st.e_comp[:, None], cum_c[None, :], (cum_1 + st.frac * (cum_c - cum_1))[None, :])
        z = -(st.rho * st.u + math.sqrt(1 - st.rho**2) * st.rsv.standard_normal(st.ne))
        safe = 1 + (z[:, None] > norm.ppf(cum)).sum(axis=1)
        cols["feels_safe"] = (safe, st.rsv.random(st.ne) < st.sv["item_missing"])
        m_c = st.sv["space_for_action_mean_completer"]
        mean = np.where(st.e_comp, m_c[wi], m_c[0] + st.frac * (m_c[wi] - m_c[0]))
        z = st.rho * st.u + math.sqrt(1 - st.rho**2) * st.rsv.standard_normal(st.ne)
        sfa = np.round(np.clip(mean - st.sv["space_for_action_sd"] * z, 0, 100), 1)
        cols["space_for_action"] = (sfa, st.rsv.random(st.ne) < st.sv["item_missing"])
        keep_w = np.flatnonzero(resp)
        part = {
            "_ref": st.e_ref[keep_w], "_pidx": st.e_pidx[keep_w], "_wave": np.full(len(keep_w), wi),
            "_day": s_day[keep_w],
        }
        for c, (val, miss) in cols.items():
            part[c] = (val[keep_w], miss[keep_w])
        surv_rows.append(part)
    st.items = items
    st.share_due = share_due
    st.surv_rows = surv_rows


def _sim_surveys_table(st: _SimState) -> None:
    """Partner surveys table."""
    s_ref = np.concatenate([p["_ref"] for p in st.surv_rows]).astype(np.int64)
    s_pidx = np.concatenate([p["_pidx"] for p in st.surv_rows]).astype(np.int64)
    s_pid = st.partner_ids[s_pidx]
    s_wave = np.concatenate([p["_wave"] for p in st.surv_rows]).astype(np.int64)
    s_day = np.concatenate([p["_day"] for p in st.surv_rows]).astype(float)
    s_ord = np.lexsort((s_wave, st.rank[s_pidx], s_ref))
    surveys = pd.DataFrame({
        "partner_id": s_pid[s_ord],
        "referral_id": st.ref_ids[s_ref[s_ord]],
        "wave": np.asarray(st.waves, dtype=object)[s_wave[s_ord]],
        "survey_date": _dates(s_day[s_ord]),
    })
    for c in [*st.items, "feels_safe", "space_for_action"]:
        val = np.concatenate([p[c][0] for p in st.surv_rows])[s_ord]
        miss = np.concatenate([p[c][1] for p in st.surv_rows])[s_ord]
        if c == "feels_safe":
            surveys[c] = _int(val.astype(float), miss)
        elif c == "space_for_action":
            surveys[c] = np.where(miss, np.nan, val.astype(float))
        else:
            surveys[c] = _bool(val, miss)
    survey_info = (st.e_ref, st.e_comp, st.share_due)
    st.survey_info = survey_info
    st.surveys = surveys


def _sim_incidents(st: _SimState) -> None:
    """Incidents."""
    incidents, inc_truth = _incidents(
        st.rngs["incidents"], st.par["incidents"], person=st.person, n_people=st.n_people, ref_day=st.ref_day,
        exit_day=st.exit_day, exit_reason=st.exit_reason, frailty=st.frailty, prior_person=st.p_prior,
        d_from=st.d_if, d_extract=st.d_ex, part_ids=st.part_ids,
    )
    st.inc_truth = inc_truth
    st.incidents = incidents


def _sim_referrals_table(st: _SimState) -> None:
    """Referrals table."""
    referrals_df = pd.DataFrame({
        "referral_id": st.ref_ids,
        "participant_id": st.pid,
        "site_id": st.site_ids[st.site],
        "referral_date": _dates(st.ref_day.astype(float)),
        "referral_source": st.source,
        "programme_name": pd.Series([None] * st.n, dtype=object),
        "planned_sessions": _int(st.override),
        "gender": st.gender,
        "age": _int(st.age.astype(float), st.age_missing_p[st.person]),
        "ethnicity": st.p_eth[st.person],
        "employment": st.p_emp[st.person],
        "prior_da_police_contact": _bool(st.prior, st.prior_missing_p[st.person]),
        "substance_misuse": _bool(st.subst, st.subst_missing_p[st.person]),
        "relationship_to_victim": st.relation,
        "abuse_types": st.abuse_str,
        "n_children": _int(st.p_children[st.person].astype(float)),
        "assessment_date": _dates(st.assess_day),
        "assessment_outcome": st.outcome,
        "start_date": _dates(st.start_day),
        "exit_date": _dates(st.exit_day),
        "exit_reason": st.exit_reason,
    })

    exp_annual = st.n * st.weights / int(st.years)
    sites_df = pd.DataFrame({
        "site_id": st.site_ids,
        "site_name": np.asarray(st.site_names, dtype=object),
        "programme_model": np.asarray([s["programme_model"] for s in st.mspec], dtype=object),
        "planned_sessions": pd.array(st.planned_site, dtype="Int64"),
        "annual_cost_gbp": np.round(
            (np.array([s["cost_fixed_gbp"] for s in st.mspec]) + np.array([s["cost_per_referral_gbp"] for s in st.mspec])
             * exp_annual) / 100) * 100.0,
        "target_completions": pd.array(
            np.maximum(np.round(st.par["target_completions_per_referral"] * exp_annual), 1).astype(np.int64), dtype="Int64"),
        "period_start": _dates(np.full(st.k, st.d_ps, dtype=float)),
        "period_end": _dates(np.full(st.k, st.d_pe, dtype=float)),
        "data_extract_date": _dates(np.full(st.k, st.d_ex, dtype=float)),
        "incident_data_from": _dates(np.full(st.k, st.d_if, dtype=float)),
    })

    tables = {
        "sites": sites_df,
        "referrals": referrals_df,
        "sessions": st.sessions,
        "risk_assessments": st.risk,
        "partners": st.partners,
        "partner_surveys": st.surveys,
        "incidents": st.incidents,
    }
    for name, df in tables.items():
        tables[name] = df[[c for c in schema.TABLES[name].names if c in df]].reset_index(drop=True)
    st.tables = tables


def _sim_contract_v2(st: _SimState) -> None:
    """Contract version 2: new referral columns and tables, from a random stream of their own."""
    from dapp_eval.synthetic.v2 import simulate_v2

    st.truth_v2 = simulate_v2(st)


def _sim_truth(st: _SimState):
    """Truth."""
    truth = _truth(
        par=st.par, scenario=st.scenario, seed=int(st.seed), n=st.n, sites=st.k, years=int(st.years), tables=st.tables,
        models=st.models, mspec=st.mspec, site_ids=st.site_ids, weights=st.weights, load=st.load, capacity=st.capacity,
        first_slot=st.first_slot, dates=(st.d_ps, st.d_pe, st.d_ex, st.d_if), started=dict(
            S=st.S, cause=st.cause, f=st.f, P=st.P, h_drop=st.h_drop, h_excl=st.ex["excluded_per_week"], h_oth=st.h_other.sum(),
            wait30=st.wait30),
        risk_ids=st.risk_ids, survey_info=st.survey_info, inc_truth=st.inc_truth, sem=st.sem, true_sd=st.true_sd,
        n_people=st.n_people, is_repeat=st.is_repeat,
    )
    truth["contract_v2"] = _jsonable(st.truth_v2)
    return SyntheticProgramme(tables=st.tables, truth=truth)


def _queue(ready: np.ndarray, declines: np.ndarray, first_slot: int, caps: np.ndarray) -> np.ndarray:
    """First-come-first-served weekly allocation of programme places.

    ``caps[w]`` places are offered in week ``w`` (slot day ``first_slot + 7 w``)
    to the people at the front of the queue who are ready by then.  People who
    decline are offered a place but do not use it.  Returns the offer day (NaN
    if never offered before the last slot).
    """
    order = np.argsort(ready, kind="stable")
    r_sorted = ready[order]
    offer = np.full(len(ready), np.nan)
    q: deque[int] = deque()
    ptr, n = 0, len(order)
    for w, cap in enumerate(caps.tolist()):
        s = first_slot + 7 * w
        while ptr < n and r_sorted[ptr] <= s:
            q.append(int(order[ptr]))
            ptr += 1
        while q and cap > 0:
            i = q.popleft()
            offer[i] = s
            if not declines[i]:
                cap -= 1
    return offer


def _survey_prevalence(sv: dict, item: str, wave_index: int, completer: np.ndarray | bool, frac: float):
    p = sv["prevalence_completer"][item]
    pc = p[wave_index]
    pn = p[0] + frac * (pc - p[0])
    return np.where(completer, pc, pn)


# one pass of the incident process: the windows share the per-person draws and their order fixes the bytes of
# data_synthetic/, so the function stays whole (71 statements, limit 60)
def _rate_segments(ip, *, person, n_people, ref_day, exit_day, exit_reason, d_from, d_extract):
    """Each person's time cut at the change points of the incident rate (background, the 12 months before
    a referral, referral to exit, after exit): the segments' person, start day, multiplier and length."""
    mult = ip["multiplier"]
    n = len(ref_day)
    # change points: (person, day, multiplier); the most recent one applies
    cp_person = [np.arange(n_people), person, person]
    cp_day = [np.full(n_people, d_from, dtype=np.int64), ref_day - 365, ref_day]
    cp_mult = [np.full(n_people, mult["background"]), np.full(n, mult["before_referral_12m"]),
               np.full(n, mult["referral_to_exit"])]
    cp_rank = [np.zeros(n_people, dtype=np.int64), np.ones(n, dtype=np.int64), np.full(n, 2)]
    # after-exit points, unless the person's next referral's 12-month window has begun
    o = np.lexsort((ref_day, person))
    nxt = np.full(n, np.iinfo(np.int64).max // 2)
    same = person[o][1:] == person[o][:-1]
    nxt_o = np.where(same, ref_day[o][1:] - 365, nxt[0])
    nxt[o[:-1]] = nxt_o
    closed = ~np.isnan(exit_day)
    m = closed & (np.nan_to_num(exit_day, nan=0) < nxt)
    after = np.array([mult["after_exit"].get(r, 1.0) if r is not None else 1.0 for r in exit_reason])
    cp_person.append(person[m])
    cp_day.append(exit_day[m].astype(np.int64))
    cp_mult.append(after[m])
    cp_rank.append(np.full(int(m.sum()), 3))
    cp_person = np.concatenate(cp_person)
    cp_day = np.maximum(np.concatenate(cp_day), d_from)
    cp_mult = np.concatenate(cp_mult)
    cp_rank = np.concatenate(cp_rank)
    o = np.lexsort((cp_rank, cp_day, cp_person))
    cp_person, cp_day, cp_mult = cp_person[o], cp_day[o], cp_mult[o]
    seg_end = np.empty_like(cp_day)
    seg_end[:-1] = np.where(cp_person[1:] == cp_person[:-1], cp_day[1:], d_extract + 1)
    seg_end[-1] = d_extract + 1
    seg_len = np.clip(np.minimum(seg_end, d_extract + 1) - cp_day, 0, None)
    return cp_person, cp_day, cp_mult, seg_len


def _draw_records(rng, ip, cp_person, cp_day, cp_mult, seg_len, person_mult):
    """Poisson records per segment and type; a call-out may lead to a crime and an arrest record that
    share its event. Returns lists of person, day, type and event arrays, one entry per draw."""
    base = ip["base_rate_per_person_year"]
    rec_person, rec_day, rec_type, rec_event = [], [], [], []
    event_counter = 0
    for t_name, rate in base.items():
        lam = rate * person_mult[cp_person] * cp_mult * seg_len / 365.25
        cnt = rng.poisson(lam)
        seg = np.repeat(np.arange(len(cnt)), cnt)
        day = cp_day[seg] + np.floor(rng.random(len(seg)) * seg_len[seg]).astype(np.int64)
        pers = cp_person[seg]
        ev = event_counter + np.arange(len(seg))
        event_counter += len(seg)
        rec_person.append(pers)
        rec_day.append(day)
        rec_type.append(np.full(len(seg), t_name, dtype=object))
        rec_event.append(ev)
        if t_name == "police_callout":
            crime = rng.random(len(seg)) < ip["p_crime_given_callout"]
            arrest_p = np.where(crime, ip["p_arrest_given_callout_crime"], ip["p_arrest_given_callout_no_crime"])
            arrest = rng.random(len(seg)) < arrest_p
            for flag, nm in ((crime, "da_crime"), (arrest, "arrest")):
                rec_person.append(pers[flag])
                rec_day.append(day[flag])
                rec_type.append(np.full(int(flag.sum()), nm, dtype=object))
                rec_event.append(ev[flag])
    return rec_person, rec_day, rec_type, rec_event


def _incidents(rng, ip, *, person, n_people, ref_day, exit_day, exit_reason, frailty, prior_person,
               d_from, d_extract, part_ids):
    """Linked records by person: piecewise-constant Poisson rates."""
    cp_person, cp_day, cp_mult, seg_len = _rate_segments(
        ip, person=person, n_people=n_people, ref_day=ref_day, exit_day=exit_day, exit_reason=exit_reason,
        d_from=d_from, d_extract=d_extract)
    person_mult = frailty * np.where(prior_person, ip["prior_contact_multiplier"], 1.0)
    rec_person, rec_day, rec_type, rec_event = _draw_records(rng, ip, cp_person, cp_day, cp_mult, seg_len,
                                                             person_mult)
    pers = np.concatenate(rec_person)
    day = np.concatenate(rec_day)
    typ = np.concatenate(rec_type)
    ev = np.concatenate(rec_event)
    t_rank = {t: i for i, t in enumerate(schema.INCIDENT_TYPES)}
    tr = np.array([t_rank[t] for t in typ], dtype=np.int64)
    o = np.lexsort((tr, ev, day, pers))
    pers, day, typ, ev = pers[o], day[o], typ[o], ev[o]
    nrec = len(o)
    inc_ids = _ids("I", nrec, width=7)
    # event id = incident id of the event's first record
    _, first_idx, inv = np.unique(ev, return_index=True, return_inverse=True)
    event_ids = inc_ids[first_idx][inv]
    is_crime = typ == "da_crime"
    ol = ip["outcome_lag_days"]
    lagd = ol["min"] + np.round(rng.gamma(ol["gamma_shape"], ol["gamma_scale"], size=nrec))
    proven = is_crime & (rng.random(nrec) < ip["p_proven_outcome"]) & (day + lagd <= d_extract)
    out_day = np.where(proven, day + lagd, np.nan)
    df = pd.DataFrame({
        "incident_id": inc_ids,
        "event_id": event_ids,
        "participant_id": part_ids[pers] if nrec else np.array([], dtype=object),
        "incident_date": _dates(day.astype(float)),
        "incident_type": typ,
        "outcome_date": _dates(out_day),
    })
    truth = {
        "n_events": int(len(first_idx)),
        "person_years_at_risk": float(seg_len.sum() / 365.25),
    }
    return df, truth


# ---------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------


def _funnel_conversions(ref: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    reason = ref["exit_reason"]
    declined_a = reason.eq("declined_assessment")
    assessed = ref["assessment_date"].notna()
    suitable = ref["assessment_outcome"].eq("suitable")
    started = ref["start_date"].notna()
    declined_s = reason.eq("declined_to_start")
    closed = reason.notna()
    out = {}
    for name, num, den in (
        ("declined_assessment", declined_a, declined_a | assessed),
        ("unsuitable", ref["assessment_outcome"].eq("unsuitable") & assessed, assessed),
        ("declined_to_start", suitable & declined_s, suitable & (declined_s | started)),
        ("completed", started & reason.eq("completed"), started & closed),
    ):
        d = int(den.sum())
        out[name] = {"n": d, "n_event": int(num.sum()), "proportion": _round(num.sum() / d) if d else None}
    return out


def _truth(*, par, scenario, seed, n, sites, years, tables, models, mspec, site_ids, weights, load, capacity,
           first_slot, dates, started, risk_ids, survey_info, inc_truth, sem, true_sd, n_people, is_repeat):
    d_ps, d_pe, d_ex, d_if = dates
    ex = par["exits"]
    rk = par["risk"]
    sv = par["surveys"]
    ip = par["incidents"]
    ref = tables["referrals"]

    # completion probability under the model for everyone who started
    S, f, P = started["S"], started["f"], started["P"]
    h_all = started["h_drop"] + started["h_excl"] + started["h_oth"]
    p_complete = np.exp(-h_all * (P - f)) if len(S) else np.zeros(0)
    p_drop = (started["h_drop"] / h_all) * (1 - p_complete) if len(S) else np.zeros(0)

    rci, realised, expected_rel, mc, bands, expected_bands = _truth_risk(ref, risk_ids, rk, sem, true_sd)
    share_c, prev, fs, sfa = _truth_surveys(sv, survey_info)
    share_due = survey_info[2]
    inc_rr, mean_person_mult, cal, record_rates = _truth_incident_rates(par)

    achieved = _funnel_conversions(ref)
    truth = {
        "description": "SYNTHETIC data from dapp_eval.synthetic; every value is invented.",
        "generator": "dapp_eval.synthetic",
        "generator_version": GENERATOR_VERSION,
        "scenario": scenario,
        "seed": seed,
        "arguments": {"referrals": n, "sites": sites, "years": years, "seed": seed, "scenario": scenario},
        "command": synth_command(referrals=n, sites=sites, years=years, seed=seed, scenario=scenario),
        "n_rows": {name: len(df) for name, df in tables.items()},
        "n_participants": n_people,
        "repeat_referral_share_realised": _round(is_repeat.mean()),
        "calendar": {"period_start": _iso(d_ps), "period_end": _iso(d_pe), "data_extract_date": _iso(d_ex),
                     "incident_data_from": _iso(d_if)},
        "sites": [
            {
                "site_id": site_ids[i], "model": models[i], "programme_model": mspec[i]["programme_model"],
                "planned_sessions": mspec[i]["planned_sessions"], "referral_share": _round(weights[i]),
                "load_factor": _round(load[i]), "capacity_starts_per_week": _round(capacity[i]),
                "first_slot": _iso(first_slot[i]),
                "assessment_wait_mean_days": mspec[i]["assessment_wait_mean_days"] + par["funnel"]["assessment_min_days"],
            }
            for i in range(sites)
        ],
        "funnel_targets": dict(par["funnel_targets"]),
        "funnel_target_definitions": {
            "declined_assessment": "declined_assessment / (declined_assessment + assessed), among referrals "
                                   "resolved at the assessment stage (exit_reason declined_assessment or an "
                                   "assessment_date)",
            "unsuitable": "assessment_outcome unsuitable / assessed (assessment_date present)",
            "declined_to_start": "declined_to_start / (declined_to_start + started), among suitable referrals "
                                 "resolved at the start stage",
            "completed": "completed / started and closed (exit_reason present): completed vs dropped_out, "
                         "excluded, moved_away, custody, other",
        },
        "funnel_achieved": achieved,
        "funnel_model": {
            "p_declined_assessment": par["funnel"]["p_declined_assessment"],
            "p_unsuitable": par["funnel"]["p_unsuitable"],
            "p_declined_to_start": par["funnel"]["p_declined_to_start"],
            "decline_to_start_timing": "when a place is offered (the place is re-offered)",
            "expected_completion_probability_started": _round(p_complete.mean()) if len(S) else None,
            "expected_dropout_probability_started": _round(p_drop.mean()) if len(S) else None,
            "note": "The completion target applies to started cases closed by the extract date; the model "
                    "probability for all starters followed to the end is expected_completion_probability_started.",
        },
        "dropout_log_hr": dict(ex["dropout_log_hr"]),
        "dropout_hr": {k: _round(math.exp(v)) for k, v in ex["dropout_log_hr"].items()},
        "dropout_covariate_coding": {
            "age_per_10y": "age (referrals.age, whole years at referral) / 10",
            "unemployed": "1 if employment == 'unemployed' else 0 (employed, other and unknown are 0)",
            "substance_misuse": "1 if substance_misuse is true else 0",
            "prior_da_police_contact": "1 if prior_da_police_contact is true else 0",
            "wait_per_30d": "(start_date - assessment_date) in days / 30",
        },
        "dropout_model": {
            "time_scale": "continuous weeks since start_date (the first attended session)",
            "baseline_hazard_per_week": ex["dropout_baseline_per_week"],
            "baseline_reference": f"age {ex['reference_age']}, all binary covariates 0, no wait",
            "competing_exits_per_week": {"excluded": ex["excluded_per_week"], **ex["other_exits_per_week"]},
            "completion": "reaching the planned session (site planned_sessions or the referral override); "
                          "sessions are weekly; each session after the first attended is attended with "
                          f"probability {par['attendance']['p_attend']}",
            "recording": "an exit at continuous time t is recorded at the last attended session before t; "
                         "exit_date is that session plus a lag (days) by reason",
            "record_lag_days": ex["record_lag_days"],
            "cox_recovery": "A cause-specific Cox model for dropout with time = last attended session date - "
                            "start_date (days), event = exit_reason dropped_out, every other ending or open case "
                            "censored, covariates coded as dropout_covariate_coding, recovers dropout_log_hr: "
                            "exactly in continuous time, approximately here because the weekly grid creates "
                            "ties. Near the extract date, people who have stopped attending but whose case is "
                            "not yet closed (closure is recorded 1-6 weeks after the last attendance) appear as "
                            "open and are censored; they are mostly late starters at overloaded sites, with the "
                            "longest waits, so on all starters wait_per_30d is attenuated by about 0.04 "
                            "(20 seeds x 20,000 referrals; other terms unbiased). Restricting to starters whose "
                            "ending is known by design (start_date at least 250 days before the extract date) "
                            "removes this.",
            "cox_recovery_cohort_days_before_extract": 250,
            "missing_covariates": "the hazard uses the true value; missing cells in referrals.csv are missing "
                                  "completely at random",
        },
        "attendance": dict(par["attendance"]),
        "risk": {
            "instrument": rk["instrument"],
            "assumed_observed_sd": rk["observed_sd"],
            "assumed_reliability": rk["reliability"],
            "assumption_source": "SD 5.0 and reliability 0.85 are the project's working values for DASH "
                                 "(no published test-retest reliability for the DASH total score was used)",
            "sem": _round(sem),
            "reliable_change_index_threshold": _round(rci),
            "model": "latent true intake ~ Normal(intake_mean, SD*sqrt(reliability)); true change ~ "
                     "Normal(change_mean[exit group], change_sd); observed score = round(latent + "
                     "Normal(0, SEM)), clipped to 0..24. midpoint adds midpoint_fraction_of_change x change.",
            "intake_mean": rk["intake_mean"],
            "true_mean_change": dict(rk["change_mean"]),
            "change_sd": rk["change_sd"],
            "expected_share_reliable_improvement_unrounded": expected_rel,
            "expected_observed_intake_to_exit": mc,
            "expected_observed_note": "expected mean change and shares of reliable improvement / deterioration "
                                      "of the observed (rounded, clipped 0..24) practitioner scores, intake to "
                                      "exit, by exit group: Monte Carlo with 400,000 draws per group (fixed seed)",
            "realised_intake_to_exit_practitioner": realised,
            "intake_band_shares_expected": expected_bands,
            "intake_band_shares_realised": bands,
            "recording_probabilities": {"midpoint": rk["p_midpoint"], "exit": rk["p_exit"],
                                        "follow_up": rk["p_follow_up"], "follow_up_days": rk["follow_up_days"]},
            "partner_informed": rk["partner_informed"],
        },
        "partners": par["partners"],
        "partner_surveys": {
            "eligible": "(ex-)partners linked to a referral that started, with support_offered true",
            "group": "completer = the perpetrator's simulated programme ending is completion (also for cases "
                     "still open at extract); non_completer otherwise",
            "share_completer_among_eligible": _round(share_c),
            "share_completer_among_due_by_wave": {w: v[0] for w, v in share_due.items()},
            "n_due_by_wave": {w: v[1] for w, v in share_due.items()},
            "response_probability": sv["response"],
            "item_missing_probability": sv["item_missing"],
            "wave_offset_days_after_start": sv["wave_offset_days"],
            "prevalence_completer": prev["completer"],
            "prevalence_non_completer": prev["non_completer"],
            "prevalence_all_partners": prev["all_partners"],
            "prevalence_respondents_expected": prev["respondents"],
            "prevalence_note": "completer / non_completer: true prevalence in each group. all_partners: every "
                               "eligible partner due a survey at that wave (survey date on or before the extract "
                               "date), answering or not, mixed by share_completer_among_due_by_wave. "
                               "respondents_expected: that mix weighted by the response probabilities, i.e. the "
                               "expected prevalence among those who answer the wave.",
            "feels_safe_distribution_1_to_5": fs,
            "space_for_action": sfa,
            "space_for_action_sd": sv["space_for_action_sd"],
            "latent_model": "Gaussian copula: each item and wave thresholds rho*u + sqrt(1-rho^2)*e at the "
                            "target prevalence, u = partner-episode latent severity correlated with DASH, so "
                            "marginal prevalences are exact.",
            "latent_correlation": sv["latent_correlation"],
        },
        "incidents": {
            "base_rate_per_person_year": cal,
            "record_rate_per_person_year_background": {k: _round(v) for k, v in record_rates.items()},
            "record_rate_note": "rates for a person with no prior DA police contact and frailty 1, outside "
                                "any referral window; multiply by prior_contact_multiplier if prior contact "
                                f"(population mean factor {_round(mean_person_mult)}) and by the period "
                                "multiplier",
            "frailty": f"gamma, mean 1, shape {ip['frailty_gamma_shape']}",
            "prior_contact_multiplier": ip["prior_contact_multiplier"],
            "period_multiplier": ip["multiplier"],
            "true_rate_ratio_after_exit_vs_12m_before_referral": inc_rr,
            "event_structure": {
                "p_crime_given_callout": ip["p_crime_given_callout"],
                "p_arrest_given_callout_crime": ip["p_arrest_given_callout_crime"],
                "p_arrest_given_callout_no_crime": ip["p_arrest_given_callout_no_crime"],
                "shared_event_id": "a call-out and the crime/arrest records it led to share event_id",
            },
            "proven_outcome": {"p_proven": ip["p_proven_outcome"], "lag_days": ip["outcome_lag_days"]},
            **inc_truth,
        },
        "covariate_distributions": par["referrals"],
        "parameters": par,
    }
    return _jsonable(truth)


def _truth_risk(ref, risk_ids, rk, sem, true_sd):
    """Risk truth: realised change by exit group among intake/exit practitioner pairs, and the expected
    shares (reliable improvement, intake bands) under the model."""
    r_idx, r_tp, r_inf, r_score = risk_ids
    rci = 1.96 * math.sqrt(2) * sem
    prac = r_inf == "practitioner"
    intake = pd.Series(r_score[prac & (r_tp == "intake")], index=r_idx[prac & (r_tp == "intake")])
    exit_s = pd.Series(r_score[prac & (r_tp == "exit")], index=r_idx[prac & (r_tp == "exit")])
    pair = pd.DataFrame({"intake": intake}).join(pd.DataFrame({"exit": exit_s}), how="inner")
    grp = ref["exit_reason"].to_numpy()[pair.index.to_numpy()]
    pair["change"] = pair["exit"] - pair["intake"]
    pair["group"] = grp
    realised = {}
    for g, sub in pair.groupby("group", sort=True):
        realised[g] = {
            "n": len(sub),
            "mean_change": _round(sub["change"].mean()),
            "share_reliable_improvement": _round((sub["change"] <= -rci).mean()),
            "share_reliable_deterioration": _round((sub["change"] >= rci).mean()),
        }
    expected_rel = {
        g: _round(norm.cdf((-rci - mu) / math.sqrt(rk["change_sd"] ** 2 + 2 * sem**2)))
        for g, mu in rk["change_mean"].items()
    }
    mc = _risk_change_expectations(rk, sem, true_sd, rci)
    intake_all = r_score[prac & (r_tp == "intake")]
    bands = {
        "standard_below_10": _round((intake_all < 10).mean()) if len(intake_all) else None,
        "medium_10_13": _round(((intake_all >= 10) & (intake_all <= 13)).mean()) if len(intake_all) else None,
        "high_14_plus": _round((intake_all >= 14).mean()) if len(intake_all) else None,
    }
    expected_bands = {
        "standard_below_10": _round(norm.cdf((9.5 - rk["intake_mean"]) / rk["observed_sd"])),
        "medium_10_13": _round(norm.cdf((13.5 - rk["intake_mean"]) / rk["observed_sd"])
                               - norm.cdf((9.5 - rk["intake_mean"]) / rk["observed_sd"])),
        "high_14_plus": _round(1 - norm.cdf((13.5 - rk["intake_mean"]) / rk["observed_sd"])),
    }

    return rci, realised, expected_rel, mc, bands, expected_bands


def _truth_surveys(sv, survey_info):
    """Survey truth: prevalences by group and wave, the mixtures over partners due and over respondents,
    the feels-safe distributions and space for action."""
    e_ref, e_comp, share_due = survey_info
    frac = sv["non_completer_fraction_of_change"]
    items = list(schema.SURVEY_BEHAVIOURS)
    share_c = float(e_comp.mean()) if len(e_comp) else 0.0
    prev = {"completer": {}, "non_completer": {}, "all_partners": {}, "respondents": {}}
    for it in items:
        for key in prev:
            prev[key][it] = {}
        for wi, w in enumerate(schema.WAVES):
            pc = float(_survey_prevalence(sv, it, wi, True, frac))
            pn = float(_survey_prevalence(sv, it, wi, False, frac))
            rc, rn = sv["response"]["completer"][w], sv["response"]["non_completer"][w]
            prev["completer"][it][w] = _round(pc)
            prev["non_completer"][it][w] = _round(pn)
            sh = share_due[w][0]
            if sh is None:
                prev["all_partners"][it][w] = prev["respondents"][it][w] = None
                continue
            prev["all_partners"][it][w] = _round(sh * pc + (1 - sh) * pn)
            den = sh * rc + (1 - sh) * rn
            prev["respondents"][it][w] = _round((sh * rc * pc + (1 - sh) * rn * pn) / den)
    fs = {"completer": {}, "non_completer": {}}
    sfa = {"completer": {}, "non_completer": {}}
    t1 = np.asarray(sv["feels_safe_completer"]["T1"])
    m_c = sv["space_for_action_mean_completer"]
    for wi, w in enumerate(schema.WAVES):
        pc = np.asarray(sv["feels_safe_completer"][w])
        fs["completer"][w] = [_round(x) for x in pc]
        fs["non_completer"][w] = [_round(x) for x in t1 + frac * (pc - t1)]
        for g, mean in (("completer", m_c[wi]), ("non_completer", m_c[0] + frac * (m_c[wi] - m_c[0]))):
            sfa[g][w] = {"latent_mean": _round(mean), "expected_mean_after_clipping": _round(
                _clipped_normal_mean(mean, sv["space_for_action_sd"], 0, 100))}

    return share_c, prev, fs, sfa


def _truth_incident_rates(par):
    """Incident truth: rate ratios after exit, the population mean prior-contact factor and the
    background record rates per person-year."""
    ip = par["incidents"]
    inc_rr = {
        g: _round(m / ip["multiplier"]["before_referral_12m"]) for g, m in ip["multiplier"]["after_exit"].items()
    }
    mean_person_mult = par["referrals"]["prior_da_police_contact"]["p"] * ip["prior_contact_multiplier"] + (
        1 - par["referrals"]["prior_da_police_contact"]["p"])
    cal = ip["base_rate_per_person_year"]
    callout_rate = cal["police_callout"]
    record_rates = {
        "police_callout": callout_rate,
        "da_crime": cal["da_crime"] + callout_rate * ip["p_crime_given_callout"],
        "arrest": callout_rate * (ip["p_crime_given_callout"] * ip["p_arrest_given_callout_crime"]
                                  + (1 - ip["p_crime_given_callout"]) * ip["p_arrest_given_callout_no_crime"]),
        "marac_referral": cal["marac_referral"],
        "child_protection": cal["child_protection"],
    }
    return inc_rr, mean_person_mult, cal, record_rates


def _risk_change_expectations(rk: dict, sem: float, true_sd: float, rci: float) -> dict[str, dict[str, float]]:
    """Expected observed intake-to-exit change under the risk model (rounding and clipping included)."""
    rng = np.random.default_rng(20240401)
    m = 400_000
    t = rk["intake_mean"] + true_sd * rng.standard_normal(m)
    e1, e2, z = rng.standard_normal(m), rng.standard_normal(m), rng.standard_normal(m)
    intake = np.clip(np.round(t + sem * e1), 0, 24)
    out = {}
    for g, mu in rk["change_mean"].items():
        exit_s = np.clip(np.round(t + mu + rk["change_sd"] * z + sem * e2), 0, 24)
        ch = exit_s - intake
        out[g] = {"mean_change": _round(ch.mean(), 4), "share_reliable_improvement": _round((ch <= -rci).mean(), 4),
                  "share_reliable_deterioration": _round((ch >= rci).mean(), 4)}
    return out


def _clipped_normal_mean(mu: float, sd: float, lo: float, hi: float) -> float:
    a, b = (lo - mu) / sd, (hi - mu) / sd
    return float(lo * norm.cdf(a) + hi * norm.sf(b) + mu * (norm.cdf(b) - norm.cdf(a))
                 + sd * (norm.pdf(a) - norm.pdf(b)))


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def table_to_csv(df: pd.DataFrame, table: str) -> str:
    """Format a contract table as CSV text exactly as the generator writes it.

    Columns in schema order, ISO dates, ``true``/``false``, empty cells for
    missing values, ``\\n`` line endings, floats with up to 10 significant
    digits (``%.10g``).

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    table : str
        Contract table name (``"sites"``, ``"referrals"``, ...).

    Returns
    -------
    str

    Examples
    --------
    >>> t = generate_tables(referrals=20, sites=1, seed=1)
    >>> table_to_csv(t["sites"], "sites").splitlines()[0]
    'site_id,site_name,programme_model,planned_sessions,annual_cost_gbp,target_completions,period_start,period_end,data_extract_date,incident_data_from'
    """
    spec = schema.TABLES[table]
    names = [col.name for col in spec.columns if col.name in df.columns]
    fast = _csv_columns_fast(df, spec, names)
    if fast is None:
        return _table_to_csv_pandas(df, spec, names)
    # every cell is already its CSV text and none needs quoting: join rows in blocks (bounded memory)
    lines = [",".join(names)]
    n = len(df)
    step = 250_000
    for a in range(0, n, step):
        lines.append("\n".join(map(",".join, zip(*(c[a:a + step] for c in fast)))))
    return "\n".join(lines) + "\n"


_QUOTE_CHARS = (",", '"', "\r", "\n")  # a cell holding any of these is quoted by the csv writer


def _csv_columns_fast(df: pd.DataFrame, spec, names: list[str]) -> list[list[str]] | None:
    """Each column as a list of its CSV cells, formatted as :func:`_table_to_csv_pandas` writes them.

    Returns None when the fast path cannot promise the same bytes (a text cell that needs quoting, a
    text column holding non-strings, a single-column table), so the caller falls back to pandas.
    """
    if len(names) < 2:
        return None
    kinds = {col.name: col.kind for col in spec.columns}
    cols = []
    for name in names:
        s = df[name]
        kind = kinds[name]
        if kind == "date":
            d = _as_days(s)
            cols.append(_by_unique(d.view(np.int64), lambda u: np.where(
                np.isnat(u.view("datetime64[D]")), "", np.datetime_as_string(u.view("datetime64[D]"), unit="D"))))
        elif kind == "bool":
            b = s.astype("boolean")
            cols.append(np.where(b.isna(), "", np.where(b.fillna(False), "true", "false")).tolist())
        elif kind == "int":
            v = s.astype("Int64")
            miss = v.isna().to_numpy()
            codes = np.where(miss, np.iinfo(np.int64).min, v.fillna(0).to_numpy(dtype=np.int64))
            cols.append(_by_unique(codes, lambda u: np.where(u == np.iinfo(np.int64).min, "", u.astype(str))))
        elif kind == "float":
            # distinct bit patterns, so -0.0 stays "-0" as pandas writes it
            bits = np.ascontiguousarray(s.astype(float).to_numpy()).view(np.int64)
            cols.append(_by_unique(bits, lambda u: np.asarray(
                ["" if x != x else format(x, ".10g") for x in u.view(np.float64).tolist()], dtype=object)))
        else:
            obj = s.astype(object)
            miss = obj.isna().to_numpy()
            vals = obj.to_numpy(copy=True)
            vals[miss] = ""
            if pd.api.types.infer_dtype(vals, skipna=False) not in ("string", "empty"):
                return None
            joined = "".join(vals.tolist())
            if any(ch in joined for ch in _QUOTE_CHARS):
                return None
            cols.append(vals.tolist())
    return cols


def _as_days(s: pd.Series) -> np.ndarray:
    """A date column as datetime64[D] (NaT for missing)."""
    if not (pd.api.types.is_datetime64_dtype(s.dtype) and getattr(s.dtype, "tz", None) is None):
        s = pd.to_datetime(s)
    return s.to_numpy().astype("datetime64[D]")


def _by_unique(values: np.ndarray, fmt) -> list[str]:
    """Format each distinct value once (``fmt`` maps an array of distinct values to their texts), then spread."""
    inverse, uniq = pd.factorize(values, sort=False)  # hashing: linear, where np.unique sorts
    return np.asarray(fmt(np.asarray(uniq, dtype=values.dtype)), dtype=object)[inverse].tolist()


def _table_to_csv_pandas(df: pd.DataFrame, spec, names: list[str]) -> str:
    """pandas' CSV writer (quotes where needed); the reference the fast path must equal byte for byte."""
    kinds = {col.name: col.kind for col in spec.columns}
    out = pd.DataFrame(index=df.index)
    for name in names:
        s = df[name]
        kind = kinds[name]
        if kind == "date":
            d = pd.to_datetime(s).to_numpy().astype("datetime64[D]")
            txt = np.datetime_as_string(d, unit="D").astype(object)
            txt[np.isnat(d)] = ""
            out[name] = txt
        elif kind == "bool":
            b = s.astype("boolean")
            out[name] = np.where(b.isna(), "", np.where(b.fillna(False), "true", "false"))
        elif kind == "int":
            out[name] = s.astype("Int64")
        elif kind == "float":
            out[name] = s.astype(float)
        else:
            out[name] = s.astype(object).where(s.notna(), "")
    return out.to_csv(index=False, lineterminator="\n", na_rep="", float_format="%.10g")


def write_programme(tables: dict[str, pd.DataFrame], out_dir: str | Path, *, truth: dict | None = None,
                    readme: bool = True) -> Path:
    """Write contract tables (and optionally truth.json and README.md) to a folder.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables by name.
    out_dir : str or Path
        Folder to write into (created if needed; files are overwritten).
    truth : dict, optional
        Written to ``truth.json`` (sorted keys, 2-space indent).
    readme : bool
        Also write the data dictionary ``README.md`` (needs ``truth``).

    Returns
    -------
    Path
        The folder.

    Examples
    --------
    >>> import tempfile
    >>> prog = simulate(referrals=50, sites=2, seed=4)
    >>> folder = write_programme(prog.tables, tempfile.mkdtemp(), truth=prog.truth)
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['README.md', 'capacity.csv', 'children.csv']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in schema.TABLE_ORDER:
        if name in tables:
            (out / schema.TABLES[name].filename).write_bytes(table_to_csv(tables[name], name).encode("utf-8"))
    if truth is not None:
        text = json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (out / "truth.json").write_bytes(text.encode("utf-8"))
        if readme:
            (out / "README.md").write_bytes(data_dictionary(truth).encode("utf-8"))
    return out


def generate_tables(*, referrals: int = 2000, sites: int = 5, years: int = 2, seed: int = 1,
                    scenario: str = "default") -> dict[str, pd.DataFrame]:
    """Generate the contract tables in memory (nothing is written).

    Same arguments as :func:`generate`; handy for benchmarks and simulation
    studies.

    Examples
    --------
    >>> t = generate_tables(referrals=100, sites=2, seed=5)
    >>> sorted(t["referrals"]["site_id"].unique())
    ['S01', 'S02']
    """
    return simulate(referrals=referrals, sites=sites, years=years, seed=seed, scenario=scenario).tables


def generate(out_dir: str | Path | None = None, *, referrals: int = 2000, sites: int = 5, years: int = 2,
             seed: int = 1, scenario: str = "default") -> dict[str, pd.DataFrame]:
    """Generate a synthetic programme and, if ``out_dir`` is given, write it.

    The folder gets the seven contract CSV files, ``truth.json`` and the
    data dictionary ``README.md``.  The same arguments always give
    byte-identical files.

    Parameters
    ----------
    out_dir : str or Path, optional
        Folder to write; nothing is written when None.
    referrals : int
        Number of referral episodes (100,000 take a few seconds).
    sites : int
        Number of sites.
    years : int
        Length of the evaluation period in years.
    seed : int
        Random seed.
    scenario : str
        ``"default"`` (calibrated) or ``"no_effect"``.

    Returns
    -------
    dict of str to DataFrame
        The tables, with the dtypes of :func:`dapp_eval.data.io.load_programme`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> tables = generate(folder, referrals=100, sites=3, seed=7)
    >>> (folder / "truth.json").exists(), len(tables["sites"])
    (True, 3)
    """
    prog = simulate(referrals=referrals, sites=sites, years=years, seed=seed, scenario=scenario)
    if out_dir is not None:
        write_programme(prog.tables, out_dir, truth=prog.truth)
    return prog.tables


# ---------------------------------------------------------------------------
# data dictionary
# ---------------------------------------------------------------------------

_NOTES: dict[tuple[str, str], str] = {
    ("sites", "site_id"): "S01, S02, ...",
    ("sites", "site_name"): "Invented place + programme name, always ending '(synthetic)'.",
    ("sites", "programme_model"): "5 sites: two 24-session groups, two 10-session groups, one assessment-led "
                                  "one-to-one service (Portsmouth Up2U-like). More sites cycle in pairs, adding mixed.",
    ("sites", "planned_sessions"): "24 / 10 / 12 (one-to-one, overridden per referral) / 16 (mixed).",
    ("sites", "annual_cost_gbp"): "GBP 12,000 + a per-referral amount by model x expected referrals per year "
                                  "(Bromley GBP 28k, Coventry GBP 68k per year).",
    ("sites", "target_completions"): "0.3 x expected referrals per year (Bromley's contract: 30 a year).",
    ("sites", "data_extract_date"): "period_end + 30 days.",
    ("sites", "incident_data_from"): "period_start - 2 years, so every 12-month pre-referral window is covered.",
    ("referrals", "referral_id"): "R000001, ... in order of referral date.",
    ("referrals", "participant_id"): "About 8% of referrals are repeat episodes of an earlier person "
                                     "(at least 90 days later, usually the same site).",
    ("referrals", "referral_date"): "Uniform over the period; 3% carried over from the 90 days before it.",
    ("referrals", "referral_source"): "Children's social care about 65% (Coventry: 70%).",
    ("referrals", "programme_name"): "The site's programme; 30% of referrals at 24-session group sites are on a "
                                     "second strand, 'Step Up' (v2 stream).",
    ("referrals", "district"): "Invented districts, four per site ('<place> Central/North/East/West', 40/30/20/10%); "
                               "2% missing.",
    ("referrals", "disability"): "Yes for 10% of people who completed, 24% of those who started and left early, 14% "
                                 "of others (a known gap in completion); 3% prefer not to say, 5% not recorded.",
    ("referrals", "religion"): "No religion 40%, Christian 30%, Muslim 12%, others smaller; 4% prefer not to say, "
                               "3% not recorded.",
    ("referrals", "sexual_orientation"): "Heterosexual 88%, gay or lesbian 2%, bisexual 1% (Leicestershire: 1 of "
                                         "107 LGBTQ+); 4.5% prefer not to say, 4% not recorded.",
    ("referrals", "aces_score"): "Poisson(Gamma(2, 1.2)) capped at 10; 20% missing.",
    ("referrals", "aces_flag"): "aces_score >= 4; missing where the score is.",
    ("referrals", "mental_health"): "38% true; 5% missing.",
    ("referrals", "interpreter_needed"): "12% of people who declined or were unsuitable, 4% of others (a known gap "
                                         "in reach).",
    ("referrals", "language"): "The interpreter's language (Polish, Urdu, ...) when one is needed; otherwise "
                               "english, or another language for 7%.",
    ("referrals", "referral_risk_level"): "Standard 45%, medium 35%, high 20%; 5% missing.",
    ("children", "child_id"): "C000001, ...: the same child in every referral of the person.",
    ("children", "plan_at_referral"): "None 50%, child in need 24%, child protection 18%, looked after 4%, not "
                                      "recorded 4%.",
    ("children", "plan_at_12_months"): "From a transition matrix by whether the referral completed (truth.json); "
                                       "empty until 12 months after referral have passed.",
    ("partner_support", "support_start"): "0-21 days after assessment (or referral).",
    ("partner_support", "support_end"): "For 75% of partners of people who started, 0-90 days after the "
                                        "perpetrator left (covering the programme); otherwise earlier. Empty = open.",
    ("partner_support", "n_contacts"): "Poisson(2 + 0.5 per week supported).",
    ("partner_support", "n_sessions"): "Poisson(0.25 per week supported).",
    ("partner_support", "safety_plan"): "80% true.",
    ("capacity", "places_filled"): "People with an attended session in the quarter (from sessions.csv).",
    ("capacity", "places_offered"): "places_filled / utilisation, utilisation uniform 82-97% per quarter.",
    ("capacity", "groups_run"): "places_offered / 10, rounded up; 0 at one-to-one sites.",
    ("capacity", "funding_gbp"): "annual_cost_gbp / 4, split PCC 50%, local authority 30%, health 20%.",
    ("feedback", "rating"): "4 or 5 ('better') with probability by informant and completion (perpetrator 85% / "
                            "40%, partner 70% / 30%, referring agency 75% / 35%); see truth.json.",
    ("referrals", "planned_sessions"): "Set only for suitable referrals at one-to-one sites (8-16 sessions).",
    ("referrals", "gender"): "About 6% female (Coventry 7/119, Leicestershire 13/107); other/unknown rare.",
    ("referrals", "age"): "18 + Gamma(2.2, 8.2), median about 33, capped at 70; 0.4% aged 16-17; 1.5% missing.",
    ("referrals", "ethnicity"): "Leicestershire-like mix: white British 66%, Asian 18%, other groups smaller.",
    ("referrals", "employment"): "Employed 52%, unemployed 33%, other 10%, unknown 5%.",
    ("referrals", "prior_da_police_contact"): "50% true; 3% missing. Raises dropout and police contact.",
    ("referrals", "substance_misuse"): "30% true; 5% missing. Raises dropout.",
    ("referrals", "relationship_to_victim"): "Partner 77%, ex-partner 21% (Coventry).",
    ("referrals", "abuse_types"): "Each type drawn independently (emotional 85%, verbal 75%, physical 60%, ...); "
                                  "2% missing.",
    ("referrals", "n_children"): "0-4, mean about 1.8 (Leicestershire: 341 children for 189 people).",
    ("referrals", "assessment_date"): "Referral + 3 days + exponential wait (site mean 14-35 days); empty if "
                                      "assessment was declined or is still awaited at extract.",
    ("referrals", "assessment_outcome"): "12% of assessed are unsuitable.",
    ("referrals", "start_date"): "First attended session; places are offered weekly from a first-come queue "
                                 "limited by site capacity, so waits grow at overloaded sites.",
    ("referrals", "exit_date"): "0-6 weeks after the last attended session (or the decline / assessment date).",
    ("referrals", "exit_reason"): "Empty = still open at the extract date.",
    ("sessions", "session_number"): "Weekly from the offered slot, up to the planned number.",
    ("sessions", "session_date"): "Only sessions up to the exit date (or the extract date) are listed.",
    ("sessions", "session_type"): "By site model; 2% of people at group sites are seen one-to-one; mixed sites "
                                  "hold every 4th session one-to-one.",
    ("sessions", "attended"): "90% per session; missed sessions before the first attended one precede start_date.",
    ("risk_assessments", "timepoint"): "intake at assessment; midpoint at the middle session (85%); exit at the "
                                       "exit date (completers 95%, dropouts 35%); follow_up ~6 months after exit.",
    ("risk_assessments", "score"): "DASH 0-24: latent score + measurement error (SD 5, reliability 0.85), rounded.",
    ("risk_assessments", "informant"): "practitioner; partner for about half of those whose (ex-)partner accepted "
                                       "support (intake, and exit for most with a practitioner exit score).",
    ("partners", "partner_id"): "PTN000001, ...; a repeat referral often links the same partner.",
    ("partners", "gender"): "Mostly female; male partners of female perpetrators and same-sex cases included.",
    ("partners", "support_offered"): "93% true.",
    ("partners", "support_accepted"): "If offered: 68% true, 22% false, 10% missing; missing if not offered.",
    ("partner_surveys", "wave"): "T1 at start, T2 ~3, T3 ~6, T4 ~12 months; answered by 85/70/60/50% roughly, "
                                 "less often by partners of people who did not complete.",
    ("partner_surveys", "feels_safe"): "T1: 32% 'not safe at all', 8% 'very safe' (Project Mirabal start).",
    ("partner_surveys", "space_for_action"): "Mean about 45 at T1 rising to 70 at T4 for completers.",
    ("incidents", "incident_id"): "I0000001, ... ordered by person and date.",
    ("incidents", "event_id"): "A call-out and the crime/arrest it led to share the call-out's incident_id.",
    ("incidents", "incident_date"): "Poisson rates per person: 2.5x in the 12 months before referral "
                                    "(regression to the mean), lower after exit, lowest for completers.",
    ("incidents", "outcome_date"): "30% of DA crimes proven 1-6 months later (if before the extract date).",
}


def data_dictionary(truth: dict[str, Any]) -> str:
    """The data dictionary (``README.md``) of a generated folder, as Markdown.

    Parameters
    ----------
    truth : dict
        The truth of the generated programme (:attr:`SyntheticProgramme.truth`).

    Returns
    -------
    str

    Examples
    --------
    >>> prog = simulate(referrals=50, sites=1, seed=1)
    >>> data_dictionary(prog.truth).splitlines()[0]
    '# SYNTHETIC programme data: data dictionary'
    """
    a = truth["arguments"]
    cmd = synth_command(out="data_synthetic", **a)
    ft = truth["funnel_targets"]
    fa = truth["funnel_achieved"]
    lines = [
        "# SYNTHETIC programme data: data dictionary",
        "",
        "**Every row in this folder is SYNTHETIC.** No real person, site, provider or event is represented; "
        "site names are invented and marked '(synthetic)'. The data were generated by "
        f"`dapp_eval.synthetic` (generator version {truth['generator_version']}, scenario "
        f"`{truth['scenario']}`) with",
        "",
        "```",
        cmd,
        "```",
        "",
        "(equivalently `dapp_eval.synthetic.generate('data_synthetic', referrals={referrals}, sites={sites}, "
        "years={years}, seed={seed}, scenario='{scenario}')`); the same command always rewrites identical "
        "files.".format(**a),
        "",
        "The folder follows the dapp_eval data contract (`shared/spec/data-contract.md`, `dapp_eval/data/schema.py`): "
        "UTF-8, ISO dates, `true`/`false`, empty cells for missing values. `truth.json` holds every parameter "
        "the data were drawn from (true hazard ratios, prevalences, rates), so analyses can be checked "
        "against the truth.",
        "",
        f"Evaluation period {truth['calendar']['period_start']} to {truth['calendar']['period_end']}, data "
        f"extracted {truth['calendar']['data_extract_date']}; linked incident data from "
        f"{truth['calendar']['incident_data_from']}.",
        "",
        "| file | rows |",
        "|---|---|",
    ]
    for name in schema.TABLE_ORDER:
        lines.append(f"| {schema.TABLES[name].filename} | {truth['n_rows'][name]} |")
    lines += [
        "",
        "## Calibration targets",
        "",
        "Funnel conversions among cases resolved at each stage (the project's test requires each achieved "
        "value within 5 percentage points of its target):",
        "",
        "| conversion | target | achieved | n | source |",
        "|---|---|---|---|---|",
    ]
    sources = {
        "declined_assessment": "Bromley 2013/14: 5 declined of 30 resolved at assessment (0.17)",
        "unsuitable": "assumed (the seed reports give no figure)",
        "declined_to_start": "Bromley 2013/14: 10 of 25 accepted declined to engage (0.40; an early "
                             "snapshot, set a little lower here)",
        "completed": "Coventry 2015: 54 completed of 68 closed (0.79); 24-session sites complete less "
                     "often than 10-session ones",
    }
    for key in ("declined_assessment", "unsuitable", "declined_to_start", "completed"):
        got = fa[key]["proportion"]
        got_txt = "n/a" if got is None else f"{got:.3f}"
        lines.append(f"| {key} | {ft[key]:.2f} | {got_txt} | {fa[key]['n']} | {sources[key]} |")
    ps = truth["partner_surveys"]
    lines += [
        "",
        "Other calibration anchors:",
        "",
        "- Perpetrators: about 6% female (Coventry 7 of 119; Leicestershire 13 of 107), children's social care "
        "the main referrer (Coventry 70%), 77% partners / 21% ex-partners, emotional, physical and verbal "
        "abuse most common (Coventry), ethnicity mix as Leicestershire 2022/23.",
        "- Sites: Bromley (24-week group, GBP 28k a year, target 30 completions), Coventry (10-week group, "
        "GBP 68k, about 3 months' wait), Portsmouth Up2U (assessment-led one-to-one). Sites with a load factor "
        "above 1 build waiting lists.",
        "- Dropout after start: cause-specific hazard with true log hazard ratios "
        + ", ".join(f"{k} {v:+.2f}" for k, v in truth["dropout_log_hr"].items())
        + " (coding in `truth.json`, `dropout_covariate_coding`).",
        "- Partner surveys (Project Mirabal, start vs 12 months, completers): "
        + "; ".join(
            f"{it.replace('_', ' ')} {ps['prevalence_completer'][it]['T1']:.0%} -> "
            f"{ps['prevalence_completer'][it]['T4']:.0%}"
            for it in ("sexual_violence", "weapon_used", "injury", "coercive_control")
        )
        + "; feels 'very safe' 8% -> 50%, 'not safe at all' 32% -> 6%. Partners of non-completers improve "
          "half as much; fewer of them answer.",
        f"- DASH risk at intake: about 38% standard (<10), 31% medium (10-13), 31% high (14+); assumed SD "
        f"{truth['risk']['assumed_observed_sd']}, reliability {truth['risk']['assumed_reliability']} (reliable "
        f"change threshold {truth['risk']['reliable_change_index_threshold']:.2f} points).",
        "- Police call-outs, DA crimes, arrests, MARAC and child-protection records: 2.5x the background rate in "
        "the 12 months before referral (so before/after comparisons show regression to the mean); true rate "
        "ratio after exit vs before referral "
        + ", ".join(f"{k} {v:.2f}" for k, v in truth["incidents"]["true_rate_ratio_after_exit_vs_12m_before_referral"].items()
                    if k in ("completed", "dropped_out", "declined_to_start"))
        + ".",
        "",
        "## Columns",
        "",
        "Type codes: `str` text, `enum` one of the listed codes, `int` whole number, `float` number, "
        "`bool` true/false, `date` YYYY-MM-DD, `set` `;`-separated codes. 'nullable' = empty cells allowed.",
    ]
    for name in schema.TABLE_ORDER:
        t = schema.TABLES[name]
        lines += ["", f"### {t.filename}", "", t.description, "",
                  "| column | type | nullable | values / range | meaning | how simulated |", "|---|---|---|---|---|---|"]
        for c in t.columns:
            vals = ", ".join(f"`{v}`" for v in c.values)
            if c.min is not None or c.max is not None:
                lo = "" if c.min is None else f"{c.min:g}"
                hi = "" if c.max is None else f"{c.max:g}"
                vals = (vals + " " if vals else "") + f"{lo}..{hi}"
            if name == "risk_assessments" and c.name == "score":
                vals = "DASH 0..24"
            note = _NOTES.get((name, c.name), "")
            lines.append(f"| {c.name} | {c.kind} | {'yes' if c.nullable else 'no'} | {vals} | "
                         f"{c.description} | {note} |")
    lines += [
        "",
        "## Files besides the tables",
        "",
        "- `truth.json`: arguments, row counts, funnel targets and achieved values, true dropout log hazard "
        "ratios and their covariate coding, risk-change parameters, true partner-survey prevalences by wave "
        "(completers, non-completers, all partners, expected among respondents), response model, incident "
        "rates and rate ratios, and the full parameter set; under `contract_v2`, the parameters of the items of "
        "data contract version 2 (drawn from a random stream of their own, so the version-1 tables of a seed "
        "are unchanged) and their realised counts.",
        "- `README.md`: this file (written by the generator).",
        "",
    ]
    return "\n".join(lines)

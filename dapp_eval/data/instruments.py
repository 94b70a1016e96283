"""Registry of risk / outcome instruments (score range, bands, reliability): data layer.

The data contract checks scores against an instrument's range when loading,
and the risk analyses use the bands and reliable-change constants, so the
registry sits below both (it moved here from :mod:`dapp_eval.analyses.risk`, which
still re-exports it).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dapp_eval.errors import AnalysisError

__all__ = ["DASH", "Instrument", "get_instrument", "instruments", "register_instrument"]


# ---------------------------------------------------------------------------
# instrument registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    """A risk (or behaviour) instrument: range, direction, bands and reliable-change constants.

    Parameters
    ----------
    name : str
        Registry key, as used in ``risk_assessments.instrument``.
    min_score, max_score : float
        Possible range of the total score.
    higher_is_worse : bool
        Direction: ``True`` when a higher score means more risk (DASH).
    bands : tuple of (label, lower bound)
        Ordered bands; a score belongs to the last band whose lower bound it
        reaches. DASH: standard (0-9), medium (10-13), high (14+).
    high_band : str
        Label of the band that counts as "high risk" (McNemar, GEE).
    clinical_cutoff : float, optional
        Score separating the clinical (high-risk) range from the rest, for
        Jacobson-Truax clinically significant change; for a higher-is-worse
        instrument a score ``>= clinical_cutoff`` is in the clinical range.
    sd, reliability : float
        Standard deviation and reliability used for the reliable change index.
    sd_source, reliability_source : str
        Where those figures come from.
    sd_is_assumption, reliability_is_assumption : bool
        ``True`` where no published figure exists and the value is assumed.
    ever_items : tuple of str
        Items that ask whether something has *ever* happened; a "yes" cannot
        fall, so they floor the score.
    informant_note : str
        Who completes the instrument and what it describes.
    description : str
        Plain-language description.

    Examples
    --------
    >>> dash = get_instrument("DASH")
    >>> dash.band_of([3, 12, 17]).tolist()
    ['standard', 'medium', 'high']
    >>> round(dash.s_diff, 3)
    2.739
    """

    name: str
    min_score: float
    max_score: float
    higher_is_worse: bool = True
    bands: tuple[tuple[str, float], ...] = ()
    high_band: str | None = None
    clinical_cutoff: float | None = None
    sd: float = float("nan")
    reliability: float = float("nan")
    sd_source: str = ""
    reliability_source: str = ""
    sd_is_assumption: bool = False
    reliability_is_assumption: bool = False
    ever_items: tuple[str, ...] = ()
    informant_note: str = ""
    description: str = ""
    references: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if not self.max_score > self.min_score:
            raise ValueError(f"instrument {self.name}: max_score must exceed min_score")
        if not (self.sd > 0):
            raise ValueError(f"instrument {self.name}: sd must be positive (the SD used for reliable change)")
        if not (0 <= self.reliability < 1):
            raise ValueError(f"instrument {self.name}: reliability must be in [0, 1)")
        lows = [b[1] for b in self.bands]
        if lows != sorted(lows):
            raise ValueError(f"instrument {self.name}: bands must be ordered by their lower bound")
        if self.high_band is not None and self.high_band not in [b[0] for b in self.bands]:
            raise ValueError(f"instrument {self.name}: high_band {self.high_band!r} is not one of the bands")

    @property
    def sem(self) -> float:
        """Standard error of measurement, ``SD * sqrt(1 - reliability)``."""
        return self.sd * math.sqrt(1 - self.reliability)

    @property
    def s_diff(self) -> float:
        """Standard error of a difference of two scores, ``sqrt(2) * SEM``."""
        return math.sqrt(2) * self.sem

    def rc_threshold(self, alpha: float = 0.05) -> float:
        """Smallest change counted as reliable: ``z(1 - alpha/2) * S_diff`` (1.96 * S_diff at 0.05)."""
        from scipy import stats  # imported here: loading data needs the registry, not scipy

        return float(stats.norm.ppf(1 - alpha / 2) * self.s_diff)

    def band_of(self, scores) -> np.ndarray:
        """Band label of each score (object array; NaN score -> None)."""
        s = np.asarray(scores, dtype=float)
        labels = np.array([b[0] for b in self.bands], dtype=object)
        lows = np.array([b[1] for b in self.bands], dtype=float)
        idx = np.searchsorted(lows, s, side="right") - 1
        out = np.where((idx >= 0) & ~np.isnan(s), labels[np.clip(idx, 0, len(labels) - 1)], None)
        return out.astype(object)

    def is_high(self, scores) -> np.ndarray:
        """Boolean array: score in the high band (NaN -> False)."""
        if self.high_band is None:
            raise AnalysisError(f"instrument {self.name} defines no high-risk band")
        return self.band_of(scores) == self.high_band

    def in_clinical_range(self, scores) -> np.ndarray:
        s = np.asarray(scores, dtype=float)
        return s >= self.clinical_cutoff if self.higher_is_worse else s <= self.clinical_cutoff

    def replace(self, **changes) -> Instrument:
        """A copy with some fields changed (e.g. ``sd=``, ``reliability=``)."""
        return dataclasses.replace(self, **changes)


DASH = Instrument(
    name="DASH",
    min_score=0,
    max_score=24,
    higher_is_worse=True,
    bands=(("standard", 0), ("medium", 10), ("high", 14)),
    high_band="high",
    clinical_cutoff=14,
    sd=5.0,
    reliability=0.85,
    sd_source=("assumption: no published normative SD for the DASH total score; 5.0 is a plausible spread "
               "of 0-24 yes counts in specialist-service samples. Override with sd= when a local SD is known."),
    reliability_source=("assumption: no published test-retest or internal-consistency figure for the DASH total "
                        "score; 0.85 assumed. Override with reliability= when a figure is available."),
    sd_is_assumption=True,
    reliability_is_assumption=True,
    ever_items=(
        "Q13 weapons or objects ever used to hurt",
        "Q14 ever threatened to kill (and believed)",
        "Q15 ever attempted to strangle, choke, suffocate or drown",
        "Q19 ever mistreated an animal or the family pet",
        "Q22 ever threatened or attempted suicide",
        "Q23 ever broken bail, an injunction or a formal agreement",
        "Q24 ever in trouble with the police or has a criminal history",
    ),
    informant_note=(
        "Completed with the (ex-)partner (the person at risk): it describes the risk of serious harm to "
        "her/him at the time of asking, not a trait of the person referred. Items with a look-back window "
        "(separation in the past year, pregnancy or a baby within 18 months, drug/alcohol/mental-health "
        "problems in the past year) also change slowly."
    ),
    description=("SafeLives Dash risk checklist: 24 yes/no questions; 14+ yes answers = high risk (Marac "
                 "referral), 10-13 medium, below 10 standard."),
    references=("SafeLives (2015) Dash risk checklist and quick start guidance.",
                "Jacobson NS, Truax P (1991) J Consult Clin Psychol 59:12-19 (reliable change)."),
)

_REGISTRY: dict[str, Instrument] = {"DASH": DASH}


def register_instrument(instrument: Instrument, *, replace: bool = False) -> Instrument:
    """Add an instrument to the registry (e.g. an abusive-behaviour inventory).

    Parameters
    ----------
    instrument : Instrument
        The definition, with SD and reliability and their sources.
    replace : bool
        Allow replacing an instrument of the same name.

    Returns
    -------
    Instrument

    Examples
    --------
    >>> abi = Instrument(name="ABI-example", min_score=30, max_score=150, bands=(("all", 30),),
    ...                  sd=18.0, reliability=0.90, sd_source="your sample at intake",
    ...                  reliability_source="your published source")
    >>> register_instrument(abi, replace=True).name
    'ABI-example'
    """
    if not isinstance(instrument, Instrument):
        raise TypeError("register_instrument expects an Instrument")
    if instrument.name in _REGISTRY and not replace:
        raise ValueError(f"instrument {instrument.name!r} is already registered (use replace=True)")
    _REGISTRY[instrument.name] = instrument
    return instrument


def get_instrument(name: str | Instrument) -> Instrument:
    """Look up an instrument by name (``KeyError`` listing the known names if absent).

    Examples
    --------
    >>> get_instrument("DASH").max_score
    24
    """
    if isinstance(name, Instrument):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"instrument {name!r} is not registered (known: {', '.join(sorted(_REGISTRY))}); "
                       "add it with dapp_eval.analyses.risk.register_instrument") from None


def instruments() -> pd.DataFrame:
    """The registry as a table, one row per instrument, with sources and assumption flags.

    Examples
    --------
    >>> instruments().loc[0, "name"]
    'DASH'
    """
    rows = []
    for inst in _REGISTRY.values():
        rows.append({
            "name": inst.name, "min_score": inst.min_score, "max_score": inst.max_score,
            "direction": "higher = worse" if inst.higher_is_worse else "higher = better",
            "bands": "; ".join(f"{lab} >= {lo:g}" for lab, lo in inst.bands),
            "high_band": inst.high_band, "clinical_cutoff": inst.clinical_cutoff,
            "sd": inst.sd, "sd_source": inst.sd_source, "sd_is_assumption": inst.sd_is_assumption,
            "reliability": inst.reliability, "reliability_source": inst.reliability_source,
            "reliability_is_assumption": inst.reliability_is_assumption,
            "s_diff": inst.s_diff, "rc_threshold_95": inst.rc_threshold(0.05),
            "ever_items": "; ".join(inst.ever_items), "informant_note": inst.informant_note,
        })
    return pd.DataFrame(rows)

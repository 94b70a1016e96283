"""Programme helpers shared by the analysis modules (safety, followup, ...).

Analysis layer: these know the programme data model (episodes, programme
status, the tables of a :class:`~dapp_eval.data.io.ProgrammeData`) but do no
statistics beyond bookkeeping. They used to live in :mod:`dapp_eval.analyses.safety`,
which :mod:`dapp_eval.analyses.followup` imported privately, making the two modules
import each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import holm

__all__ = ["as_float", "episodes", "holm_secondary", "programme_status", "require_table", "sorted_codes"]


def require_table(data, name: str, why: str = "") -> pd.DataFrame:
    if hasattr(data, "require"):
        return data.require(name)
    df = getattr(data, name, None)
    if df is None:
        raise AnalysisError(f"this analysis needs {name}.csv, which is not in the data folder{why}")
    return df


def episodes(data) -> pd.DataFrame:
    ep = getattr(data, "episodes", None)
    if ep is not None:
        return ep
    ref = data.referrals
    cols = ["site_id", "data_extract_date", "incident_data_from", "period_start", "period_end"]
    return ref.merge(data.sites.reindex(columns=cols), on="site_id", how="left")


def programme_status(episodes: pd.DataFrame) -> pd.Series:
    """Programme status of each referral: a code of :data:`STATUS_LABELS`.

    ``completed``; ``dropped_out`` (dropped out or excluded); ``other_exit``
    (started, then moved away, custody or other); ``ongoing`` (started, no
    exit yet); ``not_started``.

    Examples
    --------
    >>> ref = pd.DataFrame({"start_date": pd.to_datetime(["2024-01-01", None]),
    ...                     "exit_reason": ["completed", "declined_assessment"]})
    >>> programme_status(ref).tolist()
    ['completed', 'not_started']
    """
    started = episodes["start_date"].notna()
    reason = episodes["exit_reason"].astype(object)
    out = np.select(
        [
            ~started,
            reason.eq("completed"),
            reason.isin(["dropped_out", "excluded"]),
            reason.notna(),
        ],
        ["not_started", "completed", "dropped_out", "other_exit"],
        default="ongoing",
    )
    return pd.Series(out, index=episodes.index, name="programme_status")


def as_float(s: pd.Series) -> pd.Series:
    """Nullable bool / Int64 -> float with NaN."""
    arr = s.array
    if isinstance(arr, (pd.arrays.BooleanArray, pd.arrays.IntegerArray, pd.arrays.FloatingArray)):
        # masked arrays convert directly (pd.array(..., "Float64") coerces them element by element)
        return pd.Series(arr.to_numpy(dtype=float, na_value=np.nan), index=s.index)
    return pd.Series(pd.array(s, dtype="Float64").to_numpy(dtype=float, na_value=np.nan), index=s.index)


def sorted_codes(s: pd.Series) -> np.ndarray:
    """Integer codes of ``s`` numbered in the sorted order of its values, missing -1 (as
    ``pd.factorize(s, sort=True)``, which sorts through a slower path): hash once, argsort the distinct values.

    Examples
    --------
    >>> sorted_codes(pd.Series(["b", "a", "b", None])).tolist()
    [1, 0, 1, -1]
    """
    codes, uniq = pd.factorize(s)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(np.asarray(uniq, dtype=object), kind="stable")] = np.arange(len(uniq))
    return np.where(codes >= 0, rank[codes] if len(uniq) else codes, -1)


def holm_secondary(summary: pd.DataFrame) -> pd.Series:
    """Holm-adjust the secondary rows' p-values; the primary keeps its own."""
    out = summary["p_value"].astype(float).copy()
    sec = (summary["role"] == "secondary") & summary["p_value"].notna()
    if sec.sum() > 0:
        out.loc[sec] = holm(summary.loc[sec, "p_value"].astype(float))
    return out

"""Propensity-score matching: greedy 1:1 nearest-neighbour matching without replacement."""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_match"]


def greedy_match(lt: np.ndarray, lc: np.ndarray, width: float) -> np.ndarray:
    """Greedy 1:1 nearest-neighbour matching without replacement.

    Treated units are taken in descending score order; each gets the nearest
    free control within ``width`` (ties: the lowest control position, so the
    result is deterministic).

    Parameters
    ----------
    lt, lc : ndarray
        Scores (usually logit propensity scores) of the treated and control units.
    width : float
        Caliper (``numpy.inf`` for none).

    Returns
    -------
    ndarray of int
        For each treated unit, the index of its control, or -1 when unmatched.

    Examples
    --------
    >>> greedy_match(np.array([1.0, 0.0]), np.array([0.05, 0.5, 2.0]), 0.1).tolist()
    [-1, 0]
    """
    order = np.argsort(-lt, kind="stable")
    free = np.ones(len(lc), dtype=bool)
    out = np.full(len(lt), -1)
    for i in order:
        if not free.any():
            break
        d = np.abs(lc - lt[i])
        d[~free] = np.inf
        j = int(np.argmin(d))  # first minimum = lowest control position: deterministic ties
        if d[j] <= width:
            out[i] = j
            free[j] = False
    return out

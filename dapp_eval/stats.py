"""Old import path for the proportion helpers, now in :mod:`dapp_eval.estimators.proportions`.

Examples
--------
>>> from dapp_eval.stats import wilson_ci
>>> lo, hi = wilson_ci(6, 15)
>>> round(float(lo), 4), round(float(hi), 4)
(0.1982, 0.6425)
"""

from .estimators.proportions import holm, wilson_ci

__all__ = ["wilson_ci", "holm"]

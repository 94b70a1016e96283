"""Old import path: :mod:`dapp_eval.lmm` is now :mod:`dapp_eval.estimators.lmm`.

Kept so that existing code keeps working: every name of the new module
(private helpers included) is reachable from here.
"""

from .estimators import lmm as _module
from .estimators.lmm import *  # noqa: F403


def __getattr__(name):
    return getattr(_module, name)

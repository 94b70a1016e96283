"""Old import path: :mod:`dapp_eval.survival` is now :mod:`dapp_eval.estimators.survival`.

Kept so that existing code keeps working: every name of the new module
(private helpers included) is reachable from here.
"""

from .estimators import survival as _module
from .estimators.survival import *  # noqa: F403


def __getattr__(name):
    return getattr(_module, name)

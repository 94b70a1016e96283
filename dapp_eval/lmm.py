"""Old import path: :mod:`dapp_eval.lmm` is now :mod:`dapp_eval.estimators.lmm`.

Kept so that existing code keeps working; this name is the same module object,
so private helpers and monkeypatching behave as before.
"""

import sys

from .estimators import lmm as _module

sys.modules[__name__] = _module

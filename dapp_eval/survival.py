"""Old import path: :mod:`dapp_eval.survival` is now :mod:`dapp_eval.estimators.survival`.

Kept so that existing code keeps working; this name is the same module object,
so private helpers and monkeypatching behave as before.
"""

import sys

from .estimators import survival as _module

sys.modules[__name__] = _module

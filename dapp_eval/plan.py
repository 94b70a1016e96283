"""Old import path: :mod:`dapp_eval.plan` is now :mod:`dapp_eval.data.plan`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.data.plan` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.data.plan as _module
from dapp_eval.data.plan import *  # noqa: F403

warnings.warn("dapp_eval.plan is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.data.plan instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

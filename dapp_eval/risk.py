"""Old import path: :mod:`dapp_eval.risk` is now :mod:`dapp_eval.analyses.risk`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.analyses.risk` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.analyses.risk as _module
from dapp_eval.analyses.risk import *  # noqa: F403

warnings.warn("dapp_eval.risk is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.analyses.risk instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

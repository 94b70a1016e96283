"""Old import path: :mod:`dapp_eval.plotting` is now :mod:`dapp_eval.analyses.plotting`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.analyses.plotting` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.analyses.plotting as _module
from dapp_eval.analyses.plotting import *  # noqa: F403

warnings.warn("dapp_eval.plotting is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.analyses.plotting instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

"""Old import path: :mod:`dapp_eval.headlines` is now :mod:`dapp_eval.commissioner.headlines`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.commissioner.headlines` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.commissioner.headlines as _module
from dapp_eval.commissioner.headlines import *  # noqa: F403

warnings.warn("dapp_eval.headlines is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.commissioner.headlines instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

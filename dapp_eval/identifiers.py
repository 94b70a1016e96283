"""Old import path: :mod:`dapp_eval.identifiers` is now :mod:`dapp_eval.data.identifiers`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.data.identifiers` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.data.identifiers as _module
from dapp_eval.data.identifiers import *  # noqa: F403

warnings.warn("dapp_eval.identifiers is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.data.identifiers instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

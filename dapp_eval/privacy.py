"""Old import path: :mod:`dapp_eval.privacy` is now :mod:`dapp_eval.data.privacy`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.data.privacy` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.data.privacy as _module
from dapp_eval.data.privacy import *  # noqa: F403

warnings.warn("dapp_eval.privacy is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.data.privacy instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

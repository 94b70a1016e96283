"""Old import path: :mod:`dapp_eval.synthetic_v2` is now :mod:`dapp_eval.synthetic.v2`.

Deprecated in 0.2 (issue 30), removed in 0.3: import :mod:`dapp_eval.synthetic.v2` instead. Every name of the
new module (private helpers included) is reachable from here meanwhile.
"""

import warnings

import dapp_eval.synthetic.v2 as _module
from dapp_eval.synthetic.v2 import *  # noqa: F403

warnings.warn("dapp_eval.synthetic_v2 is deprecated and will be removed in dapp_eval 0.3; import dapp_eval.synthetic.v2 instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_module, name)

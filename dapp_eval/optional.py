"""Optional dependencies: imported where they are used, with a clear error naming the extra to install.

``pip install dapp_eval`` brings what the data layer, the estimators and the analyses need. The HTML report
(Jinja2, MarkupSafe, tqdm) and SPSS input (pyreadstat) come with extras::

    pip install "dapp_eval[report]"     # dapp-eval report, dapp_eval.report
    pip install "dapp_eval[spss]"       # .sav files in a programme folder

Examples
--------
>>> from dapp_eval.optional import require
>>> require("json", extra="report", purpose="the HTML report").__name__
'json'
>>> require("no_such_module_here", extra="report", purpose="the HTML report")
Traceback (most recent call last):
...
dapp_eval.optional.MissingExtraError: the HTML report needs the package 'no_such_module_here', which is not installed: pip install "dapp_eval[report]"
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying which extra of dapp_eval to install."""
    try:
        return import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        if err.name is not None and err.name.split(".")[0] != top:
            raise  # the module is there but one of its own imports failed: not a missing extra
        raise MissingExtraError(f"{purpose} needs the package {top!r}, which is not installed: "
                                f'pip install "dapp_eval[{extra}]"', name=top) from None

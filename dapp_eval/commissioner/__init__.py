"""What a commissioner reads, built from the analyses: the headline registry, verdict wording,
user-supplied comparators and the glossary.

Its modules are imported on first use (``dapp_eval.commissioner.<module>``), so importing the folder stays light.
"""

from importlib import import_module

_SUBMODULES = (
    "comparators", "glossary", "headlines", "verdict",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The data floor: the data contract, instrument registry, identifiers, column maps, loading,
pseudonymisation, data quality, the analysis plan and the evaluation file.

Its modules are imported on first use (``dapp_eval.data.<module>``), so importing the folder stays light.
"""

from importlib import import_module

_SUBMODULES = (
    "evaluation", "identifiers", "instruments", "io", "mapdraft", "mapping", "plan", "privacy",
    "quality", "schema",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The analyses: programme logic on :class:`~dapp_eval.data.io.ProgrammeData`, each returning an
:class:`~dapp_eval.results.AnalysisResult`; they use the estimators and the data floor only.

Its modules are imported on first use (``dapp_eval.analyses.<module>``), so importing the folder stays light.
"""

from importlib import import_module

_SUBMODULES = (
    "attrition", "compare", "delivery", "episodes", "equality", "families", "followup", "funnel",
    "plotting", "reoffending", "risk", "safety", "trends", "yearly",
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

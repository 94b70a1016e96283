"""dapp_eval: evaluate domestic abuse perpetrator programmes the Project Mirabal way.

Open the evaluation file (``open_evaluation("evaluation.yaml")``: data folder, column map, plan,
threshold, output folder) and load its data (``.load()``), or load a programme data folder directly
(``load_programme``), then use the analysis
modules, each returning an :class:`~dapp_eval.results.AnalysisResult`:

- :mod:`dapp_eval.funnel`     referral -> completion cascade, waiting times, costs
- :mod:`dapp_eval.attrition`  completion and dropout as competing exits
- :mod:`dapp_eval.risk`       pre/post risk change, reliable change, mixed models
- :mod:`dapp_eval.safety`     (ex-)partner survey outcomes by wave (Mirabal)
- :mod:`dapp_eval.followup`   police / MARAC / children's services after exit
- :mod:`dapp_eval.equality`   equality monitoring: referrals, starts, completions by characteristic, district, strand
- :mod:`dapp_eval.families`   children's plans and partner support (data contract version 2)
- :mod:`dapp_eval.reoffending` proven reoffending in the Justice Data Lab's form
- :mod:`dapp_eval.delivery`   capacity and utilisation, structured feedback, waiting list by risk
- :mod:`dapp_eval.disclosure` small-number suppression for published tables
- :mod:`dapp_eval.report`     the commissioner HTML report
- :mod:`dapp_eval.headlines`  the headline figures: one registry, one value each; sites side by side
- :mod:`dapp_eval.trends`     quarterly statistical process control charts (Making Data Count)
- :mod:`dapp_eval.verdict`    plain-English verdict paragraphs and the Mirabal measures
- :mod:`dapp_eval.formatting`, :mod:`dapp_eval.glossary`, :mod:`dapp_eval.comparators`  words for commissioners

Examples
--------
>>> import dapp_eval
>>> data = dapp_eval.load_programme("data_synthetic")
>>> len(data.sites)
5
"""

from importlib import import_module

from .errors import AnalysisError, DataValidationError
from .evaluation import Evaluation, open_evaluation
from .io import ProgrammeData, load_programme, read_column_map
from .results import AnalysisResult

__version__ = "0.2.0"

_SUBMODULES = (
    "attrition", "bench", "cli", "compare", "disclosure", "evaluation", "mapdraft", "mapping", "followup", "funnel", "io", "lmm", "plan", "plotting",
    "privacy", "quality", "report", "results", "risk", "safety", "schema", "stats", "survival", "synthetic",
    # commissioner content (issue #16)
    "comparators", "formatting", "glossary", "headlines", "trends", "verdict",
    "optional",
    # data contract version 2 (issue #32)
    "delivery", "equality", "families", "reoffending", "synthetic_v2",
)

__all__ = [
    "AnalysisError",
    "AnalysisResult",
    "DataValidationError",
    "Evaluation",
    "ProgrammeData",
    "__version__",
    "load_programme",
    "open_evaluation",
    "read_column_map",
    *_SUBMODULES,
]


def __getattr__(name):
    # analysis modules are imported on first use, so `import dapp_eval` stays light
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dapp_eval' has no attribute {name!r}")

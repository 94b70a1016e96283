"""dapp_eval: evaluate domestic abuse perpetrator programmes the Project Mirabal way.

Open the evaluation file (``open_evaluation("evaluation.yaml")``: data folder, column map, plan,
threshold, output folder) and load its data (``.load()``), or load a programme data folder directly
(``load_programme``), then use the analysis
modules, each returning an :class:`~dapp_eval.results.AnalysisResult`:

- :mod:`dapp_eval.analyses.funnel`     referral -> completion cascade, waiting times, costs
- :mod:`dapp_eval.analyses.attrition`  completion and dropout as competing exits
- :mod:`dapp_eval.analyses.risk`       pre/post risk change, reliable change, mixed models
- :mod:`dapp_eval.analyses.safety`     (ex-)partner survey outcomes by wave (Mirabal)
- :mod:`dapp_eval.analyses.followup`   police / MARAC / children's services after exit
- :mod:`dapp_eval.analyses.equality`   equality monitoring: referrals, starts, completions by characteristic, district, strand
- :mod:`dapp_eval.analyses.families`   children's plans and partner support (data contract version 2)
- :mod:`dapp_eval.analyses.reoffending` proven reoffending in the Justice Data Lab's form
- :mod:`dapp_eval.analyses.delivery`   capacity and utilisation, structured feedback, waiting list by risk
- :mod:`dapp_eval.disclosure` small-number suppression for published tables
- :mod:`dapp_eval.report`     the commissioner HTML report
- :mod:`dapp_eval.commissioner.headlines`  the headline figures: one registry, one value each; sites side by side
- :mod:`dapp_eval.analyses.trends`     quarterly statistical process control charts (Making Data Count)
- :mod:`dapp_eval.commissioner.verdict`    plain-English verdict paragraphs and the Mirabal measures
- :mod:`dapp_eval.formatting`, :mod:`dapp_eval.commissioner.glossary`, :mod:`dapp_eval.commissioner.comparators`  words for commissioners

Examples
--------
>>> import dapp_eval
>>> data = dapp_eval.load_programme("data_synthetic")
>>> len(data.sites)
5
"""

from importlib import import_module

from dapp_eval.data.evaluation import Evaluation, open_evaluation
from dapp_eval.data.io import ProgrammeData, load_programme, read_column_map
from dapp_eval.errors import AnalysisError, DataValidationError
from dapp_eval.results import AnalysisResult

__version__ = "0.2.0"

_SUBMODULES = (
    "analyses", "commissioner", "data",
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

# old names of modules moved into the layer folders (issue 30): the attribute gives the module at
# its new path (the shim at the old import path warns)
_NEW_PATHS = {
    "attrition": "dapp_eval.analyses.attrition",
    "comparators": "dapp_eval.commissioner.comparators",
    "compare": "dapp_eval.analyses.compare",
    "delivery": "dapp_eval.analyses.delivery",
    "episodes": "dapp_eval.analyses.episodes",
    "equality": "dapp_eval.analyses.equality",
    "evaluation": "dapp_eval.data.evaluation",
    "families": "dapp_eval.analyses.families",
    "followup": "dapp_eval.analyses.followup",
    "funnel": "dapp_eval.analyses.funnel",
    "glossary": "dapp_eval.commissioner.glossary",
    "headlines": "dapp_eval.commissioner.headlines",
    "identifiers": "dapp_eval.data.identifiers",
    "instruments": "dapp_eval.data.instruments",
    "io": "dapp_eval.data.io",
    "lmm": "dapp_eval.estimators.lmm",
    "mapdraft": "dapp_eval.data.mapdraft",
    "mapping": "dapp_eval.data.mapping",
    "plan": "dapp_eval.data.plan",
    "plotting": "dapp_eval.analyses.plotting",
    "privacy": "dapp_eval.data.privacy",
    "quality": "dapp_eval.data.quality",
    "reoffending": "dapp_eval.analyses.reoffending",
    "risk": "dapp_eval.analyses.risk",
    "safety": "dapp_eval.analyses.safety",
    "schema": "dapp_eval.data.schema",
    "stats": "dapp_eval.estimators.proportions",
    "survival": "dapp_eval.estimators.survival",
    "synthetic_v2": "dapp_eval.synthetic.v2",
    "trends": "dapp_eval.analyses.trends",
    "verdict": "dapp_eval.commissioner.verdict",
    "yearly": "dapp_eval.analyses.yearly",
}


def __getattr__(name):
    # analysis modules are imported on first use, so `import dapp_eval` stays light
    if name in _SUBMODULES or name in _NEW_PATHS:
        return import_module(_NEW_PATHS.get(name, f"dapp_eval.{name}"))
    raise AttributeError(f"module 'dapp_eval' has no attribute {name!r}")

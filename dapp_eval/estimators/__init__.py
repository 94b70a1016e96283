"""Pure estimators on plain pandas / numpy data, matched to R.

Nothing in this subpackage knows the programme data model: every function
takes arrays or a DataFrame with column names you choose, in the statsmodels
idiom (formula strings and ``data=``; results with ``params``, ``bse``,
``conf_int(alpha)`` and a tidy ``summary``). The analysis modules
(:mod:`dapp_eval.analyses.attrition`, :mod:`dapp_eval.analyses.risk`, :mod:`dapp_eval.analyses.safety`,
:mod:`dapp_eval.analyses.followup`, :mod:`dapp_eval.analyses.funnel`) call these and add only
the programme logic. Each estimator is checked against R in
``tests/reference/`` (the R script that made each number is kept there).

Modules: :mod:`~dapp_eval.estimators.survival`, :mod:`~dapp_eval.estimators.lmm`,
:mod:`~dapp_eval.estimators.gee`, :mod:`~dapp_eval.estimators.counts`,
:mod:`~dapp_eval.estimators.paired`, :mod:`~dapp_eval.estimators.proportions`,
:mod:`~dapp_eval.estimators.effect_sizes`, :mod:`~dapp_eval.estimators.matching`,
:mod:`~dapp_eval.estimators.recurrent` (mean cumulative function, Andersen-Gill / LWYY),
:mod:`~dapp_eval.estimators.weighting` (propensity ATT weights, balance, weighted outcomes),
:mod:`~dapp_eval.estimators.sensitivity` (E-values), :mod:`~dapp_eval.estimators.its`
(interrupted time series with Newey-West SE).
"""

from dapp_eval.estimators._base import EstimatorResults
from dapp_eval.estimators.counts import CountModelResults, count_model
from dapp_eval.estimators.effect_sizes import cohens_dz, hedges_gav, rubin, smd, smd_binary, smd_from_moments
from dapp_eval.estimators.gee import GEEResults, gee
from dapp_eval.estimators.its import newey_west, segmented_regression
from dapp_eval.estimators.lmm import RandomInterceptLMM, design_matrix
from dapp_eval.estimators.matching import greedy_match
from dapp_eval.estimators.paired import (
    paired_score_change,
    paired_t,
    reliable_change_index,
    wilcoxon_signed_rank,
)
from dapp_eval.estimators.proportions import (
    holm,
    mcnemar_exact,
    newcombe_diff_ci,
    newcombe_paired_ci,
    wilson_ci,
)
from dapp_eval.estimators.recurrent import MCFResult, mcf, rate_model
from dapp_eval.estimators.sensitivity import evalues_hr, evalues_rr
from dapp_eval.estimators.survival import (
    aalen_johansen,
    cox,
    fine_gray,
    grays_test,
    kaplan_meier,
    logrank_test,
    rmst,
)
from dapp_eval.estimators.weighting import att_weights, balance_table, weighted_outcome

__all__ = [
    "CountModelResults",
    "MCFResult",
    "EstimatorResults",
    "GEEResults",
    "RandomInterceptLMM",
    "aalen_johansen",
    "att_weights",
    "balance_table",
    "cohens_dz",
    "count_model",
    "cox",
    "design_matrix",
    "evalues_hr",
    "evalues_rr",
    "fine_gray",
    "gee",
    "grays_test",
    "greedy_match",
    "hedges_gav",
    "holm",
    "kaplan_meier",
    "logrank_test",
    "mcf",
    "mcnemar_exact",
    "newcombe_diff_ci",
    "newcombe_paired_ci",
    "newey_west",
    "paired_score_change",
    "paired_t",
    "reliable_change_index",
    "rate_model",
    "rmst",
    "rubin",
    "segmented_regression",
    "smd",
    "smd_binary",
    "smd_from_moments",
    "wilcoxon_signed_rank",
    "weighted_outcome",
    "wilson_ci",
]

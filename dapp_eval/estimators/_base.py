"""Shared pieces of the estimators: formula parsing and a statsmodels-like results object."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dapp_eval.results import check_alpha


def design_from_formula(formula: str, data: pd.DataFrame, *, extra: tuple[str, ...] = ()):
    """Response, design matrix and row labels of ``formula`` on ``data`` (R's treatment coding).

    Rows with a missing value in a formula variable or in one of the ``extra``
    columns are refused with an error naming the column: an estimator should
    not silently drop people.
    """
    import statsmodels.formula.api as smf

    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    for col in extra:
        if col is None:
            continue
        if col not in data.columns:
            raise KeyError(f"column '{col}' is not in the data")
        if data[col].isna().any():
            raise ValueError(f"column '{col}' has {int(data[col].isna().sum())} missing values; "
                             "drop or fill them before fitting")
    mod = smf.ols(formula, data, missing="drop")
    n_dropped = len(data) - len(mod.endog)
    if n_dropped:
        raise ValueError(f"{n_dropped} rows of data have a missing value in a variable of {formula!r}; "
                         "drop or fill them before fitting")
    X = np.asarray(mod.exog, dtype=float)
    names = list(mod.exog_names)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"the design of {formula!r} is rank deficient (collinear terms or an empty level)")
    return np.asarray(mod.endog, dtype=float), X, names, mod.endog_names


def _column(data: pd.DataFrame, col, what: str) -> np.ndarray | None:
    if col is None:
        return None
    if isinstance(col, str):
        if col not in data.columns:
            raise KeyError(f"{what}: column '{col}' is not in the data")
        return data[col].to_numpy()
    arr = np.asarray(col)
    if len(arr) != len(data):
        raise ValueError(f"{what} must have one value per row of data ({len(data)}), got {len(arr)}")
    return arr


@dataclass
class EstimatorResults:
    """Fitted coefficients with a covariance matrix, in the statsmodels idiom.

    Attributes
    ----------
    params, bse : Series
        Estimates and standard errors indexed by term.
    cov_params : DataFrame
        Covariance matrix used for ``bse`` and intervals.
    df : float
        Degrees of freedom of the reference distribution (``inf`` = normal).
    method : str
        What was fitted and how the variance was computed.
    info : dict
        Estimator-specific extras (scale, correlation, n_groups, ...).
    model : object
        The underlying lifelines / statsmodels object where there is one.
    """

    params: pd.Series
    cov_params: pd.DataFrame
    method: str
    df: float = np.inf
    n_obs: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    alpha: float = 0.05

    @property
    def estimate(self) -> pd.Series:
        """The estimates (``params``), under the name the tidy tables use."""
        return self.params

    @property
    def table(self) -> pd.DataFrame:
        """The table the analyses read: :attr:`summary`."""
        return self.summary

    def with_alpha(self, alpha: float):
        """The same fit with intervals (``summary``, ``conf_int()``) at level ``1 - alpha``."""
        return replace(self, alpha=check_alpha(alpha))

    @property
    def bse(self) -> pd.Series:
        """Standard errors; missing (so no interval) where the estimated variance is not positive.

        A sandwich variance from very few clusters can come out negative; its square root is not a
        standard error, and taking it would only print a warning at the user.
        """
        var = np.diag(self.cov_params.to_numpy()).astype(float)
        return pd.Series(np.sqrt(np.where(var >= 0, var, np.nan)), index=self.params.index, name="std_error")

    @property
    def exog_names(self) -> list[str]:
        return list(self.params.index)

    @property
    def tvalues(self) -> pd.Series:
        return (self.params / self.bse).rename("statistic")

    @property
    def pvalues(self) -> pd.Series:
        t = np.abs(self.tvalues.to_numpy())
        p = 2 * (stats.norm.sf(t) if not np.isfinite(self.df) else stats.t.sf(t, self.df))
        return pd.Series(p, index=self.params.index, name="p_value")

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """Wald intervals (at the result's ``alpha`` unless given): indexed by term, ``ci_lower``, ``ci_upper``."""
        alpha = check_alpha(self.alpha if alpha is None else alpha)
        q = stats.norm.ppf(1 - alpha / 2) if not np.isfinite(self.df) else stats.t.ppf(1 - alpha / 2, self.df)
        se = self.bse
        return pd.DataFrame({"ci_lower": self.params - q * se, "ci_upper": self.params + q * se})

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table: ``term``, ``estimate``, ``std_error``, ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper``."""
        ci = self.conf_int()
        return pd.DataFrame({
            "term": self.params.index, "estimate": self.params.to_numpy(), "std_error": self.bse.to_numpy(),
            "statistic": self.tvalues.to_numpy(), "p_value": self.pvalues.to_numpy(),
            "ci_lower": ci["ci_lower"].to_numpy(), "ci_upper": ci["ci_upper"].to_numpy(),
        })

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.method}; n_obs={self.n_obs})\n{self.summary.to_string(index=False)}"

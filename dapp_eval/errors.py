"""The package's exceptions, in one place."""

from __future__ import annotations

import pandas as pd

__all__ = ["DataValidationError", "AnalysisError", "NobodyError", "PROBLEM_COLUMNS"]

PROBLEM_COLUMNS = ["file", "row", "column", "value", "rule"]


class DataValidationError(ValueError):
    """Raised when programme data break the data contract.

    Every violation found in every file is collected first; ``problems`` is a
    DataFrame with columns ``file``, ``row`` (1-based as a spreadsheet shows
    it, the header being row 1; empty for a whole-file or whole-column
    problem), ``column``, ``value`` and ``rule``.

    Examples
    --------
    >>> import pandas as pd
    >>> err = DataValidationError(pd.DataFrame(
    ...     [{"file": "sites.csv", "row": 2, "column": "site_id", "value": "",
    ...       "rule": "required value is missing"}]))
    >>> err.problems.loc[0, "rule"]
    'required value is missing'
    """

    def __init__(self, problems: pd.DataFrame, *, max_lines: int = 50):
        problems = problems.reindex(columns=PROBLEM_COLUMNS).reset_index(drop=True)
        self.problems = problems
        n = len(problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the programme data:"]
        for rec in problems.head(max_lines).itertuples(index=False):
            where = rec.file
            if pd.notna(rec.row) and rec.row != "":
                where += f", row {int(rec.row)}"
            if isinstance(rec.column, str) and rec.column:
                where += f", column '{rec.column}'"
            value = "" if rec.value is None or (isinstance(rec.value, float) and pd.isna(rec.value)) else rec.value
            if isinstance(value, str) and value.startswith("(") and value.endswith(")"):
                shown = f" {value}"  # a value withheld: the reason, not the value
            else:
                shown = f" (value {str(value)[:40]!r})" if value != "" else ""
            lines.append(f"  - {where}: {rec.rule}{shown}")
        if n > max_lines:
            lines.append(f"  ... and {n - max_lines} more (see the .problems DataFrame)")
        super().__init__("\n".join(lines))


class AnalysisError(ValueError):
    """Raised when valid data cannot support the analysis asked for.

    The message says in plain words what is missing (for example "no
    partner_surveys table in this folder" or "all episodes are censored").
    """


class NobodyError(AnalysisError):
    """An analysis of a group with nobody in it (no pairs, no one due to answer): there is nothing to estimate.

    A report shows it as it shows a group of a few people (a note that the numbers are too small), never as
    "none of them": in a release of several sites, a site's "no (ex-)partner answered both surveys" said
    something about every one of its few partners (issue 26). Used directly, the message says what is missing.
    """

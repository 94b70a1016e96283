"""Plain-English text about disclosure control, for page 1 and under tables."""

from __future__ import annotations

import pandas as pd

from .control import HIDDEN, SUPPRESSED, count_columns

__all__ = ["HOW_FIGURES_ARE_PROTECTED", "how_figures_are_protected", "protected_sentence"]

#: the "How figures are protected" box for page 1 of a report (format with threshold and base)
HOW_FIGURES_ARE_PROTECTED = (
    "These figures are about people affected by domestic abuse, so they are protected before publication. "
    "Counts of people below {threshold} are not shown (they appear as '<{threshold}'). Every other count is "
    "rounded to the nearest {base}, so a count may differ from the true number by up to {half} either way, and "
    "totals may not add up exactly. The same group of people always shows the same rounded number, in every "
    "table and report. Percentages are worked out from the rounded counts. A value marked '[c]' is not shown "
    "because it is calculated from a count below {threshold}; a model fitted to fewer than {threshold} events "
    "is not shown at all."
)


def how_figures_are_protected(threshold: int = 10, base: int = 5) -> str:
    """The page-1 box text for a release protected at ``threshold`` with rounding ``base``.

    Examples
    --------
    >>> how_figures_are_protected(10, 5).split(". ")[1]
    "Counts of people below 10 are not shown (they appear as '<10')"
    """
    return HOW_FIGURES_ARE_PROTECTED.format(threshold=threshold, base=base, half=base // 2)


def protected_sentence(shown: pd.DataFrame, *, threshold: int = 10, base: int = 5) -> str:
    """One sentence to print under a protected table ("" if nothing in it is protected).

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": ["<10", "45"], "estimate": ["[c]", 0.4]})
    >>> protected_sentence(t)
    "Counts are rounded to the nearest 5; '<10' marks a count from 1 to 9, and '[c]' a value calculated from one."
    >>> protected_sentence(pd.DataFrame({"n": ["0"]}))
    ''
    """
    marker = SUPPRESSED.format(t=threshold)
    counts = count_columns(shown)
    values = shown[counts].astype(str).replace(",", "", regex=True) if counts else pd.DataFrame()
    rounded = bool(len(values)) and values.apply(lambda s: s.str.fullmatch(r"[1-9]\d*")).any().any()
    small = bool((shown.astype(str) == marker).any().any())
    derived = bool((shown.astype(str) == HIDDEN).any().any())
    parts = []
    if rounded:
        parts.append(f"Counts are rounded to the nearest {base}")
    if small:
        parts.append(f"'{marker}' marks a count from 1 to {threshold - 1}"
                     + (f", and '{HIDDEN}' a value calculated from one" if derived else ""))
    elif derived:
        parts.append(f"'{HIDDEN}' marks a value calculated from a count below {threshold}")
    return ("; ".join(parts) + ".") if parts else ""

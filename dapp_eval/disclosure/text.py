"""Plain-English text about disclosure control, for page 1 and under tables."""

from __future__ import annotations

import re

import pandas as pd

from dapp_eval.disclosure.control import HIDDEN, SUPPRESSED, count_columns

__all__ = ["HOW_FIGURES_ARE_PROTECTED", "how_figures_are_protected", "protected_sentence", "protect_counts"]

#: the "How figures are protected" box for page 1 of a report (format with threshold and base)
HOW_FIGURES_ARE_PROTECTED = (
    "These figures are about people affected by domestic abuse, so they are protected before publication. "
    "Counts of people below {threshold} are not shown (they appear as '<{threshold}'). Every other count is "
    "rounded to the nearest {base}, so a count may differ from the true number by up to {half} either way, and "
    "totals may not add up exactly; a total built from rounded counts (the participant flow's totals, and the "
    "referrals, starts and completions quoted from them) may differ by more. The same group of people always shows the same rounded number, in every "
    "table and report. Percentages, rates and their confidence intervals are worked out from the rounded "
    "counts; the intervals do not allow for the rounding, so for small groups they are a little too narrow. "
    "Curves over time are redrawn from rounded numbers of exits counted by whole weeks (whole months after "
    "leaving the programme), so that each step stands for at least {threshold} people and none falls on any "
    "one person's date. A 0 that would say 'none' of a small group (fewer than {zero_minimum} people, or any "
    "group in a release of several sites, because a 0 for all sites is a 0 at every site) is shown as '<{threshold}' "
    "too, and no percentage is shown for 'none' or 'all' of such a group. A value marked '[c]' is not shown "
    "because it is calculated from a count below {threshold} or would give one back; "
    "a model fitted to fewer than {threshold} events is not shown at all. This release uses a threshold of "
    "{threshold}: releases of the same data at different thresholds must not both be published, because "
    "together they show which counts are exactly {threshold_less_one}."
)


def how_figures_are_protected(threshold: int = 10, base: int = 5) -> str:
    """The page-1 box text for a release protected at ``threshold`` with rounding ``base``.

    Examples
    --------
    >>> how_figures_are_protected(10, 5).split(". ")[1]
    "Counts of people below 10 are not shown (they appear as '<10')"
    """
    return HOW_FIGURES_ARE_PROTECTED.format(threshold=threshold, base=base, half=base // 2,
                                            zero_minimum=2 * threshold, threshold_less_one=threshold - 1)


_POSITIVE = re.compile(r"[1-9]\d*")


def protected_sentence(shown: pd.DataFrame, *, threshold: int = 10, base: int = 5) -> str:
    """One sentence to print under a protected table ("" if nothing in it is protected).

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": ["<10", "45"], "estimate": ["[c]", 0.4]})
    >>> protected_sentence(t)
    "Counts are rounded to the nearest 5; '<10' marks a count below 10, and '[c]' a value calculated from one."
    >>> protected_sentence(pd.DataFrame({"n": ["0"]}))
    ''
    """
    marker = SUPPRESSED.format(t=threshold)
    counts = count_columns(shown)
    # cell by cell as text (tables are small; this runs for every published table)
    rounded = any(_POSITIVE.fullmatch(str(v).replace(",", "")) for c in counts for v in shown[c])
    cells = {str(v) for c in shown.columns for v in shown[c]}
    small, derived = marker in cells, HIDDEN in cells
    parts = []
    if rounded:
        parts.append(f"Counts are rounded to the nearest {base}")
    if small:
        parts.append(f"'{marker}' marks a count below {threshold}"
                     + (f", and '{HIDDEN}' a value calculated from one" if derived else ""))
    elif derived:
        parts.append(f"'{HIDDEN}' marks a value calculated from a count below {threshold}")
    if rounded and {"ci_lower", "ci_upper"} <= set(shown.columns):
        parts.append("intervals are worked out from the rounded counts and do not allow for the rounding")
    return ("; ".join(parts) + ".") if parts else ""


_PEOPLE_WORDS = (r"people|persons?|participants?|referrals?|men|women|partners?|victims?|survivors?|"
                 r"perpetrators?|completers?|starters?|children|families|cases|completions|starts|dropouts|exits|"
                 r"respondents?|responses|events?|surveys?|survey\(s\)|episodes?|leavers?")
_COUNT_IN_TEXT = re.compile(
    r"(?<![\w.,£$/-])(\d{1,3}(?:,\d{3})+|\d+)(?=\s+(?:" + _PEOPLE_WORDS + r")(?!\w))"  # 111 people referred
    r"|(?<=\band )(\d{1,3}(?:,\d{3})+|\d+)(?=\s+at\s+T\d\b)"                       # (26 at T1) and 0 at T4
    r"|(?<=\bn = )(\d{1,3}(?:,\d{3})+|\d+)(?![\d.%])"                                # n = 33
    r"|(?<=: )(\d{1,3}(?:,\d{3})+|\d+)(?=\s*(?:[;)]|$))"                               # still attending: 4)
    r"|(?<=\()(\d{1,3}(?:,\d{3})+|\d+)(?=\))",                                     # complete covariates (4)
    re.I)
_BOUND_BEFORE = re.compile(r"(?:fewer than|less than|more than|at least|at most|below|under|over|above)\s+$", re.I)


def protect_counts(text: str, dc) -> str:
    """A message (e.g. why an analysis is not available) with its counts of people shown as published.

    Analyses explain themselves in words that may carry counts ("no one is eligible yet (111 people referred;
    still attending: 4)"); before such a message reaches a page each count goes through ``dc.count``:
    below the threshold it is ``<10``, otherwise rounded. Rules ("fewer than 10 events") are left alone.

    Examples
    --------
    >>> from dapp_eval.disclosure import DisclosureControl
    >>> protect_counts("no one is eligible yet (111 people referred; still attending: 4)", DisclosureControl())
    'no one is eligible yet (110 people referred; still attending: <10)'
    >>> protect_counts("fewer than 10 events; n = 33", DisclosureControl())
    'fewer than 10 events; n = 35'
    >>> protect_counts("too few episodes with complete covariates (4); no exits among the 9 episodes", DisclosureControl())
    'too few episodes with complete covariates (<10); no exits among the <10 episodes'
    """
    def sub(m):
        if _BOUND_BEFORE.search(text[max(0, m.start() - 16):m.start()]):
            return m.group(0)
        return dc.count(int(m.group(0).replace(",", "")), name="text", label="message")

    return _COUNT_IN_TEXT.sub(sub, str(text))

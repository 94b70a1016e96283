"""Disclosure control of a whole release: protection, audit, log and plain-English text.

- :mod:`.control`: :class:`DisclosureControl` suppresses counts below the
  threshold and rounds every other count to the nearest 5 (the OpenSAFELY
  method), recomputes ratios from the published counts and hides what a
  suppressed count would reveal; it logs every table.
- :mod:`.audit`: :func:`audit_release` decodes a rendered release and attacks
  it as an adversary would (differencing across reports, totals, periods,
  thresholds, denominators, percentage x denominator); ``dapp-eval audit OUT``.
- :mod:`.text`: the "How figures are protected" box, the sentence shown
  under protected tables, and ``protect_counts`` for messages that print counts.
"""

from dapp_eval.disclosure.control import (
    HIDDEN,
    SUPPRESSED,
    THRESHOLD_FLOOR,
    DisclosureControl,
    check_threshold,
    count_columns,
    round_count,
)
from dapp_eval.disclosure.text import (
    HOW_FIGURES_ARE_PROTECTED,
    how_figures_are_protected,
    protect_counts,
    protected_sentence,
)

__all__ = ["DisclosureControl", "count_columns", "round_count", "SUPPRESSED", "HIDDEN", "THRESHOLD_FLOOR",
           "check_threshold",
           "HOW_FIGURES_ARE_PROTECTED", "how_figures_are_protected", "protected_sentence", "protect_counts",
           "audit_release", "AuditResult"]


def __getattr__(name):  # the audit reads HTML/workbooks: load it only when asked for
    if name in ("audit_release", "AuditResult"):
        from dapp_eval.disclosure import audit

        return getattr(audit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

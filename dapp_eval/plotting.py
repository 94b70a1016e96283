"""Every figure of dapp_eval; no statistics in here.

Functions take a result (or tidy DataFrame) and ``ax=None`` and return the
Axes. Colours and line styles come from :data:`PALETTE` and :data:`LINESTYLES`,
chosen to stay distinguishable in greyscale (dark/mid/light plus distinct
dashes and markers).
"""

from __future__ import annotations

import matplotlib



import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["PALETTE", "LINESTYLES", "MARKERS", "new_axes"]

#: colour-blind safe and greyscale-distinguishable (luminance spread), Okabe-Ito based
PALETTE = ["#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def new_axes(ax=None, *, figsize=(7, 4.5)):
    """Return ``ax`` or a fresh Axes of a standard size."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------------------
# funnel (engagement) figures
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# attrition (survival) figures
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# risk figures
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# safety and follow-up figures
# ---------------------------------------------------------------------------

"""The commissioner report: a *release* of self-contained HTML pages, one workbook and an index.

``dapp-eval report DATA --out OUT`` (:func:`render_release`) loads and
validates the data once, computes every result once, and writes every site's
report, the overall report, ``tables.xlsx`` and ``index.html`` in one
process. No notebook kernel is involved.

Where things are:

- ``context.py``: :class:`Release` (data, plan, results cache) and :class:`Page`
  (one report: its disclosure control and the table/figure/paragraph blocks);
- ``sections/``: one small module per section, in page order in
  ``sections.REGISTRY``; each formats results into a dict for its template;
- ``templates/``: Jinja2: ``base.html.j2`` (page frame, landmarks),
  ``report.html.j2`` (contents, body, technical annex), ``macros.html.j2``
  (table, figure, KPI card), ``sections/<name>.html.j2``;
- ``static/report.css``: the stylesheet (screen, phone, A4 print), inlined;
- ``format.py``: rounding at the source, cell formatting, spreadsheet safety;
- ``workbook.py``: ``tables.xlsx``; ``render.py``: the release itself.

The report needs the ``report`` extra (``pip install "dapp_eval[report]"``: Jinja2, MarkupSafe, tqdm);
without it, importing this package raises :class:`~dapp_eval.optional.MissingExtraError` saying so.

Adding a section takes two new files and one line: ``sections/<name>.py``
(``TITLE``, ``PLACEMENT`` = ``"body"`` or ``"annex"``, ``build(page)``),
``templates/sections/<name>.html.j2`` (``{% extends "section.html.j2" %}``),
and ``"<name>"`` in ``sections.REGISTRY``.
"""

from __future__ import annotations

from dapp_eval.optional import require
from dapp_eval.report.context import THROUGHPUT_STAGES, Page, Release
from dapp_eval.report.format import pct
from dapp_eval.report.render import ReportBuilder, render_page, render_release, render_reports, render_section

for _module in ("jinja2", "markupsafe", "tqdm"):  # the report extra: say so plainly if it is missing
    require(_module, extra="report", purpose="dapp_eval.report (the HTML report)")

__all__ = ["render_release", "render_reports", "render_page", "render_section", "ReportBuilder", "Release", "Page",
           "THROUGHPUT_STAGES", "pct"]

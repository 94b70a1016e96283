"""The sections of a commissioner report, in page order.

A section is a module with ``TITLE``, ``PLACEMENT`` (``"top"``: the title
block before the contents list; ``"body"``; or ``"annex"``: the technical
annex at the end) and ``build(page) -> dict``, the context of its template
``templates/sections/<name>.html.j2``. Sections format results; they compute
no statistics (those live in the analysis modules) and hide nothing
themselves (the page's :class:`~dapp_eval.disclosure.DisclosureControl` does).

To add a section: write ``sections/<name>.py`` and
``templates/sections/<name>.html.j2`` (usually ``{% extends "section.html.j2" %}``)
and add one line to :data:`REGISTRY`. A section that reads what the sections
before it added to the page (the annex, the results they used, the disclosure
log) says so with ``AFTER_OTHERS = True``; the sections before the first such
one read nothing of each other, so a release may render them in separate
processes (:func:`independent`).
"""

from __future__ import annotations

from importlib import import_module

#: section names in page order; each is sections/<name>.py + templates/sections/<name>.html.j2
REGISTRY = (
    "title",
    "summary",
    "engagement",
    "trends",
    "attrition",
    "risk",
    "safety",
    "followup",
    "equality",
    "strands",
    "districts",
    "children",
    "partner_support",
    "reoffending",
    "capacity",
    "waiting_list",
    "feedback",
    "sites",
    "technical",
    "methods",
    "plan",
    "data_quality",
    "disclosure_log",
    "about",
    "definitions",
)


def load(name: str):
    """The module of one section."""
    if name not in REGISTRY:
        raise KeyError(f"unknown section {name!r}; known: {', '.join(REGISTRY)}")
    return import_module(f"{__name__}.{name}")


def independent() -> tuple[str, ...]:
    """The sections before the first ``AFTER_OTHERS`` one: each can be rendered on its own copy of the page."""
    out = []
    for name in REGISTRY:
        if getattr(load(name), "AFTER_OTHERS", False):
            break
        out.append(name)
    return tuple(out)

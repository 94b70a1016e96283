"""Publishing a release: attack it where it was written, and move it into place only if it passes."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import AnalysisError
from .audit import AuditResult, audit_release

__all__ = ["publish_release", "DisclosureAuditError"]


class DisclosureAuditError(AnalysisError):
    """A release was not published because the audit worked back a hidden count."""

    def __init__(self, result: AuditResult):
        self.result = result
        super().__init__("the release was not written, because " + result.text(limit=20))


def publish_release(staging, final, *, threshold: int = 10) -> list[Path]:
    """Audit the release in ``staging``; if it passes, move its files into ``final`` and remove ``staging``.

    Files already in ``final`` with other names are left alone; files of the
    same name are replaced. If the audit fails, ``staging`` is deleted,
    ``final`` is not touched, and :class:`DisclosureAuditError` (a
    ``ValueError``) says which counts could be worked back.

    Returns
    -------
    list of Path
        The files now in ``final``, in the order they were in ``staging`` (sorted by name).
    """
    staging, final = Path(staging), Path(final)
    result = audit_release(staging, threshold=threshold)
    if not result.ok:
        shutil.rmtree(staging, ignore_errors=True)
        raise DisclosureAuditError(result)
    final.mkdir(parents=True, exist_ok=True)
    moved = []
    for p in sorted(staging.iterdir()):
        if p.is_file():
            target = final / p.name
            p.replace(target)
            moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return moved

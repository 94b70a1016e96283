"""Publishing a release: attack it where it was written, and move it into place only if it passes."""

from __future__ import annotations

import shutil
from pathlib import Path

from dapp_eval.disclosure.audit import AuditResult, audit_release
from dapp_eval.errors import AnalysisError

__all__ = ["publish_release", "DisclosureAuditError", "check_periods"]


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


def _tiling(periods: list[tuple]) -> tuple | None:
    """(whole, parts) where two or more of ``periods`` are disjoint, follow each other day by day and make up
    another of them exactly; None if no period is tiled by the others."""
    import datetime as _d

    spans = sorted({(_d.date.fromisoformat(str(a)), _d.date.fromisoformat(str(b))) for a, b in periods})
    for w0, w1 in spans:
        parts = [(a, b) for a, b in spans if w0 <= a and b <= w1 and (a, b) != (w0, w1)]
        chain, day = [], w0
        while day <= w1:
            nxt = [(a, b) for a, b in parts if a == day]
            if not nxt:
                break
            chain.append(max(nxt, key=lambda x: x[1]))
            day = chain[-1][1] + _d.timedelta(days=1)
        if len(chain) >= 2 and day == w1 + _d.timedelta(days=1):
            return (w0, w1), chain
    return None


def check_periods(periods) -> None:
    """Refuse a release whose referral periods include one made up, day by day, of others in it.

    Disjoint periods add up to their union: with each count rounded in the parts and in the whole, the
    three rounding bands together often leave one integer solution, so the exact counts come back (an
    attacker recovered 277 referrals published as 275, and a site's 23 + 28 = 51, from two halves of a year
    and the year). Publish the parts or the whole, not both (docs/disclosure.md, "Periods").

    Examples
    --------
    >>> check_periods([("2023-01-01", "2023-06-30"), ("2023-01-01", "2023-12-31")])  # overlapping: allowed
    >>> check_periods([("2023-01-01", "2023-06-30"), ("2023-07-01", "2023-12-31"), ("2023-01-01", "2023-12-31")])
    Traceback (most recent call last):
    ...
    dapp_eval.errors.AnalysisError: the period 2023-01-01 to 2023-12-31 is made up of the other periods asked for (2023-01-01 to 2023-06-30 + 2023-07-01 to 2023-12-31); disjoint periods add up to their union, which with rounding can give exact counts back: publish the parts or the whole, not both in one release (see docs/disclosure.md, 'Periods')
    """
    if not periods or len(periods) < 3:
        return
    try:
        hit = _tiling([tuple(p) for p in periods])
    except ValueError:
        return  # a date that is not a date: the plan's check of the period says so
    if hit is None:
        return
    (w0, w1), chain = hit
    parts = " + ".join(f"{a} to {b}" for a, b in chain)
    raise AnalysisError(f"the period {w0} to {w1} is made up of the other periods asked for ({parts}); disjoint "
                        "periods add up to their union, which with rounding can give exact counts back: publish "
                        "the parts or the whole, not both in one release (see docs/disclosure.md, 'Periods')")

"""When the dispatch pass last ran and when the next one is due, for the simulators (the phone
simulator and the mailbox say when the next message may arrive).

Beat starts the pass every ``DISPATCH_INTERVAL_SECONDS`` (``retargeting/celery.py``), counted
from the previous start. The pass marks its start in the shared cache (every process of every
machine reads the same one); the next is due an interval later. Nothing is guessed when no pass
has run: the page says so, and how to run one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

KEY = "dispatch-pass:last-start"


def mark_pass(*, at: datetime | None = None) -> None:
    """Record that a scheduled pass starts now (``at``)."""
    cache.set(KEY, (at or timezone.now()).isoformat(), timeout=None)


@dataclass(frozen=True)
class NextPass:
    last: datetime | None
    """When the last scheduled pass started; None: none since the cache was emptied."""
    at: datetime | None
    """When the next one is due (``last`` plus the interval)."""
    seconds: int
    """Seconds from now until ``at`` (0 when due or overdue)."""
    late: bool
    """No pass for more than two intervals: beat or the worker is not running."""


def next_pass(*, now: datetime | None = None) -> NextPass:
    now = now or timezone.now()
    try:
        last = datetime.fromisoformat(str(cache.get(KEY)))
    except ValueError:
        return NextPass(last=None, at=None, seconds=0, late=False)
    interval = timedelta(seconds=settings.DISPATCH_INTERVAL_SECONDS)
    at = last + interval
    seconds = max(0, int((at - now).total_seconds() + 0.999))
    return NextPass(last=last, at=at, seconds=seconds, late=now - last > 2 * interval)

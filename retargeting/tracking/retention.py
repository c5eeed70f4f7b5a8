"""Purging raw events past their retention period, in batches (no long lock on the table)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from retargeting.tracking.models import Event

BATCH = 5_000


def purge_old_events(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete events received more than EVENT_RETENTION_DAYS ago; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(received_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += Event.objects.filter(pk__in=ids).delete()[0]

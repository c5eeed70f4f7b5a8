"""Purging raw events and product views past their retention periods, in batches (no long
lock on the table), and the collector's refusals past theirs."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from retargeting.tracking.models import Event, ProductView, Refusal

BATCH = 5_000
# Refusals serve the installation page's live check, nothing else.
REFUSALS_KEPT = timedelta(days=30)


def purge_old_events(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete events received more than EVENT_RETENTION_DAYS ago; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted, after = 0, 0
    while True:
        # Each batch starts after the last one's highest id: the index is not rescanned over
        # the rows just deleted (still there, dead, until PostgreSQL vacuums them).
        ids = list(
            Event.objects.filter(received_at__lt=cutoff, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        after = ids[-1]
        deleted += Event.objects.filter(pk__in=ids).delete()[0]


def purge_old_refusals(*, now: datetime | None = None) -> int:
    """Delete the collector's refusals older than REFUSALS_KEPT; return how many."""
    cutoff = (now or timezone.now()) - REFUSALS_KEPT
    return Refusal.objects.filter(received_at__lt=cutoff).delete()[0]


def purge_old_product_views(*, now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the product views last seen more than PRODUCT_VIEW_RETENTION_DAYS ago (by their
    time index); return how many. The products themselves stay: they are the shop's catalogue."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PRODUCT_VIEW_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            ProductView.objects.filter(viewed_at__lt=cutoff)
            .order_by("viewed_at")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += ProductView.objects.filter(pk__in=ids).delete()[0]

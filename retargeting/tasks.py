"""Platform housekeeping tasks."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from retargeting.embedded import prune_processed_messages
from retargeting.tracking.retention import purge_old_events as purge
from retargeting.tracking.retention import purge_old_product_views, purge_old_refusals


@shared_task(name="retargeting.tasks.prune_embedded_broker")
def prune_embedded_broker() -> int:
    """Delete the embedded broker's processed message files older than an hour."""
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("processed_folder")
    if not folder:
        return 0
    return prune_processed_messages(folder=str(folder), older_than_seconds=3600)


@shared_task(name="retargeting.tasks.purge_old_events")
def purge_old_events() -> int:
    """Nightly: raw events and product views past their retention periods, and the
    collector's refusals."""
    return purge() + purge_old_product_views() + purge_old_refusals()


@shared_task(name="retargeting.tasks.ingest_events")
def ingest_events() -> int:
    """Every second: write the collector's buffered page views, product views and carts to the
    database."""
    from retargeting.tracking import buffer

    if not buffer.enabled():
        return 0
    return buffer.drain(max_seconds=50)


@shared_task(name="retargeting.tasks.poll_provider_opt_outs")
def poll_provider_opt_outs() -> int:
    """Every five minutes: the numbers the SMS provider reports unsubscribed (Brevo's list)."""
    from retargeting.gateways.opt_outs import poll_opt_outs

    return poll_opt_outs()

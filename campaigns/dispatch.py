"""The dispatch pass: detect abandoned carts, plan their sends, then send what is due.

Beat runs it every minute and `manage.py dispatch` runs it once in the foreground. It is safe
to run twice at once: the database refuses a second send for the same cart and step.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import Flow, Send, SendEvent, SendStatus, Step, Trigger
from optin.confirmation import send_pending_confirmations
from optin.consent import LIVE_STATUSES
from optin.models import VisitorLink
from retargeting.tracking.models import Cart

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass
class PassReport:
    """What one pass did, counted per outcome."""

    planned: int = 0
    already_planned: int = 0
    confirmations: int = 0
    due: int = 0
    sent: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.as_dict().items())


def run_pass(*, now: datetime | None = None) -> PassReport:
    """One full pass at ``now`` (the current time by default)."""
    now = now or timezone.now()
    report = PassReport()
    for step in _first_steps_of_active_flows():
        _plan_step(step=step, now=now, report=report)
    # Double opt-in confirmations whose task was lost or whose provider was down.
    report.confirmations = send_pending_confirmations()
    report.due = Send.objects.filter(status=SendStatus.PLANNED, due_at__lte=now).count()
    logger.info("dispatch pass at %s: %s", now.isoformat(), report)
    return report


def _first_steps_of_active_flows() -> list[Step]:
    # One cart-abandonment flow per site: the oldest active one.
    flows = (
        Flow.objects.filter(is_active=True, trigger=Trigger.CART_ABANDONED)
        .order_by("site_id", "pk")
        .values_list("site_id", "pk")
    )
    chosen: dict[int, int] = {}
    for site_id, flow_id in flows:
        chosen.setdefault(site_id, flow_id)
    return list(Step.objects.filter(flow_id__in=chosen.values(), position=1).select_related("flow"))


def _plan_step(*, step: Step, now: datetime, report: PassReport) -> None:
    """Plan a send of ``step`` for every eligible cart of its site, in batches."""
    idle_since = now - timedelta(minutes=step.delay_minutes)
    live_link = VisitorLink.objects.filter(
        visitor_id=OuterRef("visitor_id"),
        contact__consent_status__in=LIVE_STATUSES,
        contact__unreachable_at__isnull=True,
    )
    candidates = (
        Cart.objects.filter(
            site_id=step.flow.site_id,
            status=Cart.Status.OPEN,
            item_count__gt=0,
            last_change_at__lte=idle_since,
        )
        .filter(Exists(live_link))
        .exclude(Exists(Send.objects.filter(cart_id=OuterRef("pk"), step=step)))
        .order_by("last_change_at", "pk")
        .values_list("pk", "visitor__contact_link__contact", "last_change_at")
    )
    batch: list[tuple[int, int, datetime]] = []
    for row in candidates.iterator(chunk_size=BATCH_SIZE):
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            _plan_batch(step=step, rows=batch, now=now, report=report)
            batch = []
    if batch:
        _plan_batch(step=step, rows=batch, now=now, report=report)


def _plan_batch(
    *, step: Step, rows: list[tuple[int, int, datetime]], now: datetime, report: PassReport
) -> None:
    sends = [
        Send(
            site_id=step.flow.site_id,
            cart_id=cart_id,
            step=step,
            contact_id=contact_id,
            status=SendStatus.PLANNED,
            planned_at=now,
            due_at=last_change_at + timedelta(minutes=step.delay_minutes),
        )
        for cart_id, contact_id, last_change_at in rows
    ]
    cart_ids = [cart_id for cart_id, _, _ in rows]
    with transaction.atomic():
        # A concurrent pass may have planned some of these: the unique (cart, step) keeps one.
        Send.objects.bulk_create(sends, ignore_conflicts=True)
        created = list(
            Send.objects.filter(step=step, cart_id__in=cart_ids, planned_at=now).values_list(
                "pk", flat=True
            )
        )
        SendEvent.objects.bulk_create(
            SendEvent(send_id=pk, status=SendStatus.PLANNED, source="planner", at=now)
            for pk in created
        )
    report.planned += len(created)
    report.already_planned += len(rows) - len(created)

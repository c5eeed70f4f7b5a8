"""The dispatch pass: detect abandoned carts, plan their sends, then send what is due.

Beat runs it every minute and `manage.py dispatch` runs it once in the foreground. It is safe
to run twice at once: the database refuses a second send for the same cart and step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns.models import Flow, Send, SendEvent, SendStatus, Step, Trigger
from campaigns.quiet_hours import send_time
from campaigns.sending import deliver
from optin.confirmation import send_pending_confirmations
from optin.consent import LIVE_STATUSES
from optin.models import VisitorLink
from retargeting.tracking.models import Cart

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_DUE_PER_PASS = 2_000


@dataclass
class PassReport:
    """What one pass did, counted per outcome."""

    planned: int = 0
    already_planned: int = 0
    confirmations: int = 0
    due: int = 0
    sent: int = 0
    enqueued: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.as_dict().items())


def run_pass(
    *,
    now: datetime | None = None,
    deliver_inline: bool = False,
    enqueue: Callable[[int], object] | None = None,
) -> PassReport:
    """One full pass at ``now``: plan, send confirmations, then hand on what is due.

    Due sends are delivered here (``deliver_inline``, the foreground command) or given to
    ``enqueue`` (beat: one task per send on the sms queue). A send is claimed before it is
    sent, so a send handed on twice still goes out once.
    """
    now = now or timezone.now()
    report = PassReport()
    for step in _first_steps_of_active_flows():
        _plan_step(step=step, now=now, report=report)
    # Double opt-in confirmations whose task was lost or whose provider was down.
    report.confirmations = send_pending_confirmations()
    due = list(
        Send.objects.filter(status=SendStatus.PLANNED, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:MAX_DUE_PER_PASS]
    )
    report.due = len(due)
    for send_id in due:
        if deliver_inline:
            report.sent += deliver(send_id=send_id) == "accepted"
        elif enqueue is not None:
            enqueue(send_id)
            report.enqueued += 1
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
        .values_list(
            "pk",
            "visitor__contact_link__contact",
            "last_change_at",
            "visitor__contact_link__contact__phone",
        )
    )
    batch: list[tuple[int, int, datetime, str]] = []
    for row in candidates.iterator(chunk_size=BATCH_SIZE):
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            _plan_batch(step=step, rows=batch, now=now, report=report)
            batch = []
    if batch:
        _plan_batch(step=step, rows=batch, now=now, report=report)


def _plan_batch(
    *, step: Step, rows: list[tuple[int, int, datetime, str]], now: datetime, report: PassReport
) -> None:
    site = step.flow.site
    sends = [
        Send(
            site_id=site.pk,
            cart_id=cart_id,
            step=step,
            contact_id=contact_id,
            status=SendStatus.PLANNED,
            planned_at=now,
            # Planned within the quiet hours already; the cap is checked at send time, when
            # the contact's other messages are known.
            due_at=send_time(
                max(last_change_at + timedelta(minutes=step.delay_minutes), now),
                site=site,
                phone=phone,
                key=f"cart-{cart_id}-step-{step.pk}",
            ),
        )
        for cart_id, contact_id, last_change_at, phone in rows
    ]
    cart_ids = [row[0] for row in rows]
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

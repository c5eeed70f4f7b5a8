"""The dispatch pass: each trigger finds its journeys' subjects (abandoned carts, product
views, restocks, confirmations, orders), their sends are planned, then what is due is sent.

Beat runs it every minute and `manage.py dispatch` runs it once in the foreground. It is safe
to run twice at once: the database refuses a second send for the same step and subject.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from campaigns.eligibility import channels_of
from campaigns.models import Flow, Send, SendEvent, SendStatus, Step
from campaigns.send_reasons import SendReason
from campaigns.sending import SEND_BATCH, deliver_batch
from campaigns.stock_requests import send_pending_stock_confirmations
from campaigns.trigger_registry import planned, trigger_room
from campaigns.triggers import CANDIDATE_FIELDS, Candidate, TriggerRoom
from optin.confirmation import send_pending_confirmations
from optin.consent import is_live
from optin.email_confirmation import send_pending_email_confirmations
from retargeting.channels import Channel
from retargeting.db import bulk

logger = logging.getLogger(__name__)

BATCH_SIZE = 2_000
MAX_DUE_PER_PASS = 2_000


@dataclass
class PassReport:
    """What one pass did, counted per outcome."""

    planned: int = 0
    already_planned: int = 0
    held_out: int = 0
    confirmations: int = 0
    due: int = 0
    sent: int = 0
    enqueued: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    """What each send delivered in this pass came to (``accepted``, ``quiet_hours``…)."""

    def as_dict(self) -> dict[str, Any]:
        counts = asdict(self)
        counts["outcomes"] = dict(sorted(self.outcomes.items()))
        return counts

    def __str__(self) -> str:
        counts = " ".join(
            f"{key}={value}" for key, value in self.as_dict().items() if key != "outcomes"
        )
        if not self.outcomes:
            return counts
        return counts + " | " + " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))


def run_pass(
    *,
    now: datetime | None = None,
    deliver_inline: bool = False,
    enqueue: Callable[[int], object] | None = None,
    enqueue_batch: Callable[[list[int]], object] | None = None,
) -> PassReport:
    """One full pass at ``now``: plan, send confirmations, then hand on what is due.

    Due sends are delivered here in batches (``deliver_inline``, the foreground command), or
    given in batches of ``SEND_BATCH`` to ``enqueue_batch`` (beat: one task per batch on the
    sms queue), or one by one to ``enqueue``. A send is claimed before it is sent, so a send
    handed on twice still goes out once.
    """
    now = now or timezone.now()
    report = PassReport()
    for (_site_id, trigger), flows in _active_flows().items():
        _plan_trigger(trigger_room(trigger), flows=flows, now=now, report=report)
    # A large pass (a shop's first, a campaign's start) makes the sends' statistics stale at
    # once: the claims that follow would be planned for a table without those sends.
    for model in (Send, SendEvent):
        bulk.refresh_statistics(model, added=report.planned + report.held_out)
    # Double opt-in confirmations whose task was lost or whose provider was down.
    report.confirmations = send_pending_confirmations() + send_pending_email_confirmations()
    # Back-in-stock requests' confirmations likewise.
    report.confirmations += send_pending_stock_confirmations()
    due = list(
        Send.objects.filter(status=SendStatus.PLANNED, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:MAX_DUE_PER_PASS]
    )
    report.due = len(due)
    for start in range(0, len(due), SEND_BATCH):
        batch = due[start : start + SEND_BATCH]
        if deliver_inline:
            outcomes = deliver_batch(send_ids=batch)
            report.outcomes.update(outcomes.values())
            if len(outcomes) < len(batch):  # claimed meanwhile by another worker
                report.outcomes["not_claimed"] += len(batch) - len(outcomes)
            report.sent += sum(outcome == "accepted" for outcome in outcomes.values())
        elif enqueue_batch is not None:
            enqueue_batch(batch)
            report.enqueued += len(batch)
        elif enqueue is not None:
            for send_id in batch:
                enqueue(send_id)
            report.enqueued += len(batch)
    # A pass that did nothing is a heartbeat (one a minute): debug output.
    busy = report.planned or report.held_out or report.confirmations or report.due
    logger.log(
        logging.INFO if busy else logging.DEBUG, "dispatch pass at %s: %s", now.isoformat(), report
    )
    return report


def _active_flows() -> dict[tuple[int, str], list[Flow]]:
    """The active flows of the triggers the pass plans, by site and trigger, the most
    specific first."""
    by_trigger: dict[tuple[int, str], list[Flow]] = defaultdict(list)
    flows = (
        Flow.objects.filter(is_active=True, trigger__in=planned())
        .select_related("site")
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
    )
    for flow in sorted(flows, key=Flow.specificity):
        # Steps in order, read once per pass; each keeps its flow (and site) for planning.
        flow.ordered_steps = list(flow.steps.all())
        for step in flow.ordered_steps:
            step.flow = flow
        by_trigger[(flow.site_id, flow.trigger)].append(flow)
    return by_trigger


def _plan_trigger(
    trigger: TriggerRoom, *, flows: list[Flow], now: datetime, report: PassReport
) -> None:
    """Plan a site's flows of one trigger: each flow's first step for the subjects the
    trigger finds (one query each), then each next step."""
    for index, flow in enumerate(flows):
        if not flow.ordered_steps or flow.ordered_steps[0].position != 1:
            continue
        step = flow.ordered_steps[0]
        rows = trigger.first_candidates(flow=flow, step=step, more_specific=flows[:index], now=now)
        if rows is not None:
            _plan_in_batches(trigger, step=step, rows=rows, now=now, report=report)
    for flow in flows:
        for previous, step in itertools.pairwise(flow.ordered_steps):
            rows = trigger.next_candidates(step=step, previous=previous, now=now)
            if rows is not None:
                _plan_in_batches(trigger, step=step, rows=rows, now=now, report=report)


def _plan_in_batches(
    trigger: TriggerRoom,
    *,
    step: Step,
    rows: QuerySet[Any],
    now: datetime,
    report: PassReport,
) -> None:
    """Plan ``step`` for the candidates ``rows``, oldest first, in batches."""
    batch: list[Candidate] = []
    for row in (
        rows.order_by("moment", "pk").values_list(*CANDIDATE_FIELDS).iterator(chunk_size=BATCH_SIZE)
    ):
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            _plan_batch(trigger, step=step, rows=batch, now=now, report=report)
            batch = []
    if batch:
        _plan_batch(trigger, step=step, rows=batch, now=now, report=report)


def is_held_out(*, flow: Flow, cart_id: int) -> bool:
    """Whether a subject (a cart, a view, a request…: ``cart_id`` is its id) falls in the
    flow's holdout group: uniform, unpredictable from outside, and the same answer every time
    it is asked."""
    if flow.holdout_percent <= 0:
        return False
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"holdout:{flow.pk}:{cart_id}".encode(), hashlib.sha256
    ).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < flow.holdout_percent * 100


def _planned_channel(
    channels: list[Channel], *, phone: str, consent_status: str, unreachable_at: datetime | None
) -> Channel:
    """The channel a send is planned for: the first of the step's the contact can get (the
    candidates query checked that one fits); chosen again when the send is rendered."""
    if channels[0] == Channel.SMS and len(channels) > 1:
        sms = bool(phone) and is_live(status=consent_status) and unreachable_at is None
        return Channel.SMS if sms else channels[1]
    return channels[0]


def _plan_batch(
    trigger: TriggerRoom,
    *,
    step: Step,
    rows: list[Candidate],
    now: datetime,
    report: PassReport,
) -> None:
    flow = step.flow
    site = flow.site
    channels = channels_of(step.channel)
    sends = []
    for subject_id, cart_id, contact_id, moment, phone, consent_status, unreachable_at in rows:
        channel = _planned_channel(
            channels, phone=phone, consent_status=consent_status, unreachable_at=unreachable_at
        )
        send: dict[str, Any] = {
            "site_id": site.pk,
            "cart_id": cart_id,
            "subject_id": subject_id,
            "step_id": step.pk,
            "contact_id": contact_id,
            "status": SendStatus.PLANNED,
            "reason": "",
            "planned_at": now,
            "due_at": now,
            "channel": channel,
        }
        if step.position == 1 and trigger.holdout and is_held_out(flow=flow, cart_id=subject_id):
            # Followed like the others (conversions, figures), never messaged.
            send["status"], send["reason"] = SendStatus.HELD_OUT, SendReason.HELD_OUT
        else:
            # Planned within the quiet hours already; the cap is checked at send time, when
            # the contact's other messages are known.
            send["due_at"] = trigger.due_time(
                trigger.due(step=step, moment=moment, now=now),
                site=site,
                phone=phone,
                channel=channel,
                key=f"{_key(trigger, subject_id)}-step-{step.pk}",
            )
        sends.append(send)
    with transaction.atomic():
        # A concurrent pass may have planned some of these: the unique (step, subject) keeps
        # one.
        created = bulk.insert_ignoring_conflicts(Send, sends, returning=("id", "status", "reason"))
        if created is None:
            Send.objects.bulk_create([Send(**send) for send in sends], ignore_conflicts=True)
            subject_ids = [row[0] for row in rows]
            created = list(
                Send.objects.filter(
                    step=step, subject_id__in=subject_ids, planned_at=now
                ).values_list("pk", "status", "reason")
            )
        bulk.insert(
            SendEvent,
            [
                {"send_id": pk, "status": status, "reason": reason, "source": "planner", "at": now}
                for pk, status, reason in created
            ],
        )
    held_out = sum(status == SendStatus.HELD_OUT for _, status, _ in created)
    report.held_out += held_out
    report.planned += len(created) - held_out
    report.already_planned += len(rows) - len(created)


def _key(trigger: TriggerRoom, subject_id: int) -> str:
    """The spreading key of a subject (a cart's is the one it always had)."""
    return f"cart-{subject_id}" if trigger.has_cart else f"{trigger.name}-{subject_id}"

"""Sending one planned reminder safely, and reconciling sends a crash left behind.

A send is claimed with a conditional update (planned → sending) before the provider is
called, so whatever runs twice, one worker only sends it. Its text is saved before the call,
so that a message the provider took without our knowing (a timeout, a killed worker) can be
found again in the provider's list instead of being sent twice: a duplicate SMS is worse than
a missing one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from campaigns import costs
from campaigns.eligibility import exit_reason
from campaigns.frequency import next_allowed
from campaigns.models import Send, SendEvent, SendStatus
from campaigns.quiet_hours import charter_flag, send_time
from campaigns.send_reasons import SendReason, refusal_reason
from campaigns.send_states import advance
from campaigns.sms_templates import InvalidTemplate
from campaigns.sms_text import PoolEmpty, render_body
from optin.consent import is_live, record_consent
from optin.contacts import mark_messaged
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.gateways import get_gateway, throttle
from retargeting.gateways.base import Action, Gateway, Outcome, OutgoingSms, SendResult
from retargeting.gateways.errors import AMBIGUOUS
from retargeting.sms import segments

logger = logging.getLogger(__name__)

# Waits before each retry after a transient provider error (jittered by ±20 %).
RETRY_DELAYS = (15, 60, 300, 900, 1800)
STUCK_AFTER = timedelta(minutes=10)


def deliver(*, send_id: int, gateway: Gateway | None = None) -> str:
    """Send one due reminder; return what happened (``accepted``, ``retry``, a reason…)."""
    now = timezone.now()
    claimed = Send.objects.filter(pk=send_id, status=SendStatus.PLANNED, due_at__lte=now).update(
        status=SendStatus.SENDING, claimed_at=now, updated_at=now
    )
    if not claimed:
        return "not_claimed"
    send = Send.objects.select_related("site", "contact", "cart", "step__flow").get(pk=send_id)
    SendEvent.objects.create(send=send, status=SendStatus.SENDING, source="worker", at=now)
    # The cart or the consent may have changed since planning: check again now.
    reason = exit_reason(send)
    if reason:
        advance(send, status=SendStatus.CANCELLED, source="worker", reason=reason)
        return reason
    assert send.contact is not None  # exit_reason cancels a send whose contact was erased
    if send.cart.last_change_at > send.planned_at:
        # A changed cart is a new abandonment: the same send waits the delay again.
        advance(
            send,
            status=SendStatus.PLANNED,
            source="worker",
            reason=SendReason.CART_CHANGED,
            due_at=send.cart.last_change_at + timedelta(minutes=send.step.delay_minutes),
            planned_at=now,
            claimed_at=None,
        )
        return SendReason.CART_CHANGED
    expires_at = send.cart.last_change_at + timedelta(hours=send.site.stale_after_hours)
    if now >= expires_at:
        advance(send, status=SendStatus.DROPPED, source="worker", reason=SendReason.STALE)
        return SendReason.STALE
    if not send.body:
        # Committed before the provider is called (and outside the contact lock's
        # transaction), so a message taken by the provider can always be found again.
        try:
            body, note = render_body(send)
        except PoolEmpty:
            advance(
                send,
                status=SendStatus.DROPPED,
                source="worker",
                reason=SendReason.NO_DISCOUNT_CODE,
                detail="the step's pool of discount codes is empty",
            )
            return SendReason.NO_DISCOUNT_CODE
        except InvalidTemplate as exc:
            advance(
                send,
                status=SendStatus.FAILED,
                source="worker",
                reason=SendReason.INVALID_TEMPLATE,
                detail=str(exc),
            )
            return SendReason.INVALID_TEMPLATE
        counted = segments.count(body)
        cost = costs.estimate(segments=counted.segments, country=send.contact.region)
        Send.objects.filter(pk=send.pk).update(
            body=body, segments=counted.segments, encoding=counted.encoding, cost=cost
        )
        send.body, send.segments, send.encoding = body, counted.segments, counted.encoding
        if note:
            SendEvent.objects.create(
                send=send, status=SendStatus.SENDING, source="worker", detail=note, at=now
            )
    with _contact_lock(send.contact.pk):
        # Checked again once the contact is locked: a STOP (or a purchase) committed since the
        # first check must stop this SMS; one that comes now waits for it to be sent.
        send.contact.refresh_from_db(fields=["consent_status", "unreachable_at"])
        send.cart.refresh_from_db(fields=["status", "item_count"])
        reason = exit_reason(send)
        if reason:
            advance(send, status=SendStatus.CANCELLED, source="worker", reason=reason)
            return reason
        return _send_now(send, now=now, expires_at=expires_at, gateway=gateway)


@contextmanager
def _contact_lock(contact_id: int) -> Iterator[None]:
    """On PostgreSQL, one worker at a time decides and sends for a contact, so two workers
    cannot both pass the frequency cap. The embedded mode runs a single worker, and SQLite
    would hold its one write lock for the whole provider call."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        list(Contact.objects.select_for_update().filter(pk=contact_id).values_list("pk"))
        yield


def _send_now(send: Send, *, now: datetime, expires_at: datetime, gateway: Gateway | None) -> str:
    assert send.contact is not None
    # Checked again at send time, whatever was planned: the cap, then quiet hours.
    capped_until = next_allowed(site=send.site, contact=send.contact, at=now, exclude=send.pk)
    allowed_at = send_time(
        capped_until, site=send.site, phone=send.contact.phone, key=f"send-{send.pk}"
    )
    if allowed_at > now:
        reason = SendReason.CAPPED if capped_until > now else SendReason.QUIET_HOURS
        if allowed_at >= expires_at:
            advance(
                send,
                status=SendStatus.DROPPED,
                source="worker",
                reason=SendReason.STALE,
                detail=f"{reason} until past the staleness limit",
            )
            return SendReason.STALE
        advance(
            send,
            status=SendStatus.PLANNED,
            source="worker",
            reason=reason,
            detail=f"until {allowed_at.isoformat()}",
            due_at=allowed_at,
            claimed_at=None,
        )
        return reason
    sender = send.site.effective_sender or "default"
    if not throttle.acquire(sender, send.segments or 1, max_wait=20):
        advance(
            send,
            status=SendStatus.PLANNED,
            source="worker",
            reason=SendReason.THROTTLED,
            due_at=now + timedelta(seconds=5),
            claimed_at=None,
        )
        return SendReason.THROTTLED
    gateway = gateway or get_gateway()
    result = gateway.send(
        OutgoingSms(
            to=send.contact.phone,
            body=send.body,
            sender=send.site.sender,
            status_callback=gateway.status_callback_url(),
            tag=f"relance-send-{send.pk}",
            validity_seconds=max(1, int((expires_at - now).total_seconds())),
        )
    )
    flag = charter_flag(now, site=send.site, phone=send.contact.phone)
    return _record(
        send,
        result,
        gateway=gateway,
        expires_at=expires_at,
        detail=f"sent on a {flag} (af2m charter)" if flag else "",
    )


def _record(
    send: Send, result: SendResult, *, gateway: Gateway, expires_at: datetime, detail: str = ""
) -> str:
    now = timezone.now()
    if result.outcome is Outcome.ACCEPTED:
        advance(
            send,
            status=SendStatus.ACCEPTED,
            source="worker",
            detail=detail,
            provider_id=result.provider_id,
            sent_at=now,
        )
        mark_messaged(contact_id=send.contact_id, at=now)
        logger.info("send %s accepted", send.pk)
        return "accepted"
    if result.outcome is Outcome.TRANSIENT:
        if result.error_code in AMBIGUOUS:
            # The provider may have taken it: never send again blindly.
            if _found_at_provider(send, gateway, source="worker"):
                return "accepted"
            SendEvent.objects.create(
                send=send,
                status=SendStatus.SENDING,
                source="worker",
                error_code=result.error_code,
                at=now,
                detail="left for reconciliation: " + result.reason[:200],
            )
            return "ambiguous"
        attempts = SendEvent.objects.filter(
            send=send, status=SendStatus.SENDING, source="worker", error_code=""
        ).count()
        if attempts <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311
            retry_at = now + timedelta(seconds=delay)
            if retry_at < expires_at:
                advance(
                    send,
                    status=SendStatus.PLANNED,
                    source="worker",
                    reason=SendReason.PROVIDER_RETRY,
                    detail=f"{result.error_code}: {result.reason}"[:255],
                    error_code=result.error_code,
                    due_at=retry_at,
                    claimed_at=None,
                )
                return "retry"
        advance(
            send,
            status=SendStatus.DROPPED,
            source="worker",
            reason=SendReason.PROVIDER_UNAVAILABLE,
            detail=result.reason,
            error_code=result.error_code,
        )
        return SendReason.PROVIDER_UNAVAILABLE
    advance(
        send,
        status=SendStatus.FAILED,
        source="worker",
        reason=refusal_reason(result.action),
        detail=result.reason,
        error_code=result.error_code,
    )
    apply_provider_action(
        contact_id=send.contact_id, action=result.action, error_code=result.error_code
    )
    return "failed"


def apply_provider_action(
    *,
    contact_id: int | None,
    action: Action,
    error_code: str,
    message_sent_at: datetime | None = None,
) -> None:
    """What a provider error means for the contact (none left once it was erased).

    ``message_sent_at`` dates the message the error is about (a status callback may come late,
    or be replayed): an error about a message older than the contact's latest consent change
    says nothing about the consent the number has now, and is not applied to it.
    """
    if contact_id is None:
        return
    if action is Action.REVOKE_CONSENT:
        contact = Contact.objects.get(pk=contact_id)
        changed_at = contact.consents.order_by("-created_at").values_list("created_at", flat=True)
        latest = changed_at.first()
        if message_sent_at is not None and latest is not None and latest > message_sent_at:
            return
        if is_live(status=contact.consent_status):
            record_consent(
                contact=contact,
                status=ConsentStatus.REVOKED,
                source=ConsentSource.PROVIDER,
                text=f"The provider reported the number unsubscribed ({error_code}).",
            )
    elif action is Action.UNREACHABLE:
        Contact.objects.filter(pk=contact_id, unreachable_at__isnull=True).update(
            unreachable_at=timezone.now()
        )


def _found_at_provider(send: Send, gateway: Gateway, *, source: str) -> bool:
    if send.contact is None:
        return False
    since = (send.claimed_at or timezone.now()) - timedelta(minutes=1)
    for message in gateway.recent_messages(to=send.contact.phone, since=since):
        if message.body == send.body:
            mark_messaged(contact_id=send.contact_id, at=message.created_at or timezone.now())
            advance(
                send,
                status=SendStatus.ACCEPTED,
                source=source,
                provider_id=message.provider_id,
                sent_at=message.created_at or timezone.now(),
                detail="found in the provider's messages",
            )
            return True
    return False


def reconcile_stuck(
    *, gateway: Gateway | None = None, stuck_after: timedelta = STUCK_AFTER
) -> dict[str, int]:
    """Settle sends left in ``sending`` (a killed worker, a timeout): sent, or ``unknown``."""
    gateway = gateway or get_gateway()
    counts = {"found": 0, "unknown": 0}
    cutoff = timezone.now() - stuck_after
    stuck = Send.objects.filter(status=SendStatus.SENDING, claimed_at__lte=cutoff).select_related(
        "contact"
    )
    for send in stuck:
        with transaction.atomic():
            if send.body and _found_at_provider(send, gateway, source="reconciler"):
                counts["found"] += 1
                continue
            advance(
                send,
                status=SendStatus.UNKNOWN,
                source="reconciler",
                reason=SendReason.NOT_FOUND_AT_PROVIDER,
                detail="claimed but not found in the provider's messages; not resent",
            )
            counts["unknown"] += 1
    return counts

"""A send's state: the one function that changes it, always with a history row.

States move forward only: planned → sending → accepted → sent → delivered | undelivered |
failed, or end early as cancelled, dropped or held out. A late "sent" after "delivered"
changes nothing (its callback is still kept in the history). Two moves are not forward and
are allowed on purpose, each recorded: a transient provider error puts a send back to
planned for a later retry, and reconciliation marks a send it cannot find ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from campaigns.models import Send, SendEvent, SendStatus
from campaigns.send_reasons import SendReason
from retargeting.db import bulk

RANK = {
    SendStatus.PLANNED: 0,
    SendStatus.SENDING: 1,
    SendStatus.UNKNOWN: 1,
    SendStatus.ACCEPTED: 2,
    SendStatus.SENT: 3,
    SendStatus.DELIVERED: 4,
    SendStatus.UNDELIVERED: 4,
    SendStatus.FAILED: 4,
    SendStatus.CANCELLED: 4,
    SendStatus.DROPPED: 4,
    SendStatus.HELD_OUT: 4,
}
FINAL = frozenset(status for status, rank in RANK.items() if rank == 4)
# The groups the rest of the engine reasons with, defined here once.
REACHED = (SendStatus.ACCEPTED, SendStatus.SENT, SendStatus.DELIVERED)
"""Taken by the provider and not reported lost: a later step may follow, a purchase within a
day is "after delivery"."""
TAKEN = (*REACHED, SendStatus.UNDELIVERED, SendStatus.UNKNOWN)
"""Taken by the provider (or possibly so), whatever became of it: a message that was sent."""
WAITING = (SendStatus.PLANNED, SendStatus.SENDING)
"""Not sent yet, and may still be."""
NOT_SENT = (SendStatus.CANCELLED, SendStatus.DROPPED, SendStatus.HELD_OUT, SendStatus.FAILED)
"""Will never be sent: stopped, too late, in the control group, or refused.

WAITING, TAKEN and NOT_SENT share every status out between them (the dashboard's list offers
them as its status filter)."""
ALLOWED_BACKWARD = {
    (SendStatus.SENDING, SendStatus.PLANNED),  # retry after a transient provider error
    (SendStatus.SENDING, SendStatus.UNKNOWN),  # reconciliation could not tell
}


def can_move(current: str, target: str) -> bool:
    if current in FINAL:
        return False
    if (current, target) in ALLOWED_BACKWARD:
        return True
    return RANK[SendStatus(target)] > RANK[SendStatus(current)]


def advance(
    send: Send,
    *,
    status: SendStatus,
    source: str,
    reason: SendReason | None = None,
    detail: str = "",
    error_code: str = "",
    at: datetime | None = None,
    once: bool = False,
    **fields: object,
) -> bool:
    """Move ``send`` to ``status`` if that is forward; record the event either way.

    ``reason`` says why (a final move without one clears the reason a deferral left).
    ``fields`` are saved with the move (``provider_id``, ``sent_at``, ``due_at``…). With
    ``once``, an event already recorded (same status, source and error code: a provider's
    callback delivered twice, or replayed) changes nothing and adds no history row.
    Returns whether the state changed.
    """
    at = at or timezone.now()
    with transaction.atomic():
        current = Send.objects.select_for_update().values_list("status", flat=True).get(pk=send.pk)
        if (
            once
            and SendEvent.objects.filter(
                send=send, status=status, source=source, error_code=error_code
            ).exists()
        ):
            send.status = current
            return False
        moved = can_move(current, status)
        SendEvent.objects.create(
            send=send,
            status=status,
            reason=reason or "",
            error_code=error_code,
            source=source,
            at=at,
            detail=(detail if moved else f"ignored after {current}: {detail}".strip(": "))[:255],
        )
        if moved:
            changes = {"status": status, **fields}
            if reason or status in FINAL:
                changes["reason"] = reason or ""
                changes["reason_detail"] = detail[:255]
            if error_code:
                changes["error_code"] = error_code
            Send.objects.filter(pk=send.pk).update(updated_at=at, **changes)
            for name, value in changes.items():
                setattr(send, name, value)
        else:
            send.status = current
    return moved


@dataclass
class Move:
    """One send's move, as :func:`advance` takes it, for :func:`advance_many`."""

    send: Send
    status: SendStatus
    reason: SendReason | None = None
    detail: str = ""
    error_code: str = ""
    fields: dict[str, object] = field(default_factory=dict)


def advance_many(
    moves: Sequence[Move], *, source: str, at: datetime | None = None, claimed: bool = False
) -> None:
    """:func:`advance` for a batch of sends (one move each), in a constant number of queries:
    the same rule, the same history rows, each send moved only if that is forward.

    With ``claimed``, the moves are a worker's decisions about sends it claimed: one that is
    not the provider's acceptance applies only while the send is still held by that claim
    (``claimed_at`` unchanged). A batch slower than the reconciler's patience finds some of its
    sends taken back and perhaps claimed and sent by another worker: putting one back to
    planned then would have it sent twice."""
    if not moves:
        return
    at = at or timezone.now()
    with transaction.atomic():
        current = {
            pk: (status, claimed_at)
            for pk, status, claimed_at in Send.objects.select_for_update()
            .filter(pk__in=[move.send.pk for move in moves])
            .order_by("pk")
            .values_list("pk", "status", "claimed_at")
        }
        events: list[dict[str, object]] = []
        moved_sends, names = [], {"updated_at"}
        for move in moves:
            send = move.send
            if send.pk not in current:
                continue  # deleted since (an erasure takes the contact's sends with it)
            now_at, claimed_at = current[send.pk]
            if claimed and move.status != SendStatus.ACCEPTED and claimed_at != send.claimed_at:
                continue  # taken back meanwhile: no longer this claim's to decide or record
            moved = can_move(now_at, move.status)
            detail = move.detail if moved else f"ignored after {now_at}: {move.detail}".strip(": ")
            events.append(
                {
                    "send_id": send.pk,
                    "status": move.status,
                    "reason": move.reason or "",
                    "error_code": move.error_code,
                    "source": source,
                    "at": at,
                    "detail": detail[:255],
                }
            )
            if not moved:
                send.status = now_at
                continue
            changes: dict[str, object] = {"status": move.status, **move.fields}
            if move.reason or move.status in FINAL:
                changes["reason"] = move.reason or ""
                changes["reason_detail"] = move.detail[:255]
            if move.error_code:
                changes["error_code"] = move.error_code
            for name, value in changes.items():
                setattr(send, name, value)
            send.updated_at = at
            names.update(changes)
            moved_sends.append(send)
        bulk.insert(SendEvent, events)
        bulk.update(Send, moved_sends, sorted(names))

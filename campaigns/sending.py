"""Sending one planned reminder safely, and reconciling sends a crash left behind.

A send is claimed with a conditional update (planned → sending) before the provider is
called, so whatever runs twice, one worker only sends it. Its text is saved before the call,
and just before the provider is called for it, the send is marked as handed to the provider
(``handed_at``, committed at once: a write-ahead mark). After a crash, a send left in
``sending`` without the mark never reached the provider: it goes back to be sent. One with the
mark may have: it is looked up in the provider's list where the provider keeps one, and is
otherwise left unknown, never sent twice: a duplicate SMS is worse than a missing one.

SMS and email take the same path: each send asks its channel's room
(``retargeting.channels``) for its address, whether quiet hours and the cap hold it, and what
its rendered text becomes on the way out; a batch's emails go over one SMTP connection.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.utils import timezone

from campaigns import costs, opt_out
from campaigns.eligibility import blocked_channels, reach
from campaigns.email_messages import RenderedEmail, render_email
from campaigns.frequency import allowed_after, recent_messages
from campaigns.models import Send, SendEvent, SendStatus
from campaigns.quiet_hours import charter_flag
from campaigns.send_reasons import SendReason, refusal_reason
from campaigns.send_states import Move, advance, advance_many
from campaigns.sms_templates import InvalidTemplate
from campaigns.sms_text import PoolEmpty, needs_stop_link, render_body, short_links
from campaigns.trigger_registry import ROOMS, room_of
from optin.consent import revoke
from optin.contacts import mark_all_messaged, mark_messaged
from optin.models import ConsentSource, Contact
from retargeting.channels import Channel
from retargeting.channels.base import OptOutStyle
from retargeting.channels.rooms import room
from retargeting.db import bulk
from retargeting.gateways import get_gateway, hooks
from retargeting.gateways.base import Action, Gateway, Outcome, SendResult
from retargeting.gateways.errors import AMBIGUOUS, NOT_HANDED, THROTTLED
from retargeting.sms import segments

logger = logging.getLogger(__name__)

# Waits before each retry after a transient provider error (jittered by ±20 %).
RETRY_DELAYS = (15, 60, 300, 900, 1800)
STUCK_AFTER = timedelta(minutes=10)


SEND_BATCH = 100
"""How many sends a worker claims and delivers at once."""


def deliver(*, send_id: int, gateway: Gateway | None = None) -> str:
    """Send one due reminder; return what happened (``accepted``, ``retry``, a reason…)."""
    return deliver_batch(send_ids=[send_id], gateway=gateway).get(send_id, "not_claimed")


def deliver_batch(*, send_ids: Sequence[int], gateway: Gateway | None = None) -> dict[int, str]:
    """Send those of ``send_ids`` that are due, as one batch; return what happened to each
    send claimed (``accepted``, ``retry``, a reason…); a send not claimed is left out.

    The same guarantees as one send at a time, in a number of queries that does not grow
    with the batch: the batch is claimed in one statement (planned → sending), checked
    (purchase, consent, staleness), each text is saved (committed) before the provider is
    called, then, with the batch's contacts locked, checked again (consent, purchase, the
    frequency cap counting what this batch sends as it goes, quiet hours), sent over the
    gateway's kept-alive connection, and the results are written together. Each send is marked
    as handed to the provider (one committed update) just before its call: a worker killed
    mid-batch leaves its sends in ``sending`` with their text, and the reconciler sends again
    those it had not handed over, and looks the handed one up at the provider.
    """
    now = timezone.now()
    claimed = _claim(send_ids, now=now)
    if not claimed:
        return {}
    bulk.insert(
        SendEvent,
        [
            {"send_id": pk, "status": SendStatus.SENDING, "source": "worker", "at": now}
            for pk in claimed
        ],
    )
    sends = list(
        Send.objects.select_related("site", "contact", "cart", "step__flow")
        .filter(pk__in=claimed)
        .order_by("due_at", "pk")
    )
    outcomes: dict[int, str] = {}
    moves: list[Move] = []
    expiries: dict[int, datetime] = {}
    _load_subjects(sends)
    blocked = blocked_channels(sends, ROOMS)
    for send in sends:
        move = _before_rendering(send, now=now, blocked=blocked.get(send.pk, frozenset()))
        if move is None:
            expiries[send.pk] = _expires_at(send)
        else:
            moves.append(move)
            outcomes[send.pk] = move.reason or move.status
    ready = [send for send in sends if send.pk in expiries]
    ready, emails = _render(ready, now=now, moves=moves, outcomes=outcomes)
    # The texts are committed before the provider is called (and outside the contacts' lock's
    # transaction), so a message taken by the provider can always be found again.
    advance_many(moves, source="worker")
    if ready:
        outcomes.update(
            _send_locked(
                ready,
                now=now,
                expiries=expiries,
                gateway=gateway,
                emails=emails,
                blocked=blocked,
            )
        )
    return outcomes


def _claim(send_ids: Sequence[int], *, now: datetime) -> list[int]:
    """Claim the due sends among ``send_ids`` in one statement (planned → sending), none of
    them handed to the provider yet in this claim.

    On PostgreSQL rows another worker is claiming are skipped rather than waited for; SQLite
    has one writer at a time, so its conditional update alone claims each send once."""
    ids = sorted({int(pk) for pk in send_ids})
    if not ids:
        return []
    table = connection.ops.quote_name(Send._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, updated_at = %s, "  # noqa: S608
                "handed_at = NULL "
                f"WHERE id IN (SELECT id FROM {table} WHERE id = ANY(%s) AND status = %s "
                "AND due_at <= %s FOR UPDATE SKIP LOCKED) RETURNING id",
                [SendStatus.SENDING, at, at, ids, SendStatus.PLANNED, at],
            )
        else:
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                f"UPDATE {table} SET status = %s, claimed_at = %s, updated_at = %s, "  # noqa: S608
                f"handed_at = NULL WHERE id IN ({marks}) AND status = %s AND due_at <= %s "
                "RETURNING id",
                [SendStatus.SENDING, at, at, *ids, SendStatus.PLANNED, at],
            )
        return sorted(row[0] for row in cursor.fetchall())


def _load_subjects(sends: Sequence[Send]) -> None:
    """Read the subjects of ``sends``, one query per trigger present (a cart's comes with its
    send)."""
    by_trigger: dict[str, list[Send]] = {}
    for send in sends:
        by_trigger.setdefault(send.step.flow.trigger, []).append(send)
    for group in by_trigger.values():
        room_of(group[0]).load(group)


def _refresh_subjects(sends: Sequence[Send]) -> set[int]:
    """Read again what ends the journeys of ``sends`` (one query per trigger present); return
    the sends whose subject was deleted since."""
    by_trigger: dict[str, list[Send]] = {}
    for send in sends:
        by_trigger.setdefault(send.step.flow.trigger, []).append(send)
    gone: set[int] = set()
    for group in by_trigger.values():
        gone |= room_of(group[0]).refresh(group)
    return gone


def _expires_at(send: Send) -> datetime:
    return room_of(send).expires_at(send)


def _exit_move(send: Send, reason: SendReason) -> Move:
    """The end of a send that may not go: cancelled, or dropped when the platform cannot send
    its channel (a configuration to fix, not a customer's choice)."""
    if reason == SendReason.EMAIL_NOT_CONFIGURED:
        return Move(send, SendStatus.DROPPED, reason)
    return Move(send, SendStatus.CANCELLED, reason)


def _before_rendering(
    send: Send, *, now: datetime, blocked: frozenset[str] = frozenset()
) -> Move | None:
    """Why a claimed send cannot go out as planned, as the move to make, or ``None``; the
    channel it goes by is chosen (again) here, and kept on the send once it is rendered."""
    # The subject or the consent may have changed since planning: check again now.
    found = reach(send, room_of(send), blocked=blocked)
    if found.reason:
        return _exit_move(send, found.reason)
    assert found.channel is not None
    send.channel = found.channel
    trigger = room_of(send)
    due_at = trigger.restart_at(send)
    if due_at is not None:
        # A changed cart is a new abandonment (a browser back on the shop, a new visit): the
        # same send waits the delay again.
        return Move(
            send,
            SendStatus.PLANNED,
            trigger.restart_reason,
            fields={"due_at": due_at, "planned_at": now, "claimed_at": None},
        )
    if now >= _expires_at(send):
        return Move(send, SendStatus.DROPPED, SendReason.STALE)
    return None


def _render(
    sends: list[Send], *, now: datetime, moves: list[Move], outcomes: dict[int, str]
) -> tuple[list[Send], dict[int, RenderedEmail]]:
    """Render and save the texts (and subjects) of ``sends`` not rendered yet; return those
    ready to go, and the emails' parts that are not saved (HTML, headers), rendered again for
    an email rendered before (its saved text and subject are the ones sent)."""
    fresh = [send for send in sends if not send.body]
    # A channel whose opt-out is a footer renders a message of parts (an email): its HTML and
    # headers are not saved, so it is rendered again each time it is sent.
    emails = [send for send in sends if _in_parts(send)]
    if not fresh and not emails:
        return sends, {}
    fresh_ids = {send.pk for send in fresh}
    to_render = [*fresh, *(send for send in emails if send.pk not in fresh_ids)]
    links = short_links(to_render)
    stop_links = opt_out.links_for(
        [send for send in to_render if _in_parts(send) or needs_stop_link(send.step, send.site)]
    )
    rendered, notes, failed = [], [], set()
    parts: dict[int, RenderedEmail] = {}
    for send in to_render:
        assert send.contact is not None  # a send without its contact was cancelled
        try:
            if _in_parts(send):
                email, note = render_email(
                    send, link=links[send.pk], unsubscribe=stop_links[send.pk]
                )
                parts[send.pk] = email
                body = send.body or email.text
                if send.pk in fresh_ids:
                    send.subject = email.subject
            else:
                body, note = render_body(
                    send, link=links[send.pk], stop_link=stop_links.get(send.pk)
                )
        except PoolEmpty:
            detail = "the step's pool of discount codes is empty"
            move = Move(send, SendStatus.DROPPED, SendReason.NO_DISCOUNT_CODE, detail=detail)
        except InvalidTemplate as exc:
            move = Move(send, SendStatus.FAILED, SendReason.INVALID_TEMPLATE, detail=str(exc))
        else:
            if send.pk not in fresh_ids:
                continue  # an email rendered before: only its HTML and headers were needed
            if _in_parts(send):
                send.body, send.segments, send.encoding = body, 0, ""
                send.cost = costs.estimate(segments=0, country=send.contact.region)
            else:
                counted = segments.count(body)
                send.body, send.segments, send.encoding = body, counted.segments, counted.encoding
                send.cost = costs.estimate(segments=counted.segments, country=send.contact.region)
            rendered.append(send)
            if note:
                notes.append(
                    SendEvent(
                        send=send, status=SendStatus.SENDING, source="worker", detail=note, at=now
                    )
                )
            continue
        moves.append(move)
        outcomes[send.pk] = str(move.reason)
        failed.add(send.pk)
    with transaction.atomic():
        bulk.update(Send, rendered, ["body", "segments", "encoding", "cost", "channel", "subject"])
        SendEvent.objects.bulk_create(notes)
    return [send for send in sends if send.pk not in failed], parts


def _send_locked(
    sends: list[Send],
    *,
    now: datetime,
    expiries: dict[int, datetime],
    gateway: Gateway | None,
    emails: dict[int, RenderedEmail],
    blocked: dict[int, frozenset[str]],
) -> dict[int, str]:
    """Check ``sends`` again with their contacts locked, send those that may go, and write
    what became of them."""
    contact_ids = sorted({send.contact_id for send in sends if send.contact_id is not None})
    outcomes: dict[int, str] = {}
    gateways = _gateways({Channel(send.channel) for send in sends}, given=gateway)
    # The marks' writer first: it must know whether the batch runs in a transaction of its
    # caller's before the contacts' lock opens one.
    with (
        _handing_marks(durable=not all(g.lists_messages for g in gateways.values())) as mark,
        _contacts_lock(contact_ids) as contacts,
    ):
        # Checked again once the contacts are locked: a STOP (or a purchase) committed since
        # the first check must stop this message; one that comes now waits for it to be sent.
        gone = _refresh_subjects(sends)
        moves: list[Move] = []
        going: list[Send] = []
        for send in sends:
            assert send.contact is not None
            if send.pk in gone:
                continue  # deleted since, and the send with it
            if send.contact.pk not in contacts:
                send.contact = None  # erased since the first check
            else:
                for name, value in zip(CONTACT_STATE, contacts[send.contact.pk], strict=True):
                    setattr(send.contact, name, value)
            reason = reach(send, room_of(send), blocked=blocked.get(send.pk, frozenset())).reason
            if reason:
                moves.append(_exit_move(send, reason))
                outcomes[send.pk] = reason
            else:
                going.append(send)
        # Counted without this batch's own sends: each is added once it is sent, so that two
        # sends of one contact in one batch obey the cap as two batches would.
        sent = recent_messages(contact_ids=contact_ids, at=now, exclude=[send.pk for send in sends])
        messaged: dict[Channel, list[int]] = {}  # the contacts the provider took a message to
        callback = gateways[Channel.SMS].status_callback_url() if Channel.SMS in gateways else ""
        crash: BaseException | None = None
        throttled: set[Channel] = set()  # once a sender's rate is spent, the rest waits apart
        opened: list[Gateway] = []
        try:
            # One connection per provider for the batch (one SMTP session for its emails).
            for channel in sorted({Channel(send.channel) for send in going}):
                opened.append(_open(gateways[channel]))
            for send in going:
                channel = Channel(send.channel)
                key = (send.site_id, send.contact_id or 0, channel)
                capped = room_of(send).capped
                move = _cap_and_hours(
                    send, sent=sent.get(key, []), now=now, expires_at=expiries[send.pk]
                )
                if move is not None:
                    moves.append(move)
                    outcomes[send.pk] = str(move.reason)
                    continue
                if channel in throttled:
                    moves.append(_throttled(send, now=now))
                    outcomes[send.pk] = SendReason.THROTTLED
                    continue
                result = _call(
                    send,
                    now=now,
                    expires_at=expiries[send.pk],
                    gateway=gateways[channel],
                    callback=callback,
                    mark=mark,
                    email=emails.get(send.pk),
                )
                if result.error_code == NOT_HANDED:
                    # Settled by the reconciler meanwhile (a batch slower than STUCK_AFTER):
                    # no longer this worker's to send, nor to record.
                    outcomes[send.pk] = "taken_back"
                elif result.error_code == THROTTLED:
                    # Each send would wait its 20 s for the rate in turn, and a batch that
                    # long outlives the reconciler's patience: the rest goes back with it.
                    throttled.add(channel)
                    moves.append(_throttled(send, now=now))
                    outcomes[send.pk] = SendReason.THROTTLED
                elif result.outcome is Outcome.ACCEPTED:
                    accepted_at = timezone.now()
                    flag = (
                        charter_flag(now, site=send.site, phone=send.contact.phone)  # type: ignore[union-attr]
                        if channel == Channel.SMS
                        else ""
                    )
                    moves.append(
                        Move(
                            send,
                            SendStatus.ACCEPTED,
                            detail=f"sent on a {flag} (af2m charter)" if flag else "",
                            fields={"provider_id": result.provider_id, "sent_at": accepted_at},
                        )
                    )
                    if capped:
                        sent.setdefault(key, []).append(accepted_at)
                    messaged.setdefault(channel, []).append(send.contact.pk)  # type: ignore[union-attr]
                    outcomes[send.pk] = "accepted"
                    logger.info("send %s accepted", send.pk)
                else:
                    # Errors are few: each is settled as one send's would be.
                    outcomes[send.pk] = _record(
                        send, result, gateway=gateways[channel], expires_at=expiries[send.pk]
                    )
        except BaseException as exc:  # raised again below, once the results are saved
            crash = exc
            # Those never handed to the provider go back at once, for the next pass; the one
            # under way (marked) is left to the reconciler, which looks it up.
            moves.extend(
                Move(
                    send,
                    SendStatus.PLANNED,
                    SendReason.INTERRUPTED,
                    detail="never handed to the provider; sent again",
                    fields={"due_at": now, "claimed_at": None},
                )
                for send in going
                if send.pk not in outcomes and send.handed_at is None
            )
        finally:
            for each in opened:
                try:
                    each.close()
                except Exception:  # the messages were taken; a failed QUIT changes nothing
                    logger.warning("closing the %s connection failed", each.name, exc_info=True)
        # What the provider took is written (and committed with the contacts' lock) even when
        # a later call of the batch raised.
        advance_many(moves, source="worker", claimed=True)
        at = timezone.now()
        mark_all_messaged(contact_ids=messaged.get(Channel.SMS, []), at=at)
        if messaged.get(Channel.EMAIL):
            _mark_emailed(contact_ids=messaged[Channel.EMAIL], at=at)
    # The sends now know their provider ids (committed): the reports a provider gave with its
    # answers (the embedded outboxes) take the path of a provider's webhook.
    for each in gateways.values():
        for report in each.take_reports():
            try:
                hooks.handle_status(report)
            except DatabaseError as exc:
                # The database went away: the others would fail alike, and the batch's own
                # error (raised below, if any) says what happened.
                logger.warning("%s's delivery reports were not applied: %s", each.name, exc)
                break
            except Exception:  # one report's failure neither loses the others nor the batch's
                logger.exception("applying %s's delivery report failed", each.name)
    if crash is not None:
        raise crash
    return outcomes


def _in_parts(send: Send) -> bool:
    """Whether ``send``'s channel sends a message of parts (subject, text, HTML, headers) whose
    opt-out is its footer and headers: an email."""
    return room(send.channel).opt_out_style is OptOutStyle.FOOTER


def _open(gateway: Gateway) -> Gateway:
    """Open the provider's connection for the batch (one SMTP session for all its emails).
    Unreachable now, each message tries on its own and is retried as a transient error is."""
    try:
        gateway.open()
    except Exception:
        logger.warning("opening the %s connection failed", gateway.name, exc_info=True)
    return gateway


def _gateways(channels: set[Channel], *, given: Gateway | None) -> dict[Channel, Gateway]:
    """The provider of each channel of a batch: ``given`` for its own channel (tests, the
    reconciler), the configured one for the others."""
    found = {Channel(given.channel): given} if given is not None else {}
    for channel in channels:
        if channel not in found:
            found[channel] = room(channel).gateway()
    return found


def _mark_emailed(*, contact_ids: list[int], at: datetime) -> None:
    """Date the last email the provider took for each contact (a later time only)."""
    Contact.objects.filter(
        Q(last_emailed_at__isnull=True) | Q(last_emailed_at__lt=at), pk__in=contact_ids
    ).update(last_emailed_at=at)


CONTACT_STATE = (
    "phone",
    "consent_status",
    "unreachable_at",
    "email",
    "email_consent_status",
    "email_unreachable_at",
)
"""What a batch reads again of its contacts under their lock: their addresses, consents and
reachability on every channel."""


@contextmanager
def _contacts_lock(
    contact_ids: list[int],
) -> Iterator[dict[int, tuple[Any, ...]]]:
    """The contacts' addresses, consents and reachability (``CONTACT_STATE``), read now. On
    PostgreSQL the contacts stay locked until the batch is written (in id order, so two batches
    never deadlock): one worker at a time decides and sends for a contact, so two workers
    cannot both pass the frequency cap. The embedded mode runs a single worker, and SQLite
    would hold its one write lock for the whole batch's provider calls."""
    rows = Contact.objects.filter(pk__in=contact_ids).order_by("pk")
    if connection.vendor != "postgresql":
        yield {pk: tuple(state) for pk, *state in rows.values_list("pk", *CONTACT_STATE)}
        return
    with transaction.atomic():
        locked = rows.select_for_update().values_list("pk", *CONTACT_STATE)
        yield {pk: tuple(state) for pk, *state in locked}


def held_until(
    send: Send, *, sent: list[datetime], now: datetime
) -> tuple[SendReason, datetime] | None:
    """Whether ``send``, due ``now``, must wait for the cap of its channel (for a trigger the
    cap counts) or for the hours that hold its trigger's messages on that channel: the reason
    and until when, or ``None`` when it may go now. ``sent``: the moments of the contact's
    counted messages of the week (``frequency.recent_messages``). The worker asks it before
    sending; the dashboard asks it of a cart not planned yet."""
    assert send.contact is not None
    trigger = room_of(send)
    cap = room(send.channel).cap_applies and trigger.capped
    capped_until = allowed_after(sent, site=send.site, at=now) if cap else now
    allowed_at = trigger.due_time(
        capped_until,
        site=send.site,
        phone=send.contact.phone,
        channel=send.channel,
        key=f"send-{send.pk}",
    )
    if allowed_at <= now:
        return None
    return (SendReason.CAPPED if capped_until > now else SendReason.QUIET_HOURS), allowed_at


def _cap_and_hours(
    send: Send, *, sent: list[datetime], now: datetime, expires_at: datetime
) -> Move | None:
    """The cap of the send's channel (for a trigger the cap counts), then the hours that hold
    the trigger's messages on that channel, at send time, whatever was planned: the move that
    defers or drops the send, or ``None`` when it may go now."""
    held = held_until(send, sent=sent, now=now)
    if held is None:
        return None
    reason, allowed_at = held
    if allowed_at >= expires_at:
        detail = f"{reason} until past the staleness limit"
        return Move(send, SendStatus.DROPPED, SendReason.STALE, detail=detail)
    return Move(
        send,
        SendStatus.PLANNED,
        reason,
        detail=f"until {allowed_at.isoformat()}",
        fields={"due_at": allowed_at, "claimed_at": None},
    )


@contextmanager
def _handing_marks(*, durable: bool) -> Iterator[Callable[[Send], bool]]:
    """What writes a send's write-ahead mark (``handed_at``), committed before it returns.

    The mark is one conditional update by primary key: it holds only while the send is still
    this claim's, so a send the reconciler took back meanwhile is neither marked nor sent. On
    PostgreSQL the batch keeps its contacts locked in a transaction while it calls the
    provider: the marks go through a connection of their own, in autocommit, which the worker
    keeps from batch to batch (``_marks_connection``). SQLite holds no transaction during the
    calls. Inside a
    transaction of the caller's (a test's) the marks join it: nothing could commit them
    earlier.

    Where the provider can list its messages, a mark is committed without waiting for the disk
    (PostgreSQL's ``synchronous_commit`` off, as SQLite's WAL with ``synchronous=NORMAL``
    already does): visible to every other process at once and kept whatever becomes of the
    worker, which is what it is for; only a crash of the database server itself within a
    fraction of a second could lose it, and the reconciler then finds the message at the
    provider before sending anything again. Waiting for the disk costs a flush per SMS (0.2
    to 5 ms on the development machine, where a message costs about 1.5 ms), paid only where
    nothing could find a lost mark's message (``durable``: a provider that cannot list its
    messages, Brevo's), since a message sent twice is worse than a slower batch."""
    apart = connection.vendor == "postgresql" and not connection.in_atomic_block
    own = _marks_connection() if apart else None
    writer = own or connection
    table = writer.ops.quote_name(Send._meta.db_table)
    sql = (
        f"UPDATE {table} SET handed_at = %s "  # noqa: S608
        "WHERE id = %s AND status = %s AND claimed_at = %s"
    )
    opened = False

    def mark(send: Send) -> bool:
        nonlocal opened
        at = timezone.now()
        try:
            with writer.cursor() as cursor:
                if own is not None and not opened:
                    cursor.execute(f"SET synchronous_commit TO {'ON' if durable else 'OFF'}")
                    opened = True
                cursor.execute(
                    sql,
                    [
                        writer.ops.adapt_datetimefield_value(at),
                        send.pk,
                        SendStatus.SENDING,
                        writer.ops.adapt_datetimefield_value(send.claimed_at),
                    ],
                )
                marked: bool = cursor.rowcount == 1
        except DatabaseError:
            if own is not None:  # broken (the server restarted): the next batch opens another
                close_marks_connection()
            raise
        if marked:
            send.handed_at = at
        return marked

    yield mark


# The marks' connection of each worker thread: opening one costs about 12 ms (password
# authentication), an eighth of a batch of 100 SMS, so it is kept from batch to batch.
_marks = threading.local()


def _marks_connection() -> BaseDatabaseWrapper:
    """This thread's connection for the write-ahead marks, to the database the default
    connection uses (a new one if that changed, as a test database does)."""
    own: BaseDatabaseWrapper | None = getattr(_marks, "connection", None)
    if own is not None and own.settings_dict["NAME"] != connection.settings_dict["NAME"]:
        close_marks_connection()
        own = None
    if own is None:
        own = connection.copy()
        _marks.connection = own
    return own


def close_marks_connection() -> None:
    """Close this thread's marks connection, if it has one (a worker ending, tests)."""
    own: BaseDatabaseWrapper | None = getattr(_marks, "connection", None)
    _marks.connection = None
    if own is not None:
        own.close()


def _call(
    send: Send,
    *,
    now: datetime,
    expires_at: datetime,
    gateway: Gateway,
    callback: str,
    mark: Callable[[Send], bool],
    email: RenderedEmail | None = None,
) -> SendResult:
    """Hand the send to the provider of its channel, within the sender's rate, once its mark
    is written (after the wait for the rate, so that a crash while waiting leaves it
    unmarked); a transient ``throttled`` or ``not_handed`` result when it was not sent."""
    assert send.contact is not None
    channel_room = room(send.channel)
    message = channel_room.outgoing(
        to=channel_room.address(send.contact),
        text=send.body,
        subject=send.subject,
        html=email.html if email else "",
        headers=email.headers if email else None,
        sender=channel_room.sender(send.site),
        status_callback=callback,
        tag=f"relance-send-{send.pk}",
        validity_seconds=max(1, int((expires_at - now).total_seconds())),
    )
    return channel_room.send(
        message,
        gateway=gateway,
        max_wait=20,
        handing=lambda: mark(send),
        segments=send.segments or None,
    )


def _throttled(send: Send, *, now: datetime) -> Move:
    """Back to planned, due again in a few seconds: the sender's shared rate had no room."""
    return Move(
        send,
        SendStatus.PLANNED,
        SendReason.THROTTLED,
        fields={"due_at": now + timedelta(seconds=5), "claimed_at": None},
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
        reason=refusal_reason(result.action, channel=send.channel),
        detail=result.reason,
        error_code=result.error_code,
    )
    apply_provider_action(
        contact_id=send.contact_id,
        action=result.action,
        error_code=result.error_code,
        channel=send.channel,
    )
    return "failed"


def apply_provider_action(
    *,
    contact_id: int | None,
    action: Action,
    error_code: str,
    message_sent_at: datetime | None = None,
    channel: str = Channel.SMS,
) -> None:
    """What a provider error about a message on ``channel`` means for the contact (none left
    once it was erased): an unsubscribed address is revoked (``optin.consent.revoke``, whose
    one guard ignores a report about a message older than the channel's latest consent
    change, dated by ``message_sent_at``: a status callback may come late, or be replayed), an
    unreachable one is marked so.
    """
    if contact_id is None:
        return
    channel_room = room(channel)
    if action is Action.REVOKE_CONSENT:
        contact = Contact.objects.get(pk=contact_id)
        email = channel_room.channel == Channel.EMAIL
        revoke(
            contact=contact,
            channel=channel_room.channel,
            source=ConsentSource.EMAIL_PROVIDER if email else ConsentSource.PROVIDER,
            text=f"The provider reported the {'address' if email else 'number'} "
            f"unsubscribed ({error_code}).",
            reported_at=message_sent_at,
        )
    elif action is Action.UNREACHABLE:
        field = channel_room.unreachable_field
        Contact.objects.filter(**{"pk": contact_id, f"{field}__isnull": True}).update(
            **{field: timezone.now()}
        )


def _found_at_provider(send: Send, gateway: Gateway, *, source: str) -> bool:
    if send.contact is None or not gateway.lists_messages:
        return False
    since = (send.claimed_at or timezone.now()) - timedelta(minutes=1)
    to = room(send.channel).address(send.contact)
    for message in gateway.recent_messages(to=to, since=since):
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
    """Settle sends left in ``sending`` (a killed worker, a timeout); return how many were
    ``resumed``, ``found`` and left ``unknown``.

    Each is looked for in the provider's messages where the provider lists them: found, it
    was sent. Otherwise a send never handed to the provider (no write-ahead mark) goes back to
    planned, due now: the next pass sends it, through every check again; a handed one is
    ``unknown``: it may have reached the customer, so it is never sent again.
    """
    gateway = gateway or get_gateway()
    counts = {"resumed": 0, "found": 0, "unknown": 0}
    others: dict[str, Gateway] = {gateway.channel: gateway}
    cutoff = timezone.now() - stuck_after
    stuck = Send.objects.filter(status=SendStatus.SENDING, claimed_at__lte=cutoff).select_related(
        "contact"
    )
    for send in stuck:
        if send.channel not in others:
            others[send.channel] = room(send.channel).gateway()
        provider = others[send.channel]
        with transaction.atomic():
            # Read again under the row's lock: a live worker's mark (a conditional update)
            # either came first, and the send is looked up, or finds the send taken back.
            row = (
                Send.objects.select_for_update()
                .filter(pk=send.pk, status=SendStatus.SENDING)
                .values_list("handed_at")
                .first()
            )
            if row is None:
                continue  # settled meanwhile
            # Looked for at the provider first, where it lists its messages: a handed send
            # found there was sent, and so was an unmarked one whose mark a crash of the
            # database server lost (marks do not wait for the disk).
            if send.body and _found_at_provider(send, provider, source="reconciler"):
                counts["found"] += 1
                continue
            if row[0] is None:  # never handed over: certainly not sent
                advance(
                    send,
                    status=SendStatus.PLANNED,
                    source="reconciler",
                    reason=SendReason.INTERRUPTED,
                    detail="never handed to the provider; sent again",
                    due_at=timezone.now(),
                    claimed_at=None,
                )
                counts["resumed"] += 1
                continue
            advance(
                send,
                status=SendStatus.UNKNOWN,
                source="reconciler",
                reason=SendReason.NOT_FOUND_AT_PROVIDER,
                detail=(
                    "handed to the provider but not found in its messages; not resent"
                    if provider.lists_messages
                    else "handed to the provider, which lists no messages; not resent"
                ),
            )
            counts["unknown"] += 1
    return counts

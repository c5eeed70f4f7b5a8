"""A contact's consent: the one place that writes it and the one place that reads it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from optin.erasure import is_blocked
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel

LIVE_STATUSES = frozenset({ConsentStatus.GRANTED, ConsentStatus.CONFIRMED})

STALE_AFTER = timedelta(seconds=1)
"""The one guard against stale provider reports (``revoke``): a report is stale when the
channel's latest consent change is at least this much later than the report's date. Providers
date their events to the whole second, so a change within the same second as the opt-out is not
taken as later than it: the opt-out wins (stopping is the safe side)."""


class ConsentBlocked(Exception):
    """The number was erased after it said STOP: it can never consent again."""


STATUS_FIELD = {Channel.SMS: "consent_status", Channel.EMAIL: "email_consent_status"}
"""The contact's column that copies each channel's latest consent row."""

FIRST_LIVE_FIELD = {
    Channel.SMS: "first_consented_at",
    Channel.EMAIL: "email_first_consented_at",
}
"""The contact's column that keeps when each channel's consent first went live (granted or
confirmed): written once, with the row that made it live, never reset (a welcome greets a new
subscriber once, not one who said STOP then START)."""


def status_of(contact: Contact, channel: str) -> str:
    """The contact's current consent state for ``channel`` (its copied column)."""
    return str(getattr(contact, STATUS_FIELD[Channel(channel)]))


def current_status(*, contact: Contact, channel: str = Channel.SMS) -> str:
    """The contact's consent state for ``channel`` as its history says: its latest row, or
    ``"none"``."""
    latest = (
        contact.consents.filter(channel=channel)
        .order_by("-created_at", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return latest or Contact.NO_CONSENT


def is_live(*, status: str) -> bool:
    """Whether a consent state allows marketing messages."""
    return status in LIVE_STATUSES


def record_consent(
    *,
    contact: Contact,
    status: ConsentStatus,
    source: str,
    text: str = "",
    ip: str | None = None,
    user_agent: str = "",
    inbound_message_id: str = "",
    at: datetime | None = None,
    only_from: Collection[str] | None = None,
    channel: str = Channel.SMS,
    recorded_by: str = "",
    reason: str = "",
) -> Consent | None:
    """Append a consent change for ``contact``'s address on ``channel`` (its phone for SMS, its
    email address for email) and make it that channel's current state.

    With ``only_from``, the change is made only if the contact is in one of those states once
    its row is locked, and None is returned otherwise: of two changes racing (an OUI and a STOP
    answered a second apart), the later sees what the earlier did.
    Raises ``ConsentBlocked`` for consent to a number erased after a STOP.
    A confirmation by the owner makes a claimed first name (``gate``) the contact's.
    The first change that makes the channel live is kept as the moment the contact subscribed
    on it (``FIRST_LIVE_FIELD``, the welcome's moment).
    ``recorded_by`` and ``reason``: who recorded a change by hand, and why (the dashboard's
    unsubscribe).
    """
    field = STATUS_FIELD[Channel(channel)]
    if status != ConsentStatus.REVOKED and _blocked(contact, channel):
        raise ConsentBlocked(f"{contact} opted out before it was erased")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if only_from is not None and getattr(locked, field) not in only_from:
            setattr(contact, field, getattr(locked, field))
            return None
        row = Consent.objects.create(
            contact=locked,
            channel=channel,
            status=status,
            source=source,
            text=text,
            ip=ip,
            user_agent=user_agent[:512],
            inbound_message_id=inbound_message_id,
            recorded_by=recorded_by[:150],
            reason=reason,
            created_at=at or timezone.now(),
        )
        changes: dict[str, object] = {field: status}
        first_live = FIRST_LIVE_FIELD[Channel(channel)]
        if status in LIVE_STATUSES and getattr(locked, first_live) is None:
            changes[first_live] = row.created_at
            setattr(contact, first_live, row.created_at)
        if status == ConsentStatus.CONFIRMED and locked.claimed_first_name:
            # The owner answered our message: the first name typed with the number is theirs.
            if not locked.first_name:
                changes["first_name"] = contact.first_name = locked.claimed_first_name
            changes["claimed_first_name"] = contact.claimed_first_name = ""
        Contact.objects.filter(pk=locked.pk).update(**changes)
    setattr(contact, field, status)
    return row


def _blocked(contact: Contact, channel: str) -> bool:
    if channel == Channel.EMAIL:
        return bool(contact.email) and is_blocked(site_id=contact.site_id, email=contact.email)
    return bool(contact.phone) and is_blocked(site_id=contact.site_id, e164=contact.phone)


def _latest_change(contact: Contact, channel: str) -> datetime | None:
    return (
        Consent.objects.filter(contact_id=contact.pk, channel=channel)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )


def is_stale(*, reported_at: datetime, latest_change: datetime | None) -> bool:
    """Whether a provider's opt-out dated ``reported_at`` is older than the consent it would
    revoke (``STALE_AFTER``): it then says nothing about the consent the address has now."""
    return latest_change is not None and latest_change - reported_at >= STALE_AFTER


def revoke(
    *,
    contact: Contact,
    channel: str,
    source: str,
    text: str = "",
    ip: str | None = None,
    user_agent: str = "",
    inbound_message_id: str = "",
    at: datetime | None = None,
    reported_at: datetime | None = None,
    recorded_by: str = "",
    reason: str = "",
) -> Consent | None:
    """Revoke ``contact``'s consent on ``channel`` (its number for SMS, its address for email):
    the one action every STOP, unsubscribe, provider report, bounce-as-unsubscribe, the gate's
    honoured withdrawals and erasure take. Returns the new row (the proof: source, wording,
    address, user agent, the provider's or the reply's id), or None when nothing changed
    (already revoked, or a stale report).

    ``reported_at``: when the provider dated the opt-out it reports (a webhook, its events list,
    a status callback about an older message). A report older than the channel's latest consent
    change by ``STALE_AFTER`` or more (a START, a new opt-in since) is not applied (``is_stale``);
    one applied is dated when the provider says it happened (never in the future, never before
    the change it follows, so the history stays in order). Without it (a STOP or a click
    received now) the revocation is dated ``at`` or now. Any other channel is left as it is.
    """
    channel = Channel(channel)
    if status_of(contact, channel) == ConsentStatus.REVOKED:
        return None
    if reported_at is not None:
        reported_at = min(reported_at, timezone.now())
        latest = _latest_change(contact, channel)
        if is_stale(reported_at=reported_at, latest_change=latest):
            return None
        at = max(reported_at, latest) if latest is not None else reported_at
    return record_consent(
        contact=contact,
        status=ConsentStatus.REVOKED,
        source=source,
        text=text,
        ip=ip,
        user_agent=user_agent,
        inbound_message_id=inbound_message_id[:64],
        at=at,
        channel=channel,
        recorded_by=recorded_by,
        reason=reason,
        # Decided on the locked row: of two revocations racing, one writes the row.
        only_from={Contact.NO_CONSENT, *(s for s in ConsentStatus.values if s != "revoked")},
    )


REASON_MAX = 500


class HandUnsubscribeRefused(ValueError):
    """A hand unsubscribe without a reason, or for a channel the contact has no address on:
    nothing was recorded."""


def unsubscribe_by_hand(
    *,
    contact: Contact,
    channels: Collection[str],
    user_name: str,
    reason: str,
    at: datetime | None = None,
) -> list[Consent]:
    """A member of the shop revokes ``contact``'s consent on ``channels`` (SMS, email or both),
    at the person's request: one revocation per channel (``revoke``), with who (``user_name``),
    when and why (``reason``, required). The planned messages are then dropped when they come
    due, as after a STOP (the sending path reads the consent again). Returns the rows written
    (none for a channel already revoked). Giving consent back is never done by hand: only the
    person can (a START, a new opt-in and its confirmation).

    Raises ``HandUnsubscribeRefused`` (nothing recorded) without a reason, without a channel,
    or for a channel the contact has no address on."""
    reason = reason.strip()
    if not reason:
        raise HandUnsubscribeRefused("A reason is required.")
    if len(reason) > REASON_MAX:
        raise HandUnsubscribeRefused(f"The reason is longer than {REASON_MAX} characters.")
    chosen = [Channel(channel) for channel in dict.fromkeys(channels)]
    if not chosen:
        raise HandUnsubscribeRefused("Choose a channel.")
    for channel in chosen:
        address = contact.phone if channel == Channel.SMS else contact.email
        if not address:
            raise HandUnsubscribeRefused(f"The contact has no address for {channel}.")
    rows = []
    with transaction.atomic():
        for channel in chosen:
            row = revoke(
                contact=contact,
                channel=channel,
                source=ConsentSource.DASHBOARD,  # no wording was shown: the reason says why
                at=at,
                recorded_by=user_name,
                reason=reason,
            )
            if row is not None:
                rows.append(row)
    return rows

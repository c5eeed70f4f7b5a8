"""A contact's consent: the one place that writes it and the one place that reads it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from optin.erasure import is_blocked
from optin.models import Consent, ConsentStatus, Contact
from retargeting.channels import Channel

LIVE_STATUSES = frozenset({ConsentStatus.GRANTED, ConsentStatus.CONFIRMED})


class ConsentBlocked(Exception):
    """The number was erased after it said STOP: it can never consent again."""


STATUS_FIELD = {Channel.SMS: "consent_status", Channel.EMAIL: "email_consent_status"}
"""The contact's column that copies each channel's latest consent row."""


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
) -> Consent | None:
    """Append a consent change for ``contact``'s address on ``channel`` (its phone for SMS, its
    email address for email) and make it that channel's current state.

    With ``only_from``, the change is made only if the contact is in one of those states once
    its row is locked, and None is returned otherwise: of two changes racing (an OUI and a STOP
    answered a second apart), the later sees what the earlier did.
    Raises ``ConsentBlocked`` for consent to a number erased after a STOP.
    A confirmation by the owner makes a claimed first name (``gate``) the contact's.
    """
    field = STATUS_FIELD[Channel(channel)]
    if (
        status != ConsentStatus.REVOKED
        and channel == Channel.SMS
        and is_blocked(site_id=contact.site_id, e164=contact.phone)
    ):
        raise ConsentBlocked(f"{contact} said STOP before it was erased")
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
            created_at=at or timezone.now(),
        )
        changes: dict[str, str] = {field: status}
        if status == ConsentStatus.CONFIRMED and locked.claimed_first_name:
            # The owner answered our message: the first name typed with the number is theirs.
            if not locked.first_name:
                changes["first_name"] = contact.first_name = locked.claimed_first_name
            changes["claimed_first_name"] = contact.claimed_first_name = ""
        Contact.objects.filter(pk=locked.pk).update(**changes)
    setattr(contact, field, status)
    return row


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
) -> Consent | None:
    """Revoke ``contact``'s consent on ``channel``: the one action every STOP, unsubscribe,
    provider report, bounce-as-unsubscribe and erasure takes. Returns the new row, or None when
    nothing changed (already revoked, or a stale report).

    ``reported_at``: when the provider dated the opt-out it reports (a webhook, its events list,
    a status callback about an older message). A report older than the channel's latest consent
    change (a START, a new opt-in since) says nothing about the consent the address has now and
    is not applied.
    """
    # (First version: the one guard is being unified with the provider reports'.)
    if status_of(contact, channel) == ConsentStatus.REVOKED:
        return None
    if reported_at is not None:
        latest = (
            contact.consents.filter(channel=channel)
            .order_by("-created_at", "-id")
            .values_list("created_at", flat=True)
            .first()
        )
        if latest is not None and latest > reported_at:
            return None
    return record_consent(
        contact=contact,
        status=ConsentStatus.REVOKED,
        source=source,
        text=text,
        ip=ip,
        user_agent=user_agent,
        inbound_message_id=inbound_message_id,
        at=at,
        channel=channel,
    )

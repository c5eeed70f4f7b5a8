"""A contact's consent: the one place that writes it and the one place that reads it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from optin.erasure import is_blocked
from optin.models import Consent, ConsentStatus, Contact

LIVE_STATUSES = frozenset({ConsentStatus.GRANTED, ConsentStatus.CONFIRMED})


class ConsentBlocked(Exception):
    """The number was erased after it said STOP: it can never consent again."""


def current_status(*, contact: Contact) -> str:
    """The contact's consent state as its history says: its latest row, or ``"none"``."""
    latest = (
        contact.consents.order_by("-created_at", "-id").values_list("status", flat=True).first()
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
) -> Consent | None:
    """Append a consent change for ``contact`` and make it the contact's current state.

    With ``only_from``, the change is made only if the contact is in one of those states once
    its row is locked, and None is returned otherwise: of two changes racing (an OUI and a STOP
    answered a second apart), the later sees what the earlier did.
    Raises ``ConsentBlocked`` for consent to a number erased after a STOP.
    A confirmation by the owner makes a claimed first name (``gate``) the contact's.
    """
    if status != ConsentStatus.REVOKED and is_blocked(site_id=contact.site_id, e164=contact.phone):
        raise ConsentBlocked(f"{contact} said STOP before it was erased")
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        if only_from is not None and locked.consent_status not in only_from:
            contact.consent_status = locked.consent_status
            return None
        row = Consent.objects.create(
            contact=locked,
            status=status,
            source=source,
            text=text,
            ip=ip,
            user_agent=user_agent[:512],
            inbound_message_id=inbound_message_id,
            created_at=at or timezone.now(),
        )
        changes: dict[str, str] = {"consent_status": status}
        if status == ConsentStatus.CONFIRMED and locked.claimed_first_name:
            # The owner answered our message: the first name typed with the number is theirs.
            if not locked.first_name:
                changes["first_name"] = contact.first_name = locked.claimed_first_name
            changes["claimed_first_name"] = contact.claimed_first_name = ""
        Contact.objects.filter(pk=locked.pk).update(**changes)
    contact.consent_status = status
    return row

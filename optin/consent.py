"""A contact's consent: the one place that writes it and the one place that reads it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from optin.models import Consent, ConsentStatus, Contact

LIVE_STATUSES = frozenset({ConsentStatus.GRANTED, ConsentStatus.CONFIRMED})


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
) -> Consent:
    """Append a consent change for ``contact`` and make it the contact's current state."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        row = Consent.objects.create(
            contact=locked,
            status=status,
            source=source,
            text=text,
            ip=ip,
            user_agent=user_agent[:512],
            inbound_message_id=inbound_message_id,
            created_at=timezone.now(),
        )
        Contact.objects.filter(pk=locked.pk).update(consent_status=status)
    contact.consent_status = status
    return row

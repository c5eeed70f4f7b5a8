"""A Django email backend that keeps each message in the database (``OutboxEmail``)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage as ParsedMessage

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from retargeting.gateways.email_framework import provider_id_of
from retargeting.gateways.models import OutboxEmail


def keep(message: EmailMessage) -> OutboxEmail:
    """Store ``message`` as a mail client would read it (headers decoded, both parts)."""
    parsed = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, ParsedMessage)
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    return OutboxEmail.objects.create(
        message_id=provider_id_of(str(parsed["Message-ID"] or "")) or "",
        sender=str(parsed["From"] or "")[:320],
        to=", ".join(message.recipients())[:2000],
        subject=str(parsed["Subject"] or "")[:998],
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        headers=[[name, str(value)] for name, value in parsed.items()],
        created_at=timezone.now(),
    )


class EmailBackend(BaseEmailBackend):
    """``EMAIL_BACKEND`` of the email outbox: nothing leaves the machine."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            keep(message)
        return len(email_messages)

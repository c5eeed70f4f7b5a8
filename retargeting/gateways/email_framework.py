"""What every email provider shares: email through Django's email framework.

Each provider is a gateway over the connection of Django's ``EMAIL_BACKEND`` (which its
settings check chose: the outbox's, SMTP's, an anymail provider's), so Django's own emails
(a member's password reset) leave by the same road. One gateway object keeps its connection
open between :meth:`open` and :meth:`close`, so a batch of emails goes over one SMTP session
(one HTTP session for an API). A provider says what its errors mean in :meth:`outcome_of`.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import mail

from retargeting.gateways.base import (
    Action,
    Gateway,
    Outcome,
    OutgoingEmail,
    ProviderMessage,
    SendResult,
)

# Error codes of email providers (the shared ones, timeout and connection, mean "perhaps
# sent": errors.AMBIGUOUS).
UNAVAILABLE = "unavailable"
"""The provider could not be reached or refused the session: certainly not sent."""
UNREACHABLE = "addr_unreachable"
"""The address does not exist or takes no mail (550 5.1.1, a hard bounce)."""
DEFERRED = "email_deferred"
"""The provider said "later" (4xx)."""
REFUSED = "email_refused"
"""The provider refused the message itself for good (5xx that is not about the address)."""
UNAVAILABLE_CHANNEL = "email_off"
"""No email provider is configured: the email channel is off."""

ERROR_ACTIONS: dict[str, Action] = {
    UNREACHABLE: Action.UNREACHABLE,  # refused at once: 550 5.1.1, a rejected address
    DEFERRED: Action.RETRY,  # 4xx: the server said later
    UNAVAILABLE: Action.RETRY,  # no session with the provider: certainly not sent
    REFUSED: Action.FAIL,  # the message refused for good (a policy, the content)
}
"""The error table every email provider shares (``retargeting.gateways.errors``); a provider
with codes of its own extends it (``anymail/errors.py``)."""


def message_id_for(sender: str) -> str:
    """A Message-ID on the sender's domain, short enough to be a send's provider id."""
    return f"<{uuid.uuid4().hex}@{_domain_of(sender)[:30]}>"


def provider_id_of(message_id: str) -> str:
    """A Message-ID as a provider id: without its angle brackets (as webhooks give it)."""
    return message_id.strip().strip("<>")[:64]


def _domain_of(sender: str) -> str:
    address = sender.rpartition("<")[2].rstrip(">").strip()
    domain = address.rpartition("@")[2] or "localhost"
    try:
        return domain.encode("idna").decode("ascii")  # a header is ASCII
    except UnicodeError:
        return "localhost"


class EmailGateway(Gateway):
    """An email provider over Django's email framework (subclasses: one per provider)."""

    name = "email"
    channel = "email"
    error_actions = ERROR_ACTIONS

    def __init__(self) -> None:
        self._connection: Any = None

    def open(self) -> None:
        """Open the session for a batch. A provider that cannot be reached now is not an
        error here: each :meth:`send` then tries again and says what became of its message."""
        if self._connection is None:
            try:
                self._connect()
            except Exception:
                self._connection = None

    def _connect(self) -> None:
        connection = mail.get_connection(fail_silently=False)
        try:
            connection.open()
        except Exception:
            with contextlib.suppress(Exception):  # a half-open session (after TLS, before login)
                connection.close()
            raise
        self._connection = connection

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            # The session is over whatever QUIT answers.
            with contextlib.suppress(Exception):
                connection.close()

    def default_sender(self) -> str:
        return str(settings.DEFAULT_FROM_EMAIL)

    def sender_receives_replies(self, sender: str) -> bool:
        return False

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return []

    def build(self, email: OutgoingEmail) -> mail.EmailMultiAlternatives:
        sender = email.sender or self.default_sender()
        message = mail.EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=sender,
            to=[email.to],
            headers={"Message-ID": message_id_for(sender), **email.headers},
        )
        if email.html:
            message.attach_alternative(email.html, "text/html")
        if email.tag:
            message.tags = [email.tag]  # type: ignore[attr-defined]  # anymail reads it
        return message

    def send(self, sms: OutgoingEmail) -> SendResult:
        message = self.build(sms)
        opened_here = self._connection is None
        try:
            if opened_here:
                self._connect()
            message.connection = self._connection
            message.send()
        except Exception as exc:
            result = self.outcome_of(exc, message)
            if result is None:
                raise
            if result.outcome is not Outcome.PERMANENT or opened_here:
                # A broken or refused session is not reused; the next message opens another.
                self.close()
            return result
        finally:
            if opened_here:
                self.close()
        return self.accepted(message)

    def accepted(self, message: mail.EmailMultiAlternatives) -> SendResult:
        """The result of a message the provider took (its Message-ID as provider id)."""
        return SendResult(
            Outcome.ACCEPTED,
            provider_id=provider_id_of(str(message.extra_headers.get("Message-ID", ""))),
        )

    def outcome_of(self, exc: Exception, message: mail.EmailMessage) -> SendResult | None:
        """What ``exc`` raised while sending means; None: not the provider's (raised)."""
        if isinstance(exc, OSError):
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        return None


class UnavailableGateway(EmailGateway):
    """No email provider (DEBUG off, none configured): every message is refused, nothing
    leaves. The engine asks ``email_available()`` first and never plans one."""

    name = "none"

    def open(self) -> None:
        pass

    def send(self, sms: OutgoingEmail) -> SendResult:
        return SendResult(
            Outcome.PERMANENT,
            error_code=UNAVAILABLE_CHANNEL,
            reason="no email provider is configured (EMAIL_URL or EMAIL_PROVIDER)",
            action=Action.FAIL,
        )

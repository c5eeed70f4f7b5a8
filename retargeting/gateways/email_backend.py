"""Email through Django's email framework: the connection ``EMAIL_BACKEND`` names (SMTP from
``EMAIL_URL``, a provider through django-anymail, or messages kept on the machine).

One gateway object keeps its connection open between :meth:`open` and :meth:`close`, so a
batch of emails goes over one SMTP session.
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.utils import make_msgid
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
from retargeting.gateways.errors import CONNECTION


class EmailGateway(Gateway):
    name = "email"
    channel = "email"

    def __init__(self) -> None:
        self._connection: Any = None

    def open(self) -> None:
        if self._connection is None:
            connection = mail.get_connection(fail_silently=False)
            connection.open()  # kept only once open: a failed open leaves no half session
            self._connection = connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def default_sender(self) -> str:
        return str(settings.DEFAULT_FROM_EMAIL)

    def sender_receives_replies(self, sender: str) -> bool:
        return False

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return []

    def send(self, sms: OutgoingEmail) -> SendResult:
        email = sms
        message_id = make_msgid(domain=_domain_of(email.sender or self.default_sender()))
        message = mail.EmailMultiAlternatives(
            subject=email.subject,
            body=email.text,
            from_email=email.sender or self.default_sender(),
            to=[email.to],
            headers={"Message-ID": message_id, **email.headers},
        )
        if email.html:
            message.attach_alternative(email.html, "text/html")
        opened_here = self._connection is None
        if opened_here:
            try:
                self.open()
            except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                # No session: certainly not sent.
                self._connection = None
                return SendResult(
                    Outcome.TRANSIENT,
                    error_code="smtp_error",
                    reason=str(exc)[:255],
                    action=Action.RETRY,
                )
        try:
            message.connection = self._connection
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult(
                Outcome.PERMANENT,
                error_code="rcpt_refused",
                reason=str(exc)[:255],
                action=Action.UNREACHABLE,
            )
        except smtplib.SMTPResponseException as exc:
            # The server answered with a refusal (451 at DATA…): not taken, safe to retry.
            self.close()
            return SendResult(
                Outcome.TRANSIENT,
                error_code="smtp_error",
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            # The session broke without an answer: the server may have taken the message (the
            # answer to its data lost). Ambiguous: never sent again blindly.
            self.close()
            return SendResult(
                Outcome.TRANSIENT,
                error_code=CONNECTION,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        finally:
            if opened_here:
                self.close()
        return SendResult(Outcome.ACCEPTED, provider_id=message_id.strip("<>")[:64])


def _domain_of(sender: str) -> str:
    address = sender.rpartition("<")[2].rstrip(">").strip()
    return address.rpartition("@")[2] or "localhost"

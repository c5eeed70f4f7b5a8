"""The SMTP provider: each message's fate read from the server's answers.

- 250 after the data: accepted, the Message-ID (ours) as provider id;
- 5xx to the recipient (5.1.x bad address, 5.2.1 disabled, or a bare 550): permanent, the
  address unreachable; another 5xx (a policy or the message refused): permanent, the contact
  left as it is; 4xx anywhere: transient, try again later;
- no session (refused, timed out before the data, failed login or STARTTLS): transient,
  certainly not sent;
- the connection lost or timed out after the data went out: perhaps delivered (the shared
  ambiguous codes): the engine never sends it again blindly.
"""

from __future__ import annotations

import re
import smtplib

from django.core import mail

from retargeting.gateways.base import Action, Outcome, SendResult
from retargeting.gateways.email_framework import (
    DEFERRED,
    REFUSED,
    UNAVAILABLE,
    UNREACHABLE,
    EmailGateway,
)
from retargeting.gateways.errors import connection_lost, timed_out

# Enhanced status codes (RFC 3463) that say the address itself is wrong or closed.
_ADDRESS_STATUS = re.compile(r"^5\.(1\.\d+|2\.1)\b")


def _text(reply: object) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _refusal(code: int, reply: object, *, about_address: bool) -> SendResult:
    text = _text(reply)
    reason = f"{code} {text}"[:255]
    if 400 <= code < 500:
        return SendResult(
            Outcome.TRANSIENT, error_code=DEFERRED, reason=reason, action=Action.RETRY
        )
    bare_550 = code == 550 and not re.match(r"^\d\.\d+\.\d+", text)
    if about_address and (bare_550 or _ADDRESS_STATUS.match(text)):
        return SendResult(
            Outcome.PERMANENT, error_code=UNREACHABLE, reason=reason, action=Action.UNREACHABLE
        )
    return SendResult(Outcome.PERMANENT, error_code=REFUSED, reason=reason, action=Action.FAIL)


class SmtpGateway(EmailGateway):
    name = "smtp"

    def outcome_of(self, exc: Exception, message: mail.EmailMessage) -> SendResult | None:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(exc.recipients.values()))
            return _refusal(code, reply, about_address=True)
        if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
            return _refusal(exc.smtp_code, exc.smtp_error, about_address=False)
        if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        if isinstance(exc, OSError):  # smtplib's errors are OSErrors too
            data_sent = getattr(self._connection, "data_sent", None)
            if data_sent is None:  # a backend that cannot tell: perhaps, once connected
                data_sent = getattr(self._connection, "connection", None) is not None
            if data_sent:
                return timed_out() if isinstance(exc, TimeoutError) else connection_lost(exc)
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        return None

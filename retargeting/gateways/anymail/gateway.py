"""An email provider's API through django-anymail: what its answers and errors mean.

- accepted: the provider's own message id (``anymail_status.message_id``) as provider id, the
  one its tracking webhooks name;
- an address it rejects or finds invalid: permanent, unreachable;
- HTTP 429 or 5xx: transient; another HTTP error: the provider's error table (errors.py);
- no connection, or a connect timeout: transient, certainly not sent; the connection lost or
  a read timeout once the request went out: perhaps sent (the shared ambiguous codes).
"""

from __future__ import annotations

from typing import Any

import requests
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from django.core import mail
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from retargeting.gateways.anymail.errors import ERROR_ACTIONS
from retargeting.gateways.base import Action, Outcome, OutgoingEmail, SendResult
from retargeting.gateways.email_framework import REFUSED, UNAVAILABLE, UNREACHABLE, EmailGateway
from retargeting.gateways.errors import connection_lost, error_result, timed_out

REFUSED_STATUSES = frozenset({"rejected", "invalid"})


def _never_left(cause: BaseException | None) -> bool:
    """Whether ``cause`` (requests' error) failed before the request reached the provider."""
    if isinstance(cause, requests.ConnectTimeout):
        return True
    if isinstance(cause, requests.ConnectionError) and cause.args:
        reason = getattr(cause.args[0], "reason", cause.args[0])
        return isinstance(cause.args[0], MaxRetryError) and isinstance(
            reason, NewConnectionError | ConnectTimeoutError
        )
    return False


def _error_code(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code") or "")[:64] if isinstance(body, dict) else ""


class AnymailGateway(EmailGateway):
    error_actions = ERROR_ACTIONS
    reports_delivery = True  # the provider's tracking webhook (anymail/tracking.py)

    def build(self, email: OutgoingEmail) -> mail.EmailMultiAlternatives:
        message = super().build(email)
        # The provider names its messages itself (the id its webhooks give back).
        del message.extra_headers["Message-ID"]
        return message

    def accepted(self, message: mail.EmailMultiAlternatives) -> SendResult:
        status = getattr(message, "anymail_status", None)
        recipients = getattr(status, "recipients", {}) or {}
        refused = [r for r in recipients.values() if r.status in REFUSED_STATUSES]
        if refused and len(refused) == len(recipients):
            return self._unreachable(f"the provider {refused[0].status} the address")
        provider_id = str(getattr(status, "message_id", "") or "")
        if not provider_id:
            return super().accepted(message)
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id.strip().strip("<>")[:64])

    @staticmethod
    def _unreachable(reason: str) -> SendResult:
        return SendResult(
            Outcome.PERMANENT,
            error_code=UNREACHABLE,
            reason=reason[:255],
            action=Action.UNREACHABLE,
        )

    def outcome_of(self, exc: Exception, message: mail.EmailMessage) -> SendResult | None:
        if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
            return self._unreachable(str(exc).splitlines()[0] if str(exc) else "refused")
        if isinstance(exc, AnymailRequestsAPIError):
            response = exc.response
            if response is not None:
                reason = f"HTTP {response.status_code} {response.text[:200]}"
                return error_result(
                    _error_code(response), response.status_code, reason, table=self.error_actions
                )
            cause = exc.__cause__
            if _never_left(cause):
                return SendResult(
                    Outcome.TRANSIENT,
                    error_code=UNAVAILABLE,
                    reason=str(cause)[:255],
                    action=Action.RETRY,
                )
            if isinstance(cause, requests.Timeout):
                return timed_out()
            return connection_lost(cause if isinstance(cause, Exception) else exc)
        if isinstance(exc, AnymailAPIError):
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        if isinstance(exc, AnymailError):
            # Refused before any request (a feature the provider lacks, such as a non-ASCII
            # header at Brevo): the same message would be refused again.
            return SendResult(
                Outcome.PERMANENT, error_code=REFUSED, reason=str(exc)[:255], action=Action.FAIL
            )
        return super().outcome_of(exc, message)

"""The email outbox: messages kept on the machine (``/dev/mail/``), delivered at once.

A kept message counts as delivered: its report is kept (``take_reports``) and the sender hands
it to the status hooks once the send is recorded, as a provider's webhook would reach them.
It lists the messages it kept, so a send whose answer was lost is found there rather than
sent again.
"""

from __future__ import annotations

from datetime import datetime

from django.core import mail
from django.db import DatabaseError

from retargeting.gateways.base import (
    Action,
    Delivery,
    Outcome,
    ProviderMessage,
    SendResult,
    StatusReport,
)
from retargeting.gateways.email_framework import UNAVAILABLE, EmailGateway
from retargeting.gateways.models import OutboxEmail


class EmailOutboxGateway(EmailGateway):
    name = "outbox"
    lists_messages = True
    stays_on_machine = True
    reports_delivery = True

    def take_reports(self) -> list[StatusReport]:
        reports: list[StatusReport] = getattr(self, "_reports", [])
        self._reports: list[StatusReport] = []
        return reports

    def outcome_of(self, exc: Exception, message: mail.EmailMessage) -> SendResult | None:
        if isinstance(exc, DatabaseError):
            # Not stored, so certainly not sent: the provider is down, try again.
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        return super().outcome_of(exc, message)

    def accepted(self, message: mail.EmailMultiAlternatives) -> SendResult:
        result = super().accepted(message)
        report = StatusReport(
            provider_id=result.provider_id, delivery=Delivery.DELIVERED, provider_status="kept"
        )
        self._reports = [*getattr(self, "_reports", []), report]
        return result

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(m.message_id[:64], m.to, m.text, Delivery.DELIVERED, m.created_at)
            for m in OutboxEmail.objects.filter(to=to, created_at__gte=since)
        ]

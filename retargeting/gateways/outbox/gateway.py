"""The ``outbox`` provider's gateway: messages are stored and shown on the phone simulator.

Nothing leaves the machine. A stored message counts as delivered at once: its report is
kept (:meth:`OutboxGateway.take_reports`) and the sender hands it to the status hooks once
the send is recorded, the path a provider's callback takes (before, the report went out at
the commit of the outbox's own row, before the send knew its provider id on SQLite, and
every demo message stayed "accepted"). It refuses what every
provider refuses, a number that cannot receive SMS (a landline), so the embedded mode shows
that path too; a database that cannot store the message is a provider down (try again).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from retargeting.gateways.base import (
    Action,
    Delivery,
    Gateway,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    StatusReport,
)
from retargeting.gateways.models import OutboxMessage
from retargeting.sms.phones import InvalidPhone, parse_phone

UNAVAILABLE = "outbox_down"
"""The outbox could not store the message: not stored, so certainly not sent."""


class OutboxGateway(Gateway):
    name = "outbox"
    lists_messages = True
    receives_replies = True  # the phone simulator answers any sender, alphanumeric or not
    stays_on_machine = True
    reports_delivery = True

    def take_reports(self) -> list[StatusReport]:
        reports: list[StatusReport] = getattr(self, "_reports", [])
        self._reports: list[StatusReport] = []
        return reports

    def send(self, sms: OutgoingSms) -> SendResult:
        try:
            parse_phone(sms.to, default_region="FR")
        except InvalidPhone as exc:
            return SendResult(
                Outcome.PERMANENT,
                error_code=exc.code.value,
                reason=str(exc)[:255],
                action=Action.UNREACHABLE,
            )
        provider_id = "OB" + uuid.uuid4().hex
        try:
            with transaction.atomic():
                OutboxMessage.objects.create(
                    provider_id=provider_id,
                    sender=sms.sender,
                    to=sms.to,
                    body=sms.body,
                    status_callback=sms.status_callback,
                    validity_seconds=sms.validity_seconds,
                    created_at=timezone.now(),
                )
        except DatabaseError as exc:
            return SendResult(
                Outcome.TRANSIENT,
                error_code=UNAVAILABLE,
                reason=str(exc)[:255],
                action=Action.RETRY,
            )
        report = StatusReport(
            provider_id=provider_id, delivery=Delivery.DELIVERED, provider_status="delivered"
        )
        self._reports = [*getattr(self, "_reports", []), report]
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id)

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(m.provider_id, m.to, m.body, Delivery.DELIVERED, m.created_at)
            for m in OutboxMessage.objects.filter(to=to, created_at__gte=since)
        ]

"""The ``outbox`` provider's gateway: messages are stored and shown on the phone simulator.

Nothing leaves the machine. A stored message counts as delivered at once: the status
handlers are told so after the commit, as a provider's callback would. It refuses what every
provider refuses, a number that cannot receive SMS (a landline), so the embedded mode shows
that path too; a database that cannot store the message is a provider down (try again).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from retargeting.gateways import hooks
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
        transaction.on_commit(lambda: hooks.handle_status(report))
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id)

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(m.provider_id, m.to, m.body, Delivery.DELIVERED, m.created_at)
            for m in OutboxMessage.objects.filter(to=to, created_at__gte=since)
        ]

"""The ``outbox`` backend: messages are stored and shown on the phone simulator.

Nothing leaves the machine. A stored message counts as delivered at once: the status
handlers are told so after the commit, as a provider's callback would.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from retargeting.gateways import hooks
from retargeting.gateways.base import (
    Delivery,
    Gateway,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    StatusReport,
)
from retargeting.gateways.models import OutboxMessage


class OutboxGateway(Gateway):
    name = "outbox"
    lists_messages = True

    def send(self, sms: OutgoingSms) -> SendResult:
        provider_id = "OB" + uuid.uuid4().hex
        OutboxMessage.objects.create(
            provider_id=provider_id,
            sender=sms.sender,
            to=sms.to,
            body=sms.body,
            status_callback=sms.status_callback,
            validity_seconds=sms.validity_seconds,
            created_at=timezone.now(),
        )
        report = StatusReport(
            provider_id=provider_id, delivery=Delivery.DELIVERED, provider_status="delivered"
        )
        transaction.on_commit(lambda: hooks.handle_status(report))
        return SendResult(Outcome.ACCEPTED, provider_id=provider_id)

    def sender_receives_replies(self, sender: str) -> bool:
        # The phone simulator answers any sender, alphanumeric or not.
        return True

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(m.provider_id, m.to, m.body, Delivery.DELIVERED, m.created_at)
            for m in OutboxMessage.objects.filter(to=to, created_at__gte=since)
        ]

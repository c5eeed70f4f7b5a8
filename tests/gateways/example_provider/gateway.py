"""Example's gateway: hands each message to the vendor, reports where its webhook is."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from retargeting.gateways.base import (
    Delivery,
    Gateway,
    InvalidWebhook,
    MalformedWebhook,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    StatusReport,
)
from retargeting.gateways.errors import action_for, error_result
from tests.gateways.example_provider.carrier import CARRIER, CarrierError
from tests.gateways.example_provider.errors import ERROR_ACTIONS
from tests.gateways.example_provider.signatures import sign


class ExampleGateway(Gateway):
    name = "example"
    error_actions = ERROR_ACTIONS
    lists_messages = True  # the vendor lists sent messages with their text
    receives_replies = False  # its senders are names nobody can answer
    reports_delivery = True  # its status webhook (views.py)

    def send(self, sms: OutgoingSms) -> SendResult:
        try:
            message_id = CARRIER.submit(
                sender=sms.sender or self.default_sender(), to=sms.to, body=sms.body
            )
        except CarrierError as exc:
            return error_result(exc.code, exc.status, str(exc), table=ERROR_ACTIONS)
        return SendResult(Outcome.ACCEPTED, provider_id=message_id)

    def default_sender(self) -> str:
        return str(settings.EXAMPLE_SENDER)

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(message_id, number, body, Delivery.ACCEPTED, None)
            for message_id, (_sender, number, body) in CARRIER.messages.items()
            if number == to
        ]

    def status_callback_url(self) -> str:
        return settings.PUBLIC_BASE_URL + reverse("example-status")

    def parse_status(self, request: HttpRequest) -> StatusReport:
        if request.headers.get("X-Example-Signature", "") != sign(request.body):
            raise InvalidWebhook("wrong signature")
        message_id = request.POST.get("id", "")
        status = request.POST.get("status", "")
        if not message_id or status not in ("delivered", "failed"):
            raise MalformedWebhook("not a status: id and a known status are required")
        code = request.POST.get("error", "")
        return StatusReport(
            provider_id=message_id,
            delivery=Delivery.DELIVERED if status == "delivered" else Delivery.FAILED,
            error_code=code,
            provider_status=status,
            action=action_for(code, ERROR_ACTIONS),
        )

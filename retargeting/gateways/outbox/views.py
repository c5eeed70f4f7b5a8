"""The phone simulator of the embedded mode (``/dev/phone/``): the outbox's messages as a phone
shows them, and replies that go through the same inbound handling as a provider's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from retargeting.gateways import get_gateway
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.gateways.outbox.gateway import OutboxGateway
from retargeting.sites.access import development_tool
from retargeting.sites.times import sender_time_zone, shop_time
from retargeting.sms import segments
from retargeting.sms.phones import InvalidPhone, parse_phone

PROVIDER = OutboxGateway.name


def _simulator(request: HttpRequest) -> None:
    """404 unless the outbox is the configured SMS provider and the user may see it."""
    if not isinstance(get_gateway(), OutboxGateway):
        raise Http404("The phone simulator exists only with the outbox SMS backend.")
    development_tool(request, "phone simulator")


@dataclass(frozen=True)
class Bubble:
    outgoing: bool
    body: str
    at: datetime
    sender: str
    time_zone: str
    encoding: str = ""
    segments: int = 0
    ucs2_characters: tuple[str, ...] = ()

    @property
    def shown_at(self) -> str:
        return shop_time(self.at, self.time_zone, with_date=False)


def phone_index(request: HttpRequest) -> HttpResponse:
    _simulator(request)
    numbers = set(OutboxMessage.objects.values_list("to", flat=True))
    numbers |= set(
        InboundMessage.objects.filter(provider=PROVIDER).values_list("sender", flat=True)
    )
    return render(request, "gateways/phone_index.html", {"numbers": sorted(numbers)})


@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, number: str) -> HttpResponse:
    """One phone's conversation; replying goes through the same inbound handling as Twilio's."""
    _simulator(request)
    try:
        number = parse_phone(number, default_region="FR").e164
    except InvalidPhone as exc:
        raise Http404(str(exc)) from exc
    outgoing = list(OutboxMessage.objects.filter(to=number))
    if request.method == "POST":
        body = request.POST.get("body", "").strip()[:1600]
        if body:
            recipient = outgoing[-1].sender if outgoing else OutboxGateway().default_sender()
            sms = InboundSms(
                provider_id="IB" + uuid.uuid4().hex, sender=number, recipient=recipient, body=body
            )
            reply = receive_inbound(provider=PROVIDER, sms=sms)
            if reply:
                # What the TwiML answer would have sent back.
                OutboxMessage.objects.create(
                    provider_id="OB" + uuid.uuid4().hex,
                    sender=recipient,
                    to=number,
                    body=reply,
                    created_at=timezone.now(),
                )
        return redirect("phone", number=number)
    zones: dict[str, str] = {}

    def zone(sender: str) -> str:
        # Shown in the time zone of the shops sending from that number, the zone named.
        if sender not in zones:
            zones[sender] = sender_time_zone(sender, phone=number)
        return zones[sender]

    bubbles = [
        Bubble(True, m.body, m.created_at, m.sender, zone(m.sender), *_encoding(m.body))
        for m in outgoing
    ] + [
        Bubble(False, m.body, m.received_at, m.sender, zone(m.recipient))
        for m in InboundMessage.objects.filter(provider=PROVIDER, sender=number)
    ]
    bubbles.sort(key=lambda bubble: bubble.at)
    context = {"number": number, "bubbles": bubbles, "zones": sorted(set(zones.values()))}
    return render(request, "gateways/phone.html", context)


def _encoding(body: str) -> tuple[str, int, tuple[str, ...]]:
    result = segments.count(body)
    return result.encoding, result.segments, result.ucs2_characters

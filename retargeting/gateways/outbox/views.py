"""The phone simulator of the embedded mode (``/dev/phone/``): the outbox's messages as a phone
shows them, and replies that go through the same inbound handling as a provider's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from retargeting.gateways import get_gateway, hooks
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.gateways.outbox.gateway import OutboxGateway
from retargeting.gateways.simulators import (
    POLL_MILLISECONDS,
    excerpt,
    live_answer,
    local_clock,
    next_pass_line,
    version_of,
)
from retargeting.sites.access import development_tool
from retargeting.sites.times import sender_time_zone, shop_time
from retargeting.sms import segments
from retargeting.sms.phones import InvalidPhone, parse_phone

PROVIDER = OutboxGateway.name
INDEX_PART = "gateways/phone_list.html"
THREAD_PART = "gateways/phone_thread.html"


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


@dataclass(frozen=True)
class Phone:
    number: str
    name: str
    last_body: str
    last_at: datetime
    last_outgoing: bool
    time_zone: str

    @property
    def shown_at(self) -> str:
        return local_clock(self.last_at, self.time_zone, with_date=True)


def _phones() -> list[Phone]:
    """Every phone the outbox wrote to or heard from, its name and its last message, newest
    first: four queries whatever the number of phones and messages."""
    last_out = OutboxMessage.objects.values("to").annotate(last=Max("pk")).values("last")
    last_in = (
        InboundMessage.objects.filter(provider=PROVIDER)
        .values("sender")
        .annotate(last=Max("pk"))
        .values("last")
    )
    latest: dict[str, tuple[datetime, bool, str, str]] = {}
    for m in OutboxMessage.objects.filter(pk__in=Subquery(last_out)):
        latest[m.to] = (m.created_at, True, m.body, m.sender)
    for i in InboundMessage.objects.filter(pk__in=Subquery(last_in)):
        if i.sender not in latest or latest[i.sender][0] < i.received_at:
            latest[i.sender] = (i.received_at, False, i.body, i.recipient)
    names = hooks.names_of("sms", list(latest))
    zones: dict[str, str] = {}
    phones = []
    for number, (at, outgoing, body, sender) in latest.items():
        if sender not in zones:
            zones[sender] = sender_time_zone(sender, phone=number)
        phones.append(
            Phone(number, names.get(number, ""), excerpt(body), at, outgoing, zones[sender])
        )
    phones.sort(key=lambda phone: phone.last_at, reverse=True)
    return phones


def _index_zone() -> str:
    return sender_time_zone(OutboxGateway().default_sender())


def phone_index(request: HttpRequest) -> HttpResponse:
    _simulator(request)
    context: dict[str, Any] = {"phones": _phones(), "next_pass": next_pass_line(_index_zone())}
    context["version"] = version_of(render_to_string(INDEX_PART, context, request=request))
    context["poll"] = POLL_MILLISECONDS
    return render(request, "gateways/phone_index.html", context)


def phone_index_live(request: HttpRequest) -> HttpResponse:
    """What ``/dev/phone/`` polls to refresh its list by itself."""
    _simulator(request)
    html = render_to_string(INDEX_PART, {"phones": _phones()}, request=request)
    return live_answer(html, next_pass_line(_index_zone()))


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
    context = _thread(number, outgoing)
    context["version"] = version_of(render_to_string(THREAD_PART, context, request=request))
    context["poll"] = POLL_MILLISECONDS
    return render(request, "gateways/phone.html", context)


def phone_live(request: HttpRequest, number: str) -> HttpResponse:
    """What a phone's page polls to show new messages by itself."""
    _simulator(request)
    try:
        number = parse_phone(number, default_region="FR").e164
    except InvalidPhone as exc:
        raise Http404(str(exc)) from exc
    context = _thread(number, list(OutboxMessage.objects.filter(to=number)))
    html = render_to_string(THREAD_PART, context, request=request)
    return live_answer(html, context["next_pass"])


def _thread(number: str, outgoing: list[OutboxMessage]) -> dict[str, Any]:
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
    shown_zones = sorted(set(zones.values()))
    return {
        "number": number,
        "name": hooks.names_of("sms", [number]).get(number, ""),
        "bubbles": bubbles,
        "zones": shown_zones,
        "next_pass": next_pass_line(shown_zones[0] if len(shown_zones) == 1 else _index_zone()),
    }


def _encoding(body: str) -> tuple[str, int, tuple[str, ...]]:
    result = segments.count(body)
    return result.encoding, result.segments, result.ucs2_characters

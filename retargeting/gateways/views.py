"""Twilio's and Brevo's webhooks, and the phone simulator of the embedded mode (``/dev/phone/``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.twiml.messaging_response import MessagingResponse

from retargeting.gateways import hooks
from retargeting.gateways.base import InboundSms, InvalidWebhook, MalformedWebhook, StatusReport
from retargeting.gateways.brevo_backend import BrevoGateway
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.gateways.twilio_backend import TwilioGateway
from retargeting.sites.access import development_tool
from retargeting.sites.times import sender_time_zone, shop_time
from retargeting.sms import segments
from retargeting.sms.phones import InvalidPhone, parse_phone


def _twiml(reply: str | None) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """A customer's reply. The signature is always checked, whatever DEBUG says."""
    try:
        sms = TwilioGateway().parse_inbound(request)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    return _twiml(receive_inbound(provider="twilio", sms=sms))


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A delivery status. Signed like the inbound webhook; answered 204."""
    try:
        report = TwilioGateway().parse_status(request)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    hooks.handle_status(report)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def brevo_sms(request: HttpRequest, token: str) -> HttpResponse:
    """Brevo's SMS events: delivery statuses, and numbers that sent STOP to its short code.

    Brevo signs nothing: the URL's token (a secret of ours) is the proof, checked whatever
    DEBUG says; without it, 403 and nothing changes. Answered 204.
    """
    try:
        reports = BrevoGateway().parse_webhook(request, token=token)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("unknown webhook", status=403, content_type="text/plain")
    for report in reports:
        if isinstance(report, StatusReport):
            hooks.handle_status(report)
        else:
            hooks.handle_opt_out(report)
    return HttpResponse(status=204)


# --- The phone simulator ------------------------------------------------------------------


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
    development_tool(request, "phone simulator")
    numbers = set(OutboxMessage.objects.values_list("to", flat=True))
    numbers |= set(
        InboundMessage.objects.filter(provider="outbox").values_list("sender", flat=True)
    )
    return render(request, "gateways/phone_index.html", {"numbers": sorted(numbers)})


@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest, number: str) -> HttpResponse:
    """One phone's conversation; replying goes through the same inbound handling as Twilio's."""
    development_tool(request, "phone simulator")
    try:
        number = parse_phone(number, default_region="FR").e164
    except InvalidPhone as exc:
        raise Http404(str(exc)) from exc
    outgoing = list(OutboxMessage.objects.filter(to=number))
    if request.method == "POST":
        body = request.POST.get("body", "").strip()[:1600]
        if body:
            recipient = outgoing[-1].sender if outgoing else settings.TWILIO_FROM
            sms = InboundSms(
                provider_id="IB" + uuid.uuid4().hex, sender=number, recipient=recipient, body=body
            )
            reply = receive_inbound(provider="outbox", sms=sms)
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
        for m in InboundMessage.objects.filter(provider="outbox", sender=number)
    ]
    bubbles.sort(key=lambda bubble: bubble.at)
    context = {"number": number, "bubbles": bubbles, "zones": sorted(set(zones.values()))}
    return render(request, "gateways/phone.html", context)


def _encoding(body: str) -> tuple[str, int, tuple[str, ...]]:
    result = segments.count(body)
    return result.encoding, result.segments, result.ucs2_characters

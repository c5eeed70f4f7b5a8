"""Twilio's webhooks: a customer's reply (answered in TwiML) and delivery statuses."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse

from retargeting.gateways import hooks
from retargeting.gateways.base import InvalidWebhook, MalformedWebhook
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.twilio.gateway import TwilioGateway


def _twiml(reply: str | None) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    """A customer's reply. The signature is always checked, whatever DEBUG says. The answer
    (STOP, START, OUI, HELP) goes back as TwiML and takes its sender's rate
    (``receive_inbound``)."""
    gateway = TwilioGateway()
    try:
        sms = gateway.parse_inbound(request)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    return _twiml(receive_inbound(provider=gateway.name, sms=sms))


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    """A delivery status. Signed like the inbound webhook; answered 204."""
    try:
        report = TwilioGateway().parse_status(request)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    hooks.handle_status(report)
    return HttpResponse(status=204)

"""Brevo's SMS webhook: delivery statuses, and numbers that sent STOP to its short code."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from retargeting.gateways import hooks
from retargeting.gateways.base import InvalidWebhook, MalformedWebhook, StatusReport
from retargeting.gateways.brevo.gateway import BrevoGateway


@csrf_exempt
@require_POST
def sms_events(request: HttpRequest, token: str) -> HttpResponse:
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

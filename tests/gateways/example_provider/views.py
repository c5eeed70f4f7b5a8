"""Example's status webhook: verified, then handed to the hooks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from retargeting.gateways import hooks
from retargeting.gateways.base import InvalidWebhook, MalformedWebhook
from tests.gateways.example_provider.gateway import ExampleGateway


@csrf_exempt
@require_POST
def status(request: HttpRequest) -> HttpResponse:
    try:
        report = ExampleGateway().parse_status(request)
    except MalformedWebhook as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except InvalidWebhook:
        return HttpResponse("invalid signature", status=403, content_type="text/plain")
    hooks.handle_status(report)
    return HttpResponse(status=204)

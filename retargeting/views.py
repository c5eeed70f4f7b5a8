"""The landing page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from retargeting.gateways import get_gateway


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """What a newcomer sees first: what Relance is and what to try."""
    return render(
        request,
        "landing.html",
        {
            "sms_backend": settings.SMS_BACKEND,
            "stays_on_machine": get_gateway().stays_on_machine,
            "email_stays_on_machine": get_gateway("email").stays_on_machine,
            "debug": settings.DEBUG,
        },
    )


FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#0f766e"/>'
    '<path d="M10 24V8h7a5 5 0 0 1 0 10h-7m7 0 6 6" fill="none" stroke="#fff" '
    'stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """The product's icon, so browsers asking for /favicon.ico get one."""
    return HttpResponse(FAVICON, content_type="image/svg+xml")


def noop(request: HttpRequest) -> HttpResponse:
    """The benchmarks' reference: Django's full stack answering 204 with no work."""
    return HttpResponse(status=204)

"""The landing page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """What a newcomer sees first: what Relance is and what to try."""
    return render(
        request,
        "landing.html",
        {"sms_backend": settings.SMS_BACKEND, "debug": settings.DEBUG},
    )

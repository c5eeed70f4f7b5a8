"""What every anymail provider's webhook view of Relance adds to anymail's: a request whose
signature (basic auth) fails is answered 403, as every provider's webhook of Relance answers
it (anymail answers 400), and nothing changes."""

from __future__ import annotations

from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden


class ForbiddenWhenForged:
    """Mix in before anymail's webhook view."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response: HttpResponse = super().post(request, *args, **kwargs)  # type: ignore[misc]
        except AnymailWebhookValidationFailure:
            return HttpResponseForbidden("invalid signature")
        return response

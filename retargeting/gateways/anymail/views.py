"""What every anymail provider's webhook view of Relance adds to anymail's: a request whose
signature (basic auth) fails is answered 403, as every provider's webhook of Relance answers
it (anymail answers 400), and a correctly authenticated body that is not the provider's
payload (not JSON, not the fields it sends) is answered 400 rather than a server error; in
both cases nothing changes."""

from __future__ import annotations

from typing import Any

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden


class ForbiddenWhenForged:
    """Mix in before anymail's webhook view."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET"):
            # Anymail alone would take any request when no secret is set (it only warns): a
            # stranger could then unsubscribe or bounce any address. Without the secret, which
            # only an operator who chose this provider sets, nobody is heard.
            return HttpResponseForbidden("this provider's webhook is not set up")
        try:
            response: HttpResponse = super().post(request, *args, **kwargs)  # type: ignore[misc]
        except AnymailWebhookValidationFailure:
            return HttpResponseForbidden("invalid signature")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Anymail reads the payload before any event is handed on: a body it cannot read
            # changed nothing.
            return HttpResponseBadRequest(f"not a tracking payload ({type(exc).__name__})")
        return response

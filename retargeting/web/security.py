"""The Content-Security-Policy of Relance's own pages (dashboard, admin, opt-in page).

Scripts come only from Relance's static files: no inline script, no `eval`, nothing from
another origin. Styles allow inline `style` attributes (the funnel's bars, the charts' SVG).
A page cannot be framed. Pages that stand for a shop's own pages (the demo shop) opt out
with :func:`csp_exempt`: their policy is the shop's business.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADER = "Content-Security-Policy"


def csp_exempt(response: HttpResponse) -> HttpResponse:
    response.csp_exempt = True  # type: ignore[attr-defined]
    return response


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(response, "csp_exempt", False) or HEADER in response:
            return response
        if response.get("Content-Type", "").startswith("text/html"):
            response[HEADER] = POLICY
        return response

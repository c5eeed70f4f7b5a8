"""The language a member sees in the admin and the dashboard before choosing one: their first
shop's (French shops: French). A choice made with the language switch (Django's language
cookie) always wins; the dashboard then follows the shop it shows
(``campaigns.dashboard.frame``)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from retargeting.sites.models import Site


class MemberLanguageMiddleware:
    """After ``AuthenticationMiddleware``; replaces the browser's language for members only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    # Only the pages members use: the collector and the other public endpoints never pay
    # for loading the session's user.
    PREFIXES = ("/admin/", "/dashboard/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.PREFIXES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
        ):
            language = (
                Site.objects.filter(memberships__user_id=user.pk)
                .order_by("memberships__created_at")
                .values_list("language", flat=True)
                .first()
            )
            if language in dict(settings.LANGUAGES):
                request.LANGUAGE_CODE = language
                # For this request only: the thread serves others (and tests) afterwards.
                with translation.override(language):
                    return self.get_response(request)
        return self.get_response(request)

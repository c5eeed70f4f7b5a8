"""What every dashboard page shares: a logged-in user, one of their sites, and the language.

The language is the one the user chose (the language switch sets Django's cookie), otherwise
the site's own: French shops get a French dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import translation

from retargeting.sites.access import site_for, sites_for
from retargeting.sites.models import Site


@dataclass(frozen=True)
class Frame:
    sites: list[Site]
    site: Site

    def context(self, **values: Any) -> dict[str, Any]:
        return {"sites": self.sites, "site": self.site, **values}


def language_for(request: HttpRequest, site: Site) -> str:
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in dict(settings.LANGUAGES):
        return chosen
    return site.language if site.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def dashboard_page(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Log in, pick the user's site from ``?site=`` (404 for any other), speak its language.

    The view gets the :class:`Frame` as ``frame`` and renders inside the language.
    """

    @login_required(login_url="admin:login")
    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        sites = list(sites_for(request.user).order_by("name", "pk"))
        if not sites:
            with translation.override(translation.get_language()):
                return render(request, "campaigns/no_site.html", {"sites": []})
        chosen = request.GET.get("site") or request.POST.get("site") or sites[0].pk
        site = site_for(request.user, chosen)
        with translation.override(language_for(request, site)):
            response = view(request, *args, frame=Frame(sites=sites, site=site), **kwargs)
            response.headers.setdefault("Content-Language", translation.get_language())
            return response

    return page

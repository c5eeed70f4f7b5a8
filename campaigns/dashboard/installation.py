"""The installation page: the snippet tag to copy, the server API key (shown once when a new
one is made), and a live view of the last events the shop sent, so a shop can see that its
installation works."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns.dashboard import formatting
from campaigns.dashboard.frame import Frame, dashboard_page
from optin.enrolment import confirmations_today
from retargeting.platforms.connections import TOPICS
from retargeting.platforms.models import Platform
from retargeting.sites.models import Membership, Site
from retargeting.sites.services import rotate_secret_key
from retargeting.tracking.models import Event, Refusal

LAST_EVENTS = 20


def snippet_tag(site: Site) -> str:
    """The one tag a shop adds to every page; it waits for the visitor's cookie consent where
    the site requires it (the EU and the EEA by default)."""
    consent = ' data-consent="required"' if site.cookie_consent_required else ""
    return (
        f'<script async src="{settings.PUBLIC_BASE_URL}/t.js" '
        f'data-site="{site.public_key}"{consent}></script>'
    )


def may_rotate(request: HttpRequest, site: Site) -> bool:
    """Only the platform's operators replace a site's keys, as they set its name, sender and
    domains (a shop's owner who fears a leaked key asks them)."""
    return bool(request.user.is_superuser)


def shows_platforms(request: HttpRequest, site: Site) -> bool:
    """The site's owners and the operators see the platforms' webhook addresses."""
    if request.user.is_superuser:
        return True
    return Membership.objects.filter(
        user_id=request.user.pk or 0, site=site, role=Membership.Role.OWNER
    ).exists()


def platform_webhooks(request: HttpRequest, site: Site) -> list[dict[str, object]]:
    """The addresses the shop's platform posts its webhooks to, for the site's owners and the
    operators (``manage.py connect_platform`` makes them; the signing secret is never shown)."""
    if not shows_platforms(request, site):
        return []
    return [
        {
            "platform": connection.get_platform_display(),
            "webhook_url": connection.webhook_url,
            "topics": TOPICS[Platform(connection.platform)],
        }
        for connection in site.platforms.order_by("platform")
    ]


def last_events(site: Site, *, limit: int = LAST_EVENTS) -> list[dict[str, str]]:
    """The site's latest events, without what they say about a person: type, origin, time,
    and the page's host and path; and among them the identifies the collector refused, with
    its reason (the number masked), so that a shop sees why a customer's number was not
    taken."""
    found: list[tuple[datetime, int, dict[str, str]]] = []
    for event in Event.objects.filter(site=site).order_by("-received_at", "-pk")[:limit]:
        url = ""
        raw = event.payload.get("url") if isinstance(event.payload, dict) else None
        if isinstance(raw, str):
            parts = urlsplit(raw)
            url = f"{parts.hostname or ''}{parts.path}"[:120]
        found.append(
            (event.received_at, 0, _row(event.type, event.source, event.received_at, site, url))
        )
    for refusal in Refusal.objects.filter(site=site).order_by("-received_at", "-pk")[:limit]:
        row = _row(refusal.type, refusal.source, refusal.received_at, site, "")
        row["refused"] = _("Refused: %(reason)s") % {"reason": refusal.reason}
        found.append((refusal.received_at, 1, row))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [row for _at, _order, row in found[:limit]]


def _row(kind: str, source: str, at: datetime, site: Site, page: str) -> dict[str, str]:
    return {
        "type": str(dict(Event.Type.choices).get(kind, kind)),
        "source": str(dict(Event.Source.choices).get(source, source)),
        "at": formatting.when(at, site=site, seconds=True),
        "ago": formatting.ago(at),
        "page": page,
        "refused": "",
    }


@require_GET
@dashboard_page
def install(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    return _page(request, frame, new_key="")


@require_POST
@dashboard_page
def rotate_key(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    """Make a new server API key; the old one stops working at once. Shown on this answer only."""
    if not may_rotate(request, frame.site):
        return _page(request, frame, new_key="", status=403)
    return _page(request, frame, new_key=rotate_secret_key(site=frame.site))


def _page(request: HttpRequest, frame: Frame, *, new_key: str, status: int = 200) -> HttpResponse:
    site = frame.site
    response = render(
        request,
        "campaigns/install.html",
        frame.context(
            section="install",
            tag=snippet_tag(site),
            base_url=settings.PUBLIC_BASE_URL,
            new_key=new_key,
            may_rotate=may_rotate(request, site),
            refused=status == 403,
            events=last_events(site),
            confirmations_today=confirmations_today(site),
            platforms=platform_webhooks(request, site),
            shows_platforms=shows_platforms(request, site),
        ),
        status=status,
    )
    # A page holding a secret key is never stored by the browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@dashboard_page
def events(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    """The live check's feed: the last events as JSON, polled by the installation page."""
    response = JsonResponse({"events": last_events(frame.site)})
    response["Cache-Control"] = "no-store"
    return response

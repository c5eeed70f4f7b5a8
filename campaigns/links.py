"""``GET /s/CODE``: the short link in an SMS, back to the cart.

The redirect keeps the target's own query, adds the UTM tags and the signed contact token
(``_rl``) that the snippet sends back, which ties this browser to the contact. Link-preview
fetchers and HEAD requests get the redirect but are not clicks; taps repeated within a short
window count once.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from campaigns.models import Click, ShortLink
from optin.tokens import make_token
from retargeting.privacy import client_ip, truncate_ip

TOKEN_PARAM = "_rl"  # noqa: S105 - a query parameter name, not a secret
REPEAT_WINDOW = timedelta(seconds=30)
# Apps that fetch a link to show a preview: not a person tapping it.
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|whatsapp|telegrambot|"
    r"skypeuripreview|discordbot|linkedinbot|applebot|iframely|embedly|googlebot|bingbot|"
    r"bot\b|crawler|spider|preview",
    re.IGNORECASE,
)


def user_agent_class(user_agent: str) -> str:
    if not user_agent:
        return "unknown"
    if PREVIEW_AGENTS.search(user_agent):
        return "preview"
    if re.search(r"iphone|android|mobile", user_agent, re.IGNORECASE):
        return "mobile"
    return "desktop"


def destination(link: ShortLink) -> str:
    """The target URL with its own query kept, the UTM tags and the contact token added.

    The target is checked against the site's domains now, not only when the cart came in (a
    domain may have been removed since): a link of ours never leads off the shop's site, and
    the contact token is only ever handed to the shop's own pages.
    """
    site = link.send.site
    target = link.target_url if site.owns_url(link.target_url) else site.home_url
    parts = urlsplit(target)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("utm_source", "utm_medium", "utm_campaign", TOKEN_PARAM)
    ]
    send = link.send
    query += [
        ("utm_source", "sms"),
        ("utm_medium", "relance"),
        ("utm_campaign", send.step.flow.slug),
    ]
    if send.contact is not None and site.owns_url(target):
        query.append((TOKEN_PARAM, make_token(send.contact)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


@require_http_methods(["GET", "HEAD"])
def follow(request: HttpRequest, code: str) -> HttpResponse:
    link = (
        ShortLink.objects.select_related("send__step__flow", "send__contact", "send__site")
        .filter(code=code)
        .first()
    )
    if link is None:
        raise Http404("unknown link")
    now = timezone.now()
    if link.expires_at <= now:
        site = link.send.site
        return render(
            request,
            "campaigns/link_expired.html",
            {"site": site, "shop_url": site.home_url},
            status=410,
        )
    agent = user_agent_class(request.META.get("HTTP_USER_AGENT", ""))
    if request.method == "GET" and agent != "preview":
        ip = truncate_ip(client_ip(request))
        repeated = Click.objects.filter(link=link, ip=ip, at__gte=now - REPEAT_WINDOW).exists()
        if not repeated:
            Click.objects.create(link=link, at=now, ip=ip, user_agent_class=agent)
    response = HttpResponseRedirect(destination(link))
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response

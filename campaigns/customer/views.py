"""``GET /s/CODE``: the short link in an SMS, back to the cart (rules in ``campaigns.links``)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from campaigns.links import REPEAT_WINDOW, destination, user_agent_class
from campaigns.models import Click, ShortLink
from retargeting.web.privacy import client_ip, truncate_ip


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
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    agent = user_agent_class(user_agent)
    if request.method == "GET" and agent != "preview":
        ip = truncate_ip(client_ip(request))
        repeated = Click.objects.filter(link=link, ip=ip, at__gte=now - REPEAT_WINDOW).exists()
        if not repeated:
            Click.objects.create(link=link, at=now, ip=ip, user_agent_class=agent)
    # The contact token goes only to the first person tapping the link: a preview fetcher (a
    # chat app's server) or a HEAD request gets the redirect without it, and so does every tap
    # after the first (the SMS forwarded or posted): one statement settles two taps at once.
    person = request.method == "GET" and agent != "preview"
    first = (
        person
        and ShortLink.objects.filter(pk=link.pk, token_issued_at__isnull=True).update(
            token_issued_at=now
        )
        == 1
    )
    # The collector reads the user agent cut at 512 characters: the token is bound to the same.
    response = HttpResponseRedirect(
        destination(link, with_token=first, user_agent=user_agent[:512])
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response

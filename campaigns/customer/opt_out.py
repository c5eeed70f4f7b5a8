"""``/u/<code>``: the one-tap opt-out link of an SMS (rules in ``campaigns.opt_out``).

Opening the link changes nothing: SMS apps and carriers open links to show a preview, and a
HEAD or a preview is not a customer's answer. The page names the shop and has one button; its
POST, with Django's CSRF check (the form is our own page), revokes the number's consent for
that shop. RFC 8058's one-click unsubscribe (``List-Unsubscribe=One-Click`` posted by a mail
provider, without cookie or token) will be a second entry, exempt from CSRF, that calls the
same ``_opt_out`` and answers without a page.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from campaigns.links import user_agent_class
from campaigns.models import OptOutLink
from campaigns.opt_out import opt_out_by_link
from optin.models import ConsentStatus
from retargeting.sites.models import Language
from retargeting.sms.phones import mask
from retargeting.web.privacy import client_ip, truncate_ip

TEXT = {
    Language.FR: {
        "title": "Ne plus recevoir de SMS",
        "ask": "Vous recevez les SMS de {shop} au {number}. Un appui suffit pour ne plus en "
        "recevoir.",
        "button": "Ne plus recevoir de SMS de {shop}",
        "done": "C'est fait : {shop} ne vous enverra plus de SMS au {number}.",
        "already": "C'est déjà fait : {shop} n'envoie plus de SMS au {number}.",
    },
    Language.EN: {
        "title": "Stop texts",
        "ask": "You get texts from {shop} at {number}. One tap and you will get no more.",
        "button": "Stop texts from {shop}",
        "done": "Done: {shop} will send no more texts to {number}.",
        "already": "Already done: {shop} sends no more texts to {number}.",
    },
}


def _link(code: str) -> OptOutLink:
    link = (
        OptOutLink.objects.select_related("site", "contact").filter(code=code).first()
        if code
        else None
    )
    if link is None:
        raise Http404("unknown opt-out link")
    return link


def _words(link: OptOutLink) -> dict[str, str]:
    site = link.site
    names = {"shop": site.name, "number": mask(link.contact.phone)}
    return {key: value.format(**names) for key, value in TEXT[Language(site.language)].items()}


def _is_preview(request: HttpRequest) -> bool:
    return user_agent_class(request.META.get("HTTP_USER_AGENT", "")) == "preview"


def _opt_out(request: HttpRequest, link: OptOutLink, *, wording: str) -> bool:
    """Revoke with the request's proof; False when the number had already opted out."""
    return opt_out_by_link(
        link=link,
        wording=wording,
        ip=truncate_ip(client_ip(request)),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    ).revoked


@require_http_methods(["GET", "HEAD", "POST"])
def opt_out_page(request: HttpRequest, code: str) -> HttpResponse:
    link = _link(code)
    text = _words(link)
    outcome = ""
    if link.contact.consent_status == ConsentStatus.REVOKED:
        outcome = text["already"]
    # A POST carries the page's CSRF token: someone used the page, whatever their browser
    # calls itself (an in-app browser may say "WhatsApp"). GET and HEAD change nothing.
    elif request.method == "POST":
        revoked = _opt_out(request, link, wording=text["button"])
        outcome = text["done"] if revoked else text["already"]
    response = render(
        request, "campaigns/opt_out.html", {"site": link.site, "text": text, "outcome": outcome}
    )
    # The site's same-origin referrer policy stays: with no-referrer, browsers post the form
    # with "Origin: null", which the CSRF check refuses.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

"""``/u/<code>``: the opt-out link of an SMS or an email (rules in ``campaigns.opt_out``).

Opening the link changes nothing: SMS apps, carriers and mail scanners open links to show a
preview, and a GET, a HEAD or a preview is not a customer's answer. The page names the shop and
has one button; its POST revokes the address's consent on the link's channel for that shop.

Two kinds of POST are answers:
- RFC 8058's one-click unsubscribe, on an email link: the body ``List-Unsubscribe=One-Click``
  (``application/x-www-form-urlencoded`` or ``multipart/form-data``), posted by the mail
  provider when the reader clicks its "Unsubscribe" button, without cookie or CSRF token
  (section 3.2: the POST "MUST NOT include cookies, HTTP authorization, or any other
  context information"). The code in the URL is the credential; the answer is a short page,
  never a redirect. The page's own button posts the same body.
- The page's form, with Django's CSRF check: an SMS link keeps it (a POST without the page's
  token, such as a messaging app's preview fetcher, is refused and changes nothing).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campaigns.models import OptOutLink
from campaigns.opt_out import opt_out_by_link
from optin.consent import status_of
from optin.models import ConsentStatus
from retargeting.channels import Channel
from retargeting.sites.models import Language
from retargeting.sms.phones import mask, mask_email
from retargeting.web.privacy import client_ip, truncate_ip

ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"

TEXT = {
    Channel.SMS: {
        Language.FR: {
            "title": "Ne plus recevoir de SMS",
            "ask": "Vous recevez les SMS de {shop} au {address}. Un appui suffit pour ne plus "
            "en recevoir.",
            "button": "Ne plus recevoir de SMS de {shop}",
            "done": "C'est fait : {shop} ne vous enverra plus de SMS au {address}.",
            "already": "C'est déjà fait : {shop} n'envoie plus de SMS au {address}.",
        },
        Language.EN: {
            "title": "Stop texts",
            "ask": "You get texts from {shop} at {address}. One tap and you will get no more.",
            "button": "Stop texts from {shop}",
            "done": "Done: {shop} will send no more texts to {address}.",
            "already": "Already done: {shop} sends no more texts to {address}.",
        },
    },
    Channel.EMAIL: {
        Language.FR: {
            "title": "Se désabonner des emails",
            "ask": "Vous recevez les emails de {shop} à l'adresse {address}. Un clic suffit "
            "pour ne plus en recevoir.",
            "button": "Ne plus recevoir d'emails de {shop}",
            "done": "C'est fait : {shop} ne vous enverra plus d'emails à {address}.",
            "already": "C'est déjà fait : {shop} n'envoie plus d'emails à {address}.",
        },
        Language.EN: {
            "title": "Unsubscribe from emails",
            "ask": "You get emails from {shop} at {address}. One click and you will get no more.",
            "button": "Unsubscribe from {shop}'s emails",
            "done": "Done: {shop} will send no more emails to {address}.",
            "already": "Already done: {shop} sends no more emails to {address}.",
        },
    },
}
# The one-click request's own words, kept as the proof's text.
ONE_CLICK_WORDING = "List-Unsubscribe=One-Click (RFC 8058)"


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
    site, contact = link.site, link.contact
    email = link.channel == Channel.EMAIL
    address = mask_email(contact.email) if email else mask(contact.phone)
    names = {"shop": site.name, "address": address}
    text = TEXT[Channel(link.channel)][Language(site.language)]
    return {key: value.format(**names) for key, value in text.items()}


def _opt_out(request: HttpRequest, link: OptOutLink, *, wording: str) -> bool:
    """Revoke with the request's proof; False when the address had already opted out."""
    return opt_out_by_link(
        link=link,
        wording=wording,
        ip=truncate_ip(client_ip(request)),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    ).revoked


def _is_one_click(request: HttpRequest, link: OptOutLink) -> bool:
    return (
        link.channel == Channel.EMAIL
        and request.POST.get(ONE_CLICK_FIELD, "").strip() == ONE_CLICK_VALUE
    )


def _checked(request: HttpRequest) -> HttpResponse:
    """A view the CSRF check is not exempt for (see ``_csrf_refusal``)."""
    return HttpResponse()


def _csrf_refusal(request: HttpRequest) -> HttpResponseBase | None:
    """Django's CSRF check, as the middleware makes it for a view that is not exempt."""
    return CsrfViewMiddleware(_checked).process_view(request, _checked, (), {})


@csrf_exempt  # a one-click POST has no token; every other POST is checked below
@require_http_methods(["GET", "HEAD", "POST"])
def opt_out_page(request: HttpRequest, code: str) -> HttpResponseBase:
    link = _link(code)
    text = _words(link)
    one_click = request.method == "POST" and _is_one_click(request, link)
    if request.method == "POST" and not one_click:
        refusal = _csrf_refusal(request)
        if refusal is not None:
            return refusal
    outcome = ""
    if status_of(link.contact, link.channel) == ConsentStatus.REVOKED:
        outcome = text["already"]
    # A POST is a person's answer (the page's button, with its token or its one-click body)
    # or their mail provider's (RFC 8058), whatever the browser calls itself (an in-app
    # browser may say "WhatsApp"). GET and HEAD change nothing.
    elif request.method == "POST":
        wording = (
            ONE_CLICK_WORDING
            if one_click and "csrfmiddlewaretoken" not in request.POST
            else text["button"]
        )
        revoked = _opt_out(request, link, wording=wording)
        outcome = text["done"] if revoked else text["already"]
    response = render(
        request,
        "campaigns/opt_out.html",
        {
            "site": link.site,
            "text": text,
            "outcome": outcome,
            "one_click": link.channel == Channel.EMAIL,
        },
    )
    # The site's same-origin referrer policy stays: with no-referrer, browsers post the form
    # with "Origin: null", which the CSRF check refuses.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response

"""``/o/c/<code>``: the confirmation link of the double opt-in SMS, another way to answer OUI;
``/o/e/<code>``: the confirmation link of the double opt-in email, the only way to confirm it.

Opening a link changes nothing: SMS apps, carriers and mail scanners open links to show a
preview or check them, and that is not a customer's answer. The page asks, and only its button
(a POST) confirms. Neither page ties the browser that opens it to anyone: a forwarded link
confirms the address (its owner's word), it gives nobody the owner's carts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from optin.confirmation import LINK_DAYS, confirmation_text
from optin.consent import ConsentBlocked, record_consent, status_of
from optin.email_confirmation import contact_for_code
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel
from retargeting.sites.models import Language
from retargeting.sms.phones import mask, mask_email
from retargeting.web.privacy import client_ip, truncate_ip

TEXT = {
    Language.FR: {
        "title": "Confirmer les SMS",
        "ask": "Recevoir par SMS un rappel de votre panier et les offres de {shop} au {number} ?",
        "button": "Oui, je confirme",
        "done": "C'est confirmé. Désinscription à tout moment en répondant STOP.",
        "already": "C'est déjà confirmé. Désinscription à tout moment en répondant STOP.",
        "stopped": "Ce numéro a demandé à ne plus recevoir de SMS : rien n'a changé. "
        "Pour revenir, répondez START au SMS.",
        "expired": "Ce lien a expiré. Vous pouvez encore répondre OUI au SMS.",
    },
    Language.EN: {
        "title": "Confirm texts",
        "ask": "Get a reminder of your cart and offers from {shop} by text at {number}?",
        "button": "Yes, I confirm",
        "done": "Confirmed. Reply STOP at any time to opt out.",
        "already": "Already confirmed. Reply STOP at any time to opt out.",
        "stopped": "This number asked for no more texts: nothing changed. "
        "To come back, reply START to the text.",
        "expired": "This link has expired. You can still reply YES to the text.",
    },
}


@require_http_methods(["GET", "POST"])
def confirm_page(request: HttpRequest, code: str) -> HttpResponse:
    contact = (
        Contact.objects.select_related("site").filter(confirmation_code=code).first()
        if code
        else None
    )
    if contact is None:
        raise Http404("unknown confirmation link")
    site = contact.site
    text = TEXT[Language(site.language)]
    context = {
        "site": site,
        "text": text,
        "ask": text["ask"].format(shop=site.name, number=mask(contact.phone)),
        "outcome": "",
    }
    expired = (contact.confirmation_sent_at or timezone.now()) < timezone.now() - timedelta(
        days=LINK_DAYS
    )
    return _answer(
        request,
        context,
        contact=contact,
        channel=Channel.SMS,
        expired=expired,
        proof=f"{text['button']} ({confirmation_text(contact)})",
    )


def _answer(
    request: HttpRequest,
    context: dict[str, Any],
    *,
    contact: Contact,
    channel: str,
    expired: bool,
    proof: str,
) -> HttpResponse:
    """What a confirmation link's page says and does, for either channel: opening it changes
    nothing; its button confirms a pending consent of that channel only (a STOP or an
    unsubscribe that came meanwhile stands)."""
    text = context["text"]
    status = status_of(contact, channel)
    if status in (ConsentStatus.CONFIRMED, ConsentStatus.GRANTED):
        context["outcome"] = text["already"]
    elif status != ConsentStatus.PENDING:
        context["outcome"] = text["stopped"]
    elif expired:
        context["outcome"] = text["expired"]
        return render(request, "optin/confirm.html", context, status=410)
    elif request.method == "POST":
        try:
            confirmed = record_consent(
                contact=contact,
                status=ConsentStatus.CONFIRMED,
                source=ConsentSource.CONFIRMATION_LINK,
                text=proof,
                ip=truncate_ip(client_ip(request)),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                only_from={ConsentStatus.PENDING},
                channel=channel,
            )
        except ConsentBlocked:
            confirmed = None
        context["outcome"] = text["done"] if confirmed is not None else text["stopped"]
    return render(request, "optin/confirm.html", context)


EMAIL_TEXT = {
    Language.FR: {
        "title": "Confirmer les emails",
        "ask": "Recevoir par email un rappel de votre panier et les offres de {shop} à {address} ?",
        "button": "Oui, je confirme",
        "done": "C'est confirmé. Désinscription à tout moment par le lien de chaque email.",
        "already": "C'est déjà confirmé. Désinscription à tout moment par le lien de chaque email.",
        "stopped": "Cette adresse a demandé à ne plus recevoir d'emails : rien n'a changé.",
    },
    Language.EN: {
        "title": "Confirm emails",
        "ask": "Get a reminder of your cart and offers from {shop} by email at {address}?",
        "button": "Yes, I confirm",
        "done": "Confirmed. Unsubscribe at any time with the link in every email.",
        "already": "Already confirmed. Unsubscribe at any time with the link in every email.",
        "stopped": "This address asked for no more emails: nothing changed.",
    },
}


@require_http_methods(["GET", "POST"])
def confirm_email_page(request: HttpRequest, code: str) -> HttpResponse:
    """The confirmation email's link: its button confirms the address's email consent only."""
    contact = contact_for_code(code)
    if contact is None:
        raise Http404("unknown or expired confirmation link")
    site = contact.site
    text = EMAIL_TEXT[Language(site.language)]
    context = {
        "site": site,
        "text": text,
        "ask": text["ask"].format(shop=site.name, address=mask_email(contact.email)),
        "outcome": "",
    }
    # Its link's signature carries its age: an expired one is not found above.
    shown = text["ask"].format(shop=site.name, address=contact.email)
    return _answer(
        request,
        context,
        contact=contact,
        channel=Channel.EMAIL,
        expired=False,
        proof=f"{text['button']} ({shown})",
    )

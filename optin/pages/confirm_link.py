"""``/o/c/<code>``: the confirmation link of the double opt-in SMS, another way to answer OUI.

Opening the link changes nothing: SMS apps and carriers open links to show a preview, and a
preview is not a customer's answer. The page asks, and only its button (a POST) confirms.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from optin.confirmation import LINK_DAYS, confirmation_text
from optin.consent import ConsentBlocked, record_consent
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.sites.models import Language
from retargeting.sms.phones import mask
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
    status = contact.consent_status
    if status in (ConsentStatus.CONFIRMED, ConsentStatus.GRANTED):
        context["outcome"] = text["already"]
    elif status != ConsentStatus.PENDING:
        context["outcome"] = text["stopped"]
    elif (contact.confirmation_sent_at or timezone.now()) < timezone.now() - timedelta(
        days=LINK_DAYS
    ):
        context["outcome"] = text["expired"]
        return render(request, "optin/confirm.html", context, status=410)
    elif request.method == "POST":
        try:
            confirmed = record_consent(
                contact=contact,
                status=ConsentStatus.CONFIRMED,
                source=ConsentSource.CONFIRMATION_LINK,
                text=f"{text['button']} ({confirmation_text(contact)})",
                ip=truncate_ip(client_ip(request)),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                only_from={ConsentStatus.PENDING},  # a STOP that came meanwhile stands
            )
        except ConsentBlocked:
            confirmed = None
        context["outcome"] = text["done"] if confirmed is not None else text["stopped"]
    return render(request, "optin/confirm.html", context)

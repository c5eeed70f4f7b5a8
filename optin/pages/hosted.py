"""The hosted opt-in page, ``/o/<public key>/``: a number and an unticked consent box.

For shops that cannot add a checkout field: they link to it from an email or a page. Consent
given here is pending until the number answers OUI, as through the snippet (unless the site
turned double opt-in off).
"""

from __future__ import annotations

import logging

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from optin.confirmation import DAY, hosted_page_key
from optin.enrolment import refuse
from optin.gate import Proof, identify
from optin.models import ConsentSource
from retargeting.sites.models import Language, Site
from retargeting.sms.phones import InvalidPhone, parse_phone
from retargeting.web.privacy import client_ip, truncate_ip
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)
PER_IP_PER_HOUR = 10
PER_NUMBER_PER_DAY = 5

TEXT = {
    Language.FR: {
        "title": "Recevoir un rappel par SMS",
        "phone": "Votre numéro de mobile",
        "consent": "J'accepte de recevoir par SMS des rappels de mon panier et des offres de "
        "{shop}. Désinscription à tout moment en répondant STOP.",
        "submit": "Valider",
        "done": "Merci ! Vous allez recevoir un SMS : répondez OUI pour confirmer.",
        "done_immediate": "Merci, votre inscription est enregistrée.",
        "need_consent": "Cochez la case pour donner votre accord.",
        "slow_down": "Trop de demandes : réessayez plus tard.",
        "country": "Ce service n'accepte que les numéros de ces pays : {countries}.",
    },
    Language.EN: {
        "title": "Get a reminder by text",
        "phone": "Your mobile number",
        "consent": "I agree to receive texts from {shop} with reminders of my cart and offers. "
        "Reply STOP at any time to opt out.",
        "submit": "Confirm",
        "done": "Thank you! You will get a text: reply YES to confirm.",
        "done_immediate": "Thank you, you are subscribed.",
        "need_consent": "Tick the box to give your agreement.",
        "slow_down": "Too many requests: try again later.",
        "country": "Only numbers from these countries are accepted: {countries}.",
    },
}


class OptInForm(forms.Form):
    phone = forms.CharField(max_length=64)
    consent = forms.BooleanField(required=False)


def wording(site: Site) -> str:
    """The exact consent text shown next to the box (kept as proof)."""
    return site.optin_text or TEXT[Language(site.language)]["consent"].format(shop=site.name)


def _over_page_limits(site: Site, ip: str | None, phone: str) -> bool:
    """The page's own limits; with the cache away they are not enforced (logged), as the
    collector's, so the page keeps working."""
    try:
        return not (
            allow(key=f"optin-ip:{site.pk}:{ip}", limit=PER_IP_PER_HOUR, window_seconds=3600)
            and allow(
                key=hosted_page_key(site.pk, phone), limit=PER_NUMBER_PER_DAY, window_seconds=DAY
            )
        )
    except Exception as exc:
        logger.warning("hosted page limits not enforced: the cache is away (%s)", exc)
        return False


@require_http_methods(["GET", "POST"])
def optin_page(request: HttpRequest, public_key: str) -> HttpResponse:
    site = Site.objects.filter(public_key=public_key).first()
    if site is None:
        raise Http404("unknown site")
    text = TEXT[Language(site.language)]
    form = OptInForm(request.POST or None)
    context = {"site": site, "text": text, "wording": wording(site), "form": form, "done": ""}
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            parsed = parse_phone(form.cleaned_data["phone"], default_region=site.country)
        except InvalidPhone as exc:
            form.add_error("phone", str(exc))
            return render(request, "optin/hosted.html", context, status=400)
        if parsed.region not in site.countries:
            form.add_error("phone", text["country"].format(countries=", ".join(site.countries)))
            return render(request, "optin/hosted.html", context, status=400)
        phone = parsed.e164
        if not form.cleaned_data["consent"]:
            form.add_error("consent", text["need_consent"])
            return render(request, "optin/hosted.html", context, status=400)
        if _over_page_limits(site, ip, phone):
            form.add_error(None, text["slow_down"])
            return render(request, "optin/hosted.html", context, status=429)
        event = {
            "type": "identify",
            "phone": phone,
            "consent": {"granted": True, "text": wording(site), "source": "hosted_form"},
        }
        refusal = refuse(site=site, event=event, vid=None, client_ip=ip)
        if refusal is not None:
            form.add_error(None, refusal.error)
            return render(request, "optin/hosted.html", context, status=refusal.status)
        identify(
            site=site,
            visitor=None,
            proof=Proof.CLAIM,
            ip=truncate_ip(ip),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            event=event,
            source=ConsentSource.HOSTED_FORM,
        )
        context["done"] = text["done"] if site.double_opt_in else text["done_immediate"]
    return render(request, "optin/hosted.html", context)

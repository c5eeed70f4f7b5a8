"""``/b/<code>``: the link of a back-in-stock request's confirmation (SMS or email).

Opening it changes nothing (SMS apps, carriers and mail scanners open links); the page asks,
and only its button (a POST) confirms the request: the shopper is then told once when the
product returns. It gives no marketing consent and ties the opening browser to nobody.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from campaigns.stock_requests import confirm_request, request_for_code
from retargeting.sites.models import Language

TEXT = {
    Language.FR: {
        "title": "Alerte de retour en stock",
        "ask": "Être prévenu(e) une fois par {shop} quand {product} sera de retour en stock ?",
        "product": "« {name} »",
        "unnamed": "ce produit",
        "button": "Oui, prévenez-moi",
        "done": "C'est confirmé : vous serez prévenu(e) une fois, à son retour.",
        "already": "C'est déjà confirmé : vous serez prévenu(e) une fois, à son retour.",
        "expired": "Ce lien a expiré : refaites la demande sur la page du produit.",
    },
    Language.EN: {
        "title": "Back-in-stock alert",
        "ask": "Be told once by {shop} when {product} is back in stock?",
        "product": "“{name}”",
        "unnamed": "this product",
        "button": "Yes, tell me",
        "done": "Confirmed: you will be told once, when it is back.",
        "already": "Already confirmed: you will be told once, when it is back.",
        "expired": "This link has expired: ask again on the product's page.",
    },
}


@require_http_methods(["GET", "POST"])
def confirm_page(request: HttpRequest, code: str) -> HttpResponse:
    stock_request = request_for_code(code)
    if stock_request is None:
        raise Http404("unknown confirmation link")
    site = stock_request.site
    text = TEXT[Language(site.language)]
    name = stock_request.product.name
    product = text["product"].format(name=name) if name else text["unnamed"]
    context = {
        "site": site,
        "text": text,
        "ask": text["ask"].format(shop=site.name, product=product),
        "outcome": "",
    }
    if stock_request.confirmed_at is not None:
        context["outcome"] = text["already"]
    elif request.method == "POST":
        if not confirm_request(request=stock_request):
            context["outcome"] = text["expired"]
            return render(request, "optin/confirm.html", context, status=410)
        context["outcome"] = text["done"]
    return render(request, "optin/confirm.html", context)

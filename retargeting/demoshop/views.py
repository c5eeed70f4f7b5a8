"""A small demo shop (``/demo/shop/``) that uses the snippet exactly as a real shop would.

It exists only with a provider that keeps messages on the machine (the outbox, the embedded
mode's default), where the demo's made-up numbers never reach a real phone.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from retargeting.gateways import get_gateway
from retargeting.sites.access import development_tool
from retargeting.sites.models import Site
from retargeting.web.security import csp_exempt

DEMO_SITE_NAME = "Maison Demo"
CONSENT_TEXT = (
    "J'accepte de recevoir par SMS un rappel de mon panier et des offres de Maison Demo. "
    "Désinscription à tout moment en répondant STOP."
)
PRODUCTS = [
    {"sku": "CH-01", "name": "Chemise en lin", "price": "29.95", "emoji": "👔"},
    {"sku": "VE-07", "name": "Veste légère", "price": "89.00", "emoji": "🧥"},
    {"sku": "SA-03", "name": "Sac en toile", "price": "24.50", "emoji": "👜"},
    {"sku": "FO-11", "name": "Foulard", "price": "19.90", "emoji": "🧣"},
]


def _page(
    request: HttpRequest, template: str, extra: dict[str, object] | None = None
) -> HttpResponse:
    if not get_gateway().stays_on_machine:
        raise Http404("The demo shop exists only with the outbox SMS backend.")
    development_tool(request, "demo shop")
    site = Site.objects.filter(name=DEMO_SITE_NAME).first()
    # The demo stands for a shop's own pages (inline scripts and all): the shop's policy.
    return csp_exempt(
        render(
            request,
            template,
            {"site": site, "products": PRODUCTS, "consent_text": CONSENT_TEXT, **(extra or {})},
        )
    )


def shop(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/shop.html")


def product(request: HttpRequest, sku: str) -> HttpResponse:
    """A product's page: it tells Relance the product was seen (``product_view``), as a
    shop's product page does; a browse reminder links back here."""
    found = next((p for p in PRODUCTS if p["sku"] == sku), None)
    if found is None:
        raise Http404("No such product in the demo shop.")
    return _page(request, "demoshop/product.html", {"product": found})


def cart(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/cart.html")


def thanks(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/thanks.html")

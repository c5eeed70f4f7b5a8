"""A small demo shop (``/demo/shop/``) that uses the snippet exactly as a real shop would.

It exists only with a provider that keeps messages on the machine (the outbox, the embedded
mode's default), where the demo's made-up numbers never reach a real phone.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from retargeting.gateways import get_gateway
from retargeting.sites.access import development_tool
from retargeting.sites.models import Site
from retargeting.tracking.catalog import update_products
from retargeting.tracking.models import Product
from retargeting.web.security import csp_exempt

DEMO_SITE_NAME = "Maison Demo"
NARROW_NBSP = "\u202f"  # French thousands separator, as Intl.NumberFormat("fr") writes it
CONSENT_TEXT = (
    "J'accepte de recevoir par SMS un rappel de mon panier et des offres de Maison Demo. "
    "Désinscription à tout moment en répondant STOP."
)
STOCK_ALERT_TEXT = "Prévenez-moi par SMS quand ce produit est de retour chez Maison Demo."
PRODUCTS = [
    {"sku": "CH-01", "name": "Chemise en lin", "price": "29.95", "emoji": "👔", "available": True},
    {"sku": "VE-07", "name": "Veste légère", "price": "89.00", "emoji": "🧥", "available": True},
    {"sku": "SA-03", "name": "Sac en toile", "price": "24.50", "emoji": "👜", "available": True},
    # Out of stock in the demo: its page offers the back-in-stock alert.
    {"sku": "FO-11", "name": "Foulard", "price": "19.90", "emoji": "🧣", "available": False},
]


def money(amount: str | Decimal, *, language: str, currency: str = "EUR") -> str:
    """A price as the shop's customers read it: "19,90\u00a0€" in French, "€19.90" in
    English (what the pages' ``Intl.NumberFormat`` writes for the cart, the same on both sides)."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    symbol = {"EUR": "€"}.get(currency, currency)
    if language == "fr":
        whole, _, cents = f"{value:,.2f}".partition(".")
        return f"{whole.replace(',', NARROW_NBSP)},{cents}\u00a0{symbol}"
    return f"{symbol}{value:,.2f}"


def _catalogue(language: str) -> list[dict[str, object]]:
    return [
        {**item, "price_label": money(str(item["price"]), language=language)} for item in PRODUCTS
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
            {
                "site": site,
                "products": _catalogue(site.language if site else "fr"),
                "consent_text": CONSENT_TEXT,
                "stock_alert_text": STOCK_ALERT_TEXT,
                **(extra or {}),
            },
        )
    )


def shop(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/shop.html")


def cart(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/cart.html")


def thanks(request: HttpRequest) -> HttpResponse:
    return _page(request, "demoshop/thanks.html")


def product(request: HttpRequest, sku: str) -> HttpResponse:
    """A product's page: the snippet reports the view (``product_view``, as a shop's product
    page does); an out-of-stock product offers the back-in-stock alert. Its stock is what the
    shop last reported (the demo's restock button below), else the catalogue's."""
    found = _product(sku)
    site = Site.objects.filter(name=DEMO_SITE_NAME).first()
    found = {
        **found,
        "price_label": money(str(found["price"]), language=site.language if site else "fr"),
    }
    known = (
        Product.objects.filter(site=site, external_id=sku).values_list("available", flat=True)
        if site
        else []
    )
    stock = next(iter(known), None)
    shown = {**found, "available": found["available"] if stock is None else stock}
    return _page(request, "demoshop/product.html", {"product": shown})


@require_POST
def stock(request: HttpRequest, sku: str) -> HttpResponse:
    """What the shop's server does when a product comes back (or sells out): it reports the
    stock (``catalog.update_products``, as ``POST /api/v1/products`` does); a product back in
    stock starts its alerts."""
    _product(sku)
    if not get_gateway().stays_on_machine:
        raise Http404("The demo shop exists only with the outbox SMS backend.")
    development_tool(request, "demo shop")
    site = Site.objects.filter(name=DEMO_SITE_NAME).first()
    if site is None:
        raise Http404("The demo site is not loaded.")
    available = request.POST.get("available") == "1"
    update_products(site=site, products=[{"id": sku, "available": available}], now=timezone.now())
    return redirect(f"/demo/shop/p/{sku}/")


def _product(sku: str) -> dict[str, object]:
    found = next((item for item in PRODUCTS if item["sku"] == sku), None)
    if found is None:
        raise Http404("No such product in the demo shop.")
    return found

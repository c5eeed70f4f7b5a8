"""The platforms' product webhooks: a product's stock, for back-in-stock alerts.

Both are read into the stock service (``retargeting.tracking.catalog.update_products``), the
one home of the restock rule, so a product back in stock from Shopify, WooCommerce or the
shop's own server is the same restock, dated once.

- Shopify, ``products/update`` (the REST Product, as the webhook reference's example and
  tests/fixtures/platforms/webhooks/shopify_product.json show it): the product (its ``id``) is
  available when its ``status`` is ``active`` and any variant can be bought: its
  ``inventory_policy`` is ``continue`` (sold when out of stock), or its
  ``inventory_quantity`` is above 0, or (in bodies of API versions that still carry it) its
  ``inventory_management`` is null (stock not tracked). The quantity is the sum of the
  variants' positive ``inventory_quantity``. Its address, ``https://SHOP/products/HANDLE`` on
  the store's domain of ``connect_platform --shop-domain``, is kept only for a product without
  one (the page's own address, from product views, is better).
- WooCommerce, ``product.updated`` (the REST API v3 Product, ``GET /wc/v3/products/ID``, which
  is what a v3 webhook sends): available when its ``status`` is ``publish`` and its
  ``stock_status`` is ``instock`` or ``onbackorder`` (it can be bought, delivered later), not
  when ``outofstock``; ``stock_quantity`` is its quantity when ``manage_stock`` is on. A
  variation's own update (``type`` ``variation``) is left out: WooCommerce then saves its
  product with the stock status of all its variations, and that update is read.

Neither body carries the shop's currency, so the price is left to the product's pages.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from retargeting.platforms.models import Platform, PlatformConnection
from retargeting.platforms.payloads import Unreadable, mapping, sequence, text
from retargeting.tracking.catalog import (
    ID_LENGTH,
    IMAGE_LENGTH,
    NAME_LENGTH,
    QUANTITY_LIMIT,
    SKU_LENGTH,
    URL_LENGTH,
    ProductUpdate,
    update_products,
)

logger = logging.getLogger(__name__)

TOPICS = {(Platform.SHOPIFY, "products/update"), (Platform.WOOCOMMERCE, "product.updated")}
# WooCommerce's stock statuses in which a shopper can buy the product.
WOOCOMMERCE_BUYABLE = ("instock", "onbackorder")
WOOCOMMERCE_STOCK_STATUSES = (*WOOCOMMERCE_BUYABLE, "outofstock")


def handles(connection: PlatformConnection, topic: str) -> bool:
    """Whether ``topic`` is the product webhook of this connection's platform."""
    return (connection.platform, topic) in TOPICS


def handle(*, connection: PlatformConnection, topic: str, payload: dict[str, Any]) -> str:
    """Apply one verified product webhook; return what it did (kept with the delivery)."""
    if connection.platform == Platform.SHOPIFY:
        product: ProductUpdate | None = shopify_product(connection, payload)
        keep_urls = True
    else:
        product = woocommerce_product(connection, payload)
        keep_urls = False
    if product is None:
        return "ignored: a variation (its product's update carries the stock)"
    update_products(
        site=connection.site, products=[product], now=timezone.now(), keep_urls=keep_urls
    )
    state = {True: "available", False: "unavailable", None: "stock unknown"}
    return f"product {product['id']}: {state[product.get('available')]}"


def _id(payload: dict[str, Any]) -> str:
    value = text(payload.get("id"))
    if not value or len(value) > ID_LENGTH:
        raise Unreadable("id", "the product's id")
    return value


def _quantity(value: Any) -> int | None:
    """A stock count as the platforms send it (a whole number), within the column's range."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if abs(value) <= QUANTITY_LIMIT else None


def _describe(product: ProductUpdate, connection: PlatformConnection, **fields: Any) -> None:
    """Add the descriptive fields that fit their columns (a link only on the site's domains,
    an image only as an http(s) address)."""
    limits = {"sku": SKU_LENGTH, "name": NAME_LENGTH, "url": URL_LENGTH, "image": IMAGE_LENGTH}
    for key, raw in fields.items():
        value = text(raw)
        if not value or len(value) > limits[key]:
            continue
        if key in ("url", "image") and not value.lower().startswith(("http://", "https://")):
            continue
        if key == "url" and not connection.site.owns_url(value):
            logger.warning(
                "site %s: a product's address is not on the site's domains (%s): kept without it",
                connection.site_id,
                value.split("?", 1)[0],
            )
            continue
        product[key] = value  # type: ignore[literal-required]


def _shopify_buyable(variant: dict[str, Any]) -> bool:
    if text(variant.get("inventory_policy")) == "continue":
        return True
    if "inventory_management" in variant and variant["inventory_management"] is None:
        return True  # Shopify does not track this variant's stock (older API versions say so)
    quantity = _quantity(variant.get("inventory_quantity"))
    return quantity is not None and quantity > 0


def shopify_product(connection: PlatformConnection, payload: dict[str, Any]) -> ProductUpdate:
    product: ProductUpdate = {"id": _id(payload)}
    variants = [mapping(variant) for variant in sequence(payload.get("variants"))]
    status = text(payload.get("status")) or "active"
    if status != "active":
        product["available"] = False  # a draft or archived product is sold nowhere
    elif any("inventory_quantity" in v or "inventory_policy" in v for v in variants):
        product["available"] = any(_shopify_buyable(variant) for variant in variants)
    # else: a body without its variants' stock (the store chose the webhook's fields) says
    # nothing of it.
    quantities = [_quantity(variant.get("inventory_quantity")) for variant in variants]
    counted = [quantity for quantity in quantities if quantity is not None]
    if counted:
        product["quantity"] = min(sum(q for q in counted if q > 0), QUANTITY_LIMIT)
    handle = text(payload.get("handle"))
    shop = connection.shop_domain
    _describe(
        product,
        connection,
        name=payload.get("title"),
        url=f"https://{shop}/products/{handle}" if shop and handle else None,
        image=mapping(payload.get("image")).get("src")
        or mapping(next(iter(sequence(payload.get("images"))), None)).get("src"),
    )
    return product


def woocommerce_product(
    connection: PlatformConnection, payload: dict[str, Any]
) -> ProductUpdate | None:
    product: ProductUpdate = {"id": _id(payload)}
    if text(payload.get("type")) == "variation":
        return None
    stock_status = text(payload.get("stock_status"))
    if text(payload.get("status")) not in ("", "publish"):
        product["available"] = False  # a draft, pending or private product is sold to no one
    elif stock_status in WOOCOMMERCE_STOCK_STATUSES:
        product["available"] = stock_status in WOOCOMMERCE_BUYABLE
    if payload.get("manage_stock") is True:
        product["quantity"] = _quantity(payload.get("stock_quantity"))
    elif payload.get("manage_stock") is False:
        product["quantity"] = None  # WooCommerce counts no stock for it
    _describe(
        product,
        connection,
        sku=payload.get("sku"),
        name=payload.get("name"),
        url=payload.get("permalink"),
        image=mapping(next(iter(sequence(payload.get("images"))), None)).get("src"),
    )
    return product

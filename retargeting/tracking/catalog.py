"""The shop's products as Relance knows them, and the one service that writes their stock.

Every door that reports stock (the shop's server, ``POST /api/v1/products``; Shopify's
``products/update``; WooCommerce's ``product.updated``) hands its products to
``update_products``. It is the one home of the restock rule: ``restocked_at`` is set exactly
when a product goes from unavailable (``available`` False) to available (True). Not when it was
unknown before (a product first heard of as available has not come back: nobody waited for it),
not when it stays available. Back-in-stock alerts wait for that moment.

Two reports at once (two webhooks, a webhook and the shop's server) must neither lose a restock
nor invent a second one: the rows are locked (``SELECT ... FOR UPDATE``) before their state is
read, so the second report sees what the first wrote. A batch costs the same few queries
whatever its size: insert the unknown ids (ignoring those that exist), lock and read every row,
write them back in one bulk update.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Required, TypedDict

from django.db import transaction

from retargeting.sites.domains import url_on_domains
from retargeting.sites.models import Site
from retargeting.tracking import schema, signals
from retargeting.tracking.models import Product

logger = logging.getLogger(__name__)

MAX_PRODUCTS = 500
# Shopify refuses a quantity under minus one billion (GraphQL Admin API 2024-10 release notes,
# INVALID_QUANTITY_TOO_LOW); an oversold product's stock is negative, and that is no error.
QUANTITY_LIMIT = 1_000_000_000


def _length(name: str) -> int:
    length = Product._meta.get_field(name).max_length  # type: ignore[union-attr]
    assert isinstance(length, int)
    return length


ID_LENGTH = _length("external_id")
SKU_LENGTH = _length("sku")
NAME_LENGTH = _length("name")
URL_LENGTH = _length("url")
IMAGE_LENGTH = _length("image")
# What a report may say about a product besides its stock, each replacing what was known.
DESCRIPTION = ("sku", "name", "url", "image", "price", "currency")


class ProductUpdate(TypedDict, total=False):
    """One product as a door reports it. Only ``id`` is required; a key left out keeps what
    was known. ``available`` None (or absent) with a ``quantity`` means ``quantity > 0``;
    ``quantity`` None says the shop does not count this product's stock."""

    id: Required[str]
    sku: str
    name: str
    url: str
    image: str
    price: Decimal
    currency: str
    available: bool | None
    quantity: int | None


def availability(product: ProductUpdate) -> bool | None:
    """Whether the report says the product can be bought: its ``available``, else whether its
    ``quantity`` is above 0, else None (the report says nothing of it)."""
    available = product.get("available")
    if available is not None:
        return available
    quantity = product.get("quantity")
    if quantity is not None:
        return quantity > 0
    return None


def update_products(
    *,
    site: Site | int,
    products: Iterable[ProductUpdate],
    now: datetime,
    keep_urls: bool = False,
    claimed: bool = False,
) -> int:
    """Write what a door reported about these products of ``site`` (a ``Site`` or its id);
    return how many products were written. A product named twice counts once (the last
    report wins). ``keep_urls``: a reported ``url`` is kept only where none is known (a
    platform's address for the product, less good than the page's own). ``claimed``: the
    report is a claim anyone could make (a browser's ``product_view``): it only fills what is
    not known yet, so it never changes a known stock and never dates a return.

    After the commit, the products that came back in stock are handed upward with
    ``signals.products_restocked`` (an accelerator: the back-in-stock pass reads
    ``restocked_at`` anyway, so nothing is lost when no receiver runs)."""
    site_id = site if isinstance(site, int) else site.pk
    latest: dict[str, ProductUpdate] = {product["id"]: product for product in products}
    if not latest:
        return 0
    ids = sorted(latest)  # the same order in every transaction: no deadlock between two
    restocked: list[int] = []
    with transaction.atomic():
        Product.objects.bulk_create(
            [Product(site_id=site_id, external_id=pid, updated_at=now) for pid in ids],
            ignore_conflicts=True,
        )
        rows = list(
            Product.objects.select_for_update()
            .filter(site_id=site_id, external_id__in=ids)
            .order_by("external_id")
        )
        for row in rows:
            report = latest[row.external_id]
            if claimed:
                report = _unknown_only(row, report)
            if _apply(row, report, now=now, keep_urls=keep_urls, claimed=claimed):
                restocked.append(row.pk)
        Product.objects.bulk_update(
            rows,
            [
                *DESCRIPTION,
                "available",
                "quantity",
                "restocked_at",
                "stock_changed_at",
                "updated_at",
            ],
        )
        if restocked:
            transaction.on_commit(lambda: _hand_up(site_id, restocked, now))
    return len(rows)


def _apply(
    row: Product, report: ProductUpdate, *, now: datetime, keep_urls: bool, claimed: bool = False
) -> bool:
    """Change ``row`` as ``report`` says; True when the product came back in stock: from the
    unavailable the shop itself reported (a page's claim of "sold out" followed by the shop's
    routine "available" is no return) to available."""
    before = (row.available, row.quantity)
    shop_knew = row.stock_changed_at is not None
    available = availability(report)
    if available is not None:
        row.available = available
    if "quantity" in report:
        row.quantity = report["quantity"]
    for field in DESCRIPTION:
        value = report.get(field)
        if value is None or value == "":
            continue
        if field == "url" and keep_urls and row.url:
            continue
        setattr(row, field, value)
    row.updated_at = now
    reported = available is not None or "quantity" in report
    if not claimed and reported and ((row.available, row.quantity) != before or not shop_knew):
        row.stock_changed_at = now  # the shop's word on stock, from now on
    if shop_knew and before[0] is False and row.available is True:
        row.restocked_at = now
        return True
    return False


def _unknown_only(row: Product, report: ProductUpdate) -> ProductUpdate:
    """What of ``report`` the row does not know yet (a claim never overrides the shop)."""
    kept: ProductUpdate = {"id": report["id"]}
    for field, value in report.items():
        if field == "id":
            continue
        if field in ("available", "quantity"):
            known = row.available is not None or row.quantity is not None
        else:
            known = getattr(row, field) not in (None, "")
        if not known:
            kept[field] = value  # type: ignore[literal-required]
    return kept


def _hand_up(site_id: int, product_ids: list[int], at: datetime) -> None:
    for receiver, outcome in signals.products_restocked.send_robust(
        sender=Product, site_id=site_id, product_ids=product_ids, at=at
    ):
        if isinstance(outcome, Exception):
            logger.error(
                "site %s: a restock receiver (%r) failed: %r (the next pass reads restocked_at)",
                site_id,
                receiver,
                outcome,
            )


# --- ``POST /api/v1/products``: the body, read whole or refused whole -----------------------


def read_products(
    body: dict[str, Any], *, domains: list[str] | tuple[str, ...]
) -> list[ProductUpdate]:
    """The products of a ``POST /api/v1/products`` body, or ``schema.PayloadError`` naming the
    first wrong field (then nothing of the batch is written). Each product's ``url`` must be
    on the site's ``domains``: it is the link a back-in-stock message gives."""
    raw = body.get("products")
    if not isinstance(raw, list) or not raw:
        raise schema.PayloadError("products", "a non-empty list")
    if len(raw) > MAX_PRODUCTS:
        raise schema.PayloadError("products", f"at most {MAX_PRODUCTS} products per request")
    products: list[ProductUpdate] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        path = f"products[{index}]"
        product = read_product(item, path, domains=domains)
        first = seen.setdefault(product["id"], index)
        if first != index:
            raise schema.PayloadError(f"{path}.id", f"an id not given before (products[{first}])")
        products.append(product)
    return products


def read_product(item: Any, path: str, *, domains: list[str] | tuple[str, ...]) -> ProductUpdate:
    if not isinstance(item, dict):
        raise schema.PayloadError(path, "an object")
    pid = schema.string_field(item, "id", path, max_length=ID_LENGTH, allow_number=True)
    assert pid is not None
    product: ProductUpdate = {"id": pid}
    available = item.get("available")
    if not isinstance(available, bool):
        raise schema.PayloadError(f"{path}.available", "true or false (required)")
    product["available"] = available
    quantity = item.get("quantity")
    if quantity is not None:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise schema.PayloadError(f"{path}.quantity", "a whole number")
        if not -QUANTITY_LIMIT <= quantity <= QUANTITY_LIMIT:
            raise schema.PayloadError(
                f"{path}.quantity", f"a whole number from -{QUANTITY_LIMIT} to {QUANTITY_LIMIT}"
            )
        product["quantity"] = quantity
    sku = schema.string_field(
        item, "sku", path, max_length=SKU_LENGTH, required=False, allow_number=True
    )
    if sku:
        product["sku"] = sku
    name = schema.string_field(item, "name", path, max_length=NAME_LENGTH, required=False)
    if name:
        product["name"] = name
    # The snippet's readers of a link and an amount (``schema``), so that every door reads
    # them alike; the product's columns are as long as the cart's (tests hold them equal).
    url = schema._url(item, "url", path)
    if url:
        if not url_on_domains(url, domains):
            raise schema.PayloadError(f"{path}.url", "an http(s) URL on one of the site's domains")
        product["url"] = url
    image = schema._url(item, "image", path)
    if image:
        product["image"] = image
    if item.get("price") is not None:
        product["price"] = schema._amount(item, "price", path)
    if item.get("currency") is not None:
        product["currency"] = schema._currency(item, path)
    return product

"""Every string field of the collector's events and the server API's bodies is at most as long
as the column it is stored in: read from the published description (``/api/schema``) and the
models, and tried through the validators both collector servers and the server API share.
A field that outgrew its column passed the check, then failed the write (the COPY of the
ingest, a 500 on the direct path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db.models import Model

from campaigns.models import Conversion, Order, OrderUpdate
from optin.models import Contact
from retargeting.sites.models import Site
from retargeting.tracking import schema
from retargeting.tracking.catalog import read_product
from retargeting.tracking.models import Cart, Event, Product, Visitor
from retargeting.tracking.openapi import description

# Where each string field is stored: every column it reaches.
COLUMNS: dict[str, list[tuple[type[Model], str]]] = {
    "site": [(Site, "public_key")],
    "vid": [(Visitor, "vid")],
    "cart.id": [(Cart, "external_id")],
    "cart.ref": [(Cart, "ref")],
    "cart.url": [(Cart, "url")],
    "cart.currency": [(Cart, "currency")],
    "order_id": [(Event, "order_id"), (Conversion, "order_id"), (Order, "external_id")],
    "currency": [(Conversion, "currency")],
    "customer_id": [(Visitor, "customer_id"), (Order, "customer_id")],
    "tracking_url": [(Order, "tracking_url"), (OrderUpdate, "tracking_url")],
    "first_name": [(Contact, "first_name")],
    "email": [(Contact, "email")],
    "products.id": [(Product, "external_id")],
    "products.sku": [(Product, "sku")],
    "products.name": [(Product, "name")],
    "products.url": [(Product, "url")],
    "products.image": [(Product, "image")],
    "products.currency": [(Product, "currency")],
    # back_in_stock: the product the request names (its row, created if unknown)
    "product_id": [(Product, "external_id")],
    "product.id": [(Product, "external_id")],
    "product.sku": [(Product, "sku")],
    "product.name": [(Product, "name")],
    "product.url": [(Product, "url")],
    "product.image": [(Product, "image")],
    "product.currency": [(Product, "currency")],
}
# Kept inside JSON (an event's payload, a cart's items) or never stored as sent: no column.
NOT_IN_A_COLUMN = {
    "url",  # a page view's address, in its payload
    "title",
    "cart.items.sku",
    "cart.items.name",
    "cart.items.url",
    "cart.items.image",
    "consent.text",  # a text column, no length
    "consent.source",
    "email_consent.text",
    "email_consent.source",
    "token",  # read, never stored
    "phone",  # stored in E.164 (16 characters at most) once read
    "type",
    "status",  # an order's status: one of its enum's values
    # An order's items, in its JSON column.
    "items.id",
    "items.sku",
    "items.name",
    "items.url",
    "items.image",
}
# Amounts in a string: their pattern bounds them (ten digits before the dot), and they are
# stored as numbers (Cart.total: twelve digits, two after the dot).
AMOUNTS = {
    "total",
    "cart.total",
    "cart.items.price",
    "products.price",
    "items.price",
    "product.price",
}


def _strings(node: Any, path: str) -> Iterator[tuple[str, int | None]]:
    """(field path, maxLength) of every string property under ``node``."""
    if not isinstance(node, dict):
        return
    for name, prop in node.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        kinds = [prop, *prop.get("oneOf", [])]
        strings = [k for k in kinds if k.get("type") == "string"]
        if strings:
            yield where, max((k.get("maxLength") or 0) for k in strings) or None
        yield from _strings(prop, where)
        yield from _strings(prop.get("items"), where)


def _described() -> list[tuple[str, str, int | None]]:
    found = []
    spec = description()
    for name, component in spec["components"]["schemas"].items():
        if name == "Error":  # an answer, not what is sent
            continue
        found += [(name, path, length) for path, length in _strings(component, "")]
    for route, methods in spec["paths"].items():
        for method in methods.values():
            body = method.get("requestBody", {}).get("content", {}).get("application/json", {})
            found += [(route, path, length) for path, length in _strings(body.get("schema"), "")]
    return found


def test_every_string_field_is_as_long_as_its_column_and_no_longer():
    described = _described()
    assert len(described) > 30  # the walk found the fields
    unplaced = sorted({path for _, path, _ in described} - set(COLUMNS) - NOT_IN_A_COLUMN - AMOUNTS)
    assert unplaced == [], "a new field: say which column stores it (or that none does)"
    for where, path, length in described:
        for model, field in COLUMNS.get(path, []):
            column = model._meta.get_field(field).max_length
            assert length == column, f"{where} {path}: {length}, column {model.__name__}.{field}"
        if path in NOT_IN_A_COLUMN and path not in ("type", "status"):
            assert length is not None, f"{where} {path} has no maxLength"


CART = {
    "id": "c1",
    "currency": "EUR",
    "total": 1,
    "url": "https://shop.example/cart",
    "items": [{"sku": "A1", "name": "Chemise", "price": 1, "quantity": 1}],
}


def _cart(**fields: Any) -> dict[str, Any]:
    return schema.cart({"cart": {**CART, **fields}}, "")


def _url(length: int) -> str:
    start = "https://shop.example/"
    return start + "a" * (length - len(start))


# Each field through the validator the doors call, with a value of a given length.
CHECKS: dict[str, Callable[[int], Any]] = {
    "site": lambda n: schema.site_key({"site": "k" * n}),
    "vid": lambda n: schema.validate_vid("v" * n),
    "cart.id": lambda n: _cart(id="i" * n)["cart"]["id"],
    "cart.ref": lambda n: _cart(ref="r" * n)["cart"]["ref"],
    "cart.url": lambda n: _cart(url=_url(n))["cart"]["url"],
    "order_id": lambda n: schema.purchase({"order_id": "o" * n, "total": 1, "currency": "EUR"}, "")[
        "order_id"
    ],
    "customer_id": lambda n: schema.customer_id({"customer_id": "c" * n}),
    "first_name": lambda n: schema.identify({"phone": "0612345678", "first_name": "M" * n}, "")[
        "first_name"
    ],
    "email": lambda n: schema.identify({"email": _address(n)}, "")["email"],
    "products.id": lambda n: _product(id="i" * n)["id"],
    "products.sku": lambda n: _product(sku="s" * n)["sku"],
    "products.name": lambda n: _product(name="n" * n)["name"],
    "products.url": lambda n: _product(url=_url(n))["url"],
    "products.image": lambda n: _product(image=_url(n))["image"],
    "product_id": lambda n: schema.back_in_stock(
        {"product": {"id": "p" * n}, "email": "a@example.fr", "consent": _ASKED}, ""
    )["product"]["id"],
    "product.id": lambda n: _product(id="p" * n)["id"],
    "product.sku": lambda n: _product(sku="s" * n)["sku"],
    "product.name": lambda n: _product(name="N" * n)["name"],
    "product.url": lambda n: _product(url=_url(n))["url"],
    "product.image": lambda n: _product(image=_url(n))["image"],
}
_ASKED = {"granted": True, "text": "Prévenez-moi"}


def _product(**fields: Any) -> Any:
    return read_product({"id": "P1", "available": True, **fields}, "", domains=["shop.example"])


PRODUCT = {
    "id": "P1",
    "name": "Chemise",
    "price": 29.95,
    "currency": "EUR",
    "url": "https://shop.example/p/chemise",
}


def _product(**fields: Any) -> dict[str, Any]:
    return schema.product_view({"product": {**PRODUCT, **fields}}, "")["product"]


def _address(length: int) -> str:
    """A deliverable-looking address of ``length`` characters (labels of at most 63)."""
    domain_length = length - 65
    labels = ["b" * 63, "c" * 63, "d" * (domain_length - 63 - 63 - 5)]
    return "a" * 64 + "@" + ".".join(labels) + ".fr"


@pytest.mark.parametrize("path", sorted(CHECKS))
def test_a_value_as_long_as_the_column_is_taken_and_one_character_more_is_refused(path):
    length = COLUMNS[path][0][0]._meta.get_field(COLUMNS[path][0][1]).max_length
    assert len(CHECKS[path](length)) == length
    with pytest.raises(schema.PayloadError):
        CHECKS[path](length + 1)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x00", " ", "\t"])
def test_a_visitor_id_or_site_key_with_anything_after_it_is_refused(suffix):
    vid = "v" * 64
    assert schema.validate_vid(vid) == vid  # control
    with pytest.raises(schema.PayloadError):
        schema.validate_vid(vid + suffix)
    with pytest.raises(schema.PayloadError):
        schema.site_key({"site": "pk_" + "k" * 22 + suffix})


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%00"])
def test_a_platform_webhook_token_with_anything_after_it_reaches_no_view(suffix):
    """The route's pattern ends with ``$``, and Django matches such a route whole."""
    from urllib.parse import unquote

    from django.urls import Resolver404, resolve

    token = "a" * 64
    assert resolve(f"/webhooks/shopify/{token}").url_name == "platform-webhook"  # control
    with pytest.raises(Resolver404):
        resolve(unquote(f"/webhooks/shopify/{token}{suffix}"))

"""The platforms' product webhooks: Shopify's ``products/update`` and WooCommerce's
``product.updated`` report a product's stock; a product back from unavailable is restocked once.

Fixtures (tests/fixtures/platforms/webhooks/, sources in SOURCES.md there):
- shopify_product.json: the example Shopify gives for the ``products/create`` and
  ``products/update`` topics (shopify.dev, Webhooks reference, "products/update"; the 2024-10
  release notes list its ``has_variants_that_requires_components`` and ``category``). A variant
  is bought while in stock, or out of stock when its ``inventory_policy`` is ``continue``
  (shopify.dev, ProductVariantInventoryPolicy: "CONTINUE: Customers can buy this product variant
  after it's out of stock. DENY: Customers can't buy this product variant after it's out of
  stock.").
- woocommerce_product.json: the REST API v3 "Retrieve a product" example
  (woocommerce-rest-api-docs, wp-api-v3/_products.md), which is what a v3 ``product.updated``
  webhook delivers (``WC_Webhook::get_wp_api_payload``). ``stock_status``: "Options:
  instock, outofstock, onbackorder"; ``stock_quantity`` counts when ``manage_stock`` is on.
Signatures as the platforms sign: base64 of HMAC-SHA256 of the raw body with the secret.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine

from retargeting.platforms.connections import connect
from retargeting.platforms.models import PlatformDelivery
from retargeting.sites.services import create_site
from retargeting.tracking import signals
from retargeting.tracking.models import Product

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms" / "webhooks"
SHOPIFY_PRODUCT = json.loads((FIXTURES / "shopify_product.json").read_text())
WOO_PRODUCT = json.loads((FIXTURES / "woocommerce_product.json").read_text())
SECRET = "shared-webhook-secret-0123"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SHOPIFY_ID = "788032119674292922"


@dataclass
class Shop:
    site: object
    connection: object
    platform: str
    capture: object
    clock: list[datetime]


@pytest.fixture
def restocks():
    sent = []

    def receiver(sender, *, site_id, product_ids, at, **kwargs):
        sent.append((site_id, product_ids, at))

    signals.products_restocked.connect(receiver, weak=False)
    yield sent
    signals.products_restocked.disconnect(receiver)


def make_shop(platform, capture, domains):
    created = create_site(name="Boutique", domains=domains, country="FR")
    connection = connect(
        site=created.site,
        platform=platform,
        secret=SECRET,
        shop_domain="boutique.myshopify.com" if platform == "shopify" else "",
    )
    return Shop(created.site, connection, platform, capture, [NOW])


@pytest.fixture
def shopify(django_capture_on_commit_callbacks):
    return make_shop("shopify", django_capture_on_commit_callbacks, ["boutique.example"])


@pytest.fixture
def woo(django_capture_on_commit_callbacks):
    # The documented product's permalink is on example.com: the shop's domain here.
    return make_shop("woocommerce", django_capture_on_commit_callbacks, ["example.com"])


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client, shop, payload, *, signature=None, hours=1):
    """One webhook, an hour (by default) after the previous one, as the platform sends it."""
    at = shop.clock[-1] + timedelta(hours=hours)
    shop.clock.append(at)
    raw = json.dumps(payload).encode()
    if shop.platform == "shopify":
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": "products/update",
            "HTTP_X_SHOPIFY_HMAC_SHA256": signature if signature is not None else sign(raw),
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": "boutique.myshopify.com",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": hashlib.sha256(raw).hexdigest()[:32],
        }
    else:
        headers = {
            "HTTP_X_WC_WEBHOOK_SOURCE": "https://example.com/",
            "HTTP_X_WC_WEBHOOK_TOPIC": "product.updated",
            "HTTP_X_WC_WEBHOOK_RESOURCE": "product",
            "HTTP_X_WC_WEBHOOK_EVENT": "updated",
            "HTTP_X_WC_WEBHOOK_SIGNATURE": signature if signature is not None else sign(raw),
            "HTTP_X_WC_WEBHOOK_ID": "14",
            "HTTP_X_WC_WEBHOOK_DELIVERY_ID": hashlib.sha256(raw).hexdigest()[:32],
        }
    with time_machine.travel(at, tick=False), shop.capture(execute=True):
        return client.post(
            urlsplit(shop.connection.webhook_url).path,
            data=raw,
            content_type="application/json",
            **headers,
        )


def shopify_product(*quantities, policy="deny", status="active", at=None, **changes):
    """The documented product, its variants holding ``quantities`` (updated at ``at``)."""
    body = copy.deepcopy(SHOPIFY_PRODUCT)
    for variant, quantity in zip(body["variants"], quantities, strict=False):
        variant["inventory_quantity"] = quantity
        variant["inventory_policy"] = policy
    body["status"] = status
    body["updated_at"] = (at or NOW).isoformat()
    body.update(changes)
    return body


def woo_product(stock_status="instock", *, at=None, **changes):
    body = copy.deepcopy(WOO_PRODUCT)
    body["stock_status"] = stock_status
    body["date_modified_gmt"] = (at or NOW).strftime("%Y-%m-%dT%H:%M:%S")
    body.update(changes)
    return body


def row(external_id):
    return Product.objects.get(external_id=external_id)


# --- Shopify -----------------------------------------------------------------------------------


def test_shopifys_documented_product_is_stored_available_without_a_restock(
    client, shopify, restocks
):
    response = deliver(client, shopify, SHOPIFY_PRODUCT)
    assert response.status_code == 200
    assert response.json()["outcome"] == f"product {SHOPIFY_ID}: available"
    product = row(SHOPIFY_ID)
    assert (product.site_id, product.available, product.quantity, product.name, product.url) == (
        shopify.site.pk,
        True,
        125,  # 75 Small + 50 Medium
        "Example T-Shirt",
        "https://boutique.myshopify.com/products/example-t-shirt",
    )
    assert product.restocked_at is None  # unknown → available: nobody waited for it
    assert restocks == []


def test_a_shopify_product_back_in_stock_is_restocked_once_and_again_after_selling_out(
    client, shopify, restocks
):
    deliver(client, shopify, shopify_product(0, 0, at=NOW))
    assert row(SHOPIFY_ID).available is False
    assert restocks == []  # control: sold out is no restock
    deliver(client, shopify, shopify_product(0, 3, at=NOW + timedelta(1)))
    back = shopify.clock[-1]
    product = row(SHOPIFY_ID)
    assert (product.available, product.quantity, product.restocked_at) == (True, 3, back)
    assert restocks == [(shopify.site.pk, [product.pk], back)]
    # Still in stock (a sale): no second restock.
    deliver(client, shopify, shopify_product(0, 2, at=NOW + timedelta(2)))
    assert row(SHOPIFY_ID).restocked_at == back
    assert len(restocks) == 1
    # Sold out, then back: a second restock.
    deliver(client, shopify, shopify_product(0, 0, at=NOW + timedelta(3)))
    deliver(client, shopify, shopify_product(5, 0, at=NOW + timedelta(4)))
    assert row(SHOPIFY_ID).restocked_at == shopify.clock[-1]
    assert len(restocks) == 2


def test_a_shopify_variant_sold_when_out_of_stock_keeps_the_product_available(client, shopify):
    deliver(client, shopify, shopify_product(0, 0, policy="continue"))
    assert row(SHOPIFY_ID).available is True
    deliver(client, shopify, shopify_product(0, 0, policy="deny", at=NOW + timedelta(1)))
    assert row(SHOPIFY_ID).available is False  # control


def test_a_shopify_variant_whose_stock_shopify_does_not_track_can_be_bought(client, shopify):
    body = shopify_product(0, 0)
    for variant in body["variants"]:
        variant["inventory_management"] = None  # as API versions before 2024-07 send it
    deliver(client, shopify, body)
    assert row(SHOPIFY_ID).available is True
    body = shopify_product(0, 0, at=NOW + timedelta(1))
    for variant in body["variants"]:
        variant["inventory_management"] = "shopify"
    deliver(client, shopify, body)
    assert row(SHOPIFY_ID).available is False  # control: tracked and none left


def test_a_draft_or_archived_shopify_product_is_unavailable_whatever_its_stock(
    client, shopify, restocks
):
    deliver(client, shopify, shopify_product(0, 0))
    deliver(client, shopify, shopify_product(9, 9, status="draft", at=NOW + timedelta(1)))
    assert row(SHOPIFY_ID).available is False
    assert restocks == []
    deliver(client, shopify, shopify_product(9, 9, at=NOW + timedelta(2)))
    assert row(SHOPIFY_ID).available is True  # control: published again, in stock
    assert len(restocks) == 1


def test_shopifys_address_never_replaces_the_product_pages_own(client, shopify):
    Product.objects.create(
        site=shopify.site,
        external_id=SHOPIFY_ID,
        url="https://boutique.example/products/example-t-shirt",
        available=False,
        updated_at=NOW,
    )
    deliver(client, shopify, SHOPIFY_PRODUCT)
    assert row(SHOPIFY_ID).url == "https://boutique.example/products/example-t-shirt"
    assert row(SHOPIFY_ID).available is True


# --- WooCommerce -------------------------------------------------------------------------------


def test_woocommerces_documented_product_is_stored_available_without_a_restock(
    client, woo, restocks
):
    response = deliver(client, woo, WOO_PRODUCT)
    assert response.status_code == 200
    assert response.json()["outcome"] == "product 794: available"
    product = row("794")
    assert (product.available, product.quantity, product.name, product.url, product.image) == (
        True,
        None,  # manage_stock false: WooCommerce counts no stock
        "Premium Quality",
        "https://example.com/product/premium-quality-19/",
        "https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg",
    )
    assert product.restocked_at is None
    assert restocks == []


def test_a_woocommerce_product_back_in_stock_is_restocked_once_and_again_after_selling_out(
    client, woo, restocks
):
    deliver(client, woo, woo_product("outofstock", manage_stock=True, stock_quantity=0))
    assert (row("794").available, row("794").quantity) == (False, 0)
    assert restocks == []
    managed = {"manage_stock": True, "stock_quantity": 6}
    deliver(client, woo, woo_product("instock", at=NOW + timedelta(1), **managed))
    back = woo.clock[-1]
    assert (row("794").available, row("794").quantity, row("794").restocked_at) == (
        True,
        6,
        back,
    )
    assert restocks == [(woo.site.pk, [row("794").pk], back)]
    deliver(client, woo, woo_product("instock", at=NOW + timedelta(2), stock_quantity=5))
    assert row("794").restocked_at == back  # still in stock: no second restock
    deliver(client, woo, woo_product("outofstock", at=NOW + timedelta(3)))
    deliver(client, woo, woo_product("instock", at=NOW + timedelta(4)))
    assert row("794").restocked_at == woo.clock[-1]
    assert len(restocks) == 2


def test_a_woocommerce_product_on_backorder_can_be_bought(client, woo, restocks):
    deliver(client, woo, woo_product("outofstock"))
    deliver(client, woo, woo_product("onbackorder", at=NOW + timedelta(1)))
    assert row("794").available is True
    assert len(restocks) == 1


def test_an_unpublished_woocommerce_product_is_unavailable(client, woo):
    deliver(client, woo, woo_product("instock", status="draft"))
    assert row("794").available is False
    deliver(client, woo, woo_product("instock", at=NOW + timedelta(1)))
    assert row("794").available is True  # control


def test_a_woocommerce_variations_own_update_is_left_to_its_products(client, woo):
    deliver(client, woo, woo_product("outofstock"))
    variation = woo_product("instock", id=801, type="variation", parent_id=794)
    response = deliver(client, woo, variation)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored")
    assert list(Product.objects.values_list("external_id", "available")) == [("794", False)]


def test_a_woocommerce_permalink_off_the_sites_domains_is_not_kept(client, woo):
    deliver(client, woo, woo_product("instock", permalink="https://evil.example/product/x/"))
    assert (row("794").available, row("794").url) == (True, "")


# --- Both: signed, or nothing changes --------------------------------------------------------


def stored():
    return (
        list(Product.objects.values_list("external_id", "available", "restocked_at")),
        PlatformDelivery.objects.count(),
    )


@pytest.mark.parametrize("platform", ["shopify", "woo"])
def test_a_forged_signature_is_refused_and_changes_nothing(client, request, platform):
    shop = request.getfixturevalue(platform)
    sold_out = shopify_product(0, 0) if platform == "shopify" else woo_product("outofstock")
    back = (
        shopify_product(4, 4, at=NOW + timedelta(1))
        if platform == "shopify"
        else woo_product("instock", at=NOW + timedelta(1))
    )
    assert deliver(client, shop, sold_out).status_code == 200
    before = stored()
    for signature in ("", sign(json.dumps(back).encode(), "another-secret"), sign(b"{}")):
        assert deliver(client, shop, back, signature=signature).status_code == 401
    assert stored() == before
    assert deliver(client, shop, back).status_code == 200  # control: signed, it is taken
    assert stored() != before


@pytest.mark.parametrize("platform", ["shopify", "woo"])
def test_a_signed_body_without_a_product_id_is_refused_whole(client, request, platform):
    shop = request.getfixturevalue(platform)
    body = shopify_product(1, 1) if platform == "shopify" else woo_product()
    body["id"] = None
    before = stored()
    response = deliver(client, shop, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("id")
    assert stored() == before


def test_the_same_delivery_twice_is_handled_once(client, shopify, restocks):
    deliver(client, shopify, shopify_product(0, 0))
    back = shopify_product(1, 1, at=NOW + timedelta(1))
    deliver(client, shopify, back)
    again = deliver(client, shopify, back)  # Shopify's retry: the same body
    assert again.json()["outcome"] == "already handled"
    assert len(restocks) == 1


def test_a_shopify_body_without_its_variants_stock_changes_no_stock(client, shopify):
    """A store may trim the webhook's fields (shopify.dev, "Modify your payloads":
    ``include_fields``); a body without the variants' stock says nothing of it."""
    deliver(client, shopify, shopify_product(0, 0))
    trimmed = {"id": SHOPIFY_PRODUCT["id"], "title": "T-Shirt", "variants": [{"id": 1}]}
    response = deliver(client, shopify, trimmed)
    assert response.json()["outcome"] == f"product {SHOPIFY_ID}: stock unknown"
    assert (row(SHOPIFY_ID).available, row(SHOPIFY_ID).name) == (False, "T-Shirt")
    deliver(client, shopify, shopify_product(1, 0, at=NOW + timedelta(1)))
    assert row(SHOPIFY_ID).available is True  # control


def test_a_stock_count_beyond_any_shops_is_left_out(client, woo):
    body = woo_product("instock", manage_stock=True, stock_quantity=10**15)
    assert deliver(client, woo, body).status_code == 200
    assert (row("794").available, row("794").quantity) == (True, None)

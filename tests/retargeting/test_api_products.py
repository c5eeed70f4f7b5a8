"""``POST /api/v1/products``: the shop's server reports its stock.

CONTRACT.md "HTTP": ``{"products": [{"id", "sku"?, "name"?, "url"?, "image"?, "price"?,
"currency"?, "available": true|false, "quantity"?}]}`` (at most 500); answers
``{"ok", "updated"}``; 401 without a valid key. A batch is stored or refused whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import example, given
from hypothesis import strategies as st

from retargeting.sites.services import create_site
from retargeting.tracking import signals
from retargeting.tracking.models import Product
from tests.support.generated import (
    SETTINGS,
    Raw,
    hostile_json_text,
    hostile_numbers,
    json_values,
    to_json,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def created():
    return create_site(name="Shop", domains=["shop.example"], country="FR")


@pytest.fixture
def restocks():
    sent = []

    def receiver(sender, *, site_id, product_ids, at, **kwargs):
        sent.append((site_id, product_ids, at))

    signals.products_restocked.connect(receiver, weak=False)
    yield sent
    signals.products_restocked.disconnect(receiver)


@pytest.fixture
def post(client, created, django_capture_on_commit_callbacks):
    def send(body, key=created.secret_key, at=NOW):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            return client.post(
                "/api/v1/products", data=data, content_type="application/json", **headers
            )

    return send


def stock(available, quantity=None, pid="P1", **fields):
    product = {"id": pid, "available": available, **fields}
    if quantity is not None:
        product["quantity"] = quantity
    return {"products": [product]}


def rows():
    return list(
        Product.objects.order_by("external_id").values_list(
            "external_id", "available", "quantity", "restocked_at", "name", "url", "price"
        )
    )


def test_a_product_back_in_stock_from_the_shops_server_is_restocked_once(post, restocks):
    assert post(stock(False, 0)).json() == {"ok": True, "updated": 1}
    assert restocks == []  # control: sold out is no restock
    later = NOW + timedelta(hours=2)
    response = post(stock(True, 5), at=later)
    assert (response.status_code, response.json()) == (200, {"ok": True, "updated": 1})
    product = Product.objects.get()
    assert (product.available, product.quantity, product.restocked_at) == (True, 5, later)
    assert restocks == [(product.site_id, [product.pk], later)]
    # Staying available: no second restock.
    post(stock(True, 3), at=later + timedelta(hours=1))
    assert Product.objects.get().restocked_at == later
    assert len(restocks) == 1


def test_a_second_restock_after_selling_out_again_counts_again(post, restocks):
    post(stock(False, 0))
    post(stock(True, 2), at=NOW + timedelta(days=1))
    post(stock(False, 0), at=NOW + timedelta(days=2))
    post(stock(True, 7), at=NOW + timedelta(days=3))
    assert Product.objects.get().restocked_at == NOW + timedelta(days=3)
    assert [at for _, _, at in restocks] == [NOW + timedelta(days=1), NOW + timedelta(days=3)]


def test_a_product_first_reported_available_is_no_restock(post, restocks):
    post(stock(True, 4))
    assert Product.objects.get().restocked_at is None
    assert restocks == []


def test_the_whole_product_is_stored(post):
    body = stock(
        False,
        0,
        sku=1234,
        name=" Chemise lin ",
        url="https://www.shop.example/p/chemise",
        image="https://cdn.example.net/chemise.jpg",
        price="29.90",
        currency="eur",
    )
    assert post(body).status_code == 200
    product = Product.objects.get()
    assert (
        product.sku,
        product.name,
        product.url,
        product.image,
        product.price,
        product.currency,
        product.available,
        product.quantity,
        product.updated_at,
        product.stock_changed_at,
    ) == (
        "1234",
        "Chemise lin",
        "https://www.shop.example/p/chemise",
        "https://cdn.example.net/chemise.jpg",
        Decimal("29.90"),
        "EUR",
        False,
        0,
        NOW,
        NOW,
    )


def test_a_batch_of_500_is_taken_and_501_refused(post):
    body = {"products": [{"id": n, "available": n % 2 == 0} for n in range(500)]}
    assert post(body).json() == {"ok": True, "updated": 500}
    assert Product.objects.count() == 500
    body = {"products": [{"id": f"x{n}", "available": True} for n in range(501)]}
    response = post(body)
    assert response.status_code == 400
    assert "at most 500" in response.json()["error"]
    assert Product.objects.count() == 500


@pytest.mark.parametrize(
    "key", [None, "sk_wrong", "pk_not_a_secret"], ids=["none", "wrong", "public"]
)
def test_without_a_valid_secret_key_nothing_changes(post, created, key):
    post(stock(False, 0))
    before = rows()
    if key == "pk_not_a_secret":
        key = created.site.public_key
    response = post(stock(True, 5), key=key)
    assert response.status_code == 401
    assert rows() == before
    assert post(stock(True, 5)).status_code == 200  # control: with the key it is taken


def test_a_product_link_off_the_sites_domains_is_refused(post):
    response = post(stock(True, url="https://evil.example/p/1"))
    assert response.status_code == 400
    assert response.json()["error"].startswith("products[0].url")
    assert rows() == []
    # Control: a subdomain of the shop's is the shop's; an image may be anywhere.
    response = post(
        stock(True, url="https://m.shop.example/p/1", image="https://cdn.example.net/1.jpg")
    )
    assert response.status_code == 200


BAD = {
    "nan price": '{"products": [{"id": "P1", "available": true, "price": NaN}]}',
    "infinite price": '{"products": [{"id": "P1", "available": true, "price": 1e999}]}',
    "negative price": {"products": [{"id": "P1", "available": True, "price": -1}]},
    "price in words": {"products": [{"id": "P1", "available": True, "price": "12,50"}]},
    "quantity 2.5": {"products": [{"id": "P1", "available": True, "quantity": 2.5}]},
    "quantity in a string": {"products": [{"id": "P1", "available": True, "quantity": "3"}]},
    "quantity true": {"products": [{"id": "P1", "available": True, "quantity": True}]},
    "quantity too large": {"products": [{"id": "P1", "available": True, "quantity": 10**12}]},
    "available missing": {"products": [{"id": "P1", "quantity": 3}]},
    "available a string": {"products": [{"id": "P1", "available": "yes"}]},
    "id missing": {"products": [{"available": True}]},
    "id too long": {"products": [{"id": "x" * 129, "available": True}]},
    "id twice": {"products": [{"id": "P1", "available": True}, {"id": "P1", "available": False}]},
    "repeated key": '{"products": [{"id": "P1", "available": true, "available": false}]}',
    "lone surrogate": '{"products": [{"id": "P1", "available": true, "name": "\\ud800"}]}',
    "not a list": {"products": {"id": "P1", "available": True}},
    "empty list": {"products": []},
    "a product not an object": {"products": ["P1"]},
    "currency": {"products": [{"id": "P1", "available": True, "currency": "euro"}]},
    "a link without http": {"products": [{"id": "P1", "available": True, "url": "javascript:x"}]},
    "not json": "products=P1",
    "an array": "[]",
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused_whole_with_a_json_error_and_nothing_changes(post, body):
    post(stock(False, 0, pid="P0"))
    before = rows()
    if isinstance(body, dict) and isinstance(body["products"], list) and body["products"]:
        # After a good product (P0 back in stock): the batch is refused whole.
        body = {"products": [{"id": "P0", "available": True}, *body["products"]]}
    response = post(body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert rows() == before


def test_unknown_fields_are_ignored_as_in_every_server_api_body(post):
    response = post({"products": [{"id": "P1", "available": True, "color": "red"}], "x": 1})
    assert response.status_code == 200
    assert Product.objects.get().available is True


def test_only_post(client, created):
    response = client.get("/api/v1/products", HTTP_AUTHORIZATION=f"Bearer {created.secret_key}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


# Generated bodies: every answer is 200 or 400, and a 400 stores nothing.
hostile_number = st.one_of(json_values, hostile_numbers)
text = st.one_of(st.text(max_size=30), hostile_json_text)
product_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"id": st.one_of(text, st.integers(), st.just("P1"))},
        optional={
            "available": st.one_of(st.booleans(), json_values),
            "quantity": hostile_number,
            "price": hostile_number,
            "currency": st.one_of(text, st.just("EUR")),
            "url": st.one_of(text, st.just("https://shop.example/p/1")),
            "image": text,
            "name": text,
            "sku": st.one_of(text, hostile_number),
        },
    ),
)


@SETTINGS
@given(products=st.lists(product_like, max_size=4))
@example(products=[{"id": "P1", "available": True, "price": Raw("NaN")}])
@example(products=[{"id": "P1", "available": True, "quantity": Raw("1e400")}])
def test_generated_bodies_are_stored_or_refused_with_nothing_stored(client, products):
    created = create_site(name="Fuzz", domains=["shop.example"], country="FR")
    before = list(Product.objects.values_list("site_id", "external_id", "available", "price"))
    response = client.post(
        "/api/v1/products",
        data=to_json({"products": products}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
    )
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["error"]
        after = list(Product.objects.values_list("site_id", "external_id", "available", "price"))
        assert after == before
    else:
        assert response.json()["updated"] == Product.objects.filter(site=created.site).count()

"""``product_view`` (CONTRACT.md, "Events"): what the collector refuses, what it keeps (the
product and one view per browser, product and day; never an event row), on both of its paths
(written in the request, and the Redis buffer's ingest), and the purge of old views."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retargeting.tracking import buffer, schema
from retargeting.tracking.entries import Entry
from retargeting.tracking.ingest import write_entries
from retargeting.tracking.models import Event, Product, ProductView, Visitor
from retargeting.tracking.openapi import description
from retargeting.tracking.recording import Origin, record_batch
from retargeting.tracking.retention import purge_old_product_views
from tests.factories import SiteFactory
from tests.retargeting.test_collector import ORIGIN, VID, batch, mutate, post

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PAGE = {"type": "page_view", "url": "https://www.shop.example/p/chemise", "title": "Chemise"}
PRODUCT = {
    "id": "P1",
    "sku": "A1",
    "name": "Chemise",
    "price": 29.95,
    "currency": "EUR",
    "url": "https://www.shop.example/p/chemise",
    "image": "https://cdn.example/chemise.jpg",
    "available": True,
}
VIEW = {"type": "product_view", "product": PRODUCT}


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"])


def view(**product):
    return {"type": "product_view", "product": {**PRODUCT, **product}}


def nothing_stored():
    return not (
        Event.objects.exists()
        or Visitor.objects.exists()
        or Product.objects.exists()
        or ProductView.objects.exists()
    )


# --- Stored: the product and the day's view, no event ---------------------------------------


def test_a_product_view_keeps_the_product_and_the_days_view_and_no_event(client, shop):
    with time_machine.travel(T0, tick=False):
        response = post(client, batch(shop, PAGE, {**VIEW, "ts": 1}))
    assert response.status_code == 204
    # The page view is an event; the product view is not (the events table stays bounded).
    assert [e.type for e in Event.objects.all()] == ["page_view"]
    product = Product.objects.get()
    assert (product.site_id, product.external_id, product.sku, product.name) == (
        shop.pk,
        "P1",
        "A1",
        "Chemise",
    )
    assert (product.price, product.currency) == (Decimal("29.95"), "EUR")
    assert product.url == "https://www.shop.example/p/chemise"
    assert product.image == "https://cdn.example/chemise.jpg"
    assert product.available is True
    assert product.restocked_at is None and product.updated_at == T0
    seen = ProductView.objects.get()
    visitor = Visitor.objects.get(vid=VID)
    assert (seen.site_id, seen.visitor_id, seen.product_id) == (shop.pk, visitor.pk, product.pk)
    assert (seen.day, seen.viewed_at) == (T0.date(), T0)


def test_views_of_one_product_in_a_day_are_one_row_with_the_latest_time(client, shop):
    for minutes in (0, 30, 90):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            assert post(client, batch(shop, VIEW)).status_code == 204
    seen = ProductView.objects.get()
    assert seen.viewed_at == T0 + timedelta(minutes=90)
    # The next day (UTC) is a row of its own; another product too.
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert post(client, batch(shop, VIEW, view(id="P2"))).status_code == 204
    assert ProductView.objects.count() == 3
    assert sorted(ProductView.objects.values_list("product__external_id", "day")) == [
        ("P1", T0.date()),
        ("P1", (T0 + timedelta(days=1)).date()),
        ("P2", (T0 + timedelta(days=1)).date()),
    ]
    assert Product.objects.count() == 2
    assert not Event.objects.exists()


def test_a_later_page_updates_the_product_and_keeps_what_it_does_not_say(client, shop):
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, VIEW))
    later = {k: v for k, v in PRODUCT.items() if k not in ("sku", "image", "available")}
    later.update(name="Chemise lin", price="24.50", id=" P1 ")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert post(client, batch(shop, {"type": "product_view", "product": later})).status_code
    product = Product.objects.get()
    assert (product.name, product.price, product.updated_at) == (
        "Chemise lin",
        Decimal("24.50"),
        T0 + timedelta(hours=1),
    )
    # Not said by the later page: kept as the earlier one said.
    assert (product.sku, product.image, product.available) == (
        "A1",
        "https://cdn.example/chemise.jpg",
        True,
    )


def test_a_page_never_dates_a_restock_nor_overrides_the_shops_own_word_on_stock(client, shop):
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, view(available=False)))
    assert Product.objects.get().available is False
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        post(client, batch(shop, view(available=True)))
    product = Product.objects.get()
    # The page's word while the shop has said nothing; a restock is the shop's to date.
    assert product.available is True and product.restocked_at is None
    # Once the shop's server or platform reports the product's stock, its word stands.
    Product.objects.filter(pk=product.pk).update(available=False, stock_changed_at=T0)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        post(client, batch(shop, view(available=True, price=9)))
    product = Product.objects.get()
    # Nor its price: a page is anyone's claim, and the price reaches other customers' messages.
    assert (product.available, product.price, product.restocked_at) == (
        False,
        Decimal("29.95"),
        None,
    )


def test_a_pages_sold_out_then_the_shops_available_is_no_return(client, shop):
    """Only an unavailable the shop itself reported can end in a restock: a page claiming
    "sold out" before the shop's routine "available" sends no alert."""
    from retargeting.tracking.catalog import update_products

    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, view(available=False)))
    update_products(site=shop, products=[{"id": "P1", "available": True}], now=T0)
    assert Product.objects.get().restocked_at is None
    # Control: the shop's own sold out, then back.
    later = T0 + timedelta(hours=1)
    update_products(site=shop, products=[{"id": "P1", "available": False}], now=later)
    update_products(site=shop, products=[{"id": "P1", "available": True}], now=later)
    assert Product.objects.get().restocked_at == later


def test_a_product_view_moves_the_visitors_last_activity(client, shop):
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, PAGE))
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        post(client, batch(shop, VIEW))
    visitor = Visitor.objects.get(vid=VID)
    assert (visitor.first_seen_at, visitor.last_seen_at) == (T0, T0 + timedelta(minutes=20))


def test_products_of_other_sites_are_their_own(client, shop):
    other = SiteFactory(allowed_domains=["other.example"])
    assert post(client, batch(shop, VIEW)).status_code == 204
    theirs = view(url="https://other.example/p/1", name="Autre")
    response = post(client, batch(other, theirs), origin="https://other.example")
    assert response.status_code == 204
    assert sorted(Product.objects.values_list("site_id", "external_id", "name")) == sorted(
        [(shop.pk, "P1", "Chemise"), (other.pk, "P1", "Autre")]
    )


# --- 400: refused whole, nothing stored -----------------------------------------------------

BAD = [
    (["product"], KeyError, "events[1].product: expected an object"),
    (["product"], "P1", "events[1].product: expected an object"),
    (["product", "id"], KeyError, "events[1].product.id"),
    (["product", "id"], "", "events[1].product.id: expected a non-empty string"),
    (["product", "id"], "p" * 129, "events[1].product.id: expected at most 128 characters"),
    (["product", "name"], KeyError, "events[1].product.name"),
    (["product", "name"], "N" * 256, "events[1].product.name: expected at most 255 characters"),
    (["product", "price"], KeyError, "events[1].product.price"),
    (["product", "price"], -1, "events[1].product.price: expected a number ≥ 0"),
    (["product", "price"], "NaN", "events[1].product.price"),
    (["product", "price"], "Infinity", "events[1].product.price"),
    (["product", "price"], 1e300, "events[1].product.price"),
    (["product", "price"], True, "events[1].product.price"),
    (["product", "currency"], "euro", "events[1].product.currency"),
    (["product", "currency"], KeyError, "events[1].product.currency"),
    (["product", "url"], KeyError, "events[1].product.url"),
    (["product", "url"], "javascript:alert(1)", "events[1].product.url: expected an http(s)"),
    (["product", "url"], "https://x/" + "a" * 2000, "events[1].product.url"),
    (["product", "sku"], ["A1"], "events[1].product.sku: expected a string"),
    (["product", "image"], "data:image/png;base64,AA", "events[1].product.image"),
    (["product", "available"], "yes", "events[1].product.available: expected true or false"),
    # Not on the site's domains: a browse reminder would link there under the shop's name.
    (["product", "url"], "https://evil.example/p/1", "events[1].product.url: expected an http"),
    (["product", "url"], "https://shop.example.evil/p", "events[1].product.url"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    BAD,
    ids=[f"{'.'.join(map(str, p))}-{v!r}"[:60] for p, v, _ in BAD],
)
def test_a_wrong_product_view_gets_a_400_naming_the_field_and_stores_nothing(
    client, shop, path, value, message
):
    assert post(client, batch(shop, VIEW), origin=ORIGIN).status_code == 204  # control
    Event.objects.all().delete()
    Product.objects.all().delete()
    Visitor.objects.all().delete()
    response = post(client, batch(shop, PAGE, mutate(VIEW, path, value)))
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "raw",
    [
        '"name": "\\ud800 lone"',  # broken Unicode: a lone UTF-16 surrogate
        '"price": 1e400',  # a number that is infinite once read
        '"price": NaN',
    ],
)
def test_broken_unicode_and_non_finite_numbers_get_a_400(client, shop, raw):
    good = json.dumps(batch(shop, PAGE, VIEW))
    key = raw.split(":")[0]
    original = {'"name"': '"name": "Chemise"', '"price"': '"price": 29.95'}[key]
    assert original in good
    response = post(client, good.replace(original, raw))
    assert response.status_code == 400
    assert response.json()["error"]
    assert nothing_stored()


# --- The buffered path ends where the direct path ends --------------------------------------


@pytest.mark.needs_redis
def test_buffered_product_views_are_written_by_the_ingest_as_directly(client, shop, redis_buffer):
    with time_machine.travel(T0, tick=False):
        assert post(client, batch(shop, PAGE)).status_code == 204
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        assert post(client, batch(shop, VIEW, view(price=20))).status_code == 204
    assert buffer.pending() == 2
    assert not ProductView.objects.exists()  # waiting in Redis, nothing written yet
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert buffer.drain(max_seconds=10) == 2
    assert [e.type for e in Event.objects.all()] == ["page_view"]
    product = Product.objects.get()
    assert (product.price, product.updated_at) == (Decimal(20), T0 + timedelta(minutes=20))
    seen = ProductView.objects.get()
    assert seen.viewed_at == T0 + timedelta(minutes=20)  # when received, not when written
    visitor = Visitor.objects.get(vid=VID)
    assert (visitor.first_seen_at, visitor.last_seen_at) == (T0, T0 + timedelta(minutes=20))


def _entries(site, count, *, start=0):
    return [
        Entry(
            id=f"1-{n}",
            site_id=site.pk,
            vid=f"visitor-{n:010d}-abcdef",
            events=[PAGE, view(id=f"P{n % 50}", url=f"https://shop.example/p/{n % 50}")],
            received_at=T0 + timedelta(seconds=n),
            source="snippet",
            ip=None,
            user_agent="",
        )
        for n in range(start, start + count)
    ]


def test_an_ingest_batch_with_product_views_takes_a_few_queries_whatever_its_size(shop):
    with CaptureQueriesContext(connection) as small:
        write_entries(_entries(shop, 10))
    with CaptureQueriesContext(connection) as large:
        write_entries(_entries(shop, 400, start=10))
    assert Event.objects.count() == 410  # the page views only
    assert Product.objects.count() == 50 and ProductView.objects.count() == 410

    def products(queries):
        return [q["sql"][:40] for q in queries.captured_queries if '"tracking_product' in q["sql"]]

    # One upsert of the products and one of the day's views, whatever the batch holds: no
    # query per view.
    assert len(products(small)) == len(products(large)) == 2, products(large)
    if connection.vendor == "postgresql":
        assert len(large) == len(small) <= 7  # visitors (2), products, views, events (COPY)
    else:
        # SQLite splits a long INSERT by its limit of bound variables (visitors, events).
        assert len(large) <= 14
    # The same entries again (read twice after a crash would be caught by the cursor; here
    # the upserts themselves): nothing grows.
    write_entries(_entries(shop, 10))
    assert ProductView.objects.count() == 410 and Product.objects.count() == 50


def test_a_batch_written_in_the_request_takes_the_same_few_queries(shop):
    origin = Origin(source="snippet")
    views = [view(id=f"P{n}", url=f"https://shop.example/p/{n}") for n in range(40)]
    record_batch(site_id=shop.pk, vid=VID, events=[PAGE], origin=origin)
    with CaptureQueriesContext(connection) as few:
        record_batch(site_id=shop.pk, vid=VID, events=[PAGE, *views[:2]], origin=origin)
    with CaptureQueriesContext(connection) as many:
        record_batch(site_id=shop.pk, vid=VID, events=[PAGE, *views], origin=origin)
    assert len(many) == len(few)
    assert ProductView.objects.count() == 40


# --- Retention -------------------------------------------------------------------------------


def test_product_views_past_their_retention_are_purged_in_batches(client, shop, settings):
    settings.PRODUCT_VIEW_RETENTION_DAYS = 90
    for days_ago in (120, 91, 89, 1):
        with time_machine.travel(T0 - timedelta(days=days_ago), tick=False):
            post(client, batch(shop, VIEW))
    assert ProductView.objects.count() == 4
    assert purge_old_product_views(now=T0, batch=1) == 2
    assert sorted((T0 - v.viewed_at).days for v in ProductView.objects.all()) == [1, 89]
    assert Product.objects.count() == 1  # the catalogue stays
    assert purge_old_product_views(now=T0) == 0


def test_the_nightly_task_purges_product_views(client, shop, settings):
    from retargeting.tasks import purge_old_events

    with time_machine.travel(T0 - timedelta(days=200), tick=False):
        post(client, batch(shop, VIEW))
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, view(id="P2")))
        assert purge_old_events() == 1
    assert list(ProductView.objects.values_list("product__external_id", flat=True)) == ["P2"]


# --- One list of event types ----------------------------------------------------------------


def test_every_event_type_is_described_snippet_called_and_stored_as_the_one_list_says():
    from retargeting.tracking.views import SNIPPET_PATH

    assert "product_view" in schema.EVENT_TYPES
    events = description()["components"]["schemas"]
    assert {name.removeprefix("Event_") for name in events if name != "Error"} == set(
        schema.EVENT_TYPES
    )
    assert buffer.BUFFERED_TYPES == {"page_view", "cart", "product_view"}
    assert set(Event.Type.values) == schema.KEPT_AS_EVENTS
    snippet = Path(SNIPPET_PATH).read_text()
    for name in schema.EVENT_TYPES:
        assert f'"{name}"' in snippet or f"{name}|" in snippet or f"|{name}" in snippet, name


def test_the_batch_is_validated_as_the_contract_shows_it():
    clean = schema.validate_event(copy.deepcopy(VIEW), "events[0]")
    assert clean == {
        "type": "product_view",
        "product": {
            "id": "P1",
            "sku": "A1",
            "name": "Chemise",
            "price": "29.95",
            "currency": "EUR",
            "url": "https://www.shop.example/p/chemise",
            "image": "https://cdn.example/chemise.jpg",
            "available": True,
        },
    }
    # A whole number for an id or a SKU is its digits; unknown keys are left out.
    minimal = schema.validate_event(
        {"type": "product_view", "product": {**PRODUCT, "id": 42, "sku": 7, "color": "red"}}, ""
    )
    assert (minimal["product"]["id"], minimal["product"]["sku"]) == ("42", "7")
    assert "color" not in minimal["product"]

"""``POST /t/e``: the contract's answers for every input, and what is recorded."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from retargeting.tracking.models import Cart, Event, Visitor
from retargeting.tracking.signals import identify_received, purchase_received
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
VID = "0123456789abcdef0123456789abcdef"
ORIGIN = "https://www.shop.example"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CART = {
    "id": "cart-1",
    "currency": "EUR",
    "total": 59.9,
    "url": "https://shop.example/cart?restore=cart-1",
    "items": [
        {
            "sku": "A1",
            "name": "Chemise",
            "price": 29.95,
            "quantity": 2,
            "url": "https://shop.example/p/a1",
            "image": "https://shop.example/a1.jpg",
        },
    ],
}


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"])


def batch(site, *events, vid=VID):
    return {"site": site.public_key, "vid": vid, "events": list(events)}


def post(client, body, *, origin=ORIGIN, content_type="text/plain", **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return client.post("/t/e", data=data, content_type=content_type, **headers)


def nothing_stored():
    return not (Event.objects.exists() or Visitor.objects.exists() or Cart.objects.exists())


# --- 204: stored ---------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_batch_is_stored_and_dated_by_the_server(client, shop):
    response = post(
        client,
        batch(
            shop, {"type": "page_view", "url": "https://shop.example/", "title": "Accueil", "ts": 1}
        ),
    )
    assert response.status_code == 204
    event = Event.objects.get()
    assert event.received_at == NOW
    assert event.payload == {
        "type": "page_view",
        "url": "https://shop.example/",
        "title": "Accueil",
    }
    assert event.visitor.vid == VID and event.site == shop
    assert event.source == "snippet"


def test_application_json_is_accepted_too(client, shop):
    response = post(
        client,
        batch(shop, {"type": "page_view", "url": "https://shop.example/"}),
        content_type="application/json",
    )
    assert response.status_code == 204


def test_the_client_address_is_stored_truncated(client, shop):
    post(
        client,
        batch(shop, {"type": "page_view", "url": "https://shop.example/"}),
        REMOTE_ADDR="203.0.113.77",
    )
    assert Event.objects.get().ip == "203.0.113.0"


@time_machine.travel(NOW, tick=False)
def test_a_cart_event_records_the_latest_cart_state(client, shop):
    assert post(client, batch(shop, {"type": "cart", "cart": CART})).status_code == 204
    cart = Cart.objects.get()
    assert (cart.external_id, cart.currency, cart.total, cart.item_count) == (
        "cart-1",
        "EUR",
        Decimal("59.90"),
        2,
    )
    assert cart.url == CART["url"]
    assert cart.items[0]["sku"] == "A1" and cart.last_change_at == NOW
    assert cart.status == "open"


def test_the_same_cart_sent_again_does_not_restart_the_delay(client, shop):
    with time_machine.travel(NOW, tick=False):
        post(client, batch(shop, {"type": "cart", "cart": CART}))
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        post(client, batch(shop, {"type": "cart", "cart": CART}))
    assert Cart.objects.get().last_change_at == NOW


def test_a_changed_cart_replaces_the_contents_and_restarts_the_delay(client, shop):
    with time_machine.travel(NOW, tick=False):
        post(client, batch(shop, {"type": "cart", "cart": CART}))
    changed = copy.deepcopy(CART)
    changed["items"][0]["quantity"] = 3
    changed["total"] = 89.85
    later = NOW + timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        post(client, batch(shop, {"type": "cart", "cart": changed}))
    cart = Cart.objects.get()
    assert (cart.item_count, cart.total, cart.last_change_at) == (3, Decimal("89.85"), later)


def test_an_empty_items_list_empties_the_cart(client, shop):
    post(client, batch(shop, {"type": "cart", "cart": CART}))
    post(client, batch(shop, {"type": "cart", "cart": {**CART, "items": [], "total": 0}}))
    cart = Cart.objects.get()
    assert (cart.item_count, cart.items, cart.status) == (0, [], "open")


def test_a_new_cart_id_replaces_the_previous_cart(client, shop):
    post(client, batch(shop, {"type": "cart", "cart": CART}))
    post(client, batch(shop, {"type": "cart", "cart": {**CART, "id": "cart-2"}}))
    assert dict(Cart.objects.values_list("external_id", "status")) == {
        "cart-1": "replaced",
        "cart-2": "open",
    }


def test_a_purchase_converts_the_open_cart(client, shop):
    post(client, batch(shop, {"type": "cart", "cart": CART}))
    post(
        client,
        batch(shop, {"type": "purchase", "order_id": 1001, "total": 59.9, "currency": "eur"}),
    )
    cart = Cart.objects.get()
    assert cart.status == "converted" and cart.converted_at is not None
    assert Event.objects.get(type="purchase").payload == {
        "type": "purchase",
        "order_id": "1001",
        "total": "59.90",
        "currency": "EUR",
    }


def test_a_bought_cart_id_sent_again_does_not_reopen_it(client, shop):
    post(
        client,
        batch(
            shop,
            {"type": "cart", "cart": CART},
            {"type": "purchase", "order_id": "1", "total": 1, "currency": "EUR"},
        ),
    )
    post(client, batch(shop, {"type": "cart", "cart": CART}))
    assert list(Cart.objects.values_list("status", flat=True)) == ["converted"]


def test_identify_is_stored_with_the_phone_in_e164_and_announced_after_commit(
    client, shop, django_capture_on_commit_callbacks
):
    calls = []
    identify_received.connect(lambda **kw: calls.append(kw), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(
                client,
                batch(
                    shop,
                    {
                        "type": "identify",
                        "phone": "06 12 34 56 78",
                        "first_name": "Marie",
                        "consent": {"granted": True, "text": "J'accepte", "source": "checkout"},
                    },
                ),
                HTTP_USER_AGENT="Mozilla/5.0 Test",
            )
    finally:
        identify_received.disconnect(dispatch_uid="t1")
    assert response.status_code == 204
    event = Event.objects.get()
    assert event.payload["phone"] == "+33612345678"
    assert len(calls) == 1
    call = calls[0]
    assert call["site_id"] == shop.pk and call["event_id"] == event.pk
    assert call["visitor_id"] == Visitor.objects.get().pk
    assert call["authenticated"] is False
    assert call["event"]["consent"] == {"granted": True, "text": "J'accepte", "source": "checkout"}
    assert call["user_agent"] == "Mozilla/5.0 Test"


def test_a_failing_receiver_loses_nothing(client, shop, django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise RuntimeError("higher layer down")

    identify_received.connect(broken, weak=False, dispatch_uid="t2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(
                client,
                batch(
                    shop,
                    {
                        "type": "identify",
                        "phone": "0612345678",
                        "consent": {"granted": True, "text": "oui"},
                    },
                ),
            )
    finally:
        identify_received.disconnect(dispatch_uid="t2")
    assert response.status_code == 204
    assert Event.objects.filter(type="identify").count() == 1


def test_a_short_link_token_identify_is_stored(client, shop):
    post(client, batch(shop, {"type": "identify", "token": "abc.def"}))
    assert Event.objects.get().payload == {"type": "identify", "token": "abc.def"}


def test_purchase_is_announced_with_the_converted_cart(
    client, shop, django_capture_on_commit_callbacks
):
    calls = []
    purchase_received.connect(lambda **kw: calls.append(kw), weak=False, dispatch_uid="t3")
    try:
        post(client, batch(shop, {"type": "cart", "cart": CART}))
        with django_capture_on_commit_callbacks(execute=True):
            post(
                client,
                batch(shop, {"type": "purchase", "order_id": "7", "total": 5, "currency": "EUR"}),
            )
    finally:
        purchase_received.disconnect(dispatch_uid="t3")
    assert [c["cart_id"] for c in calls] == [Cart.objects.get().pk]


# --- 400: malformed ------------------------------------------------------------------------

GOOD_EVENTS = {
    "page_view": {"type": "page_view", "url": "https://shop.example/"},
    "cart": {"type": "cart", "cart": CART},
    "identify": {
        "type": "identify",
        "phone": "0612345678",
        "consent": {"granted": True, "text": "ok"},
    },
    "purchase": {"type": "purchase", "order_id": "1", "total": 1, "currency": "EUR"},
}


def mutate(event, path, value):
    event = copy.deepcopy(event)
    target = event
    *parents, last = path
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return event


BAD = [
    ("page_view", ["url"], KeyError, "events[0].url"),
    ("page_view", ["url"], "javascript:alert(1)", "events[0].url: expected an http(s) URL"),
    ("page_view", ["url"], 42, "events[0].url: expected a string"),
    ("page_view", ["url"], "https://x/" + "a" * 2000, "at most 2000 characters"),
    ("page_view", ["title"], ["x"], "events[0].title"),
    ("page_view", ["type"], "click", "events[0].type: expected one of"),
    ("cart", ["cart"], KeyError, "events[0].cart: expected an object"),
    ("cart", ["cart"], "full", "events[0].cart: expected an object"),
    ("cart", ["cart", "id"], KeyError, "events[0].cart.id"),
    ("cart", ["cart", "id"], "", "events[0].cart.id: expected a non-empty string"),
    ("cart", ["cart", "currency"], "euro", "events[0].cart.currency"),
    ("cart", ["cart", "total"], -1, "events[0].cart.total: expected a number ≥ 0"),
    ("cart", ["cart", "total"], "NaN", "events[0].cart.total"),
    ("cart", ["cart", "total"], True, "events[0].cart.total"),
    ("cart", ["cart", "total"], 1e300, "events[0].cart.total"),
    ("cart", ["cart", "url"], "ftp://x", "events[0].cart.url"),
    ("cart", ["cart", "items"], KeyError, "events[0].cart.items"),
    ("cart", ["cart", "items"], {"sku": "A"}, "events[0].cart.items: expected a list"),
    ("cart", ["cart", "items"], [1], "events[0].cart.items[0]: expected an object"),
    ("cart", ["cart", "items", 0, "sku"], KeyError, "events[0].cart.items[0].sku"),
    ("cart", ["cart", "items", 0, "name"], None, "events[0].cart.items[0].name"),
    ("cart", ["cart", "items", 0, "price"], "cheap", "events[0].cart.items[0].price"),
    ("cart", ["cart", "items", 0, "quantity"], 0, "events[0].cart.items[0].quantity"),
    ("cart", ["cart", "items", 0, "quantity"], 1.5, "events[0].cart.items[0].quantity"),
    ("cart", ["cart", "items", 0, "image"], "data:x", "events[0].cart.items[0].image"),
    ("identify", ["phone"], KeyError, "events[0].phone"),
    ("identify", ["phone"], "01 23 45 67 89", "events[0].phone: expected a mobile number"),
    ("identify", ["phone"], "hello", "events[0].phone: expected a mobile number"),
    ("identify", ["consent"], "yes", "events[0].consent: expected an object"),
    ("identify", ["consent", "granted"], "yes", "events[0].consent.granted"),
    ("identify", ["consent", "text"], KeyError, "events[0].consent.text"),
    ("purchase", ["order_id"], KeyError, "events[0].order_id"),
    ("purchase", ["total"], KeyError, "events[0].total"),
    ("purchase", ["currency"], "€", "events[0].currency"),
]


@pytest.mark.parametrize(
    ("kind", "path", "value", "message"),
    BAD,
    ids=[f"{k}-{'.'.join(map(str, p))}-{v!r}"[:60] for k, p, v, _ in BAD],
)
def test_every_wrong_field_gets_a_400_naming_it_and_stores_nothing(
    client, shop, kind, path, value, message
):
    event = mutate(GOOD_EVENTS[kind], path, value)
    # A good event first: the whole batch is refused, not half of it.
    response = post(client, batch(shop, GOOD_EVENTS["page_view"], event))
    assert response.status_code == 400
    assert message.replace("events[0]", "events[1]") in response.json()["error"]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "expected an object"),
        (b"null", "expected an object"),
        (b'{"vid": "0123456789abcdef", "events": []}', "site"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_batch_gets_a_400(client, shop, body, message):
    response = post(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_stored()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vid": "short"}, "vid: expected 16 to 64 characters"),
        ({"vid": "a" * 65}, "vid"),
        ({"vid": "0123456789abcdef!"}, "vid"),
        ({"vid": None}, "vid"),
        ({"events": []}, "events: expected a non-empty list"),
        ({"events": {"type": "page_view"}}, "events: expected a non-empty list"),
        ({"events": [{"type": "page_view", "url": "https://s.example/"}] * 101}, "at most 100"),
        ({"events": ["page_view"]}, "events[0]: expected an object"),
    ],
)
def test_a_wrong_envelope_gets_a_400(client, shop, change, message):
    response = post(client, {**batch(shop, GOOD_EVENTS["page_view"]), **change})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert nothing_stored()


# --- 403, 413, 429 -------------------------------------------------------------------------


def test_an_unknown_site_key_gets_a_403(client, shop):
    response = post(client, {"site": "pk_unknown", "vid": VID, "events": [GOOD_EVENTS["cart"]]})
    assert response.status_code == 403
    assert response.json() == {"error": "unknown site key"}
    assert nothing_stored()


@pytest.mark.django_db(transaction=True)
def test_a_site_deleted_by_another_process_gets_a_403_not_a_500(client, shop):
    """This process still has the key in its cache: the write finds no site, and the answer is
    the unknown key's, not a 500 (a beacon that outlives its site)."""
    from retargeting.sites.lookup import site_by_public_key

    assert site_by_public_key(shop.public_key) is not None  # cached here
    # Deleted elsewhere: no signal reaches this process's cache.
    type(shop).objects.filter(pk=shop.pk)._raw_delete(using="default")
    response = post(client, batch(shop, GOOD_EVENTS["cart"]))
    assert response.status_code == 403
    assert response.json() == {"error": "unknown site key"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "https://shop.example"}, 204),
        ({"origin": "http://shop.example:8080"}, 204),
        ({"origin": "https://m.www.shop.example"}, 204),
        ({"origin": "https://evilshop.example"}, 403),
        ({"origin": "https://shop.example.evil.test"}, 403),
        ({"origin": "null"}, 403),
        ({"origin": None, "HTTP_REFERER": "https://shop.example/cart"}, 204),
        ({"origin": None, "HTTP_REFERER": "https://elsewhere.example/"}, 403),
        ({"origin": None}, 403),
    ],
)
def test_the_origin_must_be_one_of_the_sites_domains(client, shop, headers, status):
    response = post(client, batch(shop, GOOD_EVENTS["page_view"]), **headers)
    assert response.status_code == status
    assert Event.objects.exists() is (status == 204)


def test_a_body_over_64_kib_gets_a_413(client, shop):
    body = batch(shop, {"type": "page_view", "url": "https://shop.example/", "title": "x" * 400})
    body["padding"] = "x" * (64 * 1024)
    response = post(client, body)
    assert response.status_code == 413
    assert nothing_stored()


@override_settings(COLLECTOR_RATE_LIMIT=2)
def test_over_the_rate_limit_gets_a_429(client, shop):
    statuses = [post(client, batch(shop, GOOD_EVENTS["page_view"])).status_code for _ in range(3)]
    assert statuses == [204, 204, 429]
    assert Event.objects.count() == 2
    other_ip = post(client, batch(shop, GOOD_EVENTS["page_view"]), REMOTE_ADDR="198.51.100.9")
    assert other_ip.status_code == 204


@override_settings(COLLECTOR_RATE_LIMIT=0, COLLECTOR_VISITOR_RATE_LIMIT=0)
def test_a_rate_limit_of_zero_is_off(client, shop):
    statuses = {post(client, batch(shop, GOOD_EVENTS["page_view"])).status_code for _ in range(5)}
    assert statuses == {204}


@override_settings(COLLECTOR_VISITOR_RATE_LIMIT=1)
def test_one_visitor_is_limited_too(client, shop):
    first = post(client, batch(shop, GOOD_EVENTS["page_view"]))
    second = post(client, batch(shop, GOOD_EVENTS["page_view"]), REMOTE_ADDR="198.51.100.9")
    assert (first.status_code, second.status_code) == (204, 429)


# --- CORS --------------------------------------------------------------------------------


def test_an_allowed_origin_gets_cors_headers(client, shop):
    response = post(client, batch(shop, GOOD_EVENTS["page_view"]))
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]


def test_a_preflight_from_an_allowed_origin_is_answered(client, shop):
    response = client.options(
        "/t/e",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]


def test_a_preflight_from_another_origin_gets_no_cors_headers(client, shop):
    response = client.options("/t/e", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


def test_a_refused_origin_gets_no_cors_headers(client, shop):
    response = post(client, batch(shop, GOOD_EVENTS["page_view"]), origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def test_only_post_and_options(client, shop):
    assert client.get("/t/e").status_code == 405


# --- The hot path stays lean -------------------------------------------------------------


def data_queries(captured):
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].lstrip().upper().startswith(("SAVEPOINT", "RELEASE"))
    ]


def test_a_returning_visitors_batch_costs_a_fixed_number_of_queries(client, shop):
    post(client, batch(shop, GOOD_EVENTS["cart"]))  # the visitor and its cart exist
    changed = mutate(GOOD_EVENTS["cart"], ["cart", "total"], 10)
    with CaptureQueriesContext(connection) as captured:
        response = post(client, batch(shop, GOOD_EVENTS["page_view"], changed))
    assert response.status_code == 204
    # The visitor, its open cart (locked), the cart update, one insert of both events; the
    # site comes from the process-local cache.
    queries = data_queries(captured)
    assert [q.split()[0].upper() for q in queries] == ["SELECT", "SELECT", "UPDATE", "INSERT"]


def test_the_site_is_looked_up_once_per_process(client, shop):
    post(client, batch(shop, GOOD_EVENTS["page_view"]))
    with CaptureQueriesContext(connection) as captured:
        assert post(client, batch(shop, GOOD_EVENTS["page_view"])).status_code == 204
    assert not any("sites_site" in q for q in data_queries(captured))
    assert data_queries(captured)  # the event itself was written


def test_nul_characters_are_dropped_from_text_and_string_amounts_are_read(client, shop):
    # Found by schemathesis on PostgreSQL, which cannot store NUL in text.
    response = post(
        client,
        batch(
            shop,
            {"type": "purchase", "order_id": "10\x0001", "total": " 59.90 ", "currency": "EUR"},
        ),
    )
    assert response.status_code == 204
    assert Event.objects.get().payload["order_id"] == "1001"
    assert Event.objects.get().payload["total"] == "59.90"


@pytest.mark.parametrize("total", ["1e3", "59,90", "-1", "Infinity", "0x10"])
def test_a_string_amount_must_be_plain_digits(client, shop, total):
    response = post(
        client,
        batch(shop, {"type": "purchase", "order_id": "1", "total": total, "currency": "EUR"}),
    )
    assert response.status_code == 400
    assert "events[0].total" in response.json()["error"]
    assert nothing_stored()

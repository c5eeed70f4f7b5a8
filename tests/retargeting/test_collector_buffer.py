"""The collector's Redis buffer and the ingest task that writes it, on a real Redis."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from retargeting.sites.models import Site
from retargeting.tracking import buffer
from retargeting.tracking.entries import Entry
from retargeting.tracking.ingest import write_entries
from retargeting.tracking.models import Cart, Event, IngestCursor, Visitor
from retargeting.tracking.recording import Origin, record_batch
from tests.factories import SiteFactory
from tests.retargeting.test_collector import CART, ORIGIN, VID, batch, post

pytestmark = [pytest.mark.django_db, pytest.mark.needs_redis]
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PAGE = {"type": "page_view", "url": "https://www.shop.example/p/a1", "title": "Chemise"}


def cart_event(cart_id="cart-1", total=59.9, quantity=2):
    data = copy.deepcopy(CART)
    data.update(id=cart_id, total=total)
    data["items"][0]["quantity"] = quantity
    data["items"][0]["price"] = round(total / quantity, 2)
    return {"type": "cart", "cart": data}


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"])


def drain():
    return buffer.drain(max_seconds=10)


def test_page_views_and_carts_wait_in_the_buffer_dated_when_received(client, shop, redis_buffer):
    with time_machine.travel(T0, tick=False):
        response = post(client, batch(shop, PAGE, cart_event()))
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert not Event.objects.exists() and not Visitor.objects.exists()
    assert buffer.pending() == 1

    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert drain() == 1
    assert buffer.pending() == 0
    visitor = Visitor.objects.get(site=shop, vid=VID)
    assert visitor.first_seen_at == visitor.last_seen_at == T0
    events = Event.objects.order_by("id")
    assert [e.type for e in events] == ["page_view", "cart"]
    assert {e.received_at for e in events} == {T0}
    assert events[0].payload["title"] == "Chemise"
    assert events[0].ip is not None and events[0].ip.endswith(".0")
    cart = Cart.objects.get(visitor=visitor)
    assert (cart.status, cart.external_id, str(cart.total), cart.item_count) == (
        "open",
        "cart-1",
        "59.90",
        2,
    )
    assert cart.created_at == cart.last_change_at == T0


def test_the_pixel_is_buffered_too(client, shop, redis_buffer):
    response = client.get(
        "/t/p.gif",
        {"site": shop.public_key, "vid": VID, "url": "https://www.shop.example/p"},
        HTTP_REFERER=ORIGIN + "/p",
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert buffer.pending() == 1 and not Event.objects.exists()
    drain()
    assert Event.objects.get().source == "pixel"


def test_identify_and_purchase_are_written_before_the_answer(client, shop, redis_buffer):
    identify = {
        "type": "identify",
        "phone": "06 12 34 56 78",
        "consent": {"granted": True, "text": "J'accepte", "source": "checkout"},
    }
    purchase = {"type": "purchase", "order_id": "A-1", "total": 59.9, "currency": "EUR"}
    assert post(client, batch(shop, PAGE, identify)).status_code == 204
    assert post(client, batch(shop, purchase)).status_code == 204
    assert buffer.pending() == 0
    assert list(Event.objects.order_by("id").values_list("type", flat=True)) == [
        "page_view",
        "identify",
        "purchase",
    ]
    assert Event.objects.get(type="identify").payload["phone"] == "+33612345678"


def test_a_buffered_cart_written_after_a_later_purchase_is_not_reopened(client, shop, redis_buffer):
    purchase = {"type": "purchase", "order_id": "A-1", "total": 59.9, "currency": "EUR"}
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, cart_event()))
    with time_machine.travel(T0 + timedelta(seconds=2), tick=False):
        post(client, batch(shop, purchase))  # written at once; the cart is still in Redis
    drain()
    cart = Cart.objects.get()
    assert cart.status == Cart.Status.CONVERTED
    assert cart.converted_at == T0 + timedelta(seconds=2)
    assert not Cart.objects.filter(status=Cart.Status.OPEN).exists()


def test_a_cart_after_the_purchase_opens_normally(client, shop, redis_buffer):
    purchase = {"type": "purchase", "order_id": "A-1", "total": 59.9, "currency": "EUR"}
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, purchase))
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        post(client, batch(shop, cart_event("cart-2")))
    drain()
    assert Cart.objects.get().status == Cart.Status.OPEN


def test_an_older_buffered_cart_does_not_undo_a_newer_one_written_directly(
    client, shop, redis_buffer
):
    identify = {"type": "identify", "token": "not-checked-here"}
    with time_machine.travel(T0, tick=False):
        post(client, batch(shop, cart_event("old")))
    with time_machine.travel(T0 + timedelta(seconds=3), tick=False):
        # Carries an identify: written in the request, before the older buffered cart.
        post(client, batch(shop, cart_event("new"), identify))
    drain()
    assert Cart.objects.get(status="open").external_id == "new"
    assert Event.objects.filter(type="cart").count() == 2  # the older event is still kept


def test_a_batch_applies_a_visitors_carts_in_order(client, shop, redis_buffer):
    for seconds, event in enumerate(
        [cart_event("a", 10, 1), cart_event("a", 30, 3), cart_event("b", 5, 1), PAGE]
    ):
        with time_machine.travel(T0 + timedelta(seconds=seconds), tick=False):
            assert post(client, batch(shop, event)).status_code == 204
    assert drain() == 4
    carts = {c.external_id: c for c in Cart.objects.all()}
    assert carts["a"].status == "replaced" and carts["a"].total == 30
    assert carts["a"].last_change_at == T0 + timedelta(seconds=1)
    assert carts["b"].status == "open" and carts["b"].last_change_at == T0 + timedelta(seconds=2)
    visitor = Visitor.objects.get()
    assert (visitor.first_seen_at, visitor.last_seen_at) == (T0, T0 + timedelta(seconds=3))


def test_an_entry_read_but_never_acknowledged_is_written_once(client, shop, redis_buffer):
    """A consumer dies after reading: the entries are pending, and the next drain writes them."""
    post(client, batch(shop, PAGE))
    key = buffer.stream_key(buffer.shard_of(VID))
    buffer._ensure_group(key)
    taken = redis_buffer.xreadgroup(buffer.GROUP, buffer.CONSUMER, {key: ">"}, count=10)
    assert len(taken[0][1]) == 1  # read, then the consumer died
    assert drain() == 1
    assert Event.objects.count() == 1
    assert redis_buffer.xpending(key, buffer.GROUP)["pending"] == 0


def test_an_entry_written_but_not_acknowledged_is_not_written_twice(client, shop, redis_buffer):
    """A consumer dies after its commit, before the acknowledgement: the cursor remembers."""
    post(client, batch(shop, PAGE, cart_event()))
    shard = buffer.shard_of(VID)
    key = buffer.stream_key(shard)
    buffer._ensure_group(key)
    raw = redis_buffer.xreadgroup(buffer.GROUP, buffer.CONSUMER, {key: ">"}, count=10)[0][1]
    entries = [buffer._decode(entry_id, fields) for entry_id, fields in raw]
    assert buffer._write(shard, entries) == 1  # committed; the process dies here
    assert drain() == 0
    assert Event.objects.count() == 2 and Cart.objects.count() == 1
    assert IngestCursor.objects.get(shard=shard).last_id == raw[-1][0].decode()
    assert buffer.pending() == 0


@pytest.mark.django_db(transaction=True)
def test_an_entry_the_database_refuses_is_kept_aside(client, shop, redis_buffer):
    other = SiteFactory(allowed_domains=["shop.example"])
    post(client, batch(shop, PAGE))
    post(client, batch(other, PAGE, vid="fedcba9876543210fedcba9876543210"))
    # A shop deleted while its events waited: its rows can no longer be written (the foreign
    # key fails at the commit); the other shop's entry is written.
    Site.objects.filter(pk=shop.pk).delete()
    assert drain() == 1
    assert list(Event.objects.values_list("site_id", flat=True)) == [other.pk]
    dead = redis_buffer.xrange(buffer.DEAD_LETTERS)
    assert len(dead) == 1 and json.loads(dead[0][1][b"b"])["s"] == shop.pk
    assert buffer.pending() == 0


def test_the_rate_limits_are_counted_in_the_same_call(client, shop, redis_buffer, settings):
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 2
    statuses = [post(client, batch(shop, PAGE)).status_code for _ in range(3)]
    assert statuses == [204, 204, 429]
    assert buffer.pending() == 2
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 0
    settings.COLLECTOR_RATE_LIMIT = 1
    other = "fedcba9876543210fedcba9876543210"
    statuses = [
        post(client, batch(shop, PAGE, vid=other), REMOTE_ADDR="198.51.100.7").status_code
        for _ in range(2)
    ]
    assert statuses == [204, 429]


def test_the_buffer_and_the_direct_path_share_one_count(client, shop, redis_buffer, settings):
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 2
    identify = {"type": "identify", "token": "t"}
    assert post(client, batch(shop, PAGE)).status_code == 204  # buffered
    assert post(client, batch(shop, identify)).status_code == 204  # direct
    assert post(client, batch(shop, PAGE)).status_code == 429


def test_without_redis_the_collector_writes_in_the_request(client, shop, settings):
    """Redis stopped: the answer is still 204 and the events are in the database at once."""
    settings.COLLECTOR_BUFFER = True
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    redis = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": settings.REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
    settings.CACHES = {"default": redis, "limits": redis}  # as settings.py sets them
    buffer.reset()
    try:
        response = post(client, batch(shop, PAGE, cart_event()))
    finally:
        buffer.reset()
    assert response.status_code == 204
    assert Event.objects.count() == 2 and Cart.objects.get().status == "open"


def test_drained_in_batches_with_a_few_queries(shop):
    entries = [
        Entry(
            id=f"1-{n}",
            site_id=shop.pk,
            vid=f"visitor-{n:010d}-abcdef",
            events=[PAGE, cart_event(f"c{n}")],
            received_at=T0,
            source="snippet",
            ip=None,
            user_agent="",
        )
        for n in range(200)
    ]
    with CaptureQueriesContext(connection) as queries:
        write_entries(entries)
    assert Event.objects.count() == 400 and Cart.objects.count() == 200
    # A handful per table, whatever the number of entries (SQLite splits a long INSERT by its
    # limit of bound variables, so a wider table can take one statement more).
    assert len(queries) <= 14


# --- The buffered path ends where the direct path ends ----------------------------------------

cart_steps = st.lists(
    st.tuples(
        st.integers(0, 1),  # which visitor
        st.sampled_from(["a", "b", "c"]),  # cart id
        st.integers(0, 3),  # quantity (0: emptied)
        st.booleans(),  # a purchase instead
    ),
    min_size=1,
    max_size=12,
)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=cart_steps)
def test_buffered_carts_end_as_written_hit_by_hit(steps):
    direct, buffered = SiteFactory(), SiteFactory()
    vids = ["visitor-aaaaaaaaaaaa", "visitor-bbbbbbbbbbbb"]
    entries = []
    for index, (who, cart_id, quantity, bought) in enumerate(steps):
        at = T0 + timedelta(seconds=index)
        if bought:
            event = {
                "type": "purchase",
                "order_id": f"o{index}",
                "total": "1.00",
                "currency": "EUR",
            }
        else:
            data = cart_event(cart_id, total=float(quantity * 10), quantity=1)["cart"]
            data["items"] = [] if quantity == 0 else data["items"]
            event = {"type": "cart", "cart": data}
        with time_machine.travel(at, tick=False):
            record_batch(site_id=direct.pk, vid=vids[who], events=[event], origin=Origin())
            if bought:  # purchases are never buffered: written at once on both sides
                record_batch(site_id=buffered.pk, vid=vids[who], events=[event], origin=Origin())
            else:
                entries.append(
                    Entry(f"1-{index}", buffered.pk, vids[who], [event], at, "snippet", None, "")
                )
    write_entries(entries)

    def state(site):
        return sorted(
            (c.visitor.vid, c.external_id, c.status, c.total, c.item_count, c.last_change_at)
            for c in Cart.objects.filter(site=site).select_related("visitor")
        )

    # The direct path converts the open cart at the purchase; the buffered one writes that
    # cart after the purchase and converts it then: the same carts, statuses and times.
    assert state(buffered) == state(direct)

"""One bad entry never stops the ingest: a visitor id with a trailing newline, refused at every
door, and an entry the database refuses anyway, kept aside, counted and logged while every
other shop's entries are written. On a real PostgreSQL (the COPY path) and Redis."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.core.management import call_command
from django.db import connection

from retargeting.tracking import buffer
from retargeting.tracking.models import Event, Visitor
from tests.factories import SiteFactory
from tests.retargeting.test_collector import ORIGIN, VID, batch, post
from tests.support.servers import missing, require_server

pytestmark = [pytest.mark.django_db, pytest.mark.needs_redis, pytest.mark.needs_postgres]
PAGE = {"type": "page_view", "url": "https://www.shop.example/p/a1", "title": "Chemise"}
# 64 characters of the visitor id's alphabet, then a newline: what `re.match` with `$` took.
NEWLINE_VID = "a" * 64 + "\n"
OTHER_VID = "fedcba9876543210fedcba9876543210"


@pytest.fixture(autouse=True)
def _postgresql():
    require_server("PostgreSQL", "DATABASE_URL")
    if connection.vendor != "postgresql":
        missing("these tests need the COPY path: run them with DATABASE_URL on PostgreSQL")


@pytest.fixture
def shops():
    return [SiteFactory(allowed_domains=["shop.example"]) for _ in range(3)]


def pixel(client, site, vid):
    return client.get(
        "/t/p.gif",
        {"site": site.public_key, "vid": vid, "url": "https://www.shop.example/p"},
        HTTP_REFERER=ORIGIN + "/p",
    )


def test_a_visitor_id_with_a_trailing_newline_is_refused_by_the_pixel_and_every_shop_drains(
    client, shops, redis_buffer
):
    attacker, *others = shops
    answer = pixel(client, attacker, NEWLINE_VID)
    assert answer.status_code == 200 and answer["Content-Type"] == "image/gif"
    assert buffer.pending() == 0  # refused at the door, never buffered
    for number, site in enumerate(others):
        assert pixel(client, site, f"{number}{VID[1:]}").status_code == 200
    assert pixel(client, attacker, VID).status_code == 200  # control: the same shop, a real id
    assert buffer.pending() == 3
    assert buffer.drain(max_seconds=10) == 3
    assert buffer.pending() == 0 and buffer.kept_aside() == 0
    assert sorted(Event.objects.values_list("site_id", flat=True)) == sorted(s.pk for s in shops)


def _poison(redis, site_id: int, vid: str) -> None:
    """An entry as an earlier collector buffered it, with an id the column cannot hold."""
    body = {"s": site_id, "v": vid, "e": [PAGE], "t": time.time(), "src": "pixel", "ip": None}
    body["ua"] = ""
    redis.xadd(buffer.stream_key(buffer.shard_of(vid)), {"b": json.dumps(body)})


def test_an_entry_the_copy_refuses_is_kept_aside_counted_and_the_rest_is_written(
    client, shops, redis_buffer, caplog
):
    attacker, first, second = shops
    _poison(redis_buffer, attacker.pk, NEWLINE_VID)
    assert post(client, batch(first, PAGE)).status_code == 204
    assert post(client, batch(second, PAGE, vid=OTHER_VID)).status_code == 204
    with caplog.at_level(logging.ERROR, logger="retargeting.tracking.buffer"):
        assert buffer.drain(max_seconds=10) == 2
    assert sorted(Event.objects.values_list("site_id", flat=True)) == sorted([first.pk, second.pk])
    assert not Visitor.objects.filter(site=attacker).exists()
    assert buffer.pending() == 0
    dead = redis_buffer.xrange(buffer.DEAD_LETTERS)
    assert len(dead) == 1 and json.loads(dead[0][1][b"b"])["v"] == NEWLINE_VID
    assert buffer.kept_aside() == 1
    assert [r.levelno for r in caplog.records if "kept in" in r.getMessage()] == [logging.ERROR]
    # The next run is not stuck behind it: new entries are written at once.
    assert post(client, batch(first, PAGE, vid=OTHER_VID)).status_code == 204
    assert buffer.drain(max_seconds=10) == 1
    assert Event.objects.count() == 3


def test_an_entry_that_is_not_a_batch_is_kept_aside_too(client, shops, redis_buffer):
    _, first, _ = shops
    redis_buffer.xadd(buffer.stream_key(buffer.shard_of(VID)), {"b": b"not json"})
    redis_buffer.xadd(buffer.stream_key(buffer.shard_of(VID)), {"x": b"no body"})
    assert post(client, batch(first, PAGE)).status_code == 204
    assert buffer.drain(max_seconds=10) == 1
    assert Event.objects.get().site_id == first.pk
    assert buffer.pending() == 0 and buffer.kept_aside() == 2


def test_an_entry_read_again_after_the_database_went_away_is_kept_aside_once(
    client, shops, redis_buffer, monkeypatch
):
    """The batch is left pending when the database goes away after its bad entry was set
    aside: the next run reads both again, keeps the bad one aside once and writes the other."""
    from django.db import OperationalError

    _, first, _ = shops
    redis_buffer.xadd(buffer.stream_key(buffer.shard_of(VID)), {"b": b"not json"})
    assert post(client, batch(first, PAGE)).status_code == 204
    real_write = buffer._write

    def database_away(shard, entries):
        raise OperationalError("the database went away")

    monkeypatch.setattr(buffer, "_write", database_away)
    with pytest.raises(OperationalError):
        buffer.drain(max_seconds=10)
    monkeypatch.setattr(buffer, "_write", real_write)
    assert buffer.drain(max_seconds=10) == 1
    assert buffer.pending() == 0 and buffer.kept_aside() == 1
    assert Event.objects.get().site_id == first.pk


def test_the_ingest_command_shows_what_was_kept_aside(client, shops, redis_buffer, capsys):
    attacker, first, _ = shops
    _poison(redis_buffer, attacker.pk, NEWLINE_VID)
    assert post(client, batch(first, PAGE)).status_code == 204
    call_command("ingest", "--json", "--max-seconds", "10")
    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["left"], report["kept_aside"]) == (1, 0, 1)


def test_a_visitor_id_with_a_trailing_newline_is_a_400_on_every_direct_path(client, settings):
    """Redis down or the buffer off, identify and purchase: written in the request, where the
    same id was a 500. Each door answers 400 naming the field; a real id still works."""
    from retargeting.sites.services import create_site

    settings.COLLECTOR_BUFFER = False
    shop = create_site(name="Boutique", domains=["shop.example"], country="FR")
    key = f"Bearer {shop.secret_key}"
    identify = {"type": "identify", "token": "not-checked-here"}
    cart = {
        "id": "c1",
        "currency": "EUR",
        "total": 10,
        "url": "https://shop.example/cart",
        "items": [{"sku": "A1", "name": "Chemise", "price": 10, "quantity": 1}],
    }

    def answers(vid):
        site = shop.site
        api = {"content_type": "application/json", "HTTP_AUTHORIZATION": key}
        return [
            post(client, batch(site, PAGE, vid=vid)).status_code,
            post(client, batch(site, identify, vid=vid)).status_code,
            client.post(
                "/api/v1/identify",
                json.dumps(
                    {
                        "phone": "06 12 34 56 78",
                        "vid": vid,
                        "consent": {"granted": True, "text": "Oui", "source": "checkout"},
                    }
                ),
                **api,
            ).status_code,
            client.post(
                "/api/v1/purchases",
                json.dumps({"order_id": "A-1", "total": 10, "currency": "EUR", "vid": vid}),
                **api,
            ).status_code,
            client.post("/api/v1/carts", json.dumps({"vid": vid, "cart": cart}), **api).status_code,
        ]

    assert answers(NEWLINE_VID) == [400] * 5
    assert not Visitor.objects.exists() and not Event.objects.exists()
    assert pixel(client, shop.site, NEWLINE_VID).status_code == 200
    assert not Visitor.objects.exists()
    assert answers(VID) == [204, 204, 200, 200, 200]  # control
    assert pixel(client, shop.site, VID).status_code == 200
    assert Visitor.objects.get().vid == VID


def test_entries_kept_aside_are_written_once_replayed_after_the_cause_is_fixed(
    client, shops, redis_buffer, monkeypatch, capsys
):
    _, first, second = shops
    write = buffer.write_entries

    def refuses_one_shop(entries):
        if any(entry.site_id == second.pk for entry in entries):
            raise ValueError("a fault since fixed")
        write(entries)

    monkeypatch.setattr(buffer, "write_entries", refuses_one_shop)
    assert post(client, batch(first, PAGE)).status_code == 204
    assert post(client, batch(second, PAGE, vid=OTHER_VID)).status_code == 204
    assert buffer.drain(max_seconds=10) == 1
    assert buffer.kept_aside() == 1
    monkeypatch.setattr(buffer, "write_entries", write)  # fixed

    call_command("ingest", "--json", "--replay-kept-aside", "--max-seconds", "10")
    report = json.loads(capsys.readouterr().out)
    assert (report["replayed"], report["written"], report["kept_aside"]) == (1, 1, 0)
    assert sorted(Event.objects.values_list("site_id", flat=True)) == sorted([first.pk, second.pk])
    # One that fails again is kept aside again, never lost.
    _poison(redis_buffer, first.pk, NEWLINE_VID)
    buffer.drain(max_seconds=10)
    call_command("ingest", "--json", "--replay-kept-aside", "--max-seconds", "10")
    report = json.loads(capsys.readouterr().out)
    assert (report["replayed"], report["written"], report["kept_aside"]) == (1, 0, 1)


@pytest.mark.parametrize("write", ["insert", "insert_ignoring_conflicts"])
def test_a_value_the_copy_refuses_is_one_of_djangos_database_errors(shops, write):
    """COPY runs on the driver's own cursor; its errors are raised as Django's, so every
    ``except DatabaseError`` that guards a write guards this one too."""
    from django.db import DataError, transaction
    from django.utils import timezone

    from retargeting.db import bulk

    now = timezone.now()

    def row(vid):
        return {"site_id": shops[0].pk, "vid": vid, "first_seen_at": now, "last_seen_at": now}

    def insert(vid):
        if write == "insert":
            bulk.insert(Visitor, [row(vid)])
        else:
            bulk.insert_ignoring_conflicts(Visitor, [row(vid)], returning=["id"])

    with pytest.raises(DataError), transaction.atomic():
        insert(NEWLINE_VID)
    insert(VID)  # control: the connection is usable, a real id is written
    assert list(Visitor.objects.values_list("vid", flat=True)) == [VID]

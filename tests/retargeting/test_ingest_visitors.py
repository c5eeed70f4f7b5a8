"""The ingest's visitors: created once, known ones found, their last-seen time kept to the
minute (``LAST_SEEN_PRECISION``), on both databases (PostgreSQL creates them through COPY and
one INSERT that returns their ids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retargeting.tracking import schema
from retargeting.tracking.entries import Entry
from retargeting.tracking.ingest import write_entries
from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import SiteFactory
from tests.support.servers import require_server

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def entry(site, vid: str, at: datetime, n: int = 0, *, cart: bool = False) -> Entry:
    events: list[dict] = [{"type": "page_view", "url": f"https://shop.example/p/{n}"}]
    if cart:
        line = {"sku": "A1", "name": "Chemise", "price": 29.95, "quantity": 1}
        data = {"id": f"c{n}", "currency": "EUR", "total": 29.95, "items": [line]}
        events.append(schema.cart({"cart": data}, ""))  # as the collector checked it
    return Entry(
        id=f"{int(at.timestamp() * 1000)}-{n}",
        site_id=site.pk,
        vid=vid,
        events=events,
        received_at=at,
        source="snippet",
        ip="192.0.2.0",
        user_agent="test",
    )


def test_new_known_and_recently_seen_visitors_in_one_batch():
    site = SiteFactory(allowed_domains=["shop.example"])
    other = SiteFactory(allowed_domains=["other.example"])
    recent = Visitor.objects.create(
        site=site, vid="r" * 32, first_seen_at=T0, last_seen_at=T0 + timedelta(seconds=50)
    )
    idle = Visitor.objects.create(site=site, vid="i" * 32, first_seen_at=T0, last_seen_at=T0)
    same_vid_elsewhere = Visitor.objects.create(
        site=other, vid="n" * 32, first_seen_at=T0, last_seen_at=T0
    )
    later = T0 + timedelta(seconds=90)
    write_entries(
        [
            entry(site, "n" * 32, later, 1),  # new here, known on another site
            entry(site, "r" * 32, later, 2),  # seen 40 s ago: left as it is
            entry(site, "i" * 32, later, 3),  # seen 90 s ago: moved on
            entry(site, "n" * 32, later + timedelta(seconds=5), 4),
        ]
    )
    new = Visitor.objects.get(site=site, vid="n" * 32)
    assert (new.first_seen_at, new.last_seen_at) == (later, later + timedelta(seconds=5))
    recent.refresh_from_db()
    assert recent.last_seen_at == T0 + timedelta(seconds=50)
    idle.refresh_from_db()
    assert idle.last_seen_at == later
    same_vid_elsewhere.refresh_from_db()
    assert same_vid_elsewhere.last_seen_at == T0
    assert Visitor.objects.count() == 4
    events = Event.objects.filter(site=site).order_by("payload__url")
    assert [e.visitor_id for e in events] == [new.pk, recent.pk, idle.pk, new.pk]


def test_a_batch_of_new_visitors_costs_the_same_queries_as_one():
    """On PostgreSQL (SQLite's bulk_create splits by its limit of parameters). New visitors
    have no cart or purchase to read yet: their carts are created without a query for them."""
    require_server("PostgreSQL", "DATABASE_URL")
    site = SiteFactory(allowed_domains=["shop.example"])

    def queries(count: int, start: int) -> int:
        batch = [entry(site, f"{start + n:032d}", T0, start + n, cart=True) for n in range(count)]
        with CaptureQueriesContext(connection) as captured:
            write_entries(batch)
        return len(captured)

    assert queries(1, 0) == queries(300, 1000)
    assert Visitor.objects.filter(site=site).count() == 301
    assert Cart.objects.filter(site=site, status=Cart.Status.OPEN).count() == 301
    assert Event.objects.filter(site=site).count() == 2 * 301

"""The planner's statistics refreshed after a bulk write (PostgreSQL): until then, rows written
by the thousand are invisible to its estimates, and a claim of a hundred sends by id scans
every send just planned instead of reading a hundred by their key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from campaigns.dispatch import run_pass
from campaigns.models import Send, SendEvent
from retargeting.db import bulk
from retargeting.tracking.models import Visitor
from tests.campaigns.test_query_counts import abandoned, consenting
from tests.factories import SiteFactory, StepFactory
from tests.support.servers import require_server

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris


def estimated_rows(model) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        return cursor.fetchone()[0]


def visitors(site, first: int, count: int) -> None:
    now = timezone.now()
    bulk.insert(
        Visitor,
        [
            {"site_id": site.pk, "vid": f"{n:032d}", "first_seen_at": now, "last_seen_at": now}
            for n in range(first, first + count)
        ],
    )


def test_a_tenth_of_the_table_or_more_written_at_once_is_analyzed_then():
    require_server("PostgreSQL", "DATABASE_URL")
    site = SiteFactory()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_visitor")
    known = estimated_rows(Visitor)
    visitors(site, 0, 2000)
    assert estimated_rows(Visitor) == known  # nothing told the planner yet
    assert bulk.refresh_statistics(Visitor, added=2000) is True
    assert estimated_rows(Visitor) == Visitor.objects.count()
    with connection.cursor() as cursor:  # the caller's transaction keeps its own lock timeout
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"
    # Fewer than autovacuum's own threshold (a tenth, and at least a thousand rows): left to it.
    visitors(site, 2000, 150)
    assert bulk.refresh_statistics(Visitor, added=150) is False
    assert estimated_rows(Visitor) == Visitor.objects.count() - 150
    visitors(site, 2150, 1000)
    assert bulk.refresh_statistics(Visitor, added=1000) is True  # 1,000 of 3,150: a tenth
    assert estimated_rows(Visitor) == Visitor.objects.count()


def test_only_postgresql_is_analyzed():
    # SQLite's planner reads no statistics that ANALYZE would refresh here: nothing is run.
    assert bulk.refresh_statistics(Visitor, added=1_000_000) is (connection.vendor == "postgresql")


def test_a_pass_that_plans_many_sends_refreshes_their_statistics(monkeypatch):
    require_server("PostgreSQL", "DATABASE_URL")
    monkeypatch.setattr(bulk, "STALE_MINIMUM", 3)  # five carts stand for a large shop
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_send, campaigns_sendevent")
    site = SiteFactory()
    StepFactory(flow__site=site, delay_minutes=30)
    abandoned(site, consenting(site, 5), at=NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        report = run_pass(enqueue=lambda send_id: None)
    assert report.planned == 5
    assert estimated_rows(Send) == Send.objects.count() >= 5
    assert estimated_rows(SendEvent) == SendEvent.objects.count() >= 5


@pytest.mark.django_db(transaction=True)
def test_a_locked_table_is_left_to_autovacuum_without_waiting(monkeypatch, caplog):
    """A VACUUM (or another pass's ANALYZE) holds the table: the pass goes on after the lock
    timeout, with a warning, instead of waiting for it."""
    require_server("PostgreSQL", "DATABASE_URL")
    import psycopg

    monkeypatch.setattr(bulk, "ANALYZE_LOCK_TIMEOUT", "200ms")
    site = SiteFactory()
    visitors(site, 0, 1500)
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    ) as other:
        other.execute("LOCK TABLE tracking_visitor IN SHARE UPDATE EXCLUSIVE MODE")
        assert bulk.refresh_statistics(Visitor, added=1500) is False
        other.rollback()
    assert "left to autovacuum" in caplog.text
    assert bulk.refresh_statistics(Visitor, added=1500) is True  # once the lock is gone

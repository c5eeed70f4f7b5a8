"""Retention on large tables: the right rows go, in short batches, whatever the table's size."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from optin.models import Contact
from optin.retention import erase_inactive_prospects
from retargeting.tracking.models import Event
from retargeting.tracking.retention import BATCH, purge_old_events
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db

OLD, RECENT = 100_000, 20_000
# The table is filled by copying a shuffled block onto itself: 120,000 rows built one by one
# through the ORM take most of the test's time, the copies a fraction of a second.
DOUBLINGS = 5


def _double_events() -> None:
    """Copy every event row once more (new ids), in one portable INSERT ... SELECT."""
    columns = ", ".join(
        connection.ops.quote_name(field.column)
        for field in Event._meta.concrete_fields
        if not field.primary_key
    )
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        # Names from the model's own metadata, no outside input.
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}")  # noqa: S608


def test_a_hundred_thousand_old_events_are_purged_in_batches_and_recent_ones_kept():
    site = SiteFactory()
    now = timezone.now()
    rng = random.Random(7)
    # Old and recent events interleaved, as a real table is (late events, clock skew).
    block = 2**DOUBLINGS
    ages = [rng.randint(396, 900) for _ in range(OLD // block)] + [
        rng.randint(0, 394) for _ in range(RECENT // block)
    ]
    rng.shuffle(ages)
    Event.objects.bulk_create(
        Event(site=site, type="page_view", received_at=now - timedelta(days=d), payload={})
        for d in ages
    )
    for _ in range(DOUBLINGS):
        _double_events()
    assert Event.objects.filter(received_at__lt=now - timedelta(days=395)).count() == OLD
    assert Event.objects.count() == OLD + RECENT
    with CaptureQueriesContext(connection) as queries:
        assert purge_old_events(now=now) == OLD
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    # Short statements only: never more than one batch's rows in one DELETE.
    assert len(deletes) == -(-OLD // BATCH)
    assert all(sql.count("%s") <= BATCH and sql.count(",") < BATCH + 50 for sql in deletes)
    assert Event.objects.count() == RECENT
    oldest_kept = Event.objects.order_by("received_at").first().received_at
    assert oldest_kept >= now - timedelta(days=395)


def test_inactive_prospects_are_erased_among_thousands_of_active_contacts():
    site = SiteFactory()
    long_ago = timezone.now() - timedelta(days=1100)
    with time_machine.travel(long_ago, tick=False):
        quiet = ContactFactory.create_batch(300, site=site)
    active = ContactFactory.create_batch(3_000, site=site)
    with CaptureQueriesContext(connection) as queries:
        assert erase_inactive_prospects() == len(quiet)
    assert set(Contact.objects.values_list("pk", flat=True)) == {c.pk for c in active}
    # One query to find them, then a bounded number per erased contact (one or two per table
    # that holds a contact's data): no scan per contact.
    per_contact = (len(queries) - 1) / len(quiet)
    assert per_contact < 25, per_contact

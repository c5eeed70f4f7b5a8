"""Retention: raw events after 13 months, prospects after 3 years of inactivity."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, DoNotContact
from optin.retention import erase_inactive_prospects
from retargeting.tracking.models import Event
from retargeting.tracking.retention import purge_old_events
from tests.factories import ContactFactory, SiteFactory, VisitorFactory, VisitorLinkFactory

pytestmark = pytest.mark.django_db


def test_events_older_than_the_retention_period_are_purged_in_batches():
    site = SiteFactory()
    now = timezone.now()
    for days in (400, 396, 394, 10):
        Event.objects.create(
            site=site,
            type="page_view",
            received_at=now - timedelta(days=days),
            payload={"days": days},
        )
    assert purge_old_events(now=now, batch=1) == 2
    assert sorted(e.payload["days"] for e in Event.objects.all()) == [10, 394]


def test_prospects_inactive_for_three_years_are_erased_and_a_stop_is_remembered():
    site = SiteFactory()
    long_ago = timezone.now() - timedelta(days=1100)
    with time_machine.travel(long_ago, tick=False):
        quiet = ContactFactory(site=site)
        said_stop = ContactFactory(site=site)
        record_consent(
            contact=said_stop, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
        )
        still_visiting = ContactFactory(site=site)
        VisitorLinkFactory(contact=still_visiting, visitor=VisitorFactory(site=site))
        messaged = ContactFactory(site=site)
    VisitorFactory._meta.model.objects.filter(contact_link__contact=still_visiting).update(
        last_seen_at=timezone.now()
    )
    Contact.objects.filter(pk=messaged.pk).update(
        last_messaged_at=timezone.now(), updated_at=long_ago
    )
    recent = ContactFactory(site=site)
    assert erase_inactive_prospects() == 2
    assert set(Contact.objects.values_list("pk", flat=True)) == {
        still_visiting.pk,
        messaged.pk,
        recent.pk,
    }
    assert DoNotContact.objects.count() == 1
    assert quiet.pk not in set(Contact.objects.values_list("pk", flat=True))


def test_the_nightly_tasks_are_scheduled():
    from retargeting.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "retargeting.tasks.purge_old_events",
        "optin.tasks.erase_inactive_prospects",
        "campaigns.tasks.reconcile_sends",
        "campaigns.tasks.dispatch_pass",
    } <= tasks

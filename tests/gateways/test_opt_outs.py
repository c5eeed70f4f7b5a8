"""Brevo's list of unsubscribed numbers, read so that a lost webhook loses no STOP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Send
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus
from retargeting.celery import app as celery_app
from retargeting.gateways.models import ProviderCursor
from retargeting.gateways.opt_outs import poll_opt_outs
from retargeting.gateways.outbox.gateway import OutboxGateway
from tests.factories import ContactFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consenting_contact(site):
    """A number that consented yesterday."""
    contact = ContactFactory(site=site)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        at=timezone.now() - timedelta(days=1),
    )
    return contact


@pytest.fixture
def stopped(consenting_contact, brevo):
    """The contact sent STOP to Brevo's short code a minute ago; the webhook never came."""
    brevo.unsubscribe(consenting_contact.phone, at=datetime.now(UTC) - timedelta(minutes=1))
    return consenting_contact


def test_a_lost_webhook_loses_no_stop(stopped, brevo):
    assert poll_opt_outs() == 1
    stopped.refresh_from_db()
    assert stopped.consent_status == ConsentStatus.REVOKED
    latest = stopped.consents.order_by("-created_at", "-id").first()
    assert latest.source == ConsentSource.PROVIDER
    query = brevo.requests[-1]["query"]
    assert query["event"] == "unsubscription" and query["sort"] == "asc"


def test_the_cursor_advances_and_a_second_poll_changes_nothing(stopped, brevo):
    assert poll_opt_outs() == 1
    cursor = ProviderCursor.objects.get(provider="brevo")
    rows = Consent.objects.count()
    assert poll_opt_outs() == 0
    assert Consent.objects.count() == rows
    assert ProviderCursor.objects.get(provider="brevo").position == cursor.position
    # A later STOP, even in the same second as the first, is read next time.
    other = ContactFactory(site=stopped.site, phone="+33698765432")
    record_consent(
        contact=other,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SNIPPET,
        at=cursor.position - timedelta(hours=1),
    )
    brevo.unsubscribe(other.phone, at=cursor.position)
    assert poll_opt_outs() == 1
    other.refresh_from_db()
    assert other.consent_status == ConsentStatus.REVOKED
    assert poll_opt_outs() == 0


def test_the_next_read_starts_from_the_day_before_the_cursor(stopped, brevo):
    poll_opt_outs()
    cursor = ProviderCursor.objects.get(provider="brevo")
    poll_opt_outs()
    start = brevo.requests[-1]["query"]["startDate"]
    assert start == (cursor.position - timedelta(days=1)).date().isoformat()


def test_every_page_of_the_list_is_read(consenting_contact, brevo, site):
    base = datetime.now(UTC) - timedelta(hours=3)
    for n in range(150):
        brevo.unsubscribe(f"+336{n:08d}", at=base + timedelta(seconds=n))
    brevo.unsubscribe(consenting_contact.phone, at=base + timedelta(minutes=5))
    assert poll_opt_outs() == 151
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.REVOKED
    offsets = [r["query"]["offset"] for r in brevo.requests if r["method"] == "GET"]
    assert offsets == ["0", "100"]


def test_a_provider_that_cannot_be_read_is_read_again_later(stopped, brevo):
    brevo.fail_next(1, status=429, code=None, **{"x-sib-ratelimit-reset": "30"})
    assert poll_opt_outs() == 0
    assert not ProviderCursor.objects.exists()
    stopped.refresh_from_db()
    assert stopped.consent_status == ConsentStatus.GRANTED
    assert poll_opt_outs() == 1


def test_a_provider_without_a_list_is_not_asked(consenting_contact):
    assert poll_opt_outs(gateway=OutboxGateway()) == 0
    assert not ProviderCursor.objects.exists()


def test_beat_reads_the_list_every_five_minutes():
    import retargeting.tasks  # noqa: F401 - what the worker loads

    entry = celery_app.conf.beat_schedule["poll-provider-opt-outs"]
    assert (entry["task"], entry["schedule"]) == ("retargeting.tasks.poll_provider_opt_outs", 300.0)
    assert celery_app.tasks[entry["task"]]  # registered


def test_a_stopped_number_gets_nothing_at_the_next_dispatch_while_another_gets_its_sms(
    brevo, site, consenting_contact, abandoned_cart_of
):
    site.quiet_hours = "none"
    site.save()
    StepFactory(flow__site=site, delay_minutes=30, template="Votre panier : {{ link }}")
    control = ContactFactory(site=site, phone="+33698765432")
    record_consent(contact=control, status=ConsentStatus.GRANTED, source=ConsentSource.SNIPPET)
    left = timezone.now() - timedelta(hours=1)
    abandoned_cart_of(consenting_contact, at=left)
    abandoned_cart_of(control, at=left)
    brevo.unsubscribe(consenting_contact.phone)  # its webhook was lost
    call_command("dispatch")
    assert len(brevo.sent_to(control.phone)) == 1
    assert brevo.sent_to(consenting_contact.phone) == []
    assert not Send.objects.filter(contact=consenting_contact, status="accepted").exists()

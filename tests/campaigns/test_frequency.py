"""The frequency cap: one per 24 hours and three per 7 days by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaigns.frequency import next_allowed
from campaigns.models import SendStatus
from tests.factories import SendFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def sent(contact, at, status=SendStatus.DELIVERED):
    return SendFactory(
        contact=contact,
        cart__visitor__site=contact.site,
        step__flow__site=contact.site,
        status=status,
        sent_at=at,
        claimed_at=at,
        planned_at=at,
        due_at=at,
    )


def test_a_contact_never_messaged_may_be_messaged_now(site, consenting_contact):
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) == NOW


def test_23_59_after_a_message_is_too_early_and_24_01_is_fine(site, consenting_contact):
    sent(consenting_contact, NOW - timedelta(hours=23, minutes=59))
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) == NOW + timedelta(minutes=1)
    later = NOW + timedelta(minutes=2)
    assert next_allowed(site=site, contact=consenting_contact, at=later) == later


def test_three_per_seven_days(site, consenting_contact):
    for days in (6, 4, 2):
        sent(consenting_contact, NOW - timedelta(days=days))
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    "status",
    [
        SendStatus.FAILED,
        SendStatus.CANCELLED,
        SendStatus.DROPPED,
        SendStatus.PLANNED,
        SendStatus.HELD_OUT,
    ],
)
def test_only_messages_the_provider_took_count(site, consenting_contact, status):
    sent(consenting_contact, NOW - timedelta(hours=1), status=status)
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) == NOW


@pytest.mark.parametrize("status", [SendStatus.SENDING, SendStatus.UNKNOWN, SendStatus.ACCEPTED])
def test_messages_in_flight_or_of_unknown_fate_count_to_be_safe(site, consenting_contact, status):
    sent(consenting_contact, NOW - timedelta(hours=1), status=status)
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) > NOW


def test_another_sites_messages_do_not_count(site, consenting_contact):
    from tests.factories import ContactFactory

    elsewhere = ContactFactory(phone=consenting_contact.phone)
    sent(elsewhere, NOW - timedelta(hours=1))
    assert next_allowed(site=site, contact=consenting_contact, at=NOW) == NOW


def test_the_send_being_decided_does_not_count_against_itself(site, consenting_contact):
    itself = sent(consenting_contact, NOW, status=SendStatus.SENDING)
    assert next_allowed(site=site, contact=consenting_contact, at=NOW, exclude=itself.pk) == NOW

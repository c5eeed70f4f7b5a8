"""``optin.consent.revoke``: the one action every opt-out takes, with its one guard against
stale provider reports (``STALE_AFTER``), per channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from optin.consent import STALE_AFTER, record_consent, revoke
from optin.models import ConsentSource, ConsentStatus
from retargeting.channels import Channel
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

GRANTED_AT = datetime(2026, 12, 7, 10, 0, 0, 500_000, tzinfo=UTC)


@pytest.fixture
def both(site):
    """A contact who gave both consents at ``GRANTED_AT`` (half past a second)."""
    contact = ContactFactory(site=site, email="marie@example.fr")
    for channel in Channel:
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            at=GRANTED_AT,
            channel=channel,
        )
    return contact


@pytest.mark.parametrize(
    ("reported_before", "applied"),
    [
        (STALE_AFTER, False),  # a whole second older than the consent: stale
        (timedelta(seconds=2), False),
        (STALE_AFTER - timedelta(microseconds=1), True),  # the same second: the opt-out wins
        (timedelta(microseconds=500_000), True),  # the provider's whole second
        (timedelta(0), True),
        (-timedelta(minutes=5), True),  # after the consent
    ],
)
@pytest.mark.parametrize("channel", list(Channel))
def test_a_report_is_stale_only_a_whole_second_before_the_latest_change(
    both, channel, reported_before, applied
):
    with time_machine.travel(GRANTED_AT + timedelta(hours=1), tick=False):
        row = revoke(
            contact=both,
            channel=channel,
            source=ConsentSource.PROVIDER,
            reported_at=GRANTED_AT - reported_before,
        )
    both.refresh_from_db()
    assert (row is not None) is applied
    expected = ConsentStatus.REVOKED if applied else ConsentStatus.GRANTED
    status = both.email_consent_status if channel == Channel.EMAIL else both.consent_status
    assert status == expected
    if applied:
        # Dated when the provider says, never before the consent it follows.
        assert row.created_at == max(GRANTED_AT, GRANTED_AT - reported_before)


def test_a_report_from_the_future_is_dated_now(both):
    now = GRANTED_AT + timedelta(hours=1)
    with time_machine.travel(now, tick=False):
        row = revoke(
            contact=both,
            channel=Channel.SMS,
            source=ConsentSource.PROVIDER,
            reported_at=now + timedelta(days=1),
        )
    assert row is not None and row.created_at == now


@pytest.mark.parametrize("channel", list(Channel))
def test_revoking_one_channel_leaves_the_other(both, channel):
    assert revoke(contact=both, channel=channel, source=ConsentSource.KEYWORD) is not None
    both.refresh_from_db()
    other = Channel.SMS if channel == Channel.EMAIL else Channel.EMAIL
    statuses = {Channel.SMS: both.consent_status, Channel.EMAIL: both.email_consent_status}
    assert statuses[channel] == ConsentStatus.REVOKED
    assert statuses[other] == ConsentStatus.GRANTED
    assert both.consents.filter(channel=other).count() == 1


def test_a_second_revocation_changes_nothing_and_keeps_the_first_proof(both):
    first = revoke(
        contact=both,
        channel=Channel.EMAIL,
        source=ConsentSource.UNSUBSCRIBE,
        text="List-Unsubscribe=One-Click",
        ip="203.0.113.0",
        user_agent="Gmail",
    )
    assert first is not None
    assert revoke(contact=both, channel=Channel.EMAIL, source=ConsentSource.EMAIL_PROVIDER) is None
    rows = both.consents.filter(channel=Channel.EMAIL, status=ConsentStatus.REVOKED)
    assert list(rows.values_list("source", "text", "ip", "user_agent")) == [
        ("unsubscribe", "List-Unsubscribe=One-Click", "203.0.113.0", "Gmail")
    ]


def test_a_revocation_read_stale_in_memory_is_decided_on_the_locked_row(both):
    stale_copy = type(both).objects.get(pk=both.pk)
    assert revoke(contact=both, channel=Channel.SMS, source=ConsentSource.KEYWORD) is not None
    # Another request had read the contact before the STOP: it writes no second row.
    assert revoke(contact=stale_copy, channel=Channel.SMS, source=ConsentSource.PROVIDER) is None
    assert both.consents.filter(status=ConsentStatus.REVOKED).count() == 1

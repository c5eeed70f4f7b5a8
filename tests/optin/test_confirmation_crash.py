"""A confirmation SMS claimed by a worker that died before handing it to the provider (killed
while it waited for the sender's rate) is owed, not lost: the pass sends it once after
``STUCK_AFTER``; one handed over is never sent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from optin.confirmation import STUCK_AFTER, send_confirmation, send_pending_confirmations
from optin.models import ConsentStatus, Contact
from retargeting.gateways import throttle
from retargeting.gateways.models import OutboxMessage
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Killed(BaseException):
    """The worker's process ending where it stands (not an error anything catches)."""


def kill_while_waiting_for_the_rate(*args, **kwargs):
    raise Killed


@pytest.fixture
def pending():
    site = SiteFactory(quiet_hours="none")
    return ContactFactory(site=site, consent_status=ConsentStatus.PENDING)


def test_a_confirmation_never_handed_over_is_sent_once_by_a_later_pass(pending, monkeypatch):
    with time_machine.travel(NOW, tick=False):
        monkeypatch.setattr(throttle, "acquire", kill_while_waiting_for_the_rate)
        with pytest.raises(Killed):
            send_confirmation(contact_id=pending.pk)
        monkeypatch.undo()
    claimed = Contact.objects.get(pk=pending.pk)
    assert claimed.confirmation_sent_at == NOW and claimed.confirmation_handed_at is None
    with time_machine.travel(NOW + STUCK_AFTER - timedelta(seconds=1), tick=False):
        assert send_pending_confirmations() == 0  # perhaps still under way
    with time_machine.travel(NOW + STUCK_AFTER, tick=False):
        assert send_pending_confirmations() == 1
        assert send_pending_confirmations() == 0
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == [pending.phone]
    sent = Contact.objects.get(pk=pending.pk)
    assert sent.confirmation_handed_at is not None and sent.confirmation_code in (
        OutboxMessage.objects.get().body
    )


def test_a_confirmation_handed_over_is_never_sent_again(pending):
    with time_machine.travel(NOW, tick=False):
        assert send_confirmation(contact_id=pending.pk) is True
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert send_pending_confirmations() == 0
        assert send_confirmation(contact_id=pending.pk) is False
    assert OutboxMessage.objects.count() == 1

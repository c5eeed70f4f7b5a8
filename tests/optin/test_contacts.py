from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from optin.contacts import mark_messaged
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_mark_messaged_records_the_latest_time_only():
    contact = ContactFactory()
    now = timezone.now()
    mark_messaged(contact_id=contact.pk, at=now - timedelta(hours=1))
    contact.refresh_from_db()
    assert contact.last_messaged_at == now - timedelta(hours=1)
    mark_messaged(contact_id=contact.pk, at=now)
    # A reconciliation that finds an older message late never moves it back.
    mark_messaged(contact_id=contact.pk, at=now - timedelta(days=1))
    contact.refresh_from_db()
    assert contact.last_messaged_at == now


def test_mark_messaged_without_a_contact_does_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):  # an erased contact: no query, no error
        mark_messaged(contact_id=None, at=timezone.now())

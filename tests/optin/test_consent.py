from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from optin.consent import current_status, is_live, record_consent
from optin.contacts import get_or_create_contact
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.sms.phones import InvalidPhone

pytestmark = pytest.mark.django_db


def test_each_change_is_a_row_and_the_state_is_the_latest(site):
    contact, _ = get_or_create_contact(site=site, raw_phone="06 12 34 56 78")
    assert current_status(contact=contact) == "none"
    record_consent(
        contact=contact,
        status=ConsentStatus.PENDING,
        source=ConsentSource.SNIPPET,
        text="J'accepte",
        ip="203.0.113.0",
        user_agent="Mozilla/5.0",
    )
    record_consent(
        contact=contact,
        status=ConsentStatus.CONFIRMED,
        source=ConsentSource.KEYWORD,
        inbound_message_id="SM123",
    )
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    contact.refresh_from_db()
    assert list(contact.consents.values_list("status", flat=True)) == [
        "pending",
        "confirmed",
        "revoked",
    ]
    assert current_status(contact=contact) == contact.consent_status == "revoked"
    first = contact.consents.first()
    assert (first.text, first.ip, first.user_agent) == ("J'accepte", "203.0.113.0", "Mozilla/5.0")


@pytest.mark.parametrize(
    ("status", "live"),
    [
        ("granted", True),
        ("confirmed", True),
        ("pending", False),
        ("revoked", False),
        ("none", False),
    ],
)
def test_only_granted_or_confirmed_consent_is_live(status, live):
    assert is_live(status=status) is live


def test_consent_rows_cannot_be_changed_or_deleted(consenting_contact):
    row = consenting_contact.consents.get()
    row.text = "something else"
    with pytest.raises(TypeError, match="append-only"):
        row.save()
    with pytest.raises(TypeError, match="append-only"):
        row.delete()
    with pytest.raises(TypeError, match="append-only"):
        Consent.objects.filter(pk=row.pk).update(text="x")
    with pytest.raises(TypeError, match="append-only"):
        Consent.objects.filter(pk=row.pk).delete()
    assert Consent.objects.get(pk=row.pk).text == "J'accepte de recevoir des SMS."


def test_erasure_is_the_only_way_rows_go(consenting_contact):
    assert Consent.objects.filter(contact=consenting_contact).erase() == 1
    assert not Consent.objects.exists()


def test_a_number_is_one_contact_per_site(site):
    first, created = get_or_create_contact(
        site=site, raw_phone="06 12 34 56 78", first_name="Marie"
    )
    again, created_again = get_or_create_contact(site=site, raw_phone="+33612345678")
    assert created and not created_again
    assert first == again and again.first_name == "Marie"
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(site=site, phone="+33612345678", region="FR")


def test_an_invalid_number_stores_nothing(site):
    with pytest.raises(InvalidPhone):
        get_or_create_contact(site=site, raw_phone="01 23 45 67 89")
    assert not Contact.objects.exists()


def test_the_database_refuses_a_number_not_in_e164(site):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(site=site, phone="0612345678", region="FR")


def test_contacts_print_masked(site):
    contact, _ = get_or_create_contact(site=site, raw_phone="06 12 34 56 78")
    assert "5678" not in str(contact)

"""The gate's door for an order's own messages (``optin.gate.order_recipient``): the phone or
email given with an order is where its confirmation and shipping go, without any consent given
or changed; what a platform relays is a claim, which ties no browser and joins no address to a
number that already had a contact; the shop's server vouches."""

from __future__ import annotations

import pytest
from django.utils import timezone

from optin.consent import record_consent, revoke
from optin.erasure import erase_contact
from optin.gate import order_recipient
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.channels import Channel
from retargeting.tracking.models import Visitor
from retargeting.tracking.proofs import Proof

pytestmark = pytest.mark.django_db
PHONE = "+33612345678"


def browser(site) -> Visitor:
    now = timezone.now()
    return Visitor.objects.create(site=site, vid="b" * 32, first_seen_at=now, last_seen_at=now)


def test_a_new_number_gets_a_contact_without_consent(site):
    contact = order_recipient(site=site, phone=PHONE, email=None, proof=Proof.CLAIM)
    assert contact is not None and contact.phone == PHONE
    assert contact.consent_status == Contact.NO_CONSENT
    assert contact.email_consent_status == Contact.NO_CONSENT


def test_a_claim_ties_no_browser_and_changes_no_consent(site):
    known = Contact.objects.create(site=site, phone=PHONE, region="FR")
    record_consent(contact=known, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    visitor = browser(site)
    contact = order_recipient(
        site=site, phone=PHONE, email="x@example.fr", proof=Proof.CLAIM, visitor=visitor
    )
    assert contact == known
    assert not VisitorLink.objects.filter(visitor=visitor).exists()
    known.refresh_from_db()
    assert known.consent_status == ConsentStatus.GRANTED
    assert known.email == "", "a typed address never joins a customer's number"
    # Control: the shop's server vouches: the browser is the number's, the address joins it.
    vouched = order_recipient(
        site=site, phone=PHONE, email="y@example.fr", proof=Proof.SHOP_SERVER, visitor=visitor
    )
    assert vouched == known
    assert VisitorLink.objects.filter(visitor=visitor, contact=known).exists()
    known.refresh_from_db()
    assert known.email == "y@example.fr" and known.consent_status == ConsentStatus.GRANTED


def test_a_revoked_number_stays_revoked(site):
    known = Contact.objects.create(site=site, phone=PHONE, region="FR")
    record_consent(contact=known, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    revoke(contact=known, channel=Channel.SMS, source=ConsentSource.KEYWORD, text="STOP")
    for proof in (Proof.CLAIM, Proof.SHOP_SERVER):
        assert order_recipient(site=site, phone=PHONE, email=None, proof=proof) == known
        known.refresh_from_db()
        assert known.consent_status == ConsentStatus.REVOKED


def test_a_number_erased_after_a_stop_gets_no_contact_and_its_address_takes_over(site):
    known = Contact.objects.create(site=site, phone=PHONE, region="FR")
    revoke(contact=known, channel=Channel.SMS, source=ConsentSource.KEYWORD, text="STOP")
    erase_contact(site=site, raw_phone=PHONE)
    assert order_recipient(site=site, phone=PHONE, email=None, proof=Proof.SHOP_SERVER) is None
    assert not Contact.objects.filter(phone=PHONE).exists()
    by_email = order_recipient(
        site=site, phone=PHONE, email="marie@example.fr", proof=Proof.SHOP_SERVER
    )
    assert by_email is not None and (by_email.phone, by_email.email) == ("", "marie@example.fr")


def test_a_platforms_order_never_joins_a_typed_address_to_a_new_number(site):
    """A platform relays what the shopper typed: a new number and an address typed together
    stay two contacts, so a tap on the address's email never stands for the number."""
    contact = order_recipient(site=site, phone=PHONE, email="pair@example.fr", proof=Proof.CLAIM)
    assert contact is not None and contact.phone == PHONE and contact.email == ""
    assert Contact.objects.get(site=site, email="pair@example.fr").phone == ""
    # Control: the shop's server vouches for the pair.
    vouched = order_recipient(
        site=site, phone="+33612345699", email="both@example.fr", proof=Proof.SHOP_SERVER
    )
    assert (vouched.phone, vouched.email) == ("+33612345699", "both@example.fr")

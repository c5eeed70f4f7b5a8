"""Numbers the provider reports unsubscribed: revoked once, on every site, never undoing later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from optin.consent import current_status, record_consent
from optin.models import Consent, ConsentSource, ConsentStatus
from optin.provider_opt_outs import apply_provider_opt_out
from retargeting.gateways.base import OptOutReport
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consenting_contact(site):
    """A number that consented an hour ago."""
    contact = ContactFactory(site=site)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        at=timezone.now() - timedelta(hours=1),
    )
    return contact


def report(contact, *, at=None, reply=""):
    return OptOutReport(
        phone=contact.phone, at=at or timezone.now(), provider_id="unsubscription:1:x", reply=reply
    )


def test_the_same_report_twice_changes_nothing(consenting_contact):
    stop = report(consenting_contact)
    assert apply_provider_opt_out(stop) == 1
    rows = Consent.objects.filter(contact=consenting_contact).count()
    assert apply_provider_opt_out(stop) == 0
    assert Consent.objects.filter(contact=consenting_contact).count() == rows
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.REVOKED


def test_a_report_older_than_the_latest_consent_change_does_not_revoke_it(consenting_contact):
    old = report(consenting_contact, at=timezone.now() - timedelta(hours=2))
    assert apply_provider_opt_out(old) == 0
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.GRANTED


def test_a_later_start_is_not_undone_by_the_stop_it_followed(consenting_contact):
    stopped_at = timezone.now() - timedelta(minutes=10)
    assert apply_provider_opt_out(report(consenting_contact, at=stopped_at)) == 1
    record_consent(
        contact=consenting_contact, status=ConsentStatus.GRANTED, source=ConsentSource.KEYWORD
    )
    # The events list brings the same STOP again later: the START after it stands.
    assert apply_provider_opt_out(report(consenting_contact, at=stopped_at)) == 0
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.GRANTED


def test_the_proof_is_the_providers_report_dated_when_it_happened(consenting_contact):
    at = timezone.now() - timedelta(seconds=5)
    apply_provider_opt_out(report(consenting_contact, at=at))
    latest = consenting_contact.consents.order_by("-created_at", "-id").first()
    assert (latest.status, latest.source, latest.created_at) == (
        ConsentStatus.REVOKED,
        ConsentSource.PROVIDER,
        at,
    )
    assert latest.inbound_message_id == "unsubscription:1:x"
    assert "unsubscribed" in latest.text


def test_a_stop_in_the_same_second_as_the_consent_wins(site):
    contact = ContactFactory(site=site)
    granted = record_consent(
        contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SNIPPET
    )
    # The provider's clock counts whole seconds.
    assert apply_provider_opt_out(report(contact, at=granted.created_at.replace(microsecond=0)))
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    assert current_status(contact=contact) == ConsentStatus.REVOKED  # the history agrees


def test_a_report_from_the_future_is_dated_now(consenting_contact):
    apply_provider_opt_out(report(consenting_contact, at=timezone.now() + timedelta(days=1)))
    latest = consenting_contact.consents.order_by("-created_at", "-id").first()
    assert latest.created_at <= timezone.now()


def test_every_site_knowing_the_number_is_revoked_and_no_other_number(consenting_contact):
    elsewhere = ContactFactory(site=SiteFactory(), phone=consenting_contact.phone)
    pending = ContactFactory(site=SiteFactory(), phone=consenting_contact.phone)
    record_consent(contact=elsewhere, status=ConsentStatus.CONFIRMED, source="snippet")
    record_consent(contact=pending, status=ConsentStatus.PENDING, source="snippet")
    other = ContactFactory(site=consenting_contact.site, phone="+33699999999")
    record_consent(contact=other, status=ConsentStatus.GRANTED, source="snippet")
    assert apply_provider_opt_out(report(consenting_contact)) == 3
    other.refresh_from_db()
    assert other.consent_status == ConsentStatus.GRANTED


def test_a_reported_reply_counts_only_when_it_is_an_opt_out(consenting_contact):
    assert apply_provider_opt_out(report(consenting_contact, reply="Merci !")) == 0
    assert apply_provider_opt_out(report(consenting_contact, reply="ARRÊT svp")) == 1


def test_an_email_report_revokes_the_address_on_every_site_and_never_the_sms(site):
    here = ContactFactory(site=site, email="marie@example.fr")
    there = ContactFactory(site=SiteFactory(), phone="", email="marie@example.fr")
    other = ContactFactory(site=site, email="paul@example.fr")
    for contact in (here, there, other):
        for channel in ("sms", "email") if contact.phone else ("email",):
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.SERVER_API,
                at=timezone.now() - timedelta(hours=1),
                channel=channel,
            )
    complaint = OptOutReport(
        phone="", email="Marie@Example.FR", at=timezone.now(), provider_id="complained:42"
    )
    assert apply_provider_opt_out(complaint) == 2
    assert apply_provider_opt_out(complaint) == 0  # the same report again changes nothing
    for contact in (here, there, other):
        contact.refresh_from_db()
    assert (here.email_consent_status, there.email_consent_status) == ("revoked", "revoked")
    assert here.consent_status == ConsentStatus.GRANTED  # the number's consent is its own
    assert other.email_consent_status == ConsentStatus.GRANTED
    proof = here.consents.get(channel="email", status="revoked")
    assert (proof.source, proof.inbound_message_id) == ("email_provider", "complained:42")


def test_an_old_email_report_does_not_undo_a_later_consent(site):
    contact = ContactFactory(site=site, email="marie@example.fr")
    record_consent(
        contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SNIPPET, channel="email"
    )
    old = OptOutReport(
        phone="",
        email="marie@example.fr",
        at=timezone.now() - timedelta(seconds=2),
        provider_id="unsubscribed:1",
    )
    assert apply_provider_opt_out(old) == 0
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.GRANTED

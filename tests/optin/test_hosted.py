"""The hosted opt-in page."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from optin.models import Contact
from optin.pages.hosted import wording
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site():
    return create_site(name="Boutique", domains=["shop.example"], country="FR").site


def page(site):
    return f"/o/{site.public_key}/"


def test_the_page_shows_an_unticked_box_with_the_sites_wording_in_its_language(client, site):
    body = client.get(page(site)).content.decode()
    assert "Recevoir un rappel par SMS" in body
    assert escape(wording(site)) in body and "Boutique" in wording(site)
    assert '<html lang="fr">' in body
    assert 'type="checkbox" name="consent" id="id_consent">' in body  # not checked
    site.language, site.optin_text = "en", "Yes, text me about my cart."
    site.save()
    body = client.get(page(site)).content.decode()
    assert "Get a reminder by text" in body and "Yes, text me about my cart." in body


def test_a_number_with_the_box_ticked_starts_the_double_opt_in(client, site):
    response = client.post(
        page(site),
        {"phone": "06 12 34 56 78", "consent": "on"},
        HTTP_USER_AGENT="Mozilla/5.0",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200 and "répondez OUI" in response.content.decode()
    contact = Contact.objects.get()
    consent = contact.consents.get()
    assert (contact.consent_status, consent.source, consent.text) == (
        "pending",
        "hosted_form",
        wording(site),
    )
    assert (consent.ip, consent.user_agent) == ("203.0.113.0", "Mozilla/5.0")
    assert "OUI" in OutboxMessage.objects.get(to="+33612345678").body


def test_without_the_box_nothing_is_stored(client, site):
    response = client.post(page(site), {"phone": "06 12 34 56 78"})
    assert response.status_code == 400 and "Cochez la case" in response.content.decode()
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("phone", "message"),
    [("hello", "not a phone number"), ("01 23 45 67 89", "not a mobile number")],
)
def test_a_bad_number_gets_a_clear_error_and_nothing_is_stored(client, site, phone, message):
    response = client.post(page(site), {"phone": phone, "consent": "on"})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Contact.objects.exists()


def test_one_address_cannot_flood_the_page(client, site):
    # The page's own hourly limit, with the daily confirmation limit out of its way.
    site.confirmations_per_ip_per_day = 100
    site.save()
    statuses = [
        client.post(
            page(site),
            {"phone": f"06 12 34 56 {i:02d}", "consent": "on"},
            REMOTE_ADDR="198.51.100.7",
        ).status_code
        for i in range(12)
    ]
    assert statuses.count(200) == 10 and statuses[-1] == 429
    assert Contact.objects.count() == 10


def test_one_number_cannot_be_enrolled_over_and_over(client, site):
    statuses = [
        client.post(
            page(site), {"phone": "06 12 34 56 78", "consent": "on"}, REMOTE_ADDR=f"198.51.100.{i}"
        ).status_code
        for i in range(7)
    ]
    assert statuses[-1] == 429
    assert OutboxMessage.objects.filter(to="+33612345678").count() == 1


def test_an_unknown_site_is_a_404(client):
    assert client.get("/o/pk_unknown/").status_code == 404

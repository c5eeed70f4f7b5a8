"""The confirmation link of the double opt-in SMS: another way to answer OUI."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from optin.confirmation import LINK_DAYS
from optin.models import Contact
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site
from retargeting.sms import segments
from tests.optin.test_matching import snippet_identify

pytestmark = pytest.mark.django_db(transaction=True)  # receivers run on commit
LINK = re.compile(r"https://relance\.example/o/c/([A-Za-z0-9]{10})$")


@pytest.fixture
def shop(settings):
    settings.PUBLIC_BASE_URL = "https://relance.example"
    return create_site(name="Boutique", domains=["shop.example"], country="FR")


@pytest.fixture
def pending(client, shop):
    """A number typed in through the snippet, and the path of the link its SMS carries."""
    assert snippet_identify(client, shop.site).status_code == 204
    body = OutboxMessage.objects.get().body
    match = LINK.search(body)
    assert match, body
    return Contact.objects.get(), f"/o/c/{match[1]}", body


def test_the_confirmation_sms_ends_with_its_link_and_says_how_to_answer(pending):
    contact, path, body = pending
    assert body.startswith(
        "Boutique : pour recevoir un rappel de votre panier par SMS, répondez OUI."
    )
    assert body.endswith(f"Ou confirmez ici : https://relance.example{path}")
    assert contact.confirmation_code == path.rsplit("/", 1)[1]
    # The link costs a second segment; the text stays in GSM-7.
    counted = segments.count(body)
    assert (counted.encoding, counted.segments) == (segments.GSM7, 2)


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def test_opening_the_link_changes_nothing_only_the_button_confirms(pending):
    contact, path, _ = pending
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path, HTTP_USER_AGENT="WhatsApp/2.23 link preview")
    assert page.status_code == 200
    text = text_of(page)
    assert "Oui, je confirme" in text and "+3361234••••" in text and "+33612345678" not in text
    contact.refresh_from_db()
    assert contact.consent_status == "pending"
    form = {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)[1]
    }
    done = browser.post(path, form, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)")
    assert done.status_code == 200 and "C'est confirmé" in text_of(done)
    contact.refresh_from_db()
    assert contact.consent_status == "confirmed"
    proof = contact.consents.latest("created_at")
    assert (proof.source, proof.user_agent) == ("link", "Mozilla/5.0 (iPhone)")
    assert proof.text.startswith("Oui, je confirme (Boutique : pour recevoir")
    # A second tap says so and records nothing more.
    again = browser.post(path, form)
    assert "C'est déjà confirmé" in text_of(again)
    assert contact.consents.count() == 2


def test_a_number_that_said_stop_is_not_confirmed_by_an_old_link(client, pending):
    from optin.consent import record_consent
    from optin.models import ConsentSource, ConsentStatus

    contact, path, _ = pending
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    response = client.post(path)
    assert "rien n'a changé" in text_of(response)
    contact.refresh_from_db()
    assert contact.consent_status == "revoked"


def test_the_link_expires_after_a_week_but_oui_still_works(client, pending):
    contact, path, _ = pending
    with time_machine.travel(timezone.now() + timedelta(days=LINK_DAYS, minutes=1)):
        response = client.post(path)
    assert response.status_code == 410 and "OUI" in response.content.decode()
    contact.refresh_from_db()
    assert contact.consent_status == "pending"
    with time_machine.travel(timezone.now() + timedelta(days=LINK_DAYS - 1)):
        assert client.post(path).status_code == 200
    contact.refresh_from_db()
    assert contact.consent_status == "confirmed"


def test_an_unknown_code_is_a_404_and_an_english_site_speaks_english(client, shop):
    assert client.get("/o/c/AAAAAAAAAA").status_code == 404
    assert client.get("/o/c/").status_code == 404
    shop.site.language = "en"
    shop.site.save()
    snippet_identify(client, shop.site, phone="06 12 34 56 79")
    body = OutboxMessage.objects.get().body
    assert "reply YES. " in body and "Or confirm here: https://relance.example/o/c/" in body
    path = "/o/c/" + LINK.search(body)[1]
    assert "Yes, I confirm" in client.get(path).content.decode()

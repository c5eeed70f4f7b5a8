"""The one-tap opt-out link, ``/u/CODE`` (campaigns/opt_out.py, campaigns/customer/opt_out.py):
opening it changes nothing; its button revokes the number's consent for that shop only, with
the proof, and the number gets nothing more."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from campaigns.dispatch import run_pass
from campaigns.flows import create_default_flow
from campaigns.models import OptOutLink
from campaigns.opt_out import link_for
from optin.consent import record_consent
from optin.erasure import erase_contact, is_blocked
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from tests.factories import ContactFactory, SendFactory, SiteFactory

pytestmark = pytest.mark.django_db

PHONE = "+33612345678"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def consenting(site, phone=PHONE):
    contact = ContactFactory(site=site, phone=phone)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte de recevoir des SMS.",
    )
    return contact


@pytest.fixture
def shop(site):
    site.name, site.sender = "Maison Demo", "MAISONDEMO"
    site.save()
    return site


@pytest.fixture
def link(shop):
    contact = consenting(shop)
    return link_for(SendFactory(cart__visitor__site=shop, contact=contact))


def consents(contact):
    return list(Consent.objects.filter(contact=contact).values_list("status", flat=True))


def test_the_page_asks_in_the_shops_language_and_opening_it_changes_nothing(client, link):
    response = client.get(f"/u/{link.code}", HTTP_USER_AGENT=IPHONE)
    page = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert '<html lang="fr">' in page and "Ne plus recevoir de SMS de Maison Demo" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "+33612345678" not in page  # the number is masked
    assert consents(link.contact) == ["granted"]
    link.site.language = "en"
    link.site.save()
    page = client.get(f"/u/{link.code}").content.decode()
    assert '<html lang="en">' in page and "Stop texts from Maison Demo" in page


def test_head_and_link_previews_change_nothing(client, link):
    assert client.head(f"/u/{link.code}").status_code == 200
    bot = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
    assert client.get(f"/u/{link.code}", HTTP_USER_AGENT=bot).status_code == 200
    # A fetcher that posts without the page's CSRF token is refused and changes nothing.
    strict = Client(enforce_csrf_checks=True)
    answer = strict.post(f"/u/{link.code}", HTTP_USER_AGENT="WhatsApp/2.23.20.0 preview")
    assert answer.status_code == 403
    assert consents(link.contact) == ["granted"]
    link.contact.refresh_from_db()
    assert link.contact.consent_status == ConsentStatus.GRANTED


def test_the_button_works_in_an_in_app_browser_whatever_it_calls_itself(link):
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 WhatsApp/2.23.20")
    page = browser.get(f"/u/{link.code}")
    token = page.cookies["csrftoken"].value
    answer = browser.post(f"/u/{link.code}", {"csrfmiddlewaretoken": token})
    assert answer.status_code == 200
    link.contact.refresh_from_db()
    assert link.contact.consent_status == ConsentStatus.REVOKED


def test_the_button_revokes_for_that_shop_only_and_records_the_proof(client, link):
    other_shop = SiteFactory(name="Autre Boutique")
    elsewhere = consenting(other_shop)  # the same number, another shop
    at = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    with time_machine.travel(at, tick=False):
        response = client.post(
            f"/u/{link.code}", HTTP_USER_AGENT=IPHONE, REMOTE_ADDR="203.0.113.77"
        )
    assert response.status_code == 200
    done = html.unescape(response.content.decode())
    assert "C'est fait : Maison Demo ne vous enverra plus de SMS au +3361234••••." in done
    contact = Contact.objects.get(pk=link.contact.pk)
    assert contact.consent_status == ConsentStatus.REVOKED
    proof = Consent.objects.filter(contact=contact).last()
    assert (proof.status, proof.source) == (ConsentStatus.REVOKED, ConsentSource.OPT_OUT_LINK)
    assert proof.text == (
        f"Ne plus recevoir de SMS de Maison Demo (opt-out link {link.code}, send {link.send_id})"
    )
    assert proof.ip == "203.0.113.0" and proof.user_agent == IPHONE
    assert proof.created_at == at
    elsewhere.refresh_from_db()
    assert elsewhere.consent_status == ConsentStatus.GRANTED and consents(elsewhere) == ["granted"]
    # Tapped again: said so, nothing more recorded.
    again = client.post(f"/u/{link.code}")
    assert "C'est déjà fait" in html.unescape(again.content.decode())
    assert len(consents(contact)) == 2


def test_the_form_keeps_djangos_csrf_check(link):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/u/{link.code}").status_code == 403
    page = strict.get(f"/u/{link.code}")
    token = page.cookies["csrftoken"].value
    assert strict.post(f"/u/{link.code}", {"csrfmiddlewaretoken": token}).status_code == 200
    assert consents(link.contact) == ["granted", "revoked"]


def test_an_unknown_code_is_a_404(client, link):
    assert client.get("/u/nosuchcode0").status_code == 404
    assert client.post("/u/nosuchcode0").status_code == 404
    assert client.get("/u/").status_code == 404
    assert consents(link.contact) == ["granted"]


def test_the_link_still_works_364_days_later_even_without_its_send(client, link):
    link.send.delete()  # carts and their sends are deleted long before a year
    with time_machine.travel(timezone.now() + timedelta(days=364)):
        response = client.post(f"/u/{link.code}")
    assert response.status_code == 200
    proof = Consent.objects.filter(contact=link.contact).last()
    assert proof.status == ConsentStatus.REVOKED and "send deleted" in proof.text


def test_an_erased_number_that_opted_out_by_link_stays_blocked(client, link):
    client.post(f"/u/{link.code}")
    report = erase_contact(site=link.site, raw_phone=PHONE)
    assert report.kept_do_not_contact and is_blocked(site_id=link.site.pk, e164=PHONE)
    assert not OptOutLink.objects.exists()
    assert client.get(f"/u/{link.code}").status_code == 404


def test_a_number_that_opted_out_gets_nothing_at_the_next_pass(
    client, twilio, shop, abandoned_cart_of, settings
):
    """The control number gets its SMS, from the alphanumeric sender, with its own link."""
    settings.SHORT_LINK_BASE_URL = ""
    shop.quiet_hours = "none"
    shop.save()
    create_default_flow(site=shop)
    stopped, control = consenting(shop), consenting(shop, phone="+33698765432")
    earlier = link_for(SendFactory(cart__visitor__site=shop, contact=stopped))
    assert client.post(f"/u/{earlier.code}").status_code == 200
    for contact in (stopped, control):
        abandoned_cart_of(contact, at=timezone.now() - timedelta(minutes=45))
    run_pass(deliver_inline=True)
    assert [m.to for m in twilio.messages.values()] == [control.phone]
    [message] = twilio.messages.values()
    assert message.from_ == "MAISONDEMO" and "Répondez" not in message.body
    code = OptOutLink.objects.get(contact=control).code
    assert message.body.endswith(f"Stop SMS : https://relance.example/u/{code}")
    assert client.get(f"/u/{code}").status_code == 200

"""One-click unsubscribe from an email, RFC 8058 (campaigns/opt_out.py,
campaigns/customer/opt_out.py): ``POST /u/CODE`` with the body ``List-Unsubscribe=One-Click``,
no cookie and no CSRF token, revokes the address's email consent for that shop at once and
answers 200 without a redirect; GET and HEAD show the one-button page and change nothing.

RFC 8058, section 3.2: the mail receiver "performs an HTTPS POST to the first https URI in the
List-Unsubscribe header. It sends the key/value pair in the List-Unsubscribe-Post header as the
request body. The List-Unsubscribe-Post header MUST contain the single key/value pair
'List-Unsubscribe=One-Click'. [...] The POST request MUST NOT include cookies, HTTP
authorization, or any other context information." Its example (section 8.1) posts
``Content-Type: application/x-www-form-urlencoded`` with that body; ``multipart/form-data``
is allowed too. The tests make that request with Django's test client in its strict mode
(``enforce_csrf_checks=True``, no cookie) and over a real socket to the live server.
"""

from __future__ import annotations

import html
import http.client
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.test.client import encode_multipart

from campaigns.models import OptOutLink, StepChannel
from campaigns.opt_out import link_for, links_for
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel
from tests.factories import ContactFactory, SendFactory, SiteFactory

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"
# What Gmail's unsubscribe fetcher says it is (it sends no cookie).
GMAIL_AGENT = "Mozilla/5.0 (compatible; Google-Unsubscribe)"


def consenting(site, *, email="marie@example.fr", phone="+33612345678"):
    contact = ContactFactory(site=site, email=email, phone=phone)
    for channel in (Channel.SMS, Channel.EMAIL):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            text=f"J'accepte les offres par {channel}.",
            channel=channel,
        )
    return contact


@pytest.fixture
def shop(site):
    site.name = "Maison Demo"
    site.save()
    return site


def email_link(site, contact):
    return link_for(
        SendFactory(
            cart__visitor__site=site,
            contact=contact,
            channel=Channel.EMAIL,
            step__channel=StepChannel.EMAIL,
            step__subject="Votre panier",
        )
    )


@pytest.fixture
def link(shop):
    return email_link(shop, consenting(shop))


def statuses(contact, channel):
    return list(
        Consent.objects.filter(contact=contact, channel=channel)
        .order_by("id")
        .values_list("status", flat=True)
    )


def gmail_post(code, **extra):
    """The request RFC 8058 describes: a form body, no cookie, no token."""
    strict = Client(enforce_csrf_checks=True)
    return strict.post(
        f"/u/{code}", data=ONE_CLICK, content_type=FORM, HTTP_USER_AGENT=GMAIL_AGENT, **extra
    )


def test_the_links_channel_is_the_sends(shop):
    contact = consenting(shop)
    assert email_link(shop, contact).channel == Channel.EMAIL
    sms = SendFactory(cart__visitor__site=shop, contact=contact)
    assert link_for(sms).channel == Channel.SMS
    sends = [
        SendFactory(cart__visitor__site=shop, contact=contact, channel=channel)
        for channel in (Channel.EMAIL, Channel.SMS)
    ]
    made = links_for(sends)
    assert [made[send.pk].channel for send in sends] == [Channel.EMAIL, Channel.SMS]
    assert [
        link.channel for link in OptOutLink.objects.filter(send__in=sends).order_by("send")
    ] == [
        Channel.EMAIL,
        Channel.SMS,
    ]


def test_the_one_click_post_as_gmail_makes_it_revokes_the_email_consent_at_once(link):
    response = gmail_post(link.code, REMOTE_ADDR="203.0.113.77")
    assert response.status_code == 200  # no redirect, no CSRF refusal
    assert not response.cookies.get("sessionid")
    page = html.unescape(response.content.decode())
    assert "C'est fait : Maison Demo ne vous enverra plus d'emails à ma••••@example.fr." in page
    contact = Contact.objects.get(pk=link.contact.pk)
    assert contact.email_consent_status == ConsentStatus.REVOKED
    proof = Consent.objects.filter(contact=contact, channel=Channel.EMAIL).last()
    assert (proof.status, proof.source) == (ConsentStatus.REVOKED, ConsentSource.UNSUBSCRIBE)
    assert proof.text == (
        f"List-Unsubscribe=One-Click (RFC 8058) (opt-out link {link.code}, send {link.send_id})"
    )
    assert proof.ip == "203.0.113.0" and proof.user_agent == GMAIL_AGENT
    # The SMS consent of the same contact is another address's: untouched.
    assert contact.consent_status == ConsentStatus.GRANTED
    assert statuses(contact, Channel.SMS) == ["granted"]


def test_a_multipart_one_click_post_works_too(link):
    boundary = "RelanceBoundary"
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        f"/u/{link.code}",
        data=encode_multipart(boundary, {"List-Unsubscribe": "One-Click"}),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 200
    assert statuses(link.contact, Channel.EMAIL) == ["granted", "revoked"]


def test_a_repeated_one_click_post_changes_nothing_more(link):
    assert gmail_post(link.code).status_code == 200
    again = gmail_post(link.code)
    assert again.status_code == 200
    assert "C'est déjà fait : Maison Demo n'envoie plus d'emails" in html.unescape(
        again.content.decode()
    )
    assert statuses(link.contact, Channel.EMAIL) == ["granted", "revoked"]


def test_get_and_head_show_the_one_button_page_and_change_nothing(client, link):
    page = client.get(f"/u/{link.code}")
    body = html.unescape(page.content.decode())
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert "Ne plus recevoir d'emails de Maison Demo" in body
    assert body.count("<button") == 1
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in body
    assert "marie@example.fr" not in body and "ma••••@example.fr" in body
    assert client.head(f"/u/{link.code}").status_code == 200
    scanner = "Mozilla/5.0 (compatible; Microsoft Safe Links)"
    assert client.get(f"/u/{link.code}", HTTP_USER_AGENT=scanner).status_code == 200
    assert statuses(link.contact, Channel.EMAIL) == ["granted"]
    link.site.language = "en"
    link.site.save()
    english = html.unescape(client.get(f"/u/{link.code}").content.decode())
    assert "Unsubscribe from Maison Demo's emails" in english


def test_the_pages_button_posts_the_same_one_click_body(link):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/u/{link.code}")
    token = page.cookies["csrftoken"].value
    answer = browser.post(
        f"/u/{link.code}", {"csrfmiddlewaretoken": token, "List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200
    proof = Consent.objects.filter(contact=link.contact, channel=Channel.EMAIL).last()
    assert proof.status == ConsentStatus.REVOKED
    assert proof.text.startswith("Ne plus recevoir d'emails de Maison Demo (opt-out link")


def test_a_post_without_the_one_click_body_keeps_the_csrf_check(link):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/u/{link.code}").status_code == 403
    wrong = strict.post(f"/u/{link.code}", data="List-Unsubscribe=Yes", content_type=FORM)
    assert wrong.status_code == 403
    assert statuses(link.contact, Channel.EMAIL) == ["granted"]


def test_an_sms_link_takes_no_one_click_post(shop):
    contact = consenting(shop)
    sms_link = link_for(SendFactory(cart__visitor__site=shop, contact=contact))
    assert gmail_post(sms_link.code).status_code == 403
    assert statuses(contact, Channel.SMS) == ["granted"]
    # Its page's button revokes the SMS consent only.
    client = Client()
    assert client.post(f"/u/{sms_link.code}").status_code == 200
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    assert contact.email_consent_status == ConsentStatus.GRANTED


def test_an_unknown_code_is_a_404_and_another_shop_keeps_its_consent(shop, link):
    assert gmail_post("nosuchcode0").status_code == 404
    other = SiteFactory(name="Autre Boutique")
    elsewhere = consenting(other)  # the same address, another shop
    assert gmail_post(link.code).status_code == 200
    elsewhere.refresh_from_db()
    assert elsewhere.email_consent_status == ConsentStatus.GRANTED
    assert statuses(elsewhere, Channel.EMAIL) == ["granted"]


@pytest.mark.django_db(transaction=True)
def test_the_one_click_post_over_a_real_socket(live_server, site):
    contact = consenting(site)
    link = email_link(site, contact)
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request(
        "POST",
        f"/u/{link.code}",
        body=ONE_CLICK.encode(),
        headers={"Content-Type": FORM, "User-Agent": GMAIL_AGENT},
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200 and response.getheader("Location") is None
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.REVOKED
    assert contact.consent_status == ConsentStatus.GRANTED

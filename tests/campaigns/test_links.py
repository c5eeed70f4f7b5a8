"""Short links: the redirect, expiry, clicks, previews, and the contact token."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from campaigns.models import Click, Send
from campaigns.sms_text import short_link
from optin.tokens import contact_for_token
from tests.factories import SendFactory

pytestmark = pytest.mark.django_db
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"


@pytest.fixture
def link(site, consenting_contact, abandoned_cart_of):
    cart = abandoned_cart_of(
        consenting_contact, url="https://shop.example/panier?restore=c1&lang=fr"
    )
    send = SendFactory(
        cart=cart,
        contact=consenting_contact,
        step__flow__site=site,
        step__flow__slug="panier-abandonne",
    )
    return short_link(send)


def test_a_tap_redirects_to_the_cart_with_its_query_utm_tags_and_the_token(client, link):
    response = client.get(f"/s/{link.code}", HTTP_USER_AGENT=IPHONE)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "shop.example", "/panier")
    query = parse_qs(target.query)
    assert query["restore"] == ["c1"] and query["lang"] == ["fr"]
    assert (query["utm_source"], query["utm_medium"], query["utm_campaign"]) == (
        ["sms"],
        ["relance"],
        ["panier-abandonne"],
    )
    contact = contact_for_token(query["_rl"][0], site=link.send.site, user_agent=IPHONE)
    assert contact == link.send.contact
    click = Click.objects.get()
    assert click.user_agent_class == "mobile" and click.ip == "127.0.0.0"


def test_an_email_links_utm_source_names_the_email(client, link):
    Send.objects.filter(pk=link.send_id).update(channel="email")
    response = client.get(f"/s/{link.code}", HTTP_USER_AGENT=IPHONE)
    query = parse_qs(urlsplit(response["Location"]).query)
    assert (query["utm_source"], query["utm_medium"]) == (["email"], ["relance"])


def test_codes_are_random_and_long_enough(link):
    assert len(link.code) >= 8 and link.code.isalnum()


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1",
        "WhatsApp/2.23.20.0",
        "Slackbot-LinkExpanding 1.0",
        "TelegramBot (like TwitterBot)",
        "Twitterbot/1.0",
        "SkypeUriPreview Preview/0.5",
    ],
)
def test_link_previews_are_redirected_but_not_counted(client, link, agent):
    assert client.get(f"/s/{link.code}", HTTP_USER_AGENT=agent).status_code == 302
    assert not Click.objects.exists()


def test_a_head_request_is_not_a_click(client, link):
    assert client.head(f"/s/{link.code}", HTTP_USER_AGENT=IPHONE).status_code == 302
    assert not Click.objects.exists()


def test_taps_repeated_within_a_short_window_count_once(client, link):
    for _ in range(3):
        client.get(f"/s/{link.code}", HTTP_USER_AGENT=IPHONE)
    assert Click.objects.count() == 1


def test_an_unknown_code_is_a_404(client):
    assert client.get("/s/NoSuchCode").status_code == 404


def test_an_expired_link_is_a_friendly_410_linking_to_the_shop(client, link):
    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save()
    response = client.get(f"/s/{link.code}")
    assert response.status_code == 410
    assert 'href="https://shop.example/"' in response.content.decode()
    assert not Click.objects.exists()


def test_a_short_domain_builds_the_links_and_counts_in_the_longest_message(settings, link):
    from campaigns.sms_text import link_url, worst_case

    settings.SHORT_LINK_BASE_URL = "https://rl.example"
    assert link_url(link) == f"https://rl.example/s/{link.code}"
    assert "https://rl.example/s/xxxxxxxxxx" in worst_case(link.send.step)

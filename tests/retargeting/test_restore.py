"""A reminded cart rebuilt from its link (``_rc``, ``GET /t/cart``): the link's cart's contents,
for the link's lifetime, to the site's pages, and nothing of whom it was sent to."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.utils import timezone

from campaigns.sms_text import short_link
from retargeting.tracking.restore import make_restore_token
from tests.factories import SendFactory, SiteFactory

pytestmark = pytest.mark.django_db
ITEMS = [
    {
        "sku": "CH-01",
        "name": "Chemise en lin",
        "price": "29.95",
        "quantity": 2,
        "url": "https://shop.example/p/ch-01",
    }
]


@pytest.fixture
def link(site, consenting_contact, abandoned_cart_of):
    cart = abandoned_cart_of(
        consenting_contact,
        url="https://shop.example/panier?restore=c1",
        external_id="c1",
        items=ITEMS,
        item_count=2,
        total="59.90",
    )
    send = SendFactory(cart=cart, contact=consenting_contact, step__flow__site=site)
    return short_link(send)


def _token(client, link):
    landing = client.get(f"/s/{link.code}")["Location"]
    return parse_qs(urlsplit(landing).query)["_rc"][0]


def _restore(client, site, token, **headers):
    return client.get("/t/cart", {"site": site.public_key, "token": token}, **headers)


def test_the_reminders_link_gives_its_carts_contents_and_nothing_of_its_owner(client, link):
    site = link.send.site
    response = _restore(client, site, _token(client, link), HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "cart": {
            "id": "c1",
            "currency": "EUR",
            "total": 59.9,
            "url": "https://shop.example/panier?restore=c1",
            "items": [{**ITEMS[0], "price": 29.95}],
        }
    }
    contact = link.send.contact
    body = response.content.decode()
    for secret in (contact.phone, contact.phone[-8:], link.send.cart.visitor.vid):
        assert secret not in body


def test_a_forged_expired_or_other_sites_token_gives_nothing(client, link):
    site = link.send.site
    token = _token(client, link)
    assert _restore(client, site, token).status_code == 200  # control
    assert _restore(client, site, token[:-2] + "xx").status_code == 404
    # Another cart's id in a genuine token: its signature no longer matches.
    cart_id = link.send.cart_id
    tampered = token.replace(f"{site.pk}.{cart_id}.", f"{site.pk}.{cart_id + 1}.", 1)
    assert tampered != token and _restore(client, site, tampered).status_code == 404
    # A token signed for another site's cart is not this site's.
    theirs = make_restore_token(
        cart_id=cart_id, site_id=site.pk + 1, expires_at=timezone.now() + timedelta(days=1)
    )
    assert _restore(client, site, theirs).status_code == 404
    other = SiteFactory()
    assert _restore(client, other, token).status_code == 404
    assert _restore(client, site, "").status_code == 404
    with time_machine.travel(link.expires_at + timedelta(seconds=1)):
        assert _restore(client, site, token).status_code == 404
    with time_machine.travel(link.expires_at - timedelta(seconds=5)):
        assert _restore(client, site, token).status_code == 200


def test_a_page_off_the_sites_domains_is_refused(client, link):
    site = link.send.site
    token = _token(client, link)
    refused = _restore(client, site, token, HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "cart" not in json.loads(refused.content)
    assert _restore(client, site, token, HTTP_ORIGIN="https://www.shop.example").status_code == 200
    assert client.get("/t/cart", {"site": "nope", "token": token}).status_code == 403
    refused = client.post("/t/cart", {"site": site.public_key, "token": token})
    assert refused.status_code == 405 and refused["Allow"] == "GET"


def test_only_a_carts_message_carries_the_cart_token(client, link):
    assert _token(client, link)
    from campaigns.models import Send

    Send.objects.filter(pk=link.send_id).update(cart=None)
    landing = client.get(f"/s/{link.code}")["Location"]
    assert "restore=c1" in landing and "_rc=" not in landing


def test_a_page_view_never_stores_the_cart_token():
    from retargeting.tracking.schema import page_view

    url = "https://shop.example/panier?restore=c1&_rc=1.2.3%3Asig&_rl=t.v"
    assert page_view({"type": "page_view", "url": url}, "events[0]")["url"] == (
        "https://shop.example/panier?restore=c1"
    )
    kept = "https://shop.example/panier?restore=c1"  # control: nothing to take out
    assert page_view({"type": "page_view", "url": kept}, "events[0]")["url"] == kept


def test_a_cart_bought_since_is_not_put_back(client, link):
    """Tapping an old reminder after the purchase must not refill the basket with what was
    bought: only an open cart is given (control: the same token before the purchase)."""
    site = link.send.site
    token = _token(client, link)
    assert _restore(client, site, token, HTTP_ORIGIN="https://shop.example").status_code == 200
    cart = link.send.cart
    cart.status, cart.converted_at = cart.Status.CONVERTED, timezone.now()
    cart.save(update_fields=["status", "converted_at"])
    assert _restore(client, site, token, HTTP_ORIGIN="https://shop.example").status_code == 404

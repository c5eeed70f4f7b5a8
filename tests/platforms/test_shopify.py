"""Shopify's webhooks, with bodies shaped as Shopify documents them.

Fixtures: tests/fixtures/platforms/webhooks/shopify_checkout.json and shopify_order.json are
the REST Admin API's documented Checkout and Order examples (sources and changes in SOURCES.md
there). Each test changes only the values it is about (a French number, a consent field).
Signature: shopify.dev, "Deliver webhooks through HTTPS" → verify with the base64 HMAC-SHA256
of the raw body in ``X-Shopify-Hmac-Sha256``; duplicates share ``X-Shopify-Webhook-Id``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine

from campaigns.dispatch import run_pass
from campaigns.flows import create_default_flow
from campaigns.models import Conversion, Send, SendStatus
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.platforms.connections import connect
from retargeting.platforms.models import PlatformDelivery
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms" / "webhooks"
CHECKOUT = json.loads((FIXTURES / "shopify_checkout.json").read_text())
ORDER = json.loads((FIXTURES / "shopify_order.json").read_text())
SECRET = "shpss_0123456789abcdef"
PHONE = "+33612345678"
# A Tuesday, 11:00 in Paris.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    created = create_site(name="Boutique", domains=["boutique.example"], country="FR")
    created.site.quiet_hours = "none"
    created.site.save()
    create_default_flow(site=created.site, delay_minutes=30)
    # The documented recovery link is on checkout.local: the store's own host here.
    connection = connect(
        site=created.site, platform="shopify", secret=SECRET, shop_domain="checkout.local"
    )
    created.site.refresh_from_db()
    return Shop(created.site, created.secret_key, connection, django_capture_on_commit_callbacks)


@dataclass
class Shop:
    site: object
    secret_key: str
    connection: object
    capture: object


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client, shop, topic, payload, *, webhook_id=None, signature=None, body=None):
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_HMAC_SHA256": signature if signature is not None else sign(raw),
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": "boutique.myshopify.com",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or f"wh-{hashlib.sha256(raw).hexdigest()[:32]}",
    }
    path = urlsplit(shop.connection.webhook_url).path
    with shop.capture(execute=True):
        return client.post(path, data=raw, content_type="application/json", **headers)


def checkout(**changes):
    body = copy.deepcopy(CHECKOUT)
    body.update(changes)
    return body


def consenting_checkout(**changes):
    """The documented checkout, with a French number that ticked Shopify's SMS box."""
    return checkout(
        buyer_accepts_sms_marketing=True,
        sms_marketing_phone="06 12 34 56 78",
        currency="EUR",
        presentment_currency="EUR",
        **changes,
    )


def order(**changes):
    body = copy.deepcopy(ORDER)
    body.update(changes)
    return body


def stored():
    return (
        Visitor.objects.count(),
        Cart.objects.count(),
        Event.objects.count(),
        Contact.objects.count(),
        Consent.objects.count(),
        PlatformDelivery.objects.count(),
    )


def test_the_webhook_path_is_the_printed_url(shop):
    assert shop.connection.webhook_url.endswith(f"/webhooks/shopify/{shop.connection.token}")


def test_a_checkout_becomes_a_cart_with_its_recovery_link(client, shop):
    response = deliver(client, shop, "checkouts/create", checkout())
    assert response.status_code == 200, response.content
    cart = Cart.objects.get()
    assert cart.external_id == CHECKOUT["token"]
    assert cart.ref == CHECKOUT["cart_token"]
    assert cart.url == CHECKOUT["abandoned_checkout_url"]
    assert (str(cart.total), cart.currency, cart.item_count) == ("379.69", "USD", 2)
    assert [item["name"] for item in cart.items] == [
        "IPod Nano - 8GB – Red",
        "IPod Nano - 8GB – Pink",
    ]
    assert cart.visitor.customer_id == "207119551"


def test_no_consent_field_no_consent(client, shop):
    # The documented example: buyer_accepts_sms_marketing false, the customer not_subscribed.
    deliver(client, shop, "checkouts/create", checkout())
    assert not Consent.objects.exists()
    assert all(c.consent_status == Contact.NO_CONSENT for c in Contact.objects.all())


def test_the_sms_box_ticked_at_checkout_is_the_consent_with_its_proof(client, shop):
    deliver(client, shop, "checkouts/create", consenting_checkout())
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent_status == ConsentStatus.GRANTED
    consent = Consent.objects.get(contact=contact)
    assert consent.source == ConsentSource.SERVER_API
    assert "buyer_accepts_sms_marketing=true" in consent.text
    assert CHECKOUT["token"] in consent.text
    link = VisitorLink.objects.get(contact=contact)
    assert link.method == "server"
    assert Cart.objects.get().visitor == link.visitor
    identify = Event.objects.get(type="identify")
    assert identify.payload["proof"]["buyer_accepts_sms_marketing"] is True


def test_the_customers_subscribed_state_is_a_consent_too(client, shop):
    body = checkout()
    body["customer"]["phone"] = "+33 6 12 34 56 78"
    body["customer"]["sms_marketing_consent"]["state"] = "subscribed"
    deliver(client, shop, "checkouts/update", body)
    consent = Consent.objects.get(contact__phone=PHONE)
    assert consent.status == ConsentStatus.GRANTED
    assert "opt_in_level=single_opt_in" in consent.text
    assert "consent_updated_at=2024-01-01T07:00:00-05:00" in consent.text


def test_unsubscribed_at_shopify_withdraws_a_live_consent(client, shop):
    deliver(client, shop, "checkouts/create", consenting_checkout())
    body = consenting_checkout(updated_at="2026-11-25T10:00Z")
    body["buyer_accepts_sms_marketing"] = False
    body["customer"]["phone"] = PHONE
    body["customer"]["sms_marketing_consent"]["state"] = "unsubscribed"
    deliver(client, shop, "checkouts/update", body)
    assert Contact.objects.get(phone=PHONE).consent_status == ConsentStatus.REVOKED


def test_a_checkout_updated_after_a_stop_does_not_bring_consent_back(client, shop):
    with time_machine.travel(NOW, tick=False):
        deliver(
            client, shop, "checkouts/create", consenting_checkout(updated_at="2026-11-24T09:00:00Z")
        )
    contact = Contact.objects.get(phone=PHONE)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        # Shopify sends the same checkout again, still saying the box was ticked at 09:00.
        deliver(
            client,
            shop,
            "checkouts/update",
            consenting_checkout(updated_at="2026-11-24T09:00:00Z", total_price="380.00"),
        )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    # Control: ticked again at a later checkout, after the STOP, is a new consent.
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        deliver(
            client,
            shop,
            "checkouts/update",
            consenting_checkout(updated_at="2026-11-24T12:30:00Z", total_price="381.00"),
        )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.GRANTED


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSBzaWduYXR1cmU=", None])
def test_a_wrong_signature_is_401_and_changes_nothing(client, shop, signature):
    raw = json.dumps(consenting_checkout()).encode()
    forged = sign(raw, "another-secret") if signature is None else signature
    response = deliver(client, shop, "checkouts/create", None, body=raw, signature=forged)
    assert response.status_code == 401
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_a_body_changed_after_signing_is_refused(client, shop):
    raw = json.dumps(consenting_checkout()).encode()
    signature = sign(raw)
    changed = raw.replace(b"06 12 34 56 78", b"06 99 99 99 99")
    response = deliver(client, shop, "checkouts/create", None, body=changed, signature=signature)
    assert response.status_code == 401
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_an_unknown_webhook_address_is_401(client, shop):
    raw = json.dumps(checkout()).encode()
    response = client.post(
        "/webhooks/shopify/" + "x" * 32,
        data=raw,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=sign(raw),
        HTTP_X_SHOPIFY_TOPIC="checkouts/create",
    )
    assert response.status_code == 401
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_the_same_delivery_twice_is_handled_once(client, shop):
    first = deliver(client, shop, "checkouts/create", consenting_checkout(), webhook_id="w-1")
    before = stored()
    again = deliver(client, shop, "checkouts/create", consenting_checkout(), webhook_id="w-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["outcome"] == "already handled"
    assert stored() == before


def test_a_signed_body_that_is_not_a_checkout_is_400_and_changes_nothing(client, shop):
    response = deliver(client, shop, "checkouts/create", {"line_items": []})
    assert response.status_code == 400
    assert "token" in response.json()["error"]
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_repeated_keys_and_non_finite_numbers_are_400(client, shop):
    for raw in (b'{"token": "a", "token": "b"}', b'{"token": "a", "total_price": NaN}'):
        response = deliver(client, shop, "checkouts/create", None, body=raw)
        assert response.status_code == 400
    assert stored() == (0, 0, 0, 0, 0, 0)


def test_a_recovery_link_off_the_shops_domains_is_not_kept(client, shop):
    deliver(
        client,
        shop,
        "checkouts/create",
        checkout(abandoned_checkout_url="https://evil.example/recover"),
    )
    assert Cart.objects.get().url == ""


def test_a_topic_not_used_is_answered_200_and_ignored(client, shop):
    response = deliver(client, shop, "products/update", {"id": 1})
    assert response.status_code == 200
    assert Cart.objects.count() == 0


def test_the_checkout_continues_the_browsers_cart_of_its_cart_token(client, shop):
    """The snippet reported the browser's /cart.js cart (its token); the checkout of that cart
    is the same cart, on the same browser, not a second one."""
    vid = "0123456789abcdef0123456789abcdef"
    browser = Visitor.objects.create(site=shop.site, vid=vid, first_seen_at=NOW, last_seen_at=NOW)
    Cart.objects.create(
        site=shop.site,
        visitor=browser,
        external_id=CHECKOUT["cart_token"],
        total=199,
        item_count=1,
        items=[{"sku": "IPOD2008RED", "name": "IPod", "price": "199.00", "quantity": 1}],
        created_at=NOW,
        last_change_at=NOW,
    )
    deliver(client, shop, "checkouts/create", consenting_checkout())
    cart = Cart.objects.get()
    assert (cart.visitor, cart.item_count, cart.ref) == (browser, 2, CHECKOUT["cart_token"])
    assert cart.url == CHECKOUT["abandoned_checkout_url"]
    assert VisitorLink.objects.get().visitor == browser


def test_a_checkout_then_its_order_the_reminder_goes_then_stops(client, shop):
    """Done means: a Shopify checkout, then its order, through the signed webhooks; the
    reminder goes as for the snippet, and the order converts the cart and is attributed."""
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "checkouts/create", consenting_checkout())
    with time_machine.travel(NOW + timedelta(minutes=29), tick=False):
        assert run_pass(deliver_inline=True).sent == 0
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    message = OutboxMessage.objects.get()
    assert message.to == PHONE
    send = Send.objects.get()
    # The customer taps the link, then orders.
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        tapped = client.get(f"/s/{send.short_link.code}", HTTP_USER_AGENT="Mozilla/5.0")
    assert tapped.status_code == 302
    assert tapped["Location"].startswith(CHECKOUT["abandoned_checkout_url"])
    with time_machine.travel(NOW + timedelta(minutes=45), tick=False):
        # The documented order is of another checkout: here it is this checkout's order.
        body = order(currency="EUR", checkout_token=CHECKOUT["token"])
        response = deliver(client, shop, "orders/create", body)
    assert response.json()["outcome"] == "order recorded: its cart converted"
    cart = Cart.objects.get()
    assert cart.status == Cart.Status.CONVERTED
    conversion = Conversion.objects.get()
    assert (conversion.order_id, str(conversion.total), conversion.cart_id) == (
        "450789469",
        "598.94",
        cart.pk,
    )
    assert conversion.attribution == "clicked"
    assert conversion.send == send
    # The order delivered again (a retry with a new id) records nothing twice.
    with time_machine.travel(NOW + timedelta(minutes=46), tick=False):
        deliver(client, shop, "orders/create", body, webhook_id="retry")
    assert Conversion.objects.count() == 1


def test_an_order_finds_its_checkout_by_the_cart_token_alone(client, shop):
    deliver(client, shop, "checkouts/create", consenting_checkout())
    body = order(checkout_token="unknown", phone=None)  # the documented cart_token
    body["customer"]["id"] = 1
    assert deliver(client, shop, "orders/create", body).json()["outcome"] == (
        "order recorded: its cart converted"
    )
    assert Conversion.objects.get().cart == Cart.objects.get()


def test_a_finished_checkout_stops_the_planned_reminder(client, shop):
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "checkouts/create", consenting_checkout())
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        response = deliver(
            client,
            shop,
            "checkouts/update",
            consenting_checkout(completed_at="2026-11-24T10:20:00Z"),
        )
    assert response.json()["outcome"] == "checkout completed: cart converted"
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 0
    assert not OutboxMessage.objects.exists()
    assert Cart.objects.get().status == Cart.Status.CONVERTED


def test_an_order_without_a_known_cart_converts_the_buyers_carts_by_number(client, shop):
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "checkouts/create", consenting_checkout(cart_token="other"))
    body = order(checkout_token="unknown", cart_token="unknown", phone="06 12 34 56 78")
    body["customer"]["id"] = 1  # another customer id: only the number is left to match
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        deliver(client, shop, "orders/create", body)
    assert Cart.objects.get().status == Cart.Status.CONVERTED
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 0
    assert Send.objects.filter(status=SendStatus.ACCEPTED).count() == 0

"""WooCommerce's webhooks, with the order body WooCommerce documents.

Fixture: tests/fixtures/platforms/webhooks/woocommerce_order.json is the REST API v3 "Retrieve an
order" example (woocommerce-rest-api-docs, wp-api-v3/_orders.md; SOURCES.md there), which is
what the ``order.created``/``order.updated`` webhooks deliver. Signature: WooCommerce's
``WC_Webhook::generate_signature``, base64 of HMAC-SHA256 of the body with the webhook secret,
in ``X-WC-Webhook-Signature``; the creation ping (``WC_Webhook::deliver_ping``) is the body
``webhook_id=N`` alone, unsigned, and must get a 200.
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
from campaigns.models import Conversion, Send
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.platforms.connections import connect
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from tests.support.owner import answer

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms" / "webhooks"
ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())
SECRET = "wc-webhook-secret-0123"
PHONE = "+33612345678"
VID = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@dataclass
class Shop:
    site: object
    connection: object
    capture: object


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    created = create_site(name="Boutique", domains=["boutique.example"], country="FR")
    created.site.quiet_hours = "none"
    created.site.save()
    create_default_flow(site=created.site, delay_minutes=30)
    connection = connect(
        site=created.site,
        platform="woocommerce",
        secret=SECRET,
        sms_consent_field="_relance_sms_optin",
        sms_consent_text="Je veux recevoir les offres de la Boutique par SMS",
    )
    return Shop(created.site, connection, django_capture_on_commit_callbacks)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def deliver(client, shop, topic, payload, *, body=None, signature=None, extra=None):
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {
        "HTTP_X_WC_WEBHOOK_SOURCE": "https://boutique.example/",
        "HTTP_X_WC_WEBHOOK_TOPIC": topic,
        "HTTP_X_WC_WEBHOOK_RESOURCE": "order",
        "HTTP_X_WC_WEBHOOK_EVENT": topic.split(".")[-1],
        "HTTP_X_WC_WEBHOOK_SIGNATURE": signature if signature is not None else sign(raw),
        "HTTP_X_WC_WEBHOOK_ID": "12",
        "HTTP_X_WC_WEBHOOK_DELIVERY_ID": hashlib.sha256(raw).hexdigest()[:32],
        **(extra or {}),
    }
    with shop.capture(execute=True):
        return client.post(
            urlsplit(shop.connection.webhook_url).path,
            data=raw,
            content_type="application/json",
            **headers,
        )


def order(status="processing", *, phone="06 12 34 56 78", ticked=None, **changes):
    body = copy.deepcopy(ORDER)
    body["status"] = status
    body["currency"] = "EUR"
    body["billing"]["phone"] = phone
    body["billing"]["country"] = "FR"
    if ticked is not None:
        body["meta_data"].append({"id": 13107, "key": "_relance_sms_optin", "value": ticked})
    body.update(changes)
    return body


def stored():
    return (
        Visitor.objects.count(),
        Cart.objects.count(),
        Event.objects.count(),
        Contact.objects.count(),
        Consent.objects.count(),
    )


def browser_cart(site, *, at, ref="", customer_id="", cart_id="wc-1"):
    visitor = Visitor.objects.create(
        site=site, vid=VID, customer_id=customer_id, first_seen_at=at, last_seen_at=at
    )
    return Cart.objects.create(
        site=site,
        visitor=visitor,
        external_id=cart_id,
        ref=ref,
        total="35.00",
        item_count=1,
        items=[{"sku": "W1", "name": "Woo Single #1", "price": "35.00", "quantity": 1}],
        url="https://boutique.example/panier/",
        created_at=at,
        last_change_at=at,
    )


def test_the_creation_ping_is_answered_200_and_changes_nothing(client, shop):
    response = client.post(
        urlsplit(shop.connection.webhook_url).path,
        data="webhook_id=12",
        content_type="application/x-www-form-urlencoded",
        HTTP_USER_AGENT="WooCommerce/9.4 Hookshot (WordPress/6.7)",
    )
    assert response.status_code == 200
    assert stored() == (0, 0, 0, 0, 0)


def test_a_ping_shaped_body_with_a_wrong_signature_is_still_refused(client, shop):
    response = deliver(client, shop, "order.created", None, body=b"webhook_id=12", signature="x")
    assert response.status_code == 401


@pytest.mark.parametrize("forged", ["", "AAAA", sign(b"{}", "other-secret")])
def test_a_wrong_signature_is_401_and_changes_nothing(client, shop, forged):
    response = deliver(client, shop, "order.created", order(), signature=forged)
    assert response.status_code == 401
    assert stored() == (0, 0, 0, 0, 0)


def test_the_documented_order_is_read(client, shop):
    # The documented order unchanged, but for its number (a US one that is no mobile).
    body = copy.deepcopy(ORDER)
    response = deliver(client, shop, "order.created", body)
    assert response.status_code == 200, response.content
    conversion = Conversion.objects.get()
    assert (conversion.order_id, str(conversion.total), conversion.currency) == (
        "727",
        "29.35",
        "USD",
    )


def proven(cart, phone=PHONE):
    """The cart's browser proven the number's (its owner tapped a reminder there)."""
    contact, _ = Contact.objects.get_or_create(site=cart.site, phone=phone)
    VisitorLink.objects.create(visitor=cart.visitor, contact=contact, method="token", linked_at=NOW)
    return contact


def test_a_paid_order_converts_the_cart_of_its_cart_hash(client, shop):
    """The logged-in customer's browser that holds the order's cart (its hash) converts."""
    cart = browser_cart(shop.site, at=NOW, ref="b0d3e2a8c1f4", customer_id="42")
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = deliver(
            client, shop, "order.created", order(customer_id=42, cart_hash="b0d3e2a8c1f4")
        )
    assert response.json()["outcome"] == "order paid: its cart converted"
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED
    assert Conversion.objects.get().cart == cart


def test_a_paid_order_converts_the_open_cart_of_its_customer(client, shop):
    cart = browser_cart(shop.site, at=NOW, customer_id="42")
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        deliver(client, shop, "order.updated", order(customer_id=42, phone=""))
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED


def test_a_strangers_order_with_a_customers_billing_phone_is_not_hers(client, shop):
    """The billing phone is what the buyer typed: a stranger's paid order with a consenting
    customer's number converts none of her carts (her reminder still goes) and is not counted
    as revenue recovered from her, even with her cart's hash; the shop's own customer id
    converts the customer's cart (control, above)."""
    cart = browser_cart(shop.site, at=NOW, ref="samehash")
    contact = proven(cart)
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = deliver(client, shop, "order.created", order(cart_hash="samehash"))
    assert response.json()["outcome"] == "order paid (no cart of it known)"
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN
    conversion = Conversion.objects.get()
    assert (conversion.contact, conversion.cart, conversion.send) == (None, None, None)
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    assert Send.objects.get().cart == cart


@pytest.mark.parametrize("status", ["on-hold", "cancelled", "refunded", "draft"])
def test_an_order_neither_paid_nor_left_at_payment_changes_no_cart(client, shop, status):
    cart = browser_cart(shop.site, at=NOW, ref="h")
    response = deliver(client, shop, "order.updated", order(status, cart_hash="h"))
    assert response.status_code == 200
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN
    assert not Conversion.objects.exists()


def test_the_billing_phone_gets_consent_only_from_the_named_ticked_field(client, shop):
    deliver(client, shop, "order.created", order("pending"))
    contact = Contact.objects.get()
    assert contact.consent_status == Contact.NO_CONSENT  # no field in the order: no consent
    deliver(client, shop, "order.updated", order("pending", ticked="", total="30.00"))
    contact.refresh_from_db()
    assert contact.consent_status == Contact.NO_CONSENT  # the box left empty
    deliver(client, shop, "order.updated", order("pending", ticked="1", total="31.00"))
    contact.refresh_from_db()
    # The ticked box is the shopper's claim: the site's double opt-in asks the number.
    assert contact.consent_status == ConsentStatus.PENDING
    assert OutboxMessage.objects.get().to == PHONE
    consent = Consent.objects.get()
    assert consent.source == ConsentSource.WOOCOMMERCE
    assert consent.text.startswith("Je veux recevoir les offres de la Boutique par SMS")
    assert "_relance_sms_optin=1" in consent.text


def test_without_a_named_field_a_ticked_meta_value_is_no_consent(client, shop):
    shop.connection.sms_consent_field = ""
    shop.connection.save()
    deliver(client, shop, "order.created", order("pending", ticked="yes"))
    assert Contact.objects.get().consent_status == Contact.NO_CONSENT


def test_an_order_left_at_payment_is_reminded_then_its_payment_stops_the_rest(client, shop):
    """Done means: a WooCommerce order through the signed webhook; the reminder goes (the
    order was left at payment, the box ticked) and stops once the order is paid."""
    body = order(
        "pending",
        ticked="yes",
        payment_url="https://boutique.example/checkout/order-pay/727/?pay_for_order=true&key=k",
    )
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "order.created", body)
        answer(shop.site, PHONE, "OUI")  # the number confirms the box it ticked
    cart = Cart.objects.get()
    assert (cart.external_id, cart.url) == ("order-727", body["payment_url"])
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    assert OutboxMessage.objects.latest("pk").to == PHONE
    with time_machine.travel(NOW + timedelta(minutes=50), tick=False):
        paid = deliver(client, shop, "order.updated", {**body, "status": "processing"})
    assert paid.json()["outcome"] == "order paid: its cart converted"
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED
    assert Conversion.objects.get().cart == cart


def test_a_paid_order_before_the_delay_means_no_reminder(client, shop):
    body = order("pending", ticked="yes")
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "order.created", body)
        answer(shop.site, PHONE, "OUI")
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        deliver(client, shop, "order.updated", {**body, "status": "processing"})
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 0
    assert not Send.objects.exists()


def test_a_stop_is_not_undone_by_the_same_order_sent_again(client, shop):
    body = order("pending", ticked="yes", date_created_gmt="2026-11-24T09:55:00")
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "order.created", body)
    contact = Contact.objects.get()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        deliver(client, shop, "order.updated", {**body, "total": "40.00"})
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED


def test_a_payment_link_off_the_shops_domains_is_not_kept(client, shop):
    deliver(
        client,
        shop,
        "order.created",
        order("pending", payment_url="https://evil.example/pay"),
    )
    assert Cart.objects.get().url == ""


def test_an_order_left_at_payment_continues_the_customers_browser_cart(client, shop):
    """The snippet saw the logged-in customer's cart; the order made from it takes its place
    on the same browser (the shop's customer id names it), so the shopper has one cart."""
    snippet = browser_cart(shop.site, at=NOW, ref="f00d", customer_id="42")
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        deliver(
            client,
            shop,
            "order.created",
            order("pending", ticked="yes", cart_hash="f00d", customer_id=42),
        )
    snippet.refresh_from_db()
    assert snippet.status == Cart.Status.REPLACED
    mine = Cart.objects.get(external_id="order-727")
    assert (mine.visitor, mine.status) == (snippet.visitor, Cart.Status.OPEN)
    assert Cart.objects.filter(status=Cart.Status.OPEN).count() == 1


def test_a_guests_order_with_a_customers_number_never_lands_on_her_browser(client, shop):
    """A guest's order left at payment, with a consenting customer's number and her cart's
    hash, stays the guest's: her browser and her cart are untouched, her consent too."""
    hers = browser_cart(shop.site, at=NOW, ref="f00d")
    contact = proven(hers)
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        deliver(client, shop, "order.created", order("pending", ticked="yes", cart_hash="f00d"))
    hers.refresh_from_db()
    assert hers.status == Cart.Status.OPEN
    theirs = Cart.objects.get(external_id="order-727")
    assert theirs.visitor != hers.visitor
    assert not VisitorLink.objects.filter(visitor=theirs.visitor).exists()
    assert Consent.objects.filter(contact=contact).count() == 1


def test_a_browser_that_reports_the_same_cart_hash_is_not_tied_to_the_buyer(client, shop):
    """A cart hash is the hash of the cart's contents: anyone adding the same product reads the
    same one. A browser that reported it is not the buyer's for that: the order's number is
    never linked to it, and its cart never stands for the buyer's."""
    stranger = browser_cart(shop.site, at=NOW, ref="samehash")
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        deliver(client, shop, "order.created", order("pending", ticked="yes", cart_hash="samehash"))
    assert not VisitorLink.objects.filter(visitor=stranger.visitor).exists()
    stranger.refresh_from_db()
    assert stranger.status == Cart.Status.OPEN
    mine = Cart.objects.get(external_id="order-727")
    assert mine.visitor != stranger.visitor


def test_a_browser_claiming_the_orders_cart_id_does_not_keep_the_buyers_cart_open(client, shop):
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "order.created", order("pending", ticked="yes"))
    # A stranger's browser reports a cart under the same id as the buyer's order cart.
    stranger = browser_cart(shop.site, at=NOW + timedelta(minutes=1), cart_id="order-727")
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        deliver(client, shop, "order.updated", order("processing", ticked="yes"))
    buyer_cart = Cart.objects.exclude(pk=stranger.pk).get(external_id="order-727")
    assert buyer_cart.status == Cart.Status.CONVERTED
    assert Conversion.objects.get().cart == buyer_cart
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        assert run_pass(deliver_inline=True).sent == 0


def test_odd_shapes_in_a_signed_order_are_never_a_500(client, shop):
    for body in (
        order("pending", line_items=5),
        order("pending", meta_data=5),
        order("pending", meta_data=[5, None]),
        order("processing", billing=[]),
        order("processing", total=[1]),
        {"id": [1]},
    ):
        response = deliver(client, shop, "order.updated", body)
        assert response.status_code in (200, 400), (body, response.content)


# --- Email consent: the shop's named email field, the shopper's claim ------------------------

EMAIL = "john.doe@example.com"


def email_shop(shop):
    shop.connection.email_consent_field = "_relance_email_optin"
    shop.connection.email_consent_text = "Je veux recevoir les offres de la Boutique par email"
    shop.connection.save()
    return shop


def email_ticked(body, value="1"):
    body["meta_data"].append({"id": 13108, "key": "_relance_email_optin", "value": value})
    return body


def emails_to(address):
    from django.core import mail

    return [message for message in mail.outbox if message.to == [address]]


def test_the_billing_email_gets_email_consent_only_from_the_named_ticked_field(client, shop):
    email_shop(shop)
    deliver(client, shop, "order.created", order("pending", ticked="1"))
    contact = Contact.objects.get(phone=PHONE)
    # The SMS box says nothing of email: the address is kept, its consent none.
    assert (contact.consent_status, contact.email, contact.email_consent_status) == (
        "pending",
        EMAIL,
        "none",
    )
    assert not emails_to(EMAIL)
    deliver(client, shop, "order.updated", email_ticked(order("pending", total="31.00")))
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.PENDING
    consent = contact.consents.get(channel="email")
    assert consent.source == ConsentSource.WOOCOMMERCE
    assert consent.text.startswith("Je veux recevoir les offres de la Boutique par email")
    assert "_relance_email_optin=1" in consent.text
    assert len(emails_to(EMAIL)) == 1
    assert OutboxMessage.objects.count() == 1  # the SMS confirmation only, once


def test_an_order_with_an_email_and_no_phone_is_a_cart_of_its_address(client, shop):
    email_shop(shop)
    deliver(client, shop, "order.created", email_ticked(order("pending", phone="")))
    contact = Contact.objects.get()
    assert (contact.phone, contact.email, contact.email_consent_status) == ("", EMAIL, "pending")
    cart = Cart.objects.get(external_id=f"order-{ORDER['id']}")
    assert VisitorLink.objects.get(contact=contact).visitor == cart.visitor


def test_without_a_named_email_field_the_address_is_not_kept(client, shop):
    deliver(client, shop, "order.created", email_ticked(order("pending", phone="")))
    assert not Contact.objects.exists() and not emails_to(EMAIL)

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
from campaigns.models import Conversion, Send
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.platforms.connections import connect
from retargeting.platforms.models import PlatformDelivery
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from tests.support.owner import answer

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


def test_the_sms_box_ticked_at_checkout_starts_the_double_opt_in_with_its_proof(client, shop):
    """The box and the number are what the shopper typed: a claim. On a site with double
    opt-in it costs one confirmation SMS, and only the number's answer makes it a consent."""
    deliver(client, shop, "checkouts/create", consenting_checkout())
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent_status == ConsentStatus.PENDING
    consent = Consent.objects.get(contact=contact)
    assert consent.source == ConsentSource.SHOPIFY
    assert "buyer_accepts_sms_marketing=true" in consent.text
    assert CHECKOUT["token"] in consent.text
    link = VisitorLink.objects.get(contact=contact)
    assert link.method == "snippet"  # a claim's link: the owner's tap or the server's replace it
    assert Cart.objects.get().visitor == link.visitor
    identify = Event.objects.get(type="identify")
    assert identify.payload["proof"]["buyer_accepts_sms_marketing"] is True
    (confirmation,) = OutboxMessage.objects.all()
    assert (confirmation.to, "OUI" in confirmation.body) == (PHONE, True)
    answer(shop.site, PHONE, "OUI")
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.CONFIRMED


def test_a_site_without_double_opt_in_takes_the_ticked_box_at_once(client, shop):
    shop.site.double_opt_in = False
    shop.site.save()
    deliver(client, shop, "checkouts/create", consenting_checkout())
    assert Contact.objects.get(phone=PHONE).consent_status == ConsentStatus.GRANTED
    assert not OutboxMessage.objects.exists()


def test_the_billing_first_name_waits_for_the_owners_answer(client, shop):
    """Whatever was typed as a first name is not put in an SMS before the number's owner
    answered: then it is theirs."""
    body = consenting_checkout()
    body["customer"]["first_name"] = "Payez ici http"
    deliver(client, shop, "checkouts/create", body)
    contact = Contact.objects.get(phone=PHONE)
    assert (contact.first_name, contact.claimed_first_name) == ("", "Payez ici http")
    answer(shop.site, PHONE, "OUI")
    contact.refresh_from_db()
    assert (contact.first_name, contact.claimed_first_name) == ("Payez ici http", "")


def test_the_customers_subscribed_state_is_a_consent_too(client, shop):
    body = checkout()
    body["customer"]["phone"] = "+33 6 12 34 56 78"
    body["customer"]["sms_marketing_consent"]["state"] = "subscribed"
    deliver(client, shop, "checkouts/update", body)
    consent = Consent.objects.get(contact__phone=PHONE)
    assert consent.status == ConsentStatus.PENDING
    assert "opt_in_level=single_opt_in" in consent.text
    assert "consent_updated_at=2024-01-01T07:00:00-05:00" in consent.text


def test_unsubscribed_at_shopify_withdraws_a_live_consent(client, shop):
    deliver(client, shop, "checkouts/create", consenting_checkout())
    answer(shop.site, PHONE, "OUI")
    body = consenting_checkout(updated_at="2026-11-25T10:00Z")
    body["buyer_accepts_sms_marketing"] = False
    body["customer"]["phone"] = PHONE
    body["customer"]["sms_marketing_consent"]["state"] = "unsubscribed"
    deliver(client, shop, "checkouts/update", body)
    assert Contact.objects.get(phone=PHONE).consent_status == ConsentStatus.REVOKED


def test_a_checkout_updated_after_a_stop_does_not_bring_consent_back(client, shop):
    """Shopify keeps buyer_accepts_sms_marketing as it was ticked, and moves the checkout's
    updated_at on every edit: neither may undo the STOP the number sent us."""
    with time_machine.travel(NOW, tick=False):
        deliver(
            client, shop, "checkouts/create", consenting_checkout(updated_at="2026-11-24T09:00:00Z")
        )
    contact = Contact.objects.get(phone=PHONE)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    for hours, updated in ((2, "2026-11-24T09:00:00Z"), (3, "2026-11-24T12:30:00Z")):
        with time_machine.travel(NOW + timedelta(hours=hours), tick=False):
            deliver(
                client,
                shop,
                "checkouts/update",
                consenting_checkout(updated_at=updated, total_price=f"38{hours}.00"),
            )
        contact.refresh_from_db()
        assert contact.consent_status == ConsentStatus.REVOKED, updated
    # Nor does the customer's subscribed state, dated or not.
    for dated in (None, "2026-11-24T13:00:00Z"):
        body = checkout(total_price="390.00" if dated else "391.00")
        body["customer"]["phone"] = PHONE
        body["customer"]["sms_marketing_consent"].update(
            state="subscribed", consent_updated_at=dated
        )
        with time_machine.travel(NOW + timedelta(hours=4), tick=False):
            deliver(client, shop, "checkouts/update", body)
        contact.refresh_from_db()
        assert contact.consent_status == ConsentStatus.REVOKED


def test_after_shopifys_own_unsubscribe_only_the_number_restores_consent(client, shop):
    """A consent Shopify relays is the shopper's claim: after any revocation, even Shopify's
    own, a later ticked box (dated or not) changes nothing; the number's own START does."""
    body = checkout()
    body["customer"]["phone"] = PHONE
    marketing = body["customer"]["sms_marketing_consent"]
    marketing.update(state="subscribed", consent_updated_at="2026-11-24T08:00:00Z")
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "checkouts/create", body)
        answer(shop.site, PHONE, "OUI")
        marketing.update(state="unsubscribed", consent_updated_at="2026-11-24T09:30:00Z")
        deliver(client, shop, "checkouts/update", body)
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent_status == ConsentStatus.REVOKED
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        marketing.update(state="subscribed", consent_updated_at="2026-11-24T11:00:00Z")
        deliver(client, shop, "checkouts/update", {**body, "total_price": "2.00"})
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        answer(shop.site, PHONE, "START")
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.GRANTED


def test_odd_shapes_in_a_signed_body_are_never_a_500(client, shop):
    for body in (
        checkout(line_items=5),
        checkout(line_items=[5, "x"]),
        checkout(customer=[]),
        checkout(total_price=[1]),
        {"token": {"a": 1}},
    ):
        response = deliver(client, shop, "checkouts/create", body)
        assert response.status_code in (200, 400), (body, response.content)
    for body in (order(line_items=5, customer="x"), order(total_price=None)):
        assert deliver(client, shop, "orders/create", body).status_code in (200, 400)


def test_a_signed_body_replayed_without_its_delivery_id_does_nothing_twice(client, shop):
    raw = json.dumps(consenting_checkout()).encode()
    deliver(client, shop, "checkouts/create", None, body=raw, webhook_id="first")
    before = stored()
    again = deliver(client, shop, "checkouts/create", None, body=raw, webhook_id="forged-new-id")
    assert again.json()["outcome"] == "already handled"
    assert stored() == before


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
        answer(shop.site, PHONE, "OUI")  # the number confirms the box it ticked
    with time_machine.travel(NOW + timedelta(minutes=29), tick=False):
        assert run_pass(deliver_inline=True).sent == 0
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    message = OutboxMessage.objects.latest("pk")
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
        answer(shop.site, PHONE, "OUI")
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
    assert not Send.objects.exists()
    assert Cart.objects.get().status == Cart.Status.CONVERTED


def test_an_order_with_a_typed_number_converts_none_of_that_numbers_carts(client, shop):
    """An order's phone is what the buyer typed: a stranger's order with a customer's number
    neither stops her reminder nor counts as revenue recovered from her; the order's own
    checkout token (Shopify's) converts its cart (control)."""
    with time_machine.travel(NOW, tick=False):
        deliver(client, shop, "checkouts/create", consenting_checkout(cart_token="other"))
        answer(shop.site, PHONE, "OUI")
    theirs = order(checkout_token="unknown", cart_token="unknown", phone="06 12 34 56 78")
    theirs["customer"]["id"] = 1  # another customer: only the typed number names her
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        deliver(client, shop, "orders/create", theirs)
    assert Cart.objects.get().status == Cart.Status.OPEN
    assert Conversion.objects.get().contact is None
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    own = order(id=2, checkout_token=CHECKOUT["token"], phone="06 12 34 56 78")
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        deliver(client, shop, "orders/create", own)
    assert Cart.objects.get().status == Cart.Status.CONVERTED


def test_erasure_removes_the_platforms_proof_with_the_number(client, shop):
    from optin.erasure import erase_contact

    deliver(client, shop, "checkouts/create", consenting_checkout())
    # An event of the number on no browser (the shop's server's), which erasure keeps, scrubbed.
    Event.objects.create(
        site=shop.site,
        type="identify",
        source="server",
        received_at=NOW,
        payload={"type": "identify", "phone": PHONE, "proof": {"sms_marketing_phone": PHONE}},
    )
    erase_contact(site=shop.site, raw_phone=PHONE)
    for payload in Event.objects.values_list("payload", flat=True):
        assert "612345678" not in json.dumps(payload)


HER_VID = "0123456789abcdef0123456789abcdef"
HER_CART = {
    "id": "her-cart",
    "currency": "EUR",
    "total": 30,
    "url": "https://boutique.example/cart",
    "items": [{"sku": "A1", "name": "Chemise", "price": 30, "quantity": 1}],
}


def her_consenting_cart(client, shop, **cart_fields):
    """The shop's server vouches for her number (with consent) on her browser, and for her
    cart there (``cart_fields``: the customer id...)."""
    auth = {"HTTP_AUTHORIZATION": f"Bearer {shop.secret_key}"}
    with time_machine.travel(NOW, tick=False), shop.capture(execute=True):
        identify = {"phone": PHONE, "vid": HER_VID, "consent": {"granted": True, "text": "Oui"}}
        client.post("/api/v1/identify", identify, content_type="application/json", **auth)
        body = {"vid": HER_VID, "cart": HER_CART, **cart_fields}
        client.post("/api/v1/carts", body, content_type="application/json", **auth)
    return auth


def test_a_strangers_checkout_with_a_customers_number_never_texts_her(client, shop):
    """A guest typed a consenting customer's number as the shipping phone of their own
    checkout: the number is a claim, so the checkout is not hers. She is reminded of her own
    cart only (control), never led to the stranger's checkout with her token."""
    her_consenting_cart(client, shop)
    vid = HER_VID
    theirs = checkout(currency="EUR", presentment_currency="EUR", phone=None)
    theirs["customer"] = {"id": 999, "first_name": "Intrus"}
    theirs["shipping_address"]["phone"] = "06 12 34 56 78"
    theirs["billing_address"]["phone"] = "06 12 34 56 78"
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert deliver(client, shop, "checkouts/create", theirs).status_code == 200
    stranger = Cart.objects.get(external_id=CHECKOUT["token"])
    assert stranger.visitor.vid != vid
    assert not VisitorLink.objects.filter(visitor=stranger.visitor).exists()
    assert Cart.objects.get(external_id="her-cart").status == Cart.Status.OPEN
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    send = Send.objects.get()
    assert send.cart.external_id == "her-cart"
    assert Contact.objects.get(phone=PHONE).first_name == ""


def test_a_guests_checkout_under_a_customers_account_never_lands_on_her_browser(client, shop):
    """Shopify files a guest checkout under the customer account whose email the guest typed:
    the customer id is as much a claim as a typed phone. Her browser, tied to her consenting
    number, keeps her own cart; the stranger's checkout goes on a browser of its own, and she
    is reminded of her cart only (control), never sent to the stranger's checkout."""
    auth = her_consenting_cart(client, shop, customer_id="207119551")
    vid, own_cart = HER_VID, HER_CART
    assert Visitor.objects.get(vid=vid).customer_id == "207119551"
    theirs = checkout(currency="EUR", presentment_currency="EUR", phone=None, cart_token=None)
    theirs["customer"] = {**theirs["customer"], "id": 207119551, "phone": None}
    theirs["shipping_address"]["phone"] = None
    theirs["billing_address"]["phone"] = None
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert deliver(client, shop, "checkouts/create", theirs).status_code == 200
        # The same checkout updated finds its own browser again.
        assert deliver(client, shop, "checkouts/update", theirs).status_code == 200
    stranger = Cart.objects.get(external_id=CHECKOUT["token"])
    assert stranger.visitor.vid != vid
    assert not VisitorLink.objects.filter(visitor=stranger.visitor).exists()
    assert Cart.objects.filter(external_id=CHECKOUT["token"]).count() == 1
    assert Cart.objects.get(external_id="her-cart").status == Cart.Status.OPEN
    # Her account's id is not stamped on the stranger's browser: the shop's own next cart for
    # her (vouched) still lands on her browser.
    assert stranger.visitor.customer_id != "207119551"
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        body = {"customer_id": "207119551", "cart": {**own_cart, "total": 60}}
        client.post("/api/v1/carts", body, content_type="application/json", **auth)
    assert Cart.objects.get(external_id="her-cart").visitor.vid == vid
    with time_machine.travel(NOW + timedelta(minutes=40), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    assert Send.objects.get().cart.external_id == "her-cart"


def test_ticked_boxes_at_checkouts_spend_the_sites_daily_confirmations(client, shop):
    """A signed webhook carries no shopper's address nor browser: the site's daily limit holds
    the confirmation SMS that checkouts' ticked boxes cause. The first one is asked (control);
    past the limit nothing is started, and the checkout is tied to no number."""
    shop.site.confirmations_per_day = 1
    shop.site.save()
    for index, typed in enumerate(("06 12 34 56 78", "06 98 76 54 32")):
        body = consenting_checkout(token=f"checkout-{index}", cart_token=f"cart-{index}")
        body["sms_marketing_phone"] = typed
        body["customer"]["id"] = 100 + index
        deliver(client, shop, "checkouts/create", body)
    (first,) = Contact.objects.all()
    assert (first.phone, first.consent_status) == (PHONE, ConsentStatus.PENDING)
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == [PHONE]
    second = Cart.objects.get(external_id="checkout-1")
    assert not VisitorLink.objects.filter(visitor=second.visitor).exists()


def test_a_ticked_box_for_a_known_number_spends_the_daily_confirmations_too(client, shop):
    """What a checkout's ticked box costs the site never tells a known number from an unknown
    one: a consenting customer's number ticked at a checkout spends one of the day's
    confirmations, though it starts nothing."""
    shop.site.confirmations_per_day = 1
    shop.site.save()
    her_consenting_cart(client, shop)
    known = consenting_checkout(token="checkout-known", cart_token="cart-known")
    known["sms_marketing_phone"] = "06 12 34 56 78"  # hers: consenting already
    deliver(client, shop, "checkouts/create", known)
    unknown = consenting_checkout(token="checkout-new", cart_token="cart-new")
    unknown["sms_marketing_phone"] = "06 98 76 54 32"
    unknown["customer"]["id"] = 42
    deliver(client, shop, "checkouts/create", unknown)
    assert not Contact.objects.filter(phone="+33698765432").exists()
    assert not OutboxMessage.objects.exists()


def test_a_ticked_box_for_a_number_outside_the_sites_countries_enrols_nothing(client, shop):
    british = consenting_checkout()
    british["sms_marketing_phone"] = "+447400123456"
    deliver(client, shop, "checkouts/create", british)
    assert not Consent.objects.exists()
    assert not OutboxMessage.objects.exists()
    # Control: the operators widen the site's countries, and the same box starts the opt-in.
    shop.site.enrol_countries = ["FR", "GB"]
    shop.site.save()
    deliver(client, shop, "checkouts/update", {**british, "total_price": "1.00"})
    assert Contact.objects.get(phone="+447400123456").consent_status == ConsentStatus.PENDING


# --- Email consent: Shopify's own email fields, the shopper's claim -------------------------

EMAIL = "bob.norman@mail.example.com"


def emails_to(address):
    from django.core import mail

    return [message for message in mail.outbox if message.to == [address]]


def test_buyer_accepts_marketing_starts_the_email_double_opt_in_with_its_proof(client, shop):
    response = deliver(client, shop, "checkouts/create", checkout(buyer_accepts_marketing=True))
    assert response.status_code == 200
    contact = Contact.objects.get(email=EMAIL)
    assert (contact.email_consent_status, contact.consent_status) == ("pending", "none")
    consent = contact.consents.get()
    assert (consent.channel, consent.source) == ("email", ConsentSource.SHOPIFY)
    assert "buyer_accepts_marketing=true" in consent.text and CHECKOUT["token"] in consent.text
    proof = Event.objects.get(type="identify").payload["email_proof"]
    assert proof["buyer_accepts_marketing"] is True
    (confirmation,) = emails_to(EMAIL)
    assert "Boutique" in confirmation.subject
    assert Cart.objects.get().visitor == VisitorLink.objects.get(contact=contact).visitor
    assert not OutboxMessage.objects.exists()  # no SMS: the email box says nothing of SMS


def test_the_customers_email_subscribed_state_is_an_email_consent_too(client, shop):
    body = checkout()
    body["customer"]["email_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": "confirmed_opt_in",
        "consent_updated_at": "2024-01-01T07:00:00-05:00",
    }
    deliver(client, shop, "checkouts/update", body)
    consent = Consent.objects.get(contact__email=EMAIL)
    assert (consent.channel, consent.status) == ("email", ConsentStatus.PENDING)
    assert "opt_in_level=confirmed_opt_in" in consent.text


def test_no_email_consent_field_keeps_no_address(client, shop):
    deliver(client, shop, "checkouts/create", checkout())
    assert not Contact.objects.filter(email=EMAIL).exists()
    assert not emails_to(EMAIL)


def test_a_ticked_sms_box_never_gives_email_consent_nor_the_reverse(client, shop):
    deliver(client, shop, "checkouts/create", consenting_checkout())
    assert not Contact.objects.filter(email=EMAIL).exists()
    assert Contact.objects.get(phone=PHONE).email_consent_status == "none"


def test_a_strangers_ticked_email_box_for_a_consenting_address_changes_nothing(client, shop):
    """A guest types a customer's address and ticks the box: no email, no link to her."""
    customer = Contact.objects.create(site=shop.site, email=EMAIL, region="FR")
    record_consent(
        contact=customer,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        channel="email",
    )
    body = checkout(buyer_accepts_marketing=True)
    body["customer"]["id"] = 999
    deliver(client, shop, "checkouts/create", body)
    assert not VisitorLink.objects.filter(contact=customer).exists()
    assert customer.consents.count() == 1 and not emails_to(EMAIL)
    # Control: a new address ticked the same way gets its confirmation.
    other = checkout(buyer_accepts_marketing=True, email="new@example.fr", token="t-2")
    other["customer"]["id"] = 998
    other["customer"]["email"] = "new@example.fr"
    deliver(client, shop, "checkouts/create", other)
    assert len(emails_to("new@example.fr")) == 1


def test_unsubscribed_email_at_shopify_withdraws_the_email_consent_only(client, shop):
    customer = Contact.objects.create(site=shop.site, email=EMAIL, phone=PHONE, region="FR")
    for channel in ("sms", "email"):
        record_consent(
            contact=customer,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=channel,
        )
    body = checkout()
    body["customer"]["email_marketing_consent"] = {"state": "unsubscribed"}
    deliver(client, shop, "checkouts/update", body)
    customer.refresh_from_db()
    assert (customer.email_consent_status, customer.consent_status) == ("revoked", "granted")
    assert customer.consents.get(status="revoked").source == ConsentSource.SHOPIFY


def test_a_claimed_email_consent_never_restores_an_unsubscribed_address(client, shop):
    customer = Contact.objects.create(site=shop.site, email=EMAIL, region="FR")
    record_consent(
        contact=customer,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.UNSUBSCRIBE,
        channel="email",
    )
    deliver(client, shop, "checkouts/create", checkout(buyer_accepts_marketing=True))
    customer.refresh_from_db()
    assert customer.email_consent_status == ConsentStatus.REVOKED
    assert not emails_to(EMAIL)


def test_ticked_email_boxes_at_checkouts_spend_the_sites_daily_confirmations(client, shop):
    """As for the SMS box: past the site's daily limit a checkout's ticked email box starts
    nothing and ties the checkout to no address; the first one is asked (control)."""
    shop.site.confirmations_per_day = 1
    shop.site.save()
    for index, address in enumerate(("first@example.fr", "second@example.fr")):
        body = checkout(
            buyer_accepts_marketing=True,
            email=address,
            token=f"checkout-{index}",
            cart_token=f"cart-{index}",
        )
        body["customer"]["id"] = 100 + index
        deliver(client, shop, "checkouts/create", body)
    (first,) = Contact.objects.all()
    assert (first.email, first.email_consent_status) == ("first@example.fr", "pending")
    assert len(emails_to("first@example.fr")) == 1 and not emails_to("second@example.fr")
    second = Cart.objects.get(external_id="checkout-1")
    assert not VisitorLink.objects.filter(visitor=second.visitor).exists()

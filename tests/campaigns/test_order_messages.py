"""The messages after the order, end to end through the public doors: the shop's server API
(``POST /api/v1/orders``), Shopify's signed ``orders/create`` and ``fulfillments/create``,
WooCommerce's signed ``order.updated``; the dispatch pass; the SMS outbox; a STOP reply.

Payloads: tests/fixtures/platforms/webhooks/ (shopify_order.json, shopify_fulfillment.json:
the REST Order and Fulfillment examples of shopify.dev, through Shopify/shopify-api-ruby's
generated tests; woocommerce_order.json: the REST API v3 "Retrieve an order" example of
woocommerce.github.io/woocommerce-rest-api-docs). Signatures as each platform signs: base64
HMAC-SHA256 of the raw body (shopify.dev "Verify webhooks"; WooCommerce
``WC_Webhook::generate_signature``). WooCommerce's order statuses are its REST API v3 Order
``status`` options (pending, processing, on-hold, completed, cancelled, refunded, failed,
trash: woocommerce-rest-api-docs, source/includes/wp-api-v3/_orders.md); Shopify's
``financial_status`` and the Fulfillment's ``shipment_status`` (``delivered``) are the REST
Order and Fulfillment resources' (shopify.dev). Each test has its control, so "send nothing"
fails.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine

from campaigns.dispatch import run_pass
from campaigns.models import (
    Flow,
    Order,
    OrderUpdate,
    Send,
    SendStatus,
    ShortLink,
    Step,
    StepChannel,
    Trigger,
)
from campaigns.send_reasons import SendReason
from campaigns.send_states import REACHED
from optin.erasure import erase_contact
from optin.models import ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.platforms.connections import connect
from retargeting.sites.services import create_site
from tests.support.owner import answer

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platforms" / "webhooks"
SHOPIFY_ORDER = json.loads((FIXTURES / "shopify_order.json").read_text())
SHOPIFY_FULFILLMENT = json.loads((FIXTURES / "shopify_fulfillment.json").read_text())
WOO_ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())
SECRET = "order-webhooks-secret"
PHONE = "+33612345678"
OTHER = "+33698765432"
TRACKING = "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z001985YW99744790"
# A Tuesday, 11:00 in Paris.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
REVIEW_DAYS = 7


class Shop:
    def __init__(self, capture) -> None:
        created = create_site(name="Boutique", domains=["boutique.example"], country="FR")
        self.site = created.site
        self.secret_key = created.secret_key
        self.capture = capture
        self.shopify = connect(
            site=self.site, platform="shopify", secret=SECRET, shop_domain="checkout.local"
        )
        self.woocommerce = connect(site=self.site, platform="woocommerce", secret=SECRET)
        self.site.refresh_from_db()
        self.steps = {
            trigger: _flow(self.site, trigger, delay)
            for trigger, delay in (
                (Trigger.ORDER_CONFIRMATION, 0),
                (Trigger.SHIPPING_UPDATE, 0),
                (Trigger.REVIEW_REQUEST, REVIEW_DAYS * 24 * 60),
            )
        }


TEXTS = {
    Trigger.ORDER_CONFIRMATION: "{{ shop }} : commande confirmee, merci ! {{ link }}",
    Trigger.SHIPPING_UPDATE: "{{ shop }} : votre colis est parti. Suivi : {{ link }}",
    Trigger.REVIEW_REQUEST: "{{ shop }} : votre avis compte ! {{ link }}",
}


def _flow(site, trigger: str, delay: int) -> Step:
    flow = Flow.objects.create(
        site=site, name=trigger, slug=trigger.replace("_", "-"), trigger=trigger
    )
    return Step.objects.create(
        flow=flow, position=1, delay_minutes=delay, channel=StepChannel.SMS, template=TEXTS[trigger]
    )


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    return Shop(django_capture_on_commit_callbacks)


def api(client, shop: Shop, body: dict, *, key: str | None = None):
    headers = {} if key == "" else {"HTTP_AUTHORIZATION": f"Bearer {key or shop.secret_key}"}
    with shop.capture(execute=True):
        return client.post(
            "/api/v1/orders", data=json.dumps(body), content_type="application/json", **headers
        )


def sign(raw: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()


def shopify(client, shop: Shop, topic: str, payload: dict, *, raw: bytes | None = None):
    raw = raw if raw is not None else json.dumps(payload).encode()
    with shop.capture(execute=True):
        return client.post(
            urlsplit(shop.shopify.webhook_url).path,
            data=raw,
            content_type="application/json",
            HTTP_X_SHOPIFY_TOPIC=topic,
            HTTP_X_SHOPIFY_HMAC_SHA256=sign(raw),
            HTTP_X_SHOPIFY_SHOP_DOMAIN="boutique.myshopify.com",
        )


def woocommerce(client, shop: Shop, payload: dict, topic: str = "order.updated"):
    raw = json.dumps(payload).encode()
    with shop.capture(execute=True):
        return client.post(
            urlsplit(shop.woocommerce.webhook_url).path,
            data=raw,
            content_type="application/json",
            HTTP_X_WC_WEBHOOK_TOPIC=topic,
            HTTP_X_WC_WEBHOOK_SIGNATURE=sign(raw),
        )


def texts(phone: str = PHONE) -> list[str]:
    return list(OutboxMessage.objects.filter(to=phone).values_list("body", flat=True))


def dispatch() -> None:
    run_pass(deliver_inline=True)


def link_of(send: Send) -> str:
    return ShortLink.objects.get(send=send).target_url


PAID = {
    "order_id": "A-1001",
    "status": "paid",
    "phone": "06 12 34 56 78",
    "total": 59.9,
    "currency": "EUR",
    "items": [
        {
            "name": "Chemise",
            "price": 59.9,
            "quantity": 1,
            "url": "https://boutique.example/p/chemise",
        }
    ],
}


# --- The shop's server API ---------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_a_paid_then_shipped_order_brings_its_two_messages_without_marketing_consent(client, shop):
    answer_paid = api(client, shop, PAID)
    assert answer_paid.status_code == 200
    assert answer_paid.json() == {"ok": True, "order_id": "A-1001", "status": "paid"}
    dispatch()
    assert len(texts()) == 1 and "commande confirmee" in texts()[0]
    assert "STOP" in texts()[0], "a STOP works on them too: the SMS says how"
    # The order's number got no marketing consent, and the order is the purchase.
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent_status == Contact.NO_CONSENT
    assert contact.orders.get().external_id == "A-1001"
    shipped = {"order_id": "A-1001", "status": "shipped", "tracking_url": TRACKING}
    assert api(client, shop, shipped).status_code == 200
    dispatch()
    assert len(texts()) == 2 and "colis est parti" in texts()[1]
    send = Send.objects.get(step=shop.steps[Trigger.SHIPPING_UPDATE])
    assert link_of(send) == TRACKING
    # The carrier's page: the shop's server gave it.
    code = ShortLink.objects.get(send=send).code
    followed = client.get(f"/s/{code}")
    assert followed.status_code == 302 and followed["Location"].startswith(TRACKING)
    assert Contact.objects.get(phone=PHONE).consent_status == Contact.NO_CONSENT


@time_machine.travel(NOW, tick=False)
def test_an_order_reported_again_sends_nothing_more(client, shop):
    api(client, shop, PAID)
    api(client, shop, {**PAID, "status": "placed"})  # placed after paid: still one confirmation
    dispatch()
    assert len(texts()) == 1
    for _ in range(2):
        assert api(client, shop, PAID).status_code == 200
        dispatch()
    assert len(texts()) == 1
    assert OrderUpdate.objects.filter(order__external_id="A-1001").count() == 2
    assert Order.objects.get().status == "paid"


@time_machine.travel(NOW, tick=False)
def test_the_order_api_refuses_bad_input_and_changes_nothing(client, shop):
    assert api(client, shop, PAID, key="").status_code == 401
    assert api(client, shop, PAID, key="sk_wrong").status_code == 401
    for body, field in (
        ({**PAID, "status": "lost"}, "status"),
        ({**PAID, "total": None}, "total"),
        ({**PAID, "phone": "not a phone"}, "phone"),
        ({**PAID, "email": "nobody"}, "email"),
        ({**PAID, "tracking_url": "javascript:alert(1)"}, "tracking_url"),
        ({**PAID, "items": [{"name": "X", "url": "https://elsewhere.example/p"}]}, "items[0].url"),
        ({k: v for k, v in PAID.items() if k != "order_id"}, "order_id"),
    ):
        refused = api(client, shop, body)
        assert refused.status_code == 400, body
        assert refused.json()["error"].startswith(field), refused.json()
    assert not Order.objects.exists() and not Contact.objects.exists()
    # Control: the same body, well formed, is recorded.
    assert api(client, shop, PAID).status_code == 200
    assert Order.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_a_paid_order_is_the_purchase_as_the_purchases_api_records_it(client, shop):
    from campaigns.models import Conversion
    from retargeting.tracking.models import Event

    api(client, shop, {**PAID, "status": "placed"})
    assert not Conversion.objects.exists(), "a placed order is not bought yet"
    api(client, shop, PAID)
    api(client, shop, PAID)
    conversion = Conversion.objects.get()
    assert (conversion.order_id, str(conversion.total)) == ("A-1001", "59.90")
    assert Event.objects.filter(type="purchase", order_id="A-1001").count() == 1


def test_a_stop_to_the_shop_stops_the_orders_messages(client, shop):
    # 22:30 in Paris: the confirmations are planned for the morning; one number says STOP.
    with time_machine.travel(datetime(2026, 11, 24, 21, 30, tzinfo=UTC), tick=False):
        api(client, shop, PAID)
        api(client, shop, {**PAID, "order_id": "B-7", "phone": OTHER})
        dispatch()
        assert Send.objects.filter(status=SendStatus.PLANNED).count() == 2
        answer(shop.site, PHONE, "STOP")
    with time_machine.travel(datetime(2026, 11, 25, 7, 45, tzinfo=UTC), tick=False):
        dispatch()
        assert texts(PHONE) == []
        cancelled = Send.objects.get(contact__phone=PHONE)
        assert (cancelled.status, cancelled.reason) == (
            SendStatus.CANCELLED,
            SendReason.OPTED_OUT,
        )
        # Control: the other buyer, who said nothing, gets hers.
        assert len(texts(OTHER)) == 1
        # A later order or shipping for the stopped number sends nothing either.
        api(client, shop, {"order_id": "A-1001", "status": "shipped", "tracking_url": TRACKING})
        api(client, shop, {**PAID, "order_id": "A-1002"})
        dispatch()
        assert texts(PHONE) == []
        assert Contact.objects.get(phone=PHONE).consent_status == ConsentStatus.REVOKED


@time_machine.travel(NOW, tick=False)
def test_an_order_for_a_number_erased_after_a_stop_is_never_messaged(client, shop):
    api(client, shop, {**PAID, "order_id": "old"})
    answer(shop.site, PHONE, "STOP")
    erase_contact(site=shop.site, raw_phone=PHONE)
    api(client, shop, PAID)
    api(client, shop, {**PAID, "order_id": "C-1", "phone": OTHER})
    dispatch()
    assert texts(PHONE) == []
    assert Order.objects.get(external_id="A-1001").contact is None
    assert len(texts(OTHER)) == 1  # control


@time_machine.travel(NOW, tick=False)
def test_erasure_takes_the_phone_and_email_off_the_contacts_orders(client, shop):
    api(client, shop, {**PAID, "email": "marie@example.fr"})
    api(client, shop, {**PAID, "order_id": "B-7", "phone": OTHER})
    erase_contact(site=shop.site, raw_phone=PHONE)
    erased = Order.objects.get(external_id="A-1001")
    assert (erased.phone, erased.email, erased.contact) == ("", "", None)
    assert erased.total is not None, "what the shop sold stays"
    assert Order.objects.get(external_id="B-7").phone == OTHER  # control


@time_machine.travel(NOW, tick=False)
def test_a_cancelled_order_before_its_message_gets_nothing(client, shop):
    # 22:30 in Paris: the confirmation is held until the morning, and the order is cancelled.
    with time_machine.travel(datetime(2026, 11, 24, 21, 30, tzinfo=UTC), tick=False):
        api(client, shop, PAID)
        api(client, shop, {**PAID, "order_id": "B-7", "phone": OTHER})
        dispatch()
        assert texts(PHONE) == [] and texts(OTHER) == []
        api(client, shop, {"order_id": "A-1001", "status": "cancelled"})
    with time_machine.travel(datetime(2026, 11, 25, 7, 45, tzinfo=UTC), tick=False):
        dispatch()
    assert texts(PHONE) == []
    send = Send.objects.get(contact__phone=PHONE)
    assert (send.status, send.reason) == (SendStatus.CANCELLED, SendReason.ORDER_CANCELLED)
    assert len(texts(OTHER)) == 1  # control: the order not cancelled is confirmed


def test_transactional_messages_are_held_at_night_only(client, shop):
    # Sunday 22:00 in Paris: held to 08:00 (every day, Sunday too), not to Monday.
    sunday_night = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    with time_machine.travel(sunday_night, tick=False):
        api(client, shop, PAID)
        dispatch()
        assert texts() == []
        send = Send.objects.get()
        paris_due = send.due_at.astimezone(shop.site.zone_info)
        assert (paris_due.date().isoformat(), paris_due.hour) == ("2026-11-30", 8)
    with time_machine.travel(datetime(2026, 11, 30, 6, 59, tzinfo=UTC), tick=False):
        dispatch()
        assert texts() == []
    with time_machine.travel(datetime(2026, 11, 30, 7, 31, tzinfo=UTC), tick=False):
        dispatch()
        assert len(texts()) == 1
    # Sunday 11:00: a transactional message goes at once (the site's marketing hours would
    # hold it until Monday).
    with time_machine.travel(datetime(2026, 12, 6, 10, 0, tzinfo=UTC), tick=False):
        api(client, shop, {**PAID, "order_id": "B-7"})
        dispatch()
        assert len(texts()) == 2


def test_a_review_request_goes_days_after_delivery_only_with_consent_and_in_marketing_hours(
    client, shop
):
    from optin.consent import record_consent
    from optin.models import ConsentSource

    flow = shop.steps[Trigger.REVIEW_REQUEST].flow
    flow.link_url = "https://boutique.example/avis"
    flow.save()
    delivered_at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)  # a Sunday, 11:00 in Paris
    with time_machine.travel(delivered_at - timedelta(days=3), tick=False):
        api(client, shop, PAID)
        api(client, shop, {**PAID, "order_id": "B-7", "phone": OTHER})
        record_consent(
            contact=Contact.objects.get(phone=PHONE),
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            text="J'accepte les SMS de la Boutique",
        )
        dispatch()
    confirmations = 1
    assert len(texts(PHONE)) == confirmations and len(texts(OTHER)) == 1
    with time_machine.travel(delivered_at, tick=False):
        for order_id in ("A-1001", "B-7"):
            api(client, shop, {"order_id": order_id, "status": "delivered"})
        dispatch()
    with time_machine.travel(delivered_at + timedelta(days=REVIEW_DAYS, minutes=-1), tick=False):
        dispatch()
        assert len(texts(PHONE)) == confirmations, "not before its seven days"
    with time_machine.travel(delivered_at + timedelta(days=REVIEW_DAYS), tick=False):
        dispatch()
        # Sunday: the site's marketing hours hold it (France: Monday to Saturday).
        assert len(texts(PHONE)) == confirmations
        review = Send.objects.get(step=shop.steps[Trigger.REVIEW_REQUEST])
        assert review.due_at.astimezone(shop.site.zone_info).weekday() == 0
    with time_machine.travel(delivered_at + timedelta(days=REVIEW_DAYS + 1), tick=False):
        dispatch()
    assert len(texts(PHONE)) == confirmations + 1 and "avis compte" in texts(PHONE)[-1]
    assert link_of(Send.objects.get(step=shop.steps[Trigger.REVIEW_REQUEST])) == flow.link_url
    # Without marketing consent: no review request, ever.
    assert len(texts(OTHER)) == 1


@time_machine.travel(NOW, tick=False)
def test_a_review_request_links_to_the_products_page_without_a_flow_link(client, shop):
    from optin.consent import record_consent
    from optin.models import ConsentSource

    api(client, shop, PAID)
    record_consent(
        contact=Contact.objects.get(phone=PHONE),
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte les SMS",
    )
    api(client, shop, {"order_id": "A-1001", "status": "delivered"})
    with time_machine.travel(NOW + timedelta(days=REVIEW_DAYS, hours=1), tick=False):
        dispatch()
    review = Send.objects.get(step=shop.steps[Trigger.REVIEW_REQUEST])
    assert review.status in REACHED, review.reason
    assert link_of(review) == "https://boutique.example/p/chemise"


@time_machine.travel(NOW, tick=False)
def test_a_shipping_link_off_the_shop_only_in_https(client, shop):
    api(client, shop, PAID)
    api(
        client,
        shop,
        {"order_id": "A-1001", "status": "shipped", "tracking_url": "http://tracking.example/1Z"},
    )
    dispatch()
    send = Send.objects.get(step=shop.steps[Trigger.SHIPPING_UPDATE])
    assert link_of(send) == shop.site.home_url
    followed = client.get(f"/s/{ShortLink.objects.get(send=send).code}")
    assert urlsplit(followed["Location"]).hostname == "boutique.example"


@time_machine.travel(NOW, tick=False)
def test_transactional_messages_neither_count_toward_nor_wait_for_the_marketing_cap(client, shop):
    from campaigns.frequency import recent_messages
    from optin.consent import record_consent
    from optin.models import ConsentSource

    api(client, shop, PAID)
    contact = Contact.objects.get(phone=PHONE)
    record_consent(
        contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API, text="x"
    )
    dispatch()
    assert len(texts()) == 1
    assert recent_messages(contact_ids=[contact.pk], at=NOW + timedelta(minutes=1)) == {}
    # A marketing message sent just now fills the cap (1 per 24 h): a transactional one still
    # goes at once.
    assert shop.site.cap_per_24h == 1
    _marketing_send(shop, contact)
    assert recent_messages(contact_ids=[contact.pk], at=NOW + timedelta(minutes=1)) != {}
    api(client, shop, {"order_id": "A-1001", "status": "shipped", "tracking_url": TRACKING})
    dispatch()
    assert len(texts()) == 2


def _marketing_send(shop: Shop, contact: Contact) -> Send:
    """A marketing SMS the contact got just now."""
    return Send.objects.create(
        site=shop.site,
        step=_marketing_step(shop),
        subject_id=999,
        contact=contact,
        status=SendStatus.SENT,
        planned_at=NOW,
        due_at=NOW,
        sent_at=NOW,
    )


def _marketing_step(shop: Shop) -> Step:
    flow = Flow.objects.create(site=shop.site, name="Panier", slug="panier")
    return Step.objects.create(flow=flow, position=1, template="{{ shop }} {{ link }}")


@time_machine.travel(NOW, tick=False)
def test_a_purchase_is_never_credited_to_an_orders_own_message(client, shop):
    from campaigns.conversions import attribute
    from campaigns.models import Click

    api(client, shop, PAID)
    dispatch()
    send = Send.objects.get()
    link = ShortLink.objects.get(send=send)
    Click.objects.create(link=link, at=NOW, ip="192.0.2.0", user_agent_class="mobile")
    later = NOW + timedelta(hours=1)
    assert attribute(site=shop.site, contact=send.contact, cart_id=None, at=later) == ("none", None)
    # Control: the same click on a marketing message is credited.
    Send.objects.filter(pk=send.pk).update(step=_marketing_step(shop))
    assert attribute(site=shop.site, contact=send.contact, cart_id=None, at=later)[0] == "clicked"


# --- Shopify ------------------------------------------------------------------------------


def shopify_order(**changes) -> dict:
    body = copy.deepcopy(SHOPIFY_ORDER)
    body.update({"financial_status": "paid", "phone": "06 12 34 56 78", "currency": "EUR"})
    body.update(changes)
    body["billing_address"]["country_code"] = "FR"
    body["shipping_address"]["country_code"] = "FR"
    return body


@time_machine.travel(NOW, tick=False)
def test_shopifys_paid_then_fulfilled_order_brings_its_two_messages(client, shop):
    created = shopify(client, shop, "orders/create", shopify_order())
    assert created.status_code == 200
    dispatch()
    assert len(texts()) == 1 and "commande confirmee" in texts()[0]
    fulfilled = shopify(client, shop, "fulfillments/create", SHOPIFY_FULFILLMENT)
    assert fulfilled.status_code == 200, fulfilled.content
    dispatch()
    assert len(texts()) == 2 and "colis est parti" in texts()[1]
    send = Send.objects.get(step=shop.steps[Trigger.SHIPPING_UPDATE])
    assert link_of(send) == SHOPIFY_FULFILLMENT["tracking_url"]
    order = Order.objects.get()
    assert (order.external_id, order.status) == (str(SHOPIFY_ORDER["id"]), "shipped")
    # The typed number is a claim: no consent given, no browser tied to it.
    contact = Contact.objects.get(phone=PHONE)
    assert contact.consent_status == Contact.NO_CONSENT
    assert not VisitorLink.objects.filter(contact=contact).exists()
    # A webhook delivered again (Shopify retries with the same body) sends nothing more.
    for topic, body in (
        ("orders/create", shopify_order()),
        ("fulfillments/create", SHOPIFY_FULFILLMENT),
    ):
        assert shopify(client, shop, topic, body).status_code == 200
    dispatch()
    assert len(texts()) == 2


@time_machine.travel(NOW, tick=False)
def test_shopifys_fulfillment_update_delivered_starts_the_review_request(client, shop):
    from optin.consent import record_consent
    from optin.models import ConsentSource

    shopify(client, shop, "orders/create", shopify_order())
    record_consent(
        contact=Contact.objects.get(phone=PHONE),
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="x",
    )
    shopify(client, shop, "fulfillments/create", SHOPIFY_FULFILLMENT)
    assert not OrderUpdate.objects.filter(status="delivered").exists()
    delivered = {**SHOPIFY_FULFILLMENT, "shipment_status": "delivered"}
    assert shopify(client, shop, "fulfillments/update", delivered).status_code == 200
    assert OrderUpdate.objects.filter(status="delivered").count() == 1
    with time_machine.travel(NOW + timedelta(days=REVIEW_DAYS, hours=1), tick=False):
        dispatch()
    assert Send.objects.filter(step=shop.steps[Trigger.REVIEW_REQUEST]).count() == 1


@time_machine.travel(NOW, tick=False)
def test_shopifys_pending_order_is_placed_and_a_cancelled_one_sends_nothing(client, shop):
    shopify(client, shop, "orders/create", shopify_order(financial_status="pending"))
    assert OrderUpdate.objects.get().status == "placed"
    cancelled = shopify_order(id=1, cancelled_at="2026-11-24T11:00:00+01:00")
    shopify(client, shop, "orders/create", cancelled)
    dispatch()
    assert len(texts()) == 1  # the placed order's confirmation; none for the cancelled one
    assert Order.objects.get(external_id="1").status == "cancelled"


@time_machine.travel(NOW, tick=False)
def test_a_fulfillment_with_a_wrong_signature_changes_nothing(client, shop):
    shopify(client, shop, "orders/create", shopify_order())
    raw = json.dumps(SHOPIFY_FULFILLMENT).encode()
    with shop.capture(execute=True):
        refused = client.post(
            urlsplit(shop.shopify.webhook_url).path,
            data=raw,
            content_type="application/json",
            HTTP_X_SHOPIFY_TOPIC="fulfillments/create",
            HTTP_X_SHOPIFY_HMAC_SHA256=sign(raw + b" "),
        )
    assert refused.status_code == 401
    assert not OrderUpdate.objects.filter(status="shipped").exists()


# --- WooCommerce --------------------------------------------------------------------------


def woo_order(status: str) -> dict:
    body = copy.deepcopy(WOO_ORDER)
    body.update(status=status, currency="EUR")
    body["billing"].update(phone="06 12 34 56 78", country="FR")
    return body


@time_machine.travel(NOW, tick=False)
def test_woocommerces_processing_then_completed_order_brings_its_two_messages(client, shop):
    assert woocommerce(client, shop, woo_order("processing")).status_code == 200
    dispatch()
    assert len(texts()) == 1 and "commande confirmee" in texts()[0]
    woocommerce(client, shop, woo_order("completed"))
    dispatch()
    assert len(texts()) == 2 and "colis est parti" in texts()[1]
    # No tracking link from WooCommerce's order: the shop's own page.
    assert link_of(Send.objects.get(step=shop.steps[Trigger.SHIPPING_UPDATE])) == (
        shop.site.home_url
    )
    woocommerce(client, shop, woo_order("completed"))
    dispatch()
    assert len(texts()) == 2
    assert Order.objects.get().email == WOO_ORDER["billing"]["email"]


@time_machine.travel(NOW, tick=False)
def test_woocommerces_order_cancelled_before_its_message_gets_nothing(client, shop):
    night = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    with time_machine.travel(night, tick=False):
        woocommerce(client, shop, woo_order("processing"))
        dispatch()
        woocommerce(client, shop, woo_order("cancelled"))
    with time_machine.travel(night + timedelta(hours=10), tick=False):
        dispatch()
    assert texts() == []
    assert Send.objects.get().reason == SendReason.ORDER_CANCELLED
    # Control: a pending order (a checkout left at the payment) is no order at all.
    woocommerce(client, shop, {**woo_order("pending"), "id": 9})
    assert not Order.objects.filter(external_id="9").exists()


# --- Query counts (tests/campaigns/test_query_counts.py's way) ----------------------------


def _orders(shop: Shop, count: int, *, status: str) -> None:
    from campaigns.orders import record_order_status
    from retargeting.tracking.proofs import Proof

    for index in range(count):
        order = {
            "order_id": f"Q-{index}",
            "status": status,
            "phone": f"+336{index:08d}",
            "email": None,
            "vid": None,
            "customer_id": None,
            "total": "10.00",
            "currency": "EUR",
            "tracking_url": TRACKING if status == "shipped" else "",
            "items": [{"name": "Chemise", "quantity": 1}],
        }
        record_order_status(site=shop.site, order=order, proof=Proof.SHOP_SERVER)


@pytest.mark.parametrize("status", ["paid", "shipped"])
def test_planning_and_sending_the_orders_messages_cost_the_same_queries_for_3_or_12_orders(
    twilio, django_capture_on_commit_callbacks, status
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns import sending

    plans, batches = [], []
    for size in (3, 12):
        shop = Shop(django_capture_on_commit_callbacks)
        with time_machine.travel(NOW, tick=False):
            _orders(shop, size, status=status)
            with CaptureQueriesContext(connection) as planning:
                run_pass(enqueue=lambda send_id: None)
            due = list(
                shop.site.sends.filter(status=SendStatus.PLANNED).values_list("pk", flat=True)
            )
            assert len(due) == size
            outcomes: dict[int, str] = {}
            with CaptureQueriesContext(connection) as delivering:
                outcomes.update(sending.deliver_batch(send_ids=due))
        assert list(outcomes.values()) == ["accepted"] * size
        plans.append(len(planning.captured_queries))
        marks = sum("SET handed_at =" in q["sql"] for q in delivering.captured_queries)
        batches.append(len(delivering.captured_queries) - marks)
        shop.site.flows.update(is_active=False)
    assert plans[0] == plans[1], plans
    assert batches[0] == batches[1], batches


@time_machine.travel(NOW, tick=False)
def test_an_order_with_an_address_only_is_confirmed_by_email_on_an_sms_else_email_step(
    client, shop
):
    from django.core import mail

    step = shop.steps[Trigger.ORDER_CONFIRMATION]
    step.channel = StepChannel.SMS_ELSE_EMAIL
    step.subject = "Votre commande {{ shop }}"
    step.email_template = "Merci pour votre commande sur {{ shop }}."
    step.save()
    body = {k: v for k, v in PAID.items() if k != "phone"}
    api(client, shop, {**body, "email": "marie@example.fr"})
    dispatch()
    assert [message.to for message in mail.outbox] == [["marie@example.fr"]]
    assert "Merci pour votre commande" in mail.outbox[0].body
    assert "Chemise" in mail.outbox[0].body, "the order's items are shown"
    assert OutboxMessage.objects.count() == 0
    contact = Contact.objects.get(email="marie@example.fr")
    assert contact.email_consent_status == Contact.NO_CONSENT
    # Control: the same order with a number goes by SMS.
    api(client, shop, {**PAID, "order_id": "B-7"})
    dispatch()
    assert len(texts()) == 1 and len(mail.outbox) == 1


def test_a_flows_link_must_be_on_the_shops_domains(shop):
    from django.core.exceptions import ValidationError

    flow = shop.steps[Trigger.REVIEW_REQUEST].flow
    flow.link_url = "https://reviews.elsewhere.example/boutique"
    with pytest.raises(ValidationError) as refused:
        flow.full_clean()
    assert "link_url" in refused.value.message_dict
    flow.link_url = "https://boutique.example/avis"  # control
    flow.full_clean()

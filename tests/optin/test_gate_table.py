"""The gate's table (optin/gate_table.py), row by row, through each real door.

A customer's number is in the row's state at a shop with double opt-in (her browser proven
hers by the shop's server, with an open cart); a request then names her number at the row's
door: the snippet's collector, the hosted page, the pixel, the server API, Shopify's and
WooCommerce's signed webhooks, a contact token. What the row promises is checked: her consent
afterwards, whether the browser, cart or order became hers, how many confirmation SMS she got,
and the door's answer. docs/consent.md must show this very table.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail, signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q
from django.utils import timezone

from campaigns.flows import create_default_flow
from campaigns.models import Conversion, Send
from optin.consent import record_consent
from optin.email_confirmation import confirmation_code, send_email_confirmation
from optin.gate_table import END, START, TABLE, Row, render
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from optin.tokens import make_token
from retargeting.gateways.models import OutboxMessage
from retargeting.platforms.connections import connect
from retargeting.sites.services import add_member, create_site
from retargeting.tracking.models import Cart, Visitor

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "tests" / "fixtures" / "platforms" / "webhooks"
SHOPIFY_CHECKOUT = json.loads((WEBHOOKS / "shopify_checkout.json").read_text())
SHOPIFY_ORDER = json.loads((WEBHOOKS / "shopify_order.json").read_text())
WOO_ORDER = json.loads((WEBHOOKS / "woocommerce_order.json").read_text())
SECRET = "gate-table-secret"
HERS = "+33612345678"
HER_EMAIL = "marie@example.fr"
TYPED = "06 12 34 56 78"
HER_VID = "h" * 32
STRANGER_VID = "s" * 32
ORIGIN = "https://boutique.example"
CART = {
    "id": "c-1",
    "currency": "EUR",
    "total": 30,
    "url": "https://boutique.example/panier",
    "items": [{"sku": "A1", "name": "Chemise", "price": 30, "quantity": 1}],
}
CONSENT = {"granted": True, "text": "J'accepte les SMS de la Boutique", "source": "checkout"}


class Shop:
    def __init__(self, capture) -> None:
        created = create_site(name="Boutique", domains=["boutique.example"], country="FR")
        self.site = created.site
        self.site.quiet_hours = "none"
        self.site.save()
        assert self.site.double_opt_in
        self.secret_key = created.secret_key
        create_default_flow(site=self.site, delay_minutes=30)
        self.shopify = connect(
            site=self.site, platform="shopify", secret=SECRET, shop_domain="checkout.local"
        )
        self.woocommerce = connect(
            site=self.site,
            platform="woocommerce",
            secret=SECRET,
            sms_consent_field="_sms_optin",
            sms_consent_text="Je veux recevoir les offres par SMS",
            email_consent_field="_email_optin",
            email_consent_text="Je veux recevoir les offres par email",
        )
        self.site.refresh_from_db()
        self.capture = capture


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    return Shop(django_capture_on_commit_callbacks)


def her_number_in(shop: Shop, state: str, channel: str = "sms") -> Contact | None:
    """Her number (or, for an email row, her address alone) in ``state``, her browser proven
    hers, with an open cart."""
    if state == "unknown":
        return None
    if channel == "email":
        contact = Contact.objects.create(site=shop.site, email=HER_EMAIL, region="FR")
    else:
        contact = Contact.objects.create(site=shop.site, phone=HERS, region="FR")
    now = timezone.now()
    browser = Visitor.objects.create(
        site=shop.site, vid=HER_VID, first_seen_at=now, last_seen_at=now
    )
    VisitorLink.objects.create(visitor=browser, contact=contact, method="server", linked_at=now)
    Cart.objects.create(
        site=shop.site,
        visitor=browser,
        external_id="her-cart",
        total="30.00",
        item_count=1,
        items=CART["items"],
        url=CART["url"],
        created_at=now,
        last_change_at=now,
    )
    if state == "pending":
        record_consent(
            contact=contact,
            status=ConsentStatus.PENDING,
            source=ConsentSource.SNIPPET,
            channel=channel,
        )
        if channel == "email":  # its confirmation email went out
            send_email_confirmation(contact_id=contact.pk)
            mail.outbox.clear()
    else:
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=channel,
        )
    if state == "revoked":
        record_consent(
            contact=contact,
            status=ConsentStatus.REVOKED,
            source=ConsentSource.KEYWORD if channel == "sms" else ConsentSource.UNSUBSCRIBE,
            channel=channel,
        )
    return contact


# --- The doors: each sends its request; its check says, once the request's work is done
# (after the commit), whether what it made became hers. ---


def _linked(vid: str, *, channel: str = "sms") -> bool:
    return VisitorLink.objects.filter(_hers(channel), visitor__vid=vid).exists()


def _hers(channel: str) -> Q:
    return Q(contact__email=HER_EMAIL) if channel == "email" else Q(contact__phone=HERS)


def _cart_is_hers(*, channel: str = "sms", **cart) -> bool:
    visitor = Cart.objects.filter(**cart).values_list("visitor", flat=True).first()
    assert visitor is not None, "the door made no cart"
    return VisitorLink.objects.filter(_hers(channel), visitor=visitor).exists()


def _order_is_hers(contact: Contact | None) -> bool | None:
    if contact is None:
        return None
    converted = Cart.objects.get(external_id="her-cart").status == Cart.Status.CONVERTED
    counted = Conversion.objects.filter(contact=contact).exists()
    assert converted == counted, "her cart and her revenue go together"
    return converted


def _sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def _webhook(client, shop: Shop, connection, headers: dict[str, str], payload) -> int:
    raw = json.dumps(payload).encode()
    signature = (
        "HTTP_X_SHOPIFY_HMAC_SHA256"
        if connection.platform == "shopify"
        else "HTTP_X_WC_WEBHOOK_SIGNATURE"
    )
    response = client.post(
        urlsplit(connection.webhook_url).path,
        data=raw,
        content_type="application/json",
        **{signature: _sign(raw), **headers},
    )
    return response.status_code


def _api(client, shop: Shop, path: str, body: dict) -> int:
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    ).status_code


def snippet(client, shop, contact):
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{"type": "identify", "phone": TYPED, "first_name": "X", "consent": CONSENT}],
    }
    status = client.post(
        "/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
    ).status_code
    return status, lambda: _linked(STRANGER_VID)


def hosted(client, shop, contact):
    page = f"/o/{shop.site.public_key}/"
    return client.post(page, {"phone": TYPED, "consent": "on"}).status_code, lambda: None


def pixel(client, shop, contact):
    query = urlencode(
        {"site": shop.site.public_key, "vid": STRANGER_VID, "type": "identify", "phone": TYPED}
    )
    status = client.get(f"/t/p.gif?{query}").status_code
    return status, lambda: VisitorLink.objects.filter(visitor__vid=STRANGER_VID).first()


def server_identify(client, shop, contact):
    body = {"phone": TYPED, "vid": STRANGER_VID, "consent": CONSENT}
    return _api(client, shop, "/api/v1/identify", body), lambda: _linked(STRANGER_VID)


def server_cart(client, shop, contact):
    status = _api(client, shop, "/api/v1/carts", {"phone": TYPED, "cart": {**CART, "id": "srv"}})
    return status, lambda: _cart_is_hers(external_id="srv")


def csv_import(client, shop, contact):
    client.force_login(User.objects.create_superuser("operator", password="x"))
    rows = "phone,consent_date,consent_source,consent_text\n"
    rows += f'"{TYPED}",2026-01-02,boutique,"J\'accepte les SMS"\n'
    upload = SimpleUploadedFile("contacts.csv", rows.encode(), content_type="text/csv")
    form = {"site": shop.site.pk, "file": upload}
    status = client.post("/admin/optin/contact/import/", form).status_code
    return status, lambda: None


def server_purchase(client, shop, contact):
    body = {"order_id": "A-1", "total": 30, "currency": "EUR", "phone": TYPED}
    return _api(client, shop, "/api/v1/purchases", body), lambda: _order_is_hers(contact)


def server_order(client, shop, contact):
    body = {"order_id": "O-1", "status": "placed", "phone": TYPED, "vid": STRANGER_VID}
    return _api(client, shop, "/api/v1/orders", body), lambda: _linked(STRANGER_VID)


def shopify_checkout(client, shop, contact):
    checkout = copy.deepcopy(SHOPIFY_CHECKOUT)
    checkout.update(buyer_accepts_sms_marketing=True, sms_marketing_phone=TYPED)
    checkout["customer"]["id"] = 999  # a guest's checkout: not her Shopify customer
    headers = {"HTTP_X_SHOPIFY_TOPIC": "checkouts/create"}
    status = _webhook(client, shop, shop.shopify, headers, checkout)
    return status, lambda: _cart_is_hers(external_id=SHOPIFY_CHECKOUT["token"])


def shopify_order(client, shop, contact):
    order = copy.deepcopy(SHOPIFY_ORDER)
    order.update(phone=TYPED, checkout_token="another", cart_token="another")
    order["customer"]["id"] = 999
    order["customer"]["phone"] = TYPED
    headers = {"HTTP_X_SHOPIFY_TOPIC": "orders/create"}
    return _webhook(client, shop, shop.shopify, headers, order), lambda: _order_is_hers(contact)


def _woo(status: str, **changes) -> dict:
    order = copy.deepcopy(WOO_ORDER)
    order.update(status=status, currency="EUR", customer_id=0, **changes)
    order["billing"].update(phone=TYPED, country="FR", first_name="X")
    order["meta_data"].append({"id": 1, "key": "_sms_optin", "value": "1"})
    return order


def woocommerce_left(client, shop, contact):
    headers = {"HTTP_X_WC_WEBHOOK_TOPIC": "order.created"}
    status = _webhook(client, shop, shop.woocommerce, headers, _woo("pending"))
    return status, lambda: _cart_is_hers(external_id=f"order-{WOO_ORDER['id']}")


def woocommerce_paid(client, shop, contact):
    headers = {"HTTP_X_WC_WEBHOOK_TOPIC": "order.created"}
    status = _webhook(client, shop, shop.woocommerce, headers, _woo("processing"))
    return status, lambda: _order_is_hers(contact)


def contact_token(client, shop, contact):
    # The browser that tapped the link sends the token back (its user agent, as it tapped).
    agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"
    token = make_token(contact, user_agent=agent) if contact is not None else "1.1:forged:signature"
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{"type": "identify", "token": token}],
    }
    status = client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN=ORIGIN,
        HTTP_USER_AGENT=agent,
    ).status_code
    return status, lambda: _linked(STRANGER_VID) if contact is not None else None


# Her address's email consent history, in the row's state.
EMAIL_HISTORY = {
    "pending": [ConsentStatus.PENDING],
    "granted": [ConsentStatus.GRANTED],
    "revoked": [ConsentStatus.GRANTED, ConsentStatus.REVOKED],
}


def bridge_email_cart(client, shop, contact):
    # Her address is in the row's state too (its email consent); a stranger's browser, with a
    # cart of its own, asks for that cart to be emailed to her address.
    if contact is not None and contact.email != HER_EMAIL:  # a number's row: her address too
        contact.email = HER_EMAIL
        contact.save(update_fields=["email"])
        for status in EMAIL_HISTORY[contact.consent_status]:
            record_consent(
                contact=contact, status=status, source=ConsentSource.SERVER_API, channel="email"
            )
    before = contact.email_consent_status if contact is not None else "none"
    now = timezone.now()
    stranger = Visitor.objects.create(
        site=shop.site, vid=STRANGER_VID, first_seen_at=now, last_seen_at=now
    )
    Cart.objects.create(
        site=shop.site,
        visitor=stranger,
        external_id="strangers-cart",
        total="30.00",
        item_count=1,
        items=CART["items"],
        url=CART["url"],
        created_at=now,
        last_change_at=now,
    )
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{"type": "email_cart", "email": " Marie@Example.FR "}],
    }
    # The door alone, until the request's work is done (after the commit): what the worker
    # then sends (by email, never by SMS) is the sending rules' to hold.
    worker = mock.patch("campaigns.tasks.deliver_send.delay")
    handed = worker.start()
    status = client.post(
        "/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
    ).status_code

    def made() -> bool:
        worker.stop()
        assert handed.call_count == 1, "handed to the worker at once"
        address = Contact.objects.get(site=shop.site, email=HER_EMAIL)
        assert address.email_consent_status == before, "asking never changes a consent"
        assert Send.objects.filter(contact=address, cart__external_id="strangers-cart").exists()
        return VisitorLink.objects.filter(visitor__vid=STRANGER_VID).exists()

    return status, made


# --- The email address's doors ---


def email_snippet(client, shop, contact):
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [
            {"type": "identify", "email": HER_EMAIL, "first_name": "X", "email_consent": CONSENT}
        ],
    }
    status = client.post(
        "/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
    ).status_code
    return status, lambda: _linked(STRANGER_VID, channel="email")


def email_server_identify(client, shop, contact):
    body = {"email": HER_EMAIL, "vid": STRANGER_VID, "email_consent": CONSENT}
    status = _api(client, shop, "/api/v1/identify", body)
    return status, lambda: _linked(STRANGER_VID, channel="email")


def email_shopify_checkout(client, shop, contact):
    checkout = copy.deepcopy(SHOPIFY_CHECKOUT)
    checkout.update(buyer_accepts_marketing=True, email=HER_EMAIL)
    checkout["customer"]["id"] = 999  # a guest's checkout: not her Shopify customer
    headers = {"HTTP_X_SHOPIFY_TOPIC": "checkouts/create"}
    status = _webhook(client, shop, shop.shopify, headers, checkout)
    return status, lambda: _cart_is_hers(external_id=SHOPIFY_CHECKOUT["token"], channel="email")


def email_woocommerce_left(client, shop, contact):
    order = copy.deepcopy(WOO_ORDER)
    order.update(status="pending", currency="EUR", customer_id=0)
    order["billing"].update(phone="", email=HER_EMAIL, country="FR", first_name="X")
    order["meta_data"].append({"id": 2, "key": "_email_optin", "value": "1"})
    headers = {"HTTP_X_WC_WEBHOOK_TOPIC": "order.created"}
    status = _webhook(client, shop, shop.woocommerce, headers, order)
    return status, lambda: _cart_is_hers(external_id=f"order-{WOO_ORDER['id']}", channel="email")


def email_confirmation_link(client, shop, contact):
    if contact is None:
        path = "/o/e/" + signing.dumps([1, "forged", 1], salt="a-guess")
    else:
        # The link of the confirmation she was sent (before she consented or unsubscribed).
        Contact.objects.filter(pk=contact.pk, email_confirmation_sent_at__isnull=True).update(
            email_confirmation_sent_at=timezone.now()
        )
        contact.refresh_from_db()
        path = "/o/e/" + confirmation_code(contact)
    status = client.post(path, HTTP_USER_AGENT="Stranger").status_code
    return status, lambda: None


def email_contact_token(client, shop, contact):
    agent = "Mozilla/5.0 (X11; Linux x86_64)"
    token = make_token(contact, user_agent=agent) if contact is not None else "1.1:forged:signature"
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{"type": "identify", "token": token}],
    }
    status = client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN=ORIGIN,
        HTTP_USER_AGENT=agent,
    ).status_code
    return status, lambda: _linked(STRANGER_VID, channel="email") if contact is not None else None


STOCK_CONSENT = {"granted": True, "text": "Prévenez-moi de son retour", "source": "product"}


def back_in_stock(client, shop, contact):
    event = {"type": "back_in_stock", "product": {"id": "P1"}, "phone": TYPED}
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{**event, "consent": STOCK_CONSENT}],
    }
    status = client.post(
        "/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
    ).status_code
    return status, lambda: _linked(STRANGER_VID)


def email_back_in_stock(client, shop, contact):
    event = {"type": "back_in_stock", "product": {"id": "P1"}, "email": HER_EMAIL}
    body = {
        "site": shop.site.public_key,
        "vid": STRANGER_VID,
        "events": [{**event, "consent": STOCK_CONSENT}],
    }
    status = client.post(
        "/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
    ).status_code
    return status, lambda: _linked(STRANGER_VID, channel="email")


def server_back_in_stock(client, shop, contact):
    body = {"product_id": "P1", "phone": TYPED, "consent": STOCK_CONSENT}
    return _api(client, shop, "/api/v1/back_in_stock", body), lambda: None


def _by_hand(channel: str):
    def door(client, shop, contact):
        member = User.objects.create_user("member", password="x")
        add_member(site=shop.site, user=member)
        client.force_login(member)
        target = contact.pk if contact is not None else 999_999
        status = client.post(
            f"/dashboard/contacts/{target}/unsubscribe",
            {"site": shop.site.pk, "channel": channel, "reason": "Asked on the phone"},
        ).status_code
        if contact is not None and contact.consent_status != "revoked":
            row = contact.consents.filter(channel=channel).latest("created_at", "pk")
            if row.source == ConsentSource.DASHBOARD:
                assert (row.recorded_by, row.reason) == ("member", "Asked on the phone")
        return status, lambda: None

    return door


DOORS = {
    "dashboard unsubscribe by hand (`POST /dashboard/contacts/ID/unsubscribe`)": _by_hand("sms"),
    "email: dashboard unsubscribe by hand (`POST /dashboard/contacts/ID/unsubscribe`)": _by_hand(
        "email"
    ),
    "back in stock `back_in_stock` (`POST /t/e`, a typed number)": back_in_stock,
    "email: back in stock `back_in_stock` (`POST /t/e`, a typed address)": email_back_in_stock,
    "server API back in stock (`POST /api/v1/back_in_stock`)": server_back_in_stock,
    "snippet identify (`POST /t/e`)": snippet,
    "hosted page (`/o/KEY/`)": hosted,
    "pixel (`/t/p.gif`)": pixel,
    "server API identify (`POST /api/v1/identify`)": server_identify,
    "server API carts with a `phone` (`POST /api/v1/carts`)": server_cart,
    "server API purchase with a `phone` (`POST /api/v1/purchases`)": server_purchase,
    "CSV import (admin: a member vouching with each row's consent proof)": csv_import,
    "Shopify checkout webhook (phone, ticked SMS box)": shopify_checkout,
    "Shopify order webhook (its phone)": shopify_order,
    "WooCommerce order webhook (billing phone, ticked meta field)": woocommerce_left,
    "WooCommerce paid order webhook (billing phone)": woocommerce_paid,
    "server API order with a `phone` (`POST /api/v1/orders`)": server_order,
    "contact token (`_rl`, `identify` with `token`)": contact_token,
    "bridge `email_cart` (`POST /t/e`, a typed email address)": bridge_email_cart,
    "email: snippet identify (`email`, `email_consent`)": email_snippet,
    "email: server API identify (`email`, `email_consent`)": email_server_identify,
    "email: Shopify checkout webhook (email, `buyer_accepts_marketing`)": email_shopify_checkout,
    "email: WooCommerce order webhook (billing email, ticked named email field)": (
        email_woocommerce_left
    ),
    "email: confirmation link (`/o/e/CODE`, its button)": email_confirmation_link,
    "email: contact token (`_rl`, `identify` with `token`)": email_contact_token,
}
BUILT = [row for row in TABLE if row.built]


def _id(row: Row) -> str:
    return f"{row.door.split(' (')[0]}-{row.state}"


@pytest.mark.parametrize("row", BUILT, ids=[_id(row) for row in BUILT])
def test_each_door_keeps_its_row_of_the_table(client, shop, row):
    contact = her_number_in(shop, row.state, row.channel)
    with shop.capture(execute=True):
        answer, made = DOORS[row.door](client, shop, contact)
    ties = made()
    if row.channel == "email":
        after = Contact.objects.filter(site=shop.site, email=HER_EMAIL).first()
        consent = after.email_consent_status if after is not None else "unknown"
        sent = sum(message.to == [HER_EMAIL] for message in mail.outbox)
        # The number's consent is never touched by an address's door.
        assert not Contact.objects.exclude(consent_status="none").exists()
    else:
        after = Contact.objects.filter(site=shop.site, phone=HERS).first()
        consent = after.consent_status if after is not None else "unknown"
        sent = OutboxMessage.objects.filter(to=HERS).count()
    assert (consent, ties, sent, answer) == (row.consent, row.ties, row.sms, row.answer)
    if after is not None and row.proof != "shop_server":
        assert after.first_name == "", "a typed first name never reaches an SMS unconfirmed"


def test_every_built_door_of_the_table_is_exercised():
    assert {row.door for row in BUILT} == set(DOORS)
    for door in DOORS:
        assert {row.state for row in BUILT if row.door == door} == {
            "unknown",
            "pending",
            "granted",
            "revoked",
        }


def test_a_claims_answer_is_the_same_whatever_the_numbers_state():
    claims = [row for row in BUILT if row.proof == "claim"]
    for door in {row.door for row in claims}:
        assert len({row.answer for row in claims if row.door == door}) == 1, door


def test_docs_consent_shows_this_table():
    page = (ROOT / "docs" / "consent.md").read_text()
    assert START in page and END in page
    shown = page.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == render(), "docs/consent.md's table differs: paste optin.gate_table.render()"

"""``POST /api/v1/carts``: carts from the shop's server, with or without a browser cookie.

CONTRACT.md: ``{"cart": CART, "vid"?, "phone"?, "customer_id"?}`` (at least one of the three),
the same cart rules as the snippet's ``cart`` event, 401 without a valid key.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from campaigns.dispatch import run_pass
from campaigns.flows import create_default_flow
from campaigns.models import Send, SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor

pytestmark = pytest.mark.django_db
VID = "0123456789abcdef0123456789abcdef"
# A Tuesday, 11:00 in Paris: inside the default quiet hours' open window.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def created():
    return create_site(name="Shop", domains=["shop.example"], country="FR")


@pytest.fixture(autouse=True)
def _after_commit(django_capture_on_commit_callbacks):
    """What the request hands on after its commit (an identify's link) runs as in production."""
    global _capture
    _capture = django_capture_on_commit_callbacks


_capture = None


def post(client, body, key, path="/api/v1/carts"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, str) else json.dumps(body)
    with _capture(execute=True):
        return client.post(path, data=data, content_type="application/json", **headers)


def cart(cart_id="C-1", *, total="59.90", quantity=2, url="https://shop.example/cart?r=1"):
    items = [{"sku": "A1", "name": "Chemise", "price": "29.95", "quantity": quantity}]
    return {
        "id": cart_id,
        "currency": "EUR",
        "total": total if quantity else "0",
        "url": url,
        "items": items if quantity else [],
    }


def stored():
    return (Visitor.objects.count(), Cart.objects.count(), Event.objects.count())


def test_a_cart_for_a_browser_is_that_browsers_live_cart(client, created):
    response = post(client, {"cart": cart(), "vid": VID}, created.secret_key)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "vid": VID, "cart_id": "C-1", "cart_status": "open"}
    row = Cart.objects.get()
    assert (row.visitor.vid, row.external_id, row.item_count, str(row.total)) == (
        VID,
        "C-1",
        2,
        "59.90",
    )
    assert Event.objects.get().source == Event.Source.SERVER


def test_a_customer_without_a_browser_gets_a_visitor_of_the_servers_own(client, created):
    body = post(client, {"cart": cart(), "customer_id": 4512}, created.secret_key).json()
    visitor = Visitor.objects.get()
    assert (visitor.vid, visitor.customer_id) == (body["vid"], "4512")
    assert re.fullmatch(r"s_[0-9a-f]{40}", body["vid"])
    # The same customer's next cart finds that visitor: the new cart replaces the first.
    again = post(client, {"cart": cart("C-2"), "customer_id": "4512"}, created.secret_key).json()
    assert again["vid"] == body["vid"]
    assert dict(Cart.objects.values_list("external_id", "status")) == {
        "C-1": "replaced",
        "C-2": "open",
    }


def test_a_server_visitor_cannot_be_worked_out_from_the_number_or_the_customer(client, created):
    """A page can post to any visitor id it knows: the server's own must be unguessable, or a
    stranger who knows a customer's number could replace the cart reminded to it."""
    first = post(client, {"cart": cart(), "phone": "+33612345678"}, created.secret_key).json()
    other = create_site(name="Twin", domains=["shop.example"], country="FR")
    second = post(client, {"cart": cart(), "phone": "+33612345678"}, other.secret_key).json()
    assert first["vid"] != second["vid"]
    for value in ("+33612345678", "33612345678", f"{created.site.pk}:p:+33612345678"):
        assert hashlib.sha256(value.encode()).hexdigest()[:40] not in first["vid"]


def test_customer_ids_are_kept_per_site(client, created):
    other = create_site(name="Other", domains=["other.example"], country="FR")
    mine = post(client, {"cart": cart(), "customer_id": "42"}, created.secret_key).json()
    theirs = post(
        client,
        {"cart": cart(url="https://other.example/cart"), "customer_id": "42"},
        other.secret_key,
    ).json()
    assert mine["vid"] != theirs["vid"]
    assert Cart.objects.filter(site=created.site).count() == 1
    assert Cart.objects.filter(site=other.site).count() == 1


def test_a_customer_seen_in_a_browser_is_found_from_another_device(client, created):
    post(client, {"cart": cart(), "vid": VID, "customer_id": "C42"}, created.secret_key)
    body = post(client, {"cart": cart("C-9"), "customer_id": "C42"}, created.secret_key).json()
    assert body["vid"] == VID  # the cart lands on the customer's browser, replacing C-1
    assert Visitor.objects.count() == 1
    assert Cart.objects.get(external_id="C-9").status == Cart.Status.OPEN
    assert Cart.objects.get(external_id="C-1").status == Cart.Status.REPLACED


def test_the_cart_rules_are_the_snippets(client, created):
    with time_machine.travel(NOW, tick=False):
        post(client, {"cart": cart(), "vid": VID}, created.secret_key)
    first = Cart.objects.get()
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        post(client, {"cart": cart(), "vid": VID}, created.secret_key)  # unchanged
    first.refresh_from_db()
    assert first.last_change_at == NOW
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        post(client, {"cart": cart(quantity=3, total="89.85"), "vid": VID}, created.secret_key)
    first.refresh_from_db()
    assert (first.item_count, first.last_change_at) == (3, NOW + timedelta(minutes=20))
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        post(client, {"cart": cart(quantity=0), "vid": VID}, created.secret_key)
    first.refresh_from_db()
    assert (first.status, first.item_count) == (Cart.Status.OPEN, 0)


def test_a_phone_links_the_cart_to_the_number_without_touching_consent(client, created):
    body = post(client, {"cart": cart(), "phone": "06 12 34 56 78"}, created.secret_key).json()
    contact = Contact.objects.get()
    assert contact.phone == "+33612345678"
    assert contact.consent_status == Contact.NO_CONSENT
    link = VisitorLink.objects.get()
    assert (link.visitor.vid, link.contact, link.method) == (body["vid"], contact, "server")


def test_a_phone_finds_the_browser_its_owner_proved(client, created):
    post(
        client,
        {"cart": cart(), "vid": VID, "phone": "+33612345678"},
        created.secret_key,
    )
    body = post(client, {"cart": cart("C-2"), "phone": "0612345678"}, created.secret_key).json()
    assert body["vid"] == VID
    assert Visitor.objects.count() == 1


def test_a_phone_never_lands_on_a_browser_that_only_claimed_the_number(client, created):
    claimer = Visitor.objects.create(
        site=created.site, vid="f" * 32, first_seen_at=NOW, last_seen_at=NOW
    )
    contact = Contact.objects.create(site=created.site, phone="+33612345678")
    VisitorLink.objects.create(visitor=claimer, contact=contact, method="snippet", linked_at=NOW)
    body = post(client, {"cart": cart(), "phone": "+33612345678"}, created.secret_key).json()
    assert body["vid"] != claimer.vid
    assert not Cart.objects.filter(visitor=claimer).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cart": cart()}, "vid: expected a visitor id, a customer_id or a phone"),
        ({"cart": cart(), "vid": "short"}, "vid:"),
        ({"cart": cart(), "customer_id": ["x"]}, "customer_id: expected a string"),
        ({"cart": cart(), "customer_id": "x" * 129}, "customer_id: expected at most 128"),
        ({"cart": cart(), "phone": "not a phone"}, "phone: expected a mobile number"),
        ({"vid": VID}, "cart: expected an object"),
        ({"cart": {**cart(), "total": "NaN"}, "vid": VID}, "cart.total: expected a number"),
        ({"cart": {**cart(), "items": "x"}, "vid": VID}, "cart.items: expected a list"),
        (
            {"cart": cart(url="https://evil.example/cart"), "vid": VID},
            "cart.url: expected an http(s) URL on one of the site's domains",
        ),
        ('{"cart": 1, "cart": 2, "vid": "' + VID + '"}', "repeated"),
        ('{"cart": {"total": 1e400}}', ""),
    ],
)
def test_a_bad_cart_gets_a_400_naming_the_field_and_changes_nothing(client, created, body, message):
    before = stored()
    response = post(client, body, created.secret_key)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert stored() == before


@pytest.mark.parametrize("key", [None, "sk_wrong", "pk_public"])
def test_without_a_valid_secret_key_a_cart_gets_a_401(client, created, key):
    response = post(client, {"cart": cart(), "vid": VID}, key)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert stored() == (0, 0, 0)


def test_the_public_key_is_no_secret_key(client, created):
    response = post(client, {"cart": cart(), "vid": VID}, created.site.public_key)
    assert response.status_code == 401


def test_a_server_cart_for_a_consenting_number_gets_its_reminder_and_stops_on_purchase(
    client, created
):
    """From the request to the SMS: the shop's server reports a customer's cart (no browser),
    the reminder goes once, and the order (by the same customer's visitor) stops the next."""
    site = created.site
    site.quiet_hours = "none"
    site.save()
    create_default_flow(site=site, delay_minutes=30)
    contact = Contact.objects.create(site=site, phone="+33612345678")
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte les SMS",
    )
    with time_machine.travel(NOW, tick=False):
        body = post(
            client,
            {"cart": cart(), "customer_id": "guest-77", "phone": "+33612345678"},
            created.secret_key,
        ).json()
    with time_machine.travel(NOW + timedelta(minutes=31), tick=False):
        report = run_pass(deliver_inline=True)
    assert report.sent == 1
    send = Send.objects.get()
    assert send.status == SendStatus.DELIVERED  # the SMS outbox reports delivery
    message = OutboxMessage.objects.get()
    assert message.to == "+33612345678"
    # The order arrives; the next cart of the same customer is then a new abandonment only.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        response = post(
            client,
            {"order_id": "O-1", "total": "59.90", "currency": "EUR", "vid": body["vid"]},
            created.secret_key,
            path="/api/v1/purchases",
        )
    assert response.json()["cart_converted"] is True
    assert Cart.objects.get(external_id="C-1").status == Cart.Status.CONVERTED

"""``POST /t/e`` with ``email_cart`` (the bridge): the door, its limits, the email planned.

Run against both collector servers (tests/retargeting/test_collector_loop.py imports them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine

from campaigns.models import Send, Trigger
from optin.models import Contact, VisitorLink
from retargeting.tracking import cart_emails
from retargeting.tracking.models import Cart, Event, Refusal, Visitor
from retargeting.web.ratelimit import count
from tests.factories import CartFactory, ContactFactory, SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db
ORIGIN = "https://www.shop.example"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CART = {
    "id": "cart-phone",
    "currency": "EUR",
    "total": 42,
    "url": "https://shop.example/cart?restore=cart-phone",
    "items": [{"sku": "A1", "name": "Chemise", "price": 42, "quantity": 1}],
}


@pytest.fixture
def bridge_shop():
    return SiteFactory(allowed_domains=["shop.example"])


@pytest.fixture(autouse=True)
def later():
    """The worker's queue: the send handed on, a cart not recorded yet looked for later."""
    with (
        mock.patch("campaigns.tasks.deliver_send.delay"),
        mock.patch("campaigns.tasks.plan_cart_email.apply_async") as later,
    ):
        yield later


def _vid(n: int) -> str:
    return f"{n:032x}"


def browser_with_cart(site, n: int = 1) -> Visitor:
    cart = CartFactory(visitor__site=site, visitor__vid=_vid(n))
    return cart.visitor


def ask(client, site, email, *, vid=None, extra=()):
    body = {
        "site": site.public_key,
        "vid": vid or _vid(1),
        "events": [*extra, {"type": "email_cart", "email": email}],
    }
    return client.post("/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN)


def bridge_sends(site):
    return list(
        Send.objects.filter(site=site, step__flow__trigger=Trigger.EMAIL_CART).select_related(
            "contact", "cart"
        )
    )


@time_machine.travel(NOW, tick=False)
def test_an_email_cart_plans_the_browsers_cart_to_that_address_at_once(client, bridge_shop):
    visitor = browser_with_cart(bridge_shop)
    response = ask(client, bridge_shop, "  Marie.Dupont@Example.FR ")
    assert response.status_code == 204
    [send] = bridge_sends(bridge_shop)
    assert (send.cart.visitor_id, send.channel, send.status) == (visitor.pk, "email", "planned")
    assert send.due_at == NOW
    assert send.contact.email == "marie.dupont@example.fr"
    # Asked for by the shopper: no consent given, and the browser is not the address's.
    assert send.contact.email_consent_status == Contact.NO_CONSENT
    assert send.contact.consent_status == Contact.NO_CONSENT
    assert not VisitorLink.objects.exists()
    # The address is not kept among the events.
    assert not Event.objects.filter(payload__email__isnull=False).exists()


def test_an_invalid_address_is_a_400_naming_the_field_and_changes_nothing(client, bridge_shop):
    browser_with_cart(bridge_shop)
    for typed in ("marie@", "pas une adresse", "", 42, "a@" + "b" * 260 + ".fr"):
        response = ask(client, bridge_shop, typed)
        assert response.status_code == 400, typed
        assert response.json()["error"].startswith("events[0].email: expected")
    assert bridge_sends(bridge_shop) == []
    assert not Contact.objects.exists()


def test_two_email_carts_in_one_request_are_refused(client, bridge_shop):
    browser_with_cart(bridge_shop)
    response = ask(
        client, bridge_shop, "a@example.fr", extra=[{"type": "email_cart", "email": "b@example.fr"}]
    )
    assert response.status_code == 400
    assert "at most one email_cart" in response.json()["error"]
    assert bridge_sends(bridge_shop) == []


def test_a_browser_without_a_cart_gets_the_same_204_and_nothing_is_made(client, bridge_shop, later):
    VisitorFactory(site=bridge_shop, vid=_vid(1))
    assert ask(client, bridge_shop, "marie@example.fr").status_code == 204
    assert ask(client, bridge_shop, "marie@example.fr", vid=_vid(2)).status_code == 204
    assert bridge_sends(bridge_shop) == []
    assert not Contact.objects.exists()
    # Its cart may be a second behind (the buffer): looked for again, a few seconds later.
    assert [c.kwargs["kwargs"]["vid"] for c in later.call_args_list] == [_vid(1), _vid(2)]


def test_the_cart_sent_with_the_request_is_the_one_emailed(client, bridge_shop):
    response = ask(client, bridge_shop, "marie@example.fr", extra=[{"type": "cart", "cart": CART}])
    assert response.status_code == 204
    [send] = bridge_sends(bridge_shop)
    assert send.cart.external_id == "cart-phone"
    assert [e.type for e in Event.objects.all()] == ["cart"]


def test_a_known_address_and_an_unknown_one_get_the_same_answer_and_spend_the_same(
    client, bridge_shop
):
    known = ContactFactory(site=bridge_shop, email="known@example.fr")
    browser_with_cart(bridge_shop, 1)
    browser_with_cart(bridge_shop, 2)
    answers = [
        ask(client, bridge_shop, "known@example.fr", vid=_vid(1)),
        ask(client, bridge_shop, "new@example.fr", vid=_vid(2)),
    ]
    assert [(r.status_code, r.content) for r in answers] == [(204, b"")] * 2
    spent = []
    for n, email in ((1, "known@example.fr"), (2, "new@example.fr")):
        found = cart_emails.counters(site_id=bridge_shop.pk, vid=_vid(n), email=email)
        spent.append({name: count(key=key) for name, (key, _) in found.items()})
    assert spent[0] == {"visitor": 1, "site": 2, "address": 1}
    assert spent[1] == {"visitor": 1, "site": 2, "address": 1}
    assert {send.contact.email for send in bridge_sends(bridge_shop)} == {
        "known@example.fr",
        "new@example.fr",
    }
    known.refresh_from_db()
    assert (known.consent_status, known.email_consent_status) == ("none", "none")


def test_a_browser_over_its_daily_limit_is_told_429_and_the_next_day_may_ask_again(
    client, bridge_shop, settings
):
    settings.EMAIL_CART_PER_VISITOR_PER_DAY = 3
    visitor = browser_with_cart(bridge_shop)
    with time_machine.travel(NOW, tick=False):
        answers = [ask(client, bridge_shop, f"n{i}@example.fr").status_code for i in range(4)]
        assert answers == [204, 204, 204, 429]
        assert Refusal.objects.get().type == "email_cart"
        assert "n3@" not in Refusal.objects.get().reason
    # One email per cart: the first request's stands, whatever the browser asks after.
    assert [s.contact.email for s in bridge_sends(bridge_shop)] == ["n0@example.fr"]
    Cart.objects.filter(visitor=visitor).update(status="converted", converted_at=NOW)
    CartFactory(visitor=visitor, external_id="next")
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        assert ask(client, bridge_shop, "n4@example.fr").status_code == 204
    assert len(bridge_sends(bridge_shop)) == 2


def test_an_address_over_its_daily_limit_gets_the_same_204_and_nothing_is_sent(
    client, bridge_shop, settings
):
    settings.EMAIL_CART_PER_ADDRESS_PER_DAY = 3
    for n in range(1, 5):
        browser_with_cart(bridge_shop, n)
    with time_machine.travel(NOW, tick=False):
        answers = [ask(client, bridge_shop, "victim@example.fr", vid=_vid(n)) for n in range(1, 5)]
    assert [(r.status_code, r.content) for r in answers] == [(204, b"")] * 4
    sends = bridge_sends(bridge_shop)
    assert sorted(s.cart.visitor.vid for s in sends) == [_vid(1), _vid(2), _vid(3)]
    assert not Refusal.objects.exists()


def test_a_site_over_its_daily_cap_answers_429(client, bridge_shop, settings):
    settings.EMAIL_CART_PER_SITE_PER_DAY = 2
    other = SiteFactory(allowed_domains=["shop.example"])
    for n in range(1, 4):
        browser_with_cart(bridge_shop, n)
    browser_with_cart(other, 9)
    with time_machine.travel(NOW, tick=False):
        answers = [
            ask(client, bridge_shop, f"s{n}@example.fr", vid=_vid(n)).status_code
            for n in range(1, 4)
        ]
        assert answers == [204, 204, 429]
        # Another shop's cap is its own.
        assert ask(client, other, "s9@example.fr", vid=_vid(9)).status_code == 204
    assert len(bridge_sends(bridge_shop)) == 2
    assert len(bridge_sends(other)) == 1


def test_a_zero_limit_turns_it_off(client, bridge_shop, settings):
    settings.EMAIL_CART_PER_VISITOR_PER_DAY = 0
    settings.EMAIL_CART_PER_ADDRESS_PER_DAY = 0
    browser_with_cart(bridge_shop)
    answers = {ask(client, bridge_shop, "m@example.fr").status_code for _ in range(6)}
    assert answers == {204}

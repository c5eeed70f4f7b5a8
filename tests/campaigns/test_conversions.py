"""From SMS to purchase: conversions, their deduplication and honest attribution."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from campaigns.conversions import record_purchase
from campaigns.dispatch import run_pass
from campaigns.links import TOKEN_PARAM
from campaigns.models import Click, Conversion, Send, SendStatus, ShortLink
from optin.models import VisitorLink
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart
from tests.factories import FlowFactory, StepFactory

pytestmark = pytest.mark.django_db(transaction=True)  # receivers run on commit
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Paris
PHONE_VID, LAPTOP_VID = "a" * 32, "b" * 32
LAPTOP = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
CONSENT = {"granted": True, "text": "J'accepte les SMS", "source": "checkout"}


@pytest.fixture
def shop():
    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    created.site.quiet_hours = "none"
    created.site.save()
    Send.objects.all().delete()
    return created


@pytest.fixture
def flow(shop):
    flow = FlowFactory(site=shop.site, slug="relance")
    StepFactory(flow=flow, position=1, delay_minutes=30)
    StepFactory(flow=flow, position=2, delay_minutes=24 * 60)
    shop.site.flows.exclude(pk=flow.pk).delete()
    return flow


def collect(client, shop, vid, *events, user_agent=""):
    response = client.post(
        "/t/e",
        data=json.dumps({"site": shop.site.public_key, "vid": vid, "events": list(events)}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
        HTTP_USER_AGENT=user_agent,
    )
    assert response.status_code == 204, response.content


def cart_event(cart_id="c1", total=59.9):
    item = {"sku": "A1", "name": "Chemise", "price": total, "quantity": 1}
    return {
        "type": "cart",
        "cart": {"id": cart_id, "currency": "EUR", "total": total, "items": [item]},
    }


def purchase(order_id="O-1", total=59.9):
    return {"type": "purchase", "order_id": order_id, "total": total, "currency": "EUR"}


def server(client, shop, path, body):
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )


@pytest.fixture
def reminded(client, shop, flow):
    """A customer identified by the shop's server left a cart on their phone at NOW and got
    the first reminder 30 minutes later."""
    with time_machine.travel(NOW, tick=False):
        server(
            client,
            shop,
            "/api/v1/identify",
            {"phone": "+33612345678", "vid": PHONE_VID, "consent": CONSENT},
        )
        collect(client, shop, PHONE_VID, cart_event())
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        assert run_pass(deliver_inline=True).sent == 1
    return Send.objects.get()


def tap(client, send, at, user_agent=IPHONE):
    with time_machine.travel(at, tick=False):
        response = client.get(f"/s/{send.short_link.code}", HTTP_USER_AGENT=user_agent)
    assert response.status_code == 302
    return response["Location"]


def test_a_cart_on_the_phone_and_a_tap_and_purchase_on_the_laptop_are_tied_by_the_token(
    client, shop, reminded
):
    # The reminder about the phone's cart is opened on the laptop (its SMS app): the laptop's
    # landing page sends the token of its own tap back.
    location = tap(client, reminded, NOW + timedelta(hours=1), user_agent=LAPTOP)
    token = parse_qs(urlsplit(location).query)[TOKEN_PARAM][0]
    with time_machine.travel(NOW + timedelta(hours=1, seconds=2), tick=False):
        collect(client, shop, LAPTOP_VID, {"type": "identify", "token": token}, user_agent=LAPTOP)
    later = NOW + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        collect(client, shop, LAPTOP_VID, purchase(), user_agent=LAPTOP)
    laptop_link = VisitorLink.objects.get(visitor__vid=LAPTOP_VID)
    assert laptop_link.contact == reminded.contact
    conversion = Conversion.objects.get()
    assert (conversion.attribution, conversion.send) == ("clicked", reminded)
    assert (conversion.total, conversion.occurred_at) == (Decimal("59.90"), later)
    # The phone's cart is bought too: the second reminder never goes.
    assert Cart.objects.get(visitor__vid=PHONE_VID).status == Cart.Status.CONVERTED
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        assert run_pass(deliver_inline=True).planned == 0
    assert Send.objects.count() == 1


def test_a_purchase_between_two_steps_stops_the_second(client, shop, reminded):
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        collect(client, shop, PHONE_VID, purchase())
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (0, 0)
    conversion = Conversion.objects.get()
    # Bought within 24 h of the reminder without tapping it: reported apart, not recovered.
    assert (conversion.attribution, conversion.send) == ("after_delivery", reminded)


def test_a_purchase_before_the_first_step_sends_nothing(client, shop, flow):
    with time_machine.travel(NOW, tick=False):
        server(
            client,
            shop,
            "/api/v1/identify",
            {"phone": "+33612345678", "vid": PHONE_VID, "consent": CONSENT},
        )
        collect(client, shop, PHONE_VID, cart_event())
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        collect(client, shop, PHONE_VID, purchase())
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert run_pass(deliver_inline=True).planned == 0
    assert not Send.objects.exists()
    assert Conversion.objects.get().attribution == "none"


def test_an_order_seen_twice_is_one_conversion_and_converts_no_other_cart(client, shop, reminded):
    tap(client, reminded, NOW + timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        collect(client, shop, PHONE_VID, purchase("O-7", 59.9))
        # A new cart, then the thank-you page reloaded and the shop's server reporting it.
        collect(client, shop, PHONE_VID, cart_event("c2", 12.0), purchase("O-7", 59.9))
        answer = server(
            client,
            shop,
            "/api/v1/purchases",
            {"order_id": "O-7", "total": 59.9, "currency": "EUR", "vid": PHONE_VID},
        )
    assert answer.json()["cart_converted"] is False
    assert Conversion.objects.count() == 1
    assert Cart.objects.get(external_id="c2").status == Cart.Status.OPEN


def test_the_attribution_window_edge(client, shop, reminded):
    tapped = NOW + timedelta(hours=1)
    tap(client, reminded, tapped)
    window = timedelta(days=shop.site.attribution_window_days)
    on_edge = record_purchase(
        site=shop.site,
        order_id="edge",
        total=Decimal("10"),
        currency="EUR",
        visitor_id=None,
        cart_id=None,
        phone="+33612345678",
        at=tapped + window,
    )
    past_edge = record_purchase(
        site=shop.site,
        order_id="late",
        total=Decimal("10"),
        currency="EUR",
        visitor_id=None,
        cart_id=None,
        phone="+33612345678",
        at=tapped + window + timedelta(seconds=1),
    )
    assert (on_edge.attribution, on_edge.send) == ("clicked", reminded)
    assert (past_edge.attribution, past_edge.send) == ("none", None)


def test_after_delivery_lasts_24_hours(shop, reminded):
    sent_at = reminded.sent_at
    inside = record_purchase(
        site=shop.site,
        order_id="in",
        total=Decimal("5"),
        currency="EUR",
        visitor_id=None,
        cart_id=None,
        phone="+33612345678",
        at=sent_at + timedelta(hours=24),
    )
    outside = record_purchase(
        site=shop.site,
        order_id="out",
        total=Decimal("5"),
        currency="EUR",
        visitor_id=None,
        cart_id=None,
        phone="+33612345678",
        at=sent_at + timedelta(hours=24, seconds=1),
    )
    assert (inside.attribution, outside.attribution) == ("after_delivery", "none")


def test_a_link_preview_does_not_earn_the_sale(client, shop, reminded):
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        client.get(f"/s/{reminded.short_link.code}", HTTP_USER_AGENT="facebookexternalhit/1.1")
    assert not Click.objects.exists()
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        collect(client, shop, PHONE_VID, purchase())
    assert Conversion.objects.get().attribution == "none"


def test_a_held_out_cart_that_converts_is_counted_for_the_uplift(client, shop, flow):
    flow.holdout_percent = 100
    flow.save()
    with time_machine.travel(NOW, tick=False):
        server(
            client,
            shop,
            "/api/v1/identify",
            {"phone": "+33612345678", "vid": PHONE_VID, "consent": CONSENT},
        )
        collect(client, shop, PHONE_VID, cart_event())
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        assert run_pass(deliver_inline=True).held_out == 1
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        collect(client, shop, PHONE_VID, purchase())
    conversion = Conversion.objects.get()
    assert conversion.attribution == "holdout"
    assert conversion.send.status == SendStatus.HELD_OUT
    assert not ShortLink.objects.exists()


def test_a_server_purchase_by_phone_alone_ends_the_customers_flow(client, shop, reminded):
    tap(client, reminded, NOW + timedelta(hours=1))
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        answer = server(
            client,
            shop,
            "/api/v1/purchases",
            {"order_id": "S-1", "total": 80, "currency": "EUR", "phone": "06 12 34 56 78"},
        )
    assert answer.status_code == 200
    conversion = Conversion.objects.get()
    assert (conversion.attribution, conversion.send, conversion.cart) == (
        "clicked",
        reminded,
        reminded.cart,
    )
    assert Cart.objects.get(pk=reminded.cart_id).status == Cart.Status.CONVERTED

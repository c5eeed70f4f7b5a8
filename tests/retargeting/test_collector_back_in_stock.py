"""``POST /t/e`` with ``back_in_stock``: the door, its limits, the request recorded.

Run against both collector servers (tests/retargeting/test_collector_loop.py imports them).
The whole journey (confirmation, restock, alert) is tests/campaigns/test_back_in_stock.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from campaigns.models import StockRequest
from optin.models import Contact, VisitorLink
from retargeting.tracking.models import Event, Product
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
ORIGIN = "https://www.shop.example"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ASKED = {"granted": True, "text": "Prévenez-moi de son retour", "source": "product_page"}


@pytest.fixture
def stock_shop():
    return SiteFactory(allowed_domains=["shop.example"])


def want(client, site, *, vid="a" * 32, extra=(), **fields):
    event = {"type": "back_in_stock", "product": {"id": "P1"}, "consent": ASKED, **fields}
    body = {"site": site.public_key, "vid": vid, "events": [*extra, event]}
    return client.post("/t/e", data=json.dumps(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN)


@time_machine.travel(AT, tick=False)
def test_a_back_in_stock_request_is_recorded_unconfirmed_with_its_proof(client, stock_shop):
    view = {"type": "page_view", "url": "https://www.shop.example/p/chemise"}
    response = want(client, stock_shop, phone="06 12 34 56 78", extra=[view])
    assert response.status_code == 204
    [request] = StockRequest.objects.select_related("contact", "product")
    assert (request.contact.phone, request.channel, request.confirmed_at) == (
        "+33612345678",
        "sms",
        None,
    )
    assert (request.text, request.source) == (ASKED["text"], "product_page")
    assert request.expires_at == AT + timedelta(days=90)
    assert request.visitor is not None and request.visitor.vid == "a" * 32
    assert request.product == Product.objects.get(site=stock_shop, external_id="P1")
    # The page view beside it is stored; the request is not an event; nothing is consented
    # or linked.
    assert list(Event.objects.values_list("type", flat=True)) == ["page_view"]
    assert request.contact.consent_status == Contact.NO_CONSENT
    assert not VisitorLink.objects.exists()


def test_a_landline_or_two_requests_in_one_batch_are_refused_and_nothing_is_recorded(
    client, stock_shop
):
    assert want(client, stock_shop, phone="01 23 45 67 89").status_code == 400
    twice = [{"type": "back_in_stock", "product": {"id": "P2"}, "email": "a@example.fr"}]
    response = want(client, stock_shop, email="b@example.fr", extra=twice)
    assert response.status_code == 400
    assert "at most one back_in_stock" in response.json()["error"]
    assert not StockRequest.objects.exists() and not Contact.objects.exists()
    assert want(client, stock_shop, email="b@example.fr").status_code == 204  # control
    assert StockRequest.objects.count() == 1


def test_requests_spend_the_site_s_daily_confirmations(client, stock_shop):
    stock_shop.confirmations_per_day = 1
    stock_shop.save()
    assert want(client, stock_shop, email="a@example.fr").status_code == 204
    refused = want(client, stock_shop, email="b@example.fr", vid="b" * 32)
    assert refused.status_code == 429
    assert list(StockRequest.objects.values_list("contact__email", flat=True)) == ["a@example.fr"]

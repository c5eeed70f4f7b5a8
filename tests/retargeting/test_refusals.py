"""What the collector refused, kept (masked) for the installation page's live check.

Both collector servers (Django's view and the collector's event loop) keep the same refusals:
every test runs once with each.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from retargeting.tracking.models import Event, Refusal
from retargeting.tracking.refusals import mask_typed, masked_reason
from retargeting.tracking.retention import purge_old_refusals
from tests.factories import SiteFactory
from tests.support.loop_client import LoopClient

pytestmark = pytest.mark.django_db
ORIGIN = "https://www.shop.example"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONSENT = {"granted": True, "text": "J'accepte les SMS de la boutique.", "source": "checkout"}


@pytest.fixture(params=["django", "loop"])
def client(request):
    return Client() if request.param == "django" else LoopClient()


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"], country="FR")


def identify(client, site, phone, *, vid="0123456789abcdef0123456789abcdef", ip="203.0.113.9"):
    body = {
        "site": site.public_key,
        "vid": vid,
        "events": [{"type": "identify", "phone": phone, "consent": CONSENT}],
    }
    return client.post(
        "/t/e",
        data=json.dumps(body),
        content_type="text/plain",
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR=ip,
    )


@time_machine.travel(NOW, tick=False)
def test_a_refused_landline_is_kept_with_its_reason_and_the_number_masked(client, shop):
    response = identify(client, shop, "01 23 45 67 89")
    assert response.status_code == 400
    assert "not a mobile number" in response.json()["error"]
    refusal = Refusal.objects.get()
    assert (refusal.site, refusal.type, refusal.source) == (shop, "identify", "snippet")
    assert refusal.received_at == NOW
    assert "not a mobile number" in refusal.reason
    assert "01 23 45 •• ••" in refusal.reason
    assert "67 89" not in refusal.reason and "0123456789" not in refusal.reason
    assert not Event.objects.exists()


def test_a_number_from_another_country_is_kept_with_the_sites_countries(client, shop):
    assert identify(client, shop, "+44 7911 123456").status_code == 400
    reason = Refusal.objects.get().reason
    assert "FR (this site's countries)" in reason
    assert "123456" not in reason


def test_a_refusal_over_the_confirmation_limit_is_kept_too(client, shop):
    shop.confirmations_per_visitor_per_day = 1
    shop.save()
    assert identify(client, shop, "06 12 34 56 78").status_code == 204
    over = identify(client, shop, "06 12 34 56 79")
    assert over.status_code == 429
    [refusal] = Refusal.objects.all()
    assert refusal.reason == over.json()["error"]
    assert "56 79" not in refusal.reason


def test_an_accepted_identify_or_a_malformed_batch_keeps_no_refusal(client, shop):
    assert identify(client, shop, "06 12 34 56 78").status_code == 204
    assert Event.objects.filter(type="identify").count() == 1
    # A batch refused before its site and rate limit are known keeps nothing (a flood of
    # them must not fill a table).
    assert identify(client, shop, {"not": "text"}).status_code == 400
    assert not Refusal.objects.exists()


def test_refusals_are_purged_after_thirty_days():
    site = SiteFactory()
    for days in (31, 29):
        Refusal.objects.create(
            site=site, type="identify", reason=f"{days}", received_at=NOW - timedelta(days=days)
        )
    assert purge_old_refusals(now=NOW) == 1
    assert list(Refusal.objects.values_list("reason", flat=True)) == ["29"]


def test_what_a_shopper_typed_is_masked_as_the_logs_mask_a_number():
    assert mask_typed("+33612345678") == "+3361234••••"
    assert mask_typed("06 12 34 56 78") == "06 12 34 •• ••"
    assert mask_typed("marie@shop.example") == "••••"
    assert mask_typed("12345") == "••••"
    typed = [{"type": "identify", "phone": "  marie@shop.example "}]
    assert masked_reason("'marie@shop.example' is not a phone number.", typed) == (
        "'••••' is not a phone number."
    )
    # A number the reason quotes from elsewhere is masked too; small figures stay.
    assert masked_reason("see +44 7700 900123, at most 64 KiB", []) == (
        "see +44 7700 90••••, at most 64 KiB"
    )

"""The messages list and a message's page in Chromium at a phone's width: every row a card,
nothing scrolls sideways (the list was cut off at 390 px)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import Click, Conversion, SendEvent, SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    StepFactory,
    VisitorFactory,
    VisitorLinkFactory,
)
from tests.support.browser import sideways

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]


@pytest.fixture
def signed_in(page, live_server, site):
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    now = timezone.now()
    step = StepFactory(flow__site=site, flow__name="Relance du panier abandonné, deuxième essai")
    for index in range(4):
        send = SendFactory(
            site=site,
            step=step,
            contact__site=site,
            contact__first_name="Marie-Antoinette",
            cart__visitor__site=site,
            cart__external_id=f"panier-tres-long-identifiant-{index:04d}-ABCDEFGHIJ",
            status=SendStatus.DELIVERED,
            sent_at=now - timedelta(hours=2),
            subject="Votre panier vous attend toujours chez nous",
        )
        SendEvent.objects.create(
            send=send, status=SendStatus.DELIVERED, source="provider", at=now - timedelta(hours=2)
        )
        link = ShortLink.objects.create(
            send=send,
            code=f"b{send.pk}",
            target_url="https://shop.example/panier",
            created_at=now,
            expires_at=now + timedelta(days=30),
        )
        Click.objects.create(link=link, at=now - timedelta(hours=1))
        Conversion.objects.create(
            site=site,
            order_id=f"commande-{send.pk}",
            total=Decimal("1234.50"),
            currency="EUR",
            send=send,
            attribution=Conversion.Attribution.CLICKED,
            occurred_at=now - timedelta(minutes=30),
        )
    stopped = ContactFactory(site=site, phone="+33611111111")
    record_consent(contact=stopped, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API)
    record_consent(contact=stopped, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    visitor = VisitorFactory(site=site)
    VisitorLinkFactory(visitor=visitor, contact=stopped)
    CartFactory(visitor=visitor, external_id="4711", last_change_at=now - timedelta(hours=2))
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/sends/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/sends/")
    return page, send


@pytest.mark.parametrize("width", [390, 1366])
def test_the_messages_list_and_a_message_fit_a_phone(signed_in, live_server, site, width):
    page, send = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/dashboard/sends/?site={site.pk}")
    assert page.locator("table#sends tbody tr").count() == 4
    assert sideways(page) == []
    card = page.locator("table#sends tbody tr").first
    if width == 390:  # a card: each value under its label
        assert card.locator("td.bought").evaluate("td => getComputedStyle(td).display") == "flex"
        assert card.locator("td.bought").get_attribute("data-label") == "Acheté"
        label = card.locator("td.bought").evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"Acheté"', label
    assert "1 234,50 €" in card.inner_text()
    page.goto(f"{live_server.url}/dashboard/sends/?site={site.pk}&q=0611111111")
    assert "Désinscrit (STOP)" in page.inner_text("#unplanned")
    assert sideways(page) == []
    page.goto(f"{live_server.url}/dashboard/sends/{send.pk}/?site={site.pk}")
    assert page.locator("table#history tbody tr").count() == 3  # delivered, tapped, bought
    assert sideways(page) == []
    assert page.console_errors == []

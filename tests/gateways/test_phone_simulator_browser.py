"""The phone simulator in a real Chromium at a phone's width: a message sent after the page
opened appears without a reload, the reply being typed stays, nothing scrolls sideways."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils import timezone

from retargeting.gateways import passes
from retargeting.gateways.models import OutboxMessage
from tests.factories import ContactFactory, SiteFactory
from tests.support.browser import sideways
from tests.support.screens import shoot

pytest_plugins = ["tests.support.browser"]
pytestmark = pytest.mark.django_db(transaction=True)
MARIE = "+33612345678"
PAUL = "+33698765432"


def _out(to, body):
    OutboxMessage.objects.create(
        provider_id=f"OB{to}{timezone.now().timestamp()}",
        to=to,
        body=body,
        created_at=timezone.now(),
    )


@pytest.fixture(autouse=True)
def no_pass_yet():
    cache.delete(passes.KEY)
    yield
    cache.delete(passes.KEY)


def test_a_phone_shows_a_new_message_by_itself_and_keeps_the_reply_being_typed(
    live_server, page, development_mode
):
    shop = SiteFactory(name="Maison Lune")
    ContactFactory(site=shop, phone=MARIE, first_name="Marie")
    _out(MARIE, "Bonjour Marie")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/dev/phone/{MARIE}/")
    assert "Marie (Maison Lune)" in page.inner_text("h2")
    page.fill("input[name=body]", "Je vais voi")
    page.evaluate("window.sameDocument = true")
    assert page.locator("text=Votre panier vous attend").count() == 0  # the control

    assert page.inner_text("[data-next-pass]").startswith("No dispatch pass has run yet")

    passes.mark_pass()  # beat's pass starts...
    _out(MARIE, "Votre panier vous attend : https://r.example/s/Ab3dE5fG")  # ...and sends

    page.wait_for_selector("text=Votre panier vous attend", timeout=15_000)
    assert page.inner_text("[data-next-pass]").startswith("Next dispatch pass at ")
    assert page.evaluate("window.sameDocument") is True  # no reload
    assert page.input_value("input[name=body]") == "Je vais voi"
    assert page.locator(".bubble").count() == 2
    assert sideways(page) == []
    assert page.console_errors == []
    shoot(page, "phone-simulator-phone", 390)


def test_the_list_shows_a_new_phone_by_itself(live_server, page, development_mode):
    shop = SiteFactory(name="Maison Lune")
    ContactFactory(site=shop, phone=MARIE, first_name="Marie")
    ContactFactory(site=shop, phone=PAUL, first_name="Paul")
    _out(MARIE, "Bonjour Marie")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/dev/phone/")
    page.evaluate("window.sameDocument = true")
    assert page.locator("text=Paul (Maison Lune)").count() == 0  # the control

    _out(PAUL, "Bienvenue Paul")

    page.wait_for_selector("text=Paul (Maison Lune)", timeout=15_000)
    assert page.evaluate("window.sameDocument") is True
    assert "Bienvenue Paul" in page.inner_text("ul.phones")
    assert page.inner_text("[data-next-pass]").startswith("No dispatch pass has run yet")
    assert sideways(page) == []
    assert page.console_errors == []
    shoot(page, "phone-simulator", 390)

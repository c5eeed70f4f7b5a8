"""/dev/mail/ refreshes by itself and names each recipient, as the phone simulator does; its
list alone may run the page's own script (an email's page runs none)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from retargeting.gateways import get_gateway, passes
from retargeting.gateways.base import Outcome, OutgoingEmail
from tests.factories import ContactFactory, SiteFactory
from tests.support.browser import sideways

pytest_plugins = ["tests.support.browser"]
MARIE = "marie@example.fr"


@pytest.fixture
def outbox(settings):
    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "retargeting.gateways.email_outbox.backend.EmailBackend"
    cache.delete(passes.KEY)


def send(to, subject):
    result = get_gateway("email").send(
        OutgoingEmail(to=to, subject=subject, text="Votre panier", sender="bonjour@shop.example")
    )
    assert result.outcome is Outcome.ACCEPTED


@pytest.mark.django_db
def test_the_list_names_each_recipient_and_its_answer_is_polled(outbox, client, development_mode):
    shop = SiteFactory(name="Maison Lune")
    ContactFactory(site=shop, phone="", email=MARIE, first_name="Marie")
    ContactFactory(site=shop, phone="", email="paul@example.fr", first_name="Paul")  # no email
    send(MARIE, "Votre panier vous attend")
    send("inconnu@example.fr", "Bienvenue")
    index = client.get("/dev/mail/")
    page = index.content.decode()
    assert "Marie (Maison Lune)" in page and "Paul" not in page
    assert "script-src 'self'" in index["Content-Security-Policy"]
    assert "No dispatch pass has run yet" in page
    first = client.get("/dev/mail/live.json").json()
    assert client.get("/dev/mail/live.json").json()["version"] == first["version"]
    send(MARIE, "Dernier rappel")
    later = client.get("/dev/mail/live.json").json()
    assert later["version"] != first["version"] and "Dernier rappel" in later["html"]


@pytest.mark.django_db
def test_the_polled_answer_is_404_without_the_email_outbox(client, settings, development_mode):
    settings.EMAIL_PROVIDER = "smtp"
    assert client.get("/dev/mail/live.json").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_new_email_appears_without_a_reload_on_a_phone(
    outbox, live_server, page, development_mode
):
    shop = SiteFactory(name="Maison Lune")
    ContactFactory(site=shop, phone="", email=MARIE, first_name="Marie")
    send(MARIE, "Votre panier vous attend")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/dev/mail/")
    page.evaluate("window.sameDocument = true")
    assert page.locator("text=Dernier rappel").count() == 0  # the control

    send(MARIE, "Dernier rappel")

    page.wait_for_selector("text=Dernier rappel", timeout=15_000)
    assert page.evaluate("window.sameDocument") is True
    assert sideways(page) == []
    assert page.console_errors == []

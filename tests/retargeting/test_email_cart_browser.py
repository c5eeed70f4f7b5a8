"""The bridge in Chromium, on a phone: the ready-made form pushes ``email_cart`` through the
snippet's queue, the page hears the answer, and the cart's email is planned."""

from __future__ import annotations

import json
from unittest import mock
from urllib.parse import urlsplit

import pytest

from campaigns.models import Send, Trigger
from retargeting.tracking.models import Cart
from tests.factories import SiteFactory
from tests.support.processes import wait_for

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1"
CART = {
    "id": "phone-cart",
    "currency": "EUR",
    "total": 49.9,
    "items": [{"sku": "CH-01", "name": "Chemise en lin", "price": 49.9, "quantity": 1}],
}


@pytest.fixture
def phone(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, user_agent=IPHONE
    )
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def worker():
    with mock.patch("campaigns.tasks.deliver_send.delay") as delay:
        yield delay


def shop_page(page, live_server, site, *, lang="fr", extra=""):
    """A shop's cart page: the snippet, the cart, the form's tag (``data-phones-only``), and a
    listener for the snippet's ``relance:email_cart`` event."""
    html = f"""<!doctype html><html lang="{lang}"><title>Panier</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>window.relance = window.relance || [];
relance.push(["cart", {json.dumps({**CART, "url": live_server.url + "/panier"})}]);
window.heard = [];
document.addEventListener("relance:email_cart", function (e) {{ heard.push(e.detail); }});
</script>
<script async src="/t.js" data-site="{site.public_key}"></script>
<h1>Votre panier</h1>
<script src="/t/email-cart.js" data-phones-only {extra}></script>"""
    page.route(
        f"{live_server.url}/panier",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page.goto(f"{live_server.url}/panier")


def test_a_phone_asks_for_its_cart_by_email_and_hears_it_is_sent(phone, live_server, worker):
    site = SiteFactory(allowed_domains=[urlsplit(live_server.url).hostname])
    shop_page(phone, live_server, site)
    # The shopper types after the cart was recorded (its batch is sent within seconds).
    assert wait_for(
        lambda: Cart.objects.filter(site=site, external_id="phone-cart").exists(), timeout=15
    )
    field = phone.get_by_label("Votre adresse email")
    assert field.get_attribute("type") == "email"
    assert field.get_attribute("autocomplete") == "email"
    field.fill("Marie.Dupont@Example.fr")
    phone.get_by_role("button", name="Recevoir mon panier").click()
    status = phone.get_by_role("status")
    status.filter(has_text="C'est envoyé").wait_for()
    assert phone.evaluate("heard") == [{"ok": True, "type": "email_cart", "status": 204}]
    send = Send.objects.select_related("cart", "contact").get(
        step__flow__trigger=Trigger.EMAIL_CART
    )
    assert (send.cart.external_id, send.contact.email, send.channel, send.status) == (
        "phone-cart",
        "marie.dupont@example.fr",
        "email",
        "planned",
    )
    assert wait_for(lambda: worker.call_args == mock.call(send.pk), timeout=15)
    assert phone.console_errors == []


def test_a_mistyped_address_is_said_so_and_nothing_is_planned(phone, live_server, worker):
    site = SiteFactory(allowed_domains=[urlsplit(live_server.url).hostname])
    shop_page(phone, live_server, site, lang="en")
    assert wait_for(lambda: Cart.objects.filter(site=site).exists(), timeout=15)
    # Passes the browser's own check, refused by the collector (no dot in the domain).
    phone.get_by_label("Your email address").fill("marie@example")
    phone.get_by_role("button", name="Send me my cart").click()
    alert = phone.get_by_role("status").filter(has_text="does not look right")
    alert.wait_for()
    assert phone.get_by_label("Your email address").get_attribute("aria-invalid") == "true"
    heard = phone.evaluate("heard")
    assert [(h["ok"], h["status"]) for h in heard] == [(False, 400)]
    assert not Send.objects.exists()


def test_the_form_stays_off_wide_screens_when_it_is_for_phones_only(page, live_server):
    site = SiteFactory(allowed_domains=[urlsplit(live_server.url).hostname])
    shop_page(page, live_server, site)
    page.wait_for_load_state("load")
    assert page.locator("form.relance-email-cart").count() == 0
    assert page.console_errors == []

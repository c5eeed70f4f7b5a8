"""The demo shop tells the truth, in a real browser: it uses the snippet exactly as
docs/install-snippet.md documents it (cookie consent included), rebuilds a reminded cart on
another phone from the reminder's link, says why a number was refused, and writes prices as a
French shop does."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from optin.models import Contact
from retargeting.demoshop.views import DEMO_SITE_NAME
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart, Event
from tests.support.browser import sideways
from tests.support.owner import answer
from tests.support.processes import wait_for

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "install-snippet.md"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile"
# The calls docs/install-snippet.md documents, by name.
DOCUMENTED = set(re.findall(r'relance\.push\(\["(\w+)"', DOCS.read_text(encoding="utf-8")))
PAGES = ["/demo/shop/", "/demo/shop/p/CH-01/", "/demo/shop/p/FO-11/", "/demo/shop/panier/"]


@pytest.fixture
def demo(live_server, development_mode):
    call_command("demo", stdout=StringIO())
    return Site.objects.get(name=DEMO_SITE_NAME)


def wait_until(condition, timeout=15.0):
    return wait_for(condition, timeout=timeout, interval=0.2)


def events(site, **filters):
    return list(Event.objects.filter(site=site, **filters).order_by("id"))


def accept_cookies(page):
    page.click("#cookies button[data-choice='yes']")


def answered(page):
    """What the form says once the collector answered (not "Envoi…")."""
    page.wait_for_function("!['', 'Envoi…'].includes(document.getElementById('saved').textContent)")
    return page.inner_text("#saved")


def test_the_demo_pages_use_the_documented_tag_and_calls_only(page, live_server, demo):
    assert {"consent", "cart", "identify", "restore", "purchase"} <= DOCUMENTED
    # The tag as the installation page prints it for this site (it waits for consent: FR).
    tag = (
        f'<script async src="{live_server.url}/t.js" data-site="{demo.public_key}" '
        'data-consent="required"></script>\n'
        "  <script>window.relance = window.relance || [];</script>"
    )
    assert demo.cookie_consent_required
    sent = []
    page.on("request", lambda r: "/t/e" in r.url and sent.append(r.url))
    for path in [*PAGES, "/demo/shop/merci/"]:
        html = page.context.request.get(f"{live_server.url}{path}").text()
        assert tag in html, path
        assert html.count("t.js") == 1, path
        # Every use of the snippet's global is a documented call: no private shortcut.
        uses = re.findall(r"relance\b[^;\n]{0,40}", html.split(tag, 1)[1])
        assert uses and all(u.startswith("relance.push([") for u in uses), (path, uses)
        names = set(re.findall(r'relance\.push\(\["(\w+)"', html))
        assert names <= DOCUMENTED, (path, names - DOCUMENTED)
    # Nothing leaves the page before the visitor says yes (control: after, the events come).
    page.goto(f"{live_server.url}/demo/shop/")
    page.click("button[data-sku='CH-01']")
    page.wait_for_timeout(3500)
    assert sent == [] and events(demo) == []
    accept_cookies(page)
    assert wait_until(lambda: events(demo, type="cart"))
    assert [e.type for e in events(demo)] == ["page_view", "cart"]
    # The choice is kept by the shop's banner: the next page sends at once, no banner.
    page.goto(f"{live_server.url}/demo/shop/panier/")
    assert page.is_hidden("#cookies")
    assert wait_until(lambda: len(events(demo, type="page_view")) == 2)
    assert page.console_errors == []


def test_the_demo_pages_fit_a_phone(page, live_server, demo):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/demo/shop/")
    assert page.is_visible("#cookies")  # the banner, on a phone too
    assert sideways(page) == []
    accept_cookies(page)
    page.click("button[data-sku='CH-01']")
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        assert sideways(page) == [], path
    # Nothing in flight when the test ends: a page's events still being written while the
    # test's database is emptied deadlock it (PostgreSQL), and the next test sees them.
    page.wait_for_load_state("networkidle")
    count = len(events(demo))
    page.wait_for_timeout(600)
    assert len(events(demo)) == count


def test_a_refusal_sends_nothing(page, live_server, demo):
    page.goto(f"{live_server.url}/demo/shop/")
    page.click("#cookies button[data-choice='no']")
    page.click("button[data-sku='CH-01']")
    page.goto(f"{live_server.url}/demo/shop/panier/")
    page.wait_for_timeout(3500)
    assert events(demo) == []
    assert page.context.cookies() == [] or all(
        c["name"] != "_relance_vid" for c in page.context.cookies()
    )
    # The shop's own cart still works without Relance.
    assert "Chemise en lin" in page.inner_text("#lines")


def test_the_reminders_link_rebuilds_the_cart_on_another_phone(browser, live_server, demo):
    phone = "06 98 76 54 32"
    first = browser.new_context()
    page = first.new_page()
    page.goto(f"{live_server.url}/demo/shop/")
    accept_cookies(page)
    page.click("button[data-sku='CH-01']")
    page.click("button[data-sku='CH-01']")
    page.click("button[data-sku='SA-03']")
    page.goto(f"{live_server.url}/demo/shop/panier/")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=first_name]", "Zoé")
    page.check("#consent")
    page.click("#checkout button[type=submit]")
    assert answered(page) == "Enregistré."
    cart = wait_until(lambda: Cart.objects.filter(site=demo, item_count=3).first())
    contact = wait_until(lambda: Contact.objects.filter(site=demo, phone="+33698765432").first())
    assert cart and contact
    answer(demo, contact.phone, "OUI")  # the double opt-in's confirmation
    first.close()
    from campaigns.dispatch import run_pass

    with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=False):
        run_pass(deliver_inline=True)
    (reminder,) = [
        m.body for m in OutboxMessage.objects.filter(to=contact.phone) if "/s/" in m.body
    ]
    code = re.search(r"/s/(\w+)", reminder).group(1)
    # Another phone: nothing in its cart (control), then the SMS's link.
    other = browser.new_context(user_agent=ANDROID)
    page = other.new_page()
    page.goto(f"{live_server.url}/demo/shop/panier/")
    assert page.inner_text("#lines").strip() == ""
    page.goto(f"{live_server.url}/s/{code}")
    page.wait_for_selector("#lines td")
    lines = page.inner_text("#lines")
    assert "Chemise en lin" in lines and "× 2" in lines and "Sac en toile" in lines
    expect(page.locator("#total")).to_have_text("84,40\u00a0€")
    assert "_rc=" not in page.url
    # Once this phone's visitor says yes to cookies, the shop reports the cart it rebuilt, and
    # the link's contact token ties this phone to the customer.
    accept_cookies(page)
    same = Cart.objects.filter(site=demo, external_id=cart.external_id)
    assert wait_until(lambda: same.count() == 2)
    assert wait_until(lambda: same.filter(visitor__contact_link__contact=contact).count() == 2)
    # It stays this phone's cart: the shop page's badge counts it.
    page.goto(f"{live_server.url}/demo/shop/")
    expect(page.locator("#badge")).to_have_text("3")
    other.close()
    with time_machine.travel(timezone.now() + timedelta(minutes=30), tick=False):
        run_pass(deliver_inline=True)
    reminders = [m for m in OutboxMessage.objects.filter(to=contact.phone) if "/s/" in m.body]
    assert len(reminders) == 1, [m.body for m in reminders]


def test_a_refused_number_says_why_and_an_accepted_one_is_saved(page, live_server, demo):
    page.goto(f"{live_server.url}/demo/shop/")
    accept_cookies(page)
    page.click("button[data-sku='CH-01']")
    page.goto(f"{live_server.url}/demo/shop/panier/")
    page.fill("input[name=phone]", "01 23 45 67 89")  # a landline
    page.check("#consent")
    page.click("#checkout button[type=submit]")
    said = answered(page)
    assert "Enregistré" not in said and "mobile" in said and "expected" not in said, said
    assert not Contact.objects.filter(site=demo, phone="+33123456789").exists()
    # Without the box ticked nothing is sent, and the page says so (not "Enregistré.").
    page.uncheck("#consent")
    page.fill("input[name=phone]", "06 98 76 54 31")
    page.click("#checkout button[type=submit]")
    page.wait_for_function("!document.getElementById('saved').textContent.includes('mobile')")
    assert "Enregistré" not in page.inner_text("#saved")
    # Control: a mobile number, the box ticked: stored, and only then "Enregistré.".
    page.check("#consent")
    page.click("#checkout button[type=submit]")
    page.wait_for_function("document.getElementById('saved').textContent === 'Enregistré.'")
    assert wait_until(lambda: Contact.objects.filter(site=demo, phone="+33698765431").exists())
    # The back-in-stock form says why too, in French.
    page.goto(f"{live_server.url}/demo/shop/p/FO-11/")
    page.fill("#stock-alert input[name=phone]", "01 23 45 67 89")
    page.check("#stock-consent")
    page.click("#stock-alert button[type=submit]")
    page.wait_for_selector("#stock-saved:not([hidden])")
    said = page.inner_text("#stock-saved")
    assert "mobile" in said and "expected" not in said and "noté" not in said, said


def test_prices_read_as_a_french_shop_writes_them(page, live_server, demo):
    page.goto(f"{live_server.url}/demo/shop/")
    accept_cookies(page)
    text = page.inner_text("main")
    assert "19,90\u00a0€" in text and "29,95\u00a0€" in text and "89,00\u00a0€" in text
    assert not re.search(r"\d\.\d", text), text
    page.goto(f"{live_server.url}/demo/shop/p/FO-11/")
    assert "19,90\u00a0€" in page.inner_text("main")
    page.goto(f"{live_server.url}/demo/shop/p/CH-01/")
    assert "29,95\u00a0€" in page.inner_text("main")
    page.click("button[data-sku='CH-01']")
    page.click("button[data-sku='CH-01']")
    page.goto(f"{live_server.url}/demo/shop/panier/")
    # The cart page writes its lines from the browser's cart: read once it has (a loaded
    # machine runs the page's script later than the page's load).
    expect(page.locator("#lines")).to_contain_text("29,95\u00a0€")
    expect(page.locator("#total")).to_have_text("59,90\u00a0€")
    page.click("#pay")
    page.wait_for_url("**/demo/shop/merci/")
    expect(page.locator("#order")).to_contain_text("59,90\u00a0€")
    # The purchase the thanks page tells Relance (and nothing in flight when the test ends).
    assert wait_until(lambda: Cart.objects.filter(site=demo, status="converted").exists())

"""The snippet in a real browser: the demo shop, queued calls, flushes, consent mode."""

from __future__ import annotations

import json
import time
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from retargeting.demoshop.views import CONSENT_TEXT, DEMO_SITE_NAME
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart, Event
from tests.support.processes import wait_for

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(live_server, development_mode):
    call_command("demo", stdout=StringIO())
    return Site.objects.get(name=DEMO_SITE_NAME)


def wait_until(condition, timeout=15.0):
    return wait_for(condition, timeout=timeout, interval=0.2)


def events(site, **filters):
    return list(Event.objects.filter(site=site, **filters).order_by("id"))


def visit(page, url):
    """Open a demo shop page, saying yes to its cookie banner the first time (the demo's site
    waits for cookie consent, as a French shop's tag does)."""
    page.goto(url)
    if page.is_visible("#cookies"):
        page.click("#cookies button[data-choice='yes']")


def serve(page, live_server, path, html):
    """Answer ``path`` on the live server's origin with ``html``: a shop page of our own."""
    page.route(
        f"{live_server.url}{path}",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )


def test_the_demo_shop_records_page_views_and_cart_changes(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/")
    assert wait_until(lambda: events(demo, type="page_view"))
    page.click("button[data-sku='CH-01']")
    page.click("button[data-sku='VE-07']")
    page.click("button[data-sku='CH-01']")
    cart = wait_until(lambda: Cart.objects.filter(site=demo, item_count=3).first())
    assert cart, list(Cart.objects.values("item_count"))
    assert {item["sku"]: item["quantity"] for item in cart.items} == {"CH-01": 2, "VE-07": 1}
    assert str(cart.total) == "148.90"
    assert cart.url.startswith(live_server.url + "/demo/shop/panier/?restore=")
    assert page.console_errors == []


def test_checkout_sends_the_consent_wording_and_the_purchase_converts_the_cart(
    page, live_server, demo
):
    visit(page, f"{live_server.url}/demo/shop/")
    page.click("button[data-sku='SA-03']")
    page.click("#cart-link")
    page.fill("input[name=first_name]", "Marie")
    page.fill("input[name=phone]", "06 12 34 56 78")
    page.check("#consent")
    page.click("#checkout button[type=submit]")
    identify = wait_until(lambda: events(demo, type="identify"))
    assert identify[0].payload["phone"] == "+33612345678"
    assert identify[0].payload["consent"] == {
        "granted": True,
        "text": CONSENT_TEXT,
        "source": "checkout",
    }
    page.click("#pay")
    page.wait_for_url("**/demo/shop/merci/")
    assert wait_until(lambda: events(demo, type="purchase"))
    assert wait_until(lambda: Cart.objects.filter(site=demo, status="converted").exists())
    assert page.console_errors == []


def test_an_unticked_consent_box_sends_no_number(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/panier/")
    page.fill("input[name=phone]", "06 12 34 56 78")
    page.click("#checkout button[type=submit]")
    visit(page, f"{live_server.url}/demo/shop/")
    assert wait_until(lambda: len(events(demo, type="page_view")) >= 2)
    assert events(demo, type="identify") == []


def test_calls_pushed_before_the_script_loads_are_replayed_in_order(page, live_server, demo):
    cart = {
        "id": "early",
        "currency": "EUR",
        "total": 10,
        "items": [{"sku": "X", "name": "Early", "price": 10, "quantity": 1}],
    }
    serve(
        page,
        live_server,
        "/early",
        f"""<!doctype html><title>Early</title>
<script>window.relance = window.relance || [];
relance.push(["cart", {json.dumps(cart)}]);
relance.push(["purchase", {{"order_id": "E1", "total": 10, "currency": "EUR"}}]);</script>
<script async src="/t.js" data-site="{demo.public_key}"></script>""",
    )
    page.goto(f"{live_server.url}/early")
    assert wait_until(lambda: events(demo, type="purchase"))
    assert [e.type for e in events(demo)] == ["page_view", "cart", "purchase"]
    assert Cart.objects.get(site=demo, external_id="early").status == "converted"
    assert page.console_errors == []


def test_events_still_in_the_buffer_are_sent_when_the_visitor_leaves(page, live_server, demo):
    serve(
        page,
        live_server,
        "/leave",
        f"""<!doctype html><title>Leave</title>
<script async src="/t.js" data-site="{demo.public_key}"></script>
<script>window.relance = window.relance || [];
function addToCart() {{ relance.push(["cart", {{"id": "bye", "currency": "EUR", "total": 5,
  "items": [{{"sku": "B", "name": "Bye", "price": 5, "quantity": 1}}]}}]); }}</script>""",
    )
    page.goto(f"{live_server.url}/leave")
    assert wait_until(lambda: events(demo, type="page_view"))
    page.evaluate("addToCart()")
    # Leave at once, long before the 3-second flush timer.
    page.goto(f"{live_server.url}/")
    assert wait_until(lambda: Cart.objects.filter(site=demo, external_id="bye").exists())


def test_with_consent_required_nothing_is_stored_or_sent_before_consent(page, live_server, demo):
    serve(
        page,
        live_server,
        "/consent",
        f"""<!doctype html><title>Consent</title>
<script>window.relance = window.relance || [];
relance.push(["cart", {{"id": "c1", "currency": "EUR", "total": 5,
  "items": [{{"sku": "C", "name": "C", "price": 5, "quantity": 1}}]}}]);</script>
<script async src="/t.js" data-site="{demo.public_key}" data-consent="required"></script>""",
    )
    requests = []
    page.on("request", lambda r: ("/t/e" in r.url or "/t/p.gif" in r.url) and requests.append(r))
    page.goto(f"{live_server.url}/consent")
    page.wait_for_function("window.relance && window.relance.loaded === true")
    time.sleep(4)  # longer than the flush interval
    assert events(demo) == [] and requests == []
    assert not [c for c in page.context.cookies() if c["name"] == "_relance_vid"]
    assert page.evaluate("localStorage.getItem('_relance_vid')") is None
    page.evaluate("relance.push(['consent', {tracking: true}])")
    assert wait_until(lambda: Cart.objects.filter(site=demo, external_id="c1").exists())
    assert [e.type for e in events(demo)] == ["page_view", "cart"]
    assert [c for c in page.context.cookies() if c["name"] == "_relance_vid"]
    assert requests  # and the request that carried them was seen, so the check above can fail


def test_the_visitor_id_is_a_first_party_cookie_for_at_most_13_months(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/")
    assert wait_until(lambda: events(demo, type="page_view"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "_relance_vid")
    assert cookie["sameSite"] == "Lax"
    assert cookie["domain"] == urlsplit(live_server.url).hostname
    assert 394 * 86400 < cookie["expires"] - time.time() <= 395 * 86400
    assert len(cookie["value"]) == 32
    assert events(demo)[0].visitor.vid == cookie["value"]
    stored = json.loads(page.evaluate("localStorage.getItem('_relance_vid')"))
    assert stored["v"] == cookie["value"]
    # The same visitor on the next page.
    visit(page, f"{live_server.url}/demo/shop/panier/")
    assert wait_until(lambda: len(events(demo, type="page_view")) == 2)
    assert {e.visitor_id for e in events(demo)} == {events(demo)[0].visitor_id}


def test_a_cleared_cookie_comes_back_from_the_mirror_without_a_longer_life(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/")
    assert wait_until(lambda: events(demo, type="page_view"))
    vid = next(c["value"] for c in page.context.cookies() if c["name"] == "_relance_vid")
    # Mirrored as born 200 days ago: a visit today must not give it 13 more months.
    born = (time.time() - 200 * 86400) * 1000
    page.evaluate(
        f"localStorage.setItem('_relance_vid', JSON.stringify({{v: '{vid}', t: {born}}}))"
    )
    page.context.clear_cookies()
    visit(page, f"{live_server.url}/demo/shop/panier/")
    assert wait_until(lambda: len(events(demo, type="page_view")) == 2)
    cookie = next(c for c in page.context.cookies() if c["name"] == "_relance_vid")
    assert cookie["value"] == vid
    assert 194 * 86400 < cookie["expires"] - time.time() <= 195 * 86400
    assert {e.visitor.vid for e in events(demo)} == {vid}


def test_with_the_cookie_set_a_page_does_not_touch_local_storage(page, live_server, demo):
    page.add_init_script(
        """window.storageCalls = 0;
        for (const name of ["getItem", "setItem", "removeItem"]) {
          const original = Storage.prototype[name];
          Storage.prototype[name] = function () {
            window.storageCalls++; return original.apply(this, arguments);
          };
        }"""
    )
    tag = f'<script async src="/t.js" data-site="{demo.public_key}"></script>'
    serve(page, live_server, "/first", f"<!doctype html><title>First</title>{tag}")
    serve(page, live_server, "/next", f"<!doctype html><title>Next</title>{tag}")
    page.goto(f"{live_server.url}/first")
    assert wait_until(lambda: events(demo, type="page_view"))
    assert page.evaluate("window.storageCalls") >= 2  # read, then mirrored: the count can fail
    page.goto(f"{live_server.url}/next")
    assert wait_until(lambda: len(events(demo, type="page_view")) == 2)
    assert page.evaluate("window.relance.loaded") is True
    assert page.evaluate("window.storageCalls") == 0
    assert {e.visitor_id for e in events(demo)} == {events(demo)[0].visitor_id}


def test_a_short_link_token_is_sent_and_removed_from_the_address_bar(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/?utm_source=sms&_rl=signed.token-value")
    identify = wait_until(lambda: events(demo, type="identify"))
    assert identify[0].payload == {"type": "identify", "token": "signed.token-value"}
    assert page.url == f"{live_server.url}/demo/shop/?utm_source=sms"


def test_the_snippet_never_throws_into_the_page(page, live_server, demo):
    serve(
        page,
        live_server,
        "/odd",
        f"""<!doctype html><title>Odd</title>
<script>window.relance = window.relance || []; relance.push(null); relance.push(["cart"]);
relance.push(["unknown", 1]); relance.push(["identify", "not an object"]);</script>
<script async src="/t.js" data-site="{demo.public_key}"></script>
<script async src="/t.js" data-site="{demo.public_key}"></script>""",
    )
    page.goto(f"{live_server.url}/odd")
    assert wait_until(lambda: events(demo, type="page_view"))
    time.sleep(1)
    assert page.console_errors == []
    assert page.evaluate("Object.keys(window).filter(k => /relance/i.test(k))") == ["relance"]


def identify_page(key, phone):
    """A shop page with a cart, then an identify of ``phone`` whose answer the page hears
    through the call's callback and through the DOM events."""
    cart = {
        "id": "with-identify",
        "currency": "EUR",
        "total": 29.95,
        "items": [{"sku": "CH-01", "name": "Chemise", "price": 29.95, "quantity": 1}],
    }
    identify = {
        "phone": phone,
        "first_name": "Marie",
        "consent": {"granted": True, "text": CONSENT_TEXT, "source": "checkout"},
    }
    return f"""<!doctype html><title>Checkout</title>
<script>window.told = []; window.heard = []; window.errors = [];
window.addEventListener("relance:identify", function (e) {{ heard.push(e.detail); }});
document.addEventListener("relance:error", function (e) {{ errors.push(e.detail); }});
window.relance = window.relance || [];
relance.push(["cart", {json.dumps(cart)}]);
relance.push(["identify", {json.dumps(identify)}, function (result) {{ told.push(result); }}]);
</script>
<script async src="/t.js" data-site="{key}"></script>"""


def test_a_refused_number_refuses_only_the_identify_and_the_page_is_told_why(
    page, live_server, demo
):
    serve(page, live_server, "/landline", identify_page(demo.public_key, "01 23 45 67 89"))
    page.goto(f"{live_server.url}/landline")
    # The cart and the page view sent with it are stored; only the identify is refused.
    assert wait_until(lambda: Cart.objects.filter(site=demo, external_id="with-identify").exists())
    assert events(demo, type="page_view")
    assert wait_until(lambda: page.evaluate("told.length") == 1)
    told = page.evaluate("told[0]")
    assert told["ok"] is False and told["type"] == "identify"
    assert "not a mobile number" in told["error"]
    # The shop hears it too, without a callback: on window and on document.
    assert page.evaluate("heard") == [told]
    assert page.evaluate("errors") == [told]
    assert events(demo, type="identify") == []


def test_a_mobile_number_is_stored_and_the_page_is_told_it_is(page, live_server, demo):
    serve(page, live_server, "/mobile", identify_page(demo.public_key, "06 12 34 56 78"))
    page.goto(f"{live_server.url}/mobile")
    assert wait_until(lambda: page.evaluate("told.length") == 1)
    assert page.evaluate("told[0]") == {"ok": True, "type": "identify", "status": 204}
    assert page.evaluate("heard") == [{"ok": True, "type": "identify", "status": 204}]
    assert page.evaluate("errors") == []
    assert [e.payload["phone"] for e in events(demo, type="identify")] == ["+33612345678"]
    assert Cart.objects.filter(site=demo, external_id="with-identify").exists()
    assert page.console_errors == []


def test_the_demo_shop_shows_why_a_number_is_refused(page, live_server, demo):
    visit(page, f"{live_server.url}/demo/shop/")
    page.click("button[data-sku='SA-03']")
    page.click("#cart-link")
    page.fill("input[name=phone]", "01 23 45 67 89")
    page.check("#consent")
    page.click("#checkout button[type=submit]")
    page.wait_for_selector("#saved:not([hidden])")
    assert wait_until(lambda: "mobile" in page.inner_text("#saved"))
    assert "Enregistré" not in page.inner_text("#saved")
    # The cart left before the refused number is still recorded.
    assert wait_until(lambda: Cart.objects.filter(site=demo, item_count=1).exists())
    # Control: a mobile number is saved, and the page says so.
    page.fill("input[name=phone]", "06 12 34 56 78")
    page.click("#checkout button[type=submit]")
    assert wait_until(lambda: page.inner_text("#saved") == "Enregistré.")
    assert wait_until(lambda: events(demo, type="identify"))


def test_an_email_identify_is_sent_by_the_snippet_with_its_own_consent(page, live_server, demo):
    email_consent = {"granted": True, "text": "J'accepte les emails", "source": "footer"}
    identify = {"email": "Marie@Example.fr", "email_consent": email_consent}
    html = f"""<!doctype html><title>Newsletter</title>
<script>window.told = []; window.relance = window.relance || [];
relance.push(["identify", {json.dumps(identify)}, function (r) {{ told.push(r); }}]);
relance.push(["identify", {{"email": "nope"}}, function (r) {{ told.push(r); }}]);
</script>
<script async src="/t.js" data-site="{demo.public_key}"></script>"""
    serve(page, live_server, "/newsletter", html)
    page.goto(f"{live_server.url}/newsletter")
    assert wait_until(lambda: page.evaluate("told.length") == 2)
    told = sorted(page.evaluate("told"), key=lambda r: r["ok"])
    assert told[1] == {"ok": True, "type": "identify", "status": 204}
    assert told[0]["ok"] is False and "email address" in told[0]["error"]
    (stored,) = events(demo, type="identify")
    assert stored.payload == {
        "type": "identify",
        "email": "marie@example.fr",
        "email_consent": email_consent,
    }
    # The browser's own line about the refused request, nothing from the snippet.
    assert all("400" in error for error in page.console_errors), page.console_errors


def stock_page(key, phone):
    """A product page whose back-in-stock form pushes a request of ``phone``; the page hears
    the answer through the callback and the DOM events."""
    wanted = {
        "product": {"id": "CH-01"},
        "phone": phone,
        "consent": {"granted": True, "text": "Prévenez-moi de son retour", "source": "product"},
    }
    return f"""<!doctype html><title>Chemise</title>
<script>window.told = []; window.heard = [];
document.addEventListener("relance:back_in_stock", function (e) {{ heard.push(e.detail); }});
window.relance = window.relance || [];
relance.push(["back_in_stock", {json.dumps(wanted)}, function (result) {{ told.push(result); }}]);
</script>
<script async src="/t.js" data-site="{key}"></script>"""


@pytest.mark.parametrize(("phone", "status"), [("01 23 45 67 89", 400), ("06 12 34 56 78", 204)])
def test_a_back_in_stock_request_is_sent_alone_and_the_page_hears_the_answer(
    page, live_server, demo, phone, status
):
    from campaigns.models import StockRequest

    serve(page, live_server, "/produit", stock_page(demo.public_key, phone))
    page.goto(f"{live_server.url}/produit")
    assert wait_until(lambda: page.evaluate("told.length") == 1)
    told = page.evaluate("told[0]")
    assert (told["ok"], told["type"], told["status"]) == (status == 204, "back_in_stock", status)
    assert page.evaluate("heard") == [told]
    # The page view before it is stored whatever became of the request (sent alone).
    assert wait_until(lambda: events(demo, type="page_view"))
    requests = list(
        StockRequest.objects.filter(site=demo, product__external_id="CH-01").values_list(
            "contact__phone", flat=True
        )
    )
    assert requests == (["+33612345678"] if status == 204 else [])
    assert events(demo, type="back_in_stock") == []  # the request is its own record


def test_a_product_view_pushed_before_the_script_waits_for_consent_then_is_kept(
    page, live_server, demo
):
    from retargeting.tracking.models import Product, ProductView

    product = {
        "id": "P-early",
        "sku": "E1",
        "name": "Chemise lin",
        "price": 39.5,
        "currency": "EUR",
        "url": f"{live_server.url}/p/chemise-lin",
        "image": "https://cdn.example/chemise.jpg",
        "available": True,
    }
    serve(
        page,
        live_server,
        "/p/chemise-lin",
        f"""<!doctype html><title>Chemise</title>
<script>window.relance = window.relance || [];
relance.push(["product_view", {json.dumps(product)}]);
relance.push(["product_view", {{"id": "no-url", "name": "Dropped"}}]);</script>
<script async src="/t.js" data-site="{demo.public_key}" data-consent="required"></script>""",
    )
    requests = []
    page.on("request", lambda r: "/t/e" in r.url and requests.append(r))
    page.goto(f"{live_server.url}/p/chemise-lin")
    page.wait_for_function("window.relance && window.relance.loaded === true")
    time.sleep(4)  # longer than the flush interval
    assert requests == [] and not Product.objects.filter(site=demo, external_id="P-early").exists()
    page.evaluate("relance.push(['consent', {tracking: true}])")
    stored = wait_until(lambda: Product.objects.filter(site=demo, external_id="P-early").first())
    assert stored and (stored.name, str(stored.price), stored.url) == (
        "Chemise lin",
        "39.50",
        f"{live_server.url}/p/chemise-lin",
    )
    assert ProductView.objects.filter(product=stored).count() == 1
    # The call without a URL was dropped in the page (a batch is refused whole): the page
    # view that went with the product view is stored, the product view is not an event.
    assert [e.type for e in events(demo)] == ["page_view"]
    assert not Product.objects.filter(site=demo, external_id="no-url").exists()


def test_the_demo_shops_product_page_reports_its_product_view(page, live_server, demo):
    from retargeting.tracking.models import ProductView

    visit(page, f"{live_server.url}/demo/shop/")
    page.click("text=Veste légère")
    assert page.url == f"{live_server.url}/demo/shop/p/VE-07/"
    visit(page, f"{live_server.url}/demo/shop/")  # leaving flushes the page's batch
    view = wait_until(lambda: ProductView.objects.filter(product__external_id="VE-07").first())
    assert view is not None
    product = view.product
    # The demo's catalogue knew it (the shop's word); the page's claim only fills what is not.
    assert (product.name, str(product.price)) == ("Veste légère", "89.00")
    assert product.url.endswith("/demo/shop/p/VE-07/")
    assert ProductView.objects.filter(product=product).count() == 1
    assert page.console_errors == []
    # The shop page's own batch leaves now, not while the test's database is being emptied.
    page.goto("about:blank")
    wait_until(lambda: Event.objects.filter(site=demo, type="page_view").count() >= 3)

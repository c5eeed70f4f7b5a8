"""The snippet reads the platform's own cart (data-platform) and the visitor's cookie consent.

Chromium runs the real t.js and its platform reader against small storefronts that answer as
Shopify, WooCommerce and PrestaShop document (tests/support/platforms.py, payloads in
tests/fixtures/platforms/); what reaches the real collector is read back as stored carts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import django
import pytest

from retargeting.tracking.models import Cart, Event
from tests.factories import SiteFactory
from tests.support.platforms import PrestaShop, Shopify, WooCommerce, fixture

pytest_plugins = ["tests.support.browser"]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JQUERY = Path(django.__file__).parent / "contrib/admin/static/admin/js/vendor/jquery/jquery.js"


@pytest.fixture
def shop(live_server):
    return SiteFactory(allowed_domains=["localhost", "127.0.0.1"])


def pumping(page):
    """A wait that lets Playwright answer the storefront's routes meanwhile (its handlers run
    only while the test is inside a Playwright call)."""

    def wait_until(condition, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value or time.monotonic() > deadline:
                return value
            page.wait_for_timeout(100)

    return wait_until


def carts(site):
    return list(Cart.objects.filter(site=site).order_by("id"))


def serve(page, live_server, path, html):
    """Answer a GET of ``path`` (any query) on the live server's origin with a page of the
    shop; other methods go on to the storefront's routes."""

    def answer(route):
        if route.request.method != "GET":
            return route.fallback()
        route.fulfill(status=200, content_type="text/html", body=html)

    page.route(lambda url: url.startswith(live_server.url) and urlsplit(url).path == path, answer)


def tag(site, platform, consent=False):
    extra = ' data-consent="required"' if consent else ""
    return (
        f'<script async src="/t.js" data-site="{site.public_key}" '
        f'data-platform="{platform}"{extra}></script>'
    )


class Collector:
    """Every request the browser makes to /t/e (beacons included), with its events."""

    def __init__(self, page):
        self.requests = []
        page.context.on("request", self.seen)

    def seen(self, request):
        if urlsplit(request.url).path == "/t/e":
            self.requests.append(request)

    def events(self):
        return [e for r in self.requests for e in json.loads(r.post_data or "{}")["events"]]


def leave(page, live_server):
    """Go to a page without the snippet: whatever the last one still held is flushed then."""
    serve(page, live_server, "/elsewhere", "<!doctype html><title>Elsewhere</title>")
    page.goto(f"{live_server.url}/elsewhere")


def has_visitor_id(page):
    cookie = [c for c in page.context.cookies() if c["name"] == "_relance_vid"]
    return bool(cookie) or page.evaluate("localStorage.getItem('_relance_vid')") is not None


# --- Shopify -------------------------------------------------------------------------------

SHOPIFY_THEME = """<script>
function addToCart(id, quantity) {
  return fetch(window.Shopify.routes.root + "cart/add.js", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({items: [{id: id, quantity: quantity}]})}).then(r => r.json());
}
function change(id, quantity) {
  return new Promise(done => {
    const x = new XMLHttpRequest();
    x.open("POST", "/cart/change.js");
    x.setRequestHeader("Content-Type", "application/json");
    x.onload = () => done(JSON.parse(x.responseText));
    x.send(JSON.stringify({id: id, quantity: quantity}));
  });
}
function clearCart() {
  return fetch(new Request("/cart/clear.js", {method: "POST"})).then(r => r.json());
}
</script>"""
POTION, MANA = 39897499729985, 40000000000017


def test_shopify_carts_are_read_from_the_ajax_cart_api_after_each_change(page, live_server, shop):
    wait_until = pumping(page)
    shopify = Shopify(live_server.url)
    shopify.install(page)
    serve(
        page,
        live_server,
        "/",
        '<!doctype html><title>Shop</title><script>window.Shopify = {routes: {root: "/"}};'
        f"</script>{tag(shop, 'shopify')}{SHOPIFY_THEME}",
    )
    page.goto(f"{live_server.url}/")
    assert wait_until(lambda: shopify.reads >= 1)  # on load: empty, so nothing to say
    # The page's own answer is untouched by the reader.
    added = page.evaluate(f"addToCart({POTION}, 2)")
    assert added["items"][0]["quantity"] == 2
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=2).first())
    assert cart, [(c.external_id, c.item_count) for c in carts(shop)]
    assert cart.external_id == "c1-7a2abe82733a34e84aa472d57fb5c3c1"  # without "?key=..."
    assert cart.url == f"{live_server.url}/cart/{POTION}:2"
    assert (cart.currency, str(cart.total)) == ("EUR", "50.00")
    image = fixture("shopify/line_item.json")["image"]
    assert cart.items == [
        {
            "sku": str(POTION),
            "name": "Health potion",
            "price": "25.00",
            "quantity": 2,
            "url": f"{live_server.url}/products/health-potion?variant={POTION}",
            "image": image,
        }
    ]

    page.evaluate(f"addToCart({MANA}, 1)")
    page.evaluate(f"change({POTION}, 1)")  # through XMLHttpRequest
    cart = wait_until(
        lambda: (
            Cart.objects.filter(site=shop, url=f"{live_server.url}/cart/{POTION}:1,{MANA}:1")
            .filter(item_count=2)
            .first()
        )
    )
    assert cart and str(cart.total) == "44.95"
    assert [item["price"] for item in cart.items] == ["25.00", "19.95"]

    page.evaluate("clearCart()")  # a Request object this time
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).items == [])
    assert len(carts(shop)) == 1  # one cart all along, emptied
    assert page.console_errors == []


SHOPIFY_PRIVACY = """<script>
// Shopify's Customer Privacy API as its documentation describes it: loaded by
// Shopify.loadFeatures, the *Allowed() methods, setTrackingConsent and the
// visitorConsentCollected event on document.
window.choice = null;
window.Shopify = {routes: {root: "/"}, loadFeatures: function (features, callback) {
  if (features[0].name !== "consent-tracking-api") return callback(new Error("unknown"));
  const word = () => window.choice === null ? "" : window.choice ? "yes" : "no";
  window.Shopify.customerPrivacy = {
    analyticsProcessingAllowed: () => window.choice === true,
    marketingAllowed: () => window.choice === true,
    currentVisitorConsent: () => ({analytics: word(), marketing: word(), preferences: word(),
                                   sale_of_data: word()}),
    setTrackingConsent: function (consent, done) {
      window.choice = !!(consent.analytics && consent.marketing);
      document.dispatchEvent(new CustomEvent("visitorConsentCollected", {detail: {
        analyticsAllowed: !!consent.analytics, marketingAllowed: !!consent.marketing,
        preferencesAllowed: !!consent.preferences, saleOfDataAllowed: !!consent.sale_of_data,
        firstPartyMarketingAllowed: !!consent.marketing,
        thirdPartyMarketingAllowed: !!consent.marketing}}));
      done && done();
    }
  };
  callback();
}};
function banner(yes) {
  Shopify.customerPrivacy.setTrackingConsent(
    {analytics: yes, marketing: yes, preferences: yes, sale_of_data: yes}, () => {});
}
</script>"""


def test_shopify_customer_privacy_decides_and_a_later_refusal_forgets_the_visitor(
    page, live_server, shop
):
    wait_until = pumping(page)
    collector = Collector(page)
    shopify = Shopify(live_server.url)
    shopify.install(page)
    serve(
        page,
        live_server,
        "/",
        f"<!doctype html><title>Shop</title>{SHOPIFY_PRIVACY}"
        f"{tag(shop, 'shopify', consent=True)}{SHOPIFY_THEME}",
    )
    page.goto(f"{live_server.url}/")
    assert wait_until(lambda: shopify.reads >= 1)
    page.evaluate(f"addToCart({POTION}, 2)")
    assert wait_until(lambda: shopify.reads >= 2)  # the cart was read, and must wait
    assert collector.requests == [] and not has_visitor_id(page)

    page.evaluate("banner(true)")
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=2).first())
    assert cart
    assert [e.type for e in Event.objects.filter(site=shop).order_by("id")] == [
        "page_view",
        "cart",
    ]
    assert has_visitor_id(page)

    page.evaluate("banner(false)")
    assert wait_until(lambda: not has_visitor_id(page))
    sent = len(collector.requests)
    page.evaluate(f"change({POTION}, 1)")
    assert wait_until(lambda: shopify.reads >= 3)
    leave(page, live_server)
    assert len(collector.requests) == sent
    assert Cart.objects.get(pk=cart.pk).item_count == 2
    assert not has_visitor_id(page)


# --- IAB TCF v2.2 --------------------------------------------------------------------------

# A consent banner implementing the CMP JavaScript API of the IAB Tech Lab's "Consent
# Management Platform API" specification for TCF v2.2 (__tcfapi(command, version, callback,
# parameter); ping, addEventListener, removeEventListener; TCData with eventStatus tcloaded,
# cmpuishown, useractioncomplete and purpose.consents keyed by purpose id).
TCF_BANNER = """<script>
(function () {
  const state = Object.assign({gdprApplies: true, eventStatus: "cmpuishown", consents: {}},
                              window.cmpStart || {});
  const listeners = [];
  let next = 1;
  function tcData(listenerId) {
    return {
      tcString: state.eventStatus === "cmpuishown" ? "" : "CQHn3sAQHn3sAAHABBENBJFgAAAAAAAAAAAA",
      tcfPolicyVersion: 4, cmpId: 300, cmpVersion: 1, gdprApplies: state.gdprApplies,
      eventStatus: state.eventStatus, cmpStatus: "loaded", listenerId: listenerId,
      isServiceSpecific: true, useNonStandardTexts: false, publisherCC: "FR",
      purposeOneTreatment: false,
      purpose: {consents: Object.assign({}, state.consents), legitimateInterests: {}},
      vendor: {consents: {}, legitimateInterests: {}}, specialFeatureOptins: {},
      publisher: {consents: {}, legitimateInterests: {},
                  customPurpose: {consents: {}, legitimateInterests: {}}, restrictions: {}}
    };
  }
  window.__tcfapi = function (command, version, callback, parameter) {
    if (version !== 2 && version !== undefined) return callback(null, false);
    if (command === "ping") {
      return callback({gdprApplies: state.gdprApplies, cmpLoaded: true, cmpStatus: "loaded",
        displayStatus: state.eventStatus === "cmpuishown" ? "visible" : "hidden",
        apiVersion: "2.2", cmpVersion: 1, cmpId: 300, gvlVersion: 80, tcfPolicyVersion: 4});
    }
    if (command === "addEventListener") {
      const id = next++;
      listeners.push({id: id, callback: callback});
      return callback(tcData(id), true);
    }
    if (command === "removeEventListener") {
      const at = listeners.findIndex(l => l.id === parameter);
      if (at >= 0) listeners.splice(at, 1);
      return callback(at >= 0);
    }
    callback(null, false);
  };
  window.cmp = {
    listeners: listeners,
    choose: function (consents) {
      state.eventStatus = "useractioncomplete";
      state.consents = consents;
      listeners.forEach(l => l.callback(tcData(l.id), true));
    }
  };
})();
</script>"""
CART_CALL = """<script>window.relance = window.relance || [];
relance.push(["cart", {id: "tcf-1", currency: "EUR", total: 12,
  items: [{sku: "T1", name: "Tasse", price: 12, quantity: 1}]}]);</script>"""


def consent_tag(site):
    key = site.public_key
    return f'<script async src="/t.js" data-site="{key}" data-consent="required"></script>'


def test_a_tcf_banner_gives_consent_for_storage_and_measurement_and_can_take_it_back(
    page, live_server, shop
):
    wait_until = pumping(page)
    collector = Collector(page)
    serve(
        page,
        live_server,
        "/",
        f"<!doctype html><title>TCF</title>{TCF_BANNER}{CART_CALL}{consent_tag(shop)}",
    )
    page.goto(f"{live_server.url}/")
    # The snippet listens (the banner is shown): nothing stored, nothing sent.
    page.wait_for_function("window.cmp.listeners.length === 1 && window.relance.loaded")
    assert collector.requests == [] and not has_visitor_id(page)

    page.evaluate("cmp.choose({1: true, 7: true})")
    assert wait_until(lambda: Cart.objects.filter(site=shop, external_id="tcf-1").exists())
    assert has_visitor_id(page)

    # The visitor withdraws measurement: forgotten, and nothing more goes out.
    page.evaluate("cmp.choose({1: true})")
    assert wait_until(lambda: not has_visitor_id(page))
    sent = len(collector.requests)
    page.evaluate(
        'relance.push(["cart", {id: "tcf-2", currency: "EUR", total: 1, '
        'items: [{sku: "T2", name: "Sous-tasse", price: 1, quantity: 1}]}])'
    )
    leave(page, live_server)
    assert len(collector.requests) == sent
    assert not Cart.objects.filter(site=shop, external_id="tcf-2").exists()
    assert page.console_errors == []


@pytest.mark.parametrize(
    "start, sent",
    [
        ({"eventStatus": "tcloaded", "consents": {"1": True, "7": True}}, True),
        ({"eventStatus": "tcloaded", "consents": {"1": True}}, False),  # no measurement
        ({"eventStatus": "tcloaded", "consents": {"7": True}}, False),  # no storage
        ({"eventStatus": "tcloaded", "gdprApplies": False}, True),  # outside the GDPR
    ],
)
def test_a_returning_visitors_stored_tcf_choice_is_read_on_arrival(
    page, live_server, shop, start, sent
):
    wait_until = pumping(page)
    collector = Collector(page)
    serve(
        page,
        live_server,
        "/",
        f"<!doctype html><title>TCF</title><script>window.cmpStart = {json.dumps(start)};"
        f"</script>{TCF_BANNER}{CART_CALL}{consent_tag(shop)}",
    )
    page.goto(f"{live_server.url}/")
    page.wait_for_function("window.cmp.listeners.length === 1 && window.relance.loaded")
    if sent:
        assert wait_until(lambda: Cart.objects.filter(site=shop, external_id="tcf-1").exists())
    else:
        leave(page, live_server)
        assert collector.requests == [] and not has_visitor_id(page)
        assert not Cart.objects.filter(site=shop).exists()


# --- WooCommerce ---------------------------------------------------------------------------

WOO_THEME = """<script>
window.wc_add_to_cart_params = {ajax_url: "/wp-admin/admin-ajax.php",
  wc_ajax_url: "/?wc-ajax=%%endpoint%%", cart_url: location.origin + "/cart/"};
let nonce = null;
// The block cart's calls: a GET of the cart gives the nonce, writes send it.
function storeApi(path, body) {
  const ready = nonce ? Promise.resolve() : fetch("/wp-json/wc/store/v1/cart")
    .then(r => { nonce = r.headers.get("Nonce"); });
  return ready.then(() => fetch("/wp-json/wc/store/v1/" + path, {method: "POST",
    headers: {"Content-Type": "application/json", "Nonce": nonce}, body: JSON.stringify(body)}))
    .then(r => r.json());
}
function updateItem(key, quantity) {
  return new Promise(done => {
    const x = new XMLHttpRequest();
    x.open("POST", "/wp-json/wc/store/v1/cart/update-item");
    x.setRequestHeader("Content-Type", "application/json");
    x.setRequestHeader("Nonce", nonce);
    x.onload = () => done(JSON.parse(x.responseText));
    x.send(JSON.stringify({key: key, quantity: quantity}));
  });
}
// The classic theme's AJAX add-to-cart button, then its jQuery event.
function classicAdd(id, quantity) {
  return jQuery.post("/?wc-ajax=add_to_cart", {product_id: id, quantity: quantity})
    .then(r => jQuery(document.body).trigger("added_to_cart", [r.fragments, r.cart_hash, null]));
}
</script>"""


def woo_page(page, live_server, shop, woo, consent=False):
    woo.install(page)
    page.route(
        f"{live_server.url}/jquery.js",
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=JQUERY.read_text()
        ),
    )
    html = (
        '<!doctype html><title>Panier</title><script src="/jquery.js"></script>'
        f"{WOO_THEME}{tag(shop, 'woocommerce', consent)}"
    )
    serve(page, live_server, "/cart/", html)
    serve(page, live_server, "/shop/", html)


def cart_events(collector):
    return [e["cart"] for e in collector.events() if e["type"] == "cart"]


def test_woocommerce_carts_are_read_from_the_store_api_after_block_and_classic_changes(
    page, live_server, shop
):
    wait_until = pumping(page)
    collector = Collector(page)
    woo = WooCommerce(live_server.url)
    woo_page(page, live_server, shop, woo)
    page.goto(f"{live_server.url}/cart/")
    page.wait_for_function("window.relance && window.relance.woocommerce === true")
    page.evaluate('storeApi("cart/add-item", {id: 16, quantity: 2})')
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=2).first())
    assert cart, [(c.external_id, c.item_count) for c in carts(shop)]
    assert cart.external_id.startswith("wc-")
    assert (cart.currency, str(cart.total)) == ("EUR", "36.00")
    assert cart.items == [
        {
            "sku": "woo-beanie",
            "name": "Beanie",
            "price": "18.00",
            "quantity": 2,
            "url": f"{live_server.url}/product/16/",
            "image": fixture("woocommerce/cart_item.json")["images"][0]["src"],
        }
    ]
    link = urlsplit(cart.url)
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{live_server.url}/cart/"
    assert parse_qs(link.query) == {"relance_restore": ["16:2"]}
    # WooCommerce's cart hash cookie goes with the cart, for the server to match the order.
    assert wait_until(lambda: cart_events(collector))
    assert cart_events(collector)[-1]["ref"] == "hash-16x2"
    stored_id = page.evaluate("localStorage.getItem('_relance_cart')")
    assert stored_id == cart.external_id

    page.evaluate("classicAdd(22, 1)")  # the classic button and its added_to_cart event
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).item_count == 3)
    assert {i["sku"]: i["quantity"] for i in Cart.objects.get(pk=cart.pk).items} == {
        "woo-beanie": 2,
        "22": 1,  # no SKU: the product id
    }
    page.evaluate('updateItem("key16", 1)')  # XMLHttpRequest
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).item_count == 2)
    page.evaluate('storeApi("cart/remove-item", {key: "key16"})')
    page.evaluate('storeApi("cart/remove-item", {key: "key22"})')
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).items == [])
    # Emptied: the next cart of this browser is a new one.
    assert page.evaluate("localStorage.getItem('_relance_cart')") is None
    page.evaluate('storeApi("cart/add-item", {id: 22, quantity: 1})')
    assert wait_until(lambda: len(carts(shop)) == 2)
    assert carts(shop)[1].external_id != cart.external_id
    assert page.console_errors == []


def test_a_woocommerce_cart_read_before_consent_keeps_its_id_on_the_next_pages(
    page, live_server, shop
):
    wait_until = pumping(page)
    collector = Collector(page)
    woo = WooCommerce(live_server.url)
    woo_page(page, live_server, shop, woo, consent=True)
    page.goto(f"{live_server.url}/cart/")
    page.wait_for_function("window.relance && window.relance.woocommerce === true")
    page.evaluate('storeApi("cart/add-item", {id: 16, quantity: 1})')
    # Read on arrival, by the theme for its nonce, then by the reader after the change.
    assert wait_until(lambda: woo.reads >= 3)
    assert page.evaluate("localStorage.getItem('_relance_cart')") is None  # not before consent
    page.evaluate("relance.push(['consent', {tracking: true}])")
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=1).first())
    assert cart
    page.goto(f"{live_server.url}/shop/")
    page.wait_for_function("window.relance && window.relance.woocommerce === true")
    page.evaluate("relance.push(['consent', {tracking: true}])")
    page.evaluate('storeApi("cart/add-item", {id: 22, quantity: 1})')
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).item_count == 2)
    assert len(carts(shop)) == 1
    assert {c["id"] for c in cart_events(collector)} == {cart.external_id}


def test_a_woocommerce_reminder_link_restores_the_cart_on_another_device(
    browser, page, live_server, shop
):
    wait_until = pumping(page)
    woo = WooCommerce(live_server.url)
    woo_page(page, live_server, shop, woo)
    page.goto(f"{live_server.url}/cart/")
    page.wait_for_function("window.relance && window.relance.woocommerce === true")
    page.evaluate('storeApi("cart/add-item", {id: 16, quantity: 3})')
    page.evaluate('storeApi("cart/add-item", {id: 22, quantity: 2})')
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=5).first())
    assert cart

    # Another device, whose own cart already holds one of the products.
    phone = browser.new_context()
    try:
        other = phone.new_page()
        other_woo = WooCommerce(live_server.url)
        other_woo.lines = {16: 1}
        woo_page(other, live_server, shop, other_woo)
        link = cart.url + ",abc:1,7x:2"  # what is not a product id is ignored
        other.goto(link)
        other.wait_for_function("performance.getEntriesByType('navigation')[0].type === 'reload'")
        assert other_woo.adds == [{"id": 22, "quantity": 2}]  # only what the cart lacked
        assert other_woo.lines == {16: 1, 22: 2}
        assert other.url == f"{live_server.url}/cart/"
        restored = wait_until(lambda: Cart.objects.filter(site=shop, item_count=3).first())
        assert restored and restored.pk != cart.pk
    finally:
        phone.close()


# --- PrestaShop ----------------------------------------------------------------------------

PRESTA_CORE = """<script>
// What the theme's core.js does with the prestashop object: an event emitter, and
// prestashop.cart kept to the cart an updateCart event carries.
(function (ps) {
  const handlers = {};
  ps.on = (name, fn) => { (handlers[name] = handlers[name] || []).push(fn); };
  ps.emit = (name, event) => { (handlers[name] || []).forEach(fn => fn(event)); };
  ps.on("updateCart", e => { if (e && e.reason && e.reason.cart) ps.cart = e.reason.cart; });
  ps.updates = 0;
  ps.on("updateCart", () => { ps.updates++; });
})(window.prestashop);
function cartCall(query) {
  return fetch(prestashop.urls.pages.cart, {method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    body: query + "&token=" + prestashop.static_token + "&ajax=1&action=update"})
    .then(r => r.json());
}
function addToCart(product, combination, qty) {
  return cartCall("id_product=" + product + "&id_product_attribute=" + combination +
                  "&qty=" + qty + "&add=1")
    .then(resp => prestashop.emit("updateCart", {reason: {idProduct: resp.id_product,
      idProductAttribute: resp.id_product_attribute, linkAction: "add-to-cart",
      cart: resp.cart}, resp: resp}));
}
// The cart page's delete link: its event carries no cart.
function removeLine(product, combination) {
  return cartCall("id_product=" + product + "&id_product_attribute=" + combination + "&delete=1")
    .then(() => prestashop.emit("updateCart", {reason: {linkAction: "delete-from-cart"}}));
}
</script>"""


def presta_page(page, live_server, shop, presta, path):
    presta.install(page)
    body = json.dumps(presta.prestashop())
    html = (
        f"<!doctype html><title>Boutique</title><script>var prestashop = {body};</script>"
        f"{PRESTA_CORE}{tag(shop, 'prestashop')}"
    )
    serve(page, live_server, path, html)


def test_prestashop_carts_are_read_from_the_front_office_and_its_update_cart_event(
    page, live_server, shop
):
    wait_until = pumping(page)
    presta = PrestaShop(live_server.url)
    presta_page(page, live_server, shop, presta, "/")
    page.goto(f"{live_server.url}/")
    page.wait_for_function("window.relance && window.relance.prestashop === true")
    page.evaluate("addToCart(1, 1, 2)")
    cart = wait_until(lambda: Cart.objects.filter(site=shop, item_count=2).first())
    assert cart
    assert cart.external_id.startswith("ps-")
    assert (cart.currency, str(cart.total)) == ("EUR", "47.80")
    cover = fixture("prestashop/product.json", live_server.url)["cover"]["medium"]["url"]
    assert cart.items == [
        {
            "sku": "1-1",
            "name": "T-shirt imprimé colibri",
            "price": "23.90",
            "quantity": 2,
            "url": f"{live_server.url}/1-1.html",
            "image": cover,
        }
    ]
    link = urlsplit(cart.url)
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{live_server.url}/panier"
    assert parse_qs(link.query) == {"action": ["show"], "relance_restore": ["1-1:2"]}

    page.evaluate("addToCart(7, 0, 1)")
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).item_count == 3)
    page.evaluate("removeLine(1, 1)")  # no cart in the event: read again from the controller
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).item_count == 1)
    page.evaluate("removeLine(7, 0)")
    assert wait_until(lambda: Cart.objects.get(pk=cart.pk).items == [])
    assert page.console_errors == []


def test_a_prestashop_reminder_link_adds_what_the_cart_lacks_with_the_token(
    page, live_server, shop
):
    wait_until = pumping(page)
    presta = PrestaShop(live_server.url)
    presta.lines = {(1, 1): 1}
    presta_page(page, live_server, shop, presta, "/panier")
    page.goto(f"{live_server.url}/panier?action=show&relance_restore=1-1:2,7:1,x-1:1,1-1-1:3")
    assert wait_until(lambda: Cart.objects.filter(site=shop, item_count=2).first())
    assert [(a["id_product"], a["id_product_attribute"], a["qty"]) for a in presta.adds] == [
        ("7", "0", "1")
    ]
    assert presta.adds[0]["token"] == fixture("prestashop/prestashop.json")["static_token"]
    assert presta.lines == {(1, 1): 1, (7, 0): 1}
    assert page.url == f"{live_server.url}/panier?action=show"
    assert page.evaluate("prestashop.updates") == 1  # the theme showed the new cart once
    assert page.evaluate("prestashop.cart.products.length") == 2


# --- Product pages: each reader sends the product view by itself -----------------------------


def product_views(collector):
    return [e["product"] for e in collector.events() if e["type"] == "product_view"]


def settle(page, wait_until, collector, *, pages, product=False):
    """Wait until the ``pages``-th page view (and a product view when ``product``) reached
    the collector, then one more flush period (the snippet sends every 3 s) so that a second
    product view, were there one, would be seen too."""

    def sent():
        views = sum(e["type"] == "page_view" for e in collector.events())
        return views >= pages and (not product or product_views(collector))

    assert wait_until(sent, timeout=10), collector.events()
    page.wait_for_timeout(3500)


SHOPIFY_PRODUCT_PAGE = """<script>
window.Shopify = {routes: {root: "/"}, currency: {active: "EUR", rate: "1.0"}};
window.ShopifyAnalytics = {meta: {page: {pageType: "%s", resourceType: "%s"}}};
</script>"""


def test_shopify_product_pages_send_one_product_view_from_the_ajax_product_api(
    page, live_server, shop
):
    """Shopify's Ajax Product API (https://shopify.dev/docs/api/ajax/reference/product): the
    product of /products/HANDLE.js, amounts in cents, the variant of ?variant=; the currency
    from Shopify.currency.active; the page type from ShopifyAnalytics.meta.page.pageType."""
    from retargeting.tracking.models import Product, ProductView

    wait_until = pumping(page)
    collector = Collector(page)
    shopify = Shopify(live_server.url)
    shopify.install(page)
    # A page that is not a product's sends none (a collection, then the home page).
    for SEEN, (path, kind) in enumerate((("/collections/all", "collection"), ("/", "index")), 1):
        html = f"<!doctype html><title>Shop</title>{SHOPIFY_PRODUCT_PAGE % (kind, kind)}"
        serve(page, live_server, path, html + tag(shop, "shopify"))
        page.goto(f"{live_server.url}{path}")
        assert wait_until(lambda: shopify.reads >= 1)
        settle(page, wait_until, collector, pages=SEEN)
    assert any(e["type"] == "page_view" for e in collector.events()), [
        (r.url, r.method, r.post_data) for r in collector.requests
    ]  # control: it reported
    assert product_views(collector) == [] and shopify.product_reads == 0

    html = SHOPIFY_PRODUCT_PAGE % ("product", "product") + tag(shop, "shopify")
    serve(page, live_server, "/products/red-rain-coat", f"<!doctype html><title>Coat</title>{html}")
    page.goto(f"{live_server.url}/products/red-rain-coat?variant=794864233")
    assert wait_until(lambda: shopify.product_reads >= 1)
    settle(page, wait_until, collector, pages=3, product=True)
    # featured_image is protocol-relative: the page's scheme (https on a real store).
    image = "http://cdn.shopify.com/s/files/1/0040/7092/products/red-rain-coat.jpeg?v=1402604893"
    assert product_views(collector) == [
        {
            "id": "329678821",
            "sku": "RRC-M",
            "name": "Red Rain Coat",
            "price": "119.00",
            "currency": "EUR",
            "url": f"{live_server.url}/products/red-rain-coat",
            "image": image,
            "available": False,
        }
    ]
    product = wait_until(lambda: Product.objects.filter(site=shop).first())
    assert product and (product.external_id, str(product.price), product.available) == (
        "329678821",
        "119.00",
        False,
    )
    assert ProductView.objects.filter(product=product).count() == 1
    assert page.console_errors == []


WOO_PRODUCT_PAGE = (
    '<!doctype html><title>Pennant</title><body class="%s">'
    '<script src="/jquery.js"></script>%s</body>'
)


def test_woocommerce_product_pages_send_one_product_view_from_the_store_api(
    page, live_server, shop
):
    """WooCommerce's Store API, products/ID
    (https://developer.woocommerce.com/docs/apis/store-api/resources-endpoints/products),
    found by the body class WordPress gives a single product's page (single-product postid-ID);
    amounts in minor units with currency_minor_unit decimals."""
    from retargeting.tracking.models import Product

    wait_until = pumping(page)
    collector = Collector(page)
    woo = WooCommerce(live_server.url)
    woo_page(page, live_server, shop, woo)  # /shop/: the shop's archive, not a product
    page.goto(f"{live_server.url}/shop/")
    assert wait_until(lambda: woo.reads >= 1)
    settle(page, wait_until, collector, pages=1)
    assert any(e["type"] == "page_view" for e in collector.events())  # control
    assert product_views(collector) == [] and woo.product_reads == 0

    classes = "product-template-default single single-product postid-34 woocommerce"
    html = WOO_PRODUCT_PAGE % (classes, WOO_THEME + tag(shop, "woocommerce"))
    serve(page, live_server, "/product/wordpress-pennant/", html)
    page.goto(f"{live_server.url}/product/wordpress-pennant/")
    assert wait_until(lambda: woo.product_reads >= 1)
    settle(page, wait_until, collector, pages=2, product=True)
    assert product_views(collector) == [
        {
            "id": "34",
            "sku": "wp-pennant",
            "name": "WordPress Pennant",
            "currency": "EUR",
            "price": "11.05",
            "url": f"{live_server.url}/product/wordpress-pennant/",
            "image": "https://cdn.example/wp-content/uploads/2020/03/pennant-1.jpg",
            "available": True,
        }
    ]
    product = wait_until(lambda: Product.objects.filter(site=shop).first())
    assert product and (product.external_id, product.sku, str(product.price)) == (
        "34",
        "wp-pennant",
        "11.05",
    )
    assert page.console_errors == []


def presta_product_page(page, live_server, shop, presta, path, *, page_name, details):
    presta.install(page)
    body = presta.prestashop()
    body["page"] = {"page_name": page_name}
    box = ""
    if details is not None:
        encoded = json.dumps(details).replace("&", "&amp;").replace('"', "&quot;")
        box = f'<div class="tab-pane" id="product-details" data-product="{encoded}"></div>'
    html = (
        '<!doctype html><title>Boutique</title><meta property="og:image" '
        'content="https://cdn.example/img/p/1/1-large_default.jpg">'
        f"<script>var prestashop = {json.dumps(body)};</script>{PRESTA_CORE}"
        f"{tag(shop, 'prestashop')}{box}"
    )
    serve(page, live_server, path, html)


def test_prestashop_product_pages_send_one_product_view_from_the_embedded_product(
    page, live_server, shop
):
    """PrestaShop's product page: prestashop.page.page_name == "product" (devdocs, "The
    prestashop object"), the product the classic theme embeds in
    #product-details[data-product] (ProductLazyArray's embedded_attributes: price tax
    included, reference, link, quantity, allow_oosp), its og:image."""
    from retargeting.tracking.models import Product

    wait_until = pumping(page)
    collector = Collector(page)
    presta = PrestaShop(live_server.url)
    details = fixture("prestashop/product_details.json", live_server.url)
    # The home page, and a page with a product box that is not a product page (a quick view).
    presta_product_page(page, live_server, shop, presta, "/", page_name="index", details=None)
    presta_product_page(
        page,
        live_server,
        shop,
        presta,
        "/meilleures-ventes",
        page_name="best-sales",
        details=details,
    )
    for SEEN, path in enumerate(("/", "/meilleures-ventes"), 1):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_function("window.relance && window.relance.prestashop === true")
        settle(page, wait_until, collector, pages=SEEN)
    assert any(e["type"] == "page_view" for e in collector.events())  # control
    assert product_views(collector) == []

    path = "/hommes/1-1-hummingbird-printed-t-shirt.html"
    presta_product_page(page, live_server, shop, presta, path, page_name="product", details=details)
    page.goto(f"{live_server.url}{path}")
    page.wait_for_function("window.relance && window.relance.prestashop === true")
    settle(page, wait_until, collector, pages=3, product=True)
    assert product_views(collector) == [
        {
            "id": "1",
            "sku": "demo_1",
            "name": "T-shirt imprimé colibri",
            "price": 28.68,
            "currency": "EUR",
            "url": f"{live_server.url}{path}#/1-taille-s/8-couleur-blanc",
            "image": "https://cdn.example/img/p/1/1-large_default.jpg",
            "available": True,
        }
    ]
    product = wait_until(lambda: Product.objects.filter(site=shop).first())
    assert product and (product.external_id, product.sku, str(product.price)) == (
        "1",
        "demo_1",
        "28.68",
    )
    assert page.console_errors == []


def test_a_readers_product_view_waits_for_the_visitors_consent(page, live_server, shop):
    """On a site that asks for consent (data-consent="required"), nothing is sent before it:
    the reader's product view waits in the queue, then goes once consent is given."""
    from retargeting.tracking.models import Product

    wait_until = pumping(page)
    collector = Collector(page)
    woo = WooCommerce(live_server.url)
    woo.install(page)
    page.route(
        f"{live_server.url}/jquery.js",
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=JQUERY.read_text()
        ),
    )
    classes = "single-product postid-34"
    html = WOO_PRODUCT_PAGE % (classes, WOO_THEME + tag(shop, "woocommerce", consent=True))
    serve(page, live_server, "/product/wordpress-pennant/", html)
    page.goto(f"{live_server.url}/product/wordpress-pennant/")
    assert wait_until(lambda: woo.product_reads >= 1)
    page.wait_for_timeout(500)
    assert collector.requests == [] and not Product.objects.exists()
    page.evaluate("relance.push(['consent', {tracking: true}])")
    settle(page, wait_until, collector, pages=1, product=True)
    assert [p["id"] for p in product_views(collector)] == ["34"]
    assert wait_until(lambda: Product.objects.filter(site=shop, external_id="34").exists())

"""The pixel, the snippet, the shop's server API and its OpenAPI description."""

from __future__ import annotations

import gzip
import json

import pytest

from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import CartFactory, VisitorFactory

pytestmark = pytest.mark.django_db
VID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def created():
    return create_site(name="Shop", domains=["shop.example"], country="FR")


# --- pixel ---------------------------------------------------------------------------------


def assert_gif(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Cache-Control"] == "no-store"
    assert response.content.startswith(b"GIF89a")


def test_the_pixel_records_a_page_view(client, created):
    response = client.get(
        "/t/p.gif",
        {
            "site": created.site.public_key,
            "vid": VID,
            "type": "page_view",
            "url": "https://shop.example/p",
        },
    )
    assert_gif(response)
    event = Event.objects.get()
    assert (event.source, event.payload["url"], event.visitor.vid) == (
        "pixel",
        "https://shop.example/p",
        VID,
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"site": "pk_unknown", "vid": VID, "url": "https://shop.example/"},
        {"vid": VID, "url": "https://shop.example/"},
        {"site": "SITE", "vid": "short", "url": "https://shop.example/"},
        {"site": "SITE", "vid": VID, "url": "javascript:alert(1)"},
        {"site": "SITE", "vid": VID, "type": "purchase", "url": "https://shop.example/"},
        {"site": "x" * 5000},
    ],
)
def test_the_pixel_always_answers_the_gif_and_records_only_what_is_valid(client, created, params):
    params = {k: (created.site.public_key if v == "SITE" else v) for k, v in params.items()}
    assert_gif(client.get("/t/p.gif", params))
    assert not Event.objects.exists()


# --- snippet -------------------------------------------------------------------------------


def test_the_snippet_is_served_as_cacheable_javascript(client):
    response = client.get("/t.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "max-age=" in response["Cache-Control"] and "public" in response["Cache-Control"]
    assert b"sendBeacon" in response.content


def test_the_snippet_is_under_3_kb_gzipped(client):
    size = len(gzip.compress(client.get("/t.js").content, 9))
    assert size < 3 * 1024, f"t.js is {size} bytes gzipped"


@pytest.mark.parametrize("platform", ["shopify", "woocommerce", "prestashop"])
def test_each_platform_reader_is_cacheable_javascript_under_3_kb_gzipped(client, platform):
    response = client.get(f"/t/a/{platform}.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]
    assert b"relance" in response.content
    size = len(gzip.compress(response.content, 9))
    assert size < 3 * 1024, f"{platform}.js is {size} bytes gzipped"


def test_the_email_cart_form_is_its_own_cacheable_script_and_t_js_does_not_carry_it(client):
    response = client.get("/t/email-cart.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "public" in response["Cache-Control"] and "max-age=" in response["Cache-Control"]
    assert b'"email_cart"' in response.content
    size = len(gzip.compress(response.content, 9))
    assert size < 2 * 1024, f"email-cart.js is {size} bytes gzipped"
    assert b"Recevoir mon panier" not in client.get("/t.js").content


def test_an_unknown_platform_reader_is_a_404(client):
    for path in ("/t/a/magento.js", "/t/a/..%2Ft.js", "/t/a/.js"):
        assert client.get(path).status_code == 404


def test_the_served_scripts_leave_out_comment_lines_and_indentation_only():
    from retargeting.tracking.views import compact

    source = 'a();\n  // why\n    var u = "https://x/y"; // kept: code on the line\n\n}\n'
    assert compact(source) == b'a();\nvar u = "https://x/y"; // kept: code on the line\n}\n'


# --- server API ----------------------------------------------------------------------------


def api(client, path, body, key):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers)


IDENTIFY = {
    "phone": "06 12 34 56 78",
    "first_name": "Marie",
    "vid": VID,
    "consent": {"granted": True, "text": "J'accepte les SMS", "source": "account"},
}


def test_identify_with_the_secret_key_is_recorded_as_authenticated(client, created):
    response = api(client, "/api/v1/identify", IDENTIFY, created.secret_key)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "phone": "+33612345678", "vid": VID}
    event = Event.objects.get()
    assert event.source == "server" and event.visitor.vid == VID
    assert event.payload["consent"]["text"] == "J'accepte les SMS"


def test_identify_without_a_vid_is_recorded_without_a_visitor(client, created):
    body = {k: v for k, v in IDENTIFY.items() if k != "vid"}
    assert api(client, "/api/v1/identify", body, created.secret_key).json()["vid"] is None
    assert Event.objects.get().visitor is None and not Visitor.objects.exists()


@pytest.mark.parametrize("key", [None, "", "sk_wrong", "pk_something", "Basic dXNlcjpwYXNz"])
def test_a_missing_or_wrong_key_gets_a_401_and_changes_nothing(client, created, key):
    response = api(client, "/api/v1/identify", IDENTIFY, key)
    assert response.status_code == 401
    assert "secret key" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Event.objects.exists()


def test_another_sites_key_cannot_write_to_this_site(client, created):
    other = create_site(name="Other", domains=["other.example"], country="FR")
    api(client, "/api/v1/identify", IDENTIFY, other.secret_key)
    assert Event.objects.get().site == other.site


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "01 23 45 67 89"}, "phone: expected a mobile number"),
        ({"phone": 612345678}, "phone: expected a phone number"),
        ({"phone": None}, "phone"),
        ({"vid": "short"}, "vid"),
        ({"consent": None}, "consent"),
        ({"consent": {"granted": "yes"}}, "consent.granted"),
        ({"consent": {"granted": True}}, "consent.text"),
    ],
)
def test_a_bad_identify_gets_a_400_naming_the_field(client, created, change, message):
    response = api(client, "/api/v1/identify", {**IDENTIFY, **change}, created.secret_key)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", ["{", "[1]", '"text"'])
def test_a_body_that_is_not_an_object_gets_a_400(client, created, body):
    response = api(client, "/api/v1/identify", body, created.secret_key)
    assert response.status_code == 400


def test_a_purchase_with_a_vid_converts_the_visitors_cart(client, created):
    cart = CartFactory(visitor=VisitorFactory(site=created.site, vid=VID))
    response = api(
        client,
        "/api/v1/purchases",
        {"order_id": "A-1", "total": "59.90", "currency": "EUR", "vid": VID},
        created.secret_key,
    )
    assert response.json() == {"ok": True, "order_id": "A-1", "cart_converted": True}
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED


def test_a_purchase_with_only_a_phone_is_recorded(client, created):
    response = api(
        client,
        "/api/v1/purchases",
        {"order_id": 9, "total": 10, "currency": "EUR", "phone": "+33612345678"},
        created.secret_key,
    )
    assert response.status_code == 200
    assert Event.objects.get().payload["phone"] == "+33612345678"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"order_id": "1", "total": 10, "currency": "EUR"}, "vid"),
        ({"total": 10, "currency": "EUR", "vid": VID}, "order_id"),
        ({"order_id": "1", "total": -3, "currency": "EUR", "vid": VID}, "total"),
        ({"order_id": "1", "total": 3, "currency": "dollars", "vid": VID}, "currency"),
        ({"order_id": "1", "total": 3, "currency": "EUR", "phone": "nope"}, "phone"),
    ],
)
def test_a_bad_purchase_gets_a_400(client, created, body, message):
    response = api(client, "/api/v1/purchases", body, created.secret_key)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Event.objects.exists()


def test_the_api_only_takes_post(client, created):
    response = client.get("/api/v1/purchases", HTTP_AUTHORIZATION=f"Bearer {created.secret_key}")
    assert response.status_code == 405


def test_the_openapi_description_covers_the_collector_and_the_api(client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert {"/t/e", "/t/p.gif", "/api/v1/identify", "/api/v1/purchases"} <= set(spec["paths"])
    collector = spec["paths"]["/t/e"]["post"]
    assert set(collector["responses"]) == {"204", "400", "403", "408", "411", "413", "429"}
    assert spec["paths"]["/api/v1/identify"]["post"]["security"] == [{"secretKey": []}]


@pytest.mark.parametrize(
    ("path", "method", "allow"),
    [
        ("/t/p.gif", "post", "GET, HEAD"),
        ("/t/p.gif", "put", "GET, HEAD"),
        ("/t/e", "get", "OPTIONS, POST"),
        ("/api/v1/identify", "get", "POST"),
        ("/api/v1/purchases", "delete", "POST"),
    ],
)
def test_other_methods_get_a_405_naming_the_allowed_ones(client, created, path, method, allow):
    response = getattr(client, method)(path, {"site": created.site.public_key, "vid": VID})
    assert response.status_code == 405
    assert response["Allow"] == allow
    assert not Event.objects.exists()

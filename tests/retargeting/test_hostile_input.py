"""Hostile JSON: NaN, Infinity, 1e400 and lone surrogates are refused with a 400 where the body
is read, by the collector (Django and its WSGI fast path) and the server API; nothing is
stored. Each case has its control: the same request, legitimate, still works."""

from __future__ import annotations

import json

import pytest

from campaigns.models import Conversion
from optin.models import Contact
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from retargeting.web.strict_json import InvalidJson, loads
from retargeting.wsgi import application
from tests.retargeting.test_fastpath import _keep_the_test_transaction, call  # noqa: F401

# Committed for real, so what a request hands on after its commit (matching, conversions) runs.
pytestmark = pytest.mark.django_db(transaction=True)
VID = "0123456789abcdef0123456789abcdef"
ORIGIN = "https://shop.example"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+999"]


@pytest.fixture
def shop():
    return create_site(name="Boutique", domains=["shop.example"], country="FR")


def stored():
    return (
        Event.objects.count(),
        Visitor.objects.count(),
        Cart.objects.count(),
        Contact.objects.count(),
        Conversion.objects.count(),
    )


NOTHING = (0, 0, 0, 0, 0)


def batch(shop, event_json: str) -> str:
    """A batch whose one event is written as given (so NaN or 1e400 can be in it)."""
    return f'{{"site": "{shop.site.public_key}", "vid": "{VID}", "events": [{event_json}]}}'


def cart_event(*, total="59.9", price="29.95", quantity="2", name='"Chemise"') -> str:
    return (
        '{"type": "cart", "cart": {"id": "c1", "currency": "EUR", '
        f'"total": {total}, "url": "{ORIGIN}/cart", "items": [{{"sku": "A1", "name": {name}, '
        f'"price": {price}, "quantity": {quantity}}}]}}}}'
    )


def collect(client, body: str):
    return client.post("/t/e", data=body, content_type="text/plain", HTTP_ORIGIN=ORIGIN)


# --- The loader ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", NON_FINITE)
def test_the_loader_refuses_every_non_finite_number(token):
    with pytest.raises(InvalidJson, match=r"not a number|too large a number"):
        loads(f'{{"a": [1, {{"b": {token}}}]}}')


def test_the_loader_keeps_what_json_allows():
    assert loads('{"a": [1.5, -2, 1e300, 1e-400, "\\ud83d\\ude00", "\\u00e9"]}') == {
        "a": [1.5, -2, 1e300, 0.0, "😀", "é"]
    }


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('"\\ud800"', "the body"),
        ('{"a": ["x", "\\udfff"]}', "a[1]"),
        ('{"a": {"b": "x\\ud83dy"}}', "a.b"),  # half a pair
        ('{"\\ud800": 1}', "a key"),
    ],
)
def test_the_loader_refuses_lone_surrogates_and_says_where(body, where):
    with pytest.raises(InvalidJson, match="lone UTF-16 surrogate") as refused:
        loads(body)
    assert str(refused.value).startswith(where)


@pytest.mark.parametrize(
    "body", ['{"a": 1, "a": 2}', '{"x": [{"id": "1", "total": 1, "total": 2}]}']
)
def test_the_loader_refuses_a_key_repeated_in_one_object(body):
    # RFC 8259 section 4: with repeated names "the behavior of software ... is unpredictable".
    with pytest.raises(InvalidJson, match="is repeated"):
        loads(body)


def test_control_the_same_key_in_two_objects_is_fine():
    assert loads('{"a": {"id": 1}, "b": {"id": 2}}') == {"a": {"id": 1}, "b": {"id": 2}}


def test_raw_surrogates_in_the_bytes_are_refused_too():
    # json.loads decodes bytes with "surrogatepass": a surrogate encoded in the bytes gets in.
    with pytest.raises(InvalidJson, match="surrogate"):
        loads(b'{"a": "\xed\xa0\x80"}')


# --- The collector ---------------------------------------------------------------------------


def test_control_a_legitimate_cart_is_stored(client, shop):
    assert collect(client, batch(shop, cart_event())).status_code == 204
    assert str(Cart.objects.get().items[0]["price"]) == "29.95"


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("field", ["total", "price", "quantity"])
def test_a_non_finite_number_anywhere_in_a_batch_is_a_400_and_stores_nothing(
    client, shop, token, field
):
    response = collect(client, batch(shop, cart_event(**{field: token})))
    assert response.status_code == 400
    assert "number" in response.json()["error"]
    assert stored() == NOTHING


@pytest.mark.parametrize("token", NON_FINITE)
def test_a_non_finite_number_in_a_field_nobody_reads_is_refused_too(client, shop, token):
    event = f'{{"type": "page_view", "url": "{ORIGIN}/p", "ts": {token}}}'
    assert collect(client, batch(shop, event)).status_code == 400
    assert stored() == NOTHING
    control = f'{{"type": "page_view", "url": "{ORIGIN}/p", "ts": 1700000000.5}}'
    assert collect(client, batch(shop, control)).status_code == 204


@pytest.mark.parametrize(
    "event",
    [
        f'{{"type": "page_view", "url": "{ORIGIN}/p", "title": "caf\\ud800"}}',
        f'{{"type": "page_view", "url": "{ORIGIN}/p\\udc00"}}',
        cart_event(name='"Chemise \\ud83d"'),
        '{"type": "identify", "phone": "0612345678", "first_name": "\\udfffMarie", '
        '"consent": {"granted": true, "text": "J\'accepte", "source": "checkout"}}',
    ],
)
def test_a_lone_surrogate_in_any_string_is_a_400_and_stores_nothing(client, shop, event):
    response = collect(client, batch(shop, event))
    assert response.status_code == 400
    assert "surrogate" in response.json()["error"]
    assert stored() == NOTHING


def test_control_a_surrogate_pair_is_a_character_and_is_kept(client, shop):
    event = f'{{"type": "page_view", "url": "{ORIGIN}/p", "title": "Cadeau \\ud83c\\udf81"}}'
    assert collect(client, batch(shop, event)).status_code == 204
    assert Event.objects.get().payload["title"] == "Cadeau 🎁"


@pytest.mark.parametrize(
    "event",
    [cart_event(total="NaN"), f'{{"type": "page_view", "url": "{ORIGIN}/p", "title": "\\ud800"}}'],
)
def test_the_fast_path_refuses_them_the_same_way(shop, event):
    status, _, content = call(
        application, "POST", "/t/e", body=batch(shop, event).encode(), Origin=ORIGIN
    )
    assert status == 400 and "error" in json.loads(content)
    assert stored() == NOTHING
    control = call(
        application, "POST", "/t/e", body=batch(shop, cart_event()).encode(), Origin=ORIGIN
    )
    assert control[0] == 204


# --- The server API --------------------------------------------------------------------------


def api(client, shop, path, body: str):
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )


def purchase(total: str, order_id: str = '"1001"') -> str:
    return (
        f'{{"order_id": {order_id}, "total": {total}, "currency": "EUR", "phone": "+33612345678"}}'
    )


def identify(first_name: str = '"Marie"', granted: str = "true") -> str:
    return (
        f'{{"phone": "+33612345678", "first_name": {first_name}, '
        f'"consent": {{"granted": {granted}, "text": "J\'accepte", "source": "checkout"}}}}'
    )


@pytest.mark.parametrize("token", NON_FINITE)
def test_a_purchase_with_a_non_finite_total_is_a_400_and_stores_nothing(client, shop, token):
    response = api(client, shop, "/api/v1/purchases", purchase(token))
    assert response.status_code == 400
    assert "number" in response.json()["error"]
    assert stored() == NOTHING
    assert api(client, shop, "/api/v1/purchases", purchase("59.9")).status_code == 200
    assert Event.objects.get().payload["total"] == "59.90"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/purchases", purchase("10", order_id='"10\\ud800"')),
        ("/api/v1/identify", identify(first_name='"Ma\\udbffrie"')),
        ("/api/v1/identify", identify(granted="NaN")),
        ("/api/v1/identify", '{"phone": "+33612345678", "consent": {"granted": true}, "x": 1e400}'),
    ],
)
def test_hostile_server_api_calls_are_a_400_and_store_nothing(client, shop, path, body):
    response = api(client, shop, path, body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert stored() == NOTHING


def test_control_a_legitimate_identify_is_stored(client, shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(client, shop, "/api/v1/identify", identify())
    assert response.status_code == 200, response.content
    assert Contact.objects.get().first_name == "Marie"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_surrogates_in_a_body_in_utf_16_or_32_are_refused_too(encoding):
    # json.loads reads these encodings too: the escape is there, in other bytes.
    with pytest.raises(InvalidJson, match="surrogate"):
        loads('{"a": "\\ud800"}'.encode(encoding))
    assert loads('{"a": "\\u00e9"}'.encode(encoding)) == {"a": "é"}


def test_an_escaped_backslash_before_u_is_no_surrogate():
    assert loads(b'{"a": "C:\\\\ud800"}') == {"a": "C:\\ud800"}

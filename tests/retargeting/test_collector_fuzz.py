"""Generated inputs: the collector never answers 5xx, and a refused input stores nothing."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import SiteFactory
from tests.support.generated import (
    SETTINGS,
    Raw,
    hostile_json_text,
    hostile_numbers,
    json_values,
    to_json,
)

# A number or a string as a hostile client sends them: NaN, 1e400, "\ud800"...
hostile_number = st.one_of(json_values, hostile_numbers)
text = st.one_of(st.text(max_size=30), hostile_json_text)

pytestmark = pytest.mark.django_db

event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["page_view", "cart", "identify", "purchase", "other"])},
    optional={
        "url": st.one_of(text, st.just("https://shop.example/")),
        "title": text,
        "cart": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {
                    "id": st.one_of(st.text(max_size=5), hostile_json_text),
                    "currency": st.text(max_size=4),
                    "total": hostile_number,
                    "url": st.just("https://shop.example/cart"),
                    "items": st.lists(
                        st.one_of(
                            json_values,
                            st.fixed_dictionaries(
                                {
                                    "sku": text,
                                    "name": text,
                                    "price": hostile_number,
                                    "quantity": hostile_number,
                                }
                            ),
                        ),
                        max_size=3,
                    ),
                }
            ),
        ),
        "phone": st.one_of(text, st.just("06 12 34 56 78")),
        "first_name": text,
        "consent": json_values,
        "order_id": json_values,
        "total": hostile_number,
        "ts": hostile_number,
        "currency": st.text(max_size=4),
        "token": json_values,
    },
)


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"])


@SETTINGS
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_never_cause_a_server_error(client, shop, body):
    response = client.post(
        "/t/e", data=body, content_type="text/plain", HTTP_ORIGIN="https://shop.example"
    )
    assert response.status_code in (400, 403)
    assert not Event.objects.exists()


@SETTINGS
@given(
    vid=st.one_of(st.text(max_size=70), st.just("0123456789abcdef0123")),
    events=st.lists(event_like, max_size=4),
)
@example(
    vid="0123456789abcdef0123",
    events=[
        {
            "type": "cart",
            "cart": {
                "id": "c1",
                "currency": "EUR",
                "total": 10,
                "items": [{"sku": "A", "name": "B", "price": 1, "quantity": Raw("1e400")}],
            },
        }
    ],
)
@example(
    vid="0123456789abcdef0123",
    events=[{"type": "page_view", "url": "https://shop.example/", "title": "\ud800"}],
)
def test_generated_batches_are_stored_whole_or_refused_whole(client, shop, vid, events):
    before = Event.objects.count(), Visitor.objects.count(), Cart.objects.count()
    response = client.post(
        "/t/e",
        data=to_json({"site": shop.public_key, "vid": vid, "events": events}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code in (204, 400)
    stored = Event.objects.count() - before[0]
    if response.status_code == 204:
        assert stored == len(events)
    else:
        assert (Event.objects.count(), Visitor.objects.count(), Cart.objects.count()) == before
        assert "error" in response.json()


@SETTINGS
@given(body=json_values)
def test_the_server_api_never_causes_a_server_error(client, body):
    from retargeting.sites.services import create_site

    created = create_site(name="Fuzz", domains=["fuzz.example"], country="FR")
    visitors = Visitor.objects.count()
    for path in ("/api/v1/identify", "/api/v1/purchases", "/api/v1/products"):
        response = client.post(
            path,
            data=to_json(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
        )
        assert response.status_code in (200, 400)
        if response.status_code == 400:
            assert "error" in response.json()
    assert Visitor.objects.count() == visitors


api_body = st.fixed_dictionaries(
    {},
    optional={
        "phone": st.one_of(text, st.just("+33612345678")),
        "first_name": text,
        "vid": st.one_of(text, st.just("0123456789abcdef0123")),
        "consent": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"granted": st.one_of(st.booleans(), hostile_number), "text": text}
            ),
        ),
        "order_id": st.one_of(text, hostile_number),
        "total": hostile_number,
        "currency": st.sampled_from(["EUR", "eur", "€"]),
    },
)


@SETTINGS
@given(body=api_body)
@example(body={"phone": "+33612345678", "order_id": "1", "total": Raw("NaN"), "currency": "EUR"})
@example(body={"phone": "+33612345678", "first_name": "\ud800", "consent": {"granted": True}})
def test_generated_server_api_calls_are_stored_or_refused_with_nothing_stored(client, body):
    from optin.models import Contact
    from retargeting.sites.services import create_site

    created = create_site(name="Fuzz", domains=["fuzz.example"], country="FR")
    for path in ("/api/v1/identify", "/api/v1/purchases"):
        before = Event.objects.count(), Contact.objects.count(), Visitor.objects.count()
        response = client.post(
            path,
            data=to_json(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
        )
        assert response.status_code in (200, 400), response.content
        if response.status_code == 400:
            assert "error" in response.json()
            assert (Event.objects.count(), Contact.objects.count(), Visitor.objects.count()) == (
                before
            )

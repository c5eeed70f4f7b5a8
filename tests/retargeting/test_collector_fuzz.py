"""Generated inputs: the collector never answers 5xx, and a refused input stores nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retargeting.tracking.models import Event, Visitor
from tests.factories import SiteFactory
from tests.support.generated import SETTINGS, json_values

pytestmark = pytest.mark.django_db

event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["page_view", "cart", "identify", "purchase", "other"])},
    optional={
        "url": st.one_of(st.text(max_size=30), st.just("https://shop.example/")),
        "cart": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=5),
                    "currency": st.text(max_size=4),
                    "total": json_values,
                    "items": st.lists(json_values, max_size=3),
                }
            ),
        ),
        "phone": st.one_of(st.text(max_size=20), st.just("06 12 34 56 78")),
        "consent": json_values,
        "order_id": json_values,
        "total": json_values,
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
def test_generated_batches_are_stored_whole_or_refused_whole(client, shop, vid, events):
    before = Event.objects.count()
    response = client.post(
        "/t/e",
        data=json.dumps({"site": shop.public_key, "vid": vid, "events": events}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code in (204, 400)
    stored = Event.objects.count() - before
    if response.status_code == 204:
        assert stored == len(events)
    else:
        assert stored == 0
        assert "error" in response.json()


@SETTINGS
@given(body=json_values)
def test_the_server_api_never_causes_a_server_error(client, body):
    from retargeting.sites.services import create_site

    created = create_site(name="Fuzz", domains=["fuzz.example"], country="FR")
    visitors = Visitor.objects.count()
    for path in ("/api/v1/identify", "/api/v1/purchases"):
        response = client.post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {created.secret_key}",
        )
        assert response.status_code in (200, 400)
        if response.status_code == 400:
            assert "error" in response.json()
    assert Visitor.objects.count() == visitors

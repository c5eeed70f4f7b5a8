"""A generated corpus over every string field of the collector's doors, on PostgreSQL (the
COPY path) and Redis (the buffer): page views, carts, identify and purchases through
``POST /t/e``, the pixel, ``POST /api/v1/carts`` and ``POST /api/v1/purchases``, buffered and
written in the request. Each case attacks one field (the visitor id included) with text that
carries newlines, NUL, lone surrogates or a length around a column's, and keeps the others
ordinary, so that about half the cases are accepted and can be counted. Nothing is ever a
5xx, the ingest never halts, and every request answered "stored" is in the database after
one ingest run: nothing accepted is lost, nothing accepted is kept aside."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from hypothesis import event, example, given
from hypothesis import strategies as st

from retargeting.sites.services import create_site
from retargeting.tracking import buffer
from retargeting.tracking.models import Event
from tests.support.generated import SETTINGS, lone_surrogates, to_json
from tests.support.servers import missing, require_server

pytestmark = [pytest.mark.django_db, pytest.mark.needs_redis, pytest.mark.needs_postgres]
ORIGIN = "https://www.shop.example"
SHOP = "https://shop.example/"

# Characters a hostile client picks, made frequent: line ends, NUL, other controls, spaces,
# what URLs and JSON care about, accents, an emoji.
_HOSTILE = st.sampled_from(list("\n\r\x00\x01\t \u2028\u00a0/?#@\\%\"'éß€📦aZ09_-"))
_CHARACTERS = st.one_of(st.characters(codec="utf-8"), _HOSTILE)


def _around(length: int) -> st.SearchStrategy[str]:
    """Text of about ``length`` characters: the column's length, one more, a few more."""
    return st.text(_CHARACTERS, min_size=length - 2, max_size=length + 3)


texts = st.one_of(
    st.text(_CHARACTERS, max_size=20),
    st.text(st.one_of(_CHARACTERS, lone_surrogates), max_size=8),
    _around(64),
    _around(128),
)
# A real visitor id, followed (or not) by what "$" let through, or any text.
valid_vids = st.from_regex(r"[A-Za-z0-9_-]{16,64}", fullmatch=True)
vids = st.one_of(
    st.tuples(valid_vids, st.sampled_from(["\n", "\r\n", "\x00", " ", "\t"])).map("".join),
    texts,
)
# What a shop's page usually sends, odd characters included: the fields not under attack.
benign = st.text(st.one_of(st.characters(codec="utf-8"), _HOSTILE), max_size=20).map(
    lambda text: "A" + text
)


@pytest.fixture(autouse=True)
def _postgresql():
    require_server("PostgreSQL", "DATABASE_URL")
    if connection.vendor != "postgresql":
        missing("this corpus needs the COPY path: run it with DATABASE_URL on PostgreSQL")


@pytest.fixture
def shops(settings):
    settings.COLLECTOR_RATE_LIMIT = 0
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 0
    return [
        create_site(name=f"Boutique {n}", domains=["shop.example"], country="FR") for n in range(2)
    ]


def _cart(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": fields["cart_id"],
        "currency": "EUR",
        "total": 10,
        "url": SHOP + fields["cart_url"],
        "ref": fields["ref"],
        "items": [
            {
                "sku": fields["sku"],
                "name": fields["name"],
                "price": 10,
                "quantity": 1,
                "url": SHOP + fields["item_url"],
                "image": "https://cdn.example/" + fields["image"],
            }
        ],
    }


def _fits_a_query(value: str) -> bool:
    """Whether a query string can carry ``value`` (UTF-8 cannot write a lone surrogate)."""
    return not any("\ud800" <= c <= "\udfff" for c in value)


FIELDS = ("title", "url", "cart_id", "cart_url", "ref", "sku", "name", "item_url", "image")
DIRECT = ("customer_id", "first_name", "consent_text", "consent_source", "order_id", "token")
# Each case attacks one field with any text; the others carry ordinary values, so that most
# cases are accepted and what is accepted can be counted after the ingest.
attacks = st.one_of(
    st.tuples(st.sampled_from((*FIELDS, *DIRECT, "phone", "email")), texts),
    st.tuples(st.just("vid"), vids),
)
ordinary = st.fixed_dictionaries(
    dict.fromkeys((*FIELDS, *DIRECT), benign)
    | {"phone": st.just("06 12 34 56 78"), "email": st.just("marie@example.fr"), "vid": valid_vids}
)

NEWLINE = "a" * 64 + "\n"


@SETTINGS
@given(attack=attacks, fields=ordinary, buffered=st.booleans())
@example(
    attack=("vid", NEWLINE),
    fields=dict.fromkeys((*FIELDS, *DIRECT, "phone", "email", "vid"), "x"),
    buffered=True,
)
def test_every_string_of_every_door_is_stored_or_refused_and_the_ingest_drains(
    client, shops, redis_buffer, settings, attack, fields, buffered
):
    settings.COLLECTOR_BUFFER = buffered
    fields = {**fields, attack[0]: attack[1]}
    vid = fields["vid"]
    shop, other = shops
    before = Event.objects.count()
    expected = 0  # events the answers say were stored

    page_view = {"type": "page_view", "url": SHOP + fields["url"], "title": fields["title"]}
    cart = {"type": "cart", "cart": _cart(fields)}
    body = {"site": shop.site.public_key, "vid": vid, "events": [page_view, cart]}
    answer = client.post("/t/e", data=to_json(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN)
    assert answer.status_code in (204, 400), answer.content
    event(f"page view and cart: {answer.status_code}")  # the statistics show both happen
    expected += 2 if answer.status_code == 204 else 0

    if _fits_a_query(vid + fields["url"] + fields["title"]):
        queued = buffer.pending()
        stored = Event.objects.count()
        gif = client.get(
            "/t/p.gif",
            {"site": shop.site.public_key, "vid": vid, "url": SHOP + fields["url"]}
            | {"title": fields["title"]},
            HTTP_REFERER=ORIGIN,
        )
        assert gif.status_code == 200 and gif["Content-Type"] == "image/gif"
        expected += (buffer.pending() - queued) + (Event.objects.count() - stored)

    api = client.post(
        "/api/v1/carts",
        data=to_json({"vid": vid, "customer_id": fields["customer_id"], "cart": _cart(fields)}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
    )
    assert api.status_code in (200, 400), api.content
    expected += 1 if api.status_code == 200 else 0

    # Written before the answer, whatever the buffer: identify (typed by a shopper, or the
    # short link's token) and purchase, from the page and from the shop's server.
    consent = {"granted": True, "text": fields["consent_text"], "source": fields["consent_source"]}
    identify = {"type": "identify", "phone": fields["phone"], "first_name": fields["first_name"]}
    purchase = {"type": "purchase", "order_id": fields["order_id"], "total": 10, "currency": "EUR"}
    direct = [
        ("/t/e", [identify | {"consent": consent}]),
        ("/t/e", [{"type": "identify", "email": fields["email"], "email_consent": consent}]),
        ("/api/v1/identify", {"email": fields["email"], "email_consent": consent}),
        ("/t/e", [{"type": "identify", "token": fields["token"]}]),
        ("/t/e", [purchase]),
        ("/api/v1/purchases", {"order_id": fields["order_id"], "total": 10, "currency": "EUR"}),
    ]
    for path, sent in direct:
        stored = Event.objects.count()
        if path == "/t/e":
            body = {"site": shop.site.public_key, "vid": vid, "events": sent}
            answer = client.post(
                path, data=to_json(body), content_type="text/plain", HTTP_ORIGIN=ORIGIN
            )
        else:
            answer = client.post(
                path,
                data=to_json({**sent, "vid": vid}),  # type: ignore[dict-item]
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
            )
        assert answer.status_code in (200, 204, 400, 429), (path, answer.content)
        kind = path.rsplit("/", 1)[1] if isinstance(sent, dict) else sent[0]["type"]
        event(f"{path} {kind}: {answer.status_code}")
        accepted = answer.status_code in (200, 204)
        assert Event.objects.count() - stored == (1 if accepted else 0), (path, sent)
        expected += Event.objects.count() - stored

    # Control: another shop's page view, from a real browser, behind them in the buffer.
    control = {
        "site": other.site.public_key,
        "vid": "0123456789abcdef0123456789abcdef",
        "events": [{"type": "page_view", "url": SHOP}],
    }
    assert (
        client.post(
            "/t/e", data=to_json(control), content_type="text/plain", HTTP_ORIGIN=ORIGIN
        ).status_code
        == 204
    )
    expected += 1

    buffer.drain(max_seconds=30)
    assert buffer.pending() == 0
    assert buffer.kept_aside() == 0
    assert Event.objects.count() - before == expected

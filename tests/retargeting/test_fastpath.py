"""The collector's WSGI fast path answers exactly as Django's full stack would."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from django.core import signals

from retargeting.tracking import buffer, views
from retargeting.tracking.models import Event
from retargeting.wsgi import application, django_application
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
VID = "0123456789abcdef0123456789abcdef"
ORIGIN = "https://www.shop.example"


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(in_the_test_transaction):
    """Every request of these tests runs in the test's transaction (see conftest.py)."""


@pytest.fixture
def shop():
    return SiteFactory(allowed_domains=["shop.example"])


def call(app, method, path, *, body=b"", query="", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "203.0.113.7",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "https",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    result = app(environ, start_response)
    content = b"".join(result)
    result.close()
    return answer["status"], answer["headers"], content


def page_view(shop, **overrides):
    batch = {
        "site": shop.public_key,
        "vid": VID,
        "events": [{"type": "page_view", "url": f"{ORIGIN}/p"}],
    }
    batch.update(overrides)
    return json.dumps(batch).encode()


def test_a_batch_is_stored_through_the_fast_path(shop):
    status, headers, content = call(
        application, "POST", "/t/e", body=page_view(shop), Origin=ORIGIN
    )
    assert (status, content) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert Event.objects.get().payload["url"] == f"{ORIGIN}/p"


def requests(shop):
    return {
        "malformed JSON": ("POST", "/t/e", b"{nope", "", {"Origin": ORIGIN}),
        "unknown key": ("POST", "/t/e", page_view(shop, site="pk_nope"), "", {"Origin": ORIGIN}),
        "wrong origin": ("POST", "/t/e", page_view(shop), "", {"Origin": "https://evil.example"}),
        "bad event": (
            "POST",
            "/t/e",
            page_view(shop, events=[{"type": "cart"}]),
            "",
            {"Origin": ORIGIN},
        ),
        "too large": ("POST", "/t/e", b"x" * (65 * 1024), "", {"Origin": ORIGIN}),
        "GET": ("GET", "/t/e", b"", "", {}),
        "preflight": ("OPTIONS", "/t/e", b"", "", {"Origin": ORIGIN}),
        "pixel": (
            "GET",
            "/t/p.gif",
            b"",
            urlencode({"site": shop.public_key, "vid": VID, "url": f"{ORIGIN}/p"}),
            {"Referer": f"{ORIGIN}/p"},
        ),
    }


NAMES = ["malformed JSON", "unknown key", "wrong origin", "bad event", "too large", "GET"]


@pytest.mark.parametrize("name", [*NAMES, "preflight", "pixel"])
def test_every_answer_is_the_full_stacks(shop, name):
    method, path, body, query, headers = requests(shop)[name]
    fast = call(application, method, path, body=body, query=query, **headers)
    full = call(django_application, method, path, body=body, query=query, **headers)
    assert fast[0] == full[0]
    assert fast[2] == full[2]
    for header in ("Content-Type", "Access-Control-Allow-Origin", "Cache-Control"):
        assert fast[1].get(header) == full[1].get(header)


def test_other_paths_go_to_django(shop):
    status, _, content = call(application, "GET", "/healthz")
    assert status == 200 and json.loads(content) == {"status": "ok"}
    status, _, _ = call(application, "GET", "/dashboard/")
    assert status == 302  # to the login page: the full stack ran


def test_an_unexpected_error_is_a_logged_500_and_the_request_finishes(shop, monkeypatch, caplog):
    finished = []

    def broken(**kwargs):
        raise RuntimeError("database gone")

    def on_finished(sender, **kwargs):
        finished.append(sender)

    monkeypatch.setattr(views, "record_batch", broken)
    signals.request_finished.connect(on_finished)
    try:
        status, _, _ = call(application, "POST", "/t/e", body=page_view(shop), Origin=ORIGIN)
    finally:
        signals.request_finished.disconnect(on_finished)
    assert status == 500
    assert len(finished) == 1
    assert buffer._group._under_way == 0  # no group in this process waits for this request
    assert any("database gone" in str(r.exc_info) for r in caplog.records if r.exc_info)

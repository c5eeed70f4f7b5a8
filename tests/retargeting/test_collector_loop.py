"""The collector's server (``uvicorn retargeting.asgi:application``) answers as the WSGI one.

The contract's tests of ``POST /t/e`` and ``GET /t/p.gif`` (every answer, what is stored,
the buffer, the rate limits, hostile and generated input) run here a second time, against
``CollectorLoop`` through ``tests.support.loop_client``: the same tests, the other server.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retargeting.asgi import django_application
from retargeting.tracking import buffer, views
from retargeting.tracking.loop import CollectorLoop
from retargeting.tracking.models import Event
from tests.retargeting.test_collector import *  # noqa: F403 - the same tests, this client
from tests.retargeting.test_collector_back_in_stock import *  # noqa: F403
from tests.retargeting.test_collector_buffer import *  # noqa: F403
from tests.retargeting.test_collector_email_cart import *  # noqa: F403
from tests.retargeting.test_collector_fuzz import (  # noqa: F401
    test_arbitrary_bytes_never_cause_a_server_error,
    test_generated_batches_are_stored_whole_or_refused_whole,
)
from tests.retargeting.test_collector_product_views import *  # noqa: F403
from tests.retargeting.test_tracking_endpoints import (  # noqa: F401
    created,
    test_other_methods_get_a_405_naming_the_allowed_ones,
    test_the_pixel_always_answers_the_gif_and_records_only_what_is_valid,
    test_the_pixel_records_a_page_view,
)
from tests.support.loop_client import BesideTheTest, LoopClient
from tests.support.processes import free_port

ORIGIN = "https://www.shop.example"


@pytest.fixture
def client():
    return LoopClient()


# --- What only the event loop does -----------------------------------------------------------

LOOP_VID = "0123456789abcdef0123456789abcd%02d"


def _scope(body: bytes, path: str = "/t/e", method: str = "POST") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"origin", ORIGIN.encode()),
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
    }


async def _exchange(app, scope: dict, body: bytes) -> int:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


class _Counting(BesideTheTest):
    """The server's thread runner, counting what it is asked to run (nothing, on the path of
    a known site's page views and carts)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def run_sync(self, function):
        self.calls += 1
        return await super().run_sync(function)


def _page_views(shop, count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "site": shop.public_key,
                "vid": LOOP_VID % n,
                "events": [{"type": "page_view", "url": f"{ORIGIN}/p/{n}"}],
            }
        ).encode()
        for n in range(count)
    ]


@pytest.mark.usefixtures("in_the_test_transaction")
def test_the_requests_of_one_turn_share_one_round_trip_and_no_thread(
    shop, redis_buffer, monkeypatch
):
    """Twenty requests arriving together: one lookup of the site in a thread (the first time
    this process sees its key), then every batch checked in the loop and appended to Redis in
    one round trip; each answered 204 only after Redis took it."""
    rounds: list[int] = []
    evaluate = buffer.LoopAppender._evaluate

    async def counted(self, calls):
        rounds.append(len(calls))
        return await evaluate(self, calls)

    monkeypatch.setattr(buffer.LoopAppender, "_evaluate", counted)
    threads = _Counting()
    app = CollectorLoop(django_application, run_sync=threads.run_sync)
    bodies = _page_views(shop, 20)

    async def run():
        try:
            first = await _exchange(app, _scope(bodies[0]), bodies[0])
            rest = await asyncio.gather(*(_exchange(app, _scope(b), b) for b in bodies[1:]))
            return [first, *rest]
        finally:
            await app.close_loop()

    with CaptureQueriesContext(connection) as queries:
        statuses = threads.run(run)
    assert statuses == [204] * 20
    assert threads.calls == 1  # the site's lookup, once
    assert len(queries) == 1
    assert rounds == [1, 19]
    assert buffer.pending() == 20
    assert not Event.objects.exists()  # in Redis until the ingest task writes them


@pytest.mark.usefixtures("in_the_test_transaction")
def test_a_redis_that_does_not_answer_makes_the_batch_written_in_the_request(
    shop, redis_buffer, settings
):
    """Redis away (nothing listens on its port): the loop's append fails, the batch is
    written in the database in a thread, and the answer is the same 204."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    threads = _Counting()
    app = CollectorLoop(django_application, run_sync=threads.run_sync)
    [body] = _page_views(shop, 1)

    async def run():
        try:
            return await _exchange(app, _scope(body), body)
        finally:
            await app.close_loop()

    assert threads.run(run) == 204
    assert threads.calls == 2  # the site's lookup, then the write
    assert Event.objects.filter(site=shop, type="page_view").count() == 1


def test_an_unexpected_error_in_the_loop_is_a_logged_500(shop, monkeypatch, caplog):
    def broken(request, lookup):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(views, "check_batch", broken)
    response = LoopClient().post(
        "/t/e", data=_page_views(shop, 1)[0], content_type="text/plain", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 500
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "a bug of ours" in caplog.text


def test_other_paths_go_to_django():
    response = LoopClient().get("/healthz")
    assert response.status_code == 200
    assert LoopClient().get("/t.js")["Content-Type"] == "application/javascript; charset=utf-8"


def test_the_server_starts_and_stops_through_the_lifespan_protocol():
    app = CollectorLoop(django_application)
    messages = [{"type": "lifespan.shutdown"}, {"type": "lifespan.startup"}]
    sent: list[dict] = []

    async def receive():
        return messages.pop()

    async def send(message):
        sent.append(message)

    BesideTheTest().run(lambda: app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]

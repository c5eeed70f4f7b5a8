"""A test client for the collector's server (``retargeting.asgi``), in the test's transaction.

It speaks ASGI to ``CollectorLoop`` as uvicorn does (scope, body, answer), with the methods
and answers of Django's test client that the collector's tests use, so the same tests run
against both servers. What the server runs in its threads (the database) runs here in the
test's own thread, inside the test's transaction, as Django's test client does.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.core import signals
from django.db import close_old_connections

from retargeting.asgi import django_application
from retargeting.tracking.loop import CollectorLoop


class BesideTheTest:
    """Runs an event loop in a thread of its own while the test's thread runs what the loop
    hands it (``run_sync``, the server's thread pool here): the database is then used in the
    test's thread, with its connection and transaction, as Django's test client does. (The
    loop cannot run in the test's thread: once a browser test has started Playwright, that
    thread counts as running Playwright's loop.)"""

    def __init__(self) -> None:
        self._calls: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()

    async def run_sync(self, function: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._calls.put((function, future))
        return await asyncio.wrap_future(future)

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        outcome: dict[str, Any] = {}

        def loop() -> None:
            try:
                outcome["value"] = asyncio.run(make())
            except BaseException as exc:  # handed to the test's thread
                outcome["error"] = exc
            finally:
                self._calls.put(None)

        thread = threading.Thread(target=loop, name="test-event-loop")
        thread.start()
        while (call := self._calls.get()) is not None:
            function, future = call
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


Body = bytes | str | dict[str, Any]
T = TypeVar("T")


class Answer:
    """The server's answer, read as a Django test client's response."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code = status
        self.content = content
        self.headers = {name.decode("latin-1").lower(): v.decode("latin-1") for name, v in headers}
        self.raw_headers = headers

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.headers

    def has_header(self, name: str) -> bool:
        return name in self

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.content)


class LoopClient:
    def __init__(self) -> None:
        self.thread = BesideTheTest()
        self.app = CollectorLoop(django_application, run_sync=self.thread.run_sync)

    def get(self, path: str, data: dict[str, Any] | None = None, **extra: str) -> Answer:
        return self.request("GET", path, query=urlencode(data or {}, doseq=True), **extra)

    def head(self, path: str, data: dict[str, Any] | None = None, **extra: str) -> Answer:
        return self.request("HEAD", path, query=urlencode(data or {}, doseq=True), **extra)

    def options(self, path: str, **extra: str) -> Answer:
        return self.request("OPTIONS", path, **extra)

    def post(self, path: str, data: Body = b"", content_type: str = "", **extra: str) -> Answer:
        return self._with_body("POST", path, data, content_type, extra)

    def put(self, path: str, data: Body = b"", content_type: str = "", **extra: str) -> Answer:
        return self._with_body("PUT", path, data, content_type, extra)

    def patch(self, path: str, data: Body = b"", content_type: str = "", **extra: str) -> Answer:
        return self._with_body("PATCH", path, data, content_type, extra)

    def delete(self, path: str, data: Body = b"", content_type: str = "", **extra: str) -> Answer:
        return self._with_body("DELETE", path, data, content_type, extra)

    def _with_body(
        self, method: str, path: str, data: Body, content_type: str, extra: dict[str, str]
    ) -> Answer:
        if isinstance(data, dict):  # a form, as Django's test client would send it encoded
            data = urlencode(data, doseq=True)
            content_type = content_type or "application/x-www-form-urlencoded"
        body = data.encode() if isinstance(data, str) else data
        return self.request(method, path, body=body, content_type=content_type, **extra)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        query: str = "",
        content_type: str = "",
        **extra: str,
    ) -> Answer:
        path, _, in_path = path.partition("?")
        query = "&".join(part for part in (in_path, query) if part)
        remote = extra.pop("REMOTE_ADDR", "127.0.0.1")
        headers = [(b"host", b"testserver")]
        if body or method in ("POST", "PUT", "PATCH"):
            headers.append((b"content-length", str(len(body)).encode()))
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        for name, value in extra.items():
            if name.startswith("HTTP_"):
                header = name[5:].lower().replace("_", "-").encode()
                headers.append((header, value.encode("latin-1")))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": (remote, 50000),
            "server": ("testserver", 80),
        }
        return self._run(scope, body)

    def _run(self, scope: dict[str, Any], body: bytes) -> Answer:
        sent: list[dict[str, Any]] = []
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if chunks:
                return chunks.pop()
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def exchange() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                await self.app.close_loop()

        # As Django's test client: requests must not close the test's connection.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            self.thread.run(exchange)
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        start = next(m for m in sent if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Answer(start["status"], list(start.get("headers", [])), content)

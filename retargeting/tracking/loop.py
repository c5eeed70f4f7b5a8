"""The collector's server: ``POST /t/e`` and ``GET /t/p.gif`` answered in an event loop.

Every page view of every shop comes to these two paths. In gunicorn each request holds a
process (or a thread and the GIL) while it waits for Redis, so the collector trails Django's
own no-op view. Here (``uvicorn retargeting.asgi:application``, the ``collector`` service of
docker-compose) one process answers many requests at once: a batch is checked in the loop, by
the same code as the WSGI view (``views.check_batch``), and the appends of every request of a
loop's turn go to Redis in one round trip (``buffer.LoopAppender``). Each request is answered
only once Redis has answered for its own batch: nothing is acknowledged that is not durable.

What needs the database runs in a thread, with Django's usual request signals around it:
a site's key not yet in the process's cache, a batch that carries an ``identify`` or a
``purchase`` (written before the answer, as always), a batch Redis did not take (written in
the request, as when Redis is down in the WSGI server), CORS preflights. Any other path goes
to Django's ASGI handler, so the server answers everything the web service does.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse, QueryDict

from retargeting.sites import lookup
from retargeting.sites.lookup import SiteInfo
from retargeting.tracking import buffer, views

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]
RunSync = Callable[[Callable[[], Any]], Awaitable[Any]]

# Threads per process for what needs the database (each may hold a database connection).
THREADS = 8


class NotCached(Exception):
    """The site's key is not in this process's cache: look it up in a thread."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _cached_site(public_key: str) -> SiteInfo | None:
    known, site = lookup.cached(public_key)
    if not known:
        raise NotCached(public_key)
    return site


class _Request(ASGIRequest):
    """Django's ASGI request, with the query string read as the WSGI request reads it (bytes
    that are not UTF-8 are read as Latin-1 instead of failing)."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        raw = scope.get("query_string", b"")
        super().__init__({**scope, "query_string": raw.decode("latin-1")}, io.BytesIO(body))
        self._raw_query = raw

    @cached_property
    def GET(self) -> QueryDict:  # type: ignore[override]
        return QueryDict(self._raw_query)


class CollectorLoop:
    """An ASGI application: the collector's two paths in the loop, the rest to ``fallback``.

    ``run_sync`` runs a function that needs the database; by default in this process's
    threads. Tests pass one that runs it at once, in the test's own transaction."""

    def __init__(self, fallback: ASGIApp, run_sync: RunSync | None = None) -> None:
        self.fallback = fallback
        self._threads: ThreadPoolExecutor | None = None
        self._run_sync = run_sync or self._in_thread
        self._appenders: dict[asyncio.AbstractEventLoop, buffer.LoopAppender] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path = scope.get("path") if scope["type"] == "http" else None
        if path is not None:
            refused = views.framing_refused(_header(scope, b"transfer-encoding"))
            if refused is not None:  # on every path, as the web server (fastpath.py)
                await _respond(send, refused, head=scope.get("method") == "HEAD")
                return
        if path == "/t/e":
            await self._collect(scope, receive, send)
        elif path == "/t/p.gif":
            await self._pixel(scope, receive, send)
        elif path is not None and path.startswith(views.API_PREFIX):
            await self._api(scope, receive, send)
        else:
            await self.fallback(scope, receive, send)

    # --- POST /t/e ---------------------------------------------------------------------------

    async def _collect(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The body is read only where the web server's view reads it: a POST within the
        # limit. A length over it is answered at once (413), another method without waiting.
        wanted = scope.get("method") == "POST" and _declared_length(scope) <= views.MAX_BODY
        try:
            body = await _read_body(receive, views.MAX_BODY + 1) if wanted else b""
        except TimeoutError:
            await _respond(send, views.incomplete_body(408), head=False)
            return
        request = _Request(scope, body)
        if request.method != "POST":  # preflights, and the 405 of any other method
            response = await self._view(views.collect, lambda: _Request(scope, body))
        else:
            response = await self._post(request, lambda: _Request(scope, body))
        await _respond(send, response, head=False)

    async def _post(self, request: HttpRequest, again: Callable[[], HttpRequest]) -> HttpResponse:
        try:
            request, checked = await self._checked(views.check_batch, request, again)
        except Exception as exc:  # as Django's handler would: logged, then a 500 page
            return response_for_exception(request, exc)
        if isinstance(checked, HttpResponse):
            return checked
        if checked.bufferable():
            try:
                taken = await self._appender().append(checked.append_call())
            except buffer.Unavailable:
                pass  # written in the request, below
            else:
                return views.accepted(taken, request)
        return await self._view(lambda retry: views.store_batch(retry, checked), again)

    # --- The server API: Django's view, its body read here first -----------------------------

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Django's handler, given the body read here with the web server's rules
        (``views.read_body`` then answers as in gunicorn): a body that stops coming is a 408
        after ``COLLECTOR_BODY_TIMEOUT`` (Django's handler would wait for ever); a length over
        64 KiB is not waited for."""
        body = b""
        if _declared_length(scope) <= views.MAX_BODY:
            try:
                body = await _read_body(receive, views.MAX_BODY + 1)
            except TimeoutError:
                await _respond(send, views.incomplete_body(408), head=False)
                return
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            while True:  # the disconnect, once the answer is sent; a body left unread
                message = await receive()  # (over the limit) is not Django's to see
                if message["type"] != "http.request":
                    return message

        await self.fallback(scope, replay, send)

    # --- GET /t/p.gif ------------------------------------------------------------------------

    async def _pixel(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The pixel reads no body, as the web server's view: a length that lies is no wait.
        body = b""
        request = _Request(scope, body)
        if request.method not in ("GET", "HEAD"):
            response = await self._view(views.pixel, lambda: _Request(scope, body))
        else:
            await self._record_pixel(request, lambda: _Request(scope, body))
            response = views.pixel_response()
        await _respond(send, response, head=request.method == "HEAD")

    async def _record_pixel(self, request: HttpRequest, again: Callable[[], HttpRequest]) -> None:
        try:
            _, checked = await self._checked(views.check_pixel, request, again)
            if checked is None:
                return
            if buffer.enabled():  # a pixel's page view is always bufferable
                try:
                    await self._appender().append(checked.append_call())
                    return
                except buffer.Unavailable:
                    pass
            await self._sync(lambda: views.store_pixel(checked))
        except Exception:
            # The pixel must never break a page; what failed is in the log.
            logger.exception("pixel event not recorded")

    # --- What needs the database, in a thread -------------------------------------------------

    async def _checked(
        self,
        check: Callable[..., Any],
        request: HttpRequest,
        again: Callable[[], HttpRequest],
    ) -> tuple[HttpRequest, Any]:
        """``check`` (``views.check_batch`` or ``check_pixel``) on the request, the site read
        from this process's cache; a key not cached yet is looked up in a thread, then the
        check runs again on a fresh request (its body unread) with the site found."""
        try:
            return request, check(request, lookup=_cached_site)
        except NotCached as missing:
            key = missing.key
        site = await self._sync(lambda: lookup.site_by_public_key(key))
        request = again()
        return request, check(request, lookup=lambda _key: site)

    async def _view(
        self, view: Callable[[HttpRequest], HttpResponse], build: Callable[[], HttpRequest]
    ) -> HttpResponse:
        """``view`` on a fresh request (its body unread), as Django's handler runs a view: an
        unexpected exception is logged and answered with a 500 page."""

        def run() -> HttpResponse:
            request = build()
            try:
                return view(request)
            except Exception as exc:
                return response_for_exception(request, exc)

        response: HttpResponse = await self._sync(run)
        return response

    async def _sync(self, function: Callable[[], Any]) -> Any:
        """``function`` (it uses the database) in a thread, between Django's request signals,
        so database connections are handled as for any request."""

        def run() -> Any:
            signals.request_started.send(sender=self.__class__)
            try:
                return function()
            finally:
                signals.request_finished.send(sender=self.__class__)

        return await self._run_sync(run)

    async def _in_thread(self, function: Callable[[], Any]) -> Any:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="collector")
        return await asyncio.get_running_loop().run_in_executor(self._threads, function)

    def _appender(self) -> buffer.LoopAppender:
        loop = asyncio.get_running_loop()
        appender = self._appenders.get(loop)
        if appender is None:
            for gone in [other for other in self._appenders if other.is_closed()]:
                del self._appenders[gone]
            appender = self._appenders[loop] = buffer.LoopAppender()
        return appender

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close_loop()
                if self._threads is not None:
                    self._threads.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close_loop(self) -> None:
        """Close the running loop's connection to Redis (the server stops, or a test's loop
        ends)."""
        appender = self._appenders.pop(asyncio.get_running_loop(), None)
        if appender is not None:
            await appender.close()


def _header(scope: Scope, name: bytes) -> str | None:
    """The request header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _declared_length(scope: Scope) -> int:
    try:
        return int(_header(scope, b"content-length") or 0)
    except ValueError:
        return 0


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes (more is left unread: the view's check of
    the size answers 413). ``TimeoutError`` when no byte came for ``COLLECTOR_BODY_TIMEOUT``
    seconds, as the web server's socket times out (a body shorter than its length)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= limit:
        message = await asyncio.wait_for(receive(), settings.COLLECTOR_BODY_TIMEOUT)
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Send, response: HttpResponse, *, head: bool) -> None:
    response.setdefault("X-Content-Type-Options", "nosniff")
    content = response.content
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    headers.extend(
        (b"set-cookie", cookie.output(header="").strip().encode("latin-1"))
        for cookie in response.cookies.values()
    )
    headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else content})

"""The collector's hot path: ``POST /t/e`` and ``GET /t/p.gif`` without Django's middleware.

Every page view of every shop comes here, so these two endpoints skip what they do not use:
URL resolution and the middleware stack (sessions, authentication, locale, CSRF, messages,
static files). They keep what matters: the request and response objects, the
``request_started``/``request_finished`` signals (database connections are handled as for any
request), Django's handling of an unexpected exception (logged, a 500 page), and the headers a
browser must see (``X-Content-Type-Options``). Everything else goes to Django as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse

from retargeting.tracking import buffer, views

ROUTES: dict[str, Callable[[WSGIRequest], HttpResponse]] = {
    "/t/e": views.collect,
    "/t/p.gif": views.pixel,
}

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class CollectorFastPath:
    """A WSGI application: the collector's two paths directly, the rest to ``fallback``."""

    def __init__(self, fallback: WSGIApp) -> None:
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refused = views.framing_refused(environ.get("HTTP_TRANSFER_ENCODING"))
        if refused is not None:  # on every path, as the collector's server (loop.py)
            return _answer(refused, start_response)
        path = environ.get("PATH_INFO", "")
        view = ROUTES.get(path)
        # gunicorn's socket: a collector or server API body that stops coming is a 408 after
        # COLLECTOR_BODY_TIMEOUT seconds without a byte (views.read_body), as in the
        # collector's server, not a worker held until gunicorn kills it.
        sock = environ.get("gunicorn.socket")
        if sock is None or (view is None and not path.startswith(views.API_PREFIX)):
            sock = None
        else:
            sock.settimeout(settings.COLLECTOR_BODY_TIMEOUT)
        if view is None:
            return self._fallback(environ, start_response, sock)
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        buffer.arriving()  # the buffer's appends of concurrent requests go together
        try:
            response = view(request)
        except Exception as exc:  # as Django's handler would: logged, then a 500 page
            response = response_for_exception(request, exc)
        finally:
            buffer.leaving()
            if sock is not None:
                sock.settimeout(None)
        response.setdefault("X-Content-Type-Options", "nosniff")
        # Closing the response sends request_finished, as Django's handler does.
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        status = f"{response.status_code} {response.reason_phrase}"
        headers = [
            *response.items(),
            *(("Set-Cookie", c.output(header="")) for c in response.cookies.values()),
        ]
        start_response(status, headers)
        return response

    def _fallback(
        self, environ: dict[str, Any], start_response: StartResponse, sock: Any
    ) -> Iterable[bytes]:
        """Django's handler; the socket back to blocking once the view has answered."""
        try:
            return self.fallback(environ, start_response)
        finally:
            if sock is not None:
                sock.settimeout(None)


def _answer(response: HttpResponse, start_response: StartResponse) -> Iterable[bytes]:
    """``response`` sent as is, before Django sees the request."""
    response.setdefault("X-Content-Type-Options", "nosniff")
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]

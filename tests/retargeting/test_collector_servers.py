"""The two servers of the collector give the same answer to every request.

The web server (gunicorn, ``retargeting.wsgi``) and the collector's server (uvicorn,
``retargeting.asgi``) are started as production starts them, on the suite's database, and the
same corpus of raw HTTP requests is written to each over a socket: bodies sent in chunks,
lengths that lie (over the limit, longer than what is sent, shorter), malformed framing, and
well-formed controls. The status codes must be equal, and so must what each stored.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable

import pytest

from bench.run import collector_server, web_server
from retargeting.sites.services import create_site
from retargeting.tracking import buffer
from retargeting.tracking.models import Event
from tests.support.processes import env_for_test_database, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Seconds both servers wait for a body that stops coming (COLLECTOR_BODY_TIMEOUT).
BODY_TIMEOUT = 1
ORIGIN = "https://shop.example"


def _batch(key: str, vid: str, pad: int = 0) -> bytes:
    events = '[{"type": "page_view", "url": "https://shop.example/p"}]'
    return f'{{"site": "{key}", "vid": "{vid}", "events": {events}}}'.encode() + b" " * pad


def _post(path: str, headers: str, body: bytes = b"") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {ORIGIN}\r\n"
        f"Content-Type: text/plain\r\n{headers}\r\n"
    ).encode() + body


def _api_cart(vid: str) -> bytes:
    cart = (
        '{"id": "c1", "currency": "EUR", "total": 10, "url": "https://shop.example/c", '
        '"items": [{"sku": "A1", "name": "Chemise", "price": 10, "quantity": 1}]}'
    )
    return f'{{"vid": "{vid}", "cart": {cart}}}'.encode()


def _chunks(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def _length(body: bytes, claimed: int | None = None) -> str:
    return f"Content-Length: {len(body) if claimed is None else claimed}\r\n"


# Each case: the raw request, from the site's public key, a visitor id of its own and the
# site's secret key.
Case = Callable[[str, str, str], bytes]
LIMIT = 64 * 1024
CORPUS: dict[str, Case] = {
    "a well-formed batch": lambda k, v, s: _post("/t/e", _length(_batch(k, v)), _batch(k, v)),
    "a batch of exactly 64 KiB": lambda k, v, s: _post(
        "/t/e", _length(b"x" * LIMIT), _batch(k, v, LIMIT - len(_batch(k, v)))
    ),
    "a batch one byte over 64 KiB": lambda k, v, s: _post(
        "/t/e", _length(b"x" * (LIMIT + 1)), _batch(k, v, LIMIT + 1 - len(_batch(k, v)))
    ),
    "a batch in chunks": lambda k, v, s: _post(
        "/t/e", "Transfer-Encoding: chunked\r\n", _chunks(_batch(k, v))
    ),
    "an empty body in chunks": lambda k, v, s: _post(
        "/t/e", "Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"
    ),
    "a batch in chunks, Transfer-Encoding in capitals": lambda k, v, s: _post(
        "/t/e", "TRANSFER-ENCODING: Chunked\r\n", _chunks(_batch(k, v))
    ),
    "a length over 64 KiB, a small body sent": lambda k, v, s: _post(
        "/t/e", _length(b"", 10_000_000), _batch(k, v)
    ),
    "a length one byte over 64 KiB, nothing sent": lambda k, v, s: _post(
        "/t/e", _length(b"", LIMIT + 1)
    ),
    "a length longer than the body sent": lambda k, v, s: _post(
        "/t/e", _length(_batch(k, v), len(_batch(k, v)) + 40), _batch(k, v)
    ),
    "a length and no body at all": lambda k, v, s: _post("/t/e", _length(b"", 200)),
    "a length shorter than the body": lambda k, v, s: _post("/t/e", _length(b"", 12), _batch(k, v)),
    "a length that is not a number": lambda k, v, s: _post(
        "/t/e", "Content-Length: ten\r\n", _batch(k, v)
    ),
    "two different lengths": lambda k, v, s: _post(
        "/t/e", _length(_batch(k, v)) + "Content-Length: 3\r\n", _batch(k, v)
    ),
    "a length and chunks": lambda k, v, s: _post(
        "/t/e", _length(_batch(k, v)) + "Transfer-Encoding: chunked\r\n", _chunks(_batch(k, v))
    ),
    "no length, no body": lambda k, v, s: _post("/t/e", ""),
    "the pixel": lambda k, v, s: (
        f"GET /t/p.gif?site={k}&vid={v}&url=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n\r\n"
    ).encode(),
    "the pixel with a length and no body": lambda k, v, s: (
        f"GET /t/p.gif?site={k}&vid={v}&url=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    ).encode(),
    "a preflight with a length and no body": lambda k, v, s: (
        f"OPTIONS /t/e HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {ORIGIN}\r\n"
        "Access-Control-Request-Method: POST\r\nContent-Length: 100\r\n\r\n"
    ).encode(),
    "the pixel, HEAD": lambda k, v, s: (
        f"HEAD /t/p.gif?site={k}&vid={v}&url=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n\r\n"
    ).encode(),
    "a batch announced with Expect: 100-continue": lambda k, v, s: _post(
        "/t/e", "Expect: 100-continue\r\n" + _length(_batch(k, v)), _batch(k, v)
    ),
    "a length of zero": lambda k, v, s: _post("/t/e", _length(b"")),
    "a batch in gzip, chunked": lambda k, v, s: _post(
        "/t/e", "Transfer-Encoding: gzip, chunked\r\n", _chunks(_batch(k, v))
    ),
    "the pixel with a body in chunks": lambda k, v, s: (
        f"GET /t/p.gif?site={k}&vid={v}&url=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ).encode(),
    "the pixel with a visitor id and a newline": lambda k, v, s: (
        f"GET /t/p.gif?site={k}&vid={'a' * 64}%0A&url=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n\r\n"
    ).encode(),
    "the server API in chunks": lambda k, v, s: _post(
        "/api/v1/carts",
        "Authorization: Bearer sk_wrong\r\nTransfer-Encoding: chunked\r\n",
        _chunks(b"{}"),
    ),
    "a cart from the shop's server": lambda k, v, s: _post(
        "/api/v1/carts", f"Authorization: Bearer {s}\r\n" + _length(_api_cart(v)), _api_cart(v)
    ),
    "the server API, a length over 64 KiB": lambda k, v, s: _post(
        "/api/v1/carts", f"Authorization: Bearer {s}\r\n" + _length(b"", 100_000), _api_cart(v)
    ),
    "the server API, a length longer than the body sent": lambda k, v, s: _post(
        "/api/v1/carts",
        f"Authorization: Bearer {s}\r\n" + _length(b"", len(_api_cart(v)) + 9),
        _api_cart(v),
    ),
    "the server API, a body in chunks": lambda k, v, s: _post(
        "/api/v1/carts",
        f"Authorization: Bearer {s}\r\nTransfer-Encoding: chunked\r\n",
        _chunks(_api_cart(v)),
    ),
    "a GET of the collector": lambda k, v, s: b"GET /t/e HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
}


def _ask(port: int, raw: bytes) -> int:
    """The status code of the final answer to ``raw`` (a ``100 Continue`` is skipped; 0: the
    connection closed without one; -1: none within a few seconds of the body timeout, the
    server still waiting)."""
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 5) as sock:
        sock.sendall(raw)
        answer = b""
        while True:
            head, complete, _ = answer.partition(b"\r\n")  # the status line, once whole
            code = head.split(b" ")[1] if complete and head.count(b" ") else b""
            if code.startswith(b"1") and b"\r\n\r\n" in answer:
                answer = answer.split(b"\r\n\r\n", 1)[1]  # an interim answer: the next
                continue
            if code and not code.startswith(b"1"):
                return int(code)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                return -1
            if not data:
                return 0
            answer += data


def _stored(site_id: int, vids: dict[str, str]) -> dict[str, list[tuple[str, str, object]]]:
    by_case: dict[str, list[tuple[str, str, object]]] = {case: [] for case in vids}
    for event in Event.objects.filter(site_id=site_id).select_related("visitor"):
        case = next(c for c, vid in vids.items() if event.visitor and event.visitor.vid == vid)
        by_case[case].append((event.type, event.source, event.payload))
    return by_case


def _start(server: str, port: int, env: dict[str, str], log) -> subprocess.Popen[bytes]:
    env = {"WEB_CONCURRENCY": "1", **env}
    if server == "web":
        return web_server(env, port, 1, log)
    return collector_server(env, port, log)


@pytest.mark.parametrize("buffered", [False, True], ids=["written-in-the-request", "buffered"])
def test_both_servers_answer_every_request_alike_and_store_the_same(
    tmp_path, request, settings, buffered
):
    sites = {
        server: create_site(name=server, domains=["shop.example"], country="FR")
        for server in ("web", "collector")
    }
    redis = {}
    if buffered:  # the page views through Redis, then the ingest, as in production
        request.getfixturevalue("redis_buffer")
        redis = {"REDIS_URL": settings.REDIS_URL, "COLLECTOR_BUFFER_SHARDS": "2"}
    env = env_for_test_database(
        ALLOWED_HOSTS="127.0.0.1",
        COLLECTOR_BUFFER="1" if buffered else "0",
        COLLECTOR_RATE_LIMIT="0",
        COLLECTOR_VISITOR_RATE_LIMIT="0",
        COLLECTOR_BODY_TIMEOUT=str(BODY_TIMEOUT),
        **redis,
    )
    vids = {case: f"{n:02d}case{'0' * 26}" for n, case in enumerate(CORPUS)}
    answers: dict[str, dict[str, int]] = {}
    stored = {}
    for server, site in sites.items():
        port = free_port()
        log_path = tmp_path / f"{server}.log"
        with log_path.open("wb") as log:
            process = _start(server, port, env, log)
            try:
                assert wait_for(lambda port=port: _up(port), timeout=60), log_path.read_text()[
                    -3000:
                ]
                answers[server] = {
                    case: _ask(port, make(site.site.public_key, vids[case], site.secret_key))
                    for case, make in CORPUS.items()
                }
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        if buffered:  # the two batches and the pixels' page views waited in Redis
            assert buffer.drain(max_seconds=30) == 6
            assert buffer.pending() == 0 and buffer.kept_aside() == 0
        stored[server] = _stored(site.site.pk, vids)

    differing = {
        case: (answers["web"][case], answers["collector"][case])
        for case in CORPUS
        if answers["web"][case] != answers["collector"][case]
    }
    assert differing == {}
    assert stored["web"] == stored["collector"]
    # What the answers are: the controls are stored, the rest refused with the reason's code.
    expected = {
        "a well-formed batch": 204,
        "a batch of exactly 64 KiB": 204,
        "a batch one byte over 64 KiB": 413,
        "a batch in chunks": 411,
        "a length over 64 KiB, a small body sent": 413,
        "a length longer than the body sent": 408,
        "the pixel": 200,
        "the pixel, HEAD": 200,
        "a batch announced with Expect: 100-continue": 204,
        "a length of zero": 400,
        "a batch in gzip, chunked": 411,
        "the pixel with a length and no body": 200,
        "a preflight with a length and no body": 204,
        "the server API in chunks": 411,
        "a cart from the shop's server": 200,
        "the server API, a length over 64 KiB": 413,
        "the server API, a length longer than the body sent": 408,
        "the server API, a body in chunks": 411,
    }
    assert {case: answers["web"][case] for case in expected} == expected
    assert [case for case, events in stored["web"].items() if events] == [
        "a well-formed batch",
        "a batch of exactly 64 KiB",
        "the pixel",
        "the pixel with a length and no body",  # the pixel reads no body, in either
        "the pixel, HEAD",
        "a batch announced with Expect: 100-continue",
        "a cart from the shop's server",
    ]


def _up(port: int) -> bool:
    try:
        return _ask(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200
    except OSError:
        return False

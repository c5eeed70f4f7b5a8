"""The collector's appends grouped per process (``buffer.GroupAppender``) and per event loop
(``buffer.LoopAppender``), on a real Redis.

Under gunicorn's threaded workers, and in the collector's server, the batches of concurrent
requests go to Redis in one round trip; every request still returns only once Redis has
answered for its own batch. Both drive the same exchange (``buffer._exchange``): the tests of
its answers run with each driver.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import redis

from retargeting.tracking import buffer
from tests.support.loop_client import BesideTheTest

pytestmark = [pytest.mark.needs_redis]


def in_a_loop(*rounds: list[buffer.Call]) -> list[list]:
    """Round trips one after the other through one event loop's appender."""

    async def run() -> list[list]:
        appender = buffer.LoopAppender()
        try:
            return [await appender._evaluate(calls) for calls in rounds]
        finally:
            await appender.close()

    return BesideTheTest().run(run)


def in_a_thread(*rounds: list[buffer.Call]) -> list[list]:
    return [buffer._evaluate(calls) for calls in rounds]


DRIVERS = pytest.mark.parametrize("driver", [in_a_thread, in_a_loop], ids=["thread", "loop"])
PAGE = {"type": "page_view", "url": "https://www.shop.example/p/a1", "title": "Chemise"}


def vid(n: int) -> str:
    return f"group-visitor-{n:04d}-0123456789"


def append(n: int) -> bool:
    return buffer.append(call(n))


def call(n: int) -> buffer.Call:
    return buffer.append_call(
        site_id=1,
        vid=vid(n),
        events=[PAGE],
        source="snippet",
        ip="192.0.2.0",
        client_ip="192.0.2.10",
        user_agent="test",
    )


def stored_vids(client: redis.Redis) -> list[str]:
    found = []
    for shard in range(2):
        for _id, fields in client.xrange(buffer.stream_key(shard)):
            found.append(json.loads(fields[b"b"])["v"])
    return sorted(found)


@pytest.fixture
def groups(monkeypatch):
    """The size of every group sent (the real round trip still runs)."""
    sizes: list[int] = []
    evaluate = buffer._evaluate

    def counted(calls):
        sizes.append(len(calls))
        return evaluate(calls)

    monkeypatch.setattr(buffer, "_evaluate", counted)
    return sizes


def in_threads(target, count: int) -> tuple[list[threading.Thread], dict[int, object]]:
    outcomes: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            outcomes[n] = target(n)
        except Exception as exc:  # what the request would see
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=20)
        assert not thread.is_alive()


def test_batches_that_arrive_during_a_round_trip_go_together_in_the_next(
    redis_buffer,
    monkeypatch,
):
    """The first request's round trip is held until the seven others are waiting: they go in
    one second round trip, and none of them returns before Redis answered for it."""
    sizes: list[int] = []
    returned_early: list[int] = []
    evaluate = buffer._evaluate
    outcomes: dict[int, object] = {}

    def held(calls):
        sizes.append(len(calls))
        if len(sizes) == 1:
            deadline = time.monotonic() + 10
            while len(buffer._group._waiting) < 8 - len(calls) and time.monotonic() < deadline:
                time.sleep(0.001)
        answers = evaluate(calls)
        if len(sizes) == 2:
            returned_early.extend(outcomes)  # nobody of this group may have returned yet
        return answers

    monkeypatch.setattr(buffer, "_evaluate", held)
    threads = [
        threading.Thread(target=lambda n=n: outcomes.update({n: append(n)})) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    join(threads)

    assert outcomes == dict.fromkeys(range(8), True)
    assert len(sizes) == 2 and sum(sizes) == 8
    assert set(returned_early) <= set(range(sizes[0]))  # only the first group had returned
    assert stored_vids(redis_buffer) == sorted(vid(n) for n in range(8))


def test_the_first_request_waits_for_the_others_under_way_in_its_process(
    redis_buffer,
    groups,
    monkeypatch,
):
    monkeypatch.setattr(buffer, "GROUP_WAIT", 30.0)  # only the arrivals end the wait here
    for _ in range(3):
        buffer.arriving()
    try:
        first, outcomes = in_threads(append, 1)
        deadline = time.monotonic() + 10
        while buffer._group._gathering is None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert buffer._group._gathering is not None and not outcomes  # waiting for the others
        others, more = in_threads(lambda n: append(n + 1), 2)
        join(first + others)
    finally:
        for _ in range(3):
            buffer.leaving()
    assert outcomes == {0: True} and more == {0: True, 1: True}
    assert groups == [3]
    assert stored_vids(redis_buffer) == [vid(0), vid(1), vid(2)]


def test_a_request_that_leaves_without_appending_ends_the_wait(
    redis_buffer,
    groups,
    monkeypatch,
):
    monkeypatch.setattr(buffer, "GROUP_WAIT", 30.0)
    buffer.arriving()
    buffer.arriving()  # a second request, answered (say with a 400) without appending
    first, outcomes = in_threads(append, 1)
    deadline = time.monotonic() + 10
    while buffer._group._gathering is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not outcomes
    buffer.leaving()  # the 400 is sent: nobody else will come
    join(first)
    buffer.leaving()
    assert outcomes == {0: True} and groups == [1]


def test_a_lone_request_waits_for_nobody(redis_buffer, groups, monkeypatch):
    monkeypatch.setattr(buffer, "GROUP_WAIT", 30.0)
    buffer.arriving()
    try:
        assert append(0) is True
    finally:
        buffer.leaving()
    assert groups == [1] and buffer._group._under_way == 0


def test_a_lost_connection_fails_every_batch_of_its_group_then_the_next_reconnects(
    redis_buffer,
    groups,
):
    assert append(0) is True  # the process's connection is open
    killer = redis.Redis.from_url(buffer.settings.REDIS_URL)
    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1  # as a Redis restart
    threads, outcomes = in_threads(lambda n: append(n + 1), 3)
    join(threads)
    failed = [n for n, outcome in outcomes.items() if isinstance(outcome, buffer.Unavailable)]
    assert failed, outcomes  # the group on the dead connection: not acknowledged
    assert all(
        outcome is True or isinstance(outcome, buffer.Unavailable) for outcome in outcomes.values()
    )
    # What failed is not in the stream (the caller writes it in the request instead).
    assert not set(stored_vids(redis_buffer)) & {vid(n + 1) for n in failed}
    assert append(9) is True  # a new connection
    assert vid(9) in stored_vids(redis_buffer)


def test_a_script_lost_by_a_redis_restart_is_loaded_again_and_nothing_runs_twice(
    redis_buffer,
    groups,
):
    assert append(0) is True
    redis_buffer.script_flush()
    threads, outcomes = in_threads(lambda n: append(n + 1), 4)
    join(threads)
    assert outcomes == dict.fromkeys(range(4), True)
    assert stored_vids(redis_buffer) == sorted(vid(n) for n in range(5))


@DRIVERS
def test_each_batch_of_a_group_gets_its_own_answer(redis_buffer, settings, driver):
    """A round trip of four: one over its visitor's limit, one refused by Redis (its stream
    key holds a string), two taken."""
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 1
    redis_buffer.set("relance:test:not-a-stream", "x")
    visitor_limit = buffer._limit_key("rl:visitor-test")
    try:
        calls = [
            (["", visitor_limit, buffer.stream_key(0)], [0, 1, 60, '{"v":"a"}']),
            (["", visitor_limit, buffer.stream_key(0)], [0, 1, 60, '{"v":"b"}']),
            (["", "", "relance:test:not-a-stream"], [0, 0, 60, '{"v":"c"}']),
            (["", "", buffer.stream_key(1)], [0, 0, 60, '{"v":"d"}']),
        ]
        [answers] = driver(calls)
    finally:
        redis_buffer.delete("relance:test:not-a-stream", visitor_limit)
    assert answers[0] == 1 and answers[1] == 0 and answers[3] == 1
    assert isinstance(answers[2], redis.ResponseError) and "WRONGTYPE" in str(answers[2])
    assert stored_vids(redis_buffer) == ["a", "d"]


@DRIVERS
def test_a_connection_lost_part_way_keeps_the_answers_already_read(settings, driver):
    """A server that answers the first call of a round trip of three, then hangs up (as a
    Redis killed mid-reply): the first batch is in, the two others are failures, written by
    their requests in the database instead, and the next round trip opens a new connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    received: list[list[str]] = []  # the EVALSHA calls each connection received

    def commands(conn: socket.socket):
        """The commands a client sends, read as RESP arrays of bulk strings."""
        data = b""
        while True:
            while b"\r\n" not in data or not _complete(data):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            command, data = _parse(data)
            yield command

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                calls: list[str] = []
                received.append(calls)
                for command in commands(conn):
                    if command[0].upper() == "HELLO":  # the client's greeting (RESP3)
                        conn.sendall(b"%1\r\n$5\r\nproto\r\n:3\r\n")
                        continue
                    if command[0].upper() != "EVALSHA":
                        conn.sendall(b"+OK\r\n")
                        continue
                    calls.append(command[-1])
                    if len(calls) == 1:
                        conn.sendall(b":1\r\n")
                    if len(calls) == 3 or len(received) == 2:
                        break  # hang up before answering the others

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    settings.REDIS_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    buffer.reset()
    try:
        calls = [(["", "", buffer.stream_key(0)], [0, 0, 60, f'{{"v":"{n}"}}']) for n in range(3)]
        answers, again = driver(calls, calls[:1])
    finally:
        buffer.reset()
        listener.close()
    assert answers[0] == 1
    assert all(isinstance(a, redis.ConnectionError) for a in answers[1:]), answers
    assert again == [1]
    assert [len(calls) for calls in received] == [3, 1]


def _complete(data: bytes) -> bool:
    try:
        _parse(data)
    except (IndexError, ValueError):
        return False
    return True


def _parse(data: bytes) -> tuple[list[str], bytes]:
    header, rest = data.split(b"\r\n", 1)
    if not header.startswith(b"*"):
        raise ValueError(header)
    parts = []
    for _ in range(int(header[1:])):
        length, rest = rest.split(b"\r\n", 1)
        size = int(length[1:])
        if len(rest) < size + 2:
            raise IndexError("incomplete")
        parts.append(rest[:size].decode())
        rest = rest[size + 2 :]
    return parts, rest

"""The collector's buffer: page views, product views and carts wait in Redis streams, then are
written in batches.

Writing every hit in its own transaction caps the collector at the database's commit rate.
With ``COLLECTOR_BUFFER`` on (the default when ``REDIS_URL`` is set):

- A batch of page views and carts is checked, counted against the rate limits and appended to
  a stream in one Redis call (a script); the 204 follows. A batch that carries an ``identify``
  (consent, a contact token) or a ``purchase`` is written to the database before the answer, as
  without the buffer: consent proof and "they bought" are never only in Redis.
- The buffer is split over ``COLLECTOR_BUFFER_SHARDS`` streams by visitor id. One consumer at a
  time drains a shard, in order, so a visitor's events keep their order.
- An entry read by the ingest task stays pending in the stream's consumer group until the
  transaction that wrote it has committed; that transaction also moves the shard's cursor
  (``IngestCursor``), so an entry read again after a crash is acknowledged, not written twice.
- When Redis does not answer, the collector writes in the request: slower, nothing lost.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import hiredis
import orjson
import redis
import redis.asyncio
from django.conf import settings
from django.core.cache import caches
from django.db import InterfaceError, OperationalError, transaction

from retargeting.tracking import limits, schema
from retargeting.tracking.entries import Entry
from retargeting.tracking.ingest import write_entries
from retargeting.tracking.models import IngestCursor
from retargeting.web.ratelimit import LIMITS_CACHE, window_key

logger = logging.getLogger(__name__)

GROUP = "ingest"
CONSUMER = "ingest"
STREAM_PREFIX = "relance:events:"
DEAD_LETTERS = "relance:events:dead"
# The ids of the entries in DEAD_LETTERS: an entry read again (its batch left pending when the
# database went away after it was set aside) is kept aside once.
DEAD_IDS = "relance:events:dead:ids"
# Set aside once, atomically: the id is recorded with the entry or not at all.
_KEEP_ASIDE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
end
return false
"""
LOCK_PREFIX = "relance:ingest-lock:"
LOCK_SECONDS = 60
BATCH_SIZE = 1000
# How long the request sending for its process's group waits for the others under way.
GROUP_WAIT = 0.001
# Only these are buffered (schema.KINDS says which); a batch with any other type is written
# in the request.
BUFFERED_TYPES = schema.BUFFERED_TYPES

# Counts the hit against the site/IP and visitor limits (the same keys as the cache's rate
# limiter, so both paths share one count) and appends the batch unless a limit is passed.
_APPEND = """
local window = tonumber(ARGV[3])
local function over(key, limit)
  if key == '' or tonumber(limit) <= 0 then return false end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, window + 5) end
  return n > tonumber(limit)
end
if over(KEYS[1], ARGV[1]) then return 0 end
if over(KEYS[2], ARGV[2]) then return 0 end
redis.call('XADD', KEYS[3], '*', 'b', ARGV[4])
return 1
"""

# What EVALSHA names the script by (Redis's SHA-1 of its text).
_APPEND_SHA = hashlib.sha1(_APPEND.encode(), usedforsecurity=False).hexdigest()

_client_lock = threading.Lock()
_client: redis.Redis | None = None
_last_warning = 0.0


class Unavailable(Exception):
    """Redis did not take the batch; the caller writes it in the request."""


def enabled() -> bool:
    return bool(settings.COLLECTOR_BUFFER and settings.REDIS_URL)


def bufferable(events: list[dict[str, Any]]) -> bool:
    return all(event["type"] in BUFFERED_TYPES for event in events)


def client() -> redis.Redis:
    """One connection pool per process, with short timeouts: a stuck Redis must not hold the
    collector's requests; they fall back to the database."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
                )
    return _client


def reset() -> None:
    """Forget the connection pool (tests that change REDIS_URL; after a fork)."""
    global _client
    with _client_lock:
        _client = None
    _drop_connection()


def stream_key(shard: int) -> str:
    return f"{STREAM_PREFIX}{shard}"


def shard_of(vid: str) -> int:
    return zlib.crc32(vid.encode()) % settings.COLLECTOR_BUFFER_SHARDS


def _limit_key(key: str) -> str:
    # The raw Redis key of the cache's rate limiter (retargeting.web.ratelimit), for the script.
    return _key_maker(id(settings.CACHES))(window_key(key))


@functools.lru_cache(maxsize=1)
def _key_maker(_settings: int) -> Callable[[str], str]:
    """The limits cache's ``make_key``, looked up once per CACHES setting (through the
    ``caches`` handler it is a lookup per call, a tenth of the collector's own work)."""
    return caches.create_connection(LIMITS_CACHE).make_key


# One append: the script's keys (the two rate limits' counters, the stream) and arguments.
Call = tuple[list[str], list[Any]]


def append_call(
    *,
    site_id: int,
    vid: str,
    events: list[dict[str, Any]],
    source: str,
    ip: str | None,
    client_ip: str | None,
    user_agent: str,
) -> Call:
    """The append script's call that counts the hit and buffers the batch.

    ``ip`` is the truncated address that is stored; ``client_ip`` the full one the limit
    counts."""
    body = json.dumps(
        {
            "s": site_id,
            "v": vid,
            "e": events,
            "t": time.time(),
            "src": source,
            "ip": ip,
            "ua": user_agent,
        },
        separators=(",", ":"),
    )
    return (
        [
            _limit_key(limits.client_key(site_id, client_ip)),
            _limit_key(limits.visitor_key(site_id, vid)),
            stream_key(shard_of(vid)),
        ],
        [settings.COLLECTOR_RATE_LIMIT, settings.COLLECTOR_VISITOR_RATE_LIMIT, 60, body],
    )


def append(call: Call) -> bool:
    """Buffer a batch (``append_call``); False when over a rate limit. Returns only once
    Redis has answered for this batch (``_group``); raises ``Unavailable`` when Redis does
    not answer."""
    return _group.append(call)


class _Waiting:
    """One request's batch in a group, and the gate its thread waits at."""

    __slots__ = ("call", "done", "error", "gate", "result")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.done = False
        self.result = False
        self.error: BaseException | None = None
        self.gate = threading.Lock()
        self.gate.acquire()  # released by the thread that sent this batch, or to make it lead


class GroupAppender:
    """Appends the batches of concurrent requests of one process in one Redis round trip.

    Under gunicorn's threaded workers a process answers several collector requests at once.
    The first to reach this point leads: it waits, at most ``GROUP_WAIT`` seconds, for the
    other requests under way in this process (``arriving``/``leaving``) to reach it too, then
    sends every batch waiting in one round trip; the requests that arrive while it is in
    flight wait and go together in the next group, led by the first of them, as a database's
    group commit. A lone request waits for nothing. Every request returns only when Redis has
    answered for its own batch: nothing is acknowledged before it is in the stream. On a busy
    machine the round trip is most of the collector's cost; a group shares it. Each thread
    waits at a gate of its own, so an arrival wakes at most the one thread it concerns.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._busy = False  # a group is being gathered or sent
        self._gathering: _Waiting | None = None  # the leader, while it waits for the others
        self._under_way = 0

    def arriving(self) -> None:
        """A collector request has started in this process (it may append)."""
        with self._lock:
            self._under_way += 1

    def leaving(self) -> None:
        """That request is answered (it will not append any more)."""
        with self._lock:
            self._under_way -= 1
            self._gathered()

    def _gathered(self) -> None:
        # Under the lock: wake the leader once everyone under way is waiting.
        leader = self._gathering
        if leader is not None and len(self._waiting) >= self._under_way:
            self._gathering = None
            leader.gate.release()

    def append(self, call: Call) -> bool:
        mine = _Waiting(call)
        with self._lock:
            self._waiting.append(mine)
            leads = not self._busy
            if leads:
                self._busy = True
            else:
                self._gathered()
        if not leads:
            mine.gate.acquire()
            if mine.done:
                return self._outcome(mine)
            # Not sent yet: the group before ours has gone, and this thread leads the next.
        self._lead(mine)
        return self._outcome(mine)

    def _lead(self, mine: _Waiting) -> None:
        with self._lock:
            gather = len(self._waiting) < self._under_way
            if gather:
                self._gathering = mine
        if gather:
            mine.gate.acquire(timeout=GROUP_WAIT)
            with self._lock:
                if self._gathering is mine:
                    self._gathering = None
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            self._send(group)
        finally:
            for waiting in group:
                if not waiting.done:  # interrupted before an answer: not acknowledged
                    waiting.error = Unavailable("the append was interrupted")
                    waiting.done = True
                if waiting is not mine:
                    waiting.gate.release()
            with self._lock:
                if self._waiting:
                    self._waiting[0].gate.release()  # it leads the next group
                else:
                    self._busy = False

    @staticmethod
    def _outcome(waiting: _Waiting) -> bool:
        return _outcome(waiting.error if waiting.error is not None else waiting.result)

    @staticmethod
    def _send(group: list[_Waiting]) -> None:
        try:
            answers = _evaluate([waiting.call for waiting in group])
        except Exception as exc:
            answers = [exc] * len(group)
        for waiting, answer in zip(group, answers, strict=True):
            if isinstance(answer, Exception):
                waiting.error = answer
            else:
                waiting.result = bool(answer)
            waiting.done = True
        failure = next((a for a in answers if isinstance(a, redis.RedisError)), None)
        if failure is not None:
            warn_unavailable(failure)


# The steps of one exchange with Redis, as ``_exchange`` asks its driver for them.
_SEND = "send"  # send these commands (the driver answers None)
_READ = "read"  # read one reply (the driver answers it, or throws the error it raised)
Exchange = Generator[tuple[str, list[tuple[Any, ...]]], Any, tuple[list[Any], bool]]


def _exchange(calls: list[Call]) -> Exchange:
    """The append script's answer for each call, in one round trip (an exception in place of
    the answer of a call Redis refused or did not answer), with no I/O of its own: it yields
    what to send and when to read, so a thread (``_evaluate``) and the collector's event loop
    (``LoopAppender``) drive the same steps. A call refused with NOSCRIPT (Redis restarted and
    lost its scripts) was not run: it is sent again once the script is loaded. When the
    connection fails part way, the answers already read stand (those batches are in the
    stream) and the others are failures (their requests write them). Returns the answers and
    whether the connection failed (the driver drops it)."""
    answers: list[Any] = [None] * len(calls)
    todo = list(range(len(calls)))
    for attempt in range(2):
        missing = []
        read = 0
        try:
            yield (
                _SEND,
                [
                    ("EVALSHA", _APPEND_SHA, len(calls[i][0]), *calls[i][0], *calls[i][1])
                    for i in todo
                ],
            )
            for index in todo:
                try:
                    answers[index] = yield (_READ, [])
                except redis.exceptions.NoScriptError as exc:
                    if attempt:
                        answers[index] = exc
                    else:
                        missing.append(index)
                except redis.ResponseError as exc:  # this call refused; the others stand
                    answers[index] = exc
                read += 1
            if missing:
                yield (_SEND, [("SCRIPT", "LOAD", _APPEND)])
                yield (_READ, [])
        except Exception as exc:
            for index in todo[read:] + missing:
                answers[index] = exc
            return answers, True
        if not missing:
            break
        todo = missing
    return answers, False


def _evaluate(calls: list[Call]) -> list[Any]:
    """``_exchange`` over this process's connection, in the calling thread.

    Only the thread sending for the group calls this, so the process's one connection is
    never shared; it is dropped after any error and opened again for the next group."""
    exchange = _exchange(calls)
    reply: Any = None
    error: Exception | None = None
    try:
        while True:
            step, commands = exchange.throw(error) if error else exchange.send(reply)
            reply = error = None
            try:
                connection = _connection()
                if step == _SEND:
                    connection.send_packed_command(connection.pack_commands(commands))
                else:
                    reply = connection.read_response()
            except Exception as exc:
                error = exc
    except StopIteration as done:
        answers, failed = done.value
    except BaseException:
        _drop_connection()
        raise
    if failed:
        _drop_connection()
    return list(answers)


class LoopAppender:
    """Appends the batches of one event loop's requests (the collector server,
    ``retargeting.tracking.loop``) in one Redis round trip per turn.

    A request hands its batch here and waits for its own answer; the batches that arrive in
    the same turn of the loop, and those that arrive while a round trip is out, go together
    in the next one. One connection per loop, one round trip out at a time, so replies are
    read in order. Nothing is acknowledged before Redis has answered for it.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[Call, asyncio.Future[Any]]] = []
        self._sending: asyncio.Task[None] | None = None
        self._connection: Any = None

    async def append(self, call: Call) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((call, future))
        if self._sending is None:
            self._sending = loop.create_task(self._send_all())
        return _outcome(await future)

    async def _send_all(self) -> None:
        group: list[tuple[Call, asyncio.Future[Any]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                answers = await self._evaluate([call for call, _ in group])
                for (_, future), answer in zip(group, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
                failure = next((a for a in answers if isinstance(a, redis.RedisError)), None)
                if failure is not None:
                    warn_unavailable(failure)
        finally:
            self._sending = None
            for _, future in group + self._waiting:
                if not future.done():  # interrupted before an answer: not acknowledged
                    future.set_result(Unavailable("the append was interrupted"))
            self._waiting = []

    async def _evaluate(self, calls: list[Call]) -> list[Any]:
        exchange = _exchange(calls)
        reply: Any = None
        error: Exception | None = None
        try:
            while True:
                step, commands = exchange.throw(error) if error else exchange.send(reply)
                reply = error = None
                try:
                    connection = self._connect()
                    if step == _SEND:
                        # hiredis packs in C; redis.asyncio's own packing is Python's.
                        packed = b"".join(hiredis.pack_command(c) for c in commands)
                        await connection.send_packed_command(packed, check_health=False)
                    else:
                        reply = await connection.read_response()
                except Exception as exc:
                    error = exc
        except StopIteration as done:
            answers, failed = done.value
        except BaseException:
            await self.close()
            raise
        if failed:
            await self.close()
        return list(answers)

    def _connect(self) -> Any:
        if self._connection is None:
            pool = redis.asyncio.ConnectionPool.from_url(
                settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            self._connection = pool.connection_class(**pool.connection_kwargs)
        return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()


def _outcome(answer: Any) -> bool:
    if isinstance(answer, redis.RedisError | Unavailable | OSError):
        raise Unavailable(str(answer)) from answer
    if isinstance(answer, BaseException):
        raise answer  # a fault of ours, not Redis's: a 500, logged
    return bool(answer)


_sender: tuple[int, Any] | None = None


def _connection() -> Any:
    """This process's connection for appends (a new one after a fork)."""
    global _sender
    pid = os.getpid()
    if _sender is None or _sender[0] != pid:
        pool = client().connection_pool
        _sender = (pid, pool.connection_class(**pool.connection_kwargs))
    return _sender[1]


def _drop_connection() -> None:
    global _sender
    if _sender is not None:
        _sender[1].disconnect()
        _sender = None


_group = GroupAppender()
arriving = _group.arriving
leaving = _group.leaving


def warn_unavailable(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:
        _last_warning = now
        logger.warning("Redis unavailable (%s); collector events written in the request", exc)


# --- Draining -------------------------------------------------------------------------------


class BadEntry(ValueError):
    """A stream entry that is not a batch the collector wrote (an earlier version's, a hand's)."""


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes] | None) -> Entry | None:
    """The entry's batch, None for an entry deleted while pending; ``BadEntry`` for one that
    is not a batch."""
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    if not fields:  # deleted while pending
        return None
    try:
        return _entry(entry_id, fields)
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
        raise BadEntry(f"{type(exc).__name__}: {exc}") from exc


def _entry(entry_id: str, fields: dict[bytes, bytes]) -> Entry:
    try:
        body = orjson.loads(fields[b"b"])
    except orjson.JSONDecodeError:  # what orjson refuses and json reads (a lone surrogate)
        body = json.loads(fields[b"b"])
    return Entry(
        id=entry_id,
        site_id=body["s"],
        vid=body["v"],
        events=body["e"],
        received_at=datetime.fromtimestamp(body["t"], tz=UTC),
        source=body["src"],
        ip=body["ip"],
        user_agent=body["ua"],
    )


def _order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def _ensure_group(key: str) -> None:
    try:
        client().xgroup_create(key, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@contextmanager
def _shard_lock(shard: int) -> Iterator[bool]:
    """One consumer per shard; the cursor row's lock makes a second one harmless anyway."""
    key = f"{LOCK_PREFIX}{shard}"
    token = f"{time.time()}:{threading.get_ident()}"
    held = bool(client().set(key, token, nx=True, ex=LOCK_SECONDS))
    try:
        yield held
    finally:
        if held:
            # Release only our own lock.
            client().eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0",
                1,
                key,
                token,
            )


def pending(shard: int | None = None) -> int:
    """Entries waiting in the buffer (all shards, or one)."""
    shards = range(settings.COLLECTOR_BUFFER_SHARDS) if shard is None else [shard]
    return sum(int(client().xlen(stream_key(n))) for n in shards)


def drain(*, max_seconds: float = 50.0, batch_size: int = BATCH_SIZE) -> int:
    """Write what the buffer holds, shard by shard; return how many entries were written.

    Shards another consumer is draining are left to it. Stops after ``max_seconds``.
    """
    deadline = time.monotonic() + max_seconds
    written = 0
    for shard in range(settings.COLLECTOR_BUFFER_SHARDS):
        with _shard_lock(shard) as held:
            if held:
                written += drain_shard(shard, deadline=deadline, batch_size=batch_size)
        if time.monotonic() >= deadline:
            break
    return written


def drain_shard(shard: int, *, deadline: float, batch_size: int = BATCH_SIZE) -> int:
    key = stream_key(shard)
    _ensure_group(key)
    written = 0
    # First what was read before and never acknowledged (a consumer that died), then new.
    start = "0"
    while time.monotonic() < deadline:
        reply: Any = client().xreadgroup(GROUP, CONSUMER, {key: start}, count=batch_size)
        raw = reply[0][1] if reply else []
        if not raw:
            if start == "0":
                start = ">"
                continue
            break
        ids = [entry_id for entry_id, _ in raw]
        entries = []
        for entry_id, fields in raw:
            try:
                entry = _decode(entry_id, fields)
            except BadEntry as exc:
                _keep_aside(entry_id, fields, exc)
                continue
            if entry is not None:
                entries.append(entry)
        written += _write(shard, entries)
        client().xack(key, GROUP, *ids)
        client().xdel(key, *ids)
    return written


def _write(shard: int, entries: list[Entry]) -> int:
    """Write a batch of entries once, moving the shard's cursor in the same transaction."""

    if not entries:
        return 0
    try:
        with transaction.atomic():
            cursor = _cursor(shard)
            fresh = [entry for entry in entries if _order(entry.id) > _order(cursor.last_id)]
            write_entries(fresh)
            cursor.last_id = entries[-1].id
            cursor.save(update_fields=["last_id", "updated_at"])
        return len(fresh)
    except (OperationalError, InterfaceError):
        # The database is away: the entries stay pending and are read again next time.
        raise
    except Exception:
        # One entry the database refuses (any of Django's DatabaseError family, COPY's too)
        # or that the writing code cannot take: found one by one below, the rest written.
        logger.warning(
            "a batch of %d buffered entries failed; writing them one by one",
            len(entries),
            exc_info=True,
        )
    return _write_one_by_one(shard, entries)


def _cursor(shard: int) -> IngestCursor:
    IngestCursor.objects.get_or_create(shard=shard)
    return IngestCursor.objects.select_for_update().get(shard=shard)


def _write_one_by_one(shard: int, entries: list[Entry]) -> int:

    written = 0
    for entry in entries:
        try:
            with transaction.atomic():
                cursor = _cursor(shard)
                fresh = _order(entry.id) > _order(cursor.last_id)
                if fresh:
                    write_entries([entry])
                cursor.last_id = entry.id
                cursor.save(update_fields=["last_id", "updated_at"])
            written += fresh
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            # This entry alone: kept aside, never dropped, and the shard drains on.
            _keep_aside(entry.id, {b"b": json.dumps(_as_body(entry)).encode()}, exc)
            with transaction.atomic():
                cursor = _cursor(shard)
                cursor.last_id = entry.id
                cursor.save(update_fields=["last_id", "updated_at"])
    return written


def _keep_aside(entry_id: bytes | str, fields: dict[bytes, bytes], error: BaseException) -> None:
    """Move an entry that cannot be written to the dead-letter stream, with the reason, and
    say so at error level: an operator reads it there (``manage.py ingest`` counts them) and
    can replay it. The shard goes on with the next entry."""
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    reason = f"{type(error).__name__}: {error}"[:500]
    logger.error(
        "buffered entry %s could not be written (%s); kept in %s",
        entry_id,
        reason,
        DEAD_LETTERS,
        exc_info=error,
    )
    kept: dict[Any, Any] = {**fields, "id": entry_id, "error": reason}
    pairs = [part for name, value in kept.items() for part in (name, value)]
    client().eval(_KEEP_ASIDE, 2, DEAD_LETTERS, DEAD_IDS, entry_id, *pairs)


def kept_aside() -> int:
    """How many buffered entries could not be written and wait in the dead-letter stream."""
    return int(client().xlen(DEAD_LETTERS))


def replay_kept_aside() -> int:
    """Put the entries kept aside back in their shards, for the next drain to write (once the
    cause is fixed); return how many. One that fails again is kept aside again, never lost.
    An entry whose body cannot be read stays where it is."""
    moved = 0
    kept: Any = client().xrange(DEAD_LETTERS)
    for dead_id, fields in kept:
        try:
            entry = _decode(fields.get(b"id", b"0-0"), fields)
        except BadEntry:
            continue
        if entry is None:
            continue
        # Back in its shard and out of the dead letters at once: never both, never neither.
        pipe = client().pipeline(transaction=True)
        pipe.xadd(stream_key(shard_of(entry.vid)), {"b": fields[b"b"]})
        pipe.xdel(DEAD_LETTERS, dead_id)
        pipe.srem(DEAD_IDS, fields.get(b"id", b""))
        pipe.execute()
        moved += 1
    return moved


def _as_body(entry: Entry) -> dict[str, Any]:
    return {
        "s": entry.site_id,
        "v": entry.vid,
        "e": entry.events,
        "t": entry.received_at.timestamp(),
        "src": entry.source,
        "ip": entry.ip,
        "ua": entry.user_agent,
    }

"""The embedded default's store for limits: a Django cache backend on one SQLite file.

Rate and confirmation limits are counters that must hold for their whole window, whatever
else is counted meanwhile. Django's file-based cache keeps ``MAX_ENTRIES`` (300) files and,
past that, deletes a third of them at random: a flood of page views (one counter per new
browser) took the counters of the confirmation limits with them. Its database cache culls
the same way, counts its whole table on every write, and increments with a read then a
write. This store never drops a live counter: an entry leaves only when it has expired
(swept once a minute) or is deleted; an increment is one atomic ``UPDATE`` in a file that
every process of the machine opens (WAL mode, as the embedded database).

With Redis (``REDIS_URL``), the ``limits`` cache is Redis and this store is not used.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

# Expired counters are deleted at most this often per process (each write ignores them
# meanwhile): per file, for every cache object and thread of the process (the development
# server makes a thread, and Django a cache object, per request).
SWEEP_SECONDS = 60
_swept_at: dict[tuple[int, Path], float] = {}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters ("
    " key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS counters_expires ON counters (expires)",
)
# A live entry, in the queries below: "(expires IS NULL OR expires > ?)", with the time.

# One connection per thread and file, whatever the number of cache objects (Django makes one
# per thread, and one per task under ASGI): opening the file costs more than the counting.
_connections = threading.local()


class CounterStore(BaseCache):
    """A cache that keeps every entry until it expires (``settings.CACHES["limits"]`` of
    the embedded default). Integers are stored as such, so that ``incr`` is atomic; other
    values are pickled, as Django's own caches do."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._path = Path(location)

    # --- the connection ----------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        opened: dict[tuple[int, Path], sqlite3.Connection] = _connections.__dict__.setdefault(
            "by_file", {}
        )
        key = (os.getpid(), self._path)  # a forked child opens the file again
        connection = opened.get(key)
        if connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=20, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for statement in SCHEMA:
                connection.execute(statement)
            opened[key] = connection
        return connection

    def _write(self, sql: str, parameters: tuple[Any, ...]) -> sqlite3.Cursor:
        now = time.time()
        db = self._db()
        key = (os.getpid(), self._path)
        if abs(now - _swept_at.get(key, 0.0)) > SWEEP_SECONDS:  # a clock set back sweeps too
            _swept_at[key] = now
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return db.execute(sql, parameters)

    @staticmethod
    def _encode(value: Any) -> int | bytes:
        if type(value) is int:  # not bool: it would come back as an int
            return value
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _decode(stored: int | bytes) -> Any:
        return pickle.loads(stored) if isinstance(stored, bytes) else stored  # noqa: S301

    # --- the cache API -----------------------------------------------------------------
    def add(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._write(
            "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
            "WHERE NOT (counters.expires IS NULL OR counters.expires > ?)",
            (key, self._encode(value), self.get_backend_timeout(timeout), time.time()),
        )
        return cursor.rowcount == 1

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._db()
            .execute(
                "SELECT value FROM counters WHERE key = ? AND (expires IS NULL OR expires > ?)",
                (key, time.time()),
            )
            .fetchone()
        )
        return default if row is None else self._decode(row[0])

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._write(
            "INSERT OR REPLACE INTO counters (key, value, expires) VALUES (?, ?, ?)",
            (key, self._encode(value), self.get_backend_timeout(timeout)),
        )

    def touch(
        self, key: str, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._write(
            "UPDATE counters SET expires = ? WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (self.get_backend_timeout(timeout), key, time.time()),
        )
        return cursor.rowcount == 1

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        # fetchall: the statement runs to its end and its write lock is released at once.
        rows = self._write(
            "UPDATE counters SET value = value + ? WHERE key = ? "
            "AND (expires IS NULL OR expires > ?) AND typeof(value) = 'integer' RETURNING value",
            (delta, key, time.time()),
        ).fetchall()
        if not rows:
            raise ValueError(f"Key '{key}' not found")
        return int(rows[0][0])

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._write("DELETE FROM counters WHERE key = ?", (key,)).rowcount == 1

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        query = "SELECT 1 FROM counters WHERE key = ? AND (expires IS NULL OR expires > ?)"
        return self._db().execute(query, (key, time.time())).fetchone() is not None

    def clear(self) -> None:
        self._db().execute("DELETE FROM counters")

    def close(self, **kwargs: Any) -> None:
        """The thread's connection stays open between requests (Django closes caches after
        each one)."""

    def entries(self) -> int:
        """How many entries the store holds, expired ones not yet swept included."""
        return int(self._db().execute("SELECT COUNT(*) FROM counters").fetchone()[0])

"""Fixed-window counters shared by every process through the cache (Redis in production)."""

from __future__ import annotations

import time

from django.core.cache import cache


def allow(*, key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one hit on ``key``; False once more than ``limit`` fell in this window.

    A ``limit`` of 0 turns the limit off. On Redis the count is atomic; on the file-based
    cache of the embedded mode it is approximate, which is enough for one machine.
    """
    if limit <= 0:
        return True
    return take(key=window_key(key, window_seconds), limit=limit, timeout=window_seconds + 5)


def window_key(key: str, window_seconds: int = 60, *, windows_ago: int = 0) -> str:
    """The cache key counting ``key`` in the current window (or one ``windows_ago`` back):
    the one format of every fixed-window count, for those that read or forget one."""
    return f"rl:{key}:{int(time.time() // window_seconds) - windows_ago}"


def take(*, key: str, limit: int, timeout: int) -> bool:
    """Count one hit on ``key``, a counter whose name carries its own period (a day's date);
    False once more than ``limit`` were counted."""
    if cache.add(key, 1, timeout=timeout):
        return limit >= 1
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return limit >= 1


def count(*, key: str) -> int:
    """How many hits ``take`` counted on ``key`` (0 when none or expired)."""
    value = cache.get(key)
    return int(value) if value else 0


def forget(*, key: str, window_seconds: int = 60) -> None:
    """Drop the counts of ``key`` (this window and the one before): for a key that holds
    personal data, such as a phone number, when that data is erased."""
    cache.delete_many(
        [window_key(key, window_seconds), window_key(key, window_seconds, windows_ago=1)]
    )

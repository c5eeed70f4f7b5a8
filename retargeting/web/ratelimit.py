"""Fixed-window counters shared by every process through the ``limits`` cache.

Every rate and confirmation limit counts here (and the login throttle): Redis in production;
in the embedded default a store that keeps each counter until its window ends, whatever the
number of other counters (retargeting/web/counter_store.py), so that no flood resets a limit.
"""

from __future__ import annotations

import time

from django.core.cache import BaseCache, caches

# settings.CACHES's alias for the limits' counters.
LIMITS_CACHE = "limits"


def store() -> BaseCache:
    """The cache the limits count in (one object per thread, as Django's caches)."""
    return caches[LIMITS_CACHE]


def allow(*, key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one hit on ``key``; False once more than ``limit`` fell in this window.

    A ``limit`` of 0 turns the limit off. The count is atomic on Redis and on the embedded
    store alike.
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
    cache = store()
    if cache.add(key, 1, timeout=timeout):
        return limit >= 1
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return limit >= 1


def count(*, key: str) -> int:
    """How many hits ``take`` counted on ``key`` (0 when none or expired)."""
    value = store().get(key)
    return int(value) if value else 0


def forget(*, key: str, window_seconds: int = 60) -> None:
    """Drop the counts of ``key`` (this window and the one before): for a key that holds
    personal data, such as a phone number, when that data is erased."""
    store().delete_many(
        [window_key(key, window_seconds), window_key(key, window_seconds, windows_ago=1)]
    )

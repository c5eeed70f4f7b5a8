"""The providers' SDK clients, kept per process and thread.

An SDK client holds an HTTP connection pool (Twilio's a ``requests.Session``, Brevo's an
``httpx.Client``): kept, every message after the first skips the TCP (and TLS) handshake. One
per thread, because neither pool is documented as safe to share between threads, and one per
process, because a connection inherited through ``fork`` (Celery's prefork pool) would be
shared with the parent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

_local = threading.local()


def get(key: Hashable, make: Callable[[], Any]) -> Any:
    """This thread's client for ``key`` (the provider and its settings), made on first use."""
    pid = os.getpid()
    if getattr(_local, "pid", None) != pid:
        _local.pid, _local.clients = pid, {}
    kept: dict[Hashable, Any] = _local.clients
    if key not in kept:
        kept[key] = make()
    return kept[key]

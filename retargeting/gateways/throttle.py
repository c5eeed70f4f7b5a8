"""Messages per second per sender, shared by every worker process.

A token bucket holding one second of messages, refilled continuously. With Redis it lives in
one Lua script (atomic across processes and machines); in the embedded mode, in a small file
under an exclusive lock (atomic across the processes of one machine). A long message costs one
token per segment, as providers count it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from retargeting.sms import segments

_BUCKET = """
local rate = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
-- A clock that stepped back refills nothing rather than draining the bucket.
tokens = math.min(rate, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""
_client: Any = None


def rate_for(sender: str) -> float:
    """Messages (segments) per second for ``sender``: ``SMS_SENDER_MPS``, else the default;
    ``EMAIL_MPS`` for an email sender (``email:…``)."""
    if sender.startswith("email:"):
        return float(settings.EMAIL_MPS)
    return float(settings.SMS_SENDER_MPS.get(sender, settings.SMS_DEFAULT_MPS))


def _redis() -> Any:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def try_acquire(sender: str, cost: int = 1) -> float:
    """Take ``cost`` tokens for ``sender``; return 0 when taken, else seconds to wait."""
    rate = rate_for(sender)
    if rate <= 0:
        return 0.0
    cost = max(1, min(cost, int(rate) or 1))
    if settings.REDIS_URL:
        return float(_redis().eval(_BUCKET, 1, f"relance:mps:{sender}", rate, cost, time.time()))
    return _file_bucket(sender, rate, cost)


def _file_bucket(sender: str, rate: float, cost: int) -> float:
    """The same bucket as the Lua script, in a file locked for each take."""
    folder = Path(settings.VAR_DIR) / "throttle"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha256(sender.encode()).hexdigest()[:32]
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        try:
            state = json.loads(handle.read() or "{}")
        except ValueError:
            state = {}
        now = time.time()
        # A clock that stepped back refills nothing rather than draining the bucket.
        elapsed = max(0.0, now - float(state.get("at", now)))
        tokens = min(rate, float(state.get("tokens", rate)) + elapsed * rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / rate
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"tokens": tokens, "at": now}))
    return wait


def cost_of(body: str) -> int:
    """The tokens a message costs: its segments, as the provider counts them."""
    return max(1, segments.count(body).segments)


def acquire(sender: str, cost: int = 1, *, max_wait: float = 30.0) -> bool:
    """Wait until ``sender`` may send ``cost`` segments; False if that would take too long."""
    deadline = time.monotonic() + max_wait
    while True:
        wait = try_acquire(sender, cost)
        if wait <= 0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(wait)

"""Messages per second per sender, shared by every worker process.

With Redis, a token bucket in one Lua script (atomic across processes and machines); in the
embedded mode, one-second windows in the file-based cache (one machine, approximate).
A long message costs one token per segment, as providers count it.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from retargeting.ratelimit import allow

_BUCKET = """
local rate = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
tokens = math.min(rate, tokens + (now - at) * rate)
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
    """Messages (segments) per second for ``sender``: ``SMS_SENDER_MPS``, else the default."""
    per_sender = getattr(settings, "SMS_SENDER_MPS", {})
    return float(per_sender.get(sender, settings.SMS_DEFAULT_MPS))


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
        wait = float(_redis().eval(_BUCKET, 1, f"relance:mps:{sender}", rate, cost, time.time()))
        return wait
    if allow(key=f"mps:{sender}", limit=int(rate), window_seconds=1, cost=cost):
        return 0.0
    return 1.0 - (time.time() % 1.0)


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

"""The collector's rate-limit keys: per site and client address, per site and browser. The
request (``views``) and the buffer's script (``buffer``) count the same keys."""

from __future__ import annotations


def client_key(site_id: int, ip: str | None) -> str:
    return f"c:{site_id}:{ip}"


def visitor_key(site_id: int, vid: str) -> str:
    return f"v:{site_id}:{vid}"

"""An entry of the collector's buffer: one request's page views and carts, as received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Entry:
    id: str
    site_id: int
    vid: str
    events: list[dict[str, Any]]
    received_at: datetime
    source: str
    ip: str | None
    user_agent: str

"""The Example vendor's side, kept in the test process: what it accepted, what it refuses,
and whether it is down. A real provider's gateway calls the vendor's API (through its SDK)
instead."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


class CarrierError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status, self.code = status, code


@dataclass
class Carrier:
    messages: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """id: (sender, to, body)."""
    refused: dict[str, str] = field(default_factory=dict)
    """Number: the error code the vendor answers."""
    down: int = 0
    """Calls still to answer 503."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def submit(self, *, sender: str, to: str, body: str) -> str:
        if self.down:
            self.down -= 1
            raise CarrierError(503, "unavailable")
        if to in self.refused:
            raise CarrierError(400, self.refused[to])
        message_id = f"EX{next(self._ids)}"
        self.messages[message_id] = (sender, to, body)
        return message_id


CARRIER = Carrier()

"""Where the higher layers plug in: what to do with an inbound SMS and a delivery status.

The opt-in layer registers the inbound handler (keywords, replies); the campaign layer
registers the status handler (send states). This layer calls them without importing them.
"""

from __future__ import annotations

from collections.abc import Callable

from retargeting.gateways.base import InboundSms, StatusReport

InboundHandler = Callable[[InboundSms], "str | None"]
"""Returns the text to answer with, or None for no answer."""
StatusHandler = Callable[[StatusReport], None]

_inbound: list[InboundHandler] = []
_status: list[StatusHandler] = []


def register_inbound_handler(handler: InboundHandler) -> None:
    if handler not in _inbound:
        _inbound.append(handler)


def register_status_handler(handler: StatusHandler) -> None:
    if handler not in _status:
        _status.append(handler)


def handle_inbound(sms: InboundSms) -> str | None:
    """Hand ``sms`` to the registered handlers; the first answer is the reply."""
    reply = None
    for handler in _inbound:
        answer = handler(sms)
        if reply is None and answer:
            reply = answer
    return reply


def handle_status(report: StatusReport) -> None:
    for handler in _status:
        handler(report)

"""Where the higher layers plug in: what to do with an inbound SMS, a delivery status and a
number the provider reports unsubscribed.

The opt-in layer registers the inbound handler (keywords, replies) and the opt-out handler
(consent revoked with the provider's report as proof); the campaign layer registers the status
handler (send states). This layer calls them without importing them.
"""

from __future__ import annotations

from collections.abc import Callable

from retargeting.gateways.base import InboundSms, OptOutReport, StatusReport

InboundHandler = Callable[[InboundSms], "str | None"]
"""Returns the text to answer with, or None for no answer."""
StatusHandler = Callable[[StatusReport], None]
OptOutHandler = Callable[[OptOutReport], object]
"""Its return value is ignored (the opt-in layer returns how many consents it changed)."""

_inbound: list[InboundHandler] = []
_status: list[StatusHandler] = []
_opt_out: list[OptOutHandler] = []


def register_inbound_handler(handler: InboundHandler) -> None:
    if handler not in _inbound:
        _inbound.append(handler)


def register_status_handler(handler: StatusHandler) -> None:
    if handler not in _status:
        _status.append(handler)


def register_opt_out_handler(handler: OptOutHandler) -> None:
    if handler not in _opt_out:
        _opt_out.append(handler)


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


def handle_opt_out(report: OptOutReport) -> None:
    for handler in _opt_out:
        handler(report)


AddressNames = Callable[[str, list[str]], "dict[str, str]"]
"""Called with a channel (``"sms"``: numbers in E.164; ``"email"``: addresses) and addresses:
the name each is known by (the contact's first name), for the simulators. The opt-in layer
registers it; this layer does not know contacts."""

_address_names: list[AddressNames] = []


def register_address_names(lookup: AddressNames) -> None:
    if lookup not in _address_names:
        _address_names.append(lookup)


def names_of(channel: str, addresses: list[str]) -> dict[str, str]:
    """``{address: name}`` for the addresses a registered lookup knows (one query each)."""
    names: dict[str, str] = {}
    for lookup in _address_names:
        for address, name in lookup(channel, addresses).items():
            names.setdefault(address, name)
    return names

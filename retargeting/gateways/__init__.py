"""Gateways: the one place that knows a provider.

Each provider is a folder (``outbox/``, ``twilio/``, ``brevo/``, ``email_outbox/``, ``smtp/``,
``anymail/brevo/``…) listed in ``registry.py``; ``get_gateway(channel)`` returns the one the
channel's setting chooses (``SMS_BACKEND``, ``EMAIL_PROVIDER``: an alias or the dotted path of
a ``Gateway`` class). Every message Relance sends (reminders,
confirmations, test sends, a member's code, emails) leaves through ``deliver()``, within its
sender's shared rate; an answer a provider sends back in its webhook's response (Twilio's
TwiML replies to STOP, START, OUI, HELP) takes its sender's tokens too, without waiting
(``take_for_reply``). The opt-in and campaign layers register the handlers that inbound
messages, delivery statuses and the provider's opt-outs are handed to (``hooks``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from retargeting.gateways import registry, throttle
from retargeting.gateways.base import (
    Action,
    Gateway,
    Outcome,
    OutgoingEmail,
    OutgoingSms,
    SendResult,
)
from retargeting.gateways.errors import NOT_HANDED, THROTTLED

INTERACTIVE_WAIT = 5.0
"""Seconds a person's request (a test send, a code) may wait for the sender's rate."""


def email_available() -> bool:
    """Whether email can be sent: an email provider is configured (always in development;
    with DEBUG off, ``EMAIL_URL`` or ``EMAIL_PROVIDER``). When it is not, the engine plans no
    email and an "SMS, else email" step sends the SMS only."""
    return bool(settings.EMAIL_PROVIDER)


def get_gateway(channel: str = "sms") -> Gateway:
    """The gateway that carries ``channel``'s messages: the provider its setting chooses
    (``registry.configured``); for email without a provider, one that sends nothing."""
    return registry.gateway_class(registry.configured(channel))()


def deliver(
    sms: OutgoingSms | OutgoingEmail,
    *,
    gateway: Gateway | None = None,
    max_wait: float = 20.0,
    handing: Callable[[], bool] | None = None,
    segments: int | None = None,
) -> SendResult:
    """Send one message: the one path every SMS and email of Relance takes to the provider.

    Waits for the sender's rate (``throttle``: shared by every process, a long message costing
    one token per segment) for at most ``max_wait`` seconds; longer, the provider is not called
    and the result is transient, ``throttled``. ``handing``, the caller's write-ahead mark, is
    called after the wait and just before the provider: when it returns False the message is
    not sent (transient, ``not_handed``). Both are certainly not sent, so safe to try again.
    ``segments``: the message's, when the caller counted them already.
    """
    is_email = isinstance(sms, OutgoingEmail)
    gateway = gateway or get_gateway("email" if is_email else "sms")
    sender = sms.sender or gateway.default_sender() or "default"
    if is_email:
        sender = f"email:{sender}"
    cost = 1 if isinstance(sms, OutgoingEmail) else (segments or throttle.cost_of(sms.body))
    if not throttle.acquire(sender, cost, max_wait=max_wait):
        return SendResult(
            Outcome.TRANSIENT,
            error_code=THROTTLED,
            reason=f"the sender's rate allowed no message within {max_wait:g} s",
            action=Action.RETRY,
        )
    if handing is not None and not handing():
        return SendResult(
            Outcome.TRANSIENT,
            error_code=NOT_HANDED,
            reason="no longer the caller's to send",
            action=Action.NONE,
        )
    return gateway.send(sms)


def take_for_reply(*, sender: str, body: str) -> bool:
    """Count an answer the provider sends back in its webhook's response (a TwiML reply)
    against ``sender``'s shared rate: its tokens are taken when the bucket has them, without
    waiting. With none left it still goes (it answers a message the customer just sent, and a
    STOP must be confirmed at once: it cannot wait), and is not counted twice. Returns whether
    the tokens were taken."""
    key = sender or get_gateway().default_sender() or "default"
    return throttle.try_acquire(key, throttle.cost_of(body)) <= 0

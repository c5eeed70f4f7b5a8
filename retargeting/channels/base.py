"""The interface every channel implements: what its address is, which of the marketing rules
(quiet hours, the frequency cap) apply to it by default, how its opt-out is offered, what a
rendered message becomes on the way out, and that it leaves through the one path
(``retargeting.gateways.deliver``, within its sender's shared rate).

The engine (``campaigns.sending``) asks a channel through ``rooms.room``; it never tests a
channel's name. A channel knows the contact's and the site's fields by name only: this layer
imports neither ``optin`` nor ``campaigns``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from retargeting.channels import Channel
from retargeting.gateways import deliver, get_gateway
from retargeting.gateways.base import Gateway, OutgoingEmail, OutgoingSms, SendResult


class OptOutStyle(StrEnum):
    """How a channel's marketing messages offer the way to stop."""

    MENTION = "mention"
    """A mention in the text: "Répondez STOP", the provider's STOP code, or the one-tap link
    (which one: ``campaigns.flows.opt_out_route``)."""
    FOOTER = "footer"
    """An unsubscribe link in the footer and the ``List-Unsubscribe`` headers (RFC 8058)."""


class ChannelRoom(abc.ABC):
    """One channel's rules and its way out."""

    channel: Channel
    address_field: str
    """The contact's field that holds the address (``phone``, ``email``)."""
    consent_field: str
    """The contact's field that copies the channel's latest consent."""
    unreachable_field: str
    """The contact's field set when the provider reports the address unreachable."""
    messaged_field: str
    """The contact's field that dates the last message the provider took on this channel."""
    opt_out_style: OptOutStyle
    cap_applies: bool = True
    """Whether the site's marketing frequency cap counts this channel's messages (per channel:
    an email never uses up the SMS cap, nor the reverse)."""

    def address(self, contact: Any) -> str:
        """The contact's address on this channel ("" when it has none)."""
        return str(getattr(contact, self.address_field) or "")

    def consent_status(self, contact: Any) -> str:
        return str(getattr(contact, self.consent_field))

    def unreachable(self, contact: Any) -> bool:
        return getattr(contact, self.unreachable_field) is not None

    @abc.abstractmethod
    def quiet_hours_apply(self, site: Any) -> bool:
        """Whether the site's quiet hours hold this channel's marketing messages."""

    @abc.abstractmethod
    def sender(self, site: Any) -> str:
        """The site's own sender on this channel; empty: the platform's default."""

    @abc.abstractmethod
    def outgoing(
        self,
        *,
        to: str,
        text: str,
        sender: str,
        tag: str,
        subject: str = "",
        html: str = "",
        headers: dict[str, str] | None = None,
        status_callback: str = "",
        validity_seconds: int | None = None,
    ) -> OutgoingSms | OutgoingEmail:
        """What a rendered message becomes on its way to the provider."""

    def gateway(self) -> Gateway:
        """The provider that carries this channel's messages."""
        return get_gateway(self.channel.value)

    def available(self) -> bool:
        """Whether the platform is configured to send on this channel."""
        return True

    def send(
        self,
        message: OutgoingSms | OutgoingEmail,
        *,
        gateway: Gateway,
        handing: Callable[[], bool] | None = None,
        max_wait: float = 20.0,
        segments: int | None = None,
    ) -> SendResult:
        """Hand one message to the provider, through the one path (shared rate, write-ahead)."""
        return deliver(
            message, gateway=gateway, max_wait=max_wait, handing=handing, segments=segments
        )

"""The provider-neutral interface every SMS backend implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.http import HttpRequest


class Outcome(StrEnum):
    """What became of one attempt to hand a message to the provider."""

    ACCEPTED = "accepted"
    TRANSIENT = "transient"
    """Not taken now (provider down, throttled, timeout): try again later."""
    PERMANENT = "permanent"
    """Will never be taken: do not try again."""


class Action(StrEnum):
    """What the higher layers must do about a provider error (see ``errors.py``)."""

    NONE = "none"
    RETRY = "retry"
    REVOKE_CONSENT = "revoke_consent"
    """The recipient unsubscribed at the provider: revoke their consent (source: provider)."""
    UNREACHABLE = "unreachable"
    """The number cannot receive SMS: mark the contact unreachable."""
    FLAG = "flag"
    """Filtered as spam by a carrier: the marketer must look at the content."""
    FAIL = "fail"


class Delivery(StrEnum):
    """A message's state at the provider, provider-neutral, in the order it moves."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    """E.164."""
    body: str
    sender: str = ""
    """A number or an alphanumeric ID; empty: the platform's default."""
    status_callback: str = ""
    validity_seconds: int | None = None
    """After this long in the provider's queue the message expires instead of arriving late."""


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str = ""
    error_code: str = ""
    reason: str = ""
    action: Action = Action.NONE


@dataclass(frozen=True)
class InboundSms:
    provider_id: str
    sender: str
    """The customer's number (E.164)."""
    recipient: str
    """Our number or sender the customer answered."""
    body: str
    opt_out_type: str = ""
    """The provider's own keyword classification (Twilio's OptOutType), when it has one."""


@dataclass(frozen=True)
class StatusReport:
    provider_id: str
    delivery: Delivery
    error_code: str = ""
    provider_status: str = ""
    raw: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's message list shows it (used to reconcile)."""

    provider_id: str
    to: str
    body: str
    delivery: Delivery
    created_at: datetime | None


class InvalidWebhook(Exception):
    """A webhook whose signature does not check out: not from the provider."""


class MalformedWebhook(InvalidWebhook):
    """A correctly signed webhook that is not what the endpoint receives."""


class Gateway(abc.ABC):
    name: str

    @abc.abstractmethod
    def send(self, sms: OutgoingSms) -> SendResult:
        """Hand one message to the provider."""

    @abc.abstractmethod
    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages sent to ``to`` since ``since``, as the provider knows them."""

    @abc.abstractmethod
    def sender_receives_replies(self, sender: str) -> bool:
        """Whether a customer can answer a message from ``sender`` (empty: the platform's
        default sender), so that "Répondez STOP" reaches Relance."""

    def stop_mention_placeholder(self) -> str | None:
        """The provider's own opt-out mention, which it fills in when sending (its STOP
        short code), or ``None`` when it has none."""
        return None

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        """Verify and read an inbound-message webhook; raise ``InvalidWebhook``."""
        raise InvalidWebhook(f"the {self.name} backend receives no webhooks")

    def parse_status(self, request: HttpRequest) -> StatusReport:
        """Verify and read a status-callback webhook; raise ``InvalidWebhook``."""
        raise InvalidWebhook(f"the {self.name} backend receives no webhooks")

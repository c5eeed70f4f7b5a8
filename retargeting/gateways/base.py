"""The provider-neutral interface every provider's gateway implements (SMS and email)."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

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
    tag: str = ""
    """Names the send at the provider (its reports and statistics), where it keeps tags."""


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    """The address, normalised."""
    subject: str
    text: str
    """The plain-text part."""
    html: str = ""
    """The HTML part; empty: text only."""
    sender: str = ""
    """``Name <address>``; empty: the platform's ``DEFAULT_FROM_EMAIL``."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers (``List-Unsubscribe``…)."""
    tag: str = ""
    """Names the send at the provider (its reports and statistics), where it keeps tags."""


ERROR_CODE_LENGTH = 16
"""The longest error code a send keeps (its column): a provider's longer code is clipped."""


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str = ""
    error_code: str = ""
    """The provider's code (or one of ``errors``'), at most ``ERROR_CODE_LENGTH`` characters:
    its action is read from the whole code before it is clipped."""
    reason: str = ""
    action: Action = Action.NONE

    def __post_init__(self) -> None:
        code = self.error_code
        if len(code) > ERROR_CODE_LENGTH:
            object.__setattr__(self, "error_code", code[:ERROR_CODE_LENGTH])
            if code not in self.reason:
                object.__setattr__(self, "reason", f"{code}: {self.reason}"[:255])


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
    action: Action = Action.NONE
    """What to do about ``error_code``, from the reporting provider's error table."""


@dataclass(frozen=True)
class OptOutReport:
    """An address the provider reports unsubscribed (STOP to its short code, an email
    provider's unsubscribe or complaint), with the proof."""

    phone: str
    """E.164; empty for an email report."""
    at: datetime
    """When the number unsubscribed, as the provider dates it."""
    provider_id: str
    """The provider's identity of the event (kept with the consent change as its proof)."""
    reply: str = ""
    """The customer's words, when the provider reported a reply rather than an unsubscription:
    the opt-in layer decides whether they are an opt-out."""
    email: str = ""
    """The email address an email provider reports (then ``phone`` is empty)."""


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's message list shows it (used to reconcile)."""

    provider_id: str
    to: str
    body: str
    delivery: Delivery
    created_at: datetime | None


class ProviderUnavailable(Exception):
    """The provider's API could not be read now (down, throttled, refused): try again later."""


class InvalidWebhook(Exception):
    """A webhook whose signature does not check out: not from the provider."""


class MalformedWebhook(InvalidWebhook):
    """A correctly signed webhook that is not what the endpoint receives."""


class Gateway(abc.ABC):
    """One provider's way of handing over messages, with what it can do stated as flags, so
    that no caller ever tests a vendor's name (``registry.py`` lists the providers)."""

    name: str
    """The provider's name in records (inbound messages, cursors): never changed once used."""
    channel: str = "sms"
    """The channel whose messages it carries (``retargeting.channels.Channel``)."""
    error_actions: ClassVar[Mapping[str, Action]] = {}
    """Its error table: the codes it returns, mapped to what Relance does (``errors.py``)."""

    # --- capabilities -----------------------------------------------------------------------
    lists_messages: bool = False
    """Whether :meth:`recent_messages` shows the messages sent earlier, with their text: a
    message whose answer was lost (a timeout, a killed worker) is then looked up there;
    elsewhere it stays unknown, never sent twice."""
    receives_replies: bool = False
    """Whether a customer can answer some of its senders (:meth:`sender_receives_replies` says
    which), so that "Répondez STOP" can work on its routes."""
    stop_placeholder: str = ""
    """The text the provider turns into its own STOP mention (its short code) when it sends
    the message; empty where it has none."""
    lists_opt_outs: bool = False
    """Whether :meth:`opt_outs_since` reads the numbers it reports unsubscribed."""
    stays_on_machine: bool = False
    """Nothing leaves the machine (the outbox): made-up numbers (the demo) are safe, and the
    development tools (phone simulator, demo shop) exist."""
    reports_delivery: bool = False
    """Whether each message's delivery is reported back (a status webhook, or at once for the
    embedded outboxes): where it is not, "delivered" is unknown on this route and the
    dashboard says so rather than showing 0."""

    @abc.abstractmethod
    def send(self, sms: Any) -> SendResult:
        """Hand one message to the provider (``OutgoingSms``, or ``OutgoingEmail`` for an
        email provider)."""

    def open(self) -> None:  # noqa: B027 - optional, as Django's email backends have it
        """Open the provider's connection for a batch (an SMTP session); optional."""

    def close(self) -> None:  # noqa: B027
        """Close what :meth:`open` opened; optional."""

    @abc.abstractmethod
    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages sent to ``to`` since ``since``, as the provider knows them."""

    def take_reports(self) -> list[StatusReport]:
        """The delivery reports this provider gave with its answers and not yet handed on
        (the embedded outboxes, which deliver at once), then forgets them. The sender hands
        them to the status hooks once it has recorded which send each message is, as a
        provider's webhook reaches them later: one path for every report. None elsewhere."""
        return []

    def status_callback_url(self) -> str:
        """Where the provider must report each message's delivery status; empty: nowhere."""
        return ""

    def default_sender(self) -> str:
        """The sender of a message that names none (its rate is shared with that sender's)."""
        return ""

    def sender_receives_replies(self, sender: str) -> bool:
        """Whether a customer can answer ``sender`` (empty: the platform's default sender), so
        that "Répondez STOP" works on this route. By default: :attr:`receives_replies`."""
        return self.receives_replies

    def stop_mention_placeholder(self) -> str | None:
        """:attr:`stop_placeholder`, or None where the provider has none."""
        return self.stop_placeholder or None

    def opt_outs_since(self, since: datetime | None) -> list[OptOutReport]:
        """Numbers the provider reports unsubscribed since ``since`` (None: as far back as it
        keeps), oldest first; none where it keeps no such list (:attr:`lists_opt_outs`). Raises
        ``ProviderUnavailable``."""
        return []

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        """Verify and read an inbound-message webhook; raise ``InvalidWebhook``."""
        raise InvalidWebhook(f"the {self.name} backend receives no webhooks")

    def parse_status(self, request: HttpRequest) -> StatusReport:
        """Verify and read a status-callback webhook; raise ``InvalidWebhook``."""
        raise InvalidWebhook(f"the {self.name} backend receives no webhooks")

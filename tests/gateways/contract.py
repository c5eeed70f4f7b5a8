"""The contract every provider keeps, whatever its channel (the model: Django's
``tests/cache/tests.py``, whose ``BaseCacheTests`` every cache backend's tests subclass).

A provider's tests subclass :class:`ProviderContract` and give one fixture, ``provider``,
returning a :class:`ProviderUnderTest`: the configured gateway and the few things only that
provider's emulator knows how to do (make an address it refuses, take it down, show what it
received, send its webhooks). The base class holds every test; nothing in it names a channel
or a vendor. ``tests/gateways/test_sms_contract.py`` has the SMS providers (and the example
provider of ``tests/gateways/example_provider/``); ``tests/gateways/test_email_contract.py``
the email providers (the email outbox, SMTP, Brevo through anymail), which add the tests only
email has (its parts and headers, its sessions) in a subclass of this one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from retargeting.gateways import deliver
from retargeting.gateways.base import (
    Action,
    Gateway,
    InvalidWebhook,
    Outcome,
    StatusReport,
)
from retargeting.gateways.errors import THROTTLED


def _sender() -> str:
    """A sender of the test's own: no other test's messages share its bucket."""
    return "R" + uuid.uuid4().hex[:9].upper()


def _nothing() -> None:
    pass


Webhook = Callable[[Client, str, bool], Any]
"""``(client, provider_id, forged)``: the provider's webhook about that message (a delivery
status), as the provider signs it, or with a forged signature; returns the response."""


@dataclass
class ProviderUnderTest:
    gateway: Gateway
    """The gateway ``get_gateway(channel)`` returns once the provider is configured."""
    message: Callable[..., Any]
    """``message(to, *, sender="", body=...)``: a message of the channel to an address."""
    new_address: Callable[[], str]
    """An address of the test's own, that the provider takes."""
    refused_address: Callable[[], tuple[str, Action]] | None
    """An address the provider refuses for good, and the action its refusal must give; None
    where it refuses no address (the email outbox keeps every message)."""
    take_down: Callable[[], None]
    """The provider cannot take the next message (down, or answering 5xx)."""
    received: Callable[[str], list[str]]
    """The bodies the provider holds for an address (its own side, not Relance's records)."""
    set_rate: Callable[[str, float], None]
    """``(sender, per_second)``: the shared rate of that sender's bucket."""
    default_sender: str
    """The sender of a message that names none, as the provider's settings give it."""
    reply_sender: str = ""
    """A sender customers can answer, where the provider has one."""
    not_replyable_sender: str = ""
    """A sender nobody can answer (an alphanumeric ID), where the provider has one."""
    webhook: Webhook | None = None
    """Its signed webhook, where it reports to Relance."""
    unsubscribe: Callable[[str], None] | None = None
    """The address unsubscribes at the provider, where it keeps such a list."""
    reply: Callable[[Client, str, str, str, bool], tuple[int, str]] | None = None
    """``(client, customer, our_sender, body, forged)``: the customer answers our sender, as
    the provider reports it (signed, or with a forged signature); returns the HTTP status and
    the answer the customer gets back (``""``: none). Where its senders receive replies."""
    refuses_later: bool = False
    """It takes every well-formed address and reports a refusal later, by its webhook (an
    email API's hard bounce, once ``settle`` has run); else it refuses in its answer."""
    settle: Callable[[], None] = _nothing
    """What the provider learns later (a bounce), told to Relance as it tells it."""
    new_sender: Callable[[], str] = _sender
    """A sender of the test's own (the channel's kind of sender): its bucket is its own."""
    mailbox: Callable[[str], list[Any]] | None = None
    """Email: the messages an address received, as its mailbox shows them (subject, both
    parts, headers: ``tests.support.email_providers.Mail``)."""
    cut_off: Callable[[], None] | None = None
    """Email: the provider cannot be reached at all (no session) until ``restore``."""
    restore: Callable[[], None] | None = None
    lose_next_answer: Callable[[], None] | None = None
    """Email: the provider takes the next message but its answer never arrives."""


@pytest.mark.django_db
class ProviderContract:
    """Subclass it with a ``provider`` fixture (see the module's docstring)."""

    @pytest.fixture
    def provider(self) -> ProviderUnderTest:  # pragma: no cover - every subclass gives it
        raise NotImplementedError

    # --- sending -------------------------------------------------------------------------

    def test_an_accepted_message_gets_the_providers_id(self, provider):
        to = provider.new_address()
        result = provider.gateway.send(provider.message(to, body="Votre panier vous attend"))
        assert result.outcome is Outcome.ACCEPTED
        assert result.provider_id and len(result.provider_id) <= 64
        assert provider.received(to) == ["Votre panier vous attend"]

    def test_each_accepted_message_gets_its_own_id(self, provider):
        to = provider.new_address()
        first = provider.gateway.send(provider.message(to, body="un"))
        second = provider.gateway.send(provider.message(to, body="deux"))
        assert first.provider_id != second.provider_id
        assert provider.received(to) == ["un", "deux"]

    def test_a_permanent_refusal_gives_its_action(self, provider, handlers):
        if provider.refused_address is None:
            # A provider that refuses no address takes a new one, whatever it is (control).
            to = provider.new_address()
            assert provider.gateway.send(provider.message(to)).outcome is Outcome.ACCEPTED
            assert len(provider.received(to)) == 1
            return
        reports: list[StatusReport] = []
        handlers.register_status_handler(reports.append)
        to, action = provider.refused_address()
        result = provider.gateway.send(provider.message(to, body="Bonjour"))
        if provider.refuses_later:
            # Taken, then reported refused (a hard bounce): the report carries the action.
            assert result.outcome is Outcome.ACCEPTED
            provider.settle()
            (report,) = [r for r in reports if r.provider_id == result.provider_id]
            assert report.error_code and report.action is action
        else:
            assert (result.outcome, result.action) == (Outcome.PERMANENT, action)
            assert result.error_code and not result.provider_id
        assert provider.received(to) == []
        # Another address still goes (control).
        other = provider.new_address()
        assert provider.gateway.send(provider.message(other)).outcome is Outcome.ACCEPTED

    def test_a_provider_down_is_transient_and_then_takes_the_message(self, provider):
        to = provider.new_address()
        provider.take_down()
        down = provider.gateway.send(provider.message(to, body="Bonjour"))
        assert (down.outcome, down.action) == (Outcome.TRANSIENT, Action.RETRY)
        assert provider.received(to) == []
        again = provider.gateway.send(provider.message(to, body="Bonjour"))
        assert again.outcome is Outcome.ACCEPTED
        assert provider.received(to) == ["Bonjour"]

    def test_a_batch_over_one_open_session_delivers_each_message(self, provider):
        addresses = [provider.new_address() for _ in range(3)]
        provider.gateway.open()
        try:
            results = [provider.gateway.send(provider.message(to)) for to in addresses]
        finally:
            provider.gateway.close()
        assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
        assert [len(provider.received(to)) for to in addresses] == [1, 1, 1]

    # --- one way out -----------------------------------------------------------------------

    def test_deliver_hands_it_over_once_after_the_write_ahead_mark(self, provider):
        marks: list[str] = []
        to = provider.new_address()
        result = deliver(provider.message(to), handing=lambda: marks.append("handed") or True)
        assert marks == ["handed"] and result.outcome is Outcome.ACCEPTED
        assert len(provider.received(to)) == 1
        # Control: a mark that refuses sends nothing.
        other = provider.new_address()
        refused = deliver(provider.message(other), handing=lambda: False)
        assert refused.outcome is Outcome.TRANSIENT
        assert provider.received(other) == []

    def test_a_message_through_deliver_takes_the_senders_shared_rate(self, provider):
        sender, to = provider.new_sender(), provider.new_address()
        provider.set_rate(sender, 1)  # one message a second, shared by every process
        first = deliver(provider.message(to, sender=sender, body="un"), max_wait=0)
        second = deliver(provider.message(to, sender=sender, body="deux"), max_wait=0)
        assert first.outcome is Outcome.ACCEPTED
        assert (second.outcome, second.error_code) == (Outcome.TRANSIENT, THROTTLED)
        assert provider.received(to) == ["un"]
        # Another sender's rate is its own (control).
        other = deliver(
            provider.message(to, sender=provider.new_sender(), body="trois"), max_wait=0
        )
        assert other.outcome is Outcome.ACCEPTED

    def test_a_message_without_a_sender_shares_the_default_senders_rate(self, provider):
        assert provider.gateway.default_sender() == provider.default_sender
        to = provider.new_address()
        provider.set_rate(provider.default_sender or "default", 1)
        # Other tests may have used the default sender's bucket just now: the first waits.
        first = deliver(provider.message(to, body="un"), max_wait=2)
        second = deliver(provider.message(to, body="deux"), max_wait=0)
        assert (first.outcome, second.error_code) == (Outcome.ACCEPTED, THROTTLED)

    # --- capabilities: each flag is honest ---------------------------------------------------

    def test_lists_messages_is_honest(self, provider):
        to = provider.new_address()
        since = timezone.now() - timedelta(minutes=1)
        result = provider.gateway.send(provider.message(to, body="Votre panier"))
        found = provider.gateway.recent_messages(to=to, since=since)
        if provider.gateway.lists_messages:
            assert [(m.provider_id, m.body) for m in found] == [
                (result.provider_id, "Votre panier")
            ]
        else:
            assert found == []

    def test_receives_replies_is_honest(self, provider):
        gateway = provider.gateway
        if gateway.receives_replies:
            assert provider.reply_sender and gateway.sender_receives_replies(provider.reply_sender)
        else:
            senders = {"", provider.default_sender, provider.reply_sender, provider.new_sender()}
            assert not any(gateway.sender_receives_replies(sender) for sender in senders)
        if provider.not_replyable_sender:
            assert not gateway.sender_receives_replies(provider.not_replyable_sender)

    def test_the_stop_placeholder_is_honest(self, provider):
        gateway = provider.gateway
        if not gateway.stop_placeholder:
            assert gateway.stop_mention_placeholder() is None
            return
        assert gateway.stop_mention_placeholder() == gateway.stop_placeholder
        # The provider takes the placeholder as it is, to fill it in itself.
        to = provider.new_address()
        body = f"Votre panier. {gateway.stop_placeholder}"
        assert gateway.send(provider.message(to, body=body)).outcome is Outcome.ACCEPTED
        assert provider.received(to) == [body]

    def test_lists_opt_outs_is_honest(self, provider):
        gateway = provider.gateway
        if not gateway.lists_opt_outs:
            assert provider.unsubscribe is None
            assert gateway.opt_outs_since(None) == []
            return
        assert provider.unsubscribe is not None
        to = provider.new_address()
        provider.unsubscribe(to)
        assert to in [report.phone for report in gateway.opt_outs_since(None)]

    # --- webhooks ------------------------------------------------------------------------

    def test_its_reports_delivery_flag_tells_the_truth(self, provider):
        # A provider that gives a delivery report with its answer says it reports delivery; one
        # that says it does not has no webhook to report by, and gives none.
        gateway = provider.gateway
        sent = gateway.send(provider.message(provider.new_address()))
        assert sent.outcome is Outcome.ACCEPTED
        taken = gateway.take_reports()
        if taken:
            assert gateway.reports_delivery
            assert [report.provider_id for report in taken] == [sent.provider_id]
            assert gateway.take_reports() == []  # each report is given once
        if not gateway.reports_delivery:
            assert provider.webhook is None and taken == []
        if provider.webhook is not None:
            assert gateway.reports_delivery

    def test_a_forged_webhook_changes_nothing(self, provider, client, handlers):
        reports: list[object] = []
        handlers.register_status_handler(reports.append)
        handlers.register_opt_out_handler(reports.append)
        handlers.register_inbound_handler(lambda sms: reports.append(sms))
        if provider.webhook is None:
            # A provider that reports nothing has no URL to report to (control: nothing).
            assert provider.gateway.status_callback_url() == ""
            with pytest.raises(InvalidWebhook):
                provider.gateway.parse_status(RequestFactory().post("/webhooks/"))
            return
        to = provider.new_address()
        sent = provider.gateway.send(provider.message(to))
        response = provider.webhook(client, sent.provider_id, True)
        assert response.status_code == 403
        assert reports == []

    def test_a_real_webhook_reaches_the_hooks(self, provider, client, handlers):
        reports: list[StatusReport] = []
        handlers.register_status_handler(reports.append)
        if provider.webhook is None:
            assert provider.gateway.status_callback_url() == ""
            return
        to = provider.new_address()
        sent = provider.gateway.send(provider.message(to))
        response = provider.webhook(client, sent.provider_id, False)
        assert 200 <= response.status_code < 300
        assert [report.provider_id for report in reports] == [sent.provider_id]

    def test_a_real_reply_reaches_the_hooks_and_is_answered(self, provider, client, handlers):
        received: list[object] = []
        handlers.register_inbound_handler(lambda sms: received.append(sms) or "Bien reçu")
        if not provider.gateway.receives_replies:
            assert provider.reply is None  # nothing to answer to
            return
        assert provider.reply is not None
        customer = provider.new_address()
        status, answer = provider.reply(client, customer, provider.reply_sender, "AIDE", False)
        assert status < 400 and answer == "Bien reçu"
        assert [(m.sender, m.recipient, m.body) for m in received] == [  # type: ignore[attr-defined]
            (customer, provider.reply_sender, "AIDE")
        ]

    def test_a_forged_reply_changes_nothing(self, provider, client, handlers):
        received: list[object] = []
        handlers.register_inbound_handler(lambda sms: received.append(sms) or "Bien reçu")
        if provider.reply is None:
            with pytest.raises(InvalidWebhook):
                provider.gateway.parse_inbound(RequestFactory().post("/webhooks/"))
            return
        customer = provider.new_address()
        status, answer = provider.reply(client, customer, provider.reply_sender, "STOP", True)
        # 403 for a forged signature; a development tool without one answers 404 instead.
        assert 400 <= status < 500 and (answer, received) == ("", [])

"""The contract every email provider keeps (Django's ``BaseCacheTests`` is the model): one
class of tests, run against the email outbox, SMTP (a real aiosmtpd server) and Brevo through
django-anymail (the Brevo emulator). A provider that can refuse an address, be down or lose an
answer also keeps the contract of those (``FailingProviderContract``).

Each subclass gives the fixture ``provider`` (tests/support/email_providers.py): the gateway,
what each address received, and the faults.
"""

from __future__ import annotations

import pytest

from retargeting.gateways import deliver
from retargeting.gateways.base import Action, Outcome, OutgoingEmail
from retargeting.gateways.errors import AMBIGUOUS, action_for
from tests.support.email_providers import (
    BrevoProvider,
    EmailProvider,
    OutboxProvider,
    SmtpProvider,
)

pytestmark = pytest.mark.django_db

ADDRESS = "marie@example.fr"
SENDER = "Maison Demo <bonjour@maison.example>"
UNSUBSCRIBE = "<https://relance.example/u/Ab3dE5fG>"


def email(
    to: str = ADDRESS, *, subject: str = "Votre panier vous attend", **kwargs
) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=subject,
        text=kwargs.pop("text", "Votre panier : https://relance.example/s/Ab3dE5fG"),
        html=kwargs.pop(
            "html", '<p>Votre <a href="https://relance.example/s/Ab3dE5fG">panier</a></p>'
        ),
        sender=kwargs.pop("sender", SENDER),
        headers={
            "List-Unsubscribe": UNSUBSCRIBE,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        **kwargs,
    )


@pytest.fixture
def reports(handlers):
    """The status and opt-out reports that reach the hooks."""
    seen: dict[str, list] = {"status": [], "opt_out": []}
    handlers.register_status_handler(seen["status"].append)
    handlers.register_opt_out_handler(seen["opt_out"].append)
    return seen


class EmailProviderContract:
    """What every email provider does."""

    def test_a_message_reaches_the_address_with_both_parts_and_the_unsubscribe_headers(
        self, provider: EmailProvider
    ):
        result = provider.gateway().send(email())
        assert result.outcome is Outcome.ACCEPTED and result.provider_id
        (mail,) = provider.received(ADDRESS)
        assert mail.subject == "Votre panier vous attend"
        assert "bonjour@maison.example" in mail.sender
        assert mail.text.strip() == "Votre panier : https://relance.example/s/Ab3dE5fG"
        assert 'href="https://relance.example/s/Ab3dE5fG"' in mail.html
        assert mail.headers["list-unsubscribe"] == UNSUBSCRIBE
        assert mail.headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert provider.received("someone.else@example.fr") == []

    def test_each_message_has_its_own_provider_id_that_fits_a_send(self, provider):
        gateway = provider.gateway()
        ids = [gateway.send(email(subject=f"n° {n}")).provider_id for n in range(3)]
        assert len(set(ids)) == 3 and all(0 < len(i) <= 64 for i in ids)
        assert all(not i.startswith("<") for i in ids)

    def test_a_batch_over_one_open_session_delivers_each_message(self, provider):
        gateway = provider.gateway()
        gateway.open()
        try:
            results = [gateway.send(email(f"client{n}@example.fr")) for n in range(3)]
        finally:
            gateway.close()
        assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
        assert all(len(provider.received(f"client{n}@example.fr")) == 1 for n in range(3))

    def test_a_message_naming_no_sender_leaves_from_the_default(self, provider, settings):
        settings.DEFAULT_FROM_EMAIL = "Relance <relance@shop.example>"
        gateway = provider.gateway()
        assert gateway.default_sender() == "Relance <relance@shop.example>"
        assert gateway.send(email(sender="")).outcome is Outcome.ACCEPTED
        (mail,) = provider.received(ADDRESS)
        assert "relance@shop.example" in mail.sender

    def test_deliver_hands_it_over_once_after_the_write_ahead_mark(self, provider):
        marks = []
        result = deliver(email(), handing=lambda: marks.append("handed") or True)
        assert marks == ["handed"] and result.outcome is Outcome.ACCEPTED
        assert len(provider.received(ADDRESS)) == 1
        # Control: a mark that refuses sends nothing.
        refused = deliver(email("other@example.fr"), handing=lambda: False)
        assert refused.outcome is Outcome.TRANSIENT
        assert provider.received("other@example.fr") == []

    def test_what_it_lists_it_finds_by_the_text_sent(self, provider):
        from datetime import timedelta

        from django.utils import timezone

        gateway = provider.gateway()
        before = timezone.now() - timedelta(seconds=1)
        result = gateway.send(email())
        listed = gateway.recent_messages(to=ADDRESS, since=before)
        if gateway.lists_messages:
            (found,) = listed
            assert found.provider_id == result.provider_id
            assert found.body == email().text
        else:
            assert listed == []

    def test_it_carries_email_and_no_replies(self, provider):
        gateway = provider.gateway()
        assert gateway.channel == "email"
        assert gateway.sender_receives_replies(SENDER) is False


class FailingProviderContract(EmailProviderContract):
    """What a provider that can refuse, be down or lose an answer does then."""

    def test_a_refused_address_ends_the_send_and_marks_the_address_unreachable(
        self, provider, reports
    ):
        provider.refuse(ADDRESS)
        result = provider.gateway().send(email())
        provider.settle()
        if result.outcome is Outcome.ACCEPTED:
            # Refused after the provider took it: reported later (a hard bounce).
            (report,) = [r for r in reports["status"] if r.provider_id == result.provider_id]
            action = action_for(report.error_code)
        else:
            assert result.outcome is Outcome.PERMANENT
            action = result.action
        assert action is Action.UNREACHABLE
        assert provider.received(ADDRESS) == []
        # Control: another address still gets its message.
        assert provider.gateway().send(email("other@example.fr")).outcome is Outcome.ACCEPTED

    def test_a_provider_down_is_transient_and_certainly_not_sent(self, provider):
        provider.take_down()
        result = provider.gateway().send(email())
        assert result.outcome is Outcome.TRANSIENT and result.action is Action.RETRY
        assert result.error_code not in AMBIGUOUS  # nothing left: safe to send again
        provider.bring_up()
        assert provider.received(ADDRESS) == []
        assert provider.gateway().send(email()).outcome is Outcome.ACCEPTED
        assert len(provider.received(ADDRESS)) == 1

    def test_a_lost_answer_is_ambiguous_never_a_plain_retry(self, provider):
        provider.lose_next_answer()
        result = provider.gateway().send(email())
        assert result.outcome is Outcome.TRANSIENT
        assert result.error_code in AMBIGUOUS
        assert len(provider.received(ADDRESS)) == 1  # it did arrive: a resend would double it

    def test_a_batch_goes_on_after_a_refused_address(self, provider, reports):
        provider.refuse("gone@example.fr")
        gateway = provider.gateway()
        gateway.open()
        try:
            first = gateway.send(email("gone@example.fr"))
            second = gateway.send(email())
        finally:
            gateway.close()
        assert second.outcome is Outcome.ACCEPTED and len(provider.received(ADDRESS)) == 1
        assert first.outcome in (Outcome.PERMANENT, Outcome.ACCEPTED)


class TestEmailOutbox(EmailProviderContract):
    @pytest.fixture
    def provider(self, settings):
        return OutboxProvider(settings)


class TestSmtp(FailingProviderContract):
    @pytest.fixture
    def provider(self, smtp):
        return SmtpProvider(smtp)


class TestBrevoThroughAnymail(FailingProviderContract):
    @pytest.fixture
    def provider(self, settings):
        from tests.support.brevo_emulator import BrevoEmulator

        with BrevoEmulator() as emulator:
            yield BrevoProvider(emulator, settings)

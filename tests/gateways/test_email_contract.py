"""The shared provider contract (``tests/gateways/contract.py``, Django's ``BaseCacheTests`` is
the model), kept by every email provider: the email outbox, SMTP (a real aiosmtpd server) and
Brevo through django-anymail (the Brevo emulator); plus what only email has (``EmailContract``:
its parts and headers, its sender, its ids) and what a provider that can be cut off or lose an
answer does then (``FailingEmailContract``).

Each subclass gives the fixture ``provider`` (``tests/support/email_providers.py``), a
``ProviderUnderTest`` as the SMS providers give it.
"""

from __future__ import annotations

import pytest

from retargeting.gateways.base import Action, Outcome, OutgoingEmail
from retargeting.gateways.errors import AMBIGUOUS
from tests.gateways.contract import ProviderContract, ProviderUnderTest
from tests.support.email_providers import (
    UNSUBSCRIBE,
    brevo_provider,
    outbox_provider,
    smtp_provider,
)

ADDRESS = "marie@example.fr"
SENDER = "Maison Demo <bonjour@maison.example>"


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


def mails(provider: ProviderUnderTest, address: str) -> list:
    assert provider.mailbox is not None
    return provider.mailbox(address)


class EmailContract(ProviderContract):
    """What every email provider does beyond the shared contract."""

    def test_a_message_reaches_the_address_with_both_parts_and_the_unsubscribe_headers(
        self, provider
    ):
        result = provider.gateway.send(email())
        assert result.outcome is Outcome.ACCEPTED and result.provider_id
        (mail,) = mails(provider, ADDRESS)
        assert mail.subject == "Votre panier vous attend"
        assert "bonjour@maison.example" in mail.sender
        assert mail.text.strip() == "Votre panier : https://relance.example/s/Ab3dE5fG"
        assert 'href="https://relance.example/s/Ab3dE5fG"' in mail.html
        assert mail.headers["list-unsubscribe"] == UNSUBSCRIBE
        assert mail.headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert mails(provider, "someone.else@example.fr") == []

    def test_each_message_has_its_own_provider_id_that_fits_a_send(self, provider):
        ids = [provider.gateway.send(email(subject=f"n° {n}")).provider_id for n in range(3)]
        assert len(set(ids)) == 3 and all(0 < len(i) <= 64 for i in ids)
        assert all(not i.startswith("<") for i in ids)

    def test_a_message_naming_no_sender_leaves_from_the_default(self, provider, settings):
        settings.DEFAULT_FROM_EMAIL = "Relance <relance@shop.example>"
        gateway = provider.gateway
        assert gateway.default_sender() == "Relance <relance@shop.example>"
        assert gateway.send(email(sender="")).outcome is Outcome.ACCEPTED
        (mail,) = mails(provider, ADDRESS)
        assert "relance@shop.example" in mail.sender

    def test_what_it_lists_it_finds_by_the_whole_text_sent(self, provider):
        from datetime import timedelta

        from django.utils import timezone

        before = timezone.now() - timedelta(seconds=1)
        result = provider.gateway.send(email())
        listed = provider.gateway.recent_messages(to=ADDRESS, since=before)
        if provider.gateway.lists_messages:
            (found,) = listed
            assert found.provider_id == result.provider_id
            assert found.body == email().text
        else:
            assert listed == []

    def test_it_carries_email_and_no_replies(self, provider):
        assert provider.gateway.channel == "email"
        assert provider.gateway.sender_receives_replies(SENDER) is False


class FailingEmailContract(EmailContract):
    """What a provider that can be cut off or lose an answer does then."""

    def test_a_provider_cut_off_is_transient_and_certainly_not_sent(self, provider):
        provider.cut_off()
        result = provider.gateway.send(email())
        assert result.outcome is Outcome.TRANSIENT and result.action is Action.RETRY
        assert result.error_code not in AMBIGUOUS  # nothing left: safe to send again
        provider.restore()
        assert mails(provider, ADDRESS) == []
        assert provider.gateway.send(email()).outcome is Outcome.ACCEPTED
        assert len(mails(provider, ADDRESS)) == 1

    def test_a_lost_answer_is_ambiguous_never_a_plain_retry(self, provider):
        provider.lose_next_answer()
        result = provider.gateway.send(email())
        assert result.outcome is Outcome.TRANSIENT
        assert result.error_code in AMBIGUOUS
        assert len(mails(provider, ADDRESS)) == 1  # it did arrive: a resend would double it

    def test_a_batch_goes_on_after_a_refused_address(self, provider):
        gone, _action = provider.refused_address()
        gateway = provider.gateway
        gateway.open()
        try:
            first = gateway.send(email(gone))
            second = gateway.send(email())
        finally:
            gateway.close()
        assert second.outcome is Outcome.ACCEPTED and len(mails(provider, ADDRESS)) == 1
        assert first.outcome in (Outcome.PERMANENT, Outcome.ACCEPTED)


class TestEmailOutbox(EmailContract):
    @pytest.fixture
    def provider(self, settings, monkeypatch):
        return outbox_provider(settings, monkeypatch)


class TestSmtp(FailingEmailContract):
    @pytest.fixture
    def provider(self, smtp, settings):
        return smtp_provider(smtp, settings)


class TestBrevoThroughAnymail(FailingEmailContract):
    @pytest.fixture
    def provider(self, settings):
        from tests.support.brevo_emulator import BrevoEmulator

        with BrevoEmulator() as emulator:
            yield brevo_provider(emulator, settings)

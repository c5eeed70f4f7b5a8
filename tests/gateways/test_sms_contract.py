"""The shared provider contract (``tests/gateways/contract.py``), kept by every SMS provider:
the outbox, Twilio (through the real SDK and ``tests/support/twilio_emulator.py``) and Brevo
(the real SDK and ``tests/support/brevo_emulator.py``)."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Action, OutgoingSms
from retargeting.gateways.brevo.gateway import webhook_token
from retargeting.gateways.models import OutboxMessage
from tests.gateways.contract import ProviderContract, ProviderUnderTest
from tests.support import brevo_fixtures, twilio_fixtures

BASE = "https://relance.example"


def sms(to: str, *, sender: str = "", body: str = "Votre panier vous attend") -> OutgoingSms:
    return OutgoingSms(to=to, body=body, sender=sender)


def mobile() -> str:
    """A French mobile number of the test's own."""
    return f"+3361{random.randrange(10**7):07d}"


def rate_setter(settings):
    def set_rate(sender: str, per_second: float) -> None:
        settings.SMS_SENDER_MPS = {**settings.SMS_SENDER_MPS, sender: per_second}

    return set_rate


class TestOutbox(ProviderContract):
    @pytest.fixture
    def provider(self, settings, monkeypatch):
        settings.SMS_BACKEND = "outbox"
        down = []

        def create(*args, **kwargs):
            if down:
                down.pop()
                raise OperationalError("the database is unavailable")
            return real_create(*args, **kwargs)

        real_create = OutboxMessage.objects.create
        monkeypatch.setattr(OutboxMessage.objects, "create", create)

        def received(to: str) -> list[str]:
            return list(OutboxMessage.objects.filter(to=to).values_list("body", flat=True))

        def reply(client, customer: str, ours: str, body: str, forged: bool):
            # The phone simulator has no signature: it is a development tool, reached with
            # DEBUG on (a stranger with DEBUG off gets a 404 and changes nothing).
            settings.DEBUG = not forged
            first = get_gateway().send(sms(customer, sender=ours)).provider_id
            response = client.post(f"/dev/phone/{customer}/", {"body": body})
            answers = OutboxMessage.objects.filter(to=customer).exclude(provider_id=first)
            return response.status_code, "".join(m.body for m in answers)

        return ProviderUnderTest(
            gateway=get_gateway(),
            message=sms,
            new_address=mobile,
            # A landline: no provider delivers SMS to it, the outbox neither.
            refused_address=lambda: (f"+3314{random.randrange(10**7):07d}", Action.UNREACHABLE),
            take_down=lambda: down.append(True),
            received=received,
            set_rate=rate_setter(settings),
            default_sender="",
            reply_sender="MAISON",  # the phone simulator answers any sender
            reply=reply,
        )


class TestTwilio(ProviderContract):
    @pytest.fixture
    def provider(self, twilio, settings):
        def refused() -> tuple[str, Action]:
            to = mobile()
            twilio.fail_for(to, 400, 21610, "Attempt to send to unsubscribed recipient")
            return to, Action.REVOKE_CONSENT

        def webhook(client, provider_id: str, forged: bool):
            path = "/webhooks/twilio/status"
            params = twilio.status_params(provider_id, "delivered")
            signature = twilio.sign(BASE + path, params)
            if forged:
                params["MessageStatus"] = "failed"
            return client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)

        def reply(client, customer: str, ours: str, body: str, forged: bool):
            path = "/webhooks/twilio/inbound"
            params = twilio.inbound_params(customer, ours, body)
            signature = twilio.sign(BASE + path, params)
            if forged:
                params["Body"] = "START"
            response = client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)
            answer = re.search(r"<Message>(.*)</Message>", response.content.decode())
            return response.status_code, answer.group(1) if answer else ""

        return ProviderUnderTest(
            gateway=get_gateway(),
            message=sms,
            new_address=mobile,
            refused_address=refused,
            take_down=lambda: twilio.fail_next(1, status=503),
            received=lambda to: [m.body for m in twilio.sent_to(to)],
            set_rate=rate_setter(settings),
            default_sender=twilio_fixtures.SENDER,
            reply_sender=twilio_fixtures.SENDER,
            not_replyable_sender="MAISON",
            webhook=webhook,
            reply=reply,
        )


class TestBrevo(ProviderContract):
    @pytest.fixture
    def provider(self, brevo, settings):
        def refused() -> tuple[str, Action]:
            to = mobile()
            brevo.fail_for(to, 400, "blocked", "The number is blocklisted")
            return to, Action.REVOKE_CONSENT

        def webhook(client, provider_id: str, forged: bool):
            secret = "not our secret key" if forged else settings.SECRET_KEY
            path = "/webhooks/brevo/sms/" + webhook_token(secret)
            payload = brevo.status_payload(int(provider_id), "delivered")
            return client.post(path, data=json.dumps(payload), content_type="application/json")

        def unsubscribe(to: str) -> None:
            brevo.unsubscribe(to, at=datetime.now(UTC) - timedelta(minutes=1))

        return ProviderUnderTest(
            gateway=get_gateway(),
            message=sms,
            new_address=mobile,
            refused_address=refused,
            take_down=lambda: brevo.fail_next(1, status=503),
            received=lambda to: [m.content for m in brevo.sent_to(to)],
            set_rate=rate_setter(settings),
            default_sender=brevo_fixtures.SENDER,
            not_replyable_sender=brevo_fixtures.SENDER,
            webhook=webhook,
            unsubscribe=unsubscribe,
        )

"""The email providers as the contract suite drives them (tests/gateways/test_email_contract.py):
each wraps a real part (the database of the email outbox, the aiosmtpd server, the Brevo
emulator behind django-anymail) behind the same few verbs."""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field

from django.test import Client

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Gateway
from retargeting.gateways.models import OutboxEmail
from tests.support.brevo_emulator import API_KEY, BrevoEmulator
from tests.support.smtp_server import SmtpServer

WEBHOOK_SECRET = "relance-hook:4f1c2a9be77d03"


@dataclass
class Mail:
    """A message as the recipient's mailbox would have it."""

    sender: str
    to: list[str]
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    """Names lower-cased."""


class EmailProvider:
    """What a contract test does with a provider (subclasses: one per provider)."""

    def gateway(self) -> Gateway:
        return get_gateway("email")

    def received(self, address: str) -> list[Mail]:
        raise NotImplementedError

    def settle(self) -> None:
        """What the provider learns later (a bounce), told to Relance as it tells it."""


class OutboxProvider(EmailProvider):
    def __init__(self, settings) -> None:
        settings.EMAIL_PROVIDER = "outbox"
        settings.EMAIL_BACKEND = "retargeting.gateways.email_outbox.backend.EmailBackend"

    def received(self, address: str) -> list[Mail]:
        return [
            Mail(
                sender=m.header("From"),
                to=m.to.split(", "),
                subject=m.subject,
                text=m.text,
                html=m.html,
                headers={name.lower(): value for name, value in m.headers},
            )
            for m in OutboxEmail.objects.filter(to=address)
        ]


class SmtpProvider(EmailProvider):
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def received(self, address: str) -> list[Mail]:
        found = []
        for received in self.server.messages:
            if address not in received.recipients:
                continue
            message = received.message
            text = message.get_body(("plain",))
            html = message.get_body(("html",))
            found.append(
                Mail(
                    sender=str(message["From"]),
                    to=list(received.recipients),
                    subject=str(message["Subject"]),
                    text=text.get_content() if text is not None else "",
                    html=html.get_content() if html is not None else "",
                    headers={name.lower(): str(value) for name, value in message.items()},
                )
            )
        return found

    def refuse(self, address: str) -> None:
        self.server.refuse(address)

    def take_down(self) -> None:
        self.server.take_down()

    def bring_up(self) -> None:
        self.server.bring_up()

    def lose_next_answer(self) -> None:
        self.server.drop_after_data()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def brevo_settings(settings, base_url: str) -> None:
    settings.EMAIL_PROVIDER = "brevo"
    settings.EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    settings.ANYMAIL = {
        "BREVO_API_KEY": API_KEY,
        "BREVO_API_URL": base_url + "/",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "REQUESTS_TIMEOUT": 5,
    }


def post_tracking(payload: object, *, secret: str = WEBHOOK_SECRET, path: str = "") -> int:
    """POST Brevo's email webhook to Relance as Brevo does (JSON, basic auth in the URL)."""
    import json

    headers = {}
    if secret:
        token = base64.b64encode(secret.encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    response = Client().post(
        path or "/webhooks/email/brevo/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        **headers,
    )
    return response.status_code


class BrevoProvider(EmailProvider):
    def __init__(self, emulator: BrevoEmulator, settings) -> None:
        self.emulator = emulator
        self.settings = settings
        self.refused: set[str] = set()
        brevo_settings(settings, emulator.base_url)

    def received(self, address: str) -> list[Mail]:
        if address.lower() in self.refused:
            return []  # Brevo took it; the mailbox never got it (it bounced)
        return [
            Mail(
                sender=email.sender,
                to=email.to,
                subject=email.subject,
                text=email.text,
                html=email.html,
                headers={name.lower(): value for name, value in email.headers.items()},
            )
            for email in self.emulator.emails_to(address)
        ]

    def refuse(self, address: str) -> None:
        # Brevo's API takes any well-formed address; the receiving server's refusal comes
        # back later as a hard bounce on the tracking webhook.
        self.refused.add(address.lower())

    def settle(self) -> None:
        for email in self.emulator.emails:
            if email.to[0].lower() in self.refused:
                event = self.emulator.email_event(
                    email, "hard_bounce", reason="550 5.1.1 mailbox unavailable"
                )
                assert post_tracking(event) == 200

    def take_down(self) -> None:
        brevo_settings(self.settings, f"http://127.0.0.1:{_closed_port()}/v3")

    def bring_up(self) -> None:
        brevo_settings(self.settings, self.emulator.base_url)

    def lose_next_answer(self) -> None:
        self.emulator.drop_next_email += 1

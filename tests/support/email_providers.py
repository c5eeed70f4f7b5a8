"""The email providers as the shared contract suite drives them (``tests/gateways/contract.py``,
``tests/gateways/test_email_contract.py``): each builds a ``ProviderUnderTest`` over a real
part (the database of the email outbox, the aiosmtpd server, the Brevo emulator behind
django-anymail)."""

from __future__ import annotations

import base64
import json
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Action, OutgoingEmail
from retargeting.gateways.models import OutboxEmail
from tests.gateways.contract import ProviderUnderTest
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


UNSUBSCRIBE = "<https://relance.example/u/Ab3dE5fG>"


def email(
    to: str, *, sender: str = "", body: str = "Votre panier vous attend", subject: str = "Panier"
) -> OutgoingEmail:
    """A marketing email as Relance sends it: both parts and the one-click headers."""
    return OutgoingEmail(
        to=to,
        subject=subject,
        text=body,
        html=f"<p>{body}</p>",
        sender=sender,
        headers={
            "List-Unsubscribe": UNSUBSCRIBE,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def new_address() -> str:
    return f"client-{uuid.uuid4().hex[:10]}@example.fr"


def new_sender() -> str:
    """A sender of the test's own: its bucket (``email:<sender>``) is its own."""
    token = uuid.uuid4().hex[:8]
    return f"Maison {token} <bonjour-{token}@maison.example>"


def _texts(mailbox: Any) -> Any:
    return lambda address: [mail.text.strip() for mail in mailbox(address)]


def _base(settings, mailbox: Any, **kwargs: Any) -> ProviderUnderTest:
    def set_rate(sender: str, per_second: float) -> None:
        # Every email sender has its own bucket, at EMAIL_MPS.
        settings.EMAIL_MPS = per_second

    return ProviderUnderTest(
        gateway=get_gateway("email"),
        message=email,
        new_address=new_address,
        received=_texts(mailbox),
        set_rate=set_rate,
        default_sender=str(settings.DEFAULT_FROM_EMAIL),
        new_sender=new_sender,
        mailbox=mailbox,
        **kwargs,
    )


def outbox_provider(settings, monkeypatch) -> ProviderUnderTest:
    """The email outbox: it refuses no address; a database that cannot store is a provider down."""
    from django.db import OperationalError

    settings.EMAIL_PROVIDER = "outbox"
    settings.EMAIL_BACKEND = "retargeting.gateways.email_outbox.backend.EmailBackend"
    down: list[bool] = []
    real_create = OutboxEmail.objects.create

    def create(*args: Any, **kwargs: Any) -> Any:
        if down:
            down.pop()
            raise OperationalError("the database is unavailable")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(OutboxEmail.objects, "create", create)

    def mailbox(address: str) -> list[Mail]:
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

    return _base(
        settings,
        mailbox,
        refused_address=None,
        take_down=lambda: down.append(True),
    )


def smtp_provider(server: SmtpServer, settings) -> ProviderUnderTest:
    """SMTP to a real aiosmtpd server (the ``smtp`` fixture)."""

    def mailbox(address: str) -> list[Mail]:
        found = []
        for received in server.messages:
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

    def refused() -> tuple[str, Action]:
        to = new_address()
        server.refuse(to)  # 550 5.1.1 to its RCPT
        return to, Action.UNREACHABLE

    return _base(
        settings,
        mailbox,
        refused_address=refused,
        take_down=lambda: server.fail_next(1),  # 451 to the next message's data
        cut_off=server.take_down,
        restore=server.bring_up,
        lose_next_answer=server.drop_after_data,
    )


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


def brevo_provider(emulator: BrevoEmulator, settings) -> ProviderUnderTest:
    """Brevo's email API through django-anymail, against the Brevo emulator."""
    brevo_settings(settings, emulator.base_url)
    refused: set[str] = set()

    def mailbox(address: str) -> list[Mail]:
        if address.lower() in refused:
            return []  # Brevo took it; the mailbox never got it (it bounced)
        return [
            Mail(
                sender=sent.sender,
                to=sent.to,
                subject=sent.subject,
                text=sent.text,
                html=sent.html,
                headers={name.lower(): value for name, value in sent.headers.items()},
            )
            for sent in emulator.emails_to(address)
        ]

    def refuse() -> tuple[str, Action]:
        # Brevo's API takes any well-formed address; the receiving server's refusal comes
        # back later as a hard bounce on the tracking webhook.
        to = new_address()
        refused.add(to.lower())
        return to, Action.UNREACHABLE

    def settle() -> None:
        for sent in emulator.emails:
            if sent.to[0].lower() in refused:
                event = emulator.email_event(
                    sent, "hard_bounce", reason="550 5.1.1 mailbox unavailable"
                )
                assert post_tracking(event) == 200

    def webhook(client: Client, provider_id: str, forged: bool) -> Any:
        (sent,) = [e for e in emulator.emails if e.message_id.strip("<>") == provider_id]
        secret = "relance-hook:not-the-secret" if forged else WEBHOOK_SECRET
        token = base64.b64encode(secret.encode()).decode()
        return client.post(
            "/webhooks/email/brevo/tracking/",
            data=json.dumps(emulator.email_event(sent, "delivered")),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )

    return _base(
        settings,
        mailbox,
        refused_address=refuse,
        refuses_later=True,
        settle=settle,
        take_down=lambda: emulator.fail_next(1, status=503),
        cut_off=lambda: brevo_settings(settings, f"http://127.0.0.1:{_closed_port()}/v3"),
        restore=lambda: brevo_settings(settings, emulator.base_url),
        lose_next_answer=lambda: setattr(emulator, "drop_next_email", emulator.drop_next_email + 1),
        webhook=webhook,
    )

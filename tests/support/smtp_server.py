"""A real SMTP server on 127.0.0.1 for the tests and benchmarks (aiosmtpd), not shipped.

It keeps every message it accepted (the envelope and the parsed message) and can be told to
refuse a recipient for good (550), to refuse every message for a while (451, transient), or
to drop the connection after the message's data was received (the answer lost: the case a
write-ahead mark exists for).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    messages: list[Received] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    transient_failures: int = 0
    drop_after_data: int = 0
    sessions: int = 0
    """SMTP sessions opened (EHLO or HELO): a batch over one connection opens one."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return self.refused[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.transient_failures > 0:
                self.transient_failures -= 1
                return "451 4.3.0 try again later"
            self.messages.append(
                Received(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    data=bytes(envelope.original_content or envelope.content),
                )
            )
            if self.drop_after_data > 0:
                self.drop_after_data -= 1
                # Kept, but the client never hears the answer: the connection is closed
                # before the reply is written.
                server.transport.close()
                return "250 OK"
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """``with SmtpServer() as server: ...``: listening on ``server.host``/``server.port``."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.host = "127.0.0.1"
        self.port = _free_port()
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def refuse(self, address: str, reply: str = "550 5.1.1 mailbox unavailable") -> None:
        """Answer ``reply`` to every RCPT of ``address`` (another 5xx, or a 4xx)."""
        self.handler.refused[address.lower()] = reply

    def fail_next(self, count: int) -> None:
        self.handler.transient_failures = count

    def drop_after_data(self, count: int = 1) -> None:
        self.handler.drop_after_data = count

    @property
    def sessions(self) -> int:
        return self.handler.sessions

    def take_down(self) -> None:
        """Stop listening: connections are refused until :meth:`bring_up`."""
        self._controller.stop()
        self.running = False

    def bring_up(self) -> None:
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()
        self.running = True

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        self.running = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running:
            self._controller.stop()

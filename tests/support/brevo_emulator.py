"""A small Brevo-compatible API on 127.0.0.1 for the tests (not shipped in the product).

It implements what Relance uses of Brevo's API v3: send a transactional SMS
(``POST /v3/transactionalSMS/sms``), list SMS events
(``GET /v3/transactionalSMS/statistics/events``) and send a transactional email
(``POST /v3/smtp/email``, as django-anymail's Brevo backend calls it), authenticated by the
``api-key`` header,
with answers shaped as the official SDK's types say (``SendTransacSmsResponse``,
``GetSmsEventsResponse``) and Brevo's error bodies (``{"code": ..., "message": ...}``).
Faults are configurable (an error per number, errors for the next N calls, slow answers), and
it sends the product the webhooks Brevo sends: delivery statuses to each message's ``webUrl``,
unsubscriptions and replies.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "xkeysib-emulator-key"


@dataclass
class Fault:
    status: int
    code: str | None = None
    message: str = "emulated error"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EmulatedSms:
    message_id: int
    reference: str
    recipient: str
    sender: str
    content: str
    type: str
    tag: Any
    web_url: str
    unicode_enabled: bool
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class EmulatedEmail:
    message_id: str
    """Brevo's ``messageId``: an SMTP Message-ID, angle brackets included."""
    to: list[str]
    sender: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    tags: list[str]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class EmulatedEvent:
    phone_number: str
    event: str
    date: datetime
    message_id: str = ""
    tag: str = ""
    reason: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "phoneNumber": self.phone_number,
            "date": self.date.isoformat(timespec="milliseconds"),
            "messageId": self.message_id,
            "event": self.event,
            "reason": self.reason,
            "tag": self.tag,
        }


class BrevoEmulator:
    """Start with ``with BrevoEmulator() as brevo:``; ``brevo.base_url`` is its API's address."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.messages: dict[int, EmulatedSms] = {}
        self.events: list[EmulatedEvent] = []
        self.requests: list[dict[str, Any]] = []
        self.faults_by_number: dict[str, Fault] = {}
        self.emails: list[EmulatedEmail] = []
        self.faults_by_email: dict[str, Fault] = {}
        self.drop_next_email = 0
        """Emails to accept and then answer by closing the connection (the answer lost)."""
        self.next_faults: list[Fault] = []
        self.delay_seconds = 0.0
        self.remaining_credits = 1000.0
        self._next_id = 1000
        self.lock = threading.Lock()
        self.connections = 0
        """TCP connections accepted: a client that keeps its connection alive opens one."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v3"

    def __enter__(self) -> BrevoEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- faults ---------------------------------------------------------------------------

    def fail_next(
        self, count: int, status: int = 503, code: str | None = None, **headers: str
    ) -> None:
        with self.lock:
            self.next_faults.extend(Fault(status, code, headers=headers) for _ in range(count))

    def fail_for(self, number: str, status: int, code: str | None, message: str = "error") -> None:
        """Answer every send to ``number`` (E.164 or Brevo's digits) with this error."""
        self.faults_by_number[number.removeprefix("+")] = Fault(status, code, message)

    def fail_for_email(self, address: str, status: int, code: str, message: str = "error") -> None:
        """Answer every email to ``address`` with this error."""
        self.faults_by_email[address.lower()] = Fault(status, code, message)

    def emails_to(self, address: str) -> list[EmulatedEmail]:
        return [e for e in self.emails if address.lower() in (t.lower() for t in e.to)]

    def email_event(self, email: EmulatedEmail, event: str, **extra: object) -> dict[str, object]:
        """Brevo's transactional email webhook for one message, as Brevo documents it and
        django-anymail's tests use it (tests/test_brevo_webhooks.py): ``event``, ``email``,
        ``message-id``, ``ts_epoch`` (milliseconds, UTC), ``tags``."""
        now = datetime.now(UTC)
        payload: dict[str, object] = {
            "event": event,
            "email": email.to[0],
            "id": 1234567,
            "date": now.strftime("%Y-%m-%d %H:%M:%S"),
            "ts": int(now.timestamp()),
            "ts_event": int(now.timestamp()),
            "ts_epoch": int(now.timestamp() * 1000),
            "message-id": email.message_id,
            "subject": email.subject,
            "tags": list(email.tags),
            "sending_ip": "185.41.28.109",
        }
        payload.update(extra)
        return payload

    def sent_to(self, number: str) -> list[EmulatedSms]:
        return [m for m in self.messages.values() if m.recipient == number.removeprefix("+")]

    def sends(self) -> list[dict[str, Any]]:
        """The JSON bodies of the send requests, in order."""
        return [r["json"] for r in self.requests if r["path"].endswith("/transactionalSMS/sms")]

    # --- what happens at Brevo ------------------------------------------------------------

    def unsubscribe(self, number: str, *, at: datetime | None = None, message_id: str = "") -> None:
        """``number`` sends STOP to Brevo's short code: an ``unsubscription`` in the events."""
        with self.lock:
            self.events.append(
                EmulatedEvent(
                    phone_number=number.removeprefix("+"),
                    event="unsubscription",
                    date=at or datetime.now(UTC),
                    message_id=message_id,
                )
            )

    # --- what Brevo sends to the product --------------------------------------------------

    def post_json(self, url: str, payload: object) -> tuple[int, bytes]:
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def status_payload(self, message_id: int, status: str) -> dict[str, object]:
        """Brevo's transactional SMS webhook for one message (its documented fields)."""
        message = self.messages[message_id]
        now = datetime.now(UTC)
        return {
            "id": 26570,
            "to": message.recipient,
            "sms_count": 1,
            "credits_used": 1.0,
            "messageId": message_id,
            "remaining_credit": self.remaining_credits,
            "msg_status": status,
            "date": now.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "type": message.type.capitalize(),
            "reference": {"1": message.reference},
            "status": "OK",
            "description": status,
            "tag": message.tag if isinstance(message.tag, str) else "",
            "ts_event": int(now.timestamp()),
        }

    def opt_out_payload(
        self,
        number: str,
        *,
        status: str = "unsubscribe",
        reply: str = "",
        at: datetime | None = None,
    ) -> dict[str, object]:
        at = at or datetime.now(UTC)
        payload: dict[str, object] = {
            "id": 26570,
            "to": number.removeprefix("+"),
            "messageId": self._next_id,
            "msg_status": status,
            "date": at.strftime("%Y-%m-%d %H:%M:%S"),
            "ts_event": int(at.timestamp()),
        }
        if reply:
            payload["reply"] = reply
        return payload

    def send_status(self, message_id: int, status: str) -> int:
        message = self.messages[message_id]
        return self.post_json(message.web_url, self.status_payload(message_id, status))[0]

    # --- the HTTP API ----------------------------------------------------------------------

    def _send(self, form: dict[str, Any]) -> tuple[int, dict[str, object]]:
        recipient = str(form.get("recipient") or "")
        sender = str(form.get("sender") or "")
        if not recipient.removeprefix("+").isdigit() or not 6 <= len(recipient) <= 16:
            return 400, {"code": "invalid_parameter", "message": "Invalid recipient"}
        if not sender or not (
            (sender.isalnum() and sender.isascii() and len(sender) <= 11)
            or (sender.isdigit() and len(sender) <= 15)
        ):
            return 400, {"code": "invalid_parameter", "message": "Invalid sender"}
        if not form.get("content"):
            return 400, {"code": "missing_parameter", "message": "content is missing"}
        with self.lock:
            self._next_id += 1
            message = EmulatedSms(
                message_id=self._next_id,
                reference=uuid.uuid4().hex[:20],
                recipient=recipient.removeprefix("+"),
                sender=sender,
                content=str(form["content"]),
                type=str(form.get("type") or "transactional"),
                tag=form.get("tag"),
                web_url=str(form.get("webUrl") or ""),
                unicode_enabled=bool(form.get("unicodeEnabled")),
            )
            self.messages[message.message_id] = message
            self.remaining_credits -= 1
        return 201, {
            "reference": message.reference,
            "messageId": message.message_id,
            "smsCount": 1,
            "usedCredits": 1.0,
            "remainingCredits": self.remaining_credits,
        }

    def _send_email(self, form: dict[str, Any]) -> tuple[int, dict[str, object]]:
        sender = form.get("sender") if isinstance(form.get("sender"), dict) else {}
        to = form.get("to") if isinstance(form.get("to"), list) else []
        addresses = [str(r.get("email") or "") for r in to if isinstance(r, dict)]
        if not sender or not sender.get("email"):
            return 400, {"code": "missing_parameter", "message": "sender is missing"}
        if not addresses or not all("@" in a for a in addresses):
            return 400, {"code": "invalid_parameter", "message": "email is not valid in to"}
        if not (form.get("htmlContent") or form.get("textContent") or form.get("templateId")):
            return 400, {"code": "missing_parameter", "message": "htmlContent is missing"}
        with self.lock:
            self._next_id += 1
            email = EmulatedEmail(
                message_id=f"<{datetime.now(UTC):%Y%m%d%H%M}.{self._next_id}@smtp-relay.mailin.fr>",
                to=addresses,
                sender=str(sender.get("email")),
                subject=str(form.get("subject") or ""),
                text=str(form.get("textContent") or ""),
                html=str(form.get("htmlContent") or ""),
                headers={str(k): str(v) for k, v in (form.get("headers") or {}).items()},
                tags=[str(t) for t in form.get("tags") or []],
            )
            self.emails.append(email)
        return 201, {"messageId": email.message_id}

    def _events(self, query: dict[str, str]) -> dict[str, object]:
        with self.lock:
            selected = list(self.events)
        if query.get("event"):
            selected = [e for e in selected if e.event == query["event"]]
        if query.get("phoneNumber"):
            selected = [e for e in selected if e.phone_number == query["phoneNumber"]]
        if query.get("startDate"):
            selected = [e for e in selected if e.date.date().isoformat() >= query["startDate"]]
        if query.get("endDate"):
            selected = [e for e in selected if e.date.date().isoformat() <= query["endDate"]]
        selected.sort(key=lambda e: e.date, reverse=query.get("sort", "desc") != "asc")
        offset = int(query.get("offset") or 0)
        limit = min(100, int(query.get("limit") or 50))
        return {"events": [e.as_json() for e in selected[offset : offset + limit]]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the provider's API: a client reuses its connection.
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes: without this, Nagle's algorithm holds
                # the body until the client's delayed ACK, 40 ms per answer on a kept connection.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with emulator.lock:
                    emulator.connections += 1

            def log_message(self, *args: object) -> None:
                pass

            def _answer(
                self, status: int, payload: object, headers: dict[str, str] | None = None
            ) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _fault(self, fault: Fault) -> None:
                payload: dict[str, object] = {"message": fault.message}
                if fault.code is not None:
                    payload["code"] = fault.code
                self._answer(fault.status, payload, fault.headers)

            def _record(self, body: Any = None) -> None:
                with emulator.lock:
                    emulator.requests.append(
                        {
                            "method": self.command,
                            "path": urllib.parse.urlsplit(self.path).path,
                            "query": dict(
                                urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)
                            ),
                            "json": body,
                            "api_key": self.headers.get("api-key"),
                        }
                    )

            def _authorised(self) -> bool:
                if self.headers.get("api-key") == emulator.api_key:
                    return True
                self._answer(401, {"code": "unauthorized", "message": "Key not found"})
                return False

            def _next_fault(self) -> Fault | None:
                if emulator.delay_seconds:
                    time.sleep(emulator.delay_seconds)
                with emulator.lock:
                    return emulator.next_faults.pop(0) if emulator.next_faults else None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    form = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    form = None
                self._record(form)
                if not self._authorised():
                    return
                if urllib.parse.urlsplit(self.path).path == "/v3/smtp/email":
                    return self._email(form)
                if urllib.parse.urlsplit(self.path).path != "/v3/transactionalSMS/sms":
                    return self._answer(404, {"code": "not_found", "message": "Not found"})
                if not isinstance(form, dict):
                    return self._answer(400, {"code": "bad_request", "message": "Invalid JSON"})
                fault = self._next_fault() or emulator.faults_by_number.get(
                    str(form.get("recipient") or "").removeprefix("+")
                )
                if fault is not None:
                    return self._fault(fault)
                self._answer(*emulator._send(form))

            def _email(self, form: Any) -> None:
                if not isinstance(form, dict):
                    return self._answer(400, {"code": "bad_request", "message": "Invalid JSON"})
                recipients = [
                    str(r.get("email") or "").lower()
                    for r in form.get("to") or []
                    if isinstance(r, dict)
                ]
                fault = self._next_fault() or next(
                    (
                        emulator.faults_by_email[r]
                        for r in recipients
                        if r in emulator.faults_by_email
                    ),
                    None,
                )
                if fault is not None:
                    return self._fault(fault)
                status, payload = emulator._send_email(form)
                with emulator.lock:
                    drop = status == 201 and emulator.drop_next_email > 0
                    if drop:
                        emulator.drop_next_email -= 1
                if drop:
                    # Taken, but the answer never arrives.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                return self._answer(status, payload)

            def do_GET(self) -> None:
                self._record()
                if not self._authorised():
                    return
                parts = urllib.parse.urlsplit(self.path)
                if parts.path != "/v3/transactionalSMS/statistics/events":
                    return self._answer(404, {"code": "not_found", "message": "Not found"})
                fault = self._next_fault()
                if fault is not None:
                    return self._fault(fault)
                self._answer(200, emulator._events(dict(urllib.parse.parse_qsl(parts.query))))

        return Handler

"""A small Twilio-compatible API on 127.0.0.1 for the tests (not shipped in the product).

It implements what Relance uses of Twilio's REST API: create a message, list messages, fetch
one, with HTTP Basic auth and Twilio-shaped JSON answers and errors. Faults are configurable
(an error code per number, 5xx for the next N calls, slow answers, a call held at a given
position so that a test can kill its client there), and it can send the product signed status
callbacks and inbound messages, as Twilio does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils.datastructures import MultiValueDict
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "emulator-auth-token"


@dataclass
class Fault:
    status: int
    code: int | None = None
    message: str = "emulated error"


@dataclass
class EmulatedMessage:
    sid: str
    to: str
    from_: str
    messaging_service_sid: str
    body: str
    status_callback: str
    validity_period: str
    status: str = "queued"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_json(self, account_sid: str) -> dict[str, object]:
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "to": self.to,
            "from": self.from_ or None,
            "messaging_service_sid": self.messaging_service_sid or None,
            "body": self.body,
            "status": self.status,
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": format_datetime(self.created_at, usegmt=True),
            "date_updated": format_datetime(self.created_at, usegmt=True),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json",
        }


class TwilioEmulator:
    """Start with ``with TwilioEmulator() as twilio:``; ``twilio.base_url`` is its address."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: dict[str, EmulatedMessage] = {}
        self.requests: list[dict[str, object]] = []
        self.faults_by_number: dict[str, Fault] = {}
        self.next_faults: list[Fault] = []
        self.delay_seconds = 0.0
        self.creates = 0
        """Calls that create a message, whatever came of them."""
        self.hold: tuple[int, bool] | None = None
        self.holding = threading.Event()
        """Set when the held call arrived (see :meth:`hold_at`)."""
        self._released = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        """TCP connections accepted: a client that keeps its connection alive opens one."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # shutdown() waits for the serving loop's next poll: a short one ends each test at once.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TwilioEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- faults ---------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, code: int | None = None) -> None:
        with self.lock:
            self.next_faults.extend(Fault(status, code) for _ in range(count))

    def fail_for(self, number: str, status: int, code: int, message: str = "error") -> None:
        self.faults_by_number[number] = Fault(status, code, message)

    def hold_at(self, position: int, *, taken: bool) -> None:
        """Hold the ``position``-th call creating a message (from 1) until :meth:`release`:
        once the message is taken, before answering (``taken``), or before taking it, and
        then it is dropped without an answer, as a call whose client died before it arrived.
        ``holding`` is set when the call arrives, so that a test kills the client there."""
        self.hold = (position, taken)
        self.holding.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def _held(self, index: int, *, taken: bool) -> bool:
        """Whether this call is the held one; if so, waits for the release first."""
        if self.hold != (index, taken):
            return False
        self.holding.set()
        self._released.wait(timeout=120)
        return True

    def sent_to(self, number: str) -> list[EmulatedMessage]:
        return [m for m in self.messages.values() if m.to == number]

    # --- what Twilio sends to the product ------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str | list[str]]) -> str:
        """Twilio's signature of a webhook; a list is a field posted once per value."""
        fields = MultiValueDict(
            {key: value if isinstance(value, list) else [value] for key, value in params.items()}
        )
        return RequestValidator(self.auth_token).compute_signature(url, fields)

    def post_signed(self, url: str, params: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(params).encode(),
            method="POST",
            headers={
                "X-Twilio-Signature": self.sign(url, params),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def status_params(self, sid: str, status: str, error_code: str = "") -> dict[str, str]:
        message = self.messages[sid]
        message.status = status
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": message.to,
            "From": message.from_,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        return params

    def send_status(self, sid: str, status: str, error_code: str = "") -> int:
        message = self.messages[sid]
        return self.post_signed(
            message.status_callback, self.status_params(sid, status, error_code)
        )[0]

    def inbound_params(
        self, sender: str, recipient: str, body: str, opt_out_type: str = ""
    ) -> dict[str, str]:
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": sender,
            "To": recipient,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        if opt_out_type:
            params["OptOutType"] = opt_out_type
        return params

    # --- the HTTP API ----------------------------------------------------------------------

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

            def _send(self, status: int, payload: dict[str, object]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, fault: Fault) -> None:
                self._send(
                    fault.status,
                    {
                        "code": fault.code,
                        "message": fault.message,
                        "more_info": f"https://www.twilio.com/docs/errors/{fault.code}",
                        "status": fault.status,
                    },
                )

            def _authorised(self) -> bool:
                expected = base64.b64encode(
                    f"{emulator.account_sid}:{emulator.auth_token}".encode()
                ).decode()
                if self.headers.get("Authorization") == f"Basic {expected}":
                    return True
                self._error(Fault(401, 20003, "Authenticate"))
                return False

            def _route(self) -> tuple[str, str | None]:
                path = urllib.parse.urlsplit(self.path).path
                prefix = f"/2010-04-01/Accounts/{emulator.account_sid}/Messages"
                if path == prefix + ".json":
                    return "collection", None
                if path.startswith(prefix + "/") and path.endswith(".json"):
                    return "instance", path[len(prefix) + 1 : -5]
                return "unknown", None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                with emulator.lock:
                    emulator.requests.append(
                        {
                            "method": "POST",
                            "path": self.path,
                            "form": form,
                            "authorization": self.headers.get("Authorization"),
                        }
                    )
                if not self._authorised():
                    return
                if self._route()[0] != "collection":
                    return self._error(Fault(404, 20404, "The requested resource was not found"))
                if emulator.delay_seconds:
                    time.sleep(emulator.delay_seconds)
                with emulator.lock:
                    emulator.creates += 1
                    index = emulator.creates
                if emulator._held(index, taken=False):
                    self.close_connection = True
                    return None  # never taken, never answered
                with emulator.lock:
                    fault = emulator.next_faults.pop(0) if emulator.next_faults else None
                if fault is None:
                    fault = emulator.faults_by_number.get(form.get("To", ""))
                if fault is not None:
                    return self._error(fault)
                if not form.get("To", "").startswith("+"):
                    return self._error(
                        Fault(400, 21211, "The 'To' number is not a valid phone number.")
                    )
                if not form.get("Body"):
                    return self._error(Fault(400, 21602, "Message body is required."))
                if not (form.get("From") or form.get("MessagingServiceSid")):
                    return self._error(
                        Fault(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
                    )
                message = EmulatedMessage(
                    sid="SM" + uuid.uuid4().hex,
                    to=form["To"],
                    from_=form.get("From", ""),
                    messaging_service_sid=form.get("MessagingServiceSid", ""),
                    body=form["Body"],
                    status_callback=form.get("StatusCallback", ""),
                    validity_period=form.get("ValidityPeriod", ""),
                )
                with emulator.lock:
                    emulator.messages[message.sid] = message
                if emulator._held(index, taken=True):
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the client is gone
                        self._send(201, message.as_json(emulator.account_sid))
                    return None
                self._send(201, message.as_json(emulator.account_sid))

            def do_GET(self) -> None:
                with emulator.lock:
                    emulator.requests.append({"method": "GET", "path": self.path})
                if not self._authorised():
                    return
                kind, sid = self._route()
                if kind == "instance" and sid in emulator.messages:
                    return self._send(200, emulator.messages[sid].as_json(emulator.account_sid))
                if kind != "collection":
                    return self._error(Fault(404, 20404, "The requested resource was not found"))
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                selected = list(emulator.messages.values())
                if "To" in query:
                    selected = [m for m in selected if m.to == query["To"]]
                after = query.get("DateSent>")
                if after:
                    since = datetime.fromisoformat(after.replace("Z", "+00:00"))
                    selected = [m for m in selected if m.created_at >= since]
                uri = f"/2010-04-01/Accounts/{emulator.account_sid}/Messages.json"
                self._send(
                    200,
                    {
                        "messages": [m.as_json(emulator.account_sid) for m in selected],
                        "end": max(0, len(selected) - 1),
                        "first_page_uri": uri,
                        "next_page_uri": None,
                        "page": 0,
                        "page_size": 50,
                        "previous_page_uri": None,
                        "start": 0,
                        "uri": uri,
                    },
                )

        return Handler


if __name__ == "__main__":
    # In a process of its own (the benchmarks): prints its address, serves until stdin closes.
    import sys

    with TwilioEmulator() as running:
        print(running.base_url, flush=True)
        sys.stdin.read()

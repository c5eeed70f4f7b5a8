"""The ``twilio`` provider's gateway: Twilio's REST API through the official SDK.

``TWILIO_API_BASE_URL`` points the SDK at another Twilio-compatible API (or the tests'
emulator) through an HTTP client that rewrites the host of every request. (Setting
``client.api.base_url`` instead breaks as soon as TWILIO_REGION or TWILIO_EDGE is set, because
the SDK rewrites the host name from them.)
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from retargeting.gateways import clients
from retargeting.gateways.base import (
    Action,
    Delivery,
    Gateway,
    InboundSms,
    InvalidWebhook,
    MalformedWebhook,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    StatusReport,
)
from retargeting.gateways.errors import action_for, connection_lost, error_result, timed_out
from retargeting.gateways.twilio.errors import ERROR_ACTIONS

TWILIO_API = "https://api.twilio.com"
MAX_VALIDITY = 36_000  # seconds; Twilio refuses more (error 21624)
# A number in E.164 or a short code: senders a customer can answer. Anything else (letters)
# is an alphanumeric sender ID, which no one can reply to.
_REPLYABLE_SENDER = re.compile(r"\+?[0-9]{3,15}")

# Twilio's message statuses, in the provider-neutral order they move in.
DELIVERY = {
    "accepted": Delivery.ACCEPTED,
    "scheduled": Delivery.ACCEPTED,
    "queued": Delivery.ACCEPTED,
    "sending": Delivery.ACCEPTED,
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.DELIVERED,
    "undelivered": Delivery.UNDELIVERED,
    "failed": Delivery.FAILED,
    "canceled": Delivery.FAILED,
}


class SettledHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The SDK's HTTP client, with what the environment says about ``base_url`` (proxies,
    ``no_proxy``, a CA bundle) read once when it is made. The SDK has ``requests`` read the
    environment again on every request, a good part of the SDK's own cost per message; a
    process's environment does not change while it runs."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert self.session is not None  # the SDK keeps a session (pool_connections)
        settled = self.session.merge_environment_settings(base_url, {}, None, None, None)
        given: dict[str, str] = kwargs.get("proxy") or {}
        self.proxy = {**settled["proxies"], **given}
        if isinstance(settled["verify"], str):  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
            self.session.verify = settled["verify"]
        self.session.trust_env = False


class RewritingHttpClient(SettledHttpClient):
    """Sends every SDK request to ``base_url``'s scheme and host, keeping path and query."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        base = urlsplit(base_url)
        self._scheme, self._netloc = base.scheme, base.netloc

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def _client(sid: str, token: str, base_url: str, timeout: float) -> Client:
    """The SDK's client for these settings, one per process and thread: its HTTP client keeps
    a ``requests.Session``, so every message after the first reuses its connection."""

    def make() -> Client:
        if base_url.rstrip("/") == TWILIO_API:
            http_client = SettledHttpClient(TWILIO_API, timeout=timeout)
        else:
            http_client = RewritingHttpClient(base_url, timeout=timeout)
        return Client(sid, token, http_client=http_client)

    client: Client = clients.get(("twilio", sid, token, base_url, timeout), make)
    return client


class TwilioGateway(Gateway):
    name = "twilio"
    error_actions = ERROR_ACTIONS
    lists_messages = True
    receives_replies = True  # from a number or a short code; not from an alphanumeric ID
    reports_delivery = True  # its status callback (status_callback_url)

    @property
    def client(self) -> Client:
        return _client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_API_BASE_URL,
            settings.SMS_TIMEOUT_SECONDS,
        )

    def send(self, sms: OutgoingSms) -> SendResult:
        arguments: dict[str, Any] = {"to": sms.to, "body": sms.body}
        if sms.sender:
            arguments["from_"] = sms.sender
        elif settings.TWILIO_MESSAGING_SERVICE_SID:
            arguments["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            arguments["from_"] = settings.TWILIO_FROM
        if sms.status_callback:
            arguments["status_callback"] = sms.status_callback
        if sms.validity_seconds:
            arguments["validity_period"] = max(1, min(MAX_VALIDITY, int(sms.validity_seconds)))
        try:
            message = self.client.messages.create(**arguments)
        except TwilioRestException as exc:
            return error_result(str(exc.code or ""), exc.status, str(exc.msg), table=ERROR_ACTIONS)
        except TwilioException as exc:
            # Includes TwilioServiceException, which is not a TwilioRestException.
            return error_result(
                str(getattr(exc, "code", "") or ""),
                getattr(exc, "status", None),
                str(exc),
                table=ERROR_ACTIONS,
            )
        except requests.Timeout:
            return timed_out()
        except requests.RequestException as exc:
            return connection_lost(exc)
        return SendResult(Outcome.ACCEPTED, provider_id=message.sid or "")

    def status_callback_url(self) -> str:
        return settings.PUBLIC_BASE_URL + reverse("twilio-status")

    def default_sender(self) -> str:
        # As send() chooses: the Messaging Service when there is one, else TWILIO_FROM.
        return str(settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM)

    def sender_receives_replies(self, sender: str) -> bool:
        # A number or a short code can be answered; an alphanumeric sender cannot. Without a
        # sender of its own a site sends from TWILIO_FROM or, without it, from a Messaging
        # Service, whose pool may hold an alphanumeric ID: not known to receive replies.
        if not sender and settings.TWILIO_MESSAGING_SERVICE_SID:
            return False  # send() uses the service then, as for this check
        return bool(_REPLYABLE_SENDER.fullmatch(sender or settings.TWILIO_FROM))

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        messages = self.client.messages.list(to=to, date_sent_after=since, limit=100)
        return [
            ProviderMessage(
                provider_id=m.sid or "",
                to=m.to or "",
                body=m.body or "",
                delivery=DELIVERY.get(str(m.status), Delivery.ACCEPTED),
                created_at=m.date_created,
            )
            for m in messages
        ]

    def _verified_params(self, request: HttpRequest) -> dict[str, str]:
        """The posted fields, once the signature over ``PUBLIC_BASE_URL`` + path checks out."""
        token = settings.TWILIO_AUTH_TOKEN
        signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
        if not token or not signature:
            raise InvalidWebhook("missing signature")
        url = settings.PUBLIC_BASE_URL + request.get_full_path()
        # Every posted field counts (Twilio adds fields without notice), each with all its
        # values: the SDK reads a QueryDict's lists, as Twilio signs a repeated field.
        params = request.POST
        algorithm = get_signature_algorithm(
            request.META.get("HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS", "")
        )
        if not RequestValidator(token).validate(url, params, signature, algorithm):
            raise InvalidWebhook("wrong signature")
        # Signed as sent; stored without NUL, which PostgreSQL cannot keep in text.
        return {key: request.POST.get(key, "").replace("\x00", "") for key in request.POST}

    def parse_inbound(self, request: HttpRequest) -> InboundSms:
        params = self._verified_params(request)
        if not params.get("MessageSid") or not params.get("From"):
            raise MalformedWebhook("not an inbound message: MessageSid and From are required")
        _check_lengths(params, MessageSid=64, From=32, To=32, OptOutType=16)
        return InboundSms(
            provider_id=params["MessageSid"],
            sender=params["From"],
            recipient=params.get("To", ""),
            body=params.get("Body", ""),
            opt_out_type=params.get("OptOutType", ""),
        )

    def parse_status(self, request: HttpRequest) -> StatusReport:
        params = self._verified_params(request)
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not params.get("MessageSid") or status not in DELIVERY:
            raise MalformedWebhook(
                "not a status callback: MessageSid and a known MessageStatus are required"
            )
        _check_lengths(params, MessageSid=64, ErrorCode=16)
        error_code = params.get("ErrorCode", "")
        return StatusReport(
            provider_id=params["MessageSid"],
            delivery=DELIVERY[status],
            error_code=error_code,
            provider_status=status,
            raw=params,
            action=action_for(error_code, ERROR_ACTIONS) if error_code else Action.NONE,
        )


def _check_lengths(params: dict[str, str], **limits: int) -> None:
    """Refuse fields longer than Twilio ever sends (and than we store)."""
    for name, limit in limits.items():
        if len(params.get(name, "")) > limit:
            raise MalformedWebhook(f"{name} is longer than {limit} characters")

"""The ``brevo`` provider's gateway: Brevo's transactional SMS API through the official SDK.

The French route. A shop sends from an alphanumeric sender nobody can answer, and the STOP
mention names Brevo's short code ("STOP au [STOP_CODE]", which Brevo fills in): Brevo receives
the STOP and reports it, on the message's webhook and in its events list. Both are applied
(``opt_outs.poll_opt_outs`` reads the list), so a lost webhook loses no STOP.

Brevo signs no webhook. Each message's ``webUrl`` carries a secret of ours instead
(``webhook_token``, an HMAC of SECRET_KEY); a request without it is refused.
``BREVO_API_BASE_URL`` points the SDK at another Brevo-compatible API (or the tests' emulator).
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from brevo import Brevo
from brevo.core.api_error import ApiError
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from retargeting.gateways import clients
from retargeting.gateways.base import (
    Action,
    Delivery,
    Gateway,
    InvalidWebhook,
    MalformedWebhook,
    OptOutReport,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    ProviderUnavailable,
    SendResult,
    StatusReport,
)
from retargeting.gateways.brevo.errors import ERROR_ACTIONS
from retargeting.gateways.errors import action_for, connection_lost, error_result, timed_out
from retargeting.sms import segments
from retargeting.web import strict_json

logger = logging.getLogger(__name__)

BREVO_API = "https://api.brevo.com/v3"
# Brevo's French STOP mention, as its help centre gives it: Brevo replaces [STOP_CODE] with
# its short code (five digits) when it sends the message, and appends nothing of its own.
STOP_MENTION = "STOP au [STOP_CODE]"
# The events list is read this far back the first time (later: from the last event read).
FIRST_LOOKBACK = timedelta(days=30)
EVENTS_PAGE = 100  # the most Brevo returns per page
# Brevo dates its webhooks' `date` in Paris time (their `ts_event` is UTC).
BREVO_TIME_ZONE = ZoneInfo("Europe/Paris")

# Brevo's message statuses (webhook `msg_status`, events list `event`), written without case
# or underscores, in the provider-neutral order they move in. Those that end a message
# without delivering it keep their name as the error code (errors.py maps them).
DELIVERY = {
    "accepted": Delivery.ACCEPTED,
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "softbounce": Delivery.UNDELIVERED,
    "softbounces": Delivery.UNDELIVERED,
    "hardbounce": Delivery.FAILED,
    "hardbounces": Delivery.FAILED,
    "blocked": Delivery.FAILED,
    "rejected": Delivery.FAILED,
    "skip": Delivery.FAILED,
    "skipped": Delivery.FAILED,
}
ERROR_CODES = {
    "softbounce": "soft_bounce",
    "softbounces": "soft_bounce",
    "hardbounce": "hard_bounce",
    "hardbounces": "hard_bounce",
    "blocked": "blocked",
    "rejected": "rejected",
    "skip": "skipped",
    "skipped": "skipped",
}
OPT_OUTS = frozenset({"unsubscribe", "unsubscribed", "unsubscription"})
REPLIES = frozenset({"reply", "replied", "replies"})


def webhook_token(secret: str) -> str:
    """The secret of ours that Brevo's webhook URL carries, derived from ``secret``."""
    return salted_hmac(
        "relance.gateways.brevo", "sms-webhook", secret=secret, algorithm="sha256"
    ).hexdigest()[:48]


def webhook_url() -> str:
    """The URL Brevo reports to: each message's ``webUrl``, and the account's SMS webhook."""
    return settings.PUBLIC_BASE_URL + reverse(
        "brevo-sms", kwargs={"token": webhook_token(settings.SECRET_KEY)}
    )


def _token_is_ours(token: str) -> bool:
    # The fallbacks keep Brevo's calls working while SECRET_KEY is being rotated.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(token, webhook_token(secret)) for secret in secrets)


def _client(api_key: str, base_url: str, timeout: float) -> Brevo:
    """The SDK's client for these settings, one per process and thread: it keeps an
    ``httpx.Client``, so every message after the first reuses its connection."""

    def make() -> Brevo:
        # No retries inside the SDK: a send it repeated after a lost answer could reach the
        # customer twice. Relance retries transient errors itself, and never resends blindly.
        return Brevo(
            api_key=api_key,
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            max_retries=0,
            client_id=None,
            client_secret=None,
        )

    client: Brevo = clients.get(("brevo", api_key, base_url, timeout), make)
    return client


def _international(e164: str) -> str:
    """Brevo's recipient form: the E.164 number without its '+'."""
    return e164.removeprefix("+")


def _e164(number: object) -> str:
    digits = "".join(character for character in str(number or "") if character.isdigit())
    return "+" + digits if 6 <= len(digits) <= 15 else ""


def _status_key(value: object) -> str:
    return str(value or "").strip().lower().replace("_", "").replace("-", "")


def _error_code(body: Any) -> str:
    code = body.get("code") if isinstance(body, dict) else getattr(body, "code", None)
    return str(code or "")[:64]


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body)
    return str(getattr(body, "message", None) or body or "")


class BrevoGateway(Gateway):
    name = "brevo"
    error_actions = ERROR_ACTIONS
    # Brevo lists events, not messages with their text (see recent_messages).
    lists_messages = False
    # Its senders are names nobody can answer: a STOP goes to its short code, named by the
    # mention it fills in, and it reports the number (webhook and events list).
    receives_replies = False
    stop_placeholder = STOP_MENTION
    lists_opt_outs = True
    reports_delivery = True  # each message's webUrl (status_callback_url)

    @property
    def client(self) -> Brevo:
        return _client(
            settings.BREVO_API_KEY, settings.BREVO_API_BASE_URL, settings.SMS_TIMEOUT_SECONDS
        )

    def status_callback_url(self) -> str:
        return webhook_url()

    def default_sender(self) -> str:
        return str(settings.BREVO_SENDER)

    def send(self, sms: OutgoingSms) -> SendResult:
        arguments: dict[str, Any] = {
            "recipient": _international(sms.to),
            "sender": sms.sender or settings.BREVO_SENDER,
            "content": sms.body,
            "type": "marketing",
        }
        if segments.count(sms.body).encoding != segments.GSM7:
            arguments["unicode_enabled"] = True
        if sms.tag:
            arguments["tag"] = sms.tag
        if sms.status_callback:
            arguments["web_url"] = sms.status_callback
        try:
            response = self.client.transactional_sms.send_transac_sms(**arguments)
        except ApiError as exc:
            return error_result(
                _error_code(exc.body),
                exc.status_code,
                _error_message(exc.body),
                table=ERROR_ACTIONS,
            )
        except httpx.TimeoutException:
            return timed_out()
        except httpx.TransportError as exc:
            return connection_lost(exc)
        return SendResult(Outcome.ACCEPTED, provider_id=str(response.message_id))

    def recent_messages(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        # Brevo lists events, not messages with their text: a send whose answer was lost
        # cannot be recognised there, so the reconciler settles it as unknown (never resent).
        return []

    def opt_outs_since(self, since: datetime | None) -> list[OptOutReport]:
        """Brevo's ``unsubscription`` events since ``since`` (from the day before: its filter
        takes dates, not times), oldest first. Raises ``ProviderUnavailable``."""
        now = timezone.now()
        start = (since - timedelta(days=1)) if since else now - FIRST_LOOKBACK
        reports: list[OptOutReport] = []
        offset = 0
        while True:
            try:
                page = self.client.transactional_sms.get_sms_events(
                    limit=EVENTS_PAGE,
                    offset=offset,
                    start_date=start.astimezone(UTC).date().isoformat(),
                    end_date=now.astimezone(UTC).date().isoformat(),
                    event="unsubscription",
                    sort="asc",
                )
            except ApiError as exc:
                raise ProviderUnavailable(
                    f"Brevo's events: HTTP {exc.status_code} {_error_code(exc.body)}"
                ) from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable(f"Brevo's events: {exc}") from exc
            events = page.events or []
            for event in events:
                phone = _e164(event.phone_number)
                at = _parse_event_date(event.date)
                if not phone or at is None or (since is not None and at < since):
                    continue
                reports.append(
                    OptOutReport(
                        phone=phone,
                        at=at,
                        provider_id=f"unsubscription:{event.message_id or ''}:{phone}"[:64],
                    )
                )
            if len(events) < EVENTS_PAGE:
                break
            offset += EVENTS_PAGE
        reports.sort(key=lambda report: report.at)
        return reports

    def parse_webhook(
        self, request: HttpRequest, *, token: str
    ) -> list[StatusReport | OptOutReport]:
        """Verify ``token`` and read Brevo's SMS webhook (one event, or a list of them).

        Raises ``InvalidWebhook`` for a token that is not ours, ``MalformedWebhook`` for a body
        that is not Brevo's. Events Relance does not act on (a message's own cost, a START)
        are left out.
        """
        if not _token_is_ours(token):
            raise InvalidWebhook("not Brevo's webhook URL")
        try:
            # The strict reader of every JSON body: deep nesting, NaN, lone surrogates and
            # repeated keys are refused here, not by a crash further on.
            payload = strict_json.loads(request.body or b"null")
        except strict_json.InvalidJson as exc:
            raise MalformedWebhook(str(exc)) from exc
        events = payload if isinstance(payload, list) else [payload]
        if not events or not all(isinstance(event, dict) for event in events):
            raise MalformedWebhook("the body is not a Brevo event")
        return [report for report in map(_read_event, events) if report is not None]


def _read_event(event: dict[str, Any]) -> StatusReport | OptOutReport | None:
    status = _status_key(event.get("msg_status") or event.get("event"))
    message_id = str(event.get("messageId") or event.get("message_id") or "")[:64]
    at = _webhook_time(event)
    if status in OPT_OUTS or status in REPLIES:
        phone = _e164(event.get("to") or event.get("phoneNumber"))
        if not phone:
            raise MalformedWebhook("an unsubscription or reply needs the number (to)")
        reply = str(event.get("reply") or event.get("text") or "")[:500]
        if status in OPT_OUTS:
            reply = ""
        elif not reply:
            return None
        return OptOutReport(
            phone=phone,
            at=at,
            provider_id=f"{'reply' if reply else 'unsubscription'}:{message_id}:{phone}"[:64],
            reply=reply,
        )
    if status not in DELIVERY:
        logger.info("brevo webhook: %r not acted on", status[:32])
        return None
    if not message_id:
        raise MalformedWebhook("a delivery status needs the message (messageId)")
    raw = {str(key)[:64]: str(value).replace("\x00", "")[:500] for key, value in event.items()}
    error_code = ERROR_CODES.get(status, "")
    return StatusReport(
        provider_id=message_id,
        delivery=DELIVERY[status],
        error_code=error_code,
        provider_status=status[:32],
        raw=raw,
        action=action_for(error_code, ERROR_ACTIONS) if error_code else Action.NONE,
    )


def _webhook_time(event: dict[str, Any]) -> datetime:
    """When the event happened: ``ts_event`` (UTC seconds), else ``date`` (Paris time)."""
    try:
        return datetime.fromtimestamp(int(event["ts_event"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        pass
    parsed = _parse_event_date(event.get("date"), naive_zone=BREVO_TIME_ZONE)
    return parsed or timezone.now()


def _parse_event_date(value: object, *, naive_zone: Any = UTC) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(UTC)

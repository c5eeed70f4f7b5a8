"""Anymail's tracking events, from any provider's webhook, handed to the provider-neutral
hooks: delivered and bounced as delivery statuses of the send; complained and unsubscribed
as an opt-out of the address (its email consent revoked). Opens and clicks are not used:
email is attributed on clicks of its own short link and on orders (no open tracking).

Anymail verified the webhook before sending the signal (basic auth for Brevo). The receiver
is connected when this module is imported, which every anymail provider's webhook URLs do:
wherever a webhook can be reached, its events are read.
"""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.utils import timezone

from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.gateways import hooks
from retargeting.gateways.anymail.errors import (
    BLOCKED,
    BOUNCED,
    ERROR_ACTIONS,
    FAILED,
    INVALID,
    SOFT_BOUNCE,
)
from retargeting.gateways.base import Action, Delivery, OptOutReport, StatusReport
from retargeting.gateways.errors import action_for

logger = logging.getLogger(__name__)

# Providers whose "bounced" includes soft bounces say so in their own event name.
SOFT_BOUNCE_EVENTS = frozenset({"soft_bounce", "softbounce"})


def _provider_id(event: AnymailTrackingEvent) -> str:
    return str(event.message_id or "").strip().strip("<>")[:64]


def _esp_event_name(event: AnymailTrackingEvent) -> str:
    esp = event.esp_event
    return str(esp.get("event") or "").lower() if isinstance(esp, dict) else ""


def _raw(event: AnymailTrackingEvent) -> dict[str, str]:
    esp = event.esp_event if isinstance(event.esp_event, dict) else {}
    return {str(k)[:64]: str(v).replace("\x00", "")[:500] for k, v in esp.items()}


def status_report(event: AnymailTrackingEvent) -> StatusReport | None:
    """The delivery status ``event`` reports, or None where it reports none."""
    provider_id = _provider_id(event)
    if not provider_id:
        return None
    if event.event_type == EventType.DELIVERED:
        delivery, code = Delivery.DELIVERED, ""
    elif event.event_type == EventType.BOUNCED:
        delivery = Delivery.UNDELIVERED
        if _esp_event_name(event) in SOFT_BOUNCE_EVENTS:
            code = SOFT_BOUNCE
        elif event.reject_reason == RejectReason.INVALID:
            code = INVALID
        else:
            code = BOUNCED
    elif event.event_type == EventType.REJECTED:
        delivery, code = Delivery.FAILED, BLOCKED
    elif event.event_type == EventType.FAILED:
        delivery, code = Delivery.FAILED, FAILED
    elif event.event_type == EventType.SENT:
        delivery, code = Delivery.SENT, ""
    else:
        return None
    return StatusReport(
        provider_id=provider_id,
        delivery=delivery,
        error_code=code,
        provider_status=(_esp_event_name(event) or str(event.event_type))[:32],
        raw=_raw(event),
        action=action_for(code, ERROR_ACTIONS) if code else Action.NONE,
    )


def opt_out_report(event: AnymailTrackingEvent) -> OptOutReport | None:
    """The opt-out ``event`` reports (a complaint or an unsubscription), or None."""
    if event.event_type not in (EventType.COMPLAINED, EventType.UNSUBSCRIBED):
        return None
    try:
        address = normalize_email(str(event.recipient or ""))
    except InvalidEmail:
        logger.warning("email tracking: a %s without a valid address", event.event_type)
        return None
    kind = "complaint" if event.event_type == EventType.COMPLAINED else "unsubscription"
    return OptOutReport(
        phone="",
        email=address,
        at=event.timestamp or timezone.now(),
        provider_id=f"{kind}:{_provider_id(event)}"[:64],
    )


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """Receiver of anymail's ``tracking`` signal."""
    report = status_report(event)
    if report is not None:
        hooks.handle_status(report)
    opt_out = opt_out_report(event)
    if opt_out is not None:
        hooks.handle_opt_out(opt_out)
    if report is None and opt_out is None:
        logger.info("email tracking: %s %r not acted on", esp_name, str(event.event_type)[:32])


tracking.connect(on_tracking, dispatch_uid="relance-email-tracking")

"""Delivery statuses from the provider, applied to sends (registered with the gateways)."""

from __future__ import annotations

from campaigns.models import Send, SendStatus
from campaigns.send_states import advance
from campaigns.sending import apply_provider_action
from retargeting.gateways.base import Delivery, StatusReport

STATUS = {
    Delivery.ACCEPTED: SendStatus.ACCEPTED,
    Delivery.SENT: SendStatus.SENT,
    Delivery.DELIVERED: SendStatus.DELIVERED,
    Delivery.UNDELIVERED: SendStatus.UNDELIVERED,
    Delivery.FAILED: SendStatus.FAILED,
}


def apply_status_report(report: StatusReport) -> None:
    """Move the send forward (never back) and keep the callback in its history.

    A callback repeated (the provider retries, or someone replays a signed one) changes
    nothing. A provider error acts on the contact only if it is about a message sent after
    the contact's latest consent change (an old "unsubscribed" does not undo a later START).
    """
    send = Send.objects.filter(provider_id=report.provider_id).first()
    if send is None:
        return  # not a campaign message (an opt-in confirmation, a reply)
    advance(
        send,
        status=STATUS[report.delivery],
        source="provider",
        error_code=report.error_code,
        detail=report.provider_status,
        once=True,
    )
    if report.error_code:
        apply_provider_action(
            contact_id=send.contact_id,
            action=report.action,
            error_code=report.error_code,
            message_sent_at=send.sent_at or send.claimed_at,
            channel=send.channel,
        )

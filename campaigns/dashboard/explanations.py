"""Why a send is where it is, in words a marketer reads: the recorded reason of every
deferral, cancellation and drop, with the time it waits for in the site's time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from campaigns.models import Send, SendStatus
from campaigns.send_reasons import DEFERRALS, SendReason
from campaigns.send_states import REACHED, WAITING

# The words for every reason the planner, the worker and the provider record.
REASONS = dict(SendReason.choices)

# Reasons a marketer can filter the list by, in the order they are offered.
FILTERABLE = [
    SendReason.QUIET_HOURS,
    SendReason.CAPPED,
    SendReason.STALE,
    SendReason.OPTED_OUT,
    SendReason.CONVERTED,
    SendReason.HELD_OUT,
    SendReason.CART_CHANGED,
    SendReason.CART_REPLACED,
    SendReason.CART_EMPTIED,
    SendReason.UNREACHABLE,
    SendReason.NO_DISCOUNT_CODE,
    SendReason.PROVIDER_UNAVAILABLE,
]


def tone(status: str) -> str:
    """``ok``, ``wait`` or ``no``: the colour a status is shown in."""
    if status in REACHED:
        return "ok"
    return "wait" if status in WAITING else "no"


def reason_label(reason: str) -> str:
    """The words for a recorded reason (the code itself for one this list does not know)."""
    return str(REASONS.get(reason, reason))


def explain(send: Send, *, time_zone: str) -> str:
    """One line: what happened to ``send`` and why, with the time it waits for."""
    local_due = timezone.localtime(send.due_at, ZoneInfo(time_zone))
    due = formats.date_format(local_due, "SHORT_DATETIME_FORMAT")
    reason = reason_label(send.reason) if send.reason else ""
    if send.status == SendStatus.PLANNED:
        if send.reason in DEFERRALS:
            return _("%(reason)s: waits until %(due)s") % {"reason": reason, "due": due}
        return _("Planned for %(due)s") % {"due": due}
    if send.status == SendStatus.SENDING:
        return _("Being sent")
    if send.status in (SendStatus.ACCEPTED, SendStatus.SENT):
        return _("Sent; waiting for the delivery report")
    if send.status == SendStatus.DELIVERED:
        return _("Delivered")
    if send.status == SendStatus.UNKNOWN:
        return _("Outcome unknown: the provider never confirmed it")
    detail = f" ({send.reason_detail})" if send.reason_detail else ""
    return f"{reason or send.get_status_display()}{detail}"

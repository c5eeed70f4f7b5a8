"""Why a send is where it is, in words a marketer reads: the recorded reason of every
deferral, cancellation and drop, with the time it waits for in the site's time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Send, SendStatus
from campaigns.send_states import REACHED

# Every reason the planner, the worker and the provider record (campaigns.sending,
# campaigns.dispatch, campaigns.eligibility, retargeting.gateways.base.Action).
REASONS = {
    "quiet_hours": gettext_lazy("Quiet hours"),
    "capped": gettext_lazy("Frequency cap reached"),
    "throttled": gettext_lazy("Sender's rate limit"),
    "provider_retry": gettext_lazy("Provider busy, retrying"),
    "cart_changed": gettext_lazy("Cart changed: the delay starts again"),
    "stale": gettext_lazy("Too late: the cart is older than the staleness limit"),
    "converted": gettext_lazy("Bought before the reminder"),
    "cart_replaced": gettext_lazy("Cart replaced by a newer one"),
    "cart_emptied": gettext_lazy("Cart emptied"),
    "opted_out": gettext_lazy("Opted out (STOP) or consent withdrawn"),
    "unreachable": gettext_lazy("Number cannot receive SMS"),
    "erased": gettext_lazy("Contact erased (RGPD)"),
    "held_out": gettext_lazy("Held out: in the control group, never messaged"),
    "no_discount_code": gettext_lazy("No discount code left in the pool"),
    "invalid_template": gettext_lazy("The step's text could not be rendered"),
    "provider_unavailable": gettext_lazy("Provider unavailable until the send expired"),
    "not_found_at_provider": gettext_lazy("The provider has no record of it"),
    "revoke_consent": gettext_lazy("Unsubscribed at the provider"),
    "flag": gettext_lazy("Filtered as spam by a carrier: check the text"),
    "fail": gettext_lazy("Refused by the provider"),
    "none": gettext_lazy("Refused by the provider"),
}

# Reasons a marketer can filter the list by, in the order they are offered.
FILTERABLE = [
    "quiet_hours",
    "capped",
    "stale",
    "opted_out",
    "converted",
    "held_out",
    "cart_changed",
    "cart_replaced",
    "cart_emptied",
    "unreachable",
    "no_discount_code",
    "provider_unavailable",
]

# Statuses grouped the way the list offers them.
WAITING = [SendStatus.PLANNED, SendStatus.SENDING]
NOT_SENT = [SendStatus.CANCELLED, SendStatus.DROPPED, SendStatus.HELD_OUT, SendStatus.FAILED]


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
        if send.reason in ("quiet_hours", "capped", "throttled", "provider_retry", "cart_changed"):
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

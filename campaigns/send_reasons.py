"""Why a send did what it did: the one vocabulary of the planner, the worker, the provider's
refusals and the dashboard (Saleor's ``error_codes.py``, as choices).

The values are what ``Send.reason`` and ``SendEvent.reason`` store, so they never change: rows
written before this enum keep their meaning. The fields take no ``choices``: that would be a
migration on the busiest tables for a check the database does not make. The labels are the
marketer's words (their msgids are the French catalogue's keys: change one, translate it again).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy

from retargeting.gateways.base import Action


class SendReason(models.TextChoices):
    """Why a send was deferred, cancelled, dropped, held out, failed or left unknown."""

    # Deferred: the send stays planned, for later.
    QUIET_HOURS = "quiet_hours", gettext_lazy("Quiet hours")
    CAPPED = "capped", gettext_lazy("Frequency cap reached")
    THROTTLED = "throttled", gettext_lazy("Sender's rate limit")
    PROVIDER_RETRY = "provider_retry", gettext_lazy("Provider busy, retrying")
    CART_CHANGED = "cart_changed", gettext_lazy("Cart changed: the delay starts again")
    INTERRUPTED = (
        "interrupted",
        gettext_lazy("Interrupted by a crash before reaching the provider: sent again"),
    )
    # Dropped: too late, or nothing to send.
    STALE = "stale", gettext_lazy("Too late: the cart is older than the staleness limit")
    # Cancelled: the cart or the contact no longer qualifies (campaigns.eligibility).
    CONVERTED = "converted", gettext_lazy("Bought before the reminder")
    CART_REPLACED = "cart_replaced", gettext_lazy("Cart replaced by a newer one")
    CART_EMPTIED = "cart_emptied", gettext_lazy("Cart emptied")
    OPTED_OUT = "opted_out", gettext_lazy("Opted out (STOP) or consent withdrawn")
    UNREACHABLE = "unreachable", gettext_lazy("Number cannot receive SMS")
    """Also the provider's refusal of a number that cannot receive SMS (Action.UNREACHABLE)."""
    ERASED = "erased", gettext_lazy("Contact erased (RGPD)")
    NO_PHONE = "no_phone", gettext_lazy("No mobile number")
    # Email (campaigns.eligibility): the address, its own consent, the platform.
    NO_EMAIL_CONSENT = "no_email_consent", gettext_lazy("No email consent")
    EMAIL_UNSUBSCRIBED = "email_unsubscribed", gettext_lazy("Unsubscribed from emails")
    NO_EMAIL_ADDRESS = "no_email_address", gettext_lazy("No email address")
    EMAIL_UNREACHABLE = (
        "email_unreachable",
        gettext_lazy("Email address cannot receive mail (bounced)"),
    )
    """Also the email provider's refusal of an address for good (Action.UNREACHABLE)."""
    EMAIL_BLOCKED = (
        "email_blocked",
        gettext_lazy("Address erased after it unsubscribed: never emailed again"),
    )
    EMAIL_NOT_CONFIGURED = "email_not_configured", gettext_lazy("Email sending is not configured")
    # Held out: in the flow's control group.
    HELD_OUT = "held_out", gettext_lazy("Held out: in the control group, never messaged")
    # Dropped or failed before the provider was called.
    NO_DISCOUNT_CODE = "no_discount_code", gettext_lazy("No discount code left in the pool")
    INVALID_TEMPLATE = "invalid_template", gettext_lazy("The step's text could not be rendered")
    # The provider: down too long, no trace of a message, or a refusal.
    PROVIDER_UNAVAILABLE = (
        "provider_unavailable",
        gettext_lazy("Provider unavailable until the send expired"),
    )
    NOT_FOUND_AT_PROVIDER = (
        "not_found_at_provider",
        gettext_lazy("The provider has no record of it"),
    )
    UNSUBSCRIBED_AT_PROVIDER = "revoke_consent", gettext_lazy("Unsubscribed at the provider")
    FLAGGED_AS_SPAM = "flag", gettext_lazy("Filtered as spam by a carrier: check the text")
    REFUSED = "fail", gettext_lazy("Refused by the provider")
    REFUSED_WITHOUT_ACTION = "none", gettext_lazy("Refused by the provider")
    """A refusal the gateway attached no action to (the values are the gateway's Action's)."""
    # The messages after the order (campaigns.order_messages).
    ORDER_CANCELLED = "order_cancelled", gettext_lazy("Order cancelled or refunded")
    ORDER_GONE = "order_gone", gettext_lazy("Order no longer known (erased)")
    # back_in_stock (campaigns.back_in_stock): what ends a request's alert at send time.
    SOLD_OUT_AGAIN = "sold_out_again", gettext_lazy("Out of stock again before the alert")
    REQUEST_EXPIRED = "request_expired", gettext_lazy("The back-in-stock request expired")
    REQUEST_CHANNEL_OFF = (
        "request_channel_off",
        gettext_lazy("The step no longer sends on the channel the shopper asked for"),
    )
    # browse_abandoned (campaigns.browse_abandonment)
    BROWSED_THEN_BOUGHT = (
        "browse_cart_or_order",
        gettext_lazy("A cart, a purchase or an order since the view"),
    )
    BROWSE_PRODUCT_UNAVAILABLE = "browse_unavailable", gettext_lazy("Product unavailable")
    BROWSE_COOLDOWN = (
        "browse_cooldown",
        gettext_lazy("Already told about this product within 7 days"),
    )
    VIEW_GONE = "browse_view_gone", gettext_lazy("Product view deleted (retention)")
    BROWSING_AGAIN = (
        "browsing_again",
        gettext_lazy("Back on the shop since the view: the delay starts again"),
    )


DEFERRALS = frozenset(
    {
        SendReason.QUIET_HOURS,
        SendReason.CAPPED,
        SendReason.THROTTLED,
        SendReason.PROVIDER_RETRY,
        SendReason.CART_CHANGED,
        SendReason.BROWSING_AGAIN,
        SendReason.INTERRUPTED,
    }
)
"""The reasons a planned send waits for: it goes out later, at its due time."""

# The provider's permanent refusals, by the action the gateway attached. A retry action never
# comes with a permanent refusal (retargeting.gateways.errors.outcome_of); were one to, it is
# a refusal all the same.
_REFUSALS = {
    Action.NONE: SendReason.REFUSED_WITHOUT_ACTION,
    Action.RETRY: SendReason.REFUSED,
    Action.REVOKE_CONSENT: SendReason.UNSUBSCRIBED_AT_PROVIDER,
    Action.UNREACHABLE: SendReason.UNREACHABLE,
    Action.FLAG: SendReason.FLAGGED_AS_SPAM,
    Action.FAIL: SendReason.REFUSED,
}


def refusal_reason(action: Action, *, channel: str = "sms") -> SendReason:
    """Why a send on ``channel`` failed when the provider refused it with ``action``."""
    if channel == "email" and action is Action.UNREACHABLE:
        return SendReason.EMAIL_UNREACHABLE
    return _REFUSALS[action]

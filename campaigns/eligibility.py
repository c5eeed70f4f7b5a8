"""Who may still get a reminder: the one definition that planning and sending share.

A cart may be messaged while it is open (not bought, not replaced by another cart), has items,
and its visitor is linked to a contact whose consent is live and whose number is reachable.
Planning selects carts with :func:`eligible_carts`; a worker checks a planned send again with
:func:`exit_reason` just before sending, because any of these may change in between. A test
holds the two to the same cases.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from campaigns.models import Send
from campaigns.send_reasons import SendReason
from optin.consent import LIVE_STATUSES, is_live
from optin.models import VisitorLink
from retargeting.tracking.models import Cart


def eligible_carts(*, site_id: int) -> QuerySet[Cart]:
    """The site's carts a flow may message, as an indexed query (without the delay)."""
    live_link = VisitorLink.objects.filter(
        visitor_id=OuterRef("visitor_id"),
        contact__consent_status__in=LIVE_STATUSES,
        contact__unreachable_at__isnull=True,
    )
    return Cart.objects.filter(site_id=site_id, status=Cart.Status.OPEN, item_count__gt=0).filter(
        Exists(live_link)
    )


def exit_reason(send: Send) -> SendReason | None:
    """Why a planned send must not go out any more, or ``None``."""
    cart, contact = send.cart, send.contact
    if contact is None:
        return SendReason.ERASED
    if cart.status == Cart.Status.CONVERTED:
        return SendReason.CONVERTED
    if cart.status == Cart.Status.REPLACED:
        return SendReason.CART_REPLACED
    if cart.item_count == 0:
        return SendReason.CART_EMPTIED
    if not is_live(status=contact.consent_status):
        return SendReason.OPTED_OUT
    if contact.unreachable_at is not None:
        return SendReason.UNREACHABLE
    return None

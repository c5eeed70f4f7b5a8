"""A platform's order as a purchase: the one way Shopify's and WooCommerce's orders are
recorded once their cart is found.

An order's phone is what the buyer typed (a claim): it never finds a cart, never converts a
number's carts and never makes the order count for that number. The cart is found by what the
platform itself vouches for: its checkout or cart token, its own order, its customer id.
"""

from __future__ import annotations

from typing import Any

from retargeting.platforms.payloads import Unreadable, amount, text
from retargeting.sites.models import Site
from retargeting.tracking import schema
from retargeting.tracking.models import Cart
from retargeting.tracking.recording import Origin, Recorded, record_batch
from retargeting.tracking.server_carts import customer_visitor


def record_order(
    *,
    site: Site,
    order_id: str,
    total: Any,
    total_field: str,
    currency: Any,
    cart: Cart | None,
    customer_id: str,
    origin: Origin,
) -> Recorded:
    """Record the purchase of ``order_id``: on its cart's visitor (the cart named, so it
    converts even if another became the open one), else on the shop's customer's latest
    visitor (no phone: the buyer's typed number proves nothing)."""
    try:
        event = schema.purchase(
            {
                "order_id": order_id,
                "total": amount(total, total_field),
                "currency": text(currency),
            },
            "",
        )
    except schema.PayloadError as exc:
        raise Unreadable(exc.path, str(exc)) from None
    vid = None
    if cart is not None:
        vid = cart.visitor.vid
        event["cart"] = cart.external_id
    elif customer_id:
        vid = customer_visitor(site.pk, customer_id)
    return record_batch(site_id=site.pk, vid=vid, events=[event], origin=origin)

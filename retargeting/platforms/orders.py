"""A platform's order as a purchase: the one way Shopify's and WooCommerce's orders are
recorded once their cart is found; and its status handed up for the order's own messages
(:func:`hand_order`).

An order's phone is what the buyer typed (a claim): it never finds a cart, never converts a
number's carts and never makes the order count for that number. The cart is found by what the
platform itself vouches for: its checkout or cart token, its own order, its customer id.
"""

from __future__ import annotations

from typing import Any

from retargeting.platforms.payloads import Unreadable, amount, mapping, text
from retargeting.sites.models import Site
from retargeting.tracking import hooks, schema
from retargeting.tracking.models import Cart
from retargeting.tracking.proofs import Proof
from retargeting.tracking.recording import Origin, Recorded, record_batch
from retargeting.tracking.server_carts import customer_visitor
from retargeting.tracking.server_orders import MAX_ORDER_ITEMS, platform_order


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


def order_items(lines: list[Any]) -> list[dict[str, Any]]:
    """A platform's order lines as an order's items (name, sku, product id, price, quantity)."""
    items = []
    for line in lines[:MAX_ORDER_ITEMS]:
        line = mapping(line)
        name = text(line.get("name")) or text(line.get("title"))
        if not name:
            continue
        item: dict[str, Any] = {"name": name[: schema.ITEM_NAME_LENGTH]}
        for key, field in (("id", "product_id"), ("sku", "sku")):
            value = text(line.get(field))
            if value:
                item[key] = value[:128]
        price = _amount_or_none(line.get("price"))
        if price is not None:
            item["price"] = price
        quantity = line.get("quantity")
        if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
            item["quantity"] = quantity
        items.append(item)
    return items


def hand_order(
    *,
    site: Site,
    order_id: str,
    status: str,
    phone: str | None = None,
    email: str | None = None,
    customer_id: str = "",
    total: Any = None,
    currency: Any = None,
    tracking_url: str = "",
    items: list[dict[str, Any]] | None = None,
) -> None:
    """Hand a platform's order status up (``hooks.report_order``) for its messages. Its phone
    and email are what the buyer typed: a claim (the gate links no browser and changes no
    consent for it); its tracking link is the platform's own (signed)."""
    order = platform_order(
        order_id=order_id,
        status=status,
        phone=phone,
        email=email,
        customer_id=customer_id,
        total=_amount_or_none(total),
        currency=(text(currency) or "").upper()[:3],
        tracking_url=tracking_url
        if tracking_url.lower().startswith(("https://", "http://"))
        else "",
        items=items,
    )
    hooks.report_order(site_id=site.pk, order=order, proof=Proof.CLAIM)


def _amount_or_none(value: Any) -> str | None:
    """An amount as the platforms send it, or None when it is not one (an order's messages
    show its total only when it is known)."""
    try:
        return str(schema._amount({"value": value}, "value", ""))
    except schema.PayloadError:
        return None

"""What a cart event does to a visitor's carts: the one rule, as a pure function.

The collector writes a batch in the request (``recording``) and the buffer's ingest writes a
thousand entries at once (``ingest``); both load the carts this function needs, call it, and
save what it returns. It reads and changes only the ``Cart`` objects it is given (no query).

- The same cart id, with the same contents: nothing changes.
- The same cart id, changed: the contents are replaced and the delay starts again (a changed
  cart is a new abandonment).
- Another cart id: the open cart is replaced, and the visitor's cart of that id is opened
  again with the new contents, or created. A bought cart's id reused by the shop changes
  nothing (that cart is done).
- An event older than the open cart's state (the buffer can write late) changes nothing.
- A platform's reference (``ref``) is kept until an event brings another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from retargeting.tracking.models import Cart

# The columns a cart event may change, for the savers' UPDATE.
FIELDS = [
    "status",
    "converted_at",
    "last_change_at",
    "currency",
    "total",
    "item_count",
    "items",
    "url",
    "ref",
]


def cart_contents(data: dict[str, Any]) -> dict[str, Any]:
    """The columns of a validated cart event's ``cart``. A platform's reference is only ever
    set, never cleared, by an event: the page knows nothing of the checkout the platform's
    webhook named, and an order must still find its cart by it."""
    contents = {
        "currency": data["currency"],
        "total": Decimal(data["total"]),
        "items": data["items"],
        "item_count": sum(item["quantity"] for item in data["items"]),
        "url": data["url"] or "",
    }
    if data.get("ref"):
        contents["ref"] = data["ref"]
    return contents


@dataclass
class CartChange:
    """What to save after one cart event."""

    open_cart: Cart | None
    """The visitor's open cart afterwards."""
    changed: list[Cart] = field(default_factory=list)
    """Existing carts whose columns changed, those leaving "open" first (one open cart per
    visitor at any moment)."""
    created: Cart | None = None
    """A new cart to insert."""


def apply_cart_event(
    *,
    site_id: int,
    visitor_id: int,
    open_cart: Cart | None,
    known: Cart | None,
    data: dict[str, Any],
    at: datetime,
) -> CartChange:
    """Apply a cart event received ``at`` to a visitor whose open cart is ``open_cart`` and
    whose cart with the event's id (open or not) is ``known``."""
    contents = cart_contents(data)
    if open_cart is not None and open_cart.last_change_at > at:
        return CartChange(open_cart)
    if open_cart is not None and open_cart.external_id == data["id"]:
        if all(getattr(open_cart, name) == value for name, value in contents.items()):
            return CartChange(open_cart)
        _fill(open_cart, contents, at)
        return CartChange(open_cart, changed=[open_cart])
    if known is not None and known.status == Cart.Status.CONVERTED:
        return CartChange(open_cart)
    change = CartChange(open_cart=None)
    if open_cart is not None:
        open_cart.status = Cart.Status.REPLACED
        change.changed.append(open_cart)
    if known is not None:
        _fill(known, contents, at)
        known.status = Cart.Status.OPEN
        change.changed.append(known)
        change.open_cart = known
        return change
    change.created = change.open_cart = Cart(
        site_id=site_id,
        visitor_id=visitor_id,
        external_id=data["id"],
        created_at=at,
        last_change_at=at,
        **contents,
    )
    return change


def _fill(cart: Cart, contents: dict[str, Any], at: datetime) -> None:
    for name, value in contents.items():
        setattr(cart, name, value)
    cart.last_change_at = at

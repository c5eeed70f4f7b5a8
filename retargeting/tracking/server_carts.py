"""Carts the shop's server or its platform reports (``POST /api/v1/carts``, the platforms'
webhooks): which visitor a cart belongs to when there may be no browser cookie at all.

A cart is kept on a visitor, as the snippet's are, so the one cart rule applies unchanged
(``cart_rules``): a new cart id replaces the previous cart, an emptied cart is empty, a changed
cart starts the delay again. The visitor is, in this order:

1. the browser the request names (``vid``), which then carries the ``customer_id`` too;
2. the most recently seen visitor carrying the shop's ``customer_id`` (the same customer on
   another device, or an earlier server cart); for a platform's claim, only one tied to no
   number (Shopify files a guest's checkout under the account whose email the guest typed:
   its customer id is what a shopper typed too);
3. the number's browser, when the shop's server gives the ``phone`` (not a platform relaying
   what a shopper typed) and the number's owner or the shop's server already linked one (never
   a browser that merely claimed the number);
4. a new visitor of the server's own (a random id), which the same customer's next cart finds
   by the customer id, or by the number it is linked to (a guest's checkout works the same with
   the platform's guest id).

A ``phone`` from the shop's server (``POST /api/v1/carts``) is the server vouching for who the
cart is for: the visitor is linked to that number (an identify without consent: it never grants
or changes consent). A phone a platform relays (a checkout's, typed by whoever checked out) is
a claim (``origin.proof``): it is handed to the opt-in layer's gate as such, which never ties the
cart to a number that already has a consent state, and it never picks the number's browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from retargeting.tracking import hooks
from retargeting.tracking.models import Visitor
from retargeting.tracking.proofs import Proof
from retargeting.tracking.recording import Origin, Recorded, record_batch


@dataclass(frozen=True)
class ServerCart:
    vid: str
    recorded: Recorded


def _server_vid() -> str:
    """A visitor id of the server's own: random, so that nobody can work it out from a number
    or a customer id and post to it from a page (the next cart finds it by its customer id, or
    by the number's link)."""
    return "s_" + secrets.token_hex(20)


def customer_visitor(site_id: int, customer_id: str) -> str | None:
    """The visitor id of the shop's customer most recently seen, or None."""
    return (
        Visitor.objects.filter(site_id=site_id, customer_id=customer_id)
        .order_by("-last_seen_at", "-pk")
        .values_list("vid", flat=True)
        .first()
    )


def visitor_for(
    *,
    site_id: int,
    vid: str | None,
    customer_id: str | None,
    phone: str | None,
    phone_vouched: bool = True,
) -> tuple[str, str | None]:
    """The visitor id a server-reported cart belongs to (the rules above), and the customer id
    to record on it; ``phone_vouched`` False for what a shopper typed (a platform's phone and
    customer id)."""
    if vid:
        return vid, customer_id
    if customer_id:
        known = customer_visitor(site_id, customer_id)
        if known and (phone_vouched or not hooks.visitor_has_contact(site_id, known)):
            return known, customer_id
        if known:
            # The customer's browser is tied to a number: a claim under that account goes on
            # a visitor of its own, found again by a claimed id (never stamped with hers, so
            # that the shop's own carts for her never land on it).
            claimed = f"claimed:{customer_id}"[:128]
            return customer_visitor(site_id, claimed) or _server_vid(), claimed
    if phone and phone_vouched:
        proven = hooks.visitor_of_phone(site_id, phone)
        if proven:
            return proven, customer_id
    assert customer_id or phone, "a vid, a customer_id or a phone"
    return _server_vid(), customer_id


def record_server_cart(
    *,
    site_id: int,
    cart: dict[str, Any],
    origin: Origin,
    vid: str | None = None,
    customer_id: str | None = None,
    phone: str | None = None,
    identify: dict[str, Any] | None = None,
    purchase: dict[str, Any] | None = None,
) -> ServerCart:
    """Record a validated ``cart`` event for the visitor ``visitor_for`` names.

    ``identify``: an identify event for ``phone`` to record with it (a platform's consent);
    without it a ``phone`` links the visitor to the number with no consent change.
    ``purchase``: a purchase event recorded after the cart (a platform's finished checkout).
    """
    chosen, customer_id = visitor_for(
        site_id=site_id,
        vid=vid,
        customer_id=customer_id,
        phone=phone,
        phone_vouched=origin.kind_of_proof() == Proof.SHOP_SERVER,
    )
    events: list[dict[str, Any]] = [cart]
    if identify is not None:
        events.insert(0, identify)
    elif phone:
        events.insert(0, {"type": "identify", "phone": phone})
    if purchase is not None:
        events.append(purchase)
    recorded = record_batch(
        site_id=site_id,
        vid=chosen,
        events=events,
        origin=origin,
        customer_id=customer_id or "",
    )
    return ServerCart(vid=chosen, recorded=recorded)

"""Where the opt-in layer checks an unauthenticated identify before the collector stores it.

The tracking core does not know contacts; the opt-in layer does, and registers a check that
may refuse the request (too many confirmation SMS asked from one address, one browser or for
one shop today). A refused request stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from retargeting.tracking.proofs import Proof


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str


IdentifyCheck = Callable[..., "Refusal | None"]
"""Called with ``site_id``, ``vid`` (or None), ``event`` (validated, phone in E.164) and
``client_ip`` (the full address, never stored)."""

_checks: list[IdentifyCheck] = []


def register_identify_check(check: IdentifyCheck) -> None:
    if check not in _checks:
        _checks.append(check)


def check_identify(
    *, site_id: int, vid: str | None, event: dict[str, Any], client_ip: str | None
) -> Refusal | None:
    """The first refusal of the registered checks, or None when the identify may be stored."""
    for check in _checks:
        refusal = check(site_id=site_id, vid=vid, event=event, client_ip=client_ip)
        if refusal is not None:
            return refusal
    return None


VisitorsOfPhone = Callable[[int, str], "list[str]"]
"""Called with ``site_id`` and a phone in E.164: the visitor ids of that number's browsers on
the site that its owner or the shop's server proved, most recently seen first."""

_visitor_lookups: list[VisitorsOfPhone] = []


def register_visitor_lookup(lookup: VisitorsOfPhone) -> None:
    if lookup not in _visitor_lookups:
        _visitor_lookups.append(lookup)


def visitors_of_phone(site_id: int, phone: str) -> list[str]:
    """The browsers the opt-in layer knows are this number's (never one that only claimed it),
    most recently seen first."""
    for lookup in _visitor_lookups:
        vids = lookup(site_id, phone)
        if vids:
            return vids
    return []


VisitorHasContact = Callable[[int, str], bool]
"""Called with ``site_id`` and a visitor id: whether the browser is tied to a number."""

_contact_checks: list[VisitorHasContact] = []


def register_contact_check(check: VisitorHasContact) -> None:
    if check not in _contact_checks:
        _contact_checks.append(check)


def visitor_has_contact(site_id: int, vid: str) -> bool:
    """Whether the opt-in layer ties this browser to a number (whatever its consent)."""
    return any(check(site_id, vid) for check in _contact_checks)


def visitor_of_phone(site_id: int, phone: str) -> str | None:
    """The number's most recently seen proven browser, for the shop's server's carts."""
    vids = visitors_of_phone(site_id, phone)
    return vids[0] if vids else None


CartEmailHandler = Callable[..., None]
"""Called with ``site_id``, ``vid``, ``email`` (normalised), ``ip`` (truncated) and
``user_agent``: the shopper asked for this browser's current cart by email (``email_cart``),
within the collector's limits. The campaign layer plans the email (``campaigns.bridge``)."""

_cart_email_handlers: list[CartEmailHandler] = []


def register_cart_email_handler(handler: CartEmailHandler) -> None:
    if handler not in _cart_email_handlers:
        _cart_email_handlers.append(handler)


def request_cart_email(
    *, site_id: int, vid: str, email: str, ip: str | None, user_agent: str
) -> None:
    """Hand a shopper's ``email_cart`` request to the layer that sends it."""
    for handler in _cart_email_handlers:
        handler(site_id=site_id, vid=vid, email=email, ip=ip, user_agent=user_agent)


OrderHandler = Callable[..., None]
"""Called with ``site_id``, ``order`` (checked by ``server_orders``: ``order_id``, ``status``,
``phone``, ``email``, ``vid``, ``customer_id``, ``total``, ``currency``, ``tracking_url``,
``items``) and ``proof`` (``Proof.SHOP_SERVER`` from the server API; ``Proof.CLAIM`` for what
a platform relays: its phone and email are what the shopper typed). Called inside the
request's transaction: an error undoes the whole request. The campaign layer records the order
and its status (``campaigns.orders``)."""

_order_handlers: list[OrderHandler] = []


def register_order_handler(handler: OrderHandler) -> None:
    if handler not in _order_handlers:
        _order_handlers.append(handler)


def report_order(*, site_id: int, order: dict[str, Any], proof: Proof) -> None:
    """Hand an order's status to the layer that records it and sends its messages."""
    for handler in _order_handlers:
        handler(site_id=site_id, order=order, proof=proof)


StockRequestHandler = Callable[..., None]
"""Called with ``site_id``, ``vid`` (or None), ``request`` (the validated ``back_in_stock``
event: ``product``, ``phone`` in E.164 or ``email`` normalised, ``consent``), ``proof`` (a
``proofs.Proof``: the shop's server's, or a page's claim), ``ip`` (truncated) and
``user_agent``: a shopper asked to be told once when a product returns. The campaign layer
records it through the gate (``campaigns.stock_requests``)."""

_stock_request_handlers: list[StockRequestHandler] = []


def register_stock_request_handler(handler: StockRequestHandler) -> None:
    if handler not in _stock_request_handlers:
        _stock_request_handlers.append(handler)


def request_back_in_stock(
    *,
    site_id: int,
    vid: str | None,
    request: dict[str, Any],
    proof: str,
    ip: str | None,
    user_agent: str,
) -> None:
    """Hand a back-in-stock request to the layer that records it."""
    for handler in _stock_request_handlers:
        handler(
            site_id=site_id, vid=vid, request=request, proof=proof, ip=ip, user_agent=user_agent
        )

"""Recording what the collector and the server API accepted: visitors, carts, product views
and events.

One batch is one transaction: the visitor, the latest state of its cart, its product views
(``product_views``: not kept as events) and every event are written together or not at all.
``identify`` and ``purchase`` are then handed to the higher layers through signals, after the
commit (see ``signals.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from retargeting.tracking.cart_rules import FIELDS, apply_cart_event
from retargeting.tracking.models import Cart, Event, Visitor
from retargeting.tracking.product_views import Seen, record_views
from retargeting.tracking.proofs import Proof
from retargeting.tracking.schema import KEPT_AS_EVENTS
from retargeting.tracking.signals import identify_received, purchase_received

logger = logging.getLogger(__name__)

# A visitor's last-seen time is refreshed at most this often: one write less per request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class Origin:
    """Where a batch came from."""

    source: str = Event.Source.SNIPPET
    ip: str | None = None
    """Already truncated."""
    user_agent: str = ""
    authenticated: bool = False
    """True when the shop signed the request: its server API (secret key) or its platform's
    webhook (signed with its secret)."""
    proof: Proof | None = None
    """What the identities and consents of the batch prove (``proofs.Proof``); by default the
    shop's server's word when ``authenticated``, else a claim. A platform's webhook is signed
    but relays what a shopper typed: a claim."""

    def kind_of_proof(self) -> Proof:
        if self.proof is not None:
            return self.proof
        return Proof.SHOP_SERVER if self.authenticated else Proof.CLAIM


@dataclass
class Recorded:
    visitor: Visitor | None
    events: list[Event] = field(default_factory=list)
    converted_cart_id: int | None = None


def record_batch(
    *,
    site_id: int,
    vid: str | None,
    events: list[dict[str, Any]],
    origin: Origin,
    customer_id: str = "",
) -> Recorded:
    """Record validated ``events`` of one visitor (``vid``) of a site, dated by the server.

    ``customer_id``: the shop's own id for this visitor's customer (the shop's server only)."""
    now = timezone.now()
    with transaction.atomic():
        visitor = (
            _touch_visitor(site_id=site_id, vid=vid, now=now, customer_id=customer_id)
            if vid
            else None
        )
        recorded = Recorded(visitor=visitor)
        touches_cart = any(event["type"] in ("cart", "purchase") for event in events)
        open_cart = _open_cart(visitor) if visitor is not None and touches_cart else None
        for event in events:
            if event["type"] == "cart" and visitor is not None:
                open_cart = _apply_cart(
                    visitor=visitor, open_cart=open_cart, data=event["cart"], now=now
                )
            elif event["type"] == "purchase" and already_bought(
                site_id, event["order_id"], visitor=visitor
            ):
                continue
            elif event["type"] == "purchase" and visitor is not None:
                bought = _bought_cart(visitor, open_cart, event.get("cart"))
                if bought is not None:
                    if bought.status != Cart.Status.CONVERTED:
                        bought.status = Cart.Status.CONVERTED
                        bought.converted_at = now
                        bought.save(update_fields=["status", "converted_at"])
                    recorded.converted_cart_id = bought.pk
                    if bought is open_cart:
                        open_cart = None
        if visitor is not None:
            record_views(
                [
                    Seen(site_id=site_id, visitor_id=visitor.pk, product=event["product"], at=now)
                    for event in events
                    if event["type"] == "product_view"
                ]
            )
        recorded.events = Event.objects.bulk_create(
            Event(
                site_id=site_id,
                visitor=visitor,
                type=event["type"],
                source=origin.source,
                payload=event,
                received_at=now,
                ip=origin.ip,
                order_id=event.get("order_id", "") if event["type"] == "purchase" else "",
            )
            for event in events
            if event["type"] in KEPT_AS_EVENTS
        )
        transaction.on_commit(lambda: _announce(site_id=site_id, recorded=recorded, origin=origin))
    return recorded


def already_bought(site_id: int, order_id: str, *, visitor: Visitor | None) -> bool:
    """Whether this order was recorded already: by the shop's server, or by this browser (a
    reloaded thank-you page). A page's claim of an order number from another browser does not
    count: it must not keep the real order from converting the buyer's cart."""
    seen = Event.objects.filter(site_id=site_id, type=Event.Type.PURCHASE, order_id=order_id)
    vouched = Q(source=Event.Source.SERVER)
    if visitor is None:
        return seen.filter(vouched).exists()
    return seen.filter(vouched | Q(visitor=visitor)).exists()


def _bought_cart(visitor: Visitor, open_cart: Cart | None, named: str | None) -> Cart | None:
    """The cart a purchase converts: the one its platform names (a Shopify order names its
    checkout, perhaps converted a moment ago by the finished checkout), else the open one."""
    if not named or (open_cart is not None and open_cart.external_id == named):
        return open_cart
    cart = Cart.objects.select_for_update().filter(visitor=visitor, external_id=named).first()
    if cart is not None and cart.status == Cart.Status.REPLACED:
        return open_cart
    return cart or open_cart


def _touch_visitor(*, site_id: int, vid: str, now: datetime, customer_id: str = "") -> Visitor:
    visitor = Visitor.objects.filter(site_id=site_id, vid=vid).first()
    if visitor is None:
        try:
            with transaction.atomic():
                return Visitor.objects.create(
                    site_id=site_id,
                    vid=vid,
                    customer_id=customer_id,
                    first_seen_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # created by a concurrent request
            visitor = Visitor.objects.get(site_id=site_id, vid=vid)
    changes: dict[str, Any] = {}
    if now - visitor.last_seen_at >= LAST_SEEN_PRECISION:
        changes["last_seen_at"] = now
    if customer_id and visitor.customer_id != customer_id:
        changes["customer_id"] = customer_id
    if changes:
        for name, value in changes.items():
            setattr(visitor, name, value)
        Visitor.objects.filter(pk=visitor.pk).update(**changes)
    return visitor


def _open_cart(visitor: Visitor) -> Cart | None:
    return Cart.objects.select_for_update().filter(visitor=visitor, status=Cart.Status.OPEN).first()


def _apply_cart(
    *, visitor: Visitor, open_cart: Cart | None, data: dict[str, Any], now: datetime
) -> Cart | None:
    """Make ``data`` the visitor's live cart (``cart_rules``); return the open cart afterwards."""
    known = open_cart
    if open_cart is None or open_cart.external_id != data["id"]:
        known = Cart.objects.filter(visitor=visitor, external_id=data["id"]).first()
    change = apply_cart_event(
        site_id=visitor.site_id,
        visitor_id=visitor.pk,
        open_cart=open_cart,
        known=known,
        data=data,
        at=now,
    )
    for cart in change.changed:
        cart.save(update_fields=FIELDS)
    if change.created is not None:
        change.created.save()
    return change.open_cart


def _announce(*, site_id: int, recorded: Recorded, origin: Origin) -> None:
    visitor_id = recorded.visitor.pk if recorded.visitor else None
    for event in recorded.events:
        if event.type == Event.Type.IDENTIFY:
            responses = identify_received.send_robust(
                sender=Event,
                site_id=site_id,
                visitor_id=visitor_id,
                event_id=event.pk,
                event=event.payload,
                authenticated=origin.kind_of_proof() == Proof.SHOP_SERVER,
                proof=origin.kind_of_proof(),
                relayed=origin.authenticated and origin.kind_of_proof() == Proof.CLAIM,
                ip=origin.ip,
                user_agent=origin.user_agent,
            )
        elif event.type == Event.Type.PURCHASE:
            responses = purchase_received.send_robust(
                sender=Event,
                site_id=site_id,
                visitor_id=visitor_id,
                event_id=event.pk,
                event=event.payload,
                cart_id=recorded.converted_cart_id,
                phone=event.payload.get("phone"),
            )
        else:
            continue
        for receiver, response in responses:
            if isinstance(response, Exception):
                logger.error(
                    "event %s: %s failed; the event is stored and can be replayed",
                    event.pk,
                    getattr(receiver, "__qualname__", receiver),
                    exc_info=response,
                )

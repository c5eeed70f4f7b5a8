"""Orders and their statuses: the subjects of the messages after the order.

The shop's server (``POST /api/v1/orders``) and its platform's webhooks (Shopify's
``orders/create`` and ``fulfillments/create``, WooCommerce's ``order.updated``) report an
order's status; the tracking layer checks it and hands it here through its order hook
(``retargeting.tracking.hooks.report_order``, registered in ``campaigns.apps``). This module
records:

- the ``Order`` (one per site and shop's order id), its latest status, what it holds, and the
  contact its own messages go to: the gate's for the order's phone, else its email
  (``optin.gate.order_recipient``: no consent given or changed, a platform's claim links no
  browser);
- one ``OrderUpdate`` per (order, status), the first time the order reaches it: a webhook
  delivered again, or a status reported twice, adds nothing, so nothing is sent twice.

The order triggers (``campaigns.order_messages``) plan from these rows. A status never moves
an order back: a late "paid" after "shipped" is recorded as reached but the order stays
shipped; a cancellation always wins (it ends every message still to come).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import Order, OrderStatus, OrderUpdate
from optin.gate import order_recipient
from retargeting.sites.models import Site
from retargeting.tracking.models import Visitor
from retargeting.tracking.proofs import Proof

logger = logging.getLogger(__name__)

# How far along each status is: an order only moves forward (cancelled ends it).
RANK = {
    OrderStatus.PLACED: 0,
    OrderStatus.PAID: 1,
    OrderStatus.SHIPPED: 2,
    OrderStatus.DELIVERED: 3,
    OrderStatus.CANCELLED: 4,
}


def on_order(*, site_id: int, order: dict[str, Any], proof: Proof, **_: Any) -> None:
    """The tracking layer's order hook (``campaigns.apps`` registers it)."""
    record_order_status(site=Site.objects.get(pk=site_id), order=order, proof=proof)


def record_order_status(
    *,
    site: Site,
    order: dict[str, Any],
    proof: Proof,
    now: datetime | None = None,
) -> tuple[Order, bool]:
    """Record ``order`` (as ``retargeting.tracking.server_orders`` reads it) and the status it
    reached; return the order and whether this status is new for it."""
    now = now or timezone.now()
    status = OrderStatus(order["status"])
    with transaction.atomic():
        visitor = (
            Visitor.objects.filter(site=site, vid=order["vid"]).first()
            if order.get("vid")
            else None
        )
        recorded = (
            Order.objects.select_for_update()
            .filter(site=site, external_id=order["order_id"])
            .first()
        )
        if recorded is None:
            recorded = _create(site=site, order=order, status=status, now=now)
        phone, email = order.get("phone") or "", order.get("email") or ""
        if (phone and phone != recorded.phone) or (email and email != recorded.email):
            recorded.contact = order_recipient(
                site=site, phone=phone or None, email=email or None, proof=proof, visitor=visitor
            )
        elif recorded.contact_id is None and (recorded.phone or recorded.email):
            recorded.contact = order_recipient(
                site=site,
                phone=recorded.phone or None,
                email=recorded.email or None,
                proof=proof,
                visitor=visitor,
            )
        _merge(recorded, order=order, visitor=visitor, phone=phone, email=email)
        if RANK[status] > RANK[OrderStatus(recorded.status)]:
            recorded.status = status
        recorded.updated_at = now
        recorded.save()
        try:
            with transaction.atomic():
                OrderUpdate.objects.create(
                    order=recorded,
                    status=status,
                    tracking_url=order.get("tracking_url") or "",
                    at=now,
                )
        except IntegrityError:
            logger.info("site %s: order %s was %s already", site.pk, recorded.pk, status)
            return recorded, False
    return recorded, True


def _create(*, site: Site, order: dict[str, Any], status: OrderStatus, now: datetime) -> Order:
    try:
        with transaction.atomic():
            return Order.objects.create(
                site=site,
                external_id=order["order_id"],
                status=status,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # created by a concurrent request: wait for it, then take it
        return Order.objects.select_for_update().get(site=site, external_id=order["order_id"])


def _merge(
    recorded: Order, *, order: dict[str, Any], visitor: Visitor | None, phone: str, email: str
) -> None:
    """What this report adds to the order: a value given replaces the one kept, none erases
    one (a fulfillment's webhook names no phone)."""
    if phone:
        recorded.phone = phone
    if email:
        recorded.email = email
    if visitor is not None:
        recorded.visitor = visitor
    if order.get("customer_id"):
        recorded.customer_id = order["customer_id"]
    if order.get("total") is not None:
        recorded.total = Decimal(order["total"])
    if order.get("currency"):
        recorded.currency = order["currency"]
    if order.get("items"):
        recorded.items = order["items"]
    if order.get("tracking_url"):
        recorded.tracking_url = order["tracking_url"]

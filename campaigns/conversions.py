"""Purchases become conversions, attributed honestly.

A purchase (from the snippet or the shop's server) is recorded once per order id and site. It
ends the flow of the cart it converted (the cart is no longer eligible, so no later step is
planned and a planned one is cancelled at send time). It is then attributed, in this order:

1. **clicked**: to the send whose short link this person (the contact, or the cart) tapped
   last, within the site's attribution window (5 days by default) before the purchase. Only
   these count in the recovered revenue.
2. **after delivery**: a reminder reached this person in the 24 hours before the purchase, but
   they did not tap it. Reported on its own, never added to the recovered revenue.
3. **holdout**: the cart was held out of its flow within the window. These measure how many
   carts come back without any SMS, for the incremental revenue.
4. **none**: a purchase Relance had no part in.

Whatever the channel: a tap on an email's link is a tap like an SMS's (the last one wins,
whichever channel it was on), and an email accepted or delivered by its provider "reached"
the person as an SMS does. Emails carry no open-tracking pixel, so they are attributed on taps
and orders only. The figures count each purchase under the channel of its send
(:mod:`campaigns.figures`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import receiver

from campaigns.models import Click, Conversion, Send, SendStatus
from campaigns.send_states import REACHED
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import Kind
from optin.models import Contact, VisitorLink
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart, Event
from retargeting.tracking.signals import purchase_received

logger = logging.getLogger(__name__)

AFTER_DELIVERY_WINDOW = timedelta(hours=24)


@receiver(purchase_received, dispatch_uid="campaigns.conversions.on_purchase")
def on_purchase(
    *,
    site_id: int,
    visitor_id: int | None,
    event_id: int,
    event: dict[str, Any],
    cart_id: int | None,
    phone: str | None = None,
    **_: Any,
) -> Conversion:
    occurred_at = Event.objects.values_list("received_at", flat=True).get(pk=event_id)
    return record_purchase(
        site=Site.objects.get(pk=site_id),
        order_id=str(event["order_id"]),
        total=Decimal(event["total"]),
        currency=event["currency"],
        visitor_id=visitor_id,
        cart_id=cart_id,
        phone=phone,
        at=occurred_at,
    )


def record_purchase(
    *,
    site: Site,
    order_id: str,
    total: Decimal,
    currency: str,
    visitor_id: int | None,
    cart_id: int | None,
    phone: str | None,
    at: datetime,
) -> Conversion:
    """Record a purchase once (per site and order id) and attribute it."""
    existing = Conversion.objects.filter(site=site, order_id=order_id).first()
    contact = _contact(site=site, visitor_id=visitor_id, phone=phone)
    buyer = Contact.objects.filter(site=site, phone=phone).first() if phone else None
    if buyer is not None and buyer != contact:
        # The number the shop's server names bought, whoever's browser the order came from:
        # its open carts are bought too, so no reminder follows the purchase.
        _convert_open_carts(contact=buyer, at=at)
    if existing is not None:
        if cart_id is None and contact is not None and phone:
            # The shop's server names the buyer of an order already recorded (perhaps claimed
            # by a page): their open carts are bought all the same, so no reminder follows.
            _convert_open_carts(contact=contact, at=at)
        return existing
    with transaction.atomic():
        if contact is not None and (cart_id is None or phone):
            # The shop's server named the buyer (or no browser bought): their open carts, on
            # every device, are bought, so that no reminder follows a purchase.
            converted = _convert_open_carts(contact=contact, at=at)
            cart_id = cart_id if cart_id is not None else converted
        conversion = Conversion(
            site=site,
            order_id=order_id,
            total=total,
            currency=currency,
            visitor_id=visitor_id,
            contact=contact,
            cart_id=cart_id,
            occurred_at=at,
        )
        conversion.attribution, conversion.send = attribute(
            site=site, contact=contact, cart_id=cart_id, at=at
        )
        try:
            with transaction.atomic():
                conversion.save()
        except IntegrityError:  # the same order, recorded a moment ago by another request
            return Conversion.objects.get(site=site, order_id=order_id)
    logger.info(
        "order %s of site %s: %s (send %s)",
        order_id,
        site.pk,
        conversion.attribution,
        conversion.send_id,
    )
    return conversion


def _contact(*, site: Site, visitor_id: int | None, phone: str | None) -> Contact | None:
    if visitor_id is not None:
        link = VisitorLink.objects.filter(visitor_id=visitor_id).select_related("contact").first()
        if link is not None:
            return link.contact
    if phone:
        return Contact.objects.filter(site=site, phone=phone).first()
    return None


def _convert_open_carts(*, contact: Contact, at: datetime) -> int | None:
    carts = Cart.objects.filter(
        visitor__contact_link__contact=contact, status=Cart.Status.OPEN, last_change_at__lte=at
    )
    latest = carts.order_by("-last_change_at").values_list("pk", flat=True).first()
    carts.update(status=Cart.Status.CONVERTED, converted_at=at)
    return latest


def _transactional() -> list[str]:
    return [name for name, room in ROOMS.items() if room.kind is Kind.TRANSACTIONAL]


def attribute(
    *, site: Site, contact: Contact | None, cart_id: int | None, at: datetime
) -> tuple[str, Send | None]:
    """The attribution of a purchase at ``at`` by ``contact`` of ``cart_id``, and its send."""
    who = Q()
    if contact is not None:
        who |= Q(contact=contact)
    if cart_id is not None:
        who |= Q(cart_id=cart_id)
    if not who:
        return Conversion.Attribution.NONE, None
    window_start = at - timedelta(days=site.attribution_window_days)
    # An order's own messages (its confirmation, its shipping) come after the purchase and
    # sell nothing: never credited with one.
    sends = Send.objects.filter(who, site=site).exclude(step__flow__trigger__in=_transactional())
    click = (
        Click.objects.filter(link__send__in=sends, at__gte=window_start, at__lte=at)
        .select_related("link__send")
        .order_by("-at", "-pk")
        .first()
    )
    if click is not None:
        return Conversion.Attribution.CLICKED, click.link.send
    reached = (
        sends.filter(status__in=REACHED, sent_at__gte=at - AFTER_DELIVERY_WINDOW, sent_at__lte=at)
        .order_by("-sent_at")
        .first()
    )
    if reached is not None:
        return Conversion.Attribution.AFTER_DELIVERY, reached
    held_out = (
        sends.filter(status=SendStatus.HELD_OUT, planned_at__gte=window_start, planned_at__lte=at)
        .order_by("-planned_at")
        .first()
    )
    if held_out is not None:
        return Conversion.Attribution.HOLDOUT, held_out
    return Conversion.Attribution.NONE, None

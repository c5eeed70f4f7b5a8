"""The messages after the order: its confirmation, its shipping, and the review request.

Their subject is the ``Order`` (``campaigns.orders`` records it and one ``OrderUpdate`` per
status it reached), so each flow sends one message per order whatever is reported twice.

- ``order_confirmation`` (transactional): from the first of placed and paid, once per order;
  ends when the order is cancelled. Useful for 24 hours (a confirmation a day late is noise).
- ``shipping_update`` (transactional): from shipped; ends when the order is cancelled. Its link
  leads to the carrier's tracking page when the shop's server or its signed platform webhook
  gave one in https (nobody else can set an order's tracking link), else to the shop. Useful
  for 72 hours (a parcel takes a few days).
- ``review_request`` (marketing: consent, the cap, the site's quiet hours, the holdout): the
  step's delay after delivered (default 7 days); ends when the order is cancelled (or
  refunded). Its link leads to the flow's ``link_url`` (the shop's review page, on the shop's
  domains), else to the first item's page, else to the shop. Useful for 48 hours past its day.

Transactional messages need no marketing consent: they go to the phone or email given with the
order (the gate's ``order_recipient``), never to one that said STOP, is unreachable or was
erased after an opt-out; they skip the marketing cap and are held at night only
(``TRANSACTIONAL_QUIET_HOURS``). Their SMS carry the opt-out mention like every other: French
practice does not require it on a transactional SMS, but the product's promise is that a STOP to
the shop stops everything from it, so the customer is told how.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from campaigns import eligibility
from campaigns.models import Flow, Order, OrderStatus, OrderUpdate, Send, Step, Trigger
from campaigns.money import format_money
from campaigns.send_reasons import SendReason
from campaigns.triggers import EmailContent, Hours, Kind, TriggerRoom, candidates
from retargeting.sites.models import Site

_ORDER = "subject_object"  # where a send keeps its order once loaded (TriggerRoom.load)


def order_of(send: Send) -> Order | None:
    """The order of a send of an order trigger, as :meth:`OrderRoom.load` read it (read here
    for a send met alone: a short link followed)."""
    if not hasattr(send, _ORDER):
        found = Order.objects.filter(pk=send.subject_id).first() if send.subject_id else None
        setattr(send, _ORDER, found)
    order: Order | None = getattr(send, _ORDER)
    return order


class OrderRoom(TriggerRoom):
    """What the three order triggers share: their subject is the order, their moment the
    first time it reached one of :attr:`starts`."""

    kind = Kind.TRANSACTIONAL
    needs_consent = False
    capped = False
    subject_model = Order
    subject_search = ("external_id",)
    described: ClassVar[str] = "order %(number)s"
    """The subject in the marketer's words (a msgid, translated when shown)."""

    def describe(self, send: Send) -> str:
        order = order_of(send)
        if order is None:
            return super().describe(send)
        return _(self.described) % {"number": order.external_id}

    hours = Hours.NIGHT
    holdout = False
    default_delay_minutes = 0
    variables = ("order_number", "order_total", "product_name")
    starts: ClassVar[tuple[str, ...]]
    stale: ClassVar[timedelta]
    exits: ClassVar[tuple[str, ...]] = (OrderStatus.CANCELLED,)

    # -- planning ---------------------------------------------------------------------------

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """The site's orders that reached a starting status at least the step's delay ago
        (and recently enough to be worth a message), with a contact reachable on the step's
        channel, not yet planned by this step. The oldest flow of the trigger takes every order:
        a second one would send the same message twice."""
        if more_specific:
            return None
        since = now - timedelta(minutes=step.delay_minutes)
        oldest = since - self.stale_after(flow.site)
        started = OrderUpdate.objects.filter(order=OuterRef("pk"), status__in=self.starts)
        reach = eligibility.reachable_on(
            step.channel, prefix="contact__", needs_consent=self.needs_consent
        )
        rows = (
            Order.objects.filter(site_id=flow.site_id, contact__isnull=False)
            .exclude(status__in=self.exits)
            .filter(Exists(started.filter(at__lte=since, at__gt=oldest)))
            .filter(reach)
            .exclude(Exists(Send.objects.filter(step=step, subject_id=OuterRef("pk"))))
            .annotate(started_at=Subquery(started.order_by("at").values("at")[:1]))
        )
        return candidates(rows, contact="contact", moment="started_at")

    # -- at send time -----------------------------------------------------------------------

    def load(self, sends: Sequence[Send]) -> None:
        orders = Order.objects.in_bulk([send.subject_id for send in sends])
        for send in sends:
            setattr(send, _ORDER, orders.get(send.subject_id or 0))
        starts = (
            OrderUpdate.objects.filter(order_id__in=list(orders), status__in=self.starts)
            .order_by("at")
            .values_list("order_id", "at")
        )
        moments: dict[int, datetime] = {}
        for order_id, at in starts:
            moments.setdefault(order_id, at)
        for order in orders.values():
            order.started_at = moments.get(order.pk, order.created_at)  # type: ignore[attr-defined]

    def refresh(self, sends: Sequence[Send]) -> set[int]:
        statuses = dict(
            Order.objects.filter(pk__in=[send.subject_id for send in sends]).values_list(
                "pk", "status"
            )
        )
        for send in sends:
            order = order_of(send)
            if order is None:
                continue
            if order.pk in statuses:
                order.status = statuses[order.pk]
            else:
                setattr(send, _ORDER, None)
        return set()

    def exit_reason(self, send: Send) -> SendReason | None:
        order = order_of(send)
        if order is None:
            return SendReason.ORDER_GONE
        if order.status in self.exits:
            return SendReason.ORDER_CANCELLED
        return None

    def moment(self, send: Send) -> datetime:
        order = order_of(send)
        if order is None:
            return send.planned_at
        started: datetime = getattr(order, "started_at", order.created_at)
        return started

    def stale_after(self, site: Site) -> timedelta:
        return self.stale

    def expires_at(self, send: Send) -> datetime:
        """Useful for :attr:`stale` after it was due (the step's delay after the moment)."""
        return self.moment(send) + timedelta(minutes=send.step.delay_minutes) + self.stale

    # -- rendering --------------------------------------------------------------------------

    def values(self, send: Send) -> dict[str, object]:
        order = order_of(send)
        if order is None:
            return {}
        items = order.items or []
        return {
            "order_number": order.external_id,
            "order_total": format_money(order.total, order.currency, send.site.language)
            if order.total is not None and order.currency
            else "",
            "product_name": items[0].get("name", "") if items else "",
        }

    def email_content(self, send: Send) -> EmailContent:
        order = order_of(send)
        if order is None:
            return EmailContent()
        items = [
            {
                "name": item.get("name", ""),
                "price": item.get("price"),
                "quantity": item.get("quantity", 1),
                "url": item.get("url", ""),
                "image": item.get("image", ""),
            }
            for item in order.items or []
        ]
        return EmailContent(
            items=items,
            total=order.total,
            currency=order.currency,
            item_count=sum(int(item.get("quantity") or 1) for item in items),
        )


class OrderConfirmation(OrderRoom):
    name = Trigger.ORDER_CONFIRMATION
    described = gettext_noop("order %(number)s confirmed")
    starts = (OrderStatus.PLACED, OrderStatus.PAID)
    stale = timedelta(hours=24)


class ShippingUpdate(OrderRoom):
    name = Trigger.SHIPPING_UPDATE
    described = gettext_noop("order %(number)s shipped")
    starts = (OrderStatus.SHIPPED,)
    stale = timedelta(hours=72)

    def link_target(self, send: Send) -> str:
        order = order_of(send)
        if order is not None and self._carrier_link(order):
            return order.tracking_url
        return send.site.home_url

    def offsite_link_allowed(self, send: Send) -> bool:
        """Only the https tracking page of an order: the shop's server (secret key) or its
        signed platform webhook set it, nobody else can."""
        order = order_of(send)
        return order is not None and self._carrier_link(order)

    @staticmethod
    def _carrier_link(order: Order) -> bool:
        return order.tracking_url.lower().startswith("https://")


class ReviewRequest(OrderRoom):
    name = Trigger.REVIEW_REQUEST
    described = gettext_noop("review of order %(number)s")
    kind = Kind.MARKETING
    needs_consent = True
    capped = True
    hours = Hours.MARKETING
    holdout = True
    default_delay_minutes = 7 * 24 * 60
    starts = (OrderStatus.DELIVERED,)
    stale = timedelta(hours=48)

    def link_target(self, send: Send) -> str:
        site, order = send.site, order_of(send)
        flow_link = send.step.flow.link_url
        if flow_link and site.owns_url(flow_link):
            return flow_link
        for item in (order.items or []) if order is not None else []:
            url = item.get("url", "")
            if url and site.owns_url(url):
                return str(url)
        return site.home_url

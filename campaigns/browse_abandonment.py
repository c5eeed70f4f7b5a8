"""Browse abandonment: a consenting contact looked at a product and left.

A product view (``retargeting.tracking.models.ProductView``: one row per browser, product and
day) whose browser belongs to a contact reachable on the step's channel gets the flow's step
once that browser has shown no activity for the step's delay (``Visitor.last_seen_at``), and
never:

- when, since the view, the contact (any of its browsers) has a cart with items, a checkout
  (a checkout is a cart), a purchase or an order: the cart flow, or the order, wins;
- for a product the shop says is unavailable (``Product.available is False``);
- twice for the same product and contact within :data:`COOLDOWN` (7 days), whatever the
  subject: views of one product on two days, or on two browsers of one contact, are two
  subjects but one message;
- more than once for a contact's visit: one message per contact, for the product viewed
  last (the contact's latest candidate view of a pass; a view older than a browse message
  the contact already got is not messaged afterwards).

A message is stale :data:`STALE_AFTER` (48 h) after the view; its link leads to the product
page (``Product.url``, when on the site's domains; else the shop's home).

Why 7 days rather than Postscript's 72 hours: a browse message is the weakest signal Relance
acts on (Klaviyo's 2024 benchmark: 0.3× a cart reminder's revenue per recipient), French
marketing SMS are capped at one a day by default, and a shopper who comes back to compare a
product over a week (the usual pattern for anything priced above impulse) would otherwise be
told about the same product two or three times. It is a constant (:data:`COOLDOWN`), not a
site setting: no shop has asked for another, and fewer knobs keep the rule one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import eligibility
from campaigns.models import Conversion, Flow, Order, Send, SendStatus, Step, Trigger
from campaigns.money import format_money
from campaigns.send_reasons import SendReason
from campaigns.send_states import REACHED
from campaigns.triggers import (
    ITEM_NAME_MAX,
    WORST_ITEM_NAME,
    EmailContent,
    TriggerRoom,
    candidates,
    clip,
)
from retargeting.sites.models import Language, Site
from retargeting.tracking.models import Cart, ProductView

COOLDOWN = timedelta(days=7)
"""One browse message per product and contact within this time (see the module's docstring)."""
STALE_AFTER = timedelta(hours=48)
"""A browse message not sent within this time after the view is dropped."""

CONTACT = "visitor__contact_link__contact"

COMING = (SendStatus.PLANNED, SendStatus.SENDING)
"""A browse message on its way: it counts in the cooldown as one sent."""


def in_cooldown(
    *, status: str, sent_at: datetime | None, planned_at: datetime, now: datetime
) -> bool:
    """Whether a browse send of a contact for a product (``status``, ``sent_at``,
    ``planned_at``) keeps that contact from another one for the same product at ``now``: one
    that reached the provider less than :data:`COOLDOWN` ago, one held out (the holdout never
    gets one) planned less than that ago, or one still on its way. The SQL twin is
    :func:`cooldown_condition`; a test holds them to the same cases."""
    since = now - COOLDOWN
    if status in REACHED:
        return sent_at is not None and sent_at > since
    if status == SendStatus.HELD_OUT:
        return planned_at > since
    return status in COMING


def cooldown_condition(now: datetime) -> Q:
    """:func:`in_cooldown` as a condition on sends."""
    since = now - COOLDOWN
    return (
        Q(status__in=REACHED, sent_at__gt=since)
        | Q(status=SendStatus.HELD_OUT, planned_at__gt=since)
        | Q(status__in=COMING)
    )


def _browse_sends(contact: Any) -> QuerySet[Send]:
    """The browse sends of the contact ``contact`` (an ``OuterRef``)."""
    return Send.objects.filter(contact_id=contact, step__flow__trigger=Trigger.BROWSE_ABANDONED)


def _same_product(product: Any) -> Exists:
    """Whether a send's subject (a view) is of the product ``product`` (an ``OuterRef``)."""
    return Exists(ProductView.objects.filter(pk=OuterRef("subject_id"), product_id=product))


def _bought_since(contact: Any, viewed_at: Any) -> Q:
    """Whether the contact ``contact`` has, since ``viewed_at`` (both ``OuterRef``), a cart
    with items on any of its browsers (a checkout is a cart), a purchase or an order."""
    carts = Cart.objects.filter(visitor__contact_link__contact_id=contact).filter(
        Q(item_count__gt=0, last_change_at__gte=viewed_at) | Q(converted_at__gte=viewed_at)
    )
    orders = Order.objects.filter(
        Q(contact_id=contact) | Q(visitor__contact_link__contact_id=contact),
        created_at__gte=viewed_at,
    )
    purchases = Conversion.objects.filter(contact_id=contact, occurred_at__gte=viewed_at)
    return Q(Exists(carts)) | Q(Exists(orders)) | Q(Exists(purchases))


class BrowseAbandoned(TriggerRoom):
    name = Trigger.BROWSE_ABANDONED
    subject_model = ProductView
    restart_reason = SendReason.BROWSING_AGAIN
    subject_search = ("product__external_id",)

    def describe(self, send: Send) -> str:
        view = getattr(send, "subject_object", None)
        if view is None:
            return super().describe(send)
        return _("viewed %(product)s") % {"product": view.product.name or view.product.external_id}

    default_delay_minutes = 60
    variables = ("product_name", "product_price")

    # -- planning ---------------------------------------------------------------------------

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """The views to message, one query: each contact's latest view among those that
        qualify, its browser idle for the step's delay."""
        if more_specific:
            return None  # the site's first browse flow takes every view
        idle_since = now - timedelta(minutes=step.delay_minutes)
        reachable = eligibility.reachable_on(step.channel, prefix=f"{CONTACT}__")
        contact = OuterRef(f"{CONTACT}_id")
        browse = _browse_sends(contact)
        rows = (
            ProductView.objects.filter(
                site_id=flow.site_id,
                viewed_at__gt=now - STALE_AFTER,
                viewed_at__lte=idle_since,
                visitor__last_seen_at__lte=idle_since,
            )
            .filter(reachable)
            .exclude(product__available=False)
            # This step's journey for this view started already (sent, cancelled…).
            .exclude(Exists(Send.objects.filter(step=step, subject_id=OuterRef("pk"))))
            .exclude(_bought_since(contact, OuterRef("viewed_at")))
            # The cooldown: a message for this product to this contact, lately or coming.
            .exclude(
                Exists(
                    browse.filter(cooldown_condition(now)).filter(
                        _same_product(OuterRef(OuterRef("product_id")))
                    )
                )
            )
            # One message per visit: none for views older than a browse message of theirs.
            .exclude(
                Exists(
                    browse.exclude(status__in=(SendStatus.CANCELLED, SendStatus.DROPPED)).filter(
                        planned_at__gte=OuterRef("viewed_at")
                    )
                )
            )
            .annotate(
                latest=Window(
                    RowNumber(),
                    partition_by=[F(f"{CONTACT}_id")],
                    order_by=[F("viewed_at").desc(), F("pk").desc()],
                )
            )
            .filter(latest=1)
        )
        return candidates(rows, contact=CONTACT, moment="viewed_at")

    # -- at send time -----------------------------------------------------------------------

    def load(self, sends: Sequence[Send]) -> None:
        """The batch's views with their product and browser, and what ends their journeys,
        in one query; each on its send as ``send.subject_object`` (``Send.subject`` is the email's
        subject line)."""
        now = timezone.now()
        contact = OuterRef(f"{CONTACT}_id")
        views = (
            ProductView.objects.select_related("product", "visitor")
            .filter(pk__in={send.subject_id for send in sends})
            .annotate(
                bought=_bought_since(contact, OuterRef("viewed_at")),
                cooled=Exists(
                    _browse_sends(contact)
                    .filter(cooldown_condition(now))
                    .exclude(pk__in=[send.pk for send in sends])
                    .filter(_same_product(OuterRef(OuterRef("product_id"))))
                ),
            )
            .in_bulk()
        )
        # The batch's own sends are on their way (``sending``): the query above leaves them
        # out, and among them, for one product and contact, the first one goes. One of
        # another batch, or still planned, keeps this one out: two such sends exist only
        # when two passes raced, and then none is better than two.
        earlier: dict[tuple[int | None, int], list[Send]] = {}
        for send in sorted(sends, key=lambda each: each.pk):
            view = views.get(send.subject_id or 0)
            send.subject_object = view
            if view is None:
                continue
            before = earlier.setdefault((send.contact_id, view.product_id), [])
            send.twin = any(  # type: ignore[attr-defined]
                in_cooldown(
                    status=other.status, sent_at=other.sent_at, planned_at=other.planned_at, now=now
                )
                for other in before
            )
            before.append(send)

    def exit_reason(self, send: Send) -> SendReason | None:
        view = getattr(send, "subject_object", None)
        if view is None:
            return SendReason.VIEW_GONE
        if view.bought:
            return SendReason.BROWSED_THEN_BOUGHT
        if view.product.available is False:
            return SendReason.BROWSE_PRODUCT_UNAVAILABLE
        if view.cooled or getattr(send, "twin", False):
            return SendReason.BROWSE_COOLDOWN
        return None

    def restart_at(self, send: Send) -> datetime | None:
        """The browser active again since the send was planned: the delay starts again."""
        view: ProductView = send.subject_object
        last_seen: datetime = view.visitor.last_seen_at
        if last_seen > send.planned_at:
            return last_seen + timedelta(minutes=send.step.delay_minutes)
        return None

    def moment(self, send: Send) -> datetime:
        view = getattr(send, "subject_object", None)
        return view.viewed_at if view is not None else send.planned_at

    def stale_after(self, site: Site) -> timedelta:
        return STALE_AFTER

    # -- rendering --------------------------------------------------------------------------

    def values(self, send: Send) -> dict[str, object]:
        product = send.subject_object.product
        return {
            "product_name": clip(product.name or product.external_id, ITEM_NAME_MAX),
            "product_price": _price(product.price, product.currency, send.site),
        }

    def sample_values(self, site: Site) -> dict[str, object]:
        name = "Chemise en lin" if site.language == Language.FR else "Linen shirt"
        return {"product_name": name, "product_price": _price(Decimal("49.90"), "", site)}

    def worst_values(self, site: Site) -> dict[str, object]:
        return {
            "product_name": WORST_ITEM_NAME,
            "product_price": _price(Decimal("99999.99"), "", site),
        }

    def link_target(self, send: Send) -> str:
        # The product's page as the collector or the shop reported it, if on the site's
        # domains today (checked again when the link is followed).
        url = send.subject_object.product.url
        return url if url and send.site.owns_url(url) else send.site.home_url

    def email_content(self, send: Send) -> EmailContent:
        product = send.subject_object.product
        currency = product.currency or _default_currency(send.site)
        item = {
            "name": product.name or product.external_id,
            "price": product.price,
            "quantity": 1,
            "url": self.link_target(send),
            "image": product.image,
        }
        return EmailContent(items=[item], total=product.price, currency=currency, item_count=1)


def _default_currency(site: Site) -> str:
    return "EUR" if site.language == Language.FR else "USD"


def _price(price: Decimal | None, currency: str, site: Site) -> str:
    if price is None:
        return ""
    return format_money(price, currency or _default_currency(site), site.language)

"""Cart abandonment, and the cart sent by email at the shopper's request (the bridge).

A cart left with items, not bought, not replaced by a newer one, whose browser belongs to a
contact reachable on the step's channel, gets its flow's first step after the step's delay
since its last change; each next step its delay after the previous message, the cart still
unchanged for as long. A cart changed after a send was planned is a new abandonment: the send
waits the delay again. Where several flows match a cart, the most specific (the highest
minimum total) takes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns import eligibility
from campaigns.models import Flow, Send, Step, Trigger
from campaigns.money import format_money
from campaigns.send_reasons import SendReason
from campaigns.send_states import REACHED
from campaigns.triggers import EmailContent, Hours, Kind, TriggerRoom, candidates
from retargeting.tracking.models import Cart

CONTACT = "visitor__contact_link__contact"


def already_reminded(*, site_id: int) -> Exists:
    """A cart (the outer query's) already in a journey. The shop's cart id is the cart: a
    reminder's link rebuilds it on the phone that taps it, which reports it under the same id,
    and that copy is the cart already reminded, not a new journey."""
    return Exists(
        Send.objects.filter(cart__site_id=site_id, cart__external_id=OuterRef("external_id"))
    )


class CartAbandoned(TriggerRoom):
    name = Trigger.CART_ABANDONED
    has_cart = True
    variables = ("cart_total", "item_name", "item_count")
    subject_model = Cart
    subject_search = ("external_id",)

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        """A cart is in one flow at most: the most specific flow that matches it (a more
        specific flow whose delay has not passed yet keeps the cart for itself)."""
        rows = eligibility.eligible_carts(site_id=flow.site_id, channel=step.channel).filter(
            flow.cart_condition()
        )
        for other in more_specific:
            condition = other.cart_condition()
            if not condition:
                return None  # an older catch-all flow takes every cart
            rows = rows.exclude(condition)
        idle_since = now - timedelta(minutes=step.delay_minutes)
        rows = rows.filter(last_change_at__lte=idle_since).exclude(
            already_reminded(site_id=flow.site_id)
        )
        return candidates(rows, cart="pk", contact=CONTACT, moment="last_change_at")

    def next_candidates(self, *, step: Step, previous: Step, now: datetime) -> QuerySet[Any] | None:
        """Carts whose reminder of ``previous`` went out at least ``step``'s delay ago and
        that have not changed for as long: the delay starts again when the cart changes."""
        since = now - timedelta(minutes=step.delay_minutes)
        followed = Send.objects.filter(
            cart_id=OuterRef("pk"), step=previous, status__in=REACHED, sent_at__lte=since
        )
        rows = (
            eligibility.eligible_carts(site_id=step.flow.site_id, channel=step.channel)
            .filter(last_change_at__lte=since)
            .filter(Exists(followed))
            .exclude(Exists(Send.objects.filter(cart_id=OuterRef("pk"), step=step)))
        )
        return candidates(rows, cart="pk", contact=CONTACT, moment="last_change_at")

    # The sending batch reads each send's cart with it (``select_related``).

    def refresh(self, sends: Sequence[Send]) -> set[int]:
        carts = {
            pk: (status, items)
            for pk, status, items in Cart.objects.filter(
                pk__in=[send.cart_id for send in sends]
            ).values_list("pk", "status", "item_count")
        }
        # The same shop's cart bought on another device (rebuilt there from the reminder's
        # link, under the same cart id) is this cart bought: its journey ends.
        bought_elsewhere = set(
            Cart.objects.filter(
                site_id__in={send.site_id for send in sends},
                external_id__in={send.cart.external_id for send in sends if send.cart},
                status=Cart.Status.CONVERTED,
            ).values_list("site_id", "external_id")
        )
        gone = set()
        for send in sends:
            assert send.cart is not None
            if send.cart_id in carts:
                send.cart.status, send.cart.item_count = carts[send.cart_id]
                if (send.site_id, send.cart.external_id) in bought_elsewhere:
                    send.cart.status = Cart.Status.CONVERTED
            else:
                gone.add(send.pk)  # deleted since, and the send with it
        return gone

    def exit_reason(self, send: Send) -> SendReason | None:
        cart = send.cart
        assert cart is not None
        if cart.status == Cart.Status.CONVERTED:
            return SendReason.CONVERTED
        if cart.status == Cart.Status.REPLACED:
            return SendReason.CART_REPLACED
        if cart.item_count == 0:
            return SendReason.CART_EMPTIED
        return None

    def restart_at(self, send: Send) -> datetime | None:
        assert send.cart is not None
        if send.cart.last_change_at > send.planned_at:
            return send.cart.last_change_at + timedelta(minutes=send.step.delay_minutes)
        return None

    def moment(self, send: Send) -> datetime:
        assert send.cart is not None
        return send.cart.last_change_at

    def values(self, send: Send) -> dict[str, object]:
        cart = send.cart
        assert cart is not None
        items = cart.items or []
        return {
            "cart_total": format_money(cart.total, cart.currency, send.site.language),
            "item_name": items[0]["name"] if items else "",
            "item_count": cart.item_count,
        }

    def link_target(self, send: Send) -> str:
        # The collector keeps carts on the site's domains; a domain removed since is checked
        # again when the link is followed.
        site, cart = send.site, send.cart
        assert cart is not None
        return cart.url if cart.url and site.owns_url(cart.url) else site.home_url

    def email_content(self, send: Send) -> EmailContent:
        cart = send.cart
        assert cart is not None
        return EmailContent(
            items=list(cart.items or []),
            total=cart.total,
            currency=cart.currency,
            item_count=cart.item_count,
        )

    def describe(self, send: Send) -> str:
        """ "cart 123, 59,90 €" (the shop's cart id and its total now, in the reader's
        language); the cart is read with the send (``select_related``)."""
        cart = send.cart
        if cart is None:  # deleted with its sends by retention; never shown, but say so
            return super().describe(send)
        return _("cart %(id)s, %(total)s") % {
            "id": cart.external_id,
            "total": format_money(
                cart.total, cart.currency, (translation.get_language() or send.site.language)[:2]
            ),
        }

    def matching(self, *, site_id: int, query: str) -> Q | None:
        # A cart's sends keep their cart: found by it, the rows of the previous release (no
        # subject id) too.
        return Q(cart__site_id=site_id, cart__external_id=query)


class EmailCart(CartAbandoned):
    """The cart a shopper asked to receive by email (``campaigns.bridge``): planned by that
    request, at once; no marketing consent, cap, quiet hours or holdout for a message the
    shopper asked for, but never to an address that unsubscribed, is unreachable or was erased
    after it opted out, and never once the cart is bought. It carries the cart as it is now."""

    name = Trigger.EMAIL_CART
    needs_consent = False
    capped = False
    hours = Hours.NONE
    holdout = False
    planned_by_dispatch = False
    offered = False
    unverified_content = True
    kind = Kind.MARKETING
    default_delay_minutes = 0

    def first_candidates(
        self, *, flow: Flow, step: Step, more_specific: Sequence[Flow], now: datetime
    ) -> QuerySet[Any] | None:
        return None

    def next_candidates(self, *, step: Step, previous: Step, now: datetime) -> QuerySet[Any] | None:
        return None

    def restart_at(self, send: Send) -> datetime | None:
        return None  # the email carries the cart as it is now: a change does not delay it

    def requester_id(self, send: Send) -> int | None:
        # Asked for by a browser: the owner's tap proves that one theirs too.
        assert send.cart is not None
        return send.cart.visitor_id

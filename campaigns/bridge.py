"""The bridge: a shopper on a phone asks for the current cart in their mailbox (``email_cart``).

The collector checks the request and its limits (``retargeting/tracking/cart_emails.py``) and
hands it here through the hook ``campaigns.apps`` registers; this module plans the email:

- the browser's live cart with items (none: nothing happens, and the shopper got the same 204;
  a cart still on its way, a second behind the request, is looked for again ``LATER``);
- the site's contact of that address, created without any consent if new: the request is the
  shopper's, for one message, so it never grants, changes or implies a consent, and it never
  ties the browser to the contact (anyone may type anyone's address). The email's link does,
  once the address's owner taps it (``links.destination`` puts the asking browser in that
  link's token; the gate links it as the owner's, ``optin.gate``);
- the site's bridge flow (``Trigger.EMAIL_CART``, made on first use, one email step with a
  French or English default subject and text): the dispatch pass never plans it and the flow
  editor does not offer it, but its sends count in the figures like any other;
- one ``Send`` for (cart, step), email, due now, with its history row, as reminders are planned:
  the unique (cart, step) keeps one whatever runs twice (one bridge email per cart);
- handed to the worker once committed (``deliver_send``); with the broker away, the next
  dispatch pass sends it (it is due).

What may be sent is decided at send time by the sending rules, as for every send: no marketing
consent, quiet hours or cap for this message the shopper asked for, but never to an address
that unsubscribed, is on the do-not-contact list or is unreachable, and never once the cart is
bought.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from campaigns.models import Flow, Send, SendEvent, SendStatus, Step, StepChannel, Trigger
from optin.gate import cart_email_recipient
from retargeting.channels import Channel
from retargeting.sites.models import Language, Site
from retargeting.tracking.models import Cart, Visitor

logger = logging.getLogger(__name__)

BRIDGE_FLOW_SLUG = "panier-par-email"
BRIDGE_FLOW_NAME = {
    Language.FR: "Panier envoyé par email (à la demande)",
    Language.EN: "Cart sent by email (on request)",
}
BRIDGE_SUBJECT = {
    Language.FR: "Votre panier {{ shop }}",
    Language.EN: "Your {{ shop }} cart",
}
BRIDGE_TEXT = {
    Language.FR: (
        "Bonjour, voici le panier que vous avez demandé sur {{ shop }} ({{ cart_total }}). "
        "Ouvrez-le ici, sur l'appareil de votre choix :"
    ),
    Language.EN: (
        "Hello, here is the cart you asked for on {{ shop }} ({{ cart_total }}). "
        "Open it here, on any device:"
    ),
}
# The step's SMS text is never sent (the step is email only); the model asks for one.
BRIDGE_SMS_TEXT = {
    Language.FR: "{{ shop }} : votre panier : {{ link }}",
    Language.EN: "{{ shop }}: your cart: {{ link }}",
}


def request_cart_email(
    *,
    site: Site,
    visitor: Visitor,
    email: str,
    now: datetime | None = None,
) -> Send | None:
    """Plan the email of ``visitor``'s live cart to the normalised address ``email``, and hand
    it to the worker once committed. Returns the send (new or planned before for this cart),
    or None when the browser has no cart with items."""
    now = now or timezone.now()
    cart = (
        Cart.objects.filter(visitor=visitor, status=Cart.Status.OPEN, item_count__gt=0)
        .order_by("-last_change_at")
        .first()
    )
    if cart is None:
        logger.info("site %s: a cart email asked for a browser without a cart", site.pk)
        return None
    with transaction.atomic():
        contact = cart_email_recipient(site=site, email=email)  # the gate's door for it
        if contact is None:
            return None
        step = bridge_step(site=site)
        try:
            with transaction.atomic():
                send = Send.objects.create(
                    site=site,
                    cart=cart,
                    subject_id=cart.pk,
                    step=step,
                    contact=contact,
                    channel=Channel.EMAIL,
                    status=SendStatus.PLANNED,
                    planned_at=now,
                    due_at=now,
                )
        except IntegrityError:
            # Asked before for this cart (or twice at once): the one planned then stands.
            logger.info("site %s: cart %s was sent by email already", site.pk, cart.pk)
            return Send.objects.filter(cart=cart, step=step).first()
        SendEvent.objects.create(send=send, status=SendStatus.PLANNED, source="planner", at=now)
        send_id = send.pk
        transaction.on_commit(lambda: enqueue(send_id))
    return send


class Queue:
    """The worker's queue, given by ``campaigns.apps`` (the tasks module imports this one):
    ``hand_on(send_id)`` sends a planned email now; ``look_again(site_id=, vid=, email=,
    attempt=, countdown=)`` runs ``plan_or_wait`` again that many seconds later."""

    hand_on: Callable[[int], object] | None = None
    look_again: Callable[..., object] | None = None


def use_queue(*, hand_on: Callable[[int], object], look_again: Callable[..., object]) -> None:
    Queue.hand_on = hand_on
    Queue.look_again = look_again


def enqueue(send_id: int) -> None:
    """Give the send to the worker at once; with the broker away, the next dispatch pass
    sends it (it is due)."""
    if Queue.hand_on is None:
        return  # no worker: the dispatch pass sends it
    try:
        Queue.hand_on(send_id)
    except KombuOperationalError as exc:
        logger.warning(
            "cart email %s not queued (%s): the next dispatch pass sends it", send_id, exc
        )


def bridge_step(*, site: Site) -> Step:
    """The email step of the site's bridge flow, both made on first use (in the site's
    language; a marketer may then edit its subject and text)."""
    flow = bridge_flow(site=site)
    step = flow.steps.order_by("position").first()
    if step is not None:
        return step
    language = Language(site.language)
    try:
        with transaction.atomic():
            return Step.objects.create(
                flow=flow,
                position=1,
                delay_minutes=0,
                channel=StepChannel.EMAIL,
                template=BRIDGE_SMS_TEXT[language],
                subject=BRIDGE_SUBJECT[language],
                email_template=BRIDGE_TEXT[language],
            )
    except IntegrityError:  # made by a concurrent request
        return Step.objects.get(flow=flow, position=1)


def bridge_flow(*, site: Site) -> Flow:
    """The site's bridge flow (``Trigger.EMAIL_CART``), made on first use."""
    flow = Flow.objects.filter(site=site, trigger=Trigger.EMAIL_CART).order_by("pk").first()
    if flow is not None:
        return flow
    try:
        with transaction.atomic():
            return Flow.objects.create(
                site=site,
                name=BRIDGE_FLOW_NAME[Language(site.language)],
                slug=BRIDGE_FLOW_SLUG,
                trigger=Trigger.EMAIL_CART,
            )
    except IntegrityError:  # made by a concurrent request
        return Flow.objects.get(site=site, slug=BRIDGE_FLOW_SLUG)


# When the browser's cart is not recorded yet, asked again this many seconds later. The
# snippet sends what came before a request in a beacon of its own, just before it: with the
# collector's buffer on, a cart changed a moment ago reaches the database a second or two
# after the request (the ingest runs every second), and a new browser's first page view too.
LATER = (5, 30)


def on_cart_email_request(
    *, site_id: int, vid: str, email: str, ip: str | None = None, user_agent: str = ""
) -> None:
    """The collector's hook (``retargeting.tracking.hooks``), registered in ``campaigns.apps``."""
    plan_or_wait(site_id=site_id, vid=vid, email=email, attempt=0)


def plan_or_wait(*, site_id: int, vid: str, email: str, attempt: int) -> Send | None:
    """Plan the cart's email; with no cart recorded for the browser yet, try again ``LATER``
    (a task with a countdown of seconds), then give up: nothing is sent."""
    site = Site.objects.get(pk=site_id)
    visitor = Visitor.objects.filter(site=site, vid=vid).first()
    send = None
    if visitor is not None:
        send = request_cart_email(site=site, visitor=visitor, email=email)
    if send is None and attempt < len(LATER):
        _later(site_id=site_id, vid=vid, email=email, attempt=attempt + 1)
    return send


def _later(*, site_id: int, vid: str, email: str, attempt: int) -> None:
    if Queue.look_again is None:
        return
    try:
        Queue.look_again(
            site_id=site_id, vid=vid, email=email, attempt=attempt, countdown=LATER[attempt - 1]
        )
    except KombuOperationalError as exc:
        logger.warning("site %s: a cart email's retry not queued (%s)", site_id, exc)

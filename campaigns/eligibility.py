"""Who may still get a reminder, and by which channel: the one definition that planning and
sending share.

A cart may be messaged while it is open (not bought, not replaced by another cart) and has
items, and its visitor is linked to a contact reachable on the step's channel: for SMS a number
with live SMS consent, not reported unreachable; for email an address with live email consent,
not bounced; for "SMS, else email" the SMS when the contact can get one, otherwise the email
(when email is configured). Planning selects carts with :func:`eligible_carts`; a worker checks
a planned send again with :func:`exit_reason` just before sending and picks its channel with
:func:`reach`, because any of these may change in between (a test holds the SQL and the Python
to the same cases).

The bridge's sends (trigger ``email_cart``: a cart the shopper asked to receive by email) need
no marketing consent: they go to an address that is not unsubscribed, not bounced and not
erased after an opt-out (:func:`bridge_blocked`), and a purchase or an emptied cart still stops
them. Their staleness and the cart's checks are the others'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from campaigns.models import Send, StepChannel, Trigger
from campaigns.send_reasons import SendReason
from optin.consent import LIVE_STATUSES, is_live
from optin.erasure import phone_hash
from optin.models import ConsentStatus, Contact, DoNotContact, VisitorLink
from retargeting.channels import Channel
from retargeting.channels.rooms import room
from retargeting.tracking.models import Cart


def email_available() -> bool:
    """Whether the platform can send email now (the email providers' registry says)."""
    return room(Channel.EMAIL).available()


def reachable(channel: str, *, prefix: str = "") -> Q:
    """The contacts reachable for marketing on ``channel`` (a ``Channel``), as a condition on
    the contact's fields under ``prefix`` (``"contact__"``)."""
    channel_room = room(channel)
    return Q(
        **{
            f"{prefix}{channel_room.consent_field}__in": LIVE_STATUSES,
            f"{prefix}{channel_room.unreachable_field}__isnull": True,
        }
    ) & ~Q(**{f"{prefix}{channel_room.address_field}": ""})


def channels_of(step_channel: str, *, email: bool | None = None) -> list[Channel]:
    """The channels a step may go by, in order of preference (email left out when the platform
    cannot send it, except on an email step, whose sends then say why they were dropped)."""
    email = email_available() if email is None else email
    if step_channel == StepChannel.EMAIL:
        return [Channel.EMAIL]
    if step_channel == StepChannel.SMS_ELSE_EMAIL and email:
        return [Channel.SMS, Channel.EMAIL]
    return [Channel.SMS]


def eligible_carts(*, site_id: int, channel: str = StepChannel.SMS) -> QuerySet[Cart]:
    """The site's carts a step on ``channel`` (a ``StepChannel``) may message, as an indexed
    query (without the delay)."""
    condition = Q()
    for each in channels_of(channel):
        condition |= reachable(each, prefix="contact__")
    live_link = VisitorLink.objects.filter(condition, visitor_id=OuterRef("visitor_id"))
    return Cart.objects.filter(site_id=site_id, status=Cart.Status.OPEN, item_count__gt=0).filter(
        Exists(live_link)
    )


def channel_reason(channel: str, contact: Contact, *, bridge: bool = False) -> SendReason | None:
    """Why ``contact`` cannot be messaged on ``channel`` now, or ``None``. ``bridge``: a message
    the shopper asked for (no marketing consent needed; never to an unsubscribed address)."""
    if channel == Channel.SMS:
        if not contact.phone:
            return SendReason.NO_PHONE
        if not is_live(status=contact.consent_status):
            return SendReason.OPTED_OUT
        if contact.unreachable_at is not None:
            return SendReason.UNREACHABLE
        return None
    if not contact.email:
        return SendReason.NO_EMAIL_ADDRESS
    if contact.email_consent_status == ConsentStatus.REVOKED:
        return SendReason.EMAIL_UNSUBSCRIBED
    if not bridge and not is_live(status=contact.email_consent_status):
        return SendReason.NO_EMAIL_CONSENT
    if contact.email_unreachable_at is not None:
        return SendReason.EMAIL_UNREACHABLE
    if not email_available():
        return SendReason.EMAIL_NOT_CONFIGURED
    return None


@dataclass(frozen=True)
class Reach:
    """A send's channel now, or why it cannot go."""

    channel: Channel | None
    reason: SendReason | None


def is_bridge(send: Send) -> bool:
    """Whether ``send`` is one the shopper asked for (the bridge's ``email_cart``)."""
    return bool(send.step.flow.trigger == Trigger.EMAIL_CART)


def reach(send: Send) -> Reach:
    """Whether a planned send may still go, and by which channel: the step's, or for an
    SMS-else-email step the SMS when the contact can get one, else the email. A send already
    rendered keeps the channel it was rendered for."""
    cart, contact = send.cart, send.contact
    if contact is None:
        return Reach(None, SendReason.ERASED)
    if cart.status == Cart.Status.CONVERTED:
        return Reach(None, SendReason.CONVERTED)
    if cart.status == Cart.Status.REPLACED:
        return Reach(None, SendReason.CART_REPLACED)
    if cart.item_count == 0:
        return Reach(None, SendReason.CART_EMPTIED)
    bridge = is_bridge(send)
    if bridge:
        candidates = [Channel.EMAIL]
    elif send.body:
        candidates = [Channel(send.channel)]
    else:
        candidates = channels_of(send.step.channel)
    reasons = []
    for channel in candidates:
        reason = channel_reason(channel, contact, bridge=bridge)
        if reason is None:
            return Reach(channel, None)
        reasons.append((channel, reason))
    # None fits: the reason of the first channel the contact has an address on.
    for channel, reason in reasons:
        if room(channel).address(contact):
            return Reach(None, reason)
    return Reach(None, reasons[0][1])


def exit_reason(send: Send) -> SendReason | None:
    """Why a planned send must not go out any more, or ``None``."""
    return reach(send).reason


def bridge_blocked(sends: Sequence[Send]) -> set[int]:
    """The bridge's sends among ``sends`` whose address was erased after it opted out (kept
    as a do-not-contact hash): one query for them all, none without such a send."""
    hashes: dict[int, str] = {
        send.pk: phone_hash(send.contact.email)
        for send in sends
        if send.contact is not None and send.contact.email and is_bridge(send)
    }
    if not hashes:
        return set()
    blocked = set(
        DoNotContact.objects.filter(
            channel=Channel.EMAIL, phone_hash__in=list(hashes.values())
        ).values_list("site_id", "phone_hash")
    )
    return {send.pk for send in sends if (send.site_id, hashes.get(send.pk)) in blocked}

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

What ends a journey whatever the channel (the cart bought, replaced or emptied; the order
cancelled; the product out of stock) is the trigger's to say (``campaigns.triggers``,
``exit_reason``). A trigger that needs no marketing consent (the cart sent by email at the
shopper's request, the order's own messages, a back-in-stock alert asked for) goes to an
address that is not unsubscribed, not unreachable and not erased after an opt-out
(:func:`blocked_channels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from campaigns.models import Send, StepChannel
from campaigns.send_reasons import SendReason
from campaigns.triggers import TriggerRoom
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


def reachable_without_consent(channel: str, *, prefix: str = "") -> Q:
    """The contacts a message that needs no marketing consent (an order's own) may reach on
    ``channel``: an address, not unsubscribed (STOP), not unreachable: the SQL of
    :func:`channel_reason` with ``needs_consent=False`` (the do-not-contact hashes are read at
    send time, :func:`blocked_channels`)."""
    channel_room = room(channel)
    return (
        ~Q(**{f"{prefix}{channel_room.address_field}": ""})
        & ~Q(**{f"{prefix}{channel_room.consent_field}": ConsentStatus.REVOKED})
        & Q(**{f"{prefix}{channel_room.unreachable_field}__isnull": True})
    )


def channels_of(step_channel: str, *, email: bool | None = None) -> list[Channel]:
    """The channels a step may go by, in order of preference (email left out when the platform
    cannot send it, except on an email step, whose sends then say why they were dropped)."""
    email = email_available() if email is None else email
    if step_channel == StepChannel.EMAIL:
        return [Channel.EMAIL]
    if step_channel == StepChannel.SMS_ELSE_EMAIL and email:
        return [Channel.SMS, Channel.EMAIL]
    return [Channel.SMS]


def reachable_on(step_channel: str, *, prefix: str = "", needs_consent: bool = True) -> Q:
    """The contacts a step on ``step_channel`` (a ``StepChannel``) may reach on one of its
    channels, as a condition on the contact's fields under ``prefix``: with live marketing
    consent (:func:`reachable`), or for a message that needs none, any address that may still
    get one (:func:`reachable_without_consent`)."""
    rule = reachable if needs_consent else reachable_without_consent
    condition = Q()
    for channel in channels_of(step_channel):
        condition |= rule(channel, prefix=prefix)
    return condition


def eligible_carts(*, site_id: int, channel: str = StepChannel.SMS) -> QuerySet[Cart]:
    """The site's carts a step on ``channel`` (a ``StepChannel``) may message, as an indexed
    query (without the delay)."""
    condition = reachable_on(channel, prefix="contact__")
    live_link = VisitorLink.objects.filter(condition, visitor_id=OuterRef("visitor_id"))
    return Cart.objects.filter(site_id=site_id, status=Cart.Status.OPEN, item_count__gt=0).filter(
        Exists(live_link)
    )


def channel_reason(
    channel: str, contact: Contact, *, needs_consent: bool = True
) -> SendReason | None:
    """Why ``contact`` cannot be messaged on ``channel`` now, or ``None``. Without
    ``needs_consent`` (a message asked for, or an order's own): no marketing consent needed,
    but never to an address that opted out."""
    if channel == Channel.SMS:
        if not contact.phone:
            return SendReason.NO_PHONE
        if needs_consent and not is_live(status=contact.consent_status):
            return SendReason.OPTED_OUT
        if contact.consent_status == ConsentStatus.REVOKED:
            return SendReason.OPTED_OUT
        if contact.unreachable_at is not None:
            return SendReason.UNREACHABLE
        return None
    if not contact.email:
        return SendReason.NO_EMAIL_ADDRESS
    if contact.email_consent_status == ConsentStatus.REVOKED:
        return SendReason.EMAIL_UNSUBSCRIBED
    if needs_consent and not is_live(status=contact.email_consent_status):
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


BLOCKED_REASON = {Channel.SMS: SendReason.OPTED_OUT, Channel.EMAIL: SendReason.EMAIL_BLOCKED}


def reach(send: Send, trigger: TriggerRoom, *, blocked: frozenset[str] = frozenset()) -> Reach:
    """Whether a planned send may still go, and by which channel: the step's, or for an
    SMS-else-email step the SMS when the contact can get one, else the email. A send already
    rendered keeps the channel it was rendered for. ``blocked``: the channels whose address is
    on the do-not-contact list (:func:`blocked_channels`)."""
    contact = send.contact
    if contact is None:
        return Reach(None, SendReason.ERASED)
    ended = trigger.exit_reason(send)
    if ended is not None:
        return Reach(None, ended)
    candidates = [Channel(send.channel)] if send.body else channels_of(send.step.channel)
    candidates = trigger.send_channels(send, candidates)
    if not candidates:
        return Reach(None, SendReason.REQUEST_CHANNEL_OFF)
    reasons = []
    for channel in candidates:
        if channel in blocked:
            reason: SendReason | None = BLOCKED_REASON[channel]
        else:
            reason = channel_reason(channel, contact, needs_consent=trigger.needs_consent)
        if reason is None:
            return Reach(channel, None)
        reasons.append((channel, reason))
    # None fits: the reason of the first channel the contact has an address on.
    for channel, reason in reasons:
        if room(channel).address(contact):
            return Reach(None, reason)
    return Reach(None, reasons[0][1])


def exit_reason(send: Send, trigger: TriggerRoom) -> SendReason | None:
    """Why a planned send must not go out any more, or ``None``."""
    return reach(send, trigger).reason


def blocked_channels(
    sends: Sequence[Send], triggers: dict[str, TriggerRoom]
) -> dict[int, frozenset[str]]:
    """For the sends among ``sends`` whose trigger needs no marketing consent, the channels
    whose address was erased after it opted out (kept as a do-not-contact hash): one query for
    them all, none without such a send (``triggers``: the rooms by trigger name). A send that
    needs consent needs a live consent, which an erased address no longer has."""
    hashes: dict[tuple[int, Channel], str] = {}
    for send in sends:
        if send.contact is None or triggers[send.step.flow.trigger].needs_consent:
            continue
        for channel in (Channel.SMS, Channel.EMAIL):
            address = room(channel).address(send.contact)
            if address:
                hashes[(send.pk, channel)] = phone_hash(address)
    if not hashes:
        return {}
    found = set(
        DoNotContact.objects.filter(phone_hash__in=set(hashes.values())).values_list(
            "site_id", "channel", "phone_hash"
        )
    )
    sites = {send.pk: send.site_id for send in sends}
    blocked: dict[int, set[Channel]] = {}
    for (send_id, channel), hashed in hashes.items():
        if (sites[send_id], channel, hashed) in found:
            blocked.setdefault(send_id, set()).add(channel)
    return {send_id: frozenset(channels) for send_id, channels in blocked.items()}

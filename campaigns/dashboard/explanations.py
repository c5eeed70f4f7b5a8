"""Why a send is where it is, in words a marketer reads: the recorded reason of every
deferral, cancellation and drop, with the time it waits for in the site's time zone; and why
a contact can or cannot be reached by each channel.

The words of every reason are :class:`~campaigns.send_reasons.SendReason`'s labels, whatever
members it has (the email ones included); a few reasons worded for SMS are worded again for
an email (``EMAIL_WORDS``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.cart_abandonment import already_reminded
from campaigns.dashboard.formatting import money, when
from campaigns.dispatch import is_held_out
from campaigns.eligibility import channel_reason, channels_of
from campaigns.frequency import recent_messages
from campaigns.models import Flow, Send, SendStatus, Step, Trigger
from campaigns.send_reasons import DEFERRALS, SendReason
from campaigns.send_states import REACHED, WAITING
from campaigns.sending import held_until
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import describe_default
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.channels.rooms import room
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, mask, mask_email, parse_phone
from retargeting.tracking.models import Cart

# The words for every reason the planner, the worker and the provider record.
REASONS = dict(SendReason.choices)

# Reasons whose words are the SMS's, as an email's send reads them.
EMAIL_WORDS = {
    SendReason.UNREACHABLE: gettext_lazy("Email address unreachable (bounced)"),
    SendReason.OPTED_OUT: gettext_lazy("Unsubscribed from email or consent withdrawn"),
    SendReason.UNSUBSCRIBED_AT_PROVIDER: gettext_lazy(
        "Unsubscribed or complained at the email provider"
    ),
    SendReason.FLAGGED_AS_SPAM: gettext_lazy("Filtered as spam: check the subject and text"),
}

CHANNEL_LABELS: dict[str, object] = {
    Channel.SMS: gettext_lazy("SMS"),
    Channel.EMAIL: gettext_lazy("Email"),
}

# Reasons a marketer can filter the list by, in the order they are offered.
FILTERABLE = [
    SendReason.QUIET_HOURS,
    SendReason.CAPPED,
    SendReason.STALE,
    SendReason.OPTED_OUT,
    SendReason.CONVERTED,
    SendReason.HELD_OUT,
    SendReason.CART_CHANGED,
    SendReason.CART_REPLACED,
    SendReason.CART_EMPTIED,
    SendReason.UNREACHABLE,
    SendReason.NO_DISCOUNT_CODE,
    SendReason.PROVIDER_UNAVAILABLE,
]
# And every other reason the engine records, in the enum's order: the email ones, and those
# each trigger adds (out of stock, order cancelled…) with their own words, as soon as they are
# members of the enum. A reason worded as another one already offered is not offered twice.
for _reason in SendReason:
    if str(_reason.label) not in {str(offered.label) for offered in FILTERABLE}:
        FILTERABLE.append(_reason)


def same_words(reason: str) -> list[str]:
    """``reason`` and the reasons worded as it is (the filter offers one of them: choosing it
    finds them all, "Refused by the provider" with or without the gateway's action)."""
    label = REASONS.get(reason)
    if label is None:
        return [reason]
    return [value for value, words in REASONS.items() if str(words) == str(label)]


def channel_label(channel: str) -> str:
    """A channel's name in the marketer's language (the code for one it does not know)."""
    return str(CHANNEL_LABELS.get(channel, channel))


def tone(status: str) -> str:
    """``ok``, ``wait`` or ``no``: the colour a status is shown in."""
    if status in REACHED:
        return "ok"
    return "wait" if status in WAITING else "no"


def reason_label(reason: str, *, channel: str = Channel.SMS) -> str:
    """The words for a recorded reason (the code itself for one this list does not know), as
    a send of ``channel`` reads them."""
    if channel == Channel.EMAIL and reason in EMAIL_WORDS:
        return str(EMAIL_WORDS[SendReason(reason)])
    return str(REASONS.get(reason, reason))


def explain(send: Send, *, time_zone: str) -> str:
    """One line: what happened to ``send`` and why, with the time it waits for."""
    # The formatting module reads the zone off a site: any site of this zone formats alike.
    due = when(send.due_at, site=Site(time_zone=time_zone))
    reason = reason_label(send.reason, channel=send.channel) if send.reason else ""
    if send.status == SendStatus.PLANNED:
        if send.reason in DEFERRALS:
            return _("%(reason)s: waits until %(due)s") % {"reason": reason, "due": due}
        return _("Planned for %(due)s") % {"due": due}
    if send.status == SendStatus.SENDING:
        return _("Being sent")
    if send.status in (SendStatus.ACCEPTED, SendStatus.SENT):
        return _("Sent; waiting for the delivery report")
    if send.status == SendStatus.DELIVERED:
        return _("Delivered")
    if send.status == SendStatus.UNKNOWN:
        return _("Outcome unknown: the provider never confirmed it")
    detail = f" ({send.reason_detail})" if send.reason_detail else ""
    return f"{reason or send.get_status_display()}{detail}"


def why_no_email(contact: Contact, consents: list[Consent]) -> str | None:
    """Why ``contact`` cannot be sent a marketing email now, in the marketer's words (None:
    it can). ``consents`` is its consent history, oldest first (the contact page has it)."""
    if not contact.email:
        return _("No email address")
    if contact.email_unreachable_at is not None:
        return _("Email address unreachable (bounced)")
    if contact.email_consent_status in (ConsentStatus.GRANTED, ConsentStatus.CONFIRMED):
        return None
    email = [one for one in consents if one.channel == Channel.EMAIL]
    if contact.email_consent_status == ConsentStatus.REVOKED:
        latest = email[-1] if email else None
        if latest is not None and latest.source in (
            ConsentSource.UNSUBSCRIBE,
            ConsentSource.OPT_OUT_LINK,
            ConsentSource.EMAIL_PROVIDER,
        ):
            return _("Unsubscribed from email")
        return _("Email consent withdrawn")
    if contact.email_consent_status == ConsentStatus.PENDING:
        return _("Email consent not confirmed yet")
    return _("No email consent")


def why_no_sms(contact: Contact) -> str | None:
    """Why ``contact`` cannot be sent a marketing SMS now (None: it can)."""
    if not contact.phone:
        return _("No phone number")
    if contact.unreachable_at is not None:
        return _("Number cannot receive SMS")
    if contact.consent_status in (ConsentStatus.GRANTED, ConsentStatus.CONFIRMED):
        return None
    if contact.consent_status == ConsentStatus.REVOKED:
        return _("Opted out (STOP) or consent withdrawn")
    if contact.consent_status == ConsentStatus.PENDING:
        return _("SMS consent not confirmed yet")
    return _("No SMS consent")


def describe_subjects(sends: Sequence[Send], *, site: Site) -> dict[int, str]:
    """Each send's subject in words ("cart 123, 59,90 €", "viewed Chemise", "order 1001
    shipped"), by send id: one query per trigger present at most (its room's ``load``),
    whatever the number of sends. A trigger without a room names itself and the subject's
    id. ``sends`` are ``site``'s, read with their step's flow (and their cart)."""
    by_trigger: dict[str, list[Send]] = defaultdict(list)
    for send in sends:
        send.site = site  # the page's: never read again per send
        by_trigger[send.step.flow.trigger].append(send)
    words: dict[int, str] = {}
    for trigger, group in by_trigger.items():
        room = ROOMS.get(trigger)
        if room is None:
            words.update((send.pk, describe_default(send)) for send in group)
            continue
        room.load(group)  # each subject on ``send.subject_object``
        words.update((send.pk, room.describe(send)) for send in group)
    return words


# -- Why nothing was planned ------------------------------------------------------------------

# At most this many of a contact's carts never planned are explained (the latest).
CARTS_EXPLAINED = 3


@dataclass(frozen=True)
class NeverPlanned:
    """Why no message was planned for something a marketer searched: a cart (``subject`` in
    words) or a contact without any message, each reason in words, with its date or the time
    it waits for in the shop's zone."""

    subject: str
    reasons: list[str]


def why_never_planned(*, site: Site, query: str, now: datetime) -> list[NeverPlanned]:
    """For a search by phone number, email address or the shop's cart id: why no message was
    planned for each of the matching contacts' latest carts that have none (or for a matching
    contact with no message and no cart), asking each rule its own question: the cart's exit
    (its trigger room's ``exit_reason``), the active flows and the one that takes the cart,
    the contact's reach on the step's channels (``eligibility.channel_reason``), the step's
    delay, the holdout (``dispatch.is_held_out``), the cap and the hours
    (``sending.held_until``). A constant number of queries, whatever the shop's size."""
    contacts = _contacts_matching(site, query)
    consents = _consents_of(contacts)
    never = ~already_reminded(site_id=site.pk)  # the planner's own rule
    carts = list(
        Cart.objects.filter(site=site, external_id=query)
        .filter(never)
        .select_related("visitor__contact_link__contact")[:CARTS_EXPLAINED]
    )
    for contact in contacts:
        carts += list(
            Cart.objects.filter(site=site, visitor__contact_link__contact=contact)
            .filter(never)
            .exclude(pk__in=[cart.pk for cart in carts])
            .select_related("visitor__contact_link__contact")
            .order_by("-last_change_at", "-pk")[:CARTS_EXPLAINED]
        )
    found: list[NeverPlanned] = []
    flows = _cart_flows(site) if carts else []
    for cart in carts:
        owner = _contact_of(cart)
        if owner is not None and owner.pk not in consents:
            consents.update(_consents_of([owner]))
        history = consents.get(owner.pk, []) if owner is not None else []
        found.append(
            NeverPlanned(
                subject=_("cart %(id)s, %(total)s")
                % {"id": cart.external_id, "total": money(cart.total, cart.currency)},
                reasons=_cart_reasons(site, cart, owner, history, flows, now),
            )
        )
    with_cart = {owner.pk for cart in carts if (owner := _contact_of(cart)) is not None}
    for contact in contacts:
        if contact.pk in with_cart or contact.sends.exists():
            continue
        reasons = [
            words
            for channel in (Channel.SMS, Channel.EMAIL)
            if room(channel).address(contact)
            and (words := _unreachable(site, contact, channel, consents[contact.pk]))
        ]
        reasons.append(_("No cart left by this contact: a reminder starts from an abandoned cart"))
        found.append(NeverPlanned(subject=_who(contact), reasons=reasons))
    return found


def _contacts_matching(site: Site, query: str) -> list[Contact]:
    """The site's contacts whose email address or phone number is ``query`` (in any format)."""
    if "@" in query:
        try:
            return list(Contact.objects.filter(site=site, email=normalize_email(query)))
        except InvalidEmail:
            return []
    try:
        phone = parse_phone(query, default_region=site.country).e164
    except InvalidPhone:
        return []
    return list(Contact.objects.filter(site=site, phone=phone))


def _consents_of(contacts: Sequence[Contact]) -> dict[int, list[Consent]]:
    """Each contact's consent history, oldest first (one query)."""
    history: dict[int, list[Consent]] = {contact.pk: [] for contact in contacts}
    if contacts:
        for consent in Consent.objects.filter(contact__in=list(contacts)).order_by(
            "created_at", "pk"
        ):
            history[consent.contact_id].append(consent)
    return history


def _contact_of(cart: Cart) -> Contact | None:
    link = getattr(cart.visitor, "contact_link", None)
    return link.contact if link is not None else None


def _who(contact: Contact) -> str:
    address = mask(contact.phone) if contact.phone else mask_email(contact.email)
    return f"{contact.first_name} {address}".strip()


def _cart_flows(site: Site) -> list[Flow]:
    """The site's active cart flows, in the order the planner offers them a cart (the most
    specific first), each with its steps in order."""
    flows = Flow.objects.filter(
        site=site, is_active=True, trigger=Trigger.CART_ABANDONED
    ).prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
    return sorted(flows, key=Flow.specificity)


def _unreachable(site: Site, contact: Contact, channel: str, consents: list[Consent]) -> str:
    """Why ``contact`` cannot get a marketing message on ``channel`` (empty: it can): the
    eligibility rule's answer, in the contact page's words, with the date of the opt-out."""
    reason = channel_reason(channel, contact)
    if reason is None:
        return ""
    words = why_no_sms(contact) if channel == Channel.SMS else why_no_email(contact, consents)
    words = words or reason_label(reason, channel=channel)
    revoked = [
        one for one in consents if one.channel == channel and one.status == ConsentStatus.REVOKED
    ]
    status = contact.consent_status if channel == Channel.SMS else contact.email_consent_status
    if status == ConsentStatus.REVOKED and revoked:
        return _("%(words)s on %(when)s") % {
            "words": words,
            "when": when(revoked[-1].created_at, site=site),
        }
    return words


def _cart_reasons(
    site: Site,
    cart: Cart,
    contact: Contact | None,
    consents: list[Consent],
    flows: list[Flow],
    now: datetime,
) -> list[str]:
    trigger = ROOMS[Trigger.CART_ABANDONED]
    probe = Send(site=site, cart=cart, contact=contact, subject_id=cart.pk, planned_at=now)
    ended = trigger.exit_reason(probe)
    if ended is not None:
        words = reason_label(ended)
        if ended == SendReason.CONVERTED and cart.converted_at:
            return [_("Bought on %(when)s") % {"when": when(cart.converted_at, site=site)}]
        return [words]
    if contact is None:
        return [_("No contact for this cart: the shopper gave no phone number or email address")]
    if not flows:
        return [_("No active flow for abandoned carts")]
    flow = next((one for one in flows if one.matches(cart)), None)
    if flow is None:
        return [_("No active flow takes a cart of this total (each has a higher minimum)")]
    steps = list(flow.steps.all())
    if not steps or steps[0].position != 1:
        return [_("The flow %(flow)s has no first step") % {"flow": flow.name}]
    step = steps[0]
    step.flow = flow
    channels = channels_of(step.channel)
    blocked = [_unreachable(site, contact, channel, consents) for channel in channels]
    if all(blocked):
        return blocked
    channel = channels[[bool(words) for words in blocked].index(False)]
    if cart.last_change_at + trigger.stale_after(site) <= now:
        return [reason_label(SendReason.STALE)]
    reasons = []
    due = cart.last_change_at + timedelta(minutes=step.delay_minutes)
    if due > now:
        reasons.append(
            ngettext(
                "Not due yet: planned from %(when)s, %(count)d minute after the last change",
                "Not due yet: planned from %(when)s, %(count)d minutes after the last change",
                step.delay_minutes,
            )
            % {"when": when(due, site=site), "count": step.delay_minutes}
        )
    if trigger.holdout and is_held_out(flow=flow, cart_id=cart.pk):
        reasons.append(reason_label(SendReason.HELD_OUT))
        return reasons
    probe.step, probe.channel = step, channel
    at = max(due, now)
    sent = recent_messages(contact_ids=[contact.pk], at=at).get((site.pk, contact.pk, channel), [])
    held = held_until(probe, sent=sent, now=at)
    if held is not None:
        reason, until = held
        reasons.append(
            _("%(reason)s: it will wait until %(when)s")
            % {"reason": reason_label(reason, channel=channel), "when": when(until, site=site)}
        )
    if not reasons:
        reasons.append(_("Due: the next pass (every minute) plans it"))
    return reasons

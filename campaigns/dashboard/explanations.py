"""Why a send is where it is, in words a marketer reads: the recorded reason of every
deferral, cancellation and drop, with the time it waits for in the site's time zone; and why
a contact can or cannot be reached by each channel.

The words of every reason are :class:`~campaigns.send_reasons.SendReason`'s labels, whatever
members it has (the email ones included); a few reasons worded for SMS are worded again for
an email (``EMAIL_WORDS``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Send, SendStatus
from campaigns.send_reasons import DEFERRALS, SendReason
from campaigns.send_states import REACHED, WAITING
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import describe_default
from optin.models import Consent, ConsentSource, ConsentStatus, Contact
from retargeting.channels import Channel
from retargeting.sites.models import Site

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
    local_due = timezone.localtime(send.due_at, ZoneInfo(time_zone))
    due = formats.date_format(local_due, "SHORT_DATETIME_FORMAT")
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

"""The shop's contacts: a searchable list with each one's consent per channel and last message,
a contact's page (consent history with its proof, every message and what it led to, carts,
orders, why no SMS or email can go), and unsubscribing someone by hand.

Searching stays an indexed lookup at a million contacts on PostgreSQL: an email address is
matched whole (the ``(site, email)`` unique index), a full number whole (``(site, phone)``), a
number's last digits as the prefix of the reversed number and a first name's beginning whatever
its case (the two expression indexes of optin's migration 0012), a customer id through the
visitors the shop named by it (``visitor_customer``). The list reads one page of contacts and
their last messages in a fixed number of queries, and never counts the whole shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Reverse
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from campaigns.dashboard import formatting
from campaigns.dashboard.explanations import (
    channel_label,
    describe_subjects,
    explain,
    tone,
    why_no_email,
    why_no_sms,
)
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.models import Click, Conversion, Order, Send, SendStatus
from optin.consent import REASON_MAX, HandUnsubscribeRefused, unsubscribe_by_hand
from optin.models import Consent, ConsentStatus, Contact, VisitorLink
from retargeting.channels import Channel
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sites.access import visible_to
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, mask, mask_email, parse_phone
from retargeting.tracking.models import Cart

PAGE_SIZE = 50
SUFFIX_MIN = 4
"""The fewest last digits searched as the end of a number (fewer match too many numbers)."""
CUSTOMER_IDS_MAX = 100
"""A customer id names a few browsers: the contacts of at most this many are listed."""
SHOWN_MAX = 100
"""A contact's page lists at most this many carts and orders (the latest)."""


def consent_label(status: str, channel: str) -> str:
    """A channel's consent state in the marketer's words."""
    if status == ConsentStatus.GRANTED:
        return _("Granted")
    if status == ConsentStatus.CONFIRMED:
        return _("Granted (confirmed by its owner)")
    if status == ConsentStatus.PENDING:
        return _("Pending confirmation")
    if status == ConsentStatus.REVOKED:
        # STOP, a link, a provider's report or a hand unsubscribe: the history says which.
        return _("Revoked")
    return _("None")


def consent_tone(status: str) -> str:
    if status in (ConsentStatus.GRANTED, ConsentStatus.CONFIRMED):
        return "ok"
    return "wait" if status == ConsentStatus.PENDING else "no"


def _phone_ends_with(digits: str) -> Q:
    """Numbers ending with ``digits``: on PostgreSQL the reversed number starts with the
    reversed digits (the ``contact_site_phone_suffix`` index); SQLite scans its few."""
    if connection.vendor == "postgresql":
        return ~Q(phone="") & Q(reversed_phone__startswith=digits[::-1])
    return Q(phone__endswith=digits)


def _customer_contacts(site: Site, query: str) -> list[int]:
    """The contacts of the browsers the shop names by customer id ``query``."""
    return list(
        VisitorLink.objects.filter(visitor__site=site, visitor__customer_id=query)
        .values_list("contact_id", flat=True)
        .distinct()[:CUSTOMER_IDS_MAX]
    )


def search_contacts(*, site: Site, query: str) -> QuerySet[Contact]:
    """``site``'s contacts matching ``query``, newest first: an email address (whole), a phone
    number (whole, in any format) or its last digits (4 or more), a first name's beginning
    (any case), or the shop's customer id. An empty query lists them all."""
    contacts = Contact.objects.filter(site=site)
    if connection.vendor == "postgresql":
        contacts = contacts.alias(reversed_phone=Reverse("phone"))
    query = query.strip()
    if not query:
        return contacts.order_by("-pk")
    # Newest first by ``pk + 0``, not ``pk``: ordered by the primary key, PostgreSQL may walk it
    # backwards through the whole shop hoping to meet 51 matches soon (0.4 s at a million
    # contacts for a number's last digits); by an expression, it reads the few matches from
    # their index and sorts them (10 ms).
    return contacts.filter(_matching(site, query)).order_by((F("pk") + 0).desc())


def _matching(site: Site, query: str) -> Q:
    if "@" in query:
        try:
            return Q(email=normalize_email(query))
        except InvalidEmail:
            return Q(email=query.lower())
    match = Q(pk__in=_customer_contacts(site, query))
    compact = "".join(ch for ch in query if ch not in " .-()")
    digits = compact.removeprefix("+")
    if digits.isdigit():
        try:
            return match | Q(phone=parse_phone(query, default_region=site.country).e164)
        except InvalidPhone:
            pass
        if len(digits) >= SUFFIX_MIN:
            match |= _phone_ends_with(digits)
        return match
    return match | (~Q(first_name="") & Q(first_name__istartswith=query))


def _latest(model: Any, **filters: Any) -> Subquery:
    return Subquery(
        model.objects.filter(contact=OuterRef("pk"), **filters)
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )


def _with_latest(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Each contact with when each channel's consent last changed and its latest message's id:
    subqueries of the page's one query, whatever the number of contacts shown."""
    return contacts.annotate(
        sms_since=_latest(Consent, channel=Channel.SMS),
        email_since=_latest(Consent, channel=Channel.EMAIL),
        last_send_id=Subquery(
            Send.objects.filter(contact=OuterRef("pk"))
            .order_by("-planned_at", "-pk")
            .values("pk")[:1]
        ),
    )


@dataclass(frozen=True)
class ChannelConsent:
    channel: str
    label: str
    state: str
    tone: str
    since: str
    address: str


def _channel_consents(contact: Contact, site: Site, *, masked: bool) -> list[ChannelConsent]:
    shown = []
    for channel, status, since, address in (
        (Channel.SMS, contact.consent_status, getattr(contact, "sms_since", None), contact.phone),
        (
            Channel.EMAIL,
            contact.email_consent_status,
            getattr(contact, "email_since", None),
            contact.email,
        ),
    ):
        if masked and address:
            address = mask(address) if channel == Channel.SMS else mask_email(address)
        shown.append(
            ChannelConsent(
                channel=channel,
                label=channel_label(channel),
                state=consent_label(status, channel),
                tone=consent_tone(status),
                since=formatting.when(since, site=site) if since else "",
                address=address,
            )
        )
    return shown


@require_safe
@dashboard_page
def contacts(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    query = request.GET.get("q", "").strip()
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    start = (number - 1) * PAGE_SIZE
    # One more than a page says whether there is a next one, without counting the shop.
    found = list(
        _with_latest(search_contacts(site=site, query=query))[start : start + PAGE_SIZE + 1]
    )
    listed, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    last_of = {contact.pk: getattr(contact, "last_send_id", None) for contact in listed}
    last_ids = [send_id for send_id in last_of.values() if send_id]
    last = {
        send.pk: send
        for send in Send.objects.filter(pk__in=last_ids, site=site).select_related("step__flow")
    }
    rows = []
    for contact in listed:
        send_id = last_of[contact.pk]
        send = last.get(send_id) if send_id else None
        rows.append(
            {
                "contact": contact,
                "consents": _channel_consents(contact, site, masked=False),
                "send": send,
                "send_when": formatting.when(send.sent_at or send.planned_at, site=site)
                if send
                else "",
                "send_state": explain(send, time_zone=site.time_zone) if send else "",
                "send_tone": tone(send.status) if send else "",
            }
        )

    def page_link(to: int) -> str:
        return "?" + urlencode({"site": site.pk, "q": query, "page": to})

    return render(
        request,
        "campaigns/contacts.html",
        frame.context(
            section="contacts",
            query=query,
            rows=rows,
            number=number,
            previous_link=page_link(number - 1) if number > 1 else "",
            next_link=page_link(number + 1) if more else "",
            zone=formatting.zone_label(site),
        ),
    )


def _sends_of(contact: Contact) -> list[Send]:
    return list(
        contact.sends.select_related("step__flow", "cart")
        .prefetch_related("history")
        .annotate(
            tapped_at=Subquery(
                Click.objects.filter(link__send=OuterRef("pk")).order_by("at").values("at")[:1]
            ),
            bought_at=Subquery(
                Conversion.objects.filter(send=OuterRef("pk"))
                .order_by("occurred_at")
                .values("occurred_at")[:1]
            ),
        )
        .order_by("-planned_at", "-pk")
    )


def _delivered_at(send: Send) -> datetime | None:
    times = [event.at for event in send.history.all() if event.status == SendStatus.DELIVERED]
    return min(times) if times else None


def _proof(consent: Consent, site: Site) -> dict[str, Any]:
    return {
        "consent": consent,
        "when": formatting.when(consent.created_at, site=site, seconds=True),
        # The row's own words: its source says whether a STOP, a link or a member revoked it.
        "state": _("Revoked")
        if consent.status == ConsentStatus.REVOKED
        else consent_label(consent.status, consent.channel),
        "tone": consent_tone(consent.status),
        "source": consent.get_source_display(),
    }


def _contact_page(
    request: HttpRequest,
    frame: Frame,
    contact: Contact,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    site = frame.site
    sends = _sends_of(contact)
    about = describe_subjects(sends, site=site)
    messages = [
        {
            "send": send,
            "channel": channel_label(send.channel),
            "why": explain(send, time_zone=site.time_zone),
            "tone": tone(send.status),
            "about": about[send.pk],
            "planned": formatting.when(send.planned_at, site=site),
            "sent": formatting.when(send.sent_at, site=site),
            "delivered": formatting.when(_delivered_at(send), site=site),
            "tapped": formatting.when(getattr(send, "tapped_at", None), site=site),
            "bought": formatting.when(getattr(send, "bought_at", None), site=site),
        }
        for send in sends
    ]
    consents = list(contact.consents.order_by("created_at", "pk"))
    history = [
        (
            channel_label(channel),
            channel,
            [_proof(consent, site) for consent in consents if consent.channel == channel],
        )
        for channel in (Channel.SMS, Channel.EMAIL)
    ]
    carts = list(
        Cart.objects.filter(site=site)
        .filter(
            Q(visitor__contact_link__contact=contact)
            | Q(pk__in=Send.objects.filter(contact=contact).values("cart_id"))
        )
        .order_by("-last_change_at", "-pk")[:SHOWN_MAX]
    )
    orders = list(
        Order.objects.filter(site=site, contact=contact).order_by("-created_at")[:SHOWN_MAX]
    )
    conversions = list(
        Conversion.objects.filter(site=site, contact=contact).order_by("-occurred_at")[:SHOWN_MAX]
    )
    open_channels = [
        (channel, channel_label(channel))
        for channel, address, status in (
            (Channel.SMS, contact.phone, contact.consent_status),
            (Channel.EMAIL, contact.email, contact.email_consent_status),
        )
        if address and status != ConsentStatus.REVOKED
    ]
    return render(
        request,
        "campaigns/contact.html",
        frame.context(
            section="contacts",
            contact=contact,
            channels=_channel_consents(contact, site, masked=False),
            history=history,
            no_sms=why_no_sms(contact),
            no_email=why_no_email(contact, consents),
            messages=messages,
            carts=[
                {
                    "cart": cart,
                    "items": [_item(item) for item in (cart.items or [])[:20]],
                    "total": formatting.money(cart.total, cart.currency),
                    "state": _cart_state(cart.status),
                    "changed": formatting.when(cart.last_change_at, site=site),
                }
                for cart in carts
            ],
            orders=[
                {
                    "order": order,
                    "total": formatting.money(order.total, order.currency or None)
                    if order.total is not None
                    else "–",
                    "when": formatting.when(order.created_at, site=site),
                    "state": order.get_status_display(),
                }
                for order in orders
            ],
            conversions=[
                {
                    "conversion": conversion,
                    "total": formatting.money(conversion.total, conversion.currency),
                    "when": formatting.when(conversion.occurred_at, site=site),
                }
                for conversion in conversions
            ],
            known_since=formatting.when(contact.created_at, site=site),
            zone=formatting.zone_label(site),
            open_channels=open_channels,
            both=len(open_channels) == 2,
            error=error,
            form=form or {},
            reason_max=REASON_MAX,
            unsubscribed=request.GET.get("unsubscribed", ""),
        ),
        status=status,
    )


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    name = str(item.get("name") or item.get("sku") or "?")
    quantity = item.get("quantity") or 1
    return f"{formatting.number(quantity)} × {name}"


def _cart_state(status: str) -> str:
    words: dict[str, str] = {
        Cart.Status.OPEN: _("Open"),
        Cart.Status.CONVERTED: _("Bought"),
        Cart.Status.REPLACED: _("Replaced by a newer cart"),
    }
    return words.get(status, status)


def _contact_of(request: HttpRequest, frame: Frame, contact_id: int) -> Contact:
    return get_object_or_404(
        visible_to(request.user, Contact.objects.all()), pk=contact_id, site=frame.site
    )


@require_safe
@dashboard_page
def contact_detail(request: HttpRequest, contact_id: int, *, frame: Frame) -> HttpResponse:
    return _contact_page(request, frame, _contact_of(request, frame, contact_id))


CHOICES = {
    "sms": (Channel.SMS,),
    "email": (Channel.EMAIL,),
    "both": (Channel.SMS, Channel.EMAIL),
}


@require_POST
@dashboard_page
def unsubscribe(request: HttpRequest, contact_id: int, *, frame: Frame) -> HttpResponse:
    """Revoke the contact's consent on the chosen channels, with the member's name and reason
    (``optin.consent.unsubscribe_by_hand``); a refused request changes nothing and says why."""
    contact = _contact_of(request, frame, contact_id)
    chosen = request.POST.get("channel", "")
    reason = request.POST.get("reason", "")
    form = {"channel": chosen, "reason": reason}
    if chosen not in CHOICES:
        return _contact_page(
            request, frame, contact, error=_("Choose a channel."), form=form, status=400
        )
    if not reason.strip():
        return _contact_page(
            request,
            frame,
            contact,
            error=_("Say why: a reason is required."),
            form=form,
            status=400,
        )
    try:
        rows = unsubscribe_by_hand(
            contact=contact,
            channels=CHOICES[chosen],
            user_name=request.user.get_username(),
            reason=reason,
        )
    except HandUnsubscribeRefused:
        return _contact_page(
            request,
            frame,
            contact,
            error=_(
                "This contact cannot be unsubscribed from that channel (no address, or a "
                "reason that is too long)."
            ),
            form=form,
            status=400,
        )
    done = ",".join(row.channel for row in rows) or "none"
    target = reverse("dashboard-contact", args=[contact.pk])
    return HttpResponseRedirect(
        f"{target}?{urlencode({'site': frame.site.pk, 'unsubscribed': done})}"
    )

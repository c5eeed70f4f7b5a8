"""What was sent and what was not, and why: the list of sends, one send, one contact, and
the CSV exports of sends and conversions. Every trigger's sends alike: each says what it is
about in words (its room's ``describe``), found by its contact, its cart, the shop's order or
product id (its room's ``matching``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from itertools import islice
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.translation import gettext as _

from campaigns.dashboard.explanations import (
    FILTERABLE,
    channel_label,
    describe_subjects,
    explain,
    reason_label,
    same_words,
    tone,
)
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.figures import bounds
from campaigns.models import Conversion, Flow, Send, Trigger
from campaigns.money import format_money
from campaigns.send_states import NOT_SENT, TAKEN, WAITING
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import trigger_label
from retargeting.channels import Channel
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sites.access import visible_to
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, mask, mask_email, parse_phone

PAGE_SIZE = 50
FILTERS = ("q", "status", "reason", "channel", "trigger", "start", "end")
EXPORT_CHUNK = 2000
STATUS_GROUPS = {
    "waiting": WAITING,
    "sent": TAKEN,
    "not_sent": NOT_SENT,
}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _within(site: Site, params: Mapping[str, str], field: str) -> Q:
    """``field`` on the days ``start`` to ``end`` (either may be missing) in the site's zone."""
    start, end = _day(params.get("start", "")), _day(params.get("end", ""))
    if not (start or end):
        return Q()
    low, high = bounds(site, start or date(2000, 1, 1), end or date(9999, 1, 1))
    return Q(**{f"{field}__gte": low, f"{field}__lt": high})


def search_sends(*, site: Site, params: dict[str, str]) -> QuerySet[Send]:
    """The site's sends matching the list's filters: ``q`` (a phone number in any format,
    its last digits, an email address, the shop's id of a cart, an order or a product, or
    ``#send-id``), ``status`` (a group), ``reason``, ``channel``, ``trigger``, and the
    ``start``/``end`` days the send was planned on."""
    sends = Send.objects.filter(site=site)
    query = params.get("q", "").strip()
    if query:
        sends = sends.filter(_match(site, query))
    group = params.get("status", "")
    if group in STATUS_GROUPS:
        sends = sends.filter(status__in=STATUS_GROUPS[group])
    reason = params.get("reason", "")
    if reason:
        sends = sends.filter(reason__in=same_words(reason))
    channel = params.get("channel", "")
    if channel in Channel.values:
        sends = sends.filter(channel=channel)
    trigger = params.get("trigger", "")
    if trigger in Trigger.values:
        sends = sends.filter(step__flow__trigger=trigger)
    return (
        sends.filter(_within(site, params, "planned_at"))
        .select_related("contact", "step__flow", "cart")
        .order_by("-planned_at", "-pk")
    )


def _match(site: Site, query: str) -> Q:
    if query.startswith("#") and query[1:].isdigit():
        return Q(pk=int(query[1:]))
    if "@" in query:
        try:
            return Q(contact__email=normalize_email(query))
        except InvalidEmail:
            return Q(contact__email=query.lower())
    # The shop's id of a subject: a cart, an order, a product (each trigger says which).
    match = Q(pk__in=[])
    for condition in _subject_conditions(site, query):
        match |= condition
    try:
        phone = parse_phone(query, default_region=site.country).e164
        return match | Q(contact__phone=phone)
    except InvalidPhone:
        pass
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 4 and len(digits) == len(query.replace(" ", "")):
        match |= Q(contact__phone__endswith=digits)
    return match


def _subject_conditions(site: Site, query: str) -> list[Q]:
    """Each trigger's condition for the sends whose subject is ``query`` (the same condition
    once, for two triggers of one subject: the cart's)."""
    conditions: list[Q] = []
    for room in ROOMS.values():
        condition = room.matching(site_id=site.pk, query=query)
        if condition is not None and condition not in conditions:
            conditions.append(condition)
    return conditions


@dashboard_page
def sends(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    params = {key: request.GET.get(key, "") for key in FILTERS}
    page = Paginator(search_sends(site=site, params=params), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    listed = list(page)
    about = describe_subjects(listed, site=site)
    rows = [
        {
            "send": send,
            "phone": address(send) if send.contact else _("erased"),
            "channel": channel_label(send.channel),
            "why": explain(send, time_zone=site.time_zone),
            "tone": tone(send.status),
            "trigger": trigger_label(send.step.flow.trigger),
            "about": about[send.pk],
        }
        for send in listed
    ]
    return render(
        request,
        "campaigns/sends.html",
        frame.context(
            page=page,
            rows=rows,
            params=params,
            reasons=[(reason.value, reason.label) for reason in FILTERABLE],
            channels=[(value, channel_label(value)) for value in Channel.values],
            triggers=_trigger_choices(site),
            groups=[
                ("waiting", _("Waiting")),
                ("sent", _("Sent")),
                ("not_sent", _("Not sent")),
            ],
            query_string=_query_string(site, params),
        ),
    )


def _trigger_choices(site: Site) -> list[tuple[str, str]]:
    """The triggers of the site's flows, in ``Trigger``'s order, in the marketer's words."""
    used = set(Flow.objects.filter(site=site).values_list("trigger", flat=True).distinct())
    return [(value, trigger_label(value)) for value in Trigger.values if value in used]


def address(send: Send) -> str:
    """The masked address ``send`` goes to: the number for an SMS, the email address for an
    email (masked for the list, the exports and the logs alike)."""
    contact = send.contact
    if contact is None:
        return ""
    if send.channel == Channel.EMAIL:
        return mask_email(contact.email) if contact.email else ""
    return mask(contact.phone) if contact.phone else ""


def _query_string(site: Site, params: dict[str, str]) -> str:
    return urlencode({"site": site.pk, **{k: v for k, v in params.items() if v}})


@dashboard_page
def send_detail(request: HttpRequest, send_id: int, *, frame: Frame) -> HttpResponse:
    send = get_object_or_404(
        visible_to(request.user, Send.objects.select_related("contact", "step__flow", "cart")),
        pk=send_id,
        site=frame.site,
    )
    link = getattr(send, "short_link", None)
    return render(
        request,
        "campaigns/send.html",
        frame.context(
            send=send,
            trigger=trigger_label(send.step.flow.trigger),
            about=describe_subjects([send], site=frame.site)[send.pk],
            why=explain(send, time_zone=frame.site.time_zone),
            channel=channel_label(send.channel),
            history=[
                (event, reason_label(event.reason, channel=send.channel))
                for event in send.history.all()
            ],
            link=link,
            clicks=list(link.clicks.order_by("at")) if link else [],
            cost=(
                format_money(send.cost, _price_currency(), frame.site.language)
                if send.cost is not None
                else ""
            ),
        ),
    )


def _price_currency() -> str:
    return str(settings.SMS_PRICE_CURRENCY)


class _Echo:
    def write(self, value: str) -> str:
        return value


class _Ours(str):
    """A value Relance wrote itself (a masked number): never a formula, kept as is."""


def _cell(value: Any) -> Any:
    """A spreadsheet must not run what a cell holds: text starting like a formula is quoted."""
    if isinstance(value, _Ours):
        return str(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_response(
    filename: str, header: list[str], rows: Iterator[list[Any]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so that spreadsheet programs read UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _iso(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else ""


@dashboard_page
def export_sends(request: HttpRequest, *, frame: Frame) -> StreamingHttpResponse:
    """The sends the list shows with the same filters, as CSV (times in the site's zone)."""
    site, zone = frame.site, ZoneInfo(frame.site.time_zone)
    params = {key: request.GET.get(key, "") for key in FILTERS}
    header = [
        "send_id",
        "planned_at",
        "due_at",
        "sent_at",
        "status",
        "reason",
        "detail",
        "flow",
        "step",
        "channel",
        "contact_id",
        "phone",
        "email",
        "subject",
        "trigger",
        "subject_id",  # the journey's subject in its trigger's table (a cart's: its id)
        "about",  # the subject in words: "cart 123, 59,90 €", "order 1001 shipped"
        "cart_id",
        "cart_total",
        "currency",
        "segments",
        "encoding",
        "cost",
    ]

    # The rows are written after the view returned, out of the page's language: keep it.
    language = translation.get_language()

    def listed() -> Iterator[tuple[Send, str]]:
        sends = search_sends(site=site, params=params).iterator(chunk_size=EXPORT_CHUNK)
        while chunk := list(islice(sends, EXPORT_CHUNK)):
            with translation.override(language):
                about = describe_subjects(chunk, site=site)
            yield from ((send, about[send.pk]) for send in chunk)

    def rows() -> Iterator[list[Any]]:
        for send, about in listed():
            yield [
                send.pk,
                _iso(send.planned_at, zone),
                _iso(send.due_at, zone),
                _iso(send.sent_at, zone),
                send.status,
                send.reason,
                send.reason_detail,
                send.step.flow.slug,
                send.step.position,
                send.channel,
                send.contact_id or "",
                _Ours(mask(send.contact.phone)) if send.contact and send.contact.phone else "",
                _Ours(mask_email(send.contact.email))
                if send.contact and send.contact.email
                else "",
                send.subject,
                send.step.flow.trigger,
                send.subject_id if send.subject_id is not None else "",
                about,
                send.cart.external_id if send.cart else "",
                send.cart.total if send.cart else "",
                send.cart.currency if send.cart else "",
                send.segments,
                send.encoding,
                send.cost if send.cost is not None else "",
            ]

    return _csv_response(f"relance-sends-{site.pk}.csv", header, rows())


@dashboard_page
def export_conversions(request: HttpRequest, *, frame: Frame) -> StreamingHttpResponse:
    """The site's purchases with their attribution, as CSV (``start``/``end`` days)."""
    site, zone = frame.site, ZoneInfo(frame.site.time_zone)
    conversions = Conversion.objects.filter(site=site).select_related("send__step__flow")
    conversions = conversions.filter(_within(site, request.GET, "occurred_at"))
    header = [
        "order_id",
        "occurred_at",
        "total",
        "currency",
        "attribution",
        "send_id",
        "flow",
        "step",
        "channel",  # the channel of the message the purchase is attributed to
        "trigger",  # that message's flow's trigger
        "contact_id",
        "cart_id",
        "counted_in_figures",  # false once a correction excluded it (campaigns.corrections)
    ]

    def rows() -> Iterator[list[Any]]:
        for conversion in conversions.order_by("occurred_at", "pk").iterator(chunk_size=2000):
            send = conversion.send
            yield [
                conversion.order_id,
                _iso(conversion.occurred_at, zone),
                conversion.total,
                conversion.currency,
                conversion.attribution,
                conversion.send_id or "",
                send.step.flow.slug if send else "",
                send.step.position if send else "",
                send.channel if send else "",
                send.step.flow.trigger if send else "",
                conversion.contact_id or "",
                conversion.cart_id or "",
                "true" if conversion.counted else "false",
            ]

    return _csv_response(f"relance-conversions-{site.pk}.csv", header, rows())

"""What was sent and what was not, and why: the list of sends, one send, one contact, and
the CSV exports of sends and conversions. Every trigger's sends alike: each says what it is
about in words (its room's ``describe``), found by its contact, its cart, the shop's order or
product id (its room's ``matching``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import DecimalField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.dashboard.explanations import (
    FILTERABLE,
    channel_label,
    describe_subjects,
    explain,
    reason_label,
    same_words,
    tone,
    why_never_planned,
)
from campaigns.dashboard.formatting import clock, money, when, zone_label
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.figures import bounds
from campaigns.models import (
    Click,
    Conversion,
    Flow,
    Send,
    SendEvent,
    SendStatus,
    Step,
    Trigger,
)
from campaigns.send_states import NOT_SENT, TAKEN, WAITING
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import trigger_label
from retargeting.channels import Channel
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sites.access import visible_to
from retargeting.sites.models import Site
from retargeting.sms.phones import InvalidPhone, mask, mask_email, parse_phone

PAGE_SIZE = 50
FILTERS = ("q", "status", "reason", "channel", "trigger", "flow", "step", "start", "end")
EXPORT_CHUNK = 2000
STATUS_GROUPS = {
    "waiting": WAITING,
    "sent": TAKEN,
    "not_sent": NOT_SENT,
}
# States a message reached after it was sent: the time of each (``with_outcomes``).
REACTIONS = {"delivered": "delivered_at", "tapped": "tapped_at", "bought": "bought_at"}


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
    flow = params.get("flow", "")
    if flow.isdigit():
        sends = sends.filter(step__flow_id=int(flow))
    step = params.get("step", "")
    if step.isdigit():
        sends = sends.filter(step_id=int(step))
    sends = with_outcomes(sends)
    if group in REACTIONS:
        sends = sends.filter(**{f"{REACTIONS[group]}__isnull": False})
    return (
        sends.filter(_within(site, params, "planned_at"))
        .select_related("contact", "step__flow", "cart")
        .order_by("-planned_at", "-pk")
    )


def with_outcomes(sends: QuerySet[Send]) -> QuerySet[Send]:
    """``sends`` with what became of each, read in the same query: ``delivered_at`` (the
    first delivery report), ``tapped_at`` (the first tap on its link), ``bought_at``,
    ``bought_total`` and ``bought_currency`` (the first purchase attributed to it that the
    figures count, as they count it: ``counted``)."""
    delivered = SendEvent.objects.filter(send=OuterRef("pk"), status=SendStatus.DELIVERED)
    taps = Click.objects.filter(link__send=OuterRef("pk"))
    bought = Conversion.objects.filter(send=OuterRef("pk"), counted=True).order_by(
        "occurred_at", "pk"
    )
    return sends.annotate(
        delivered_at=Subquery(delivered.order_by("at").values("at")[:1]),
        tapped_at=Subquery(taps.order_by("at").values("at")[:1]),
        bought_at=Subquery(bought.values("occurred_at")[:1]),
        bought_total=Subquery(
            bought.values("total")[:1], output_field=DecimalField(max_digits=12, decimal_places=2)
        ),
        bought_currency=Subquery(bought.values("currency")[:1]),
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
            "status": send.get_status_display(),
            "trigger": trigger_label(send.step.flow.trigger),
            "about": about[send.pk],
            **outcome_times(send, site=site),
        }
        for send in listed
    ]
    query = params["q"].strip()
    unplanned = (
        why_never_planned(site=site, query=query, now=timezone.now())
        if query and page.number == 1
        else []
    )
    flows = list(
        Flow.objects.filter(site=site)
        .prefetch_related(Prefetch("steps", queryset=Step.objects.order_by("position")))
        .order_by("name", "pk")
    )
    return render(
        request,
        "campaigns/sends.html",
        frame.context(
            section="sends",
            page=page,
            rows=rows,
            params=params,
            unplanned=unplanned,
            zone=zone_label(site),
            reasons=[(reason.value, reason.label) for reason in FILTERABLE],
            channels=[(value, channel_label(value)) for value in Channel.values],
            triggers=_trigger_choices(flows),
            flows=[(str(flow.pk), flow.name) for flow in flows],
            steps=[
                (str(step.pk), f"{flow.name} · {step.position}")
                for flow in flows
                for step in flow.steps.all()
            ],
            groups=[
                ("waiting", _("Waiting")),
                ("sent", _("Sent")),
                ("delivered", _("Delivered")),
                ("tapped", _("Tapped")),
                ("bought", _("Bought")),
                ("not_sent", _("Not sent")),
            ],
            query_string=_query_string(site, params),
        ),
    )


def outcome_times(send: Send, *, site: Site) -> dict[str, str]:
    """What became of ``send`` (read by :func:`with_outcomes`), in the shop's zone: when it
    was sent (date and time), then delivered, tapped and bought (the time alone on the day it
    was sent), and the purchase's amount."""
    sent_day = timezone.localtime(send.sent_at, site.zone_info).date() if send.sent_at else None

    def moment(value: datetime | None) -> str:
        if value is None:
            return ""
        if timezone.localtime(value, site.zone_info).date() == sent_day:
            return clock(value, site=site)
        return when(value, site=site)

    delivered = moment(getattr(send, "delivered_at", None))
    if not delivered and send.status == SendStatus.DELIVERED:
        delivered = _("yes")  # delivered, with no report kept (a send older than its history)
    total = getattr(send, "bought_total", None)
    return {
        "planned": when(send.planned_at, site=site),
        "sent": when(send.sent_at, site=site) if send.sent_at else "",
        "delivered": delivered,
        "tapped": moment(getattr(send, "tapped_at", None)),
        "bought": moment(getattr(send, "bought_at", None)),
        "amount": money(total, getattr(send, "bought_currency", None)) if total is not None else "",
    }


def _trigger_choices(flows: list[Flow]) -> list[tuple[str, str]]:
    """The triggers of the site's flows, in ``Trigger``'s order, in the marketer's words."""
    used = {flow.trigger for flow in flows}
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


# Who recorded a step of a message's history, in the marketer's words.
SOURCES = {
    "planner": gettext_lazy("planning"),
    "worker": gettext_lazy("sending"),
    "provider": gettext_lazy("the provider"),
    "reconciler": gettext_lazy("check of unconfirmed sends"),
}


@dataclass(frozen=True)
class Moment:
    """One line of a message's history: when, what, why, and who recorded it."""

    at: datetime
    what: str
    why: str = ""
    by: str = ""
    tone: str = ""
    shown: str = ""  # ``at`` in the shop's zone


def history_of(
    send: Send, *, site: Site, clicks: list[Click], bought: list[Conversion]
) -> list[Moment]:
    """Everything that happened to ``send``, oldest first: each state it reached (planned,
    sent, delivered… or why not) with its reason, each tap on its link, each purchase
    attributed to it with its amount."""
    moments = [
        Moment(
            at=event.at,
            what=event.get_status_display(),
            why=" ".join(
                part
                for part in (
                    reason_label(event.reason, channel=send.channel) if event.reason else "",
                    f"({event.error_code})" if event.error_code else "",
                )
                if part
            ),
            by=str(SOURCES.get(event.source, event.source)),
            tone=tone(event.status),
        )
        for event in send.history.all()
    ]
    moments += [Moment(at=click.at, what=_("Tapped"), tone="ok") for click in clicks]
    moments += [
        Moment(
            at=conversion.occurred_at,
            what=_("Bought"),
            why=_("order %(order)s, %(amount)s (%(attribution)s)")
            % {
                "order": conversion.order_id,
                "amount": money(conversion.total, conversion.currency),
                "attribution": conversion.get_attribution_display(),
            },
            tone="ok",
        )
        for conversion in bought
    ]
    return [
        replace(moment, shown=when(moment.at, site=site, seconds=True))
        for moment in sorted(moments, key=lambda moment: moment.at)
    ]


@dashboard_page
def send_detail(request: HttpRequest, send_id: int, *, frame: Frame) -> HttpResponse:
    site = frame.site
    send = get_object_or_404(
        visible_to(request.user, Send.objects.select_related("contact", "step__flow", "cart")),
        pk=send_id,
        site=site,
    )
    link = getattr(send, "short_link", None)
    clicks = list(link.clicks.order_by("at")) if link else []
    bought = list(send.conversions.filter(counted=True).order_by("occurred_at", "pk"))
    cart = send.cart
    return render(
        request,
        "campaigns/send.html",
        frame.context(
            section="sends",
            send=send,
            status=send.get_status_display(),
            tone=tone(send.status),
            zone=zone_label(site),
            trigger=trigger_label(send.step.flow.trigger),
            about=describe_subjects([send], site=site)[send.pk],
            why=explain(send, time_zone=site.time_zone),
            channel=channel_label(send.channel),
            history=history_of(send, site=site, clicks=clicks, bought=bought),
            times={
                "planned": when(send.planned_at, site=site),
                "due": when(send.due_at, site=site),
                "sent": when(send.sent_at, site=site) if send.sent_at else "",
                "cart_change": when(cart.last_change_at, site=site) if cart else "",
            },
            cart_total=money(cart.total, cart.currency) if cart else "",
            link=link,
            clicks=clicks,
            cost=money(send.cost, _price_currency()) if send.cost is not None else "",
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


@dataclass(frozen=True)
class Spreadsheet:
    """How a CSV export is written for the marketer's spreadsheet: French Excel splits a line
    on ``;`` and reads ``12,50`` as a number; English Excel wants ``,`` and ``12.50``."""

    delimiter: str
    decimal: str

    @classmethod
    def for_language(cls, language: str | None) -> Spreadsheet:
        if (language or "").startswith("fr"):
            return cls(delimiter=";", decimal=",")
        return cls(delimiter=",", decimal=".")

    def number(self, value: Decimal | float | None, places: int | None = None) -> Any:
        """A decimal number as the spreadsheet reads it (empty for none), with ``places``
        decimals when told; never quoted as a formula (a number Relance wrote)."""
        if value is None or value == "":
            return ""
        if places is not None:
            value = Decimal(value).quantize(Decimal(1).scaleb(-places))
        return _Ours(str(value).replace(".", self.decimal))


def _csv_response(
    filename: str, header: list[str], rows: Iterator[list[Any]], *, sheet: Spreadsheet
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo(), delimiter=sheet.delimiter)

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
        "delivered_at",
        "tapped_at",
        "bought_at",
        "bought_total",
        "bought_currency",
    ]

    # The rows are written after the view returned, out of the page's language: keep it.
    language = translation.get_language()
    sheet = Spreadsheet.for_language(language)

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
                sheet.number(send.cart.total) if send.cart else "",
                send.cart.currency if send.cart else "",
                send.segments,
                send.encoding,
                sheet.number(send.cost),
                _iso(send.delivered_at, zone),  # type: ignore[attr-defined]
                _iso(send.tapped_at, zone),  # type: ignore[attr-defined]
                _iso(send.bought_at, zone),  # type: ignore[attr-defined]
                sheet.number(send.bought_total, places=2),  # type: ignore[attr-defined]
                send.bought_currency or "",  # type: ignore[attr-defined]
            ]

    return _csv_response(f"relance-sends-{site.pk}.csv", header, rows(), sheet=sheet)


@dashboard_page
def export_conversions(request: HttpRequest, *, frame: Frame) -> StreamingHttpResponse:
    """The site's purchases with their attribution, as CSV (``start``/``end`` days)."""
    site, zone = frame.site, ZoneInfo(frame.site.time_zone)
    sheet = Spreadsheet.for_language(translation.get_language())
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
                sheet.number(conversion.total),
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

    return _csv_response(f"relance-conversions-{site.pk}.csv", header, rows(), sheet=sheet)

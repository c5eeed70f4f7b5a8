"""The figures marketers read, counted from the sends themselves: what was sent, what came
back, and what the SMS really caused.

This is the definition of every figure. Counting it over months of sends takes seconds, so
the dashboard reads the daily rollups that :mod:`campaigns.rollups` writes by running these
same functions for one day at a time, and runs them itself for today (small, and live); the
tests hold both paths to the same answers.

Two views, both for one site (optionally one flow) and a period of days in the site's time
zone:

- :func:`funnel` follows the **carts abandoned in the period** (their last change falls in it)
  to the end, whenever that came: reachable, held out, sent, delivered, clicked, converted.
  Each stage is a subset of the one before it: a message counts as delivered when its
  provider reported it so or when its link was tapped (a tap proves delivery, and a route
  without delivery reports would otherwise show fewer delivered than clicked). Recovered
  revenue is the total of purchases attributed to a click; purchases after a reminder that
  was not tapped are reported apart; the incremental revenue compares the messaged carts
  with the held-out ones.
- A purchase a correction excluded (:mod:`campaigns.corrections`) counts nowhere: not as
  revenue, nor in the messaged carts' average order; the dashboard says how many it left out.
- :func:`daily` and :func:`by_step` count **what happened in the period** (sends by the day they
  went out, clicks by the day of the tap, revenue by the day of the purchase).

**By channel** (``channel="sms"`` or ``"email"``; ``None`` is every channel). A message goes by
one channel (``Send.channel``: for an SMS-else-email step, the one chosen when it went out), and
so does what came of it: its delivery, its taps, the purchase attributed to it, its cost (an
email costs nothing per message: ``Send.cost`` is empty for it), an opt-out on its channel
within OPT_OUT_WINDOW of it (STOP or the opt-out link for SMS, the unsubscribe link or the
one-click header for email: ``Consent.channel``). So:

- the **abandoned**, **reachable** and **held out** carts (and the held-out carts bought
  anyway) are the whole site's, whatever the channel asked: a cart is abandoned before any
  channel is chosen, and the holdout gets nothing by any channel;
- from **sent** on, a cart counts in a channel's funnel when a message of that channel reached
  that stage: a cart reminded by SMS and then by email is in both channels' *sent* and once in
  the total, so the channels' carts add up to the total plus the carts both reached; a
  purchase is attributed to one message, so *converted* and the revenues add up exactly (but
  for a cart bought twice after taps on both channels);
- messages, segments and cost add up exactly; contacts messaged and opted out are distinct per
  channel (a contact reached by both is in both).

:func:`by_step_and_channel` splits the per-step activity by channel; every figure of it adds
up to :func:`by_step`'s.

**Every trigger.** The funnel is the carts' (its flows are the cart triggers'); the activity per
step counts the sends of every trigger alike, whatever their subject (a cart, a product view, a
stock request, an order), read from the send's step: a trigger needs no room of its own to be
counted. Per step: sent, delivered, clicked, converted and revenue, cost, and the contacts who
opted out of a message's channel within OPT_OUT_WINDOW of it (:func:`opted_out_by_step`).
:func:`by_flow` adds a flow's steps up, with its trigger. **Transactional messages** (an
order's confirmation, its shipping: ``Kind.TRANSACTIONAL``) are never credited with revenue: a
purchase attributed to one counts nowhere, and their rows say so (``transactional``); their
cost counts as any message's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import Click, Conversion, Flow, Send, SendStatus, Step
from campaigns.send_states import TAKEN
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import Kind
from optin.models import Consent, ConsentSource, ConsentStatus
from retargeting.channels import Channel
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart

# A message counts as sent once the provider took it, whatever became of it afterwards.
SENT = TAKEN
OPT_OUT_WINDOW = timedelta(days=7)
# The opt-outs a message's recipient makes by our own means, on the message's channel: STOP,
# the SMS opt-out link, the email's unsubscribe link or one-click header. A provider's report
# (which for email includes bounces) is not counted as a reaction to the message.
OPT_OUT_SOURCES = (ConsentSource.KEYWORD, ConsentSource.OPT_OUT_LINK, ConsentSource.UNSUBSCRIBE)
CHANNELS = tuple(Channel.values)
DEFAULT_FIRST_DELAY = timedelta(minutes=30)


def transactional(trigger: str) -> bool:
    """Whether ``trigger``'s messages are transactional (its room says; a trigger without a
    room yet is counted as marketing)."""
    room = ROOMS.get(trigger)
    return room is not None and room.kind is Kind.TRANSACTIONAL


def transactional_triggers() -> tuple[str, ...]:
    return tuple(name for name in ROOMS if transactional(name))


def has_cart(trigger: str) -> bool:
    """Whether ``trigger``'s subject is a cart (its flows have a funnel)."""
    room = ROOMS.get(trigger)
    return room is not None and room.has_cart


def credited(conversions: QuerySet[Conversion]) -> QuerySet[Conversion]:
    """``conversions`` less those attributed to a transactional message (never revenue)."""
    never = transactional_triggers()
    return conversions.exclude(send__step__flow__trigger__in=never) if never else conversions


def bounds(site: Site, start: date, end: date) -> tuple[datetime, datetime]:
    """The period from the start of ``start`` to the end of ``end`` in the site's zone."""
    zone = ZoneInfo(site.time_zone)
    return (
        datetime.combine(start, time(0), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone),
    )


@dataclass
class Funnel:
    abandoned: int = 0
    reachable: int = 0
    held_out: int = 0
    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    converted: int = 0
    """Carts whose purchase is attributed to a click on their reminder."""
    recovered_revenue: Decimal = Decimal(0)
    after_delivery: int = 0
    after_delivery_revenue: Decimal = Decimal(0)
    messages: int = 0
    segments: int = 0
    cost: Decimal = Decimal(0)
    opt_outs: int = 0
    messaged_converted: int = 0
    """Messaged carts bought afterwards, however (the comparison with the holdout)."""
    holdout_converted: int = 0
    currency: str = "EUR"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def messaged_rate(self) -> float | None:
        return self.messaged_converted / self.sent if self.sent else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_converted / self.held_out if self.held_out else None

    @property
    def incremental_revenue(self) -> Decimal | None:
        """What the SMS caused beyond what would have come back anyway; None without a
        holdout group to compare with."""
        if self.messaged_rate is None or self.holdout_rate is None or not self.messaged_converted:
            return None
        average = self.extra.get("messaged_average") or Decimal(0)
        assert isinstance(average, Decimal)
        uplift = Decimal(str(self.messaged_rate - self.holdout_rate))
        return (uplift * self.sent * average).quantize(Decimal("0.01"))

    @property
    def opt_out_rate(self) -> float | None:
        contacts = self.extra.get("contacts_messaged") or 0
        assert isinstance(contacts, int)
        return self.opt_outs / contacts if contacts else None

    @property
    def return_on_cost(self) -> Decimal | None:
        """Recovered revenue per unit of SMS cost."""
        if not self.cost:
            return None
        return (self.recovered_revenue / self.cost).quantize(Decimal("0.1"))


def cart_triggers() -> tuple[str, ...]:
    return tuple(name for name in ROOMS if has_cart(name))


def _first_delay(site: Site, flow: Flow | None) -> timedelta:
    # A cart is abandoned after the cart flows' first delay: a welcome sent at once, or a
    # browse reminder after an hour, says nothing of carts.
    steps = Step.objects.filter(
        flow__site=site, position=1, flow__is_active=True, flow__trigger__in=cart_triggers()
    )
    if flow is not None:
        steps = Step.objects.filter(flow=flow, position=1)
    minutes = steps.aggregate(least=Min("delay_minutes"))["least"]
    return timedelta(minutes=minutes) if minutes is not None else DEFAULT_FIRST_DELAY


def _sends(site: Site, flow: Flow | None, channel: str | None = None) -> QuerySet[Send]:
    sends = Send.objects.filter(site=site)
    if channel is not None:
        sends = sends.filter(channel=channel)
    return sends.filter(step__flow=flow) if flow is not None else sends


def cohort(*, site: Site, start: date, end: date) -> QuerySet[Cart]:
    """The carts abandoned in the period: with items, last changed in it."""
    since, until = bounds(site, start, end)
    return Cart.objects.filter(
        site=site, item_count__gt=0, last_change_at__gte=since, last_change_at__lt=until
    )


def _messaged(
    site: Site,
    start: date,
    end: date,
    flow: Flow | None,
    carts: QuerySet[Cart] | None,
    channel: str | None = None,
) -> QuerySet[Send]:
    """The messages sent to the carts abandoned in the period."""
    if carts is None:
        carts = cohort(site=site, start=start, end=end)
    return _sends(site, flow, channel).filter(cart__in=carts, status__in=SENT)


def channels_sent(*, site: Site, carts: QuerySet[Cart]) -> list[str]:
    """The channels that sent something to ``carts`` (in :data:`CHANNELS`' order)."""
    used = set(
        Send.objects.filter(site=site, cart__in=carts, status__in=SENT)
        .values_list("channel", flat=True)
        .distinct()
    )
    return [channel for channel in CHANNELS if channel in used]


def messaged_contacts(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    carts: QuerySet[Cart] | None = None,
    channel: str | None = None,
) -> QuerySet[Send, int]:
    """The contacts messaged about a cart abandoned in the period (ids, distinct)."""
    return (
        _messaged(site, start, end, flow, carts, channel)
        .filter(contact__isnull=False)
        .values_list("contact_id", flat=True)
        .distinct()
    )


def opted_out_contacts(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    carts: QuerySet[Cart] | None = None,
    channel: str | None = None,
) -> QuerySet[Send, int]:
    """Those of :func:`messaged_contacts` who opted out of a message's channel (STOP, the
    opt-out link, the email's unsubscribe) within OPT_OUT_WINDOW of it (ids, distinct)."""
    stop = Consent.objects.filter(
        contact_id=OuterRef("contact_id"),
        channel=OuterRef("channel"),
        status=ConsentStatus.REVOKED,
        source__in=OPT_OUT_SOURCES,
        created_at__gte=OuterRef("sent_at"),
        created_at__lte=OuterRef("sent_at") + OPT_OUT_WINDOW,
    )
    return (
        _messaged(site, start, end, flow, carts, channel)
        .filter(Exists(stop))
        .values_list("contact_id", flat=True)
        .distinct()
    )


def funnel(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    carts: QuerySet[Cart] | None = None,
    channel: str | None = None,
    whole_site: bool = True,
) -> Funnel:
    """The funnel of the carts abandoned from ``start`` to ``end`` (days, inclusive), of
    every channel or of ``channel``'s messages (the abandoned, reachable and held-out carts
    are the whole site's either way; ``whole_site=False`` leaves them at 0, as the rollups'
    rows of a channel keep them).

    ``carts``, when given, is :func:`cohort` for the same period, found once by a caller
    that counts several funnels of it (the rollups)."""
    now = timezone.now()
    every = _sends(site, flow)
    sends = _sends(site, flow, channel)
    if carts is None:
        carts = cohort(site=site, start=start, end=end)
    has: dict[str, Any] = {
        "any": Exists(every.filter(cart_id=OuterRef("pk"))),
        "held_out": Exists(every.filter(cart_id=OuterRef("pk"), status=SendStatus.HELD_OUT)),
        "sent": Exists(sends.filter(cart_id=OuterRef("pk"), status__in=SENT)),
        "clicked": Exists(
            Click.objects.filter(link__send__in=sends, link__send__cart_id=OuterRef("pk"))
        ),
    }
    # A tapped message was delivered, whatever its report says (late, or none on its route):
    # so the funnel never goes up from delivered to clicked.
    has["delivered"] = (
        Q(Exists(sends.filter(cart_id=OuterRef("pk"), status=SendStatus.DELIVERED)))
        | has["clicked"]
    )
    delay = _first_delay(site, flow)
    if flow is None:
        idle = (
            Q(status=Cart.Status.OPEN, last_change_at__lte=now - delay)
            | Q(status=Cart.Status.CONVERTED, converted_at__gte=F("last_change_at") + delay)
            | Q(has["any"])
        )
    else:
        idle = Q(has["any"])
    stages: dict[str, Any] = {
        "sent": Count("pk", filter=has["sent"]),
        "delivered": Count("pk", filter=has["delivered"]),
        "clicked": Count("pk", filter=has["clicked"]),
        "messaged_converted": Count("pk", filter=has["sent"] & Q(status=Cart.Status.CONVERTED)),
    }
    if channel is None or whole_site:
        stages |= {
            "abandoned": Count("pk", filter=idle),
            "reachable": Count("pk", filter=has["any"]),
            "held_out": Count("pk", filter=has["held_out"]),
            "holdout_converted": Count(
                "pk", filter=has["held_out"] & Q(status=Cart.Status.CONVERTED)
            ),
        }
    counts = carts.aggregate(**stages)
    result = Funnel(**counts)
    cohort_sends = sends.filter(cart__in=carts)
    conversions = Conversion.objects.filter(site=site, counted=True, send__in=cohort_sends)
    clicked = conversions.filter(attribution=Conversion.Attribution.CLICKED).aggregate(
        n=Count("send__cart", distinct=True), revenue=Sum("total")
    )
    result.converted, result.recovered_revenue = clicked["n"], clicked["revenue"] or Decimal(0)
    after = conversions.filter(attribution=Conversion.Attribution.AFTER_DELIVERY).aggregate(
        n=Count("pk"), revenue=Sum("total")
    )
    result.after_delivery = after["n"]
    result.after_delivery_revenue = after["revenue"] or Decimal(0)
    delivered = cohort_sends.filter(status__in=SENT)
    spent = delivered.aggregate(
        messages=Count("pk"),
        segments=Sum("segments"),
        cost=Sum("cost"),
        contacts=Count("contact", distinct=True),
    )
    result.messages = spent["messages"]
    result.segments = spent["segments"] or 0
    result.cost = spent["cost"] or Decimal(0)
    result.extra["contacts_messaged"] = spent["contacts"]
    result.opt_outs = opted_out_contacts(
        site=site, start=start, end=end, flow=flow, carts=carts, channel=channel
    ).count()
    messaged_carts = carts.filter(has["sent"], status=Cart.Status.CONVERTED)
    average = Conversion.objects.filter(site=site, counted=True, cart__in=messaged_carts).aggregate(
        total=Sum("total"), n=Count("pk")
    )
    # Kept as a sum and a count so that days add up (the rollups keep both).
    result.extra["messaged_orders"] = average["n"]
    result.extra["messaged_orders_total"] = average["total"] or Decimal(0)
    if average["n"]:
        result.extra["messaged_average"] = average["total"] / average["n"]
    return result


@dataclass(frozen=True)
class Day:
    day: date
    sends: int
    clicks: int
    revenue: Decimal


def daily(
    *, site: Site, start: date, end: date, flow: Flow | None = None, channel: str | None = None
) -> list[Day]:
    """Sends, clicks and recovered revenue per day of the period (every day listed)."""
    since, until = bounds(site, start, end)
    zone = ZoneInfo(site.time_zone)
    sends = _sends(site, flow, channel)

    def per_day(rows: QuerySet[Any], moment: str, value: object) -> dict[date, Any]:
        return dict(
            rows.filter(**{f"{moment}__gte": since, f"{moment}__lt": until})
            .annotate(day=TruncDate(moment, tzinfo=zone))
            .values("day")
            .annotate(value=value)
            .values_list("day", "value")
        )

    sent = per_day(sends.filter(status__in=SENT), "sent_at", Count("pk"))
    clicks = per_day(Click.objects.filter(link__send__in=sends), "at", Count("pk"))
    revenue = per_day(
        credited(
            Conversion.objects.filter(
                site=site, counted=True, send__in=sends, attribution=Conversion.Attribution.CLICKED
            )
        ),
        "occurred_at",
        Sum("total"),
    )
    days = []
    day = start
    while day <= end:
        days.append(
            Day(
                day,
                int(sent.get(day, 0)),
                int(clicks.get(day, 0)),
                Decimal(revenue.get(day) or 0),
            )
        )
        day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class StepFigures:
    step: Step
    sent: int
    delivered: int
    clicked: int
    converted: int
    revenue: Decimal
    cost: Decimal
    channel: str = ""
    """The channel of these figures ("": every channel)."""
    opt_outs: int = 0
    """Contacts who opted out of the channel of one of the step's messages within
    OPT_OUT_WINDOW of it (distinct per step and channel)."""

    @property
    def transactional(self) -> bool:
        """No revenue is ever attributed to it (:func:`transactional`)."""
        return transactional(self.step.flow.trigger)


def by_step_and_channel(
    *,
    site: Site,
    start: date,
    end: date,
    opted_out: list[tuple[int, str, int]] | None = None,
) -> list[StepFigures]:
    """Per flow, step and channel: what went out in the period and what it brought back.
    Only the channels that did something are listed, in :data:`CHANNELS`' order.
    ``opted_out``, when given, is :func:`opted_out_by_step` for the same period, read once
    by a caller that keeps its members (the rollups)."""
    return _split(site, start, end, opted_out)[1]


def _split(
    site: Site,
    start: date,
    end: date,
    opted_out: list[tuple[int, str, int]] | None = None,
) -> tuple[list[Step], list[StepFigures]]:
    since, until = bounds(site, start, end)
    steps = list(
        Step.objects.filter(flow__site=site)
        .select_related("flow")
        .order_by("flow__name", "flow_id", "position")
    )
    # Delivered: reported so, or tapped (a tapped message was delivered, report or not).
    tapped = Exists(Click.objects.filter(link__send=OuterRef("pk")))
    sent = {
        (row["step"], row["channel"]): row
        for row in Send.objects.filter(
            site=site, sent_at__gte=since, sent_at__lt=until, status__in=SENT
        )
        .values("step", "channel")
        .annotate(
            sent=Count("pk"),
            delivered=Count("pk", filter=Q(status=SendStatus.DELIVERED) | Q(tapped)),
            cost=Sum("cost"),
        )
    }
    clicks = {
        (step_id, channel): n
        for step_id, channel, n in Click.objects.filter(
            link__send__site=site, at__gte=since, at__lt=until
        )
        .values("link__send__step", "link__send__channel")
        .annotate(n=Count("link__send", distinct=True))
        .values_list("link__send__step", "link__send__channel", "n")
    }
    won = {
        (step_id, channel): (n, revenue)
        for step_id, channel, n, revenue in credited(
            Conversion.objects.filter(
                site=site,
                counted=True,
                attribution=Conversion.Attribution.CLICKED,
                occurred_at__gte=since,
                occurred_at__lt=until,
            )
        )
        .values("send__step", "send__channel")
        .annotate(n=Count("pk"), revenue=Sum("total"))
        .values_list("send__step", "send__channel", "n", "revenue")
    }
    opted: dict[tuple[int, str], int] = {}
    if opted_out is None:
        opted_out = list(opted_out_by_step(site=site, start=start, end=end))
    for step_id, channel, _contact in opted_out:
        opted[(step_id, channel)] = opted.get((step_id, channel), 0) + 1
    rows = []
    for step in steps:
        for channel in CHANNELS:
            key = (step.pk, channel)
            if key not in sent and key not in clicks and key not in won:
                continue
            out: dict[str, Any] = dict(sent.get(key, {}))
            converted, revenue = won.get(key, (0, Decimal(0)))
            rows.append(
                StepFigures(
                    step=step,
                    sent=out.get("sent", 0),
                    delivered=out.get("delivered", 0),
                    clicked=clicks.get(key, 0),
                    converted=converted,
                    revenue=revenue or Decimal(0),
                    cost=out.get("cost") or Decimal(0),
                    channel=channel,
                    opt_outs=opted.get(key, 0),
                )
            )
    return steps, rows


def by_step(*, site: Site, start: date, end: date, channel: str | None = None) -> list[StepFigures]:
    """Per flow and step (every step listed): what went out in the period and what it
    brought back, by every channel or by ``channel``."""
    steps, split = _split(site, start, end)
    return merge_channels(steps, split, channel)


def merge_channels(
    steps: list[Step], split: list[StepFigures], channel: str | None
) -> list[StepFigures]:
    """One row per step of ``steps``: the sum of its rows of ``split`` (of ``channel``'s only,
    when given); the channels' clicked sends are distinct sends, so they add up too."""
    totals: dict[int, StepFigures] = {}
    for row in split:
        if channel is not None and row.channel != channel:
            continue
        before = totals.get(row.step.pk)
        if before is None:
            totals[row.step.pk] = replace(row, channel=channel or "")
            continue
        totals[row.step.pk] = replace(
            before,
            sent=before.sent + row.sent,
            delivered=before.delivered + row.delivered,
            clicked=before.clicked + row.clicked,
            converted=before.converted + row.converted,
            revenue=before.revenue + row.revenue,
            cost=before.cost + row.cost,
            opt_outs=before.opt_outs + row.opt_outs,
        )
    return [
        totals.get(step.pk)
        or StepFigures(step, 0, 0, 0, 0, Decimal(0), Decimal(0), channel=channel or "")
        for step in steps
    ]


def taps_by_step(*, site: Site, start: date, end: date) -> dict[tuple[int, str], int]:
    """Per step and channel: the taps on its links in the period (every tap, as the daily
    chart counts)."""
    since, until = bounds(site, start, end)
    return {
        (step_id, channel): n
        for step_id, channel, n in Click.objects.filter(
            link__send__site=site, at__gte=since, at__lt=until
        )
        .values("link__send__step", "link__send__channel")
        .annotate(n=Count("pk"))
        .values_list("link__send__step", "link__send__channel", "n")
    }


def clicked_sends(*, site: Site, start: date, end: date) -> QuerySet[Click, tuple[int, str, int]]:
    """The sends tapped in the period, with their step and channel: ``(step_id, channel,
    send_id)``, distinct."""
    since, until = bounds(site, start, end)
    return (
        Click.objects.filter(link__send__site=site, at__gte=since, at__lt=until)
        .values_list("link__send__step", "link__send__channel", "link__send")
        .distinct()
    )


def opted_out_by_step(
    *, site: Site, start: date, end: date
) -> QuerySet[Send, tuple[int, str, int]]:
    """The contacts who opted out of a message's channel (STOP, the opt-out link, the email's
    unsubscribe) within OPT_OUT_WINDOW of it, for the messages sent in the period, with the
    message's step and channel: ``(step_id, channel, contact_id)``, distinct. Every trigger's
    messages alike."""
    since, until = bounds(site, start, end)
    stop = Consent.objects.filter(
        contact_id=OuterRef("contact_id"),
        channel=OuterRef("channel"),
        status=ConsentStatus.REVOKED,
        source__in=OPT_OUT_SOURCES,
        created_at__gte=OuterRef("sent_at"),
        created_at__lte=OuterRef("sent_at") + OPT_OUT_WINDOW,
    )
    return (
        Send.objects.filter(
            site=site,
            sent_at__gte=since,
            sent_at__lt=until,
            status__in=SENT,
            contact__isnull=False,
        )
        .filter(Exists(stop))
        .values_list("step", "channel", "contact_id")
        .distinct()
    )


@dataclass
class FlowFigures:
    """A flow's activity in the period: its steps' figures added up (a flow of every
    trigger), with its trigger. ``opt_outs`` adds the steps' (a contact who opted out after
    two steps' messages counts in each)."""

    flow: Flow
    sent: int = 0
    delivered: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    opt_outs: int = 0

    @property
    def trigger(self) -> str:
        return self.flow.trigger

    @property
    def transactional(self) -> bool:
        return transactional(self.flow.trigger)


def by_flow(rows: list[StepFigures]) -> list[FlowFigures]:
    """One row per flow of ``rows`` (:func:`by_step`'s, live or rolled up), in their order."""
    flows: dict[int, FlowFigures] = {}
    for row in rows:
        flow = row.step.flow
        total = flows.setdefault(flow.pk, FlowFigures(flow))
        total.sent += row.sent
        total.delivered += row.delivered
        total.clicked += row.clicked
        total.converted += row.converted
        total.revenue += row.revenue
        total.cost += row.cost
        total.opt_outs += row.opt_outs
    return list(flows.values())

"""The figures marketers read, counted from the sends themselves: what was sent, what came
back, and what the SMS really caused.

This is the definition of every figure. Counting it over months of sends takes seconds, so
the dashboard reads the daily rollups that :mod:`campaigns.rollups` writes by running these
same functions for one day at a time; the tests hold both paths to the same answers.

Two views, both for one site (optionally one flow) and a period of days in the site's time
zone:

- :func:`funnel` follows the **carts abandoned in the period** (their last change falls in it)
  to the end, whenever that came: reachable, held out, sent, delivered, clicked, converted.
  Each stage is a subset of the one before it. Recovered revenue is the total of purchases
  attributed to a click; purchases after a reminder that was not tapped are reported apart;
  the incremental revenue compares the messaged carts with the held-out ones.
- A purchase a correction excluded (:mod:`campaigns.corrections`) counts nowhere: not as
  revenue, nor in the messaged carts' average order; the dashboard says how many it left out.
- :func:`daily` and :func:`by_step` count **what happened in the period** (sends by the day they
  went out, clicks by the day of the tap, revenue by the day of the purchase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import Click, Conversion, Flow, Send, SendStatus, Step
from campaigns.send_states import TAKEN
from optin.models import Consent, ConsentSource, ConsentStatus
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart

# A message counts as sent once the provider took it, whatever became of it afterwards.
SENT = TAKEN
OPT_OUT_WINDOW = timedelta(days=7)
DEFAULT_FIRST_DELAY = timedelta(minutes=30)


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


def _first_delay(site: Site, flow: Flow | None) -> timedelta:
    steps = Step.objects.filter(flow__site=site, position=1, flow__is_active=True)
    if flow is not None:
        steps = Step.objects.filter(flow=flow, position=1)
    minutes = steps.aggregate(least=Min("delay_minutes"))["least"]
    return timedelta(minutes=minutes) if minutes is not None else DEFAULT_FIRST_DELAY


def _sends(site: Site, flow: Flow | None) -> QuerySet[Send]:
    sends = Send.objects.filter(site=site)
    return sends.filter(step__flow=flow) if flow is not None else sends


def cohort(*, site: Site, start: date, end: date) -> QuerySet[Cart]:
    """The carts abandoned in the period: with items, last changed in it."""
    since, until = bounds(site, start, end)
    return Cart.objects.filter(
        site=site, item_count__gt=0, last_change_at__gte=since, last_change_at__lt=until
    )


def _messaged(
    site: Site, start: date, end: date, flow: Flow | None, carts: QuerySet[Cart] | None
) -> QuerySet[Send]:
    """The messages sent to the carts abandoned in the period."""
    if carts is None:
        carts = cohort(site=site, start=start, end=end)
    return _sends(site, flow).filter(cart__in=carts, status__in=SENT)


def messaged_contacts(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    carts: QuerySet[Cart] | None = None,
) -> QuerySet[Send, int]:
    """The contacts messaged about a cart abandoned in the period (ids, distinct)."""
    return (
        _messaged(site, start, end, flow, carts)
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
) -> QuerySet[Send, int]:
    """Those of :func:`messaged_contacts` who said STOP (or tapped the opt-out link) within
    OPT_OUT_WINDOW of one of those messages (ids, distinct)."""
    stop = Consent.objects.filter(
        contact_id=OuterRef("contact_id"),
        status=ConsentStatus.REVOKED,
        source__in=[ConsentSource.KEYWORD, ConsentSource.OPT_OUT_LINK],
        created_at__gte=OuterRef("sent_at"),
        created_at__lte=OuterRef("sent_at") + OPT_OUT_WINDOW,
    )
    return (
        _messaged(site, start, end, flow, carts)
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
) -> Funnel:
    """The funnel of the carts abandoned from ``start`` to ``end`` (days, inclusive).

    ``carts``, when given, is :func:`cohort` for the same period, found once by a caller
    that counts several funnels of it (the rollups)."""
    now = timezone.now()
    sends = _sends(site, flow)
    if carts is None:
        carts = cohort(site=site, start=start, end=end)
    has = {
        "any": Exists(sends.filter(cart_id=OuterRef("pk"))),
        "held_out": Exists(sends.filter(cart_id=OuterRef("pk"), status=SendStatus.HELD_OUT)),
        "sent": Exists(sends.filter(cart_id=OuterRef("pk"), status__in=SENT)),
        "delivered": Exists(sends.filter(cart_id=OuterRef("pk"), status=SendStatus.DELIVERED)),
        "clicked": Exists(
            Click.objects.filter(link__send__in=sends, link__send__cart_id=OuterRef("pk"))
        ),
    }
    delay = _first_delay(site, flow)
    if flow is None:
        idle = (
            Q(status=Cart.Status.OPEN, last_change_at__lte=now - delay)
            | Q(status=Cart.Status.CONVERTED, converted_at__gte=F("last_change_at") + delay)
            | Q(has["any"])
        )
    else:
        idle = Q(has["any"])
    counts = carts.aggregate(
        abandoned=Count("pk", filter=idle),
        reachable=Count("pk", filter=has["any"]),
        held_out=Count("pk", filter=has["held_out"]),
        sent=Count("pk", filter=has["sent"]),
        delivered=Count("pk", filter=has["delivered"]),
        clicked=Count("pk", filter=has["clicked"]),
        messaged_converted=Count("pk", filter=has["sent"] & Q(status=Cart.Status.CONVERTED)),
        holdout_converted=Count("pk", filter=has["held_out"] & Q(status=Cart.Status.CONVERTED)),
    )
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
        site=site, start=start, end=end, flow=flow, carts=carts
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


def daily(*, site: Site, start: date, end: date, flow: Flow | None = None) -> list[Day]:
    """Sends, clicks and recovered revenue per day of the period (every day listed)."""
    since, until = bounds(site, start, end)
    zone = ZoneInfo(site.time_zone)
    sends = _sends(site, flow)

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
        Conversion.objects.filter(
            site=site, counted=True, send__in=sends, attribution=Conversion.Attribution.CLICKED
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


def by_step(*, site: Site, start: date, end: date) -> list[StepFigures]:
    """Per flow and step: what went out in the period and what it brought back."""
    since, until = bounds(site, start, end)
    in_period = Q(sends__sent_at__gte=since, sends__sent_at__lt=until, sends__status__in=SENT)
    steps = (
        Step.objects.filter(flow__site=site)
        .select_related("flow")
        .order_by("flow__name", "flow_id", "position")
        .annotate(
            sent=Count("sends", filter=in_period),
            delivered=Count("sends", filter=in_period & Q(sends__status=SendStatus.DELIVERED)),
            cost=Sum("sends__cost", filter=in_period),
        )
    )
    clicks = dict(
        Click.objects.filter(link__send__site=site, at__gte=since, at__lt=until)
        .values("link__send__step")
        .annotate(n=Count("link__send", distinct=True))
        .values_list("link__send__step", "n")
    )
    won = {
        step_id: (n, revenue)
        for step_id, n, revenue in Conversion.objects.filter(
            site=site,
            counted=True,
            attribution=Conversion.Attribution.CLICKED,
            occurred_at__gte=since,
            occurred_at__lt=until,
        )
        .values("send__step")
        .annotate(n=Count("pk"), revenue=Sum("total"))
        .values_list("send__step", "n", "revenue")
    }
    return [
        StepFigures(
            step=step,
            sent=step.sent,
            delivered=step.delivered,
            clicked=clicks.get(step.pk, 0),
            converted=won.get(step.pk, (0, Decimal(0)))[0],
            revenue=won.get(step.pk, (0, Decimal(0)))[1] or Decimal(0),
            cost=step.cost or Decimal(0),
        )
        for step in steps
    ]


def taps_by_step(*, site: Site, start: date, end: date) -> dict[int, int]:
    """Per step: the taps on its links in the period (every tap, as the daily chart counts)."""
    since, until = bounds(site, start, end)
    return dict(
        Click.objects.filter(link__send__site=site, at__gte=since, at__lt=until)
        .values("link__send__step")
        .annotate(n=Count("pk"))
        .values_list("link__send__step", "n")
    )


def clicked_sends(*, site: Site, start: date, end: date) -> QuerySet[Click, tuple[int, int]]:
    """The sends tapped in the period, with their step: ``(step_id, send_id)``, distinct."""
    since, until = bounds(site, start, end)
    return (
        Click.objects.filter(link__send__site=site, at__gte=since, at__lt=until)
        .values_list("link__send__step", "link__send")
        .distinct()
    )

"""The overview's figures, read from the daily rollups (campaigns.rollups): a handful of
aggregates over at most a few hundred rows, whatever the shop's size.

Each function answers as its namesake in :mod:`campaigns.figures` (which defines every
figure and counts it from the sends) would have when the days were last rolled up.
Distinct figures (contacts messaged, opt-outs, sends tapped) are the days' counts less the
extra days of the members seen on more than one day (``DayMember.repeated``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum

from campaigns.figures import Day, Funnel, StepFigures, bounds
from campaigns.models import DailyFigures, DayMember, FiguresBasis, Flow, MemberKind, Step
from retargeting.sites.models import Site

__all__ = ["bounds", "by_step", "computed_at", "daily", "funnel"]

FUNNEL_SUMS = (
    "abandoned",
    "reachable",
    "held_out",
    "sent",
    "delivered",
    "clicked",
    "converted",
    "after_delivery",
    "messages",
    "segments",
    "opt_outs",
    "messaged_converted",
    "holdout_converted",
)


def _rows(site: Site, basis: str, start: date, end: date) -> QuerySet[DailyFigures]:
    return DailyFigures.objects.filter(site=site, basis=basis, day__gte=start, day__lte=end)


def _repeats(site: Site, start: date, end: date) -> QuerySet[DayMember]:
    return DayMember.objects.filter(site=site, repeated=True, day__gte=start, day__lte=end)


def funnel(*, site: Site, start: date, end: date, flow: Flow | None = None) -> Funnel:
    """The funnel of the carts abandoned from ``start`` to ``end`` (days, inclusive)."""
    rows = _rows(site, FiguresBasis.ABANDONED, start, end)
    rows = rows.filter(flow=flow) if flow is not None else rows.filter(flow__isnull=True)
    sums = rows.aggregate(
        **{name: Sum(name) for name in FUNNEL_SUMS},
        recovered_revenue=Sum("revenue"),
        after_delivery_revenue=Sum("after_delivery_revenue"),
        cost=Sum("cost"),
        contacts=Sum("contacts"),
        messaged_orders=Sum("messaged_orders"),
        messaged_orders_total=Sum("messaged_orders_total"),
    )
    repeats = _repeats(site, start, end).filter(
        Q(flow=flow) if flow is not None else Q(flow__isnull=True), step__isnull=True
    )
    extra = repeats.aggregate(
        **{
            f"{kind}_{measure}": aggregate
            for kind in (MemberKind.MESSAGED, MemberKind.OPTED_OUT)
            for measure, aggregate in (
                ("rows", Count("pk", filter=Q(kind=kind))),
                ("members", Count("member", distinct=True, filter=Q(kind=kind))),
            )
        }
    )
    result = Funnel(
        recovered_revenue=sums["recovered_revenue"] or Decimal(0),
        after_delivery_revenue=sums["after_delivery_revenue"] or Decimal(0),
        cost=sums["cost"] or Decimal(0),
    )
    for name in FUNNEL_SUMS:
        setattr(result, name, sums[name] or 0)
    result.opt_outs -= extra["opted_out_rows"] - extra["opted_out_members"]
    result.extra["contacts_messaged"] = (sums["contacts"] or 0) - (
        extra["messaged_rows"] - extra["messaged_members"]
    )
    if sums["messaged_orders"]:
        result.extra["messaged_average"] = sums["messaged_orders_total"] / sums["messaged_orders"]
    return result


def daily(*, site: Site, start: date, end: date, flow: Flow | None = None) -> list[Day]:
    """Sends, clicks and recovered revenue per day of the period (every day listed)."""
    rows = _rows(site, FiguresBasis.ACTIVITY, start, end)
    if flow is not None:
        rows = rows.filter(flow=flow)
    per_day: dict[date, dict[str, Any]] = {
        row["day"]: dict(row)
        for row in rows.values("day").annotate(
            sends=Sum("sent"), clicks=Sum("taps"), revenue=Sum("revenue")
        )
    }
    days = []
    day = start
    while day <= end:
        row = per_day.get(day, {})
        days.append(
            Day(
                day,
                int(row.get("sends") or 0),
                int(row.get("clicks") or 0),
                Decimal(row.get("revenue") or 0),
            )
        )
        day += timedelta(days=1)
    return days


def by_step(*, site: Site, start: date, end: date) -> list[StepFigures]:
    """Per flow and step: what went out in the period and what it brought back."""
    steps = (
        Step.objects.filter(flow__site=site)
        .select_related("flow")
        .order_by("flow__name", "flow_id", "position")
    )
    sums: dict[int, dict[str, Any]] = {
        row["step"]: dict(row)
        for row in _rows(site, FiguresBasis.ACTIVITY, start, end)
        .values("step")
        .annotate(
            sent=Sum("sent"),
            delivered=Sum("delivered"),
            clicked=Sum("clicked"),
            converted=Sum("converted"),
            revenue=Sum("revenue"),
            cost=Sum("cost"),
        )
    }
    extra_days = {
        row["step"]: row["rows"] - row["members"]
        for row in _repeats(site, start, end)
        .filter(kind=MemberKind.CLICKED)
        .values("step")
        .annotate(rows=Count("pk"), members=Count("member", distinct=True))
    }
    result = []
    for step in steps:
        row = sums.get(step.pk, {})
        result.append(
            StepFigures(
                step=step,
                sent=row.get("sent") or 0,
                delivered=row.get("delivered") or 0,
                clicked=(row.get("clicked") or 0) - extra_days.get(step.pk, 0),
                converted=row.get("converted") or 0,
                revenue=row.get("revenue") or Decimal(0),
                cost=row.get("cost") or Decimal(0),
            )
        )
    return result


def computed_at(*, site: Site, start: date, end: date) -> datetime | None:
    """When the period's figures were last counted (None: never rolled up yet)."""
    stamps = _rows(site, FiguresBasis.ABANDONED, start, end).filter(flow__isnull=True)
    latest: datetime | None = stamps.aggregate(latest=Max("computed_at"))["latest"]
    return latest

"""The overview's figures, read from the daily rollups (campaigns.rollups): a handful of
aggregates over at most a few hundred rows, whatever the shop's size.

Each function answers as its namesake in :mod:`campaigns.figures` (which defines every
figure and counts it from the sends) would have when the days were last rolled up.
Distinct figures (contacts messaged, opt-outs, sends tapped) are the days' counts less the
extra days of the members seen on more than one day (``DayMember.repeated``).

``channel`` (``"sms"``, ``"email"``; ``None`` for every channel) reads that channel's rows: its
part of the funnel with the whole site's abandoned, reachable and held-out carts (from the
every-channel rows, in the same query), and its steps' activity.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum

from campaigns.figures import (
    Day,
    FlowFigures,
    Funnel,
    StepFigures,
    bounds,
    by_flow,
    merge_channels,
)
from campaigns.models import (
    ALL_CHANNELS,
    DailyFigures,
    DayMember,
    FiguresBasis,
    Flow,
    MemberKind,
    Step,
)
from campaigns.rollups import WHOLE_SITE
from retargeting.sites.models import Site

__all__ = [
    "FlowFigures",
    "bounds",
    "by_flow",
    "by_step",
    "by_step_and_channel",
    "computed_at",
    "daily",
    "funnel",
]
EVERY = ALL_CHANNELS[0]

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


def funnel(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    channel: str | None = None,
) -> Funnel:
    """The funnel of the carts abandoned from ``start`` to ``end`` (days, inclusive). The
    rollups keep a channel's part for the whole site only: a flow's funnel is every
    channel's."""
    if flow is not None and channel is not None:
        raise ValueError("a flow's funnel is rolled up for every channel together only")
    rows = _rows(site, FiguresBasis.ABANDONED, start, end)
    rows = rows.filter(flow=flow) if flow is not None else rows.filter(flow__isnull=True)
    mine = Q(channel=channel or EVERY)
    rows = rows.filter(mine | Q(channel=EVERY))

    def total(name: str) -> Sum:
        whole = name in WHOLE_SITE
        return Sum(name, filter=Q(channel=EVERY) if whole else mine)

    sums = rows.aggregate(
        **{name: total(name) for name in FUNNEL_SUMS},
        recovered_revenue=total("revenue"),
        after_delivery_revenue=total("after_delivery_revenue"),
        cost=total("cost"),
        contacts=total("contacts"),
        messaged_orders=total("messaged_orders"),
        messaged_orders_total=total("messaged_orders_total"),
    )
    repeats = _repeats(site, start, end).filter(
        Q(flow=flow) if flow is not None else Q(flow__isnull=True),
        step__isnull=True,
        channel=channel or EVERY,
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


def daily(
    *, site: Site, start: date, end: date, flow: Flow | None = None, channel: str | None = None
) -> list[Day]:
    """Sends, clicks and recovered revenue per day of the period (every day listed)."""
    rows = _rows(site, FiguresBasis.ACTIVITY, start, end)
    if flow is not None:
        rows = rows.filter(flow=flow)
    if channel is not None:
        rows = rows.filter(channel=channel)
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


def by_step_and_channel(
    *, site: Site, start: date, end: date, every_step: bool = False
) -> list[StepFigures]:
    """Per flow, step and channel: what went out in the period and what it brought back
    (the channels that did something only; with ``every_step``, a step that did nothing is
    listed once, with no channel)."""
    steps, split = _split(site, start, end)
    if not every_step:
        return split
    per_step: dict[int, list[StepFigures]] = {}
    for row in split:
        per_step.setdefault(row.step.pk, []).append(row)
    result: list[StepFigures] = []
    for step in steps:
        result.extend(
            per_step.get(step.pk) or [StepFigures(step, 0, 0, 0, 0, Decimal(0), Decimal(0))]
        )
    return result


def _split(site: Site, start: date, end: date) -> tuple[list[Step], list[StepFigures]]:
    steps = list(
        Step.objects.filter(flow__site=site)
        .select_related("flow")
        .order_by("flow__name", "flow_id", "position")
    )
    sums: dict[tuple[int, str], dict[str, Any]] = {
        (row["step"], row["channel"]): dict(row)
        for row in _rows(site, FiguresBasis.ACTIVITY, start, end)
        .values("step", "channel")
        .annotate(
            sent=Sum("sent"),
            delivered=Sum("delivered"),
            clicked=Sum("clicked"),
            converted=Sum("converted"),
            revenue=Sum("revenue"),
            cost=Sum("cost"),
            opt_outs=Sum("opt_outs"),
        )
    }
    extra_days = {
        (row["kind"], row["step"], row["channel"]): row["rows"] - row["members"]
        for row in _repeats(site, start, end)
        .filter(kind__in=(MemberKind.CLICKED, MemberKind.OPTED_OUT), step__isnull=False)
        .values("kind", "step", "channel")
        .annotate(rows=Count("pk"), members=Count("member", distinct=True))
    }
    channels = sorted({channel for _, channel in sums}, key=_channel_order)
    result = []
    for step in steps:
        for channel in channels:
            row = sums.get((step.pk, channel))
            if row is None:
                continue
            result.append(
                StepFigures(
                    step=step,
                    sent=row["sent"] or 0,
                    delivered=row["delivered"] or 0,
                    clicked=(row["clicked"] or 0)
                    - extra_days.get((MemberKind.CLICKED, step.pk, channel), 0),
                    converted=row["converted"] or 0,
                    revenue=row["revenue"] or Decimal(0),
                    cost=row["cost"] or Decimal(0),
                    channel=channel,
                    opt_outs=(row["opt_outs"] or 0)
                    - extra_days.get((MemberKind.OPTED_OUT, step.pk, channel), 0),
                )
            )
    return steps, result


def _channel_order(channel: str) -> int:
    known = [value for value, _ in DailyFigures._meta.get_field("channel").choices or []]
    return known.index(channel) if channel in known else len(known)


def by_step(*, site: Site, start: date, end: date, channel: str | None = None) -> list[StepFigures]:
    """Per flow and step (every step listed): what went out in the period and what it
    brought back, by every channel or by ``channel``."""
    steps, split = _split(site, start, end)
    return merge_channels(steps, split, channel)


def computed_at(*, site: Site, start: date, end: date) -> datetime | None:
    """When the period's figures were last counted (None: never rolled up yet)."""
    stamps = _rows(site, FiguresBasis.ABANDONED, start, end).filter(
        flow__isnull=True, channel=EVERY
    )
    latest: datetime | None = stamps.aggregate(latest=Max("computed_at"))["latest"]
    return latest

"""The overview's figures: **today read live** from the sends, taps and purchases (today is
small: bounded queries on indexed columns), **earlier days from the daily rollups**
(campaigns.rollups): a handful of aggregates over at most a few hundred rows, whatever the
shop's size. A message, a delivery report, a tap or a purchase of today shows at the next
page load; an earlier day's figures are those of its last roll-up (``computed_at``).

Today is the shop's day (its time zone) at the moment of the call. Today's distinct figures
are joined to the earlier days' without counting a member twice: the members of today seen on
an earlier day of the period (``DayMember``) are taken off.

Each function answers as its namesake in :mod:`campaigns.figures` (which defines every
figure and counts it from the sends) would have when the days were last rolled up.
Distinct figures (contacts messaged, opt-outs, sends tapped) are the days' counts less the
extra days of the members seen on more than one day (``DayMember.repeated``).

``channel`` (``"sms"``, ``"email"``; ``None`` for every channel) reads that channel's rows: its
part of the funnel with the whole site's abandoned, reachable and held-out carts (from the
every-channel rows, in the same query), and its steps' activity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from campaigns import figures as live
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
from campaigns.rollups import WHOLE_SITE, first_day, local_today
from retargeting.channels import Channel
from retargeting.channels.rooms import room
from retargeting.sites.models import Site

__all__ = [
    "FlowFigures",
    "bounds",
    "by_flow",
    "by_step",
    "by_step_and_channel",
    "computed_at",
    "daily",
    "delivery_reported",
    "funnel",
    "previous_period",
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


def _parts(site: Site, start: date, end: date) -> tuple[date | None, date | None]:
    """The period's last rolled-up day (None: no earlier day in it) and its live day (today,
    when in it)."""
    today = local_today(site)
    past_end = min(end, today - timedelta(days=1))
    return (past_end if start <= past_end else None), (today if start <= today <= end else None)


def _scope(flow: Flow | None) -> Q:
    return Q(flow=flow) if flow is not None else Q(flow__isnull=True)


def _seen_before(
    site: Site, start: date, today: date, kind: str, scope: Q, members: QuerySet[Any, int]
) -> int:
    """How many of today's ``members`` the rollups saw on an earlier day of the period."""
    return (
        DayMember.objects.filter(
            scope, site=site, kind=kind, day__gte=start, day__lt=today, member__in=members
        )
        .values("member")
        .distinct()
        .count()
    )


def funnel(
    *,
    site: Site,
    start: date,
    end: date,
    flow: Flow | None = None,
    channel: str | None = None,
) -> Funnel:
    """The funnel of the carts abandoned from ``start`` to ``end`` (days, inclusive): today's
    carts counted live, the earlier days' read from the rollups. The rollups keep a channel's
    part for the whole site only: a flow's funnel is every channel's."""
    if flow is not None and channel is not None:
        raise ValueError("a flow's funnel is rolled up for every channel together only")
    past_end, today = _parts(site, start, end)
    result = (
        _rolled_funnel(site, start, past_end, flow, channel) if past_end is not None else Funnel()
    )
    if today is None:
        return result
    now = live.funnel(site=site, start=today, end=today, flow=flow, channel=channel)
    for name in FUNNEL_SUMS:
        setattr(result, name, getattr(result, name) + getattr(now, name))
    result.recovered_revenue += now.recovered_revenue
    result.after_delivery_revenue += now.after_delivery_revenue
    result.cost += now.cost
    scope = _scope(flow) & Q(step__isnull=True, channel=channel or EVERY)
    contacts = _whole(result.extra, "contacts_messaged") + _whole(now.extra, "contacts_messaged")
    if past_end is not None:
        # A contact messaged (or opted out) today and on an earlier day counts once.
        result.opt_outs -= _seen_before(
            site,
            start,
            today,
            MemberKind.OPTED_OUT,
            scope,
            live.opted_out_contacts(site=site, start=today, end=today, flow=flow, channel=channel),
        )
        contacts -= _seen_before(
            site,
            start,
            today,
            MemberKind.MESSAGED,
            scope,
            live.messaged_contacts(site=site, start=today, end=today, flow=flow, channel=channel),
        )
    result.extra["contacts_messaged"] = contacts
    orders = _whole(result.extra, "messaged_orders") + _whole(now.extra, "messaged_orders")
    total = _amount(result.extra, "messaged_orders_total") + _amount(
        now.extra, "messaged_orders_total"
    )
    result.extra["messaged_orders"], result.extra["messaged_orders_total"] = orders, total
    result.extra.pop("messaged_average", None)
    if orders:
        result.extra["messaged_average"] = total / orders
    return result


def _whole(extra: dict[str, object], name: str) -> int:
    value = extra.get(name) or 0
    assert isinstance(value, int)
    return value


def _amount(extra: dict[str, object], name: str) -> Decimal:
    value = extra.get(name) or Decimal(0)
    assert isinstance(value, Decimal | int)
    return Decimal(value)


def _rolled_funnel(
    site: Site, start: date, end: date, flow: Flow | None, channel: str | None
) -> Funnel:
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
    result.extra["messaged_orders"] = sums["messaged_orders"] or 0
    result.extra["messaged_orders_total"] = sums["messaged_orders_total"] or Decimal(0)
    if sums["messaged_orders"]:
        result.extra["messaged_average"] = sums["messaged_orders_total"] / sums["messaged_orders"]
    return result


def daily(
    *, site: Site, start: date, end: date, flow: Flow | None = None, channel: str | None = None
) -> list[Day]:
    """Sends, clicks and recovered revenue per day of the period (every day listed); today's
    counted live."""
    past_end, today = _parts(site, start, end)
    rows = _rows(site, FiguresBasis.ACTIVITY, start, past_end or start - timedelta(days=1))
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
    if today is not None:
        (now,) = live.daily(site=site, start=today, end=today, flow=flow, channel=channel)
        per_day[today] = {"sends": now.sends, "clicks": now.clicks, "revenue": now.revenue}
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
    past_end, today = _parts(site, start, end)
    steps, rows = _rolled_split(site, start, past_end or start - timedelta(days=1))
    if today is None:
        return steps, rows
    opted_out = list(live.opted_out_by_step(site=site, start=today, end=today))
    now = live.by_step_and_channel(site=site, start=today, end=today, opted_out=opted_out)
    # A send tapped (a contact opted out) today and on an earlier day of the period counts once.
    before: dict[tuple[str, int, str], int] = {}
    if past_end is not None:
        clicked = list(live.clicked_sends(site=site, start=today, end=today))
        for kind, members in (
            (MemberKind.CLICKED, clicked),
            (MemberKind.OPTED_OUT, opted_out),
        ):
            wanted = {(step_id, channel, member) for step_id, channel, member in members}
            seen = (
                DayMember.objects.filter(
                    site=site,
                    kind=kind,
                    step__isnull=False,
                    day__gte=start,
                    day__lt=today,
                    member__in=sorted({member for _, _, member in wanted}),
                )
                .values_list("step", "channel", "member")
                .distinct()
            )
            for step_id, channel, member in seen:
                if (step_id, channel, member) in wanted:
                    before[(kind, step_id, channel)] = before.get((kind, step_id, channel), 0) + 1
    by_key = {(row.step.pk, row.channel): row for row in rows}
    for row in now:
        key = (row.step.pk, row.channel)
        earlier = by_key.get(key)
        clicked_before = before.get((MemberKind.CLICKED, *key), 0)
        opted_before = before.get((MemberKind.OPTED_OUT, *key), 0)
        if earlier is None:
            by_key[key] = row
            continue
        by_key[key] = replace(
            earlier,
            sent=earlier.sent + row.sent,
            delivered=earlier.delivered + row.delivered,
            clicked=earlier.clicked + row.clicked - clicked_before,
            converted=earlier.converted + row.converted,
            revenue=earlier.revenue + row.revenue,
            cost=earlier.cost + row.cost,
            opt_outs=earlier.opt_outs + row.opt_outs - opted_before,
        )
    channels = sorted({channel for _, channel in by_key}, key=_channel_order)
    merged = [
        by_key[(step.pk, channel)]
        for step in steps
        for channel in channels
        if (step.pk, channel) in by_key
    ]
    return steps, merged


def _rolled_split(site: Site, start: date, end: date) -> tuple[list[Step], list[StepFigures]]:
    steps = list(
        Step.objects.filter(flow__site=site)
        .select_related("flow")
        .order_by("flow__name", "flow_id", "position")
    )
    if start > end:
        return steps, []
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
    """As of when the period's figures are: now when it includes today (counted live), else
    when its days were last rolled up (None: never rolled up yet)."""
    _past_end, today = _parts(site, start, end)
    if today is not None:
        return timezone.now()
    return rolled_at(site=site, start=start, end=end)


def rolled_at(*, site: Site, start: date, end: date) -> datetime | None:
    """When the rolled-up days of the period were last counted (None: never, or none)."""
    past_end, _today = _parts(site, start, end)
    if past_end is None:
        return None
    stamps = _rows(site, FiguresBasis.ABANDONED, start, past_end).filter(
        flow__isnull=True, channel=EVERY
    )
    latest: datetime | None = stamps.aggregate(latest=Max("computed_at"))["latest"]
    return latest


def not_rolled_up(*, site: Site, start: date, end: date) -> int:
    """How many earlier days of the period were never rolled up (shown as not counted yet)."""
    past_end, _today = _parts(site, start, end)
    if past_end is None:
        return 0
    first = max(start, first_day(site))
    if first > past_end:
        return 0
    done = (
        _rows(site, FiguresBasis.ABANDONED, first, past_end)
        .filter(flow__isnull=True, channel=EVERY)
        .count()
    )
    return (past_end - first).days + 1 - done


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before ``start``..``end``."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def delivery_reported(channel: str | None = None) -> bool:
    """Whether the route of ``channel`` (None: of every channel that can send) reports each
    message's delivery (its provider's ``reports_delivery``). Where it does not, delivered is
    unknown: the overview says so rather than showing 0."""
    channels = [channel] if channel else list(Channel.values)
    routes = [room(Channel(one)) for one in channels]
    return all(route.gateway().reports_delivery for route in routes if channel or route.available())

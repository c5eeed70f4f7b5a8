"""The dashboard's daily rollups: each day's figures counted once, so the overview adds up a
few rows instead of counting millions of sends.

A day (in the site's time zone) is rolled up by running the definitions of
:mod:`campaigns.figures` for that one day, for the whole site and for each flow, and storing
what they return (:class:`~campaigns.models.DailyFigures`), with the members of its distinct
figures (:class:`~campaigns.models.DayMember`). Rolling a day up again replaces its rows.

Which days can still change, and so are rolled up again:

- the **last three days**, every five minutes (:func:`roll_up_recent`): a cart's reminders go
  out within 48 h of its last change (older ones are dropped as stale), delivery reports
  follow within hours, and most taps and purchases come within the hour;
- **every day still open**, each night (:func:`roll_up_open_days`): a link can be tapped
  until it expires (``Site.link_ttl_days``, 30 days) and a purchase is attributed to a tap
  for ``Site.attribution_window_days`` (5) after it, so the carts abandoned on a day can gain
  a tap or a recovered sale for 2 + 30 + 5 days; an opt-out counts within 7 days of a message.
  Something later than that (a cart bought after five weeks) no longer moves the figures;
- **a day never rolled up** (a fresh install, a shop whose history was imported) is rolled up
  by the next five-minute run, by ``manage.py dispatch`` and by ``manage.py roll_up_figures``.

Today is rolled up with the recent days too, but the overview does not read today's rollup:
it counts today live at each page load (campaigns.dashboard.figures) and reads the rollups of
the earlier days only (``computed_at`` says as of when). The scheduler also asks for a run
when it starts (``retargeting.celery``), so a fresh install's days are counted at start-up.

Every trigger: the funnel rows are the cart flows' (and the site's, of its carts); the activity
rows are every flow's, whatever its trigger, with the opt-outs after each step's messages
(their members kept per step, ``DayMember.step``).

By channel: each day has the site's funnel for every channel (``channel=""``) and, for each
channel that sent something to the day's carts, that channel's part of it (what it sent and
what came of it; the whole-site stages stay on the ``""`` row); activity rows are per step and
channel. When one channel sent everything (the rule until email came), its part is the whole
funnel's, copied rather than counted again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from copy import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns import figures
from campaigns.models import (
    ALL_CHANNELS,
    DailyFigures,
    DayMember,
    FiguresBasis,
    Flow,
    MemberKind,
    Send,
    Step,
)
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart

logger = logging.getLogger(__name__)

_Row = TypeVar("_Row", DailyFigures, DayMember)
RECENT_DAYS = 3
STALENESS_DAYS = 2
OPT_OUT_DAYS = figures.OPT_OUT_WINDOW.days
# SQLite's limit on a statement's parameters is far above this; PostgreSQL has none.
CHUNK = 2000


def open_days(site: Site) -> int:
    """How many days back (today included) the carts abandoned on a day can still change."""
    return STALENESS_DAYS + max(site.link_ttl_days + site.attribution_window_days, OPT_OUT_DAYS) + 1


def local_today(site: Site, now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now(), timezone=ZoneInfo(site.time_zone))


def first_day(site: Site) -> date:
    """The first day the site has figures for: its creation, or its first send if older (an
    imported history)."""
    zone = ZoneInfo(site.time_zone)
    first = timezone.localdate(site.created_at, timezone=zone)
    oldest = (
        Send.objects.filter(site=site)
        .order_by("planned_at")
        .values_list("planned_at", flat=True)[:1]
    )
    if oldest:
        first = min(first, timezone.localdate(oldest[0], timezone=zone))
    return first


def missing_days(site: Site, today: date) -> list[date]:
    """The days from the site's first to ``today`` that were never rolled up."""
    start = first_day(site)
    done = set(
        DailyFigures.objects.filter(
            site=site,
            basis=FiguresBasis.ABANDONED,
            flow__isnull=True,
            channel=ALL_CHANNELS[0],
            day__gte=start,
        ).values_list("day", flat=True)
    )
    return [day for day in days(start, today) if day not in done]


def days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def recent_days(site: Site, now: datetime | None = None) -> list[date]:
    """The days never rolled up and the last RECENT_DAYS, oldest first."""
    today = local_today(site, now)
    recent = days(today - timedelta(days=RECENT_DAYS - 1), today)
    return sorted(set(missing_days(site, today)) | set(recent))


def still_open(site: Site, now: datetime | None = None) -> list[date]:
    """Every day whose figures can still change, oldest first."""
    today = local_today(site, now)
    return list(days(today - timedelta(days=open_days(site) - 1), today))


def roll_up_recent(*, now: datetime | None = None) -> dict[str, int]:
    """Every five minutes (and at each ``manage.py dispatch``): for each site, the days never
    rolled up and the last three."""
    return _for_each_site(recent_days, now)


def roll_up_open_days(*, now: datetime | None = None) -> dict[str, int]:
    """Every night: for each site, every day whose figures can still change."""
    return _for_each_site(still_open, now)


def _for_each_site(
    which: Callable[[Site, datetime | None], list[date]], now: datetime | None
) -> dict[str, int]:
    sites = count = 0
    for site in Site.objects.order_by("pk"):
        chosen = which(site, now)
        roll_up(site=site, days=chosen)
        sites, count = sites + 1, count + len(chosen)
    return {"sites": sites, "days": count}


def roll_up(*, site: Site, days: Iterable[date]) -> None:
    """Count and store the figures of ``days`` for ``site``, each day in one transaction."""
    for day in days:
        roll_up_day(site=site, day=day)


def roll_up_day(*, site: Site, day: date) -> None:
    """Replace the rollups of one day of ``site`` with what :mod:`campaigns.figures` counts,
    in one transaction (the day's counts are of one moment)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A day's counts are thousands of index lookups: PostgreSQL's JIT, which their
            # estimated cost triggers, spent 1.4 s of 2 s compiling them at 1,000,000 sends.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        rows, members = _count(site, day)
        # One writer per site at a time: two runs replacing the same day never interleave.
        Site.objects.select_for_update().filter(pk=site.pk).values_list("pk").get()
        before = DayMember.objects.filter(site=site, day=day)
        touched = {(kind, member) for kind, member in before.values_list("kind", "member")}
        DailyFigures.objects.filter(site=site, day=day).delete()
        before.delete()
        DailyFigures.objects.bulk_create(rows, batch_size=500)
        DayMember.objects.bulk_create(members, batch_size=CHUNK)
        touched |= {(one.kind, one.member) for one in members}
        _mark_repeated(site, touched)


def _count(site: Site, day: date) -> tuple[list[DailyFigures], list[DayMember]]:
    computed_at = timezone.now()
    # The funnel is the carts': a flow of another trigger has none (its activity rows below).
    cart_flows = [
        flow
        for flow in Flow.objects.filter(site=site).order_by("pk")
        if figures.has_cart(flow.trigger)
    ]
    flows: list[Flow | None] = [None, *cart_flows]
    carts = _listed(figures.cohort(site=site, start=day, end=day))
    rows: list[DailyFigures] = []
    members: list[DayMember] = []
    every = ALL_CHANNELS[0]
    for flow in flows:
        funnel = figures.funnel(site=site, start=day, end=day, flow=flow, carts=carts)
        rows.append(_abandoned_row(site, day, flow, funnel, computed_at, every))
        members.extend(_funnel_members(site, day, flow, carts, every))
    channels = figures.channels_sent(site=site, carts=carts)
    for channel in channels:
        if len(channels) == 1:
            # One channel sent everything: its part is the whole funnel's (but for the
            # whole-site stages), and its members the same contacts.
            alone = _copied(rows[0], channel=channel, **dict.fromkeys(WHOLE_SITE, 0))
            rows.append(alone)
            members.extend(
                _copied(one, channel=channel)
                for one in list(members)
                if one.flow_id is None and one.channel == every
            )
            break
        funnel = figures.funnel(
            site=site, start=day, end=day, carts=carts, channel=channel, whole_site=False
        )
        rows.append(_abandoned_row(site, day, None, funnel, computed_at, channel))
        members.extend(_funnel_members(site, day, None, carts, channel))
    taps = figures.taps_by_step(site=site, start=day, end=day)
    step_flows = dict(Step.objects.filter(flow__site=site).values_list("pk", "flow_id"))
    opted_out = list(figures.opted_out_by_step(site=site, start=day, end=day))
    for step_figures in figures.by_step_and_channel(
        site=site, start=day, end=day, opted_out=opted_out
    ):
        step, channel = step_figures.step, step_figures.channel
        rows.append(
            DailyFigures(
                site=site,
                basis=FiguresBasis.ACTIVITY,
                flow_id=step.flow_id,
                step=step,
                channel=channel,
                day=day,
                sent=step_figures.sent,
                delivered=step_figures.delivered,
                clicked=step_figures.clicked,
                taps=taps.get((step.pk, channel), 0),
                converted=step_figures.converted,
                revenue=step_figures.revenue,
                cost=step_figures.cost,
                opt_outs=step_figures.opt_outs,
                computed_at=computed_at,
            )
        )
    members.extend(
        DayMember(
            site=site,
            flow_id=step_flows.get(step_id),
            step_id=step_id,
            kind=MemberKind.OPTED_OUT,
            channel=channel,
            day=day,
            member=contact_id,
        )
        for step_id, channel, contact_id in opted_out
    )
    members.extend(
        DayMember(
            site=site,
            flow_id=step_flows.get(step_id),
            step_id=step_id,
            kind=MemberKind.CLICKED,
            channel=channel,
            day=day,
            member=send_id,
        )
        for step_id, channel, send_id in figures.clicked_sends(site=site, start=day, end=day)
    )
    return rows, members


def _copied(row: _Row, **changes: Any) -> _Row:
    """An unsaved copy of ``row`` with ``changes``."""
    twin = copy(row)
    twin.pk = None
    for name, value in changes.items():
        setattr(twin, name, value)
    return twin


WHOLE_SITE = ("abandoned", "reachable", "held_out", "holdout_converted")
"""The funnel's stages that are the whole site's, kept on the every-channel row only."""


def _funnel_members(
    site: Site, day: date, flow: Flow | None, carts: QuerySet[Cart], channel: str
) -> Iterator[DayMember]:
    for kind, ids in (
        (MemberKind.MESSAGED, figures.messaged_contacts),
        (MemberKind.OPTED_OUT, figures.opted_out_contacts),
    ):
        for member in ids(
            site=site, start=day, end=day, flow=flow, carts=carts, channel=channel or None
        ):
            yield DayMember(
                site=site, flow=flow, kind=kind, channel=channel, day=day, member=member
            )


def _listed(carts: QuerySet[Cart]) -> QuerySet[Cart]:
    """The day's carts found once: the period's carts are read by a dozen counts, and finding
    them by their last change is a scan of the site's carts (carts have no index for it).
    On PostgreSQL their ids go as one array; SQLite, the embedded mode, keeps the query."""
    if connection.vendor != "postgresql":
        return carts
    ids = list(carts.values_list("pk", flat=True))
    return Cart.objects.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", (ids,)))


def _mark_repeated(site: Site, touched: set[tuple[str, int]]) -> None:
    """Set ``repeated`` on every row of the members of ``touched``: seen on more than one day
    of the same scope (flow, step)."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, member in touched:
        by_kind[kind].append(member)
    for kind, ids in by_kind.items():
        for chunk in _chunks(sorted(ids)):
            scoped = DayMember.objects.filter(site=site, kind=kind, member__in=chunk)
            counts = scoped.values("flow", "step", "channel", "member").annotate(n=Count("pk"))
            repeated: dict[tuple[int | None, int | None, str], list[int]] = defaultdict(list)
            for row in counts:
                if row["n"] > 1:
                    repeated[(row["flow"], row["step"], row["channel"])].append(row["member"])
            scoped.filter(repeated=True).update(repeated=False)
            for (flow_id, step_id, channel), members in repeated.items():
                scoped.filter(_scope(flow_id, step_id), channel=channel, member__in=members).update(
                    repeated=True
                )


def _scope(flow_id: int | None, step_id: int | None) -> Q:
    flow = Q(flow__isnull=True) if flow_id is None else Q(flow_id=flow_id)
    return flow & (Q(step__isnull=True) if step_id is None else Q(step_id=step_id))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for index in range(0, len(ids), CHUNK):
        yield ids[index : index + CHUNK]


def _abandoned_row(
    site: Site,
    day: date,
    flow: Flow | None,
    funnel: figures.Funnel,
    computed_at: datetime,
    channel: str,
) -> DailyFigures:
    extra: dict[str, Any] = funnel.extra
    return DailyFigures(
        site=site,
        basis=FiguresBasis.ABANDONED,
        flow=flow,
        channel=channel,
        day=day,
        abandoned=funnel.abandoned,
        reachable=funnel.reachable,
        held_out=funnel.held_out,
        sent=funnel.sent,
        delivered=funnel.delivered,
        clicked=funnel.clicked,
        converted=funnel.converted,
        revenue=funnel.recovered_revenue,
        after_delivery=funnel.after_delivery,
        after_delivery_revenue=funnel.after_delivery_revenue,
        messages=funnel.messages,
        segments=funnel.segments,
        cost=funnel.cost,
        contacts=extra["contacts_messaged"],
        opt_outs=funnel.opt_outs,
        messaged_converted=funnel.messaged_converted,
        holdout_converted=funnel.holdout_converted,
        messaged_orders=extra["messaged_orders"],
        messaged_orders_total=Decimal(extra["messaged_orders_total"]),
        computed_at=computed_at,
    )

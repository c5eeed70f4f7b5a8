"""The marketer's dashboard: the carts' funnel, what it earned, a daily chart, a table per flow
(every trigger, with its trigger's name) and one per step, for every channel or one
(``?channel=sms|email``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.corrections import excluded_in_period
from campaigns.dashboard import figures, formatting
from campaigns.dashboard.charts import Measure, small_multiples
from campaigns.dashboard.explanations import channel_label
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.figures import Funnel, StepFigures, by_flow
from campaigns.triggers import trigger_label
from retargeting.channels import Channel

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _period(request: HttpRequest, today: date) -> tuple[date, date]:
    try:
        end = date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        end = today
    try:
        start = date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    return max(start, end - timedelta(days=MAX_DAYS - 1)), end


def channel_filter(request: HttpRequest) -> str | None:
    """The channel the page is narrowed to (None: every channel; anything unknown too)."""
    channel = request.GET.get("channel", "")
    return channel if channel in Channel.values else None


def channel_choices() -> list[tuple[str, str]]:
    """The channel filter's options: every channel, then each one."""
    return [("", _("All channels")), *((value, channel_label(value)) for value in Channel.values)]


def change(now: float | int | Decimal | None, before: float | int | Decimal | None) -> str:
    """A figure's change from the previous period: ``+12 %``, ``−5 %``, ``=`` when the same,
    ``new`` when the previous period had none, ``–`` when there is nothing to compare."""
    if now is None or before is None:
        return "–"
    if before == 0:
        return _("new") if now else "="
    ratio = (float(now) - float(before)) / float(before)
    if abs(ratio) < 0.0005:
        return "="
    shown = formatting.percent(abs(ratio), 0 if abs(ratio) >= 0.1 else 1)
    return f"+{shown}" if ratio > 0 else f"\u2212{shown}"


def points(now: float | None, before: float | None) -> str:
    """A rate's change in percentage points: ``+1,5 pt`` / ``+1.5 pt``."""
    if now is None or before is None:
        return "–"
    moved = (now - before) * 100
    if abs(moved) < 0.05:
        return "="
    shown = formatting.number(abs(moved), 1)
    return f"+{shown} pt" if moved > 0 else f"\u2212{shown} pt"


@dataclass(frozen=True)
class Figure:
    """One figure of the overview beside the previous period's."""

    key: str
    label: str
    value: str
    previous: str
    change: str


def _figures(
    funnel: Funnel, before: Funnel, every: tuple[Decimal, int], every_before: tuple[Decimal, int]
) -> list[Figure]:
    money = formatting.money
    rate = formatting.percent

    def ratio(value: Decimal | None) -> str:
        return f"× {formatting.number(value, 1)}" if value is not None else "–"

    return [
        Figure(
            "recovered",
            _("recovered revenue (purchases after a click)"),
            money(funnel.recovered_revenue),
            money(before.recovered_revenue),
            change(funnel.recovered_revenue, before.recovered_revenue),
        ),
        Figure(
            "incremental",
            _("incremental revenue vs. the holdout group")
            + ("" if funnel.incremental_revenue is not None else f" ({_('no holdout group')})"),
            money(funnel.incremental_revenue),
            money(before.incremental_revenue),
            change(funnel.incremental_revenue, before.incremental_revenue),
        ),
        Figure(
            "cost",
            _(
                "cost of messages (%(messages)s messages, %(segments)s SMS segments; an email "
                "costs nothing per message)"
            )
            % {
                "messages": formatting.number(funnel.messages),
                "segments": formatting.number(funnel.segments),
            },
            money(funnel.cost),
            money(before.cost),
            change(funnel.cost, before.cost),
        ),
        Figure(
            "return",
            _("return on the cost of messages"),
            ratio(funnel.return_on_cost),
            ratio(before.return_on_cost),
            change(funnel.return_on_cost, before.return_on_cost),
        ),
        Figure(
            "after-delivery",
            ngettext(
                "%(count)s purchase after a message not tapped (not counted above)",
                "%(count)s purchases after a message not tapped (not counted above)",
                funnel.after_delivery,
            )
            % {"count": formatting.number(funnel.after_delivery)},
            money(funnel.after_delivery_revenue),
            money(before.after_delivery_revenue),
            change(funnel.after_delivery_revenue, before.after_delivery_revenue),
        ),
        Figure(
            "conversion",
            _("conversion: messaged / held out"),
            f"{rate(funnel.messaged_rate)} / {rate(funnel.holdout_rate)}",
            f"{rate(before.messaged_rate)} / {rate(before.holdout_rate)}",
            points(funnel.messaged_rate, before.messaged_rate),
        ),
        Figure(
            "every-cost",
            ngettext(
                "cost of every flow's messages sent in the period (%(count)s message, every "
                "trigger)",
                "cost of every flow's messages sent in the period (%(count)s messages, every "
                "trigger)",
                every[1],
            )
            % {"count": formatting.number(every[1])},
            money(every[0]),
            money(every_before[0]),
            change(every[0], every_before[0]),
        ),
        Figure(
            "opt-outs",
            _("opt-out rate (%(stops)s STOP or unsubscribes)")
            % {"stops": formatting.number(funnel.opt_outs)},
            rate(funnel.opt_out_rate),
            rate(before.opt_out_rate),
            points(funnel.opt_out_rate, before.opt_out_rate),
        ),
    ]


@dataclass(frozen=True)
class Stage:
    """One stage of the funnel: its count (None: not reported on this route), its share of
    the stage it follows, its bar, and the previous period's count with the change."""

    key: str
    label: str
    count: int | None
    shown: str
    rate: str
    width: int
    previous: str
    change: str


def stages(funnel: Funnel, before: Funnel, *, delivery_reported: bool) -> list[Stage]:
    """The funnel, never going up: each stage is a subset of the one before it (a tapped
    message counts as delivered). Where the route reports no delivery, "delivered" says so
    and the next stage's rate divides by the sent."""
    rows = [
        ("abandoned", _("Carts abandoned"), funnel.abandoned, before.abandoned),
        ("reachable", _("Reachable (consent)"), funnel.reachable, before.reachable),
        ("sent", _("Sent"), funnel.sent, before.sent),
        ("delivered", _("Delivered"), funnel.delivered, before.delivered),
        ("clicked", _("Clicked"), funnel.clicked, before.clicked),
        ("converted", _("Converted after a click"), funnel.converted, before.converted),
    ]
    top = max(funnel.abandoned, funnel.reachable, funnel.sent, 1)
    result: list[Stage] = []
    base: int | None = None
    for key, label, count, previous in rows:
        if key == "delivered" and not delivery_reported:
            result.append(
                Stage(key, label, None, _("no delivery reports on this route"), "", 0, "–", "–")
            )
            continue
        result.append(
            Stage(
                key,
                label,
                count,
                formatting.number(count),
                formatting.percent(count / base) if base else "",
                round(count * 100 / top),
                formatting.number(previous),
                change(count, previous),
            )
        )
        base = count
    return result


@dashboard_page
def dashboard(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    today = timezone.localdate(timezone=ZoneInfo(site.time_zone))
    start, end = _period(request, today)
    before_start, before_end = figures.previous_period(start, end)
    channel = channel_filter(request)
    funnel = figures.funnel(site=site, start=start, end=end, channel=channel)
    before = figures.funnel(site=site, start=before_start, end=before_end, channel=channel)
    days = figures.daily(site=site, start=start, end=end, channel=channel)
    # Every channel: a row per step and channel that did something (a step that did nothing
    # is listed once); one channel: a row per step.
    steps = (
        figures.by_step(site=site, start=start, end=end, channel=channel)
        if channel
        else figures.by_step_and_channel(site=site, start=start, end=end, every_step=True)
    )
    flows = by_flow(list(steps))
    flows_before = by_flow(
        figures.by_step(site=site, start=before_start, end=before_end, channel=channel)
    )
    now = timezone.now()
    live = start <= today <= end
    rolled_at = figures.rolled_at(site=site, start=start, end=end)
    missing = figures.not_rolled_up(site=site, start=start, end=end)
    # Figures a correction changed say so (records are facts; corrections are shown).
    excluded = excluded_in_period(site=site, start=start, end=end)
    reported = figures.delivery_reported(channel)

    def revenue(row: StepFigures | figures.FlowFigures) -> str:
        # A transactional message is never credited with a sale: not "0 € recovered".
        return (
            _("transactional: no revenue attributed")
            if row.transactional
            else formatting.money(row.revenue)
        )

    routes: dict[str, bool] = {}

    def delivered(row: StepFigures | figures.FlowFigures, channel: str | None) -> str:
        if (channel or "") not in routes:
            routes[channel or ""] = figures.delivery_reported(channel or None)
        if not routes[channel or ""]:
            return _("not reported on this route")
        return formatting.number(row.delivered)

    def day_label(day: date) -> str:
        # "8 déc" in French (months in lower case), "8 Dec" in English.
        french = (translation.get_language() or "").startswith("fr")
        return formats.date_format(day, "j b" if french else "j M")

    chart = small_multiples(
        [day.day for day in days],
        [
            Measure(
                _("Messages sent (per day)"),
                [day.sends for day in days],
                lambda value: formatting.number(value),
                "#0f766e",
                "sent",
            ),
            Measure(
                _("Clicks (taps per day)"),
                [day.clicks for day in days],
                lambda value: formatting.number(value),
                "#2563eb",
                "clicks",
            ),
            Measure(
                _("Recovered revenue (€ per day)"),
                [day.revenue for day in days],
                lambda value: formatting.money(Decimal(str(value))),
                "#b45309",
                "revenue",
            ),
        ],
        day_label=day_label,
    )
    every = (sum((row.cost for row in flows), Decimal(0)), sum(row.sent for row in flows))
    every_before = (
        sum((row.cost for row in flows_before), Decimal(0)),
        sum(row.sent for row in flows_before),
    )
    return render(
        request,
        "campaigns/dashboard.html",
        frame.context(
            section="overview",
            live=live,
            as_of=formatting.clock(now, site=site)
            if live
            else formatting.when(rolled_at, site=site),
            rolled_at=formatting.when(rolled_at, site=site) if rolled_at else None,
            counted=live or rolled_at is not None,
            missing=missing,
            zone=formatting.zone_label(site),
            start=start,
            end=end,
            period=(formatting.day(start), formatting.day(end)),
            previous=(formatting.day(before_start), formatting.day(before_end)),
            channel=channel or "",
            channels=channel_choices(),
            excluded=excluded,
            stages=stages(funnel, before, delivery_reported=reported),
            delivery_reported=reported,
            funnel=funnel,
            kpis=_figures(funnel, before, every, every_before),
            chart=chart,
            days=[
                (
                    formatting.day(day.day),
                    formatting.number(day.sends),
                    formatting.number(day.clicks),
                    formatting.money(day.revenue),
                )
                for day in days
            ],
            steps=[
                {
                    "row": row,
                    "channel": channel_label(row.channel) if row.channel else "–",
                    "sent": formatting.number(row.sent),
                    "delivered": delivered(row, row.channel or channel),
                    "clicked": formatting.number(row.clicked),
                    "converted": formatting.number(row.converted),
                    "revenue": revenue(row),
                    "cost": formatting.money(row.cost),
                    "opt_outs": formatting.number(row.opt_outs),
                }
                for row in steps
            ],
            flows=[
                {
                    "row": row,
                    "trigger": trigger_label(row.trigger),
                    "sent": formatting.number(row.sent),
                    "delivered": delivered(row, channel),
                    "clicked": formatting.number(row.clicked),
                    "converted": formatting.number(row.converted),
                    "revenue": revenue(row),
                    "cost": formatting.money(row.cost),
                    "opt_outs": formatting.number(row.opt_outs),
                }
                for row in flows
            ],
        ),
    )

"""The marketer's dashboard: the carts' funnel, what it earned, a daily chart, a table per flow
(every trigger, with its trigger's name) and one per step, for every channel or one
(``?channel=sms|email``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from campaigns.corrections import excluded_in_period
from campaigns.dashboard import figures
from campaigns.dashboard.charts import Series, line_chart
from campaigns.dashboard.explanations import channel_label
from campaigns.dashboard.frame import Frame, dashboard_page
from campaigns.figures import StepFigures, by_flow
from campaigns.money import format_money
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


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    percent = formats.number_format(value * 100, 1)
    return f"{percent} %" if translation.get_language() == "fr" else f"{percent}%"


@dashboard_page
def dashboard(request: HttpRequest, *, frame: Frame) -> HttpResponse:
    site = frame.site
    today = timezone.localdate(timezone=ZoneInfo(site.time_zone))
    start, end = _period(request, today)
    channel = channel_filter(request)
    funnel = figures.funnel(site=site, start=start, end=end, channel=channel)
    days = figures.daily(site=site, start=start, end=end, channel=channel)
    # Every channel: a row per step and channel that did something (a step that did nothing
    # is listed once); one channel: a row per step.
    steps = (
        figures.by_step(site=site, start=start, end=end, channel=channel)
        if channel
        else figures.by_step_and_channel(site=site, start=start, end=end, every_step=True)
    )
    counted_at = figures.computed_at(site=site, start=start, end=end)
    # Figures a correction changed say so (records are facts; corrections are shown).
    excluded = excluded_in_period(site=site, start=start, end=end)

    def money(amount: Decimal) -> str:
        return format_money(amount, settings.SMS_PRICE_CURRENCY, site.language)

    def revenue(row: StepFigures | figures.FlowFigures) -> str:
        # A transactional message is never credited with a sale: not "0 € recovered".
        return (
            _("transactional: no revenue attributed") if row.transactional else money(row.revenue)
        )

    flows = by_flow(list(steps))

    stages = [
        (_("Carts abandoned"), funnel.abandoned),
        (_("Reachable (consent)"), funnel.reachable),
        (_("Sent"), funnel.sent),
        (_("Delivered"), funnel.delivered),
        (_("Clicked"), funnel.clicked),
        (_("Converted after a click"), funnel.converted),
    ]
    top = max((count for _, count in stages), default=0) or 1
    chart = line_chart(
        [formats.date_format(day.day, "SHORT_DATE_FORMAT")[:5] for day in days],
        [
            Series(_("Messages sent"), [day.sends for day in days], "#0f766e"),
            Series(_("Clicks"), [day.clicks for day in days], "#2563eb"),
            Series(_("Revenue"), [day.revenue for day in days], "#b45309"),
        ],
        title=_("Sends, clicks and recovered revenue per day"),
    )
    return render(
        request,
        "campaigns/dashboard.html",
        frame.context(
            section="overview",
            counted_at=(
                formats.date_format(
                    timezone.localtime(counted_at, ZoneInfo(site.time_zone)),
                    "SHORT_DATETIME_FORMAT",
                )
                if counted_at
                else None
            ),
            start=start,
            end=end,
            channel=channel or "",
            channels=channel_choices(),
            excluded=excluded,
            stages=[(label, count, round(count * 100 / top)) for label, count in stages],
            funnel=funnel,
            recovered=money(funnel.recovered_revenue),
            after_delivery=money(funnel.after_delivery_revenue),
            incremental=(
                money(funnel.incremental_revenue)
                if funnel.incremental_revenue is not None
                else None
            ),
            cost=money(funnel.cost),
            messaged_rate=_rate(funnel.messaged_rate),
            holdout_rate=_rate(funnel.holdout_rate),
            opt_out_rate=_rate(funnel.opt_out_rate),
            chart=chart,
            steps=[
                (
                    row,
                    channel_label(row.channel) if row.channel else "–",
                    revenue(row),
                    money(row.cost),
                )
                for row in steps
            ],
            flows=[
                (row, trigger_label(row.trigger), revenue(row), money(row.cost)) for row in flows
            ],
            every_cost=money(sum((row.cost for row in flows), Decimal(0))),
            every_sent=sum(row.sent for row in flows),
        ),
    )

"""The daily rollups give the dashboard the same figures as counting the sends themselves."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from campaigns import figures as live
from campaigns import rollups
from campaigns.dashboard import figures as rolled
from campaigns.models import (
    Click,
    Conversion,
    DailyFigures,
    DayMember,
    MemberKind,
    SendStatus,
    ShortLink,
)
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.celery import app
from retargeting.tracking.models import Cart
from tests.campaigns.test_figures import NOW, data  # noqa: F401 - the known data set
from tests.factories import ContactFactory, SendFactory, VisitorFactory

pytestmark = pytest.mark.django_db
# Paris leaves summer time at 01:00 UTC on 25 October 2026: that day has 25 hours.
RANGES = [
    (date(2026, 11, 10), date(2026, 11, 10)),
    (date(2026, 11, 9), date(2026, 11, 11)),
    (date(2026, 10, 24), date(2026, 10, 25)),
    (date(2026, 10, 25), date(2026, 10, 26)),
    (date(2026, 10, 26), date(2026, 10, 26)),
    (date(2026, 10, 20), date(2026, 11, 23)),
]


def _consenting(site):
    contact = ContactFactory(site=site)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.ADMIN,
        at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    return contact


def _cart(site, name, at, *, status="open"):
    return Cart.objects.create(
        site=site,
        visitor=VisitorFactory(site=site),
        external_id=name,
        total=Decimal("80"),
        item_count=1,
        items=[{"name": "Robe", "quantity": 1}],
        created_at=at,
        last_change_at=at,
    )


def _send(cart, step, contact, *, status=SendStatus.DELIVERED, at=None):
    at = at or cart.last_change_at + timedelta(minutes=30)
    held = status == SendStatus.HELD_OUT
    send = SendFactory(
        cart=cart,
        step=step,
        contact=contact,
        status=status,
        planned_at=at - timedelta(minutes=1),
        due_at=at,
        sent_at=None if held else at,
        segments=0 if held else 1,
        cost=None if held else Decimal("0.045"),
    )
    link = None
    if not held:
        link = ShortLink.objects.create(
            send=send,
            code=f"dst{send.pk:06}",
            target_url="https://shop.example/",
            created_at=at,
            expires_at=at + timedelta(days=30),
        )
    return send, link


@pytest.fixture
def around_dst(site, data):  # noqa: F811
    """Carts either side of the change of time, and members counted on more than one day.

    - contact A: a cart at 23:30 on the 24th (summer time) and one at 23:30 on the 25th
      (winter time), both messaged; A says STOP on the 26th, within 7 days of both;
    - contact B: a cart at 00:30 on the 25th, messaged; its link tapped at 00:30 on the 26th
      and again on the 27th, when B buys (60 €);
    - contact C: a cart at 00:30 on the 26th, held out;
    - an anonymous cart on the 26th at 13:00, never messaged.
    """
    step = data.steps.get(position=1)
    with time_machine.travel(NOW, tick=False):
        a, b, c = (_consenting(site) for _ in range(3))
        first = _cart(site, "a1", datetime(2026, 10, 24, 21, 30, tzinfo=UTC))
        second = _cart(site, "a2", datetime(2026, 10, 25, 22, 30, tzinfo=UTC))
        _send(first, step, a)
        _send(second, step, a)
        cart_b = _cart(site, "b1", datetime(2026, 10, 24, 22, 30, tzinfo=UTC))
        send_b, link_b = _send(cart_b, step, b)
        for at in (
            datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
            datetime(2026, 10, 27, 9, 0, tzinfo=UTC),
        ):
            Click.objects.create(link=link_b, at=at)
        bought = datetime(2026, 10, 27, 9, 30, tzinfo=UTC)
        Cart.objects.filter(pk=cart_b.pk).update(status="converted", converted_at=bought)
        Conversion.objects.create(
            site=site,
            order_id="b-order",
            total=Decimal("60"),
            currency="EUR",
            cart=cart_b,
            contact=b,
            send=send_b,
            attribution="clicked",
            occurred_at=bought,
        )
        _send(
            _cart(site, "c1", datetime(2026, 10, 25, 23, 30, tzinfo=UTC)),
            step,
            c,
            status=SendStatus.HELD_OUT,
        )
        _cart(site, "anonymous", datetime(2026, 10, 26, 12, 0, tzinfo=UTC))
        record_consent(
            contact=a,
            status=ConsentStatus.REVOKED,
            source=ConsentSource.KEYWORD,
            at=datetime(2026, 10, 26, 10, 0, tzinfo=UTC),
        )
    return data


def _funnel(result):
    return {
        **asdict(result),
        "contacts_messaged": result.extra.get("contacts_messaged"),
        "messaged_average": result.extra.get("messaged_average"),
        "messaged_rate": result.messaged_rate,
        "holdout_rate": result.holdout_rate,
        "incremental_revenue": result.incremental_revenue,
        "opt_out_rate": result.opt_out_rate,
        "return_on_cost": result.return_on_cost,
        "extra": None,
    }


def _steps(rows):
    return [
        (
            row.step.pk,
            row.channel,
            row.sent,
            row.delivered,
            row.clicked,
            row.converted,
            row.revenue,
            row.cost,
        )
        for row in rows
    ]


def assert_same_figures(site, flow, ranges=RANGES):
    for start, end in ranges:
        period = {"site": site, "start": start, "end": end}
        for scope in (None, flow):
            assert _funnel(rolled.funnel(**period, flow=scope)) == _funnel(
                live.funnel(**period, flow=scope)
            ), (start, end, scope)
            assert rolled.daily(**period, flow=scope) == live.daily(**period, flow=scope)
        for channel in (None, "sms", "email"):
            assert _funnel(rolled.funnel(**period, channel=channel)) == _funnel(
                live.funnel(**period, channel=channel)
            ), (start, end, channel)
            assert rolled.daily(**period, channel=channel) == live.daily(**period, channel=channel)
            assert _steps(rolled.by_step(**period, channel=channel)) == _steps(
                live.by_step(**period, channel=channel)
            ), (start, end, channel)
        assert _steps(rolled.by_step_and_channel(**period)) == _steps(
            live.by_step_and_channel(**period)
        ), (start, end)


@time_machine.travel(NOW, tick=False)
def test_every_figure_of_the_rollups_equals_counting_the_sends(site, around_dst):
    rollups.roll_up_recent()
    assert_same_figures(site, around_dst)
    # The known answers, through the rollups: those of the hand-computed data set...
    known = rolled.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    assert (known.abandoned, known.sent, known.clicked, known.converted) == (10, 6, 3, 2)
    assert (known.recovered_revenue, known.opt_outs) == (Decimal("150"), 1)
    # ... and across the change of time: A counted once though messaged on two days, B's
    # link once though tapped on two days.
    both = rolled.funnel(site=site, start=date(2026, 10, 24), end=date(2026, 10, 26))
    assert (both.abandoned, both.reachable, both.held_out, both.sent) == (5, 4, 1, 3)
    assert (both.extra["contacts_messaged"], both.opt_outs) == (2, 1)
    steps = rolled.by_step(site=site, start=date(2026, 10, 25), end=date(2026, 10, 27))
    assert steps[0].clicked == 1 and steps[0].converted == 1
    assert DayMember.objects.filter(repeated=True, kind=MemberKind.CLICKED).count() == 2


@time_machine.travel(NOW, tick=False)
def test_the_overview_reads_rows_of_days_not_sends(site, around_dst):
    rollups.roll_up_recent()
    # One row per day for the site, one per flow and day, one per step and active day; the
    # site's SMS part on the days whose carts were messaged (24th, 25th and 10 November).
    days = (NOW.date() - date(2026, 10, 24)).days + 1
    assert DailyFigures.objects.filter(site=site, flow__isnull=True, channel="").count() == days
    assert DailyFigures.objects.filter(site=site, flow__isnull=True, channel="sms").count() == 3
    # Sends went out on the 25th and 26th (local), B's taps on the 26th and 27th, the known
    # data set's on 10 November.
    assert DailyFigures.objects.filter(site=site, basis="activity").count() == 4


@time_machine.travel(NOW, tick=False)
def test_rolling_a_day_up_again_follows_what_changed(site, around_dst):
    rollups.roll_up_recent()
    # A's second cart goes (erased): A is messaged on one day only, and no longer repeated.
    # The cart was left late on the 25th, its reminder went out at midnight: both days change.
    Cart.objects.filter(external_id="a2").delete()
    rollups.roll_up(site=site, days=[date(2026, 10, 25), date(2026, 10, 26)])
    assert not DayMember.objects.filter(repeated=True, kind=MemberKind.MESSAGED).exists()
    assert_same_figures(site, around_dst)


@time_machine.travel(NOW, tick=False)
def test_a_day_not_rolled_up_again_keeps_its_figures(site, around_dst):
    rollups.roll_up_recent()
    before = rolled.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    Cart.objects.filter(external_id="c0").update(last_change_at=NOW)
    rollups.roll_up_recent()  # the last three days only: the 10th is closed
    after = rolled.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    assert after.abandoned == before.abandoned == 10
    today = rolled.funnel(site=site, start=NOW.date(), end=NOW.date())
    assert today.abandoned == 0  # left 12:00 today: not yet idle for the first step's delay


def test_the_days_that_can_still_change(site):
    # Two days for the reminders, the link's life and the attribution window after a tap.
    assert rollups.open_days(site) == 2 + site.link_ttl_days + site.attribution_window_days + 1
    with time_machine.travel(NOW, tick=False):
        days = rollups.still_open(site)
    assert days[-1] == NOW.date() and len(days) == rollups.open_days(site)


def test_the_task_runs_every_five_minutes_and_nightly():
    tasks = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert tasks["campaigns.tasks.roll_up_recent_figures"] == 300.0
    assert "campaigns.tasks.roll_up_open_figures" in tasks


@time_machine.travel(NOW, tick=False)
def test_the_command_rolls_up_a_sites_whole_history(site, around_dst, capsys):
    call_command("roll_up_figures", "--all", "--site", str(site.pk))
    assert '"days": 31' in capsys.readouterr().out
    assert rolled.funnel(site=site, start=date(2026, 10, 1), end=NOW.date()).sent == 9
    with pytest.raises(CommandError, match="no site 0"):
        call_command("roll_up_figures", "--site", "0")


def test_the_scheduler_counts_the_figures_at_start_up(monkeypatch):
    from celery.signals import beat_init

    from retargeting import celery

    sent = []
    monkeypatch.setattr(celery.app, "send_task", lambda name, *a, **k: sent.append(name))
    beat_init.send(sender=None)
    assert sent == ["campaigns.tasks.roll_up_recent_figures"]
    # The five-minute run is there too (the start-up run does not replace it).
    assert celery.app.conf.beat_schedule["roll-up-recent-figures"]["schedule"] == 300.0

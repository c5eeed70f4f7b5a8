"""The overview's live figures: today read from the sends, earlier days from the rollups, the
previous period beside each figure, a funnel that never goes up, routes without delivery
reports, and a chart a marketer can read."""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import translation

from campaigns.dashboard import figures
from campaigns.dashboard.charts import Measure, nice_top, small_multiples
from campaigns.dashboard.views import change, stages
from campaigns.figures import Funnel
from campaigns.models import Click, Conversion, SendStatus, ShortLink
from campaigns.rollups import roll_up_day
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from retargeting.tracking.models import Cart
from tests.factories import ContactFactory, FlowFactory, SendFactory, StepFactory, VisitorFactory

pytestmark = pytest.mark.django_db
# 10:00 in Paris on Monday 7 December 2026.
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def step(site):
    return StepFactory(flow=FlowFactory(site=site), position=1, delay_minutes=30)


@pytest.fixture
def marketer(site, django_user_model):
    user = django_user_model.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    return user


def message(site, step, *, at, contact=None, status=SendStatus.DELIVERED, index=0):
    """A cart left 40 minutes before ``at`` and its reminder sent at ``at``."""
    contact = contact or ContactFactory(site=site)
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.ADMIN,
        at=at - timedelta(days=30),
    )
    cart = Cart.objects.create(
        site=site,
        visitor=VisitorFactory(site=site),
        external_id=f"c{at:%d%H%M}{index}",
        total=Decimal("59.90"),
        item_count=1,
        items=[{"name": "Chemise", "quantity": 1}],
        created_at=at - timedelta(minutes=40),
        last_change_at=at - timedelta(minutes=40),
    )
    send = SendFactory(
        cart=cart,
        step=step,
        contact=contact,
        status=status,
        planned_at=at - timedelta(minutes=5),
        due_at=at,
        sent_at=at,
        segments=1,
        cost=Decimal("0.045"),
    )
    link = ShortLink.objects.create(
        send=send,
        code=f"k{send.pk:07}",
        target_url="https://shop.example/",
        created_at=at,
        expires_at=at + timedelta(days=30),
    )
    return send, link


def tap_and_buy(send, link, *, at, total="59.90"):
    Click.objects.create(link=link, at=at)
    Cart.objects.filter(pk=send.cart_id).update(status="converted", converted_at=at)
    Conversion.objects.create(
        site=send.site,
        order_id=f"o{send.pk}",
        total=Decimal(total),
        currency="EUR",
        cart=send.cart,
        contact=send.contact,
        send=send,
        attribution=Conversion.Attribution.CLICKED,
        occurred_at=at + timedelta(minutes=2),
    )


def overview(client, site, **query):
    params = "&".join(f"{key}={value}" for key, value in {"site": site.pk, **query}.items())
    response = client.get(f"/dashboard/?{params}")
    assert response.status_code == 200
    return response


def plain(text):
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def kpi(response, key):
    (figure,) = [one for one in response.context["kpis"] if one.key == key]
    return figure


# --- today, live ------------------------------------------------------------------------------


def test_todays_messages_and_a_purchase_after_a_tap_show_at_the_next_page_load(
    client, site, step, marketer
):
    client.force_login(marketer)
    with time_machine.travel(NOW, tick=False):
        send, link = message(site, step, at=NOW - timedelta(minutes=20))
        first = overview(client, site)
        # Never rolled up, and still counted: today is read live (control: no rollup exists).
        assert not figures.DailyFigures.objects.exists()
        assert first.context["funnel"].sent == 1
        assert plain(kpi(first, "recovered").value) == "0,00 €"
        assert "as-of" in first.content.decode() and "10:00" in first.content.decode()
        tap_and_buy(send, link, at=NOW - timedelta(minutes=10))
        second = overview(client, site)
    assert second.context["funnel"].converted == 1
    assert plain(kpi(second, "recovered").value) == "59,90 €"
    assert "aujourd'hui est compté en direct" in html.unescape(second.content.decode())


def test_today_is_the_shops_day_across_midnight_in_its_zone(site, step):
    # 00:30 in Paris on 8 December is 23:30 UTC on 7 December.
    now = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    type(site).objects.filter(pk=site.pk).update(created_at=now - timedelta(days=3))
    site.refresh_from_db()
    with time_machine.travel(now, tick=False):
        message(site, step, at=datetime(2026, 12, 7, 23, 10, tzinfo=UTC), index=1)  # 00:10 Paris
        message(site, step, at=datetime(2026, 12, 7, 22, 50, tzinfo=UTC), index=2)  # 23:50 Paris
        days = figures.daily(site=site, start=date(2026, 12, 7), end=date(2026, 12, 8))
        # Today (8 December, Paris) is live; the 7th is read from its rollup, not there yet.
        assert [(day.day, day.sends) for day in days] == [
            (date(2026, 12, 7), 0),
            (date(2026, 12, 8), 1),
        ]
        assert figures.not_rolled_up(site=site, start=date(2026, 12, 7), end=date(2026, 12, 8))
        roll_up_day(site=site, day=date(2026, 12, 7))
        days = figures.daily(site=site, start=date(2026, 12, 7), end=date(2026, 12, 8))
        assert [day.sends for day in days] == [1, 1]
        assert figures.computed_at(site=site, start=date(2026, 12, 7), end=date(2026, 12, 8)) == now
        # A period of earlier days only is as of its roll-up.
        assert figures.computed_at(
            site=site, start=date(2026, 12, 7), end=date(2026, 12, 7)
        ) == figures.rolled_at(site=site, start=date(2026, 12, 7), end=date(2026, 12, 7))


def test_a_contact_messaged_yesterday_and_today_counts_once(site, step):
    contact = ContactFactory(site=site)
    with time_machine.travel(NOW, tick=False):
        message(site, step, at=NOW - timedelta(days=1), contact=contact, index=1)
        roll_up_day(site=site, day=date(2026, 12, 6))
        _send, link = message(site, step, at=NOW - timedelta(minutes=30), contact=contact, index=2)
        Click.objects.create(link=link, at=NOW - timedelta(minutes=5))
        both = figures.funnel(site=site, start=date(2026, 12, 6), end=date(2026, 12, 7))
        today = figures.funnel(site=site, start=date(2026, 12, 7), end=date(2026, 12, 7))
        (row,) = figures.by_step(site=site, start=date(2026, 12, 6), end=date(2026, 12, 7))
    assert (both.sent, both.extra["contacts_messaged"]) == (2, 1)
    assert (today.sent, today.extra["contacts_messaged"]) == (1, 1)  # control
    assert (row.sent, row.clicked) == (2, 1)


# --- the previous period ----------------------------------------------------------------------


def test_each_figure_is_beside_the_previous_periods_with_its_change(client, site, step, marketer):
    client.force_login(marketer)
    assert figures.previous_period(date(2026, 12, 1), date(2026, 12, 7)) == (
        date(2026, 11, 24),
        date(2026, 11, 30),
    )
    with translation.override("fr"):
        assert change(Decimal("112"), Decimal("100")) == "+12\u00a0%"
        assert change(90, 100) == "\u221210\u00a0%"
        assert change(5, 0) == "nouveau"
        assert change(0, 0) == "="
    with time_machine.travel(NOW, tick=False):
        old, old_link = message(site, step, at=NOW - timedelta(days=7), index=1)
        tap_and_buy(old, old_link, at=NOW - timedelta(days=7) + timedelta(minutes=5), total="50")
        roll_up_day(site=site, day=date(2026, 11, 30))
        send, link = message(site, step, at=NOW - timedelta(minutes=30), index=2)
        tap_and_buy(send, link, at=NOW - timedelta(minutes=10), total="56")
        response = overview(client, site, start="2026-12-01", end="2026-12-07")
    recovered = kpi(response, "recovered")
    assert tuple(map(plain, (recovered.value, recovered.previous, recovered.change))) == (
        "56,00 €",
        "50,00 €",
        "+12 %",
    )
    sent = next(stage for stage in response.context["stages"] if stage.key == "sent")
    assert (sent.shown, sent.previous, sent.change) == ("1", "1", "=")
    assert "du 24 nov. 2026 au 30 nov. 2026" in response.content.decode()


# --- the funnel -------------------------------------------------------------------------------


def monotonic(counts):
    return all(later <= earlier for earlier, later in itertools.pairwise(counts))


def test_a_tapped_message_without_a_delivery_report_counts_as_delivered(
    client, site, step, marketer
):
    client.force_login(marketer)
    with time_machine.travel(NOW, tick=False):
        _send, link = message(
            site, step, at=NOW - timedelta(minutes=30), status=SendStatus.ACCEPTED
        )
        message(site, step, at=NOW - timedelta(minutes=30), status=SendStatus.ACCEPTED, index=1)
        Click.objects.create(link=link, at=NOW - timedelta(minutes=5))
        response = overview(client, site)
    funnel = response.context["funnel"]
    assert (funnel.sent, funnel.delivered, funnel.clicked) == (2, 1, 1)
    shown = re.findall(r'data-stage="(\w+)" data-count="(\d+)"', response.content.decode())
    counts = [int(count) for key, count in shown if key not in ("abandoned", "reachable")]
    assert [key for key, _ in shown][2:] == ["sent", "delivered", "clicked", "converted"]
    assert monotonic(counts), shown


def test_no_funnel_shown_goes_up_whatever_the_counts():
    # Even counts that went up (an old rollup) are shown going down or not at all.
    with translation.override("en"):
        rows = stages(
            Funnel(abandoned=5, reachable=4, sent=3, delivered=0, clicked=1, converted=1),
            Funnel(),
            delivery_reported=False,
        )
    shown = [row.count for row in rows if row.count is not None]
    assert monotonic(shown) and [row.key for row in rows if row.count is None] == ["delivered"]
    clicked = next(row for row in rows if row.key == "clicked")
    assert clicked.rate == "33.3%"  # of the 3 sent, not of an unknown "delivered"


def test_a_route_without_delivery_reports_says_so_instead_of_0(client, site, step, marketer, smtp):
    client.force_login(marketer)
    with time_machine.travel(NOW, tick=False):
        message(site, step, at=NOW - timedelta(minutes=30))
        email = overview(client, site, channel="email")
        sms = overview(client, site, channel="sms")
    assert figures.delivery_reported("sms") and not figures.delivery_reported("email")
    page = html.unescape(email.content.decode())
    assert "pas d'accusés de réception sur cette route" in page
    assert 'data-stage="delivered" data-count' not in page
    assert 'id="no-delivery-reports"' in page
    # Control: the SMS route (the outbox) reports delivery, and its count is shown.
    assert 'data-stage="delivered" data-count="1"' in sms.content.decode()
    assert "pas d'accusés de réception" not in html.unescape(sms.content.decode())


# --- the chart --------------------------------------------------------------------------------


def whole(value):
    return f"{value:g}"


def test_the_chart_is_one_small_chart_per_measure_with_labelled_axes():
    days = [date(2026, 12, 1) + timedelta(days=index) for index in range(7)]
    with translation.override("fr"):
        svg = str(
            small_multiples(
                days,
                [
                    Measure("Messages envoyés", [1, 3, 2, 0, 5, 4, 120], whole, "#000", "sent"),
                    Measure("Clics", [0, 1, 0, 0, 2, 1, 3], whole, "#111", "clicks"),
                    Measure(
                        "Chiffre d'affaires (€ par jour)",
                        [Decimal(0)] * 6 + [Decimal("59.90")],
                        lambda value: f"{value:.2f} €".replace(".", ","),
                        "#222",
                        "revenue",
                    ),
                ],
                day_label=lambda day: f"{day.day} déc.",
            )
        )
    charts = svg.split('<figure class="small-chart"')[1:]
    assert len(charts) == 3
    for chart in charts:
        assert 'class="y-axis"' in chart and 'class="x-axis"' in chart
        assert chart.count('class="y-tick"') == 3
        assert re.findall(r'class="x-tick"[^>]*>([^<]+)<', chart) == [
            "1 déc.",
            "3 déc.",
            "5 déc.",
            "7 déc.",
        ]
        assert chart.count('tabindex="0"') == 7 and chart.count("<title>") == 7
        assert 'font-size="12"' in chart and 'preserveAspectRatio="none"' not in chart
    # One scale per measure: each measure's top value is drawn at its own chart's top area.
    tops = [re.findall(r'class="y-tick"[^>]*>([^<]+)<', chart)[-1] for chart in charts]
    assert tops == ["120", "4", "60,00 €"]
    assert "<title>7 déc. : 59,90 €</title>" in charts[2]
    assert nice_top(5, whole=True) == 6 and nice_top(0) == 2 and nice_top(13, whole=True) == 14


def test_the_overview_queries_do_not_grow_with_todays_sends(
    client, site, step, marketer, django_assert_max_num_queries
):
    client.force_login(marketer)
    counts = []
    with time_machine.travel(NOW, tick=False):
        overview(client, site)  # the session and the language settle on the first request
        for batch in (2, 10):
            for index in range(batch):
                send, link = message(site, step, at=NOW - timedelta(minutes=30), index=index)
                tap_and_buy(send, link, at=NOW - timedelta(minutes=5))
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as seen:
                overview(client, site)
            counts.append(len(seen))
    assert counts[0] == counts[1], counts
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(counts[0]):
        overview(client, site)

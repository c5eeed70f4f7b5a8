"""The dashboard's figures against a data set whose answers are known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from campaigns import figures
from campaigns.models import Click, Conversion, SendStatus, ShortLink
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.tracking.models import Cart
from tests.factories import ContactFactory, FlowFactory, SendFactory, StepFactory, VisitorFactory

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def data(site):
    """Ten carts left on 10 November, followed to the end.

    - cart 0–1: nobody to message (no consent);
    - cart 2–3: held out; cart 3 bought anyway (40 €);
    - cart 4–9: messaged (1 segment, 0.045 each); 4–7 delivered; 4–6 tapped; 4–5 bought after
      the tap (100 € and 50 €); 7 bought without tapping (30 €, after delivery);
    - contact of cart 9 answered STOP the next day.
    """
    flow = FlowFactory(site=site, holdout_percent=25)
    first = StepFactory(flow=flow, position=1, delay_minutes=30)
    StepFactory(flow=flow, position=2, delay_minutes=1440)
    carts = []
    with time_machine.travel(NOW, tick=False):
        for index in range(10):
            contact = ContactFactory(site=site)
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.ADMIN,
                at=DAY - timedelta(days=30),
            )
            cart = Cart.objects.create(
                site=site,
                visitor=VisitorFactory(site=site),
                external_id=f"c{index}",
                total=Decimal("99"),
                item_count=1,
                items=[{"name": "Chemise", "quantity": 1}],
                created_at=DAY,
                last_change_at=DAY + timedelta(minutes=index),
            )
            carts.append((cart, contact))
        sent_at = DAY + timedelta(hours=1)
        for index, (cart, contact) in enumerate(carts):
            if index < 2:
                continue
            status = (
                SendStatus.HELD_OUT
                if index < 4
                else (SendStatus.DELIVERED if index < 8 else SendStatus.SENT)
            )
            send = SendFactory(
                cart=cart,
                step=first,
                contact=contact,
                status=status,
                planned_at=sent_at - timedelta(minutes=5),
                due_at=sent_at,
                sent_at=None if status == SendStatus.HELD_OUT else sent_at,
                segments=0 if status == SendStatus.HELD_OUT else 1,
                cost=None if status == SendStatus.HELD_OUT else Decimal("0.045"),
            )
            if status != SendStatus.HELD_OUT:
                link = ShortLink.objects.create(
                    send=send,
                    code=f"code{index:06}",
                    target_url="https://shop.example/",
                    created_at=sent_at,
                    expires_at=sent_at + timedelta(days=30),
                )
                if index in (4, 5, 6):
                    Click.objects.create(link=link, at=sent_at + timedelta(hours=1))
            bought = {
                3: ("holdout", "40"),
                4: ("clicked", "100"),
                5: ("clicked", "50"),
                7: ("after_delivery", "30"),
            }
            if index in bought:
                attribution, total = bought[index]
                Cart.objects.filter(pk=cart.pk).update(
                    status="converted", converted_at=sent_at + timedelta(hours=3)
                )
                Conversion.objects.create(
                    site=site,
                    order_id=f"o{index}",
                    total=Decimal(total),
                    currency="EUR",
                    cart=cart,
                    contact=contact,
                    send=send,
                    attribution=attribution,
                    occurred_at=sent_at + timedelta(hours=3),
                )
        record_consent(
            contact=carts[9][1],
            status=ConsentStatus.REVOKED,
            source=ConsentSource.KEYWORD,
            at=sent_at + timedelta(days=1),
        )
    return flow


@time_machine.travel(NOW, tick=False)
def test_the_funnel_of_a_known_data_set(site, data):
    result = figures.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    assert (
        result.abandoned,
        result.reachable,
        result.held_out,
        result.sent,
        result.delivered,
        result.clicked,
        result.converted,
    ) == (10, 8, 2, 6, 4, 3, 2)
    assert result.recovered_revenue == Decimal("150")
    assert (result.after_delivery, result.after_delivery_revenue) == (1, Decimal("30"))
    assert (result.messages, result.segments, result.cost) == (6, 6, Decimal("0.270"))
    assert result.opt_outs == 1 and result.opt_out_rate == pytest.approx(1 / 6)
    # Messaged: 3 of 6 bought (4, 5, 7); held out: 1 of 2 (3).
    assert (result.messaged_rate, result.holdout_rate) == (0.5, 0.5)
    assert result.incremental_revenue == Decimal("0.00")
    assert result.return_on_cost == Decimal("555.6")


@time_machine.travel(NOW, tick=False)
def test_the_period_is_in_the_sites_time_zone(site, data):
    empty = figures.funnel(site=site, start=date(2026, 11, 11), end=date(2026, 11, 20))
    assert (empty.abandoned, empty.sent, empty.recovered_revenue) == (0, 0, Decimal(0))
    # 23:30 UTC on the 9th is already the 10th in Paris.
    Cart.objects.filter(external_id="c0").update(
        last_change_at=datetime(2026, 11, 9, 23, 30, tzinfo=UTC)
    )
    assert (
        figures.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10)).abandoned == 10
    )


@time_machine.travel(NOW, tick=False)
def test_another_sites_or_flows_figures_are_apart(site, data):
    other_flow = FlowFactory(site=site)
    result = figures.funnel(
        site=site, start=date(2026, 11, 10), end=date(2026, 11, 10), flow=other_flow
    )
    assert (result.abandoned, result.sent, result.recovered_revenue) == (0, 0, Decimal(0))
    other_site = FlowFactory().site
    assert (
        figures.funnel(site=other_site, start=date(2026, 11, 10), end=date(2026, 11, 10)).abandoned
        == 0
    )


@time_machine.travel(NOW, tick=False)
def test_daily_series_and_the_table_per_step(site, data):
    days = figures.daily(site=site, start=date(2026, 11, 9), end=date(2026, 11, 11))
    assert [(d.day.day, d.sends, d.clicks, d.revenue) for d in days] == [
        (9, 0, 0, Decimal(0)),
        (10, 6, 3, Decimal("150")),
        (11, 0, 0, Decimal(0)),
    ]
    rows = figures.by_step(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    assert [
        (r.step.position, r.sent, r.delivered, r.clicked, r.converted, r.revenue, r.cost)
        for r in rows
    ] == [
        (1, 6, 4, 3, 2, Decimal("150"), Decimal("0.270")),
        (2, 0, 0, 0, 0, Decimal(0), Decimal(0)),
    ]


@time_machine.travel(NOW, tick=False)
def test_without_a_holdout_there_is_no_incremental_revenue(site, data):
    Cart.objects.filter(sends__status=SendStatus.HELD_OUT).delete()
    result = figures.funnel(site=site, start=date(2026, 11, 10), end=date(2026, 11, 10))
    assert result.held_out == 0 and result.incremental_revenue is None

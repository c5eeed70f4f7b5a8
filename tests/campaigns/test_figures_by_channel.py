"""The figures by channel, on carts reminded by SMS, by email and by both: each channel's part,
the whole site's stages, and the rollups holding the same answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum

from campaigns import figures as live
from campaigns import rollups
from campaigns.dashboard import figures as rolled
from campaigns.models import (
    Click,
    Conversion,
    DailyFigures,
    SendStatus,
    ShortLink,
    StepChannel,
)
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.tracking.models import Cart
from tests.campaigns.test_rollups import RANGES, assert_same_figures
from tests.factories import ContactFactory, FlowFactory, SendFactory, StepFactory, VisitorFactory

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # 10:00 in Paris
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ON = {"start": date(2026, 11, 10), "end": date(2026, 11, 10)}
CART_STAGES = ("sent", "delivered", "clicked", "messaged_converted")
ADDITIVE = ("converted", "revenue", "after_delivery", "messages", "segments", "cost")


def _contact(site, *, sms=True, email=True):
    contact = ContactFactory(
        site=site, email=f"shopper{ContactFactory._meta.model.objects.count()}@example.fr"
    )
    at = DAY - timedelta(days=30)
    for channel, granted in (("sms", sms), ("email", email)):
        if granted:
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.ADMIN,
                at=at,
                channel=channel,
            )
    return contact


def _send(cart, step, contact, channel, *, status=SendStatus.DELIVERED, minutes=60, tap=False):
    at = DAY + timedelta(minutes=minutes)
    held = status == SendStatus.HELD_OUT
    sms = channel == "sms"
    send = SendFactory(
        cart=cart,
        step=step,
        contact=contact,
        channel=channel,
        status=status,
        planned_at=at - timedelta(minutes=1),
        due_at=at,
        sent_at=None if held else at,
        segments=1 if sms and not held else 0,
        cost=Decimal("0.045") if sms and not held else None,
        subject="" if sms else "Votre panier vous attend",
    )
    if not held:
        link = ShortLink.objects.create(
            send=send,
            code=f"ch{send.pk:06}",
            target_url="https://shop.example/",
            created_at=at,
            expires_at=at + timedelta(days=30),
        )
        if tap:
            Click.objects.create(link=link, at=at + timedelta(minutes=5))
    return send


def _buy(cart, send, total):
    at = DAY + timedelta(hours=30)
    Cart.objects.filter(pk=cart.pk).update(status="converted", converted_at=at)
    Conversion.objects.create(
        site=cart.site,
        order_id=f"order-{cart.external_id}",
        total=Decimal(total),
        currency="EUR",
        cart=cart,
        contact=send.contact,
        send=send,
        attribution="clicked",
        occurred_at=at,
    )


@pytest.fixture
def mixed(site):
    """Seven carts left on 10 November; step 1 is "SMS, else email", step 2 email.

    - m0: SMS (step 1) then email (step 2), both delivered and tapped; bought after the
      email's tap (70 €): reached by both channels;
    - m1: no SMS consent: email at step 1, tapped, bought (40 €);
    - m2: SMS delivered, not tapped;
    - m3: email sent; its contact unsubscribes from email the next day;
    - m4: held out;
    - m5: no consent at all: never messaged;
    - m6: SMS delivered; its contact says STOP the next day, and unsubscribes from email
      too (no email was sent to them: not an opt-out after an email).
    """
    flow = FlowFactory(site=site, holdout_percent=10)
    first = StepFactory(flow=flow, position=1, channel=StepChannel.SMS_ELSE_EMAIL)
    second = StepFactory(
        flow=flow, position=2, delay_minutes=1440, channel=StepChannel.EMAIL, subject="Relance"
    )
    with time_machine.travel(NOW, tick=False):
        carts, contacts = [], []
        for index in range(7):
            contact = _contact(site, sms=index not in (1, 3, 5), email=index != 5)
            carts.append(
                Cart.objects.create(
                    site=site,
                    visitor=VisitorFactory(site=site),
                    external_id=f"m{index}",
                    total=Decimal("70"),
                    item_count=1,
                    items=[{"name": "Veste", "quantity": 1}],
                    created_at=DAY,
                    last_change_at=DAY + timedelta(minutes=index),
                )
            )
            contacts.append(contact)
        _send(carts[0], first, contacts[0], "sms", tap=True)
        by_email = _send(carts[0], second, contacts[0], "email", minutes=1500, tap=True)
        _buy(carts[0], by_email, "70")
        _buy(carts[1], _send(carts[1], first, contacts[1], "email", tap=True), "40")
        _send(carts[2], first, contacts[2], "sms")
        _send(carts[3], first, contacts[3], "email", status=SendStatus.SENT)
        _send(carts[4], first, contacts[4], "sms", status=SendStatus.HELD_OUT)
        _send(carts[6], first, contacts[6], "sms")
        next_day = DAY + timedelta(days=1)
        record_consent(
            contact=contacts[3],
            status=ConsentStatus.REVOKED,
            source=ConsentSource.UNSUBSCRIBE,
            at=next_day,
            channel="email",
        )
        for channel, source in (
            ("sms", ConsentSource.KEYWORD),
            ("email", ConsentSource.UNSUBSCRIBE),
        ):
            record_consent(
                contact=contacts[6],
                status=ConsentStatus.REVOKED,
                source=source,
                at=next_day,
                channel=channel,
            )
    return flow


@time_machine.travel(NOW, tick=False)
def test_each_channel_counts_what_its_messages_did(site, mixed):
    every = live.funnel(site=site, **ON)
    sms = live.funnel(site=site, **ON, channel="sms")
    email = live.funnel(site=site, **ON, channel="email")
    # The whole site's stages, whatever the channel asked.
    for one in (every, sms, email):
        assert (one.abandoned, one.reachable, one.held_out) == (7, 6, 1)
    assert (every.sent, every.delivered, every.clicked, every.converted) == (5, 4, 2, 2)
    assert (sms.sent, sms.delivered, sms.clicked, sms.converted) == (3, 3, 1, 0)
    assert (email.sent, email.delivered, email.clicked, email.converted) == (3, 2, 2, 2)
    assert (sms.recovered_revenue, email.recovered_revenue) == (Decimal(0), Decimal("110"))
    assert (sms.messages, email.messages, every.messages) == (3, 3, 6)
    assert (sms.cost, email.cost, every.cost) == (Decimal("0.135"), Decimal(0), Decimal("0.135"))
    assert (sms.segments, email.segments) == (3, 0)
    # Opt-outs on the message's own channel: m6's email unsubscribe follows no email.
    assert (sms.opt_outs, email.opt_outs, every.opt_outs) == (1, 1, 2)
    assert (sms.extra["contacts_messaged"], email.extra["contacts_messaged"]) == (3, 3)
    assert every.extra["contacts_messaged"] == 5
    assert email.return_on_cost is None  # nothing spent on email


@time_machine.travel(NOW, tick=False)
def test_the_channels_rows_add_up_to_the_whole_funnel(site, mixed):
    rollups.roll_up(site=site, days=[ON["start"], ON["start"] + timedelta(days=1)])
    rows = DailyFigures.objects.filter(
        site=site, basis="abandoned", flow__isnull=True, day=ON["start"]
    )
    (total,) = rows.filter(channel="").values()
    parts = rows.exclude(channel="").aggregate(
        **{name: Sum(name) for name in (*CART_STAGES, *ADDITIVE, "abandoned", "reachable")}
    )
    assert set(rows.exclude(channel="").values_list("channel", flat=True)) == {"sms", "email"}
    for name in ADDITIVE:
        assert parts[name] == total[name], name
    # m0 was reminded, reached and tapped by both: once in each channel's carts, once in the
    # total; it was bought after the email only (converted, an attribution, adds up).
    for name in CART_STAGES:
        assert parts[name] == total[name] + 1, name
    assert (parts["abandoned"], parts["reachable"]) == (0, 0)  # the whole site's, kept once
    # Per step, activity rows are per channel and add up to the step's figures.
    two_days = {"start": ON["start"], "end": ON["start"] + timedelta(days=1)}
    steps = rolled.by_step(site=site, **two_days)
    split = rolled.by_step_and_channel(site=site, **two_days)
    assert [(row.step.position, row.channel) for row in split] == [
        (1, "sms"),
        (1, "email"),
        (2, "email"),
    ]
    assert [row.sent for row in split] == [3, 2, 1]
    assert sum(row.sent for row in split[:2]) == steps[0].sent == 5
    assert [row.revenue for row in split] == [Decimal(0), Decimal("40"), Decimal("70")]
    assert [row.cost for row in steps] == [Decimal("0.135"), Decimal(0)]


@time_machine.travel(NOW, tick=False)
def test_the_rollups_hold_each_channels_figures(site, mixed):
    rollups.roll_up_recent()
    rollups.roll_up(site=site, days=rollups.days(date(2026, 10, 20), NOW.date()))
    assert_same_figures(site, mixed, ranges=[*RANGES, (date(2026, 11, 10), date(2026, 11, 11))])
    email = rolled.funnel(site=site, **ON, channel="email")
    assert (email.abandoned, email.sent, email.converted, email.opt_outs) == (7, 3, 2, 1)


@time_machine.travel(NOW, tick=False)
def test_a_day_sent_by_sms_alone_copies_the_whole_funnel_as_its_sms_part(site, mixed):
    Cart.objects.filter(external_id__in=["m0", "m1", "m3"]).delete()
    rollups.roll_up(site=site, days=[ON["start"]])
    rows = DailyFigures.objects.filter(site=site, basis="abandoned", flow__isnull=True)
    assert sorted(rows.values_list("channel", flat=True)) == ["", "sms"]
    sms = rolled.funnel(site=site, **ON, channel="sms")
    every = rolled.funnel(site=site, **ON)
    assert sms == every
    assert (sms.sent, sms.opt_outs, sms.extra["contacts_messaged"]) == (2, 1, 2)
    assert rolled.funnel(site=site, **ON, channel="email").sent == 0

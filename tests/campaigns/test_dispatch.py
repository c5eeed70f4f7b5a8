from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from campaigns.dispatch import run_pass
from campaigns.models import Send, SendStatus, Trigger
from campaigns.trigger_registry import trigger_room
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.tracking.models import Cart
from tests.factories import ContactFactory, StepFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def step(site):
    return StepFactory(flow__site=site, delay_minutes=30)


@time_machine.travel(NOW, tick=False)
def test_a_cart_idle_for_the_delay_gets_one_planned_send(
    step, consenting_contact, abandoned_cart_of
):
    cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
    report = run_pass()
    assert report.planned == 1
    send = Send.objects.get()
    assert (send.cart, send.step, send.contact) == (cart, step, consenting_contact)
    assert send.status == SendStatus.PLANNED
    assert send.due_at == NOW
    assert list(send.history.values_list("status", "source")) == [("planned", "planner")]


@time_machine.travel(NOW, tick=False)
def test_a_cart_idle_one_second_less_than_the_delay_waits(
    step, consenting_contact, abandoned_cart_of
):
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30) + timedelta(seconds=1))
    assert run_pass().planned == 0
    assert not Send.objects.exists()


@time_machine.travel(NOW, tick=False)
def test_a_pass_run_twice_plans_nothing_twice(step, consenting_contact, abandoned_cart_of):
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    assert run_pass().planned == 1
    second = run_pass()
    assert (second.planned, second.already_planned) == (0, 0)
    assert Send.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_database_keeps_one_send_per_cart_and_step_when_passes_overlap(
    step, consenting_contact, abandoned_cart_of
):
    from campaigns import dispatch

    cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    # Another pass planned the same cart after this pass read its candidates.
    Send.objects.create(
        site=cart.site,
        cart=cart,
        step=step,
        contact=consenting_contact,
        planned_at=NOW - timedelta(seconds=1),
        due_at=NOW,
    )
    report = dispatch.PassReport()
    dispatch._plan_batch(
        trigger_room(Trigger.CART_ABANDONED),
        step=step,
        rows=[
            (
                cart.pk,
                cart.pk,
                consenting_contact.pk,
                cart.last_change_at,
                consenting_contact.phone,
                consenting_contact.consent_status,
                None,
            )
        ],
        now=NOW,
        report=report,
    )
    assert (report.planned, report.already_planned) == (0, 1)
    assert Send.objects.count() == 1


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "make_ineligible",
    [
        pytest.param(
            lambda cart, contact: record_consent(
                contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
            ),
            id="consent revoked",
        ),
        pytest.param(
            lambda cart, contact: record_consent(
                contact=contact, status=ConsentStatus.PENDING, source=ConsentSource.SNIPPET
            ),
            id="consent pending",
        ),
        pytest.param(
            lambda cart, contact: Cart.objects.filter(pk=cart.pk).update(item_count=0, items=[]),
            id="cart emptied",
        ),
        pytest.param(
            lambda cart, contact: Cart.objects.filter(pk=cart.pk).update(
                status="converted", converted_at=NOW
            ),
            id="cart bought",
        ),
        pytest.param(
            lambda cart, contact: (
                type(contact).objects.filter(pk=contact.pk).update(unreachable_at=NOW)
            ),
            id="number unreachable",
        ),
    ],
)
def test_ineligible_carts_are_not_planned(
    step, consenting_contact, abandoned_cart_of, make_ineligible
):
    cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    make_ineligible(cart, consenting_contact)
    assert run_pass().planned == 0


@time_machine.travel(NOW, tick=False)
def test_a_visitor_without_a_contact_is_not_planned(step, site):
    from tests.factories import CartFactory

    CartFactory(visitor__site=site, last_change_at=NOW - timedelta(hours=1))
    assert run_pass().planned == 0


@time_machine.travel(NOW, tick=False)
def test_another_sites_flow_does_not_plan_this_sites_carts(consenting_contact, abandoned_cart_of):
    StepFactory(delay_minutes=1)  # a flow of another site
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    assert run_pass().planned == 0


@time_machine.travel(NOW, tick=False)
def test_an_inactive_flow_plans_nothing(step, consenting_contact, abandoned_cart_of):
    step.flow.is_active = False
    step.flow.save()
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    assert run_pass().planned == 0


@time_machine.travel(NOW, tick=False)
def test_the_command_reports_counts_per_outcome(step, site, consenting_contact, abandoned_cart_of):
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
    other = ContactFactory(site=site)
    record_consent(contact=other, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
    abandoned_cart_of(other, at=NOW - timedelta(hours=2))
    out = StringIO()
    call_command("dispatch", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "planned": 2,
        "already_planned": 0,
        "held_out": 0,
        "confirmations": 0,
        "due": 2,
        "sent": 2,
        "enqueued": 0,
        "outcomes": {"accepted": 2},
    }
    out = StringIO()
    call_command("dispatch", stdout=out)
    assert out.getvalue().strip() == (
        "dispatch: planned=0 already_planned=0 held_out=0 confirmations=0 due=0 sent=0 enqueued=0"
    )


def test_a_cart_left_in_the_evening_is_planned_for_the_morning_and_not_sent(
    step, consenting_contact, abandoned_cart_of
):
    evening = datetime(2026, 11, 24, 19, 45, tzinfo=ZoneInfo("Europe/Paris"))
    with time_machine.travel(evening + timedelta(minutes=30), tick=False):
        abandoned_cart_of(consenting_contact, at=evening)
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.due, report.sent) == (1, 0, 0)
    due = Send.objects.get().due_at.astimezone(ZoneInfo("Europe/Paris"))
    assert due.date().isoformat() == "2026-11-25" and due.hour == 8 and due.minute < 30


def test_the_beat_pass_enqueues_one_task_per_due_send(step, consenting_contact, abandoned_cart_of):
    with time_machine.travel(NOW, tick=False):
        abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
        queued = []
        report = run_pass(enqueue=queued.append)
    assert (report.enqueued, report.sent) == (1, 0)
    assert queued == [Send.objects.get().pk]


@time_machine.travel(NOW, tick=False)
def test_a_cart_restored_on_another_device_is_not_reminded_again(
    step, consenting_contact, abandoned_cart_of
):
    """The reminder's link rebuilds the same shop's cart on the phone that taps it (the
    restore call): that browser reports it under the shop's same cart id. It is the cart that
    was reminded, not a new one: no second journey starts for it."""
    first = abandoned_cart_of(
        consenting_contact, at=NOW - timedelta(hours=3), external_id="panier-42"
    )
    assert run_pass().planned == 1
    assert Send.objects.get().cart == first
    abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1), external_id="panier-42")
    # Control: another cart of the same contact, idle as long, is planned.
    other = abandoned_cart_of(
        consenting_contact, at=NOW - timedelta(hours=1), external_id="panier-43"
    )
    assert run_pass().planned == 1
    assert Send.objects.filter(step=step).count() == 2
    assert Send.objects.latest("pk").cart == other

"""Flows with several steps, the most specific flow, holdout groups, one eligibility rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from campaigns.dispatch import is_held_out, run_pass
from campaigns.eligibility import eligible_carts, exit_reason
from campaigns.models import Send, SendStatus
from campaigns.trigger_registry import room_of
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.tracking.models import Cart
from tests.factories import FlowFactory, StepFactory

pytestmark = pytest.mark.django_db
# A Tuesday, 11:00 in Paris: open hours, so the tests are about the flow, not the clock.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def two_steps(site):
    flow = FlowFactory(site=site)
    first = StepFactory(flow=flow, position=1, delay_minutes=30)
    second = StepFactory(flow=flow, position=2, delay_minutes=24 * 60)
    return first, second


def travel(at):
    return time_machine.travel(at, tick=False)


def test_the_second_step_waits_its_delay_after_the_first_send(
    two_steps, consenting_contact, abandoned_cart_of
):
    first, second = two_steps
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)
    sent_at = Send.objects.get(step=first).sent_at
    with travel(sent_at + timedelta(hours=24) - timedelta(seconds=1)):
        assert run_pass(deliver_inline=True).planned == 0
    with travel(sent_at + timedelta(hours=24)):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)
    assert list(cart.sends.order_by("step__position").values_list("step", "status")) == [
        # Delivered: the SMS outbox reports delivery, as a provider's webhook would.
        (first.pk, SendStatus.DELIVERED),
        (second.pk, SendStatus.DELIVERED),
    ]


def test_a_purchase_between_two_steps_stops_the_flow(
    two_steps, consenting_contact, abandoned_cart_of
):
    _first, second = two_steps
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        run_pass(deliver_inline=True)
    Cart.objects.filter(pk=cart.pk).update(status="converted", converted_at=NOW)
    with travel(NOW + timedelta(days=1, minutes=1)):
        assert run_pass(deliver_inline=True).planned == 0
    assert not Send.objects.filter(step=second).exists()


def test_a_second_step_planned_before_a_purchase_is_cancelled_at_send_time(
    two_steps, consenting_contact, abandoned_cart_of, site
):
    site.quiet_hours = "none"
    site.save()
    _first, second = two_steps
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        run_pass(deliver_inline=True)
    later = NOW + timedelta(days=1, minutes=1)
    with travel(later):
        run_pass()  # plans the second step; a worker would send it a moment later
        Cart.objects.filter(pk=cart.pk).update(status="converted", converted_at=later)
        report = run_pass(deliver_inline=True)
    assert report.outcomes == {"converted": 1}
    send = Send.objects.get(step=second)
    assert (send.status, send.reason) == (SendStatus.CANCELLED, "converted")


def test_the_cart_bought_on_the_phone_that_rebuilt_it_stops_the_flow(
    two_steps, consenting_contact, abandoned_cart_of
):
    """The reminder's link rebuilds the shop's cart on the phone that taps it, under the same
    cart id, and the customer buys it there: the original cart (still open in the first
    browser) gets no second reminder."""
    first, second = two_steps
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        run_pass(deliver_inline=True)
    assert Send.objects.get(step=first).status == SendStatus.DELIVERED
    copy = abandoned_cart_of(
        consenting_contact, at=NOW + timedelta(minutes=5), external_id=cart.external_id
    )
    later = NOW + timedelta(days=1, minutes=1)
    Cart.objects.filter(pk=copy.pk).update(status="converted", converted_at=NOW)
    with travel(later):
        report = run_pass(deliver_inline=True)
    assert report.sent == 0
    assert not Send.objects.filter(step=second, status__in=[SendStatus.DELIVERED]).exists()
    assert Send.objects.filter(step=second).values_list("reason", flat=True).first() in (
        None,
        "converted",
    )
    # Control: without the purchase on the phone, the second reminder goes.
    Cart.objects.filter(pk=copy.pk).update(status="open", converted_at=None)
    Send.objects.filter(step=second).delete()
    with travel(later):
        assert run_pass(deliver_inline=True).sent == 1


def test_a_cart_changed_after_the_first_send_restarts_the_second_steps_delay(
    two_steps, consenting_contact, abandoned_cart_of
):
    _first, _second = two_steps
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        run_pass(deliver_inline=True)
    changed = NOW + timedelta(hours=5)
    Cart.objects.filter(pk=cart.pk).update(last_change_at=changed)
    with travel(NOW + timedelta(days=1, minutes=1)):
        assert run_pass().planned == 0
    with travel(changed + timedelta(days=1)):
        assert run_pass().planned == 1


def test_no_second_step_after_a_first_send_that_did_not_go_out(
    two_steps, consenting_contact, abandoned_cart_of
):
    first, _second = two_steps
    with travel(NOW):
        abandoned_cart_of(consenting_contact, at=NOW - timedelta(minutes=30))
        run_pass()
    Send.objects.filter(step=first).update(status=SendStatus.FAILED, sent_at=NOW)
    with travel(NOW + timedelta(days=2)):
        assert run_pass().planned == 0


def test_the_most_specific_flow_takes_the_cart_even_when_its_delay_is_longer(
    site, consenting_contact, abandoned_cart_of
):
    everyone = StepFactory(flow__site=site, delay_minutes=30)
    big_carts = StepFactory(
        flow=FlowFactory(site=site, min_cart_total=Decimal("100")), delay_minutes=60
    )
    with travel(NOW):
        big = abandoned_cart_of(
            consenting_contact, at=NOW - timedelta(minutes=45), total=Decimal("150")
        )
        small = abandoned_cart_of(
            consenting_contact, at=NOW - timedelta(minutes=45), total=Decimal("40")
        )
        run_pass()
    assert list(Send.objects.values_list("cart", "step")) == [(small.pk, everyone.pk)]
    with travel(NOW + timedelta(minutes=15)):
        run_pass()
    assert Send.objects.get(cart=big).step == big_carts


def test_of_two_flows_for_every_cart_the_oldest_is_used(
    site, consenting_contact, abandoned_cart_of
):
    oldest = StepFactory(flow__site=site, delay_minutes=30)
    StepFactory(flow__site=site, delay_minutes=30)
    with travel(NOW):
        abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
        run_pass()
    assert Send.objects.get().step == oldest


def test_a_cart_is_in_one_flow_only(site, consenting_contact, abandoned_cart_of):
    step = StepFactory(flow__site=site, delay_minutes=30)
    with travel(NOW):
        cart = abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
        run_pass()
    # A more specific flow created afterwards does not start a second conversation.
    StepFactory(flow=FlowFactory(site=site, min_cart_total=Decimal("1")), delay_minutes=1)
    with travel(NOW + timedelta(minutes=5)):
        assert run_pass().planned == 0
    assert list(cart.sends.values_list("step", flat=True)) == [step.pk]


def test_held_out_carts_are_recorded_and_never_messaged(
    site, consenting_contact, abandoned_cart_of
):
    step = StepFactory(flow=FlowFactory(site=site, holdout_percent=100), delay_minutes=30)
    StepFactory(flow=step.flow, position=2, delay_minutes=60)
    with travel(NOW):
        abandoned_cart_of(consenting_contact, at=NOW - timedelta(hours=1))
        report = run_pass(deliver_inline=True)
    assert (report.held_out, report.planned, report.sent, report.due) == (1, 0, 0, 0)
    send = Send.objects.get()
    assert (send.status, send.reason) == (SendStatus.HELD_OUT, "held_out")
    assert list(send.history.values_list("status", "reason")) == [("held_out", "held_out")]
    with travel(NOW + timedelta(days=1)):
        assert run_pass(deliver_inline=True).planned == 0  # no later step either
    assert Send.objects.count() == 1


def test_the_holdout_share_over_many_carts():
    flow = FlowFactory.build(pk=7, holdout_percent=10)
    held = sum(is_held_out(flow=flow, cart_id=cart_id) for cart_id in range(1, 20_001))
    assert 1_800 <= held <= 2_200  # 10 % of 20,000 (a uniform hash: ±2.2 standard deviations)
    assert is_held_out(flow=flow, cart_id=42) == is_held_out(flow=flow, cart_id=42)
    flow.holdout_percent = 0
    assert not any(is_held_out(flow=flow, cart_id=cart_id) for cart_id in range(1, 2_001))


INELIGIBLE = {
    "converted": lambda cart, contact: Cart.objects.filter(pk=cart.pk).update(
        status="converted", converted_at=NOW
    ),
    "cart_replaced": lambda cart, contact: Cart.objects.filter(pk=cart.pk).update(
        status="replaced"
    ),
    "cart_emptied": lambda cart, contact: Cart.objects.filter(pk=cart.pk).update(
        item_count=0, items=[]
    ),
    "opted_out": lambda cart, contact: record_consent(
        contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
    ),
    "unreachable": lambda cart, contact: (
        type(contact).objects.filter(pk=contact.pk).update(unreachable_at=NOW)
    ),
}


@pytest.mark.parametrize("reason", sorted(INELIGIBLE))
def test_planning_and_sending_share_one_definition_of_eligible(
    reason, site, consenting_contact, abandoned_cart_of
):
    step = StepFactory(flow__site=site)
    cart = abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(hours=1))
    send = Send.objects.create(
        site=site,
        cart=cart,
        step=step,
        contact=consenting_contact,
        planned_at=timezone.now(),
        due_at=timezone.now(),
    )
    assert list(eligible_carts(site_id=site.pk)) == [cart]
    assert exit_reason(send, room_of(send)) is None
    INELIGIBLE[reason](cart, consenting_contact)
    send = Send.objects.select_related("cart", "contact").get(pk=send.pk)
    assert list(eligible_carts(site_id=site.pk)) == []
    assert exit_reason(send, room_of(send)) == reason

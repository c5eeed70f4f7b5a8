"""The triggers' registry: one room per built trigger, and nothing offered that is not built
(ARCHITECTURE.md, "Triggers and journeys")."""

from __future__ import annotations

import pytest

from campaigns.models import Trigger
from campaigns.sms_templates import VARIABLES
from campaigns.trigger_registry import ROOMS, offered, planned, trigger_room, uncapped
from campaigns.triggers import TriggerRoom


def test_every_offered_trigger_is_a_room_the_dispatch_pass_plans():
    assert offered()
    for name in offered():
        room = trigger_room(name)
        assert isinstance(room, TriggerRoom) and room.name == name
        assert name in planned()


def test_a_trigger_without_a_room_is_neither_offered_nor_planned():
    missing = [name for name in Trigger.values if name not in ROOMS]
    assert not set(missing) & set(offered())
    assert not set(missing) & set(planned())


def test_the_cart_by_email_is_planned_by_its_request_and_outside_the_cap():
    bridge = trigger_room(Trigger.EMAIL_CART)
    assert Trigger.EMAIL_CART not in offered() and Trigger.EMAIL_CART not in planned()
    assert Trigger.EMAIL_CART in uncapped() and not bridge.needs_consent
    # Control: cart abandonment is marketing, capped, with consent.
    cart = trigger_room(Trigger.CART_ABANDONED)
    assert cart.needs_consent and cart.capped and Trigger.CART_ABANDONED not in uncapped()


def test_the_orders_own_messages_are_transactional_and_the_review_request_marketing():
    from campaigns.triggers import Hours, Kind

    for name in (Trigger.ORDER_CONFIRMATION, Trigger.SHIPPING_UPDATE):
        room = trigger_room(name)
        assert (room.kind, room.needs_consent, room.capped, room.hours, room.holdout) == (
            Kind.TRANSACTIONAL,
            False,
            False,
            Hours.NIGHT,
            False,
        )
        assert name in offered() and name in planned() and name in uncapped()
    # Control: the review request is marketing, a week after delivery by default.
    review = trigger_room(Trigger.REVIEW_REQUEST)
    assert (review.kind, review.needs_consent, review.capped, review.hours, review.holdout) == (
        Kind.MARKETING,
        True,
        True,
        Hours.MARKETING,
        True,
    )
    assert review.default_delay_minutes == 7 * 24 * 60
    assert Trigger.REVIEW_REQUEST not in uncapped()


def test_back_in_stock_is_planned_asked_for_and_outside_the_cap():
    room = trigger_room(Trigger.BACK_IN_STOCK)
    assert Trigger.BACK_IN_STOCK in offered() and Trigger.BACK_IN_STOCK in planned()
    assert Trigger.BACK_IN_STOCK in uncapped()
    # The request is the consent for its one message, and it is owed: no holdout.
    assert not room.needs_consent and not room.holdout and room.hours == "marketing"
    assert set(room.variables) <= set(VARIABLES) and "product_name" in room.variables
    assert room.default_texts("fr").sms and room.default_texts("en").sms


@pytest.mark.django_db
def test_every_room_can_be_searched_and_described_in_the_dashboard(site):
    """The dashboard's "why not sent" asks each room for the sends whose subject is what a
    marketer typed (a condition on ``Send``, or None) and for each send's subject in words:
    no room may fail at either, built here or merged later. The cart's rooms find their
    sends by cart id."""
    from campaigns.dashboard.explanations import describe_subjects
    from campaigns.models import Send
    from tests.factories import SendFactory, StepFactory

    found = {}
    for name, room in ROOMS.items():
        condition = room.matching(site_id=site.pk, query="4711")
        if condition is not None:
            found[name] = list(Send.objects.filter(condition).values_list("pk", flat=True))
    step = StepFactory(flow__site=site)
    send = SendFactory(site=site, step=step, cart__visitor__site=site, cart__external_id="4711")
    assert all(ids == [] for ids in found.values()), found  # nothing yet: read before
    assert {Trigger.CART_ABANDONED, Trigger.EMAIL_CART} <= set(found)
    assert list(
        Send.objects.filter(trigger_room("cart_abandoned").matching(site_id=site.pk, query="4711"))
    ) == [send]
    # Each room's words, its subject read by its ``load`` (here none of its own: a subject
    # deleted since is None, and still described).
    for name in ROOMS:
        send.step.flow.trigger = name
        assert describe_subjects([send], site=site)[send.pk], name


def test_browse_abandonment_is_offered_planned_and_marketing():
    browse = trigger_room(Trigger.BROWSE_ABANDONED)
    assert Trigger.BROWSE_ABANDONED in offered() and Trigger.BROWSE_ABANDONED in planned()
    assert browse.needs_consent and browse.capped and browse.holdout
    assert Trigger.BROWSE_ABANDONED not in uncapped() and not browse.has_cart

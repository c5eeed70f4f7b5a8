"""The triggers' registry: one room per built trigger, and nothing offered that is not built
(ARCHITECTURE.md, "Triggers and journeys")."""

from __future__ import annotations

from campaigns.models import Trigger
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


def test_browse_abandonment_is_offered_planned_and_marketing():
    browse = trigger_room(Trigger.BROWSE_ABANDONED)
    assert Trigger.BROWSE_ABANDONED in offered() and Trigger.BROWSE_ABANDONED in planned()
    assert browse.needs_consent and browse.capped and browse.holdout
    assert Trigger.BROWSE_ABANDONED not in uncapped() and not browse.has_cart

"""The triggers, one line each: what the dispatch pass plans, what the flow editor and
``add_flow`` offer, and how a send finds its trigger's room.

Adding a trigger is one module in this package (a :class:`~campaigns.triggers.base.TriggerRoom`)
and one line here; a ``Trigger`` value without a room is offered nowhere and planned by
nothing (a test holds every offered trigger to a room that plans)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaigns.back_in_stock import BackInStock
from campaigns.browse_abandonment import BrowseAbandoned
from campaigns.cart_abandonment import CartAbandoned, EmailCart
from campaigns.order_messages import OrderConfirmation, ReviewRequest, ShippingUpdate
from campaigns.triggers import TriggerRoom, UnbuiltTrigger
from campaigns.welcome import Welcome

if TYPE_CHECKING:
    from campaigns.models import Send

ROOMS: dict[str, TriggerRoom] = {
    room.name: room
    for room in (
        CartAbandoned(),
        EmailCart(),
        BrowseAbandoned(),
        Welcome(),
        OrderConfirmation(),
        ShippingUpdate(),
        ReviewRequest(),
        BackInStock(),
    )
}


def trigger_room(name: str) -> TriggerRoom:
    """The room of the trigger ``name`` (a ``Trigger`` value); KeyError for one not built."""
    return ROOMS[name]


def room_of(send: Send) -> TriggerRoom:
    """The room of ``send``'s trigger (its step's flow's)."""
    return ROOMS[send.step.flow.trigger]


def rendering_room(trigger: str) -> TriggerRoom:
    """The room whose variables, sample and longest values a step of ``trigger`` is checked
    and previewed with: its own, or for a trigger not built (a flow saved before it was
    withdrawn, which sends nothing) one that allows any trigger variable."""
    return ROOMS.get(trigger) or UnbuiltTrigger(trigger)


def offered() -> tuple[str, ...]:
    """The triggers a marketer may make a flow for: built, and not planned by a request."""
    return tuple(name for name, room in ROOMS.items() if room.offered)


def planned() -> tuple[str, ...]:
    """The triggers the dispatch pass plans."""
    return tuple(name for name, room in ROOMS.items() if room.planned_by_dispatch)


def uncapped() -> tuple[str, ...]:
    """The triggers whose messages the marketing cap neither counts nor holds."""
    return tuple(name for name, room in ROOMS.items() if not room.capped)

"""The one cart rule (``cart_rules.apply_cart_event``), case by case, without a database.

Both savers (the collector's request, ``recording``, and the buffer's ingest) call it; their own
tests (test_collector.py, test_collector_buffer.py's equivalence test) hold them to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retargeting.tracking.cart_rules import apply_cart_event
from retargeting.tracking.models import Cart

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ITEMS = [{"sku": "A1", "name": "Chemise", "price": "29.95", "quantity": 2}]


def data(cart_id="c-1", total="59.90", items=ITEMS):
    return {"id": cart_id, "currency": "EUR", "total": total, "url": "", "items": items}


def cart(cart_id="c-1", status=Cart.Status.OPEN, total="59.90", at=T0):
    return Cart(
        pk=hash(cart_id) % 1000 + 1,
        site_id=1,
        visitor_id=7,
        external_id=cart_id,
        status=status,
        currency="EUR",
        total=Decimal(total),
        items=ITEMS,
        item_count=2,
        url="",
        created_at=at,
        last_change_at=at,
    )


def apply(open_cart, known, event, at=T0 + timedelta(minutes=5)):
    return apply_cart_event(
        site_id=1, visitor_id=7, open_cart=open_cart, known=known, data=event, at=at
    )


def test_a_first_cart_is_created_open():
    change = apply(None, None, data())
    assert change.changed == [] and change.created is change.open_cart
    assert (change.created.external_id, change.created.total, change.created.item_count) == (
        "c-1",
        Decimal("59.90"),
        2,
    )


def test_the_same_cart_unchanged_changes_nothing_not_even_its_delay():
    current = cart()
    change = apply(current, current, data())
    assert (change.changed, change.created, change.open_cart) == ([], None, current)
    assert current.last_change_at == T0


def test_a_changed_cart_restarts_its_delay():
    current = cart()
    change = apply(current, current, data(total="89.90"))
    assert change.changed == [current] and current.total == Decimal("89.90")
    assert current.last_change_at == T0 + timedelta(minutes=5)


def test_a_new_cart_id_replaces_the_open_cart_leaving_open_first():
    current = cart()
    change = apply(current, None, data(cart_id="c-2"))
    assert change.changed == [current] and current.status == Cart.Status.REPLACED
    assert change.created is change.open_cart and change.created.external_id == "c-2"


def test_a_replaced_cart_seen_again_is_opened_again():
    current, old = cart("c-2"), cart("c-1", status=Cart.Status.REPLACED)
    change = apply(current, old, data(cart_id="c-1", total="10.00"))
    assert change.changed == [current, old]  # the open one leaves "open" first
    assert (current.status, old.status, old.total) == ("replaced", "open", Decimal("10.00"))
    assert change.open_cart is old and change.created is None


@pytest.mark.parametrize("open_cart", [None, "other"])
def test_a_bought_carts_id_reused_changes_nothing(open_cart):
    current = cart("c-2") if open_cart else None
    bought = cart("c-1", status=Cart.Status.CONVERTED)
    change = apply(current, bought, data(cart_id="c-1"))
    assert (change.changed, change.created, change.open_cart) == ([], None, current)
    assert bought.status == Cart.Status.CONVERTED


def test_an_event_older_than_the_open_carts_state_changes_nothing():
    current = cart(at=T0 + timedelta(hours=1))
    change = apply(current, current, data(total="1.00"), at=T0)
    assert change.changed == [] and current.total == Decimal("59.90")

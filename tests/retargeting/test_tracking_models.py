from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from retargeting.tracking.models import Cart, Event, validate_visitor_id
from tests.factories import CartFactory, SiteFactory, VisitorFactory

pytestmark = pytest.mark.django_db


def test_a_visitor_id_is_unique_per_site_only():
    visitor = VisitorFactory()
    VisitorFactory(vid=visitor.vid)  # the same id on another site is another visitor
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitorFactory(site=visitor.site, vid=visitor.vid)


@pytest.mark.parametrize("vid", ["a" * 16, "A-z_09" * 5, "f" * 64])
def test_visitor_ids_of_the_contract_are_accepted(vid):
    validate_visitor_id(vid)


@pytest.mark.parametrize("vid", ["a" * 15, "a" * 65, "a" * 20 + "!", "é" * 20, "a" * 20 + " "])
def test_other_visitor_ids_are_refused(vid):
    with pytest.raises(ValidationError):
        validate_visitor_id(vid)


def test_a_visitor_has_at_most_one_open_cart():
    cart = CartFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CartFactory(visitor=cart.visitor)
    cart.status = Cart.Status.REPLACED
    cart.save()
    CartFactory(visitor=cart.visitor)
    assert cart.visitor.carts.filter(status=Cart.Status.OPEN).count() == 1


def test_a_converted_cart_must_say_when():
    cart = CartFactory()
    cart.status = Cart.Status.CONVERTED
    with pytest.raises(IntegrityError), transaction.atomic():
        cart.save()
    cart.converted_at = timezone.now()
    cart.save()


def test_events_of_an_unknown_type_are_refused():
    site = SiteFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(site=site, type="click", received_at=timezone.now())

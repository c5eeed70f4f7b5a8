"""Factories for the models of the three layers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.models import Flow, Send, SendStatus, Step
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from retargeting.sites import keys
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart, Visitor


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Shop {n}")
    public_key = factory.LazyFunction(keys.new_public_key)
    secret_key_hash = factory.LazyFunction(lambda: keys.hash_secret_key(keys.new_secret_key()))
    secret_key_hint = "abcd"
    allowed_domains = factory.LazyFunction(lambda: ["shop.example"])
    country = "FR"
    time_zone = "Europe/Paris"
    language = "fr"


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    site = factory.SubFactory(SiteFactory)
    vid = factory.Sequence(lambda n: f"{n:032x}")
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    visitor = factory.SubFactory(VisitorFactory)
    site = factory.SelfAttribute("visitor.site")
    external_id = factory.Sequence(lambda n: f"cart-{n}")
    currency = "EUR"
    total = Decimal("59.90")
    item_count = 2
    items = factory.LazyFunction(
        lambda: [{"sku": "A1", "name": "Chemise", "price": 29.95, "quantity": 2}]
    )
    url = "https://shop.example/cart"
    created_at = factory.LazyFunction(timezone.now)
    last_change_at = factory.LazyFunction(timezone.now)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    site = factory.SubFactory(SiteFactory)
    phone = factory.Sequence(lambda n: f"+336123{n:05d}")
    first_name = "Marie"
    region = "FR"


class VisitorLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VisitorLink

    visitor = factory.SubFactory(VisitorFactory)
    contact = factory.SubFactory(ContactFactory, site=factory.SelfAttribute("..visitor.site"))
    method = VisitorLink.Method.SERVER
    linked_at = factory.LazyFunction(timezone.now)


class FlowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flow

    site = factory.SubFactory(SiteFactory)
    name = "Relance de panier"
    slug = factory.Sequence(lambda n: f"flow-{n}")


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    flow = factory.SubFactory(FlowFactory)
    position = 1
    delay_minutes = 30
    template = "{{ shop }} : votre panier vous attend {{ link }} STOP"


class SendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Send

    cart = factory.SubFactory(CartFactory)
    subject_id = factory.LazyAttribute(lambda send: send.cart.pk if send.cart else None)
    site = factory.SelfAttribute("cart.site")
    step = factory.SubFactory(StepFactory, flow__site=factory.SelfAttribute("...cart.site"))
    contact = factory.SubFactory(ContactFactory, site=factory.SelfAttribute("..cart.site"))
    status = SendStatus.PLANNED
    planned_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyFunction(timezone.now)


def due_carts(site, count: int, *, delay_minutes: int = 30) -> None:
    """``count`` carts left an hour ago by consenting contacts, and a flow whose step is due.

    For tests run by the real clock (real processes): the site's quiet hours are turned off,
    so the hour the suite runs at does not matter.
    """
    site.quiet_hours = "none"
    site.save()
    StepFactory(flow__site=site, delay_minutes=delay_minutes)
    left = timezone.now() - timedelta(hours=1)
    for _ in range(count):
        contact = ContactFactory(site=site)
        record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
        link = VisitorLinkFactory(visitor__site=site, contact=contact)
        CartFactory(visitor=link.visitor, created_at=left, last_change_at=left)

"""Every page of the marketer's app with a sample to open, for the tests that must see them all
(every string translated, nothing scrolling sideways at 390 px, query counts).

Each page of ``campaigns/dashboard/urls.py`` is either in :data:`PAGES` (a function of the
sample shop that answers the page's path and query string) or in :data:`NOT_PAGES` (exports,
JSON and form posts). ``tests/campaigns/dashboard/test_every_page.py`` fails on a route in
neither: a new page comes with its sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from campaigns.models import Click, Conversion, Flow, Send, SendEvent, SendStatus, ShortLink, Step
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.sites.models import Site
from retargeting.tracking.models import Cart, Event
from tests.factories import ContactFactory, SendFactory, StepFactory


@dataclass
class SampleShop:
    site: Site
    flow: Flow
    step: Step
    contact: Contact
    cart: Cart
    send: Send


def sample_shop(site: Site) -> SampleShop:
    """A shop with one flow, a consenting contact, a cart and a message that was delivered."""
    now = timezone.now()
    contact = ContactFactory(site=site, first_name="Marie")
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        text="J'accepte de recevoir des SMS de rappel.",
    )
    step = StepFactory(flow__site=site)
    send = SendFactory(
        step=step,
        contact=contact,
        cart__visitor__site=site,
        cart__last_change_at=now - timedelta(days=1),
        status=SendStatus.DELIVERED,
        sent_at=now - timedelta(hours=20),
    )
    # TR: the send's history as the engine writes it, a purchase after a tap, and an event
    # received just now (the installation page's "last one"), so every label is on a page.
    for status, source, minutes in (
        (SendStatus.PLANNED, "planner", 30 * 60),
        (SendStatus.ACCEPTED, "worker", 20 * 60),
        (SendStatus.DELIVERED, "provider", 20 * 60 - 1),
    ):
        SendEvent.objects.create(
            send=send, status=status, source=source, at=now - timedelta(minutes=minutes)
        )
    link = ShortLink.objects.create(
        send=send,
        code=f"sample{send.pk}",
        target_url="https://shop.example/cart",
        created_at=now - timedelta(hours=20),
        expires_at=now + timedelta(days=7),
    )
    Click.objects.create(link=link, at=now - timedelta(hours=19))
    Conversion.objects.create(
        site=site,
        order_id=f"sample-{send.pk}",
        total=Decimal("49.85"),
        currency="EUR",
        contact=contact,
        cart=send.cart,
        send=send,
        attribution=Conversion.Attribution.CLICKED,
        occurred_at=now - timedelta(hours=18),
    )
    Event.objects.create(
        site=site, visitor=send.cart.visitor, type="page_view", received_at=now, payload={}
    )
    return SampleShop(
        site=site, flow=step.flow, step=step, contact=contact, cart=send.cart, send=send
    )


Page = Callable[[SampleShop], str]


def _at(name: str, **kwargs: object) -> Page:
    return lambda shop: f"{reverse(name, kwargs=kwargs or None)}?site={shop.site.pk}"


PAGES: dict[str, Page] = {
    "dashboard": _at("dashboard"),
    "dashboard-sends": _at("dashboard-sends"),
    "dashboard-send": lambda shop: (
        f"{reverse('dashboard-send', args=[shop.send.pk])}?site={shop.site.pk}"
    ),
    "dashboard-contact": lambda shop: (
        f"{reverse('dashboard-contact', args=[shop.contact.pk])}?site={shop.site.pk}"
    ),
    "dashboard-install": _at("dashboard-install"),
    # Flows (FL)
    "dashboard-flows": _at("dashboard-flows"),
    "dashboard-flow-new": _at("dashboard-flow-new"),
    "dashboard-sending-rules": _at("dashboard-sending-rules"),
    "dashboard-flow": lambda shop: (
        f"{reverse('dashboard-flow', args=[shop.flow.pk])}?site={shop.site.pk}"
    ),
    "dashboard-contacts": _at("dashboard-contacts"),
}

# Routes that are not pages a marketer reads: exports, JSON, form posts.
NOT_PAGES = {
    "dashboard-export-sends",
    "dashboard-export-conversions",
    "dashboard-install-rotate",
    "dashboard-install-events",
    "dashboard-preview",
    "dashboard-test-send",
    # Flows (FL): form posts
    "dashboard-flow-state",
    "dashboard-flow-step-add",
    "dashboard-flow-step-remove",
    "dashboard-contact-unsubscribe",
}

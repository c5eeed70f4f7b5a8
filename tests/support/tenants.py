"""One row of every model that belongs to a site, for the tests that keep tenants apart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Model
from django.utils import timezone

from campaigns.models import Click, Conversion, DiscountCode, OptOutLink, SendEvent, ShortLink
from optin.models import Consent, ConsentSource, ConsentStatus, DoNotContact
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.models import Membership, Site
from retargeting.tracking.models import Event
from tests.factories import (
    CartFactory,
    ContactFactory,
    FlowFactory,
    SendFactory,
    StepFactory,
    VisitorFactory,
    VisitorLinkFactory,
)


def rows_of(site: Site, *, member=None) -> dict[type[Model], Model]:
    """A row of each site-owned model (and of the models of no site), keyed by model."""
    now = timezone.now()
    n = site.pk
    visitor = VisitorFactory(site=site)
    cart = CartFactory(visitor=visitor)
    contact = ContactFactory(site=site)
    link = VisitorLinkFactory(visitor=VisitorFactory(site=site), contact=contact)
    flow = FlowFactory(site=site)
    step = StepFactory(flow=flow)
    send = SendFactory(cart=cart, step=step, contact=contact)
    short = ShortLink.objects.create(
        send=send,
        code=f"tenant{n}",
        target_url="https://shop.example/cart",
        created_at=now,
        expires_at=now + timedelta(days=7),
    )
    rows: dict[type[Model], Model] = {
        Site: site,
        type(visitor): visitor,
        type(cart): cart,
        type(contact): contact,
        type(link): link,
        type(flow): flow,
        type(step): step,
        type(send): send,
        ShortLink: short,
        OptOutLink: OptOutLink.objects.create(
            code=f"optout{n}", site=site, contact=contact, send=send, created_at=now
        ),
        Event: Event.objects.create(
            site=site, visitor=visitor, type="page_view", received_at=now, payload={}
        ),
        Consent: Consent.objects.create(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.ADMIN,
            text="J'accepte",
            created_at=now,
        ),
        DoNotContact: DoNotContact.objects.create(
            site=site, phone_hash=f"{n:064x}", reason="stop", created_at=now
        ),
        DiscountCode: DiscountCode.objects.create(step=step, code=f"CODE{n}"),
        SendEvent: SendEvent.objects.create(send=send, status="planned", source="planner", at=now),
        Click: Click.objects.create(link=short, at=now),
        Conversion: Conversion.objects.create(
            site=site,
            order_id=f"order-{n}",
            total=Decimal("10"),
            currency="EUR",
            attribution="none",
            occurred_at=now,
        ),
        InboundMessage: InboundMessage.objects.create(
            provider="outbox",
            provider_id=f"in-{n}",
            sender=f"+3361234{n:04d}",
            recipient="+33700000000",
            body="STOP",
            received_at=now,
        ),
        OutboxMessage: OutboxMessage.objects.create(
            provider_id=f"out-{n}", to=f"+3361234{n:04d}", body="Hello", created_at=now
        ),
    }
    if member is not None:
        rows[Membership] = Membership.objects.get_or_create(site=site, user=member)[0]
    return rows

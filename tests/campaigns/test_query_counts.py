"""Query counts on the hot paths, pinned: none grows with the data (Zulip's
``assert_database_query_count``). Each test measures the same path at two sizes and holds the
counts equal, so an N+1 query fails here whatever its cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import sending
from campaigns.dispatch import run_pass
from campaigns.models import Click, Conversion, SendEvent, SendStatus, ShortLink, Trigger
from campaigns.rollups import roll_up_day, roll_up_recent
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
# A Tuesday, 10:00 in Paris.
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def queries(action) -> int:
    return len(captured_queries(action))


def captured_queries(action) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [query["sql"] for query in captured.captured_queries]


def consenting(site, count):
    contacts = []
    for _ in range(count):
        contact = ContactFactory(site=site)
        record_consent(
            contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API
        )
        contacts.append(contact)
    return contacts


def abandoned(site, contacts, *, at):
    for contact in contacts:
        link = VisitorLinkFactory(visitor__site=site, contact=contact)
        CartFactory(visitor=link.visitor, created_at=at, last_change_at=at)


def test_a_dispatch_pass_costs_the_same_queries_for_3_or_30_carts():
    counts = []
    for size in (3, 30):
        site = SiteFactory()
        StepFactory(flow__site=site, delay_minutes=30)
        abandoned(site, consenting(site, size), at=NOW - timedelta(hours=1))
        with time_machine.travel(NOW, tick=False):
            enqueued: list[int] = []
            counts.append(queries(lambda enqueued=enqueued: run_pass(enqueue=enqueued.append)))
            assert len(enqueued) == size  # all planned and handed on
        # The next size's pass sees its own shop only.
        site.flows.update(is_active=False)
        site.sends.update(status=SendStatus.CANCELLED)
    assert counts[0] == counts[1], counts


def test_sending_one_reminder_costs_the_same_queries_however_many_the_contact_got():
    counts = []
    for history in (0, 25):
        site = SiteFactory(quiet_hours="none", cap_per_24h=50, cap_per_7d=50)
        step = StepFactory(flow__site=site, delay_minutes=30)
        (contact,) = consenting(site, 1)
        for index in range(history):  # earlier reminders, most of them weeks ago
            SendFactory(
                site=site,
                step=step,
                contact=contact,
                cart__visitor__site=site,
                status=SendStatus.DELIVERED,
                sent_at=NOW - timedelta(days=index),
            )
        send = SendFactory(
            site=site,
            step=step,
            contact=contact,
            cart__visitor__site=site,
            cart__last_change_at=NOW - timedelta(hours=1),
            planned_at=NOW - timedelta(minutes=20),
            due_at=NOW - timedelta(minutes=5),
            status=SendStatus.PLANNED,
        )
        with time_machine.travel(NOW, tick=False):
            counts.append(queries(lambda send=send: sending.deliver(send_id=send.pk)))
        send.refresh_from_db()
        assert send.status in (SendStatus.ACCEPTED, SendStatus.DELIVERED), send.reason
    assert counts[0] == counts[1], counts


def test_a_batch_of_sends_costs_the_same_queries_for_3_or_12_sends(twilio):
    """Claim, checks (purchase, consent, staleness, the cap of every contact, quiet hours),
    texts and links, the contacts' lock, the results: a constant number of queries per batch,
    whatever its size, and one per message: its write-ahead mark, the update committed just
    before the provider is called for it (so that a crash never leaves a message nobody can
    tell was handed over). The provider's emulator is outside the database: only Relance
    counts."""
    counts, marks = [], []
    for size in (3, 12):
        site = SiteFactory(quiet_hours="none")
        step = StepFactory(flow__site=site, delay_minutes=30)
        contacts = consenting(site, size)
        for contact in contacts:  # each already got a reminder this week, under the cap
            SendFactory(
                site=site,
                step=step,
                contact=contact,
                cart__visitor__site=site,
                status=SendStatus.DELIVERED,
                sent_at=NOW - timedelta(days=3),
            )
        abandoned(site, contacts, at=NOW - timedelta(hours=1))
        with time_machine.travel(NOW, tick=False):
            run_pass(enqueue=lambda send_id: None)  # planned, not sent
            due = list(site.sends.filter(status=SendStatus.PLANNED).values_list("pk", flat=True))
            assert len(due) == size
            outcomes: dict[int, str] = {}
            sql = captured_queries(
                lambda due=due, out=outcomes: out.update(sending.deliver_batch(send_ids=due))
            )
        assert list(outcomes.values()) == ["accepted"] * size
        marks.append(sum("SET handed_at =" in query for query in sql))
        counts.append(len(sql) - size)  # the batch's own queries, without one mark per message
    assert marks == [3, 12], marks  # exactly one per message, and nothing else grows
    assert counts[0] == counts[1], counts
    # Pinned: 13 statements (14 on PostgreSQL, which locks the contacts) and the savepoints of
    # the two transactions; one send alone cost 14 statements before batches.
    assert counts[0] <= 18, counts


@pytest.fixture
def marketer_of():
    def make(site):
        user = User.objects.create_user(f"marketer-{site.pk}", password="x")
        add_member(site=site, user=user)
        return user

    return make


# Sends of every kind of subject, mixed: a cart's, and (without a cart) a product view's, an
# order's, a confirmed contact's. Their rooms may be built elsewhere: the figures and the pages
# read a send's trigger from its flow and need no room to count or show it.
OTHER_TRIGGERS = (
    Trigger.BROWSE_ABANDONED,
    Trigger.ORDER_CONFIRMATION,
    Trigger.SHIPPING_UPDATE,
    Trigger.WELCOME,
)


def shop_with_sends(count):
    """``count`` sends of a cart flow and ``count`` of each other trigger's flow, tapped and
    bought for one in three, and one contact's opt-out after them."""
    site = SiteFactory()
    steps = [StepFactory(flow__site=site)] + [
        StepFactory(flow__site=site, flow__trigger=trigger) for trigger in OTHER_TRIGGERS
    ]
    contact = ContactFactory(site=site, email="marie@example.fr")
    record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SNIPPET)
    sends = []
    sent_at = NOW - timedelta(days=1)
    with time_machine.travel(sent_at, tick=False):
        for step in steps:
            for index in range(count):
                common = {
                    "site": site,
                    "step": step,
                    "contact": contact,
                    # both channels, as figures split them
                    "channel": "email" if index % 2 else "sms",
                    "status": SendStatus.DELIVERED,
                    "sent_at": sent_at,
                    "cost": Decimal("0.0450"),
                }
                if step.flow.trigger == Trigger.CART_ABANDONED:
                    send = SendFactory(cart__visitor__site=site, **common)
                else:
                    send = SendFactory(cart=None, subject_id=1000 * step.pk + index, **common)
                for status in (SendStatus.SENDING, SendStatus.ACCEPTED, SendStatus.DELIVERED):
                    SendEvent.objects.create(send=send, status=status, source="worker", at=NOW)
                if index % 3 == 0:
                    link = ShortLink.objects.create(
                        send=send,
                        code=f"q{send.pk}",
                        target_url="https://shop.example/",
                        created_at=sent_at,
                        expires_at=sent_at + timedelta(days=30),
                    )
                    Click.objects.create(link=link, at=sent_at + timedelta(minutes=5))
                    Conversion.objects.create(
                        site=site,
                        order_id=f"o{send.pk}",
                        total=Decimal("30.00"),
                        currency="EUR",
                        contact=contact,
                        send=send,
                        attribution=Conversion.Attribution.CLICKED,
                        occurred_at=sent_at + timedelta(minutes=10),
                    )
                sends.append(send)
    record_consent(
        contact=contact,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.KEYWORD,
        at=sent_at + timedelta(hours=2),
    )
    roll_up_recent()  # the overview reads the rollups: they hold these sends
    return site, contact, sends


PAGES = {
    "overview": lambda site, contact, sends: f"/dashboard/?site={site.pk}",
    "overview-email": lambda site, contact, sends: f"/dashboard/?site={site.pk}&channel=email",
    "sends-email": lambda site, contact, sends: f"/dashboard/sends/?site={site.pk}&channel=email",
    "sends-browse": lambda site, contact, sends: (
        f"/dashboard/sends/?site={site.pk}&trigger=browse_abandoned"
    ),
    "sends-search-id": lambda site, contact, sends: f"/dashboard/sends/?site={site.pk}&q=1001",
    "sends-search-email": lambda site, contact, sends: (
        f"/dashboard/sends/?site={site.pk}&q=marie@example.fr"
    ),
    "export-conversions": lambda site, contact, sends: (
        f"/dashboard/exports/conversions.csv?site={site.pk}"
    ),
    "sends": lambda site, contact, sends: f"/dashboard/sends/?site={site.pk}",
    "send": lambda site, contact, sends: f"/dashboard/sends/{sends[0].pk}/?site={site.pk}",
    "send-without-cart": lambda site, contact, sends: (
        f"/dashboard/sends/{sends[-1].pk}/?site={site.pk}"
    ),
    "contact": lambda site, contact, sends: f"/dashboard/contacts/{contact.pk}/?site={site.pk}",
    "install": lambda site, contact, sends: f"/dashboard/install/?site={site.pk}",
    "export": lambda site, contact, sends: f"/dashboard/exports/sends.csv?site={site.pk}",
}


@pytest.mark.parametrize("page", sorted(PAGES))
@time_machine.travel(NOW, tick=False)
def test_each_dashboard_page_costs_the_same_queries_for_2_or_12_sends(client, marketer_of, page):
    counts = []
    for size in (2, 12):
        site, contact, sends = shop_with_sends(size)
        client.force_login(marketer_of(site))
        url = PAGES[page](site, contact, sends)
        assert {send.step.flow.trigger for send in sends} == {
            Trigger.CART_ABANDONED,
            *OTHER_TRIGGERS,
        }
        assert sum(send.cart_id is None for send in sends) == size * len(OTHER_TRIGGERS)

        def load(url=url):
            response = client.get(url)
            assert response.status_code == 200
            if response.streaming:
                b"".join(response.streaming_content)
            return response

        first = load()  # the session and the member's language are settled on the first request
        if page == "overview":  # every flow is shown, with what its sends did
            shown = first.context["flows"]
            assert len(shown) == 1 + len(OTHER_TRIGGERS)
            assert all(one["row"].sent == size for one in shown), shown
        if page == "sends":
            assert len(first.context["rows"]) == min(size * (1 + len(OTHER_TRIGGERS)), 50)
        counts.append(queries(load))
    assert counts[0] == counts[1], counts


@time_machine.travel(NOW, tick=False)
def test_rolling_up_a_day_costs_the_same_queries_for_2_or_12_sends():
    counts = []
    for size in (2, 12):
        site, _, _ = shop_with_sends(size)
        day = (NOW - timedelta(days=1)).date()
        counts.append(queries(lambda site=site, day=day: roll_up_day(site=site, day=day)))
    assert counts[0] == counts[1], counts


def test_a_batch_of_emails_costs_the_same_queries_for_3_or_12_sends(smtp, settings):
    """The email path of the batch: the same constant queries as SMS's, one write-ahead mark
    per email, plus one update dating the contacts' last email (``last_emailed_at``); the SMTP
    session is outside the database."""
    settings.EMAIL_MPS = 0  # the sender's rate is not what is measured
    counts, marks = [], []
    for size in (3, 12):
        site = SiteFactory(quiet_hours="none")
        step = StepFactory(flow__site=site, delay_minutes=30, channel="email", subject="Panier")
        contacts = []
        for index in range(size):
            contact = ContactFactory(site=site, phone="", email=f"c{site.pk}-{index}@example.org")
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED,
                source=ConsentSource.SERVER_API,
                channel="email",
            )
            SendFactory(  # each already got an email this week, under the cap
                site=site,
                step=step,
                contact=contact,
                cart__visitor__site=site,
                channel="email",
                status=SendStatus.DELIVERED,
                sent_at=NOW - timedelta(days=3),
            )
            contacts.append(contact)
        abandoned(site, contacts, at=NOW - timedelta(hours=1))
        with time_machine.travel(NOW, tick=False):
            run_pass(enqueue=lambda send_id: None)  # planned, not sent
            due = list(site.sends.filter(status=SendStatus.PLANNED).values_list("pk", flat=True))
            assert len(due) == size
            outcomes: dict[int, str] = {}
            sql = captured_queries(
                lambda due=due, out=outcomes: out.update(sending.deliver_batch(send_ids=due))
            )
        assert list(outcomes.values()) == ["accepted"] * size
        marks.append(sum("SET handed_at =" in query for query in sql))
        counts.append(len(sql) - size)
    assert marks == [3, 12], marks
    assert counts[0] == counts[1], counts
    # Pinned: the SMS batch's, plus the update of last_emailed_at and the read of the same
    # shop's carts bought on another device (one per batch).
    assert counts[0] <= 20, counts


def browse_shop(size, *, quiet_hours="fr_strict"):
    """A shop with a browse flow and ``size`` consenting contacts who each viewed a product
    two hours ago and left (each a product of its own, a tenth of them on a second browser)."""
    from campaigns.models import Trigger
    from retargeting.tracking.models import Product, ProductView
    from tests.factories import FlowFactory

    site = SiteFactory(quiet_hours=quiet_hours)
    StepFactory(
        flow=FlowFactory(site=site, trigger=Trigger.BROWSE_ABANDONED),
        delay_minutes=60,
        template="{{ product_name }} {{ product_price }} {{ link }} {{ stop }}",
    )
    at = NOW - timedelta(hours=2)
    for n, contact in enumerate(consenting(site, size)):
        product = Product.objects.create(
            site=site,
            external_id=f"p{n}",
            name=f"Produit {n}",
            url=f"https://shop.example/p/{n}",
            price=20 + n,
            currency="EUR",
            available=True,
            updated_at=at,
        )
        links = [VisitorLinkFactory(visitor__site=site, contact=contact)]
        if n % 10 == 0:
            links.append(VisitorLinkFactory(visitor__site=site, contact=contact))
        for link in links:
            link.visitor.last_seen_at = at
            link.visitor.save()
            ProductView.objects.create(
                site=site, visitor=link.visitor, product=product, day=at.date(), viewed_at=at
            )
    return site


def test_a_browse_pass_costs_the_same_queries_for_3_or_30_views():
    counts = []
    for size in (3, 30):
        site = browse_shop(size)
        with time_machine.travel(NOW, tick=False):
            enqueued: list[int] = []
            counts.append(queries(lambda enqueued=enqueued: run_pass(enqueue=enqueued.append)))
            assert len(enqueued) == size  # one per contact, whatever its browsers
        site.flows.update(is_active=False)
        site.sends.update(status=SendStatus.CANCELLED)
    assert counts[0] == counts[1], counts


def test_a_batch_of_browse_sends_costs_the_same_queries_for_3_or_12_sends(twilio):
    """The views, their products and browsers, and what ends their journeys (a cart, an order
    or a purchase since the view; the cooldown) are read in one query, before rendering and
    again under the contacts' lock."""
    counts = []
    for size in (3, 12):
        site = browse_shop(size, quiet_hours="none")
        with time_machine.travel(NOW, tick=False):
            run_pass(enqueue=lambda send_id: None)
            due = list(site.sends.filter(status=SendStatus.PLANNED).values_list("pk", flat=True))
            assert len(due) == size
            outcomes: dict[int, str] = {}
            sql = captured_queries(
                lambda due=due, out=outcomes: out.update(sending.deliver_batch(send_ids=due))
            )
        assert list(outcomes.values()) == ["accepted"] * size
        views = [query for query in sql if query.startswith('SELECT "tracking_productview"."id"')]
        assert len(views) == 2, views  # load(), then refresh() under the lock
        counts.append(len(sql) - size)  # without one write-ahead mark per message
    assert counts[0] == counts[1], counts

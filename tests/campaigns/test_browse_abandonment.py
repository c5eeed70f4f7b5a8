"""Browse abandonment end to end: a consenting contact views a product and leaves; the SMS goes
(the outbox) after the step's delay, linking to the product page, once per product and contact
per cooldown; a cart, a purchase, an order, an unavailable product or a browser active again
stop or delay it; it is stale 48 h after the view.

The rules as the issue states them (the cart flow wins; one per product and contact per
cooldown, Postscript's being 72 hours) and as Klaviyo's browse abandonment flows are commonly
filtered: "has not added to cart / started checkout / placed order since starting this
flow"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from campaigns import browse_abandonment
from campaigns.browse_abandonment import COOLDOWN, cooldown_condition, in_cooldown
from campaigns.dispatch import run_pass
from campaigns.models import (
    Conversion,
    Order,
    OrderStatus,
    Send,
    SendStatus,
    ShortLink,
    Trigger,
)
from campaigns.send_reasons import SendReason
from campaigns.sending import deliver_batch
from campaigns.trigger_registry import trigger_room
from retargeting.gateways.models import OutboxMessage
from retargeting.tracking.models import Product, ProductView, Visitor
from tests.factories import CartFactory, FlowFactory, StepFactory, VisitorLinkFactory

pytestmark = pytest.mark.django_db
# A Tuesday, 11:00 in Paris: open hours, so the tests are about the journey, not the clock.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEXT = (
    "{{ first_name }}, {{ product_name }} ({{ product_price }}) vous attend : {{ link }} {{ stop }}"
)


def travel(at):
    return time_machine.travel(at, tick=False)


@pytest.fixture
def step(site):
    flow = FlowFactory(site=site, trigger=Trigger.BROWSE_ABANDONED, slug="browse")
    return StepFactory(flow=flow, delay_minutes=60, template=TEXT)


@pytest.fixture
def product(site):
    return make_product(site, "chemise", "Chemise en lin")


def make_product(site, external_id, name, **fields):
    values = {
        "name": name,
        "url": f"https://shop.example/p/{external_id}",
        "image": f"https://cdn.example/{external_id}.jpg",
        "price": Decimal("49.90"),
        "currency": "EUR",
        "available": True,
        "updated_at": NOW - timedelta(days=30),
    }
    values.update(fields)
    return Product.objects.create(site=site, external_id=external_id, **values)


def browser_of(contact):
    return VisitorLinkFactory(visitor__site=contact.site, contact=contact).visitor


def viewed(visitor, product, *, at):
    """``visitor`` saw ``product`` at ``at`` and did nothing since (its last activity)."""
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=at)
    view, _ = ProductView.objects.update_or_create(
        site=visitor.site,
        visitor=visitor,
        product=product,
        day=at.date(),
        defaults={"viewed_at": at},
    )
    return view


def sms_to(contact):
    return list(OutboxMessage.objects.filter(to=contact.phone).values_list("body", flat=True))


def test_a_view_left_for_the_delay_brings_one_sms_linking_to_the_product_page(
    client, step, product, consenting_contact
):
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(minutes=60))
    with travel(NOW - timedelta(seconds=1)):  # 59 min 59 s: not yet
        assert run_pass(deliver_inline=True).planned == 0
    assert sms_to(consenting_contact) == []
    with travel(NOW):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)
    (body,) = sms_to(consenting_contact)
    assert "Chemise en lin (49,90 €) vous attend" in body
    send = Send.objects.get(step=step)
    assert send.subject_id == ProductView.objects.get().pk and send.cart_id is None
    # The link leads to the product page, with the UTM tags.
    link = ShortLink.objects.get(send=send)
    assert link.code in body
    answer = client.get(f"/s/{link.code}")
    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    assert (target.netloc, target.path) == ("shop.example", "/p/chemise")
    query = parse_qs(target.query)
    assert query["utm_source"] == ["sms"] and query["utm_medium"] == ["relance"]
    assert query["utm_campaign"] == ["browse"]
    # Nothing twice: the next pass plans nothing more.
    with travel(NOW + timedelta(minutes=5)):
        assert run_pass(deliver_inline=True).planned == 0
    assert len(sms_to(consenting_contact)) == 1


def test_a_contact_without_consent_gets_nothing(step, product, site):
    from tests.factories import ContactFactory

    contact = ContactFactory(site=site)  # no consent given
    viewed(browser_of(contact), product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    assert sms_to(contact) == []


def test_a_browser_active_after_the_view_waits_the_delay_again(step, product, consenting_contact):
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=2))
    Visitor.objects.filter(pk=browser.pk).update(last_seen_at=NOW - timedelta(minutes=30))
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    with travel(NOW + timedelta(minutes=30) - timedelta(seconds=1)):
        assert run_pass(deliver_inline=True).planned == 0
    with travel(NOW + timedelta(minutes=30)):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)


def test_a_browser_back_after_planning_moves_the_message(step, product, consenting_contact, site):
    browser = browser_of(consenting_contact)
    evening = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)  # 20:30 in Paris: held until 08:00
    viewed(browser, product, at=evening - timedelta(hours=1))
    with travel(evening):
        assert run_pass(deliver_inline=True).planned == 1
    send = Send.objects.get()
    assert send.status == SendStatus.PLANNED and send.due_at > evening
    back = send.due_at - timedelta(minutes=10)  # browsing again just before it was due
    Visitor.objects.filter(pk=browser.pk).update(last_seen_at=back)
    with travel(send.due_at):
        run_pass(deliver_inline=True)
    send.refresh_from_db()
    assert send.status == SendStatus.PLANNED
    assert send.due_at == back + timedelta(minutes=60)
    # In the browse's words, not the cart's.
    assert send.reason == SendReason.BROWSING_AGAIN
    with travel(send.due_at):
        assert run_pass(deliver_inline=True).sent == 1
    assert len(sms_to(consenting_contact)) == 1


@pytest.mark.parametrize("minutes_after_view", [0, 30])
def test_a_cart_with_items_since_the_view_suppresses_it(
    step, product, consenting_contact, minutes_after_view
):
    browser = browser_of(consenting_contact)
    at = NOW - timedelta(hours=2)
    viewed(browser, product, at=at)
    # On another browser of the same contact: the cart flow wins all the same.
    other = browser_of(consenting_contact)
    added = at + timedelta(minutes=minutes_after_view)
    CartFactory(visitor=other, created_at=added, last_change_at=added)
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    assert sms_to(consenting_contact) == []


def test_a_cart_before_the_view_or_emptied_since_does_not(step, product, consenting_contact):
    browser = browser_of(consenting_contact)
    at = NOW - timedelta(hours=2)
    CartFactory(
        visitor=browser, created_at=at - timedelta(days=3), last_change_at=at - timedelta(days=3)
    )
    other = browser_of(consenting_contact)
    CartFactory(visitor=other, item_count=0, items=[], created_at=at, last_change_at=at)
    viewed(browser, product, at=at)
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1


def test_a_cart_after_planning_cancels_it_at_send_time(step, product, consenting_contact):
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(enqueue=lambda send_id: None).planned == 1
    CartFactory(visitor=browser, created_at=NOW, last_change_at=NOW + timedelta(seconds=1))
    send = Send.objects.get()
    with travel(NOW + timedelta(minutes=1)):
        assert deliver_batch(send_ids=[send.pk]) == {send.pk: SendReason.BROWSED_THEN_BOUGHT}
    send.refresh_from_db()
    assert (send.status, send.reason) == (SendStatus.CANCELLED, SendReason.BROWSED_THEN_BOUGHT)
    assert sms_to(consenting_contact) == []


@pytest.mark.parametrize("how", ["order", "purchase", "converted_cart"])
def test_a_purchase_or_an_order_since_the_view_suppresses_it(
    step, product, consenting_contact, site, how
):
    browser = browser_of(consenting_contact)
    at = NOW - timedelta(hours=2)
    viewed(browser, product, at=at)
    bought = at + timedelta(minutes=20)
    if how == "order":
        Order.objects.create(
            site=site,
            external_id="1001",
            status=OrderStatus.PAID,
            contact=consenting_contact,
            created_at=bought,
            updated_at=bought,
        )
    elif how == "purchase":
        Conversion.objects.create(
            site=site,
            order_id="1001",
            total=Decimal("49.90"),
            currency="EUR",
            contact=consenting_contact,
            occurred_at=bought,
        )
    else:
        cart_at = at - timedelta(days=1)
        CartFactory(
            visitor=browser,
            status="converted",
            created_at=cart_at,
            last_change_at=cart_at,
            converted_at=bought,
        )
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    assert sms_to(consenting_contact) == []


def test_an_order_of_an_earlier_day_does_not(step, product, consenting_contact, site):
    at = NOW - timedelta(hours=2)
    Order.objects.create(
        site=site,
        external_id="999",
        status=OrderStatus.DELIVERED,
        contact=consenting_contact,
        created_at=at - timedelta(days=10),
        updated_at=at - timedelta(days=10),
    )
    viewed(browser_of(consenting_contact), product, at=at)
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1


def test_an_unavailable_product_gets_nothing_and_unknown_stock_does(step, site, consenting_contact):
    browser = browser_of(consenting_contact)
    gone = make_product(site, "gone", "Veste", available=False)
    viewed(browser, gone, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    # Control: stock unknown (no page or shop said) is not "unavailable".
    unknown = make_product(site, "unknown", "Pull", available=None)
    viewed(browser, unknown, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1
    assert "Pull" in sms_to(consenting_contact)[0]


def test_a_product_gone_out_of_stock_after_planning_is_cancelled(step, product, consenting_contact):
    viewed(browser_of(consenting_contact), product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        run_pass(enqueue=lambda send_id: None)
    Product.objects.filter(pk=product.pk).update(available=False)
    send = Send.objects.get()
    with travel(NOW + timedelta(minutes=1)):
        deliver_batch(send_ids=[send.pk])
    send.refresh_from_db()
    assert send.reason == SendReason.BROWSE_PRODUCT_UNAVAILABLE
    assert sms_to(consenting_contact) == []


def test_stale_48_hours_after_the_view(step, product, consenting_contact):
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=48))
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    # Control: at 47 h 59 it still goes.
    with travel(NOW - timedelta(minutes=1)):
        assert run_pass(deliver_inline=True).sent == 1


def test_a_planned_message_not_sent_within_48_hours_is_dropped(step, product, consenting_contact):
    at = NOW - timedelta(hours=2)
    viewed(browser_of(consenting_contact), product, at=at)
    with travel(NOW):
        run_pass(enqueue=lambda send_id: None)
    send = Send.objects.get()
    with travel(at + timedelta(hours=48)):
        deliver_batch(send_ids=[send.pk])
    send.refresh_from_db()
    assert (send.status, send.reason) == (SendStatus.DROPPED, SendReason.STALE)
    assert trigger_room(Trigger.BROWSE_ABANDONED).stale_after(step.flow.site) == timedelta(hours=48)


def test_two_days_or_two_browsers_of_one_product_bring_one_message(
    step, product, consenting_contact, site
):
    site.cap_per_24h = 10  # the cap is not what keeps the second one out
    site.cap_per_7d = 10
    site.save()
    phone, laptop = browser_of(consenting_contact), browser_of(consenting_contact)
    viewed(phone, product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1
    # The next day on the laptop, and again on the phone: two new subjects, the same product.
    next_day = NOW + timedelta(days=1)
    viewed(laptop, product, at=next_day - timedelta(hours=3))
    viewed(phone, product, at=next_day - timedelta(hours=2))
    assert ProductView.objects.count() == 3
    with travel(next_day):
        assert run_pass(deliver_inline=True).planned == 0
    assert len(sms_to(consenting_contact)) == 1


def test_the_cooldown_ends_after_7_days(step, product, consenting_contact, site):
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        run_pass(deliver_inline=True)
    sent_at = Send.objects.get().sent_at
    ends = sent_at + COOLDOWN
    viewed(browser, product, at=ends - timedelta(hours=2))
    with travel(ends - timedelta(seconds=1)):
        assert run_pass(deliver_inline=True).planned == 0
    with travel(ends):
        assert run_pass(deliver_inline=True).sent == 1
    assert len(sms_to(consenting_contact)) == 2


def test_another_product_later_is_not_the_cooldown_s(step, site, consenting_contact, product):
    site.cap_per_24h = 10
    site.cap_per_7d = 10
    site.save()
    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1
    # Back the next day for another product: a new visit, another message.
    other = make_product(site, "pull", "Pull marin")
    viewed(browser, other, at=NOW + timedelta(days=1) - timedelta(hours=2))
    with travel(NOW + timedelta(days=1)):
        assert run_pass(deliver_inline=True).sent == 1
    assert "Pull marin" in sms_to(consenting_contact)[1]


def test_one_message_per_visit_for_the_product_viewed_last(step, site, consenting_contact):
    site.cap_per_24h = 10
    site.cap_per_7d = 10
    site.save()
    browser = browser_of(consenting_contact)
    products = [make_product(site, f"p{n}", f"Produit {n}") for n in range(3)]
    for n, each in enumerate(products):
        viewed(browser, each, at=NOW - timedelta(hours=3) + timedelta(minutes=10 * n))
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1
    (body,) = sms_to(consenting_contact)
    assert "Produit 2" in body
    # The products seen before it are not messaged by the next passes either.
    with travel(NOW + timedelta(hours=1)):
        assert run_pass(deliver_inline=True).planned == 0


def test_values_and_email_content(step, product, consenting_contact):
    view = viewed(browser_of(consenting_contact), product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        run_pass(enqueue=lambda send_id: None)
    send = Send.objects.select_related("site", "step__flow").get()
    room = trigger_room(Trigger.BROWSE_ABANDONED)
    room.load([send])
    assert send.subject_object == view
    assert room.values(send) == {"product_name": "Chemise en lin", "product_price": "49,90 €"}
    content = room.email_content(send)
    assert content.item_count == 1 and content.total == Decimal("49.90")
    (item,) = content.items
    assert item["name"] == "Chemise en lin" and item["url"] == "https://shop.example/p/chemise"
    # A product page off the shop's domains: the link leads home.
    Product.objects.filter(pk=product.pk).update(url="https://elsewhere.example/p/chemise")
    room.load([send])
    assert room.link_target(send) == send.site.home_url


# -- the cooldown's two homes, held to the same cases (as campaigns.eligibility's test) ------

HOUR = timedelta(hours=1)
CASES = [
    # status, sent this long ago, planned this long ago, in the cooldown?
    (SendStatus.DELIVERED, COOLDOWN - timedelta(seconds=1), COOLDOWN, True),
    (SendStatus.DELIVERED, COOLDOWN, COOLDOWN, False),
    (SendStatus.ACCEPTED, HOUR, HOUR, True),
    (SendStatus.SENT, 3 * 24 * HOUR, 3 * 24 * HOUR, True),
    (SendStatus.HELD_OUT, None, COOLDOWN - timedelta(seconds=1), True),
    (SendStatus.HELD_OUT, None, COOLDOWN, False),
    (SendStatus.PLANNED, None, 20 * 24 * HOUR, True),
    (SendStatus.SENDING, None, HOUR, True),
    (SendStatus.CANCELLED, None, HOUR, False),
    (SendStatus.DROPPED, None, HOUR, False),
    (SendStatus.FAILED, None, HOUR, False),
    (SendStatus.UNDELIVERED, HOUR, HOUR, False),
]


def test_the_cooldown_in_sql_and_in_python_agree(step, product, consenting_contact, site):
    sends = []
    for n, (status, sent_ago, planned_ago, _) in enumerate(CASES):
        sends.append(
            Send.objects.create(
                site=site,
                step=step,
                subject_id=10_000 + n,
                contact=consenting_contact,
                status=status,
                planned_at=NOW - planned_ago,
                due_at=NOW - planned_ago,
                claimed_at=NOW if status == SendStatus.SENDING else None,
                sent_at=NOW - sent_ago if sent_ago is not None else None,
            )
        )
    in_sql = set(
        Send.objects.filter(pk__in=[s.pk for s in sends])
        .filter(cooldown_condition(NOW))
        .values_list("pk", flat=True)
    )
    for send, (status, _, _, expected) in zip(sends, CASES, strict=True):
        in_python = in_cooldown(
            status=send.status, sent_at=send.sent_at, planned_at=send.planned_at, now=NOW
        )
        assert in_python is expected, status
        assert (send.pk in in_sql) is expected, status


def test_the_room_is_registered_marketing_and_offered():
    room = trigger_room(Trigger.BROWSE_ABANDONED)
    assert isinstance(room, browse_abandonment.BrowseAbandoned)
    assert room.needs_consent and room.capped and room.holdout and room.planned_by_dispatch
    assert room.default_delay_minutes == 60
    assert set(room.variables) == {"product_name", "product_price"}


def test_a_page_view_through_the_collector_after_the_product_view_waits_the_delay_again(
    client, step, product, consenting_contact
):
    """The browser's activity as the collector records it (``POST /t/e``; the product view
    itself is written directly here: the collector's ``product_view`` is another part of
    this work)."""
    import json

    browser = browser_of(consenting_contact)
    viewed(browser, product, at=NOW - timedelta(hours=2))
    back = NOW - timedelta(minutes=30)
    with travel(back):
        answer = client.post(
            "/t/e",
            data=json.dumps(
                {
                    "site": step.flow.site.public_key,
                    "vid": browser.vid,
                    "events": [{"type": "page_view", "url": "https://shop.example/"}],
                }
            ),
            content_type="text/plain",
            HTTP_ORIGIN="https://shop.example",
        )
    assert answer.status_code == 204
    browser.refresh_from_db()
    assert browser.last_seen_at == back
    with travel(NOW):
        assert run_pass(deliver_inline=True).planned == 0
    with travel(back + timedelta(minutes=60)):
        assert run_pass(deliver_inline=True).sent == 1


def test_two_sends_of_one_product_and_contact_in_one_batch_bring_one_message(
    step, product, consenting_contact, site
):
    """Two passes racing could plan two views of one product for one contact (two browsers):
    the batch sends the first only."""
    site.cap_per_24h = 10
    site.cap_per_7d = 10
    site.save()
    at = NOW - timedelta(hours=2)
    views = [viewed(browser_of(consenting_contact), product, at=at) for _ in range(2)]
    sends = [
        Send.objects.create(
            site=site,
            step=step,
            subject_id=view.pk,
            contact=consenting_contact,
            planned_at=NOW,
            due_at=NOW,
        )
        for view in views
    ]
    with travel(NOW):
        outcomes = deliver_batch(send_ids=[send.pk for send in sends])
    assert outcomes == {sends[0].pk: "accepted", sends[1].pk: SendReason.BROWSE_COOLDOWN}
    assert len(sms_to(consenting_contact)) == 1


def test_an_email_step_shows_the_product_as_one_item(smtp, site, product):
    """The same journey by email (a real SMTP server): the product as the email's one item,
    its page as the link."""
    from campaigns.models import StepChannel
    from optin.consent import record_consent
    from optin.models import ConsentSource, ConsentStatus
    from retargeting.channels import Channel
    from tests.factories import ContactFactory

    flow = FlowFactory(site=site, trigger=Trigger.BROWSE_ABANDONED, slug="browse-email")
    StepFactory(
        flow=flow,
        channel=StepChannel.EMAIL,
        delay_minutes=60,
        subject="{{ product_name }} vous attend",
        template="{{ first_name }}, {{ product_name }} à {{ product_price }} : {{ link }}",
    )
    contact = ContactFactory(site=site, email="marie@example.org")
    record_consent(
        contact=contact,
        status=ConsentStatus.GRANTED,
        source=ConsentSource.SERVER_API,
        channel=Channel.EMAIL,
        text="J'accepte de recevoir des e-mails.",
    )
    viewed(browser_of(contact), product, at=NOW - timedelta(hours=2))
    with travel(NOW):
        assert run_pass(deliver_inline=True).sent == 1
    (received,) = smtp.messages
    assert received.recipients == ["marie@example.org"]
    assert received.message["Subject"] == "Chemise en lin vous attend"
    html = next(
        part.get_content()
        for part in received.message.walk()
        if part.get_content_type() == "text/html"
    )
    assert "Chemise en lin" in html and "49,90" in html


@pytest.mark.parametrize(
    ("sent_ago", "outcome"),
    [(COOLDOWN - timedelta(seconds=1), SendReason.BROWSE_COOLDOWN), (COOLDOWN, "accepted")],
)
def test_the_cooldown_is_checked_again_at_send_time(
    step, product, consenting_contact, site, sent_ago, outcome
):
    """A message for the product that went out meanwhile (planned by another path, or
    planned before the first one went): checked again just before sending."""
    at = NOW - timedelta(hours=2)
    earlier = viewed(browser_of(consenting_contact), product, at=at - timedelta(days=1))
    view = viewed(browser_of(consenting_contact), product, at=at)
    Send.objects.create(
        site=site,
        step=step,
        subject_id=earlier.pk,
        contact=consenting_contact,
        status=SendStatus.DELIVERED,
        planned_at=NOW - sent_ago,
        due_at=NOW - sent_ago,
        sent_at=NOW - sent_ago,
    )
    send = Send.objects.create(
        site=site,
        step=step,
        subject_id=view.pk,
        contact=consenting_contact,
        planned_at=NOW,
        due_at=NOW,
    )
    with travel(NOW):
        assert deliver_batch(send_ids=[send.pk]) == {send.pk: outcome}

"""Every trigger in the dashboard: its sends counted in the activity per flow and step (live
and rolled up alike), each flow shown with its trigger's name, transactional messages never
credited with revenue but their cost counted, the carts' funnel kept the cart flows' own, and
"why not sent" finding a send of any trigger by its contact, its cart, the shop's order or
product id, each send saying what it is about; the exports carry the trigger and subject."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User

from campaigns import figures as live
from campaigns.dashboard import figures as rolled
from campaigns.dashboard.explanations import FILTERABLE
from campaigns.figures import FlowFigures
from campaigns.models import (
    Click,
    Conversion,
    Order,
    OrderStatus,
    Send,
    SendStatus,
    ShortLink,
    Trigger,
)
from campaigns.rollups import roll_up_recent
from campaigns.send_reasons import SendReason
from campaigns.trigger_registry import ROOMS
from campaigns.triggers import Kind, TriggerRoom
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.sites.services import add_member
from retargeting.tracking.models import Product, ProductView
from tests.factories import ContactFactory, FlowFactory, SendFactory, StepFactory, VisitorFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
SENT_AT = NOW - timedelta(days=1)
DAY = SENT_AT.date()


class BrowseStandIn(TriggerRoom):
    """Until the browse room is merged: what the dashboard needs of it (its subjects'
    table and what a marketer may type). The real room must say the same."""

    name = Trigger.BROWSE_ABANDONED
    subject_model = ProductView
    subject_search = ("product__external_id",)

    def load(self, sends):
        views = ProductView.objects.select_related("product").in_bulk(
            [send.subject_id for send in sends]
        )
        for send in sends:
            send.subject = views.get(send.subject_id)

    def describe(self, send):
        if send.subject is None:
            return super().describe(send)
        return f"viewed {send.subject.product.name}"


class OrderConfirmationStandIn(TriggerRoom):
    """Until the orders' rooms are merged: a transactional trigger whose subject is an order."""

    name = Trigger.ORDER_CONFIRMATION
    kind = Kind.TRANSACTIONAL
    needs_consent = False
    capped = False
    subject_model = Order
    subject_search = ("external_id",)


@pytest.fixture
def rooms(monkeypatch):
    """The rooms of the triggers other engineers build, where they are not built yet."""
    for room in (BrowseStandIn(), OrderConfirmationStandIn()):
        if room.name not in ROOMS:
            monkeypatch.setitem(ROOMS, room.name, room)


@pytest.fixture
def marketer(site):
    user = User.objects.create_user("marketer", password="x")
    add_member(site=site, user=user)
    return user


def _delivered(
    site, step, contact, *, cart=None, subject_id=None, tapped=False, bought=None, subject=""
):
    send = Send.objects.create(
        site=site,
        step=step,
        contact=contact,
        cart=cart,
        subject_id=subject_id if cart is None else cart.pk,
        status=SendStatus.DELIVERED,
        channel="email" if subject else "sms",
        subject=subject,
        planned_at=SENT_AT - timedelta(minutes=30),
        due_at=SENT_AT,
        sent_at=SENT_AT,
        segments=1,
        cost=Decimal("0.0450"),
        body="texte",
    )
    if tapped:
        link = ShortLink.objects.create(
            send=send,
            code=f"c{send.pk}",
            target_url="https://shop.example/",
            created_at=SENT_AT,
            expires_at=SENT_AT + timedelta(days=30),
        )
        Click.objects.create(link=link, at=SENT_AT + timedelta(minutes=5))
    if bought is not None:
        Conversion.objects.create(
            site=site,
            order_id=f"order-{send.pk}",
            total=bought,
            currency="EUR",
            contact=contact,
            cart=cart,
            send=send,
            attribution=Conversion.Attribution.CLICKED,
            occurred_at=SENT_AT + timedelta(minutes=10),
        )
    return send


@pytest.fixture
def journeys(site, rooms):
    """One delivered message of each of four triggers, a day ago: a cart's (tapped, bought
    59,90 €), a browse reminder's (tapped, bought 30 €, its contact said STOP the next day), an
    order confirmation's (a purchase wrongly attributed to it: 80 €), a welcome (no room
    needed); and a browse reminder not sent (the contact opted out)."""
    with time_machine.travel(SENT_AT - timedelta(hours=1), tick=False):
        cart_step = StepFactory(flow=FlowFactory(site=site, name="Relance panier"))
        browse_step = StepFactory(
            flow=FlowFactory(site=site, name="Produit consulté", trigger=Trigger.BROWSE_ABANDONED)
        )
        order_step = StepFactory(
            flow=FlowFactory(site=site, name="Commande", trigger=Trigger.ORDER_CONFIRMATION)
        )
        welcome_step = StepFactory(
            flow=FlowFactory(site=site, name="Bienvenue", trigger=Trigger.WELCOME)
        )
        marie = ContactFactory(site=site, phone="+33612345678", email="marie@example.fr")
        lucas = ContactFactory(site=site, phone="+33698765432", email="lucas@example.fr")
        jade = ContactFactory(site=site, phone="+33611112222")
        product = Product.objects.create(
            site=site, external_id="P1", name="Chemise", updated_at=SENT_AT
        )
        view = ProductView.objects.create(
            site=site,
            visitor=VisitorFactory(site=site),
            product=product,
            day=DAY,
            viewed_at=SENT_AT - timedelta(hours=1),
        )
        order = Order.objects.create(
            site=site,
            external_id="1001",
            status=OrderStatus.PAID,
            contact=jade,
            phone=jade.phone,
            total=Decimal("80.00"),
            currency="EUR",
            created_at=SENT_AT,
            updated_at=SENT_AT,
        )
        cart_send = SendFactory(
            site=site,
            step=cart_step,
            contact=marie,
            cart__visitor__site=site,
            cart__external_id="4711",
        )
        Send.objects.filter(pk=cart_send.pk).delete()  # the cart stays: its send is made below
        cart = cart_send.cart
    sends = {
        "cart": _delivered(site, cart_step, marie, cart=cart, tapped=True, bought=Decimal("59.90")),
        "browse": _delivered(
            site,
            browse_step,
            lucas,
            subject_id=view.pk,
            tapped=True,
            bought=Decimal("30.00"),
            subject="Vous avez regardé",
        ),
        "order": _delivered(site, order_step, jade, subject_id=order.pk, bought=Decimal("80.00")),
        "welcome": _delivered(site, welcome_step, jade, subject_id=jade.pk),
    }
    sends["not_sent"] = Send.objects.create(
        site=site,
        step=browse_step,
        contact=marie,
        subject_id=view.pk + 1000,
        status=SendStatus.CANCELLED,
        reason=SendReason.OPTED_OUT,
        planned_at=SENT_AT,
        due_at=SENT_AT,
    )
    # Lucas unsubscribed after the browse reminder (an email): an opt-out of its step. Marie
    # unsubscribed from email, a channel her (SMS) reminder did not go by: counted nowhere (the
    # control), and so is Lucas's STOP to SMS.
    for channel, source in (("email", ConsentSource.UNSUBSCRIBE), ("sms", ConsentSource.KEYWORD)):
        record_consent(
            contact=lucas,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=channel,
        )
        record_consent(
            contact=lucas,
            status=ConsentStatus.REVOKED,
            source=source,
            channel=channel,
            at=SENT_AT + timedelta(hours=3),
        )
    record_consent(
        contact=marie,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.UNSUBSCRIBE,
        channel="email",
        at=SENT_AT + timedelta(hours=3),
    )
    with time_machine.travel(NOW, tick=False):
        roll_up_recent()
    return sends


def _by_flow_name(rows):
    return {row.flow.name: row for row in rows}


@pytest.mark.parametrize("source", ["live", "rolled"])
def test_every_triggers_sends_count_in_the_activity_per_flow_and_step(site, journeys, source):
    figures = live if source == "live" else rolled
    with time_machine.travel(NOW, tick=False):
        steps = figures.by_step(site=site, start=DAY, end=DAY)
    flows = _by_flow_name(live.by_flow(steps))
    browse = flows["Produit consulté"]
    assert (browse.sent, browse.delivered, browse.clicked, browse.converted) == (1, 1, 1, 1)
    assert (browse.revenue, browse.cost, browse.opt_outs) == (
        Decimal("30.00"),
        Decimal("0.0450"),
        1,
    )
    cart = flows["Relance panier"]
    assert (cart.sent, cart.converted, cart.revenue, cart.opt_outs) == (1, 1, Decimal("59.90"), 0)
    welcome = flows["Bienvenue"]
    assert (welcome.trigger, welcome.sent, welcome.cost) == ("welcome", 1, Decimal("0.0450"))
    # Transactional: its cost counts, the purchase attributed to it does not.
    order = flows["Commande"]
    assert order.transactional and not browse.transactional
    assert (order.sent, order.converted, order.revenue, order.cost) == (
        1,
        0,
        Decimal(0),
        Decimal("0.0450"),
    )
    assert isinstance(order, FlowFigures)


def test_the_daily_revenue_credits_no_transactional_message(site, journeys):
    with time_machine.travel(NOW, tick=False):
        for figures in (live, rolled):
            (day,) = figures.daily(site=site, start=DAY, end=DAY)
            assert (day.sends, day.revenue) == (4, Decimal("89.90")), figures


def test_the_funnel_stays_the_cart_flows_own(site, journeys):
    with time_machine.travel(NOW, tick=False):
        for figures in (live, rolled):
            funnel = figures.funnel(site=site, start=DAY, end=DAY)
            assert (funnel.sent, funnel.messages, funnel.cost) == (1, 1, Decimal("0.0450"))
            assert funnel.recovered_revenue == Decimal("59.90")


def _overview(client, site, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/dashboard/?site={site.pk}")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "fr",
            ["Panier abandonné", "Navigation abandonnée", "Confirmation de commande", "Bienvenue"],
        ),
        ("en", ["Cart abandoned", "Browse abandoned", "Order confirmation", "Welcome"]),
    ],
)
def test_the_overview_shows_each_flow_with_its_trigger_and_figures(
    client, marketer, site, journeys, language, words
):
    client.force_login(marketer)
    page = _overview(client, site, language)
    flows = page.split('id="flows"')[1].split("</table>")[0]
    for label in words:
        assert label in flows
    rows = {row.split("</td>")[0].split("<td>")[-1]: row for row in flows.split("<tr")[2:]}
    assert set(rows) == {"Relance panier", "Produit consulté", "Commande", "Bienvenue"}
    transactional = {
        "fr": "transactionnel : aucun revenu attribué",
        "en": "transactional: no revenue attributed",
    }[language]
    assert transactional in rows["Commande"]
    assert transactional not in rows["Produit consulté"]
    assert "30,00" in rows["Produit consulté"] or "30.00" in rows["Produit consulté"]
    assert "80" not in rows["Commande"].split("</td>")[6]  # no revenue shown for the order


def _listed(client, site, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/dashboard/sends/?site={site.pk}&{query}")
    assert response.status_code == 200
    return response, sorted(row["send"].pk for row in response.context["rows"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "lucas@example.fr"}, ["browse"]),
        ({"q": "5432"}, ["browse"]),  # Lucas's number's last digits
        ({"q": "06 11 11 22 22"}, ["order", "welcome"]),
        ({"q": "1001"}, ["order"]),  # the shop's order id
        ({"q": "P1"}, ["browse"]),  # the shop's product id (the sent reminder of that view)
        ({"q": "4711"}, ["cart"]),  # the shop's cart id
        ({"q": "P2"}, []),
        ({"trigger": "browse_abandoned"}, ["browse", "not_sent"]),
        ({"trigger": "welcome"}, ["welcome"]),
        ({"reason": "opted_out"}, ["not_sent"]),
    ],
)
def test_why_not_sent_finds_a_send_of_any_trigger(
    client, marketer, site, journeys, query, expected
):
    client.force_login(marketer)
    _, listed = _listed(client, site, **query)
    assert listed == sorted(journeys[name].pk for name in expected)


def test_each_send_says_what_it_is_about(client, marketer, site, journeys):
    client.force_login(marketer)
    response, listed = _listed(client, site)
    assert len(listed) == 5
    about = {row["send"].pk: row["about"] for row in response.context["rows"]}
    assert about[journeys["cart"].pk] == "panier 4711, 59,90 €"
    # Each room describes its subject (a welcome is about the contact itself).
    assert about[journeys["welcome"].pk] == "bienvenue"
    page = html.unescape(response.content.decode())
    assert "Navigation abandonnée" in page and "panier 4711, 59,90 €" in page
    browse = journeys["browse"].pk
    if isinstance(ROOMS[Trigger.BROWSE_ABANDONED], BrowseStandIn):
        assert about[browse] == "viewed Chemise"  # the room's words, its subject loaded once
    # A room's ``load`` puts its subject on ``send.subject``: the email's subject still shows.
    (row,) = [row for row in response.context["rows"] if row["send"].pk == browse]
    assert row["send"].subject == "Vous avez regardé"
    assert "Vous avez regardé" in page


@pytest.mark.parametrize("name", ["browse", "order", "welcome", "not_sent", "cart"])
def test_a_send_of_any_trigger_has_its_page(client, marketer, site, journeys, name):
    client.force_login(marketer)
    send = journeys[name]
    response = client.get(f"/dashboard/sends/{send.pk}/?site={site.pk}")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert response.context["about"] in page
    assert ("<dt>Panier</dt>" in page) == (name == "cart")  # the cart's row, for a cart only
    assert client.get(f"/dashboard/contacts/{send.contact_id}/?site={site.pk}").status_code == 200


def _csv(client, url):
    with time_machine.travel(NOW, tick=False):
        response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))  # a French shop's export


def test_the_sends_export_has_the_trigger_and_subject_of_every_send(
    client, marketer, site, journeys
):
    client.force_login(marketer)
    rows = {
        int(row["send_id"]): row
        for row in _csv(client, f"/dashboard/exports/sends.csv?site={site.pk}")
    }
    assert len(rows) == 5
    cart, browse = rows[journeys["cart"].pk], rows[journeys["browse"].pk]
    assert (cart["trigger"], cart["about"], cart["cart_id"], cart["cart_total"]) == (
        "cart_abandoned",
        "panier 4711, 59,90 €",
        "4711",
        "59,90",  # a decimal comma: French Excel reads it as a number
    )
    assert cart["subject_id"] == str(journeys["cart"].cart_id)
    assert browse["trigger"] == "browse_abandoned"
    assert browse["subject_id"] == str(journeys["browse"].subject_id)
    assert browse["about"]
    assert (browse["cart_id"], browse["cart_total"], browse["currency"]) == ("", "", "")
    purchases = {
        row["order_id"]: row
        for row in _csv(client, f"/dashboard/exports/conversions.csv?site={site.pk}")
    }
    assert purchases[f"order-{journeys['order'].pk}"]["trigger"] == "order_confirmation"
    assert purchases[f"order-{journeys['cart'].pk}"]["trigger"] == "cart_abandoned"


def test_every_reason_is_offered_by_the_filter_with_its_words():
    """A reason another trigger adds to the enum is offered at once, with its label."""
    offered = {reason.value for reason in FILTERABLE}
    labels = {str(reason.label) for reason in FILTERABLE}
    for reason in SendReason:
        assert reason.value in offered or str(reason.label) in labels, reason


def test_a_contact_who_opted_out_after_two_days_of_messages_counts_once_per_step(site):
    """The step's opt-outs over a period are distinct contacts, rolled up day by day as
    counted from the sends (``DayMember`` per step), for a trigger built or not."""
    step = StepFactory(
        flow=FlowFactory(site=site, name="Bienvenue", trigger=Trigger.WELCOME), position=1
    )
    lea, tom = ContactFactory(site=site), ContactFactory(site=site)
    for contact in (lea, tom):
        record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
    first, second = SENT_AT - timedelta(days=1), SENT_AT
    for index, (contact, at) in enumerate(((lea, first), (lea, second), (tom, first))):
        Send.objects.create(
            site=site,
            step=step,
            contact=contact,
            subject_id=index,
            status=SendStatus.DELIVERED,
            planned_at=at,
            due_at=at,
            sent_at=at,
        )
    # Léa says STOP within 7 days of both her messages; Tom never does (the control).
    record_consent(
        contact=lea,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.KEYWORD,
        at=second + timedelta(hours=1),
    )
    with time_machine.travel(NOW, tick=False):
        roll_up_recent()
        for figures in (live, rolled):
            (both,) = figures.by_step(site=site, start=first.date(), end=second.date())
            (one,) = figures.by_step(site=site, start=first.date(), end=first.date())
            assert (both.sent, both.opt_outs, one.sent, one.opt_outs) == (3, 1, 2, 1), figures


def test_a_cart_is_abandoned_after_the_cart_flows_delay_whatever_the_other_flows(site):
    """A welcome sent at once does not make a cart changed ten minutes ago abandoned: the
    funnel waits for the cart flow's 30 minutes."""
    StepFactory(flow=FlowFactory(site=site), delay_minutes=30)
    with time_machine.travel(NOW - timedelta(minutes=10), tick=False):
        fresh = SendFactory(site=site, cart__visitor__site=site).cart  # changed 10 minutes ago
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        left = SendFactory(site=site, cart__visitor__site=site).cart  # left two hours ago
    Send.objects.filter(cart__in=[fresh, left]).delete()
    day = NOW.date()
    with time_machine.travel(NOW, tick=False):
        assert live.funnel(site=site, start=day, end=day).abandoned == 1
        StepFactory(flow=FlowFactory(site=site, trigger=Trigger.WELCOME), delay_minutes=0)
        assert live.funnel(site=site, start=day, end=day).abandoned == 1


def test_a_reason_offered_once_finds_every_reason_worded_as_it(client, marketer, site):
    """ "Refused by the provider" is offered once and finds the refusals with or without the
    gateway's action; another reason is not found with them (the control)."""
    step = StepFactory(flow__site=site)
    made = {}
    for reason in (SendReason.REFUSED, SendReason.REFUSED_WITHOUT_ACTION, SendReason.STALE):
        made[reason] = SendFactory(
            site=site,
            step=step,
            cart__visitor__site=site,
            status=SendStatus.FAILED,
            reason=reason,
        ).pk
    offered = [reason for reason in FILTERABLE if reason.label == SendReason.REFUSED.label]
    assert len(offered) == 1
    client.force_login(marketer)
    _, listed = _listed(client, site, reason=offered[0].value)
    assert listed == sorted([made[SendReason.REFUSED], made[SendReason.REFUSED_WITHOUT_ACTION]])

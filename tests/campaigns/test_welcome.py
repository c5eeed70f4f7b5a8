"""The welcome (issue 32, "Deliver" 5): one message the step's delay after a number or address
is confirmed, with the flow's discount code, once per contact and flow; never to the list that
subscribed before the flow, nor once the consent is revoked (campaigns/welcome.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from campaigns.dispatch import run_pass
from campaigns.models import DiscountMode, Flow, Send, SendStatus, StepChannel
from campaigns.onboarding import add_flow
from campaigns.send_reasons import SendReason
from campaigns.welcome import STALE_AFTER
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site
from tests.support.owner import answer

pytestmark = pytest.mark.django_db(transaction=True)  # confirmations go on commit, as live
# A Tuesday, 11:00 in Paris: open hours, so the tests are about the welcome, not the clock.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PHONE, OTHER = "+33612345678", "+33698765432"
VID, OTHER_VID = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
CONSENT = {"granted": True, "text": "J'accepte les SMS de la boutique", "source": "checkout"}
CODE = "BIENVENUE10"


def travel(at):
    return time_machine.travel(at, tick=False)


@pytest.fixture
def shop():
    with travel(NOW - timedelta(days=30)):
        return create_site(name="Boutique", domains=["shop.example"], country="FR")


def welcome_flow(site, *, delay_minutes=10, channel=StepChannel.SMS) -> Flow:
    flow = add_flow(site=site, trigger="welcome", delay_minutes=delay_minutes, channel=channel)
    step = flow.steps.get()
    step.discount_mode, step.discount_code = DiscountMode.FIXED, CODE
    step.save()
    return flow


def identify(client, site, phone=PHONE, vid=VID):
    """The shopper types a number at the checkout and ticks the box (the snippet)."""
    event = {"type": "identify", "phone": phone, "first_name": "Marie", "consent": CONSENT}
    response = client.post(
        "/t/e",
        data=json.dumps({"site": site.public_key, "vid": vid, "events": [event]}),
        content_type="text/plain",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code == 204


def welcomes(phone=PHONE):
    return [m for m in OutboxMessage.objects.filter(to=phone) if "bienvenue" in m.body.lower()]


def test_a_confirmed_number_gets_one_welcome_after_the_delay_with_the_flows_code(client, shop):
    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        flow = welcome_flow(site)
    with travel(NOW):
        identify(client, site)
        confirmation = OutboxMessage.objects.get(to=PHONE)
        assert "OUI" in confirmation.body
        # Pending: no welcome for a number typed in a page until its owner answers.
        assert run_pass(deliver_inline=True).planned == 0
    confirmed_at = NOW + timedelta(minutes=2)
    with travel(confirmed_at):
        answer(site, PHONE, "OUI")
        assert Contact.objects.get(phone=PHONE).consent_status == ConsentStatus.CONFIRMED
    with travel(confirmed_at + timedelta(minutes=9)):
        assert run_pass(deliver_inline=True).planned == 0  # the delay has not passed
    with travel(confirmed_at + timedelta(minutes=10)):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)
    [welcome] = welcomes()
    assert CODE in welcome.body and "Marie" in welcome.body and "/s/" in welcome.body
    assert "STOP" in welcome.body
    send = Send.objects.get()
    contact = Contact.objects.get(phone=PHONE)
    assert (send.subject_id, send.contact, send.step.flow) == (contact.pk, contact, flow)
    assert send.cart is None and send.status in {SendStatus.ACCEPTED, SendStatus.DELIVERED}

    # A second confirmation, a STOP then a START: the contact is welcomed once, ever.
    with travel(confirmed_at + timedelta(hours=1)):
        answer(site, PHONE, "OUI")
        answer(site, PHONE, "STOP")
    with travel(confirmed_at + timedelta(hours=2)):
        answer(site, PHONE, "START")
        assert Contact.objects.get(phone=PHONE).consent_status in {"granted", "confirmed"}
    with travel(confirmed_at + timedelta(hours=3)):
        assert run_pass(deliver_inline=True).planned == 0
    assert len(welcomes()) == 1 and Send.objects.count() == 1


def test_without_a_welcome_flow_a_confirmation_brings_nothing(client, shop):
    site = shop.site
    with travel(NOW):
        identify(client, site)
        answer(site, PHONE, "OUI")
    with travel(NOW + timedelta(hours=1)):
        run_pass(deliver_inline=True)
    assert not welcomes() and not Send.objects.exists()
    assert OutboxMessage.objects.filter(to=PHONE).count() == 1  # the confirmation alone
    # Control: the same shop with a welcome flow welcomes the next subscriber.
    with travel(NOW + timedelta(hours=2)):
        welcome_flow(site)
        identify(client, site, phone=OTHER, vid=OTHER_VID)
        answer(site, OTHER, "OUI")
    with travel(NOW + timedelta(hours=3)):
        assert run_pass(deliver_inline=True).sent == 1
    assert len(welcomes(OTHER)) == 1 and not welcomes(PHONE)


def test_a_stop_before_the_welcome_goes_cancels_it(client, shop):
    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        welcome_flow(site, delay_minutes=10)
    with travel(NOW):
        identify(client, site)
        answer(site, PHONE, "OUI")
        identify(client, site, phone=OTHER, vid=OTHER_VID)
        answer(site, OTHER, "OUI")
    # Planned once the delay passed (the pass that would send it has not run yet)...
    with travel(NOW + timedelta(minutes=10)):
        assert run_pass().planned == 2
    # ... and the number says STOP before it goes.
    with travel(NOW + timedelta(minutes=11)):
        answer(site, PHONE, "STOP")
        report = run_pass(deliver_inline=True)
    stopped = Send.objects.get(contact__phone=PHONE)
    assert (stopped.status, stopped.reason) == (SendStatus.CANCELLED, SendReason.OPTED_OUT)
    assert not welcomes(PHONE)
    # Control: the other subscriber's welcome went.
    assert report.sent == 1 and len(welcomes(OTHER)) == 1


def test_a_stop_before_the_delay_plans_nothing(client, shop):
    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        welcome_flow(site, delay_minutes=10)
    with travel(NOW):
        identify(client, site)
        answer(site, PHONE, "OUI")
    with travel(NOW + timedelta(minutes=5)):
        answer(site, PHONE, "STOP")
    with travel(NOW + timedelta(minutes=30)):
        assert run_pass(deliver_inline=True).planned == 0
    assert not welcomes() and not Send.objects.exists()


def test_the_existing_subscribers_are_not_welcomed_when_the_flow_is_turned_on(client, shop):
    site = shop.site
    with travel(NOW - timedelta(days=2)):
        identify(client, site)
        answer(site, PHONE, "OUI")  # subscribed before the welcome flow existed
    with travel(NOW):
        welcome_flow(site)
        identify(client, site, phone=OTHER, vid=OTHER_VID)
        answer(site, OTHER, "OUI")
    with travel(NOW + timedelta(hours=1)):
        report = run_pass(deliver_inline=True)
    assert report.sent == 1 and len(welcomes(OTHER)) == 1
    assert not welcomes(PHONE)


def test_the_shops_single_opt_in_is_welcomed_and_a_late_pass_drops_nothing_stale(client, shop):
    """The shop's server vouching (single opt-in) makes the consent live at once; a
    subscription older than the welcome's staleness (the pass did not run for a week) is
    the past, not a welcome to send."""
    site = shop.site
    with travel(NOW - timedelta(days=10)):
        welcome_flow(site)
    with travel(NOW - STALE_AFTER - timedelta(hours=1)):
        response = client.post(
            "/api/v1/identify",
            data=json.dumps({"phone": OTHER, "consent": CONSENT}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
        )
        assert response.status_code == 200
    with travel(NOW):
        response = client.post(
            "/api/v1/identify",
            data=json.dumps({"phone": PHONE, "first_name": "Marie", "consent": CONSENT}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {shop.secret_key}",
        )
        assert response.status_code == 200
        assert not OutboxMessage.objects.exists()  # no confirmation: the shop vouched
    with travel(NOW + timedelta(minutes=10)):
        report = run_pass(deliver_inline=True)
    assert (report.planned, report.sent) == (1, 1)
    assert len(welcomes(PHONE)) == 1 and not welcomes(OTHER)


def test_an_sms_else_email_welcome_greets_the_first_subscription_once(shop, smtp):
    """A contact confirmed on SMS, then on email, is welcomed once (when the SMS went live);
    an email step welcomes the address's own subscription."""
    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        either = welcome_flow(site, channel=StepChannel.SMS_ELSE_EMAIL)
    with travel(NOW):
        contact = Contact.objects.create(
            site=site, phone=PHONE, email="marie@example.com", region="FR"
        )
        record_consent(
            contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API
        )
    with travel(NOW + timedelta(hours=1)):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel="email",
        )
        assert run_pass(deliver_inline=True).sent == 1
    with travel(NOW + timedelta(hours=2)):
        assert run_pass(deliver_inline=True).planned == 0
    send = Send.objects.get(step__flow=either)
    assert send.channel == "sms" and len(welcomes()) == 1


def test_an_email_welcome_shows_its_words_and_the_shop_not_a_cart(shop, smtp):
    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        welcome_flow(site, channel=StepChannel.EMAIL)
    with travel(NOW):
        contact = Contact.objects.create(site=site, email="marie@example.com", region="FR")
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel="email",
        )
    with travel(NOW + timedelta(minutes=10)):
        assert run_pass(deliver_inline=True).sent == 1
    (received,) = smtp.messages
    message = received.message
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert message["Subject"] == "Bienvenue chez Boutique"
    assert CODE in text and "Voir la boutique" in text and "Voir la boutique" in html
    assert "Total" not in text and "panier" not in text.lower()
    assert message["List-Unsubscribe"].startswith("<")


def test_planning_welcomes_takes_the_same_queries_for_two_subscribers_or_twenty(shop):
    """One query finds a flow's welcomes, whatever their number (the index on the site and the
    first consent), and they are planned in one batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    site = shop.site
    with travel(NOW - timedelta(hours=1)):
        welcome_flow(site)

    def pass_with(count: int, start: int) -> int:
        with travel(NOW + timedelta(hours=start)):
            for number in range(count):
                contact = Contact.objects.create(
                    site=site, phone=f"+336{start:02d}{number:06d}", region="FR"
                )
                record_consent(
                    contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API
                )
        with (
            travel(NOW + timedelta(hours=start, minutes=30)),
            CaptureQueriesContext(connection) as queries,
        ):
            report = run_pass()
        assert report.planned == count
        return len(queries)

    assert pass_with(2, 1) == pass_with(20, 2)

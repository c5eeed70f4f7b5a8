"""One path for every message: reminders, confirmations, test sends and a member's code all
leave through ``deliver``, within the sender's rate shared by every process (the real bucket:
a file here, Redis in CI), through the real SDK and the emulator."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns import sending
from campaigns.dashboard import preview
from campaigns.dashboard.member_phones import ProofRefused, send_code
from campaigns.models import SendStatus
from optin.confirmation import send_confirmation
from optin.models import ConsentStatus, Contact
from retargeting.gateways import deliver, get_gateway
from retargeting.gateways.base import Outcome, OutgoingSms
from retargeting.gateways.errors import NOT_HANDED, THROTTLED
from tests.factories import (
    ContactFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorLinkFactory,
)
from tests.support.twilio_fixtures import SENDER

pytestmark = pytest.mark.django_db
TO = "+33612340001"


@pytest.fixture
def sender():
    """A sender of the test's own, so that no other test's messages share its bucket."""
    return "R" + uuid.uuid4().hex[:9].upper()


def starve(settings, sender):
    """A rate so low that the sender's shared bucket allows no message within any wait."""
    settings.SMS_SENDER_MPS = {sender: 0.01}


def test_a_message_within_the_senders_rate_is_sent(twilio, sender):
    result = deliver(OutgoingSms(to=TO, body="Bonjour", sender=sender))
    assert result.outcome is Outcome.ACCEPTED
    assert len(twilio.sent_to(TO)) == 1


def test_a_message_the_senders_rate_does_not_allow_is_not_sent(twilio, sender, settings):
    starve(settings, sender)
    result = deliver(OutgoingSms(to=TO, body="Bonjour", sender=sender), max_wait=1)
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, THROTTLED)
    assert twilio.messages == {}
    # Another sender's rate is its own (control).
    other = deliver(OutgoingSms(to=TO, body="Bonjour", sender=sender + "B"), max_wait=1)
    assert other.outcome is Outcome.ACCEPTED


def test_a_message_without_a_sender_shares_the_rate_of_the_providers_default(twilio, settings):
    starve(settings, SENDER)  # TWILIO_FROM
    result = deliver(OutgoingSms(to=TO, body="Bonjour"), max_wait=1)
    assert result.error_code == THROTTLED and twilio.messages == {}
    assert get_gateway().default_sender() == SENDER


def test_the_callers_mark_comes_after_the_wait_and_a_refused_one_sends_nothing(twilio, sender):
    marks = []
    refused = deliver(OutgoingSms(to=TO, body="Bonjour", sender=sender), handing=lambda: False)
    assert (refused.outcome, refused.error_code) == (Outcome.TRANSIENT, NOT_HANDED)
    assert twilio.messages == {}
    accepted = deliver(
        OutgoingSms(to=TO, body="Bonjour", sender=sender),
        handing=lambda: marks.append(len(twilio.messages)) or True,
    )
    assert accepted.outcome is Outcome.ACCEPTED
    assert marks == [0]  # marked before the provider had it
    assert len(twilio.messages) == 1


def a_reminder(site):
    step = StepFactory(flow__site=site, delay_minutes=30, template="{{ shop }} {{ link }}")
    contact = ContactFactory(site=site, consent_status=ConsentStatus.GRANTED)
    link = VisitorLinkFactory(visitor__site=site, contact=contact)
    left_at = timezone.now() - timedelta(hours=1)
    return SendFactory(
        cart__visitor=link.visitor,
        cart__last_change_at=left_at,
        step=step,
        contact=contact,
        planned_at=left_at + timedelta(minutes=30),
        due_at=left_at + timedelta(minutes=30),
    )


def send_each_kind(site):
    """One message of each kind, from ``site``'s sender; what each came to."""
    reminder = a_reminder(site)
    pending = ContactFactory(site=site, consent_status=ConsentStatus.PENDING)
    user = User.objects.create_user(f"member-{uuid.uuid4().hex[:6]}")
    came_to = {
        "reminder": sending.deliver(send_id=reminder.pk),
        "confirmation": send_confirmation(contact_id=pending.pk),
    }
    for kind, call, refusal in (
        (
            "test send",
            lambda: preview.send_test(step=reminder.step, phone=TO, user_id=user.pk),
            preview.TestSendRefused,
        ),
        ("member's code", lambda: send_code(user_id=user.pk, phone=TO, site=site), ProofRefused),
    ):
        try:
            call()
            came_to[kind] = "sent"
        except refusal as exc:
            came_to[kind] = str(exc)
    return came_to, reminder, pending


def test_every_kind_of_message_waits_for_the_senders_shared_rate(twilio, sender, settings):
    site = SiteFactory(quiet_hours="none", sender=sender)
    starve(settings, sender)
    came_to, reminder, pending = send_each_kind(site)
    assert twilio.messages == {}, came_to  # none got past the rate
    assert came_to["reminder"] == "throttled"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.reason) == (SendStatus.PLANNED, "throttled")
    assert came_to["confirmation"] is False
    # Certainly not sent: the next pass sends the confirmation.
    assert Contact.objects.get(pk=pending.pk).confirmation_sent_at is None
    assert "rate" in came_to["test send"] and "rate" in came_to["member's code"]


def test_every_kind_of_message_goes_out_within_the_senders_rate(twilio, sender, settings):
    site = SiteFactory(quiet_hours="none", sender=sender)
    settings.SMS_SENDER_MPS = {sender: 50}  # control: room for all four
    came_to, _reminder, _pending = send_each_kind(site)
    assert came_to == {
        "reminder": "accepted",
        "confirmation": True,
        "test send": "sent",
        "member's code": "sent",
    }
    assert len(twilio.messages) == 4
    assert {message.from_ for message in twilio.messages.values()} == {sender}


@pytest.mark.parametrize("backend", ["outbox", "twilio"])
def test_a_gateway_that_lists_its_messages_finds_one_it_sent(request, backend, sender):
    if backend == "twilio":
        request.getfixturevalue("twilio")
    gateway = get_gateway()
    assert gateway.name == backend and gateway.lists_messages
    since = timezone.now() - timedelta(minutes=1)
    sent = deliver(OutgoingSms(to=TO, body="Votre panier vous attend", sender=sender))
    listed = gateway.recent_messages(to=TO, since=since)
    assert [(m.provider_id, m.body) for m in listed] == [
        (sent.provider_id, "Votre panier vous attend")
    ]
    assert gateway.recent_messages(to="+33612340002", since=since) == []  # control


def test_brevo_says_it_cannot_list_its_messages(settings):
    settings.SMS_BACKEND = "brevo"
    gateway = get_gateway()
    assert gateway.name == "brevo" and not gateway.lists_messages


def test_a_batch_whose_sender_has_no_room_asks_the_rate_once_and_puts_the_rest_back(
    twilio, sender, monkeypatch
):
    """Each send of a batch would otherwise wait its 20 s for the rate in turn: a batch of 100
    at a saturated sender would outlive the reconciler's patience (10 minutes)."""
    from retargeting.gateways import throttle

    site = SiteFactory(quiet_hours="none", sender=sender)
    reminders = [a_reminder(site) for _ in range(3)]
    asked = []
    monkeypatch.setattr(throttle, "acquire", lambda *args, **kwargs: asked.append(args) or False)
    outcomes = sending.deliver_batch(send_ids=[reminder.pk for reminder in reminders])
    assert set(outcomes.values()) == {"throttled"} and len(outcomes) == 3
    assert len(asked) == 1
    assert twilio.messages == {}
    for reminder in reminders:
        reminder.refresh_from_db()
        assert (reminder.status, reminder.reason, reminder.claimed_at) == (
            "planned",
            "throttled",
            None,
        )


@pytest.mark.parametrize("answered", [True, False])
def test_a_twiml_reply_takes_its_senders_rate_without_waiting(
    client, twilio, handlers, settings, answered
):
    """STOP, START, OUI and HELP are answered in the webhook's response (TwiML): the reply
    leaves from the number the customer wrote to, so it takes that sender's token."""
    ours = f"+33757{uuid.uuid4().int % 10**6:06d}"
    settings.SMS_SENDER_MPS = {ours: 1}
    handlers.register_inbound_handler(
        lambda sms: "Maison : aide au 01 23 45 67 89" if answered else None
    )
    params = twilio.inbound_params(TO, ours, "AIDE")
    path = "/webhooks/twilio/inbound"
    signature = twilio.sign("https://relance.example" + path, params)
    response = client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200
    assert ("<Message>" in response.content.decode()) is answered
    after = deliver(OutgoingSms(to=TO, body="Bonjour", sender=ours), max_wait=0)
    if answered:
        assert (after.outcome, after.error_code) == (Outcome.TRANSIENT, THROTTLED)
    else:  # control: no reply, the token is still there
        assert after.outcome is Outcome.ACCEPTED


def test_a_reply_goes_even_when_its_senders_rate_is_spent(client, twilio, handlers, settings):
    """A STOP must be confirmed at once: with no token left the reply still goes."""
    ours = f"+33757{uuid.uuid4().int % 10**6:06d}"
    settings.SMS_SENDER_MPS = {ours: 1}
    assert deliver(OutgoingSms(to=TO, body="Bonjour", sender=ours), max_wait=2).outcome is (
        Outcome.ACCEPTED
    )
    handlers.register_inbound_handler(lambda sms: "Vous ne recevrez plus de SMS.")
    params = twilio.inbound_params(TO, ours, "STOP")
    path = "/webhooks/twilio/inbound"
    signature = twilio.sign("https://relance.example" + path, params)
    response = client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert "<Message>Vous ne recevrez plus de SMS.</Message>" in response.content.decode()

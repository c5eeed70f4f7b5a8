"""Flows with channels: a step goes by SMS, by email, or by SMS else email; planning and the
send-time check decide per channel from one definition; emails take the batch path of SMS over
one SMTP connection (a real SMTP server, fixture ``smtp``); caps per channel, quiet hours for
email unless the site turns them off; the bridge's emails (asked for by the shopper) need no
marketing consent but never go to an unsubscribed, bounced or erased address."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from campaigns import sending
from campaigns.dispatch import run_pass
from campaigns.eligibility import eligible_carts, exit_reason, reach
from campaigns.models import Send, SendStatus, StepChannel, Trigger
from campaigns.onboarding import bootstrap_site
from campaigns.send_reasons import SendReason
from campaigns.trigger_registry import room_of
from optin.consent import record_consent
from optin.erasure import phone_hash
from optin.models import ConsentSource, ConsentStatus, Contact, DoNotContact
from retargeting import gateways
from retargeting.channels import Channel
from retargeting.tracking.models import Cart
from tests.factories import (
    CartFactory,
    ContactFactory,
    FlowFactory,
    SendFactory,
    StepFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
# A Tuesday, 11:00 in Paris: open hours.
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
# The same Tuesday, 23:00 in Paris: quiet hours.
NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def travel(at):
    return time_machine.travel(at, tick=False)


def contact_with(site, *, sms=False, email=False, phone=True, address=True, **fields):
    if not phone:
        fields["phone"] = ""
    contact = ContactFactory(
        site=site, email=f"client{Contact.objects.count()}@example.org" if address else "", **fields
    )
    if sms:
        record_consent(
            contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API
        )
    if email:
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SERVER_API,
            channel=Channel.EMAIL,
            text="J'accepte de recevoir des e-mails.",
        )
    contact.refresh_from_db()
    return contact


def step_on(site, channel, **fields):
    fields.setdefault("subject", "{{ shop }} : votre panier")
    return StepFactory(flow__site=site, channel=channel, **fields)


def delivered(site, *, at=NOW):
    """Plan and send what is due at ``at``; the sends of ``site``."""
    with travel(at):
        run_pass(deliver_inline=True)
    return list(Send.objects.filter(site=site).order_by("pk"))


# --- One definition: the SQL of planning and the Python of sending, per channel -------------

CONTACTS = {
    "sms only": {"sms": True},
    "email only": {"email": True},
    "both": {"sms": True, "email": True},
    "neither": {},
    "email only, no number": {"email": True, "phone": False},
    "sms only, no address": {"sms": True, "address": False},
    "sms unreachable, email": {"sms": True, "email": True, "unreachable_at": NOW},
    "sms, email bounced": {"sms": True, "email": True, "email_unreachable_at": NOW},
    "email bounced": {"email": True, "email_unreachable_at": NOW},
}
# For each step channel and contact: the channel it goes by, or why it does not.
EXPECTED = {
    StepChannel.SMS: {
        "sms only": Channel.SMS,
        "email only": SendReason.OPTED_OUT,
        "both": Channel.SMS,
        "neither": SendReason.OPTED_OUT,
        "email only, no number": SendReason.NO_PHONE,
        "sms only, no address": Channel.SMS,
        "sms unreachable, email": SendReason.UNREACHABLE,
        "sms, email bounced": Channel.SMS,
        "email bounced": SendReason.OPTED_OUT,
    },
    StepChannel.EMAIL: {
        "sms only": SendReason.NO_EMAIL_CONSENT,
        "email only": Channel.EMAIL,
        "both": Channel.EMAIL,
        "neither": SendReason.NO_EMAIL_CONSENT,
        "email only, no number": Channel.EMAIL,
        "sms only, no address": SendReason.NO_EMAIL_ADDRESS,
        "sms unreachable, email": Channel.EMAIL,
        "sms, email bounced": SendReason.EMAIL_UNREACHABLE,
        "email bounced": SendReason.EMAIL_UNREACHABLE,
    },
    StepChannel.SMS_ELSE_EMAIL: {
        "sms only": Channel.SMS,
        "email only": Channel.EMAIL,
        "both": Channel.SMS,
        "neither": SendReason.OPTED_OUT,
        "email only, no number": Channel.EMAIL,
        "sms only, no address": Channel.SMS,
        "sms unreachable, email": Channel.EMAIL,
        "sms, email bounced": Channel.SMS,
        "email bounced": SendReason.OPTED_OUT,
    },
}


@pytest.mark.parametrize("case", sorted(CONTACTS))
@pytest.mark.parametrize("channel", list(StepChannel))
def test_planning_and_sending_share_one_definition_per_channel(
    channel, case, site, abandoned_cart_of
):
    step = step_on(site, channel)
    contact = contact_with(site, **CONTACTS[case])
    cart = abandoned_cart_of(contact, at=timezone.now() - timedelta(hours=1))
    send = Send.objects.create(
        site=site, cart=cart, step=step, contact=contact, planned_at=NOW, due_at=NOW
    )
    expected = EXPECTED[channel][case]
    loaded = Send.objects.select_related("cart", "contact", "step__flow").get(pk=send.pk)
    found = reach(loaded, room_of(loaded))
    eligible = list(eligible_carts(site_id=site.pk, channel=channel))
    if isinstance(expected, Channel):
        assert (found.channel, found.reason) == (expected, None)
        assert eligible == [cart]
    else:
        assert (found.channel, found.reason) == (None, expected)
        assert eligible == []


@pytest.mark.parametrize(
    "revoked", [Channel.SMS, Channel.EMAIL], ids=["sms revoked", "email revoked"]
)
def test_a_revoked_channel_only_closes_that_channel(revoked, site, abandoned_cart_of):
    contact = contact_with(site, sms=True, email=True)
    cart = abandoned_cart_of(contact, at=NOW - timedelta(hours=1))
    record_consent(
        contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD, channel=revoked
    )
    other = Channel.EMAIL if revoked == Channel.SMS else Channel.SMS
    assert list(eligible_carts(site_id=site.pk, channel=other)) == [cart]
    assert list(eligible_carts(site_id=site.pk, channel=revoked)) == []
    send = SendFactory(cart=cart, contact=contact, step=step_on(site, revoked))
    send = Send.objects.select_related("cart", "contact", "step__flow").get(pk=send.pk)
    assert exit_reason(send, room_of(send)) == (
        SendReason.OPTED_OUT if revoked == Channel.SMS else SendReason.EMAIL_UNSUBSCRIBED
    )


# --- Email through the batch path ----------------------------------------------------------


def test_an_email_step_sends_the_cart_email_through_smtp_with_one_click_headers(
    smtp, site, abandoned_cart_of
):
    step_on(site, StepChannel.EMAIL, delay_minutes=30)
    contact = contact_with(site, email=True)
    abandoned_cart_of(contact, at=NOW - timedelta(hours=1))
    (send,) = delivered(site)
    assert (send.status, send.channel) == (SendStatus.ACCEPTED, Channel.EMAIL), send.reason
    assert send.handed_at is not None and send.provider_id
    assert send.subject.startswith(site.name) and send.body  # saved before the provider call
    (received,) = smtp.messages
    message = received.message
    assert received.recipients == [contact.email]
    assert message["Subject"] == send.subject
    assert message["List-Unsubscribe"].startswith("<") and "/u/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert send.opt_out_link.code in message["List-Unsubscribe"]
    contact.refresh_from_db()
    assert contact.last_emailed_at is not None and contact.last_messaged_at is None


def test_a_batch_of_emails_goes_over_one_smtp_connection(
    smtp, site, abandoned_cart_of, monkeypatch
):
    connects = []
    real_connect = smtplib.SMTP.connect
    monkeypatch.setattr(
        smtplib.SMTP,
        "connect",
        lambda self, *args, **kwargs: connects.append(args) or real_connect(self, *args, **kwargs),
    )
    step_on(site, StepChannel.EMAIL)
    for _ in range(4):
        abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    sends = delivered(site)
    assert [send.status for send in sends] == [SendStatus.ACCEPTED] * 4
    assert len(smtp.messages) == 4
    assert len(connects) == 1


def test_sms_else_email_sends_the_sms_to_a_contact_with_both_and_email_to_the_others(
    smtp, site, abandoned_cart_of
):
    step_on(site, StepChannel.SMS_ELSE_EMAIL)
    both = contact_with(site, sms=True, email=True)
    email_only = contact_with(site, email=True)
    abandoned_cart_of(both, at=NOW - timedelta(hours=1))
    abandoned_cart_of(email_only, at=NOW - timedelta(hours=1))
    sends = {send.contact_id: send for send in delivered(site)}
    assert sends[both.pk].channel == Channel.SMS
    assert sends[email_only.pk].channel == Channel.EMAIL
    # The SMS outbox reports delivery; SMTP reports nothing after the server took the email.
    assert sends[both.pk].status == SendStatus.DELIVERED
    assert sends[email_only.pk].status == SendStatus.ACCEPTED
    assert [r.recipients for r in smtp.messages] == [[email_only.email]]  # no email to `both`


def test_the_choice_is_made_again_at_send_time(smtp, site, abandoned_cart_of):
    """Planned as SMS, the contact revokes SMS before it goes: the email goes instead."""
    step_on(site, StepChannel.SMS_ELSE_EMAIL)
    contact = contact_with(site, sms=True, email=True)
    abandoned_cart_of(contact, at=NOW - timedelta(hours=1))
    with travel(NIGHT):  # planned for the morning
        run_pass(deliver_inline=True)
    send = Send.objects.get(site=site)
    assert (send.status, send.channel) == (SendStatus.PLANNED, Channel.SMS)
    record_consent(contact=contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    with travel(send.due_at):
        run_pass(deliver_inline=True)
    send.refresh_from_db()
    assert (send.status, send.channel) == (SendStatus.ACCEPTED, Channel.EMAIL)
    assert len(smtp.messages) == 1


def test_caps_are_per_channel(smtp, site, abandoned_cart_of):
    """At most one message a day: an SMS today does not use up the email's, nor the reverse;
    a second email the same day waits."""
    site.cap_per_24h = 1
    site.save()
    contact = contact_with(site, sms=True, email=True)
    sms_step = step_on(site, StepChannel.SMS)
    SendFactory(
        site=site,
        step=sms_step,
        contact=contact,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        channel=Channel.SMS,
        sent_at=NOW - timedelta(hours=1),
    )
    email_step = StepFactory(flow__site=site, channel=StepChannel.EMAIL, subject="Panier")
    first, second = (
        SendFactory(
            site=site,
            step=email_step,
            contact=contact,
            cart__visitor__site=site,
            channel="email",
            planned_at=NOW - timedelta(minutes=5),
            due_at=NOW,
        )
        for _ in range(2)
    )
    for send in (first, second):
        Cart.objects.filter(pk=send.cart_id).update(last_change_at=NOW - timedelta(hours=1))
    with travel(NOW):
        outcomes = sending.deliver_batch(send_ids=[first.pk, second.pk])
    assert outcomes == {first.pk: "accepted", second.pk: SendReason.CAPPED}
    assert len(smtp.messages) == 1


def test_quiet_hours_hold_email_unless_the_site_turns_them_off(smtp, site, abandoned_cart_of):
    step_on(site, StepChannel.EMAIL)
    contact = contact_with(site, email=True)
    abandoned_cart_of(contact, at=NIGHT - timedelta(hours=1))
    (send,) = delivered(site, at=NIGHT)
    assert send.status == SendStatus.PLANNED and send.due_at > NIGHT
    assert smtp.messages == []
    site.email_quiet_hours = False
    site.save()
    Send.objects.filter(pk=send.pk).update(due_at=NIGHT)
    (send,) = delivered(site, at=NIGHT)
    assert send.status == SendStatus.ACCEPTED
    assert len(smtp.messages) == 1


def test_an_email_planned_without_quiet_hours_is_due_at_once(site, abandoned_cart_of):
    site.email_quiet_hours = False
    site.save()
    step_on(site, StepChannel.EMAIL)
    abandoned_cart_of(contact_with(site, email=True), at=NIGHT - timedelta(hours=1))
    with travel(NIGHT):
        run_pass()
    assert Send.objects.get(site=site).due_at == NIGHT


def test_a_refused_address_is_marked_unreachable_for_email_only(smtp, site, abandoned_cart_of):
    step_on(site, StepChannel.EMAIL)
    contact = contact_with(site, sms=True, email=True)
    smtp.refuse(contact.email)
    abandoned_cart_of(contact, at=NOW - timedelta(hours=1))
    (send,) = delivered(site)
    assert (send.status, send.reason) == (SendStatus.FAILED, SendReason.EMAIL_UNREACHABLE)
    contact.refresh_from_db()
    assert contact.email_unreachable_at is not None
    assert contact.unreachable_at is None  # the number still gets SMS


def test_a_transient_smtp_error_retries_later(smtp, site, abandoned_cart_of):
    step_on(site, StepChannel.EMAIL)
    abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    smtp.fail_next(1)
    (send,) = delivered(site)
    assert (send.status, send.reason) == (SendStatus.PLANNED, SendReason.PROVIDER_RETRY)
    (send,) = delivered(site, at=send.due_at)
    assert send.status == SendStatus.ACCEPTED
    assert len(smtp.messages) == 1


def test_a_provider_unsubscribe_revokes_the_email_consent_only(site):
    contact = contact_with(site, sms=True, email=True)
    sending.apply_provider_action(
        contact_id=contact.pk, action=sending.Action.REVOKE_CONSENT, error_code="x", channel="email"
    )
    contact.refresh_from_db()
    assert contact.email_consent_status == ConsentStatus.REVOKED
    assert contact.consent_status == ConsentStatus.GRANTED
    latest = contact.consents.filter(channel=Channel.EMAIL).latest("created_at")
    assert latest.source == ConsentSource.EMAIL_PROVIDER


def test_a_provider_report_older_than_the_latest_consent_is_ignored(site):
    contact = contact_with(site, sms=True)
    sending.apply_provider_action(
        contact_id=contact.pk,
        action=sending.Action.REVOKE_CONSENT,
        error_code="21610",
        message_sent_at=timezone.now() - timedelta(days=1),
    )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.GRANTED
    sending.apply_provider_action(
        contact_id=contact.pk, action=sending.Action.REVOKE_CONSENT, error_code="21610"
    )
    contact.refresh_from_db()
    assert contact.consent_status == ConsentStatus.REVOKED  # control


@pytest.fixture
def email_off(monkeypatch):
    monkeypatch.setattr(gateways, "email_available", lambda: False, raising=False)


def test_without_email_configured_an_email_step_is_dropped_and_sms_else_email_is_sms(
    email_off, site, abandoned_cart_of
):
    email_step = step_on(site, StepChannel.EMAIL)
    contact = contact_with(site, sms=True, email=True)
    cart = abandoned_cart_of(contact, at=NOW - timedelta(hours=1))
    assert list(eligible_carts(site_id=site.pk, channel=StepChannel.SMS_ELSE_EMAIL)) == [cart]
    email_only = contact_with(site, email=True)
    abandoned_cart_of(email_only, at=NOW - timedelta(hours=1))
    assert list(eligible_carts(site_id=site.pk, channel=StepChannel.SMS_ELSE_EMAIL)) == [cart]
    send = SendFactory(cart=cart, contact=contact, step=email_step, planned_at=NOW, due_at=NOW)
    with travel(NOW):
        outcomes = sending.deliver_batch(send_ids=[send.pk])
    send.refresh_from_db()
    assert outcomes == {send.pk: SendReason.EMAIL_NOT_CONFIGURED}
    assert (send.status, send.reason) == (SendStatus.DROPPED, SendReason.EMAIL_NOT_CONFIGURED)


# --- The bridge: an email the shopper asked for ----------------------------------------------


@pytest.fixture
def bridge_send(site, abandoned_cart_of):
    """What the bridge creates: its flow's one email step, a send due at once for the cart,
    to a contact found by address with no consent of any kind."""

    step = StepFactory(
        flow=FlowFactory(site=site, trigger=Trigger.EMAIL_CART, slug="email-cart"),
        channel=StepChannel.EMAIL,
        delay_minutes=0,
        subject="Votre panier",
    )

    def make(contact=None, *, at=NOW):
        contact = contact or contact_with(site, phone=False)
        cart = abandoned_cart_of(contact, at=at)
        return Send.objects.create(
            site=site,
            cart=cart,
            step=step,
            contact=contact,
            channel=Channel.EMAIL,
            planned_at=at,
            due_at=at,
        )

    return make


def test_the_bridge_email_needs_no_consent_and_ignores_quiet_hours_and_the_cap(
    smtp, site, bridge_send
):
    site.cap_per_24h = 1
    site.save()
    send = bridge_send(at=NIGHT)
    again = bridge_send(contact=send.contact, at=NIGHT)
    with travel(NIGHT):
        outcomes = sending.deliver_batch(send_ids=[send.pk, again.pk])
    assert outcomes == {send.pk: "accepted", again.pk: "accepted"}
    assert len(smtp.messages) == 2
    # Nor do they count toward the marketing cap.
    from campaigns.frequency import next_allowed

    assert next_allowed(site=site, contact=send.contact, at=NIGHT, channel="email") == NIGHT


def test_the_dispatch_pass_never_plans_the_bridge_flow(site, abandoned_cart_of):
    StepFactory(
        flow=FlowFactory(site=site, trigger=Trigger.EMAIL_CART),
        channel=StepChannel.EMAIL,
        delay_minutes=0,
    )
    abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    with travel(NOW):
        assert run_pass().planned == 0


BRIDGE_STOPS = {
    SendReason.EMAIL_UNSUBSCRIBED: lambda send: record_consent(
        contact=send.contact,
        status=ConsentStatus.REVOKED,
        source=ConsentSource.UNSUBSCRIBE,
        channel=Channel.EMAIL,
    ),
    SendReason.EMAIL_UNREACHABLE: lambda send: Contact.objects.filter(pk=send.contact_id).update(
        email_unreachable_at=NOW
    ),
    SendReason.EMAIL_BLOCKED: lambda send: DoNotContact.objects.create(
        site=send.site,
        channel=Channel.EMAIL,
        phone_hash=phone_hash(send.contact.email),
        reason="unsubscribed",
        created_at=NOW,
    ),
    SendReason.CONVERTED: lambda send: Cart.objects.filter(pk=send.cart_id).update(
        status="converted", converted_at=NOW
    ),
    SendReason.CART_EMPTIED: lambda send: Cart.objects.filter(pk=send.cart_id).update(
        item_count=0, items=[]
    ),
}


@pytest.mark.parametrize("reason", sorted(BRIDGE_STOPS))
def test_the_bridge_email_never_goes_to_an_unsubscribed_bounced_or_erased_address(
    reason, smtp, bridge_send
):
    send = bridge_send()
    BRIDGE_STOPS[reason](send)
    with travel(NOW):
        outcomes = sending.deliver_batch(send_ids=[send.pk])
    assert outcomes == {send.pk: reason}
    assert smtp.messages == []


def test_the_bridge_email_goes_stale_after_the_sites_staleness(smtp, site, bridge_send):
    send = bridge_send(at=NOW - timedelta(hours=site.stale_after_hours, minutes=1))
    with travel(NOW):
        outcomes = sending.deliver_batch(send_ids=[send.pk])
    assert outcomes == {send.pk: SendReason.STALE}
    assert smtp.messages == []


# --- Done means -------------------------------------------------------------------------------


def test_done_means_email_to_the_email_only_contact_a_purchase_stops_the_next_step_and_sms_only_for_both(  # noqa: E501
    smtp, site, abandoned_cart_of
):
    flow = FlowFactory(site=site)
    StepFactory(
        flow=flow, position=1, delay_minutes=30, channel=StepChannel.SMS_ELSE_EMAIL, subject="P"
    )
    StepFactory(
        flow=flow,
        position=2,
        delay_minutes=24 * 60,
        channel=StepChannel.SMS_ELSE_EMAIL,
        subject="P",
    )
    email_only = contact_with(site, email=True)
    both = contact_with(site, sms=True, email=True)
    email_cart = abandoned_cart_of(email_only, at=NOW - timedelta(hours=1))
    abandoned_cart_of(both, at=NOW - timedelta(hours=1))
    sends = {send.contact_id: send for send in delivered(site)}
    # The email-only contact gets the cart email through the real SMTP server.
    assert (sends[email_only.pk].channel, sends[email_only.pk].status) == ("email", "accepted")
    (received,) = smtp.messages
    assert received.recipients == [email_only.email]
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.message["List-Unsubscribe"].startswith("<http")
    # The contact with both consents gets the SMS only.
    # (delivered: the SMS outbox reports delivery, as a provider's webhook would)
    assert (sends[both.pk].channel, sends[both.pk].status) == ("sms", "delivered")
    # A purchase stops the next step; the other cart gets it.
    Cart.objects.filter(pk=email_cart.pk).update(status="converted", converted_at=NOW)
    later = delivered(site, at=NOW + timedelta(days=1, hours=1))
    second = [send for send in later if send.step.position == 2]
    assert [(send.contact_id, send.channel) for send in second] == [(both.pk, "sms")]
    assert len(smtp.messages) == 1


def test_a_site_bootstrapped_with_email_fallback_emails_its_email_only_contacts(smtp):
    site = bootstrap_site(
        name="La Boutique",
        domains=["shop.example"],
        country="FR",
        email_fallback=True,
        email_from="La Boutique <bonjour@boutique.example>",
        postal_address="3 rue des Lilas, 75011 Paris",
    ).site
    contact = contact_with(site, email=True, first_name="Marie")
    visitor = VisitorLinkFactory(visitor__site=site, contact=contact).visitor
    left = NOW - timedelta(hours=1)
    CartFactory(visitor=visitor, created_at=left, last_change_at=left)
    (send,) = delivered(site)
    assert (send.status, send.channel) == (SendStatus.ACCEPTED, Channel.EMAIL), send.reason
    message = smtp.messages[0].message
    assert message["Subject"] == "La Boutique : votre panier vous attend"
    assert message["From"] == "La Boutique <bonjour@boutique.example>"
    assert "Bonjour Marie" in send.body and "STOP" not in send.body


def test_an_email_without_the_sites_sender_comes_from_the_platform_under_the_shops_name(
    smtp, site, abandoned_cart_of, settings
):
    settings.DEFAULT_FROM_EMAIL = "Relance <relance@relance.example>"
    step_on(site, StepChannel.EMAIL)
    abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    delivered(site)
    assert smtp.messages[0].message["From"] == f"{site.name} <relance@relance.example>"


def test_an_answer_lost_after_the_data_is_never_sent_again(smtp, site, abandoned_cart_of):
    """The server took the message and the connection broke before its answer: ambiguous,
    left for the reconciler, which leaves it unknown (SMTP lists no messages): never twice."""
    step_on(site, StepChannel.EMAIL)
    abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    smtp.drop_after_data()
    (send,) = delivered(site)
    assert send.status == SendStatus.SENDING and send.handed_at is not None
    with travel(NOW + timedelta(minutes=20)):
        counts = sending.reconcile_stuck()
        run_pass(deliver_inline=True)
    send.refresh_from_db()
    assert counts == {"resumed": 0, "found": 0, "unknown": 1}
    assert (send.status, send.reason) == (SendStatus.UNKNOWN, SendReason.NOT_FOUND_AT_PROVIDER)
    assert len(smtp.messages) == 1


def test_an_smtp_server_down_leaves_the_batch_to_retry(site, abandoned_cart_of, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    step_on(site, StepChannel.EMAIL)
    abandoned_cart_of(contact_with(site, email=True), at=NOW - timedelta(hours=1))
    (send,) = delivered(site)
    assert (send.status, send.reason) == (SendStatus.PLANNED, SendReason.PROVIDER_RETRY)
    # No session with the provider: certainly not sent (retargeting/gateways/email_framework.py).
    assert send.history.filter(error_code="unavailable").exists()


def test_an_email_does_not_use_up_the_sms_cap(site, abandoned_cart_of):
    site.cap_per_24h = 1
    site.save()
    contact = contact_with(site, sms=True, email=True)
    SendFactory(
        site=site,
        step=step_on(site, StepChannel.EMAIL),
        contact=contact,
        cart__visitor__site=site,
        status=SendStatus.DELIVERED,
        channel=Channel.EMAIL,
        sent_at=NOW - timedelta(hours=1),
    )
    sms = SendFactory(
        site=site,
        step=StepFactory(flow__site=site),
        contact=contact,
        cart__visitor__site=site,
        planned_at=NOW - timedelta(minutes=5),
        due_at=NOW,
    )
    Cart.objects.filter(pk=sms.cart_id).update(last_change_at=NOW - timedelta(hours=1))
    with travel(NOW):
        assert sending.deliver_batch(send_ids=[sms.pk]) == {sms.pk: "accepted"}
    # Control: a second SMS the same day is capped.
    other = SendFactory(
        site=site,
        step=sms.step,
        contact=contact,
        cart__visitor__site=site,
        planned_at=NOW - timedelta(minutes=5),
        due_at=NOW,
    )
    Cart.objects.filter(pk=other.cart_id).update(last_change_at=NOW - timedelta(hours=1))
    with travel(NOW + timedelta(minutes=1)):
        assert sending.deliver_batch(send_ids=[other.pk]) == {other.pk: SendReason.CAPPED}


def test_an_email_only_contact_is_held_by_quiet_hours_in_the_sites_zone(
    smtp, site, abandoned_cart_of
):
    step_on(site, StepChannel.EMAIL)
    contact = contact_with(site, email=True, phone=False)
    abandoned_cart_of(contact, at=NIGHT - timedelta(hours=1))
    (send,) = delivered(site, at=NIGHT)
    assert send.status == SendStatus.PLANNED
    # 08:00 the next morning in Paris, spread over the first 30 minutes of the opening.
    opening = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert opening <= send.due_at <= opening + timedelta(minutes=30)
    (send,) = delivered(site, at=send.due_at)
    assert send.status == SendStatus.ACCEPTED
    assert smtp.messages[0].recipients == [contact.email]

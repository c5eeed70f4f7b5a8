"""Customers' replies: STOP, START, OUI/YES, HELP, for every site sending from the number."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from campaigns import sending
from campaigns.dispatch import run_pass
from campaigns.models import Send, SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound
from retargeting.gateways.models import InboundMessage, OutboxMessage
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    SiteFactory,
    StepFactory,
    VisitorLinkFactory,
)

pytestmark = pytest.mark.django_db
PHONE = "+33612345678"


def reply(body, *, to="", sender=PHONE, opt_out_type=""):
    sms = InboundSms(
        provider_id=f"SM{InboundMessage.objects.count()}x{body!r}"[:60],
        sender=sender,
        recipient=to,
        body=body,
        opt_out_type=opt_out_type,
    )
    return receive_inbound(provider="outbox", sms=sms)


def contact_on(site, status=ConsentStatus.GRANTED, **fields):
    contact = ContactFactory(site=site, phone=PHONE, **fields)
    if status:
        record_consent(
            contact=contact, status=status, source=ConsentSource.SERVER_API, text="J'accepte"
        )
    contact.refresh_from_db()
    return contact


def status_of(contact):
    contact.refresh_from_db()
    return contact.consent_status


def test_stop_revokes_consent_for_every_site_sending_from_the_number_and_answers_once():
    shared_a, shared_b = SiteFactory(name="Alpha"), SiteFactory(name="Beta")
    own_sender = SiteFactory(name="Gamma", sender="GAMMA")
    a, b, c = contact_on(shared_a), contact_on(shared_b), contact_on(own_sender)
    answer = reply("Stop svp")
    assert (
        answer == "Alpha, Beta : vous ne recevrez plus de SMS. Répondez START pour vous réabonner."
    )
    assert (status_of(a), status_of(b), status_of(c)) == ("revoked", "revoked", "granted")
    row = a.consents.last()
    assert (row.source, row.text, row.inbound_message_id) == (
        "keyword",
        "Stop svp",
        InboundMessage.objects.get().provider_id,
    )
    assert reply("STOP") is None  # already opted out: nothing changes, nothing is answered


def test_a_reply_to_a_sites_own_sender_acts_for_that_site_only():
    shared, own = SiteFactory(name="Alpha"), SiteFactory(name="Gamma", sender="GAMMA")
    a, c = contact_on(shared), contact_on(own)
    assert reply("ARRÊT", to="GAMMA").startswith("Gamma")
    assert (status_of(a), status_of(c)) == ("granted", "revoked")


def test_the_providers_opt_out_flag_is_honoured_whatever_the_words():
    contact = contact_on(SiteFactory())
    assert reply("Arrêtez de m'écrire", opt_out_type="STOP") is not None
    assert status_of(contact) == "revoked"


def test_start_resubscribes_only_a_number_that_consented_before():
    site = SiteFactory(name="Alpha")
    contact = contact_on(site)
    reply("STOP")
    assert (
        reply("START")
        == "Alpha : vous recevrez de nouveau nos SMS. Répondez STOP pour vous désabonner."
    )
    assert status_of(contact) == "granted"
    stranger = ContactFactory(site=SiteFactory(), phone="+33612345679")
    assert reply("START", sender="+33612345679") is None
    assert status_of(stranger) == "none"


def test_oui_confirms_a_pending_opt_in_and_its_cart_becomes_eligible():
    site = SiteFactory(name="Alpha")
    StepFactory(flow__site=site, delay_minutes=30)
    contact = contact_on(site, status=ConsentStatus.PENDING)
    link = VisitorLinkFactory(visitor__site=site, contact=contact)
    CartFactory(visitor=link.visitor, last_change_at=timezone.now() - timedelta(hours=1))
    assert run_pass().planned == 0  # pending: not yet
    assert reply("Oui !") == (
        "Alpha : merci, votre inscription aux SMS est confirmée. "
        "Répondez STOP pour vous désabonner."
    )
    assert status_of(contact) == "confirmed"
    assert run_pass().planned == 1  # the cart left before the answer is eligible now


def test_help_names_the_site_that_last_messaged_the_number():
    alpha, beta = SiteFactory(name="Alpha"), SiteFactory(name="Beta", language="en")
    contact_on(alpha, last_messaged_at=timezone.now() - timedelta(days=2))
    contact_on(beta, last_messaged_at=timezone.now() - timedelta(hours=1))
    assert reply("AIDE") == "Beta: cart reminders by text. Reply STOP to opt out."


def _reminder_due(site, contact):
    """A reminder of ``site`` to ``contact``, due now, for a cart left an hour ago."""
    site.quiet_hours = "none"
    site.save()
    link = VisitorLinkFactory(visitor__site=site, contact=contact)
    left = timezone.now() - timedelta(hours=1)
    cart = CartFactory(visitor=link.visitor, created_at=left, last_change_at=left)
    return SendFactory(
        cart=cart,
        contact=contact,
        step=StepFactory(flow__site=site),
        planned_at=timezone.now() - timedelta(minutes=5),
        due_at=timezone.now(),
    )


def test_help_names_the_shop_whose_reminder_was_last_sent():
    # Two shops sending from the platform's number to the same phone: the reminders they
    # send, not the order the contacts were made in, decide whom HELP names.
    alpha, beta = SiteFactory(name="Alpha"), SiteFactory(name="Beta", language="en")
    on_alpha, on_beta = contact_on(alpha), contact_on(beta)
    assert (on_alpha.last_messaged_at, on_beta.last_messaged_at) == (None, None)
    with time_machine.travel(timezone.now() - timedelta(hours=30), tick=False):
        assert sending.deliver(send_id=_reminder_due(beta, on_beta).pk) == "accepted"
    with time_machine.travel(timezone.now() - timedelta(hours=2), tick=False):
        sent_at = timezone.now()
        assert sending.deliver(send_id=_reminder_due(alpha, on_alpha).pk) == "accepted"
    on_alpha.refresh_from_db()
    assert on_alpha.last_messaged_at == sent_at
    assert reply("AIDE").startswith("Alpha : rappels de panier par SMS")
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        assert sending.deliver(send_id=_reminder_due(beta, on_beta).pk) == "accepted"
    assert reply("HELP") == "Beta: cart reminders by text. Reply STOP to opt out."


def test_a_refused_reminder_does_not_count_as_messaging_the_number(twilio):
    contact = contact_on(SiteFactory(name="Alpha"))
    twilio.fail_for(contact.phone, 400, 21211)
    assert sending.deliver(send_id=_reminder_due(contact.site, contact).pk) == "failed"
    contact.refresh_from_db()
    assert contact.last_messaged_at is None


def test_an_ordinary_message_is_kept_for_the_marketer_without_an_answer():
    contact = contact_on(SiteFactory())
    assert reply("Bonjour, la veste existe en M ?") is None
    assert InboundMessage.objects.get().body == "Bonjour, la veste existe en M ?"
    assert status_of(contact) == "granted"


def test_a_stop_arriving_while_a_send_is_planned_blocks_it(site, abandoned_cart_of):
    contact = contact_on(site)
    cart = abandoned_cart_of(contact, at=timezone.now() - timedelta(hours=1))
    send = SendFactory(
        cart=cart,
        contact=contact,
        step__flow__site=site,
        planned_at=timezone.now() - timedelta(minutes=5),
        due_at=timezone.now(),
    )
    reply("STOP")
    assert sending.deliver(send_id=send.pk) == "opted_out"
    send.refresh_from_db()
    assert (send.status, send.reason) == (SendStatus.CANCELLED, "opted_out")
    assert not OutboxMessage.objects.filter(body__contains="panier").exists()
    assert not Send.objects.filter(status=SendStatus.ACCEPTED).exists()


def test_a_stop_through_the_phone_simulator_is_answered_on_the_phone(client, development_mode):
    contact = contact_on(SiteFactory(name="Alpha"))
    client.post(f"/dev/phone/{PHONE}/", {"body": "stop"})
    assert status_of(contact) == "revoked"
    assert OutboxMessage.objects.get().body.startswith("Alpha : vous ne recevrez plus de SMS")


def test_a_stop_through_the_signed_twilio_webhook(client, twilio):
    contact = contact_on(SiteFactory(name="Alpha"))
    params = twilio.inbound_params(PHONE, "+33757000001", "STOP", opt_out_type="STOP")
    url = "https://relance.example/webhooks/twilio/inbound"
    response = client.post(
        "/webhooks/twilio/inbound", data=params, HTTP_X_TWILIO_SIGNATURE=twilio.sign(url, params)
    )
    assert b"<Message>Alpha : vous ne recevrez plus de SMS." in response.content
    assert status_of(contact) == "revoked"


@pytest.mark.parametrize(
    ("body", "opt_out_type"),
    [
        ("Oui stop", ""),
        ("Yes stop", ""),
        ("Oui, mais arrêtez", ""),
        ("Oui stop", "START"),  # the provider's START does not beat the opt-out word
        ("START STOP", "START"),
    ],
)
def test_a_reply_with_an_opt_out_word_keeps_a_stopped_number_stopped(body, opt_out_type):
    site = SiteFactory(name="Alpha")
    contact = contact_on(site)
    reply("STOP")
    assert status_of(contact) == "revoked"
    assert reply(body, opt_out_type=opt_out_type) is None  # nothing changes, nothing answered
    assert status_of(contact) == "revoked"
    assert list(contact.consents.values_list("status", flat=True)) == ["granted", "revoked"]


def test_oui_with_an_opt_out_word_does_not_confirm_a_pending_opt_in():
    contact = contact_on(SiteFactory(name="Alpha"), status=ConsentStatus.PENDING)
    assert reply("Oui stop").startswith("Alpha : vous ne recevrez plus de SMS")
    assert status_of(contact) == "revoked"


def test_an_opt_in_word_among_other_words_is_an_ordinary_message():
    contact = contact_on(
        SiteFactory(name="Alpha"),
        status=ConsentStatus.PENDING,
        confirmation_sent_at=timezone.now(),  # asked to answer OUI
    )
    assert reply("oui je veux bien") is None
    assert status_of(contact) == "pending"
    assert reply("Oui merci").startswith("Alpha : merci, votre inscription")
    assert status_of(contact) == "confirmed"

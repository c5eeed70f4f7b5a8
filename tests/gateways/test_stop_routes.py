"""What each route's senders can receive, which the STOP mention is chosen from."""

from __future__ import annotations

import pytest

from retargeting.gateways.outbox.gateway import OutboxGateway
from retargeting.gateways.twilio.gateway import TwilioGateway


@pytest.mark.parametrize(
    ("sender", "receives"),
    [("+33757000001", True), ("36173", True), ("MAISON", False), ("Maison2", False), ("", True)],
)
def test_twilio_numbers_and_short_codes_receive_replies_alphanumeric_senders_do_not(
    twilio, sender, receives
):
    assert TwilioGateway().sender_receives_replies(sender) is receives
    assert TwilioGateway().stop_mention_placeholder() is None


def test_without_its_own_sender_a_twilio_site_sends_from_twilio_from(twilio, settings):
    settings.TWILIO_FROM = "MAISON"
    assert TwilioGateway().sender_receives_replies("") is False
    settings.TWILIO_FROM = "+33757000001"
    assert TwilioGateway().sender_receives_replies("") is True
    # A Messaging Service's pool may hold an alphanumeric ID: not known to receive replies,
    # so such a site gets the one-tap link.
    settings.TWILIO_FROM = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    assert TwilioGateway().sender_receives_replies("") is False


def test_the_phone_simulator_answers_every_sender():
    assert OutboxGateway().sender_receives_replies("MAISON") is True
    assert OutboxGateway().stop_mention_placeholder() is None
    assert OutboxGateway().status_callback_url() == ""


def test_a_messaging_service_is_judged_as_it_is_used_even_with_twilio_from_set(twilio, settings):
    """Without a sender of its own a site sends through the Messaging Service when there is
    one (TWILIO_FROM is then unused): the mention is chosen for that route."""
    settings.TWILIO_FROM = "+33757000001"
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    assert TwilioGateway().sender_receives_replies("") is False
    assert TwilioGateway().sender_receives_replies("+33757000002") is True

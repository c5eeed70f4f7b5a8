"""The twilio backend: the real SDK talking HTTP to the emulator."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from retargeting.gateways import get_gateway
from retargeting.gateways.base import Action, Delivery, Outcome, OutgoingSms
from retargeting.gateways.errors import MAYBE_SENT
from tests.support.processes import free_port
from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN
from tests.support.twilio_fixtures import SENDER

TO = "+33612345678"
CALLBACK = "https://relance.example/webhooks/twilio/status"


def sms(**fields):
    return OutgoingSms(
        **{
            "to": TO,
            "body": "Votre panier vous attend",
            "sender": "",
            "status_callback": CALLBACK,
            "validity_seconds": 7200,
            **fields,
        }
    )


def test_the_request_carries_what_twilio_needs(twilio):
    result = get_gateway().send(sms())
    assert result.outcome is Outcome.ACCEPTED
    assert result.provider_id.startswith("SM")
    request = twilio.requests[-1]
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request["authorization"] == f"Basic {expected}"
    assert request["form"] == {
        "To": TO,
        "From": SENDER,
        "Body": "Votre panier vous attend",
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "7200",
    }
    assert twilio.messages[result.provider_id].to == TO


def test_a_sites_own_sender_is_the_from(twilio):
    get_gateway().send(sms(sender="MAISON"))
    assert twilio.requests[-1]["form"]["From"] == "MAISON"


def test_a_messaging_service_replaces_the_from(twilio, settings):
    settings.TWILIO_FROM = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    get_gateway().send(sms())
    form = twilio.requests[-1]["form"]
    assert form["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in form


def test_validity_is_capped_at_twilios_maximum(twilio):
    get_gateway().send(sms(validity_seconds=48 * 3600))
    assert twilio.requests[-1]["form"]["ValidityPeriod"] == "36000"


@pytest.mark.parametrize(
    ("status", "code", "outcome", "action"),
    [
        (400, 21610, Outcome.PERMANENT, Action.REVOKE_CONSENT),
        (400, 21211, Outcome.PERMANENT, Action.UNREACHABLE),
        (400, 21614, Outcome.PERMANENT, Action.UNREACHABLE),
        (400, 30005, Outcome.PERMANENT, Action.UNREACHABLE),
        (400, 30006, Outcome.PERMANENT, Action.UNREACHABLE),
        (429, 20429, Outcome.TRANSIENT, Action.RETRY),
        (400, 21611, Outcome.TRANSIENT, Action.RETRY),
        (400, 30007, Outcome.PERMANENT, Action.FLAG),
        (400, 12345, Outcome.PERMANENT, Action.FAIL),
        (503, None, Outcome.TRANSIENT, Action.RETRY),
        (500, 20500, Outcome.TRANSIENT, Action.RETRY),
        (429, None, Outcome.TRANSIENT, Action.RETRY),
    ],
)
def test_each_error_class_gets_its_action(twilio, status, code, outcome, action):
    twilio.fail_for(TO, status, code)
    result = get_gateway().send(sms())
    assert (result.outcome, result.action) == (outcome, action)
    # 500, 502 and 504 may come after the provider took the message: never resent blindly.
    expected = str(code) if code else f"http_{status}"
    assert result.error_code == (MAYBE_SENT if status in (500, 502, 504) else expected)
    assert twilio.sent_to(TO) == []


def test_an_operator_can_extend_the_table(twilio, settings):
    settings.SMS_ERROR_ACTIONS = {"12345": "retry", "21610": "fail"}
    twilio.fail_for(TO, 400, 12345)
    assert get_gateway().send(sms()).outcome is Outcome.TRANSIENT
    twilio.fail_for(TO, 400, 21610)
    assert get_gateway().send(sms()).action is Action.FAIL


def test_503_twice_then_success_makes_one_message(twilio):
    twilio.fail_next(2, status=503)
    results = [get_gateway().send(sms()) for _ in range(3)]
    assert [r.outcome for r in results] == [Outcome.TRANSIENT, Outcome.TRANSIENT, Outcome.ACCEPTED]
    assert len(twilio.sent_to(TO)) == 1


def test_a_slow_provider_is_a_transient_failure(twilio, settings):
    settings.SMS_TIMEOUT_SECONDS = 0.3
    twilio.delay_seconds = 1.0
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "timeout")


def test_a_provider_that_cannot_be_reached_is_a_transient_failure(twilio, settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "connection")


def test_wrong_credentials_are_a_permanent_failure(twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "20003")


def test_recent_messages_lists_what_was_sent_to_a_number(twilio):
    first = get_gateway().send(sms()).provider_id
    get_gateway().send(sms(to="+33612345679"))
    listed = get_gateway().recent_messages(to=TO, since=datetime.now(UTC) - timedelta(minutes=5))
    assert [(m.provider_id, m.to, m.delivery) for m in listed] == [(first, TO, Delivery.ACCEPTED)]
    later = get_gateway().recent_messages(to=TO, since=datetime.now(UTC) + timedelta(minutes=5))
    assert later == []


@pytest.mark.parametrize(
    ("sender", "receives"),
    [
        ("+33757000001", True),  # a mobile number
        ("36111", True),  # a short code
        ("MAISONDEMO", False),  # an alphanumeric sender: nobody can answer it
        ("Shop2026", False),
        ("", False),  # a Messaging Service, whose pool may hold an alphanumeric sender
    ],
)
def test_only_numbers_and_short_codes_receive_replies(sender, receives):
    from retargeting.gateways.twilio.gateway import TwilioGateway

    gateway = TwilioGateway()
    assert gateway.sender_receives_replies(sender) is receives
    assert gateway.stop_mention_placeholder() is None

"""The brevo backend: the real SDK talking HTTP to the emulator."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import SendStatus
from retargeting.gateways import get_gateway
from retargeting.gateways.base import ERROR_CODE_LENGTH, Action, Outcome, OutgoingSms
from retargeting.gateways.brevo.gateway import BrevoGateway, webhook_token, webhook_url
from retargeting.gateways.errors import MAYBE_SENT
from tests.support.brevo_emulator import API_KEY
from tests.support.brevo_fixtures import SENDER
from tests.support.processes import free_port

TO = "+33612345678"
CALLBACK = "https://relance.example/webhooks/brevo/sms/token"


def sms(**fields):
    return OutgoingSms(
        **{
            "to": TO,
            "body": "Votre panier vous attend",
            "status_callback": CALLBACK,
            "validity_seconds": 7200,
            "tag": "relance-send-7",
            **fields,
        }
    )


def test_the_request_carries_what_brevo_needs(brevo):
    result = get_gateway().send(sms())
    assert result.outcome is Outcome.ACCEPTED
    request = brevo.requests[-1]
    assert (request["method"], request["path"]) == ("POST", "/v3/transactionalSMS/sms")
    assert request["api_key"] == API_KEY
    assert request["json"] == {
        "recipient": "33612345678",
        "sender": SENDER,
        "content": "Votre panier vous attend",
        "type": "marketing",
        "tag": "relance-send-7",
        "webUrl": CALLBACK,
    }
    (message,) = brevo.sent_to(TO)
    assert result.provider_id == str(message.message_id)


def test_a_sites_own_sender_is_the_sender(brevo):
    get_gateway().send(sms(sender="LEROY"))
    assert brevo.sends()[-1]["sender"] == "LEROY"


def test_a_text_outside_gsm7_is_sent_as_unicode(brevo):
    get_gateway().send(sms(body="Votre panier 🛒 vous attend"))
    assert brevo.sends()[-1]["unicodeEnabled"] is True
    get_gateway().send(sms(body="Votre panier à 59,90 € vous attend"))
    assert "unicodeEnabled" not in brevo.sends()[-1]


@pytest.mark.django_db
def test_a_marketing_send_names_itself_and_its_webhook(brevo, brevo_accepted, consenting_contact):
    send = brevo_accepted
    body = brevo.sends()[-1]
    assert body["type"] == "marketing" and body["tag"] == f"relance-send-{send.pk}"
    assert body["recipient"] == consenting_contact.phone.removeprefix("+")
    assert body["webUrl"] == webhook_url()
    assert body["webUrl"].startswith("https://relance.example/webhooks/brevo/sms/")
    assert send.status == SendStatus.ACCEPTED
    assert send.provider_id == str(brevo.sent_to(consenting_contact.phone)[0].message_id)


def test_the_webhook_token_is_a_secret_derived_from_secret_key(brevo, settings):
    token = webhook_url().rsplit("/", 1)[1]
    assert token == webhook_token(settings.SECRET_KEY) and len(token) == 48
    assert settings.SECRET_KEY not in token
    assert webhook_token("another key") != token


@pytest.mark.parametrize(
    ("status", "code", "outcome", "action"),
    [
        (400, "invalid_parameter", Outcome.PERMANENT, Action.FAIL),
        (400, "missing_parameter", Outcome.PERMANENT, Action.FAIL),
        (401, "unauthorized", Outcome.PERMANENT, Action.FAIL),
        (403, "permission_denied", Outcome.PERMANENT, Action.FAIL),
        (402, "not_enough_credits", Outcome.TRANSIENT, Action.RETRY),
        (400, "account_under_validation", Outcome.TRANSIENT, Action.RETRY),
        (429, None, Outcome.TRANSIENT, Action.RETRY),
        (429, "too_many_requests", Outcome.TRANSIENT, Action.RETRY),
        (500, "internal_error", Outcome.TRANSIENT, Action.RETRY),
        (503, None, Outcome.TRANSIENT, Action.RETRY),
    ],
)
def test_each_error_class_gets_its_action(brevo, status, code, outcome, action):
    brevo.fail_for(TO, status, code, "emulated")
    result = get_gateway().send(sms())
    assert (result.outcome, result.action) == (outcome, action)
    # The send's column keeps 16 characters of Brevo's code; the whole code is in the reason.
    full = code or f"http_{status}"
    # 500, 502 and 504 may come after Brevo took the message: never resent blindly.
    expected = MAYBE_SENT if status in (500, 502, 504) else full[:ERROR_CODE_LENGTH]
    assert result.error_code == expected
    assert len(full) <= ERROR_CODE_LENGTH or full in result.reason
    assert brevo.sent_to(TO) == []


def test_the_sdk_does_not_retry_on_its_own(brevo):
    # A retried send whose first answer was lost could reach the customer twice.
    brevo.fail_next(1, status=503)
    assert get_gateway().send(sms()).outcome is Outcome.TRANSIENT
    assert len(brevo.sends()) == 1
    assert get_gateway().send(sms()).outcome is Outcome.ACCEPTED
    assert len(brevo.sent_to(TO)) == 1


def test_an_operator_can_extend_the_table(brevo, settings):
    settings.SMS_ERROR_ACTIONS = {"invalid_parameter": "unreachable"}
    brevo.fail_for(TO, 400, "invalid_parameter")
    assert get_gateway().send(sms()).action is Action.UNREACHABLE


def test_a_slow_provider_is_a_transient_failure(brevo, settings):
    settings.SMS_TIMEOUT_SECONDS = 0.3
    brevo.delay_seconds = 1.0
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "timeout")


def test_a_provider_that_cannot_be_reached_is_a_transient_failure(brevo, settings):
    settings.BREVO_API_BASE_URL = f"http://127.0.0.1:{free_port()}/v3"
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.TRANSIENT, "connection")


def test_a_wrong_key_is_refused(brevo, settings):
    settings.BREVO_API_KEY = "xkeysib-wrong"
    result = get_gateway().send(sms())
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "unauthorized")


# --- What each route's senders can receive (the STOP mention is chosen from it) ------------


def test_brevo_senders_receive_no_replies_and_brevo_names_its_short_code(brevo):
    gateway = get_gateway()
    assert isinstance(gateway, BrevoGateway)
    assert gateway.sender_receives_replies("MAISON") is False
    assert gateway.sender_receives_replies("33612345678") is False
    assert gateway.sender_receives_replies("") is False
    assert gateway.stop_mention_placeholder() == "STOP au [STOP_CODE]"


def test_relance_shows_the_webhook_url_to_paste_in_brevo(brevo):
    out = StringIO()
    call_command("sms_webhooks", stdout=out)
    assert json.loads(out.getvalue()) == {"sms_backend": "brevo", "webhook_url": webhook_url()}


def test_the_outbox_has_no_webhook_url_to_show(settings):
    settings.SMS_BACKEND = "outbox"
    with pytest.raises(CommandError, match="the outbox backend receives no webhooks"):
        call_command("sms_webhooks", stdout=StringIO())

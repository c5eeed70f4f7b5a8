"""Twilio's webhooks: signatures checked against PUBLIC_BASE_URL + path, whatever DEBUG says."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from django.test import override_settings

from retargeting.gateways.base import Delivery
from retargeting.gateways.models import InboundMessage
from tests.support.twilio_fixtures import SENDER

pytestmark = pytest.mark.django_db
CUSTOMER = "+33612345678"


def post_signed(
    client, twilio, path, params, *, base="https://relance.example", sign_url=None, tamper=None
):
    url = sign_url or base + path
    signature = twilio.sign(url, params)
    data = dict(params, **(tamper or {}))
    return client.post(path, data=data, HTTP_X_TWILIO_SIGNATURE=signature)


def status_params(twilio, status="delivered", error_code=""):
    from retargeting.gateways import get_gateway
    from retargeting.gateways.base import OutgoingSms

    sid = get_gateway().send(OutgoingSms(to=CUSTOMER, body="hi")).provider_id
    return twilio.status_params(sid, status, error_code)


def test_a_signed_status_callback_is_handed_on(client, twilio, handlers):
    reports = []
    handlers.register_status_handler(reports.append)
    params = status_params(twilio, "undelivered", "30006")
    response = post_signed(client, twilio, "/webhooks/twilio/status", params)
    assert response.status_code == 204
    (report,) = reports
    assert (report.provider_id, report.delivery, report.error_code) == (
        params["MessageSid"],
        Delivery.UNDELIVERED,
        "30006",
    )


@pytest.mark.parametrize("debug", [True, False])
def test_a_wrong_signature_is_refused_and_changes_nothing(client, twilio, handlers, debug):
    reports = []
    handlers.register_status_handler(reports.append)
    params = status_params(twilio)
    with override_settings(DEBUG=debug):
        forged = post_signed(
            client, twilio, "/webhooks/twilio/status", params, tamper={"MessageStatus": "failed"}
        )
        unsigned = client.post("/webhooks/twilio/status", data=params)
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert reports == []


def test_every_posted_field_is_signed_even_ones_we_do_not_know(client, twilio, handlers):
    handlers.register_status_handler(lambda report: None)
    params = dict(status_params(twilio), RawDlrDoneDate="2611231030", NewField="x")
    assert post_signed(client, twilio, "/webhooks/twilio/status", params).status_code == 204
    dropped = {k: v for k, v in params.items() if k != "NewField"}
    signature = twilio.sign("https://relance.example/webhooks/twilio/status", dropped)
    response = client.post(
        "/webhooks/twilio/status", data=params, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert response.status_code == 403


def test_the_query_string_is_part_of_the_signed_url(client, twilio, handlers):
    handlers.register_status_handler(lambda report: None)
    params = status_params(twilio)
    path = "/webhooks/twilio/status?site=7"
    good = post_signed(client, twilio, path, params)
    bad = post_signed(
        client, twilio, path, params, sign_url="https://relance.example/webhooks/twilio/status"
    )
    assert (good.status_code, bad.status_code) == (204, 403)


@pytest.mark.parametrize("signed_base", ["https://relance.example:443", "https://relance.example"])
def test_a_signature_with_or_without_the_default_port_is_accepted(
    client, twilio, handlers, signed_base
):
    handlers.register_status_handler(lambda report: None)
    params = status_params(twilio)
    response = post_signed(
        client,
        twilio,
        "/webhooks/twilio/status",
        params,
        sign_url=signed_base + "/webhooks/twilio/status",
    )
    assert response.status_code == 204


def test_a_signature_for_another_host_is_refused(client, twilio, handlers):
    handlers.register_status_handler(lambda report: None)
    params = status_params(twilio)
    response = post_signed(
        client,
        twilio,
        "/webhooks/twilio/status",
        params,
        sign_url="https://attacker.example/webhooks/twilio/status",
    )
    assert response.status_code == 403


def test_without_an_auth_token_nothing_is_accepted(client, twilio, settings):
    params = status_params(twilio)
    settings.TWILIO_AUTH_TOKEN = ""
    assert post_signed(client, twilio, "/webhooks/twilio/status", params).status_code == 403


def test_an_inbound_message_is_stored_and_answered_in_twiml(client, twilio, handlers):
    seen = []
    handlers.register_inbound_handler(
        lambda sms: seen.append(sms) or "Vous ne recevrez plus de SMS."
    )
    params = twilio.inbound_params(CUSTOMER, SENDER, "Stop svp", opt_out_type="STOP")
    response = post_signed(client, twilio, "/webhooks/twilio/inbound", params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert b"<Message>Vous ne recevrez plus de SMS.</Message>" in response.content
    (sms,) = seen
    assert (sms.sender, sms.recipient, sms.body, sms.opt_out_type) == (
        CUSTOMER,
        SENDER,
        "Stop svp",
        "STOP",
    )
    stored = InboundMessage.objects.get()
    assert (stored.provider_id, stored.reply) == (
        params["MessageSid"],
        "Vous ne recevrez plus de SMS.",
    )
    assert stored.handled_at is not None


def test_a_message_without_an_answer_gets_an_empty_twiml_response(client, twilio, handlers):
    params = twilio.inbound_params(CUSTOMER, SENDER, "Merci !")
    response = post_signed(client, twilio, "/webhooks/twilio/inbound", params)
    assert response.status_code == 200
    assert b"<Message>" not in response.content and b"<Response" in response.content
    assert InboundMessage.objects.get().body == "Merci !"


def test_a_retried_webhook_is_acted_on_once_and_answered_the_same(client, twilio, handlers):
    calls = []
    handlers.register_inbound_handler(lambda sms: calls.append(sms) or "OK")
    params = twilio.inbound_params(CUSTOMER, SENDER, "STOP")
    first = post_signed(client, twilio, "/webhooks/twilio/inbound", params)
    again = post_signed(client, twilio, "/webhooks/twilio/inbound", params)
    assert first.content == again.content and b"<Message>OK</Message>" in again.content
    assert len(calls) == 1 and InboundMessage.objects.count() == 1


def test_a_message_whose_handling_failed_is_handled_on_the_retry(client, twilio, handlers):
    attempts = []

    def flaky(sms):
        attempts.append(sms)
        if len(attempts) == 1:
            raise RuntimeError("database hiccup")
        return "OK"

    handlers.register_inbound_handler(flaky)
    client.raise_request_exception = False
    params = twilio.inbound_params(CUSTOMER, SENDER, "STOP")
    assert post_signed(client, twilio, "/webhooks/twilio/inbound", params).status_code == 500
    assert InboundMessage.objects.get().handled_at is None  # stored, not yet acted on
    retry = post_signed(client, twilio, "/webhooks/twilio/inbound", params)
    assert retry.status_code == 200 and b"<Message>OK</Message>" in retry.content
    assert len(attempts) == 2 and InboundMessage.objects.get().handled_at is not None


def test_a_forged_inbound_message_is_refused_and_not_stored(client, twilio, handlers):
    calls = []
    handlers.register_inbound_handler(calls.append)
    params = twilio.inbound_params(CUSTOMER, SENDER, "STOP")
    response = post_signed(
        client, twilio, "/webhooks/twilio/inbound", params, tamper={"From": "+33699999999"}
    )
    assert response.status_code == 403
    assert calls == [] and not InboundMessage.objects.exists()


def test_webhooks_only_take_post(client):
    assert client.get("/webhooks/twilio/inbound").status_code == 405
    assert client.get("/webhooks/twilio/status").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_emulator_calls_the_running_product_over_http(live_server, twilio, handlers, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    reports = []
    handlers.register_status_handler(reports.append)
    from retargeting.gateways import get_gateway
    from retargeting.gateways.base import OutgoingSms

    sid = (
        get_gateway()
        .send(
            OutgoingSms(
                to=CUSTOMER,
                body="hi",
                status_callback=f"{live_server.url}/webhooks/twilio/status",
            )
        )
        .provider_id
    )
    assert twilio.send_status(sid, "sent") == 204
    assert twilio.send_status(sid, "delivered") == 204
    assert [r.delivery for r in reports] == [Delivery.SENT, Delivery.DELIVERED]


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("/webhooks/twilio/inbound", {"Body": "STOP"}, b"MessageSid and From are required"),
        ("/webhooks/twilio/status", {"MessageSid": "SM1", "MessageStatus": "x"}, b"MessageStatus"),
        (
            "/webhooks/twilio/inbound",
            {"MessageSid": "SM1", "From": "+33" + "6" * 40, "Body": "STOP"},
            b"From is longer than 32 characters",
        ),
    ],
)
def test_a_signed_webhook_that_is_not_one_is_a_400_with_the_reason(
    client, twilio, handlers, path, params, reason
):
    seen = []
    handlers.register_inbound_handler(seen.append)
    handlers.register_status_handler(seen.append)
    response = post_signed(client, twilio, path, params)
    assert response.status_code == 400
    assert reason in response.content
    assert seen == [] and not InboundMessage.objects.exists()


def twilio_signature(url, params):
    """Twilio's documented algorithm, written out: the URL, then each field name in order
    followed by its value, each of a repeated field's values in order; HMAC-SHA1, base64."""
    from tests.support.twilio_emulator import AUTH_TOKEN

    text = url
    for name in sorted(params):
        values = params[name] if isinstance(params[name], list) else [params[name]]
        for value in sorted(values):
            text += name + value
    digest = hmac.new(AUTH_TOKEN.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


REPEATED_INBOUND = {
    "MessageSid": "SMrepeated",
    "From": CUSTOMER,
    "To": SENDER,
    "Body": "Bonjour",
    "MediaUrl0": ["https://media.example/b", "https://media.example/a"],
}


def test_a_repeated_field_signed_as_twilio_signs_it_is_accepted(client, twilio):
    url = "https://relance.example/webhooks/twilio/inbound"
    response = client.post(
        "/webhooks/twilio/inbound",
        data=REPEATED_INBOUND,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, REPEATED_INBOUND),
    )
    assert response.status_code == 200, response.content
    assert InboundMessage.objects.get().provider_id == "SMrepeated"


@pytest.mark.parametrize("kept", [0, -1])
def test_a_signature_over_one_value_of_a_repeated_field_is_refused(client, twilio, kept):
    url = "https://relance.example/webhooks/twilio/inbound"
    one_value = dict(REPEATED_INBOUND, MediaUrl0=REPEATED_INBOUND["MediaUrl0"][kept])
    response = client.post(
        "/webhooks/twilio/inbound",
        data=REPEATED_INBOUND,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, one_value),
    )
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_repeated_status_field_is_signed_whole(client, twilio, handlers):
    reports = []
    handlers.register_status_handler(reports.append)
    params = dict(status_params(twilio), ErrorMessage=["b", "a"])
    url = "https://relance.example/webhooks/twilio/status"
    forged = client.post(
        "/webhooks/twilio/status",
        data=params,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, dict(params, ErrorMessage="a")),
    )
    assert forged.status_code == 403 and reports == []
    signed = client.post(
        "/webhooks/twilio/status",
        data=params,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(url, params),
    )
    assert signed.status_code == 204
    assert [report.provider_id for report in reports] == [params["MessageSid"]]

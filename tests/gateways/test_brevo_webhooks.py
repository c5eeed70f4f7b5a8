"""Brevo's SMS webhook: authenticated by the secret of ours in its URL, whatever DEBUG says."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from campaigns.models import SendEvent, SendStatus
from optin.consent import current_status, record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways.brevo.gateway import webhook_token, webhook_url
from tests.factories import ContactFactory, SiteFactory

pytestmark = pytest.mark.django_db
PATH = "/webhooks/brevo/sms/"


def post(client, url, payload):
    return client.post(url, data=json.dumps(payload), content_type="application/json")


@pytest.fixture
def accepted(brevo_accepted):
    return brevo_accepted


def test_a_delivery_status_moves_the_send_forward(client, brevo, accepted):
    message_id = int(accepted.provider_id)
    url = brevo.messages[message_id].web_url
    assert url == webhook_url()
    assert post(client, url, brevo.status_payload(message_id, "sent")).status_code == 204
    assert post(client, url, brevo.status_payload(message_id, "delivered")).status_code == 204
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.DELIVERED
    statuses = list(accepted.history.filter(source="provider").values_list("status", flat=True))
    assert statuses == [SendStatus.SENT, SendStatus.DELIVERED]


def test_the_emulator_reaches_the_webhook_as_brevo_would(live_server, brevo, accepted, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    message_id = int(accepted.provider_id)
    brevo.messages[message_id].web_url = webhook_url()
    assert brevo.send_status(message_id, "delivered") == 204
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.DELIVERED


@pytest.mark.parametrize("debug", [True, False])
def test_a_forged_or_unknown_secret_is_refused_and_changes_nothing(
    client, brevo, accepted, consenting_contact, debug
):
    message_id = int(accepted.provider_id)
    events_before = SendEvent.objects.filter(send=accepted).count()
    forged = PATH + webhook_token("not our secret key")
    with override_settings(DEBUG=debug):
        answers = [
            post(client, forged, brevo.status_payload(message_id, "hard_bounce")).status_code,
            post(client, PATH + "x", brevo.status_payload(message_id, "delivered")).status_code,
            post(client, forged, brevo.opt_out_payload(consenting_contact.phone)).status_code,
            client.post(PATH.rstrip("/")).status_code,
        ]
    assert answers == [403, 403, 403, 404]
    accepted.refresh_from_db()
    consenting_contact.refresh_from_db()
    assert accepted.status == SendStatus.ACCEPTED
    assert SendEvent.objects.filter(send=accepted).count() == events_before
    assert consenting_contact.consent_status == ConsentStatus.GRANTED


def test_a_replayed_status_changes_nothing(client, brevo, accepted):
    message_id = int(accepted.provider_id)
    payload = brevo.status_payload(message_id, "delivered")
    assert post(client, webhook_url(), payload).status_code == 204
    count = SendEvent.objects.filter(send=accepted).count()
    for _ in range(2):
        assert post(client, webhook_url(), payload).status_code == 204
    earlier = brevo.status_payload(message_id, "sent")
    assert post(client, webhook_url(), earlier).status_code == 204
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.DELIVERED  # never backward
    assert SendEvent.objects.filter(send=accepted).count() == count + 1  # the late "sent" kept


def test_a_hard_bounce_fails_the_send_and_marks_the_number_unreachable(
    client, brevo, accepted, consenting_contact
):
    message_id = int(accepted.provider_id)
    payload = brevo.status_payload(message_id, "hard_bounce")
    assert post(client, webhook_url(), payload).status_code == 204
    accepted.refresh_from_db()
    consenting_contact.refresh_from_db()
    assert (accepted.status, accepted.error_code) == (SendStatus.FAILED, "hard_bounce")
    assert consenting_contact.unreachable_at is not None


def test_a_body_that_is_not_brevos_is_a_400_and_changes_nothing(client, brevo, accepted):
    url = webhook_url()
    answers = [
        client.post(url, data="not json", content_type="application/json").status_code,
        post(client, url, ["not", "events"]).status_code,
        post(client, url, {"msg_status": "delivered"}).status_code,
        post(client, url, {"msg_status": "unsubscribe", "to": "abc"}).status_code,
    ]
    assert answers == [400, 400, 400, 400]
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.ACCEPTED


def test_an_event_relance_does_not_act_on_is_answered_and_ignored(client, brevo, accepted):
    payload = brevo.status_payload(int(accepted.provider_id), "subscribe")
    assert post(client, webhook_url(), payload).status_code == 204
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.ACCEPTED


def test_an_unsubscription_revokes_the_number_on_every_site_at_once(client, brevo, site):
    other_site = SiteFactory()
    contacts = [ContactFactory(site=s, phone="+33612345678") for s in (site, other_site)]
    control = ContactFactory(site=site, phone="+33698765432")
    for contact in [*contacts, control]:
        record_consent(
            contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API
        )
    response = post(client, webhook_url(), brevo.opt_out_payload("+33612345678"))
    assert response.status_code == 204
    for contact in contacts:
        contact.refresh_from_db()
        latest = contact.consents.order_by("-created_at", "-id").first()
        assert contact.consent_status == ConsentStatus.REVOKED
        assert current_status(contact=contact) == ConsentStatus.REVOKED
        assert latest.source == ConsentSource.PROVIDER
        assert latest.inbound_message_id.startswith("unsubscription:")
    control.refresh_from_db()
    assert control.consent_status == ConsentStatus.GRANTED


def test_a_stop_reply_reported_by_brevo_is_an_opt_out_and_other_replies_are_not(
    client, brevo, consenting_contact
):
    phone = consenting_contact.phone
    thanks = brevo.opt_out_payload(phone, status="reply", reply="Merci beaucoup")
    assert post(client, webhook_url(), thanks).status_code == 204
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.GRANTED
    stop = brevo.opt_out_payload(phone, status="replied", reply="Oui stop")
    assert post(client, webhook_url(), stop).status_code == 204
    consenting_contact.refresh_from_db()
    assert consenting_contact.consent_status == ConsentStatus.REVOKED


@pytest.mark.parametrize(
    "payload",
    [
        {"msg_status": ["delivered"], "messageId": 1},
        {"msg_status": "delivered", "messageId": {"a": 1}},
        {"msg_status": "delivered", "messageId": 1, "ts_event": "soon"},
        {"msg_status": "delivered", "messageId": 1, "ts_event": 10**20},
        {"msg_status": "unsubscribe", "to": 33612345678, "date": "yesterday"},
        {"msg_status": "reply", "to": "33612345678", "reply": {"text": "STOP"}},
        {"msg_status": "hard_bounce", "messageId": "9" * 200, "description": "\x00" * 10},
        [{"msg_status": "sent", "messageId": 1}, {"msg_status": "unsubscribe", "to": "336"}],
        [],
        None,
        "STOP",
    ],
)
def test_hostile_bodies_with_our_secret_never_cause_a_server_error(client, brevo, payload):
    response = post(client, webhook_url(), payload)
    assert response.status_code in (204, 400)


def test_a_deeply_nested_body_is_a_400_and_a_real_status_still_works(client, brevo, accepted):
    """Python's plain JSON reader gives up on deep nesting with a RecursionError (a 500): the
    strict reader of every JSON body refuses it with a 400, and Brevo's own payload passes."""
    url = webhook_url()
    deep = "[" * 100_000 + "]" * 100_000
    answers = [
        client.post(url, data=deep, content_type="application/json").status_code,
        client.post(url, data='{"a": NaN}', content_type="application/json").status_code,
        client.post(url, data='{"to": "\\ud800"}', content_type="application/json").status_code,
    ]
    assert answers == [400, 400, 400]
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.ACCEPTED
    message_id = int(accepted.provider_id)
    assert post(client, url, brevo.status_payload(message_id, "delivered")).status_code == 204
    accepted.refresh_from_db()
    assert accepted.status == SendStatus.DELIVERED

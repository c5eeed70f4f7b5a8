"""Brevo's email tracking webhook, verified and read by django-anymail, mapped to Relance's
provider-neutral hooks: delivered and bounced as statuses of the send, complained and
unsubscribed as an opt-out of the address.

The payloads are django-anymail's own, from its tests of Brevo's webhook
(github.com/anymail/django-anymail, tests/test_brevo_webhooks.py, release 15.1: "obtained
through live testing", per Brevo's https://developers.brevo.com/docs/transactional-webhooks).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from django.test import Client

from optin.models import Consent
from retargeting.gateways.anymail.brevo.gateway import BrevoEmailGateway
from retargeting.gateways.base import Action, Delivery
from retargeting.gateways.errors import action_for
from tests.factories import ContactFactory
from tests.support.email_providers import WEBHOOK_SECRET, brevo_settings, post_tracking

pytestmark = pytest.mark.django_db

MESSAGE_ID = "<201803011158.9876543210@smtp-relay.mailin.fr>"
PROVIDER_ID = "201803011158.9876543210@smtp-relay.mailin.fr"

# tests/test_brevo_webhooks.py of django-anymail, as it has them.
DELIVERED = {
    "event": "delivered",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
}
HARD_BOUNCE = {
    "event": "hard_bounce",
    "email": "not-a-user@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
    "reason": " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.",
    "tag": "header-tag",
}
SOFT_BOUNCE = {
    "event": "soft_bounce",
    "email": "recipient@no-mx.example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
    "reason": "undefined Unable to find MX of domain no-mx.example.com",
}
BLOCKED = {
    "event": "blocked",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
    "reason": "blocked : due to blacklist user",
}
INVALID_EMAIL = {
    "event": "invalid_email",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
    "reason": "(guessing invalid_email includes a reason)",
}
SPAM = {
    "event": "spam",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
}
COMPLAINT = {
    "event": "complaint",
    "email": "example@domain.com",
    "id": "xxxxx",
    "date": "2020-10-09 00:00:00",
    "ts": 1604933619,
    "message-id": "201798300811.5787683@relay.domain.com",
    "ts_event": 1604933654,
    "X-Mailin-custom": '{"meta": "data"}',
    "tags": ["transac_messages"],
}
UNSUBSCRIBE = {
    "event": "unsubscribe",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
}
OPENED = {
    "event": "opened",
    "email": "recipient@example.com",
    "ts_epoch": 1520363423000,
    "message-id": MESSAGE_ID,
}


@pytest.fixture
def brevo_email(settings):
    brevo_settings(settings, "http://127.0.0.1:9/v3")


@pytest.fixture
def reports(handlers):
    seen: dict[str, list] = {"status": [], "opt_out": []}
    handlers.register_status_handler(seen["status"].append)
    handlers.register_opt_out_handler(seen["opt_out"].append)
    return seen


def test_delivered_is_the_status_of_the_send_brevo_named(brevo_email, reports):
    assert post_tracking(DELIVERED) == 200
    (report,) = reports["status"]
    assert (report.provider_id, report.delivery, report.error_code) == (
        PROVIDER_ID,
        Delivery.DELIVERED,
        "",
    )
    assert reports["opt_out"] == []


@pytest.mark.parametrize(
    ("payload", "delivery", "action"),
    [
        (HARD_BOUNCE, Delivery.UNDELIVERED, Action.UNREACHABLE),
        (INVALID_EMAIL, Delivery.UNDELIVERED, Action.UNREACHABLE),
        # A full mailbox or a missing MX for now: not delivered, the address kept.
        (SOFT_BOUNCE, Delivery.UNDELIVERED, Action.FAIL),
        (BLOCKED, Delivery.FAILED, Action.FAIL),
    ],
)
def test_a_bounce_ends_the_send_undelivered_and_a_hard_one_marks_the_address(
    brevo_email, reports, payload, delivery, action
):
    assert post_tracking(payload) == 200
    (report,) = reports["status"]
    assert report.provider_id == PROVIDER_ID and report.delivery is delivery
    assert action_for(report.error_code, BrevoEmailGateway.error_actions) is action
    assert report.action is action
    assert report.provider_status == payload["event"]
    assert report.raw["reason"] == payload["reason"]


@pytest.mark.parametrize(
    ("payload", "address", "at"),
    [
        (COMPLAINT, "example@domain.com", None),
        (SPAM, "recipient@example.com", datetime(2018, 3, 6, 19, 10, 23, tzinfo=UTC)),
        (UNSUBSCRIBE, "recipient@example.com", datetime(2018, 3, 6, 19, 10, 23, tzinfo=UTC)),
    ],
)
def test_a_complaint_or_an_unsubscription_is_an_opt_out_of_the_address(
    brevo_email, reports, payload, address, at
):
    assert post_tracking(payload) == 200
    (opt_out,) = reports["opt_out"]
    assert (opt_out.email, opt_out.phone) == (address, "")
    assert payload["message-id"].strip("<>")[:40] in opt_out.provider_id
    if at is not None:
        assert opt_out.at == at  # ts_epoch, UTC
    assert reports["status"] == []


def test_opens_are_not_used(brevo_email, reports):
    assert post_tracking(OPENED) == 200
    assert reports == {"status": [], "opt_out": []}


def test_the_webhook_answers_only_with_its_secret(brevo_email, reports):
    assert post_tracking(UNSUBSCRIBE, secret="relance-hook:wrong") == 403
    assert post_tracking(UNSUBSCRIBE, secret="") == 403
    assert reports == {"status": [], "opt_out": []}
    # Control: with the secret of ANYMAIL_WEBHOOK_SECRET.
    assert post_tracking(UNSUBSCRIBE, secret=WEBHOOK_SECRET) == 200
    assert len(reports["opt_out"]) == 1


def test_an_authenticated_body_that_is_not_brevos_payload_is_refused_and_changes_nothing(
    brevo_email, reports
):
    token = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
    for body in ("not json", '"a string"', "[1, 2]", '{"event": 5}'):
        response = Client().post(
            "/webhooks/email/brevo/tracking/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )
        assert response.status_code in (200, 400), (body, response.status_code)
    assert (
        Client()
        .post(
            "/webhooks/email/brevo/tracking/",
            data="not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
        )
        .status_code
        == 400
    )
    assert reports == {"status": [], "opt_out": []}


def test_without_a_webhook_secret_nobody_is_heard(settings, reports):
    # The embedded default (no email provider, no ANYMAIL_WEBHOOK_SECRET): the URL exists but
    # anymail alone would take an unsigned unsubscription of anyone's address.
    settings.ANYMAIL = {}
    assert post_tracking(UNSUBSCRIBE, secret="") == 403
    assert post_tracking(UNSUBSCRIBE, secret=WEBHOOK_SECRET) == 403
    assert reports == {"status": [], "opt_out": []}


def test_an_email_opt_out_never_touches_a_phone_consent(brevo_email):
    """With the opt-in layer's own handler: a report about an address (no phone) changes no
    SMS consent, not even of the contacts that have no phone."""
    email_only = ContactFactory(phone="", email="recipient@example.com")
    with_phone = ContactFactory(email="other@example.com")
    assert post_tracking(UNSUBSCRIBE) == 200
    assert not Consent.objects.filter(channel="sms", contact__in=[email_only, with_phone]).exists()


def test_a_send_through_brevo_moves_on_with_brevos_reports(settings):
    """End to end with the campaign layer's own handler: the id Brevo answered the send with
    is the one its webhooks name."""
    from campaigns.models import Send, SendStatus
    from retargeting.gateways import get_gateway
    from retargeting.gateways.base import Outcome, OutgoingEmail
    from tests.factories import SendFactory
    from tests.support.brevo_emulator import BrevoEmulator

    with BrevoEmulator() as emulator:
        brevo_settings(settings, emulator.base_url)
        sends = []
        for address in ("marie@example.fr", "gone@example.fr"):
            result = get_gateway("email").send(
                OutgoingEmail(
                    to=address, subject="Votre panier", text="Votre panier", tag="relance-flow-3"
                )
            )
            assert result.outcome is Outcome.ACCEPTED
            sends.append(
                SendFactory(
                    channel="email", status=SendStatus.ACCEPTED, provider_id=result.provider_id
                )
            )
        delivered, bounced = emulator.emails
        assert delivered.tags == ["relance-flow-3"]  # Brevo's statistics name the send
        assert "Message-ID" not in delivered.headers  # Brevo names its messages itself
        assert sends[0].provider_id == delivered.message_id.strip("<>")
        assert post_tracking(emulator.email_event(delivered, "delivered")) == 200
        assert (
            post_tracking(emulator.email_event(bounced, "hard_bounce", reason="550 5.1.1")) == 200
        )
    statuses = [Send.objects.get(pk=send.pk).status for send in sends]
    assert statuses == [SendStatus.DELIVERED, SendStatus.UNDELIVERED]

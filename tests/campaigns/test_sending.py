"""Sending one reminder safely, through the real SDK and the emulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from campaigns import sending
from campaigns.models import OptOutLink, SendStatus
from campaigns.sms_text import render_body
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.gateways import get_gateway
from retargeting.gateways.base import OutgoingSms
from retargeting.gateways.models import OutboxMessage
from retargeting.sms import segments
from tests.factories import SendFactory, StepFactory
from tests.support.processes import wait_for
from tests.support.twilio_fixtures import SENDER

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(site, consenting_contact, abandoned_cart_of):
    """A send due now for a cart left 30 minutes ago."""
    site.quiet_hours = "none"  # these tests are not about the hour they run at
    site.save()
    step = StepFactory(
        flow__site=site,
        delay_minutes=30,
        template="{{ shop }} : {{ first_name }}, votre panier de {{ cart_total }} "
        "vous attend : {{ link }} {{ stop }}",
    )
    cart = abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(minutes=30))
    return SendFactory(
        cart=cart,
        step=step,
        contact=consenting_contact,
        planned_at=timezone.now() - timedelta(minutes=1),
        due_at=timezone.now(),
    )


def history(send):
    return list(send.history.values_list("status", "source"))


def test_a_due_send_is_claimed_rendered_and_accepted(twilio, planned, settings):
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.status == SendStatus.ACCEPTED and planned.provider_id.startswith("SM")
    form = twilio.requests[-1]["form"]
    assert form["To"] == planned.contact.phone and form["From"] == SENDER
    assert form["StatusCallback"] == "https://relance.example/webhooks/twilio/status"
    # Valid until the cart is 48 h old, within Twilio's 10-hour maximum.
    assert form["ValidityPeriod"] == "36000"
    body = form["Body"]
    assert body == planned.body
    assert f"{settings.PUBLIC_BASE_URL}/s/{planned.short_link.code}" in body
    assert "59,90 €" in body and "STOP" in body and "Marie" in body
    counted = segments.count(body)
    assert (planned.segments, planned.encoding) == (counted.segments, "GSM-7") == (1, "GSM-7")
    assert history(planned) == [("sending", "worker"), ("accepted", "worker")]


def test_a_reminder_near_its_staleness_limit_expires_with_it(twilio, planned):
    type(planned.cart).objects.filter(pk=planned.cart.pk).update(
        last_change_at=timezone.now() - timedelta(hours=47)
    )
    type(planned).objects.filter(pk=planned.pk).update(planned_at=timezone.now())
    assert sending.deliver(send_id=planned.pk) == "accepted"
    assert 3500 <= int(twilio.requests[-1]["form"]["ValidityPeriod"]) <= 3600


def test_a_send_is_sent_once_whatever_runs_twice(twilio, planned):
    assert sending.deliver(send_id=planned.pk) == "accepted"
    assert sending.deliver(send_id=planned.pk) == "not_claimed"
    assert len(twilio.sent_to(planned.contact.phone)) == 1


def test_a_send_not_yet_due_is_not_claimed(twilio, planned):
    planned.due_at = timezone.now() + timedelta(minutes=5)
    planned.save()
    assert sending.deliver(send_id=planned.pk) == "not_claimed"
    assert twilio.messages == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda send: record_consent(
                contact=send.contact, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD
            ),
            "opted_out",
        ),
        (
            lambda send: (
                type(send.cart)
                .objects.filter(pk=send.cart.pk)
                .update(status="converted", converted_at=timezone.now())
            ),
            "converted",
        ),
        (
            lambda send: (
                type(send.cart).objects.filter(pk=send.cart.pk).update(item_count=0, items=[])
            ),
            "cart_emptied",
        ),
        (
            lambda send: (
                type(send.contact)
                .objects.filter(pk=send.contact.pk)
                .update(unreachable_at=timezone.now())
            ),
            "unreachable",
        ),
    ],
    ids=["stop between planning and sending", "bought", "emptied", "unreachable"],
)
def test_what_changed_since_planning_cancels_the_send(twilio, planned, change, reason):
    change(planned)
    assert sending.deliver(send_id=planned.pk) == reason
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.CANCELLED, reason)
    assert twilio.messages == {}


def test_a_cart_changed_after_planning_waits_the_delay_again(twilio, planned):
    changed_at = timezone.now()
    type(planned.cart).objects.filter(pk=planned.cart.pk).update(last_change_at=changed_at)
    assert sending.deliver(send_id=planned.pk) == "cart_changed"
    planned.refresh_from_db()
    assert planned.status == SendStatus.PLANNED
    assert planned.due_at == changed_at + timedelta(minutes=30)
    assert twilio.messages == {}


def test_a_send_that_can_no_longer_go_out_in_time_is_dropped_as_stale(twilio, planned):
    type(planned.cart).objects.filter(pk=planned.cart.pk).update(
        last_change_at=timezone.now() - timedelta(hours=48)
    )
    assert sending.deliver(send_id=planned.pk) == "stale"
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.DROPPED, "stale")


def test_503_twice_then_success_sends_one_message(twilio, planned):
    twilio.fail_next(2, status=503)
    outcomes = []
    for _ in range(3):
        planned.refresh_from_db()
        with time_machine.travel(planned.due_at + timedelta(seconds=1)):
            outcomes.append(sending.deliver(send_id=planned.pk))
    assert outcomes == ["retry", "retry", "accepted"]
    assert len(twilio.sent_to(planned.contact.phone)) == 1
    planned.refresh_from_db()
    retries = planned.history.filter(reason="provider_retry")
    assert [e.error_code for e in retries] == ["http_503", "http_503"]


def test_a_provider_down_past_the_retries_drops_the_send_with_its_reason(twilio, planned):
    twilio.fail_next(10, status=503)
    outcomes = []
    for _ in range(7):
        planned.refresh_from_db()
        with time_machine.travel(planned.due_at + timedelta(seconds=1)):
            outcomes.append(sending.deliver(send_id=planned.pk))
    assert outcomes[-1] == "not_claimed" and "provider_unavailable" in outcomes
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.DROPPED, "provider_unavailable")
    assert twilio.messages == {}


def test_an_unsubscribed_number_revokes_consent_with_the_provider_as_source(twilio, planned):
    twilio.fail_for(planned.contact.phone, 400, 21610, "Attempt to send to unsubscribed recipient")
    assert sending.deliver(send_id=planned.pk) == "failed"
    planned.refresh_from_db()
    planned.contact.refresh_from_db()
    assert (planned.status, planned.error_code) == (SendStatus.FAILED, "21610")
    assert planned.reason == "revoke_consent"
    assert planned.contact.consent_status == "revoked"
    assert planned.contact.consents.last().source == "provider"


def test_an_invalid_number_is_marked_unreachable(twilio, planned):
    twilio.fail_for(planned.contact.phone, 400, 21211)
    sending.deliver(send_id=planned.pk)
    planned.contact.refresh_from_db()
    assert planned.contact.unreachable_at is not None


def test_a_timeout_is_never_resent_blindly(twilio, planned, settings):
    settings.SMS_TIMEOUT_SECONDS = 0.3
    twilio.delay_seconds = 0.8  # the provider takes the message after we gave up
    assert sending.deliver(send_id=planned.pk) == "ambiguous"
    planned.refresh_from_db()
    assert planned.status == SendStatus.SENDING
    twilio.delay_seconds = 0
    # The emulator finishes taking the message it held when we gave up.
    assert wait_for(lambda: twilio.sent_to(planned.contact.phone), timeout=10)
    counts = sending.reconcile_stuck(stuck_after=timedelta(0))
    assert counts == {"resumed": 0, "found": 1, "unknown": 0}
    planned.refresh_from_db()
    assert planned.status == SendStatus.ACCEPTED and planned.provider_id
    assert len(twilio.sent_to(planned.contact.phone)) == 1


def test_a_handed_send_the_provider_never_saw_becomes_unknown_not_resent(twilio, planned):
    claimed_at = timezone.now() - timedelta(minutes=11)
    type(planned).objects.filter(pk=planned.pk).update(
        status=SendStatus.SENDING,
        claimed_at=claimed_at,
        handed_at=claimed_at,  # marked, then the worker died before the provider took it
        body="never reached the provider",
    )
    assert sending.reconcile_stuck() == {"resumed": 0, "found": 0, "unknown": 1}
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.UNKNOWN, "not_found_at_provider")
    assert sending.deliver(send_id=planned.pk) == "not_claimed"
    assert twilio.messages == {}


def test_a_claimed_send_never_handed_to_the_provider_is_sent_again_once(twilio, planned):
    # Claimed, then the worker died before writing its mark: the provider never saw it.
    type(planned).objects.filter(pk=planned.pk).update(
        status=SendStatus.SENDING, claimed_at=timezone.now() - timedelta(minutes=11)
    )
    assert sending.reconcile_stuck() == {"resumed": 1, "found": 0, "unknown": 0}
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.PLANNED, "interrupted")
    assert planned.due_at <= timezone.now() and planned.claimed_at is None
    assert sending.deliver(send_id=planned.pk) == "accepted"
    assert sending.deliver(send_id=planned.pk) == "not_claimed"
    assert len(twilio.sent_to(planned.contact.phone)) == 1
    planned.refresh_from_db()
    assert planned.status == SendStatus.ACCEPTED and planned.handed_at is not None
    assert history(planned) == [
        ("planned", "reconciler"),
        ("sending", "worker"),
        ("accepted", "worker"),
    ]


def test_an_unmarked_send_the_provider_has_is_found_not_sent_again(twilio, planned):
    # The mark lost with a crash of the database server (marks do not wait for the disk),
    # the message taken by the provider all the same.
    claimed_at = timezone.now() - timedelta(minutes=11)
    body = "Boutique : votre panier vous attend https://relance.example/s/ABC"
    type(planned).objects.filter(pk=planned.pk).update(
        status=SendStatus.SENDING, claimed_at=claimed_at, body=body
    )
    taken = get_gateway().send(OutgoingSms(to=planned.contact.phone, body=body))
    assert sending.reconcile_stuck() == {"resumed": 0, "found": 1, "unknown": 0}
    planned.refresh_from_db()
    assert (planned.status, planned.provider_id) == (SendStatus.ACCEPTED, taken.provider_id)
    assert len(twilio.sent_to(planned.contact.phone)) == 1


def test_a_provider_that_lists_no_messages_leaves_a_handed_send_unknown(
    twilio, planned, monkeypatch
):
    from retargeting.gateways.twilio.gateway import TwilioGateway

    claimed_at = timezone.now() - timedelta(minutes=11)
    type(planned).objects.filter(pk=planned.pk).update(
        status=SendStatus.SENDING, claimed_at=claimed_at, handed_at=claimed_at
    )
    monkeypatch.setattr(TwilioGateway, "lists_messages", False)
    assert sending.reconcile_stuck() == {"resumed": 0, "found": 0, "unknown": 1}
    assert not any(request["method"] == "GET" for request in twilio.requests)
    planned.refresh_from_db()
    assert "lists no messages" in planned.reason_detail


def test_reconciliation_waits_for_the_claim_to_be_old_enough(twilio, planned):
    type(planned).objects.filter(pk=planned.pk).update(
        status=SendStatus.SENDING, claimed_at=timezone.now() - timedelta(minutes=2)
    )
    assert sending.reconcile_stuck() == {"resumed": 0, "found": 0, "unknown": 0}


def test_status_callbacks_move_a_send_forward_only(client, twilio, planned):
    sending.deliver(send_id=planned.pk)
    planned.refresh_from_db()
    sid = planned.provider_id
    url = "https://relance.example/webhooks/twilio/status"
    # A late "sent" after "delivered" is kept in the history but changes nothing; the same
    # callback again (Twilio retries, or a replay) adds nothing at all.
    for status in ("delivered", "sent", "sent", "delivered"):
        params = twilio.status_params(sid, status)
        response = client.post(
            "/webhooks/twilio/status", data=params, HTTP_X_TWILIO_SIGNATURE=twilio.sign(url, params)
        )
        assert response.status_code == 204
    planned.refresh_from_db()
    assert planned.status == SendStatus.DELIVERED
    provider_events = list(
        planned.history.filter(source="provider").values_list("status", "detail")
    )
    assert provider_events == [
        ("delivered", "delivered"),
        ("sent", "ignored after delivered: sent"),
    ]


def test_an_undelivered_callback_with_an_unreachable_code_marks_the_contact(
    client, twilio, planned
):
    sending.deliver(send_id=planned.pk)
    planned.refresh_from_db()
    params = twilio.status_params(planned.provider_id, "undelivered", "30006")
    url = "https://relance.example/webhooks/twilio/status"
    client.post(
        "/webhooks/twilio/status", data=params, HTTP_X_TWILIO_SIGNATURE=twilio.sign(url, params)
    )
    planned.refresh_from_db()
    planned.contact.refresh_from_db()
    assert (planned.status, planned.error_code) == (SendStatus.UNDELIVERED, "30006")
    assert planned.contact.unreachable_at is not None


def test_the_same_send_through_the_outbox_is_seen_on_the_phone(
    planned, client, django_capture_on_commit_callbacks, development_mode
):
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.status == SendStatus.DELIVERED
    message = OutboxMessage.objects.get()
    assert message.body == planned.body and message.to == planned.contact.phone
    page = client.get(f"/dev/phone/{planned.contact.phone}/").content.decode()
    assert planned.short_link.code in page


PARIS = ZoneInfo("Europe/Paris")


def test_a_send_claimed_at_night_waits_for_the_morning(
    twilio, site, consenting_contact, abandoned_cart_of
):
    with time_machine.travel(datetime(2026, 11, 24, 21, 0, tzinfo=PARIS), tick=False):
        step = StepFactory(flow__site=site)
        cart = abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(hours=1))
        send = SendFactory(
            cart=cart,
            step=step,
            contact=consenting_contact,
            planned_at=timezone.now() - timedelta(minutes=30),
            due_at=timezone.now(),
        )
        assert sending.deliver(send_id=send.pk) == "quiet_hours"
    send.refresh_from_db()
    assert send.status == SendStatus.PLANNED and send.reason == "quiet_hours"
    morning = datetime(2026, 11, 25, 8, 0, tzinfo=PARIS)
    assert morning <= send.due_at < morning + timedelta(minutes=30)
    assert twilio.messages == {}
    with time_machine.travel(send.due_at, tick=False):
        assert sending.deliver(send_id=send.pk) == "accepted"


def test_quiet_hours_past_the_staleness_limit_drop_the_send(
    twilio, site, consenting_contact, abandoned_cart_of
):
    # Saturday 21:00: the next opening is Monday 08:00, after the cart turns 48 hours old.
    with time_machine.travel(datetime(2026, 11, 28, 21, 0, tzinfo=PARIS), tick=False):
        step = StepFactory(flow__site=site)
        cart = abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(hours=20))
        send = SendFactory(
            cart=cart,
            step=step,
            contact=consenting_contact,
            planned_at=timezone.now(),
            due_at=timezone.now(),
        )
        assert sending.deliver(send_id=send.pk) == "stale"
    send.refresh_from_db()
    assert (send.status, send.reason) == (SendStatus.DROPPED, "stale")
    assert twilio.messages == {}


def test_a_template_without_the_stop_mention_gets_it(twilio, planned):
    type(planned.step).objects.filter(pk=planned.step.pk).update(
        template="{{ shop }} : votre panier vous attend {{ link }}"
    )
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.body.endswith("Répondez STOP pour vous désabonner")


def test_an_invalid_template_fails_the_send_with_its_reason(twilio, planned):
    type(planned.step).objects.filter(pk=planned.step.pk).update(template="{% debug %}")
    assert sending.deliver(send_id=planned.pk) == "invalid_template"
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (SendStatus.FAILED, "invalid_template")
    assert twilio.messages == {}


@pytest.mark.parametrize(
    ("day", "detail"),
    [
        (datetime(2026, 11, 29, 11, 0), "sent on a Sunday (af2m charter)"),
        (datetime(2026, 12, 25, 11, 0), "sent on a public holiday (af2m charter)"),
        (datetime(2026, 11, 24, 11, 0), ""),  # a Tuesday: nothing to flag
    ],
)
def test_the_af2m_charter_flags_sundays_and_holidays(twilio, planned, day, detail):
    planned.site.quiet_hours = "fr_af2m"
    planned.site.save()
    at = day.replace(tzinfo=ZoneInfo("Europe/Paris"))
    type(planned.cart).objects.filter(pk=planned.cart.pk).update(
        last_change_at=at - timedelta(minutes=30)
    )
    type(planned).objects.filter(pk=planned.pk).update(
        planned_at=at - timedelta(minutes=1), due_at=at
    )
    with time_machine.travel(at, tick=False):
        assert sending.deliver(send_id=planned.pk) == "accepted"
    assert planned.history.get(status="accepted").detail == detail


def test_an_sms_from_an_alphanumeric_sender_carries_its_opt_out_link(twilio, planned, settings):
    settings.SHORT_LINK_BASE_URL = "https://rl.example"
    site = planned.site
    site.sender = "MAISONDEMO"
    site.save()
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    link = OptOutLink.objects.get(send=planned)
    assert (link.site, link.contact, len(link.code)) == (site, planned.contact, 10)
    assert twilio.requests[-1]["form"]["From"] == "MAISONDEMO"
    assert planned.body.endswith(f"Stop SMS : https://rl.example/u/{link.code}")
    assert "Répondez" not in planned.body
    # Rendered again (a retry), the send keeps its one link.
    assert render_body(planned)[0] == planned.body
    assert OptOutLink.objects.count() == 1


def test_an_sms_from_a_number_carries_no_opt_out_link_unless_its_text_asks(twilio, planned):
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.body.endswith("Répondez STOP pour vous désabonner")
    assert not OptOutLink.objects.exists()
    type(planned.step).objects.filter(pk=planned.step.pk).update(
        template="{{ link }} Stop SMS : {{ stop_link }}"
    )
    planned.step.refresh_from_db()
    body, _ = render_body(planned)
    assert body.endswith(f"/u/{OptOutLink.objects.get(send=planned).code}")


def test_the_outbox_reports_delivery_through_the_status_path_once_the_send_is_recorded(
    planned, development_mode
):
    # No commit hook runs here (as on SQLite, where the batch holds no transaction, the hook ran
    # before the send knew its provider id): the report still reaches the send, as a
    # provider's webhook would, with its history row.
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.status == SendStatus.DELIVERED
    assert list(planned.history.filter(source="provider").values_list("status", flat=True)) == [
        "delivered"
    ]


def test_a_delivery_report_that_fails_to_apply_leaves_the_send_accepted_and_says_so(
    planned, development_mode, monkeypatch, caplog
):
    """Applying the outbox's report is the webhook's path; if it raises, the message that
    went out stays recorded as accepted (nothing is lost) and the failure is logged, not
    raised over the batch's outcome (control: the test above, where it applies)."""

    def broken(report):
        raise RuntimeError("status path down")

    monkeypatch.setattr(sending.hooks, "handle_status", broken)
    assert sending.deliver(send_id=planned.pk) == "accepted"
    planned.refresh_from_db()
    assert planned.status == SendStatus.ACCEPTED
    assert "delivery report failed" in caplog.text

"""Real Celery workers sending through the real SDK to the emulator, killed mid-batch."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import sending
from campaigns.models import Send, SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.celery import app as celery_app
from tests.factories import ContactFactory, SendFactory, StepFactory, VisitorLinkFactory
from tests.support.processes import env_for_test_database, start_celery_worker, wait_for
from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_worker(queue, twilio, log):
    env = env_for_test_database(
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM="+33757000001",
        TWILIO_API_BASE_URL=twilio.base_url,
        PUBLIC_BASE_URL="https://relance.example",
        SMS_DEFAULT_MPS="0",
    )
    return start_celery_worker(queue, env, log)


def due_reminders(site, count):
    """``count`` reminders due now on ``site`` (quiet hours off: whatever hour the test runs
    at), each to a consenting contact of its own."""
    site.quiet_hours = "none"
    site.save()
    step = StepFactory(
        flow__site=site,
        delay_minutes=30,
        template="{{ shop }} : votre panier vous attend {{ link }} {{ stop }}",
    )
    left_at = timezone.now() - timedelta(hours=1)
    sends = []
    for _ in range(count):
        contact = ContactFactory(site=site)
        record_consent(contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.ADMIN)
        link = VisitorLinkFactory(visitor__site=site, contact=contact)
        sends.append(
            SendFactory(
                cart__visitor=link.visitor,
                cart__last_change_at=left_at,
                step=step,
                contact=contact,
                planned_at=left_at + timedelta(minutes=30),
                due_at=left_at + timedelta(minutes=30),
            )
        )
    return sends


@pytest.fixture
def due_sends(site):
    return due_reminders(site, 40)


def enqueue(queue, sends, *, batched):
    """One task per send (as before batches), or one per batch of eight, as beat does."""
    ids = [send.pk for send in sends]
    if not batched:
        for send_id in ids:
            celery_app.send_task("campaigns.tasks.deliver_send", args=[send_id], queue=queue)
        return
    for start in range(0, len(ids), 8):
        celery_app.send_task(
            "campaigns.tasks.deliver_sends", args=[ids[start : start + 8]], queue=queue
        )


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "in-batches"])
def test_a_worker_killed_mid_batch_then_restarted_sends_no_number_twice(
    twilio, due_sends, tmp_path, batched
):
    queue = f"sms-test-{uuid.uuid4().hex[:8]}"
    twilio.delay_seconds = 0.05  # a provider that takes a little time, like the real one
    log = (tmp_path / "worker.log").open("wb")
    worker = start_worker(queue, twilio, log)
    try:
        enqueue(queue, due_sends, batched=batched)
        assert wait_for(lambda: len(twilio.messages) >= 10, timeout=60), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)  # mid-batch, maybe mid-call
        worker.wait(timeout=10)
        sent_before_restart = len(twilio.messages)
        assert sent_before_restart < len(due_sends), "the kill came too late to test anything"

        # A restarted worker, and every task enqueued again (as a redelivery would).
        worker = start_worker(queue, twilio, log)
        enqueue(queue, due_sends, batched=batched)
        settled = {SendStatus.ACCEPTED, SendStatus.SENDING, SendStatus.DELIVERED}
        assert wait_for(
            lambda: (
                Send.objects.filter(status__in=settled).count() == len(due_sends)
                and not Send.objects.filter(status=SendStatus.PLANNED).exists()
            ),
            timeout=90,
        ), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=20)
        log.close()

    # What the kill left in `sending` is reconciled: what was never handed to the provider
    # goes back to be sent (by the next pass: here, at once); the one message whose call was
    # under way is found at the provider, or left unknown.
    counts = sending.reconcile_stuck(stuck_after=timedelta(0))
    sending.deliver_batch(send_ids=[send.pk for send in due_sends])
    statuses = Counter(Send.objects.values_list("status", flat=True))
    assert set(statuses) <= {SendStatus.ACCEPTED, SendStatus.UNKNOWN}, statuses
    assert statuses[SendStatus.UNKNOWN] <= 1, (counts, statuses)  # at most the one in flight
    per_number = Counter(message.to for message in twilio.messages.values())
    assert max(per_number.values()) == 1, "a number got two messages"
    assert len(per_number) >= len(due_sends) - 1
    accepted = Send.objects.filter(status=SendStatus.ACCEPTED)
    assert accepted.count() == len(twilio.messages)
    assert set(accepted.values_list("provider_id", flat=True)) == set(twilio.messages)
    print(f"killed after {sent_before_restart} of {len(due_sends)}; {counts}; {dict(statuses)}")

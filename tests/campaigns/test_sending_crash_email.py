"""A real process sending a batch of emails over one SMTP session, killed with SIGKILL while
the server holds the k-th message, then the reconciler and a fresh worker: no customer gets
the email twice; every email never handed over is sent again; those handed over are left
unknown, since an SMTP server lists no messages (a missing email is better than two).

As tests/campaigns/test_sending_crash.py does for SMS, against the real SMTP server of the
tests (aiosmtpd) instead of the Twilio emulator.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import sending
from campaigns.models import Send, SendStatus, StepChannel
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus
from retargeting.channels import Channel
from tests.factories import ContactFactory, SendFactory, StepFactory, VisitorLinkFactory
from tests.support.processes import PYTHON, ROOT, env_for_test_database, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCH = 6
BATCH_SERVICE = (
    "import json, sys\n"
    "import django\n"
    "django.setup()\n"
    "from campaigns import sending\n"
    "print(json.dumps(sending.deliver_batch(send_ids=json.loads(sys.argv[1]))))\n"
)


def due_emails(site, count):
    site.quiet_hours = "none"
    site.save()
    step = StepFactory(
        flow__site=site, delay_minutes=30, channel=StepChannel.EMAIL, subject="{{ shop }}"
    )
    left_at = timezone.now() - timedelta(hours=1)
    ids = []
    for index in range(count):
        contact = ContactFactory(site=site, phone="", email=f"client{index}@example.org")
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.ADMIN,
            channel=Channel.EMAIL,
        )
        link = VisitorLinkFactory(visitor__site=site, contact=contact)
        send = SendFactory(
            cart__visitor=link.visitor,
            cart__last_change_at=left_at,
            step=step,
            contact=contact,
            channel=Channel.EMAIL,
            planned_at=left_at + timedelta(minutes=30),
            due_at=left_at + timedelta(minutes=30),
        )
        ids.append(send.pk)
    return ids


class Hold:
    """Makes the SMTP server hold the k-th message's DATA (after keeping it, or before)."""

    def __init__(self, server, position, *, taken):
        self.holding, self.released = threading.Event(), threading.Event()
        handler = server.handler
        original = type(handler).handle_DATA
        seen = 0

        async def handle_DATA(srv, session, envelope):
            nonlocal seen
            seen += 1
            if seen != position:
                return await original(handler, srv, session, envelope)
            answer = await original(handler, srv, session, envelope) if taken else "451 later"
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.released.wait, 60)
            return answer

        handler.handle_DATA = handle_DATA


def start_batch(ids, smtp, log, **env):
    return subprocess.Popen(
        [PYTHON, "-c", BATCH_SERVICE, json.dumps(ids)],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "retargeting.settings",
            **env_for_test_database(
                EMAIL_URL=f"smtp://{smtp.host}:{smtp.port}",
                PUBLIC_BASE_URL="https://relance.example",
                **env,
            ),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def reconcile_and_send_again(ids):
    counts = sending.reconcile_stuck(stuck_after=timedelta(0))
    outcomes = sending.deliver_batch(send_ids=ids)
    return counts, outcomes


def assert_none_twice(smtp, ids, *, received, unknown):
    per_address = Counter(address for m in smtp.messages for address in m.recipients)
    assert set(per_address.values()) <= {1}, per_address  # no duplicate
    assert len(per_address) == received
    statuses = Counter(Send.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == +Counter({SendStatus.ACCEPTED: BATCH - unknown, SendStatus.UNKNOWN: unknown})
    unknown_sends = Send.objects.filter(pk__in=ids, status=SendStatus.UNKNOWN)
    assert not unknown_sends.filter(handed_at__isnull=True).exists()  # only a marked send


@pytest.mark.parametrize("taken", [1, 3, BATCH])
def test_killed_while_the_server_answers_the_kth_email_none_is_sent_twice(
    smtp, site, tmp_path, taken
):
    ids = due_emails(site, BATCH)
    hold = Hold(smtp, taken, taken=True)
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(ids, smtp, log, EMAIL_MPS="0")
        try:
            assert hold.holding.wait(timeout=60), (tmp_path / "batch.log").read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
            hold.released.set()
    assert len(smtp.messages) == taken
    left = Send.objects.filter(pk__in=ids, status=SendStatus.SENDING)
    assert left.count() == BATCH
    assert left.filter(handed_at__isnull=False).count() == taken  # each marked before its call
    assert left.exclude(body="").exclude(subject="").count() == BATCH  # saved before any call

    counts, outcomes = reconcile_and_send_again(ids)

    # The handed ones may have reached the customer: unknown, never sent again.
    assert counts == {"resumed": BATCH - taken, "found": 0, "unknown": taken}
    assert Counter(outcomes.values()) == ({"accepted": BATCH - taken} if taken < BATCH else {})
    assert_none_twice(smtp, ids, received=BATCH, unknown=taken)


def test_killed_before_its_first_email_the_whole_batch_is_sent_once(smtp, site, tmp_path):
    ids = due_emails(site, BATCH)
    # At 0.05 emails per second the first one waits for the sender's rate, after the batch is
    # claimed and its texts saved, before its mark: the process is killed there.
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(ids, smtp, log, EMAIL_MPS="0.05")
        try:
            rendered = Send.objects.filter(pk__in=ids, status=SendStatus.SENDING)
            assert wait_for(lambda: rendered.exclude(body="").count() == BATCH, timeout=60), (
                tmp_path / "batch.log"
            ).read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
    handed = Send.objects.filter(pk__in=ids, handed_at__isnull=False).count()
    assert handed <= 1  # the first token of the rate may have been free
    assert len(smtp.messages) == handed

    counts, outcomes = reconcile_and_send_again(ids)

    assert counts == {"resumed": BATCH - handed, "found": 0, "unknown": handed}
    assert Counter(outcomes.values()) == {"accepted": BATCH - handed}
    assert_none_twice(smtp, ids, received=BATCH, unknown=handed)


def test_killed_between_a_mark_and_the_server_taking_it_that_one_is_unknown(smtp, site, tmp_path):
    ids = due_emails(site, BATCH)
    position = 2
    hold = Hold(smtp, position, taken=False)  # marked, on its way, not taken
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(ids, smtp, log, EMAIL_MPS="0")
        try:
            assert hold.holding.wait(timeout=60), (tmp_path / "batch.log").read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
            hold.released.set()
    assert len(smtp.messages) == position - 1

    counts, outcomes = reconcile_and_send_again(ids)

    assert counts == {"resumed": BATCH - position, "found": 0, "unknown": position}
    assert Counter(outcomes.values()) == {"accepted": BATCH - position}
    # The held one never arrived: one customer lost, none twice.
    assert_none_twice(smtp, ids, received=BATCH - 1, unknown=position)

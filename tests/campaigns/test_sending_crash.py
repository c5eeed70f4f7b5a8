"""A real process sending a batch, killed with SIGKILL at every position of it, then the
reconciler and a fresh worker: every customer gets the reminder once; none twice, none lost
but the one whose call was under way when the provider had not taken it yet (left unknown).

The batch runs in a plain Python process (the batch service a Celery worker runs, without
the broker: it starts in a second, so every position fits in the suite's time), through the
official SDK, against the Twilio emulator. The emulator holds the k-th call, once it took the
message (or before taking it), and the test kills the process there: a deterministic position.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from datetime import timedelta

import pytest

from campaigns import sending
from campaigns.models import Send, SendStatus
from tests.campaigns.test_sending_worker import due_reminders
from tests.support.processes import PYTHON, ROOT, env_for_test_database, wait_for
from tests.support.twilio_emulator import ACCOUNT_SID, AUTH_TOKEN
from tests.support.twilio_fixtures import SENDER

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BATCH = 10
BATCH_SERVICE = (
    "import json, sys\n"
    "import django\n"
    "django.setup()\n"
    "from campaigns import sending\n"
    "print(json.dumps(sending.deliver_batch(send_ids=json.loads(sys.argv[1]))))\n"
)


@pytest.fixture
def due_batch(site):
    return [send.pk for send in due_reminders(site, BATCH)]


def start_batch(ids, twilio, log, **env):
    """The batch service in a process of its own, sending through the emulator."""
    return subprocess.Popen(
        [PYTHON, "-c", BATCH_SERVICE, json.dumps(ids)],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "retargeting.settings",
            **env_for_test_database(
                SMS_BACKEND="twilio",
                TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                TWILIO_FROM=SENDER,
                TWILIO_API_BASE_URL=twilio.base_url,
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
    """The reconciler (its 15 minutes are up), then a fresh worker handed the batch again."""
    counts = sending.reconcile_stuck(stuck_after=timedelta(0))
    outcomes = sending.deliver_batch(send_ids=ids)
    return counts, outcomes


def assert_each_got_one(twilio, ids, *, lost=0):
    """Every customer got the reminder once (none twice), the send records the message the
    provider took, and only ``lost`` sends (handed over, never taken) are ``unknown``."""
    per_number = Counter(message.to for message in twilio.messages.values())
    assert set(per_number.values()) == {1}, per_number  # no duplicate
    assert len(per_number) == BATCH - lost
    statuses = Counter(Send.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == +Counter({SendStatus.ACCEPTED: BATCH - lost, SendStatus.UNKNOWN: lost})
    accepted = Send.objects.filter(pk__in=ids, status=SendStatus.ACCEPTED)
    assert set(accepted.values_list("provider_id", flat=True)) == set(twilio.messages)
    unknown = Send.objects.filter(pk__in=ids, status=SendStatus.UNKNOWN)
    assert not unknown.filter(handed_at__isnull=True).exists()  # only a marked send


@pytest.mark.parametrize("taken", range(1, BATCH + 1))
def test_killed_right_after_the_kth_provider_call_no_customer_is_missed_or_sent_twice(
    twilio, due_batch, tmp_path, taken
):
    twilio.hold_at(taken, taken=True)
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(due_batch, twilio, log, SMS_DEFAULT_MPS="0")
        try:
            # The k-th message is at the provider; its answer is on its way back.
            assert twilio.holding.wait(timeout=60), (tmp_path / "batch.log").read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
            twilio.release()
    assert len(twilio.messages) == taken
    left = Send.objects.filter(pk__in=due_batch, status=SendStatus.SENDING)
    assert left.count() == BATCH  # nothing recorded: the batch writes its results at its end
    assert left.filter(handed_at__isnull=False).count() == taken  # each marked before its call

    counts, outcomes = reconcile_and_send_again(due_batch)

    assert counts == {"resumed": BATCH - taken, "found": taken, "unknown": 0}
    assert Counter(outcomes.values()) == ({"accepted": BATCH - taken} if taken < BATCH else {})
    assert_each_got_one(twilio, due_batch)


def test_killed_before_its_first_provider_call_the_whole_batch_is_sent_once(
    twilio, due_batch, tmp_path
):
    # At 0.05 SMS per second, the first message waits 19 s for the sender's rate, after the
    # batch is claimed and its texts saved, and before its mark: the process is killed there.
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(due_batch, twilio, log, SMS_DEFAULT_MPS="0.05")
        try:
            rendered = Send.objects.filter(pk__in=due_batch, status=SendStatus.SENDING)
            assert wait_for(lambda: rendered.exclude(body="").count() == BATCH, timeout=60), (
                tmp_path / "batch.log"
            ).read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
    assert twilio.creates == 0
    assert not Send.objects.filter(pk__in=due_batch, handed_at__isnull=False).exists()

    counts, outcomes = reconcile_and_send_again(due_batch)

    assert counts == {"resumed": BATCH, "found": 0, "unknown": 0}
    assert Counter(outcomes.values()) == {"accepted": BATCH}
    assert_each_got_one(twilio, due_batch)


@pytest.mark.parametrize("position", [1, BATCH])
def test_killed_between_a_mark_and_the_provider_taking_it_only_that_one_is_unknown(
    twilio, due_batch, tmp_path, position
):
    twilio.hold_at(position, taken=False)  # marked, on its way, not taken yet
    with (tmp_path / "batch.log").open("wb") as log:
        process = start_batch(due_batch, twilio, log, SMS_DEFAULT_MPS="0")
        try:
            assert twilio.holding.wait(timeout=60), (tmp_path / "batch.log").read_text()
            kill(process)
        finally:
            if process.poll() is None:
                process.kill()
            twilio.release()  # the provider never takes it: its client is gone
    assert len(twilio.messages) == position - 1

    counts, outcomes = reconcile_and_send_again(due_batch)

    # It may have reached the customer as far as anyone can tell without the provider's
    # word: looked up, not found, left unknown rather than risk a second SMS.
    assert counts == {"resumed": BATCH - position, "found": position - 1, "unknown": 1}
    assert Counter(outcomes.values()) == (
        {"accepted": BATCH - position} if position < BATCH else {}
    )
    assert_each_got_one(twilio, due_batch, lost=1)
    assert Send.objects.get(pk=due_batch[position - 1]).status == SendStatus.UNKNOWN

"""Dispatch passes started at the same moment in separate processes, on the suite's database
(PostgreSQL in CI): every cart is planned once and every number gets one SMS."""

from __future__ import annotations

import json

import pytest

from campaigns.models import Send, SendStatus
from retargeting.gateways.models import OutboxMessage
from tests.factories import due_carts
from tests.support.processes import env_for_test_database, start_dispatch_pass

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CARTS = 150
PASSES = 3


def test_three_passes_at_once_plan_and_send_each_cart_once(site):
    due_carts(site, CARTS)
    # 100 SMS/s per sender (the limiter is shared by the three): each is sent once, quickly.
    env = env_for_test_database(SMS_DEFAULT_MPS="100")
    passes = [start_dispatch_pass(env) for _ in range(PASSES)]
    reports = []
    for process in passes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(report["planned"] for report in reports) == CARTS
    assert sum(report["sent"] for report in reports) == CARTS
    assert Send.objects.count() == CARTS
    # Taken by the provider (the outbox reports delivery at once when a worker can run it).
    assert set(Send.objects.values_list("status", flat=True)) <= {
        SendStatus.ACCEPTED,
        SendStatus.DELIVERED,
    }
    recipients = list(OutboxMessage.objects.values_list("to", flat=True))
    assert len(recipients) == len(set(recipients)) == CARTS

"""Messages per second per sender, shared by every process."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from retargeting.gateways import throttle
from tests.support.processes import PYTHON, ROOT, base_env
from tests.support.servers import require_server


def test_the_rate_is_per_sender_with_a_default(settings):
    settings.SMS_DEFAULT_MPS = 10
    settings.SMS_SENDER_MPS = {"MAISON": 3}
    assert throttle.rate_for("MAISON") == 3
    assert throttle.rate_for("+33757000001") == 10


def test_a_sender_gets_its_rate_then_waits(settings):
    settings.SMS_DEFAULT_MPS = 5
    sender = "throttle-test-a"
    granted = [throttle.try_acquire(sender) for _ in range(5)]
    assert granted == [0.0] * 5
    assert throttle.try_acquire(sender) > 0


def test_a_clock_that_steps_back_does_not_starve_the_sender(settings):
    import time_machine

    settings.SMS_DEFAULT_MPS = 5
    sender = "throttle-test-clock"
    with time_machine.travel(time.time() + 3600):
        assert throttle.try_acquire(sender) == 0.0
    assert throttle.try_acquire(sender) == 0.0  # an hour "earlier": still served


def test_a_long_message_costs_one_token_per_segment(settings):
    settings.SMS_DEFAULT_MPS = 5
    sender = "throttle-test-b"
    assert throttle.try_acquire(sender, cost=3) == 0.0
    assert throttle.try_acquire(sender, cost=3) > 0


@pytest.mark.needs_redis
def test_the_redis_bucket_refills_continuously(settings):
    settings.REDIS_URL = require_server("Redis", "REDIS_URL")
    settings.SMS_DEFAULT_MPS = 4
    sender = "throttle-test-redis"
    throttle._redis().delete(f"relance:mps:{sender}")
    assert [throttle.try_acquire(sender) for _ in range(4)] == [0.0] * 4
    wait = throttle.try_acquire(sender)
    assert 0 < wait <= 0.25 + 0.05  # one token comes back every quarter second


WORKER = """
import json, time, django
django.setup()
from retargeting.gateways import throttle
stamps = []
for _ in range({count}):
    assert throttle.acquire({sender!r}, 1, max_wait=30)
    stamps.append(time.time())
print(json.dumps(stamps))
"""


@pytest.mark.slow
def test_the_limit_holds_across_two_worker_processes():
    rate, each = 20, 30
    sender = "throttle-two-processes"
    env = base_env(SMS_DEFAULT_MPS=str(rate), DJANGO_SETTINGS_MODULE="retargeting.settings")
    script = WORKER.format(count=each, sender=sender)
    if env.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).delete(f"relance:mps:{sender}")
    else:
        for path in (Path(settings.VAR_DIR) / "throttle").glob("*"):
            path.unlink()
    workers = [
        subprocess.Popen(
            [PYTHON, "-c", script],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    stamps = sorted(t for out, _ in outputs for t in json.loads(out))
    assert len(stamps) == 2 * each
    # A bucket of `rate` tokens refilled at `rate` per second (Redis, or a locked file in the
    # embedded mode): whatever the two processes do, 60 messages cannot go out in less than
    # (60 - rate) / rate seconds, nor more than 2 x rate in any one second (plus two for
    # reading the clock just after a grant).
    minimum = (2 * each - rate) / rate
    span = stamps[-1] - stamps[0]
    busiest = max(sum(1 for t in stamps if start <= t < start + 1) for start in stamps)
    print(
        f"two processes: {len(stamps)} messages in {span:.2f} s "
        f"({len(stamps) / span:.1f}/s for a limit of {rate}/s); busiest second: {busiest}"
    )
    assert span >= minimum * 0.95
    assert busiest <= 2 * rate + 2

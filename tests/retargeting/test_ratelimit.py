"""The limits hold under load: no flood of other counters resets them, every process counts in
the same place, and production does not start without a store every process shares."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.conf import settings

from retargeting.gateways.models import OutboxMessage
from retargeting.web import ratelimit
from retargeting.web.counter_store import CounterStore
from tests.factories import SiteFactory
from tests.support.processes import (
    MANAGE,
    PRODUCTION,
    PYTHON,
    ROOT,
    base_env,
    env_for_test_database,
    run_python,
)

# A Tuesday, 10:00 in Paris. Frozen: every request of a test falls in the same window.
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ORIGIN = "https://www.shop.example"
ATTACKER_IP = "203.0.113.7"
# Page views from new browsers at new addresses: two new counters each (per address, per
# browser), 2 400 in all. The file-based cache kept 300 and culled a third of them at random
# past that, about every hundred new counters: 20 culls, of which a counter survived all with
# a chance of (2/3)^20, 1 in 3 300.
FLOOD = 1200


@pytest.fixture
def shop():
    return SiteFactory(
        name="Maison Demo",
        allowed_domains=["shop.example"],
        country="FR",
        confirmations_per_ip_per_day=2,
    )


def collect(client, site, *events, vid, ip):
    body = json.dumps({"site": site.public_key, "vid": vid, "events": list(events)})
    return client.post(
        "/t/e", data=body, content_type="text/plain", HTTP_ORIGIN=ORIGIN, REMOTE_ADDR=ip
    )


def identify(index):
    return {
        "type": "identify",
        "phone": f"+336{index:08d}",
        "consent": {"granted": True, "text": "J'accepte les SMS", "source": "checkout"},
    }


PAGE = {"type": "page_view", "url": "https://www.shop.example/", "title": "Accueil"}


def flood(client, site):
    for n in range(FLOOD):
        ip = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
        assert collect(client, site, PAGE, vid=f"flood{n:027d}", ip=ip).status_code == 204


@pytest.mark.django_db(transaction=True)  # committed, as in production: the SMS are sent
@time_machine.travel(MORNING, tick=False)
def test_a_flood_of_page_views_does_not_reset_the_confirmation_limit(client, shop):
    """On the store the settings give: the embedded one, or Redis when REDIS_URL is set."""
    answers = [
        collect(client, shop, identify(i), vid=f"attacker{i:024d}", ip=ATTACKER_IP).status_code
        for i in range(3)
    ]
    assert answers == [204, 204, 429]  # the address's budget (2) is spent
    assert OutboxMessage.objects.count() == 2

    flood(client, shop)

    again = collect(client, shop, identify(50), vid=f"attacker{50:024d}", ip=ATTACKER_IP)
    assert again.status_code == 429
    assert OutboxMessage.objects.count() == 2  # the flood bought no confirmation SMS
    # Control: another address still has its budget.
    other = collect(client, shop, identify(60), vid=f"neighbour{60:023d}", ip="198.51.100.9")
    assert other.status_code == 204
    assert OutboxMessage.objects.count() == 3


@pytest.mark.django_db
@time_machine.travel(MORNING, tick=False)
def test_a_flood_of_page_views_does_not_reset_a_browsers_rate_limit(client, shop, settings):
    settings.COLLECTOR_VISITOR_RATE_LIMIT = 3
    attacker = "attacker0000000000000000000000aa"
    answers = [
        collect(client, shop, PAGE, vid=attacker, ip=ATTACKER_IP).status_code for _ in range(4)
    ]
    assert answers == [204, 204, 204, 429]

    flood(client, shop)

    assert collect(client, shop, PAGE, vid=attacker, ip=ATTACKER_IP).status_code == 429
    # Control: the flood's own browsers were counted, not refused (one page view each).
    assert collect(client, shop, PAGE, vid=f"flood{0:027d}", ip="10.0.0.0").status_code == 204


def test_the_embedded_store_keeps_every_live_counter_and_sweeps_expired_ones(tmp_path, monkeypatch):
    store = CounterStore(str(tmp_path / "limits.sqlite3"), {})  # the embedded default's
    monkeypatch.setattr(ratelimit, "store", lambda: store)
    with time_machine.travel(MORNING, tick=False) as clock:
        for n in range(5000):
            ratelimit.take(key=f"short:{n}", limit=1, timeout=60)
        assert ratelimit.take(key="day", limit=1, timeout=86400)
        assert not ratelimit.take(key="day", limit=1, timeout=86400)
        assert all(ratelimit.count(key=f"short:{n}") == 1 for n in range(0, 5000, 7))
        clock.shift(120)  # the short counters' window is over
        assert ratelimit.count(key="short:0") == 0
        ratelimit.take(key="later", limit=1, timeout=60)  # a write sweeps the expired ones
        assert store.entries() == 2  # "day" and "later"
        assert ratelimit.count(key="day") == 2  # the live one is kept


@pytest.mark.slow
def test_processes_count_in_one_place_and_lose_no_hit():
    """Two processes taking the same key at once: every hit counted (one atomic update), in
    the store the settings give (the embedded one, or Redis when REDIS_URL is set)."""
    key = f"shared-{uuid.uuid4().hex}"
    script = (
        "import django; django.setup(); from retargeting.web import ratelimit\n"
        f"for _ in range(400): ratelimit.take(key={key!r}, limit=10**6, timeout=600)\n"
    )
    env = env_for_test_database(DJANGO_SETTINGS_MODULE="retargeting.settings")
    children = [
        subprocess.Popen([PYTHON, "-c", script], cwd=ROOT, env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read() if child.stderr else ""
    assert ratelimit.count(key=key) == 800


def manage_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, MANAGE, "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def without_redis(**overrides: str) -> dict[str, str]:
    """Production's settings, no REDIS_URL, then ``overrides``."""
    env = base_env(**PRODUCTION)
    env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


@pytest.mark.slow
def test_production_without_redis_does_not_start():
    refused = manage_check(without_redis(EMBEDDED_LIMITS_IN_PRODUCTION=""))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "relance: missing required setting: REDIS_URL (required when DEBUG is off: the rate "
        "and confirmation limits need a store every process shares; "
        "EMBEDDED_LIMITS_IN_PRODUCTION=1 keeps them in var/ for the processes of one machine, "
        "on purpose)"
    ]
    # Controls: with Redis it starts, and so it does on one machine when told on purpose.
    with_redis = manage_check(
        without_redis(EMBEDDED_LIMITS_IN_PRODUCTION="", REDIS_URL="redis://127.0.0.1:6390/5")
    )
    assert with_redis.returncode == 0, with_redis.stderr
    on_purpose = manage_check(without_redis(EMBEDDED_LIMITS_IN_PRODUCTION="1"))
    assert on_purpose.returncode == 0, on_purpose.stderr


@pytest.mark.slow
def test_the_limits_count_in_redis_when_it_is_there_and_in_the_store_otherwise():
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['limits']['BACKEND'])"
    )
    redis = run_python(probe, base_env(REDIS_URL="redis://127.0.0.1:6390/5"))
    assert redis.stdout.strip() == "django.core.cache.backends.redis.RedisCache", redis.stderr
    env = base_env()
    env.pop("REDIS_URL", None)
    embedded = run_python(probe, env)
    assert embedded.stdout.strip() == "retargeting.web.counter_store.CounterStore"


def test_the_collectors_buffer_counts_in_the_limits_store():
    """The buffer's script counts under the limits cache's own key names (one count for the
    buffered and the direct path, tests/retargeting/test_collector_buffer.py)."""
    from retargeting.tracking.buffer import _limit_key

    key = "c:1:203.0.113.7"
    assert _limit_key(key) == ratelimit.store().make_key(ratelimit.window_key(key))
    assert settings.CACHES["limits"]["KEY_PREFIX"] == "relance"

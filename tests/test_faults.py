"""Faults with real processes: Redis stopped under traffic, two beat schedulers at once.

Each test starts the processes production runs (gunicorn, Celery beat and workers) on the
suite's database (PostgreSQL in CI) and a Redis of its own, then breaks something.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
import redis
from django.db import OperationalError, connection

from bench.run import collector_server, web_server
from campaigns.models import Send
from optin.models import Contact, VisitorLink
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import create_site
from retargeting.tracking.models import Cart, Event, Visitor
from tests.factories import StepFactory, due_carts
from tests.support.processes import (
    MANAGE,
    PYTHON,
    ROOT,
    env_for_test_database,
    free_port,
    run_python,
    start_celery_worker,
    start_dispatch_pass,
    wait_for,
)
from tests.support.redis_process import RedisProcess
from tests.support.servers import missing, require_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VISITORS_PER_PHASE = 40


def _gunicorn(env: dict[str, str], port: int, log, threads: int = 1) -> subprocess.Popen[bytes]:
    """The production web command, as make bench starts it (threads > 1: threaded workers)."""
    return web_server({"WEB_CONCURRENCY": "2", **env}, port, threads, log)


def _post(port: int, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/t/e",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # not answered at all


def _visit(port: int, key: str, number: int, phase: str) -> list[int]:
    """One visitor's page view and cart; every fourth one also leaves a consenting number."""
    vid = uuid.uuid4().hex
    batches = [
        [{"type": "page_view", "url": f"https://shop.example/p/{phase}{number}"}],
        [
            {
                "type": "cart",
                "cart": {
                    "id": f"{phase}-{number}",
                    "currency": "EUR",
                    "total": 25,
                    "items": [{"sku": "A", "name": "Chemise", "price": 25, "quantity": 1}],
                },
            }
        ],
    ]
    if number % 4 == 0:
        batches.append(
            [
                {
                    "type": "identify",
                    "phone": f"06 {10 + number // 4:02d} {phase_digits(phase)} 56 78",
                    "consent": {"granted": True, "text": "J'accepte les SMS", "source": "test"},
                }
            ]
        )
    return [_post(port, {"site": key, "vid": vid, "events": events}) for events in batches]


def _ingest(env: dict[str, str]) -> int:
    """One ingest pass, as the worker runs every second, in a process of its own: how many
    buffered entries it wrote."""
    drained = run_python(
        "import django; django.setup()\n"
        "from retargeting.tracking import buffer\n"
        "print(buffer.drain(max_seconds=30))",
        env,
    )
    assert drained.returncode == 0, drained.stderr
    return int(drained.stdout.strip().splitlines()[-1])


def phase_digits(phase: str) -> str:
    return {"up": "11", "down": "22", "back": "33"}[phase]


def _phase(port: int, key: str, phase: str) -> Counter[int]:
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def run(numbers: range) -> None:
        for number in numbers:
            codes = _visit(port, key, number, phase)
            with lock:
                answers.update(codes)

    # Four customers' browsers at once, each a block of visitors: the numbers typed in (every
    # fourth visitor; while Redis is down each waits for its queue's retries) spread over all.
    block = VISITORS_PER_PHASE // 4
    threads = [
        threading.Thread(target=run, args=(range(i * block, (i + 1) * block),)) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.mark.parametrize(
    "server", ["sync-workers", "threaded-workers", "collector-server"], ids=str
)
def test_redis_stopped_under_traffic_loses_nothing_and_the_buffer_catches_up(tmp_path, server):
    """With threaded workers the appends of concurrent requests go to Redis in groups
    (buffer.GroupAppender), in the collector's server one group per turn of its event loop
    (buffer.LoopAppender): when Redis stops, every request of a group is written in the
    database instead, and nothing is stored twice."""
    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    site = created.site
    site.double_opt_in = True  # the default: each number typed in gets a confirmation SMS
    # Every customer posts from 127.0.0.1 here: the per-address budget would refuse them.
    site.confirmations_per_ip_per_day = site.confirmations_per_day = 10_000
    site.save()
    key = site.public_key
    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    with RedisProcess(tmp_path) as redis_server:
        # Sending at 100 SMS/s per sender: what is tested is that each is sent once.
        env = env_for_test_database(
            REDIS_URL=redis_server.url,
            COLLECTOR_BUFFER="1",
            ALLOWED_HOSTS="127.0.0.1",
            SMS_DEFAULT_MPS="100",
        )
        if server == "collector-server":
            web = collector_server({"WEB_CONCURRENCY": "2", **env}, port, log)
        else:
            web = _gunicorn(env, port, log, 4 if server == "threaded-workers" else 1)
        try:
            assert wait_for(lambda: _post(port, {}) == 400, timeout=60), (
                tmp_path / "web.log"
            ).read_text()[-3000:]
            answers = {"up": _phase(port, key, "up")}
            redis_server.stop()
            answers["down"] = _phase(port, key, "down")
            redis_server.start()
            answers["back"] = _phase(port, key, "back")
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(timeout=30)
        # What the operator reads: a warning per confirmation not queued, no error.
        web_log = (tmp_path / "web.log").read_text()
        assert web_log.count("not queued") == VISITORS_PER_PHASE // 4, web_log[-3000:]
        assert " ERROR " not in web_log, web_log[-3000:]
        # Every request was answered and stored, whatever Redis was doing.
        per_phase = VISITORS_PER_PHASE * 2 + VISITORS_PER_PHASE // 4
        assert answers == {phase: Counter({204: per_phase}) for phase in answers}
        # Numbers typed in with consent are written in the request, Redis or not; each waits
        # for its confirmation. The confirmation tasks of the numbers typed while Redis was down
        # could not be enqueued (20 of 30 are in the queue); the dispatch pass sends what is
        # missing, from the database.
        typed = 3 * (VISITORS_PER_PHASE // 4)
        assert Contact.objects.filter(site=site, consent_status="pending").count() == typed
        # ... each linked to the visitor who typed it, so that visitor's cart can be reminded.
        assert VisitorLink.objects.filter(contact__site=site).count() == typed
        queued = redis.Redis.from_url(redis_server.url).llen("dispatch")
        assert queued == typed - VISITORS_PER_PHASE // 4
        caught_up = start_dispatch_pass(env)
        out, error = caught_up.communicate(timeout=120)
        assert caught_up.returncode == 0, error
        assert json.loads(out.strip().splitlines()[-1])["confirmations"] == typed
        # The queued tasks, run late by a worker, send nothing twice.
        worker_log = (tmp_path / "worker.log").open("wb")
        worker = start_celery_worker("dispatch", env, worker_log)
        try:
            assert wait_for(
                lambda: redis.Redis.from_url(redis_server.url).llen("dispatch") == 0, timeout=60
            )
            wait_for(lambda: False, timeout=2)  # the last task taken finishes
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
            worker_log.close()
        recipients = list(OutboxMessage.objects.values_list("to", flat=True))
        assert len(recipients) == len(set(recipients)) == typed
        # While Redis was down, page views and carts were written in the request too; those
        # buffered before and after are in Redis's append-only file, and one ingest pass
        # (what the worker runs every second) writes them.
        assert _ingest(env) == 2 * 2 * VISITORS_PER_PHASE
    assert Visitor.objects.filter(site=site).count() == 3 * VISITORS_PER_PHASE
    assert Cart.objects.filter(site=site).count() == 3 * VISITORS_PER_PHASE
    assert Event.objects.filter(site=site).count() == 3 * per_phase
    log.close()


CARTS = 60


def test_two_beat_schedulers_started_by_mistake_still_send_one_sms_per_cart(site, tmp_path):
    due_carts(site, CARTS)
    with RedisProcess(tmp_path) as redis_server:
        env = env_for_test_database(
            REDIS_URL=redis_server.url, DISPATCH_INTERVAL_SECONDS="1", SMS_DEFAULT_MPS="100"
        )
        logs = [(tmp_path / f"{name}.log").open("wb") for name in ("beat1", "beat2", "worker")]
        processes = [
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "retargeting.celery:app",
                    "beat",
                    "--loglevel=INFO",
                    f"--schedule={tmp_path}/beat{n}-schedule",
                ],
                cwd=ROOT,
                # Each tick's "Sending due task" is debug output (settings.LOGGING).
                env={**env, "LOG_LEVEL": "DEBUG"},
                stdout=logs[n],
                stderr=subprocess.STDOUT,
            )
            for n in (0, 1)
        ]
        processes.append(start_celery_worker("dispatch,sms", env, logs[2]))
        try:
            sent = wait_for(
                lambda: (
                    OutboxMessage.objects.count() >= CARTS
                    and all("dispatch" in (tmp_path / f"beat{n}.log").read_text() for n in (1, 2))
                ),
                timeout=120,
            )
            # Let both beats start a few more passes over carts already handled.
            wait_for(lambda: False, timeout=4)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=30)
            for handle in logs:
                handle.close()
        beat_logs = [(tmp_path / f"beat{n}.log").read_text() for n in (1, 2)]
        assert sent, (tmp_path / "worker.log").read_text()[-3000:]
    # Both schedulers did send the pass, more than once each.
    assert all(text.count("dispatch") >= 2 for text in beat_logs), beat_logs
    recipients = list(OutboxMessage.objects.values_list("to", flat=True))
    assert len(recipients) == len(set(recipients)) == CARTS
    assert Send.objects.count() == CARTS


RESTART_CARTS = 200


def _restart_postgresql() -> None:
    """Restart the server the suite's database is on (Debian's cluster tools, as CI runs)."""
    require_server("PostgreSQL", "DATABASE_URL")
    if connection.vendor != "postgresql" or shutil.which("pg_ctlcluster") is None:
        missing("restarting PostgreSQL needs DATABASE_URL on Debian's cluster (pg_ctlcluster)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW cluster_name")
        version, cluster = cursor.fetchone()[0].split("/")
    connection.close()
    subprocess.run(
        ["pg_ctlcluster", version, cluster, "restart", "-m", "fast"], check=True, timeout=120
    )


def _database_answers() -> bool:
    try:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except OperationalError:
        return False


def report_left_sending() -> int:
    return Send.objects.filter(status="sending").count()


@pytest.mark.exclusive
def test_postgresql_restarted_during_a_pass_fails_it_cleanly_and_the_next_completes(site):
    if connection.vendor != "postgresql":
        _restart_postgresql()  # fails in CI, skips elsewhere, with the reason
    due_carts(site, RESTART_CARTS)

    # 20 SMS/s: the restart comes when 40 are sent, long before the last.
    first = start_dispatch_pass(env_for_test_database(SMS_DEFAULT_MPS="20"))
    assert wait_for(lambda: OutboxMessage.objects.count() >= 40, timeout=120)
    _restart_postgresql()
    _, error = first.communicate(timeout=120)
    # The pass stopped with one line saying why, not a traceback, and not silently.
    assert first.returncode != 0
    assert "dispatch pass failed" in error and "Traceback" not in error, error
    assert wait_for(_database_answers, timeout=60)
    sent_before = OutboxMessage.objects.count()
    assert 40 <= sent_before < RESTART_CARTS
    # The rest at a higher rate: what matters now is that each is sent once, not when.
    second = start_dispatch_pass(env_for_test_database(SMS_DEFAULT_MPS="200"))
    out, error = second.communicate(timeout=180)
    assert second.returncode == 0, error
    report = json.loads(out.strip().splitlines()[-1])
    assert report["sent"] == RESTART_CARTS - sent_before - report_left_sending()
    # The sends claimed when the server went away are settled by the reconciler (every five
    # minutes): those never handed to the provider go back to be sent (by the next pass); the
    # one handed over is found at the provider, or `unknown`, never sent a second time.
    settled = run_python(
        "import django; django.setup()\n"
        "from datetime import timedelta\n"
        "from campaigns.sending import reconcile_stuck\n"
        "print(reconcile_stuck(stuck_after=timedelta(0)))",
        env_for_test_database(),
    )
    assert settled.returncode == 0, settled.stderr
    third = start_dispatch_pass(env_for_test_database(SMS_DEFAULT_MPS="200"))
    _, error = third.communicate(timeout=180)
    assert third.returncode == 0, error
    statuses = Counter(Send.objects.values_list("status", flat=True))
    assert set(statuses) <= {"delivered", "accepted", "unknown"}, statuses
    recipients = list(OutboxMessage.objects.values_list("to", flat=True))
    assert len(recipients) == len(set(recipients)), "a number got two SMS"
    assert Send.objects.count() == RESTART_CARTS


def _postgresql_stopped() -> Callable[[], None]:
    """Stop the server the suite's database is on (Debian's cluster tools); returns what
    starts it again."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW cluster_name")
        version, cluster = cursor.fetchone()[0].split("/")
    connection.close()
    subprocess.run(["pg_ctlcluster", version, cluster, "stop", "-m", "fast"], check=True)
    return lambda: subprocess.run(["pg_ctlcluster", version, cluster, "start"], check=True)


@pytest.mark.exclusive
def test_postgresql_stopped_the_collector_server_takes_page_views_and_then_writes_once(
    tmp_path,
):
    """The collector's server with PostgreSQL stopped: a known site's page views and carts
    still go to Redis (204); a number typed in cannot be written, so it is refused with a 500
    (the snippet sends it again, t.js retries any 5xx) and nothing of it is stored; once the
    server is back, the same identify is written once, by a thread whose stale connection the
    health check replaced, and the buffer's entries are written exactly once."""
    if connection.vendor != "postgresql":
        _restart_postgresql()  # fails in CI, skips elsewhere, with the reason
    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    site = created.site
    site.confirmations_per_ip_per_day = site.confirmations_per_day = 10_000
    site.save()
    key = site.public_key
    port = free_port()
    log = (tmp_path / "collector.log").open("wb")

    def identify(vid: str, number: str) -> int:
        consent = {"granted": True, "text": "J'accepte les SMS", "source": "test"}
        events = [{"type": "identify", "phone": number, "consent": consent}]
        return _post(port, {"site": key, "vid": vid, "events": events})

    def views(phase: str) -> list[int]:
        return [
            status
            for number in range(10)
            for status in _visit(port, key, number * 4 + 1, phase)  # no number typed in
        ]

    with RedisProcess(tmp_path) as redis_server:
        env = env_for_test_database(
            REDIS_URL=redis_server.url, COLLECTOR_BUFFER="1", ALLOWED_HOSTS="127.0.0.1"
        )
        # One process: the site's key it has seen is in its cache when the database goes.
        server = collector_server({**env, "WEB_CONCURRENCY": "1"}, port, log)
        try:
            assert wait_for(lambda: _post(port, {}) == 400, timeout=60)
            assert identify("a" * 32, "06 12 34 56 01") == 204
            assert set(views("up")) == {204}
            start_postgresql = _postgresql_stopped()
            try:
                assert set(views("down")) == {204}
                assert identify("b" * 32, "06 12 34 56 02") == 500
            finally:
                start_postgresql()
            assert wait_for(_database_answers, timeout=60)
            assert identify("b" * 32, "06 12 34 56 02") == 204
            assert set(views("back")) == {204}
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
        written = _ingest(env)
    assert written == 3 * 10 * 2
    assert Contact.objects.filter(site=site).count() == 2
    assert Event.objects.filter(site=site, type="identify").count() == 2
    assert Event.objects.filter(site=site, type="page_view").count() == 3 * 10
    assert Cart.objects.filter(site=site).count() == 3 * 10
    collector_log = (tmp_path / "collector.log").read_text()
    refused = collector_log.count("ERROR django.request: Internal Server Error: /t/e")
    assert refused == 1, collector_log[-3000:]


CROWD = 120


def test_many_visitors_posting_while_dispatch_runs_get_one_sms_per_cart(tmp_path):
    """Real processes: gunicorn takes the crowd while two loops of dispatch passes run."""
    created = create_site(name="Boutique", domains=["shop.example"], country="FR")
    site = created.site
    site.quiet_hours = "none"  # run by the real clock: the hour must not matter
    site.double_opt_in = False
    site.save()
    # Due as soon as the cart is idle: passes run while carts are still being changed.
    StepFactory(flow__site=site, delay_minutes=0)
    port = free_port()
    env = env_for_test_database(
        COLLECTOR_BUFFER="0", ALLOWED_HOSTS="127.0.0.1", SMS_DEFAULT_MPS="100"
    )
    log = (tmp_path / "web.log").open("wb")
    web = _gunicorn(env, port, log)
    answers: Counter[int] = Counter()
    lock = threading.Lock()
    passes: list[int] = []

    def visitor(number: int) -> None:
        vid = uuid.uuid4().hex
        phone = f"06 {20 + number // 100:02d} {number % 100:02d} 34 56"
        consent = {"granted": True, "text": "J'accepte les SMS", "source": "test"}
        codes = []
        for events in (
            [{"type": "identify", "phone": phone, "consent": consent}],
            [_cart_event(number, items=1)],
            [_cart_event(number, items=2)],
        ):
            codes.append(_post(port, {"site": site.public_key, "vid": vid, "events": events}))
        with lock:
            answers.update(codes)

    def crowd(numbers: range) -> None:
        for number in numbers:
            visitor(number)

    stop = tmp_path / "stop"
    # Two processes running dispatch passes back to back, as a worker does, until told to stop.
    loop = (
        "import django, pathlib, json; django.setup()\n"
        "from campaigns.dispatch import run_pass\n"
        "passes = 0\n"
        f"while not pathlib.Path({str(stop)!r}).exists():\n"
        "    run_pass(deliver_inline=True); passes += 1\n"
        "print(passes)\n"
    )
    loops = [
        subprocess.Popen(
            [PYTHON, "-c", loop],
            cwd=ROOT,
            env={"DJANGO_SETTINGS_MODULE": "retargeting.settings", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert wait_for(lambda: _post(port, {}) == 400, timeout=60)
        crowds = [threading.Thread(target=crowd, args=(range(i, CROWD, 6),)) for i in range(6)]
        for thread in crowds:
            thread.start()
        for thread in crowds:
            thread.join(timeout=300)
    finally:
        stop.touch()
        for process in loops:
            out, error = process.communicate(timeout=120)
            assert process.returncode == 0, error
            passes.append(int(out.strip().splitlines()[-1]))
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        log.close()
    final = subprocess.run(
        [PYTHON, MANAGE, "dispatch", "--json"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert final.returncode == 0, final.stderr
    assert answers == Counter({204: 3 * CROWD}), answers
    assert all(count >= 2 for count in passes), passes
    assert Contact.objects.filter(site=site, consent_status="granted").count() == CROWD
    assert Cart.objects.filter(site=site).count() == CROWD
    recipients = list(OutboxMessage.objects.values_list("to", flat=True))
    # What became of every send, should one be missing.
    assert len(recipients) == len(set(recipients)) == CROWD, (
        len(recipients),
        Counter(Send.objects.values_list("status", "reason")),
    )
    assert Send.objects.count() == CROWD
    print(f"crowd: {CROWD} visitors, {3 * CROWD} requests, {sum(passes)} passes during them")


def _cart_event(number: int, *, items: int) -> dict:
    return {
        "type": "cart",
        "cart": {
            "id": f"cart-{number}",
            "currency": "EUR",
            "total": 25 * items,
            "items": [{"sku": "A", "name": "Chemise", "price": 25, "quantity": items}],
        },
    }

"""The embedded mode really works across processes: web, worker, beat and commands."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from campaigns.models import Send
from retargeting.celery import app as celery_app
from tests.factories import StepFactory
from tests.support.processes import (
    MANAGE,
    PYTHON,
    ROOT,
    env_for_test_database,
    free_port,
    start_celery_worker,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_runs_the_dispatch_pass_another_process_enqueued(
    site, consenting_contact, abandoned_cart_of, tmp_path
):
    StepFactory(flow__site=site, delay_minutes=30)
    abandoned_cart_of(consenting_contact, at=timezone.now() - timedelta(hours=1))
    # A queue of its own, so no other worker on this broker takes the task.
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = start_celery_worker(queue, env_for_test_database(), out)
    try:
        celery_app.send_task("campaigns.tasks.dispatch_pass", queue=queue)
        planned = wait_for(lambda: Send.objects.exists(), timeout=60)
        assert planned, log.read_text()[-3000:]
        assert Send.objects.get().cart.visitor.contact_link.contact == consenting_contact
    finally:
        stop(worker)
    assert "dispatch pass at" in log.read_text()


def test_the_cache_is_shared_between_processes():
    key = f"test-shared-{uuid.uuid4().hex}"
    cache.set(key, "written by the test process", 60)
    script = (
        "import django; django.setup(); from django.core.cache import cache; "
        f"print(cache.get({key!r})); cache.set({key!r} + '-back', 'written by a child', 60)"
    )
    result = subprocess.run(
        [PYTHON, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for_test_database(DJANGO_SETTINGS_MODULE="retargeting.settings"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "written by the test process"
    assert cache.get(key + "-back") == "written by a child"


def child_pids(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_runall_serves_the_site_and_ctrl_c_stops_every_child(tmp_path):
    port = free_port()
    log = tmp_path / "runall.log"
    with log.open("wb") as out:
        runall = subprocess.Popen(
            [PYTHON, MANAGE, "runall", "--port", str(port)],
            cwd=ROOT,
            env=env_for_test_database(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def answers(path: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        assert wait_for(lambda: answers("/"), timeout=60), log.read_text()[-3000:]
        assert answers("/admin/login/")
        assert wait_for(lambda: "ready." in log.read_text(), timeout=60), log.read_text()[-3000:]
        # The URLs come once the server answers and start-up's lines are over.
        assert wait_for(lambda: "Ctrl-C stops everything" in log.read_text(), timeout=60)
        children = child_pids(runall.pid)
        assert len(children) >= 3  # web, worker, beat
        runall.send_signal(signal.SIGINT)
        assert runall.wait(timeout=30) == 0
    finally:
        stop(runall)
    assert wait_for(lambda: not any(alive(pid) for pid in children), timeout=15)
    printed = log.read_text()
    assert f"http://127.0.0.1:{port}/admin/" in printed
    assert f"http://127.0.0.1:{port}/dashboard/" in printed
    assert f"http://127.0.0.1:{port}/demo/shop/" in printed
    assert "demo / relance-demo" in printed

"""Helpers to run the product's own processes (commands, workers) from tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**overrides: str) -> dict[str, str]:
    """An environment for a child process: no .env file, the development defaults."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "PUBLIC_BASE_URL",
            "SMS_BACKEND",
            "SMS_OUTBOX_IN_PRODUCTION",
            "EMBEDDED_LIMITS_IN_PRODUCTION",
        }
    }
    env.update({"ENV_FILE": "", "DEBUG": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


# The settings production cannot start without, for tests of production processes.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-for-tests-only-0123456789",
    "ALLOWED_HOSTS": "relance.example",
    "PUBLIC_BASE_URL": "https://relance.example",
    # Production processes under test send through the outbox (nothing leaves the machine).
    "SMS_OUTBOX_IN_PRODUCTION": "1",
    # Without REDIS_URL (the embedded database's runs) the limits stay on this machine.
    "EMBEDDED_LIMITS_IN_PRODUCTION": "1",
}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -c code`` with Relance's settings and ``env``, from the project's root."""
    return subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "retargeting.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def env_for_test_database(**overrides: str) -> dict[str, str]:
    """An environment whose DATABASE_URL is the database this test session uses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
        url = (
            f"postgres://{user}:{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    return base_env(DATABASE_URL=url, **overrides)


PYTHON = sys.executable
MANAGE = str(ROOT / "manage.py")


def start_celery_worker(queue: str, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """A real Celery worker (one process, solo pool) on ``queue`` only, logging to ``log``.

    ``queue`` may name several, comma-separated. Give each test a queue of its own (or a
    broker of its own), so that no other worker takes its tasks.
    """
    return subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "retargeting.celery:app",
            "worker",
            "--pool=solo",
            f"--queues={queue}",
            "--loglevel=INFO",
            f"--hostname={queue.replace(',', '-')}-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.1) -> object:
    """Poll ``condition`` until it is truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    return condition()


def start_dispatch_pass(env: dict[str, str]) -> subprocess.Popen[str]:
    """``manage.py dispatch --json`` in its own process; read its report with communicate()."""
    return subprocess.Popen(
        [PYTHON, MANAGE, "dispatch", "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

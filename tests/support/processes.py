"""Helpers to run the product's own processes (commands, workers) from tests."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
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
        if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "SMS_BACKEND"}
    }
    env.update({"ENV_FILE": "", "DEBUG": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


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


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.1) -> object:
    """Poll ``condition`` until it is truthy or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    return condition()

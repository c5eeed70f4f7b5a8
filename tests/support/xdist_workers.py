"""Servers of its own for each pytest-xdist worker, chosen before Django reads its settings.

`make test` runs the suite on every core. PostgreSQL needs nothing here (pytest-django gives
each worker its own test database); Redis and the embedded mode's folder are shared
resources the tests clear and fill, so each worker takes the Redis database after the one
``REDIS_URL`` names (its number plus the worker's) and a folder of its own for the
file-based cache and the file-system broker. Loaded with ``-p`` in pyproject.toml so it runs
before pytest-django imports the settings; a run without xdist changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # Redis's default `databases`


def _worker_number() -> int | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def _redis_url_for(url: str, number: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = (base + number) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{database}"))


number = _worker_number()
if number is not None:
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _redis_url_for(os.environ["REDIS_URL"], number)
    var_dir = Path(__file__).resolve().parents[2] / "var" / f"test-gw{number}"
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ["CELERY_FILESYSTEM_DIR"] = str(var_dir / "celery")

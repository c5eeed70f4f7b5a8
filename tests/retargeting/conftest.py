"""Fixtures shared by the collector's tests."""

from __future__ import annotations

import pytest
from django.core import signals
from django.db import close_old_connections

from retargeting.tracking import buffer
from tests.support.servers import require_server


@pytest.fixture
def redis_buffer(settings):
    settings.REDIS_URL = require_server("Redis", "REDIS_URL")
    settings.COLLECTOR_BUFFER = True
    settings.COLLECTOR_BUFFER_SHARDS = 2
    buffer.reset()
    keys = [buffer.stream_key(n) for n in range(2)] + [buffer.DEAD_LETTERS]
    keys += [f"{buffer.LOCK_PREFIX}{n}" for n in range(2)]
    buffer.client().delete(*keys)
    yield buffer.client()
    buffer.client().delete(*keys)
    buffer.reset()


@pytest.fixture
def in_the_test_transaction():
    """As Django's test client: requests must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)

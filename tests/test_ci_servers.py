"""In CI the suite runs against real PostgreSQL and Redis (.ci/run starts them)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection

from tests.support.servers import require_server


@pytest.mark.needs_postgres
@pytest.mark.django_db
def test_the_suite_runs_on_postgresql_when_database_url_names_it():
    url = require_server("PostgreSQL", "DATABASE_URL")
    assert url.startswith(("postgres://", "postgresql://"))
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 130000


@pytest.mark.needs_redis
def test_redis_is_the_cache_and_the_broker_when_redis_url_is_set():
    url = require_server("Redis", "REDIS_URL")
    import redis

    assert redis.Redis.from_url(url).ping() is True
    assert settings.CELERY_BROKER_URL == url
    cache.set("ci-round-trip", {"ok": 1}, 30)
    assert cache.get("ci-round-trip") == {"ok": 1}
    assert type(caches["default"]).__name__ == "RedisCache"

"""docker-compose.yml, the Dockerfile and .env.example agree with the code.

Docker cannot run on the development machines, so these files are checked by reading them:
every command names a real entry point and every variable is documented.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()


def command_words(service: str) -> list[str]:
    command = SERVICES[service].get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2])
    return list(command)


def resolve(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def test_the_six_services_are_there():
    assert set(SERVICES) == {"postgres", "redis", "web", "collector", "worker", "beat"}


def test_postgres_has_a_health_check_and_a_volume():
    postgres = SERVICES["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "postgres-data" in COMPOSE["volumes"]


def test_redis_keeps_an_append_only_file():
    words = command_words("redis")
    assert words[words.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in SERVICES["redis"]["volumes"])


def test_web_migrates_then_serves_the_wsgi_application_with_gunicorn():
    words = command_words("web")
    assert words[:4] == ["python", "manage.py", "migrate", "--noinput"]
    target = words[words.index("gunicorn") + 1]
    assert target == "retargeting.wsgi:application"
    assert callable(resolve(target))
    # Workers and threads per worker come from .env, where both are documented.
    assert words[words.index("--workers") + 1] == "${WEB_CONCURRENCY:-2}"
    assert words[words.index("--threads") + 1] == "${WEB_THREADS:-1}"
    example = (ROOT / ".env.example").read_text()
    assert "\nWEB_CONCURRENCY=2\n" in example and "\nWEB_THREADS=1\n" in example


def test_the_collector_serves_the_asgi_application_as_make_bench_measures_it():
    """The same uvicorn options as bench/run.py's collector_server, which make bench and the
    fault tests start: what is measured and tested is what runs."""
    from bench.run import COLLECTOR_OPTIONS

    words = command_words("collector")
    assert words[:2] == ["uvicorn", "retargeting.asgi:application"]
    assert callable(resolve(words[1]))
    assert words[2 : 2 + len(COLLECTOR_OPTIONS)] == list(COLLECTOR_OPTIONS)
    assert words[words.index("--port") + 1] == "8001"
    assert words[words.index("--workers") + 1] == "${COLLECTOR_CONCURRENCY:-2}"
    assert SERVICES["collector"]["ports"] == [
        "${BIND_ADDRESS:-127.0.0.1}:${COLLECTOR_PORT:-8001}:8001"
    ]
    assert "8001/healthz" in " ".join(SERVICES["collector"]["healthcheck"]["test"])
    # It starts once the web service has migrated the database (web's health check).
    assert SERVICES["collector"]["depends_on"]["web"] == {"condition": "service_healthy"}
    assert "\nCOLLECTOR_CONCURRENCY=2\n" in ENV_EXAMPLE and "\nCOLLECTOR_PORT=8001\n" in ENV_EXAMPLE


def published(port: str, environment: dict[str, str]) -> tuple[str, str, str]:
    """A ``ports`` entry as docker compose reads it with ``environment`` (``${NAME:-default}``
    resolved): (host address, host port, container port); the address is empty when none is
    given, which publishes the port on every interface."""
    value = re.sub(
        r"\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}",
        lambda match: environment.get(match[1]) or match[2],
        port,
    )
    parts = value.split(":")
    if len(parts) == 2:
        parts.insert(0, "")
    address, host_port, container_port = parts
    return address, host_port, container_port


def test_every_published_port_listens_on_the_loopback_only_by_default():
    """Reachable from outside, the web and collector servers would take a forged
    X-Forwarded-For from anyone (TRUSTED_PROXIES trusts one hop): only the proxy in front, on
    the same machine, reaches them."""
    ports = {name: service.get("ports", []) for name, service in SERVICES.items()}
    assert {name for name, entries in ports.items() if entries} == {"web", "collector"}
    for entries in ports.values():
        for entry in entries:
            assert published(entry, {})[0] == "127.0.0.1", entry
    assert [published(entry, {}) for entry in ports["web"]] == [("127.0.0.1", "8000", "8000")]
    # A proxy on another machine: the operator widens it on purpose, in .env.
    assert published(ports["collector"][0], {"BIND_ADDRESS": "10.0.0.5"})[0] == "10.0.0.5"
    assert "\nBIND_ADDRESS=127.0.0.1\n" in ENV_EXAMPLE


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_worker_and_beat_run_the_celery_app(service):
    words = command_words(service)
    assert words[0] == "celery"
    target = words[words.index("-A") + 1]
    assert target == "retargeting.celery:app"
    app = resolve(target)
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert service in words
    assert "campaigns.tasks.dispatch_pass" in app.tasks


def test_the_worker_consumes_every_queue_tasks_are_routed_to():
    words = command_words("worker")
    queues = next(w.split("=", 1)[1] for w in words if w.startswith("--queues="))
    assert "dispatch" in queues.split(",")


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_app_services_are_built_from_the_dockerfile_and_read_env(service):
    assert SERVICES[service]["build"] == "."
    assert SERVICES[service]["env_file"] == ".env"
    assert set(SERVICES[service]["depends_on"]) == {"postgres", "redis"}
    assert SERVICES[service]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert SERVICES[service]["environment"]["DATABASE_URL"].startswith("postgres://")


def documented(name: str) -> bool:
    return re.search(rf"^#?\s*{name}=", ENV_EXAMPLE, re.MULTILINE) is not None


def test_every_variable_compose_uses_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    names = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    assert names >= {"POSTGRES_PASSWORD", "WEB_PORT"}
    assert sorted(name for name in names if not documented(name)) == []


def test_every_variable_the_settings_read_is_documented_in_env_example():
    # settings.py, and each provider's settings check, which reads its settings from the env.
    gateways = ROOT / "retargeting" / "gateways"
    checks = sorted([*gateways.rglob("settings_check.py"), *gateways.glob("*_check.py")])
    assert len(checks) >= 7
    settings_source = "\n".join(
        path.read_text() for path in [ROOT / "retargeting" / "settings.py", *checks]
    )
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_][A-Z0-9_]*)"', settings_source))
    names |= set(re.findall(r'_missing\((?:env, )?"([A-Z_]+)"\)', settings_source))
    # (a dict's keys are not variables: anymail's own settings, BREVO_API_URL…)
    names |= set(re.findall(r'"((?:TWILIO|BREVO)_[A-Z_]+)"(?!\s*:)', settings_source))
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SMS_BACKEND"} <= names
    assert {"EMAIL_OUTBOX_IN_PRODUCTION", "ANYMAIL_WEBHOOK_SECRET"} <= names
    assert sorted(name for name in names if not documented(name)) == []


def test_the_dockerfile_installs_the_lock_and_runs_the_wsgi_entry_point():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements/prod.txt" in dockerfile
    assert (ROOT / "requirements" / "prod.txt").is_file()
    assert '"gunicorn", "retargeting.wsgi:application"' in dockerfile
    assert "collectstatic" in dockerfile


def test_the_production_lock_has_what_the_processes_run():
    lock = (ROOT / "requirements" / "prod.txt").read_text().lower()
    for package in (
        "django==5.2.",
        "celery==5.",
        "gunicorn==",
        "psycopg==",
        "redis==",
        "twilio==",
        "phonenumbers==",
        "django-environ==",
        "whitenoise==",
        "uvicorn==",
        "uvloop==",
        "httptools==",
        "orjson==",
    ):
        assert package in lock
    assert "--hash=sha256:" in lock
    assert "pytest" not in lock


def test_sending_is_routed_to_the_sms_queue_the_worker_consumes():
    from retargeting.celery import app

    route = app.amqp.router.route({}, "campaigns.tasks.deliver_send")
    assert route["queue"].name == "sms"
    words = command_words("worker")
    queues = next(w.split("=", 1)[1] for w in words if w.startswith("--queues="))
    assert "sms" in queues.split(",")

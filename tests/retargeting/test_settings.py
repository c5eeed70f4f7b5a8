"""Settings come from the environment; production refuses to start without what it needs."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.conf import settings
from django.db import connection

from tests.support.processes import MANAGE, PRODUCTION, PYTHON, ROOT, base_env, run_python

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'], "
    "'cache': s.CACHES['default']['BACKEND'], 'broker': s.CELERY_BROKER_URL, "
    "'ssl_redirect': s.SECURE_SSL_REDIRECT, 'secure_cookies': s.SESSION_COOKIE_SECURE, "
    "'hosts': s.ALLOWED_HOSTS, 'base': s.PUBLIC_BASE_URL, 'sms': s.SMS_BACKEND, "
    "'rate': s.COLLECTOR_RATE_LIMIT, 'twilio_api': s.TWILIO_API_BASE_URL, "
    "'brevo_api': s.BREVO_API_BASE_URL, 'brevo_sender': s.BREVO_SENDER}))"
)


def load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_python(PROBE, env)


def loaded(env: dict[str, str]) -> dict:
    result = load(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_production_without_required_settings_stops_with_one_line_naming_them():
    env = base_env(DEBUG="0")
    result = load(env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "relance: missing required setting: SECRET_KEY, ALLOWED_HOSTS, PUBLIC_BASE_URL "
        "(required when DEBUG is off)"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_BASE_URL"])
def test_each_required_setting_is_named_when_missing(missing):
    env = base_env(**{**PRODUCTION, missing: ""})
    result = load(env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"relance: missing required setting: {missing} (required when DEBUG is off)"
    )


@pytest.mark.slow
def test_a_management_command_also_stops_on_a_missing_setting():
    result = subprocess.run(
        [PYTHON, MANAGE, "check"],
        cwd=ROOT,
        env=base_env(**{**PRODUCTION, "SECRET_KEY": ""}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: missing required setting: SECRET_KEY (required when DEBUG is off)"
    )


@pytest.mark.slow
def test_production_settings_load_and_follow_the_https_base():
    values = loaded(base_env(**PRODUCTION))
    assert values["debug"] is False
    assert values["hosts"] == ["relance.example"]
    assert values["ssl_redirect"] is True
    assert values["secure_cookies"] is True


@pytest.mark.slow
def test_an_http_base_redirects_nothing():
    values = loaded(base_env(**{**PRODUCTION, "PUBLIC_BASE_URL": "http://127.0.0.1:8000"}))
    assert values["ssl_redirect"] is False
    assert values["secure_cookies"] is False


@pytest.mark.slow
def test_embedded_defaults_need_no_server():
    env = base_env()
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    values = loaded(env)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert values["broker"] == "filesystem://localhost//"
    assert values["sms"] == "outbox"
    assert values["base"] == "http://127.0.0.1:8000"
    assert values["rate"] == 600
    assert values["twilio_api"] == "https://api.twilio.com"
    assert values["brevo_api"] == "https://api.brevo.com/v3"


@pytest.mark.slow
def test_redis_url_makes_redis_the_broker_and_the_cache():
    values = loaded(base_env(REDIS_URL="redis://127.0.0.1:6390/3"))
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["broker"] == "redis://127.0.0.1:6390/3"


@pytest.mark.slow
def test_database_url_selects_postgresql():
    values = loaded(base_env(DATABASE_URL="postgres://relance:pw@127.0.0.1:5432/relance"))
    assert values["engine"] == "django.db.backends.postgresql"


@pytest.mark.slow
def test_collector_rate_limit_zero_turns_it_off():
    assert loaded(base_env(COLLECTOR_RATE_LIMIT="0"))["rate"] == 0


@pytest.mark.slow
def test_twilio_backend_requires_its_credentials():
    result = load(base_env(SMS_BACKEND="twilio"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: missing required setting: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
        "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID (required by SMS_BACKEND=twilio)"
    )


@pytest.mark.slow
def test_twilio_backend_accepts_a_messaging_service_instead_of_a_from():
    values = loaded(
        base_env(
            SMS_BACKEND="twilio",
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="token",
            TWILIO_MESSAGING_SERVICE_SID="MG" + "0" * 32,
            TWILIO_API_BASE_URL="http://127.0.0.1:9999",
        )
    )
    assert values["sms"] == "twilio"
    assert values["twilio_api"] == "http://127.0.0.1:9999"


@pytest.mark.slow
def test_an_unknown_sms_backend_is_refused():
    result = load(base_env(SMS_BACKEND="carrier-pigeon"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: SMS_BACKEND must be 'outbox', 'twilio' or 'brevo', or the dotted path of a "
        "Gateway class, not 'carrier-pigeon'"
    )


@pytest.mark.slow
def test_a_providers_dotted_path_brings_its_settings_check():
    result = load(base_env(SMS_BACKEND="retargeting.gateways.twilio.gateway.TwilioGateway"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: missing required setting: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
        "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID (required by "
        "SMS_BACKEND=retargeting.gateways.twilio.gateway.TwilioGateway)"
    )


@pytest.mark.slow
def test_a_gateway_of_ones_own_is_named_by_its_dotted_path():
    path = "tests.gateways.example_provider.gateway.ExampleGateway"
    assert loaded(base_env(SMS_BACKEND=path))["sms"] == path


def test_brevo_backend_requires_its_key_and_sender():
    result = load(base_env(SMS_BACKEND="brevo"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "relance: missing required setting: BREVO_API_KEY, BREVO_SENDER "
        "(required by SMS_BACKEND=brevo)"
    ]


@pytest.mark.parametrize("missing", ["BREVO_API_KEY", "BREVO_SENDER"])
def test_each_brevo_setting_is_named_when_missing(missing):
    env = base_env(SMS_BACKEND="brevo", BREVO_API_KEY="xkeysib-1", BREVO_SENDER="MAISON")
    env[missing] = ""
    result = load(env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"relance: missing required setting: {missing} (required by SMS_BACKEND=brevo)"
    )


def test_brevo_backend_in_production_needs_the_production_settings_too():
    result = load(base_env(**{**PRODUCTION, "SMS_BACKEND": "brevo"}))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: missing required setting: BREVO_API_KEY, BREVO_SENDER "
        "(required when DEBUG is off)"
    )


@pytest.mark.parametrize("sender", ["MAISONLEROY", "Maison2", "336123456789012", "12345"])
def test_brevo_takes_11_letters_and_digits_or_15_digits(sender):
    values = loaded(
        base_env(
            SMS_BACKEND="brevo",
            BREVO_API_KEY="xkeysib-1",
            BREVO_SENDER=sender,
            BREVO_API_BASE_URL="http://127.0.0.1:9999/v3/",
        )
    )
    assert values["sms"] == "brevo"
    assert values["brevo_sender"] == sender
    assert values["brevo_api"] == "http://127.0.0.1:9999/v3"


@pytest.mark.parametrize(
    "sender", ["MAISONLEROY2", "Maison Leroy", "Café", "+33612345678", "3361234567890123"]
)
def test_a_sender_brevo_would_refuse_stops_start_up(sender):
    result = load(base_env(SMS_BACKEND="brevo", BREVO_API_KEY="xkeysib-1", BREVO_SENDER=sender))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: BREVO_SENDER must be up to 11 letters and digits, or up to 15 digits, "
        f"not {sender!r}"
    )


@pytest.mark.slow
def test_an_env_file_is_read_but_the_environment_wins(tmp_path):
    env_file = tmp_path / "relance.env"
    env_file.write_text("COLLECTOR_RATE_LIMIT=42\nPUBLIC_BASE_URL=https://from-file.example\n")
    values = loaded(
        base_env(ENV_FILE=str(env_file), PUBLIC_BASE_URL="https://from-environment.example")
    )
    assert values["rate"] == 42
    assert values["base"] == "https://from-environment.example"


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode():
    if connection.vendor != "sqlite":
        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.slow
@pytest.mark.parametrize("value", ["21h-8h", "25:00-08:00", "21:00", "08:00-08:00"])
def test_a_wrong_night_for_transactional_messages_stops_start_up_in_one_line(value):
    result = load(base_env(TRANSACTIONAL_QUIET_HOURS=value))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "relance: TRANSACTIONAL_QUIET_HOURS must be HH:MM-HH:MM (the night, e.g. 21:00-08:00) "
        f"or none, not {value!r}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("value", ["22:00-07:30", "none", ""])
def test_a_night_or_none_for_transactional_messages_starts(value):
    # Control: the accepted forms load.
    assert loaded(base_env(TRANSACTIONAL_QUIET_HOURS=value))["debug"] is True


def test_product_view_retention_too_short_for_browse_reminders_stops_start_up():
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.PRODUCT_VIEW_RETENTION_DAYS)"
    )
    assert run_python(probe, base_env(**PRODUCTION)).stdout.strip() == "90"  # the default
    assert (
        run_python(probe, base_env(**PRODUCTION, PRODUCT_VIEW_RETENTION_DAYS="3")).stdout.strip()
        == "3"
    )
    result = run_python(probe, base_env(**PRODUCTION, PRODUCT_VIEW_RETENTION_DAYS="2"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "relance: PRODUCT_VIEW_RETENTION_DAYS must be at least 3"
    )

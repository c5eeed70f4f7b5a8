"""Which email provider the settings select, and what start-up says when one is missing or
wrong (one line naming it, as for SMS)."""

from __future__ import annotations

import json

import environ
import pytest

from retargeting.gateways import email_available, get_gateway, registry
from retargeting.gateways.base import Outcome, OutgoingEmail
from retargeting.gateways.email_framework import UnavailableGateway
from tests.support.processes import PRODUCTION, base_env, run_python


@pytest.mark.parametrize(
    ("name", "email_url", "debug", "outbox_in_production", "expected"),
    [
        ("", "", True, False, "outbox"),  # development's default
        ("", "", False, False, ""),  # production without email: the channel is off
        ("", "", False, True, "outbox"),  # ... unless kept on the machine on purpose
        ("", "smtp://127.0.0.1:2525", False, False, "smtp"),
        ("", "smtp://127.0.0.1:2525", True, False, "smtp"),
        ("brevo", "", False, False, "brevo"),
        ("brevo", "smtp://127.0.0.1:2525", False, False, "brevo"),  # the name wins
        ("myshop.mail.Gateway", "", False, False, "myshop.mail.Gateway"),
    ],
)
def test_the_provider_the_settings_select(name, email_url, debug, outbox_in_production, expected):
    assert (
        registry.email_provider(
            name=name, email_url=email_url, debug=debug, outbox_in_production=outbox_in_production
        )
        == expected
    )


def test_an_unknown_provider_name_is_refused_naming_the_choices():
    with pytest.raises(registry.UnknownProvider) as refused:
        registry.email_provider(name="mailgun", email_url="", debug=True)
    assert str(refused.value) == (
        "EMAIL_PROVIDER must be 'outbox', 'smtp' or 'brevo', or the dotted path of a Gateway "
        "class, not 'mailgun'"
    )


def _env(**values: str) -> environ.Env:
    import os

    env = environ.Env()
    env.ENVIRON = {**{k: v for k, v in os.environ.items() if not k.startswith("EMAIL")}, **values}
    return env


def test_brevo_needs_its_key_and_the_webhook_secret():
    missing = registry.check_settings(
        "brevo", channel="email", env=_env(BREVO_API_KEY=""), debug=True
    )
    assert missing.missing == ["BREVO_API_KEY", "ANYMAIL_WEBHOOK_SECRET"]
    assert (missing.wrong, missing.settings) == ([], {})
    problems = registry.check_settings(
        "brevo",
        channel="email",
        env=_env(
            BREVO_API_KEY="xkeysib-1",
            ANYMAIL_WEBHOOK_SECRET="hook:secret",
            BREVO_API_BASE_URL="http://127.0.0.1:9/v3",
        ),
        debug=True,
    )
    assert (problems.missing, problems.wrong) == ([], [])
    values = problems.settings
    assert values["EMAIL_BACKEND"] == "anymail.backends.brevo.EmailBackend"
    assert values["ANYMAIL"]["BREVO_API_URL"] == "http://127.0.0.1:9/v3/"
    assert values["ANYMAIL"]["WEBHOOK_SECRET"] == "hook:secret"


def test_a_webhook_secret_without_its_two_parts_is_refused():
    problems = registry.check_settings(
        "brevo",
        channel="email",
        env=_env(BREVO_API_KEY="k", ANYMAIL_WEBHOOK_SECRET="secret"),
        debug=True,
    )
    (wrong,) = problems.wrong
    assert "user:password" in wrong and problems.settings == {}


def test_email_that_leaves_needs_its_default_sender_in_production():
    missing = registry.check_settings(
        "smtp", channel="email", env=_env(EMAIL_URL="smtp://127.0.0.1:2525"), debug=False
    )
    assert missing.missing == ["DEFAULT_FROM_EMAIL"] and missing.settings == {}
    problems = registry.check_settings(
        "smtp",
        channel="email",
        env=_env(EMAIL_URL="smtp://127.0.0.1:2525", DEFAULT_FROM_EMAIL="Shop <a@shop.example>"),
        debug=False,
    )
    assert (problems.missing, problems.wrong) == ([], [])
    values = problems.settings
    assert values["EMAIL_BACKEND"] == "retargeting.gateways.smtp.backend.EmailBackend"


def test_without_a_provider_email_is_unavailable_and_nothing_leaves(settings):
    settings.EMAIL_PROVIDER = ""
    assert email_available() is False
    gateway = get_gateway("email")
    assert isinstance(gateway, UnavailableGateway)
    result = gateway.send(OutgoingEmail(to="a@example.fr", subject="s", text="t"))
    assert result.outcome is Outcome.PERMANENT and result.error_code == "email_off"
    # Control: with a provider.
    settings.EMAIL_PROVIDER = "outbox"
    assert email_available() is True


def test_a_dotted_path_names_a_gateway_of_ones_own(settings):
    settings.EMAIL_PROVIDER = "retargeting.gateways.smtp.gateway.SmtpGateway"
    assert type(get_gateway("email")).__name__ == "SmtpGateway"


PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from retargeting.gateways import email_available; "
    "print(json.dumps({'provider': s.EMAIL_PROVIDER, 'backend': s.EMAIL_BACKEND, "
    "'available': email_available(), 'host': getattr(s, 'EMAIL_HOST', None), "
    "'tls': s.EMAIL_USE_TLS}))"
)


@pytest.mark.slow
def test_production_without_email_starts_with_the_channel_off_said_in_one_line():
    result = run_python(PROBE, base_env(**PRODUCTION))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert (values["provider"], values["available"]) == ("", False)
    (line,) = [line for line in result.stderr.splitlines() if "email" in line]
    assert line.endswith(
        "relance: no email provider (EMAIL_URL or EMAIL_PROVIDER): the email channel is off"
    )


@pytest.mark.slow
def test_production_with_an_email_url_sends_by_smtp():
    env = base_env(
        **PRODUCTION,
        EMAIL_URL="smtp://relance:p%40ss@mail.example:587",
        DEFAULT_FROM_EMAIL="Shop <a@shop.example>",
    )
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "provider": "smtp",
        "backend": "retargeting.gateways.smtp.backend.EmailBackend",
        "available": True,
        "host": "mail.example",
        "tls": True,
    }
    assert "email channel is off" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            {"EMAIL_PROVIDER": "brevo", "BREVO_API_KEY": "xkeysib-1"},
            "relance: missing required setting: ANYMAIL_WEBHOOK_SECRET "
            "(required by EMAIL_PROVIDER=brevo)",
        ),
        (
            {"EMAIL_URL": "smtp://127.0.0.1:2525"},
            "relance: missing required setting: DEFAULT_FROM_EMAIL "
            "(required to send email when DEBUG is off)",
        ),
        (
            {"EMAIL_PROVIDER": "outbox"},
            "relance: EMAIL_PROVIDER=outbox sends no email: with DEBUG off set EMAIL_URL or "
            "EMAIL_PROVIDER, or EMAIL_OUTBOX_IN_PRODUCTION=1 to keep emails on the machine "
            "on purpose",
        ),
        (
            {"EMAIL_URL": "https://relance:hunter2@mail.example"},
            "relance: EMAIL_URL must start with smtp://, smtp+tls:// or smtps://, not https://",
        ),
    ],
)
def test_a_missing_or_wrong_email_setting_stops_start_up_in_one_line(extra, line):
    result = run_python(PROBE, base_env(**PRODUCTION, **extra))
    assert result.returncode == 1
    assert result.stderr.strip() == line
    assert "hunter2" not in result.stderr


def test_email_webhooks_prints_the_url_to_paste_in_brevo(settings):
    from io import StringIO

    from django.core.management import call_command

    from tests.support.email_providers import brevo_settings

    brevo_settings(settings, "http://127.0.0.1:9/v3")
    settings.ANYMAIL["WEBHOOK_SECRET"] = "relance-hook:s3cr@t"
    settings.PUBLIC_BASE_URL = "https://relance.example"
    out = StringIO()
    call_command("email_webhooks", stdout=out)
    assert json.loads(out.getvalue()) == {
        "email_provider": "brevo",
        "webhook_url": "https://relance-hook:s3cr%40t@relance.example/webhooks/email/brevo/tracking/",
    }


@pytest.mark.parametrize("provider", ["smtp", ""])
def test_email_webhooks_says_when_there_is_none(settings, provider):
    from django.core.management import CommandError, call_command

    settings.EMAIL_PROVIDER = provider
    with pytest.raises(CommandError, match=r"no email provider|receives no webhooks"):
        call_command("email_webhooks")

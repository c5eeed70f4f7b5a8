"""Every provider Relance can send through, one line each, and the URLs of their webhooks.

A provider is one folder: its gateway (``Gateway``), its webhooks' URLs and the check of its
settings. ``EMAIL_PROVIDER`` (and, for SMS, ``SMS_BACKEND``) names a provider by its alias
here, or a gateway class by its dotted path, as Django names its email and cache backends.

This module is read by ``settings.py`` before Django is set up: it imports nothing of Django
at import time, and the settings checks it names do the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Provider:
    alias: str
    channel: str
    gateway: str
    """Dotted path of its ``Gateway`` class."""
    urls: str = ""
    """Dotted path of its webhooks' URL module (``urlpatterns``), mounted at ``url_prefix``."""
    url_prefix: str = ""
    settings_check: str = ""
    """Dotted path of ``check(env, *, debug) -> dict``: the Django settings the provider
    needs, read from the environment; raises ``SettingsProblem`` naming what is wrong."""


PROVIDERS: tuple[Provider, ...] = (
    # Email providers
    Provider(
        "outbox",
        "email",
        "retargeting.gateways.email_outbox.gateway.EmailOutboxGateway",
        urls="retargeting.gateways.email_outbox.urls",
        url_prefix="dev/mail/",
        settings_check="retargeting.gateways.email_outbox.settings_check.check",
    ),
    Provider(
        "smtp",
        "email",
        "retargeting.gateways.smtp.gateway.SmtpGateway",
        settings_check="retargeting.gateways.smtp.settings_check.check",
    ),
    Provider(
        "brevo",
        "email",
        "retargeting.gateways.anymail.brevo.gateway.BrevoEmailGateway",
        urls="retargeting.gateways.anymail.brevo.urls",
        url_prefix="webhooks/email/brevo/",
        settings_check="retargeting.gateways.anymail.brevo.settings_check.check",
    ),
)


class SettingsProblem(Exception):
    """A provider's setting is missing or wrong: start-up stops with this one line."""


class MissingSettings(SettingsProblem):
    def __init__(self, names: list[str], why: str) -> None:
        self.names = names
        super().__init__(f"missing required setting: {', '.join(names)} ({why})")


def find(channel: str, alias: str) -> Provider | None:
    """The registered provider ``alias`` of ``channel``, or None."""
    return next((p for p in PROVIDERS if p.channel == channel and p.alias == alias), None)


def aliases(channel: str) -> list[str]:
    return [p.alias for p in PROVIDERS if p.channel == channel]


def load(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def gateway_class(channel: str, name: str) -> Any:
    """The gateway class named ``name``: a registered alias of ``channel``, or a dotted path."""
    provider = find(channel, name)
    return load(provider.gateway if provider else name)


# --- Email -------------------------------------------------------------------------------


def email_provider(
    *, name: str, email_url: str, debug: bool, outbox_in_production: bool = False
) -> str:
    """The email provider ``EMAIL_PROVIDER=name`` and ``EMAIL_URL`` select.

    ``name`` given: that alias or dotted path. Else SMTP when ``EMAIL_URL`` is set, else the
    outbox in development (or with ``EMAIL_OUTBOX_IN_PRODUCTION``), and none with DEBUG off:
    ``""``, the email channel off (an SMS-only shop needs no email provider).
    """
    name = name.strip()
    if name:
        if find("email", name) is None and "." not in name:
            choices = ", ".join(repr(alias) for alias in aliases("email"))
            raise SettingsProblem(
                f"EMAIL_PROVIDER must be one of {choices} or a gateway's dotted path, not {name!r}"
            )
        return name
    if email_url.strip():
        return "smtp"
    return "outbox" if debug or outbox_in_production else ""


def email_settings(*, name: str, env: Any, debug: bool) -> dict[str, Any]:
    """The Django settings of email provider ``name`` (its settings check's), or, with no
    provider, Django's dummy backend (the channel is off: Django's own emails go nowhere).

    Email that really leaves (any provider but the outbox) needs, with DEBUG off, the sender
    of messages that name none: ``DEFAULT_FROM_EMAIL``, never Relance's placeholder.
    """
    if not name:
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    provider = find("email", name)
    values: dict[str, Any] = {}
    if provider is not None and provider.settings_check:
        values = load(provider.settings_check)(env, debug=debug)
    if name != "outbox" and not debug and not env.str("DEFAULT_FROM_EMAIL", default="").strip():
        raise MissingSettings(["DEFAULT_FROM_EMAIL"], "required to send email when DEBUG is off")
    return values


def urlpatterns(channel: str | None = None) -> list[Any]:
    """The URLs of every registered provider's webhooks (of ``channel``, or all), each under
    its prefix: all of them exist whichever provider is chosen; each answers for itself."""
    from django.urls import include, path

    return [
        path(provider.url_prefix, include(provider.urls))
        for provider in PROVIDERS
        if provider.urls and (channel is None or provider.channel == channel)
    ]

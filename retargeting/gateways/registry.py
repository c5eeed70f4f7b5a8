"""The providers Relance sends through, one line each, and how a channel's provider is chosen.

A provider is a folder of ``retargeting/gateways/`` that owns everything about one vendor: its
``Gateway`` class (``gateway.py``: how a message is handed over, its default sender, its
capability flags), its error table (``errors.py``: the codes it maps to actions), its settings
check (``settings_check.py``), and its webhooks (``views.py`` and ``urls.py``). This module
lists them: nothing else in Relance names a vendor.

Each channel's setting chooses its provider, as Django chooses ``EMAIL_BACKEND`` or a cache's
``BACKEND``: ``SMS_BACKEND`` is an alias from this list (``outbox``, ``twilio``, ``brevo``) or
the dotted path of a ``Gateway`` class (``myproject.sms.CarrierGateway``). A dotted path that
is a listed provider's class is that provider (its settings check and webhooks apply); another
one is used as it is, with no settings check and no webhooks of its own. ``EMAIL_PROVIDER``
does the same for email (``outbox``, ``smtp``, ``brevo``); without it, ``email_provider``
chooses from ``EMAIL_URL`` and ``DEBUG`` (none at all: the email channel is off).

A settings check reads the provider's settings from the environment and says what is missing
or wrong (``SettingsProblems``); an email provider also gives the Django settings it needs
(``EMAIL_BACKEND``, SMTP's host and TLS, anymail's keys), which ``settings.py`` applies.

Adding a provider (docs/development.md, "Adding an SMS provider", walks through it):

1. a folder ``retargeting/gateways/<name>/`` with ``gateway.py`` and, as it needs them,
   ``errors.py``, ``settings_check.py`` (``check(env, *, debug) -> SettingsProblems``),
   ``views.py`` and ``urls.py``;
2. one ``Provider(alias, channel, gateway, urls="", url_prefix="", settings_check="")`` line
   below, in its channel's block (the paths are dotted strings, imported when used);
3. a subclass of the shared contract suite (``tests/gateways/contract.py``) for it.

This module imports none of the providers, so ``settings.py`` can check a provider's settings
before Django is set up (``check_settings``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.urls import URLPattern, URLResolver

    from retargeting.gateways.base import Gateway


@dataclass(frozen=True)
class Provider:
    alias: str
    """The name the channel's setting may give (``SMS_BACKEND=twilio``)."""
    channel: str
    """The channel whose messages it carries (``retargeting.channels.Channel``)."""
    gateway: str
    """The dotted path of its ``Gateway`` class."""
    urls: str = ""
    """The dotted path of its webhooks' URL module; empty: it receives none."""
    url_prefix: str = ""
    """Where those URLs are mounted (``webhooks/twilio/``); public URLs: never change one."""
    settings_check: str = ""
    """The dotted path of its ``check(env, *, debug) -> SettingsProblems``; empty: none."""


PROVIDERS: list[Provider] = [
    # SMS providers
    Provider(
        "outbox",
        "sms",
        "retargeting.gateways.outbox.gateway.OutboxGateway",
        urls="retargeting.gateways.outbox.urls",
        url_prefix="dev/phone/",
        settings_check="retargeting.gateways.outbox.settings_check.check",
    ),
    Provider(
        "twilio",
        "sms",
        "retargeting.gateways.twilio.gateway.TwilioGateway",
        urls="retargeting.gateways.twilio.urls",
        url_prefix="webhooks/twilio/",
        settings_check="retargeting.gateways.twilio.settings_check.check",
    ),
    Provider(
        "brevo",
        "sms",
        "retargeting.gateways.brevo.gateway.BrevoGateway",
        urls="retargeting.gateways.brevo.urls",
        url_prefix="webhooks/brevo/",
        settings_check="retargeting.gateways.brevo.settings_check.check",
    ),
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
]

NO_EMAIL = "retargeting.gateways.email_framework.UnavailableGateway"
"""The email "provider" when none is configured (DEBUG off, no ``EMAIL_URL`` nor
``EMAIL_PROVIDER``): it refuses every message, so nothing leaves; the channel is off."""

CHANNEL_SETTINGS: dict[str, tuple[str, str]] = {
    # channel: (the setting that chooses its provider, the provider without it)
    "sms": ("SMS_BACKEND", "outbox"),
    "email": ("EMAIL_PROVIDER", NO_EMAIL),
}

_DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class UnknownProvider(ValueError):
    """The channel's setting names no provider: one line, for start-up to print."""


@dataclass
class SettingsProblems:
    """What a provider's settings check found (start-up stops on any problem, in one line),
    and the Django settings it derived from the environment."""

    missing: list[str] = field(default_factory=list)
    """Required settings that are not set (``"A or B"`` when either will do)."""
    wrong: list[str] = field(default_factory=list)
    """One line per setting whose value cannot work."""
    why: str = ""
    """Why the missing ones are required, when not simply because the provider was chosen
    (``settings.py`` then says ``required by SMS_BACKEND=…``)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The Django settings the provider needs (``EMAIL_BACKEND``…), applied by ``settings.py``
    when nothing is missing or wrong."""


def providers(channel: str) -> list[Provider]:
    return [provider for provider in PROVIDERS if provider.channel == channel]


def resolve(value: str, *, channel: str) -> Provider:
    """The provider that ``value`` (an alias or a dotted path) names for ``channel``; raise
    ``UnknownProvider``."""
    value = value.strip()
    for provider in providers(channel):
        if value in (provider.alias, provider.gateway):
            return provider
    if _DOTTED_PATH.fullmatch(value):
        return Provider(alias=value, channel=channel, gateway=value)
    setting = CHANNEL_SETTINGS[channel][0]
    aliases = [f"'{provider.alias}'" for provider in providers(channel)]
    listed = ", ".join(aliases[:-1]) + f" or {aliases[-1]}" if len(aliases) > 1 else aliases[0]
    raise UnknownProvider(
        f"{setting} must be {listed}, or the dotted path of a Gateway class, not {value!r}"
    )


def configured(channel: str = "sms") -> Provider:
    """The provider chosen for ``channel`` by its setting."""
    from django.conf import settings

    setting, default = CHANNEL_SETTINGS[channel]
    return resolve(str(getattr(settings, setting, "") or default), channel=channel)


def gateway_class(provider: Provider) -> type[Gateway]:
    from django.utils.module_loading import import_string

    cls: type[Gateway] = import_string(provider.gateway)
    return cls


def check_settings(value: str, *, channel: str, env: Any, debug: bool) -> SettingsProblems:
    """What the provider ``value`` names finds wrong with the settings in ``env`` (a
    ``django-environ`` ``Env``); raise ``UnknownProvider``. Called by ``settings.py``."""
    provider = resolve(value, channel=channel)
    if not provider.settings_check:
        return SettingsProblems()
    from importlib import import_module

    module, _, name = provider.settings_check.rpartition(".")
    problems: SettingsProblems = getattr(import_module(module), name)(env, debug=debug)
    return problems


def email_provider(
    *, name: str, email_url: str, debug: bool, outbox_in_production: bool = False
) -> str:
    """The value of ``EMAIL_PROVIDER``: ``name`` when given (an alias or a dotted path; raise
    ``UnknownProvider``), else ``smtp`` when ``EMAIL_URL`` is set, else the outbox in
    development (or with ``EMAIL_OUTBOX_IN_PRODUCTION``), and ``""`` with DEBUG off: no email
    provider, the channel off (an SMS-only shop needs none)."""
    name = name.strip()
    if name:
        resolve(name, channel="email")
        return name
    if email_url.strip():
        return "smtp"
    return "outbox" if debug or outbox_in_production else ""


def webhook_urlpatterns(channel: str | None = None) -> list[URLPattern | URLResolver]:
    """Every listed provider's webhooks (of ``channel``, or of all), each under its prefix
    (mounted whichever provider is configured: a provider's late callbacks still arrive after
    a switch; each development tool answers 404 unless its provider is the configured one)."""
    from django.urls import include, path

    return [
        path(provider.url_prefix, include(provider.urls))
        for provider in PROVIDERS
        if provider.urls and channel in (None, provider.channel)
    ]


def webhook_url(channel: str = "sms") -> tuple[Provider, str]:
    """The configured provider and the URL it reports to (to paste in the provider's settings
    where it has an account-wide webhook); empty when it receives no webhooks."""
    provider = configured(channel)
    return provider, gateway_class(provider)().status_callback_url()

"""A system check (``manage.py check``, and every start-up): the provider each channel's
setting names can be imported and is a ``Gateway`` of that channel. A dotted path cannot be
imported while the settings load (the class may need the models), so it is checked here."""

from __future__ import annotations

from typing import Any

from django.core import checks

from retargeting.gateways import registry
from retargeting.gateways.base import Gateway


def check_configured_providers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for channel, (setting, _default) in registry.CHANNEL_SETTINGS.items():
        try:
            provider = registry.configured(channel)
            cls = registry.gateway_class(provider)
        except (ImportError, registry.UnknownProvider) as exc:
            errors.append(checks.Error(f"{setting}: {exc}", id="gateways.E001"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Gateway)) or cls.channel != channel:
            errors.append(
                checks.Error(
                    f"{setting}: {provider.gateway} is not a Gateway of the {channel} channel",
                    id="gateways.E002",
                )
            )
    return errors

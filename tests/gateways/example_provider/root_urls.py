"""The project's URLs as they are once Example's registry line is in: the registry's webhook
patterns read when Django first resolves a URL, after the test registered the provider (the
project's own ``retargeting/urls.py`` reads them at start-up)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        from retargeting import urls
        from retargeting.gateways import registry

        return [*registry.webhook_urlpatterns(), *urls.urlpatterns]
    raise AttributeError(name)

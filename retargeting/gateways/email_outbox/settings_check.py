"""The email outbox's settings: none, but with DEBUG off it runs only on purpose."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblem


def check(env: Any, *, debug: bool) -> dict[str, Any]:
    if not debug and not env.bool("EMAIL_OUTBOX_IN_PRODUCTION", default=False):
        raise SettingsProblem(
            "EMAIL_PROVIDER=outbox sends no email: with DEBUG off set EMAIL_URL or "
            "EMAIL_PROVIDER, or EMAIL_OUTBOX_IN_PRODUCTION=1 to keep emails on the machine "
            "on purpose"
        )
    return {"EMAIL_BACKEND": "retargeting.gateways.email_outbox.backend.EmailBackend"}

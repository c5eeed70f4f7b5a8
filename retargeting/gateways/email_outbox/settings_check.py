"""The email outbox's settings: none, but with DEBUG off it runs only on purpose."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblems


def check(env: Any, *, debug: bool) -> SettingsProblems:
    problems = SettingsProblems(
        settings={"EMAIL_BACKEND": "retargeting.gateways.email_outbox.backend.EmailBackend"}
    )
    if not debug and not env.bool("EMAIL_OUTBOX_IN_PRODUCTION", default=False):
        problems.wrong.append(
            "EMAIL_PROVIDER=outbox sends no email: with DEBUG off set EMAIL_URL or "
            "EMAIL_PROVIDER, or EMAIL_OUTBOX_IN_PRODUCTION=1 to keep emails on the machine "
            "on purpose"
        )
    return problems

"""The outbox in production: it keeps every message on the machine, so a production left on it
sends nothing, silently. It may, on purpose (a staging instance): ``SMS_OUTBOX_IN_PRODUCTION``."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblems


def check(env: Any, *, debug: bool) -> SettingsProblems:
    problems = SettingsProblems()
    if not debug and not env.bool("SMS_OUTBOX_IN_PRODUCTION", default=False):
        problems.wrong.append(
            "SMS_BACKEND=outbox sends no SMS: with DEBUG off set SMS_BACKEND=twilio, or "
            "SMS_OUTBOX_IN_PRODUCTION=1 to run without sending on purpose"
        )
    return problems

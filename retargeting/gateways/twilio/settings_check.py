"""What ``SMS_BACKEND=twilio`` needs: an account, and a sender or a Messaging Service."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblems


def _missing(env: Any, name: str) -> bool:
    return not env.str(name, default="").strip()


def check(env: Any, *, debug: bool) -> SettingsProblems:
    problems = SettingsProblems(
        missing=[
            name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if _missing(env, name)
        ]
    )
    if _missing(env, "TWILIO_FROM") and _missing(env, "TWILIO_MESSAGING_SERVICE_SID"):
        problems.missing.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
    return problems

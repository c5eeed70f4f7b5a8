"""What every email provider whose messages leave the machine needs: with DEBUG off, the sender
of the messages that name none (``DEFAULT_FROM_EMAIL``), never Relance's placeholder. Read by
the providers' settings checks before Django is set up: it imports nothing of Django."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblems


def with_default_sender(env: Any, *, debug: bool, settings: dict[str, Any]) -> SettingsProblems:
    """``settings`` (the provider's), or ``DEFAULT_FROM_EMAIL`` missing with DEBUG off."""
    if not debug and not env.str("DEFAULT_FROM_EMAIL", default="").strip():
        return SettingsProblems(
            missing=["DEFAULT_FROM_EMAIL"], why="required to send email when DEBUG is off"
        )
    return SettingsProblems(settings=settings)

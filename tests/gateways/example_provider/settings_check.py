"""What Example needs: its API key and a default sender."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import SettingsProblems


def check(env: Any, *, debug: bool) -> SettingsProblems:
    return SettingsProblems(
        missing=[
            name
            for name in ("EXAMPLE_API_KEY", "EXAMPLE_SENDER")
            if not env.str(name, default="").strip()
        ]
    )

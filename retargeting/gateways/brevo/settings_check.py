"""What ``SMS_BACKEND=brevo`` needs: an API key and a default sender Brevo takes."""

from __future__ import annotations

import re
from typing import Any

from retargeting.gateways.registry import SettingsProblems

# Brevo takes up to 11 letters and digits, or up to 15 digits.
SENDER = re.compile(r"[A-Za-z0-9]{1,11}|[0-9]{1,15}")


def check(env: Any, *, debug: bool) -> SettingsProblems:
    problems = SettingsProblems(
        missing=[
            name
            for name in ("BREVO_API_KEY", "BREVO_SENDER")
            if not env.str(name, default="").strip()
        ]
    )
    sender = env.str("BREVO_SENDER", default="").strip()
    if sender and not SENDER.fullmatch(sender):
        problems.wrong.append(
            f"BREVO_SENDER must be up to 11 letters and digits, or up to 15 digits, not {sender!r}"
        )
    return problems

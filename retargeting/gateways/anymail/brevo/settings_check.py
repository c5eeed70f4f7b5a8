"""Brevo's email settings: the API key (shared with Brevo's SMS), the API's address (the same
``BREVO_API_BASE_URL``, or an emulator's), and the secret of its tracking webhook."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.email_sender_check import with_default_sender
from retargeting.gateways.registry import SettingsProblems


def check(env: Any, *, debug: bool) -> SettingsProblems:
    missing = [
        name
        for name in ("BREVO_API_KEY", "ANYMAIL_WEBHOOK_SECRET")
        if not env.str(name, default="").strip()
    ]
    if missing:
        return SettingsProblems(missing=missing)
    secret = env.str("ANYMAIL_WEBHOOK_SECRET").strip()
    if ":" not in secret or secret.startswith(":") or secret.endswith(":"):
        return SettingsProblems(
            wrong=[
                "ANYMAIL_WEBHOOK_SECRET must be two random words joined by a colon "
                "(user:password): the basic-auth credentials of Brevo's tracking webhook URL"
            ]
        )
    base = env.str("BREVO_API_BASE_URL", default="https://api.brevo.com/v3").rstrip("/")
    settings = {
        "EMAIL_BACKEND": "anymail.backends.brevo.EmailBackend",
        "ANYMAIL": {
            "BREVO_API_KEY": env.str("BREVO_API_KEY").strip(),
            "BREVO_API_URL": base + "/",
            "WEBHOOK_SECRET": secret,
            "REQUESTS_TIMEOUT": env.float("EMAIL_TIMEOUT", default=10.0),
        },
    }
    return with_default_sender(env, debug=debug, settings=settings)

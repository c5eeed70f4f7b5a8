"""Brevo's email settings: the API key (shared with Brevo's SMS), the API's address (the same
``BREVO_API_BASE_URL``, or an emulator's), and the secret of its tracking webhook."""

from __future__ import annotations

from typing import Any

from retargeting.gateways.registry import MissingSettings, SettingsProblem


def check(env: Any, *, debug: bool) -> dict[str, Any]:
    missing = [
        name
        for name in ("BREVO_API_KEY", "ANYMAIL_WEBHOOK_SECRET")
        if not env.str(name, default="").strip()
    ]
    if missing:
        raise MissingSettings(missing, "required by EMAIL_PROVIDER=brevo")
    secret = env.str("ANYMAIL_WEBHOOK_SECRET").strip()
    if ":" not in secret or secret.startswith(":") or secret.endswith(":"):
        raise SettingsProblem(
            "ANYMAIL_WEBHOOK_SECRET must be two random words joined by a colon (user:password): "
            "the basic-auth credentials of Brevo's tracking webhook URL"
        )
    base = env.str("BREVO_API_BASE_URL", default="https://api.brevo.com/v3").rstrip("/")
    return {
        "EMAIL_BACKEND": "anymail.backends.brevo.EmailBackend",
        "ANYMAIL": {
            "BREVO_API_KEY": env.str("BREVO_API_KEY").strip(),
            "BREVO_API_URL": base + "/",
            "WEBHOOK_SECRET": secret,
            "REQUESTS_TIMEOUT": env.float("EMAIL_TIMEOUT", default=10.0),
        },
    }

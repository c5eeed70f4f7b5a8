"""Brevo's transactional email API (``POST /v3/smtp/email``) through anymail's backend."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.urls import reverse

from retargeting.gateways.anymail.brevo.errors import ERROR_ACTIONS
from retargeting.gateways.anymail.gateway import AnymailGateway


class BrevoEmailGateway(AnymailGateway):
    name = "brevo"
    error_actions = ERROR_ACTIONS
    # Brevo lists events, not the messages with their text: a send whose answer was lost
    # stays unknown (never sent twice).
    lists_messages = False

    def status_callback_url(self) -> str:
        """The tracking webhook URL to paste in Brevo, its basic-auth secret in it."""
        secret = getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET") or ""
        if isinstance(secret, list | tuple):
            secret = secret[0] if secret else ""
        user, _, password = str(secret).partition(":")
        base = urlsplit(settings.PUBLIC_BASE_URL)
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{base.netloc}"
        return urlunsplit((base.scheme, netloc, reverse("email-brevo-tracking"), "", ""))

"""The SMTP provider's settings: ``EMAIL_URL``, read as django-environ reads email URLs, with
the TLS of each form said plainly:

- ``smtp+tls://`` STARTTLS (port 587 by default); ``smtps://`` or ``smtp+ssl://`` TLS from the
  first byte (port 465 by default);
- ``smtp://`` STARTTLS on the submission port 587, TLS on 465, and none on any other port
  (``smtp://127.0.0.1:2525``: a local relay or a test server); port 25 by default.

Unlike django-environ, ``smtps://`` means TLS on connect (RFC 8314's implicit TLS), as mail
clients name it. A password with ``@``, ``:`` or ``/`` is written percent-encoded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from retargeting.gateways.email_sender_check import with_default_sender
from retargeting.gateways.registry import SettingsProblems

SCHEMES = {
    "smtp": (25, "auto"),
    "smtp+tls": (587, "starttls"),
    "smtps": (465, "tls"),
    "smtp+ssl": (465, "tls"),
}


class WrongEmailUrl(ValueError):
    """``EMAIL_URL`` cannot work: one line, never naming the password."""


def parse_email_url(url: str) -> dict[str, Any]:
    """Django's SMTP settings from ``url``; raises ``WrongEmailUrl`` (never naming the
    password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise WrongEmailUrl(
            "EMAIL_URL must start with smtp://, smtp+tls:// or smtps://, "
            f"not {scheme + '://' if scheme else repr(url[:12])}"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise WrongEmailUrl(f"EMAIL_URL has an invalid port ({exc})") from exc
    if not parts.hostname:
        raise WrongEmailUrl("EMAIL_URL names no host (smtp://user:password@host:587)")
    default_port, tls = SCHEMES[scheme]
    port = port or default_port
    if tls == "auto":
        tls = {587: "starttls", 465: "tls"}.get(port, "none")
    return {
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": tls == "starttls",
        "EMAIL_USE_SSL": tls == "tls",
    }


def check(env: Any, *, debug: bool) -> SettingsProblems:
    url = env.str("EMAIL_URL", default="")
    if not url.strip():
        return SettingsProblems(missing=["EMAIL_URL"])
    try:
        values = parse_email_url(url)
    except WrongEmailUrl as exc:
        return SettingsProblems(wrong=[str(exc)])
    return with_default_sender(
        env,
        debug=debug,
        settings={"EMAIL_BACKEND": "retargeting.gateways.smtp.backend.EmailBackend", **values},
    )

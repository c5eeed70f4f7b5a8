"""The hosts a site accepts events from.

A site lists bare host names; the scheme and port of an Origin never matter and a
subdomain of a listed host is allowed (``shop.example`` allows ``www.shop.example``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")  # fullmatch: "$" takes a final "\n"


def normalize_domain(value: str) -> str:
    """Reduce ``https://Shop.Example:8443/path`` to ``shop.example``; refuse what is no host."""
    raw = value.strip()
    if not raw:
        raise ValidationError(_("A domain is required."))
    host = urlsplit(raw if "//" in raw else f"//{raw}").hostname or ""
    host = host.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValidationError(
            _("“%(value)s” is not a valid host name.") % {"value": value}
        ) from exc
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValidationError(_("“%(value)s” is not a valid host name.") % {"value": value})
    return host


def host_allowed(host: str, domains: list[str] | tuple[str, ...]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def url_on_domains(url: str, domains: list[str] | tuple[str, ...]) -> bool:
    """Whether ``url`` is http(s) on one of ``domains`` (or a subdomain): a link that stays
    on the shop's own site. User info (``https://shop.example@evil.example/``) is refused."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return False
    if "\\" in url:  # browsers read a backslash as a slash: no host tricks with it
        return False
    # An international name in its ASCII (punycode) form only: Python's IDNA 2003 and the
    # browsers' UTS 46 map some letters differently ("ß" is "ss" to one, itself to the other),
    # so a Unicode or percent-encoded host could pass here and lead elsewhere in a browser.
    if not host.isascii() or "%" in host:
        return False
    return host_allowed(host, domains)

"""Client addresses: which one is the client's, and how much of it is kept."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, trusting ``TRUSTED_PROXIES`` hops of X-Forwarded-For."""
    hops = settings.TRUSTED_PROXIES
    address = request.META.get("REMOTE_ADDR") or None
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # the collector sees the same addresses again and again
def truncate_ip(address: str | None) -> str | None:
    """Keep the network, drop the host: IPv4 to /24, IPv6 to /48 (CNIL's guidance)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)

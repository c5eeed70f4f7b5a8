"""Finding a site by its public key on the collector's hot path, from a process-local cache.

A site's key and domains change rarely; each process keeps what it looked up for
``TTL_SECONDS`` (unknown keys too, so a flood of made-up keys costs no queries). A change saved
in this process is seen at once; other processes see it within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from retargeting.sites.domains import host_allowed
from retargeting.sites.models import Site

TTL_SECONDS = 30.0
_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class SiteInfo:
    id: int
    public_key: str
    domains: tuple[str, ...]
    country: str
    countries: tuple[str, ...]
    """Whose numbers the snippet may enrol (the site's own country unless it lists more)."""

    def allows(self, host: str) -> bool:
        return host_allowed(host, list(self.domains))


_lock = threading.Lock()
_by_key: dict[str, tuple[float, SiteInfo | None]] = {}
_all_domains: tuple[float, tuple[str, ...]] | None = None


def cached(public_key: str) -> tuple[bool, SiteInfo | None]:
    """What this process's cache knows of the key, without a query: (True, the site or None
    for an unknown key), or (False, None) when the key is to be looked up."""
    entry = _by_key.get(public_key)
    if entry and entry[0] > time.monotonic():
        return True, entry[1]
    return False, None


def site_by_public_key(public_key: str) -> SiteInfo | None:
    now = time.monotonic()
    entry = _by_key.get(public_key)
    if entry and entry[0] > now:
        return entry[1]
    row = (
        Site.objects.filter(public_key=public_key)
        .values_list("pk", "allowed_domains", "country", "enrol_countries")
        .first()
    )
    info = (
        SiteInfo(row[0], public_key, tuple(row[1]), row[2], tuple(row[3] or [row[2]]))
        if row
        else None
    )
    with _lock:
        if len(_by_key) >= _MAX_ENTRIES:
            _by_key.clear()
        _by_key[public_key] = (now + TTL_SECONDS, info)
    return info


def any_site_allows(host: str) -> bool:
    """Whether some site accepts events from ``host`` (CORS preflights carry no site key)."""
    global _all_domains
    now = time.monotonic()
    if _all_domains is None or _all_domains[0] <= now:
        domains = {d for row in Site.objects.values_list("allowed_domains", flat=True) for d in row}
        _all_domains = (now + TTL_SECONDS, tuple(sorted(domains)))
    return host_allowed(host, list(_all_domains[1]))


def clear() -> None:
    global _all_domains
    with _lock:
        _by_key.clear()
        _all_domains = None


@receiver([post_save, post_delete], sender=Site, dispatch_uid="sites.lookup.clear")
def _site_changed(**kwargs: object) -> None:
    clear()

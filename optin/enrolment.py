"""Limits on the confirmation SMS (and emails) that a number or an address typed in a page
can cause ("SMS pumping", and its email twin).

Anyone who read a shop's public key can post identify events, each with another number: every
new number on a double opt-in site costs a confirmation SMS. These limits bound what a stranger
can buy with the shop's money: per client address, per browser and per site, each per day (the
site's own settings). The check runs before the collector or the hosted page stores anything,
so a refused request changes nothing. Every identify giving consent is counted, whether or not
its number is known (a known one causes no SMS): a limit spent only by unknown numbers would
tell a stranger which numbers a shop knows. A consent a platform relays (no browser, no client
address) is counted against the site's daily limit by the gate.

The counters live in the cache (Redis in production), like the collector's rate limit; with
the cache away they are not enforced and a warning is logged, so that opt-ins keep working.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Any

from django.utils import timezone

from retargeting.sites.models import Language, Site
from retargeting.tracking.hooks import Refusal
from retargeting.web.ratelimit import count, take

logger = logging.getLogger(__name__)

DAY_TIMEOUT = 2 * 86400  # a day's counter outlives its day, whatever the time zone

TEXT = {
    Language.FR: "Trop de demandes de confirmation par SMS aujourd'hui : réessayez demain.",
    Language.EN: "Too many confirmation texts asked for today: try again tomorrow.",
}


def _today(site: Site) -> str:
    return timezone.localdate(timezone=site.zone_info).isoformat()


def site_counter(site: Site) -> str:
    """The cache key of the site's confirmations of its current day."""
    return f"doi-site:{site.pk}:{_today(site)}"


def confirmations_today(site: Site) -> int:
    """Confirmation SMS this site let through today (its time zone), for the dashboard."""
    try:
        return count(key=site_counter(site))
    except Exception as exc:  # the cache is away: the figure is unknown, not zero
        logger.warning("confirmation count of site %s unavailable (%s)", site.pk, exc)
        return 0


def _digest(value: str) -> str:
    # Addresses are personal data: the cache keeps a digest, for a day.
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def address_key(client_ip: str | None) -> str:
    """The client address a limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's
    network: an IPv6 client can pick any address in it)."""
    if not client_ip:
        return ""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def asks_consent(*, site: Site, event: dict[str, Any]) -> bool:
    """Whether an unauthenticated identify gives consent on a double opt-in site: one that
    may cost a confirmation SMS or email, whichever number or address it names (one identify
    giving both spends the limits once: it is one request); and every back-in-stock request
    from a page (its confirmation, when the browser has not proven the address)."""
    if event.get("type") == "back_in_stock":
        # Whether or not the browser proved the address (then no confirmation is sent), on
        # any site: the limits spent never tell which addresses a shop knows.
        return True
    sms = "phone" in event and bool((event.get("consent") or {}).get("granted"))
    email = "email" in event and bool((event.get("email_consent") or {}).get("granted"))
    return (sms or email) and site.double_opt_in


def _counters(site: Site, vid: str | None, client_ip: str | None) -> list[tuple[str, int]]:
    day = _today(site)
    found = [
        (
            f"doi-ip:{site.pk}:{day}:{_digest(address_key(client_ip))}",
            site.confirmations_per_ip_per_day,
        ),
        (site_counter(site), site.confirmations_per_day),
    ]
    if vid:
        found.insert(
            1, (f"doi-vid:{site.pk}:{day}:{_digest(vid)}", site.confirmations_per_visitor_per_day)
        )
    return found


def refuse(
    *, site: Site, event: dict[str, Any], vid: str | None, client_ip: str | None
) -> Refusal | None:
    """The limits on confirmation SMS, for an unauthenticated identify (the collector, the
    hosted page). Every identify giving consent spends the same limits and gets the same
    answer, whether its number is new, pending, granted or revoked, so that nobody learns which
    numbers a shop knows from what the limits let through."""
    if not asks_consent(site=site, event=event):
        return None
    refusal = Refusal(429, TEXT[Language(site.language)])
    try:
        counters = _counters(site, vid, client_ip)
        # A refused request spends nothing: the site's count stays the confirmations let through.
        if any(count(key=key) >= limit for key, limit in counters):
            logger.warning("site %s: a daily confirmation limit is reached", site.pk)
            return refusal
        for key, limit in counters:
            if not take(key=key, limit=limit, timeout=DAY_TIMEOUT):
                return refusal
    except Exception as exc:
        logger.warning("confirmation limits not enforced: the cache is away (%s)", exc)
    return None


def take_relayed_confirmation(*, site: Site) -> bool:
    """Count a consent a platform relays (a checkout's ticked box) against the site's daily
    confirmation limit; False once it is reached. A webhook carries neither the shopper's
    address nor a browser, so the site's limit (and the number's own) is what holds."""
    try:
        return take(key=site_counter(site), limit=site.confirmations_per_day, timeout=DAY_TIMEOUT)
    except Exception as exc:
        logger.warning("confirmation limits not enforced: the cache is away (%s)", exc)
        return True


def check_identify(
    *, site_id: int, vid: str | None, event: dict[str, Any], client_ip: str | None
) -> Refusal | None:
    """The collector's check (registered in ``optin.apps``) before an identify is stored."""
    return refuse(site=Site.objects.get(pk=site_id), event=event, vid=vid, client_ip=client_ip)

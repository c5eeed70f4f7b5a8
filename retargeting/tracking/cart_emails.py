"""The collector's side of the bridge (``email_cart``): its limits, then the request handed up.

A shopper on a phone asks for the current cart in their mailbox. Anyone who read a shop's
public key can post such a request with any address, so each costs the shop an email it did
not choose to send: they are limited per browser, per address and per site, each per day (UTC),
in the ``limits`` store every process shares (``EMAIL_CART_PER_*_PER_DAY``).

- Over the browser's or the site's limit the answer is 429 and nothing is spent: it says
  something about the asker's own browser or the shop, nothing about the address.
- Over the address's limit the answer is the same 204 as any other and nothing is sent:
  a 429 there would tell a stranger that someone else asked for that address today.

Every request within the first two limits spends the three counters, whatever becomes of it
(no cart, a known or an unknown address), so the limits tell nothing about the address either.
With the store away the limits are not enforced and a warning is logged (as the confirmation
limits): a shopper's request is not lost to an outage of the counters.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from retargeting.tracking import hooks
from retargeting.tracking.hooks import Refusal
from retargeting.web.ratelimit import count, take

logger = logging.getLogger(__name__)

DAY_TIMEOUT = 2 * 86400  # a day's counter outlives its day
TOO_MANY = "too many cart emails asked for today; try again tomorrow"


@dataclass(frozen=True)
class Decision:
    """What the collector does with an ``email_cart``: refuse it (``refusal``), or answer 204
    and hand it up (``send``) or not (an address over its limit)."""

    refusal: Refusal | None = None
    send: bool = True


def _digest(value: str) -> str:
    # An address and a browser id are personal data: the store keeps a digest, for a day.
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def counters(*, site_id: int, vid: str, email: str) -> dict[str, tuple[str, int]]:
    """The day's counter of each limit (its cache key and its limit), by name."""
    day = timezone.now().date().isoformat()
    return {
        "visitor": (
            f"cart-email-vid:{site_id}:{day}:{_digest(vid)}",
            settings.EMAIL_CART_PER_VISITOR_PER_DAY,
        ),
        "site": (f"cart-email-site:{site_id}:{day}", settings.EMAIL_CART_PER_SITE_PER_DAY),
        "address": (
            f"cart-email-to:{site_id}:{day}:{_digest(email)}",
            settings.EMAIL_CART_PER_ADDRESS_PER_DAY,
        ),
    }


def decide(*, site_id: int, vid: str, email: str) -> Decision:
    """Count one ``email_cart`` against the day's limits (module docstring)."""
    try:
        found = counters(site_id=site_id, vid=vid, email=email)
        loud = [found["visitor"], found["site"]]
        if any(0 < limit <= count(key=key) for key, limit in loud):
            logger.warning("site %s: a daily cart email limit is reached", site_id)
            return Decision(refusal=Refusal(429, TOO_MANY), send=False)
        for key, limit in loud:
            if limit > 0 and not take(key=key, limit=limit, timeout=DAY_TIMEOUT):
                return Decision(refusal=Refusal(429, TOO_MANY), send=False)
        key, limit = found["address"]
        if limit > 0 and not take(key=key, limit=limit, timeout=DAY_TIMEOUT):
            logger.info("site %s: an address over its daily cart emails: nothing sent", site_id)
            return Decision(send=False)
    except Exception as exc:
        logger.warning("cart email limits not enforced: the cache is away (%s)", exc)
    return Decision()


def hand_up(*, site_id: int, vid: str, email: str, ip: str | None, user_agent: str) -> None:
    """Give the request to the layer that sends it. A failure there is logged, not answered:
    the shopper gets the same 204 (what failed is in the log, with the site)."""
    try:
        hooks.request_cart_email(
            site_id=site_id, vid=vid, email=email, ip=ip, user_agent=user_agent
        )
    except Exception:
        logger.exception("site %s: a cart email request was not planned", site_id)

"""The signed contact token a short-link redirect adds to the landing URL (``_rl``).

It ties the browser that opens the link to the contact the SMS was sent to, which is how a
phone and a laptop become one customer: the proof of the number's owner, tapping our link.
A proof only for that tap, so a token is honoured

- **once**: the first identify that presents it links its browser; each use is recorded
  (:class:`~optin.models.UsedToken`), and any later one links nothing;
- **soon after the tap**: within :data:`WINDOW` (30 minutes) of the redirect that made it
  (the snippet sends it back as the landing page loads);
- **by the tapping browser**: the redirect binds the token to the user agent that tapped
  (a digest of it, inside the signature); an identify from another browser links nothing
  and leaves the token to the tapping one.

So a customer who posts the landing URL with its token (from his history, or shared before
the page loaded) gives nobody his identity: his own browser used it when the page loaded. A
refused token gets the same answer as an honoured one (the collector's 204), so trying one
tells nothing. The redirect is on Relance's domain and the page on the shop's: no cookie is
shared between them, which is why the binding is the one-time use recorded here, the short
window and the user agent.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from optin.models import Contact, UsedToken
from retargeting.sites.models import Site

SALT = "relance.optin.contact-token"
# From the tap to the identify the landing page sends: seconds, or minutes on a slow phone.
WINDOW = timedelta(minutes=30)
# Used tokens are kept past their window only to be refused; then their signature is.
KEEP_USED = timedelta(days=1)


def _agent_digest(user_agent: str) -> str:
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()[:16]


def make_token(contact: Contact, *, user_agent: str, requester_id: int | None = None) -> str:
    """A token for one tap on a link to ``contact``, by the browser sending ``user_agent``.

    ``requester_id``: the visitor (browser) that asked for the message the link is in (the
    bridge: a cart sent to an address at a shopper's request). The owner's tap proves that
    browser theirs too, through the same token (``redeem``)."""
    nonce = secrets.token_urlsafe(12)
    value = f"{contact.site_id}.{contact.pk}.{nonce}.{_agent_digest(user_agent)}"
    if requester_id is not None:
        value += f".{requester_id}"
    return signing.TimestampSigner(salt=SALT).sign(value)


@dataclass(frozen=True)
class Redeemed:
    """What an honoured token proves: ``contact`` is the tapping browser's, and the browser
    that asked for the message (``requester_id``, the bridge's) is theirs too."""

    contact: Contact
    requester_id: int | None = None


def contact_for_token(token: str, *, site: Site, user_agent: str) -> Contact | None:
    """The contact a token names, if it is genuine, for ``site``, presented by the browser
    that tapped within :data:`WINDOW`, and not used before; using it spends it."""
    redeemed = redeem(token, site=site, user_agent=user_agent)
    return redeemed.contact if redeemed is not None else None


def redeem(token: str, *, site: Site, user_agent: str) -> Redeemed | None:
    """:func:`contact_for_token`, with the asking browser a bridge's token names."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(
            token, max_age=int(WINDOW.total_seconds())
        )
        site_part, contact_part, nonce, agent, *rest = value.split(".")
        site_id, contact_id = int(site_part), int(contact_part)
        requester_id = int(rest[0]) if rest else None
        if len(rest) > 1:
            return None
    except (signing.BadSignature, ValueError):
        return None
    if site_id != site.pk or not secrets.compare_digest(agent, _agent_digest(user_agent)):
        return None
    contact = Contact.objects.filter(pk=contact_id, site=site).first()
    if contact is None:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            UsedToken.objects.create(nonce=nonce, used_at=now)
    except IntegrityError:  # used already, perhaps by a concurrent request
        return None
    UsedToken.objects.filter(used_at__lt=now - KEEP_USED).delete()
    return Redeemed(contact=contact, requester_id=requester_id)

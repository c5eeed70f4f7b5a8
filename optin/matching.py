"""Matching visitors (browsers) to contacts (phone numbers): the links the gate makes.

Who may link what is decided by the gate (``optin/gate.py``); this module keeps the links:

- The shop's server (secret key) is authoritative: it links, and re-links a visitor it says
  belongs to someone else; the most recent authenticated identification wins.
- A signed short-link token links the browser that opened the link, once, soon after the tap
  (``optin.tokens``), unless the shop's server already linked that browser.
- A claim (the snippet, the hosted page, a platform's checkout) links a browser only to a
  number whose consent it starts, and never takes a visitor the shop's server or another
  claim linked; it does take one from a token's link (the browser's own, newer
  identification).

One contact may own many visitors (phone, laptop); a visitor belongs to at most one contact,
which the database keeps (one link per visitor); a race is settled by that constraint.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from optin.models import Contact, VisitorLink
from optin.tasks import send_confirmation_email, send_confirmation_sms
from retargeting.channels import Channel
from retargeting.tracking.models import Visitor

logger = logging.getLogger(__name__)


def enqueue_confirmation(contact_id: int, channel: str = Channel.SMS) -> None:
    """Queue the confirmation SMS (or email); with the broker down, the next dispatch pass
    sends it."""
    task = send_confirmation_email if channel == Channel.EMAIL else send_confirmation_sms
    try:
        task.delay(contact_id)
    except KombuOperationalError as exc:
        logger.warning(
            "confirmation of contact %s not queued (%s): the next dispatch pass sends it",
            contact_id,
            exc,
        )


Method = VisitorLink.Method
# Which methods may replace a link made by which. A snippet's claim links a browser only to a
# number it starts the consent of (a number with no consent state: see gate._claimed),
# so it may take a browser from a token: the browser's own identify, to be confirmed by the
# number's owner before any reminder, wins over a link tapped earlier (perhaps someone else's
# link, posted for others).
_MAY_REPLACE = {
    Method.SERVER: {Method.SERVER, Method.TOKEN, Method.SNIPPET},
    Method.TOKEN: {Method.TOKEN, Method.SNIPPET},
    Method.SNIPPET: {Method.TOKEN},
}


def link_visitor(*, visitor: Visitor, contact: Contact, method: str) -> bool:
    """Link ``visitor`` to ``contact`` if the rules allow it; return whether it is linked."""
    now = timezone.now()
    existing = VisitorLink.objects.filter(visitor=visitor).first()
    if existing is None:
        try:
            with transaction.atomic():
                VisitorLink.objects.create(
                    visitor=visitor, contact=contact, method=method, linked_at=now
                )
            return True
        except IntegrityError:  # linked by a concurrent request: apply the rules to it
            existing = VisitorLink.objects.get(visitor=visitor)
    if existing.contact_id == contact.pk:
        if method == Method.SERVER and existing.method != Method.SERVER:
            existing.method = Method.SERVER
            existing.save(update_fields=["method"])
        return True
    if existing.method in _MAY_REPLACE[Method(method)]:
        # Only the link as it was read: one another request changed meanwhile (the shop's
        # server linking the browser) is judged again, never overwritten.
        replaced = VisitorLink.objects.filter(
            pk=existing.pk, contact_id=existing.contact_id, method=existing.method
        ).update(contact=contact, method=method, linked_at=now)
        if not replaced:
            return link_visitor(visitor=visitor, contact=contact, method=method)
        return True
    return False


def visitor_has_contact(site_id: int, vid: str) -> bool:
    """Whether the browser ``vid`` of the site is tied to a number."""
    return VisitorLink.objects.filter(visitor__site_id=site_id, visitor__vid=vid).exists()


def visitors_of_phone(site_id: int, phone: str) -> list[str]:
    """The visitor ids of the number's browsers on the site, most recently seen first.

    Only browsers proven to be the number's (linked by the shop's server or by a tap on our
    link): a browser that merely claimed the number must not receive, or replace, the carts the
    shop's server reports for it."""
    return list(
        VisitorLink.objects.filter(
            contact__site_id=site_id,
            contact__phone=phone,
            method__in=[Method.SERVER, Method.TOKEN],
        )
        .order_by("-visitor__last_seen_at")
        .values_list("visitor__vid", flat=True)[:20]
    )

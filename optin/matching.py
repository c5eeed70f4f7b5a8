"""Matching visitors (browsers) to contacts (phone numbers), as identify events arrive.

- The shop's server (secret key) is authoritative: it links, and re-links a visitor it says
  belongs to someone else; the most recent authenticated identification wins.
- A signed short-link token links the browser that opened the link, once, soon after the tap
  (``optin.tokens``), unless the shop's server already linked that browser.
- The snippet (or the hosted page) is a claim: it links a browser only to a number whose
  consent it starts (a double opt-in the number's owner must answer), never to a number that
  already has a consent state, and never takes a visitor the shop's server or another claim
  linked; it does take one from a token's link (the browser's own, newer identification).

One contact may own many visitors (phone, laptop); a visitor belongs to at most one contact,
which the database keeps (one link per visitor); a race is settled by that constraint.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError as KombuOperationalError

from optin.consent import ConsentBlocked, is_live, record_consent
from optin.contacts import get_or_create_contact
from optin.models import ConsentSource, ConsentStatus, Contact, VisitorLink
from optin.tasks import send_confirmation_sms
from optin.tokens import contact_for_token
from retargeting.sites.models import Site
from retargeting.tracking.models import Visitor
from retargeting.tracking.signals import identify_received

logger = logging.getLogger(__name__)


def _enqueue_confirmation(contact_id: int) -> None:
    """Queue the confirmation SMS; with the broker down, the next dispatch pass sends it."""
    try:
        send_confirmation_sms.delay(contact_id)
    except KombuOperationalError as exc:
        logger.warning(
            "confirmation SMS of contact %s not queued (%s): the next dispatch pass sends it",
            contact_id,
            exc,
        )


Method = VisitorLink.Method
# Which methods may replace a link made by which. A snippet's claim links a browser only to a
# number it starts the consent of (a number with no consent state: see _anonymous_identify),
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
        existing.contact, existing.method, existing.linked_at = contact, method, now
        existing.save(update_fields=["contact", "method", "linked_at"])
        return True
    return False


def identify(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    authenticated: bool,
    ip: str | None = None,
    user_agent: str = "",
    source: str | None = None,
) -> Contact | None:
    """Apply one identify event: the contact, its consent, and the visitor's link.

    ``source`` names where the consent was given when it is not the snippet or the server API
    (the hosted page).
    """
    if "token" in event:
        if visitor is None:  # nothing to link: the token stays for its browser
            return None
        contact = contact_for_token(event["token"], site=site, user_agent=user_agent)
        if contact is not None:
            link_visitor(visitor=visitor, contact=contact, method=Method.TOKEN)
        return contact
    if not authenticated:
        return _anonymous_identify(
            site=site, visitor=visitor, event=event, ip=ip, user_agent=user_agent, source=source
        )
    with transaction.atomic():
        contact, _ = get_or_create_contact(
            site=site, raw_phone=event["phone"], first_name=event.get("first_name", "")
        )
        consent = event.get("consent") or {}
        if consent.get("withdrawn") and is_live(status=contact.consent_status):
            # The shop's platform says the customer unsubscribed there: honoured here too.
            record_consent(
                contact=contact,
                status=ConsentStatus.REVOKED,
                source=source or ConsentSource.SERVER_API,
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
            )
        elif (
            consent.get("granted")
            and not is_live(status=contact.consent_status)
            and not _platform_may_not_restore(contact, consent)
        ):
            try:
                record_consent(
                    contact=contact,
                    status=ConsentStatus.GRANTED,
                    source=source or ConsentSource.SERVER_API,
                    text=consent.get("text", ""),
                    ip=ip,
                    user_agent=user_agent,
                )
            except ConsentBlocked:
                logger.info("consent refused: the number said STOP before it was erased")
        if visitor is not None:
            link_visitor(visitor=visitor, contact=contact, method=Method.SERVER)
    return contact


# Revocations only the number's owner makes: a platform's stored consent never undoes them.
_OWNERS_STOP = {ConsentSource.KEYWORD, ConsentSource.OPT_OUT_LINK, ConsentSource.PROVIDER}


def _platform_may_not_restore(contact: Contact, consent: dict[str, Any]) -> bool:
    """Whether a consent a platform reports (it dates it: ``given_at``) must not restore a
    revoked contact. A platform keeps its consent fields as they were ticked (a checkout updated
    later still says ``buyer_accepts_sms_marketing``), so it never undoes a STOP the number sent
    us (a reply, our opt-out link, the provider's list); a revocation of another kind (the
    platform's own "unsubscribed") is undone only by a consent the platform dates after it, and
    an undated one counts as older. The shop's server API (undated) is the shop's word for now."""
    if "given_at" not in consent or contact.consent_status != ConsentStatus.REVOKED:
        return False
    latest = (
        contact.consents.filter(status=ConsentStatus.REVOKED)
        .order_by("-created_at", "-id")
        .values_list("source", "created_at")
        .first()
    )
    if latest is None:
        return False
    source, revoked_at = latest
    if source in _OWNERS_STOP:
        logger.info("a platform's consent after the number's own STOP: not restored")
        return True
    given_at = consent.get("given_at")
    try:
        when = parse_datetime(given_at) if isinstance(given_at, str) else None
    except ValueError:  # well formed but no date (a 30th of February)
        when = None
    if when is None:
        return True
    if timezone.is_naive(when):
        when = when.replace(tzinfo=UTC)
    return when <= revoked_at


def _anonymous_identify(
    *,
    site: Site,
    visitor: Visitor | None,
    event: dict[str, Any],
    ip: str | None,
    user_agent: str,
    source: str | None,
) -> Contact | None:
    """An identify nobody vouches for (the snippet, the hosted page): a claim.

    It may start the consent of a number the site has no consent state for (a double opt-in,
    or the shop's single opt-in) and link this browser to it. A number that already has a state
    (pending, granted, confirmed, revoked) is left exactly as it is: its first name, its
    consent, and which browsers are its own; only the number's owner (answering or tapping our
    SMS) or the shop's server can change those. The answer is the same either way, so a
    stranger learns nothing about which numbers a shop knows.
    """
    consent = event.get("consent") or {}
    known = Contact.objects.filter(site=site, phone=event["phone"]).first()
    if known is not None and known.consent_status != Contact.NO_CONSENT:
        logger.info("identify of a number with a consent state, from a browser: a claim only")
        return known
    with transaction.atomic():
        contact, _ = get_or_create_contact(
            site=site, raw_phone=event["phone"], first_name=event.get("first_name", "")
        )
        if not consent.get("granted"):
            return contact
        immediate = not site.double_opt_in
        try:
            record_consent(
                contact=contact,
                status=ConsentStatus.GRANTED if immediate else ConsentStatus.PENDING,
                source=source or ConsentSource.SNIPPET,
                text=consent.get("text", ""),
                ip=ip,
                user_agent=user_agent,
            )
        except ConsentBlocked:
            logger.info("consent refused: the number said STOP before it was erased")
            return contact
        if not immediate:
            transaction.on_commit(lambda: _enqueue_confirmation(contact.pk))
        if visitor is not None:
            link_visitor(visitor=visitor, contact=contact, method=Method.SNIPPET)
    return contact


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


@receiver(identify_received, dispatch_uid="optin.matching.on_identify")
def on_identify(
    *,
    site_id: int,
    visitor_id: int | None,
    event: dict[str, Any],
    authenticated: bool,
    ip: str | None = None,
    user_agent: str = "",
    **kwargs: Any,
) -> None:
    site = Site.objects.get(pk=site_id)
    visitor = Visitor.objects.filter(pk=visitor_id).first() if visitor_id else None
    identify(
        site=site,
        visitor=visitor,
        event=event,
        authenticated=authenticated,
        ip=ip,
        user_agent=user_agent,
    )

"""RGPD erasure: a contact's personal data removed everywhere, except a keyed hash of each
address that opted out (a number that said STOP, an email address that unsubscribed), so that
it is never messaged again on that channel.

Erasure is for one site: another shop that knows the same number keeps its own rows, and the
messages exchanged over a sender it shares with this site while it still knows the number.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from optin.confirmation import number_limit_keys
from optin.email_confirmation import address_limit_keys
from optin.models import OPT_OUT_SOURCES, Consent, ConsentStatus, Contact, DoNotContact
from optin.signals import contact_erasing
from retargeting.channels import Channel
from retargeting.channels.email_addresses import normalize_email
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.sites.models import Site
from retargeting.sites.senders import sites_sending_from
from retargeting.sms.phones import InvalidPhone, mask, mask_email, parse_phone
from retargeting.tracking.models import Event, Visitor
from retargeting.web.ratelimit import forget

logger = logging.getLogger(__name__)

ERASED = "erased"


def phone_hash(e164: str) -> str:
    """The keyed hash of a number (or of a normalised email address): not reversible without
    ERASURE_HASH_KEY."""
    key = settings.ERASURE_HASH_KEY.encode()
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()


def email_hash(email: str) -> str:
    """The keyed hash of a normalised email address (its own channel's do-not-contact)."""
    return phone_hash(email)


def is_blocked(*, site_id: int, e164: str = "", email: str = "") -> bool:
    """Whether an erased address that opted out asks to be messaged again: the number on SMS,
    the email address (normalised) on email; each channel's entry blocks that channel only."""
    found = Q(pk__in=[])
    if e164:
        found |= Q(channel=Channel.SMS, phone_hash=phone_hash(e164))
    if email:
        found |= Q(channel=Channel.EMAIL, phone_hash=email_hash(email))
    return DoNotContact.objects.filter(found, site_id=site_id).exists()


@dataclass(frozen=True)
class ErasureReport:
    contact_found: bool
    kept_do_not_contact: bool
    events_scrubbed: int
    messages_deleted: int
    visitors_deleted: int = 0


def erase_contact(*, site: Site, raw_phone: str = "", raw_email: str = "") -> ErasureReport:
    """Remove every trace of a number or an email address from a site. Raises
    ``InvalidPhone`` or ``InvalidEmail`` (``ValueError`` when neither is given).

    The contact found by either address goes whole (its other address with it). Gone: the
    contact and its consent history, the browsers it owned with their events and carts, its
    sends (with their short links, clicks and history: receivers of ``contact_erasing``), the
    messages exchanged with its number over the site's sender, and the rate-limit counts that
    hold its addresses. Identify and purchase events of other browsers lose the number, the
    address and the name. Conversions (order id, total) stay, linked to nothing. Each address
    that opted out on its channel (``OPT_OUT_SOURCES``) is kept as a keyed hash on that channel.
    """
    e164 = parse_phone(raw_phone, default_region=site.country).e164 if raw_phone else ""
    email = normalize_email(raw_email) if raw_email else ""
    if not e164 and not email:
        raise ValueError("a number or an email address to erase")
    with transaction.atomic():
        found = Q(pk__in=[])
        if e164:
            found |= Q(phone=e164)
        if email:
            found |= Q(email=email)
        contacts = list(Contact.objects.filter(found, site=site))
        blocked: list[tuple[str, str]] = []
        visitor_ids: list[int] = []
        phones, emails = {e164} - {""}, {email} - {""}
        for contact in contacts:
            phones |= {contact.phone} - {""}
            emails |= {contact.email} - {""}
            opted_out = set(
                contact.consents.filter(
                    status=ConsentStatus.REVOKED, source__in=OPT_OUT_SOURCES
                ).values_list("channel", flat=True)
            )
            if Channel.SMS in opted_out and contact.phone:
                blocked.append((Channel.SMS, phone_hash(contact.phone)))
            if Channel.EMAIL in opted_out and contact.email:
                blocked.append((Channel.EMAIL, email_hash(contact.email)))
            visitor_ids += list(contact.visitor_links.values_list("visitor_id", flat=True))
            contact_erasing.send(sender=Contact, contact_id=contact.pk, site_id=site.pk)
            contact.visitor_links.all().delete()
            Consent.objects.filter(contact=contact).erase()
            contact.delete()
        for channel, digest in blocked:
            DoNotContact.objects.get_or_create(
                site=site,
                channel=channel,
                phone_hash=digest,
                defaults={"reason": "stop", "created_at": timezone.now()},
            )
        # Their events and carts go with them (and the sends of those carts, by cascade).
        visitors = Visitor.objects.filter(site=site, pk__in=visitor_ids).delete()[1]
        scrubbed = sum(_scrub_events(site=site, e164=phone) for phone in sorted(phones))
        scrubbed += sum(_scrub_email_events(site=site, email=address) for address in emails)
        deleted = sum(_delete_messages(site=site, e164=phone) for phone in sorted(phones))
    for phone in phones:
        _forget_limits(number_limit_keys(site.pk, phone), mask(phone))
    for address in emails:
        _forget_limits(address_limit_keys(site.pk, address), mask_email(address))
    return ErasureReport(
        bool(contacts), bool(blocked), scrubbed, deleted, visitors.get(Visitor._meta.label, 0)
    )


def _forget_limits(keys: list[tuple[str, int]], masked: str) -> None:
    """The rate-limit counts keyed by the address. With the cache away they stay until their
    window ends (a day at most): not a reason to undo the erasure."""
    try:
        for key, window in keys:
            forget(key=key, window_seconds=window)
    except Exception as exc:  # the cache (Redis) is away
        logger.warning("rate-limit counts of %s not forgotten: %s", masked, exc)


def _scrub_email_events(*, site: Site, email: str) -> int:
    """Identify, purchase and email-cart events that carry the address lose it, the name given
    with it and the wording of its consent."""
    count = 0
    events = Event.objects.filter(site=site, payload__has_key="email")
    for event in events.only("pk", "payload").iterator(chunk_size=2000):
        payload = dict(event.payload)
        raw = payload.get("email")
        if not isinstance(raw, str) or raw.strip().lower() != email:
            try:
                if normalize_email(raw) != email:
                    continue
            except ValueError:
                continue
        for key in ("email", "first_name"):
            if key in payload:
                payload[key] = ERASED
        if isinstance(payload.get("email_consent"), dict):
            payload["email_consent"] = {**payload["email_consent"], "text": ERASED}
        for key in ("proof", "email_proof"):
            if key in payload:
                payload[key] = ERASED
        Event.objects.filter(pk=event.pk).update(payload=payload)
        count += 1
    return count


def _scrub_events(*, site: Site, e164: str) -> int:
    """Identify and purchase events of other browsers (or of none: the shop's server) that
    carry the number, in any form it was typed, lose it and the name given with it."""
    events = Event.objects.filter(
        site=site, type__in=[Event.Type.IDENTIFY, Event.Type.PURCHASE], payload__has_key="phone"
    )
    # The collector and the API store numbers in E.164, found by the database; a number kept
    # in another form (as typed) is read in Python, so that no form escapes.
    events = events.filter(Q(payload__phone=e164) | ~Q(payload__phone__regex=r"^\+[0-9]+$"))
    count = 0
    for event in events.only("pk", "payload").iterator(chunk_size=2000):
        payload = dict(event.payload)
        if not _is_number(payload.get("phone"), e164=e164, region=site.country):
            continue
        for key in ("phone", "first_name"):
            if key in payload:
                payload[key] = ERASED
        if isinstance(payload.get("consent"), dict):
            payload["consent"] = {**payload["consent"], "text": ERASED}
        if "proof" in payload:  # a platform's consent fields, which name the number too
            payload["proof"] = ERASED
        Event.objects.filter(pk=event.pk).update(payload=payload)
        count += 1
    return count


def _is_number(value: object, *, e164: str, region: str) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return parse_phone(value, default_region=region).e164 == e164
    except InvalidPhone:
        return False


def _delete_messages(*, site: Site, e164: str) -> int:
    """The messages exchanged with the number over a sender this site sends from.

    A sender is this site's when replies to it reach the site (``sites_sending_from``). When
    another site sending from it still knows the number, the messages may be that shop's too,
    and stay; the site's own sends were already removed with their provider copies.
    """
    # Imported here: the replies module needs the consent module, which needs this one.

    def ours(sender: str) -> bool:
        sites = sites_sending_from(sender)
        others = [other.pk for other in sites if other.pk != site.pk]
        return site in sites and not Contact.objects.filter(site__in=others, phone=e164).exists()

    deleted = 0
    inbound = InboundMessage.objects.filter(sender=e164)
    for recipient in set(inbound.values_list("recipient", flat=True)):
        if ours(recipient):
            deleted += inbound.filter(recipient=recipient).delete()[0]
    outbound = OutboxMessage.objects.filter(to=e164)
    for sender in set(outbound.values_list("sender", flat=True)):
        if ours(sender):
            deleted += outbound.filter(sender=sender).delete()[0]
    return deleted

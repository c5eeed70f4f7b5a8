"""RGPD erasure: a contact's personal data removed everywhere, except a keyed hash of a
number that said STOP, so that it is never messaged again."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from optin.models import Consent, ConsentSource, ConsentStatus, Contact, DoNotContact
from optin.signals import contact_erasing
from retargeting.gateways.models import InboundMessage, OutboxMessage
from retargeting.phones import parse_phone
from retargeting.sites.models import Site
from retargeting.tracking.models import Event

ERASED = "erased"


def phone_hash(e164: str) -> str:
    """The keyed hash of a number: not reversible without ERASURE_HASH_KEY."""
    key = settings.ERASURE_HASH_KEY.encode()
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()


def is_blocked(*, site_id: int, e164: str) -> bool:
    """Whether an erased number that said STOP asks to be messaged again."""
    return DoNotContact.objects.filter(site_id=site_id, phone_hash=phone_hash(e164)).exists()


@dataclass(frozen=True)
class ErasureReport:
    contact_found: bool
    kept_do_not_contact: bool
    events_scrubbed: int
    messages_deleted: int


def erase_contact(*, site: Site, raw_phone: str) -> ErasureReport:
    """Remove every trace of a number from a site. Raises ``InvalidPhone``."""
    e164 = parse_phone(raw_phone, default_region=site.country).e164
    with transaction.atomic():
        contact = Contact.objects.filter(site=site, phone=e164).first()
        said_stop = False
        visitor_ids: list[int] = []
        if contact is not None:
            said_stop = contact.consents.filter(
                status=ConsentStatus.REVOKED,
                source__in=[ConsentSource.KEYWORD, ConsentSource.PROVIDER],
            ).exists()
            visitor_ids = list(contact.visitor_links.values_list("visitor_id", flat=True))
            contact_erasing.send(sender=Contact, contact_id=contact.pk, site_id=site.pk)
            contact.visitor_links.all().delete()
            Consent.objects.filter(contact=contact).erase()
            contact.delete()
        if said_stop:
            DoNotContact.objects.get_or_create(
                site=site,
                phone_hash=phone_hash(e164),
                defaults={"reason": "stop", "created_at": timezone.now()},
            )
        scrubbed = _scrub_events(site=site, e164=e164, visitor_ids=visitor_ids)
        deleted = OutboxMessage.objects.filter(to=e164).delete()[0]
        deleted += InboundMessage.objects.filter(sender=e164).delete()[0]
    return ErasureReport(contact is not None, said_stop, scrubbed, deleted)


def _scrub_events(*, site: Site, e164: str, visitor_ids: list[int]) -> int:
    """Identify and purchase events that carry the number or the name lose them."""
    events = Event.objects.filter(site=site, type__in=[Event.Type.IDENTIFY, Event.Type.PURCHASE])
    events = events.filter(Q(visitor_id__in=visitor_ids) | Q(payload__phone=e164))
    count = 0
    for event in events.only("pk", "payload"):
        payload = dict(event.payload)
        if payload.get("phone") != e164 and not (
            event.visitor_id in visitor_ids and event.type == Event.Type.IDENTIFY
        ):
            continue
        for key in ("phone", "first_name"):
            if key in payload:
                payload[key] = ERASED
        if isinstance(payload.get("consent"), dict):
            payload["consent"] = {**payload["consent"], "text": ERASED}
        Event.objects.filter(pk=event.pk).update(payload=payload)
        count += 1
    return count

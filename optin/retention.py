"""Erasing prospects who have shown no sign of life for PROSPECT_RETENTION_DAYS (3 years)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from optin.erasure import erase_contact
from optin.models import Contact


def erase_inactive_prospects(*, now: datetime | None = None) -> int:
    """Erase contacts with no change, message, consent or visit since the cutoff."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PROSPECT_RETENTION_DAYS)
    inactive = (
        Contact.objects.filter(updated_at__lt=cutoff)
        .exclude(last_messaged_at__gte=cutoff)
        .exclude(last_emailed_at__gte=cutoff)
        .exclude(consents__created_at__gte=cutoff)
        .exclude(visitor_links__visitor__last_seen_at__gte=cutoff)
        .select_related("site")
        .distinct()
    )
    count = 0
    for contact in inactive.iterator():
        erase_contact(site=contact.site, raw_phone=contact.phone, raw_email=contact.email)
        count += 1
    return count

"""The frequency cap: how many marketing SMS a contact may get from a site, and when.

The one home of the rule. Only messages the provider took count (accepted, sent, delivered,
undelivered), plus those in flight or of unknown fate, counted to be safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models.functions import Coalesce

from campaigns.models import Send, SendStatus
from campaigns.send_states import TAKEN
from optin.models import Contact
from retargeting.sites.models import Site

COUNTED = (SendStatus.SENDING, *TAKEN)
DAY, WEEK = timedelta(hours=24), timedelta(days=7)


def next_allowed(
    *, site: Site, contact: Contact, at: datetime, exclude: int | None = None
) -> datetime:
    """``at`` if the contact may get one more message then; otherwise when the cap frees."""
    rows = Send.objects.filter(contact=contact, site=site, status__in=COUNTED)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    # Only the week's messages, in one indexed query, however many the contact ever got.
    sent = list(
        rows.annotate(moment=Coalesce("sent_at", "claimed_at"))
        .filter(moment__gt=at - WEEK)
        .order_by("moment")
        .values_list("moment", flat=True)
    )
    allowed = at
    for cap, period in ((site.cap_per_24h, DAY), (site.cap_per_7d, WEEK)):
        recent = [moment for moment in sent if moment > at - period]
        if len(recent) >= cap:
            # When the oldest message that keeps the count at the cap leaves the period.
            allowed = max(allowed, recent[len(recent) - cap] + period)
    return allowed

"""The frequency cap: how many marketing SMS a contact may get from a site, and when.

The one home of the rule. Only messages the provider took count (accepted, sent, delivered,
undelivered), plus those in flight or of unknown fate, counted to be safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
    sent = sorted(
        moment
        for sent_at, claimed_at in rows.values_list("sent_at", "claimed_at")
        if (moment := sent_at or claimed_at) is not None and moment > at - WEEK
    )
    allowed = at
    for cap, period in ((site.cap_per_24h, DAY), (site.cap_per_7d, WEEK)):
        recent = [moment for moment in sent if moment > at - period]
        if len(recent) >= cap:
            # When the oldest message that keeps the count at the cap leaves the period.
            allowed = max(allowed, recent[len(recent) - cap] + period)
    return allowed

"""The frequency cap: how many marketing messages a contact may get from a site on a channel,
and when.

The one home of the rule. Each channel has its own count: an email never uses up the SMS cap,
nor the reverse. Only messages the provider took count (accepted, sent, delivered,
undelivered), plus those in flight or of unknown fate, counted to be safe; the bridge's emails
(asked for by the shopper, trigger ``email_cart``) never count. A single send asks
:func:`next_allowed`; a batch reads every contact's week once with :func:`recent_messages` and
asks :func:`allowed_after` for each send, adding what it sends as it goes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta

from django.db.models.functions import Coalesce

from campaigns.models import Send, SendStatus
from campaigns.send_states import TAKEN
from campaigns.trigger_registry import uncapped
from optin.models import Contact
from retargeting.channels import Channel
from retargeting.sites.models import Site

COUNTED = (SendStatus.SENDING, *TAKEN)
DAY, WEEK = timedelta(hours=24), timedelta(days=7)


def next_allowed(
    *,
    site: Site,
    contact: Contact,
    at: datetime,
    exclude: int | None = None,
    channel: str = Channel.SMS,
) -> datetime:
    """``at`` if the contact may get one more message on ``channel`` then; otherwise when the
    cap frees."""
    sent = recent_messages(
        contact_ids=[contact.pk], at=at, exclude=[] if exclude is None else [exclude]
    )
    return allowed_after(sent.get((site.pk, contact.pk, channel), []), site=site, at=at)


def recent_messages(
    *, contact_ids: Collection[int], at: datetime, exclude: Collection[int] = ()
) -> dict[tuple[int, int, str], list[datetime]]:
    """The counted messages of the week before ``at`` of each contact, by (site, contact,
    channel), oldest first, in one indexed query however many contacts or messages there are."""
    rows = Send.objects.filter(contact_id__in=list(contact_ids), status__in=COUNTED).exclude(
        step__flow__trigger__in=uncapped()
    )
    if exclude:
        rows = rows.exclude(pk__in=list(exclude))
    found: dict[tuple[int, int, str], list[datetime]] = defaultdict(list)
    for site_id, contact_id, channel, moment in (
        rows.annotate(moment=Coalesce("sent_at", "claimed_at"))
        .filter(moment__gt=at - WEEK)
        .order_by("moment")
        .values_list("site_id", "contact_id", "channel", "moment")
    ):
        found[(site_id, contact_id, channel)].append(moment)
    return dict(found)


def allowed_after(sent: list[datetime], *, site: Site, at: datetime) -> datetime:
    """When one more message may go, given the moments of the ones already ``sent``."""
    allowed = at
    ordered = sorted(sent)
    for cap, period in ((site.cap_per_24h, DAY), (site.cap_per_7d, WEEK)):
        recent = [moment for moment in ordered if moment > at - period]
        if len(recent) >= cap:
            # When the oldest message that keeps the count at the cap leaves the period.
            allowed = max(allowed, recent[len(recent) - cap] + period)
    return allowed

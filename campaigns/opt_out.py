"""The one-tap opt-out link (``SHORT_LINK_BASE_URL/u/CODE``, see ``sms_text.opt_out_url``):
made once per send, for the send's channel, and what its button does (the page is
``campaigns.customer.opt_out``).

In an SMS it is the way to stop where nobody can answer the sender (an alphanumeric ID), and
any text may carry it (``{{ stop_link }}``). In an email it is the unsubscribe link and the
``List-Unsubscribe`` header's URL, which mail providers POST to (RFC 8058 one-click). Opening
it changes nothing; only a POST revokes the address's consent, for the link's channel and the
shop that sent it, with its proof.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import OptOutLink, Send
from optin.consent import revoke
from optin.models import ConsentSource
from retargeting.channels import Channel

_BASE62 = string.digits + string.ascii_letters
CODE_LENGTH = 10


def link_for(send: Send) -> OptOutLink:
    """The send's opt-out link, made once."""
    existing = OptOutLink.objects.filter(send=send).first()
    if existing:
        return existing
    assert send.contact_id is not None  # a send is rendered for a contact
    try:
        with transaction.atomic():
            return OptOutLink.objects.create(
                code="".join(secrets.choice(_BASE62) for _ in range(CODE_LENGTH)),
                channel=send.channel,
                site_id=send.site_id,
                contact_id=send.contact_id,
                send=send,
                created_at=timezone.now(),
            )
    except IntegrityError:
        # Another worker rendered the same send at the same moment: its link is the one.
        return OptOutLink.objects.get(send=send)


def links_for(sends: Sequence[Send]) -> dict[int, OptOutLink]:
    """The opt-out links of ``sends`` by send id, those missing made, in two queries (the
    sends of a batch, each claimed by this worker alone)."""
    links = {
        link.send_id: link
        for link in OptOutLink.objects.filter(send__in=list(sends))
        if link.send_id is not None
    }
    now = timezone.now()
    missing = []
    for send in sends:
        if send.pk in links or send.contact_id is None:
            continue
        missing.append(
            OptOutLink(
                code="".join(secrets.choice(_BASE62) for _ in range(CODE_LENGTH)),
                channel=send.channel,
                site_id=send.site_id,
                contact_id=send.contact_id,
                send=send,
                created_at=now,
            )
        )
    OptOutLink.objects.bulk_create(missing)
    links.update((link.send_id, link) for link in missing if link.send_id is not None)
    return links


@dataclass(frozen=True)
class OptOutResult:
    revoked: bool
    """False when the address had already opted out on that channel: nothing was recorded."""


def opt_out_by_link(
    *, link: OptOutLink, wording: str, ip: str | None, user_agent: str, at: datetime | None = None
) -> OptOutResult:
    """Revoke the consent of the link's address on the link's channel (an SMS link the phone
    number's, an email link the email address's) for the link's shop only, with its proof:
    the button's ``wording`` (or the one-click request's), the link and the send it came in,
    the time, the truncated IP and the user agent. Another channel's consent and another
    shop's are untouched; whatever came meanwhile (a START), the link revokes; a second use
    records nothing."""
    source = (
        ConsentSource.UNSUBSCRIBE if link.channel == Channel.EMAIL else ConsentSource.OPT_OUT_LINK
    )
    revoked = revoke(
        contact=link.contact,
        channel=link.channel,
        source=source,
        text=f"{wording} (opt-out link {link.code}, send {link.send_id or 'deleted'})",
        ip=ip,
        user_agent=user_agent,
        at=at,
    )
    return OptOutResult(revoked=revoked is not None)

"""The number's owner answering our SMS, as the provider's inbound webhook hands it over."""

from __future__ import annotations

import itertools

from django.conf import settings

from retargeting.gateways.base import InboundSms
from retargeting.gateways.inbound import receive_inbound

_ids = itertools.count(1)


def answer(site, phone: str, body: str = "OUI") -> str | None:
    """``phone`` replies ``body`` to the site's sender (OUI confirms its pending opt-in)."""
    return receive_inbound(
        provider="outbox",
        sms=InboundSms(
            provider_id=f"SMowner{next(_ids)}",
            sender=phone,
            recipient=site.sender or settings.TWILIO_FROM,
            body=body,
        ),
    )

"""Which shops send from a sender: the one rule for replies, erasure and shop times.

A shop sends from its own sender (``Site.sender``, one shop's only) or, without one, from the
platform's (the configured provider's default sender: ``TWILIO_FROM`` or the Messaging
Service's numbers on Twilio). A reply to a number no shop claims came to one of the platform's.
"""

from __future__ import annotations

from retargeting.sites.models import Site
from retargeting.sites.platform_sender import default_sender


def sites_sending_from(recipient: str) -> list[Site]:
    """The sites whose messages come from ``recipient``."""
    own = list(Site.objects.filter(sender=recipient)) if recipient else []
    if own and recipient != default_sender():
        return own
    return own + list(Site.objects.filter(sender=""))

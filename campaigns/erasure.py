"""What an erasure removes from the campaign data: the text of the contact's messages."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from campaigns.models import Send
from optin.signals import contact_erasing


@receiver(contact_erasing, dispatch_uid="campaigns.erasure.blank_sends")
def blank_sends(*, contact_id: int, **kwargs: Any) -> None:
    """Sends stay for the figures; their text (a first name, a link) goes."""
    Send.objects.filter(contact_id=contact_id).update(body="")

"""Email: a contact's address (normalised, ``email_addresses.normalize_email``). The frequency
cap applies (its own count, apart from SMS's); quiet hours apply unless the site turns them
off for email (``Site.email_quiet_hours``); the opt-out is the footer's unsubscribe link and the
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers (RFC 8058 one-click)."""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings

import retargeting.gateways as gateways
from retargeting.channels import Channel
from retargeting.channels.base import ChannelRoom, OptOutStyle
from retargeting.gateways.base import OutgoingEmail, OutgoingSms


class EmailRoom(ChannelRoom):
    channel = Channel.EMAIL
    address_field = "email"
    consent_field = "email_consent_status"
    unreachable_field = "email_unreachable_at"
    messaged_field = "last_emailed_at"
    opt_out_style = OptOutStyle.FOOTER

    def quiet_hours_apply(self, site: Any) -> bool:
        return bool(site.email_quiet_hours)

    def sender(self, site: Any) -> str:
        """The site's ``email_from``; without one, the platform's address under the shop's
        name (the customer sees who writes)."""
        if site.email_from:
            return str(site.email_from)
        address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1]
        return formataddr((str(site.name), address)) if address else ""

    def available(self) -> bool:
        # The email providers' registry says whether email is configured, once it has a say.
        check = getattr(gateways, "email_available", None)
        return True if check is None else bool(check())

    def outgoing(
        self,
        *,
        to: str,
        text: str,
        sender: str,
        tag: str,
        subject: str = "",
        html: str = "",
        headers: dict[str, str] | None = None,
        status_callback: str = "",
        validity_seconds: int | None = None,
    ) -> OutgoingSms | OutgoingEmail:
        return OutgoingEmail(
            to=to,
            subject=subject,
            text=text,
            html=html,
            sender=sender,
            headers=dict(headers or {}),
            tag=tag,
        )


EMAIL = EmailRoom()

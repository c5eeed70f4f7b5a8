"""SMS: a contact's mobile number (E.164). Quiet hours and the frequency cap always apply;
the opt-out is a mention in the text (``campaigns.flows`` chooses which one works on the
site's route)."""

from __future__ import annotations

from typing import Any

from retargeting.channels import Channel
from retargeting.channels.base import ChannelRoom, OptOutStyle
from retargeting.gateways.base import OutgoingEmail, OutgoingSms


class SmsRoom(ChannelRoom):
    channel = Channel.SMS
    address_field = "phone"
    consent_field = "consent_status"
    unreachable_field = "unreachable_at"
    messaged_field = "last_messaged_at"
    opt_out_style = OptOutStyle.MENTION

    def quiet_hours_apply(self, site: Any) -> bool:
        return True

    def sender(self, site: Any) -> str:
        return str(site.sender)

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
        return OutgoingSms(
            to=to,
            body=text,
            sender=sender,
            status_callback=status_callback,
            tag=tag,
            validity_seconds=validity_seconds,
        )


SMS = SmsRoom()

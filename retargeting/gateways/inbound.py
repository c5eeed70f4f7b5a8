"""Receiving a customer's SMS: stored first, then handed to the registered handlers."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from retargeting.gateways import hooks, take_for_reply
from retargeting.gateways.base import InboundSms
from retargeting.gateways.models import InboundMessage
from retargeting.sms.phones import mask

logger = logging.getLogger(__name__)


def receive_inbound(*, provider: str, sms: InboundSms) -> str | None:
    """Record ``sms``, then act on it exactly once; return the reply to send, if any.

    The message is stored before anything acts on it. A provider retrying the same message
    gets the same reply; one whose handling failed is handled again on the retry. The reply
    leaves in the webhook's response, from the number the customer wrote to: it takes that
    sender's rate without waiting (``take_for_reply``).
    """
    try:
        with transaction.atomic():
            InboundMessage.objects.create(
                provider=provider,
                provider_id=sms.provider_id,
                sender=sms.sender,
                recipient=sms.recipient,
                body=sms.body[:2000],
                opt_out_type=sms.opt_out_type,
                received_at=timezone.now(),
            )
    except IntegrityError:
        pass  # a retry of a message already stored
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update().get(
            provider=provider, provider_id=sms.provider_id
        )
        if row.handled_at is not None:
            return row.reply or None
        reply = hooks.handle_inbound(sms)
        row.reply = reply or ""
        row.handled_at = timezone.now()
        row.save(update_fields=["reply", "handled_at"])
    logger.info("inbound %s from %s handled", sms.provider_id, mask(sms.sender))
    if reply:
        take_for_reply(sender=sms.recipient, body=reply)
    return reply

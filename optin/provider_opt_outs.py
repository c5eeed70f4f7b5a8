"""Addresses a provider reports unsubscribed, applied here: a STOP to an SMS provider's short
code (Brevo), an email provider's unsubscribe or complaint.

Registered with the gateways as the opt-out handler: the webhooks and events lists come here,
the same report as often as they like. The consent of that address on its channel is revoked
for every site sending through the provider's account (all of them: one account per
installation), with the provider's report as the proof, through ``optin.consent.revoke`` and
its one guard against stale reports.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from optin.consent import revoke
from optin.keywords import Keyword, classify
from optin.models import ConsentSource, Contact
from retargeting.channels import Channel
from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.gateways.base import OptOutReport


def apply_provider_opt_out(report: OptOutReport) -> int:
    """Revoke the consent of ``report``'s address on its channel on every site; return how
    many changed.

    Idempotent: an already revoked contact is left as it is. A report older than the
    contact's latest consent change on that channel (a START or a new opt-in since) does not
    undo it (``optin.consent.is_stale``). A reported reply counts only if it is an opt-out by
    the reply rule (optin.keywords). An email report never touches SMS consent, nor the reverse.
    """
    if report.reply and classify(report.reply) is not Keyword.STOP:
        return 0
    if report.email:
        try:
            email = normalize_email(report.email)
        except InvalidEmail:
            return 0
        channel, source, found = Channel.EMAIL, ConsentSource.EMAIL_PROVIDER, Q(email=email)
        text = f"The email provider reported the address unsubscribed ({report.provider_id})."
    elif report.phone:
        channel, source, found = Channel.SMS, ConsentSource.PROVIDER, Q(phone=report.phone)
        text = (
            f"The SMS provider reported the number unsubscribed ({report.provider_id})."
            if not report.reply
            else f"The SMS provider reported the reply {report.reply[:200]!r} "
            f"({report.provider_id})."
        )
    else:
        return 0
    changed = 0
    with transaction.atomic():
        for contact in Contact.objects.filter(found):
            row = revoke(
                contact=contact,
                channel=channel,
                source=source,
                text=text,
                inbound_message_id=report.provider_id,
                reported_at=report.at,
            )
            changed += row is not None
    return changed

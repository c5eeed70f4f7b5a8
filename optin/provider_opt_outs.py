"""Numbers the SMS provider reports unsubscribed (a STOP to its short code), applied here.

Registered with the gateways as the opt-out handler: Brevo's webhook and its events list both
come here, the same report as often as they like. The consent is revoked for every site
sending through the provider's account (all of them: one account per installation), with the
provider's report as the proof.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from optin.consent import record_consent
from optin.keywords import Keyword, classify
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.gateways.base import OptOutReport


def apply_provider_opt_out(report: OptOutReport) -> int:
    """Revoke the consent of ``report``'s number on every site; return how many changed.

    Idempotent: an already revoked contact is left as it is. A report older than the
    contact's latest consent change (a START or a new opt-in since) does not undo it. A
    reported reply counts only if it is an opt-out by the reply rule (optin.keywords).
    """
    if report.reply and classify(report.reply) is not Keyword.STOP:
        return 0
    if not report.phone:
        # About an email address (report.email): never a phone's consent, nor that of every
        # contact without a phone. Revoking the address's email consent is the email side's.
        return 0
    at = min(report.at, timezone.now())
    text = (
        f"The SMS provider reported the number unsubscribed ({report.provider_id})."
        if not report.reply
        else f"The SMS provider reported the reply {report.reply[:200]!r} ({report.provider_id})."
    )
    changed = 0
    with transaction.atomic():
        for contact in Contact.objects.filter(phone=report.phone).exclude(
            consent_status=ConsentStatus.REVOKED
        ):
            latest = (
                contact.consents.order_by("-created_at", "-id")
                .values_list("created_at", flat=True)
                .first()
            )
            # Providers date their events to the second: a change within the same second as
            # the STOP is not taken as later than it (the STOP wins).
            if latest is not None and latest - at >= timedelta(seconds=1):
                continue
            record_consent(
                contact=contact,
                status=ConsentStatus.REVOKED,
                source=ConsentSource.PROVIDER,
                text=text,
                inbound_message_id=report.provider_id[:64],
                # Never before the change it follows: the history stays in order.
                at=max(at, latest) if latest is not None else at,
            )
            changed += 1
    return changed

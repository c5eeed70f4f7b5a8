"""Double opt-in: the SMS that asks a number typed in a shop's page to confirm with OUI."""

from __future__ import annotations

import logging
import secrets
import string
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from optin.contacts import mark_messaged
from optin.models import ConsentStatus, Contact
from retargeting.gateways import deliver
from retargeting.gateways.base import Outcome, OutgoingSms
from retargeting.gateways.errors import AMBIGUOUS, NOT_HANDED
from retargeting.sites.models import Language
from retargeting.sms.phones import mask
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)
# A confirmation claimed this long ago and never handed to the provider was interrupted (a
# worker killed while it waited for the sender's rate): it is owed, and claimed again.
STUCK_AFTER = timedelta(minutes=10)

# However often a number is typed in, it gets at most this many confirmation SMS a day.
MAX_PER_NUMBER_PER_DAY = 3
DAY = 86400


def confirmations_key(phone: str) -> str:
    """The rate-limit key counting a number's confirmation SMS."""
    return f"doi:{phone}"


def hosted_page_key(site_id: int, phone: str) -> str:
    """The rate-limit key counting how often a number was typed in a shop's hosted page (per
    shop: typing it at one shop never blocks it at another)."""
    return f"optin-number:{site_id}:{phone}"


def number_limit_keys(site_id: int, phone: str) -> list[tuple[str, int]]:
    """Every rate-limit key (and its window) that holds a number: erasure forgets them."""
    return [(confirmations_key(phone), DAY), (hosted_page_key(site_id, phone), DAY)]


# How long the confirmation link works; replying OUI works as long as the consent is pending.
LINK_DAYS = 7
_CODE_ALPHABET = string.ascii_letters + string.digits


def confirmation_url(code: str) -> str:
    base = settings.SHORT_LINK_BASE_URL or settings.PUBLIC_BASE_URL
    return f"{base}/o/c/{code}"


def confirmation_text(contact: Contact) -> str:
    """The confirmation SMS; its link, when it has one, comes last (no punctuation after it)."""
    site = contact.site
    link = confirmation_url(contact.confirmation_code) if contact.confirmation_code else ""
    if site.language == Language.FR:
        text = (
            f"{site.name} : pour recevoir un rappel de votre panier par SMS, répondez OUI. "
            "Sans réponse, aucun SMS ne vous sera envoyé."
        )
        return f"{text} Ou confirmez ici : {link}" if link else text
    text = (
        f"{site.name}: to get a reminder of your cart by text, reply YES. "
        "Without an answer, you will get no message."
    )
    return f"{text} Or confirm here: {link}" if link else text


def new_code() -> str:
    """Ten letters and digits: 62^10 codes, not guessable, short in an SMS."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def _claimable(now: datetime) -> Q:
    """Never claimed, or claimed by a worker that died before handing it to the provider."""
    return Q(confirmation_sent_at__isnull=True) | Q(
        confirmation_handed_at__isnull=True, confirmation_sent_at__lte=now - STUCK_AFTER
    )


def send_confirmation(*, contact_id: int) -> bool:
    """Send the confirmation SMS of a pending contact once; True if the provider took it.

    Claimed first (``confirmation_sent_at``), so two workers never both send it, and marked as
    handed to the provider just before the call (``confirmation_handed_at``), so a worker that
    dies between the two leaves it owed, not lost: the pass claims it again after
    ``STUCK_AFTER``. One handed over is never sent again."""
    now = timezone.now()
    contact = Contact.objects.select_related("site").get(pk=contact_id)
    if contact.consent_status != ConsentStatus.PENDING or not (
        Contact.objects.filter(_claimable(now), pk=contact.pk).exists()
    ):
        return False
    key = confirmations_key(contact.phone)
    if not allow(key=key, limit=MAX_PER_NUMBER_PER_DAY, window_seconds=DAY):
        logger.warning("confirmation to %s not sent: daily limit", mask(contact.phone))
        return False
    code = new_code()
    if not Contact.objects.filter(_claimable(now), pk=contact.pk).update(
        confirmation_sent_at=now, confirmation_code=code, confirmation_handed_at=None
    ):
        return False
    contact.confirmation_code = code

    def handing() -> bool:
        # Only while the claim is still this worker's (a slower one may have been overtaken).
        return bool(
            Contact.objects.filter(
                pk=contact.pk, confirmation_sent_at=now, confirmation_handed_at__isnull=True
            ).update(confirmation_handed_at=timezone.now())
        )

    result = deliver(
        OutgoingSms(
            to=contact.phone,
            body=confirmation_text(contact),
            sender=contact.site.sender,
            validity_seconds=3600,
        ),
        handing=handing,
    )
    if result.outcome is Outcome.ACCEPTED:
        mark_messaged(contact_id=contact.pk, at=now)
        return True
    if result.error_code == NOT_HANDED:
        return False  # another worker's claim now
    if result.outcome is Outcome.TRANSIENT and result.error_code not in AMBIGUOUS:
        # Certainly not sent: the next pass tries again.
        Contact.objects.filter(pk=contact.pk, confirmation_sent_at=now).update(
            confirmation_sent_at=None, confirmation_handed_at=None
        )
    return False


def send_pending_confirmations() -> int:
    """Confirmations not sent yet (a lost task, a provider that was down); for the pass."""
    pending = Contact.objects.filter(
        _claimable(timezone.now()), consent_status=ConsentStatus.PENDING
    ).values_list("pk", flat=True)
    return sum(send_confirmation(contact_id=pk) for pk in list(pending[:500]))

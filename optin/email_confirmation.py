"""Double opt-in by email: the message that asks an address typed in a shop's page to confirm.

The mirror of ``optin.confirmation`` (the SMS one): claimed first (``email_confirmation_sent_at``),
marked as handed to the provider just before the call (``email_confirmation_handed_at``), so two
workers never both send it and a worker killed between the two leaves it owed, not lost. Its one
link opens a page whose button confirms (``optin.pages.confirm_link.confirm_email_page``): mail
scanners open links, and an opened link is not the owner's answer. The link is signed and names
the confirmation it came with: only the latest email's link confirms, within ``LINK_DAYS``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.utils import timezone

from optin.confirmation import DAY, LINK_DAYS, STUCK_AFTER
from optin.models import ConsentStatus, Contact
from retargeting.channels import Channel
from retargeting.channels.rooms import room
from retargeting.gateways import deliver
from retargeting.gateways.base import Outcome, OutgoingEmail
from retargeting.gateways.errors import AMBIGUOUS, NOT_HANDED
from retargeting.sites.models import Language, Site
from retargeting.sms.phones import mask_email
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)

# However often an address is typed in, it gets at most this many confirmation emails a day.
MAX_PER_ADDRESS_PER_DAY = 3
_SALT = "optin.email-confirmation"


def confirmations_key(email: str) -> str:
    """The rate-limit key counting an address's confirmation emails (every shop's)."""
    return f"doi-email:{email}"


def address_limit_keys(site_id: int, email: str) -> list[tuple[str, int]]:
    """Every rate-limit key (and its window) that holds an address: erasure forgets them."""
    return [(confirmations_key(email), DAY)]


def sender_of(site: Site) -> str:
    """The From of the site's emails: its own, else the platform's address with its name."""
    return room(Channel.EMAIL).sender(site)  # the email channel's one rule


def _stamp(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _address(email: str) -> str:
    # The link names the address by a digest: it travels in logs and browser histories.
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def confirmation_code(contact: Contact) -> str:
    """The signed code of the contact's latest confirmation email (its address and when it was
    claimed): a new email makes the older links void, and another address's link names none."""
    assert contact.email_confirmation_sent_at is not None
    return signing.dumps(
        [contact.pk, _address(contact.email), _stamp(contact.email_confirmation_sent_at)],
        salt=_SALT,
        compress=True,
    )


def contact_for_code(code: str) -> Contact | None:
    """The pending contact whose latest confirmation email carried ``code``; None for a forged,
    an expired or an outdated one."""
    try:
        contact_id, address, stamp = signing.loads(
            code, salt=_SALT, max_age=timedelta(days=LINK_DAYS)
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    contact = Contact.objects.select_related("site").filter(pk=contact_id).first()
    if contact is None or contact.email_confirmation_sent_at is None:
        return None
    if not contact.email or _address(contact.email) != address:
        return None
    if _stamp(contact.email_confirmation_sent_at) != stamp:
        return None
    return contact


def confirmation_url(contact: Contact) -> str:
    base = settings.SHORT_LINK_BASE_URL or settings.PUBLIC_BASE_URL
    return f"{base}/o/e/{confirmation_code(contact)}"


TEXT = {
    Language.FR: {
        "subject": "{shop} : confirmez votre inscription",
        "body": "Vous avez demandé à recevoir par email les rappels de panier et les offres de "
        "{shop}. Pour le confirmer, ouvrez ce lien et appuyez sur le bouton :",
        "button": "Je confirme",
        "after": "Sans confirmation, vous ne recevrez aucun email de notre part. Si vous n'avez "
        "rien demandé, ignorez ce message.",
    },
    Language.EN: {
        "subject": "{shop}: confirm your subscription",
        "body": "You asked to get cart reminders and offers from {shop} by email. To confirm, "
        "open this link and press the button:",
        "button": "I confirm",
        "after": "Without a confirmation you will get no email from us. If you asked for "
        "nothing, ignore this message.",
    },
}


def confirmation_email(contact: Contact) -> OutgoingEmail:
    """The confirmation email: the shop's name, one link to the page whose button confirms."""
    site = contact.site
    text = TEXT[Language(site.language)]
    url = confirmation_url(contact)
    body = text["body"].format(shop=site.name)
    plain = f"{body}\n\n{url}\n\n{text['after']}\n"
    html = (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">'
        f"<p>{escape(body)}</p>"
        f'<p><a href="{escape(url)}" style="display:inline-block;padding:.6em 1.2em;'
        'background:#1a56db;color:#fff;text-decoration:none;border-radius:4px">'
        f"{escape(text['button'])}</a></p>"
        f"<p>{escape(text['after'])}</p></body></html>"
    )
    return OutgoingEmail(
        to=contact.email,
        subject=text["subject"].format(shop=site.name),
        text=plain,
        html=html,
        sender=sender_of(site),
        tag="confirmation",
    )


def _claimable(now: datetime) -> Q:
    """Never claimed, or claimed by a worker that died before handing it to the provider."""
    return Q(email_confirmation_sent_at__isnull=True) | Q(
        email_confirmation_handed_at__isnull=True, email_confirmation_sent_at__lte=now - STUCK_AFTER
    )


def send_email_confirmation(*, contact_id: int) -> bool:
    """Send the confirmation email of a contact whose email consent is pending, once; True if
    the provider took it (``optin.confirmation.send_confirmation``'s rules, for email)."""
    now = timezone.now()
    contact = Contact.objects.select_related("site").get(pk=contact_id)
    if (
        contact.email_consent_status != ConsentStatus.PENDING
        or not contact.email
        or not Contact.objects.filter(_claimable(now), pk=contact.pk).exists()
    ):
        return False
    if not allow(
        key=confirmations_key(contact.email), limit=MAX_PER_ADDRESS_PER_DAY, window_seconds=DAY
    ):
        logger.warning("confirmation to %s not sent: daily limit", mask_email(contact.email))
        return False
    if not Contact.objects.filter(_claimable(now), pk=contact.pk).update(
        email_confirmation_sent_at=now, email_confirmation_handed_at=None
    ):
        return False
    contact.email_confirmation_sent_at = now

    def handing() -> bool:
        # Only while the claim is still this worker's (a slower one may have been overtaken).
        return bool(
            Contact.objects.filter(
                pk=contact.pk,
                email_confirmation_sent_at=now,
                email_confirmation_handed_at__isnull=True,
            ).update(email_confirmation_handed_at=timezone.now())
        )

    result = deliver(confirmation_email(contact), handing=handing)
    if result.outcome is Outcome.ACCEPTED:
        return True
    if result.error_code == NOT_HANDED:
        return False  # another worker's claim now
    if result.outcome is Outcome.TRANSIENT and result.error_code not in AMBIGUOUS:
        # Certainly not sent: the next pass tries again.
        Contact.objects.filter(pk=contact.pk, email_confirmation_sent_at=now).update(
            email_confirmation_sent_at=None, email_confirmation_handed_at=None
        )
    return False


def send_pending_email_confirmations() -> int:
    """Confirmation emails not sent yet (a lost task, a provider that was down); for the pass."""
    pending = Contact.objects.filter(
        _claimable(timezone.now()), email_consent_status=ConsentStatus.PENDING
    ).values_list("pk", flat=True)
    return sum(send_email_confirmation(contact_id=pk) for pk in list(pending[:500]))

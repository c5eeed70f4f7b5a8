"""A member proves a mobile number is theirs before a test send goes to it.

The flow editor's test send would otherwise send any text, under the shop's name, to any
number a marketer types. The first test to a number sends it a six-digit code instead; typed
back within 15 minutes (five tries), the number is the member's own for good.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from campaigns.models import MemberPhone
from retargeting.gateways import INTERACTIVE_WAIT, deliver
from retargeting.gateways.base import Outcome, OutgoingSms
from retargeting.sites.models import Site
from retargeting.sms.phones import mask
from retargeting.web.ratelimit import allow

logger = logging.getLogger(__name__)

CODE_VALID = timedelta(minutes=15)
MAX_ATTEMPTS = 5
CODES_PER_HOUR = 3


class ProofRefused(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _hash(member_phone: MemberPhone, code: str) -> str:
    value = f"{member_phone.user_id}:{member_phone.phone}:{code}"
    return salted_hmac("relance.member-phone", value, algorithm="sha256").hexdigest()


def is_proved(*, user_id: int, phone: str) -> bool:
    return MemberPhone.objects.filter(
        user_id=user_id, phone=phone, proved_at__isnull=False
    ).exists()


def send_code(*, user_id: int, phone: str, site: Site) -> None:
    """Send a new code to ``phone`` (E.164), from the site's sender. Raises ``ProofRefused``."""
    if not allow(key=f"member-code:{user_id}", limit=CODES_PER_HOUR, window_seconds=3600):
        raise ProofRefused(
            _("Too many codes asked for in the last hour: wait a little."), status=429
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    member_phone, _created = MemberPhone.objects.get_or_create(user_id=user_id, phone=phone)
    member_phone.code_hash = _hash(member_phone, code)
    member_phone.code_sent_at = timezone.now()
    member_phone.attempts = 0
    member_phone.save(update_fields=["code_hash", "code_sent_at", "attempts"])
    body = _("Relance: your code to send tests to this number is %(code)s.") % {"code": code}
    result = deliver(
        OutgoingSms(to=phone, body=body, sender=site.sender, validity_seconds=900),
        max_wait=INTERACTIVE_WAIT,
    )
    logger.info("proof code to %s for user %s: %s", mask(phone), user_id, result.outcome)
    if result.outcome is not Outcome.ACCEPTED:
        raise ProofRefused(
            _("The provider did not take the message: %(reason)s")
            % {"reason": result.reason or result.error_code or result.outcome}
        )


def check_code(*, user_id: int, phone: str, code: str) -> None:
    """Mark ``phone`` proved if ``code`` is the one sent to it. Raises ``ProofRefused``."""
    member_phone = MemberPhone.objects.filter(user_id=user_id, phone=phone).first()
    wrong = ProofRefused(_("This code is wrong or too old: ask for a new one."))
    if member_phone is None or not member_phone.code_hash or member_phone.code_sent_at is None:
        raise wrong
    if timezone.now() - member_phone.code_sent_at > CODE_VALID:
        raise wrong
    # Counted in the database, so parallel guesses cannot share one try.
    counted = MemberPhone.objects.filter(pk=member_phone.pk, attempts__lt=MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        raise wrong
    if not constant_time_compare(_hash(member_phone, code.strip()), member_phone.code_hash):
        raise wrong
    MemberPhone.objects.filter(pk=member_phone.pk).update(proved_at=timezone.now(), code_hash="")

"""Reading the provider's list of numbers that unsubscribed, so that a lost webhook loses no STOP.

Beat runs it every five minutes and ``manage.py dispatch`` before its pass. Each report goes to
the registered opt-out handler (the opt-in layer revokes the consent), which is idempotent; the
cursor only saves reading the same events again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from retargeting.gateways import get_gateway, hooks
from retargeting.gateways.base import Gateway, ProviderUnavailable
from retargeting.gateways.models import ProviderCursor
from retargeting.sms.phones import mask

logger = logging.getLogger(__name__)

STREAM = "opt_outs"


def poll_opt_outs(*, gateway: Gateway | None = None) -> int:
    """Hand every opt-out the provider reported since the last read to the handlers; return
    how many were new. A provider that keeps no such list is not called at all; one that
    cannot be read now is read again next time, from the same point."""
    gateway = gateway or get_gateway()
    if not gateway.lists_opt_outs:
        return 0
    cursor = ProviderCursor.objects.filter(provider=gateway.name, stream=STREAM).first()
    since = cursor.position if cursor else None
    seen = set(cursor.seen_at_position) if cursor else set()
    try:
        reports = gateway.opt_outs_since(since)
    except ProviderUnavailable as exc:
        logger.warning("%s: unsubscribed numbers not read now: %s", gateway.name, exc)
        return 0
    new = [
        report
        for report in reports
        if since is None
        or report.at > since
        or (report.at == since and report.provider_id not in seen)
    ]
    for report in new:
        hooks.handle_opt_out(report)
        logger.info("%s reported %s unsubscribed", gateway.name, mask(report.phone))
    if new:
        latest = max(report.at for report in new)
        at_latest = {report.provider_id for report in new if report.at == latest}
        if latest == since:
            at_latest |= seen
        _advance(gateway.name, latest, sorted(at_latest))
    return len(new)


def _advance(provider: str, position: datetime, seen: list[str]) -> None:
    with transaction.atomic():
        cursor, created = ProviderCursor.objects.select_for_update().get_or_create(
            provider=provider,
            stream=STREAM,
            defaults={"position": position, "seen_at_position": seen},
        )
        # Two readers at once (beat and a dispatch command): the cursor never moves back.
        if not created and cursor.position <= position:
            if cursor.position < position:
                cursor.seen_at_position = seen
            else:
                cursor.seen_at_position = sorted(set(cursor.seen_at_position) | set(seen))
            cursor.position = position
            cursor.save(update_fields=["position", "seen_at_position", "updated_at"])

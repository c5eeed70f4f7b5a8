"""What the collector refused, for the shop to see on its installation page.

The collector answers a refused identify with a 400 or a 429 and a reason; the page that sent
it hears that reason (the snippet's callback and DOM events), and the shop sees it among the
live events. What the shopper typed is never kept: a number is masked as the logs mask it
(its last four digits hidden), and the rows go after 30 days (``retention.py``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from retargeting.tracking.models import Event, Refusal

logger = logging.getLogger(__name__)

# A run of digits with the separators people type; six digits or more may be a number.
_RUN = re.compile(r"\+?\d[\d .()/•-]*")
# The fields of an event that hold what a shopper typed.
TYPED = ("phone", "email")


def mask_typed(text: str) -> str:
    """What a shopper typed, fit for a log or a stored reason: a number without its last four
    digits (``06 12 34 •• ••``, as the logs show ``+3361234••••``), anything shorter or with
    fewer digits hidden whole."""
    chars, hidden = list(text), 0
    for index in range(len(chars) - 1, -1, -1):
        if hidden == 4:
            break
        if chars[index].isdigit():
            chars[index] = "•"
            hidden += 1
    return "".join(chars) if hidden == 4 and len(text) > 6 else "••••"


def masked_reason(error: str, events: list[dict[str, Any]]) -> str:
    """The collector's ``error`` without anything the shopper typed: every typed value of the
    batch is masked where the error quotes it, and any other number-like run too."""
    reason = error
    for event in events:
        for name in TYPED:
            value = event.get(name)
            if isinstance(value, str) and value.strip():
                # phones.parse_phone quotes the stripped text, cut at 64 characters.
                for typed in {value, value.strip(), value.strip()[:64]}:
                    reason = reason.replace(typed, mask_typed(typed))
    return _RUN.sub(_mask_run, reason)[:300]


def _mask_run(found: re.Match[str]) -> str:
    run = found.group()
    if "•" in run or sum(char.isdigit() for char in run) < 6:
        return run  # masked already, or too short to be a number
    return mask_typed(run)


def record_refusal(
    *,
    site_id: int,
    events: list[dict[str, Any]],
    error: str,
    source: str = Event.Source.SNIPPET,
    now: datetime | None = None,
) -> None:
    """Keep the reason the collector refused a batch carrying what a shopper typed (an
    identify), for the installation page. Never fails the answer: a refusal not kept is
    logged."""
    kinds = [event["type"] for event in events if any(name in event for name in TYPED)]
    if not kinds:
        return
    try:
        with transaction.atomic():
            Refusal.objects.create(
                site_id=site_id,
                type=kinds[0][:16],
                source=source,
                reason=masked_reason(error, events),
                received_at=now or timezone.now(),
            )
    except DatabaseError as exc:  # the site deleted meanwhile, the database away
        logger.warning("site %s: a refusal was not kept (%s)", site_id, type(exc).__name__)

"""Corrections: the one way to change what the figures count, with its audit row.

Conversions are facts (a purchase the shop's page or server reported); nobody edits one. When
one must not count (a test order, a purchase the shop cancelled, an order reported twice under
two numbers), a member of its shop or an operator excludes it from the figures with a reason;
it can be counted again the same way. Each correction is a :class:`ConversionCorrection` row
(who, when, why, what), and the dashboard says how many of the period's purchases a
correction took out (:func:`excluded_in_period`).
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from campaigns import figures, rollups
from campaigns.models import Conversion, ConversionCorrection
from retargeting.sites.models import Site

Kind = ConversionCorrection.Kind


class CorrectionError(ValueError):
    """A correction refused (no reason given): nothing changed."""


def correct_conversion(
    *,
    conversion_id: int,
    kind: str,
    user: User | AnonymousUser,
    reason: str,
) -> ConversionCorrection | None:
    """Exclude a conversion from the figures (``Kind.EXCLUDED``) or count it again
    (``Kind.COUNTED``), writing the audit row; None when it already was so (no row).

    The days whose figures it moved are rolled up again once this commits, so the dashboard
    shows the corrected figures at once, not at the next pass."""
    reason = reason.strip()
    if not reason:
        raise CorrectionError("a correction needs its reason")
    wanted = Kind(kind) == Kind.COUNTED
    with transaction.atomic():
        conversion = (
            Conversion.objects.select_for_update(of=("self",))
            .select_related("site", "cart", "send__cart")
            .get(pk=conversion_id)
        )
        if conversion.counted == wanted:
            return None
        conversion.counted = wanted
        conversion.save(update_fields=["counted"])
        correction = ConversionCorrection.objects.create(
            conversion=conversion,
            kind=kind,
            reason=reason,
            user=user if isinstance(user, User) else None,
            username=user.get_username(),
            created_at=timezone.now(),
        )
        site, days = conversion.site, _days_counting(conversion)
        transaction.on_commit(lambda: rollups.roll_up(site=site, days=sorted(days)))
    return correction


def _days_counting(conversion: Conversion) -> set[date]:
    """The days whose rollups count the conversion: its purchase's day (the activity) and the
    day its cart was abandoned (the funnel), in the site's zone."""
    zone = ZoneInfo(conversion.site.time_zone)
    moments = [conversion.occurred_at]
    for cart in (conversion.cart, conversion.send.cart if conversion.send else None):
        if cart is not None:
            moments.append(cart.last_change_at)
    return {timezone.localdate(moment, timezone=zone) for moment in moments}


def excluded_in_period(*, site: Site, start: date, end: date) -> int:
    """How many purchases of the period (their day, in the site's zone) a correction excluded
    from the figures: what the dashboard says its figures leave out."""
    since, until = figures.bounds(site, start, end)
    return Conversion.objects.filter(
        site=site, counted=False, occurred_at__gte=since, occurred_at__lt=until
    ).count()

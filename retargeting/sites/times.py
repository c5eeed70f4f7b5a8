"""Times as a shop's people read them: in the shop's time zone, the zone named.

The database and the server keep UTC; the phone simulator and the admin show a moment in the
time zone of the shop it concerns, so "sent at 09:02" means 09:02 where the shop is, and says
where that is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.utils import timezone

from retargeting.sites.models import Site
from retargeting.sites.senders import sites_sending_from
from retargeting.sites.zones import principal_zone
from retargeting.sms.phones import region_of_e164

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def shop_time(at: datetime | None, time_zone: str, *, with_date: bool = True) -> str:
    """``at`` in ``time_zone``, the zone named: ``01/12/2026 09:02 CET (Europe/Paris)``."""
    if at is None:
        return ""
    local = timezone.localtime(at, ZoneInfo(time_zone or "UTC"))
    when = f"{local:%d/%m/%Y %H:%M}" if with_date else f"{local:%d/%m %H:%M}"
    return f"{when} {local.tzname()} ({time_zone or 'UTC'})"


def sender_time_zone(sender: str, *, phone: str = "") -> str:
    """The time zone of the shops that send from ``sender`` (their own sender, or the
    platform's default sender for shops without one). Where those shops are in different
    zones, or none is known, the zone of the country of ``phone``; else UTC."""
    zones = {site.time_zone for site in sites_sending_from(sender)}
    if len(zones) == 1:
        return zones.pop()
    region = region_of_e164(phone)
    return principal_zone(region) if region else "UTC"


def shop_time_column(
    field: str, *, site_of: Callable[[Any], Site | None], description: StrOrPromise
) -> Callable[[Any, Any], str]:
    """A ``ModelAdmin`` method for a column or read-only field: ``field`` in its shop's time
    zone. Assign it to a class attribute and name that attribute in ``list_display``."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, obj: Any) -> str:
        site = site_of(obj)
        return shop_time(getattr(obj, field), site.time_zone if site else "UTC")

    return column

"""Numbers, money, percentages and times as the marketer reads them, in the page's language.

Every dashboard page, export and message list formats through here, so that French reads
``1 234,5`` and ``14:51`` and English ``1,234.5`` and ``14:51``, and every time is the shop's
own, with its zone named once on the page (:func:`zone_label`).

Decided: times are 24-hour in both languages. The shops are in Europe and the marketers read
their messages' times against the shop's clock; "2:51 p.m." beside "14:51" in the figures'
``as of`` confused more than it helped.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.money import format_money
from retargeting.sites.models import Site

NARROW_NO_BREAK_SPACE = "\u202f"


def _french() -> bool:
    return (translation.get_language() or "").startswith("fr")


def number(value: int | float | Decimal | None, decimals: int = 0) -> str:
    """``1 234,5`` (French: narrow no-break space, decimal comma), ``1,234.5`` (English)."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if _french():
        return text.replace(",", "\x00").replace(".", ",").replace("\x00", NARROW_NO_BREAK_SPACE)
    return text


def percent(ratio: float | None, decimals: int = 1) -> str:
    """``12,5 %`` in French, ``12.5%`` in English; ``–`` when there is nothing to divide."""
    if ratio is None:
        return "–"
    shown = number(ratio * 100, decimals)
    return f"{shown}\u00a0%" if _french() else f"{shown}%"


def money(amount: Decimal | int | float | None, currency: str | None = None) -> str:
    """An amount in the page's language (``59,90 €`` / ``€59.90``); the price list's currency
    unless told."""
    if amount is None:
        return "–"
    language = "fr" if _french() else "en"
    return format_money(Decimal(amount), currency or settings.SMS_PRICE_CURRENCY, language)


def zone_label(site: Site) -> str:
    """The shop's zone in words: ``heure de Paris`` / ``Paris time``."""
    city = site.time_zone.rsplit("/", 1)[-1].replace("_", " ")
    return _("%(city)s time") % {"city": city}


def when(value: datetime | None, *, site: Site, seconds: bool = False) -> str:
    """A moment in the shop's zone: ``7 déc. 2026, 14:51`` / ``7 Dec. 2026, 14:51``."""
    if value is None:
        return "–"
    local = timezone.localtime(value, site.zone_info)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{day(local.date())}, {clock}"


def clock(value: datetime | None, *, site: Site) -> str:
    """Only the time of day in the shop's zone, 24-hour: ``14:51``."""
    if value is None:
        return "–"
    return timezone.localtime(value, site.zone_info).strftime("%H:%M")


def day(value: date | None) -> str:
    """``7 déc. 2026`` / ``7 Dec. 2026``."""
    if value is None:
        return "–"
    return formats.date_format(value, "j N Y")


def ago(value: datetime | None, *, now: datetime | None = None) -> str:
    """``à l'instant``, ``il y a 3 minutes``, ``il y a 2 heures``, ``il y a 4 jours``: never
    ``il y a 0 minute``."""
    if value is None:
        return "–"
    seconds = max(0, int(((now or timezone.now()) - value).total_seconds()))
    if seconds < 60:
        return _("just now")
    minutes = seconds // 60
    if minutes < 60:
        return ngettext("%(count)d minute ago", "%(count)d minutes ago", minutes) % {
            "count": minutes
        }
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(count)d hour ago", "%(count)d hours ago", hours) % {"count": hours}
    days = hours // 24
    return ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}

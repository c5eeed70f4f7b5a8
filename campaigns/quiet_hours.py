"""Quiet hours: when a site may send marketing SMS, in the recipient's time zone.

The one home of the rule: planning, sending, previews and the dashboard all ask here.

- The recipient's time zones come from the number (``phonenumbers.timezone``). Where a number
  maps to several zones (Spain: Madrid and the Canaries), a moment is allowed only if it is
  allowed in all of them; where it tells nothing, the site's zone is used.
- Public holidays are those of the number's country (the ``holidays`` library).
- A window's end is excluded: with 08:00–20:00, 19:59 is open and 20:00 is closed. A window may
  cross midnight (22:00–02:00 belongs to the day it starts on).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from phonenumbers import timezone as number_zones

from retargeting.sites.models import QuietHours, Site
from retargeting.zones import zone_country

WEEKDAYS = frozenset(range(6))  # Monday to Saturday
EVERY_DAY = frozenset(range(7))
SPREAD = timedelta(minutes=30)
HORIZON_DAYS = 16


@dataclass(frozen=True)
class Window:
    days: frozenset[int]
    """Weekdays the window starts on (0 is Monday)."""
    start: time
    end: time


@dataclass(frozen=True)
class Policy:
    windows: tuple[Window, ...]
    holidays_allowed: bool

    @property
    def always(self) -> bool:
        return not self.windows


ALWAYS = Policy(windows=(), holidays_allowed=True)
PRESETS: dict[str, Policy] = {
    # Monday–Saturday 08:00–20:00, never on a public holiday: the French default.
    QuietHours.FR_STRICT: Policy((Window(WEEKDAYS, time(8), time(20)),), holidays_allowed=False),
    # The af2m 2026 charter: 08:00–21:30 every day; Sundays and holidays allowed (flagged).
    QuietHours.FR_AF2M: Policy((Window(EVERY_DAY, time(8), time(21, 30)),), holidays_allowed=True),
    QuietHours.NONE: ALWAYS,
}


def policy_for(site: Site) -> Policy:
    """The site's policy. Presets not yet supported fall back to the strictest one."""
    return PRESETS.get(site.quiet_hours, PRESETS[QuietHours.FR_STRICT])


@dataclass(frozen=True)
class Recipient:
    zones: tuple[ZoneInfo, ...]
    country: str


def recipient(*, phone: str, site: Site) -> Recipient:
    """The time zones and country of a number (the site's when the number tells nothing)."""
    return _recipient(phone, site.time_zone, site.country)


@functools.lru_cache(maxsize=4096)
def _recipient(phone: str, site_zone: str, site_country: str) -> Recipient:
    try:
        number = phonenumbers.parse(phone, site_country)
    except phonenumbers.NumberParseException:
        return Recipient((ZoneInfo(site_zone),), site_country)
    names = {
        z for z in number_zones.time_zones_for_number(number) if z != number_zones.UNKNOWN_TIMEZONE
    }
    country = phonenumbers.region_code_for_number(number) or site_country
    # A shared prefix can name another country's zone too (+262: Réunion and Mayotte);
    # the number's own country settles it when it has zones among them.
    own = {name for name in names if zone_country(name) == country}
    zones = tuple(ZoneInfo(name) for name in sorted(own or names)) or (ZoneInfo(site_zone),)
    return Recipient(zones, country)


@functools.lru_cache(maxsize=512)
def _holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        return frozenset()


def is_holiday(day: date, country: str) -> bool:
    return day in _holidays(country, day.year)


def _open_in_zone(at: datetime, zone: ZoneInfo, policy: Policy, country: str) -> bool:
    local = at.astimezone(zone)
    if not policy.holidays_allowed and is_holiday(local.date(), country):
        return False
    moment, weekday = local.time(), local.weekday()
    for window in policy.windows:
        if window.start < window.end:
            if weekday in window.days and window.start <= moment < window.end:
                return True
        elif (weekday in window.days and moment >= window.start) or (
            (weekday - 1) % 7 in window.days and moment < window.end
        ):
            return True
    return False


def is_open(at: datetime, *, policy: Policy, who: Recipient) -> bool:
    """Whether ``at`` is within the policy's windows in every one of the recipient's zones."""
    if policy.always:
        return True
    return all(_open_in_zone(at, zone, policy, who.country) for zone in who.zones)


def next_opening(at: datetime, *, policy: Policy, who: Recipient) -> datetime:
    """``at`` itself if open; otherwise the first moment after it that is open everywhere."""
    if is_open(at, policy=policy, who=who):
        return at
    candidates = set()
    for zone in who.zones:
        first_day = at.astimezone(zone).date()
        for offset in range(HORIZON_DAYS):
            day = first_day + timedelta(days=offset)
            for window in policy.windows:
                start = datetime.combine(day, window.start, tzinfo=zone)
                if start > at:
                    candidates.add(start)
    for candidate in sorted(candidates):
        if is_open(candidate, policy=policy, who=who):
            return candidate
    raise ValueError("no opening within the next two weeks: check the site's quiet hours")


def send_time(at: datetime, *, site: Site, phone: str, key: str) -> datetime:
    """When a send due at ``at`` may go out for ``site`` to ``phone``.

    Sends deferred to an opening are spread over its first 30 minutes (by ``key``, stable for
    a send) rather than all leaving at once.
    """
    who = recipient(phone=phone, site=site)
    policy = policy_for(site)
    opening = next_opening(at, policy=policy, who=who)
    if opening == at:
        return at
    offset = int(hashlib.sha256(key.encode()).hexdigest(), 16) % int(SPREAD.total_seconds())
    spread = opening + timedelta(seconds=offset)
    # Never spread past the window's end (in every zone); fall back to the opening itself.
    return spread if is_open(spread, policy=policy, who=who) else opening

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
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import timezone as number_zones

from retargeting.sites.hours import parse_custom_hours
from retargeting.sites.models import QuietHours, Site
from retargeting.sites.zones import zone_country
from retargeting.sms.phones import region_of

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


def every_day(start: time, end: time) -> Window:
    return Window(EVERY_DAY, start, end)


ALWAYS = Policy(windows=(), holidays_allowed=True)
# US TCPA: 08:00–21:00 in the recipient's time zone, stricter where the state says so.
US_FEDERAL = Policy((every_day(time(8), time(21)),), holidays_allowed=True)
US_STATES: dict[str, Policy] = {
    **{
        state: Policy((every_day(time(8), time(20)),), holidays_allowed=True)
        for state in ("FL", "OK", "MD", "MS")
    },
    "CT": Policy((every_day(time(9), time(20)),), holidays_allowed=True),
    "TX": Policy(
        (Window(WEEKDAYS, time(9), time(21)), Window(frozenset({6}), time(12), time(21))),
        holidays_allowed=True,
    ),
}
# A US number whose state the number does not tell: every state's rule at once.
US_UNKNOWN_STATE = Policy(
    (Window(WEEKDAYS, time(9), time(20)), Window(frozenset({6}), time(12), time(20))),
    holidays_allowed=True,
)
US_STATE_NAMES = {
    "Florida": "FL",
    "Oklahoma": "OK",
    "Maryland": "MD",
    "Mississippi": "MS",
    "Connecticut": "CT",
    "Texas": "TX",
}
PRESETS: dict[str, Policy] = {
    # Monday–Saturday 08:00–20:00, never on a public holiday: the French default.
    QuietHours.FR_STRICT: Policy((Window(WEEKDAYS, time(8), time(20)),), holidays_allowed=False),
    # The af2m 2026 charter: 08:00–21:30 every day; Sundays and holidays allowed (flagged).
    QuietHours.FR_AF2M: Policy((Window(EVERY_DAY, time(8), time(21, 30)),), holidays_allowed=True),
    QuietHours.NONE: ALWAYS,
}


@dataclass(frozen=True)
class Recipient:
    zones: tuple[ZoneInfo, ...]
    country: str
    region: str = ""
    """The US state of a US number (``FL``), when the number tells it."""


def policy_for(site: Site, who: Recipient | None = None) -> Policy:
    """The site's policy for a recipient (US TCPA windows depend on the number's state)."""
    if site.quiet_hours == QuietHours.US_TCPA:
        if who is None or who.country != "US":
            return US_FEDERAL
        if not who.region:
            return US_UNKNOWN_STATE
        return US_STATES.get(who.region, US_FEDERAL)
    if site.quiet_hours == QuietHours.CUSTOM:
        return _custom(json.dumps(site.quiet_hours_custom, sort_keys=True))
    return PRESETS.get(site.quiet_hours, PRESETS[QuietHours.FR_STRICT])


@functools.lru_cache(maxsize=256)
def _custom(setting: str) -> Policy:
    try:
        windows, holidays_allowed = parse_custom_hours(json.loads(setting))
    except ValidationError:
        # Saved through the admin it is valid; written around it, the strictest rule holds.
        return PRESETS[QuietHours.FR_STRICT]
    return Policy(
        tuple(Window(days, start, end) for days, start, end in windows),
        holidays_allowed=holidays_allowed,
    )


def _us_state(number: phonenumbers.PhoneNumber) -> str:
    # Imported here: the geocoder's tables take about 150 MB and only US numbers need them,
    # so processes that never see one (every web worker) never load them.
    from phonenumbers import geocoder

    description = geocoder.description_for_number(number, "en")
    if description in US_STATE_NAMES:
        return US_STATE_NAMES[description]
    # "New York, NY": a city and its state's code.
    _, _, code = description.rpartition(", ")
    return code if len(code) == 2 and code.isupper() else ""


def recipient(*, phone: str, site: Site) -> Recipient:
    """The time zones and country of a number (the site's when the number tells nothing)."""
    return _recipient(phone, site.time_zone, site.country)


@functools.lru_cache(maxsize=4096)
def _recipient(phone: str, site_zone: str, site_country: str) -> Recipient:
    known = _by_country_code(phone)
    if known is not None:
        return known
    try:
        number = phonenumbers.parse(phone, site_country)
    except phonenumbers.NumberParseException:
        return Recipient((ZoneInfo(site_zone),), site_country)
    names = {
        z for z in number_zones.time_zones_for_number(number) if z != number_zones.UNKNOWN_TIMEZONE
    }
    country = region_of(number, site_country)
    # A shared prefix can name another country's zone too (+262: Réunion and Mayotte);
    # the number's own country settles it when it has zones among them.
    own = {name for name in names if zone_country(name) == country}
    zones = tuple(ZoneInfo(name) for name in sorted(own or names)) or (ZoneInfo(site_zone),)
    return Recipient(zones, country, _us_state(number) if country == "US" else "")


def _by_country_code(phone: str) -> Recipient | None:
    """The recipient of a number in E.164 whose calling code alone settles it: one country
    and one set of zones for the whole code (+33: France, Europe/Paris). Parsing the number
    would give the same answer for every valid number; a dispatch pass over a hundred thousand
    carts skips the parsing. None for the others (+1, +7, +262, +44…)."""
    if not phone.startswith("+"):
        return None
    for length in (1, 2, 3):
        found = _single_zone_codes().get(phone[1 : 1 + length])
        if found is not None:
            return found
    return None


@functools.cache
def _single_zone_codes() -> dict[str, Recipient]:
    from phonenumbers.tzdata import TIMEZONE_DATA

    found = {}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        prefix = str(code)
        names = set(TIMEZONE_DATA.get(prefix, ())) - {number_zones.UNKNOWN_TIMEZONE}
        longer = any(key.startswith(prefix) and key != prefix for key in TIMEZONE_DATA)
        if len(regions) != 1 or regions[0] == "US" or not names or longer:
            continue
        own = {name for name in names if zone_country(name) == regions[0]}
        found[prefix] = Recipient(tuple(ZoneInfo(n) for n in sorted(own or names)), regions[0])
    return found


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


# The last closed stretch found per (policy, recipient): from a closed moment to the opening
# after it. A dispatch pass at night asks for thousands of carts due minutes apart; every one
# of them inside that stretch has the same next opening (below), found once.
_stretches: dict[tuple[Policy, Recipient], tuple[datetime, datetime]] = {}
_MAX_STRETCHES = 4096


def next_opening(at: datetime, *, policy: Policy, who: Recipient) -> datetime:
    """``at`` itself if open; otherwise the first moment after it that is open everywhere.

    The opening is the first window start after ``at`` that is open; for a closed moment
    between an earlier closed moment and its opening, that is the same opening (a window start
    open and earlier would be one for the earlier moment too), so it is kept and reused."""
    if is_open(at, policy=policy, who=who):
        return at
    key = (policy, who)
    stretch = _stretches.get(key)
    if stretch is not None and stretch[0] <= at < stretch[1]:
        return stretch[1]
    opening = _next_opening(at, policy=policy, who=who)
    if len(_stretches) >= _MAX_STRETCHES:
        _stretches.clear()
    _stretches[key] = (at, opening)
    return opening


def _next_opening(at: datetime, *, policy: Policy, who: Recipient) -> datetime:
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


@functools.lru_cache(maxsize=8)
def night_policy(setting: str) -> Policy:
    """The night hold of the order's own messages (``TRANSACTIONAL_QUIET_HOURS``,
    ``"21:00-08:00"``: held from 21:00 to 08:00, every day, holidays included); ``""`` or
    ``"none"``: never held."""
    if setting.strip().lower() in ("", "none"):
        return ALWAYS
    start_text, _, end_text = setting.partition("-")
    closed_from, closed_until = (
        time.fromisoformat(start_text.strip()),
        time.fromisoformat(end_text.strip()),
    )
    return Policy((every_day(closed_until, closed_from),), holidays_allowed=True)


def send_time(
    at: datetime, *, site: Site, phone: str, key: str, night_only: bool = False
) -> datetime:
    """When a send due at ``at`` may go out for ``site`` to ``phone``: within the site's
    quiet hours, or with ``night_only`` (the order's own messages) outside the night hold.

    Sends deferred to an opening are spread over its first 30 minutes (by ``key``, stable for
    a send) rather than all leaving at once.
    """
    who = recipient(phone=phone, site=site)
    policy = (
        night_policy(settings.TRANSACTIONAL_QUIET_HOURS) if night_only else policy_for(site, who)
    )
    opening = next_opening(at, policy=policy, who=who)
    if opening == at:
        return at
    offset = int(hashlib.sha256(key.encode()).hexdigest(), 16) % int(SPREAD.total_seconds())
    spread = opening + timedelta(seconds=offset)
    # Never spread past the window's end (in every zone); fall back to the opening itself.
    return spread if is_open(spread, policy=policy, who=who) else opening


def charter_flag(at: datetime, *, site: Site, phone: str) -> str:
    """Under the af2m charter, which allows Sundays and public holidays but asks that they be
    flagged: ``"Sunday"`` or ``"public holiday"`` when ``at`` is one for the recipient."""
    if site.quiet_hours != QuietHours.FR_AF2M:
        return ""
    who = recipient(phone=phone, site=site)
    for zone in who.zones:
        local = at.astimezone(zone)
        if is_holiday(local.date(), who.country):
            return "public holiday"
        if local.weekday() == 6:
            return "Sunday"
    return ""

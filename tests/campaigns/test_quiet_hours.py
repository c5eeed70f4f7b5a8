"""Quiet hours on a controlled clock: the edges that matter."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.quiet_hours import (
    EVERY_DAY,
    Policy,
    Recipient,
    Window,
    is_open,
    next_opening,
    policy_for,
    recipient,
    send_time,
)
from tests.factories import SiteFactory

PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
FR_NUMBER, US_NUMBER = "+33612345678", "+12125551234"
ES_NUMBER, RE_NUMBER = "+34612345678", "+262692123456"


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def site(db):
    return SiteFactory(country="FR", time_zone="Europe/Paris", quiet_hours="fr_strict")


def opening(site, at, phone=FR_NUMBER):
    who = recipient(phone=phone, site=site)
    return next_opening(at, policy=policy_for(site, who), who=who)


def test_19_59_is_open_and_20_00_is_closed(site):
    who = recipient(phone=FR_NUMBER, site=site)
    assert is_open(paris(2026, 11, 24, 19, 59), policy=policy_for(site), who=who)
    assert not is_open(paris(2026, 11, 24, 20, 0), policy=policy_for(site), who=who)
    assert not is_open(paris(2026, 11, 24, 7, 59), policy=policy_for(site), who=who)
    assert is_open(paris(2026, 11, 24, 8, 0), policy=policy_for(site), who=who)


def test_20_00_moves_to_the_next_morning(site):
    assert opening(site, paris(2026, 11, 24, 20, 0)) == paris(2026, 11, 25, 8, 0)


def test_saturday_evening_waits_for_monday_morning(site):
    assert opening(site, paris(2026, 11, 28, 20, 30)) == paris(2026, 11, 30, 8, 0)
    assert opening(site, paris(2026, 11, 29, 12, 0)) == paris(2026, 11, 30, 8, 0)


def test_christmas_eve_is_open_and_christmas_day_is_not(site):
    assert opening(site, paris(2026, 12, 24, 19, 0)) == paris(2026, 12, 24, 19, 0)
    assert opening(site, paris(2026, 12, 24, 20, 0)) == paris(2026, 12, 26, 8, 0)


def test_the_first_of_may_is_a_holiday(site):
    assert opening(site, paris(2026, 5, 1, 10, 0)) == paris(2026, 5, 2, 8, 0)


def test_the_march_dst_change(site):
    # Sunday 29 March 2026 the clocks go forward: Monday 08:00 is 06:00 UTC, not 07:00.
    assert opening(site, paris(2026, 3, 28, 21, 0)).astimezone(ZoneInfo("UTC")) == (
        datetime(2026, 3, 30, 6, 0, tzinfo=ZoneInfo("UTC"))
    )


def test_the_october_dst_change(site):
    # Sunday 25 October 2026 the clocks go back: Monday 08:00 is 07:00 UTC.
    assert opening(site, paris(2026, 10, 24, 20, 0)).astimezone(ZoneInfo("UTC")) == (
        datetime(2026, 10, 26, 7, 0, tzinfo=ZoneInfo("UTC"))
    )


def test_a_window_across_midnight():
    policy = Policy((Window(EVERY_DAY, time(22), time(2)),), holidays_allowed=True)
    who = Recipient((PARIS,), "FR")
    assert is_open(paris(2026, 11, 24, 23, 30), policy=policy, who=who)
    assert is_open(paris(2026, 11, 25, 1, 59), policy=policy, who=who)
    assert not is_open(paris(2026, 11, 25, 2, 0), policy=policy, who=who)
    assert next_opening(paris(2026, 11, 25, 2, 0), policy=policy, who=who) == paris(
        2026, 11, 25, 22, 0
    )


def test_a_spanish_number_with_two_zones_gets_the_hours_allowed_in_both(site):
    # Madrid and the Canaries (an hour behind): 08:00 in Madrid is 07:00 in the Canaries.
    assert recipient(phone=ES_NUMBER, site=site).country == "ES"
    madrid = ZoneInfo("Europe/Madrid")
    at = datetime(2026, 11, 24, 8, 0, tzinfo=madrid)
    assert opening(site, at, ES_NUMBER) == datetime(2026, 11, 24, 9, 0, tzinfo=madrid)
    late = datetime(2026, 11, 24, 19, 30, tzinfo=madrid)  # 18:30 in the Canaries: open
    assert opening(site, late, ES_NUMBER) == late


def test_a_new_york_number_on_a_french_site_gets_new_york_hours_and_us_holidays(site):
    assert opening(site, paris(2026, 11, 24, 14, 0), US_NUMBER) == datetime(
        2026, 11, 24, 8, 0, tzinfo=NEW_YORK
    )  # 08:00 in New York is 14:00 in Paris
    # Thanksgiving (26 November 2026) is a US holiday, not a French one.
    assert opening(site, datetime(2026, 11, 26, 10, 0, tzinfo=NEW_YORK), US_NUMBER) == (
        datetime(2026, 11, 27, 8, 0, tzinfo=NEW_YORK)
    )
    assert opening(site, paris(2026, 11, 26, 10, 0)) == paris(2026, 11, 26, 10, 0)


def test_a_reunion_number_gets_reunion_hours_and_holidays(site):
    reunion = ZoneInfo("Indian/Reunion")
    assert recipient(phone=RE_NUMBER, site=site).country == "RE"
    # 10:00 in Paris is 13:00 in Réunion: open there. 18:00 in Paris is 21:00 there: closed.
    assert opening(site, paris(2026, 11, 24, 10, 0), RE_NUMBER) == paris(2026, 11, 24, 10, 0)
    assert opening(site, paris(2026, 11, 24, 18, 0), RE_NUMBER) == datetime(
        2026, 11, 25, 8, 0, tzinfo=reunion
    )
    # 20 December, the abolition of slavery, is a holiday in Réunion only.
    assert opening(
        site, datetime(2026, 12, 21, 10, 0, tzinfo=reunion) - timedelta(days=1), RE_NUMBER
    ) == datetime(2026, 12, 21, 8, 0, tzinfo=reunion)


def test_a_shared_prefix_keeps_the_zones_of_the_numbers_own_country(site):
    assert recipient(phone=RE_NUMBER, site=site).zones == (ZoneInfo("Indian/Reunion"),)
    mayotte = recipient(phone="+262639012345", site=site)
    assert (mayotte.country, mayotte.zones) == ("YT", (ZoneInfo("Indian/Mayotte"),))


def test_a_number_that_tells_nothing_uses_the_sites_zone(site):
    site.time_zone = "America/Martinique"
    assert recipient(phone="not a number", site=site).zones == (ZoneInfo("America/Martinique"),)


def test_no_quiet_hours_means_always_open(site):
    site.quiet_hours = "none"
    assert opening(site, paris(2026, 12, 25, 3, 0)) == paris(2026, 12, 25, 3, 0)


def test_the_af2m_charter_allows_sundays_until_21_30(site):
    site.quiet_hours = "fr_af2m"
    assert opening(site, paris(2026, 11, 29, 21, 29)) == paris(2026, 11, 29, 21, 29)
    assert opening(site, paris(2026, 11, 29, 21, 30)) == paris(2026, 11, 30, 8, 0)


def ny(*args):
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.fixture
def us_site(db):
    return SiteFactory(country="US", time_zone="America/New_York", quiet_hours="us_tcpa")


def test_tcpa_new_york_number_08_00_to_21_00_every_day(us_site):
    who = recipient(phone=US_NUMBER, site=us_site)
    assert (who.country, who.region) == ("US", "NY")
    assert opening(us_site, ny(2026, 11, 29, 20, 59), US_NUMBER) == ny(2026, 11, 29, 20, 59)
    assert opening(us_site, ny(2026, 11, 29, 21, 0), US_NUMBER) == ny(2026, 11, 30, 8, 0)
    # The federal rule has no holiday ban: Thanksgiving is open.
    assert opening(us_site, ny(2026, 11, 26, 10, 0), US_NUMBER) == ny(2026, 11, 26, 10, 0)


def test_tcpa_florida_stops_at_20_00(us_site):
    florida = "+13055550123"
    assert recipient(phone=florida, site=us_site).region == "FL"
    assert opening(us_site, ny(2026, 11, 24, 19, 59), florida) == ny(2026, 11, 24, 19, 59)
    assert opening(us_site, ny(2026, 11, 24, 20, 0), florida) == ny(2026, 11, 25, 8, 0)


def test_tcpa_oklahoma_maryland_mississippi_stop_at_20_00_local(us_site):
    chicago = ZoneInfo("America/Chicago")
    for number, zone in (("+14055550123", chicago), ("+14105550123", NEW_YORK)):
        at = datetime(2026, 11, 24, 20, 0, tzinfo=zone)
        assert opening(us_site, at, number) == datetime(2026, 11, 25, 8, 0, tzinfo=zone)
    assert recipient(phone="+16015550123", site=us_site).region == "MS"


def test_tcpa_connecticut_starts_at_09_00(us_site):
    connecticut = "+12035550123"
    assert opening(us_site, ny(2026, 11, 24, 8, 30), connecticut) == ny(2026, 11, 24, 9, 0)


def test_tcpa_texas_waits_for_noon_on_sundays(us_site):
    texas, chicago = "+12145550123", ZoneInfo("America/Chicago")
    sunday_morning = datetime(2026, 11, 29, 10, 0, tzinfo=chicago)
    assert opening(us_site, sunday_morning, texas) == datetime(2026, 11, 29, 12, 0, tzinfo=chicago)
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=chicago)
    assert opening(us_site, saturday, texas) == saturday


def test_tcpa_a_us_number_without_a_state_gets_every_states_rule(us_site):
    toll_free = "+18005550123"
    who = recipient(phone=toll_free, site=us_site)
    assert (who.country, who.region) == ("US", "")
    policy = policy_for(us_site, who)
    assert not is_open(ny(2026, 11, 24, 8, 30), policy=policy, who=Recipient((NEW_YORK,), "US"))
    assert is_open(ny(2026, 11, 24, 9, 0), policy=policy, who=Recipient((NEW_YORK,), "US"))
    assert not is_open(ny(2026, 11, 29, 11, 0), policy=policy, who=Recipient((NEW_YORK,), "US"))


def test_tcpa_a_french_number_on_a_us_site_gets_the_federal_hours(us_site):
    assert opening(us_site, paris(2026, 11, 29, 20, 30)) == paris(2026, 11, 29, 20, 30)
    assert opening(us_site, paris(2026, 11, 29, 21, 0)) == paris(2026, 11, 30, 8, 0)


@pytest.fixture
def custom_site(db):
    return SiteFactory(
        country="FR",
        time_zone="Europe/Paris",
        quiet_hours="custom",
        quiet_hours_custom={
            "windows": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00", "end": "12:00"},
                {"days": ["fri"], "start": "22:00", "end": "02:00"},
            ],
            "holidays": False,
        },
    )


def test_custom_windows_including_one_across_midnight(custom_site):
    # Tuesday 24 November 2026.
    assert opening(custom_site, paris(2026, 11, 24, 9, 0)) == paris(2026, 11, 24, 10, 0)
    assert opening(custom_site, paris(2026, 11, 24, 12, 0)) == paris(2026, 11, 25, 10, 0)
    # Friday 27 at 23:30 and Saturday 28 at 01:59 belong to Friday's night window.
    assert opening(custom_site, paris(2026, 11, 27, 23, 30)) == paris(2026, 11, 27, 23, 30)
    assert opening(custom_site, paris(2026, 11, 28, 1, 59)) == paris(2026, 11, 28, 1, 59)
    assert opening(custom_site, paris(2026, 11, 28, 2, 0)) == paris(2026, 11, 30, 10, 0)


def test_custom_windows_keep_public_holidays_closed_unless_allowed(custom_site):
    christmas = paris(2026, 12, 25, 11, 0)  # a Friday
    assert opening(custom_site, christmas) == paris(2026, 12, 28, 10, 0)
    custom_site.quiet_hours_custom = {**custom_site.quiet_hours_custom, "holidays": True}
    assert opening(custom_site, christmas) == christmas


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"windows": []}, "at least one window"),
        ({"windows": [{"days": ["lun"], "start": "08:00", "end": "20:00"}]}, "days are among"),
        ({"windows": [{"days": ["mon"], "start": "8h", "end": "20:00"}]}, "HH:MM"),
        ({"windows": [{"days": ["mon"], "start": "08:00", "end": "08:00"}]}, "the same time"),
        ({"windows": [{"days": ["mon"], "start": "08:00"}]}, '"end"'),
        ({"windows": [{"days": ["mon"], "start": "08:00", "end": "20:00"}], "x": 1}, "Write"),
        (
            {"windows": [{"days": ["mon"], "start": "08:00", "end": "20:00"}], "holidays": "no"},
            "true or false",
        ),
    ],
)
def test_custom_windows_are_checked_when_the_site_is_saved(custom_site, setting, message):
    custom_site.quiet_hours_custom = setting
    with pytest.raises(ValidationError) as caught:
        custom_site.full_clean()
    assert message in str(caught.value)


def test_the_custom_preset_needs_windows(custom_site):
    custom_site.quiet_hours_custom = {}
    with pytest.raises(ValidationError, match="at least one window"):
        custom_site.full_clean()


@time_machine.travel(paris(2026, 11, 24, 21, 0), tick=False)
def test_deferred_sends_are_spread_over_the_first_30_minutes_of_the_opening(site):
    times = [
        send_time(timezone.now(), site=site, phone=FR_NUMBER, key=f"send-{i}") for i in range(200)
    ]
    assert min(times) >= paris(2026, 11, 25, 8, 0)
    assert max(times) < paris(2026, 11, 25, 8, 30)
    assert len({t.minute for t in times}) > 20  # spread, not all at once
    assert send_time(timezone.now(), site=site, phone=FR_NUMBER, key="send-7") == times[7]


@time_machine.travel(paris(2026, 11, 24, 15, 0), tick=False)
def test_a_send_due_in_open_hours_goes_at_once(site):
    assert send_time(timezone.now(), site=site, phone=FR_NUMBER, key="x") == timezone.now()


def _parsed_recipient(phone, site_zone, site_country):
    """What parsing the number gives (the fast path turned off)."""
    from campaigns import quiet_hours

    original = quiet_hours._by_country_code
    quiet_hours._by_country_code = lambda phone: None
    try:
        return quiet_hours._recipient.__wrapped__(phone, site_zone, site_country)
    finally:
        quiet_hours._by_country_code = original


def test_a_number_settled_by_its_calling_code_gets_what_parsing_it_gives():
    """Every country's example mobile and fixed numbers: the shortcut agrees with parsing."""
    import phonenumbers

    from campaigns import quiet_hours

    checked = shortcut = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            phone = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            fast = quiet_hours._by_country_code(phone)
            if fast is not None:
                shortcut += 1
                assert fast == _parsed_recipient(phone, "Europe/Paris", "FR"), phone
            checked += 1
    assert checked > 400 and shortcut > 200
    # Shared or split calling codes are always parsed.
    for phone in ("+12125550123", "+262692123456", "+447700900123", "+79161234567"):
        assert quiet_hours._by_country_code(phone) is None
    assert quiet_hours._by_country_code("+33612345678") == quiet_hours.Recipient(
        (ZoneInfo("Europe/Paris"),), "FR"
    )


@pytest.mark.parametrize("preset", ["fr_strict", "fr_af2m", "us_tcpa"])
@pytest.mark.parametrize("phone", [FR_NUMBER, US_NUMBER, ES_NUMBER, RE_NUMBER])
def test_the_kept_closed_stretch_gives_the_same_opening_as_working_it_out(db, preset, phone):
    """next_opening keeps the last closed stretch it found and answers from it; every moment,
    in any order (a dispatch pass's carts are not sorted by time), gets the opening the full
    search finds: over a week with a public holiday (11 November) and the change to winter
    time (25 October), every 7 minutes, then the same moments shuffled."""
    import random

    from campaigns import quiet_hours

    shop = SiteFactory(country="FR", time_zone="Europe/Paris", quiet_hours=preset)
    who = recipient(phone=phone, site=shop)
    policy = policy_for(shop, who)
    moments = []
    for start in (paris(2026, 10, 23, 0, 0), paris(2026, 11, 9, 0, 0)):
        moments += [start + timedelta(minutes=7 * n) for n in range(7 * 24 * 60 // 7)]
    shuffled = moments[:]
    random.Random(11).shuffle(shuffled)
    for at in moments + shuffled:
        expected = (
            at
            if is_open(at, policy=policy, who=who)
            else quiet_hours._next_opening(at, policy=policy, who=who)
        )
        assert next_opening(at, policy=policy, who=who) == expected, at

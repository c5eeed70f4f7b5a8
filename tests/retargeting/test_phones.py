from __future__ import annotations

import pytest

from retargeting.sms.phones import InvalidPhone, PhoneError, mask, parse_phone


@pytest.mark.parametrize(
    ("raw", "e164", "region"),
    [
        ("06 12 34 56 78", "+33612345678", "FR"),
        ("+33 6 12 34 56 78", "+33612345678", "FR"),
        ("0033612345678", "+33612345678", "FR"),
        ("07.52.34.56.78", "+33752345678", "FR"),
        ("+32 470 12 34 56", "+32470123456", "BE"),
        ("+262 692 12 34 56", "+262692123456", "RE"),
    ],
)
def test_numbers_are_stored_in_e164_with_their_own_country(raw, e164, region):
    phone = parse_phone(raw, default_region="FR")
    assert (phone.e164, phone.region) == (e164, region)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", PhoneError.NOT_A_NUMBER),
        ("hello", PhoneError.NOT_A_NUMBER),
        ("06 12", PhoneError.INVALID_FOR_COUNTRY),
        ("+33 6 12 34 56 78 90", PhoneError.INVALID_FOR_COUNTRY),
        ("01 23 45 67 89", PhoneError.NOT_MOBILE),
        ("0 800 123 456", PhoneError.NOT_MOBILE),
    ],
)
def test_unusable_numbers_are_refused_with_the_reason(raw, code):
    with pytest.raises(InvalidPhone) as error:
        parse_phone(raw, default_region="FR")
    assert error.value.code is code
    assert str(error.value)


def test_a_french_national_number_on_a_us_site_asks_for_the_international_prefix():
    with pytest.raises(InvalidPhone, match=r"international prefix") as error:
        parse_phone("06 12 34 56 78", default_region="US")
    assert error.value.code is PhoneError.INVALID_FOR_COUNTRY


def test_a_us_number_whose_type_cannot_be_told_is_kept():
    assert parse_phone("(212) 555-1234", default_region="US").e164 == "+12125551234"


def test_masked_numbers_hide_their_last_digits():
    assert mask("+33612345678") == "+3361234••••"
    assert "5678" not in mask("+33612345678")

"""Generated input for the phone parser: a number in E.164 or a reason, never anything else."""

from __future__ import annotations

import phonenumbers
from hypothesis import example, given
from hypothesis import strategies as st

from retargeting.sms.phones import InvalidPhone, PhoneError, parse_phone
from tests.support.generated import SETTINGS, hostile_text

REGIONS = st.sampled_from(["FR", "BE", "CH", "US", "GB", "RE", "DE", "ZZ"])


@SETTINGS
@given(raw=hostile_text, region=REGIONS)
@example(raw="+" + "9" * 200, region="FR")
@example(raw="0" * 5000, region="FR")
@example(raw="\x00", region="FR")
@example(raw="06 12 34 56 78", region="ZZ")
def test_any_text_is_a_number_in_e164_or_refused_with_a_reason(raw, region):
    try:
        phone = parse_phone(raw, default_region=region)
    except InvalidPhone as error:
        assert isinstance(error.code, PhoneError)
        # The reason quotes what was typed, cut short: a long input makes a short message.
        assert 0 < len(str(error)) < 250
        return
    assert phone.e164.startswith("+") and phone.e164[1:].isdigit()
    assert 8 <= len(phone.e164) <= 16
    # Stored numbers read back as themselves, whatever site reads them.
    assert parse_phone(phone.e164, default_region="US") == phone
    assert phonenumbers.region_code_for_number(phonenumbers.parse(phone.e164)) == phone.region


french_mobile = st.builds(
    lambda first, rest, prefix, separator: (
        prefix + first + separator.join(rest[i : i + 2] for i in range(0, 8, 2))
    ),
    first=st.sampled_from(["6", "7"]),
    rest=st.text(alphabet="0123456789", min_size=8, max_size=8),
    prefix=st.sampled_from(["0", "+33 ", "+33", "0033 ", "(0)", "+33 (0)"]),
    separator=st.sampled_from(["", " ", ".", "-", "  "]),
)


@SETTINGS
@given(raw=french_mobile)
def test_a_french_mobile_however_it_is_written_is_one_number(raw):
    try:
        phone = parse_phone(raw, default_region="FR")
    except InvalidPhone as error:
        # Some 06/07 ranges are not allocated yet; those are refused as invalid, not crashed.
        assert error.code is PhoneError.INVALID_FOR_COUNTRY
        return
    digits = "".join(c for c in raw if c.isdigit())
    assert phone.region == "FR"
    assert phone.e164 == "+33" + digits[-9:]

"""Reading phone numbers: what a customer typed, into E.164, or a clear reason why not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import PhoneNumberType


class PhoneError(Enum):
    NOT_A_NUMBER = "not_a_number"
    INVALID_FOR_COUNTRY = "invalid_for_country"
    NOT_MOBILE = "not_mobile"


_MESSAGES = {
    PhoneError.NOT_A_NUMBER: "{raw!r} is not a phone number.",
    PhoneError.INVALID_FOR_COUNTRY: (
        "{raw!r} is not a valid number in {region}; numbers from another country need their "
        "international prefix (+…)."
    ),
    PhoneError.NOT_MOBILE: "{raw!r} is not a mobile number, so it cannot receive SMS.",
}

# Types that can receive SMS. Where a numbering plan cannot tell mobile from fixed lines
# (the US, for one), the number is kept and the provider has the last word.
_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhone(ValueError):
    def __init__(self, code: PhoneError, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Phone:
    e164: str
    region: str
    """The country the number belongs to (ISO 3166), which may differ from the site's."""


def region_of(number: phonenumbers.PhoneNumber, default_region: str = "") -> str:
    """The country a number belongs to (ISO 3166), ``default_region`` when the number does not
    tell: the one rule, whose result a contact keeps as ``Contact.region``."""
    return phonenumbers.region_code_for_number(number) or default_region


def region_of_e164(e164: str, default_region: str = "") -> str:
    """``region_of`` for a number already in E.164 (or anything else: ``default_region``)."""
    try:
        return region_of(phonenumbers.parse(e164 or "", None), default_region)
    except phonenumbers.NumberParseException:
        return default_region


def parse_phone(raw: str, *, default_region: str) -> Phone:
    """Read ``raw`` with ``default_region`` for national numbers; keep only SMS-capable ones."""
    text = (raw or "").strip()[:64]
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(
            PhoneError.NOT_A_NUMBER, _MESSAGES[PhoneError.NOT_A_NUMBER].format(raw=text)
        ) from exc
    if not phonenumbers.is_valid_number(number):
        region = region_of(number, default_region)
        raise InvalidPhone(
            PhoneError.INVALID_FOR_COUNTRY,
            _MESSAGES[PhoneError.INVALID_FOR_COUNTRY].format(raw=text, region=region),
        )
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise InvalidPhone(PhoneError.NOT_MOBILE, _MESSAGES[PhoneError.NOT_MOBILE].format(raw=text))
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=region_of(number, default_region),
    )


def mask(e164: str) -> str:
    """A number fit for logs: ``+336123••••``."""
    return f"{e164[:-4]}••••" if len(e164) > 6 else "••••"


def mask_email(address: str) -> str:
    """An email address fit for logs: ``ma••••@example.fr``."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "••••"
    return f"{local[:2]}••••@{domain}"

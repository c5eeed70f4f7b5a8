"""Reading a platform's webhook body: its values as they come (strings, numbers, nulls)."""

from __future__ import annotations

from typing import Any

from retargeting.channels.email_addresses import InvalidEmail, normalize_email
from retargeting.sms.phones import InvalidPhone, parse_phone


class Unreadable(ValueError):
    """A signed body without what the webhook needs: answered 400, nothing changed."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(expected if expected.startswith(path) else f"{path}: expected {expected}")
        self.path = path


def text(value: Any) -> str:
    """A string or a whole number as text, stripped; anything else is empty."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "").strip()
    return ""


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def amount(value: Any, path: str) -> str:
    """A price as the platforms send it (a string such as "59.90", or a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unreadable(path, "an amount")
    return str(value).strip()


def first_phone(candidates: list[Any], *regions: str) -> str | None:
    """The first of ``candidates`` that is a mobile number (E.164), a national number read
    with the first of ``regions`` it is valid in (the address's country, then the shop's)."""
    for raw in candidates:
        value = text(raw)
        if not value:
            continue
        for region in dict.fromkeys(regions):
            try:
                return parse_phone(value, default_region=region).e164
            except InvalidPhone:
                continue
    return None


def first_email(candidates: list[Any]) -> str | None:
    """The first of ``candidates`` that is an email address, normalised."""
    for raw in candidates:
        value = text(raw)
        if not value:
            continue
        try:
            return normalize_email(value)
        except InvalidEmail:
            continue
    return None

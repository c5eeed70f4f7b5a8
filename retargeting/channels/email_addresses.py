"""Email addresses as the mail providers read them: checked and normalised once, at the door.

The domain is lower-cased and internationalised domains are kept in their Unicode form; the
local part is kept as typed (it may be case-sensitive, though few servers treat it so), except
that a whole address is compared case-insensitively for uniqueness (it is stored lower-cased:
the shopper who types ``Marie@Example.fr`` at the checkout and ``marie@example.fr`` in a form
is one person). No DNS lookup: a door must answer at once, whatever the network does.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254
"""RFC 5321's limit on a path, and the column's."""


class InvalidEmail(ValueError):
    """Not an address mail can be delivered to; the message says why, in plain words."""


def normalize_email(raw: object) -> str:
    """``raw`` as one normalised address, or ``InvalidEmail``."""
    if not isinstance(raw, str):
        raise InvalidEmail("an email address is text")
    candidate = raw.strip()
    if not candidate or len(candidate) > MAX_LENGTH:
        raise InvalidEmail("an email address has 1 to 254 characters")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    normalized = checked.normalized.lower()
    if len(normalized) > MAX_LENGTH:
        raise InvalidEmail("an email address has 1 to 254 characters")
    return normalized

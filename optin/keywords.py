"""SMS reply keywords (CONTRACT.md), in any case, accents, spaces and punctuation ignored.

A message counts by its first word ("Stop svp" is a STOP) or by its words run together
("STOP ALL", "opt-out"). The provider's own classification, when it sends one (Twilio's
``OptOutType``), comes first.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    """START, UNSTOP: subscribe again (only a number that consented before)."""
    YES = "yes"
    """OUI, YES: confirm a pending opt-in, or subscribe again like START."""
    HELP = "help"


WORDS: dict[str, Keyword] = {
    **dict.fromkeys(
        [
            "STOP",
            "STOPALL",
            "ARRET",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "DESABONNER",
            "OPTOUT",
            "REVOKE",
        ],
        Keyword.STOP,
    ),
    **dict.fromkeys(["START", "UNSTOP"], Keyword.START),
    **dict.fromkeys(["YES", "OUI"], Keyword.YES),
    **dict.fromkeys(["HELP", "INFO", "AIDE"], Keyword.HELP),
}
PROVIDER_TYPES = {"STOP": Keyword.STOP, "START": Keyword.START, "HELP": Keyword.HELP}
_NOT_WORD = re.compile(r"[^A-Z0-9]+")


def normalize(text: str) -> list[str]:
    """The words of ``text``, upper-case, without accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return [word for word in _NOT_WORD.split(plain.upper()) if word]


def classify(text: str, *, provider_type: str = "") -> Keyword | None:
    """Which keyword ``text`` is, or None for an ordinary message."""
    if provider_type.upper() in PROVIDER_TYPES:
        words = normalize(text)
        # The provider says START for OUI/YES too; keep the difference, it confirms opt-ins.
        if (
            PROVIDER_TYPES[provider_type.upper()] is Keyword.START
            and words
            and WORDS.get(words[0]) is Keyword.YES
        ):
            return Keyword.YES
        return PROVIDER_TYPES[provider_type.upper()]
    words = normalize(text)
    if not words:
        return None
    for candidate in (words[0], "".join(words[:2]), "".join(words)):
        if candidate in WORDS:
            return WORDS[candidate]
    return None

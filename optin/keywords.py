"""SMS reply keywords (CONTRACT.md), in any case, accents, spaces and punctuation ignored.

The one rule for what a customer's reply means (docs/consent.md shows it with examples):

- A reply that contains an opt-out word anywhere is an opt-out: "Oui stop", "Yes, stop" and
  "Oui, mais arrêtez" all stop. When in doubt, stopping is the safe side: a missed STOP
  is a customer messaged against their will, a wrong one costs one START.
- An opt-in word (START, UNSTOP, OUI, YES) or a help word (HELP, INFO, AIDE) counts only
  when it is the whole reply, punctuation and one politeness word ("merci", "svp",
  "please", "thanks"…) allowed: "Oui merci" confirms, "oui je veux bien" does not.
- Words run together or split count as one: "STOP ALL", "opt-out", "S.T.O.P" (but a
  single letter is never run into the next word, "qui t'a" being no QUIT, and "week-end"
  is no END).

The provider's own classification, when it sends one (Twilio's ``OptOutType``), is used too:
its STOP always stops, and its START or HELP holds unless our opt-out rule finds an opt-out
word in the text (the provider may match keywords of its own, "Oui stop" being none of ours
to resubscribe).
"""

from __future__ import annotations

import itertools
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


# Twilio's default opt-out words (https://www.twilio.com/docs/messaging/tutorials/
# advanced-opt-out: STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, CANCEL) and the
# French ones of its Proxy (https://www.twilio.com/docs/proxy/opt-out-keywords: ARRET,
# ARRETE, ARRETT), with the French forms customers type (CONTRACT.md, "SMS replies").
OPT_OUT_WORDS = frozenset(
    {
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
        "ARRETE",
        "ARRETEZ",
        "ARRETT",
        "STOPP",
        "STOPPEZ",
        "DESABONNEMENT",
        "DESINSCRIRE",
        "DESINSCRIPTION",
    }
)
WORDS: dict[str, Keyword] = {
    **dict.fromkeys(OPT_OUT_WORDS, Keyword.STOP),
    **dict.fromkeys(["START", "UNSTOP"], Keyword.START),
    **dict.fromkeys(["YES", "OUI"], Keyword.YES),
    **dict.fromkeys(["HELP", "INFO", "AIDE"], Keyword.HELP),
}
# One of these may stand before or after an opt-in or help word ("Oui merci", "please help").
POLITENESS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("MERCI",),
        ("MERCI", "BEAUCOUP"),
        ("SVP",),
        ("STP",),
        ("S", "IL", "VOUS", "PLAIT"),
        ("S", "IL", "TE", "PLAIT"),
        ("PLEASE",),
        ("PLZ",),
        ("THANKS",),
        ("THANK", "YOU"),
        ("THX",),
    }
)
# Everyday phrases that contain an opt-out word only because they are written in two parts.
ORDINARY_PHRASES: frozenset[tuple[str, ...]] = frozenset({("WEEK", "END")})
PROVIDER_TYPES = {"STOP": Keyword.STOP, "START": Keyword.START, "HELP": Keyword.HELP}
_NOT_WORD = re.compile(r"[^A-Z0-9]+")


def normalize(text: str) -> list[str]:
    """The words of ``text``, upper-case, without accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return [word for word in _NOT_WORD.split(plain.upper()) if word]


def has_opt_out_word(words: list[str]) -> bool:
    """Whether an opt-out word is among ``words``: alone, as two words run together
    ("STOP ALL", "opt-out") or spelt letter by letter ("S.T.O.P").

    Two words are run together only when neither is a single letter, so that an elided
    French word does not make one ("qui t'a" is no QUIT); and the French "week-end" is no
    END.
    """
    words = _without_ordinary_phrases(words)
    candidates = set(words)
    candidates.update(
        first + second
        for first, second in itertools.pairwise(words)
        if len(first) > 1 and len(second) > 1
    )
    if words and all(len(word) == 1 for word in words):
        candidates.add("".join(words))
    return not OPT_OUT_WORDS.isdisjoint(candidates)


def _without_ordinary_phrases(words: list[str]) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(words):
        for phrase in ORDINARY_PHRASES:
            if tuple(words[index : index + len(phrase)]) == phrase:
                out.append("".join(phrase))
                index += len(phrase)
                break
        else:
            out.append(words[index])
            index += 1
    return out


def _alone(words: list[str]) -> Keyword | None:
    """The keyword that is the whole reply, one politeness expression allowed around it."""
    joined = "".join(words)
    if joined in WORDS:
        return WORDS[joined]
    for polite in POLITENESS:
        size = len(polite)
        if len(words) > size and tuple(words[:size]) == polite:
            rest = "".join(words[size:])
        elif len(words) > size and tuple(words[-size:]) == polite:
            rest = "".join(words[:-size])
        else:
            continue
        if rest in WORDS:
            return WORDS[rest]
    return None


def classify(text: str, *, provider_type: str = "") -> Keyword | None:
    """Which keyword ``text`` is, or None for an ordinary message (the rule: module doc)."""
    words = normalize(text)
    provider = PROVIDER_TYPES.get(provider_type.strip().upper())
    if provider is Keyword.STOP or has_opt_out_word(words):
        return Keyword.STOP
    own = _alone(words)
    if provider is None:
        return own
    # The provider says START for OUI/YES too; keep the difference, it confirms opt-ins.
    if provider is Keyword.START and own is Keyword.YES:
        return Keyword.YES
    return provider

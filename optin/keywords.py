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
- A French sentence asking for no more messages is an opt-out too, without any opt-out
  word: "ne ... plus" then messages ("Je ne veux plus recevoir de SMS", "Ne m'envoyez plus
  de messages", "merci de ne plus m'écrire"), or "plus de SMS" alone, spoken French dropping
  the "ne". Twilio stops on none of these; a customer who writes them means it.

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
# "No more messages" sentences: a message word after "ne ... plus" (or after "plus de"),
# brought in by a word that makes it messages in general ("de SMS", "vos messages"), not one
# message ("je ne trouve plus le SMS" asks for help, it does not stop).
MESSAGE_WORDS = frozenset(
    {
        "SMS",
        "MESSAGE",
        "MESSAGES",
        "TEXTO",
        "TEXTOS",
        "MSG",
        "PUB",
        "PUBS",
        "PUBLICITE",
        "PUBLICITES",
    }
)
MESSAGES_IN_GENERAL = frozenset({"DE", "D", "DES", "VOS", "TES", "CES"})
# "ne m'écrivez plus", "ne plus me contacter": a verb of writing to the customer.
WRITING_VERBS = frozenset(
    {
        "ECRIRE",
        "ECRIVEZ",
        "ECRIS",
        "CONTACTER",
        "CONTACTEZ",
        "RELANCER",
        "RELANCEZ",
        "SPAMMER",
        "SPAMMEZ",
        "HARCELER",
        "HARCELEZ",
    }
)
# One clause at a time: "plus de stock, envoyez un SMS" asks for a message.
_CLAUSE_END = re.compile(r"[.,;:!?()\n]+")
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


def asks_for_no_more_messages(text: str) -> bool:
    """Whether a clause of ``text`` asks for no more messages, in French: "ne ... plus"
    followed by messages in general ("de SMS", "vos messages") or by a verb of writing to the
    customer ("m'écrire", "me contacter"), or "plus de SMS" without the "ne"."""
    return any(_no_more_messages(normalize(part)) for part in _CLAUSE_END.split(text or ""))


def _no_more_messages(words: list[str]) -> bool:
    negation = next((i for i, word in enumerate(words) if word in ("NE", "N")), None)
    for index, word in enumerate(words):
        if word != "PLUS":
            continue
        after = words[index + 1 :]
        if negation is not None and negation < index:
            if _writes_to_the_customer(words[negation:]):
                return True
        elif after[:1] not in (["DE"], ["D"]):
            continue  # "plus" without "ne" stops only as "plus de SMS"
        if any(
            later in MESSAGE_WORDS and not MESSAGES_IN_GENERAL.isdisjoint(after[:position])
            for position, later in enumerate(after)
        ):
            return True
    return False


def _writes_to_the_customer(words: list[str]) -> bool:
    return any(
        first in ("M", "ME") and second in WRITING_VERBS
        for first, second in itertools.pairwise(words)
    )


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
    if provider is Keyword.STOP or has_opt_out_word(words) or asks_for_no_more_messages(text):
        return Keyword.STOP
    own = _alone(words)
    if provider is None:
        return own
    # The provider says START for OUI/YES too; keep the difference, it confirms opt-ins.
    if provider is Keyword.START and own is Keyword.YES:
        return Keyword.YES
    return provider

"""How an SMS text is encoded and into how many segments it is split, as Twilio bills it.

GSM-7 (3GPP TS 23.038) carries 160 septets in one SMS and 153 per segment once split;
characters of the extension table (``€ [ ] { } ~ ^ | \\`` and form feed) take two septets.
Any other character forces UCS-2: 70 UTF-16 units, 67 per segment.

A segment never splits a grapheme cluster (what a reader sees as one character): a flag, a
skin-toned or family emoji, a letter with a combining accent, an escaped GSM-7 character
that would straddle a boundary moves whole into the next segment. This is how Twilio's own
calculator counts (https://github.com/TwilioDevEd/message-segment-calculator,
``src/libs/SegmentedMessage.ts``): graphemes by Unicode's rules, except that CR LF counts as
two characters, and a grapheme of more than one code point is never GSM-7.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7 = "GSM-7"
UCS2 = "UCS-2"
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class SegmentCount:
    encoding: str
    segments: int
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    per_segment: int
    """What one segment holds at this length: 160 or 153, 70 or 67."""
    ucs2_characters: tuple[str, ...]
    """The characters that forced UCS-2, each once, in order of appearance."""
    characters: int = 0
    """Characters as Twilio counts them: septets in GSM-7, graphemes in UCS-2."""


def graphemes(text: str) -> list[str]:
    """``text``'s grapheme clusters; CR LF is two, as Twilio counts it."""
    out: list[str] = []
    for cluster in _GRAPHEME.findall(text):
        if cluster == "\r\n":
            out.extend(cluster)
        else:
            out.append(cluster)
    return out


def _gsm7_cost(char: str) -> int | None:
    if char in GSM7_BASIC:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _pack(costs: list[int], single: int, multi: int) -> tuple[int, int]:
    """Segments needed for characters of the given costs; a character never straddles two."""
    total = sum(costs)
    if total <= single:
        return (1 if total else 0), single
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments, multi


def count(text: str) -> SegmentCount:
    """The encoding and segment count of ``text`` as the provider bills it."""
    clusters = graphemes(text)
    forcing = tuple(dict.fromkeys(g for g in clusters if _gsm7_cost(g) is None))
    if not forcing:
        costs = [_gsm7_cost(g) or 0 for g in clusters]
        segments, per_segment = _pack(costs, 160, 153)
        return SegmentCount(GSM7, segments, sum(costs), per_segment, (), sum(costs))
    costs = [len(g.encode("utf-16-le")) // 2 for g in clusters]
    segments, per_segment = _pack(costs, 70, 67)
    return SegmentCount(UCS2, segments, sum(costs), per_segment, forcing, len(clusters))


# GSM-7 look-alikes of the characters that most often force UCS-2 in French and English
# texts, keeping their meaning (after Twilio's Smart Encoding, src/libs/SmartEncodingMap.ts of
# its segment calculator). Characters with an accent the table does not list lose the accent
# (NFKD); what is left outside GSM-7 after that (an emoji) is dropped.
TRANSLITERATION = {
    "’": "'",
    "ʼ": "'",  # the modifier apostrophe some keyboards type for the French elision
    "ʻ": "'",
    "½": "1/2",  # NFKD would give "1⁄2" and the fraction slash would vanish: "12 prix"
    "¼": "1/4",
    "¾": "3/4",
    "⁄": "/",  # the fraction slash of the other fractions' NFKD forms (⅓ → 1/3)
    "∕": "/",
    "÷": "/",
    "×": "x",
    "°": "o",  # n° → no
    "\u2028": "\n",  # line separator: a new line, never two words glued together
    "\u2029": "\n",  # paragraph separator
    "\u2060": "",
    "\ufeff": "",
    "‘": "'",
    "‚": "'",
    "‛": "'",
    "´": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "‹": '"',
    "›": '"',
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "−": "-",
    "…": "...",
    "•": "-",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "\u200b": "",
    "\t": " ",
    "ç": "c",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ÿ": "y",
    "œ": "oe",
    "Œ": "OE",
    "À": "A",
    "Â": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Î": "I",
    "Ï": "I",
    "Ô": "O",
    "Ù": "U",
    "Û": "U",
    "Ÿ": "Y",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
}


def _look_alike(char: str) -> str:
    """What ``char``, outside GSM-7, becomes in a GSM-7 text."""
    if char in TRANSLITERATION:
        return TRANSLITERATION[char]
    category = unicodedata.category(char)
    if category == "Zs":
        return " "  # any other space is a space, so no two words are ever glued together
    if category in ("Zl", "Zp"):
        return "\n"
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if _gsm7_cost(part) is not None:
            out.append(part)
        elif part in TRANSLITERATION:
            out.append(TRANSLITERATION[part])
    return "".join(out)


def to_gsm7(text: str) -> str:
    """``text`` with every character GSM-7 can carry, look-alikes for the others.

    Composed first (NFC): a decomposed "Hélène" keeps its é, which GSM-7 has.
    """
    return "".join(
        char if _gsm7_cost(char) is not None else _look_alike(char)
        for char in unicodedata.normalize("NFC", text)
    )

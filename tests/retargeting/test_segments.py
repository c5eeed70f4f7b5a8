from __future__ import annotations

import pytest

from retargeting.sms.segments import GSM7, UCS2, count, graphemes, to_gsm7

# Twilio's message-segment-calculator (github.com/TwilioDevEd/message-segment-calculator,
# commit a50230f), tests/index.test.js: its bodies are these digits, the first one or two
# replaced by the character under test.
DIGITS = "1234567890" * 40
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦, 11 units
THUMB_SKIN = "\U0001f44d\U0001f3fd"  # 👍🏽, 4 units
FLAG_FR = "\U0001f1eb\U0001f1f7"  # 🇫🇷, 4 units
E_ACUTE_COMBINING = "e\u0301"  # é decomposed, 2 units


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", GSM7, 0, 0),
        ("a", GSM7, 1, 1),
        ("a" * 160, GSM7, 1, 160),
        ("a" * 161, GSM7, 2, 161),
        ("a" * 306, GSM7, 2, 306),
        ("a" * 307, GSM7, 3, 307),
        ("€", GSM7, 1, 2),
        ("€" * 80, GSM7, 1, 160),
        ("a" + "€" * 80, GSM7, 2, 161),
        # 152 septets then a two-septet character: it moves whole to the second segment.
        ("a" * 152 + "€" + "a" * 10, GSM7, 2, 164),
        ("a" * 152 + "€" * 77, GSM7, 3, 306),
        ("Votre panier à 59,90 € vous attend : réglez-le ici", GSM7, 1, 51),
        ("Élodie, où êtes-vous ?", UCS2, 1, 22),
        ("ç", UCS2, 1, 1),
        ("Ç", GSM7, 1, 1),
        ("ç" * 70, UCS2, 1, 70),
        ("ç" * 71, UCS2, 2, 71),
        ("ç" * 134, UCS2, 2, 134),
        ("ç" * 135, UCS2, 3, 135),
        ("🛒", UCS2, 1, 2),
        ("🛒" * 35, UCS2, 1, 70),
        # 66 units then an emoji (2 units): it cannot be split, so it opens segment two.
        ("ç" + "a" * 65 + "🛒" + "a" * 10, UCS2, 2, 78),
    ],
)
def test_segment_counts(text, encoding, segments, units):
    result = count(text)
    assert (result.encoding, result.segments, result.units) == (encoding, segments, units)


@pytest.mark.parametrize(
    "char", ["ç", "ê", "â", "î", "ô", "û", "œ", "’", "«", "»", "\u00a0", "\u202f", "ë", "ï"]
)
def test_french_traps_force_ucs2_and_are_named(char):
    result = count(f"Votre panier {char} vous attend")
    assert result.encoding == UCS2
    assert result.ucs2_characters == (char,)


@pytest.mark.parametrize("char", list("àéèùìòÉÇÄÖÑÜäöñü€[]{}~^|\\@£$¥§¿¡"))
def test_characters_of_the_gsm7_tables_stay_gsm7(char):
    assert count(f"Prix {char}").encoding == GSM7


def test_each_forcing_character_is_named_once_in_order():
    assert count("çà ê ç œ").ucs2_characters == ("ç", "ê", "œ")


def test_per_segment_capacity_follows_the_length():
    assert count("a" * 160).per_segment == 160
    assert count("a" * 161).per_segment == 153
    assert count("ç" * 70).per_segment == 70
    assert count("ç" * 71).per_segment == 67


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "characters"),
    [
        # tests/index.test.js lines 8-17, 18-27, 28-37: GSM-7 in one, two and three segments.
        (DIGITS[:160], GSM7, 1, 160),
        (DIGITS[:161], GSM7, 2, 161),
        (DIGITS[:307], GSM7, 3, 307),
        # Lines 38-67: UCS-2 with an emoji (two units) in one, two and three segments.
        ("😜" + DIGITS[1:69], UCS2, 1, 69),
        ("😜" + DIGITS[1:70], UCS2, 2, 70),
        ("😜" + DIGITS[1:134], UCS2, 3, 134),
        # Lines 68-87: a flag (two code points, one grapheme) at the one-segment boundary.
        ("🇮🇹" + DIGITS[1:67], UCS2, 1, 67),
        ("🇮🇹" + DIGITS[1:68], UCS2, 2, 68),
        # Lines 88-107: the rainbow flag (four code points, one grapheme).
        ("🏳️‍🌈" + DIGITS[1:65], UCS2, 1, 65),
        ("🏳️‍🌈" + DIGITS[1:66], UCS2, 2, 66),
        # Lines 142-165: an escaped GSM-7 character counts two septets.
        *[(char + DIGITS[:158], GSM7, 1, 160) for char in "|^€{}[]~\\"],
        *[(char + DIGITS[:159], GSM7, 2, 161) for char in "|^€{}[]~\\"],
        # Lines 167-190: letters outside GSM-7, 70 in one segment, 71 in two.
        *[(char * 70, UCS2, 1, 70) for char in "ÁÚúçíÍóÓ"],
        *[(char * 71, UCS2, 2, 71) for char in "ÁÚúçíÍóÓ"],
        # Lines 192-205: GSM-7 escaped characters take one unit in UCS-2.
        ("😀" + "]" * 68, UCS2, 1, 69),
        ("😀" + "]" * 69, UCS2, 2, 70),
        # Lines 207-218: CR LF counts as two characters.
        ("\rabcde\r\n123", GSM7, 1, 11),
        ("\nabcde\n\n123\n", GSM7, 1, 12),
        # Lines 220-238: a letter with three combining accents is one character.
        ("e\u0301\u0301\u0301", UCS2, 1, 1),
        ("e\u0301\u0301\u0301" + "a" * 66, UCS2, 1, 67),
        ("e\u0301\u0301\u0301" + "a" * 67, UCS2, 2, 68),
    ],
)
def test_twilio_calculator_cases(text, encoding, segments, characters):
    result = count(text)
    assert (result.encoding, result.segments, result.characters) == (
        encoding,
        segments,
        characters,
    )


def test_twilio_calculator_last_segments_hold_one_character():
    # tests/segments.test.js lines 4-20 and 22-38: 307 digits, and an emoji with 133 digits,
    # leave one character for the third segment (153 + 153 + 1, 67 + 67 + 1 units).
    assert count(DIGITS[:307]).segments == 3 and count(DIGITS[:306]).segments == 2
    assert count("😜" + DIGITS[1:134]).segments == 3
    assert count("😜" + DIGITS[1:133]).segments == 2


@pytest.mark.parametrize(
    ("cluster", "units"),
    [(FLAG_FR, 4), (THUMB_SKIN, 4), (FAMILY, 11), (E_ACUTE_COMBINING, 2), ("🏳️‍🌈", 6)],
)
def test_a_grapheme_at_a_segment_boundary_moves_whole_into_the_next(cluster, units):
    # 'ç' and 65 - units + 1 letters leave units - 1 free in the first 67-unit segment: the
    # cluster does not fit whole, so it opens segment two, which the text then fills exactly.
    head = "ç" + "a" * (67 - units)  # 68 - units units: one too many for the cluster to fit
    tail = "a" * (67 - units)  # segment two: the cluster and this, 67 units
    text = head + cluster + tail
    assert count(text).segments == 2
    assert count(text + "a").segments == 3
    # The same number of units made of one-unit letters fits two segments: the whole
    # cluster moving is what costs the third.
    assert count(head + "a" * (units - 1) + tail + "a").segments == 2


def test_a_cluster_is_never_cut_where_code_points_would_fit():
    # 65 units, then a flag (4): code-point counting fits one regional indicator in the
    # first segment and one in the second (2 segments for 133 units); Twilio moves the flag.
    text = "ç" + "a" * 64 + FLAG_FR + "a" * 64
    assert count(text).units == 133
    assert count(text).segments == 3


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("🇫🇷🇮🇹", ["🇫🇷", "🇮🇹"]),
        (FAMILY + "a", [FAMILY, "a"]),
        (THUMB_SKIN, [THUMB_SKIN]),
        ("He\u0301le\u0300ne", ["H", E_ACUTE_COMBINING, "l", "e\u0300", "n", "e"]),
        ("a\r\nb", ["a", "\r", "\n", "b"]),
    ],
)
def test_graphemes(text, clusters):
    assert graphemes(text) == clusters


def test_a_decomposed_accent_forces_ucs2_and_is_named_whole():
    result = count("Le" + E_ACUTE_COMBINING + "a")
    assert result.encoding == UCS2
    assert result.ucs2_characters == (E_ACUTE_COMBINING,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Twilio's Smart Encoding (src/libs/SmartEncodingMap.ts of the calculator): line 21
        # U+02BC → ', line 36 ÷ → /, lines 37-39 the fractions, line 43 the fraction slash,
        # lines 266-267 the line and paragraph separators (a new line here, not glued words).
        ("aujourdʼhui", "aujourd'hui"),
        ("10 ÷ 2", "10 / 2"),
        ("½ prix", "1/2 prix"),
        ("¼ de remise, ¾ du prix", "1/4 de remise, 3/4 du prix"),
        ("1⁄2", "1/2"),
        ("Bonjour\u2028Marie", "Bonjour\nMarie"),
        ("Merci.\u2029À bientôt", "Merci.\nA bientot"),
        # Our own cases: what the meaning needs.
        ("He\u0301le\u0300ne", "Hélène"),  # decomposed: composed first, é and è are GSM-7
        ("Ce\u0301dric et Franc\u0327oise", "Cédric et Francoise"),
        ("2 × 3", "2 x 3"),
        ("n° 12, N° 3", "no 12, No 3"),
        ("⅓ offert", "1/3 offert"),
        ("un\u2003deux\u3000trois", "un deux trois"),  # any space stays a space
        ("mot\u2060joint\ufeff", "motjoint"),
        ("q\u0301", "q"),  # an accent no composed letter carries is dropped, not the letter
    ],
)
def test_transliteration_keeps_the_meaning(text, expected):
    assert to_gsm7(text) == expected
    assert count(to_gsm7(text)).encoding == GSM7


def test_a_decomposed_name_costs_no_more_once_transliterated():
    decomposed = "He\u0301le\u0300ne, votre panier vous attend"
    assert count(decomposed).encoding == UCS2
    assert count(to_gsm7(decomposed)) == count("Hélène, votre panier vous attend")

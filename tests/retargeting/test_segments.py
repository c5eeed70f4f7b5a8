from __future__ import annotations

import pytest

from retargeting.segments import GSM7, UCS2, count


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

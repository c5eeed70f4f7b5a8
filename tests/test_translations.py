"""The French catalogue is complete, and the compiled one matches it."""

from __future__ import annotations

import gettext
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[1] / "locale" / "fr" / "LC_MESSAGES"


def test_every_french_entry_is_translated_and_not_fuzzy():
    catalogue = polib.pofile(str(LOCALE / "django.po"))
    assert len(catalogue) > 100
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


def test_the_compiled_catalogue_is_up_to_date():
    catalogue = polib.pofile(str(LOCALE / "django.po"))
    with (LOCALE / "django.mo").open("rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    for entry in catalogue.translated_entries():
        if entry.msgid_plural:
            assert (
                translations.ngettext(entry.msgid, entry.msgid_plural, 2)
                == (entry.msgstr_plural[1])
            ), "run `make messages`"
        elif entry.msgctxt:  # pgettext: the same word in another context
            assert translations.pgettext(entry.msgctxt, entry.msgid) == entry.msgstr, (
                "run `make messages`"
            )
        else:
            assert translations.gettext(entry.msgid) == entry.msgstr, "run `make messages`"


def test_placeholders_survive_translation():
    import re

    catalogue = polib.pofile(str(LOCALE / "django.po"))
    names = re.compile(r"%\((\w+)\)[sd]")
    for entry in catalogue.translated_entries():
        translated = entry.msgstr or entry.msgstr_plural[1]
        assert set(names.findall(entry.msgid)) <= set(names.findall(translated)) | {"counter"}, (
            entry.msgid
        )

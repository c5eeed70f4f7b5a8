"""Fill the French catalogue from translate_fr.py and compile every catalogue to .mo, with
polib (no GNU gettext needed). Run by `make messages` after `makemessages`."""

from __future__ import annotations

import sys
from pathlib import Path

import polib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from translate_fr import FR  # noqa: E402


def main() -> int:
    po_path = HERE / "fr" / "LC_MESSAGES" / "django.po"
    catalogue = polib.pofile(str(po_path))
    missing = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            plural = FR.get((entry.msgid, entry.msgid_plural))
            if plural:
                entry.msgstr_plural = {0: plural[0], 1: plural[1]}
        elif entry.msgctxt and f"{entry.msgctxt}\x04{entry.msgid}" in FR:
            # A word with a context (pgettext): its key is "context\x04word", as in gettext.
            entry.msgstr = FR[f"{entry.msgctxt}\x04{entry.msgid}"]
        elif entry.msgid in FR and not entry.msgctxt:
            entry.msgstr = FR[entry.msgid]
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        if not entry.translated():
            missing.append(entry.msgid)
    catalogue.metadata["Language"] = "fr"
    catalogue.metadata["Plural-Forms"] = "nplurals=2; plural=(n > 1);"
    catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    catalogue.save(str(po_path))
    catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
    for text in missing:
        print(f"locale: no French for {text!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())

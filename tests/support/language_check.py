"""Reading a page for words of the other language: what tests/test_translations_complete.py
checks on every page and the marketer's day (tests/campaigns/dashboard/test_marketers_day.py)
checks on each page of its walk. See the former's docstring for how a page is read."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

import polib
from django.apps import apps
from django.db import models

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES" / "django.po"

# Words of English that no French sentence needs, and the reverse. Short and common on purpose:
# one untranslated label almost always holds one of them.
ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "is",
        "not",
        "with",
        "your",
        "this",
        "was",
        "are",
        "for",
        "from",
        "by",
        "at",
        "be",
        "been",
        "has",
        "have",
        "will",
        "it",
        "its",
        "if",
        "when",
        "which",
        "that",
        "there",
        "can",
        "cannot",
        "than",
        "no",
        "yes",
        "any",
        "all",
        "none",
        "only",
        "into",
        "after",
        "before",
        "who",
        "what",
        "why",
        "how",
        "where",
        "here",
        "add",
        "change",
        "delete",
        "save",
        "view",
        "select",
        "search",
        "filter",
    ]
)
FRENCH_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "des",
        "du",
        "au",
        "aux",
        "est",
        "pas",
        "une",
        "vous",
        "votre",
        "vos",
        "avec",
        "pour",
        "dans",
        "sur",
        "qui",
        "que",
        "et",
        "ou",
        "par",
        "ce",
        "cette",
        "ces",
        "sont",
        "été",
        "aucun",
        "aucune",
        "nous",
        "leur",
        "mais",
        "depuis",
    ]
)
# Words that are the same in both languages or that are names, never translated.
ALLOWED = frozenset(
    {
        "Relance",  # the product
        "SMS",
        "STOP",  # the keyword a customer texts, in every language
        "Shopify",
        "WooCommerce",
        "PrestaShop",
        "Brevo",
        "Twilio",
        "email",
        "Email",
        "UTC",
        "RGPD",
        "Django",
        "Administration",  # Django's own name of its admin app: the same word in French
    }
)

DJANGO_ICONS = "/static/admin/img/"
KEPT_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
# Code is no language: a template's source, an identifier, JSON.
SKIPPED_TAGS = {"script", "style", "template", "noscript", "code", "pre", "kbd", "samp"}
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr"}


class VisibleText(HTMLParser):
    """The text a reader sees or hears, without the parts marked as another language."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: whether it is skipped

    @property
    def skipping(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        skipped = tag in SKIPPED_TAGS or values.get("translate") == "no"
        if tag != "html" and values.get("lang"):
            skipped = True
        if not self.skipping and not skipped:
            for name in KEPT_ATTRIBUTES:
                if name == "alt" and DJANGO_ICONS in (values.get("src") or ""):
                    continue  # Django's own search icon says alt="Search" in every language
                if values.get(name):
                    self.parts.append(str(values[name]))
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.parts.append(str(values["value"]))
        if tag not in VOID:
            self.stack.append(skipped)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


# A value such as "planner", "stop" or "mobile" is a code the product wrote, not the test's prose:
# shown to a reader, it needs its label (and masking it would mask the same word in a label).
CODE = re.compile(r"[a-z_]+")


def sample_strings() -> list[str]:
    """Every free text the test wrote (names, codes, texts, URLs, JSON as the admin shows it):
    they are the shop's words, not the interface's. Fields with choices are left in: their
    labels must be translated."""
    found: set[str] = set()
    for model in apps.get_models():
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, models.CharField | models.TextField | models.JSONField)
            and not field.choices
        ]
        if not fields:
            continue
        for row in model.objects.values_list(*(field.attname for field in fields)):
            for field, value in zip(fields, row, strict=True):
                if isinstance(field, models.JSONField):
                    if value not in (None, {}, []):
                        found.update({json.dumps(value), json.dumps(value, ensure_ascii=False)})
                elif isinstance(value, str) and len(value) > 1 and not CODE.fullmatch(value):
                    found.add(value)
    # The longest first, so a name inside a longer text does not leave the text's rest.
    return sorted(found, key=len, reverse=True)


def without_samples(text: str, samples: Iterable[str]) -> str:
    """``text`` less the samples (whole words only: a sample "admin" leaves "Administration")
    and less addresses and paths."""
    samples = [value for value in samples if value.strip()]
    if samples:
        alternatives = "|".join(re.escape(" ".join(value.split())) for value in samples)
        text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", " ", text)
    text = re.sub(r"\S+@\S+|https?://\S+|(?<!\S)/\S*", " ", text)
    return " ".join(text.split())


# The language's conventions for numbers and times: a decimal comma and no "0 minute" in
# French, a decimal point in English, 24-hour times in both (decided in formatting.py).
CONVENTIONS = {
    "fr": {
        "decimal point": re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])"),
        "12-hour time": re.compile(r"\b[ap]\.\s?m\.|\d\s?[AP]M\b"),
        "zero minutes ago": re.compile(r"il y a 0\b"),
    },
    "en": {
        "decimal comma": re.compile(r"(?<![\d,])\d+,\d{1,2}(?![\d,])"),
        "12-hour time": re.compile(r"\b[ap]\.\s?m\.|\d\s?[AP]M\b"),
        "zero minutes ago": re.compile(r"\b0 minutes? ago"),
    },
}


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-zÀ-ÿœŒ]+", text)


def _catalogue() -> list[tuple[str, str]]:
    """(English, French) of every entry whose French differs, both singular and plural."""
    pairs = []
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            pairs += [
                (entry.msgid, entry.msgstr_plural.get(0, "")),
                (entry.msgid_plural, entry.msgstr_plural.get(1, "")),
            ]
        else:
            pairs.append((entry.msgid, entry.msgstr))
    # Not where one holds the other: "navigateur (user agent)" says "user agent" on purpose.
    return [(en, fr) for en, fr in pairs if fr and en.lower() not in fr.lower() and fr not in en]


def _pattern(message: str, other_words: set[str]) -> re.Pattern[str] | None:
    """A regular expression that finds ``message`` once its placeholders are filled, or None
    for a one-word message that the other language also writes (such as "Source", "Total")."""
    message = " ".join(message.split())
    if message in ALLOWED:
        return None
    fixed = re.split(r"%\(\w+\)[sd]|%[sd]|\{[\w.]*\}", message)
    words = _words(" ".join(fixed))
    if not words or (len(words) == 1 and (len(fixed) > 1 or words[0].lower() in other_words)):
        return None  # one word beside a value ("outbox %(id)s") tells too little
    parts = [re.escape(part) for part in fixed]
    # One word is read whatever its case: a code shown raw ("planner") is its label left out.
    flags = re.IGNORECASE if len(words) == 1 else 0
    return re.compile(r"(?<![\w'’])" + r".{1,80}?".join(parts) + r"(?![\w'’])", flags)


def _vocabulary(messages: Iterable[str]) -> set[str]:
    return {word.lower() for message in messages for word in _words(message)}


CATALOGUE_PAIRS = _catalogue()
_FRENCH_VOCABULARY = _vocabulary(fr for en, fr in CATALOGUE_PAIRS)
_ENGLISH_VOCABULARY = _vocabulary(en for en, fr in CATALOGUE_PAIRS)
LEFT_IN_FRENCH = [(en, _pattern(en, _FRENCH_VOCABULARY)) for en, fr in CATALOGUE_PAIRS]
LEFT_IN_ENGLISH = [(fr, _pattern(fr, _ENGLISH_VOCABULARY)) for en, fr in CATALOGUE_PAIRS]


def foreign(text: str, language: str) -> list[str]:
    """What ``text`` (a page in ``language``) holds of the other language."""
    found = [
        f"{name}: {match.group()}"
        for name, pattern in CONVENTIONS[language].items()
        for match in pattern.finditer(text)
    ]
    text = re.sub(r"\S*[\d_]\S*", " ", text)  # numbers, and codes such as page_view
    catalogue = LEFT_IN_FRENCH if language == "fr" else LEFT_IN_ENGLISH
    found += [message for message, pattern in catalogue if pattern and pattern.search(text)]
    words = ENGLISH_WORDS if language == "fr" else FRENCH_WORDS
    found += sorted(
        {
            word
            for word in _words(text)
            if word not in ALLOWED and word.lower() in words and not word.isupper()
        }
    )
    return found


def check(pages: dict[str, str], language: str) -> dict[str, list[str]]:
    samples = sample_strings()
    left = {}
    for name, html in pages.items():
        found = foreign(without_samples(visible_text(html), samples), language)
        if found:
            left[name] = found
    return left


def other_language_left(html: str, language: str) -> list[str]:
    """What a page in ``language`` shows of the other language, the test's data left out."""
    return foreign(without_samples(visible_text(html), sample_strings()), language)

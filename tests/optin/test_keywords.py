"""The reply rule (optin.keywords), held to the golden list that docs/consent.md shows.

References: Twilio's default keywords, https://www.twilio.com/docs/messaging/tutorials/
advanced-opt-out ("STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, and CANCEL"), its
French ones, https://www.twilio.com/docs/proxy/opt-out-keywords ("ARRETT, ARRET, ARRETE"),
its opt-in words START, YES, UNSTOP and help words HELP, INFO, and its single-word matching
("replying "STOP PLEASE" ... will not", Twilio support for opt-out keywords), which Relance
deliberately widens on the opt-out side only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from optin.keywords import OPT_OUT_WORDS, Keyword, classify, normalize

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("replies_golden.csv")
DOC = ROOT / "docs" / "consent.md"
START_MARK, END_MARK = "<!-- replies-golden:start -->", "<!-- replies-golden:end -->"


def golden_rows() -> list[dict[str, str]]:
    with GOLDEN.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def golden_table() -> str:
    """The Markdown table docs/consent.md must show, made from the golden file."""
    lines = [
        "| the customer writes | the provider says | Relance reads | why |",
        "|---|---|---|---|",
    ]
    for row in golden_rows():
        reply = f"`{row['reply']}`" if row["reply"] else "(empty)"
        lines.append(
            f"| {reply} | {row['provider_says'] or '—'} | {row['meaning'].upper() or 'nothing'}"
            f" | {row['why']} |"
        )
    return "\n".join(lines)


@pytest.mark.parametrize(
    "row", golden_rows(), ids=lambda row: f"{row['reply']!r}/{row['provider_says']}"
)
def test_golden_replies(row):
    keyword = classify(row["reply"], provider_type=row["provider_says"])
    assert (keyword.value if keyword else "") == row["meaning"]


def test_the_golden_list_covers_every_keyword_and_every_contract_word():
    rows = golden_rows()
    assert {row["meaning"] for row in rows} == {"", *Keyword}
    replies = {" ".join(normalize(row["reply"])) for row in rows if not row["provider_says"]}
    assert OPT_OUT_WORDS <= replies


def test_docs_show_the_golden_list():
    text = DOC.read_text(encoding="utf-8")
    assert START_MARK in text and END_MARK in text, "docs/consent.md lacks the golden table"
    shown = text.split(START_MARK, 1)[1].split(END_MARK, 1)[0].strip()
    assert shown == golden_table(), "docs/consent.md's table differs from replies_golden.csv"


# Cases of our own, beyond the golden list.
@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        (" Stop ", Keyword.STOP),
        ("STOP.", Keyword.STOP),
        ("¡Stop!", Keyword.STOP),
        ("stopall", Keyword.STOP),
        ("Opt out", Keyword.STOP),
        ("arrêt merci", Keyword.STOP),
        ("désabonner svp", Keyword.STOP),
        ("ARRÊTEZ !", Keyword.STOP),
        ("Ouais, STOP", Keyword.STOP),
        ("Oui\nstop", Keyword.STOP),
        ("START STOP", Keyword.STOP),
        ("aide stop", Keyword.STOP),
        ("UN STOP", Keyword.STOP),
        ("ＳＴＯＰ", Keyword.STOP),  # full-width letters (NFKD)
        ("oui 👍", Keyword.YES),
        ("merci beaucoup, oui", Keyword.YES),
        ("Oui, s'il te plaît", Keyword.YES),
        ("OUI.", Keyword.YES),
        ("thank you, start", Keyword.START),
        ("AIDE!!!", Keyword.HELP),
        ("Oui-stop", Keyword.STOP),
        ("week-end ? non, stop", Keyword.STOP),
        ("l'arrêt des SMS", Keyword.STOP),
        ("s t o p", Keyword.STOP),
    ],
)
def test_keywords_of_our_own(text, keyword):
    assert classify(text) is keyword


@pytest.mark.parametrize(
    "text",
    [
        "   ",
        "🙂",
        "merci merci",
        "oui merci svp",
        "Oui, j'arrive",
        "stopover",
        "weekend",
        "unstoppable",
        "Desinscrit",
        "Je passe ce week-end",
        "ce week end ?",
        "Qui t'a donné mon numéro ?",
        "O P",
    ],
)
def test_ordinary_messages_are_no_keyword(text):
    assert classify(text) is None


@pytest.mark.parametrize(
    ("text", "provider", "keyword"),
    [
        ("Arrêtez tout", "STOP", Keyword.STOP),
        ("anything", "stop", Keyword.STOP),
        ("OUI", "START", Keyword.YES),
        ("oui merci", "START", Keyword.YES),
        ("UNSTOP", "START", Keyword.START),
        # A keyword the provider was configured with and we do not know: its word holds.
        ("SUBSCRIBE", "START", Keyword.START),
        ("Yes stop", "START", Keyword.STOP),
        ("info", "HELP", Keyword.HELP),
        ("help arret", "HELP", Keyword.STOP),
        ("STOP", "", Keyword.STOP),
        ("hello", "UNKNOWN", None),
    ],
)
def test_the_providers_classification_and_ours(text, provider, keyword):
    assert classify(text, provider_type=provider) is keyword


def test_normalisation_drops_case_accents_and_punctuation():
    assert normalize("  Arrêt, s'il vous plaît !") == ["ARRET", "S", "IL", "VOUS", "PLAIT"]


# "No more messages" sentences: an opt-out with no opt-out word (Twilio does not stop on them;
# Relance does, on purpose, as with STOP anywhere).
@pytest.mark.parametrize(
    "text",
    [
        "Je ne veux plus de SMS",
        "je ne veux plus recevoir de sms",
        "ne plus m'envoyer de messages",
        "Ne m'envoyez plus de SMS svp",
        "N'envoyez plus de textos",
        "Je n'en veux plus de vos messages",
        "Je ne veux plus recevoir vos messages",
        "Ne me contactez plus",
        "merci de ne plus m'écrire",
        "plus de SMS comme ça svp!",
        "Plus de pub svp",
        "Bonjour. Je ne veux plus de SMS. Merci",
    ],
)
def test_asking_for_no_more_messages_is_an_opt_out(text):
    assert classify(text) is Keyword.STOP


@pytest.mark.parametrize(
    "text",
    [
        "je ne veux plus attendre, envoyez le colis",
        "Je ne trouve plus le SMS avec le lien",
        "J'ai reçu votre SMS mais je ne veux plus le produit",
        "Je ne veux plus attendre. Envoyez-moi un SMS quand c'est prêt",
        "il n'y a plus de stock, envoyez un sms",
        "Je passe plus tard",
        "Encore plus de choix ?",
    ],
)
def test_ne_plus_about_anything_else_is_no_opt_out(text):
    assert classify(text) is None


def test_a_no_more_messages_sentence_beats_the_providers_start():
    assert classify("Je ne veux plus de SMS", provider_type="START") is Keyword.STOP

from __future__ import annotations

import pytest

from optin.keywords import Keyword, classify, normalize


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("stop", Keyword.STOP),
        (" Stop ", Keyword.STOP),
        ("Stop svp", Keyword.STOP),
        ("STOP.", Keyword.STOP),
        ("¡Stop!", Keyword.STOP),
        ("STOP ALL", Keyword.STOP),
        ("stopall", Keyword.STOP),
        ("ARRET", Keyword.STOP),
        ("Arrêt", Keyword.STOP),
        ("ARRÊT !!", Keyword.STOP),
        ("arrêt merci", Keyword.STOP),
        ("UNSUBSCRIBE", Keyword.STOP),
        ("cancel", Keyword.STOP),
        ("End", Keyword.STOP),
        ("QUIT", Keyword.STOP),
        ("Désabonner", Keyword.STOP),
        ("désabonner svp", Keyword.STOP),
        ("OPTOUT", Keyword.STOP),
        ("opt-out", Keyword.STOP),
        ("Opt out", Keyword.STOP),
        ("REVOKE", Keyword.STOP),
        ("START", Keyword.START),
        ("Unstop", Keyword.START),
        ("OUI", Keyword.YES),
        ("oui", Keyword.YES),
        ("Oui !", Keyword.YES),
        ("oui merci", Keyword.YES),
        ("YES", Keyword.YES),
        ("yes please", Keyword.YES),
        ("HELP", Keyword.HELP),
        ("info", Keyword.HELP),
        ("Aide", Keyword.HELP),
        ("aide ?", Keyword.HELP),
    ],
)
def test_keywords_in_french_and_english(text, keyword):
    assert classify(text) is keyword


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Merci !",
        "Je ne veux pas arrêter",
        "stopper",
        "NON",
        "ouille",
        "🙂",
        "Can you help",
        "Quel est le prix ?",
    ],
)
def test_ordinary_messages_are_no_keyword(text):
    assert classify(text) is None


def test_the_providers_own_classification_comes_first():
    assert classify("Arrêtez tout", provider_type="STOP") is Keyword.STOP
    assert classify("OUI", provider_type="START") is Keyword.YES
    assert classify("UNSTOP", provider_type="START") is Keyword.START
    assert classify("help", provider_type="HELP") is Keyword.HELP
    assert classify("STOP", provider_type="") is Keyword.STOP


def test_normalisation_drops_case_accents_and_punctuation():
    assert normalize("  Arrêt, s'il vous plaît !") == ["ARRET", "S", "IL", "VOUS", "PLAIT"]

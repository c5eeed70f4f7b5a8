"""The opt-out page in headless Chromium on a phone: one button, in the shop's language, that
stops the shop's texts; it fits a 390×844 screen without console errors.

``SCREENSHOT_DIR=docs/img`` keeps the screenshots where the docs show them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from campaigns.opt_out import link_for
from optin.consent import record_consent
from optin.models import Consent, ConsentSource, ConsentStatus
from tests.factories import ContactFactory, SendFactory

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]

PHONE = {"width": 390, "height": 844}
WORDS = {
    "fr": ("Ne plus recevoir de SMS de Maison Demo", "C'est fait : Maison Demo ne vous enverra"),
    "en": ("Stop texts from Maison Demo", "Done: Maison Demo will send no more texts"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_one_tap_on_the_phone_stops_the_shops_texts(page, live_server, site, language, tmp_path):
    site.name, site.sender, site.language = "Maison Demo", "MAISONDEMO", language
    site.save()
    contact = ContactFactory(site=site, phone="+33612345678")
    record_consent(
        contact=contact, status=ConsentStatus.GRANTED, source=ConsentSource.SERVER_API, text="Oui"
    )
    link = link_for(SendFactory(cart__visitor__site=site, contact=contact))
    button_words, done_words = WORDS[language]
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/u/{link.code}")
    assert page.get_attribute("html", "lang") == language
    button = page.get_by_role("button", name=button_words)
    assert button.is_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 44  # a thumb's target
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"opt-out-{language}.png"))
    # Opening the page changed nothing; the tap does.
    assert contact.consents.count() == 1
    button.click()
    page.wait_for_selector("#outcome")
    assert done_words in page.inner_text("#outcome")
    revoked = Consent.objects.filter(contact=contact).last()
    assert (revoked.status, revoked.source) == (ConsentStatus.REVOKED, ConsentSource.OPT_OUT_LINK)
    assert "Chrome" in revoked.user_agent and revoked.ip == "127.0.0.0"
    page.screenshot(path=str(folder / f"opt-out-{language}-done.png"))
    assert page.console_errors == []

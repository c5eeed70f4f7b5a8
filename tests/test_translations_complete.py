"""Every page a marketer or an operator reads is in one language: the pages of the marketer's
app (every page of tests/support/dashboard_pages.PAGES, so a new page is checked as soon as it
has its sample) and every admin page (the index, and each registered model's list, add form
and the change form of a sample row), rendered in French with no English left, and in English
with no French left.

How a page is read: its visible text (tags, scripts and styles taken out; a button's value and
the title, placeholder, aria-label and alt attributes kept), less the sample data the test
wrote (names, texts, codes, URLs, numbers) and less anything the page marks as not in its own
language (an element with its own ``lang``, such as the language switch or a message in the
shop's language, or ``translate="no"``). Then two checks:

(a) no msgid of the French catalogue whose French differs may be read in a French page (an
    English msgid there was not translated), and no such French may be read in an English page;
(b) none of the other language's common function words (``the``, ``and``, ``of``... /
    ``le``, ``la``, ``des``...) may be read: this catches text that never reached the catalogue
    (a label without ``gettext``, a field's default verbose name).
"""

from __future__ import annotations

from datetime import timedelta
from pprint import pformat

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse

from campaigns import rollups
from campaigns.models import Conversion, Step
from campaigns.rollups import roll_up
from optin.models import Contact
from retargeting.sites.services import add_member
from tests.support.dashboard_pages import PAGES, sample_shop
from tests.support.language_check import check, foreign, visible_text, without_samples
from tests.test_admin_pages import world  # noqa: F401 - the admin's sample rows

pytestmark = pytest.mark.django_db


def test_the_reader_finds_a_string_left_in_the_other_language():
    """Controls: the reader catches a label left in English (catalogue and function words), an
    attribute, and sees nothing in a page that is fully French or marked as another language."""
    french = "<h1>Envoyés</h1><p>Statut : Planifié</p>"
    assert foreign(visible_text(french), "fr") == []
    assert "Sent" in foreign(visible_text("<p>Sent</p><p>Messages</p>"), "fr")
    assert "the" in foreign(visible_text('<input placeholder="Search the list">'), "fr")
    assert "the" in foreign(visible_text('<input type="submit" value="Save the flow">'), "fr")
    assert foreign(visible_text('<button lang="en">English</button><p>Panier</p>'), "fr") == []
    assert foreign(visible_text("<script>var the = 1;</script><p>Panier</p>"), "fr") == []
    assert "des" in foreign(visible_text("<p>Number des contacts</p>"), "en")
    assert foreign("Chiffre d'affaires 49,85 € à 14:51", "fr") == []
    assert foreign("(max 49.85) à 2:51 p.m.", "fr") == [
        "decimal point: 49.85",
        "12-hour time: p.m.",
    ]
    assert foreign("il y a 0 minute", "fr") == ["zero minutes ago: il y a 0"]
    assert foreign("Revenue 1,234.50 at 14:51", "en") == []
    assert foreign("Revenue 49,85", "en") == ["decimal comma: 49,85"]
    assert "Cart abandoned" in foreign("Déclencheur : Cart abandoned", "fr")
    assert foreign("Source : planner", "fr") == ["Planner"]  # a code shown without its label
    assert (
        foreign(
            without_samples(
                "Boutique : Shop of the week https://x.example/the", ["Shop of the week"]
            ),
            "fr",
        )
        == []
    )


@pytest.fixture
def marketer_client(client, site):
    shop = sample_shop(site)
    # Counted, so that the overview shows figures, amounts and its chart, not "not counted yet".
    today = rollups.local_today(site)
    roll_up(site=site, days=[today - timedelta(days=2), today - timedelta(days=1), today])
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    client.force_login(user)
    return client, shop


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_of_the_marketers_app_is_in_one_language(marketer_client, language):
    client, shop = marketer_client
    client.cookies["django_language"] = language
    pages = {}
    for name, page in PAGES.items():
        response = client.get(page(shop))
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    left = check(pages, language)
    assert not left, pformat(left, width=100)


# The admin's actions that ask before they act: their question is a page too.
ACTIONS = {Contact: "erase_selected", Conversion: "exclude_from_figures"}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_admin_page_is_in_one_language(client, world, language):  # noqa: F811
    rows, users = world
    client.force_login(users["operator"])
    client.cookies["django_language"] = language
    pages = {"index": client.get(reverse("admin:index"))}
    pages["flow from a trigger"] = client.get(reverse("admin:campaigns_flow_from_trigger"))
    pages["import contacts"] = client.get(reverse("admin:optin_contact_import"))
    pages["discount codes"] = client.get(
        reverse("admin:campaigns_step_codes", args=[rows[Step].pk])
    )
    for model, action in ACTIONS.items():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        pages[action] = client.post(
            changelist, {"action": action, "_selected_action": [rows[model].pk]}
        )
    for model in sorted(admin.site._registry, key=lambda model: model._meta.label):
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        label = model._meta.label
        pages[f"{label} list"] = client.get(reverse(f"{prefix}_changelist"))
        pages[f"{label} add"] = client.get(reverse(f"{prefix}_add"))
        pages[f"{label} change"] = client.get(reverse(f"{prefix}_change", args=[rows[model].pk]))
    own = ("flow from a trigger", "import contacts", "discount codes", *ACTIONS.values())
    assert [pages[name].status_code for name in own] == [200] * len(own)
    assert 'name="confirmed"' in pages["erase_selected"].content.decode()  # its confirmation
    html = {}
    for name, response in pages.items():
        assert response.status_code in (200, 403), name
        if response.status_code == 200:
            html[name] = response.content.decode()
    assert len(html) > 40
    left = check(html, language)
    assert not left, pformat(left, width=100)

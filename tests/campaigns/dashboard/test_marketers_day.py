"""A marketer's day in the dashboard, in a real Chromium, in French and in English, on a laptop
(1366 px) and on a phone (390 px), without opening the Django admin:

log in, read the overview, find a contact and unsubscribe her, create a flow from a trigger and
edit its text, send a test to one's own phone (proved by its code), and read why a message was
not sent to someone who said STOP before any cart was planned.

On every page: nothing scrolls sideways at 390 px, no console error, no string of the other
language left (tests/support/language_check.py), and the overview's funnel never goes up.
With ``SCREENSHOT_DIR`` set each page is saved as ``<page>-<language>-<width>.png``: those in
docs/img/dashboard/ (docs/dashboard.md) come from this walk.
"""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Flow, Send, SendEvent, SendStatus, Step, Trigger
from campaigns.rollups import roll_up_recent
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.gateways.models import OutboxMessage
from retargeting.sites.services import add_member
from tests.factories import (
    CartFactory,
    ContactFactory,
    SendFactory,
    StepFactory,
    VisitorLinkFactory,
)
from tests.support.browser import log_in, sideways
from tests.support.language_check import other_language_left
from tests.support.screens import shoot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
pytest_plugins = ["tests.support.browser"]

MEMBER_PHONE = "+33611223344"


@pytest.fixture
def shop(site):
    """A French shop's morning: Marie was reminded and tapped; Paul said STOP before his cart
    was ever planned."""
    now = timezone.now()
    step = StepFactory(
        flow__site=site,
        flow__name="Panier abandonné",
        template="{{ first_name }}, votre panier vous attend : {{ link }} STOP au 36111",
    )
    marie = ContactFactory(site=site, phone="+33612345678", first_name="Marie")
    paul = ContactFactory(site=site, phone="+33698765432", first_name="Paul")
    for contact in (marie, paul):
        record_consent(
            contact=contact,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SNIPPET,
            text="J'accepte de recevoir des SMS de la Boutique.",
        )
    record_consent(contact=paul, status=ConsentStatus.REVOKED, source=ConsentSource.KEYWORD)
    send = SendFactory(
        step=step,
        contact=marie,
        cart__visitor__site=site,
        cart__last_change_at=now - timedelta(hours=3),
        status=SendStatus.DELIVERED,
        planned_at=now - timedelta(hours=2, minutes=30),
        due_at=now - timedelta(hours=2, minutes=30),
        sent_at=now - timedelta(hours=2),
    )
    # Its story as the engine writes it: planned, sent, then the provider's delivery report.
    for status, source, at in (
        (SendStatus.PLANNED, "planner", send.planned_at),
        (SendStatus.SENT, "worker", send.sent_at),
        (SendStatus.DELIVERED, "provider", send.sent_at + timedelta(seconds=40)),
    ):
        SendEvent.objects.create(send=send, status=status, source=source, at=at)
    link = VisitorLinkFactory(visitor__site=site, contact=paul)
    CartFactory(visitor=link.visitor, last_change_at=now - timedelta(hours=3))
    roll_up_recent()  # as the scheduler does at start and every five minutes
    return {"flow": step.flow, "marie": marie, "paul": paul, "send": send}


def _check(page, name, language, width):
    """What every page of the walk must be: fitting, clean, in one language."""
    if width == 390:
        assert sideways(page) == [], name
    assert page.console_errors == [], name
    assert other_language_left(page.content(), language) == [], name
    shoot(page, f"{name}-{language}", width)


@pytest.fixture
def page(browser, language):
    """A browser set to the marketer's own locale (its date fields read jj/mm/aaaa in French)."""
    context = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_marketers_day(page, live_server, site, shop, language, width):
    user = User.objects.create_user("claire", password="pass-word-123")
    add_member(site=site, user=user)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": width, "height": 900})
    english = language == "en"

    # Log in: the login page leads to the overview.
    log_in(page, live_server, username="claire", password="pass-word-123")
    assert page.get_attribute("html", "lang") == language

    # The overview: the funnel never goes up, whatever the routes report.
    stages = page.locator("#funnel li[data-count]")
    counts = [int(stages.nth(i).get_attribute("data-count")) for i in range(stages.count())]
    assert counts and counts[0] >= 1, counts
    assert all(later <= earlier for earlier, later in pairwise(counts)), counts
    _check(page, "overview", language, width)

    # Find Marie by her number's last digits, then unsubscribe her from SMS by hand.
    page.click("nav.top a[href*='/dashboard/contacts/']")
    page.fill("input[name=q]", "5678")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    _check(page, "contacts", language, width)
    page.click("#contacts a >> text=Marie")
    page.wait_for_selector("#unsubscribe-form")
    _check(page, "contact", language, width)
    page.check("input[name=channel][value=sms]")
    page.fill("textarea[name=reason]", "Asked by phone" if english else "Demandé au téléphone")
    page.click("#unsubscribe-form button[type=submit]")
    page.wait_for_selector("#done")
    marie = Contact.objects.get(pk=shop["marie"].pk)
    assert marie.consent_status == ConsentStatus.REVOKED
    assert marie.consents.get(status=ConsentStatus.REVOKED).recorded_by == "claire"
    assert Contact.objects.get(pk=shop["paul"].pk).consent_status == ConsentStatus.REVOKED

    # Create a browse flow from its trigger, with its default texts, and edit its text.
    page.click("nav.top a[href*='/dashboard/flows/']")
    _check(page, "flows", language, width)
    page.click("#new-flow")
    _check(page, "flow-new", language, width)
    page.click(f"section[data-trigger='{Trigger.BROWSE_ABANDONED}'] button[type=submit]")
    page.wait_for_selector(".relance-preview .relance-sms")
    flow = Flow.objects.get(site=site, trigger=Trigger.BROWSE_ABANDONED)
    default_text = Step.objects.get(flow=flow).template
    assert "{{" in default_text
    text = (
        "{{ first_name }}, still thinking about {{ product_name }}? {{ link }}"
        if english
        else "{{ first_name }}, toujours tenté par {{ product_name }} ? {{ link }}"
    )
    page.fill("textarea[name='steps-0-template']", text)
    expect(page.locator(".relance-sms")).to_contain_text(
        "still thinking" if english else "toujours tenté", timeout=5000
    )

    # A test to one's own phone: the first one asks for the code that phone received.
    page.fill(".relance-test input[type=tel]", MEMBER_PHONE)
    page.click(".relance-test button")
    page.wait_for_selector(".relance-code")
    code_message = OutboxMessage.objects.filter(to=MEMBER_PHONE).latest("created_at")
    code = re.search(r"\b(\d{6})\b", code_message.body).group(1)
    page.fill(".relance-code", code)
    page.click(".relance-code + button")
    expect(page.locator(".relance-result.ok")).to_be_visible(timeout=5000)
    test_message = OutboxMessage.objects.filter(to=MEMBER_PHONE).latest("created_at")
    assert ("still thinking" if english else "toujours tenté") in test_message.body
    _check(page, "flow", language, width)
    page.click("#save")
    page.wait_for_selector(".notice")
    assert Step.objects.get(flow=flow).template == text
    # A test send is not a message of the shop: no send was planned by it.
    assert not Send.objects.filter(step__flow=flow).exists()

    # Why was Paul never reminded? He said STOP before his cart was planned.
    page.click("nav.top a[href*='/dashboard/sends/']")
    page.fill("input[name=q]", "06 98 76 54 32")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#unplanned")).to_contain_text("STOP")
    _check(page, "messages", language, width)

"""The contacts list and a contact's page in headless Chromium at a phone's width: their tables
become cards, nothing scrolls sideways, and a member unsubscribes someone by hand from the phone."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import SendStatus
from optin.consent import record_consent
from optin.models import ConsentSource, ConsentStatus, Contact
from retargeting.sites.services import add_member
from tests.factories import ContactFactory, SendFactory, StepFactory
from tests.support.browser import sideways

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]


@pytest.fixture
def signed_in(page, live_server, site):
    user = User.objects.create_user("marketer", password="pass-word-123", is_staff=True)
    add_member(site=site, user=user)
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    return page


def _shoot(page, name, folder):
    """A full-page screenshot in ``folder`` (``SCREENSHOT_DIR`` when set: docs/img's come from
    there)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or folder)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000


def test_contacts_fit_a_phone_and_a_member_unsubscribes_from_it(
    signed_in, live_server, site, tmp_path
):
    page = signed_in
    step = StepFactory(flow__site=site, flow__name="Relance de panier abandonné, 30 minutes")
    marie = ContactFactory(
        site=site,
        phone="+33612345678",
        email="marie.dupont-de-la-fontaine@exemple-de-boutique.fr",
        first_name="Marie",
    )
    for channel in ("sms", "email"):
        record_consent(
            contact=marie,
            status=ConsentStatus.GRANTED,
            source=ConsentSource.SNIPPET,
            channel=channel,
            text="J'accepte de recevoir les offres de la Boutique par SMS et par email.",
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1",
            ip="203.0.113.0",
        )
    for index in range(3):
        SendFactory(
            step=step,
            contact=marie,
            cart__visitor__site=site,
            cart__items=[{"sku": "A1", "name": "Chemise en lin", "price": 59.9, "quantity": 2}],
            status=SendStatus.DELIVERED,
            sent_at=timezone.now() - timedelta(hours=20 + index),
            body="Marie, votre panier vous attend : https://b.example/s/abcdef",
        )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/dashboard/contacts/?site={site.pk}&q=5678")
    assert page.locator("#contacts tbody tr").count() == 1
    assert sideways(page) == []
    _shoot(page, "contacts-390", tmp_path)
    page.click("#contacts a >> text=Marie")
    page.wait_for_selector("#unsubscribe-form")
    assert page.locator("#messages tbody tr").count() == 3
    assert sideways(page) == []
    _shoot(page, "contact-390", tmp_path)
    page.check("input[name=channel][value=sms]")
    page.fill("textarea[name=reason]", "Asked on the phone")
    page.click("#unsubscribe-form button[type=submit]")
    page.wait_for_selector("#done")
    assert sideways(page) == []
    page.set_viewport_size({"width": 1366, "height": 900})
    assert sideways(page) == []
    _shoot(page, "contact-1366", tmp_path)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.console_errors == []
    marie = Contact.objects.get(pk=marie.pk)
    assert (marie.consent_status, marie.email_consent_status) == ("revoked", "granted")
    revoked = marie.consents.get(status="revoked")
    assert (revoked.recorded_by, revoked.reason) == ("marketer", "Asked on the phone")
    # Control: a page that does scroll sideways is caught.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<div style=\"width:900px\">x</div>')"
    )
    assert sideways(page) != []

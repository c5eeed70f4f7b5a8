"""The flow page in headless Chromium at a laptop's and a phone's width: the live preview
follows the typing, nothing scrolls sideways at 390 px, a change is saved, no console error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from campaigns.models import Flow, Step
from retargeting.sites.services import add_member
from tests.factories import StepFactory
from tests.support.browser import sideways

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.browser"]


def shoot(page, name):
    """A full-page screenshot in ``SCREENSHOT_DIR`` when set (to look at the pages)."""
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def signed_in(page, live_server, site):
    user = User.objects.create_user("marketer", password="pass-word-123")
    add_member(site=site, user=user)
    StepFactory(flow__site=site, flow__transliterate=False)
    page.goto(f"{live_server.url}/admin/login/?next=/dashboard/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    return page


@pytest.mark.parametrize("width", [1366, 390])
def test_the_flow_page_previews_as_one_types_and_fits(signed_in, live_server, site, width):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    flow = Flow.objects.get(site=site)
    page.goto(f"{live_server.url}/dashboard/flows/?site={site.pk}")
    assert sideways(page) == []
    page.click(f"#flows a:text('{flow.name}')")
    page.wait_for_selector(".relance-preview .relance-sms")
    assert "STOP" in page.inner_text(".relance-mention")
    page.fill("textarea[name='steps-0-template']", "Marie, « votre panier » vous attend {{ link }}")
    expect(page.locator(".relance-sms")).to_contain_text("« votre panier »", timeout=5000)
    expect(page.locator(".relance-preview")).to_contain_text("UCS-2")
    # The test send sits under the preview: the first one to a number asks for its code.
    page.fill(".relance-test input[type=tel]", "06 12 34 56 78")
    page.click(".relance-test button")
    expect(page.locator(".relance-result")).to_contain_text("code", timeout=5000)
    assert page.locator(".relance-code").count() == 1
    assert sideways(page) == []
    shoot(page, f"flow-{width}")
    page.click("#save")
    page.wait_for_selector(".notice")
    step = Step.objects.get(flow=flow)
    assert "« votre panier »" in step.template
    page.goto(f"{live_server.url}/dashboard/flows/?site={site.pk}")
    shoot(page, f"flows-{width}")
    page.goto(f"{live_server.url}/dashboard/flows/rules/?site={site.pk}")
    assert sideways(page) == []
    shoot(page, f"flow-rules-{width}")
    page.goto(f"{live_server.url}/dashboard/flows/new/?site={site.pk}")
    assert sideways(page) == []
    shoot(page, f"flow-new-{width}")
    assert page.console_errors == []
